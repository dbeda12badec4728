"""engine.timers: the exception-free sleep of the receive loop, and the timer queue's late
wake-up (a stall): received datagrams first, then at most LATE_FIRE_MAX entries per pass."""

from __future__ import annotations

import math
import random

import pytest
import trio
import trio.testing

from gossipper.engine.timers import (
    LATE_FIRE_MAX,
    READ_AT_ONCE,
    READ_NO_MORE,
    Parker,
    SystemTime,
    TimerQueue,
    run_clock,
    sleep_until,
    trio_next_work_at,
)


def test_sleep_until_wakes_at_its_deadline_and_outside_cancellation_still_raises() -> None:
    async def main() -> None:
        await sleep_until(1.25)
        assert trio.current_time() == 1.25
        await sleep_until(0.5)  # in the past: returns at the next pass of the loop
        assert trio.current_time() == 1.25
        with trio.move_on_after(1.0) as outer:
            await sleep_until(10.0)
        assert outer.cancelled_caught and trio.current_time() == 2.25
        raised: list[bool] = []
        with trio.CancelScope() as scope:
            scope.cancel()
            try:
                await sleep_until(5.0)
            except trio.Cancelled:
                raised.append(True)
                raise
        assert raised == [True] and scope.cancelled_caught

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_late_queue_drains_first_and_fires_in_slices() -> None:
    count = 3 * LATE_FIRE_MAX
    parkers: list[Parker] = []
    # At each drain (one per late pass of the queue): how many waits were still parked.
    waiting_at_drain: list[int] = []

    async def main() -> None:
        clock = trio.lowlevel.current_clock()
        assert isinstance(clock, trio.testing.MockClock)
        queue = TimerQueue(resolution_s=0.001)
        queue.before_late = lambda: waiting_at_drain.append(sum(p.waiting for p in parkers))

        async def waiter(parker: Parker) -> None:
            assert await parker.park(0.010) is None

        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            for _ in range(count):
                parker = Parker(queue)
                parkers.append(parker)
                nursery.start_soon(waiter, parker)
            await trio.sleep(0.005)
            clock.jump(1.0)  # a stall: every deadline is now 995 ms overdue
            while any(p.waiting for p in parkers):  # noqa: ASYNC110 - virtual time
                await trio.sleep(0.001)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    # The first late pass drained the sockets before any entry fired, and each pass fired at
    # most LATE_FIRE_MAX entries: three passes for three times as many.
    assert waiting_at_drain == [count, count - LATE_FIRE_MAX, count - 2 * LATE_FIRE_MAX]


def test_on_time_entries_fire_without_draining() -> None:
    drained: list[float] = []

    async def main() -> None:
        queue = TimerQueue(resolution_s=0.001)
        queue.before_late = lambda: drained.append(trio.current_time())
        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            parker = Parker(queue)
            assert await parker.park(0.0105) is None
            assert math.isclose(trio.current_time(), 0.011)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert drained == []


def test_a_reader_reads_on_the_queues_wake_ups_before_the_due_timers_fire() -> None:
    """``read_on_ticks``: the queue's task calls the reader at the grid point of each time it
    asks for (rounded up), before firing what is due then; ``READ_AT_ONCE`` reads again in
    the same instant; ``READ_NO_MORE`` hands the socket back to its parked task. A second
    reader and a queue without a grid say no at once."""
    events: list[tuple[str, float]] = []
    answers = [0.0023, READ_AT_ONCE, 0.0051, READ_NO_MORE]

    def read() -> float:
        events.append(("read", trio.current_time()))
        return answers.pop(0)

    async def main() -> None:
        queue = TimerQueue(resolution_s=0.001)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            await trio.sleep(0.0001)  # the queue's task is running

            async def timer(deadline: float) -> None:
                assert await Parker(queue).park(deadline) is None
                events.append(("timer", trio.current_time()))

            nursery.start_soon(timer, 0.0021)  # due at the same grid point as a read
            assert not await TimerQueue(resolution_s=0.0).read_on_ticks(read, 0.001)

            async def second() -> None:
                assert not await queue.read_on_ticks(read, 0.001)
                events.append(("second refused", trio.current_time()))

            async def first() -> None:
                assert await queue.read_on_ticks(read, 0.0004)
                events.append(("handed back", trio.current_time()))

            nursery.start_soon(first)
            await trio.sleep(0.0001)  # first is parked
            nursery.start_soon(second)
            await trio.sleep(0.01)
            assert answers == []
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    rounded = [(what, round(at, 6)) for what, at in events]
    # The timer's task runs after the pass that read and fired; the read at once may come
    # before or after it.
    timer_at = rounded.index(("timer", 0.003))
    assert rounded.index(("read", 0.003)) < timer_at
    del rounded[timer_at]
    assert rounded == [
        ("second refused", 0.0002),
        ("read", 0.001),
        ("read", 0.003),  # 2.3 ms rounded up to the grid; before the timer due at 2.1 ms
        ("read", 0.003),  # at once
        ("read", 0.006),
        ("handed back", 0.006),
    ]


