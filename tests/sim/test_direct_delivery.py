"""Direct delivery: ``SimDatagramTransport.receive_each`` hands datagrams to a handler from the
network's delivery task, with the same outcome as a receive task reading ``receive_batch``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

from gossipper.interfaces import Address, DirectDelivery
from gossipper.sim import (
    FaultPlan,
    LinkFaults,
    NetworkEvent,
    SimDatagramTransport,
    SimTransportFactory,
    open_sim_network,
    run_under_virtual_time,
)

A = "10.0.0.1"
B = "10.0.0.2"
C = "10.0.0.3"


def _run(async_fn: Callable[..., Awaitable[Any]], *args: object) -> Any:
    return run_under_virtual_time(async_fn, *args)


def test_sim_endpoints_offer_direct_delivery() -> None:
    async def main() -> bool:
        async with open_sim_network(1) as network:
            endpoint = await SimTransportFactory(network, A).open_datagram(A, 0)
            return isinstance(endpoint, DirectDelivery)

    assert _run(main)


async def _serve(endpoint: SimDatagramTransport, direct: bool, reply_count: int) -> None:
    """Answer each datagram with ``reply_count`` replies, directly or from a receive task."""

    def answer(data: bytes, source: Address) -> None:
        if data.startswith(b"r"):
            return
        for n in range(reply_count):
            endpoint.send_nowait(b"r%d:" % n + data, source)

    if direct:
        await endpoint.receive_each(answer)
        return
    while True:
        try:
            batch = await endpoint.receive_batch()
        except trio.ClosedResourceError:
            return
        for data, source in batch:
            answer(data, source)


def _echo_run(direct: bool) -> tuple[list[NetworkEvent], list[tuple[bytes, Address]]]:
    """Two servers answer a client's bursts over a lossy network; returns the event log and what
    the client received, in order. The delay is fixed: replies sent at one instant arrive at one
    instant, in the order the network decided them (the canonical order of the outbox, which
    groups each receiver's sends: C is served first, but B's replies sort first)."""

    async def main() -> tuple[list[NetworkEvent], list[tuple[bytes, Address]]]:
        faults = FaultPlan(default=LinkFaults(loss_pct=10, delay_ms=5))
        async with open_sim_network(7, faults) as network:
            client = await SimTransportFactory(network, A).open_datagram(A, 0)
            server_b = await SimTransportFactory(network, B).open_datagram(B, 5060)
            server_c = await SimTransportFactory(network, C).open_datagram(C, 5060)
            got: list[tuple[bytes, Address]] = []

            async def collect() -> None:
                while True:
                    got.extend(await client.receive_batch())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(_serve, server_b, direct, 2)
                nursery.start_soon(_serve, server_c, direct, 1)
                nursery.start_soon(collect)
                for burst in range(40):
                    for n in range(3):
                        client.send_nowait(b"q%d.%d" % (burst, n), server_c.local_address)
                        client.send_nowait(b"q%d.%d" % (burst, n), server_b.local_address)
                    await trio.sleep(0.002 * (burst % 4))
                await trio.sleep(1)
                nursery.cancel_scope.cancel()
            return network.events(), got

    return _run(main)  # type: ignore[no-any-return]


def test_direct_delivery_gives_the_same_run_as_receive_tasks() -> None:
    by_task = _echo_run(direct=False)
    direct = _echo_run(direct=True)
    assert len(by_task[1]) > 150  # replies of both servers arrived (10 % loss both ways)
    assert direct == by_task


def test_receive_each_takes_queued_datagrams_first_and_returns_on_close() -> None:
    async def main() -> list[bytes]:
        async with open_sim_network(1) as network:
            a = await SimTransportFactory(network, A).open_datagram(A, 0)
            b = await SimTransportFactory(network, B).open_datagram(B, 5060)
            got: list[bytes] = []
            a.send_nowait(b"early", b.local_address)
            await trio.sleep(0.1)  # lands in b's queue: nobody receives yet
            async with trio.open_nursery() as nursery:
                nursery.start_soon(b.receive_each, lambda data, _source: got.append(data))
                await trio.sleep(0.1)
                a.send_nowait(b"one", b.local_address)
                a.send_nowait(b"two", b.local_address)
                await trio.sleep(0.1)
                b.close()  # receive_each returns: the nursery can end
            a.send_nowait(b"late", (B, 5060))
            await trio.sleep(0.1)
            assert network.statistics().dropped_unbound == 1
            return got

    assert _run(main) == [b"early", b"one", b"two"]


def test_direct_delivery_keeps_the_receive_queue_limit_per_round() -> None:
    async def main() -> tuple[int, int, int]:
        async with open_sim_network(1, receive_queue_limit=3) as network:
            a = await SimTransportFactory(network, A).open_datagram(A, 0)
            b = await SimTransportFactory(network, B).open_datagram(B, 5060)
            got: list[bytes] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(b.receive_each, lambda data, _source: got.append(data))
                await trio.sleep(0.1)
                for n in range(5):  # one round: 3 fit, as in a queue drained after the round
                    a.send_nowait(b"%d" % n, b.local_address)
                await trio.sleep(0.1)
                for n in range(2):  # the next round has room again
                    a.send_nowait(b"%d" % n, b.local_address)
                await trio.sleep(0.1)
                nursery.cancel_scope.cancel()
            stats = network.statistics()
            return len(got), stats.delivered, stats.dropped_overflow

    assert _run(main) == (5, 5, 2)


def test_the_delivery_tasks_check_for_runnable_tasks_agrees_with_trios_statistics() -> None:
    """``_others_may_run`` reads Trio's runner directly (it was 4 % of a simulated call through
    ``current_statistics``): it must say what the statistics say, in every state it tells
    apart (a queued task, a deadline due now, a callback from a thread, nothing)."""
    import trio.testing

    from gossipper.sim.network import _others_may_run

    def statistics_say() -> bool:
        stats = trio.lowlevel.current_statistics()
        return (
            stats.tasks_runnable > 0
            or stats.seconds_to_next_deadline <= 0
            or stats.run_sync_soon_queue_size > 0
        )

    seen: list[tuple[bool, bool]] = []

    def look() -> None:
        seen.append((_others_may_run(), statistics_say()))

    sleeper = trio.CancelScope()

    async def sleep() -> None:
        with sleeper:
            await trio.sleep_forever()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await trio.testing.wait_all_tasks_blocked()
            look()  # nothing else
            nursery.start_soon(sleep)
            look()  # a queued task
            await trio.testing.wait_all_tasks_blocked()
            look()  # it sleeps: nothing again
            sleeper.deadline = trio.current_time()
            look()  # its deadline is due now
            await trio.testing.wait_all_tasks_blocked()
            look()  # it woke and ended
            trio.lowlevel.current_trio_token().run_sync_soon(lambda: None)
            look()  # a callback waiting

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert seen == [(False, False), (True, True), (False, False), (True, True), (False, False),
                    (True, True)]  # fmt: skip
