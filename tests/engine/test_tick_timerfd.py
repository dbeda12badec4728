"""The server's tick on a timerfd (gossipper/engine/_timerfd.c and ``timers.TickSleep``).

The C accelerator is built here from its source, so both test sessions check it; ``TickSleep``
is checked as the installed package has it (with the accelerator in the compiled session, on
Trio's cancel scopes in the pure one) and with the accelerator put in its place.
"""

from __future__ import annotations

import os
import select
import sys
import time
import types

import pytest
import trio
import trio.testing

import gossipper.engine.call
import gossipper.engine.timers as timers_module
from gossipper.engine.timers import SystemTime, TickSleep, run_clock
from tests.c_extension import build_c_extension, c_source

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")

SOURCE = c_source(timers_module.__file__, "_timerfd.c")
COMPILED_BUILD = gossipper.engine.call.__file__.endswith(".so")


@pytest.fixture(scope="module")
def timerfd(tmp_path_factory: pytest.TempPathFactory) -> types.ModuleType:
    """The accelerator built from its source now (a failure in CI, a skip without a compiler)."""
    return build_c_extension(SOURCE, tmp_path_factory)


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
    timerfd: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not COMPILED_BUILD:  # the pure install has no accelerator: put the one built here
        monkeypatch.setattr(timers_module, "_C_TIMERFD", (timerfd.tick_timer, timerfd.tick_arm))
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
