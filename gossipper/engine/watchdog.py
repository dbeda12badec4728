"""SIPp's watchdog as a monitor of the Trio event loop's lag (``-watchdog_*`` options).

A task asks to wake every ``-watchdog_interval``. When the loop is busy (a long action, a
burst of messages, the garbage collector, a starved CPU) it wakes late; the gap since its
previous check is what SIPp measures too:

- a gap above ``-watchdog_major_threshold`` is a major trip, else one above
  ``-watchdog_minor_threshold`` a minor trip: counted (``watchdog_major``/``watchdog_minor`` of
  the statistics files and the summary), and a warning like SIPp's;
- more trips than ``-watchdog_major_maxtriggers`` (or the minor one) end the run as a fatal
  error (exit code 255) with SIPp's "Overload error" line; -1 means no limit;
- ``-watchdog_reset`` after the last trip without a new one, both counts start again.

The decisions are in :meth:`Watchdog.check`, a function of the time it is given, so tests drive
it with a clock of their own; :meth:`Watchdog.run` is the Trio task. Under the simulation's
virtual clock a task is never late, so the watchdog never trips there. The most recent lag
(:attr:`Watchdog.lag_s`) is what the pacing task reads to hold back new calls.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from gossipper.config import ProcessSettings
from gossipper.stats import RunStats

__all__ = ["Watchdog"]


class Watchdog:
    """The trip counters and their limits; ``check(now_s)`` once per interval."""

    __slots__ = (
        "_fatal",
        "_stats",
        "_warning",
        "interval_s",
        "last_fire_s",
        "last_trigger_s",
        "lag_s",
        "major_maxtriggers",
        "major_threshold_s",
        "major_triggers",
        "minor_maxtriggers",
        "minor_threshold_s",
        "minor_triggers",
        "reset_s",
        "stopped",
        "tripped",
    )

    def __init__(
        self,
        settings: ProcessSettings,
        *,
        stats: RunStats,
        warning: Callable[[str], None],
        fatal: Callable[[str], None],
        now_s: float,
    ) -> None:
        self.interval_s = settings.watchdog_interval_s
        self.reset_s = settings.watchdog_reset_s
        self.minor_threshold_s = settings.watchdog_minor_threshold_s
        self.major_threshold_s = settings.watchdog_major_threshold_s
        self.minor_maxtriggers = settings.watchdog_minor_maxtriggers
        self.major_maxtriggers = settings.watchdog_major_maxtriggers
        self._stats = stats
        self._warning = warning
        self._fatal = fatal
        self.minor_triggers = 0
        self.major_triggers = 0
        self.last_fire_s = now_s
        self.last_trigger_s = now_s
        self.lag_s = 0.0
        """How late the last check ran (its gap minus the interval; never negative)."""
        self.stopped = False
        """True once the trips exceeded a limit (the run is ending)."""
        self.tripped = False
        """Whether the last check was a trip (minor or major)."""

    def overloaded(self, now_s: float) -> bool:
        """Is the event loop lagging now? Yes when the last check was a trip, or when the
        next one is already overdue by more than the minor threshold allows (the loop has not
        let this task run: so a task that wakes before it after a stall still knows)."""
        return self.tripped or now_s - self.last_fire_s > self.minor_threshold_s

    def check(self, now_s: float) -> None:
        """One watchdog run at ``now_s``, in SIPp's order: count a trip, end the run past a
        limit, forget old trips, remember this run."""
        gap_s = now_s - self.last_fire_s
        gap_ms = _ms(gap_s)
        self.lag_s = max(0.0, gap_s - self.interval_s)
        self.tripped = gap_s > self.minor_threshold_s
        stats = self._stats
        if gap_s > self.major_threshold_s:
            self.major_triggers += 1
            stats.watchdog_major += 1
            self.last_trigger_s = now_s
            self._warning(
                f"Overload warning: the major watchdog timer {_ms(self.major_threshold_s)}ms has"
                f" been tripped ({gap_ms}), {self.major_maxtriggers - self.major_triggers} trips"
                " remaining."
            )
        elif gap_s > self.minor_threshold_s:
            self.minor_triggers += 1
            stats.watchdog_minor += 1
            self.last_trigger_s = now_s
            self._warning(
                f"Overload warning: the minor watchdog timer {_ms(self.minor_threshold_s)}ms has"
                f" been tripped ({gap_ms}), {self.minor_maxtriggers - self.minor_triggers} trips"
                " remaining."
            )
        major_ms = _ms(self.major_threshold_s)
        minor_ms = _ms(self.minor_threshold_s)
        if 0 <= self.major_maxtriggers < self.major_triggers:
            self.stopped = True
            self._fatal(
                "Overload error: the watchdog timer has tripped the major threshold of"
                f" {major_ms}ms too many times ({self.major_triggers} out of"
                f" {self.major_maxtriggers} allowed) ({self.minor_triggers} out of"
                f" {self.minor_maxtriggers} minor {minor_ms}ms timeouts tripped)"
            )
        elif 0 <= self.minor_maxtriggers < self.minor_triggers:
            self.stopped = True
            self._fatal(
                "Overload error: the watchdog timer has tripped the minor threshold of"
                f" {minor_ms}ms too many times ({self.minor_triggers} out of"
                f" {self.minor_maxtriggers} allowed) ({self.major_triggers} out of"
                f" {self.major_maxtriggers} major {major_ms}ms timeouts tripped)"
            )
        if (
            self.reset_s > 0
            and (self.major_triggers or self.minor_triggers)
            and now_s > self.last_trigger_s + self.reset_s
        ):
            self._warning(
                "Resetting watchdog timer trigger counts, as it has not been triggered in over"
                f" {_ms(now_s - self.last_trigger_s)}ms."
            )
            self.major_triggers = 0
            self.minor_triggers = 0
        self.last_fire_s = now_s

    async def run(self) -> None:
        """Check every interval until a limit is exceeded (or the run's nursery ends)."""
        while not self.stopped:
            await trio.sleep_until(self.last_fire_s + self.interval_s)
            self.check(trio.current_time())


def _ms(seconds: float) -> int:
    """Whole milliseconds, as SIPp's clock_tick counts them."""
    return int(round(seconds * 1000))
