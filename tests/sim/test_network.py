from __future__ import annotations

import dataclasses
import hashlib
import random
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.testing

from gossipper.errors import BindError, ConfigError, TransportError
from gossipper.interfaces import Address, DatagramTransport, TransportFactory
from gossipper.sim import (
    EventKind,
    FaultPlan,
    LinkFaults,
    LinkRule,
    SimDatagramTransport,
    SimNetwork,
    SimTransportFactory,
    SimulationStalled,
    open_sim_network,
    run_under_virtual_time,
)

A = "10.0.0.1"
B = "10.0.0.2"


def _expected_unit(
    seed: int,
    purpose: str,
    time_s: float,
    src: Address,
    dst: Address,
    data: bytes,
    occurrence: int = 0,
    copy: int = 0,
) -> float:
    """The documented seeding recipe, recomputed here independently of gossipper.sim."""
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    identity = f"{time_s!r}:{src[0]}:{src[1]}>{dst[0]}:{dst[1]}:{digest}:{occurrence}:{copy}"
    return random.Random(f"{seed}:{purpose}:{identity}").random()


async def _pair(
    network: SimNetwork, port_b: int = 5060
) -> tuple[SimDatagramTransport, SimDatagramTransport]:
    a = await SimTransportFactory(network, A).open_datagram(A, 0)
    b = await SimTransportFactory(network, B).open_datagram("0.0.0.0", port_b)
    return a, b


def _run(async_fn: Callable[..., Awaitable[Any]], *args: object) -> Any:
    return run_under_virtual_time(async_fn, *args)


def test_sim_classes_satisfy_the_interfaces() -> None:
    async def main() -> None:
        network = SimNetwork(1)
        factory: TransportFactory = SimTransportFactory(network, A)
        endpoint: DatagramTransport = await factory.open_datagram(A, 0)
        endpoint.close()

    _run(main)


def test_ping_pong_under_virtual_time() -> None:
    async def main() -> list[tuple[float, bytes, Address]]:
        seen: list[tuple[float, bytes, Address]] = []
        async with open_sim_network(1, FaultPlan.uniform(delay_ms=25)) as network:
            a, b = await _pair(network)
            assert a.local_address == (A, 40000)
            assert b.local_address == (B, 5060)

            async def ponger() -> None:
                for _ in range(3):
                    for data, source in await b.receive_batch():
                        seen.append((trio.current_time(), data, source))
                        b.send_nowait(b"pong " + data, source)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(ponger)
                for n in range(3):
                    a.send_nowait(b"ping %d" % n, b.local_address)
                    (reply,) = await a.receive_batch()
                    seen.append((trio.current_time(), *reply))
            assert network.statistics().delivered == 6
        return seen

    seen = _run(main)
    assert [(round(t, 9), d) for t, d, _ in seen] == [
        (0.025, b"ping 0"),
        (0.05, b"pong ping 0"),
        (0.075, b"ping 1"),
        (0.1, b"pong ping 1"),
        (0.125, b"ping 2"),
        (0.15, b"pong ping 2"),
    ]
    assert seen[0][2] == (A, 40000)
    assert seen[1][2] == (B, 5060)


