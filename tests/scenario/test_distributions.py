"""Pause distributions: samples, 99th percentiles, SIPp's clamping (sipp-reference 1.6)."""

from __future__ import annotations

import bisect
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


# Each sampler against the mean, variance and support its parameters imply. The parameters keep
# the fourth moment finite, so the sample variance settles; seeded, so the numbers never flake,
# yet a sampler that returns a constant, ignores a parameter or swaps two fails.
def _weibull_moments(lambda_: float, k: float) -> tuple[float, float]:
    m1 = math.gamma(1 + 1 / k)
    return lambda_ * m1, lambda_**2 * (math.gamma(1 + 2 / k) - m1**2)


MOMENTS: list[tuple[Distribution, float, float, float, float]] = [
    # distribution, mean, variance, lowest and highest value allowed
    (Fixed(1000), 1000.0, 0.0, 1000.0, 1000.0),
    (Uniform(1000, 2000), 1500.0, 1000.0**2 / 12, 1000.0, 2000.0),
    (Normal(1000, 100), 1000.0, 100.0**2, -math.inf, math.inf),
    (
        LogNormal(2, 0.5),
        math.exp(2 + 0.5**2 / 2),
        (math.exp(0.5**2) - 1) * math.exp(2 * 2 + 0.5**2),
        0.0,
        math.inf,
    ),
    (Exponential(1000), 1000.0, 1000.0**2, 0.0, math.inf),
    (Weibull(1000, 2), *_weibull_moments(1000, 2), 0.0, math.inf),
    (Weibull(50, 0.8), *_weibull_moments(50, 0.8), 0.0, math.inf),
    # Pareto(k, x_m): mean k x_m / (k - 1), variance x_m² k / ((k - 1)² (k - 2)).
    (Pareto(6, 100), 6 * 100 / 5, 100**2 * 6 / (5**2 * 4), 100.0, math.inf),
    # Generalized Pareto(shape ξ, scale σ, location μ): μ + σ / (1 - ξ), σ² / ((1 - ξ)² (1 - 2ξ)).
    (
        GeneralizedPareto(0.1, 100, 10),
        10 + 100 / 0.9,
        100**2 / (0.9**2 * 0.8),
        10.0,
        math.inf,
    ),
    (GeneralizedPareto(0, 100, 10), 110.0, 100.0**2, 10.0, math.inf),
    (GeneralizedPareto(-0.5, 100, 10), 10 + 100 / 1.5, 100**2 / (1.5**2 * 2), 10.0, 210.0),
    (Gamma(2, 1), 2.0, 2.0, 0.0, math.inf),
    (Gamma(9, 30), 270.0, 9 * 30.0**2, 0.0, math.inf),
    # Failures before n successes: n (1 - p) / p and n (1 - p) / p².
    (NegativeBinomial(1, 0.5), 1.0, 2.0, 0.0, math.inf),
    (NegativeBinomial(5, 0.25), 15.0, 60.0, 0.0, math.inf),
]
SAMPLES = 40_000


@pytest.mark.parametrize(
    ("dist", "mean", "variance", "low", "high"),
    MOMENTS,
    ids=[m[0].describe() for m in MOMENTS],
)
def test_sample_moments_and_support(
    dist: Distribution, mean: float, variance: float, low: float, high: float
) -> None:
    rng = random.Random(20261203)
    samples = [dist.sample(rng) for _ in range(SAMPLES)]
    assert low <= min(samples) and max(samples) <= high
    sample_mean = statistics.fmean(samples)
    # Five standard errors of the mean: a fair sampler stays inside (p ≈ 6e-7).
    assert abs(sample_mean - mean) <= 5 * math.sqrt(variance / SAMPLES) + 1e-9, sample_mean
    sample_variance = statistics.pvariance(samples, sample_mean)
    assert sample_variance == pytest.approx(variance, rel=0.08, abs=1e-9)
    if isinstance(dist, NegativeBinomial):
        assert all(s == int(s) for s in samples)


@pytest.mark.parametrize(("dist", "_p99"), CASES, ids=[d.describe() for d, _ in CASES])
def test_samples_follow_the_quantile_function(dist: Distribution, _p99: float) -> None:
    """The empirical CDF at each decile of ``quantile`` is that decile (discrete: brackets it)."""
    rng = random.Random(5)
    samples = sorted(dist.sample(rng) for _ in range(SAMPLES))
    for decile in range(1, 10):
        p = decile / 10
        q = dist.quantile(p)
        at_most = bisect.bisect_right(samples, q) / SAMPLES
        below = bisect.bisect_left(samples, q) / SAMPLES
        if isinstance(dist, Fixed):
            assert (below, at_most) == (0.0, 1.0)
        else:
            assert below - 0.01 <= p <= at_most + 0.01, (p, q, below, at_most)
