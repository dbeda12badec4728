from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import trio

from gossipper.sim import (
    EventKind,
    FaultPlan,
    SimTransportFactory,
    open_sim_network,
    run_under_virtual_time,
)
from tests.sim._workload import fingerprint, run_workload

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_same_seed_same_events_and_deliveries_across_runs() -> None:
    events_a, received_a, _ = run_workload(11)
    events_b, received_b, _ = run_workload(11)
    assert events_a == events_b
    assert received_a == received_b
    kinds = {getattr(event, "kind", None) for event in events_a}
    # The workload really exercises every datagram fate.
    assert {
        EventKind.SCHEDULED,
        EventKind.LOST,
        EventKind.DELIVERED,
        EventKind.DROPPED_UNBOUND,
    } <= kinds


def test_different_seed_changes_fault_decisions() -> None:
    assert fingerprint(11) != fingerprint(12)


def test_same_seed_same_fingerprint_across_processes_and_hash_seeds() -> None:
    prints = set()
    for hash_seed in ("0", "1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        done = subprocess.run(
            [sys.executable, "-m", "tests.sim._workload", "11"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        prints.add(done.stdout.strip())
    assert prints == {fingerprint(11)}


def test_delivery_order_is_independent_of_trio_scheduling_order() -> None:
    run_orders = set()
    results = set()
    for _ in range(12):
        events, received, run_order = run_workload(5)
        run_orders.add(tuple(run_order))
        results.add(repr(events) + repr(sorted(received.items())))
    # Trio really ran the senders in different orders (otherwise this test proves nothing) ...
    assert len(run_orders) > 1
    # ... and yet every run delivered the same datagrams in the same order at the same times.
    assert len(results) == 1


async def _many_senders(senders: int) -> tuple[list[bytes], list[int]]:
    """Tasks woken at the same instant each send to one receiver (zero delay)."""
    ran: list[int] = []
    async with open_sim_network(3, FaultPlan()) as network:
        sink = await SimTransportFactory(network, "10.1.0.1").open_datagram("10.1.0.1", 9)
        sources = [
            await SimTransportFactory(network, f"10.2.0.{i % 5}").open_datagram("", 0)
            for i in range(senders)
        ]

        async def sender(index: int) -> None:
            await trio.sleep_until(1.0)
            ran.append(index)
            sources[index].send_nowait(f"from {index}".encode(), sink.local_address)
            await trio.lowlevel.checkpoint()
            # A second send by the same task, after a checkpoint, at the same virtual instant.
            sources[index].send_nowait(f"again {index}".encode(), sink.local_address)

        async with trio.open_nursery() as nursery:
            for index in range(senders):
                nursery.start_soon(sender, index)
        got: list[bytes] = []
        while len(got) < 2 * senders:
            batch = await sink.receive_batch()
            assert trio.current_time() == 1.0
            got.extend(data for data, _ in batch)
    return got, ran


def test_same_instant_senders_arrive_in_content_order() -> None:
    orders = set()
    runs = set()
    for _ in range(10):
        got, ran = run_under_virtual_time(_many_senders, 30)
        orders.add(tuple(got))
        runs.add(tuple(ran))
    assert len(runs) > 1
    assert len(orders) == 1
    (order,) = orders
    assert sorted(order) == sorted(
        [f"from {i}".encode() for i in range(30)] + [f"again {i}".encode() for i in range(30)]
    )
