"""Receiving a UDP datagram allocates about its size, not 64 KB (real sockets on loopback).

``socket.recvfrom(65536)`` mallocs 64 KB for every datagram and shrinks the block with realloc;
under a long run the freed tails fragment the C heap and RSS creeps up (docs/performance.md,
"Robustness"). The transport receives into a reused buffer instead; tracemalloc's peak shows
which of the two happened.
"""

from __future__ import annotations

import tracemalloc

import trio

from gossipper.transport import UdpTransportFactory

DATAGRAM_BYTES = 900
"""About a SIP request: far below the 64 KB a recvfrom(65536) would allocate first."""

ALLOWED_PEAK_BYTES = 16 * 1024
"""Peak extra memory while receiving a batch of small datagrams: the copies plus the batch list,
well under one 64 KB block."""


def test_receiving_small_datagrams_never_allocates_a_64_kb_block() -> None:
    async def main() -> None:
        factory = UdpTransportFactory()
        with trio.fail_after(10):
            server = await factory.open_datagram("127.0.0.1", 0)
            client = await factory.open_datagram("127.0.0.1", 0)
            payloads = [bytes([n]) * DATAGRAM_BYTES for n in range(4)]
            for payload in payloads:
                await client.send(payload, server.local_address)
            received: list[bytes] = []
            largest_peak = 0
            tracemalloc.start()
            try:
                while len(received) < len(payloads):
                    tracemalloc.reset_peak()
                    before, _ = tracemalloc.get_traced_memory()
                    batch = server.receive_nowait()
                    _, peak = tracemalloc.get_traced_memory()
                    largest_peak = max(largest_peak, peak - before)
                    received.extend(data for data, _ in batch)
                    if len(received) < len(payloads):
                        await trio.sleep(0.01)
            finally:
                tracemalloc.stop()
            assert received == payloads
            assert largest_peak < ALLOWED_PEAK_BYTES, (
                f"receiving datagrams of {DATAGRAM_BYTES} bytes peaked at {largest_peak} bytes"
            )
            server.close()
            client.close()

    trio.run(main)
