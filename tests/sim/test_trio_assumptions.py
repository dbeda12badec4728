"""Pins the public trio behaviour the simulation's ordering argument rests on.

gossipper.sim uses no private trio hook. If one of these fails after a trio upgrade, re-read
the module docstring of gossipper/sim/network.py before changing anything else.
"""

from __future__ import annotations

import trio
import trio.testing

from gossipper.sim import run_under_virtual_time


def test_mock_clock_does_not_autojump_while_a_task_waits_for_idle() -> None:
    async def main() -> list[tuple[str, float]]:
        log: list[tuple[str, float]] = []

        async def sleeper() -> None:
            await trio.sleep(1)
            log.append(("sleeper", trio.current_time()))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await trio.testing.wait_all_tasks_blocked()
            log.append(("idle", trio.current_time()))
        return log

    assert run_under_virtual_time(main) == [("idle", 0.0), ("sleeper", 1.0)]


def test_wait_all_tasks_blocked_returns_after_every_same_instant_task_ran() -> None:
    async def main() -> list[str]:
        log: list[str] = []

        async def busy(name: str) -> None:
            await trio.sleep_until(1.0)
            for step in range(3):
                log.append(f"{name}{step}")
                await trio.lowlevel.checkpoint()

        async def waiter() -> None:
            await trio.sleep_until(1.0)
            await trio.testing.wait_all_tasks_blocked()
            log.append("settled")

        async with trio.open_nursery() as nursery:
            for name in "abc":
                nursery.start_soon(busy, name)
            nursery.start_soon(waiter)
        return log

    log = run_under_virtual_time(main)
    assert log[-1] == "settled" and len(log) == 10


def test_trio_still_randomises_same_instant_scheduling() -> None:
    async def main() -> tuple[int, ...]:
        order: list[int] = []

        async def task(n: int) -> None:
            await trio.sleep_until(1.0)
            order.append(n)

        async with trio.open_nursery() as nursery:
            for n in range(10):
                nursery.start_soon(task, n)
        return tuple(order)

    # If this ever fails, scheduling became deterministic: harmless, but then the determinism
    # tests no longer prove independence from scheduling order and need another source of it.
    assert len({run_under_virtual_time(main) for _ in range(12)}) > 1


def test_trio_still_has_the_scheduling_hooks_the_tests_use() -> None:
    # tests/sim/_scheduling.py (test-only) shuffles Trio's batches through two private names;
    # if this fails, the determinism tests can no longer vary the scheduling order.
    from tests.sim._scheduling import hooks_available, shuffled_scheduling

    assert hooks_available()

    async def main() -> tuple[int, ...]:
        order: list[int] = []

        async def task(n: int) -> None:
            await trio.sleep_until(1.0)
            order.append(n)

        async with trio.open_nursery() as nursery:
            for n in range(10):
                nursery.start_soon(task, n)
        return tuple(order)

    def shuffled(seed: int) -> tuple[int, ...]:
        with shuffled_scheduling(seed):
            return run_under_virtual_time(main)

    assert shuffled(1) == shuffled(1)
    assert len({shuffled(seed) for seed in range(6)}) > 1
