"""What the TUI remembers of a run: one sample per second, kept for the last minutes.

Pure: no urwid, no Trio, no clock. The app feeds :meth:`History.add` a snapshot of its own
statistics window (``engine.snapshot(window, restart=True)``) once per second; the periodic
counters of that snapshot cover exactly the second since the previous one. Response-time
percentiles per second come from the difference of two cumulative histograms (the mergeable
:class:`~gossipper.stats.histogram.Histogram` of each RTD), so the figures of any span of the
history are exact merges of buckets, not averages of percentiles.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gossipper.stats.counters import FAILURE_REASONS, StatsSnapshot
from gossipper.stats.histogram import Histogram, bucket_bounds

__all__ = [
    "HISTORY_S",
    "History",
    "Percentiles",
    "Sample",
    "bucket_delta",
    "chart_lines",
    "percentiles_of",
]

HISTORY_S = 600
"""Samples kept (one per second): the last ten minutes."""

QUANTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Response-time percentiles (ms) of ``count`` measures."""

    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True)
class Sample:
    """One period (about a second) of a run."""

    elapsed_s: float
    """Seconds since the run started, at the end of the period."""
    period_s: float
    calls_created: int
    successful: int
    failed: int
    retransmissions: int
    open_calls: int
    failures: tuple[int, ...]
    """Failed calls of the period by reason, indexed like ``FAILURE_REASONS``."""
    rtd_buckets: tuple[Mapping[int, int], ...]
    """Per RTD, the histogram buckets of the measures taken in the period."""
    rtd_percentiles: tuple[Percentiles | None, ...] = ()
    """Per RTD, the period's percentiles (computed once, when the sample is taken)."""

    @property
    def call_rate_cps(self) -> float:
        """Calls created per second in the period."""
        return self.calls_created / self.period_s if self.period_s > 0 else 0.0

    @property
    def failure_rate_cps(self) -> float:
        """Failed calls per second in the period."""
        return self.failed / self.period_s if self.period_s > 0 else 0.0

    def percentiles(self, rtd_index: int) -> Percentiles | None:
        """The period's percentiles of RTD ``rtd_index``; None without measures."""
        if rtd_index >= len(self.rtd_percentiles):
            return None
        return self.rtd_percentiles[rtd_index]


def bucket_delta(now: Histogram, before: Histogram | None) -> dict[int, int]:
    """The buckets of the values ``now`` holds and ``before`` did not (both cumulative copies
    of one histogram). A histogram that shrank was cleared (``reset stats``): all of it is new."""
    if before is None or now.count < before.count:
        return dict(now.buckets)
    old = before.buckets
    return {
        index: n - old.get(index, 0) for index, n in now.buckets.items() if n != old.get(index, 0)
    }


def percentiles_of(spans: Iterable[Mapping[int, int]]) -> Percentiles | None:
    """p50/p90/p99 and the largest value of the merged buckets, or None when they are empty.

    A value is the midpoint of its bucket (within 0.4 % of every value in it), as
    ``Histogram.quantile`` reports it; the largest is its bucket's upper bound.
    """
    merged: dict[int, int] = {}
    for buckets in spans:
        for index, n in buckets.items():
            merged[index] = merged.get(index, 0) + n
    count = sum(merged.values())
    if count <= 0:
        return None
    order = sorted(merged)
    values_ms: list[float] = []
    for q in QUANTILES:
        rank = max(1, math.ceil(q * count))
        seen = 0
        for index in order:
            seen += merged[index]
            if seen >= rank:
                values_ms.append(_midpoint_ms(index))
                break
    low, high = bucket_bounds(order[-1])
    max_ms = (low if high - low == 1 else high - 1) / 1e6
    return Percentiles(count, values_ms[0], values_ms[1], values_ms[2], max_ms)


def _midpoint_ms(index: int) -> float:
    low, high = bucket_bounds(index)
    return (low if high - low == 1 else (low + high) / 2) / 1e6