def test_delay_and_jitter_give_the_expected_arrival_times() -> None:
    seed = 77
    faults = FaultPlan(rules=(LinkRule(A, B, LinkFaults(delay_ms=40, jitter_ms=10)),))

    async def main() -> tuple[dict[bytes, float], dict[bytes, float], Address, Address]:
        sent: dict[bytes, float] = {}
        arrivals: dict[bytes, float] = {}
        async with open_sim_network(seed, faults) as network:
            a, b = await _pair(network)

            async def receiver() -> None:
                while len(arrivals) < 50:
                    for data, _ in await b.receive_batch():
                        arrivals[data] = trio.current_time()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(receiver)
                for n in range(50):
                    await trio.sleep_until(n * 0.001)
                    sent[b"p%d" % n] = trio.current_time()
                    a.send_nowait(b"p%d" % n, b.local_address)
            return sent, arrivals, a.local_address, b.local_address

    sent, arrivals, src, dst = _run(main)
    order = sorted(arrivals, key=lambda d: (arrivals[d], int(d[1:])))
    # Jitter larger than the spacing does not reorder a flow: a packet that would overtake
    # waits for the previous one (same instant; decided first, delivered first).
    assert order == [b"p%d" % n for n in range(50)]
    previous_s = 0.0
    clamped = 0
    for n in range(50):
        data = b"p%d" % n
        sent_at = sent[data]
        unit = _expected_unit(seed, "jitter", sent_at, src, dst, data)
        expected = max(sent_at + (40 + unit * 10) / 1000.0, previous_s)
        clamped += expected == previous_s
        assert arrivals[data] == pytest.approx(expected, abs=1e-12)
        assert 0.040 <= arrivals[data] - sent_at < 0.050
        previous_s = arrivals[data]
    assert clamped > 0  # the rule really applied


def test_reordered_packets_are_overtaken_and_hold_nobody_back() -> None:
    faults = FaultPlan.uniform(delay_ms=10, reorder_pct=30, reorder_delay_ms=5)

    async def main() -> list[tuple[float, bytes]]:
        got: list[tuple[float, bytes]] = []
        async with open_sim_network(5, faults) as network:
            a, b = await _pair(network)

            async def receiver() -> None:
                while len(got) < 40:
                    got.extend((trio.current_time(), d) for d, _ in await b.receive_batch())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(receiver)
                for n in range(40):
                    await trio.sleep_until(n * 0.001)
                    a.send_nowait(b"%d" % n, b.local_address)
            return got

    got = _run(main)
    numbers = [int(data) for _, data in got]
    assert numbers != sorted(numbers)
    for arrived, data in got:
        n = int(data)
        assert arrived - n * 0.001 == pytest.approx(0.010) or arrived - n * 0.001 == (
            pytest.approx(0.015)
        )


def test_loss_and_duplication_rates_over_ten_thousand_packets() -> None:
    seed = 2024
    plan = FaultPlan.uniform(loss_pct=10, duplicate_pct=5, delay_ms=1)
    count = 10_000

    async def main() -> tuple[list[bytes], SimNetwork, Address, Address]:
        got: list[bytes] = []
        async with open_sim_network(seed, plan) as network:
            a, b = await _pair(network)
            for n in range(count):
                if n % 100 == 0:
                    await trio.sleep_until(n / 100 * 0.001)
                a.send_nowait(b"packet %05d" % n, b.local_address)
            await trio.sleep(1)
            while True:
                with trio.move_on_after(1):
                    got.extend(data for data, _ in await b.receive_batch())
                    continue
                break
            return got, network, a.local_address, b.local_address

    got, network, src, dst = _run(main)
    stats = network.statistics()
    assert stats.sent == count
    # Binomial(10000, 0.10): mean 1000, sd 30; Binomial(9000, 0.05): mean 450, sd ~21.
    assert 850 <= stats.lost <= 1150
    assert 340 <= stats.duplicated <= 560
    assert stats.delivered == count - stats.lost + stats.duplicated == len(got)
    assert stats.in_flight == 0

    # The exact fate of every packet follows from the documented recipe.
    expected_lost = set()
    expected_dup = set()
    for n in range(count):
        data = b"packet %05d" % n
        time_s = n // 100 * 0.001
        if _expected_unit(seed, "loss", time_s, src, dst, data) < 0.10:
            expected_lost.add(data)
        elif _expected_unit(seed, "duplicate", time_s, src, dst, data) < 0.05:
            expected_dup.add(data)
    received: dict[bytes, int] = {}
    for data in got:
        received[data] = received.get(data, 0) + 1
    assert {b"packet %05d" % n for n in range(count)} - set(received) == expected_lost
    assert {data for data, times in received.items() if times == 2} == expected_dup
    lost_logged = {e.digest for e in network.events() if e.kind is EventKind.LOST}
    assert lost_logged == {hashlib.blake2b(d, digest_size=16).hexdigest() for d in expected_lost}


