"""The media scheduler's C accelerator (gossipper/media/_rtpfast.c, issue 17 item 6).

The C function is built here from its source with the C compiler that the compiled install
uses, so both test sessions check it: the pure-Python one (where the installed package has no
extension, and the scheduler is pointed at the freshly built one) and the compiled one (where
the scheduler must have found its own). Packets sent by C are compared byte for byte with the
Python path's, on real loopback sockets.
"""

from __future__ import annotations

import dataclasses
import random
import socket
import struct
import subprocess
import sys
import types
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing

import gossipper.engine.call
import gossipper.media.scheduler as scheduler_module
from gossipper.interfaces import Address
from gossipper.media.rtp import parse_rtp
from gossipper.media.scheduler import FastSrtp, MediaScheduler, RtpStream
from gossipper.media.session import CallMediaSession
from tests.c_extension import build_c_extension, c_source
from tests.media.secure import require
from tests.media.session_pair import Runs, open_pair, quality, received, until
from tests.media.test_scheduler import run_with

if TYPE_CHECKING:
    from gossipper.media.secure.srtp import SrtpSession

SOURCE = c_source(scheduler_module.__file__, "_rtpfast.c")

COMPILED_BUILD = gossipper.engine.call.__file__.endswith(".so")


@pytest.fixture(scope="module")
def rtpfast(tmp_path_factory: pytest.TempPathFactory) -> types.ModuleType:
    """The accelerator built from its source now (a failure in CI, a skip without a compiler)."""
    return build_c_extension(SOURCE, tmp_path_factory)


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    yield sock
    sock.close()


@pytest.fixture
def sender() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    yield sock
    sock.close()


def _header(b1: int, seq: int, timestamp: int, ssrc: int) -> bytes:
    return struct.pack("!BBHII", 0x80, b1, seq, timestamp, ssrc)


def test_send_rtp_sends_the_python_paths_bytes(
    rtpfast: types.ModuleType, receiver: socket.socket, sender: socket.socket
) -> None:
    host, port = receiver.getsockname()
    payload = bytes(range(160))
    cases = [(0x08, 0, 0, 0), (0x80 | 0x08, 65535, 0xFFFFFFFF, 0xDEADBEEF), (0x00, 7, 160, 1)]
    for b1, seq, timestamp, ssrc in cases:
        assert rtpfast.send_rtp(sender, host, port, b1, seq, timestamp, ssrc, payload) == 1
        data, source = receiver.recvfrom(2048)
        assert data == _header(b1, seq, timestamp, ssrc) + payload
        assert source == sender.getsockname()
    # Fields wider than the header's take their low bits, as the Python path's masks do.
    assert rtpfast.send_rtp(sender, host, port, 0, 65536 + 5, (1 << 32) + 9, 1 << 32, b"") == 1
    assert receiver.recvfrom(2048)[0] == _header(0, 5, 9, 0)


def test_send_rtp_over_ipv6(rtpfast: types.ModuleType) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    with (
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as tx,
    ):
        try:
            rx.bind(("::1", 0))
        except OSError:
            pytest.skip("no ::1 here")
        rx.settimeout(5.0)
        tx.setblocking(False)
        port = rx.getsockname()[1]
        assert rtpfast.send_rtp(tx, "::1", port, 0x12, 1, 2, 3, b"abc") == 1
        assert rx.recvfrom(2048)[0] == _header(0x12, 1, 2, 3) + b"abc"


def test_send_rtp_outcomes_and_argument_errors(
    rtpfast: types.ModuleType, receiver: socket.socket
) -> None:
    host, port = receiver.getsockname()
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.close()
    assert rtpfast.send_rtp(closed, host, port, 0, 0, 0, 0, b"x") == 0  # dropped, not raised
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as v6only:
        v6only.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        status = rtpfast.send_rtp(v6only, host, port, 0, 0, 0, 0, b"x")
        assert status < 0  # an IPv4 destination on an IPv6-only socket: -errno, a send error
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(ValueError, match="numeric IP address"):
            rtpfast.send_rtp(sock, "media.example", port, 0, 0, 0, 0, b"x")
        with pytest.raises(ValueError, match="outside 0..65535"):
            rtpfast.send_rtp(sock, host, 70000, 0, 0, 0, 0, b"x")
        with pytest.raises(TypeError, match="payload must be bytes"):
            rtpfast.send_rtp(sock, host, port, 0, 0, 0, 0, "x")
        with pytest.raises(TypeError, match="8 arguments"):
            rtpfast.send_rtp(sock, host, port)


