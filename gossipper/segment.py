"""Execution segments (``-segment``): one deterministic slice of a larger test.

A test split into segments is run by several processes (machines, Kubernetes pods) that each
get the whole test's options plus ``-segment``; each runs its share of the calls, and together
they run exactly the calls the whole test would (docs/compatibility.md, "-segment"). The idea
and the notation are k6's execution segments (``0:1/4``, ``1/4:1/2``, ...); the arithmetic is
ours.

How calls are split (the stripe). The whole test numbers its calls 1, 2, 3, ... in the order it
starts them. A segment ``a:b`` of a test whose segment boundaries all have the common
denominator ``period`` (``-segment_sequence``, or the denominators of ``a`` and ``b``) owns the
calls whose number ``n`` has ``(n - 1) mod period`` in ``[a*period, b*period)``: ``I/N`` owns
every N-th call starting with call ``I + 1``. So:

- the segments of one sequence own disjoint sets of call numbers whose union is every number;
- a segment's calls carry the whole test's call numbers, so their Call-IDs (``%u``), their
  SEQUENTIAL injection rows ``(n - 1) mod rows`` and their per-call random draws are the ones
  the whole test gives those calls;
- counts (``-m``, ``-users``, ``-l``) scale as :meth:`ExecutionSegment.scale`: the number of the
  owned calls among the first ``value``; the shares of a sequence add up to ``value`` exactly;
- the rate is paced in the whole test's terms: a segment starts its call ``n`` at the instant
  the whole test would start call ``n`` (``gossipper.engine.rate``).

This module is pure arithmetic on integers and fractions (no I/O); parse errors are
``ValueError`` with a one-line message that names ``-segment`` and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fractions import Fraction

__all__ = ["ExecutionSegment", "parse_fraction", "parse_segment", "parse_sequence"]

_SEGMENT_FORMS = "I/N (0 <= I < N, e.g. 0/4) or a:b with 0 <= a < b <= 1 (e.g. 1/4:1/2)"


def _fraction(numerator: int, denominator: int) -> Fraction:
    # fractions (with decimal) is imported on first use: every run imports this module (its
    # configuration names -segment), few runs use a segment (start-up: docs/performance.md).
    from fractions import Fraction

    return Fraction(numerator, denominator)


def _fraction_of_text(text: str) -> Fraction:
    from fractions import Fraction

    return Fraction(text)


@dataclass(frozen=True, slots=True)
class ExecutionSegment:
    """The calls ``n`` with ``(n - 1) mod period`` in ``[first, end)`` (see the module doc)."""

    first: int
    end: int
    period: int

    def __post_init__(self) -> None:
        if not (self.period >= 1 and 0 <= self.first < self.end <= self.period):
            raise ValueError(f"bad segment {self.first}:{self.end} of {self.period}")

    @property
    def width(self) -> int:
        """Calls owned in each period."""
        return self.end - self.first

    @property
    def share(self) -> Fraction:
        """The fraction of the whole test: ``b - a``."""
        return _fraction(self.width, self.period)

    @property
    def is_whole(self) -> bool:
        return self.width == self.period

    @property
    def start_fraction(self) -> Fraction:
        return _fraction(self.first, self.period)

    @property
    def end_fraction(self) -> Fraction:
        return _fraction(self.end, self.period)

    def label(self) -> str:
        """``a:b`` in lowest terms (``1/4:1/2``), as summaries and merge name it."""
        return f"{_fraction_text(self.start_fraction)}:{_fraction_text(self.end_fraction)}"

    def owns(self, number: int) -> bool:
        """True when whole-test call ``number`` (1-based) is this segment's."""
        return self.first <= (number - 1) % self.period < self.end

    def count_upto(self, number: int) -> int:
        """How many of the whole test's calls 1..``number`` this segment owns."""
        if number <= 0:
            return 0
        full, rest = divmod(number, self.period)
        return full * self.width + min(max(rest - self.first, 0), self.width)

    def nth(self, k: int) -> int:
        """The whole-test number of this segment's ``k``-th call (``k`` >= 1)."""
        block, offset = divmod(k - 1, self.width)
        return block * self.period + self.first + offset + 1

    def scale(self, value: int) -> int:
        """This segment's share of a count (``-m``, ``-users``): the owned among 1..value."""
        return self.count_upto(value)

    def scale_rate(self, rate: float) -> float:
        """This segment's share of a rate (what its screen and summary show)."""
        if self.is_whole:
            return rate
        return rate * self.width / self.period


