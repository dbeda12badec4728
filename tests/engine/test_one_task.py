"""Real runs on one datagram socket: the receive loop runs the timer queue and the pacing
(``Engine._receive_and_fire``, docs/performance.md "One task for socket and timers").

A real-run engine (1 ms ticks) under Trio's MockClock against the scripted peer of
test_overload: the calls keep their schedule and outcome, while the timer queue and the pacing
take no task steps of their own (each task step is a pass of Trio's loop; at low rates each
pass after a sleep is what a call costs most).
"""

from __future__ import annotations

import collections
import math
from typing import Any

import trio
import trio.testing

from gossipper.engine import EngineResult
from gossipper.engine.timers import Parker, TimerQueue
from tests.engine.test_overload import Peer, run_with_stall


class _Steps(trio.abc.Instrument):
    def __init__(self) -> None:
        self.by_task: collections.Counter[str] = collections.Counter()

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.by_task[task.name] += 1


def _run(peer: Peer, **options: Any) -> tuple[EngineResult, _Steps]:
    steps = _Steps()
    real_run = trio.run

    def run(*args: Any, **kwargs: Any) -> Any:
        return real_run(*args, instruments=[steps], **kwargs)

    trio.run = run  # type: ignore[assignment]
    try:
        result = run_with_stall(peer, stall_at_s=math.inf, stall_s=0.0, **options)
    finally:
        trio.run = real_run
    return result, steps


def _steps_of(steps: _Steps, name_end: str) -> int:
    return sum(count for name, count in steps.by_task.items() if name.endswith(name_end))


def test_calls_keep_their_schedule_without_timer_or_pacing_tasks() -> None:
    peer = Peer(latency_s=0.0003)
    calls = 200
    result, steps = _run(peer, rate=250, max_calls=calls)
    c = result.snapshot.cumulative
    assert (c.outgoing_calls, c.successful_calls, c.failed_calls) == (calls, calls, 0)
    assert c.retransmissions == 0
    # One call every 4 ms, each sent within the tick it fell due in.
    first = peer.new_calls_at[0]
    lateness = [when - first - n * 0.004 for n, when in enumerate(peer.new_calls_at)]
    assert len(lateness) == calls
    assert all(-1e-9 <= late <= 0.001 + 1e-9 for late in lateness), max(lateness)
    assert _steps_of(steps, "TimerQueue.run") == 0
    assert _steps_of(steps, "._pacing_loop") == 0
    # Per call, under this clock (the in-memory socket's own sleeps are steps of the receive
    # loop): 5 steps of the receive loop and the call's first step (its INVITE), 6 in all.
    # With the timer queue and the pacing in tasks of their own: 7.
    engine_steps = sum(
        count for name, count in steps.by_task.items() if name.startswith("gossipper.engine.")
    )
    assert engine_steps <= 6.5 * calls, steps.by_task


def test_an_open_call_limit_starts_the_due_calls_as_calls_end() -> None:
    # -l 5 at 1,000 calls/s with 20 ms answers: at most 5 calls at once, each freed slot is
    # taken at the next tick (the pacing is woken through the timer queue).
    peer = Peer(latency_s=0.02)
    result, _ = _run(peer, rate=1000, max_calls=60, max_open_calls=5)
    c = result.snapshot.cumulative
    assert (c.successful_calls, c.failed_calls) == (60, 0)
    # A call lasts two answers (INVITE, BYE) = 40 ms: 5 calls per 40 ms.
    starts = peer.new_calls_at
    for n in range(5, 60):
        assert starts[n] - starts[n - 5] >= 0.04 - 1e-9
        assert starts[n] - starts[n - 5] <= 0.04 + 0.0021, (n, starts[n] - starts[n - 5])


def test_users_mode_replaces_ended_calls() -> None:
    peer = Peer(latency_s=0.005)
    result, _ = _run(peer, users=3, max_calls=30)
    c = result.snapshot.cumulative
    assert (c.successful_calls, c.failed_calls) == (30, 0)
    # Three users, each call 10 ms (two answers): about 100 ms for 30 calls, plus a tick
    # per call for the replacement.
    assert peer.new_calls_at[-1] - peer.new_calls_at[0] <= 0.1 + 10 * 0.0021


def test_a_capped_sleep_is_not_moved_past_its_cap_by_a_voided_entry() -> None:
    """The receive loop sleeps to its next tick (the cap) or the earliest timer; an entry
    voided meanwhile moves the wake-up to the next live entry, never past the tick."""
    woke: list[float] = []

    async def main() -> None:
        queue = TimerQueue(resolution_s=0.001)
        parker = Parker(queue)

        async def driver() -> None:
            queue.attach()
            await queue.sleep(0.004)
            woke.append(trio.current_time())
            await queue.sleep(math.inf)  # the entry at 0.0105 is live again
            woke.append(trio.current_time())

        async def waiter() -> None:
            assert await parker.park(0.0015) == "early"
            # Parked again: the first entry is now dead (and voided, below).
            assert await parker.park(0.0105) is None

        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await trio.lowlevel.checkpoint()
            nursery.start_soon(driver)
            await trio.sleep(0.001)
            parker.wake("early")
            while not parker.waiting:  # noqa: ASYNC110 - virtual time
                await trio.lowlevel.checkpoint()
            queue.dropped(0.0015)
            await trio.sleep(0.02)
            queue.fire_due(trio.current_time())

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    # Woken at the tick (4 ms), not at the next live entry (11 ms): the cap held.
    assert len(woke) == 2 and math.isclose(woke[0], 0.004) and math.isclose(woke[1], 0.011)
