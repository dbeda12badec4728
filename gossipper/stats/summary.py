"""The ``-summary_json`` document: schema ``gossipper.summary``, version 1.

One JSON object per run: call counts, a count for every failure reason of the stat CSV (zeros
included), achieved and target rate, message counters, generic counters, and per-RTD and
call-length latency (count/min/mean/stddev/p50/p90/p99/p999/max in ms) with the serialised
mergeable histogram, so that :func:`merge_summaries` can combine two runs (or two workers of one
run) exactly. A run with RTP streams adds a ``"media"`` section
(:meth:`gossipper.stats.media.MediaTotals.to_dict`), merged exactly too. The JSON Schema is
``summary.schema.json`` next to this module.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from gossipper.errors import ExitStatus, GossipperError
from gossipper.stats.counters import FAILURE_REASONS, OWN_FAILURE_REASONS, StatsSnapshot
from gossipper.stats.formatting import format_rfc3339
from gossipper.stats.histogram import Histogram
from gossipper.stats.media import MediaTotals

SCHEMA_NAME = "gossipper.summary"
SCHEMA_VERSION = 1

MESSAGE_KEYS = (
    "retransmissions",
    "out_of_call",
    "dead_call",
    "auto_answered",
    "warnings",
    "fatal_errors",
    "watchdog_major",
    "watchdog_minor",
    "malformed",
)
_QUANTILES = (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99), ("p999_ms", 0.999))


def load_summary_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the summary document."""
    text = resources.files("gossipper.stats").joinpath("summary.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def latency_summary(histogram: Histogram) -> dict[str, Any]:
    """Count, min/mean/stddev (population)/quantiles/max in ms and the histogram itself;
    the statistics are None when there is no sample."""
    stats: dict[str, Any] = {"count": histogram.count}
    empty = histogram.count == 0
    stats["min_ms"] = None if empty else histogram.min_s * 1000.0
    stats["mean_ms"] = None if empty else histogram.mean_s * 1000.0
    stats["stddev_ms"] = None if empty else histogram.stddev_s * 1000.0
    for key, q in _QUANTILES:
        stats[key] = None if empty else histogram.quantile(q) * 1000.0
    stats["max_ms"] = None if empty else histogram.max_s * 1000.0
    stats["histogram"] = histogram.to_dict()
    return stats


def build_summary_json(
    snapshot: StatsSnapshot,
    *,
    tool_version: str,
    start_wall: float,
    finish_wall: float,
    target_rate: float,
    scenario_name: str,
    exit_code: int,
    tz: datetime.tzinfo | None = None,
) -> dict[str, Any]:
    """The summary document of a run, from its final snapshot (cumulative values).

    Times are printed in RFC 3339 (UTC unless ``tz``) and as epoch seconds; ``achieved_cps``
    is calls created per second of ``finish_wall - start_wall``.
    """
    c = snapshot.cumulative
    duration_s = max(0.0, finish_wall - start_wall)
    rtd = {
        name: latency_summary(snapshot.rtd_histograms[i])
        for i, name in enumerate(snapshot.rtd_names)
    }
    return _document(
        tool_version=tool_version,
        scenario_name=scenario_name,
        exit_code=int(exit_code),
        start_wall=start_wall,
        finish_wall=finish_wall,
        tz=tz,
        calls={
            "total": c.total_calls,
            "incoming": c.incoming_calls,
            "outgoing": c.outgoing_calls,
            "successful": c.successful_calls,
            "failed": c.failed_calls,
            "current": snapshot.current_calls,
            "peak": snapshot.peak_calls,
            # Present only when the overload guard acted, so ordinary runs keep their bytes.
            **({"skipped_overload": c.calls_skipped_overload} if c.calls_skipped_overload else {}),
            **({"delayed_overload": c.calls_delayed_overload} if c.calls_delayed_overload else {}),
        },
        # gossipper's own reasons only when counted, so that runs without them keep their bytes.
        failures={
            reason.value: c.failures[i]
            for i, reason in enumerate(FAILURE_REASONS)
            if c.failures[i] or reason not in OWN_FAILURE_REASONS
        },
        target_cps=float(target_rate),
        duration_s=duration_s,
        messages=dict(
            zip(
                MESSAGE_KEYS,
                (
                    c.retransmissions,
                    c.out_of_call_msgs,
                    c.dead_call_msgs,
                    c.auto_answered,
                    c.warnings,
                    c.fatal_errors,
                    c.watchdog_major,
                    c.watchdog_minor,
                    c.malformed_msgs,
                ),
                strict=True,
            )
        ),
        rtd=rtd,
        call_length=latency_summary(snapshot.call_length_histogram),
        counters={name: c.generic_counters[i] for i, name in enumerate(snapshot.counter_names)},
        media=snapshot.media,
    )


def _document(
    *,
    tool_version: str,
    scenario_name: str,
    exit_code: int,
    start_wall: float,
    finish_wall: float,
    tz: datetime.tzinfo | None,
    calls: dict[str, int],
    failures: dict[str, int],
    target_cps: float,
    duration_s: float,
    messages: dict[str, int],
    rtd: dict[str, dict[str, Any]],
    call_length: dict[str, Any],
    counters: dict[str, int],
    media: MediaTotals | None = None,
) -> dict[str, Any]:
    total = calls["total"]
    calls_out: dict[str, float] = dict(calls)
    calls_out["success_ratio"] = calls["successful"] / total if total else 0.0
    return {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "tool_version": tool_version,
        "scenario_name": scenario_name,
        "exit_code": exit_code,
        "started_at": format_rfc3339(start_wall, tz),
        "finished_at": format_rfc3339(finish_wall, tz),
        "start_epoch_s": start_wall,
        "finish_epoch_s": finish_wall,
        "duration_s": duration_s,
        "calls": calls_out,
        "failures": failures,
        "rate": {
            "target_cps": target_cps,
            "achieved_cps": total / duration_s if duration_s > 0 else 0.0,
        },
        "messages": messages,
        "latency": {"rtd": rtd, "call_length": call_length},
        "counters": counters,
        # Only runs that had media streams get the section: the others keep their bytes.
        **({"media": media.to_dict()} if media is not None else {}),
    }


def _check(doc: Mapping[str, Any], which: str) -> None:
    if doc.get("schema") != SCHEMA_NAME or doc.get("schema_version") != SCHEMA_VERSION:
        raise GossipperError(
            f"summary {which}: not a {SCHEMA_NAME} version {SCHEMA_VERSION} document"
        )


def _merge_names(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    return list(a) + [name for name in b if name not in a]


def _merge_latency(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = Histogram()
    for part in (a, b):
        if part is not None:
            merged.merge(Histogram.from_dict(part["histogram"]))
    return latency_summary(merged)


def _merge_exit_code(a: int, b: int, failed: int, total: int) -> int:
    ordinary = {ExitStatus.SUCCESS, ExitStatus.CALLS_FAILED, ExitStatus.NO_CALLS}
    if a not in ordinary or b not in ordinary:
        return max(code for code in (a, b) if code not in ordinary)
    if failed > 0:
        return int(ExitStatus.CALLS_FAILED)
    if a == ExitStatus.NO_CALLS and b == ExitStatus.NO_CALLS and total == 0:
        return int(ExitStatus.NO_CALLS)
    return int(ExitStatus.SUCCESS)


def merge_summaries(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Combine the summaries of two runs (or of two workers of one run).

    Counts, failure reasons, counters and histograms add exactly; latency statistics are
    recomputed from the merged histograms; the time span is the union; target rates add
    (parallel workers); the peak is the larger one (a lower bound of the combined peak).

    Raises:
        GossipperError: a document is not a well-formed ``gossipper.summary`` version 1
            document.
    """
    try:
        _check(a, "a")
        _check(b, "b")
        return _merge(a, b)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GossipperError(f"summary: malformed document ({exc!r})") from exc


def _either(a: str, b: str) -> str:
    return a if a == b else f"{a}, {b}"


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    a_start, b_start = float(a["start_epoch_s"]), float(b["start_epoch_s"])
    a_finish, b_finish = float(a["finish_epoch_s"]), float(b["finish_epoch_s"])
    start, finish = min(a_start, b_start), max(a_finish, b_finish)
    calls = {
        key: int(a["calls"][key]) + int(b["calls"][key])
        for key in ("total", "incoming", "outgoing", "successful", "failed", "current")
    }
    calls["peak"] = max(int(a["calls"]["peak"]), int(b["calls"]["peak"]))
    skipped = sum(int(doc["calls"].get("skipped_overload", 0)) for doc in (a, b))
    if skipped:
        calls["skipped_overload"] = skipped
    delayed = sum(int(doc["calls"].get("delayed_overload", 0)) for doc in (a, b))
    if delayed:
        calls["delayed_overload"] = delayed
    failures = {
        reason.value: int(a["failures"][reason.value]) + int(b["failures"][reason.value])
        for reason in FAILURE_REASONS
        if reason not in OWN_FAILURE_REASONS
    }
    for reason in OWN_FAILURE_REASONS:  # present only where counted
        own = int(a["failures"].get(reason.value, 0)) + int(b["failures"].get(reason.value, 0))
        if own:
            failures[reason.value] = own
    messages = {key: int(a["messages"][key]) + int(b["messages"][key]) for key in MESSAGE_KEYS}
    a_rtd, b_rtd = a["latency"]["rtd"], b["latency"]["rtd"]
    rtd = {
        name: _merge_latency(a_rtd.get(name), b_rtd.get(name))
        for name in _merge_names(a_rtd, b_rtd)
    }
    a_ctr, b_ctr = a["counters"], b["counters"]
    counters = {
        name: int(a_ctr.get(name, 0)) + int(b_ctr.get(name, 0))
        for name in _merge_names(a_ctr, b_ctr)
    }
    media: MediaTotals | None = None
    for part in (a, b):
        if "media" in part:
            if media is None:
                media = MediaTotals()
            media.merge(MediaTotals.from_dict(part["media"]))
    doc = _document(
        tool_version=_either(str(a["tool_version"]), str(b["tool_version"])),
        scenario_name=_either(str(a["scenario_name"]), str(b["scenario_name"])),
        exit_code=_merge_exit_code(
            int(a["exit_code"]), int(b["exit_code"]), calls["failed"], calls["total"]
        ),
        start_wall=start,
        finish_wall=finish,
        tz=None,
        calls=calls,
        failures=failures,
        target_cps=float(a["rate"]["target_cps"]) + float(b["rate"]["target_cps"]),
        duration_s=max(0.0, finish - start),
        messages=messages,
        rtd=rtd,
        call_length=_merge_latency(a["latency"]["call_length"], b["latency"]["call_length"]),
        counters=counters,
        media=media,
    )
    # Keep the texts (and so the time zones) of the earliest start and the latest finish.
    doc["started_at"] = a["started_at"] if a_start <= b_start else b["started_at"]
    doc["finished_at"] = a["finished_at"] if a_finish >= b_finish else b["finished_at"]
    return doc