def test_a_cancelled_reader_is_read_no_more() -> None:
    reads: list[float] = []

    async def main() -> None:
        queue = TimerQueue(resolution_s=0.001)

        def read() -> float:
            reads.append(trio.current_time())
            return trio.current_time() + 0.001

        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            await trio.sleep(0.0001)  # the queue's task is running
            with trio.move_on_after(0.0034):
                await queue.read_on_ticks(read, 0.001)
            await trio.sleep(0.01)
            # The queue's slot is free again.
            assert await queue.read_on_ticks(lambda: READ_NO_MORE, 0.02)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert [round(at, 6) for at in reads] == [0.001, 0.002, 0.003]


def test_on_timer_runs_in_the_queues_task_while_the_parked_task_stays_parked() -> None:
    """``Parker.on_timer``: at each deadline the queue calls it instead of waking the parked
    task, which stays parked until the answered deadline (none: until ``wake``); None wakes
    the task after all, and a ``wake`` from inside ``on_timer`` is not undone."""
    calls: list[float] = []
    answers: list[float | None] = [0.0032, math.inf]

    async def main() -> None:
        queue = TimerQueue(resolution_s=0.001)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            await trio.sleep(0.0001)  # the queue's task is running
            parker = Parker(queue)

            def on_timer() -> float | None:
                calls.append(round(trio.current_time(), 6))
                return answers.pop(0)

            parker.on_timer = on_timer

            async def wake_later() -> None:
                await trio.sleep(0.0099)
                assert parker.waiting
                parker.wake("woken")

            nursery.start_soon(wake_later)
            assert await parker.park(0.0011) == "woken"
            assert round(trio.current_time(), 6) == 0.01 and calls == [0.002, 0.004]
            answers.append(None)
            assert await parker.park(0.0125) is None
            assert round(trio.current_time(), 6) == 0.013 and calls[2:] == [0.013]

            def wake_inside() -> float | None:
                calls.append(round(trio.current_time(), 6))
                parker.wake("inside")
                return 0.5

            parker.on_timer = wake_inside
            assert await parker.park(0.0141) == "inside"
            assert round(trio.current_time(), 6) == 0.015 and calls[3:] == [0.015]
            await trio.sleep(1.0)  # no entry left for 0.5 s: nothing fires for a task gone
            assert calls[4:] == []
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_exact_queue_parks_on_a_deadline_of_its_own() -> None:
    """With no resolution (the simulation) a parked task wakes at its deadline without a step of
    the queue's task (the queue is not even running here); ``wake`` still ends the wait with its
    value, and a cancellation from outside still raises and leaves nobody parked."""

    async def main() -> None:
        queue = TimerQueue(resolution_s=0.0)
        assert queue.exact and not TimerQueue(resolution_s=0.001).exact
        parker = Parker(queue)
        assert await parker.park(0.75) is None
        assert trio.current_time() == 0.75 and not parker.waiting

        async def wake_later() -> None:
            await trio.sleep(0.25)
            assert parker.waiting
            parker.wake("value")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(wake_later)
            assert await parker.park(5.0) == "value"
        assert trio.current_time() == 1.0
        with trio.move_on_after(0.5) as outer:
            await parker.park(3.0)
        assert outer.cancelled_caught and trio.current_time() == 1.5 and not parker.waiting
        assert not parker.wake("late")  # nobody parked: nothing to resume

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_voided_entries_are_pruned_and_live_ones_kept() -> None:
    """Entries voided long before their deadline (a recv timeout ended by the answer) are
    dropped once they are half the heap, so they do not keep ended calls alive; a heap that
    grows with live entries (a server's calls in their timewait) keeps every one of them."""
    queue = TimerQueue(resolution_s=0.001)
    live: list[Parker] = []
    largest = 0
    for number in range(20000):
        parker = Parker(queue)
        parker._seq += 1
        queue.schedule(parker, parker._seq, 60.0 + number)
        if number % 3:
            parker._seq += 1  # answered: the wait is over, its entry void
            queue.dropped(60.0 + number)
        else:
            live.append(parker)
        largest = max(largest, queue._entries())
    assert len(live) == 6667
    # At most twice the live entries plus the voided ones allowed before a prune.
    assert largest <= 2 * len(live) + 2 * 1024 + 2
    entries = [*queue._heap, *(entry for lane in queue._lanes for entry in lane)]
    assert sum(entry[2]._seq == entry[3] for entry in entries) == len(live)


