"""Stream conformance: every ``StreamConnection``/``StreamListener`` keeps the contract written
in ``gossipper.interfaces`` (see ``_backends`` for the implementations)."""

from __future__ import annotations

import pytest
import trio

from gossipper.errors import BindError, TransportError
from gossipper.interfaces import StreamConnection, StreamListener
from tests.transport._backends import Backend, Hosts

CHUNK = 65536


async def _read_to_eof(connection: StreamConnection) -> bytes:
    received = bytearray()
    while data := await connection.receive_some(CHUNK):
        received += data
    return bytes(received)


async def _read_exactly(connection: StreamConnection, size: int) -> bytes:
    received = bytearray()
    while len(received) < size:
        data = await connection.receive_some(CHUNK)
        assert data, f"EOF after {len(received)} of {size} bytes"
        received += data
    return bytes(received)


async def _connected(
    hosts: Hosts,
) -> tuple[StreamListener, StreamConnection, StreamConnection]:
    listener = await hosts.server.open_stream_listener(hosts.server_host, 0)
    client = await hosts.client.connect_stream(listener.local_address)
    server = await listener.accept()
    return listener, client, server


async def _unused_port(hosts: Hosts) -> int:
    """A port of the client host nobody listens on (bound once, then released)."""
    probe = await hosts.client.open_stream_listener(hosts.client_host, 0)
    port = probe.local_address[1]
    await probe.aclose()
    return port


