"""Datagram conformance: every ``DatagramTransport`` behaves the same (see ``_backends``)."""

from __future__ import annotations

import pytest
import trio

from gossipper.errors import BindError, TransportError
from gossipper.interfaces import Datagram, DatagramTransport
from tests.transport._backends import Backend, Hosts


async def _receive(endpoint: DatagramTransport, count: int) -> list[Datagram]:
    received: list[Datagram] = []
    while len(received) < count:
        received.extend(await endpoint.receive_batch())
    return received


def test_send_and_receive_both_ways_with_source_addresses(datagrams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        server = await hosts.server.open_datagram(hosts.server_host, 0)
        client = await hosts.client.open_datagram(hosts.client_host, 0)
        assert client.send_nowait(b"OPTIONS", server.local_address)
        assert await _receive(server, 1) == [(b"OPTIONS", client.local_address)]
        await server.send(b"SIP/2.0 200 OK", client.local_address)
        assert await _receive(client, 1) == [(b"SIP/2.0 200 OK", server.local_address)]
        server.close()
        client.close()

    datagrams.run(body)


def test_ephemeral_port_is_resolved_and_host_kept(datagrams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        endpoint = await hosts.server.open_datagram(hosts.server_host, 0)
        host, port = endpoint.local_address
        assert host == hosts.server_host
        assert 0 < port <= 65535
        endpoint.close()

    datagrams.run(body)


def test_every_datagram_of_a_burst_arrives(datagrams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        server = await hosts.server.open_datagram(hosts.server_host, 0)
        client = await hosts.client.open_datagram(hosts.client_host, 0)
        sent = [b"message %03d" % n for n in range(100)]
        for data in sent:
            await client.send(data, server.local_address)
        received = await _receive(server, len(sent))
        # Datagrams carry no order guarantee (the sim orders same-instant ones by content).
        assert sorted(data for data, _ in received) == sent
        assert {source for _, source in received} == {client.local_address}
        server.close()
        client.close()

    datagrams.run(body)


def test_a_datagram_at_the_size_limit_arrives_whole(datagrams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        server = await hosts.server.open_datagram(hosts.server_host, 0)
        client = await hosts.client.open_datagram(hosts.client_host, 0)
        payload = bytes(range(256)) * (datagrams.max_datagram_bytes // 256)
        payload += b"x" * (datagrams.max_datagram_bytes - len(payload))
        await client.send(payload, server.local_address)
        assert await _receive(server, 1) == [(payload, client.local_address)]
        server.close()
        client.close()

    datagrams.run(body)


def test_received_datagrams_keep_their_bytes_after_later_receives(datagrams: Backend) -> None:
    # The real transports of one factory share a receive buffer: what a batch returned must be
    # a copy, untouched by the next receive on the same or another endpoint.
    async def body(hosts: Hosts) -> None:
        server = await hosts.server.open_datagram(hosts.server_host, 0)
        client = await hosts.client.open_datagram(hosts.client_host, 0)
        first, second, third = b"A" * 1000, b"B" * 3000, b"C" * 10
        await client.send(first, server.local_address)
        kept = await _receive(server, 1)
        await server.send(second, client.local_address)
        kept += await _receive(client, 1)
        await client.send(third, server.local_address)
        kept += await _receive(server, 1)
        assert [data for data, _ in kept] == [first, second, third]
        assert all(type(data) is bytes for data, _ in kept)
        server.close()
        client.close()

    datagrams.run(body)


def test_an_oversized_datagram_raises_transport_error(datagrams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        server = await hosts.server.open_datagram(hosts.server_host, 0)
        client = await hosts.client.open_datagram(hosts.client_host, 0)
        with pytest.raises(TransportError):
            client.send_nowait(b"x" * 70000, server.local_address)
        server.close()
        client.close()

    datagrams.run(body)


def test_binding_a_port_in_use_raises_bind_error_naming_the_address(datagrams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        first = await hosts.server.open_datagram(hosts.server_host, 0)
        host, port = first.local_address
        with pytest.raises(BindError, match=f"{host}:{port}"):
            await hosts.server.open_datagram(host, port)
        first.close()

    datagrams.run(body)


def test_receive_nowait_returns_nothing_when_idle(datagrams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        endpoint = await hosts.server.open_datagram(hosts.server_host, 0)
        assert endpoint.receive_nowait() == []
        endpoint.close()

    datagrams.run(body)


def test_use_after_close_raises_closed_resource_error(datagrams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        server = await hosts.server.open_datagram(hosts.server_host, 0)
        client = await hosts.client.open_datagram(hosts.client_host, 0)
        client.close()
        client.close()  # idempotent
        with pytest.raises(trio.ClosedResourceError):
            await client.receive_batch()
        with pytest.raises(trio.ClosedResourceError):
            client.receive_nowait()
        with pytest.raises(trio.ClosedResourceError):
            client.send_nowait(b"late", server.local_address)
        server.close()

    datagrams.run(body)


def test_close_wakes_a_pending_receive(datagrams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        endpoint = await hosts.server.open_datagram(hosts.server_host, 0)
        outcome: list[str] = []

        async def receiver() -> None:
            try:
                await endpoint.receive_batch()
            except trio.ClosedResourceError:
                outcome.append("closed")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await trio.sleep(0.01)
            endpoint.close()
        assert outcome == ["closed"]

    datagrams.run(body)


def test_timed_receive_stamps_each_datagram_in_the_past(datagrams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        server = await hosts.server.open_datagram(hosts.server_host, 0)
        client = await hosts.client.open_datagram(hosts.client_host, 0)
        before = trio.current_time()
        assert client.send_nowait(b"RTP 1", server.local_address)
        assert client.send_nowait(b"RTP 2", server.local_address)
        received: list[tuple[bytes, tuple[str, int], float]] = []
        while len(received) < 2:
            received.extend(await server.receive_batch_timed())
        after = trio.current_time()
        assert sorted(data for data, _, _ in received) == [b"RTP 1", b"RTP 2"]
        assert {source for _, source, _ in received} == {client.local_address}
        assert all(before - 0.001 <= at <= after for _, _, at in received)
        server.close()
        client.close()

    datagrams.run(body)
