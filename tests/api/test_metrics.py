"""The Prometheus buckets made from our mergeable histograms."""

from __future__ import annotations

from gossipper.api.metrics import LATENCY_BUCKETS_S, prometheus_buckets
from gossipper.stats.histogram import Histogram


def test_buckets_are_cumulative_and_end_with_the_count() -> None:
    histogram = Histogram()
    values_s = [0.0004, 0.0009, 0.003, 0.003, 0.02, 0.7, 4.0, 100.0]
    for value in values_s:
        histogram.add(value)
    pairs = prometheus_buckets(histogram)
    assert [le for le, _ in pairs] == [repr(b) for b in LATENCY_BUCKETS_S] + ["+Inf"]
    expected = [float(sum(v <= bound for v in values_s)) for bound in LATENCY_BUCKETS_S]
    assert [count for _, count in pairs[:-1]] == expected
    assert pairs[-1] == ("+Inf", 8.0)


def test_a_value_on_a_bound_counts_below_it() -> None:
    histogram = Histogram()
    histogram.add(0.1)
    counts = dict(prometheus_buckets(histogram))
    assert counts["0.1"] == 1.0
    assert counts["0.05"] == 0.0


def test_an_empty_histogram_has_zero_buckets() -> None:
    assert all(count == 0.0 for _, count in prometheus_buckets(Histogram()))
