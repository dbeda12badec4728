"""Parking tasks with deadlines, without one Trio cancel scope per wait.

A call waits for "the next message or my earliest timer" several times per call. Doing that with
``trio.move_on_at`` costs a cancel scope per wait (creation, registration in Trio's deadline
heap, and an exception when it fires), which profiling showed to be the largest single cost of a
call. Instead, every engine has one ``TimerQueue`` task holding the deadlines (in FIFO lanes for
timers of one length, in a heap for the rest); a parked task is woken either by a value
(``Parker.wake``) or by the queue when its deadline passes. Entries of waits that ended early are
left in the queue and skipped when they surface (lazy deletion).

In real runs the queue sleeps in steps of ``resolution_s`` (SIPp's ``-timer_resol``, 1 ms), so
timers that fall due together are handled in one wake-up; under the simulation's virtual clock
the resolution is 0 and every deadline is exact.
"""

from __future__ import annotations

import heapq
import math
import os
import select
import time
from collections import deque
from collections.abc import Callable
from typing import Final

import outcome
import trio
from trio._core._run_context import GLOBAL_RUN_CONTEXT

_INF: Final = math.inf
_PRUNE_MIN: Final = 1024
_LANES: Final = 3
"""FIFO lanes beside the heap (``TimerQueue.schedule``)."""
_LANE_GAP_S: Final = 0.05
"""How far after a lane's last deadline an entry may join that lane."""
LATE_FIRE_MAX: Final = 256
"""Entries fired per wake-up once the queue runs late (after a stall): the rest wait for
the next pass of the event loop, so the receive loop gets its turn in between."""
READ_AT_ONCE: Final = -math.inf
"""A reader's answer (``TimerQueue.read_on_ticks``): read again at once, not a tick later."""
READ_WHEN_READABLE: Final = -1e300
"""A reader's answer: the socket is empty, or its datagrams sparse; read it when it is
readable again (``TimerQueue.read_when_readable``), or else hand it back as READ_NO_MORE."""
READ_NO_MORE: Final = math.inf
"""A reader's answer: the socket was closed, or is to be waited for by its task again (where
the queue does not watch it, also the answer READ_WHEN_READABLE)."""


def trio_next_work_at() -> float:
    """When Trio's loop next has something to run: -inf while a task is ready to run or a
    callback from another thread waits, else its earliest deadline (inf: none).

    What ``trio.lowlevel.current_statistics()`` says of it, read from the run's runner (trio
    is pinned): that function also builds a statistics object and the I/O backend's, which
    walks every registered descriptor (1.5 µs of CPU here; the timer queue asked about five
    times a call at 250 calls/s; the simulation's delivery task asks too).
    """
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner.runq or runner.entry_queue.size():
        return -_INF
    return runner.deadlines.next_deadline()


class SystemTime:
    """The time of Trio's default clock, read without a Python frame.

    ``trio``'s ``SystemClock.current_time`` is ``offset + time.perf_counter()``, a method
    written in Python: from compiled code each reading costs an interpreter frame, and the
    engine reads the time about eleven times per call (two fifths of the interpreted calls
    of a run at 5,000 calls/s). This computes the same sum in the compiled module.
    """

    __slots__ = ("_offset", "_read")

    def __init__(self, offset: float) -> None:
        self._offset = offset
        self._read: Callable[[], float] = time.perf_counter

    def __call__(self) -> float:
        return self._offset + self._read()


_TimerFd = tuple[Callable[[], int], Callable[[int, float], None]]


def _load_timerfd() -> _TimerFd | None:
    try:
        from gossipper.engine._timerfd import tick_arm, tick_timer
    except ImportError:  # a pure-Python install, or not Linux: cancel-scope sleeps
        return None
    return tick_timer, tick_arm


_C_TIMERFD: Final = _load_timerfd()
"""The timerfd accelerator (gossipper/engine/_timerfd.c) as (create, arm), or None."""

WOKE_READABLE: Final = 1
"""``TickSleep.block_until``'s answer: the watched descriptor is readable."""
WOKE_TRIO: Final = 2
"""``TickSleep.block_until``'s answer: Trio's loop has a descriptor ready for another task."""
_IN_TRIO_WAITED: Final = 1
_IN_HOLD: Final = 2
_REGISTERED_SHIFT: Final = 2
"""``TickSleep._watch_in``: the bit of an epoll (armed there), shifted: registered there."""


def _trio_epoll_fd() -> int:
    """The descriptor of the epoll Trio's loop waits on, -1 where it has none (trio is
    pinned; its Linux I/O manager keeps it as ``_epoll``)."""
    runner = getattr(GLOBAL_RUN_CONTEXT, "runner", None)  # None: outside a Trio run
    epoll = getattr(getattr(runner, "io_manager", None), "_epoll", None)
    return epoll.fileno() if isinstance(epoll, select.epoll) else -1