def test_reordered_packets_are_overtaken() -> None:
    plan = FaultPlan.uniform(delay_ms=5, reorder_pct=20, reorder_delay_ms=3.5)

    async def main() -> tuple[list[bytes], SimNetwork]:
        got: list[bytes] = []
        async with open_sim_network(9, plan) as network:
            a, b = await _pair(network)
            for n in range(200):
                await trio.sleep_until(n * 0.001)
                a.send_nowait(b"%03d" % n, b.local_address)
            while len(got) < 200:
                got.extend(data for data, _ in await b.receive_batch())
            return got, network

    got, network = _run(main)
    held = {e.digest for e in network.events() if e.reordered}
    assert network.statistics().reordered == len(held) > 10

    def was_held(n: int) -> bool:
        return hashlib.blake2b(b"%03d" % n, digest_size=16).hexdigest() in held

    overtaken = 0
    for n in range(200):
        for m in range(n + 1, min(n + 4, 200)):
            # Sent 1-3 ms later, an on-time packet (5 ms) beats a held one (8.5 ms) ...
            if was_held(n) and not was_held(m):
                assert got.index(b"%03d" % m) < got.index(b"%03d" % n)
                overtaken += 1
            # ... and nothing else ever arrives out of order.
            if not was_held(n):
                assert got.index(b"%03d" % n) < got.index(b"%03d" % m)
    assert overtaken > 10


def test_fault_rules_apply_per_direction() -> None:
    plan = FaultPlan(
        default=LinkFaults(delay_ms=1),
        rules=(
            LinkRule(A, (B, 5060), LinkFaults(loss_pct=100)),
            LinkRule(B, A, LinkFaults(delay_ms=3)),
        ),
    )
    assert plan.for_link((A, 1), (B, 5060)).loss_pct == 100
    assert plan.for_link((A, 1), (B, 5061)).delay_ms == 1

    async def main() -> tuple[list[bytes], float, SimNetwork]:
        async with open_sim_network(4, plan) as network:
            a, b = await _pair(network)
            for n in range(20):
                a.send_nowait(b"lost %d" % n, b.local_address)
            b.send_nowait(b"back", a.local_address)
            (batch,) = [await a.receive_batch()]
            arrived = trio.current_time()
            await trio.sleep(1)
            return [d for d, _ in batch], arrived, network

    got, arrived, network = _run(main)
    assert got == [b"back"]
    assert arrived == pytest.approx(0.003)
    assert network.statistics().lost == 20


def test_one_task_sends_arrive_in_send_order() -> None:
    # Same delay, same instant: a flow stays FIFO (a 180 must not overtake the 200 after it).
    async def main() -> list[tuple[bytes, Address]]:
        async with open_sim_network(1, FaultPlan.uniform(delay_ms=5)) as network:
            sink = await SimTransportFactory(network, "10.9.9.9").open_datagram("", 7)
            senders = [
                await SimTransportFactory(network, host).open_datagram(host, 0)
                for host in ("10.0.0.3", "10.0.0.1", "10.0.0.2")
            ]
            for endpoint in senders:
                for text in (b"zz", b"aa", b"mm"):
                    endpoint.send_nowait(text, sink.local_address)
            return await sink.receive_batch()

    batch = _run(main)
    expected = [
        (text, (host, 40000))
        for host in ("10.0.0.3", "10.0.0.1", "10.0.0.2")
        for text in (b"zz", b"aa", b"mm")
    ]
    assert batch == expected


