"""The server's tick on a timerfd (gossipper/engine/_timerfd.c and ``timers.TickSleep``).

The C accelerator is built here from its source, so both test sessions check it; ``TickSleep``
is checked as the installed package has it (with the accelerator in the compiled session, on
Trio's cancel scopes in the pure one) and with the accelerator put in its place.
"""

from __future__ import annotations

import collections
import os
import pathlib
import select
import socket
import sys
import threading
import time
import types
from collections.abc import Callable

import pytest
import trio
import trio.testing

import gossipper.engine.call
import gossipper.engine.timers as timers_module
from gossipper.config import RunConfig
from gossipper.engine.timers import Parker, SystemTime, TickSleep, TimerQueue, run_clock
from gossipper.server.realrun import SystemWallClock
from gossipper.session import RunPlan, open_run
from gossipper.transport.udp import UdpTransportFactory
from tests.c_extension import build_c_extension, c_source
from tests.engine._harness import builtin
from tests.interop.harness import (
    finish,
    free_udp_port,
    gossipper_command,
    start,
    wait_for_udp_listener,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")

SOURCE = c_source(timers_module.__file__, "_timerfd.c")
COMPILED_BUILD = gossipper.engine.call.__file__.endswith(".so")


@pytest.fixture(scope="module")
def timerfd(tmp_path_factory: pytest.TempPathFactory) -> types.ModuleType:
    """The accelerator built from its source now (a failure in CI, a skip without a compiler)."""
    return build_c_extension(SOURCE, tmp_path_factory)


class PassCounter(trio.abc.Instrument):
    """Counts the passes of Trio's loop: each waits for I/O, with a zero timeout or not."""

    def __init__(self) -> None:
        self.passes = 0

    def before_io_wait(self, timeout: float) -> None:
        self.passes += 1


@pytest.fixture
def timerfd_in_queues(
    timerfd: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> types.ModuleType:
    """The accelerator as ``TickSleep`` and the timer queues use it, in either build (the
    compiled one has its own; the pure one gets the module built here)."""
    if not COMPILED_BUILD:
        monkeypatch.setattr(timers_module, "_C_TIMERFD", (timerfd.tick_timer, timerfd.tick_arm))
    return timerfd


def _client_queue(hold: bool) -> tuple[TimerQueue, Callable[[], float]]:
    """A client's timer queue on the run's clock (1 ms ticks, a timerfd), holding Trio's loop
    between its ticks or not; inside ``trio.run``."""
    now = run_clock()
    queue = TimerQueue(resolution_s=0.001, now=now, descriptor=True)
    queue.hold_ticks = hold
    return queue, now


def _readable(fd: int, timeout_s: float) -> bool:
    ready, _, _ = select.select([fd], [], [], timeout_s)
    return bool(ready)


def test_an_armed_timerfd_becomes_readable_at_its_time_and_rearming_clears_it(
    timerfd: types.ModuleType,
) -> None:
    fd = timerfd.tick_timer()
    try:
        assert not _readable(fd, 0.0)  # disarmed
        armed_at = time.perf_counter()
        timerfd.tick_arm(fd, armed_at + 0.05)
        assert not _readable(fd, 0.02)
        assert _readable(fd, 1.0)
        assert time.perf_counter() - armed_at >= 0.049  # perf_counter is CLOCK_MONOTONIC
        # Re-arming clears the expiry not read: not readable again before the new time.
        timerfd.tick_arm(fd, time.perf_counter() + 0.05)
        assert not _readable(fd, 0.0)
        assert _readable(fd, 1.0)
        # A time already past (0 and negative included) expires at once.
        for past in (time.perf_counter() - 1.0, 0.0, -5.0):
            timerfd.tick_arm(fd, past)
            assert _readable(fd, 0.5)
        with pytest.raises(ValueError, match="finite"):
            timerfd.tick_arm(fd, float("inf"))
        with pytest.raises(ValueError, match="finite"):
            timerfd.tick_arm(fd, float("nan"))
    finally:
        os.close(fd)
    with pytest.raises(OSError):
        timerfd.tick_arm(fd, 1.0)  # EBADF
    with pytest.raises(TypeError):
        timerfd.tick_arm(fd)


def test_tick_sleep_wakes_at_its_deadline_on_a_timerfd_with_trios_clock(
    timerfd_in_queues: types.ModuleType,
) -> None:
    result: dict[str, object] = {}

    async def main() -> None:
        now = run_clock()
        assert isinstance(now, SystemTime)
        tick = TickSleep(now)
        result["uses_timerfd"] = tick.uses_timerfd
        fd = tick._fd
        late = []
        for _ in range(20):
            deadline = now() + 0.002
            await tick.until(deadline)
            late.append(now() - deadline)
        # While it waits Trio holds no deadline: the wait is the descriptor's, not a scope's.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(tick.until, now() + 0.05)
            await trio.testing.wait_all_tasks_blocked()
            stats = trio.lowlevel.current_statistics()
            result["next_deadline_s"] = stats.seconds_to_next_deadline
        # Cancelled from outside while waiting: Cancelled, as a cancel-scope sleep.
        with trio.move_on_after(0.01) as scope:
            await tick.until(now() + 60.0)
        result["cancelled"] = scope.cancelled_caught
        tick.close()
        tick.close()  # twice is harmless
        result["late"] = late
        with pytest.raises(OSError):
            os.fstat(fd)  # released

    trio.run(main)
    assert result["uses_timerfd"] is True
    assert result["next_deadline_s"] == float("inf")
    assert result["cancelled"] is True
    late = result["late"]
    assert isinstance(late, list)
    assert min(late) >= 0.0  # never before its deadline
    assert sorted(late)[len(late) // 2] < 0.001  # and close to it (epoll would round to 1 ms)


def test_tick_sleep_keeps_trios_deadlines_with_another_clock_or_when_asked() -> None:
    async def virtual() -> None:
        now = run_clock()
        tick = TickSleep(now)
        assert not tick.uses_timerfd  # MockClock: virtual time, no descriptor can follow it
        start = trio.current_time()
        await tick.until(start + 3600.0)  # an hour of virtual time, at once
        assert trio.current_time() == start + 3600.0
        tick.close()

    trio.run(virtual, clock=trio.testing.MockClock(autojump_threshold=0))

    async def asked() -> None:
        tick = TickSleep(run_clock(), descriptor=False)
        assert not tick.uses_timerfd
        deadline = trio.current_time() + 0.005
        await tick.until(deadline)
        assert trio.current_time() >= deadline

    trio.run(asked)


def test_a_servers_timer_queue_fires_on_a_timerfd_and_moves_its_wake_up(
    timerfd_in_queues: types.ModuleType,
) -> None:
    """A queue made with ``descriptor=True`` sleeps on a timerfd: its parkers wake at their
    deadlines (on the 1 ms grid, never before), an earlier deadline scheduled while it waits
    and the voiding of its first entry move the wait, and Trio holds no deadline meanwhile."""
    step_s = 0.001
    result: dict[str, object] = {}

    async def main() -> None:
        now = run_clock()
        queue = TimerQueue(step_s, now, descriptor=True)
        woke: dict[str, float] = {}

        async def park(name: str, deadline: float) -> None:
            parker = Parker(queue)
            value = await parker.park(deadline)
            woke[name] = now()
            assert value is None  # woken by its deadline

        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            start = now()
            with trio.fail_after(2.0):
                async with trio.open_nursery() as parks:
                    parks.start_soon(park, "late", start + 0.300)
                    await trio.testing.wait_all_tasks_blocked()
                    tick = queue._tick
                    result["timerfd"] = tick is not None and tick.uses_timerfd
                    statistics = trio.lowlevel.current_statistics()
                    result["next_deadline_s"] = statistics.seconds_to_next_deadline
                    # Scheduled while the queue waits for 300 ms: it must wake for this first.
                    parks.start_soon(park, "early", start + 0.030)
                    # A parker whose wait ends by a value: its entry is voided and dropped.
                    voided = Parker(queue)

                    async def woken_by_value() -> None:
                        result["value"] = await voided.park(start + 0.010)

                    parks.start_soon(woken_by_value)
                    await trio.testing.wait_all_tasks_blocked()
                    voided.wake("answer")
            nursery.cancel_scope.cancel()
        result["woke"] = {name: at - start for name, at in woke.items()}

    trio.run(main)
    assert result["timerfd"] is True
    # Trio's only deadline is the test's own fail_after (2 s), not the queue's 300 ms.
    next_deadline_s = result["next_deadline_s"]
    assert isinstance(next_deadline_s, float)
    assert next_deadline_s > 1.0
    assert result["value"] == "answer"
    woke = result["woke"]
    assert isinstance(woke, dict)
    assert 0.030 <= woke["early"] < 0.200  # moved forward, not left at 300 ms
    assert woke["late"] >= 0.300


def test_a_timer_queue_keeps_its_cancel_scope_unless_asked_or_under_a_virtual_clock(
    timerfd_in_queues: types.ModuleType,
) -> None:

    async def main(descriptor: bool) -> float:
        queue = TimerQueue(0.001, run_clock(), descriptor=descriptor)
        parker = Parker(queue)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.run)
            deadline = trio.current_time() + 0.050
            async with trio.open_nursery() as parks:
                parks.start_soon(parker.park, deadline)
                await trio.testing.wait_all_tasks_blocked()
                # The queue's wait is a scope's: Trio holds its deadline.
                statistics = trio.lowlevel.current_statistics()
                seconds_to_next_deadline = statistics.seconds_to_next_deadline
            assert trio.current_time() >= deadline
            nursery.cancel_scope.cancel()
        return float(seconds_to_next_deadline)

    assert trio.run(main, False) < 1.0  # not asked: Trio's deadline (on the 1 ms grid)
    # MockClock: no descriptor follows virtual time, whatever was asked.
    assert trio.run(main, True, clock=trio.testing.MockClock(autojump_threshold=0)) < 1.0


@pytest.mark.parametrize("hold", [True, False])
def test_a_holding_queue_sleeps_between_ticks_outside_trios_loop_but_not_past_others(
    timerfd_in_queues: types.ModuleType, hold: bool
) -> None:
    """``TimerQueue.hold_ticks``: while a reader is read on every tick, the queue's task sleeps
    to the next one in its own epoll instead of a pass of Trio's loop, unless something else
    comes first: a task made ready (here by the reader itself) runs at once, another task's
    deadline is met as before, and a descriptor another task waits on is noticed at once
    (the held sleep's epoll holds Trio's: 0.1-0.3 ms here, up to _HOLD_MAX_S without it).
    Without ``hold_ticks``, every tick is a pass of Trio's loop."""
    counter = PassCounter()
    result: dict[str, float] = {}

    async def main() -> None:
        queue, now = _client_queue(hold)
        woken = trio.Event()
        reads: list[float] = []

        def read() -> float:
            at = now()
            reads.append(at)
            if len(reads) == 40:
                result["set_at"] = at
                woken.set()  # a task made ready by the queue's own work
            return timers_module.READ_NO_MORE if len(reads) >= 150 else at + 0.0005

        async def waiter() -> None:
            await woken.wait()
            result["woken_late_s"] = now() - result["set_at"]

        async def sleeper() -> None:
            deadline = now() + 0.07
            await trio.sleep_until(deadline)
            result["sleep_late_s"] = now() - deadline

        a, b = socket.socketpair()
        with a, b:

            async def reader_of_other_descriptor() -> None:
                await trio.lowlevel.wait_readable(a)
                result["descriptor_late_s"] = time.perf_counter() - result["written_at"]

            def write_later() -> None:
                time.sleep(0.1)
                result["written_at"] = time.perf_counter()
                b.send(b"x")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(queue.run)
                nursery.start_soon(waiter)
                nursery.start_soon(sleeper)
                nursery.start_soon(reader_of_other_descriptor)
                writer = threading.Thread(target=write_later)
                writer.start()
                await trio.testing.wait_all_tasks_blocked()
                before = counter.passes
                assert await queue.read_on_ticks(read, now() + 0.001)
                result["passes"] = counter.passes - before
                result["reads"] = len(reads)
                writer.join()
                await trio.sleep(0.02)
                nursery.cancel_scope.cancel()

    trio.run(main, instruments=[counter])
    assert result["reads"] == 150
    assert result["woken_late_s"] < 0.003
    assert result["sleep_late_s"] < 0.003  # Trio's own wait is whole milliseconds
    assert result["descriptor_late_s"] < 0.002
    if hold:
        assert result["passes"] < 0.5 * result["reads"]
    else:
        assert result["passes"] >= 0.9 * result["reads"]


@pytest.mark.parametrize("hold", [True, False])
def test_a_holding_queue_reads_a_sparse_socket_as_soon_as_it_is_readable_in_its_own_epoll(
    timerfd_in_queues: types.ModuleType, hold: bool
) -> None:
    """``TimerQueue.read_when_readable``: a holding queue watches the socket beside its
    timerfd, so a datagram that comes between ticks ends the queue's own sleep and is read at
    once, in the queue's task, without a pass of Trio's loop; the reader's task stays parked
    until the queue hands the socket back (READ_NO_MORE). During a wake-up its timer ended,
    the queue says the watched socket was empty (``watched_socket_empty``: the pacing's drain
    skips its read). A queue that does not hold declines at once: the caller waits for the
    socket itself."""
    datagrams = 60
    counter = PassCounter()
    result: dict[str, object] = {}

    async def main() -> None:
        queue, now = _client_queue(hold)
        # A pacing-like timer every 2 ms, run in the queue's task (Parker.on_timer): the
        # queue has ticks to sleep to between the datagrams, as a client at a low rate has.
        pacing = Parker(queue)
        watched_empty: list[bool] = []

        def on_pacing() -> float:
            watched_empty.append(queue.watched_socket_empty())
            return now() + 0.002

        pacing.on_timer = on_pacing
        latencies_s: list[float] = []
        reader_tasks: set[trio.lowlevel.Task] = set()
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with receiver, sender:
            receiver.bind(("127.0.0.1", 0))
            receiver.setblocking(False)

            def read() -> float:
                reader_tasks.add(trio.lowlevel.current_task())
                while True:
                    try:
                        data = receiver.recv(64)
                    except BlockingIOError:
                        break
                    latencies_s.append(time.perf_counter() - float(data))
                if len(latencies_s) >= datagrams:
                    return timers_module.READ_NO_MORE
                return timers_module.READ_WHEN_READABLE

            def send_sparse() -> None:
                for _ in range(datagrams):
                    time.sleep(0.003)  # between the ticks, a datagram at a time
                    sender.sendto(repr(time.perf_counter()).encode(), receiver.getsockname())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(queue.run)
                nursery.start_soon(pacing.park, now() + 0.002)
                await trio.testing.wait_all_tasks_blocked()
                if not hold:
                    result["accepted"] = await queue.read_when_readable(read, receiver.fileno())
                    nursery.cancel_scope.cancel()
                    return
                thread = threading.Thread(target=send_sparse)
                before = counter.passes
                started_at_s = now()
                thread.start()
                result["accepted"] = await queue.read_when_readable(read, receiver.fileno())
                result["passes"] = counter.passes - before
                result["elapsed_s"] = now() - started_at_s
                thread.join()
                result["reader_tasks"] = reader_tasks
                result["queue_task"] = queue._task
                result["watched_empty"] = watched_empty.count(True) / len(watched_empty)
                result["empty_outside_wake_up"] = queue.watched_socket_empty()
                # Handed back: the socket is no longer watched, the queue goes on ticking.
                assert queue._watch_fd == -1
                sender.sendto(repr(time.perf_counter()).encode(), receiver.getsockname())
                await trio.sleep(0.01)
                result["read_after"] = len(latencies_s) - datagrams
                nursery.cancel_scope.cancel()
        result["latencies_s"] = sorted(latencies_s)

    trio.run(main, instruments=[counter])
    if not hold:
        assert result["accepted"] is False
        return
    assert result["accepted"] is True
    latencies_s = result["latencies_s"]
    assert isinstance(latencies_s, list)
    assert len(latencies_s) == datagrams
    # Read when it came, not at the next tick or a pacing's (up to 2 ms on, half a tick on
    # average): loopback's latency and one wake-up, some 20 µs here.
    assert latencies_s[datagrams // 2] < 0.00025
    assert latencies_s[int(datagrams * 0.9)] < 0.001
    assert result["reader_tasks"] == {result["queue_task"]}
    # Through Trio's loop each datagram and tick is a pass (some 120 in 180 ms here); held,
    # only a yield every _HOLD_MAX_S (a pass, and the zero-timeout one after it) and the
    # hand-overs (56 here).
    passes_seen = result["passes"]
    elapsed_s = result["elapsed_s"]
    assert isinstance(passes_seen, int)
    assert isinstance(elapsed_s, float)
    assert passes_seen <= 2 * elapsed_s / timers_module._HOLD_MAX_S + 10
    assert result["read_after"] == 0
    # The pacing ran on its timer's wake-ups; in most of them (0.9-1.0 here) the epoll had
    # just found the socket empty (a datagram every 3 ms, this wake-up's or after it).
    watched_empty = result["watched_empty"]
    assert isinstance(watched_empty, float)
    assert watched_empty > 0.6
    assert result["empty_outside_wake_up"] is False


def test_a_sleep_ended_by_the_watched_socket_sleeps_again_to_its_tick_without_rearming(
    timerfd_in_queues: types.ModuleType,
) -> None:
    """``TickSleep`` arms its timerfd only for a new time: after a datagram ended a sleep,
    the next sleep to the same tick makes no system call for it (three a call at 250 calls/s)
    and still ends at that tick; once it passed, a sleep to it returns at once (the timerfd
    stays readable), and a later tick arms it again."""
    arms: list[float] = []

    async def main() -> None:
        tick = TickSleep(run_clock())
        assert tick.uses_timerfd
        arm = tick._arm
        assert arm is not None

        def counting_arm(fd: int, monotonic_s: float) -> None:
            arms.append(monotonic_s)
            arm(fd, monotonic_s)

        tick._arm = counting_arm
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with receiver, sender:
            receiver.bind(("127.0.0.1", 0))
            receiver.setblocking(False)
            assert tick.watch(receiver.fileno())
            deadline_s = trio.current_time() + 0.05
            sender.sendto(b"x", receiver.getsockname())
            assert tick.block_until(deadline_s) == timers_module.WOKE_READABLE  # long before
            assert trio.current_time() < deadline_s
            receiver.recv(8)
            assert tick.watch(receiver.fileno())
            assert tick.block_until(deadline_s) == 0  # the tick, armed once
            assert trio.current_time() >= deadline_s
            assert tick.watching  # the socket's readiness, not taken
            assert len(arms) == 1
            assert tick.block_until(deadline_s) == 0  # passed: at once, no arming
            assert len(arms) == 1
            later_s = trio.current_time() + 0.01
            assert tick.block_until(later_s) == 0
            assert trio.current_time() >= later_s
            assert len(arms) == 2
        tick.close()

    trio.run(main)


def test_a_holding_clients_timer_queue_reads_its_sparse_answers_and_its_loop_stays_parked(
    timerfd_in_queues: types.ModuleType, tmp_path: pathlib.Path
) -> None:
    """A client alone in its Trio loop (``RunPlan.holds_loop``) at a low rate, on a real UDP
    socket against gossipper's uas in another process: every call succeeds, the answers are
    read by the timer queue's task (the receive loop's task hands its socket over once and
    stays parked: 2-3 steps in the run, 179 without the watch). Here the passes of Trio's loop
    came to 109 against 252 without it; they depend on the run's wall time (a yield every
    _HOLD_MAX_S), so the queue's own test above bounds them."""
    calls = 60
    port = free_udp_port()
    uas = start(
        gossipper_command(
            "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-m", str(calls), "-nostdin",
        ),
        tmp_path,
    )  # fmt: skip
    steps: collections.Counter[str] = collections.Counter()

    class Steps(trio.abc.Instrument):
        def after_task_step(self, task: trio.lowlevel.Task) -> None:
            steps[task.name] += 1

    async def main() -> tuple[int, int, bool]:
        plan = RunPlan(
            scenario=builtin("uac"),
            config=RunConfig(
                local_ip="127.0.0.1", local_port=0, nostdin=True, rate=200.0, max_calls=calls
            ),
            transports=UdpTransportFactory(),
            wall_clock=SystemWallClock(),
            local_ip="127.0.0.1",
            bind_host="127.0.0.1",
            remote=("127.0.0.1", port),
            pid=1,
            seed=1,
            traces=False,
            timer_resolution_s=0.001,
            holds_loop=True,
        )
        async with open_run(plan) as run:
            result = await run.run()
            holds = run.engine.timers.hold_ticks
        cumulative = result.snapshot.cumulative
        return cumulative.successful_calls, cumulative.failed_calls, holds

    try:
        wait_for_udp_listener(port, uas)
        successful, failed, holds = trio.run(main, instruments=[Steps()])
    finally:
        rc, _, err = finish(uas)
    assert rc == 0, err[-2000:]
    assert (successful, failed, holds) == (calls, 0, True)
    loop_steps = sum(n for name, n in steps.items() if "_receive_loop" in name)
    assert loop_steps <= 5  # its first read, the hand-over, the end of the run
