from __future__ import annotations

import pytest
import trio

from gossipper.errors import BindError, TransportError
from gossipper.sim import (
    EventKind,
    FaultPlan,
    LinkFaults,
    SimStream,
    SimTransportFactory,
    open_sim_network,
    run_under_virtual_time,
)

CLIENT = "10.0.0.1"
SERVER = "10.0.0.2"


def test_bytes_arrive_in_order_despite_jitter() -> None:
    chunks = [b"chunk %03d;" % n for n in range(300)]

    async def main() -> tuple[bytes, float]:
        plan = FaultPlan.uniform(delay_ms=5, jitter_ms=20)
        async with open_sim_network(8, plan) as network:
            listener = await SimTransportFactory(network, SERVER).open_stream_listener("", 5060)
            received = bytearray()
            async with trio.open_nursery() as nursery:

                async def server() -> None:
                    stream = await listener.accept()
                    assert stream.remote_address == (CLIENT, 40000)
                    while data := await stream.receive_some(7):
                        received.extend(data)
                    await stream.aclose()

                nursery.start_soon(server)
                client = await SimTransportFactory(network, CLIENT).connect_stream((SERVER, 5060))
                connected_at = trio.current_time()
                for chunk in chunks:
                    await client.send_all(chunk)
                    await trio.sleep(0.0005)
                await client.aclose()
            return bytes(received), connected_at

    received, connected_at = run_under_virtual_time(main)
    assert received == b"".join(chunks)
    # SYN then SYN-ACK, each 5-25 ms.
    assert 0.010 <= connected_at < 0.050


def test_connection_refused_raises_transport_error() -> None:
    async def main() -> None:
        async with open_sim_network(1, FaultPlan.uniform(delay_ms=3)) as network:
            factory = SimTransportFactory(network, CLIENT)
            with pytest.raises(TransportError, match="refused"):
                await factory.connect_stream((SERVER, 5060))
            assert trio.current_time() == pytest.approx(0.006)
            # The ephemeral port was released and a listener port cannot be bound twice.
            listener = await SimTransportFactory(network, SERVER).open_stream_listener(SERVER, 0)
            with pytest.raises(BindError):
                await SimTransportFactory(network, SERVER).open_stream_listener(
                    *listener.local_address
                )

    run_under_virtual_time(main)


def test_reset_fault_breaks_both_ends() -> None:
    async def main() -> tuple[type[BaseException], type[BaseException], int]:
        plan = FaultPlan.uniform(delay_ms=1, reset_pct=100)
        async with open_sim_network(1, plan) as network:
            listener = await SimTransportFactory(network, SERVER).open_stream_listener(SERVER, 80)
            client = await SimTransportFactory(network, CLIENT).connect_stream((SERVER, 80))
            server = await listener.accept()
            await client.send_all(b"doomed")
            errors: list[type[BaseException]] = []
            for end in (server, client):
                try:
                    await end.receive_some()
                except TransportError as exc:
                    errors.append(type(exc))
            with pytest.raises(TransportError, match="reset"):
                await client.send_all(b"more")
            resets = [e for e in network.events() if e.kind is EventKind.STREAM_RESET]
            assert network.statistics().stream_resets == len(resets) == 1
            return errors[0], errors[1], len(errors)

    assert run_under_virtual_time(main) == (TransportError, TransportError, 2)


def test_close_gives_eof_to_the_peer_and_closed_error_locally() -> None:
    async def main() -> None:
        async with open_sim_network(1, FaultPlan.uniform(delay_ms=2)) as network:
            listener = await SimTransportFactory(network, SERVER).open_stream_listener(SERVER, 80)
            client = await SimTransportFactory(network, CLIENT).connect_stream((SERVER, 80))
            server = await listener.accept()
            await server.send_all(b"bye")
            await server.aclose()
            assert await client.receive_some() == b"bye"
            assert await client.receive_some() == b""
            with pytest.raises(trio.ClosedResourceError):
                await server.receive_some()
            await listener.aclose()
            with pytest.raises(trio.ClosedResourceError):
                await listener.accept()

    run_under_virtual_time(main)


async def _accept_order() -> list[tuple[str, int]]:
    async with open_sim_network(2, FaultPlan(default=LinkFaults(delay_ms=1))) as network:
        listener = await SimTransportFactory(network, SERVER).open_stream_listener(SERVER, 80)
        factories = [SimTransportFactory(network, f"10.0.1.{n}") for n in range(12)]
        streams: list[SimStream] = []
        async with trio.open_nursery() as nursery:

            async def connect(factory: SimTransportFactory) -> None:
                streams.append(await factory.connect_stream((SERVER, 80)))

            for factory in factories:
                nursery.start_soon(connect, factory)
        accepted = [await listener.accept() for _ in factories]
        return [s.remote_address for s in accepted]


def test_simultaneous_connects_are_accepted_in_address_order() -> None:
    orders = {tuple(run_under_virtual_time(_accept_order)) for _ in range(5)}
    assert len(orders) == 1
    (order,) = orders
    assert list(order) == sorted(order)


def test_abortive_reset_reaches_the_peer_after_the_link_delay() -> None:
    async def main() -> tuple[float, float, int]:
        async with open_sim_network(1, FaultPlan.uniform(delay_ms=4)) as network:
            listener = await SimTransportFactory(network, SERVER).open_stream_listener(SERVER, 80)
            client = await SimTransportFactory(network, CLIENT).connect_stream((SERVER, 80))
            server = await listener.accept()
            reset_at = trio.current_time()
            client.reset()
            with pytest.raises(TransportError, match="reset by peer"):
                await server.receive_some()
            # The client's port is free again; an RST is not a network fault.
            assert (CLIENT, 40000) not in network._stream_ports
            return reset_at, trio.current_time(), network.statistics().stream_resets

    reset_at, broken_at, faults = run_under_virtual_time(main)
    assert broken_at - reset_at == pytest.approx(0.004)
    assert faults == 0


def test_client_bind_outside_the_sim_host_raises_bind_error() -> None:
    async def main() -> None:
        async with open_sim_network(1) as network:
            await SimTransportFactory(network, SERVER).open_stream_listener(SERVER, 80)
            client = SimTransportFactory(network, CLIENT)
            with pytest.raises(BindError, match="10.0.0.9:5060"):
                await client.connect_stream((SERVER, 80), local_host="10.0.0.9", local_port=5060)
            stream = await client.connect_stream(
                (SERVER, 80), local_host="0.0.0.0", local_port=5060
            )
            assert stream.local_address == (CLIENT, 5060)

    run_under_virtual_time(main)
