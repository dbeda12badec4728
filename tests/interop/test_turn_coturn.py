"""The TURN client against a real coturn on loopback (issue 18 item 3).

Each test starts its own turnserver with a config of its own: long-term credentials in one
realm, UDP only on 127.0.0.1, relay addresses on 127.0.0.1, loopback peers allowed (coturn
refuses them by default), no CLI, no TLS/DTLS.
"""

from __future__ import annotations

import os
import pathlib
import random
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
import trio

from gossipper.media.secure import stun
from gossipper.media.secure.turn import (
    CHANNEL_MIN,
    TURN_AUTH_FAILED,
    TURN_TIMEOUT,
    TurnClient,
    TurnError,
)
from tests.loopback_ports import free_udp_port

pytestmark = pytest.mark.interop

USER = "gossip"
PASSWORD = "s3cret-pass"
REALM = "gossipper.test"


def _turnserver() -> str:
    path = shutil.which("turnserver")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("coturn is not installed: .ci/run must apt-get install coturn")
        pytest.skip("coturn not installed (apt-get install -y coturn); required in CI")
    return path


def _answers_binding(port: int) -> bool:
    import socket

    request = stun.StunMessage.new(stun.BINDING, stun.REQUEST).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.sendto(request, ("127.0.0.1", port))
        try:
            data = sock.recv(2048)
        except OSError:
            return False
    return stun.is_stun(data)


