"""Pause distributions: samples, 99th percentiles, SIPp's clamping (sipp-reference 1.6)."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from gossipper.scenario.distributions import (
    INT_MAX,
    Distribution,
    Exponential,
    Fixed,
    Gamma,
    GeneralizedPareto,
    LogNormal,
    NegativeBinomial,
    Normal,
    Pareto,
    Uniform,
    Weibull,
    clamp_pause_ms,
)
from gossipper.scenario.model import PauseSpec
from gossipper.scenario.variables import GlobalVariables

CASES: list[tuple[Distribution, float]] = [
    (Fixed(1000), 1000.0),
    (Uniform(1000, 2000), 1990.0),
    (Normal(1000, 100), 1232.6347874),
    (LogNormal(2, 0.5), math.exp(2 + 0.5 * 2.3263478740408408)),
    (Exponential(1000), 4605.1701860),
    (Weibull(1000, 2), 1000 * math.sqrt(math.log(100))),
    (Pareto(2, 100), 1000.0),
    (GeneralizedPareto(0.5, 100, 10), 10 + 100 * (0.01**-0.5 - 1) / 0.5),
    (GeneralizedPareto(0, 100, 10), 10 + 100 * math.log(100)),
    (Gamma(1, 1000), 4605.1701860),  # gamma with k=1 is exponential
    (Gamma(2, 1), 6.6383520679),
    (NegativeBinomial(1, 0.5), 6.0),  # geometric: P(X <= 5) < 0.99 <= P(X <= 6)
]


@pytest.mark.parametrize(("dist", "p99"), CASES, ids=[d.describe() for d, _ in CASES])
def test_p99(dist: Distribution, p99: float) -> None:
    assert dist.p99() == pytest.approx(p99, rel=1e-6)


@pytest.mark.parametrize(("dist", "p99"), CASES, ids=[d.describe() for d, _ in CASES])
def test_samples_are_consistent_with_p99(dist: Distribution, p99: float) -> None:
    rng = random.Random(42)
    samples = [dist.sample(rng) for _ in range(4000)]
    below = sum(1 for s in samples if s <= p99) / len(samples)
    assert below >= 0.97


def test_sample_means() -> None:
    rng = random.Random(7)
    assert statistics.fmean(Exponential(100).sample(rng) for _ in range(20000)) == pytest.approx(
        100, rel=0.05
    )
    assert statistics.fmean(Normal(50, 5).sample(rng) for _ in range(20000)) == pytest.approx(
        50, rel=0.01
    )


def test_clamp() -> None:
    assert clamp_pause_ms(-5) == 0
    assert clamp_pause_ms(12.9) == 12
    assert clamp_pause_ms(1e20) == INT_MAX
    assert clamp_pause_ms(float("nan")) == 0


def test_pause_spec() -> None:
    variables = GlobalVariables({}).for_call()
    variables.set("p", 250.7)
    rng = random.Random(1)
    assert PauseSpec().sample_ms(rng, variables, 77) == 77
    assert PauseSpec(variable="p").sample_ms(rng, variables, 0) == 250
    assert PauseSpec(distribution=Fixed(-3)).sample_ms(rng, variables, 0) == 0
    assert PauseSpec(distribution=Uniform(1, 3)).p99_ms(0) == 2
    assert PauseSpec(variable="p").p99_ms(5) == 0
    assert PauseSpec().p99_ms(5) == 5
    assert PauseSpec(distribution=Exponential(1e12)).p99_ms(0) == INT_MAX
    assert PauseSpec(distribution=Uniform(1, 3)).fixed_ms(0) is None
    assert PauseSpec(variable="p").describe(0) == "$p"
