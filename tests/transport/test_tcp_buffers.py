"""``-buff_size`` on TCP sockets: given, it sizes every stream socket (client, listener and
the connections it accepts), as SIPp sets it; not given, the kernel's autotuning stays."""

from __future__ import annotations

import socket

import trio

from gossipper.transport import UdpTransportFactory
from gossipper.transport.tcp import TcpConnection


def _buffers(connection: object) -> tuple[int, int]:
    assert isinstance(connection, TcpConnection)
    sock = connection._socket
    return (
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
    )


async def _pair(factory: UdpTransportFactory) -> tuple[tuple[int, int], tuple[int, int]]:
    listener = await factory.open_stream_listener("127.0.0.1", 0)
    async with trio.open_nursery() as nursery:
        accepted: list[object] = []

        async def accept() -> None:
            accepted.append(await listener.accept())

        nursery.start_soon(accept)
        client = await factory.connect_stream(listener.local_address)
    server = accepted[0]
    sizes = _buffers(client), _buffers(server)
    await client.aclose()
    await server.aclose()  # type: ignore[attr-defined]
    await listener.aclose()
    return sizes


def test_given_size_applies_to_client_and_accepted_sockets() -> None:
    # 256 KiB fits under the usual wmem_max/rmem_max; Linux reports twice what was set.
    wanted = 256 * 1024
    client, server = trio.run(_pair, UdpTransportFactory(stream_buffer_bytes=wanted))
    assert client == (2 * wanted, 2 * wanted)
    assert server == (2 * wanted, 2 * wanted)


def test_not_given_keeps_the_kernel_default() -> None:
    client, server = trio.run(_pair, UdpTransportFactory())
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as fresh:
        default = (
            fresh.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
            fresh.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
        )
    # Autotuning may grow a connected socket's buffers, never pin them to a set value.
    assert client[0] >= default[0] and server[1] >= 0
    assert client != (2 * 256 * 1024, 2 * 256 * 1024)
