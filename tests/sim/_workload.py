"""A busy, faulty workload over SimNetwork whose fingerprint must not change between runs.

Used in-process by the determinism tests and from a subprocess (``python -m tests.sim._workload
SEED``) to compare runs under different PYTHONHASHSEED values.
"""

from __future__ import annotations

import hashlib
import sys

import trio

from gossipper.sim import (
    FaultPlan,
    LinkFaults,
    LinkRule,
    SimTransportFactory,
    open_sim_network,
    run_under_virtual_time,
)

FAULTS = FaultPlan(
    default=LinkFaults(
        loss_pct=10, duplicate_pct=10, delay_ms=5, jitter_ms=4, reorder_pct=10, reorder_delay_ms=7
    ),
    rules=(
        LinkRule("10.0.0.9", None, LinkFaults(loss_pct=5, delay_ms=1, jitter_ms=2)),
        LinkRule(None, ("10.0.0.9", 5060), LinkFaults(duplicate_pct=30, delay_ms=3)),
    ),
)

CLIENTS = 12
REQUESTS = 15


async def _workload(seed: int) -> tuple[list[object], dict[str, list[object]], list[int]]:
    """Clients on three hosts talk to one echo server; all start at the same instants."""
    received: dict[str, list[object]] = {}
    run_order: list[int] = []
    async with open_sim_network(seed, FAULTS) as network:
        server = await SimTransportFactory(network, "10.0.0.9").open_datagram("10.0.0.9", 5060)
        endpoints = []
        for index in range(CLIENTS):
            host = f"10.0.0.{1 + index % 3}"
            endpoints.append(await SimTransportFactory(network, host).open_datagram(host, 0))

        async def echo() -> None:
            log = received.setdefault("server", [])
            while True:
                for data, source in await server.receive_batch():
                    log.append((trio.current_time(), data, source))
                    server.send_nowait(b"echo " + data, source)

        async def client(index: int) -> None:
            endpoint = endpoints[index]
            log = received.setdefault(f"client{index}", [])

            async def listen() -> None:
                while True:
                    for data, source in await endpoint.receive_batch():
                        log.append((trio.current_time(), data, source))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(listen)
                for request in range(REQUESTS):
                    # Every client wakes at the same instants: trio picks their order at random.
                    await trio.sleep_until(0.002 * request)
                    if request == 0:
                        run_order.append(index)
                    # Several clients send identical bytes at the same instant, too.
                    endpoint.send_nowait(
                        f"req {request} from {index % 4}".encode(),
                        (
                            "10.0.0.9",
                            5060,
                        ),
                    )
                    endpoint.send_nowait(b"same for all", ("10.0.0.9", 5060))
                    endpoint.send_nowait(b"nobody", ("10.0.0.7", 1))
                await trio.sleep(1.0)
                nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(echo)
            async with trio.open_nursery() as clients:
                for index in range(CLIENTS):
                    clients.start_soon(client, index)
            nursery.cancel_scope.cancel()
        events: list[object] = list(network.events())
        events.append(network.statistics())
    return events, received, run_order


def run_workload(seed: int) -> tuple[list[object], dict[str, list[object]], list[int]]:
    """Run the workload under virtual time; returns (events+stats, receptions, task run order)."""
    result: tuple[list[object], dict[str, list[object]], list[int]] = run_under_virtual_time(
        _workload, seed
    )
    return result


def fingerprint(seed: int) -> str:
    """A digest of everything observable: the event log, statistics and every reception."""
    events, received, _ = run_workload(seed)
    text = repr(events) + repr(sorted(received.items()))
    return hashlib.sha256(text.encode()).hexdigest()


if __name__ == "__main__":
    print(fingerprint(int(sys.argv[1])))