def test_the_compiled_install_has_the_accelerator() -> None:
    """``pip install .`` builds the C module with the mypyc ones; a compiled build whose
    scheduler fell back to the Python path would hide a missing accelerator."""
    if not COMPILED_BUILD:
        pytest.skip("pure-Python install: the accelerator is built by test_send_rtp_* instead")
    assert scheduler_module.FAST_PATH_AVAILABLE


@pytest.fixture
def accelerated(rtpfast: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduler with an accelerator: its own in a compiled build, else the one built here
    (the pure-Python module reads the global at each use)."""
    if COMPILED_BUILD:
        assert scheduler_module.FAST_PATH_AVAILABLE
        return
    monkeypatch.setattr(scheduler_module, "_send_rtp", rtpfast.send_rtp)
    monkeypatch.setattr(scheduler_module, "_send_srtp", rtpfast.send_srtp)
    monkeypatch.setattr(scheduler_module, "_SRTP_FAILED", rtpfast.SRTP_FAILED)
    monkeypatch.setattr(scheduler_module, "_FastGroup", rtpfast.FastGroup)


class _SocketSend:
    """The stream's Python send function: to the same socket, counting what it was given."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.calls = 0

    def __call__(self, data: bytes, address: Address) -> bool:
        self.calls += 1
        self.sock.sendto(data, address)
        return True


def _drain(sock: socket.socket) -> list[bytes]:
    sock.setblocking(False)
    packets = []
    while True:
        try:
            packets.append(sock.recv(2048))
        except BlockingIOError:
            return packets


def _play(
    fast: bool,
    sender: socket.socket,
    destination: Address,
    send: _SocketSend | None = None,
    fast_srtp: FastSrtp | None = None,
) -> tuple[RtpStream, int]:
    """A stream of 12 frames with a pause, DTMF and a resume; returns it and the Python
    send function's call count. ``fast``: the accelerator sends on ``sender`` (protecting
    with ``fast_srtp`` if given)."""
    send = _SocketSend(sender) if send is None else send
    streams: list[RtpStream] = []

    async def body(scheduler: MediaScheduler, _clock: trio.testing.MockClock) -> None:
        stream = scheduler.start_rtp(
            send=send, destination=destination,
            payloads=[bytes([n]) * 160 for n in range(5)], payload_type=8,
            samples_per_frame=160, frame_interval_ms=20.0, loops=3, ssrc=0xCAFE0001,
            first_seq=65530, first_timestamp=0xFFFFFF00,
            fast_socket=sender if fast else None, fast_srtp=fast_srtp if fast else None,
        )  # fmt: skip
        streams.append(stream)
        await trio.sleep(0.1)
        stream.pause()
        await trio.sleep(0.05)
        stream.resume()
        stream.send_dtmf("5", duration_ms=60)
        await stream.wait_done()

    run_with(body)
    return streams[0], send.calls


@pytest.mark.usefixtures("accelerated")
def test_the_scheduler_sends_the_same_stream_with_and_without_the_accelerator(
    receiver: socket.socket, sender: socket.socket
) -> None:
    destination = receiver.getsockname()
    plain, python_calls = _play(False, sender, destination)
    by_python = _drain(receiver)
    fast, fast_python_calls = _play(True, sender, destination)
    by_c = _drain(receiver)
    assert by_c == by_python
    assert len(by_python) == plain.counters.packets_sent == fast.counters.packets_sent >= 12
    assert python_calls == len(by_python)
    # Only the DTMF events and the stream's last frame (the scheduler's end-of-stream branch)
    # went through the Python send function; every other audio frame was sent by C.
    dtmf = [p for p in map(parse_rtp, by_c) if p.payload_type == 101]
    assert dtmf and len(dtmf) == fast.counters.dtmf_packets
    assert fast_python_calls == len(dtmf) + 1
    assert [p.marker for p in map(parse_rtp, by_c)].count(True) >= 2  # start, resume/after DTMF
    assert fast.counters.dropped_packets == fast.counters.send_errors == 0


@pytest.mark.usefixtures("accelerated")
def test_a_new_send_function_turns_the_accelerator_off(
    receiver: socket.socket, sender: socket.socket
) -> None:
    """SRTP keys arriving later re-route the stream through the call's protecting send."""
    first = _SocketSend(sender)
    second = _SocketSend(sender)
    streams: list[RtpStream] = []

    async def body(scheduler: MediaScheduler, _clock: trio.testing.MockClock) -> None:
        stream = scheduler.start_rtp(
            send=first, destination=receiver.getsockname(), payloads=[b"\x00" * 160],
            payload_type=0, samples_per_frame=160, frame_interval_ms=20.0, loops=10,
            ssrc=1, first_seq=0, first_timestamp=0, fast_socket=sender,
        )  # fmt: skip
        streams.append(stream)
        await trio.sleep(0.07)
        stream.send_function = second
        await stream.wait_done()

    run_with(body)
    (stream,) = streams
    received = _drain(receiver)
    assert len(received) == stream.counters.packets_sent == 10
    assert first.calls == 0  # before the switch: all by C
    assert 0 < second.calls < 10  # after it: all through the new send function
    assert [parse_rtp(p).sequence for p in received] == list(range(10))


@pytest.mark.usefixtures("accelerated")
def test_closed_socket_counts_drops_and_a_host_name_falls_back_to_python(
    receiver: socket.socket,
) -> None:
    send_calls: list[Address] = []

    def send(data: bytes, address: Address) -> bool:
        send_calls.append(address)
        return True

    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.close()

    streams: list[RtpStream] = []

    async def body(scheduler: MediaScheduler, _clock: trio.testing.MockClock) -> None:
        common: dict[str, object] = {
            "payloads": [b"\x00" * 160], "payload_type": 0, "samples_per_frame": 160,
            "frame_interval_ms": 20.0, "loops": 3, "ssrc": 1, "first_seq": 0,
            "first_timestamp": 0, "fast_socket": closed,
        }  # fmt: skip
        for destination in (receiver.getsockname(), ("media.example", 4000)):
            streams.append(scheduler.start_rtp(send=send, destination=destination, **common))  # type: ignore[arg-type]
        for stream in streams:
            await stream.wait_done()

    run_with(body)
    dropped, named = streams
    # C found the socket closed for the first two frames; a finite stream's last frame takes
    # the Python path (the scheduler's end-of-stream branch), here a send that succeeds.
    assert dropped.counters.dropped_packets == 2 and dropped.counters.packets_sent == 1
    assert named.counters.packets_sent == 3  # every frame through the send function
    assert sorted(send_calls) == sorted([("media.example", 4000)] * 3 + [receiver.getsockname()])


def test_the_scheduler_module_imports_without_the_accelerator() -> None:
    """The pure-Python path: a Python without the extension gets FAST_PATH_AVAILABLE False."""
    code = (
        "import sys; sys.modules['gossipper.media._rtpfast'] = None\n"
        "import gossipper.media.scheduler as s\n"
        "print(s.FAST_PATH_AVAILABLE)\n"
    )
    if COMPILED_BUILD:
        pytest.skip("a compiled scheduler imports the accelerator from its own .so")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"


@pytest.mark.usefixtures("accelerated")
def test_a_calls_plain_stream_uses_the_accelerator_until_the_call_routes_it() -> None:
    """In a call on real UDP: a plain rtp_stream gets the RTP socket as its fast socket; keys
    (here ``use_srtp``, which re-routes every straight stream through the call's send) take it
    away, and no packet is lost or doubled across the switch."""
    runs = Runs()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            a, b = await open_pair(runs, nursery)
            assert a.rtp_stream("tone", 3, 8, "PCMA") is None
            stream = a.audio.current
            assert stream is not None
            assert stream._fast_socket is a.audio.rtp.fast_socket  # type: ignore[attr-defined]
            await until(lambda: received(b) >= 5)
            a.audio.use_srtp(None)
            assert stream._fast_socket is None
            await until(lambda: stream.done and received(b) == stream.counters.packets_sent)
            a.close()
            b.close()
            nursery.cancel_scope.cancel()

    trio.run(main)
    qa, qb = quality(runs, "call-a"), quality(runs, "call-b")
    assert qa.packets_sent == qb.packets_received == 30
    assert qb.packets_lost == qb.out_of_order == qb.duplicated == 0


# --- SRTP (send_srtp, issue 18 item 5) ---------------------------------------------------------


def _twin_sessions(suite: str) -> tuple[SrtpSession, SrtpSession, SrtpSession]:
    """Two sending sessions with the same keys (the same packets protect to the same bytes),
    and the receiving session that reads them."""
    require("pylibsrtp")
    from gossipper.media.secure.sdes import generate  # noqa: PLC0415 - needs the extra
    from gossipper.media.secure.srtp import SrtpSession  # noqa: PLC0415

    ours, theirs = generate(1, suite), generate(2, suite)
    return (
        SrtpSession(ours.suite, ours.key_salt, theirs.key_salt),
        SrtpSession(ours.suite, ours.key_salt, theirs.key_salt),
        SrtpSession(theirs.suite, theirs.key_salt, ours.key_salt),
    )


@pytest.mark.parametrize(
    "suite", ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM"]
)
def test_send_srtp_sends_what_pylibsrtp_protects(
    rtpfast: types.ModuleType, receiver: socket.socket, sender: socket.socket, suite: str
) -> None:
    by_python, by_c, reader = _twin_sessions(suite)
    addresses = by_c.fast_protect()
    assert addresses is not None
    host, port = receiver.getsockname()
    for n, (b1, seq, timestamp) in enumerate([(0x88, 65534, 0), (8, 65535, 160), (8, 0, 320)]):
        payload = bytes([n]) * 160
        expected = by_python.protect(_header(b1, seq, timestamp, 0xABCDEF01) + payload)
        assert expected is not None
        sent = rtpfast.send_srtp(
            sender, host, port, b1, seq, timestamp, 0xABCDEF01, payload, *addresses
        )
        assert sent == 1
        data = receiver.recvfrom(2048)[0]
        assert data == expected  # the sequence wrapped: the rollover counter agrees too
        assert reader.unprotect(data) == _header(b1, seq, timestamp, 0xABCDEF01) + payload
    # What libsrtp refuses is not sent: a packet longer than pylibsrtp's buffer allows.
    too_long = rtpfast.send_srtp(sender, host, port, 8, 1, 1, 1, b"x" * 1400, *addresses)
    assert too_long == rtpfast.SRTP_FAILED + rtpfast.SRTP_TOO_LONG
    by_c.count_protect_failure(too_long - rtpfast.SRTP_FAILED)
    assert by_c.counters.failures == {"malformed": 1}
    assert by_python.protect(_header(8, 1, 1, 1) + b"x" * 1400) is None
    assert by_python.counters.failures == {"malformed": 1}  # the Python path's count
    by_c.count_protect_failure(7)  # libsrtp's srtp_err_status_auth_fail
    assert by_c.counters.failures == {"malformed": 1, "auth_failure": 1}
    with pytest.raises(ValueError, match="null"):
        rtpfast.send_srtp(sender, host, port, 8, 1, 1, 1, b"x", 0, addresses[1])
    with pytest.raises(TypeError, match="10 arguments"):
        rtpfast.send_srtp(sender, host, port, 8, 1, 1, 1, b"x")


def _play_srtp(
    fast: bool, sender: socket.socket, destination: Address, session: SrtpSession
) -> tuple[RtpStream, int]:
    """``_play``'s stream, protected by ``session``: by C with its keys, or in Python."""

    class Protecting(_SocketSend):
        def __call__(self, data: bytes, address: Address) -> bool:
            protected = session.protect(data)
            return protected is not None and super().__call__(protected, address)

    addresses = session.fast_protect()
    assert addresses is not None
    fast_srtp = FastSrtp(*addresses, session.counters, session.count_protect_failure)
    return _play(fast, sender, destination, Protecting(sender), fast_srtp)


@pytest.mark.usefixtures("accelerated")
def test_the_scheduler_protects_the_same_stream_with_and_without_the_accelerator(
    receiver: socket.socket, sender: socket.socket
) -> None:
    """C and pylibsrtp interleave on one session (DTMF and the last frame take the Python
    path) and the packets equal those of the Python path throughout, sequence wrap included."""
    by_python, by_c, reader = _twin_sessions("AES_CM_128_HMAC_SHA1_80")
    destination = receiver.getsockname()
    plain, python_calls = _play_srtp(False, sender, destination, by_python)
    expected = _drain(receiver)
    fast, fast_python_calls = _play_srtp(True, sender, destination, by_c)
    got = _drain(receiver)
    assert got == expected
    assert len(got) == fast.counters.packets_sent == plain.counters.packets_sent >= 12
    assert python_calls == len(got)
    assert fast_python_calls == fast.counters.dtmf_packets + 1 < len(got)
    assert by_c.counters.protected == by_python.counters.protected == len(got)
    clear = [reader.unprotect(p) for p in got]
    assert all(c is not None for c in clear) and not reader.counters.failures


def _sdes_keys() -> tuple[SrtpSession, SrtpSession]:
    """A's and B's sessions of one SDES negotiation (each protects with its own key)."""
    require("pylibsrtp")
    from gossipper.media.secure.sdes import generate  # noqa: PLC0415 - needs the extra
    from gossipper.media.secure.srtp import SrtpSession  # noqa: PLC0415

    a, b = generate(1, "AES_CM_128_HMAC_SHA1_80"), generate(1, "AES_CM_128_HMAC_SHA1_80")
    return (SrtpSession(a.suite, a.key_salt, b.key_salt),
            SrtpSession(b.suite, b.key_salt, a.key_salt))  # fmt: skip


_Steer = Callable[[CallMediaSession, CallMediaSession, RtpStream], Awaitable[None]]


def _keyed_call(steer: _Steer, min_packets: int) -> None:
    """Two calls on real UDP keyed by SDES; A streams a tone, which the accelerator protects;
    ``steer`` changes things under it; then every packet A sent must arrive at B in order,
    authenticated."""
    runs = Runs()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            a, b = await open_pair(runs, nursery)
            keys_a, keys_b = _sdes_keys()
            a.audio.use_srtp(keys_a)
            b.audio.use_srtp(keys_b)
            assert a.rtp_stream("tone", 10, 8, "PCMA") is None
            stream = a.audio.current
            assert stream is not None
            fast = stream._fast_srtp  # type: ignore[attr-defined]
            assert fast is not None and fast.counters is keys_a.counters
            assert stream._fast_socket is a.audio.rtp.fast_socket  # type: ignore[attr-defined]
            await until(lambda: received(b) >= 5)
            await steer(a, b, stream)
            stream.stop()
            await until(lambda: received(b) == stream.counters.packets_sent)
            a.close()
            b.close()
            nursery.cancel_scope.cancel()

    trio.run(main)
    qa, qb = quality(runs, "call-a"), quality(runs, "call-b")
    assert qa.packets_sent == qb.packets_received >= min_packets
    assert qb.packets_lost == qb.out_of_order == qb.duplicated == qb.malformed == 0
    assert qb.srtp_auth_failures == qb.srtp_replays == 0


@pytest.mark.usefixtures("accelerated")
def test_a_calls_srtp_stream_is_protected_by_the_accelerator_across_rekeys() -> None:
    """A re-key moves the stream to the new keys at once; a held re-key (we answered) takes
    it to the Python path until the hold ends, then back to C."""

    async def rekey(a: CallMediaSession, b: CallMediaSession, stream: RtpStream) -> None:
        # A re-key both sides apply at once (b keeps the old keys for what is in flight).
        second_a, second_b = _sdes_keys()
        b.audio.use_srtp(second_b)
        a.audio.use_srtp(second_a)
        assert stream._fast_srtp.counters is second_a.counters  # type: ignore[attr-defined]
        await until(lambda: second_b.counters.unprotected >= 10)
        # A re-key we answered: the old keys protect until the hold ends, in Python.
        third_a, third_b = _sdes_keys()
        b.audio.use_srtp(third_b)
        a.audio.use_srtp(third_a, hold_send_s=0.2)
        assert stream._fast_srtp is None  # type: ignore[attr-defined]
        await until(lambda: stream._fast_srtp is not None)  # type: ignore[attr-defined]
        assert stream._fast_srtp.counters is third_a.counters  # type: ignore[attr-defined]
        await until(lambda: third_b.counters.unprotected >= 10)

    _keyed_call(rekey, 25)


@pytest.mark.usefixtures("accelerated")
def test_receive_hooks_keep_the_accelerator_and_a_path_switch_redecides() -> None:
    """ICE and DTLS hook the stream's receive side only (other_datagram): SRTP keys stay in C.
    ICE choosing a TURN relay (a transport with no socket of its own) takes the stream to the
    Python path, the host ports again bring it back."""

    class Relay:
        """A transport without ``fast_socket`` (as RelayedTransport), over the same socket."""

        def __init__(self, raw: object) -> None:
            self.raw = raw
            self.sent = 0

        def send_nowait(self, data: bytes, address: Address) -> bool:
            self.sent += 1
            return bool(self.raw.send_nowait(data, address))  # type: ignore[attr-defined]

    async def hook_and_switch(a: CallMediaSession, b: CallMediaSession, stream: RtpStream) -> None:
        a.audio.other_datagram = lambda data, source: None
        assert stream._fast_srtp is not None  # type: ignore[attr-defined]
        raw, raw_rtcp = a.audio.rtp, a.audio.rtcp
        relay = Relay(raw)
        a.audio.use_transports(relay, raw_rtcp)  # type: ignore[arg-type]
        assert stream._fast_socket is None  # type: ignore[attr-defined]
        await until(lambda: relay.sent >= 5)
        a.audio.use_transports(raw, raw_rtcp)
        assert stream._fast_socket is raw.fast_socket  # type: ignore[attr-defined]
        assert stream._fast_srtp is not None  # type: ignore[attr-defined]

    _keyed_call(hook_and_switch, 10)


def _steer(
    fast: bool, sender: socket.socket, receivers: tuple[socket.socket, socket.socket]
) -> tuple[dict[tuple[int, int], list[bytes]], list[object], int]:
    """Three streams (endless, finite, retargeted) through a stall, a pause, DTMF, counters
    and sequence reads in between: what each (receiver, SSRC) received, what was read, and how many
    streams C served at the first look (``fast``: the accelerator and its FastGroup)."""
    send = _SocketSend(sender)
    seen: list[object] = []
    in_c: list[int] = []

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        common: dict[str, object] = {
            "send": send, "payloads": [bytes([n]) * 160 for n in range(3)],
            "payload_type": 0, "samples_per_frame": 160, "frame_interval_ms": 20.0,
            "first_timestamp": 0xFFFFFF00, "fast_socket": sender if fast else None,
        }  # fmt: skip
        first = receivers[0].getsockname()
        start = scheduler.start_rtp
        endless = start(destination=first, loops=-1, ssrc=1, first_seq=65534, **common)  # type: ignore[arg-type]
        finite = start(destination=first, loops=4, ssrc=2, first_seq=7, **common)  # type: ignore[arg-type]
        moved = start(destination=first, loops=-1, ssrc=3, first_seq=0, start_delay_s=0.01,
                      **common)  # type: ignore[arg-type]  # fmt: skip
        await trio.sleep(0.1)
        in_c.append(scheduler.streams_in_c)
        seen.extend([endless.counters.packets_sent, endless.next_sequence,
                     endless.rtp_timestamp_at(trio.current_time())])  # fmt: skip
        clock.jump(0.1)  # a stall: every stream is several frames overdue
        await trio.sleep(0.05)
        endless.pause()
        await trio.sleep(0.06)
        endless.resume()
        moved.destination = receivers[1].getsockname()
        await trio.sleep(0.05)
        endless.send_dtmf("1", duration_ms=40)
        await trio.sleep(0.2)
        endless.stop()
        moved.stop()
        await finite.wait_done()
        for stream in (endless, finite, moved):
            seen.append(dataclasses.asdict(stream.counters))
        seen.append(scheduler.streams_in_c)

    run_with(body)
    by_ssrc: dict[tuple[int, int], list[bytes]] = {}
    for index, receiver in enumerate(receivers):
        for packet in _drain(receiver):
            by_ssrc.setdefault((index, parse_rtp(packet).ssrc), []).append(packet)
    return by_ssrc, seen, in_c[0]


class _FilenoOnly:
    """A socket stand-in with nothing but fileno(): the group's generic descriptor path."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()


@pytest.mark.parametrize("wrapped", [False, True], ids=["socket", "fileno-only"])
def test_a_group_member_whose_socket_closes_drops_and_counts_its_frames(
    rtpfast: types.ModuleType, receiver: socket.socket, wrapped: bool
) -> None:
    """The group reads a real socket's descriptor from the object (no fileno() call per
    packet) and anything else's through fileno(): either way a socket closed while its stream
    is a member drops the frames, counted, never sends them on a reused descriptor."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    group = rtpfast.FastGroup(0.010)
    payloads = (b"\x01" * 160, b"\x02" * 160)
    host, port = receiver.getsockname()
    member = group.join(
        _FilenoOnly(sock) if wrapped else sock, host, port, 0, True, 7, 0x1234, payloads,
        0.0, 0.020, 0, -1, 1000, 160, 0, 0, 0, 1,
    )  # fmt: skip
    group.serve(0.005, 0.0)  # slot 0, due at 0 ms (one frame per member and serve)
    group.serve(0.025, 0.020)  # slot 1
    first, second = receiver.recv(2048), receiver.recv(2048)
    assert first == _header(0x80, 7, 1000, 0x1234) + payloads[0]
    assert second == _header(0, 8, 1160, 0x1234) + payloads[1]
    sock.close()
    # A new socket may well get the closed one's descriptor number: nothing may leave on it.
    reuse = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        reuse.bind(("127.0.0.1", 0))
        group.serve(0.045, 0.040)  # slots 2 and 3
        group.serve(0.065, 0.060)
        taken = group.take(member, True)
    finally:
        reuse.close()
    slot, seq, _marker, sent, octets, *_rest, dropped, errors, _protected, _skipped = taken
    assert (slot, seq, sent, octets, dropped, errors) == (4, 11, 2, 320, 2, 0)
    receiver.settimeout(0.2)
    with pytest.raises(TimeoutError):
        receiver.recv(2048)