class TickSleep:
    """One task's sleeps to deadlines of the run's clock, on a timerfd where that is the same.

    With Trio's default clock (``run_clock`` gave a ``SystemTime``) and the C accelerator, a
    sleep arms a timerfd for the deadline in CLOCK_MONOTONIC (the clock's offset taken off)
    and waits for it to become readable: one system call and a wait for readability instead
    of a cancel scope's thirty-odd Python calls. With any other clock (the simulation's,
    ``MockClock``), without the accelerator, or when the caller asks for no ``descriptor``, it
    is ``sleep_until``. A cancellation from outside raises Cancelled either way. ``close``
    releases the descriptor.
    """

    __slots__ = (
        "_arm",
        "_armed_s",
        "_fd",
        "_hold_poller",
        "_offset",
        "_poller",
        "_trio_fd",
        "_watch_armed",
        "_watch_in",
        "_watched",
    )

    def __init__(self, clock: Callable[[], float], *, descriptor: bool = True) -> None:
        self._fd = -1
        self._offset = 0.0
        self._arm: Callable[[int, float], None] | None = None
        # The monotonic time the timerfd is armed for (-1: none yet). Arming it again for the
        # same time changes nothing: a sleep ended by the watched socket, not by the timer,
        # sleeps again to the same tick without a system call (three a call at 250 calls/s).
        # Once that time has passed the timerfd stays readable until armed for another, so
        # a sleep to it returns at once, as after arming a time in the past.
        self._armed_s = -1.0
        # Two epolls hold the timerfd and the watched descriptor: ``_poller`` is waited on by
        # Trio's loop (``until_or_readable``), ``_hold_poller`` by ``block_until``, which also
        # holds Trio's own epoll, so that a held sleep ends as soon as another task's
        # descriptor is ready (Trio waits on the first, so the second cannot be the same: an
        # epoll may not contain itself).
        self._poller: select.epoll | None = None
        self._hold_poller: select.epoll | None = None
        self._trio_fd = -1
        # The descriptor to watch (``watch``), whether the next sleep is to end when it is
        # readable, and where its one-shot readiness is registered and armed (_IN_* bits).
        self._watched = -1
        self._watch_armed = False
        self._watch_in = 0
        timerfd = _C_TIMERFD
        if descriptor and timerfd is not None and isinstance(clock, SystemTime):
            create, arm = timerfd
            try:
                self._fd = create()
            except OSError:  # out of descriptors: the cancel scopes still work
                return
            self._arm = arm
            self._offset = clock._offset

    @property
    def uses_timerfd(self) -> bool:
        return self._fd >= 0

    @property
    def watching(self) -> bool:
        """Whether the watched descriptor's readiness is armed (``watch``): after a sleep
        that did not take it, it was not readable when that sleep ended."""
        return self._watch_armed

    async def until(self, deadline: float) -> None:
        fd = self._fd
        arm = self._arm
        if fd < 0 or arm is None:
            await sleep_until(deadline)
            return
        self._arm_timer(deadline)
        await trio.lowlevel.wait_readable(fd)

    @property
    def hold_max_s(self) -> float:
        """The longest ``block_until`` may keep Trio's loop waiting: _HOLD_MAX_S, or where it
        also ends when Trio's loop has a descriptor ready, _HOLD_WATCHING_TRIO_MAX_S."""
        return _HOLD_WATCHING_TRIO_MAX_S if self._trio_fd >= 0 else _HOLD_MAX_S

    async def until_or_readable(self, deadline: float) -> bool:
        """``until``, or sooner once the watched descriptor (``watch``) is readable: True
        then. Through Trio's loop, which waits on this sleep's own epoll (readable while the
        timerfd or the watched descriptor is)."""
        if not self._watch_armed:
            await self.until(deadline)
            return False
        poller = self._own_poller()
        try:
            self._arm_watch(poller, _IN_TRIO_WAITED)
        except OSError:  # closed meanwhile: the reader finds out
            self._watch_armed = False
            return True
        self._arm_timer(deadline)
        await trio.lowlevel.wait_readable(poller.fileno())
        woke = self._took_watch(poller.poll(0), _IN_TRIO_WAITED)
        return woke > 0 and (woke & WOKE_READABLE) != 0

    def block_until(self, deadline: float) -> int:
        """Sleep to ``deadline`` (timerfd only) in a blocking wait of this thread, outside
        Trio's loop: for ``TimerQueue._may_hold``'s short sleeps alone. Ends sooner when the
        watched descriptor (``watch``) is readable (WOKE_READABLE in the answer) or one of
        the descriptors Trio's loop waits on for other tasks is (WOKE_TRIO); 0: the tick."""
        poller = self._own_hold_poller()
        if self._watch_armed:
            try:
                self._arm_watch(poller, _IN_HOLD)
            except OSError:
                self._watch_armed = False
                return WOKE_READABLE
        self._arm_timer(deadline)
        while True:
            events = poller.poll(-1)
            woke = self._took_watch(events, _IN_HOLD)
            if woke >= 0:
                return woke
            # Only a readiness of the watched descriptor no sleep asked for (armed before
            # the watch was taken in the other epoll): sleep on.

    def watch(self, fd: int) -> bool:
        """Have the next sleep (``until_or_readable``, ``block_until``) end when ``fd`` is
        readable, once (EPOLLONESHOT: one ``epoll_ctl`` to arm it again, in the epoll of the
        sleep that takes it). False where this sleep has no timerfd, or ``fd`` cannot be
        watched (closed)."""
        if self._fd < 0:
            return False
        if fd != self._watched:  # the first watch, or the first since ``unwatch``
            self._watched = fd
            self._watch_in = 0
        try:
            # Armed now where a holding queue sleeps next (block_until), or else later.
            self._arm_watch(self._own_hold_poller(), _IN_HOLD)
        except OSError:
            return False
        self._watch_armed = True
        return True

    def unwatch(self) -> None:
        """Take the watched descriptor out of the epolls (closed already: nothing to do)."""
        fd = self._watched
        registered = self._watch_in
        self._watched = -1
        self._watch_armed = False
        self._watch_in = 0
        if fd < 0:
            return
        for poller, bit in ((self._poller, _IN_TRIO_WAITED), (self._hold_poller, _IN_HOLD)):
            if poller is not None and registered & (bit << _REGISTERED_SHIFT):
                try:
                    poller.unregister(fd)
                except OSError:
                    pass

    def _arm_watch(self, poller: select.epoll, bit: int) -> None:
        """Arm the watched descriptor's one-shot readiness in ``poller`` (its bit) unless it
        is armed there already."""
        state = self._watch_in
        if state & bit:
            return
        flags = select.EPOLLIN | select.EPOLLONESHOT
        if state & (bit << _REGISTERED_SHIFT):
            poller.modify(self._watched, flags)
        else:
            poller.register(self._watched, flags)
        self._watch_in = state | bit | (bit << _REGISTERED_SHIFT)

    def _took_watch(self, events: list[tuple[int, int]], bit: int) -> int:
        """What ``events`` of the epoll of ``bit`` ended the sleep: WOKE_READABLE (the
        watched descriptor, its one-shot now disarmed there) and WOKE_TRIO bits, 0 for the
        timerfd alone, -1 for only a readiness of the watched descriptor no sleep wanted."""
        woke = 0
        timer = False
        watched = self._watched
        for fd, _flags in events:
            if fd == watched:
                self._watch_in &= ~bit
                if self._watch_armed:
                    self._watch_armed = False
                    woke |= WOKE_READABLE
            elif fd == self._trio_fd:
                woke |= WOKE_TRIO
            else:
                timer = True
        return woke if woke or timer else -1

    def _own_poller(self) -> select.epoll:
        poller = self._poller
        if poller is None:
            poller = self._poller = select.epoll()
            poller.register(self._fd, select.EPOLLIN)
        return poller

    def _own_hold_poller(self) -> select.epoll:
        poller = self._hold_poller
        if poller is None:
            poller = self._hold_poller = select.epoll()
            poller.register(self._fd, select.EPOLLIN)
            trio_fd = _trio_epoll_fd()
            if trio_fd >= 0:
                try:
                    poller.register(trio_fd, select.EPOLLIN)
                    self._trio_fd = trio_fd
                except OSError:  # not an epoll of this process's: the time bound alone
                    pass
        return poller

    def _arm_timer(self, deadline: float) -> None:
        """Arm the timerfd for ``deadline`` unless it is armed for that time already."""
        arm = self._arm
        assert arm is not None
        monotonic_s = self._monotonic(deadline)
        if monotonic_s != self._armed_s:
            arm(self._fd, monotonic_s)
            self._armed_s = monotonic_s

    def rearm(self, deadline: float) -> None:
        """Move the deadline of the sleep in progress (timerfd only): the waiting task wakes
        at the new one instead."""
        if self._fd >= 0 and self._arm is not None:
            self._arm_timer(deadline)

    def _monotonic(self, deadline: float) -> float:
        """The run clock's deadline as a CLOCK_MONOTONIC time (none: a time never reached)."""
        return deadline - self._offset if deadline != _INF else _NEVER_S

    def close(self) -> None:
        self._watched = -1
        self._watch_armed = False
        self._watch_in = 0
        self._trio_fd = -1
        for poller in (self._poller, self._hold_poller):
            if poller is not None:
                poller.close()
        self._poller = None
        self._hold_poller = None
        fd = self._fd
        if fd >= 0:
            self._fd = -1
            os.close(fd)


