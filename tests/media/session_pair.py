"""Two calls' media on real loopback UDP sockets, each with its own MediaRun, offering each
other PCMA: the set-up the media session tests share (plain here; the SRTP tests key them)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import trio

from gossipper.media.session import CallMediaSession, MediaLibrary, MediaRun, MediaSettings
from gossipper.stats.media import StreamQuality
from gossipper.transport.udp import UdpTransportFactory

FRAME = bytes(range(160))


class Runs:
    def __init__(self) -> None:
        self.qualities: list[StreamQuality] = []
        self.warnings: list[str] = []

    def run(self, min_port: int, *, echo: bool = False, debug: bool = False) -> MediaRun:
        settings = MediaSettings(
            "127.0.0.1", min_port, min_port + 9, echo=echo, rtcp_interval_s=0.2,
            srtp_debug=debug,
        )  # fmt: skip
        library = MediaLibrary(audio={("tone", "PCMA"): (FRAME,) * 10})
        return MediaRun(
            UdpTransportFactory(), settings, library, wall_time=trio.current_time,
            on_quality=self.qualities.append, warn=self.warnings.append,
        )  # fmt: skip


def free_range() -> int:
    for base in range(41000, 60000, 40):
        probes = []
        try:
            for port in range(base, base + 20):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError("no free port range")


def sdp(port: int) -> bytes:
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
    ).encode()


async def open_pair(
    runs: Runs, nursery: trio.Nursery, *, echo_b: bool = False, debug: bool = False
) -> tuple[CallMediaSession, CallMediaSession]:
    base = free_range()
    run_a, run_b = runs.run(base, debug=debug), runs.run(base + 10, echo=echo_b, debug=debug)
    nursery.start_soon(run_a.serve)
    nursery.start_soon(run_b.serve)
    a = await run_a.open_call("call-a", 1)
    b = await run_b.open_call("call-b", 1)
    assert a.peer_sdp(sdp(b.audio_port)) is None
    assert b.peer_sdp(sdp(a.audio_port)) is None
    return a, b


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait for ``condition`` (the machine may be loaded: no fixed sleeps)."""
    with trio.fail_after(timeout_s):
        while not condition():  # noqa: ASYNC110 - the counters have no event to wait on
            await trio.sleep(0.02)


def received(session: CallMediaSession) -> int:
    return sum(stats.received for stats in session.audio.receivers.values())


def sent(session: CallMediaSession) -> int:
    return session.audio._sent_totals()[0]


def quality(runs: Runs, call_id: str) -> StreamQuality:
    (found,) = [q for q in runs.qualities if q.call_id == call_id]
    return found
