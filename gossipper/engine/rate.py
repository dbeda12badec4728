"""Call pacing as pure arithmetic (docs/sipp-behaviour.md, "Call generation").

The pacing task asks "how many calls should have been started by now?" instead of sleeping a
fixed gap per call, so sleeping late never loses calls and rate changes are exact: each change
restarts the count from the moment it happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gossipper.segment import ExecutionSegment


@dataclass(slots=True)
class RateState:
    """Pacing state since the last rate change."""

    rate: float
    """Calls per rate period."""
    period_s: float
    changed_at_s: float
    """Monotonic time of the last rate change."""
    started_since_change: int = 0
    counted_late: int = 0
    """Calls since the change already counted as started late (see ``count_late``)."""
    segment: ExecutionSegment | None = None
    """-segment: ``rate`` is the whole test's, and this process starts only the calls its
    segment owns, each at the instant the whole test would start it (gossipper.segment)."""
    whole_before_change: int = 0
    """-segment: the whole test's calls due before the last rate change."""

    def _whole_due(self, now_s: float) -> int:
        return math.floor((now_s - self.changed_at_s) * self.rate / self.period_s + 1e-9)

    def calls_due(self, now_s: float) -> int:
        """Calls that should be started now to be on schedule (never negative)."""
        if self.rate <= 0:
            return 0
        expected = self._whole_due(now_s)
        segment = self.segment
        if segment is not None:
            base = self.whole_before_change
            expected = segment.count_upto(base + expected) - segment.count_upto(base)
        return max(0, expected - self.started_since_change)

    def next_due_s(self) -> float:
        """When the next call falls due."""
        if self.rate <= 0:
            return math.inf
        position = self.started_since_change + 1
        segment = self.segment
        if segment is not None:
            # The whole-test number of this segment's next call, counted from the change.
            base = self.whole_before_change
            position = segment.nth(segment.count_upto(base) + position) - base
        return self.changed_at_s + position * self.period_s / self.rate

    def change_rate(self, rate: float, now_s: float) -> None:
        if self.segment is not None and self.rate > 0:
            # The whole test restarts its count here too; its call numbers go on from the
            # calls due so far, and so does the stripe.
            self.whole_before_change += max(0, self._whole_due(now_s))
        self.rate = max(0.0, rate)
        self.changed_at_s = now_s
        self.started_since_change = 0
        self.counted_late = 0

    def calls_per_tick(self, tick_s: float) -> int:
        """``tick_s`` worth of calls at the current rate (at least 1). With -segment this is
        the whole test's rate: an upper bound for this process's share (the burst cap of the
        overload guard is looser there, never tighter)."""
        return max(1, math.ceil(self.rate * tick_s / self.period_s - 1e-9))

    def count_late(self, left: int) -> int:
        """``left`` due calls were held back in this run: how many of them were not counted
        as late before (each held-back call is counted once, however many runs it waits)."""
        expected = self.started_since_change + left
        first = max(self.counted_late, self.started_since_change)
        self.counted_late = max(self.counted_late, expected)
        return max(0, expected - first)


def default_open_call_limit(
    rate: float, period_s: float, duration_ms: int, pause_default_ms: int
) -> int:
    """SIPp's default ``-l``: 3 x rate x max(scenario duration, -d, 1 s) / rate period."""
    duration_s = max(duration_ms, pause_default_ms, 1000) / 1000.0
    return max(1, int(3 * rate * duration_s / period_s))