def test_bytes_flow_both_ways(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        listener, client, server = await _connected(hosts)
        await client.send_all(b"INVITE sip:bob SIP/2.0\r\n\r\n")
        assert await _read_exactly(server, 26) == b"INVITE sip:bob SIP/2.0\r\n\r\n"
        await server.send_all(b"SIP/2.0 100 Trying\r\n\r\n")
        assert await _read_exactly(client, 22) == b"SIP/2.0 100 Trying\r\n\r\n"
        await client.aclose()
        await server.aclose()
        await listener.aclose()

    streams.run(body)


def test_addresses_match_on_both_ends_and_ephemeral_ports_are_resolved(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        listener, client, server = await _connected(hosts)
        assert listener.local_address[0] == hosts.server_host
        assert 0 < listener.local_address[1] <= 65535
        assert client.remote_address == listener.local_address == server.local_address
        assert server.remote_address == client.local_address
        assert client.local_address[0] == hosts.client_host
        assert 0 < client.local_address[1] <= 65535
        for end in (client, server):
            await end.aclose()
        await listener.aclose()

    streams.run(body)


def test_client_local_bind_is_honoured(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        port = await _unused_port(hosts)
        listener = await hosts.server.open_stream_listener(hosts.server_host, 0)
        client = await hosts.client.connect_stream(
            listener.local_address, local_host=hosts.client_host, local_port=port
        )
        server = await listener.accept()
        assert client.local_address == (hosts.client_host, port)
        assert server.remote_address == (hosts.client_host, port)
        for end in (client, server):
            await end.aclose()
        await listener.aclose()

    streams.run(body)


def test_a_one_mib_payload_arrives_complete_and_in_order(streams: Backend) -> None:
    payload = bytes(n * 7 % 251 for n in range(1 << 20))

    async def body(hosts: Hosts) -> None:
        listener, client, server = await _connected(hosts)
        received: list[bytes] = []

        async def reader() -> None:
            received.append(await _read_to_eof(server))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            await client.send_all(payload)
            await client.aclose()
        assert received == [payload]
        await server.aclose()
        await listener.aclose()

    streams.run(body)


def test_many_small_sends_arrive_in_order(streams: Backend) -> None:
    messages = [b"MESSAGE %04d\r\n" % n for n in range(2000)]

    async def body(hosts: Hosts) -> None:
        listener, client, server = await _connected(hosts)
        received: list[bytes] = []

        async def reader() -> None:
            received.append(await _read_to_eof(server))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            for message in messages:
                await client.send_all(message)
            await client.aclose()
        assert received == [b"".join(messages)]
        await server.aclose()
        await listener.aclose()

    streams.run(body)


def test_listening_on_a_port_in_use_raises_bind_error_naming_it(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        listener = await hosts.server.open_stream_listener(hosts.server_host, 0)
        host, port = listener.local_address
        with pytest.raises(BindError, match=f"{host}:{port}"):
            await hosts.server.open_stream_listener(host, port)
        await listener.aclose()

    streams.run(body)


def test_connecting_from_a_local_port_in_use_raises_bind_error(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        listener = await hosts.server.open_stream_listener(hosts.server_host, 0)
        taken = await hosts.client.open_stream_listener(hosts.client_host, 0)
        host, port = taken.local_address
        with pytest.raises(BindError, match=f"{host}:{port}"):
            await hosts.client.connect_stream(
                listener.local_address, local_host=host, local_port=port
            )
        await taken.aclose()
        await listener.aclose()

    streams.run(body)


def test_connection_refused_raises_transport_error_naming_the_remote(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        closed = await hosts.server.open_stream_listener(hosts.server_host, 0)
        host, port = closed.local_address
        await closed.aclose()
        with pytest.raises(TransportError, match=f"{host}:{port}") as caught:
            await hosts.client.connect_stream((host, port))
        assert not isinstance(caught.value, BindError)

    streams.run(body)


def test_peer_graceful_close_gives_the_data_then_eof_for_good(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        listener, client, server = await _connected(hosts)
        await server.send_all(b"BYE")
        await server.aclose()
        assert await _read_to_eof(client) == b"BYE"
        assert await client.receive_some(CHUNK) == b""
        await client.aclose()
        await listener.aclose()

    streams.run(body)


def test_use_after_local_close_raises_closed_resource_error(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        listener, client, server = await _connected(hosts)
        await client.aclose()
        await client.aclose()  # idempotent
        with pytest.raises(trio.ClosedResourceError):
            await client.receive_some(CHUNK)
        with pytest.raises(trio.ClosedResourceError):
            await client.send_all(b"late")
        client.reset()  # a no-op after aclose
        assert await _read_to_eof(server) == b""
        await server.aclose()
        await listener.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await listener.accept()

    streams.run(body)


@pytest.mark.parametrize("how", ["aclose", "reset"])
def test_local_close_wakes_a_pending_receive(streams: Backend, how: str) -> None:
    async def body(hosts: Hosts) -> None:
        listener, client, server = await _connected(hosts)
        outcome: list[str] = []

        async def receiver() -> None:
            try:
                await client.receive_some(CHUNK)
            except trio.ClosedResourceError:
                outcome.append("closed")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await trio.sleep(0.01)
            if how == "reset":
                client.reset()
            else:
                await client.aclose()
        assert outcome == ["closed"]
        await server.aclose()
        await listener.aclose()

    streams.run(body)


def test_listener_close_wakes_a_pending_accept(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        listener = await hosts.server.open_stream_listener(hosts.server_host, 0)
        outcome: list[str] = []

        async def acceptor() -> None:
            try:
                await listener.accept()
            except trio.ClosedResourceError:
                outcome.append("closed")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(acceptor)
            await trio.sleep(0.01)
            await listener.aclose()
        assert outcome == ["closed"]

    streams.run(body)


def test_reset_breaks_the_peer_without_hanging(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        listener, client, server = await _connected(hosts)
        await client.send_all(b"REGISTER")
        assert await _read_exactly(server, 8) == b"REGISTER"
        receiving = trio.Event()
        outcome: list[str] = []

        async def receiver() -> None:
            receiving.set()
            try:
                data = await server.receive_some(CHUNK)
            except TransportError:
                outcome.append("error")
            else:
                outcome.append("eof" if data == b"" else "data")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await receiving.wait()
            await trio.sleep(0.01)
            client.reset()
            client.reset()  # idempotent
        # The contract also allows EOF (some kernels report a reset so); every backend here
        # raises. Relax to ("error", "eof") for a backend that legitimately reads EOF.
        assert outcome == ["error"]
        with pytest.raises(trio.ClosedResourceError):
            await client.receive_some(CHUNK)
        # The connection stays broken: sending into it fails too.
        with pytest.raises(TransportError):
            for _ in range(100):
                await server.send_all(b"SIP/2.0 200 OK\r\n\r\n")
                await trio.sleep(0.01)
        await server.aclose()
        await listener.aclose()

    streams.run(body)
