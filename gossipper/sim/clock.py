"""Virtual time for the simulation: a wall clock pinned to an epoch, and a runner under MockClock.

Under ``trio.testing.MockClock(autojump_threshold=0)`` the clock jumps to the next deadline as
soon as every task is blocked, so a simulated hour takes as long as its work. No real socket or
thread may take part in such a run: the clock would jump while real I/O is pending.

``MockClock`` (like ``wait_all_tasks_blocked`` in sim/network.py) is imported from the trio
module that defines it, not through ``trio.testing``: that package also imports pytest when it
is installed (for ``RaisesGroup``), about 0.12 s of every ``gossipper sim``'s start-up here.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio
from trio._core._mock_clock import MockClock

from gossipper.errors import ConfigError

T = TypeVar("T")

DEFAULT_EPOCH_S = 1_700_000_000.0
"""Wall-clock time at virtual time 0 unless told otherwise (2023-11-14T22:13:20Z)."""


def _check_epoch(epoch: float) -> float:
    if not (isinstance(epoch, int | float) and math.isfinite(epoch) and epoch >= 0):
        raise ConfigError(f"sim epoch must be a finite, non-negative number of seconds: {epoch!r}")
    return float(epoch)


class SimWallClock:
    """``interfaces.WallClock`` for simulations: ``epoch + trio.current_time()``, local times
    printed in UTC (the same bytes on every machine)."""

    tz: datetime.tzinfo | None = datetime.UTC

    def __init__(self, epoch: float = DEFAULT_EPOCH_S) -> None:
        self.epoch = _check_epoch(epoch)

    def wall_time(self) -> float:
        """Seconds since the Unix epoch, in virtual time."""
        return self.epoch + trio.current_time()


def new_virtual_clock() -> MockClock:
    """The clock every simulation runs under: virtual time that jumps when all tasks block."""
    return MockClock(autojump_threshold=0)


def run_under_virtual_time(
    async_fn: Callable[..., Awaitable[T]], *args: object, epoch: float | None = None
) -> T:
    """``trio.run(async_fn, *args)`` under a fresh ``MockClock(autojump_threshold=0)``.

    Virtual time starts at 0. When ``epoch`` is given, ``async_fn`` also receives
    ``wall_clock=SimWallClock(epoch)`` as a keyword argument (as ``nursery.start`` passes
    ``task_status``), so output timestamps read ``epoch + virtual time``.
    """
    if epoch is None:
        return trio.run(async_fn, *args, clock=new_virtual_clock())
    wall_clock = SimWallClock(epoch)

    async def with_wall_clock() -> T:
        call: Callable[..., Awaitable[T]] = async_fn
        kwargs: dict[str, Any] = {"wall_clock": wall_clock}
        return await call(*args, **kwargs)

    return trio.run(with_wall_clock, clock=new_virtual_clock())