_HOLD_MAX_S: Final = 0.020
"""The longest a timer queue's task keeps Trio's loop waiting (TimerQueue._may_hold) where its
held sleeps cannot see Trio's own epoll: what other tasks wait for on their descriptors (keys,
the control socket, the API, a worker's link to its parent, a thread's result, a signal) is
noticed within it. 5 ms until 2026-12-07: two passes of Trio's loop per yield were 1.6 a call
at 250 calls/s (docs/performance.md, "Fewer system calls and yields for a holding client")."""
_HOLD_WATCHING_TRIO_MAX_S: Final = 0.1
"""The same where a held sleep ends as soon as Trio's epoll has a descriptor ready (the usual
case): nothing is known to need the yield then, which stays as a bound for what is not."""
_NEVER_S: Final = 1e12
"""A monotonic time no run reaches (some 30,000 years after boot): a timerfd armed for it
waits for a deadline that is set later, or for ever."""

_SAME_TIME_S: Final = 0.05
"""How far apart two consecutive readings of the two clocks may be and still be one clock."""


def run_clock() -> Callable[[], float]:
    """The current Trio run's clock as a function: ``SystemTime`` for Trio's default clock
    (checked against it once), the clock's own ``current_time`` for any other (the
    simulation's virtual clock, tests' ``MockClock``)."""
    clock = trio.lowlevel.current_clock()
    offset = getattr(clock, "offset", None)
    kind = type(clock)
    if (
        isinstance(offset, float)
        and kind.__name__ == "SystemClock"
        and kind.__module__.startswith("trio.")
    ):
        fast = SystemTime(offset)
        if abs(fast() - clock.current_time()) < _SAME_TIME_S:
            return fast
    return clock.current_time


