"""DTLS-SRTP handshakes between two endpoints over real loopback UDP (issue 18 item 2)."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

from tests.media.secure import certificate_pem, require

require("OpenSSL")
require("pylibsrtp")

from gossipper.media.rtp import RtpPacket  # noqa: E402
from gossipper.media.secure.dtls import (  # noqa: E402
    CERTIFICATE_EXPIRED,
    FINGERPRINT_MISMATCH,
    HANDSHAKE_TIMEOUT,
    DtlsError,
    DtlsSrtpEndpoint,
    DtlsSrtpKeys,
    answer_setup,
    generate_certificate,
    is_dtls_client,
    is_dtls_record,
    load_certificate,
    parse_fingerprint,
)


def _trio(test: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """A plain test running ``test`` under trio.run (the suite has no async test plugin)."""

    def run() -> None:
        trio.run(test)

    run.__name__ = test.__name__
    return run


Channel = tuple[Callable[[bytes], Awaitable[None]], Callable[[], Awaitable[bytes]]]


def _channel(sock: trio.socket.SocketType, peer: tuple[str, int], drop_first: int = 0) -> Channel:
    dropped = [0]

    async def send(data: bytes) -> None:
        if dropped[0] < drop_first:  # a lost flight: the retransmission timer must resend it
            dropped[0] += 1
            return
        await sock.sendto(data, peer)

    async def receive() -> bytes:
        data, _ = await sock.recvfrom(65535)
        return data

    return send, receive


async def _sockets() -> tuple[trio.socket.SocketType, trio.socket.SocketType]:
    a = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    b = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await a.bind(("127.0.0.1", 0))
    await b.bind(("127.0.0.1", 0))
    return a, b


async def _handshake(
    client: DtlsSrtpEndpoint, server: DtlsSrtpEndpoint, *, drop_first: int = 0,
    timeout_s: float = 10.0,
) -> tuple[DtlsSrtpKeys | DtlsError, DtlsSrtpKeys | DtlsError]:  # fmt: skip
    a, b = await _sockets()
    results: dict[str, DtlsSrtpKeys | DtlsError] = {}

    async def run(name: str, endpoint: DtlsSrtpEndpoint, channel: Channel) -> None:
        try:
            results[name] = await endpoint.handshake(*channel, timeout_s=timeout_s)
        except DtlsError as error:
            results[name] = error

    with a, b:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, "client", client, _channel(a, b.getsockname(), drop_first))
            nursery.start_soon(run, "server", server, _channel(b, a.getsockname()))
    return results["client"], results["server"]


def test_fingerprint_and_setup_helpers() -> None:
    cert = generate_certificate()
    value = cert.fingerprint()
    assert value.startswith("sha-256 ") and len(value) == len("sha-256 ") + 32 * 3 - 1
    algorithm, digest = parse_fingerprint("a=fingerprint:" + value)
    assert algorithm == "sha-256" and len(digest) == 32
    assert answer_setup("actpass") == "active"
    assert answer_setup("actpass", prefer="passive") == "passive"
    assert answer_setup("ACTIVE") == "passive" and answer_setup("passive") == "active"
    assert is_dtls_client("active") and not is_dtls_client("passive")
    with pytest.raises(DtlsError, match=r"a=setup: 'holdconn'"):
        answer_setup("holdconn")
    with pytest.raises(DtlsError, match=r"a=fingerprint: unknown hash 'md5'"):
        parse_fingerprint("md5 AB:CD")
    with pytest.raises(DtlsError, match=r"sha-256 digest has 2 bytes"):
        parse_fingerprint("sha-256 AB:CD")
    assert is_dtls_record(b"\x16\xfe\xfd") and not is_dtls_record(b"\x80\x00")


def test_load_certificate_from_pem() -> None:
    cert = generate_certificate()
    pem, key = certificate_pem(cert)
    assert load_certificate(pem, key).fingerprint() == cert.fingerprint()
    with pytest.raises(DtlsError, match="dtls_bad_certificate"):
        load_certificate(b"nonsense", key)


@_trio
async def test_handshake_derives_matching_srtp_keys_over_loopback_udp() -> None:
    alice, bob = generate_certificate(), generate_certificate()
    client = DtlsSrtpEndpoint(alice, client=True, remote_fingerprint=bob.fingerprint())
    server = DtlsSrtpEndpoint(bob, client=False, remote_fingerprint=alice.fingerprint())
    client_keys, server_keys = await _handshake(client, server)
    assert isinstance(client_keys, DtlsSrtpKeys) and isinstance(server_keys, DtlsSrtpKeys)
    assert client_keys.suite == server_keys.suite == "AEAD_AES_128_GCM"
    assert client_keys.local_key_salt == server_keys.remote_key_salt
    assert client_keys.remote_key_salt == server_keys.local_key_salt
    assert client_keys.local_key_salt != client_keys.remote_key_salt
    assert client_keys.remote_fingerprint == bob.fingerprint()
    sender, receiver = client_keys.srtp_session(), server_keys.srtp_session()
    plain = RtpPacket(0, 1, 160, 42, b"hello srtp" * 16).pack()
    wire = sender.protect(plain)
    assert wire is not None and plain[12:] not in wire
    assert receiver.unprotect(wire) == plain
    back = receiver.protect(RtpPacket(0, 9, 1600, 43, b"reply").pack())
    assert back is not None and sender.unprotect(back) is not None


@_trio
async def test_profile_choice_follows_the_offer() -> None:
    alice, bob = generate_certificate(), generate_certificate()
    only_80 = ("SRTP_AES128_CM_SHA1_80",)
    client = DtlsSrtpEndpoint(alice, client=True, remote_fingerprint=bob.fingerprint(),
                              profiles=only_80)  # fmt: skip
    server = DtlsSrtpEndpoint(bob, client=False, remote_fingerprint=alice.fingerprint())
    client_keys, server_keys = await _handshake(client, server)
    assert isinstance(client_keys, DtlsSrtpKeys) and isinstance(server_keys, DtlsSrtpKeys)
    assert client_keys.suite == server_keys.suite == "AES_CM_128_HMAC_SHA1_80"
    assert len(client_keys.local_key_salt) == 30


@_trio
async def test_lost_first_flight_is_retransmitted() -> None:
    alice, bob = generate_certificate(), generate_certificate()
    client = DtlsSrtpEndpoint(alice, client=True, remote_fingerprint=bob.fingerprint())
    server = DtlsSrtpEndpoint(bob, client=False, remote_fingerprint=alice.fingerprint())
    client_keys, server_keys = await _handshake(client, server, drop_first=1)
    assert isinstance(client_keys, DtlsSrtpKeys) and isinstance(server_keys, DtlsSrtpKeys)
    assert client.retransmissions >= 1


@_trio
async def test_lost_last_flight_is_answered_after_the_handshake() -> None:
    alice, bob = generate_certificate(), generate_certificate()
    client = DtlsSrtpEndpoint(alice, client=True, remote_fingerprint=bob.fingerprint())
    server = DtlsSrtpEndpoint(bob, client=False, remote_fingerprint=alice.fingerprint())
    a, b = await _sockets()
    sent_by_server: list[bytes] = []

    async def server_send(data: bytes) -> None:
        sent_by_server.append(data)
        if len(sent_by_server) == 2:  # the server's last flight (CCS, Finished) is lost
            return
        await b.sendto(data, a.getsockname())

    async def server_receive() -> bytes:
        return (await b.recvfrom(65535))[0]

    results: list[DtlsSrtpKeys] = []

    async def serve_late(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        results.append(await server.handshake(server_send, server_receive))
        while True:  # what a media path does for the rest of the stream
            for datagram in server.handle_record(await server_receive()):
                await server_send(datagram)

    with a, b, trio.fail_after(15):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_late)
            client_keys = await client.handshake(*_channel(a, b.getsockname()))
            nursery.cancel_scope.cancel()
    assert client.retransmissions >= 1
    assert len(sent_by_server) >= 3
    assert client_keys.local_key_salt == results[0].remote_key_salt
    assert server.handle_record(b"\x80not dtls") == []


@_trio
async def test_fingerprint_mismatch_fails_with_the_named_reason() -> None:
    alice, bob, mallory = generate_certificate(), generate_certificate(), generate_certificate()
    client = DtlsSrtpEndpoint(alice, client=True, remote_fingerprint=mallory.fingerprint())
    server = DtlsSrtpEndpoint(bob, client=False, remote_fingerprint=alice.fingerprint())
    client_result, server_result = await _handshake(client, server, timeout_s=3.0)
    assert isinstance(client_result, DtlsError)
    assert client_result.reason == FINGERPRINT_MISMATCH
    assert mallory.fingerprint() in str(client_result) and bob.fingerprint() in str(client_result)
    # The server sees the client's alert (or nothing more): never a key.
    assert isinstance(server_result, DtlsError)


@_trio
async def test_expired_peer_certificate_fails_with_the_named_reason() -> None:
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    alice = generate_certificate()
    old = generate_certificate(now=long_ago, validity=datetime.timedelta(days=1))
    client = DtlsSrtpEndpoint(alice, client=True, remote_fingerprint=old.fingerprint())
    server = DtlsSrtpEndpoint(old, client=False, remote_fingerprint=alice.fingerprint())
    client_result, _ = await _handshake(client, server, timeout_s=3.0)
    assert isinstance(client_result, DtlsError)
    assert client_result.reason == CERTIFICATE_EXPIRED


@_trio
async def test_silent_peer_times_out_with_the_named_reason() -> None:
    alice, bob = generate_certificate(), generate_certificate()
    client = DtlsSrtpEndpoint(alice, client=True, remote_fingerprint=bob.fingerprint())
    a, b = await _sockets()
    with a, b, pytest.raises(DtlsError) as caught:
        await client.handshake(*_channel(a, b.getsockname()), timeout_s=1.5)
    assert caught.value.reason == HANDSHAKE_TIMEOUT
    assert client.retransmissions >= 1


def test_handshake_over_in_memory_datagrams_on_a_virtual_clock() -> None:
    # How the simulation drives it: no sockets, trio's virtual clock jumping when idle.
    from trio.testing import MockClock

    alice, bob = generate_certificate(), generate_certificate()
    client = DtlsSrtpEndpoint(alice, client=True, remote_fingerprint=bob.fingerprint())
    server = DtlsSrtpEndpoint(bob, client=False, remote_fingerprint=alice.fingerprint())
    keys: dict[str, DtlsSrtpKeys] = {}

    async def main() -> None:
        to_server_tx, to_server_rx = trio.open_memory_channel[bytes](16)
        to_client_tx, to_client_rx = trio.open_memory_channel[bytes](16)

        async def run(name: str, endpoint: DtlsSrtpEndpoint, tx: Any, rx: Any) -> None:
            keys[name] = await endpoint.handshake(tx.send, rx.receive)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, "client", client, to_server_tx, to_client_rx)
            nursery.start_soon(run, "server", server, to_client_tx, to_server_rx)

    trio.run(main, clock=MockClock(autojump_threshold=0))
    assert keys["client"].local_key_salt == keys["server"].remote_key_salt
    assert keys["client"].suite == keys["server"].suite
