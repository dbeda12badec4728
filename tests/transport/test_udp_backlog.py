"""How full a real UDP socket's receive buffer is (SO_MEMINFO): the gauge the engine's
shedding reads (``interfaces.ReceiveBacklog``; tests/engine/test_overload.py for the rule)."""

from __future__ import annotations

import sys

import pytest
import trio

from gossipper.interfaces import ReceiveBacklog
from gossipper.transport import UdpTransportFactory

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="SO_MEMINFO is Linux's"
)


def test_the_backlog_is_the_share_of_the_receive_buffer_held_by_unread_datagrams() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            await body()

    async def body() -> None:
        # 256 KiB asked for: the kernel doubles it (socket(7)), and loopback charges each
        # 600-byte datagram about 1.3 KB of truesize.
        factory = UdpTransportFactory(buffer_bytes=256 * 1024)
        server = await factory.open_datagram("127.0.0.1", 0)
        client = await factory.open_datagram("127.0.0.1", 0)
        assert isinstance(server, ReceiveBacklog)
        assert server.receive_backlog() == 0.0
        shares = []
        for _ in range(4):
            for _ in range(50):
                assert client.send_nowait(b"x" * 600, server.local_address)
            shares.append(server.receive_backlog())
        # 50 datagrams each time: the share grows by the same step, up to 200 * 1.3 KB of
        # 512 KiB (about half).
        assert 0.0 < shares[0] < shares[1] < shares[2] < shares[3] < 1.0
        step = shares[0]
        assert all(abs(share - step * (n + 1)) < step * 0.1 for n, share in enumerate(shares))
        assert 0.2 < shares[3] < 0.95, shares
        received = 0
        while received < 200:
            received += len(await server.receive_batch())
        assert server.receive_backlog() == 0.0
        server.close()
        client.close()

    trio.run(main)