class History:
    """The samples of the last ``capacity`` periods, oldest first."""

    def __init__(self, capacity: int = HISTORY_S) -> None:
        self.samples: collections.deque[Sample] = collections.deque(maxlen=capacity)
        self._previous_histograms: tuple[Histogram, ...] = ()
        self.last: StatsSnapshot | None = None
        """The latest snapshot (cumulative figures for the tables)."""

    def add(self, snapshot: StatsSnapshot) -> Sample:
        """Record one period: ``snapshot`` is of the app's own window, taken with a restart."""
        periodic = snapshot.periodic
        previous = self._previous_histograms
        rtd_buckets = tuple(
            bucket_delta(histogram, previous[i] if i < len(previous) else None)
            for i, histogram in enumerate(snapshot.rtd_histograms)
        )
        self._previous_histograms = snapshot.rtd_histograms
        sample = Sample(
            elapsed_s=snapshot.elapsed_s,
            period_s=max(0.0, snapshot.now_mono - snapshot.period_start_mono),
            calls_created=periodic.total_calls,
            successful=periodic.successful_calls,
            failed=periodic.failed_calls,
            retransmissions=periodic.retransmissions,
            open_calls=snapshot.current_calls,
            failures=periodic.failures,
            rtd_buckets=rtd_buckets,
            rtd_percentiles=tuple(percentiles_of([buckets]) for buckets in rtd_buckets),
        )
        self.samples.append(sample)
        self.last = snapshot
        return sample

    def recent(self, seconds: int) -> list[Sample]:
        """The samples of the last ``seconds`` periods (fewer at the start of a run)."""
        if seconds <= 0:
            return []
        samples = self.samples
        return list(samples)[-seconds:] if len(samples) > seconds else list(samples)

    def percentiles(self, rtd_index: int, seconds: int) -> Percentiles | None:
        """Percentiles of RTD ``rtd_index`` over the last ``seconds`` periods."""
        return percentiles_of(
            sample.rtd_buckets[rtd_index]
            for sample in self.recent(seconds)
            if rtd_index < len(sample.rtd_buckets)
        )

    def run_percentiles(self, rtd_index: int) -> Percentiles | None:
        """Percentiles of RTD ``rtd_index`` over the whole run (since ``reset stats``)."""
        last = self.last
        if last is None or rtd_index >= len(last.rtd_histograms):
            return None
        return percentiles_of([last.rtd_histograms[rtd_index].buckets])

    def failure_table(self, seconds: int) -> list[tuple[str, int, int]]:
        """(reason, failed in the last ``seconds``, failed in the run) for every reason with a
        failure, most frequent in the run first; the reason without SIPp's ``Failed`` prefix."""
        recent = [0] * len(FAILURE_REASONS)
        for sample in self.recent(seconds):
            for i, n in enumerate(sample.failures):
                recent[i] += n
        total = self.last.cumulative.failures if self.last is not None else (0,) * len(recent)
        rows = [
            (reason.value.removeprefix("Failed"), recent[i], total[i])
            for i, reason in enumerate(FAILURE_REASONS)
            if recent[i] or total[i]
        ]
        rows.sort(key=lambda row: (-row[2], -row[1], row[0]))
        return rows


GLYPHS_UNICODE = " ▁▂▃▄▅▆▇█"
GLYPHS_ASCII = " ..::||##"
"""Nine glyphs each: a cell empty, filled by one eighth, ..., full."""


def chart_lines(
    values: Sequence[float],
    width: int,
    height: int,
    *,
    glyphs: str = GLYPHS_UNICODE,
    top: float | None = None,
) -> list[str]:
    """A bar chart of ``values`` (oldest first) in ``height`` lines of ``width`` characters:
    one column per value, the newest at the right, the oldest cut when they do not fit.

    Bars are scaled to ``top`` (default: the largest value shown); a bar above zero shows at
    least one eighth, so a trickle of failures is never invisible.
    """
    if width <= 0 or height <= 0:
        return []
    shown = list(values)[-width:]
    scale = top if top is not None and top > 0 else max(shown, default=0.0)
    eighths: list[int] = []
    for value in shown:
        if value <= 0 or scale <= 0:
            eighths.append(0)
        else:
            eighths.append(max(1, min(height * 8, round(value / scale * height * 8))))
    pad = width - len(eighths)
    lines = []
    for row in range(height):
        floor = (height - 1 - row) * 8
        cells = [glyphs[max(0, min(8, level - floor))] for level in eighths]
        lines.append(" " * pad + "".join(cells))
    return lines


def columns_of(samples: Sequence[Sample], seconds_per_column: int) -> list[list[Sample]]:
    """``samples`` grouped ``seconds_per_column`` at a time, the newest group complete (its
    newest sample is the newest of all); the oldest group may be short."""
    step = max(1, seconds_per_column)
    groups: list[list[Sample]] = []
    end = len(samples)
    while end > 0:
        groups.append(list(samples[max(0, end - step) : end]))
        end -= step
    groups.reverse()
    return groups