def test_same_instant_tasks_are_ordered_by_the_content_of_their_sequences() -> None:
    async def main() -> list[tuple[bytes, Address]]:
        async with open_sim_network(1) as network:
            sink = await SimTransportFactory(network, "10.9.9.9").open_datagram("", 7)
            source = await SimTransportFactory(network, "10.0.0.1").open_datagram("", 0)

            async def sender(texts: tuple[bytes, ...]) -> None:
                await trio.sleep_until(1.0)
                for text in texts:
                    source.send_nowait(text, sink.local_address)
                    await trio.lowlevel.checkpoint()

            async with trio.open_nursery() as nursery:
                for texts in ((b"zz", b"aa"), (b"mm", b"bb"), (b"zz", b"00")):
                    nursery.start_soon(sender, texts)
            got: list[tuple[bytes, Address]] = []
            while len(got) < 6:
                got += await sink.receive_batch()
            return got

    def digest(data: bytes) -> bytes:
        return hashlib.blake2b(data, digest_size=16).digest()

    sequences = sorted(
        ((b"zz", b"aa"), (b"mm", b"bb"), (b"zz", b"00")),
        key=lambda texts: [digest(text) for text in texts],
    )
    expected = [text for texts in sequences for text in texts]
    for _ in range(6):  # trio runs the three senders in a different order each time
        assert [data for data, _ in _run(main)] == expected


def test_zero_delay_rounds_stay_at_one_instant() -> None:
    async def main() -> tuple[float, int]:
        async with open_sim_network(1) as network:
            a, b = await _pair(network)

            async def echo() -> None:
                while True:
                    for data, source in await b.receive_batch():
                        b.send_nowait(data, source)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(echo)
                for n in range(100):
                    a.send_nowait(b"x%d" % n, b.local_address)
                    await a.receive_batch()
                nursery.cancel_scope.cancel()
            return trio.current_time(), network.statistics().delivered

    assert _run(main) == (0.0, 200)


def test_unbound_destination_is_dropped_and_counted() -> None:
    async def main() -> SimNetwork:
        async with open_sim_network(1) as network:
            a, b = await _pair(network)
            a.send_nowait(b"to nobody", ("10.0.0.99", 5060))
            b.close()
            a.send_nowait(b"to closed", (B, 5060))
            await trio.sleep(1)
            return network

    network = _run(main)
    stats = network.statistics()
    assert (stats.sent, stats.delivered, stats.dropped_unbound) == (2, 0, 2)
    assert [e.kind for e in network.events()].count(EventKind.DROPPED_UNBOUND) == 2


def test_receive_queue_overflow_is_counted() -> None:
    async def main() -> SimNetwork:
        async with open_sim_network(1, receive_queue_limit=3) as network:
            a, b = await _pair(network)
            for n in range(5):
                a.send_nowait(b"%d" % n, b.local_address)
            await trio.sleep(1)
            assert len(await b.receive_batch()) == 3
            return network

    stats = _run(main).statistics()
    assert (stats.delivered, stats.dropped_overflow) == (3, 2)


def test_send_nowait_reports_a_full_send_queue_and_send_waits() -> None:
    async def main() -> tuple[list[bool], float, list[bytes]]:
        async with open_sim_network(1, FaultPlan.uniform(delay_ms=10), send_queue_limit=2) as net:
            a, b = await _pair(net)
            results = [a.send_nowait(b"%d" % n, b.local_address) for n in range(3)]
            await a.send(b"waited", b.local_address)
            sent_at = trio.current_time()
            got: list[bytes] = []
            while len(got) < 3:
                got.extend(d for d, _ in await b.receive_batch())
            return results, sent_at, got

    results, sent_at, got = _run(main)
    assert results == [True, True, False]
    assert sent_at == pytest.approx(0.010)
    assert sorted(got[:2]) == [b"0", b"1"]
    assert got[2] == b"waited"


def test_close_wakes_a_pending_receive_with_closed_resource_error() -> None:
    async def main() -> None:
        async with open_sim_network(1) as network:
            a, _ = await _pair(network)
            async with trio.open_nursery() as nursery:

                async def close_later() -> None:
                    await trio.sleep(0.5)
                    a.close()

                nursery.start_soon(close_later)
                with pytest.raises(trio.ClosedResourceError):
                    await a.receive_batch()
                assert trio.current_time() == 0.5
            with pytest.raises(trio.ClosedResourceError):
                await a.receive_batch()
            with pytest.raises(trio.ClosedResourceError):
                a.send_nowait(b"x", (B, 5060))
            a.close()  # idempotent

    _run(main)