class Parker:
    """Parks one task at a time until ``wake(value)`` or its deadline (then ``None``)."""

    __slots__ = ("_queue", "_seq", "_task", "on_timer")

    def __init__(self, queue: TimerQueue) -> None:
        self._queue = queue
        self._task: trio.lowlevel.Task | None = None
        self._seq = 0
        self.on_timer: Callable[[], float | None] | None = None
        """Called by the queue's task when a parked task's deadline passes, instead of waking
        the task: it answers the next deadline to stay parked until (``math.inf``: until a
        ``wake``), or None to wake the task after all. Not with exact timers (the parked
        task's own deadline wakes it there)."""

    @property
    def waiting(self) -> bool:
        return self._task is not None

    async def park(self, deadline: float) -> object | None:
        """Wait for a value from ``wake``; None once ``deadline`` (monotonic) has passed."""
        self._seq += 1
        if deadline != _INF:
            if self._queue.exact:
                return await self._park_until(deadline)
            self._queue.schedule(self, self._seq, deadline)
        self._task = trio.lowlevel.current_task()
        value: object | None = await trio.lowlevel.wait_task_rescheduled(self._abort)
        return value

    async def _park_until(self, deadline: float) -> object | None:
        """``park`` on a deadline of its own. With exact timers (no resolution: the
        simulation) the queue batches nothing, and waking through it costs a step of the
        queue's task before this one's; a cancel scope's deadline wakes this task directly."""
        with trio.CancelScope(deadline=deadline) as scope:
            task = trio.lowlevel.current_task()
            self._task = task
            value: object | None = await trio.lowlevel.wait_task_rescheduled(
                _OwnDeadline(self, scope, task).abort
            )
        return value

    def _abort(self, _raise_cancel: object) -> trio.lowlevel.Abort:
        # Cancelled from outside (nursery shutdown): nobody may reschedule the task any more.
        self._task = None
        return trio.lowlevel.Abort.SUCCEEDED

    def wake(self, value: object) -> bool:
        """Resume the parked task with ``value``; False if no task is parked."""
        task = self._task
        if task is None:
            return False
        self._task = None
        trio.lowlevel.reschedule(task, outcome.Value(value))
        return True

    def give_task(self, heir: Parker) -> trio.lowlevel.Task | None:
        """Hand the parked task over to ``heir`` (``Call.start_outside``); None if no task is
        parked. The task stays suspended where it is: the next ``wake`` of its new holder
        resumes it there, and the holder tells it which call to run.

        The task records its holder in ``custom_sleep_data`` (Trio's slot for the code
        blocking a task, cleared whenever the task is rescheduled): a cancellation reaches
        only the abort function of the wait the task is suspended in, so a holder's
        ``wake`` must check that the task is still waiting, and still for it."""
        task = self._task
        self._task = None
        if task is not None:
            task.custom_sleep_data = heir
        return task

    def timer_fired(self, seq: int) -> None:
        """Called by the queue: resume with None if this is still the same wait (or run
        ``on_timer`` for the parked task, and stay parked)."""
        if seq != self._seq:
            return
        on_timer = self.on_timer
        if on_timer is not None and self._task is not None:
            deadline = on_timer()
            if self._task is None:
                return  # woken meanwhile (by what on_timer did): it parks again itself
            if deadline is not None:
                self._seq += 1
                if deadline != _INF:
                    self._queue.schedule(self, self._seq, deadline)
                return
        self.wake(None)


_Entry = tuple[float, int, Parker, int]
"""A queue entry: deadline, order of scheduling, the parker, the parker's wait number."""


def _before(a: _Entry, b: _Entry) -> bool:
    """Entries fire by deadline, then in the order they were scheduled."""
    return a[0] < b[0] or (a[0] == b[0] and a[1] < b[1])