@pytest.mark.parametrize("burst", [1, 2])
def test_a_stalled_group_member_catches_up_in_c(
    rtpfast: types.ModuleType, receiver: socket.socket, sender: socket.socket, burst: int
) -> None:
    """After a stall the group skips the frames beyond the member's burst (counted) and sends
    the rest back to back, as RtpStream._serve does, instead of giving every overdue member
    back to Python: that hand-back (a take, the Python send path and a join per stream) cost
    enough at 3,000 streams to leave them all overdue again at the next tick. Only a member
    whose last frame is due goes back."""
    group = rtpfast.FastGroup(0.010)
    payloads = tuple(bytes([n]) * 160 for n in range(3))
    host, port = receiver.getsockname()
    endless = group.join(
        sender, host, port, 0, True, 100, 0x1111, payloads, 0.0, 0.020, 0, -1, 0, 160, 0, 0, 0,
        burst,
    )  # fmt: skip
    finite = group.join(
        sender, host, port, 0, True, 200, 0x2222, payloads, 0.0, 0.020, 0, 8, 0, 160, 0, 0, 0,
        burst,
    )  # fmt: skip
    assert group.serve(0.005, 0.0) == (0.020, None)  # slot 0 of each
    # A stall: the next serve comes at 0.105 s, slots 1..5 (due 20..100 ms) are all overdue.
    next_due, given_back = group.serve(0.115, 0.105)
    assert given_back is None
    assert next_due == pytest.approx(0.120)
    packets = [parse_rtp(p) for p in _drain(receiver)]
    by_ssrc = {ssrc: [(p.sequence, p.timestamp) for p in packets if p.ssrc == ssrc]
               for ssrc in (0x1111, 0x2222)}  # fmt: skip
    # Slot 0, then the last `burst` of slots 1..5; the slots before them are skipped.
    expected = [0] + list(range(6 - burst, 6))
    for ssrc, first_seq in ((0x1111, 100), (0x2222, 200)):
        assert by_ssrc[ssrc] == [(first_seq + k, 160 * slot) for k, slot in enumerate(expected)]
    slot, seq, _marker, sent, _octets, late, max_late_ms, *_rest, skipped = group.take(
        endless, False
    )
    assert (slot, seq, sent, skipped) == (6, 100 + len(expected), len(expected), 5 - burst)
    assert late == burst - 1  # sent at 105 ms: slot 5 (due 100 ms) on time, slot 4 late
    assert max_late_ms == pytest.approx(105.0 - (120.0 - 20.0 * burst))
    # The finite stream (8 slots): its last frame (slot 7, due 140 ms) goes to Python.
    assert group.serve(0.135, 0.125)[1] is None  # slot 6
    assert group.serve(0.155, 0.145)[1] == [finite]
    _drain(receiver)


