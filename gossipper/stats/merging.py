"""Statistics snapshots of several processes combined into one, and their wire form.

``-workers N`` runs N engines in N processes; the parent shows one screen and writes one
summary from their snapshots. Counts add, histograms merge exactly (integer nanosecond
buckets), and every figure derived from them (means, percentiles, rates) is computed from the
merged values, so the result is what one process running all the calls would have shown.

The wire form is plain data (dicts, lists, numbers, strings) so that it can cross a pipe with
``pickle`` of builtins only, whatever compiled (mypyc) classes the snapshot is made of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gossipper.stats.counters import (
    COUNTER_SCALARS,
    CounterValues,
    ElementCounts,
    ElementInfo,
    ElementKindTag,
    MeanStat,
    StatsSnapshot,
)
from gossipper.stats.histogram import Histogram

__all__ = [
    "merge_counter_values",
    "merge_snapshots",
    "snapshot_from_wire",
    "snapshot_to_wire",
    "with_failed_calls",
]


def _add_tuples(parts: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    width = max((len(part) for part in parts), default=0)
    return tuple(sum(part[i] for part in parts if i < len(part)) for i in range(width))


def _add_means(parts: Sequence[MeanStat]) -> MeanStat:
    return MeanStat(
        sum(part.count for part in parts),
        sum(part.sum_ms for part in parts),
        sum(part.sum_sq_ms2 for part in parts),
    )


def merge_counter_values(parts: Sequence[CounterValues]) -> CounterValues:
    """Counters of several processes over the same interval, added."""
    ints = {name: sum(int(getattr(part, name)) for part in parts) for name in COUNTER_SCALARS}
    rtd_count = max(len(part.rtd) for part in parts)
    repartition_count = max(len(part.rtd_repartition) for part in parts)
    return CounterValues(
        **ints,
        failures=_add_tuples([part.failures for part in parts]),
        generic_counters=_add_tuples([part.generic_counters for part in parts]),
        rtd=tuple(
            _add_means([part.rtd[i] for part in parts if i < len(part.rtd)])
            for i in range(rtd_count)
        ),
        call_length=_add_means([part.call_length for part in parts]),
        rtd_repartition=tuple(
            _add_tuples(
                [part.rtd_repartition[i] for part in parts if i < len(part.rtd_repartition)]
            )
            for i in range(repartition_count)
        ),
        call_length_repartition=_add_tuples([part.call_length_repartition for part in parts]),
    )


def _merge_histograms(parts: Sequence[Histogram]) -> Histogram:
    merged = Histogram()
    for part in parts:
        merged.merge(part)
    return merged


def merge_snapshots(parts: Sequence[StatsSnapshot]) -> StatsSnapshot:
    """One snapshot of several processes running the same scenario side by side.

    Counters, per-element counts and histograms add; the time span is the union; target
    rates add; current calls add. The peak of open calls is the sum of the processes' peaks,
    an upper bound of the true combined peak (the processes do not report the instant of each
    change). Error codes of the period are concatenated in process order.

    Raises:
        ValueError: ``parts`` is empty.
    """
    if not parts:
        raise ValueError("merge_snapshots needs at least one snapshot")
    first = parts[0]
    element_count = max(len(part.elements) for part in parts)
    elements = tuple(
        ElementCounts(
            *(
                sum(getattr(part.elements[i], field) for part in parts if i < len(part.elements))
                for field in ("messages", "retrans", "timeouts", "unexpected", "lost")
            )
        )
        for i in range(element_count)
    )
    rtd_count = max(len(part.rtd_histograms) for part in parts)
    peak_part = max(parts, key=lambda part: part.peak_calls)
    return StatsSnapshot(
        start_wall=min(part.start_wall for part in parts),
        start_mono=min(part.start_mono for part in parts),
        period_start_wall=min(part.period_start_wall for part in parts),
        period_start_mono=min(part.period_start_mono for part in parts),
        now_wall=max(part.now_wall for part in parts),
        now_mono=max(part.now_mono for part in parts),
        target_rate=sum(part.target_rate for part in parts),
        rtd_names=first.rtd_names,
        counter_names=first.counter_names,
        response_time_repartition_ms=first.response_time_repartition_ms,
        call_length_repartition_ms=first.call_length_repartition_ms,
        cumulative=merge_counter_values([part.cumulative for part in parts]),
        periodic=merge_counter_values([part.periodic for part in parts]),
        current_calls=sum(part.current_calls for part in parts),
        peak_calls=sum(part.peak_calls for part in parts),
        peak_calls_mono=peak_part.peak_calls_mono,
        element_infos=first.element_infos,
        elements=elements,
        error_codes=tuple(code for part in parts for code in part.error_codes),
        rtd_histograms=tuple(
            _merge_histograms(
                [part.rtd_histograms[i] for part in parts if i < len(part.rtd_histograms)]
            )
            for i in range(rtd_count)
        ),
        call_length_histogram=_merge_histograms([part.call_length_histogram for part in parts]),
        run_start_mono=min(part.run_start_mono for part in parts),
    )


# ---------------------------------------------------------------------- wire form


def _counters_to_wire(values: CounterValues) -> dict[str, Any]:
    data: dict[str, Any] = {name: int(getattr(values, name)) for name in COUNTER_SCALARS}
    data["failures"] = list(values.failures)
    data["generic_counters"] = list(values.generic_counters)
    data["rtd"] = [[m.count, m.sum_ms, m.sum_sq_ms2] for m in values.rtd]
    length = values.call_length
    data["call_length"] = [length.count, length.sum_ms, length.sum_sq_ms2]
    data["rtd_repartition"] = [list(buckets) for buckets in values.rtd_repartition]
    data["call_length_repartition"] = list(values.call_length_repartition)
    return data


def _counters_from_wire(data: Mapping[str, Any]) -> CounterValues:
    return CounterValues(
        **{name: int(data[name]) for name in COUNTER_SCALARS},
        failures=tuple(int(n) for n in data["failures"]),
        generic_counters=tuple(int(n) for n in data["generic_counters"]),
        rtd=tuple(MeanStat(int(c), int(s), int(q)) for c, s, q in data["rtd"]),
        call_length=MeanStat(*(int(n) for n in data["call_length"])),
        rtd_repartition=tuple(tuple(int(n) for n in b) for b in data["rtd_repartition"]),
        call_length_repartition=tuple(int(n) for n in data["call_length_repartition"]),
    )


_INFO_FIELDS = (
    "index",
    "kind",
    "label",
    "has_retrans",
    "has_timeout",
    "start_rtd",
    "rtd",
    "crlf",
    "hide",
    "display",
    "pause_ms",
    "is_optional",
    "lost_active",
    "pause_desc",
)
"""ElementInfo's fields, named here rather than read with ``dataclasses.fields``: the class is
compiled by mypyc in the CI build (a new field fails the wire round-trip test)."""


def _info_to_wire(info: ElementInfo) -> dict[str, Any]:
    data = {name: getattr(info, name) for name in _INFO_FIELDS}
    data["kind"] = info.kind.value
    return data


def _info_from_wire(data: Mapping[str, Any]) -> ElementInfo:
    values = dict(data)
    values["kind"] = ElementKindTag(values["kind"])
    return ElementInfo(**values)


_PLAIN_FIELDS = (
    "start_wall",
    "start_mono",
    "period_start_wall",
    "period_start_mono",
    "now_wall",
    "now_mono",
    "target_rate",
    "current_calls",
    "peak_calls",
    "peak_calls_mono",
    "run_start_mono",
)


def snapshot_to_wire(snapshot: StatsSnapshot) -> dict[str, Any]:
    """``snapshot`` as builtins only (for ``pickle`` across processes)."""
    data: dict[str, Any] = {name: getattr(snapshot, name) for name in _PLAIN_FIELDS}
    data["rtd_names"] = list(snapshot.rtd_names)
    data["counter_names"] = list(snapshot.counter_names)
    data["response_time_repartition_ms"] = (
        None
        if snapshot.response_time_repartition_ms is None
        else list(snapshot.response_time_repartition_ms)
    )
    data["call_length_repartition_ms"] = (
        None
        if snapshot.call_length_repartition_ms is None
        else list(snapshot.call_length_repartition_ms)
    )
    data["cumulative"] = _counters_to_wire(snapshot.cumulative)
    data["periodic"] = _counters_to_wire(snapshot.periodic)
    data["element_infos"] = [_info_to_wire(info) for info in snapshot.element_infos]
    data["elements"] = [
        [e.messages, e.retrans, e.timeouts, e.unexpected, e.lost] for e in snapshot.elements
    ]
    data["error_codes"] = list(snapshot.error_codes)
    data["rtd_histograms"] = [h.to_dict() for h in snapshot.rtd_histograms]
    data["call_length_histogram"] = snapshot.call_length_histogram.to_dict()
    return data


def snapshot_from_wire(data: Mapping[str, Any]) -> StatsSnapshot:
    """The snapshot :func:`snapshot_to_wire` encoded.

    Raises:
        KeyError, TypeError, ValueError: ``data`` is not such an encoding.
    """
    repartition_rt = data["response_time_repartition_ms"]
    repartition_cl = data["call_length_repartition_ms"]
    return StatsSnapshot(
        start_wall=float(data["start_wall"]),
        start_mono=float(data["start_mono"]),
        period_start_wall=float(data["period_start_wall"]),
        period_start_mono=float(data["period_start_mono"]),
        now_wall=float(data["now_wall"]),
        now_mono=float(data["now_mono"]),
        target_rate=float(data["target_rate"]),
        rtd_names=tuple(str(name) for name in data["rtd_names"]),
        counter_names=tuple(str(name) for name in data["counter_names"]),
        response_time_repartition_ms=None
        if repartition_rt is None
        else tuple(int(n) for n in repartition_rt),
        call_length_repartition_ms=None
        if repartition_cl is None
        else tuple(int(n) for n in repartition_cl),
        cumulative=_counters_from_wire(data["cumulative"]),
        periodic=_counters_from_wire(data["periodic"]),
        current_calls=int(data["current_calls"]),
        peak_calls=int(data["peak_calls"]),
        peak_calls_mono=float(data["peak_calls_mono"]),
        element_infos=tuple(_info_from_wire(info) for info in data["element_infos"]),
        elements=tuple(ElementCounts(*(int(n) for n in e)) for e in data["elements"]),
        error_codes=tuple(int(code) for code in data["error_codes"]),
        rtd_histograms=tuple(Histogram.from_dict(h) for h in data["rtd_histograms"]),
        call_length_histogram=Histogram.from_dict(data["call_length_histogram"]),
        run_start_mono=float(data["run_start_mono"]),
    )


def with_failed_calls(snapshot: StatsSnapshot, calls: int) -> StatsSnapshot:
    """``snapshot`` with ``calls`` of its current calls ended as failed (a dead worker's open
    calls). Built through the wire form: the compiled (mypyc) classes are not
    ``dataclasses.replace``-able in every build."""
    data = snapshot_to_wire(snapshot)
    for counters in (data["cumulative"], data["periodic"]):
        counters["failed_calls"] += calls
    data["current_calls"] = max(0, snapshot.current_calls - calls)
    return snapshot_from_wire(data)