class TimerQueue:
    """One task that fires the deadlines of every ``Parker`` of an engine."""

    __slots__ = (
        "_counter",
        "_descriptor",
        "_heap",
        "_lanes",
        "_now",
        "_read_now",
        "_read_wake",
        "_reader",
        "_reader_task",
        "_voided",
        "_resolution_s",
        "_scope",
        "_sleep",
        "_task",
        "_tick",
        "_wake_at",
        "_watch_fd",
        "_watched_empty",
        "before_late",
        "hold_ticks",
    )

    def __init__(
        self,
        resolution_s: float = 0.0,
        now: Callable[[], float] = trio.current_time,
        *,
        descriptor: bool = False,
    ) -> None:
        self._task: trio.lowlevel.Task | None = None
        # Sleep on a timerfd where TickSleep can (Trio's clock, the C accelerator, a grid).
        self._descriptor = descriptor and resolution_s > 0
        self._now = now  # the run's clock (run_clock), read once per wake-up
        self._heap: list[_Entry] = []
        # Most timers of a run have one of a few lengths (a server's 4 s timewait, 500 ms
        # retransmissions), so entries of one length come in deadline order: those go to the
        # end of a lane, O(1) and with no comparison of tuples, and only the rest to the heap.
        # A server holds tens of thousands of timewait entries, and each heap push and pop
        # compared some fifteen tuples through Python's rich comparison.
        self._lanes: list[deque[_Entry]] = [deque() for _ in range(_LANES)]
        # Entries voided (``dropped``) and not yet popped: prune when they are half the queue.
        self._voided = 0
        self._counter = 0
        self._resolution_s = resolution_s
        self._scope: trio.CancelScope | None = None
        # Real runs with Trio's clock: the queue sleeps on a timerfd (``TickSleep``), set
        # while it waits; else on ``_scope``.
        self._tick: TickSleep | None = None
        # The timerfd sleep of the whole run (``run``), which can also watch the reader's
        # socket (``read_when_readable``), and that socket's descriptor (-1: none watched).
        self._sleep: TickSleep | None = None
        self._watch_fd = -1
        # During a wake-up's work: the watched socket was not readable when the sleep ended.
        self._watched_empty = False
        # The deadline of ``_scope`` as last set, read back without Trio's property.
        self._wake_at = _INF
        # Set by the engine where nothing else of the run waits on a descriptor: see _may_hold.
        self.hold_ticks = False
        # A socket read at the queue's wake-ups (``read_on_ticks``): the reader, its task
        # (parked meanwhile), the grid point of its next read, whether that is at once.
        self._reader: Callable[[], float] | None = None
        self._reader_task: trio.lowlevel.Task | None = None
        self._read_wake = _INF
        self._read_now = False
        self.before_late: Callable[[], object] | None = None
        """Real runs: called before firing entries that are overdue by more than two steps
        (the process stalled). The engine handles the datagrams already received there, so a
        retransmission timer whose answer waits in the socket is cancelled by that answer
        instead of firing: after a stall, no burst of retransmissions for answered messages."""

    @property
    def exact(self) -> bool:
        """No resolution (the simulation's virtual clock): every deadline is its own."""
        return self._resolution_s <= 0

    def wake_time(self, deadline: float) -> float:
        """The point of the queue's tick grid it wakes at for ``deadline`` (the first whole
        tick of the run's clock not before it; ``deadline`` itself without ticks)."""
        step = self._resolution_s
        if step <= 0 or deadline == _INF:
            return deadline
        wake = math.ceil(deadline / step) * step
        # Float rounding can put the rounded time a hair before the deadline; waking then
        # would find nothing due and spin (forever under a virtual clock).
        return wake if wake >= deadline else deadline

    def wakes_by(self, deadline: float) -> bool:
        """Whether the queue, asleep, wakes by the grid point of ``deadline`` as it stands."""
        return self._wake_at <= self.wake_time(deadline)

    def schedule(self, parker: Parker, seq: int, deadline: float) -> None:
        self._counter += 1
        entry = (deadline, self._counter, parker, seq)
        # The lane whose last deadline is the latest one not after this one (the lane of
        # timers of this length), else an empty lane, else the heap. Any choice keeps every
        # lane in deadline order; a good one keeps the heap small.
        lane: deque[_Entry] | None = None
        empty: deque[_Entry] | None = None
        latest = -_INF
        for candidate in self._lanes:
            if candidate:
                tail = candidate[-1][0]
                # Close behind the tail: most likely the next timer of the lane's length (a
                # stray length appended would leave the lane's own timers no room after it).
                if latest < tail <= deadline <= tail + _LANE_GAP_S:
                    lane = candidate
                    latest = tail
            elif empty is None:
                empty = candidate
        if lane is None:
            lane = empty
        if lane is not None:
            lane.append(entry)
        else:
            heapq.heappush(self._heap, entry)
        if self._voided > _PRUNE_MIN and 2 * self._voided > self._entries():
            self._prune()
        if deadline < self._wake_at:
            # Compared on the grid: a timer due within the tick already waited for leaves
            # the wait alone (each assignment of a scope's deadline runs Trio's deadline
            # bookkeeping, a context manager, even when the value does not change).
            wake = self.wake_time(deadline)
            if wake < self._wake_at:
                self._move_wake(wake)

    def dropped(self, deadline: float) -> None:
        """An entry due at ``deadline`` was just voided by its parker.

        If it was the earliest, sleep until the next live entry instead of waking for nothing:
        most retransmission timers are voided by the answer long before they fall due, and at
        low call rates each such wake-up would be one more sleep and wake of the process.
        """
        self._voided += 1
        if self._first_deadline() != deadline:
            return
        self._pop_dead_head()
        wake = self.wake_time(self._first_deadline())
        if self._read_wake < wake:
            wake = self._read_wake
        if wake != self._wake_at:
            self._move_wake(wake)

    def _move_wake(self, wake: float) -> None:
        """Move the wait in progress, if any, to ``wake``."""
        tick = self._tick
        if tick is not None:
            self._wake_at = wake
            tick.rearm(wake)
            return
        scope = self._scope
        if scope is not None:
            self._wake_at = wake
            scope.deadline = wake

    def _entries(self) -> int:
        return len(self._heap) + sum([len(lane) for lane in self._lanes])

    def _first_deadline(self) -> float:
        """The earliest deadline of any entry, live or not (infinite when there is none)."""
        heap = self._heap
        first = heap[0][0] if heap else _INF
        for lane in self._lanes:
            if lane and lane[0][0] < first:
                first = lane[0][0]
        return first

    def _pop_due(self, now: float) -> _Entry | None:
        """Remove and return the first entry due by ``now``, or None."""
        heap = self._heap
        first: _Entry | None = heap[0] if heap and heap[0][0] <= now else None
        source: deque[_Entry] | None = None
        for lane in self._lanes:
            if lane:
                head = lane[0]
                if head[0] <= now and (first is None or _before(head, first)):
                    first = head
                    source = lane
        if first is None:
            return None
        if source is None:
            heapq.heappop(heap)
        else:
            source.popleft()
        return first

    def _pop_dead_head(self) -> None:
        heap = self._heap
        while heap:
            entry = heap[0]
            if entry[2]._seq == entry[3]:
                break
            heapq.heappop(heap)
            self._uncount_void()
        for lane in self._lanes:
            while lane:
                entry = lane[0]
                if entry[2]._seq == entry[3]:
                    break
                lane.popleft()
                self._uncount_void()

    def _uncount_void(self) -> None:
        """A dead entry has left the queue. The count is a lower bound, never below zero:
        an entry also dies uncounted when its parker parks again without ``dropped``."""
        if self._voided:
            self._voided -= 1

    def _prune(self) -> None:
        """Drop entries whose wait is over.

        Stale entries are harmless when they surface, but until then they keep their parker
        alive: a call that ended keeps its messages in memory (and in the garbage collector's
        way) for as long as its last retransmission timer would have run. Pruning once voided
        entries are half the queue keeps the cost amortized O(1) per voided entry. (Pruning
        whenever the heap doubled did the same, but a heap that grows with live entries, a
        server's 60,000 calls in their timewait, was then scanned for nothing, in one pass of
        up to 30 ms: long enough for a full receive batch, whose new calls are shed.)
        """
        heap = self._heap
        heap[:] = [entry for entry in heap if entry[2]._seq == entry[3]]
        heapq.heapify(heap)
        for index, lane in enumerate(self._lanes):
            self._lanes[index] = deque([entry for entry in lane if entry[2]._seq == entry[3]])
        self._voided = 0

    def _abort(self, _raise_cancel: object) -> trio.lowlevel.Abort:
        scope = self._scope
        if scope is not None and scope.cancel_called and self._task is not None:
            # Our own deadline passed: resume normally rather than through a Cancelled
            # exception (raising and catching it was a fifth of the cost of a wake-up).
            trio.lowlevel.reschedule(self._task)
            return trio.lowlevel.Abort.FAILED
        return trio.lowlevel.Abort.SUCCEEDED  # cancelled from outside: stop

    async def read_on_ticks(
        self, read: Callable[[], float], first_read_s: float, fd: int = -1
    ) -> bool:
        """Have the queue's task read a socket at its own wake-ups, from ``first_read_s`` on
        (rounded up to the grid), instead of the caller's task sleeping and waking for it.

        ``read`` handles what the socket holds and answers when to read it next: a time of
        the run's clock (rounded up to the grid), ``READ_AT_ONCE`` (it fell a tick behind),
        ``READ_WHEN_READABLE`` (empty, or sparse: read it as ``read_when_readable`` does,
        where the queue holds and ``fd`` is the socket's descriptor, else as the next), or
        ``READ_NO_MORE`` (closed, or to be waited for by the caller). The caller stays parked
        until the queue hands the socket back, and True comes back: it waits for the socket
        itself then. False, at once, when the queue has no grid or another socket's reader:
        the caller sleeps itself.

        A client's receive loop and its queue (which wakes the pacing) woke together on every
        tick, each task on a timerfd of its own: two task steps, two waits through Trio's
        epoll and two re-armings per tick, where one does (docs/performance.md, "One task
        step per tick for a client"). The socket is read before the due timers fire, so that
        an answer waiting there cancels its retransmission timer instead of firing it.
        """
        if self._reader is not None or self._resolution_s <= 0 or self._task is None:
            return False
        wake = self.wake_time(first_read_s)
        self._read_wake = wake
        if wake < self._wake_at:
            self._move_wake(wake)
        return await self._park_reader(
            read, fd if self.hold_ticks and self._sleep is not None else -1
        )

    async def read_when_readable(self, read: Callable[[], float], fd: int) -> bool:
        """Have the queue's task read a socket (descriptor ``fd``) as soon as it is readable,
        and then as ``read`` answers (``read_on_ticks``), where the queue holds Trio's loop
        between its ticks (``hold_ticks``, on a timerfd).

        A sparse client (a few datagrams per tick) waited for its socket through Trio's loop:
        three of a call's four wake-ups at 250 calls/s were passes of it, 12-17 µs each on
        top of the wake-up (docs/performance.md, "The socket in the timer queue's own epoll").
        The queue's own epoll watches the socket beside its timerfd instead, so a held sleep
        ends for a datagram as for a tick, and the datagram is handled in the queue's task.
        True once the queue hands the socket back (closed, or to be waited for by the
        caller); False, at once, where the queue does not hold: the caller waits itself.
        """
        sleep = self._sleep
        if (
            not self.hold_ticks
            or self._reader is not None
            or sleep is None
            or self._task is None
            or not sleep.watch(fd)
        ):
            return False
        self._read_wake = _INF
        # The queue's task may be waiting through Trio on its timerfd alone: a wake-up now
        # has it wait on its epoll, the socket's readiness included, from then on.
        self._move_wake(self._now())
        return await self._park_reader(read, fd)

    async def _park_reader(self, read: Callable[[], float], watch_fd: int) -> bool:
        """Register ``read`` (and the descriptor to watch for it, -1: none) and park its task
        until the queue hands the socket back (``_release_reader``); True then."""
        self._reader = read
        self._reader_task = trio.lowlevel.current_task()
        self._watch_fd = watch_fd
        await trio.lowlevel.wait_task_rescheduled(self._abort_reader)
        return True

    def _abort_reader(self, _raise_cancel: object) -> trio.lowlevel.Abort:
        # The reading task was cancelled (the run is over): nothing reads for it any more.
        self._release_reader()
        self._read_wake = _INF
        self._read_now = False
        return trio.lowlevel.Abort.SUCCEEDED

    def _release_reader(self) -> trio.lowlevel.Task | None:
        """Forget the reader and stop watching its socket; returns its task."""
        task = self._reader_task
        self._reader = None
        self._reader_task = None
        if self._watch_fd >= 0:
            self._watch_fd = -1
            sleep = self._sleep
            if sleep is not None:
                sleep.unwatch()
        return task

    def _next_wake(self) -> float:
        """The grid point of the next wake-up: the earliest live entry's, or the reader's."""
        self._pop_dead_head()
        wake = self.wake_time(self._first_deadline())
        read_wake = self._read_wake
        return read_wake if read_wake < wake else wake

    def _woke(self, now: float) -> None:
        """One wake-up's work: the reader's socket if its read is due, then the due timers."""
        if now >= self._read_wake:
            self._read(now)
        self._fire_due(now)

    def _read(self, now: float) -> None:
        read = self._reader
        self._read_wake = _INF
        if read is None:
            return
        next_read_s = read()
        if next_read_s == READ_WHEN_READABLE:
            fd = self._watch_fd
            sleep = self._sleep
            if fd >= 0 and sleep is not None and sleep.watch(fd):
                return  # the socket's readiness ends the next sleep (run)
            next_read_s = READ_NO_MORE
        if next_read_s == READ_NO_MORE:
            task = self._release_reader()
            if task is not None:
                trio.lowlevel.reschedule(task)
        elif next_read_s == READ_AT_ONCE:
            self._read_wake = now
            self._read_now = True
        else:
            self._read_wake = self.wake_time(next_read_s)

    async def run(self) -> None:
        """Fire due timers until cancelled."""
        self._task = trio.lowlevel.current_task()
        tick = TickSleep(self._now, descriptor=self._descriptor)
        if not tick.uses_timerfd:
            await self._run_scoped()
            return
        # On a timerfd: waking is a wait for readability, and moving the wake-up (schedule,
        # dropped) re-arms it with one system call, where a cancel scope runs some thirty
        # Python calls per wait and Trio's deadline bookkeeping per move.
        # Between ticks the task may also sleep outside Trio's loop (_may_hold, hold_ticks).
        self._sleep = tick
        yielded_at_s = self._now()
        after_pass = False
        try:
            while True:
                self._wake_at = self._next_wake()
                if self._read_now:
                    self._read_now = False
                    await trio.lowlevel.checkpoint()
                    yielded_at_s = self._now()
                    after_pass = True
                elif self._may_hold():
                    if after_pass:
                        # Tasks woken in the same pass of Trio's loop as this one (by an I/O
                        # wait, a deadline) may still wait their turn in it, and are not
                        # counted as runnable meanwhile: a zero-timeout yield lets them run.
                        after_pass = False
                        await trio.lowlevel.checkpoint()
                        continue
                    if self._now() - yielded_at_s >= tick.hold_max_s:
                        # Time for Trio's loop to look at the other tasks' descriptors: a
                        # pass with a zero timeout does (2.8 µs, then the one above for the
                        # tasks it woke), where sleeping through the loop cost 12-17 µs more
                        # than sleeping here.
                        await trio.lowlevel.checkpoint()
                        yielded_at_s = self._now()
                        after_pass = True
                        continue
                    woke = tick.block_until(self._wake_at)
                    if woke == 0:
                        self._watched_empty = tick.watching  # the tick alone
                    elif woke & WOKE_READABLE:
                        self._read_wake = -_INF  # the watched socket is readable
                    if woke & WOKE_TRIO:
                        # Another task's descriptor is ready (keys, the control socket, the
                        # API, a thread's result, a signal): Trio's loop runs it now.
                        await trio.lowlevel.checkpoint()
                        yielded_at_s = self._now()
                        after_pass = True
                else:
                    self._tick = tick
                    try:
                        readable = await tick.until_or_readable(self._wake_at)
                    finally:
                        self._tick = None
                    if readable:
                        self._read_wake = -_INF
                    else:
                        self._watched_empty = tick.watching
                    yielded_at_s = self._now()
                    after_pass = True
                self._woke(self._now())
                self._watched_empty = False  # an exception ends the run: nothing reads it then
        finally:
            self._sleep = None
            self._watch_fd = -1
            tick.close()

    def watched_socket_empty(self) -> bool:
        """Whether the socket this queue watches (``read_when_readable``) held nothing when
        the sleep that ended this wake-up did: true only during that wake-up's work, where a
        read of it (the pacing's drain) would find nothing but what came since, which the
        watch reports at the next sleep."""
        return self._watched_empty

    def _may_hold(self) -> bool:
        """Whether the next sleep may block this thread (``TickSleep.block_until``) instead of
        yielding to Trio's loop.

        A pass of Trio's loop costs about 17 µs of CPU on top of the wake-up itself (19 µs
        here, in any language; bench/wake_cost.py). While a client's socket is read by this
        task (a reader is registered: on the ticks, or when it is readable, which the same
        epoll watches) and its engine says nothing else of the run waits on a descriptor
        (``hold_ticks``), the queue's task sleeps to its next tick or the socket's readiness
        in its own epoll, as long as: no other task is ready to run, no callback waits to be
        run in the loop, no deadline of another task comes first, and the sleep is shorter
        than ``TickSleep.hold_max_s``; ``run`` also yields to the loop with a zero timeout
        once that has passed since its last yield. The same epoll holds Trio's: a held sleep
        ends as soon as a descriptor another task waits on is ready (keys, the control
        socket, the API, a thread's result, a signal), and ``run`` yields then. So other
        tasks' deadlines are met as before and what they wait for on their descriptors is
        noticed at once (within _HOLD_MAX_S where Trio's epoll cannot be watched)
        (docs/performance.md, "The timer queue's sleep outside Trio's loop", "Fewer system
        calls and yields for a holding client").
        """
        if not self.hold_ticks or self._reader is None:
            return False
        sleep = self._sleep
        if sleep is None or self._wake_at - self._now() > sleep.hold_max_s:
            return False
        # This queue's clock is Trio's (``SystemTime``): no other work before the wake-up.
        return trio_next_work_at() >= self._wake_at

    async def _run_scoped(self) -> None:
        """``run`` on a cancel scope's deadline (any clock)."""
        while True:
            self._wake_at = self._next_wake()
            if self._read_now:
                self._read_now = False
                await trio.lowlevel.checkpoint()
            else:
                with trio.CancelScope(deadline=self._wake_at) as scope:
                    self._scope = scope
                    await trio.lowlevel.wait_task_rescheduled(self._abort)
                self._scope = None
            self._woke(self._now())

    def _fire_due(self, now: float) -> None:
        step = self._resolution_s
        if step > 0 and self._first_deadline() < now - 2 * step:
            self._fire_late(now)
            return
        while True:
            entry = self._pop_due(now)
            if entry is None:
                break
            _, _, parker, seq = entry
            if parker._seq != seq:
                self._uncount_void()
            parker.timer_fired(seq)

    def _fire_late(self, now: float) -> None:
        """The queue woke late (the process stalled): first handle what was received, then
        fire at most LATE_FIRE_MAX entries; the rest are still due at the next wake-up, which
        comes after the other ready tasks (the receive loop) had their turn."""
        hook = self.before_late
        if hook is not None:
            hook()
        fired = 0
        while fired < LATE_FIRE_MAX:
            entry = self._pop_due(now)
            if entry is None:
                break
            _, _, parker, seq = entry
            if parker._seq == seq:
                fired += 1
            else:
                self._uncount_void()
            parker.timer_fired(seq)


