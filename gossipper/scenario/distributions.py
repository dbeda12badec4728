"""Statistical distributions for ``<pause>`` and the ``sample`` action
(docs/sipp-behaviour.md#pause-distributions).

SIPp draws these with GSL; we use ``random.Random`` methods and closed-form quantiles so the
layer stays pure (the generator is always passed in). Every distribution knows its 99th
percentile, which SIPp uses for ``sanity_check`` and for the default ``-l`` computation.
"""

from __future__ import annotations

import math
import random
from dataclasses import FrozenInstanceError

INT_MAX = 2**31 - 1
"""C ``INT_MAX``: pauses are capped here and a 99th percentile above it is a load error."""

_Z99 = 2.3263478740408408
"""Standard normal quantile of 0.99."""


class Distribution:
    """A real-valued distribution: ``sample(rng)``, ``quantile(p)`` and a short description.

    Subclasses are frozen value objects whose fields are their ``__slots__``. They are written
    by hand rather than as dataclasses: this module is imported by every run, and generating
    ten frozen dataclasses cost about 4 ms of start-up CPU. Equality, hashing, ``repr`` and
    immutability behave as they did with ``@dataclass(frozen=True, slots=True)``.
    """

    __slots__: tuple[str, ...] = ()

    name: str = ""

    def _init(self, *values: float) -> None:
        for slot, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, slot, value)

    def _values(self) -> tuple[float, ...]:
        return tuple(getattr(self, slot) for slot in self.__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Distribution)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{slot}={getattr(self, slot)!r}" for slot in self.__slots__)
        return f"{type(self).__qualname__}({fields})"

    def __reduce__(self) -> tuple[type[Distribution], tuple[float, ...]]:
        return (type(self), self._values())

    def sample(self, rng: random.Random) -> float:
        """Draw one value."""
        raise NotImplementedError

    def quantile(self, p: float) -> float:
        """The inverse CDF at ``p`` (0 < p < 1)."""
        raise NotImplementedError

    def p99(self) -> float:
        """The 99th percentile."""
        return self.quantile(0.99)

    def describe(self) -> str:
        """Short text for screens and error messages, e.g. ``uniform(1000,2000)``."""
        raise NotImplementedError


def _fmt(value: float) -> str:
    """Format a parameter like C's ``%g`` (no trailing zeros)."""
    return f"{value:g}"


class Fixed(Distribution):
    """Always ``value``."""

    __slots__ = ("value",)
    name = "fixed"
    value: float

    def __init__(self, value: float) -> None:
        self._init(value)

    def sample(self, rng: random.Random) -> float:
        return self.value

    def quantile(self, p: float) -> float:
        return self.value

    def describe(self) -> str:
        return f"{_fmt(self.value)}ms"


class Uniform(Distribution):
    """Uniform on [min_value, max_value]."""

    __slots__ = ("min_value", "max_value")
    name = "uniform"
    min_value: float
    max_value: float

    def __init__(self, min_value: float, max_value: float) -> None:
        self._init(min_value, max_value)

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.min_value, self.max_value)

    def quantile(self, p: float) -> float:
        return self.min_value + p * (self.max_value - self.min_value)

    def describe(self) -> str:
        return f"uniform({_fmt(self.min_value)},{_fmt(self.max_value)})"


class Normal(Distribution):
    """Normal with ``mean`` and ``stdev``."""

    __slots__ = ("mean", "stdev")
    name = "normal"
    mean: float
    stdev: float

    def __init__(self, mean: float, stdev: float) -> None:
        self._init(mean, stdev)

    def sample(self, rng: random.Random) -> float:
        return rng.gauss(self.mean, self.stdev)

    def quantile(self, p: float) -> float:
        return self.mean + self.stdev * _normal_quantile(p)

    def describe(self) -> str:
        return f"normal({_fmt(self.mean)},{_fmt(self.stdev)})"


class LogNormal(Distribution):
    """Log-normal: ``mean`` and ``stdev`` are those of the underlying normal (GSL convention)."""

    __slots__ = ("mean", "stdev")
    name = "lognormal"
    mean: float
    stdev: float

    def __init__(self, mean: float, stdev: float) -> None:
        self._init(mean, stdev)

    def sample(self, rng: random.Random) -> float:
        return rng.lognormvariate(self.mean, self.stdev)

    def quantile(self, p: float) -> float:
        return _safe_exp(self.mean + self.stdev * _normal_quantile(p))

    def describe(self) -> str:
        return f"lognormal({_fmt(self.mean)},{_fmt(self.stdev)})"


class Exponential(Distribution):
    """Exponential with the given ``mean``."""

    __slots__ = ("mean",)
    name = "exponential"
    mean: float

    def __init__(self, mean: float) -> None:
        self._init(mean)

    def sample(self, rng: random.Random) -> float:
        if self.mean <= 0:
            return 0.0
        return rng.expovariate(1.0 / self.mean)

    def quantile(self, p: float) -> float:
        return -self.mean * math.log1p(-p)

    def describe(self) -> str:
        return f"exponential({_fmt(self.mean)})"


class Weibull(Distribution):
    """Weibull with scale ``lambda_`` and shape ``k`` (GSL ``weibull(a=lambda, b=k)``)."""

    __slots__ = ("lambda_", "k")
    name = "weibull"
    lambda_: float
    k: float

    def __init__(self, lambda_: float, k: float) -> None:
        self._init(lambda_, k)

    def sample(self, rng: random.Random) -> float:
        return rng.weibullvariate(self.lambda_, self.k)

    def quantile(self, p: float) -> float:
        if self.k <= 0:
            return math.inf
        return float(self.lambda_ * (-math.log1p(-p)) ** (1.0 / self.k))

    def describe(self) -> str:
        return f"weibull({_fmt(self.lambda_)},{_fmt(self.k)})"


