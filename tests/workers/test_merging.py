"""Snapshots of several processes merge into what one process running all the calls shows."""

from __future__ import annotations

import random

import pytest

from gossipper.config import RunConfig
from gossipper.engine.elements import new_run_stats
from gossipper.scenario import builtin_path, load_scenario
from gossipper.stats import FailureReason, RunStats, StatsSnapshot
from gossipper.stats.merging import (
    merge_snapshots,
    snapshot_from_wire,
    snapshot_to_wire,
    with_failed_calls,
)


def _stats() -> RunStats:
    scenario = load_scenario(str(builtin_path("uac")), builtin_name="uac")
    return new_run_stats(scenario, RunConfig(), start_wall=1000.0, start_mono=10.0)


def _play(stats: RunStats, calls: list[tuple[float, float, bool]]) -> None:
    """Each call: (response time s, length s, failed)."""
    now = 10.0
    for rtd_s, length_s, failed in calls:
        now += 0.001
        stats.call_created(now, incoming=False)
        stats.rtd_sample(0, rtd_s, now)
        if failed:
            stats.call_ended(now + length_s, length_s, FailureReason.UNEXPECTED_MESSAGE)
        else:
            stats.call_ended(now + length_s, length_s, None)


def _snapshot(stats: RunStats) -> StatsSnapshot:
    return stats.snapshot(1010.0, 20.0, None)


def _calls(seed: int, count: int) -> list[tuple[float, float, bool]]:
    rng = random.Random(seed)
    return [
        (rng.uniform(0.0005, 0.2), rng.uniform(0.01, 3.0), rng.random() < 0.1) for _ in range(count)
    ]


def test_two_processes_merged_equal_one_process_running_all_calls() -> None:
    first, second = _calls(1, 300), _calls(2, 200)
    whole = _stats()
    _play(whole, first + second)
    part_a, part_b = _stats(), _stats()
    _play(part_a, first)
    _play(part_b, second)

    merged = merge_snapshots([_snapshot(part_a), _snapshot(part_b)])
    expected = _snapshot(whole)

    assert merged.cumulative == expected.cumulative
    assert merged.elements == expected.elements
    assert merged.call_length_histogram == expected.call_length_histogram
    assert merged.rtd_histograms == expected.rtd_histograms
    for q in (0.5, 0.9, 0.99):
        assert merged.rtd_histograms[0].quantile(q) == expected.rtd_histograms[0].quantile(q)
    assert merged.cumulative.failed_calls == sum(failed for _, _, failed in first + second)


def test_wire_form_round_trips_every_field() -> None:
    stats = _stats()
    _play(stats, _calls(3, 50))
    snapshot = _snapshot(stats)
    assert snapshot_from_wire(snapshot_to_wire(snapshot)) == snapshot


def test_merging_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        merge_snapshots([])


def test_a_dead_workers_open_calls_end_as_failed() -> None:
    stats = _stats()
    _play(stats, _calls(4, 20))
    for _ in range(3):
        stats.call_created(11.0, incoming=False)  # still open
    snapshot = _snapshot(stats)
    lost = with_failed_calls(snapshot, snapshot.current_calls)
    assert lost.current_calls == 0
    assert lost.cumulative.failed_calls == snapshot.cumulative.failed_calls + 3
    assert lost.cumulative.successful_calls == snapshot.cumulative.successful_calls


def test_every_scalar_counter_is_added_and_survives_the_wire() -> None:
    from gossipper.stats.counters import COUNTER_SCALARS, CounterValues, MeanStat
    from gossipper.stats.merging import merge_counter_values

    def values(base: int) -> CounterValues:
        return CounterValues(
            **{name: base + i for i, name in enumerate(COUNTER_SCALARS)},
            failures=(),
            generic_counters=(),
            rtd=(),
            call_length=MeanStat(0, 0, 0),
            rtd_repartition=(),
            call_length_repartition=(),
        )

    merged = merge_counter_values([values(1), values(100)])
    for i, name in enumerate(COUNTER_SCALARS):
        assert getattr(merged, name) == 101 + 2 * i, name