class _Sleeper:
    """The abort function of one ``sleep_until`` (a bound method, not a closure)."""

    __slots__ = ("scope", "task")

    def __init__(self, scope: trio.CancelScope, task: trio.lowlevel.Task) -> None:
        self.scope = scope
        self.task = task

    def abort(self, _raise_cancel: object) -> trio.lowlevel.Abort:
        if self.scope.cancel_called:
            # Our own deadline: resume normally, as TimerQueue._abort does.
            trio.lowlevel.reschedule(self.task)
            return trio.lowlevel.Abort.FAILED
        return trio.lowlevel.Abort.SUCCEEDED  # cancelled from outside: raise Cancelled


async def sleep_until(deadline: float) -> None:
    """``trio.sleep_until`` without the Cancelled exception that ends every such sleep.

    Trio wakes a sleeper by cancelling its scope: the exception is raised into the task and
    caught by the scope, about half the cost of the whole sleep. The receive loop sleeps to the
    next tick after every batch (up to 1,000 times a second under load), so here the scope's
    own deadline resumes the task normally instead. A cancellation from outside still raises.
    """
    with trio.CancelScope(deadline=deadline) as scope:
        sleeper = _Sleeper(scope, trio.lowlevel.current_task())
        await trio.lowlevel.wait_task_rescheduled(sleeper.abort)


class _OwnDeadline(_Sleeper):
    """The abort function of one ``Parker._park_until``: ``_Sleeper``'s, and the parker is
    no longer parked (a ``wake`` between the deadline and the task's resumption does nothing)."""

    __slots__ = ("parker",)

    def __init__(self, parker: Parker, scope: trio.CancelScope, task: trio.lowlevel.Task) -> None:
        super().__init__(scope, task)
        self.parker = parker

    def abort(self, raise_cancel: object) -> trio.lowlevel.Abort:
        self.parker._task = None
        return super().abort(raise_cancel)


def deadline_abort(
    scope: trio.CancelScope, task: trio.lowlevel.Task
) -> Callable[[object], trio.lowlevel.Abort]:
    """The abort function for ``wait_task_rescheduled`` inside ``scope``: the scope's own
    deadline (also one moved while waiting) resumes ``task`` normally, as ``sleep_until``
    does; a cancellation from outside raises Cancelled."""
    return _Sleeper(scope, task).abort