@pytest.mark.usefixtures("accelerated")
def test_the_fast_group_serves_steady_streams_and_sends_the_python_paths_bytes(
    sender: socket.socket,
) -> None:
    """C's FastGroup takes the steady frames; stalls, pauses, DTMF, retargets, reads of the
    counters and the media clock give it back or sync it: every packet and count equal the
    Python path's."""
    receivers = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
                 socket.socket(socket.AF_INET, socket.SOCK_DGRAM))  # fmt: skip
    for receiver in receivers:
        receiver.bind(("127.0.0.1", 0))
    try:
        by_python, seen_python, in_c_python = _steer(False, sender, receivers)
        by_c, seen_c, in_c = _steer(True, sender, receivers)
    finally:
        for receiver in receivers:
            receiver.close()
    assert in_c_python == 0 and in_c == 3
    assert by_c == by_python
    assert seen_c == seen_python
    assert sorted(by_c) == [(0, 1), (0, 2), (0, 3), (1, 3)]
    counters = seen_c[3:6]
    assert all(isinstance(c, dict) and c["skipped_packets"] > 0 for c in counters)  # the stall
    assert isinstance(counters[0], dict) and counters[0]["dtmf_packets"] > 0
    assert seen_c[6] == 0  # stopped and finished streams left the group


