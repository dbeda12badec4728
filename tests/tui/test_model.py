"""The TUI's history: samples per second, percentiles from histogram differences, charts."""

from __future__ import annotations

import pytest

from gossipper.stats.counters import FailureReason, RunStats, StatsWindow
from gossipper.tui.model import (
    GLYPHS_UNICODE,
    History,
    chart_lines,
    columns_of,
    percentiles_of,
)


def _stats() -> RunStats:
    return RunStats(
        elements=[],
        rtd_names=["1", "2"],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=1000.0,
        start_mono=0.0,
        target_rate=10.0,
    )


def _second(stats: RunStats, window: StatsWindow, history: History, now: float) -> None:
    history.add(stats.snapshot(1000.0 + now, now, window, restart=True))


def test_each_sample_has_the_percentiles_of_its_own_second() -> None:
    stats = _stats()
    window = stats.open_window()
    history = History()
    for _ in range(100):
        stats.rtd_sample(0, 0.010, 0.5)
    _second(stats, window, history, 1.0)
    for _ in range(100):
        stats.rtd_sample(0, 0.050, 1.5)
    _second(stats, window, history, 2.0)

    first, second = history.samples
    assert first.percentiles(0) is not None and second.percentiles(0) is not None
    assert first.percentiles(0).p99_ms == pytest.approx(10.0, rel=0.005)  # type: ignore[union-attr]
    figures = second.percentiles(0)
    assert figures is not None and figures.count == 100
    assert figures.p50_ms == pytest.approx(50.0, rel=0.005)
    # RTD 2 had no measure at all.
    assert second.percentiles(1) is None
    # Over both seconds the buckets merge exactly: half at 10 ms, half at 50 ms.
    both = history.percentiles(0, 60)
    assert both is not None and both.count == 200
    assert both.p50_ms == pytest.approx(10.0, rel=0.005)
    assert both.p90_ms == pytest.approx(50.0, rel=0.005)
    assert both.max_ms == pytest.approx(50.0, rel=0.01)
    last_second = history.percentiles(0, 1)
    assert last_second is not None and last_second.p50_ms == pytest.approx(50.0, rel=0.005)
    run = history.run_percentiles(0)
    assert run is not None and run.count == 200


def test_reset_stats_starts_the_differences_again() -> None:
    stats = _stats()
    window = stats.open_window()
    history = History()
    for _ in range(10):
        stats.rtd_sample(0, 0.020, 0.5)
    _second(stats, window, history, 1.0)
    stats.reset_cumulative(1001.5, 1.5)
    for _ in range(3):
        stats.rtd_sample(0, 0.030, 1.7)
    _second(stats, window, history, 2.0)
    figures = history.samples[-1].percentiles(0)
    assert figures is not None and figures.count == 3
    assert figures.p50_ms == pytest.approx(30.0, rel=0.005)


def test_rates_failures_and_open_calls_per_period() -> None:
    stats = _stats()
    window = stats.open_window()
    history = History()
    for _ in range(20):
        stats.call_created(0.2, incoming=False)
    for _ in range(15):
        stats.call_ended(0.4, 0.1, None)
    stats.call_ended(0.4, 0.1, FailureReason.TIMEOUT_ON_RECV)
    stats.call_ended(0.4, 0.1, FailureReason.CALL_REJECTED)
    stats.call_ended(0.4, 0.1, FailureReason.CALL_REJECTED)
    _second(stats, window, history, 0.5)
    sample = history.samples[-1]
    assert sample.period_s == pytest.approx(0.5)
    assert sample.call_rate_cps == pytest.approx(40.0)
    assert sample.failure_rate_cps == pytest.approx(6.0)
    assert (sample.calls_created, sample.successful, sample.failed) == (20, 15, 3)
    assert sample.open_calls == 2
    assert history.failure_table(60) == [("CallRejected", 2, 2), ("TimeoutOnRecv", 1, 1)]
    # A second without failures: the minute still counts them.
    _second(stats, window, history, 1.5)
    assert history.samples[-1].failed == 0
    assert history.failure_table(1) == [("CallRejected", 0, 2), ("TimeoutOnRecv", 0, 1)]


def test_history_is_bounded() -> None:
    stats = _stats()
    window = stats.open_window()
    history = History(capacity=5)
    for second in range(1, 9):
        _second(stats, window, history, float(second))
    assert len(history.samples) == 5
    assert [round(s.elapsed_s) for s in history.samples] == [4, 5, 6, 7, 8]
    assert len(history.recent(3)) == 3 and len(history.recent(60)) == 5
    assert history.recent(0) == []


def test_percentiles_of_nothing() -> None:
    assert percentiles_of([]) is None
    assert percentiles_of([{}, {}]) is None


def test_chart_lines_scale_pad_and_cut() -> None:
    full = GLYPHS_UNICODE[8]
    assert chart_lines([0.0, 4.0, 8.0], 5, 2) == ["    " + full, "   " + full * 2]
    # Too many values: the newest fill the width.
    assert chart_lines([8.0, 0.0, 0.0, 8.0], 2, 1) == [" " + full]
    # A trickle never disappears: at least one eighth.
    assert chart_lines([100.0, 0.1], 2, 1) == [full + GLYPHS_UNICODE[1]]
    # A fixed top scales against it.
    assert chart_lines([5.0], 1, 1, top=10.0) == [GLYPHS_UNICODE[4]]
    assert chart_lines([1.0], 0, 3) == [] and chart_lines([1.0], 3, 0) == []
    assert chart_lines([], 3, 1) == ["   "]


def test_columns_group_the_newest_seconds_together() -> None:
    stats = _stats()
    window = stats.open_window()
    history = History()
    for second in range(1, 8):
        _second(stats, window, history, float(second))
    groups = columns_of(list(history.samples), 3)
    assert [[round(s.elapsed_s) for s in group] for group in groups] == [[1], [2, 3, 4], [5, 6, 7]]
    assert len(columns_of(list(history.samples), 1)) == 7