def test_second_concurrent_receiver_is_refused() -> None:
    async def main() -> None:
        async with open_sim_network(1) as network:
            a, _ = await _pair(network)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(a.receive_batch)
                await trio.testing.wait_all_tasks_blocked()
                with pytest.raises(trio.BusyResourceError):
                    await a.receive_batch()
                nursery.cancel_scope.cancel()

    _run(main)


def test_binding_rules_and_ephemeral_ports() -> None:
    async def main() -> None:
        network = SimNetwork(1)
        host_a = SimTransportFactory(network, A)
        host_b = SimTransportFactory(network, B)
        ports_a = [(await host_a.open_datagram(A, 0)).local_address for _ in range(3)]
        assert ports_a == [(A, 40000), (A, 40001), (A, 40002)]
        assert (await host_b.open_datagram("::", 0)).local_address == (B, 40000)
        fixed = await host_a.open_datagram(A, 5060)
        with pytest.raises(BindError):
            await host_a.open_datagram("0.0.0.0", 5060)
        with pytest.raises(BindError):
            await host_a.open_datagram(B, 5070)
        with pytest.raises(BindError):
            await host_a.open_datagram(A, 70000)
        fixed.close()
        assert (await host_a.open_datagram(A, 5060)).local_address == (A, 5060)
        blocker = await host_a.open_datagram(A, 40003)
        assert (await host_a.open_datagram(A, 0)).local_address == (A, 40004)
        blocker.close()

    _run(main)


def test_malformed_sends_raise_transport_error() -> None:
    async def main() -> None:
        async with open_sim_network(1) as network:
            a, _ = await _pair(network)
            with pytest.raises(TransportError):
                a.send_nowait(b"x" * 70000, (B, 5060))
            with pytest.raises(TransportError):
                a.send_nowait(b"x", (B, 0))
            bad: Any = ("10.0.0.2",)
            with pytest.raises(TransportError):
                a.send_nowait(b"x", bad)

    _run(main)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"loss_pct": -1},
        {"duplicate_pct": 101},
        {"delay_ms": float("nan")},
        {"jitter_ms": -5},
        {"reorder_pct": "10"},
    ],
)
def test_bad_fault_values_raise_config_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        LinkFaults(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "draws"),
    [
        ({}, False),
        ({"delay_ms": 40, "reorder_delay_ms": 5, "reset_pct": 50, "split_pct": 50}, False),
        ({"loss_pct": 1}, True),
        ({"duplicate_pct": 1}, True),
        ({"jitter_ms": 1}, True),
        ({"reorder_pct": 1}, True),
    ],
)
def test_a_link_draws_for_datagrams_only_with_a_datagram_fault(
    kwargs: dict[str, Any], draws: bool
) -> None:
    # The network skips a datagram's identity (the seed of every draw) when this is False.
    faults = LinkFaults(**kwargs)
    assert faults.datagram_draws is draws
    assert dataclasses.replace(faults, jitter_ms=2).datagram_draws is True
    assert dataclasses.replace(faults, **dict.fromkeys(kwargs, 0)).datagram_draws is False
    assert faults == LinkFaults(**kwargs)


def test_bad_network_settings_raise_config_error() -> None:
    with pytest.raises(ConfigError):
        SimNetwork(1, receive_queue_limit=0)
    bad_seed: Any = "seed"
    with pytest.raises(ConfigError):
        SimNetwork(bad_seed)


