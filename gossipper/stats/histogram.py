"""A mergeable log-linear latency histogram.

Values are recorded as integer nanoseconds so that count, sum, sum of squares, minimum and maximum
are exact and two histograms merge exactly (integer addition is associative; float sums are not).
Buckets: values below 256 ns get one bucket each; above, every power of two is cut into 128
equal sub-buckets, so a bucket is at most 1/128 (0.8 %) of its lower bound wide and the midpoint
used by :meth:`Histogram.quantile` is within 0.4 % of every value in it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

from gossipper.errors import GossipperError

# Final: constants in the compiled build, not a module look-up on every value recorded.
SUB_BUCKET_BITS: Final = 7
"""log2 of the number of sub-buckets per power of two above the linear range."""
_SUB: Final = 1 << SUB_BUCKET_BITS  # 128
_LINEAR: Final = _SUB * 2  # values below this get exact, one-nanosecond buckets
_NS_PER_S: Final = 1_000_000_000


def _round_ns(value_ns: float) -> int:
    """``round(value_ns)`` for a value >= 0 (half to even), without the generic call to the
    builtin that ``round`` of a float is in the compiled build."""
    whole = int(value_ns)
    fraction = value_ns - whole
    if fraction > 0.5 or (fraction == 0.5 and whole & 1):
        whole += 1
    return whole


def bucket_index(value_ns: int) -> int:
    """Bucket of a non-negative integer value (nanoseconds)."""
    if value_ns < _LINEAR:
        return value_ns
    shift = value_ns.bit_length() - (SUB_BUCKET_BITS + 1)
    return _LINEAR + (shift - 1) * _SUB + ((value_ns >> shift) - _SUB)


def bucket_bounds(index: int) -> tuple[int, int]:
    """Half-open range ``[low, high)`` of values (ns) that fall in bucket ``index``."""
    if index < _LINEAR:
        return index, index + 1
    shift, sub = divmod(index - _LINEAR, _SUB)
    shift += 1
    mantissa = sub + _SUB
    return mantissa << shift, (mantissa + 1) << shift


class Histogram:
    """Latency histogram with exact count/min/max/sum/sum of squares; values in seconds."""

    __slots__ = ("count", "sum_ns", "sum_sq_ns2", "min_ns", "max_ns", "buckets")

    def __init__(self) -> None:
        self.count = 0
        self.sum_ns = 0
        self.sum_sq_ns2 = 0
        self.min_ns = 0
        self.max_ns = 0
        self.buckets: dict[int, int] = {}

    # ------------------------------------------------------------------ recording

    def add(self, value_s: float) -> None:
        """Record one value (seconds). Negative values count as 0."""
        # add_ns and bucket_index inlined: this runs for every call and response time.
        value_ns = _round_ns(value_s * _NS_PER_S) if value_s > 0 else 0
        if self.count == 0 or value_ns < self.min_ns:
            self.min_ns = value_ns
        if value_ns > self.max_ns:
            self.max_ns = value_ns
        self.count += 1
        self.sum_ns += value_ns
        self.sum_sq_ns2 += value_ns * value_ns
        if value_ns < _LINEAR:
            index = value_ns
        else:
            shift = value_ns.bit_length() - (SUB_BUCKET_BITS + 1)
            index = _LINEAR + (shift - 1) * _SUB + ((value_ns >> shift) - _SUB)
        buckets = self.buckets
        buckets[index] = buckets.get(index, 0) + 1

    def add_ns(self, value_ns: int) -> None:
        """Record one value given as integer nanoseconds."""
        if self.count == 0 or value_ns < self.min_ns:
            self.min_ns = value_ns
        if value_ns > self.max_ns:
            self.max_ns = value_ns
        self.count += 1
        self.sum_ns += value_ns
        self.sum_sq_ns2 += value_ns * value_ns
        index = bucket_index(value_ns)
        buckets = self.buckets
        buckets[index] = buckets.get(index, 0) + 1

    def merge(self, other: Histogram) -> None:
        """Add every value of ``other`` to this histogram (exact)."""
        if other.count == 0:
            return
        if self.count == 0 or other.min_ns < self.min_ns:
            self.min_ns = other.min_ns
        if other.max_ns > self.max_ns:
            self.max_ns = other.max_ns
        self.count += other.count
        self.sum_ns += other.sum_ns
        self.sum_sq_ns2 += other.sum_sq_ns2
        buckets = self.buckets
        for index, n in other.buckets.items():
            buckets[index] = buckets.get(index, 0) + n

    def copy(self) -> Histogram:
        """An independent copy."""
        new = Histogram()
        new.merge(self)
        return new

    def clear(self) -> None:
        """Forget every value."""
        self.count = self.sum_ns = self.sum_sq_ns2 = self.min_ns = self.max_ns = 0
        self.buckets = {}

    # ------------------------------------------------------------------ reading

    @property
    def min_s(self) -> float:
        """Smallest value (0.0 when empty)."""
        return self.min_ns / _NS_PER_S

    @property
    def max_s(self) -> float:
        """Largest value (0.0 when empty)."""
        return self.max_ns / _NS_PER_S

    @property
    def mean_s(self) -> float:
        """Arithmetic mean (0.0 when empty)."""
        return self.sum_ns / self.count / _NS_PER_S if self.count else 0.0

    @property
    def stddev_s(self) -> float:
        """Population standard deviation, computed from the exact integer sums."""
        n = self.count
        if n < 2:
            return 0.0
        # n^2 * variance = n * sum(x^2) - (sum x)^2, exact in integers.
        numerator = n * self.sum_sq_ns2 - self.sum_ns * self.sum_ns
        return math.sqrt(max(numerator, 0)) / n / _NS_PER_S

    def quantile(self, q: float) -> float:
        """Value (seconds) at quantile ``q`` in [0, 1]: the midpoint of the bucket holding the
        ``ceil(q * count)``-th smallest value, clamped to [min, max]. 0.0 when empty."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be within [0, 1], got {q!r}")
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                low, high = bucket_bounds(index)
                mid_ns = low if high - low == 1 else (low + high) / 2
                return min(max(mid_ns, self.min_ns), self.max_ns) / _NS_PER_S
        return self.max_s  # unreachable when the buckets are consistent

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Histogram(count={self.count}, min_s={self.min_s}, max_s={self.max_s})"

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``from_dict(h.to_dict())`` equals ``h``."""
        return {
            "unit": "ns",
            "sub_bucket_bits": SUB_BUCKET_BITS,
            "count": self.count,
            "min": self.min_ns,
            "max": self.max_ns,
            "sum": self.sum_ns,
            "sum_sq": self.sum_sq_ns2,
            "buckets": [[index, self.buckets[index]] for index in sorted(self.buckets)],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        """Rebuild a histogram from :meth:`to_dict` output.

        Raises:
            GossipperError: the mapping is not a histogram of this layout.
        """
        try:
            if data["unit"] != "ns" or data["sub_bucket_bits"] != SUB_BUCKET_BITS:
                raise GossipperError("histogram: unsupported unit or bucket layout")
            new = cls()
            new.count = _non_negative_int(data["count"])
            new.min_ns = _non_negative_int(data["min"])
            new.max_ns = _non_negative_int(data["max"])
            new.sum_ns = _non_negative_int(data["sum"])
            new.sum_sq_ns2 = _non_negative_int(data["sum_sq"])
            pairs: Iterable[Any] = data["buckets"]
            for pair in pairs:
                index, n = pair
                new.buckets[_non_negative_int(index)] = _non_negative_int(n)
        except (KeyError, TypeError, ValueError) as exc:
            raise GossipperError(f"histogram: malformed data ({exc})") from exc
        if sum(new.buckets.values()) != new.count:
            raise GossipperError("histogram: bucket counts do not add up to count")
        return new


def _non_negative_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value