class Pareto(Distribution):
    """Pareto with shape ``k`` and scale ``x_m`` (GSL ``pareto(a=k, b=x_m)``)."""

    __slots__ = ("k", "x_m")
    name = "pareto"
    k: float
    x_m: float

    def __init__(self, k: float, x_m: float) -> None:
        self._init(k, x_m)

    def sample(self, rng: random.Random) -> float:
        return self.x_m * rng.paretovariate(self.k)

    def quantile(self, p: float) -> float:
        if self.k <= 0:
            return math.inf
        return float(self.x_m / (1.0 - p) ** (1.0 / self.k))

    def describe(self) -> str:
        return f"pareto({_fmt(self.k)},{_fmt(self.x_m)})"


class GeneralizedPareto(Distribution):
    """Generalized Pareto with ``shape``, ``scale`` and ``location``."""

    __slots__ = ("shape", "scale", "location")
    name = "gpareto"
    shape: float
    scale: float
    location: float

    def __init__(self, shape: float, scale: float, location: float) -> None:
        self._init(shape, scale, location)

    def sample(self, rng: random.Random) -> float:
        return self.quantile(rng.random())

    def quantile(self, p: float) -> float:
        if self.shape == 0:
            return self.location - self.scale * math.log1p(-p)
        return float(self.location + self.scale * ((1.0 - p) ** (-self.shape) - 1.0) / self.shape)

    def describe(self) -> str:
        return f"gpareto({_fmt(self.shape)},{_fmt(self.scale)},{_fmt(self.location)})"


class Gamma(Distribution):
    """Gamma with shape ``k`` and scale ``theta``."""

    __slots__ = ("k", "theta")
    name = "gamma"
    k: float
    theta: float

    def __init__(self, k: float, theta: float) -> None:
        self._init(k, theta)

    def sample(self, rng: random.Random) -> float:
        if self.k <= 0 or self.theta <= 0:
            return 0.0
        return rng.gammavariate(self.k, self.theta)

    def quantile(self, p: float) -> float:
        if self.k <= 0 or self.theta <= 0:
            return 0.0
        return self.theta * _gamma_quantile(self.k, p)

    def describe(self) -> str:
        return f"gamma({_fmt(self.k)},{_fmt(self.theta)})"


class NegativeBinomial(Distribution):
    """Negative binomial: failures before ``n`` successes of probability ``p`` (GSL order)."""

    __slots__ = ("n", "p")
    name = "negbin"
    n: float
    p: float

    def __init__(self, n: float, p: float) -> None:
        self._init(n, p)

    def sample(self, rng: random.Random) -> float:
        return float(self._inverse_cdf(rng.random()))

    def quantile(self, p: float) -> float:
        return float(self._inverse_cdf(p))

    def _inverse_cdf(self, u: float) -> int:
        if not (0.0 < self.p <= 1.0) or self.n <= 0:
            return 0
        if self.p == 1.0:
            return 0
        log_q = math.log1p(-self.p)
        log_pmf = self.n * math.log(self.p)  # pmf(0)
        cdf = math.exp(log_pmf)
        k = 0
        # Bounded walk up the CDF; the cap only matters for absurd parameters.
        while cdf < u and k < 10_000_000:
            k += 1
            log_pmf += math.log((k - 1 + self.n) / k) + log_q
            cdf += math.exp(log_pmf)
        return k

    def describe(self) -> str:
        return f"negbin({_fmt(self.n)},{_fmt(self.p)})"


def _safe_exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _normal_quantile(p: float) -> float:
    """Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9)."""
    if p == 0.99:
        return _Z99
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    a = (-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690,
         -30.66479806614716, 2.506628277459239)  # fmt: skip
    b = (-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972,
         -13.28068155288572)  # fmt: skip
    c = (-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734,
         4.374664141464968, 2.938163982698783)  # fmt: skip
    d = (0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416)
    p_low = 0.02425
    if p < p_low:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    if p > 1 - p_low:
        q = math.sqrt(-2 * math.log1p(-p))
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    q = p - 0.5
    r = q * q
    return (
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    )


def _regularized_lower_gamma(k: float, x: float) -> float:
    """P(k, x): series for x < k + 1, continued fraction otherwise (standard numerics)."""
    if x <= 0:
        return 0.0
    log_prefix = k * math.log(x) - x - math.lgamma(k)
    if x < k + 1:
        term = 1.0 / k
        total = term
        denom = k
        for _ in range(10_000):
            denom += 1
            term *= x / denom
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return min(1.0, total * math.exp(log_prefix))
    # Lentz's continued fraction for Q(k, x).
    tiny = 1e-300
    b = x + 1 - k
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - k)
        b += 2
        d = an * d + b
        if abs(d) < tiny:
            d = tiny
        c = b + an / c
        if abs(c) < tiny:
            c = tiny
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return max(0.0, 1.0 - math.exp(log_prefix) * h)


def _gamma_quantile(k: float, p: float) -> float:
    """Inverse of P(k, .) by bracketing and bisection."""
    lo, hi = 0.0, max(1.0, k)
    while _regularized_lower_gamma(k, hi) < p:
        hi *= 2
        if hi > 1e300:
            return math.inf
    for _ in range(200):
        mid = (lo + hi) / 2
        if _regularized_lower_gamma(k, mid) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return (lo + hi) / 2


def clamp_pause_ms(value: float) -> int:
    """SIPp's conversion of a sampled pause to ms: truncate, negative -> 0, cap INT_MAX."""
    if value != value:  # NaN
        return 0
    if value >= INT_MAX:
        return INT_MAX
    if value <= 0:
        return 0
    return int(value)