@pytest.fixture
def coturn(tmp_path: pathlib.Path) -> Iterator[tuple[str, int]]:
    binary = _turnserver()
    port = free_udp_port()
    # A relay range of our own, away from the ephemeral ports the kernel hands out.
    low = random.randrange(20000, 30000, 100)
    config = tmp_path / "turnserver.conf"
    config.write_text(
        "\n".join(
            [
                "listening-ip=127.0.0.1",
                "relay-ip=127.0.0.1",
                f"listening-port={port}",
                f"min-port={low}",
                f"max-port={low + 99}",
                "lt-cred-mech",
                f"user={USER}:{PASSWORD}",
                f"realm={REALM}",
                "fingerprint",
                "no-tls",
                "no-dtls",
                "no-tcp",
                "no-tcp-relay",
                "allow-loopback-peers",
                "no-cli",
                "no-rfc5780",
                f"userdb={tmp_path / 'turndb'}",
                f"pidfile={tmp_path / 'turnserver.pid'}",
                f"log-file={tmp_path / 'turnserver.log'}",
                "simple-log",
                "",
            ]
        )
    )
    log = (tmp_path / "stdout.log").open("wb")
    process = subprocess.Popen(
        [binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path
    )
    try:
        deadline = time.monotonic() + 10
        while not _answers_binding(port):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                output = (tmp_path / "stdout.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"turnserver did not start (exit {process.poll()}):\n{output}")
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


Channel = tuple[Callable[[bytes], Awaitable[None]], Callable[[], Awaitable[bytes]]]


def _channel(sock: trio.socket.SocketType, server: tuple[str, int]) -> Channel:
    async def send(data: bytes) -> None:
        await sock.sendto(data, server)

    async def receive() -> bytes:
        while True:
            data, source = await sock.recvfrom(65535)
            if source[:2] == server:
                return bytes(data)

    return send, receive


async def _udp() -> trio.socket.SocketType:
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    return sock


def test_allocate_permission_channel_and_relay_both_ways(coturn: tuple[str, int]) -> None:
    async def main() -> None:
        client_sock, peer_sock = await _udp(), await _udp()
        with client_sock, peer_sock, trio.fail_after(20):
            client = TurnClient(*_channel(client_sock, coturn), username=USER, password=PASSWORD)
            relayed = await client.allocate(lifetime_s=300)
            assert relayed[0] == "127.0.0.1" and relayed[1] != coturn[1]
            assert client.realm == REALM and client.nonce
            assert client.mapped == client_sock.getsockname()
            # coturn grants at least its default (600 s) whatever a client asks for.
            assert client.lifetime_s >= 300
            peer = peer_sock.getsockname()
            await client.create_permission(peer)

            # Send indication out, Data indication back.
            await client.send_to(peer, b"via send indication")
            data, source = await peer_sock.recvfrom(2048)
            assert (data, source) == (b"via send indication", relayed)
            await peer_sock.sendto(b"via data indication", relayed)
            assert await client.receive() == (peer, b"via data indication")

            # ChannelData both ways once the channel is bound.
            channel = await client.channel_bind(peer)
            assert channel == CHANNEL_MIN
            await client.send_to(peer, b"\x80rtp over channel")
            data, source = await peer_sock.recvfrom(2048)
            assert (data, source) == (b"\x80rtp over channel", relayed)
            await peer_sock.sendto(b"\x80reply over channel", relayed)
            assert await client.receive() == (peer, b"\x80reply over channel")

            assert await client.refresh(120) > 0
            assert await client.refresh(0) == 0
            assert client.relayed is None
            assert client.counters.malformed == 0

    trio.run(main)


def test_wrong_password_fails_with_the_named_reason(coturn: tuple[str, int]) -> None:
    async def main() -> None:
        sock = await _udp()
        with sock, trio.fail_after(20):
            client = TurnClient(*_channel(sock, coturn), username=USER, password="wrong")
            with pytest.raises(TurnError) as caught:
                await client.allocate()
            assert caught.value.reason == TURN_AUTH_FAILED
            assert f"user '{USER}' in realm '{REALM}'" in str(caught.value)

    trio.run(main)


def test_unreachable_server_fails_by_timeout_with_the_named_reason() -> None:
    async def main() -> None:
        # A socket of ours that never answers stands for a TURN server that is down.
        sock, silent = await _udp(), await _udp()
        with sock, silent, trio.fail_after(20):
            client = TurnClient(
                *_channel(sock, silent.getsockname()),
                username=USER, password=PASSWORD, timeout_s=1.6, rto_s=0.2,
            )  # fmt: skip
            with pytest.raises(TurnError) as caught:
                await client.allocate()
            assert caught.value.reason == TURN_TIMEOUT
            assert "no answer to Allocate in 1.6 s" in str(caught.value)
            assert client.counters.retransmissions >= 2

    trio.run(main)


def test_srtp_through_the_relay_both_ways(coturn: tuple[str, int]) -> None:
    """The pieces composed: SDES keys, SRTP, relayed by coturn over a bound channel."""
    from gossipper.media.rtp import RtpPacket
    from gossipper.media.secure.sdes import generate
    from gossipper.media.secure.srtp import SrtpSession

    rng = random.Random(8656).randbytes
    ours = generate(1, "AES_CM_128_HMAC_SHA1_80", rng)
    theirs = generate(1, "AES_CM_128_HMAC_SHA1_80", rng)
    me = SrtpSession(ours.suite, ours.key_salt, theirs.key_salt)
    peer_srtp = SrtpSession(theirs.suite, theirs.key_salt, ours.key_salt)

    async def main() -> None:
        client_sock, peer_sock = await _udp(), await _udp()
        with client_sock, peer_sock, trio.fail_after(20):
            client = TurnClient(*_channel(client_sock, coturn), username=USER, password=PASSWORD)
            relayed = await client.allocate()
            peer = peer_sock.getsockname()
            await client.create_permission(peer)
            await client.channel_bind(peer)
            for seq in range(1, 11):
                plain = RtpPacket(0, seq, seq * 160, 0xAB, b"\x7f" * 160).pack()
                wire = me.protect(plain)
                assert wire is not None
                await client.send_to(peer, wire)
                data, source = await peer_sock.recvfrom(2048)
                assert source == relayed and peer_srtp.unprotect(data) == plain
                answer = peer_srtp.protect(RtpPacket(0, seq, seq * 160, 0xCD, b"ok").pack())
                assert answer is not None
                await peer_sock.sendto(answer, relayed)
                sender, relayed_back = await client.receive()
                assert sender == peer and me.unprotect(relayed_back) is not None
            await client.refresh(0)
            assert me.counters.failures == {} and peer_srtp.counters.failures == {}
            assert me.counters.unprotected == 10 and peer_srtp.counters.unprotected == 10

    trio.run(main)
