"""A TCP read allocates about what arrived, not the 64 KB asked for (real sockets on
loopback), and connections sharing the factory's receive buffer never see each other's bytes.

trio's ``receive_some(65536)`` mallocs 64 KB per read and shrinks the block, the pattern that
fragmented the C heap on UDP (docs/performance.md, "Robustness"); the TCP connections of a
factory read into one reused buffer instead.
"""

from __future__ import annotations

import tracemalloc

import trio

from gossipper.transport import UdpTransportFactory

MESSAGE_BYTES = 900
ASKED_BYTES = 65536
ALLOWED_PEAK_BYTES = 16 * 1024


def test_a_small_read_never_allocates_the_bytes_asked_for() -> None:
    async def main() -> None:
        factory = UdpTransportFactory()
        with trio.fail_after(10):
            listener = await factory.open_stream_listener("127.0.0.1", 0)
            client = await factory.connect_stream(listener.local_address)
            server = await listener.accept()
            payload = b"x" * MESSAGE_BYTES
            await client.send_all(payload)
            await trio.sleep(0.05)  # the bytes are in the socket: the read does not wait
            tracemalloc.start()
            try:
                tracemalloc.reset_peak()
                before, _ = tracemalloc.get_traced_memory()
                data = await server.receive_some(ASKED_BYTES)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert data == payload
            assert peak - before < ALLOWED_PEAK_BYTES, (
                f"a {MESSAGE_BYTES}-byte read peaked at {peak - before} bytes"
            )
            for end in (client, server):
                await end.aclose()
            await listener.aclose()

    trio.run(main)


def test_connections_reading_at_once_get_their_own_bytes() -> None:
    pairs = 8
    rounds = 50

    async def main() -> None:
        factory = UdpTransportFactory()
        with trio.fail_after(20):
            listener = await factory.open_stream_listener("127.0.0.1", 0)
            ends = []
            for _ in range(pairs):
                client = await factory.connect_stream(listener.local_address)
                ends.append((client, await listener.accept()))

            async def echo_reader(index: int) -> None:
                client, server = ends[index]
                expected = bytes([65 + index]) * (rounds * 100)
                received = bytearray()
                while len(received) < len(expected):
                    received += await server.receive_some(ASKED_BYTES)
                assert bytes(received) == expected

            async def writer(index: int) -> None:
                client, _ = ends[index]
                for _ in range(rounds):
                    await client.send_all(bytes([65 + index]) * 100)
                    await trio.lowlevel.checkpoint()

            async with trio.open_nursery() as nursery:
                for index in range(pairs):
                    nursery.start_soon(echo_reader, index)
                    nursery.start_soon(writer, index)
            for client, server in ends:
                await client.aclose()
                await server.aclose()
            await listener.aclose()

    trio.run(main)