def test_timers_of_a_few_lengths_and_stray_ones_fire_in_deadline_then_schedule_order() -> None:
    """Entries go to FIFO lanes (one per timer length) or the heap; whichever holds them,
    live ones come out by deadline, ties in the order scheduled, and voided ones are never
    fired as live."""
    rng = random.Random(11)
    queue = TimerQueue(resolution_s=0.001)
    names: dict[int, int] = {}  # id(parker) -> the order it was scheduled in
    expected: list[tuple[float, int]] = []
    popped: list[int] = []
    now = 100.0
    scheduled = 0
    in_lanes = in_heap = 0  # the most entries each held at once
    for _step in range(3000):
        for _ in range(rng.randrange(0, 4)):
            # Mostly the few lengths of a scenario's timers, some of any length.
            length = rng.choice((0.5, 4.0, 0.032) * 3 + (rng.uniform(0.0, 5.0),))
            parker = Parker(queue)
            parker._seq += 1
            queue.schedule(parker, parker._seq, now + length)
            names[id(parker)] = scheduled
            if rng.random() < 0.3:
                parker._seq += 1  # answered before its deadline: the entry is void
                queue.dropped(now + length)
            else:
                expected.append((now + length, scheduled))
            scheduled += 1
        in_lanes = max(in_lanes, sum(len(lane) for lane in queue._lanes))
        in_heap = max(in_heap, len(queue._heap))
        now += rng.choice((0.0, 0.0003, 0.001, 0.004))
        while (entry := queue._pop_due(now)) is not None:
            if entry[2]._seq == entry[3]:
                popped.append(names[id(entry[2])])
    while (entry := queue._pop_due(now + 10.0)) is not None:
        if entry[2]._seq == entry[3]:
            popped.append(names[id(entry[2])])
    assert queue._entries() == 0
    assert len(popped) > 2000
    assert popped == [number for _, number in sorted(expected)]
    assert in_lanes > 1000 and in_heap > 100  # both kinds of storage were in use


def test_run_clock_reads_trios_default_clock_itself_and_any_other_clock_through_it() -> None:
    readings: list[tuple[float, float, float]] = []

    async def read_default() -> None:
        now = run_clock()
        # Trio's own clock is read between two readings of ours, and again after a sleep.
        for _ in range(3):
            before = now()
            trio_s = trio.current_time()
            readings.append((before, trio_s, now()))
            await trio.sleep(0.002)
        assert isinstance(now, SystemTime)

    trio.run(read_default)
    for before, trio_s, after in readings:
        assert before <= trio_s <= after, (before, trio_s, after)
        assert after - before < 0.001
    # The sleeps show up in our readings: the clock moves, and with Trio's offset.
    assert readings[-1][0] - readings[0][0] >= 0.004

    async def read_mock() -> None:
        now = run_clock()
        assert not isinstance(now, SystemTime)
        start = now()
        await trio.sleep(5.0)  # the autojump clock skips the wait: virtual time only
        assert now() - start == pytest.approx(5.0)

    trio.run(read_mock, clock=trio.testing.MockClock(autojump_threshold=0))


def test_trio_next_work_at_says_what_trios_statistics_say() -> None:
    """The timer queue's hold and the simulation's delivery task read Trio's runner directly
    (``trio.lowlevel.current_statistics()`` cost 1.5 µs a call): in every state it tells apart
    (nothing, a task ready, a task sleeping to a deadline, a callback from a thread) it must
    give what the statistics give."""

    def statistics_say() -> float:
        stats = trio.lowlevel.current_statistics()
        if stats.tasks_runnable or stats.run_sync_soon_queue_size:
            return -math.inf
        return trio.current_time() + stats.seconds_to_next_deadline

    seen: list[tuple[float, float]] = []

    def look() -> None:
        seen.append((trio_next_work_at(), statistics_say()))

    async def main() -> None:
        start_s = trio.current_time()
        async with trio.open_nursery() as nursery:
            await trio.testing.wait_all_tasks_blocked()
            look()  # nothing else: no deadline
            nursery.start_soon(trio.sleep_until, start_s + 5.0)
            look()  # a task ready to run
            await trio.testing.wait_all_tasks_blocked()
            look()  # it sleeps to its deadline
            trio.lowlevel.current_trio_token().run_sync_soon(lambda: None)
            look()  # a callback waiting
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock())
    assert [ours for ours, _ in seen] == [math.inf, -math.inf, 5.0, -math.inf]
    assert all(ours == pytest.approx(theirs) for ours, theirs in seen)