def _churn(fast: bool, sender: socket.socket, receiver: socket.socket) -> tuple[object, ...]:
    """Forty streams of mixed lengths and intervals started, paused, resumed, stopped and
    given DTMF at seeded moments: streams keep joining and leaving the FastGroup, so its
    entries are freed and reused."""
    rng = random.Random(17)
    send = _SocketSend(sender)
    streams: list[RtpStream] = []
    most_in_c = [0]

    async def body(scheduler: MediaScheduler, _clock: trio.testing.MockClock) -> None:
        destination = receiver.getsockname()
        for n in range(40):
            streams.append(
                scheduler.start_rtp(
                    send=send,
                    destination=destination,
                    payloads=[bytes([n, k]) * 80 for k in range(1 + n % 4)],
                    payload_type=0,
                    samples_per_frame=160,
                    frame_interval_ms=(20.0, 30.0, 10.0)[n % 3],
                    loops=(-1, 2, 7, 40)[n % 4],
                    ssrc=1000 + n,
                    first_seq=rng.randrange(65536),
                    first_timestamp=rng.randrange(1 << 32),
                    start_delay_s=rng.random() * 0.05,
                    fast_socket=sender if fast else None,
                )  # fmt: skip
            )
        for _ in range(60):
            await trio.sleep(rng.choice((0.003, 0.01, 0.017)))
            most_in_c[0] = max(most_in_c[0], scheduler.streams_in_c)
            stream = rng.choice(streams)
            action = rng.randrange(5)
            if action == 0:
                stream.pause()
            elif action == 1:
                stream.resume()
            elif action == 2:
                stream.send_dtmf("7", duration_ms=30)
            elif action == 3:
                stream.stop()
            else:
                assert stream.counters.packets_sent >= 0  # a read while C may hold it
        for stream in streams:
            stream.stop()

    run_with(body)
    by_ssrc: dict[int, list[bytes]] = {}
    for packet in _drain(receiver):
        by_ssrc.setdefault(parse_rtp(packet).ssrc, []).append(packet)
    counters = [dataclasses.asdict(stream.counters) for stream in streams]
    return by_ssrc, counters, most_in_c[0]


@pytest.mark.usefixtures("accelerated")
def test_streams_joining_and_leaving_the_fast_group_send_the_python_paths_bytes(
    receiver: socket.socket, sender: socket.socket
) -> None:
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    by_python, counters_python, in_c_python = _churn(False, sender, receiver)
    by_c, counters_c, in_c = _churn(True, sender, receiver)
    assert in_c_python == 0 and in_c >= 10
    assert counters_c == counters_python
    assert by_c == by_python
    assert sum(c["packets_sent"] for c in counters_c) == sum(map(len, by_c.values())) > 500  # type: ignore[index]
