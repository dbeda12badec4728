"""Kernel receive timestamps on real UDP sockets (issue 17 item 5): a batch read late keeps
each datagram's own arrival time, so RFC 3550 jitter matches a packet capture's."""

from __future__ import annotations

import sys

import pytest
import trio

from gossipper.transport import UdpTransportFactory

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="SO_TIMESTAMPNS is Linux's"
)


def test_datagrams_read_in_one_late_batch_keep_their_own_arrival_times() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            await body()

    async def body() -> None:
        factory = UdpTransportFactory()
        server = await factory.open_datagram("127.0.0.1", 0)
        client = await factory.open_datagram("127.0.0.1", 0)
        # Switch stamping on first (it applies to datagrams queued from then on).
        with trio.move_on_after(0.01):
            await server.receive_batch_timed()
        sent_at = []  # (before, after) each send: a loaded host may stall us around one
        for n in range(3):
            before = trio.current_time()
            assert client.send_nowait(b"packet %d" % n, server.local_address)
            sent_at.append((before, trio.current_time()))
            await trio.sleep(0.05)
        await trio.sleep(0.1)  # the reader is late: all three wait in the socket
        read_at = trio.current_time()
        batch = await server.receive_batch_timed()
        assert [data for data, _, _ in batch] == [b"packet 0", b"packet 1", b"packet 2"]
        arrivals = [at for _, _, at in batch]
        for (before, after), arrived in zip(sent_at, arrivals, strict=True):
            # Loopback delivery takes microseconds; a batch stamp would be >= read_at.
            assert before - 0.002 <= arrived <= after + 0.02 < read_at
        # The sends were 50 ms apart or more (a late wake-up only widens a gap): one stamp for
        # the whole batch would make them 0.
        gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
        assert all(gap >= 0.045 for gap in gaps), gaps
        server.close()
        client.close()

    trio.run(main)
