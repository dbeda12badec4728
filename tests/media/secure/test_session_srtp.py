"""The secure-media hook of ``media/session.py`` (issue 18 contract): two calls' media on real
loopback UDP sockets, keyed with a pair of SrtpSessions, stream, echo, DTMF and report RTCP to
each other; what crosses the wire is SRTP, what is counted is the clear RTP."""

from __future__ import annotations

import functools
import socket
from collections.abc import Awaitable, Callable

import trio

from gossipper.interfaces import Address
from gossipper.media.secure.sdes import generate
from gossipper.media.secure.srtp import SrtpSession
from tests.media.secure import require
from tests.media.session_pair import (
    FRAME,
    Runs,
    open_pair,
    quality,
    received,
    sent,
    until,
)

require("pylibsrtp")  # a failure in CI, a skip elsewhere

_Test = Callable[[], Awaitable[None]]


def _trio(test: _Test) -> Callable[[], None]:
    """Run the async test body under trio (the suite has no async pytest plugin)."""

    @functools.wraps(test)
    def run() -> None:
        trio.run(test)

    return run


def _keys(suite: str = "AES_CM_128_HMAC_SHA1_80") -> tuple[SrtpSession, SrtpSession]:
    a = generate(1, suite)
    b = generate(1, suite)
    return SrtpSession(a.suite, a.key_salt, b.key_salt), SrtpSession(b.suite, b.key_salt,
                                                                     a.key_salt)  # fmt: skip


@_trio
async def test_srtp_both_ways_counts_clear_rtp_and_rtcp() -> None:
    runs = Runs()
    seen_on_wire: list[bytes] = []
    async with trio.open_nursery() as nursery:
        a, b = await open_pair(runs, nursery)
        key_a, key_b = _keys()
        a.audio.use_srtp(key_a)
        b.audio.srtp = key_b  # the property installs the keys as use_srtp does
        assert b.audio.srtp is key_b
        # Watch the wire: B's socket hands the raw datagram to the stream, which unprotects.
        original = b.audio._guarded_rtp

        def spy(now: float, data: bytes, source: Address) -> None:
            seen_on_wire.append(data)
            original(now, data, source)

        b.audio._guarded_rtp = spy  # type: ignore[method-assign]
        assert a.rtp_stream("tone", 1, 8, "PCMA") is None
        assert b.rtp_stream("tone", 1, 8, "PCMA") is None
        assert a.play_dtmf("1", 100) is None
        await until(
            lambda: sent(a) >= 5 and received(b) == sent(a) and sent(b) >= 5
            and received(a) == sent(b) and a.audio.rtt_ms is not None
            and b.audio.rtcp_received > 0
        )  # fmt: skip
        a.close()
        b.close()
        nursery.cancel_scope.cancel()
    qa, qb = quality(runs, "call-a"), quality(runs, "call-b")
    assert qb.packets_received == qa.packets_sent >= 5
    assert qa.packets_received == qb.packets_sent >= 5
    assert qa.malformed == qb.malformed == 0
    assert qa.srtp_auth_failures == qb.srtp_auth_failures == 0
    assert qa.rtcp_received >= 1 and qb.rtcp_received >= 1  # SRTCP unprotected and parsed
    assert qa.rtt_ms is not None  # reports round-tripped through SRTCP
    # On the wire: a 10-byte tag after 12 + 160 bytes, and the payload is not the clear frame.
    audio = [d for d in seen_on_wire if len(d) == 12 + 160 + 10]
    assert audio and all(FRAME not in d for d in audio)
    assert key_a.counters.protected >= qa.packets_sent
    assert key_b.counters.unprotected >= qb.packets_received


@_trio
async def test_wrong_key_drops_counted_as_auth_failures_and_warned() -> None:
    runs = Runs()
    async with trio.open_nursery() as nursery:
        a, b = await open_pair(runs, nursery, debug=True)
        key_a, _ = _keys()
        _, stranger = _keys()
        a.audio.use_srtp(key_a)
        b.audio.use_srtp(stranger)  # B expects another key: nothing of A's authenticates
        assert a.rtp_stream("tone", 1, 8, "PCMA") is None
        stream = a.audio.current
        assert stream is not None
        await until(
            lambda: stream.done
            and stranger.counters.failures.get("auth_failure", 0) >= sent(a)
        )  # fmt: skip
        a.close()
        b.close()
        nursery.cancel_scope.cancel()
    qa, qb = quality(runs, "call-a"), quality(runs, "call-b")
    assert qa.packets_sent >= 5  # 10 frames; a loaded host skips a late one now and then
    assert qb.packets_received == 0
    assert qb.srtp_auth_failures >= qa.packets_sent
    assert qb.malformed == 0
    assert any("SRTP packet" in w and "auth_failure=" in w for w in runs.warnings)