def _fraction_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(value)


def parse_fraction(text: str) -> Fraction:
    """``0``, ``1``, ``1/4`` or ``0.25`` as an exact fraction; ``ValueError`` otherwise."""
    text = text.strip()
    if not text or text.startswith(("+", "-")) or any(ch.isspace() for ch in text):
        raise ValueError(text)
    if "/" in text:
        num, _, den = text.partition("/")
        if not (num.isdigit() and den.isdigit()) or int(den) == 0:
            raise ValueError(text)
        return _fraction(int(num), int(den))
    if not all(ch.isdigit() or ch == "." for ch in text) or text.count(".") > 1 or text == ".":
        raise ValueError(text)
    return _fraction_of_text(text)


def parse_sequence(text: str) -> tuple[Fraction, ...]:
    """``-segment_sequence``: increasing fractions from 0 to 1 (``0,1/4,1/2,1``)."""
    try:
        points = tuple(parse_fraction(part) for part in text.split(","))
    except ValueError:
        raise ValueError(
            f"-segment_sequence: {text!r} is not a comma list of fractions; write e.g. 0,1/4,1/2,1"
        ) from None
    if (
        len(points) < 2
        or points[0] != 0
        or points[-1] != 1
        or any(b <= a for a, b in zip(points, points[1:], strict=False))
    ):
        raise ValueError(
            f"-segment_sequence: {text!r} must increase from 0 to 1; write e.g. 0,1/4,1/2,1"
        )
    return points


def parse_segment(text: str, sequence: str | None = None) -> ExecutionSegment:
    """``-segment I/N`` or ``-segment a:b`` (with the optional ``-segment_sequence``).

    The stripe period is the least common denominator of the sequence's points when one is
    given, else of ``a`` and ``b`` (``I/N``: ``N``). Segments of one test must share a
    period (module doc): give every segment the same ``-segment_sequence`` when their own
    denominators differ (``1/2:1`` next to ``0:1/4``).
    """
    text = text.strip()
    bad = f"-segment: {text!r} is not a segment; write {_SEGMENT_FORMS}"
    if ":" in text:
        left, _, right = text.partition(":")
        try:
            a, b = parse_fraction(left), parse_fraction(right)
        except ValueError:
            raise ValueError(bad) from None
        if not (0 <= a < b <= 1):
            raise ValueError(f"-segment: {text!r} needs 0 <= a < b <= 1 (e.g. 1/4:1/2)")
        period = math.lcm(a.denominator, b.denominator)
    else:
        index_text, slash, count_text = text.partition("/")
        if not (slash and index_text.isdigit() and count_text.isdigit()):
            raise ValueError(bad)
        index, count = int(index_text), int(count_text)
        if count < 1 or index >= count:
            raise ValueError(
                f"-segment: {text!r} needs 0 <= I < N (segments are numbered from 0, e.g."
                f" 0/{max(count, 1)} .. {max(count, 1) - 1}/{max(count, 1)})"
            )
        a, b = _fraction(index, count), _fraction(index + 1, count)
        period = count
    if sequence is not None:
        points = parse_sequence(sequence)
        if a not in points or b not in points:
            raise ValueError(
                f"-segment: {text!r} does not start and end on points of -segment_sequence"
                f" {sequence!r}; use two consecutive points of the sequence"
            )
        period = math.lcm(*(point.denominator for point in points))
    return ExecutionSegment(int(a * period), int(b * period), period)
