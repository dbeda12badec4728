from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gossipper.errors import GossipperError
from gossipper.stats import Histogram
from gossipper.stats.histogram import bucket_bounds, bucket_index

values_ns = st.lists(st.integers(min_value=0, max_value=10**12), max_size=60)


def hist(values: list[int]) -> Histogram:
    h = Histogram()
    for v in values:
        h.add_ns(v)
    return h


@given(st.integers(min_value=0, max_value=2**62))
def test_every_value_falls_inside_its_bucket(value: int) -> None:
    low, high = bucket_bounds(bucket_index(value))
    assert low <= value < high
    # relative width at most 1/128 above the exact range
    assert high - low == 1 or (high - low) / low <= 1 / 128


def test_bucket_indexes_are_contiguous_and_ordered() -> None:
    previous_high = 0
    for index in range(0, 3000):
        low, high = bucket_bounds(index)
        assert low == previous_high
        assert bucket_index(low) == index and bucket_index(high - 1) == index
        previous_high = high


@given(values_ns, values_ns)
def test_merge_equals_recording_everything(a: list[int], b: list[int]) -> None:
    merged = hist(a)
    merged.merge(hist(b))
    assert merged == hist(a + b)


@given(values_ns, values_ns, values_ns)
def test_merge_is_associative_and_commutative(a: list[int], b: list[int], c: list[int]) -> None:
    left = hist(a)
    left.merge(hist(b))
    left.merge(hist(c))
    bc = hist(b)
    bc.merge(hist(c))
    right = hist(a)
    right.merge(bc)
    assert left == right
    ba = hist(b)
    ba.merge(hist(a))
    ab = hist(a)
    ab.merge(hist(b))
    assert ab == ba


@given(values_ns)
def test_empty_histogram_is_the_merge_identity(a: list[int]) -> None:
    h = hist(a)
    h.merge(Histogram())
    assert h == hist(a)
    e = Histogram()
    e.merge(hist(a))
    assert e == hist(a)


@given(values_ns)
def test_dict_round_trip_survives_json(a: list[int]) -> None:
    h = hist(a)
    again = Histogram.from_dict(json.loads(json.dumps(h.to_dict())))
    assert again == h
    assert again.count == len(a)


@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=200))
@settings(max_examples=50)
def test_exact_summary_values(a: list[int]) -> None:
    h = hist(a)
    assert h.count == len(a)
    assert h.min_ns == min(a) and h.max_ns == max(a)
    assert h.sum_ns == sum(a)
    assert h.mean_s == pytest.approx(sum(a) / len(a) / 1e9)
    mean = sum(a) / len(a)
    population = math.sqrt(sum((x - mean) ** 2 for x in a) / len(a)) / 1e9
    assert h.stddev_s == pytest.approx(population, rel=1e-9, abs=1e-15)


def test_quantiles_are_within_one_percent() -> None:
    rng = random.Random("stats:histogram:quantiles")
    samples = sorted(rng.lognormvariate(-4.0, 1.2) for _ in range(20000))
    h = Histogram()
    for s in samples:
        h.add(s)
    for q in (0.01, 0.25, 0.5, 0.9, 0.99, 0.999):
        exact = samples[max(1, math.ceil(q * len(samples))) - 1]
        assert h.quantile(q) == pytest.approx(exact, rel=0.01)
    assert h.quantile(0.0) == pytest.approx(samples[0], rel=0.01)
    assert h.quantile(1.0) == samples[-1] or h.quantile(1.0) == pytest.approx(samples[-1])


def test_small_values_are_exact_and_clamped() -> None:
    h = Histogram()
    for ns in (3, 3, 7, 200):
        h.add_ns(ns)
    assert h.quantile(0.5) == 3e-9
    assert h.quantile(1.0) == 200e-9
    single = Histogram()
    single.add(0.123456)
    for q in (0.0, 0.5, 1.0):
        assert single.quantile(q) == 0.123456


def test_empty_and_invalid_queries() -> None:
    h = Histogram()
    assert (h.quantile(0.5), h.mean_s, h.stddev_s, h.min_s, h.max_s) == (0.0, 0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        h.quantile(1.5)


def test_negative_values_count_as_zero_and_seconds_round_to_ns() -> None:
    h = Histogram()
    h.add(-1.0)
    h.add(0.0000000014)
    assert (h.min_ns, h.max_ns, h.count) == (0, 1, 2)


def test_copy_and_clear() -> None:
    h = hist([1, 2, 3000])
    c = h.copy()
    h.clear()
    assert h == Histogram() and c.count == 3


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"unit": "us", "sub_bucket_bits": 7},
        {
            "unit": "ns",
            "sub_bucket_bits": 7,
            "count": 2,
            "min": 1,
            "max": 1,
            "sum": 2,
            "sum_sq": 2,
            "buckets": [[1, 1]],
        },
        {
            "unit": "ns",
            "sub_bucket_bits": 7,
            "count": 1,
            "min": 1,
            "max": 1,
            "sum": 1,
            "sum_sq": 1,
            "buckets": [[1, -1]],
        },
        {
            "unit": "ns",
            "sub_bucket_bits": 7,
            "count": 1,
            "min": "1",
            "max": 1,
            "sum": 1,
            "sum_sq": 1,
            "buckets": [[1, 1]],
        },
    ],
)
def test_from_dict_rejects_malformed_data(data: dict[str, object]) -> None:
    with pytest.raises(GossipperError):
        Histogram.from_dict(data)