@_trio
async def test_replayed_packet_is_counted_and_echo_reprotects() -> None:
    runs = Runs()
    async with trio.open_nursery() as nursery:
        a, b = await open_pair(runs, nursery, echo_b=True)
        line_a, line_b = (
            generate(1, "AES_CM_128_HMAC_SHA1_32"),
            generate(1, "AES_CM_128_HMAC_SHA1_32"),
        )
        key_a = SrtpSession(line_a.suite, line_a.key_salt, line_b.key_salt)
        key_b = SrtpSession(line_b.suite, line_b.key_salt, line_a.key_salt)
        a.audio.use_srtp(key_a)
        b.audio.use_srtp(key_b)
        assert a.rtp_stream("tone", 3, 8, "PCMA") is None
        await until(lambda: received(a) >= 10)
        # Replay one packet A already sent: B's libsrtp has seen its index.
        clear = bytes([0x80, 8, 0, 1]) + bytes(4) + bytes.fromhex("12345678") + FRAME
        # A third party holding A's key (the test) sends one packet twice.
        replay_keys = SrtpSession(line_a.suite, line_a.key_salt, line_b.key_salt)
        packet = replay_keys.protect(clear)
        assert packet is not None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(packet, ("127.0.0.1", b.audio_port))
            sender.sendto(packet, ("127.0.0.1", b.audio_port))
        await until(lambda: key_b.counters.failures.get("replay", 0) >= 1)
        await trio.sleep(0.05)  # a second replay count would show now
        a.close()
        b.close()
        nursery.cancel_scope.cancel()
    qa, qb = quality(runs, "call-a"), quality(runs, "call-b")
    assert qb.srtp_replays == 1
    # B echoed what it received, protected with its own key: A authenticates every packet.
    assert qa.packets_received >= 10
    assert qa.srtp_auth_failures == 0


@_trio
async def test_rekey_replaces_keys_and_keeps_earlier_failures() -> None:
    runs = Runs()
    async with trio.open_nursery() as nursery:
        a, b = await open_pair(runs, nursery)
        key_a, _ = _keys()
        _, wrong = _keys()
        a.audio.use_srtp(key_a)
        b.audio.use_srtp(wrong)
        assert a.rtp_stream("tone", 5, 8, "PCMA") is None
        await until(lambda: wrong.counters.failures.get("auth_failure", 0) >= 3)
        failures_before = wrong.counters.failures.get("auth_failure", 0)
        assert failures_before > 0
        # Re-key both sides (as a re-INVITE with new a=crypto lines does).
        new_a, new_b = _keys()
        a.audio.use_srtp(new_a)
        b.audio.use_srtp(new_b)
        await until(lambda: received(b) >= 10)
        a.close()
        b.close()
        nursery.cancel_scope.cancel()
    qb = quality(runs, "call-b")
    assert qb.packets_received >= 10  # the new keys authenticate
    assert qb.srtp_auth_failures >= failures_before  # the old session's count is kept


@_trio
async def test_other_datagram_gets_non_rtp_and_plain_path_is_unchanged() -> None:
    runs = Runs()
    handed: list[tuple[bytes, Address]] = []
    async with trio.open_nursery() as nursery:
        a, b = await open_pair(runs, nursery)
        b.audio.other_datagram = lambda data, source: handed.append((data, source))
        stun = bytes([0x00, 0x01, 0x00, 0x00]) + bytes.fromhex("2112a442") + bytes(12)
        dtls = bytes([22, 0xFE, 0xFD]) + bytes(10)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.bind(("127.0.0.1", 0))
            sender.sendto(stun, ("127.0.0.1", b.audio_port))
            sender.sendto(dtls, ("127.0.0.1", b.audio_port))
            sender.sendto(dtls, ("127.0.0.1", b.audio_port + 1))  # the RTCP port too
            here = sender.getsockname()
        # Plain RTP still flows with only the demultiplexing hook set (no keys yet).
        assert a.rtp_stream("tone", 3, 8, "PCMA") is None
        await until(lambda: len(handed) == 3 and sent(a) >= 10 and received(b) == sent(a))
        b.audio.other_datagram = None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(stun, ("127.0.0.1", b.audio_port))  # hook removed: malformed again
        # A keeps streaming meanwhile: wait until B has read all of it too, or the last
        # packet sent could still sit in B's socket when the calls close.
        await until(lambda: b.audio.malformed == 1 and received(b) == sent(a))
        a.close()
        b.close()
        nursery.cancel_scope.cancel()
    # Two sockets, two reading tasks: the order between the ports is not fixed.
    assert sorted(data for data, _ in handed) == sorted([stun, dtls, dtls])
    assert {source for _, source in handed} == {here}
    qa, qb = quality(runs, "call-a"), quality(runs, "call-b")
    assert qb.packets_received == qa.packets_sent >= 10
    assert qb.malformed == 1
    assert qb.srtp_auth_failures == qb.srtp_replays == 0