def test_a_sim_run_opens_no_real_socket_or_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    in_sim = False
    real_socket = socket.socket
    real_start = threading.Thread.start

    class GuardedSocket(socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if in_sim:
                opened.append("socket")
            super().__init__(*args, **kwargs)

    def guarded_start(self: threading.Thread) -> None:
        if in_sim:
            opened.append("thread")
        real_start(self)

    monkeypatch.setattr(socket, "socket", GuardedSocket)
    monkeypatch.setattr(threading.Thread, "start", guarded_start)

    async def main() -> None:
        nonlocal in_sim
        in_sim = True
        try:
            async with open_sim_network(1, FaultPlan.uniform(delay_ms=2, loss_pct=5)) as network:
                a, b = await _pair(network)
                listener = await SimTransportFactory(network, B).open_stream_listener(B, 0)
                stream = await SimTransportFactory(network, A).connect_stream(
                    listener.local_address
                )
                await stream.send_all(b"hi")
                for n in range(50):
                    a.send_nowait(b"%d" % n, b.local_address)
                await trio.sleep(1)
        finally:
            in_sim = False

    _run(main)
    assert opened == []

    # The guard itself works: a real socket made during a "sim" is seen.
    in_sim = True
    real_socket(socket.AF_INET, socket.SOCK_DGRAM).close()
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()
    in_sim = False
    assert opened == ["socket"]


def test_event_log_limit_counts_what_it_drops() -> None:
    async def main() -> SimNetwork:
        async with open_sim_network(1, max_events=3) as network:
            a, b = await _pair(network)
            for n in range(4):
                a.send_nowait(b"%d" % n, b.local_address)
            await trio.sleep(1)
            return network

    network = _run(main)
    assert len(network.events()) == 3
    assert network.statistics().events_dropped == 5


def test_instant_end_waiters_run_alone_in_key_order_after_the_instant() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        async with open_sim_network(1) as network:
            a, b = await _pair(network)

            async def echo() -> None:
                while True:
                    for data, source in await b.receive_batch():
                        log.append(f"echo {data.decode()}")
                        b.send_nowait(data, source)

            async def reader() -> None:
                while True:
                    for data, _ in await a.receive_batch():
                        log.append(f"back {data.decode()}")

            async def waiter(key: str) -> None:
                await trio.sleep_until(1.0)
                await network.wait_instant_end(key)
                log.append(f"{key} at {trio.current_time()}")
                if key == "b":
                    a.send_nowait(b"from b", b.local_address)  # plays out before "c" runs

            async def sender() -> None:
                await trio.sleep_until(1.0)
                a.send_nowait(b"x", b.local_address)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(echo)
                nursery.start_soon(reader)
                for key in ("c", "a", "b"):
                    nursery.start_soon(waiter, key)
                nursery.start_soon(sender)
                await trio.sleep(2)
                nursery.cancel_scope.cancel()
        return log

    for _ in range(5):
        assert _run(main) == [
            "echo x",
            "back x",
            "a at 1.0",
            "b at 1.0",
            "echo from b",
            "back from b",
            "c at 1.0",
        ]


def test_instant_end_keys_are_unique_and_cancellation_withdraws_a_waiter() -> None:
    async def main() -> list[str]:
        refused: list[str] = []
        async with open_sim_network(1) as network:

            async def waiter() -> None:
                try:
                    await network.wait_instant_end("k")
                except RuntimeError:
                    refused.append("k")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiter)
                nursery.start_soon(waiter)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiter)
                # This task stays runnable, so the instant cannot end and "k" stays parked...
                for _ in range(5):
                    await trio.lowlevel.checkpoint()
                nursery.cancel_scope.cancel()  # ... until it is cancelled: that withdraws it.
            with trio.fail_after(1):
                await network.wait_instant_end("k")
            assert trio.current_time() == 0.0
        return refused

    for _ in range(4):
        assert _run(main) == ["k"]


def test_time_that_stops_passing_is_reported_as_a_stalled_simulation() -> None:
    async def main() -> None:
        async with open_sim_network(1, max_rounds_per_instant=50) as network:
            a, b = await _pair(network)

            async def echo(endpoint: SimDatagramTransport) -> None:
                while True:
                    for data, source in await endpoint.receive_batch():
                        endpoint.send_nowait(data, source)  # zero delay: forever at t=0

            async with trio.open_nursery() as nursery:
                nursery.start_soon(echo, a)
                nursery.start_soon(echo, b)
                a.send_nowait(b"ping", b.local_address)

    with pytest.RaisesGroup(
        pytest.RaisesExc(SimulationStalled, match="at virtual time 0.0"), flatten_subgroups=True
    ):
        _run(main)
