"""The HTML report: one self-contained page (inline CSS, JavaScript, uPlot and data).

:func:`build_report` turns summaries (and the CSV files that go with them) into the report's
data: one "run" per summary side by side (``compare``), or one run merged from all of them
(counts add, histograms merge exactly, :func:`gossipper.stats.merge_summaries`).
:func:`render_html` writes the page: tables rendered here (so the figures read without
JavaScript, and each figure cell names its metric in ``data-metric``), charts drawn in the
browser by ``assets/report.js`` from the JSON embedded in ``<script id="report-data">``.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import html
import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from gossipper.report.csvdata import CountsTable, MediaRecords, RttSamples, StatSeries
from gossipper.report.gates import (
    FAILURE_METRICS,
    LATENCY_STATS,
    Gate,
    GateResult,
    evaluate_gates,
    format_value,
    gate_results_json,
    summary_metrics,
)
from gossipper.stats.histogram import Histogram, bucket_bounds
from gossipper.stats.summary import merge_summaries

__all__ = [
    "REPORT_SCHEMA",
    "UPLOT_VERSION",
    "LabelledResult",
    "Report",
    "ReportInput",
    "build_report",
    "render_html",
]

REPORT_SCHEMA = "gossipper.report"
UPLOT_VERSION = "1.6.32"
"""Version of the vendored chart library (``vendor/uplot/README.md``)."""

DISTRIBUTION_BINS = 40
"""Bars of a response-time distribution chart."""


@dataclasses.dataclass(slots=True)
class ReportInput:
    """One summary and the CSV files read with it."""

    label: str
    summary: dict[str, Any]
    summary_path: str = ""
    stat: StatSeries | None = None
    rtt: RttSamples | None = None
    counts: CountsTable | None = None
    media: MediaRecords | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class LabelledResult:
    """A gate's result on one run of the report (``label`` empty when there is one run)."""

    label: str
    result: GateResult


@dataclasses.dataclass(slots=True)
class Report:
    """The report's data (embedded in the page as JSON) and its gate results."""

    data: dict[str, Any]
    gate_results: list[LabelledResult]
    documents: list[tuple[str, dict[str, Any]]]

    @property
    def passed(self) -> bool:
        return all(item.result.passed for item in self.gate_results)


def _merge_counts(tables: Sequence[CountsTable]) -> CountsTable | None:
    if not tables:
        return None
    first = tables[0]
    if any(table.header != first.header for table in tables[1:]):
        return first  # different scenarios: their element tables cannot be added
    merged = [
        {"index": e["index"], "element": e["element"], "counts": dict(e["counts"])}
        for e in first.elements
    ]
    for table in tables[1:]:
        for target, element in zip(merged, table.elements, strict=True):
            for key, value in element["counts"].items():
                target["counts"][key] = target["counts"].get(key, 0) + value
    return CountsTable(" + ".join(t.path for t in tables), first.header, merged)


def _merge_rtt(samples: Sequence[RttSamples]) -> RttSamples | None:
    if not samples:
        return None
    merged: dict[str, list[tuple[float, float]]] = {}
    for part in samples:
        for name, values in part.samples.items():
            merged.setdefault(name, []).extend(values)
    return RttSamples(" + ".join(s.path for s in samples), merged)


def _run_data(
    label: str,
    summary: dict[str, Any],
    stats: Sequence[StatSeries],
    rtt: RttSamples | None,
    counts: CountsTable | None,
    sources: Sequence[str],
    media: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    return {
        "label": label,
        "summary": summary,
        "metrics": summary_metrics(summary),
        "stat": [series.to_json() for series in stats],
        "percentiles": rtt.percentiles_over_time() if rtt is not None else {},
        "scenario_table": counts.elements if counts is not None else [],
        "media_over_time": list(media),
        "sources": list(sources),
    }


def _media_over_time(item: ReportInput) -> list[dict[str, Any]]:
    """The input's media file in windows of time since its own run's start."""
    if item.media is None:
        return []
    try:
        start_s = datetime.datetime.fromisoformat(str(item.summary["started_at"])).timestamp()
    except ValueError:  # not a date: the first stream's end stands for the start
        start_s = min(item.media.end_epoch_s, default=0.0)
    return [item.media.over_time(start_s)]


def _sources(item: ReportInput) -> list[str]:
    return [
        path
        for path in (
            item.summary_path,
            item.stat.path if item.stat else "",
            item.rtt.path if item.rtt else "",
            item.counts.path if item.counts else "",
            item.media.path if item.media else "",
        )
        if path
    ]


def _distribution(name: str, title: str, histograms: Sequence[Histogram]) -> dict[str, Any]:
    """Counts per display bar, the same bars for every run: ``DISTRIBUTION_BINS`` equal bars
    between the smallest and the largest value (log-spaced when they are more than 20x apart);
    each histogram bucket is counted, whole, in the bar holding its midpoint, so every value is
    counted exactly once."""
    filled = [h for h in histograms if h.count]
    low_ns = float(min(h.min_ns for h in filled))
    high_ns = float(max(h.max_ns for h in filled)) + 1.0
    log = low_ns > 0 and high_ns / low_ns > 20
    bins = DISTRIBUTION_BINS
    if log:
        ratio = (high_ns / low_ns) ** (1.0 / bins)
        edges = [low_ns * ratio**i for i in range(bins + 1)]
        centers_ns = [math.sqrt(edges[i] * edges[i + 1]) for i in range(bins)]
    else:
        step = (high_ns - low_ns) / bins
        edges = [low_ns + step * i for i in range(bins + 1)]
        centers_ns = [(edges[i] + edges[i + 1]) / 2 for i in range(bins)]
    rows = [[0] * bins for _ in histograms]
    for row, hist in zip(rows, histograms, strict=True):
        for index, count in hist.buckets.items():
            low, high = bucket_bounds(index)
            mid = min(max((low + high - 1) / 2, hist.min_ns), hist.max_ns)
            position = bisect.bisect_right(edges, mid) - 1
            row[min(max(position, 0), bins - 1)] += count
    return {
        "name": name,
        "title": title,
        "log": log,
        "edges_ms": [round(e / 1e6, 6) for e in edges],
        "centers_ms": [round(c / 1e6, 6) for c in centers_ns],
        "runs": rows,
    }


def _distributions(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    names: list[str] = []
    for run in runs:
        names += [n for n in run["summary"]["latency"]["rtd"] if n not in names]
    out: dict[str, Any] = {}
    for name in names:
        hists = []
        for run in runs:
            latency = run["summary"]["latency"]["rtd"].get(name)
            hists.append(
                Histogram.from_dict(latency["histogram"]) if latency is not None else Histogram()
            )
        if any(h.count for h in hists):
            out[f"rtd.{name}"] = _distribution(f"rtd.{name}", f"Response time {name}", hists)
    lengths = [
        Histogram.from_dict(run["summary"]["latency"]["call_length"]["histogram"]) for run in runs
    ]
    if any(h.count for h in lengths):
        out["call_length"] = _distribution("call_length", "Call length", lengths)
    return out


def build_report(
    inputs: Sequence[ReportInput],
    *,
    compare: bool = False,
    gates: Sequence[Gate] = (),
    tool_version: str = "",
) -> Report:
    """The report of one or several summaries.

    Raises:
        GossipperError: a summary is not a ``gossipper.summary`` version 1 document.
    """
    if not inputs:
        raise ValueError("build_report needs at least one summary")
    runs: list[dict[str, Any]]
    if compare or len(inputs) == 1:
        mode = "compare" if len(inputs) > 1 else "single"
        runs = [
            _run_data(
                item.label,
                item.summary,
                [item.stat] if item.stat else [],
                item.rtt,
                item.counts,
                _sources(item),
                _media_over_time(item),
            )
            for item in inputs
        ]
    else:
        mode = "merged"
        merged = inputs[0].summary
        for item in inputs[1:]:
            merged = merge_summaries(merged, item.summary)
        merged.pop("gates", None)
        runs = [
            _run_data(
                f"merged ({len(inputs)} summaries)",
                merged,
                [item.stat for item in inputs if item.stat],
                _merge_rtt([item.rtt for item in inputs if item.rtt]),
                _merge_counts([item.counts for item in inputs if item.counts]),
                [path for item in inputs for path in _sources(item)],
                [part for item in inputs for part in _media_over_time(item)],
            )
        ]
        runs[0]["parts"] = [item.label for item in inputs]
    results: list[LabelledResult] = []
    documents = [(run["label"] if len(runs) > 1 else "", run["summary"]) for run in runs]
    for label, doc in documents:
        results += [LabelledResult(label, r) for r in evaluate_gates(gates, doc)]
    data = {
        "schema": REPORT_SCHEMA,
        "version": 1,
        "generated_by": f"gossipper {tool_version}".strip(),
        "chart_library": f"uPlot {UPLOT_VERSION}",
        "mode": mode,
        "runs": runs,
        "distributions": _distributions(runs),
        "gates": [
            {"run": item.label, **entry}
            for item, entry in zip(
                results, gate_results_json(r.result for r in results), strict=True
            )
        ],
    }
    return Report(data=data, gate_results=results, documents=documents)


# ---------------------------------------------------------------------------- rendering


def _asset(relative: str) -> str:
    # Data files of this package (package-data in pyproject.toml), not modules.
    return resources.files("gossipper.report").joinpath(relative).read_text("utf-8")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.{digits}f}"
    return f"{int(value):,}"


def _cell(metric: str, run: int, value: float | None, digits: int = 3) -> str:
    raw = "" if value is None else repr(float(value))
    return (
        f'<td data-metric="{_e(metric)}" data-run="{run}" data-value="{_e(raw)}">'
        f"{_num(value, digits)}</td>"
    )


_SUMMARY_ROWS = (
    ("Calls created", "total_calls", 0),
    ("Successful calls", "successful_calls", 0),
    ("Failed calls", "failed_calls", 0),
    ("Success %", "success_pct", 3),
    ("Failed calls %", "failed_calls_pct", 3),
    ("Peak open calls", "peak_calls", 0),
    ("Achieved rate (calls/s)", "rate_cps", 3),
    ("Target rate (calls/s)", "target_cps", 3),
    ("Duration (s)", "duration_s", 3),
    ("Retransmissions", "retransmissions", 0),
    ("Out-of-call messages", "out_of_call", 0),
    ("Dead-call messages", "dead_call", 0),
    ("Malformed messages", "malformed", 0),
    ("Warnings", "warnings", 0),
)


def _head(runs: Sequence[Mapping[str, Any]], first: str) -> str:
    cells = "".join(f"<th>{_e(run['label'])}</th>" for run in runs)
    return f"<thead><tr><th>{_e(first)}</th>{cells}</tr></thead>"


def _summary_table(runs: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for title, metric, digits in _SUMMARY_ROWS:
        cells = "".join(
            _cell(metric, i, run["metrics"].get(metric), digits) for i, run in enumerate(runs)
        )
        rows.append(f"<tr><th>{_e(title)}</th>{cells}</tr>")
    return (
        f'<table id="summary-table">{_head(runs, "Figure")}<tbody>{"".join(rows)}</tbody></table>'
    )


_MEDIA_ROWS = (
    ("RTP streams", "media_streams", 0),
    ("RTP packets sent", "media_packets_sent", 0),
    ("RTP packets received", "media_packets_received", 0),
    ("RTP packets lost", "media_packets_lost", 0),
    ("Loss %", "media_loss_pct", 3),
    ("Worst stream loss %", "media_loss_pct_max", 2),
    ("Late packets (sent > 10 ms late)", "media_late_packets", 0),
    ("Late packets %", "media_late_pct", 3),
    ("Out of order", "media_out_of_order", 0),
    ("Duplicated", "media_duplicated", 0),
    ("Malformed", "media_malformed", 0),
    ("Jitter mean (ms)", "media_jitter_ms_mean", 3),
    ("Jitter max (ms)", "media_jitter_ms_max", 3),
    ("MOS mean", "media_mos_mean", 2),
    ("MOS min", "media_mos_min", 2),
    ("MOS 5th percentile", "media_mos_p05", 2),
    ("MOS median", "media_mos_p50", 2),
    ("RTCP packets received", "media_rtcp_received", 0),
    ("RTCP RTT mean (ms)", "media_rtt_ms_mean", 3),
    ("RTCP RTT max (ms)", "media_rtt_ms_max", 3),
)


def _has_media(runs: Sequence[Mapping[str, Any]]) -> bool:
    return any("media" in run["summary"] for run in runs)


def _media_section(runs: Sequence[Mapping[str, Any]]) -> str:
    """The media table (only in reports of runs with media: the others keep their bytes)."""
    if not _has_media(runs):
        return ""
    rows = []
    for title, metric, digits in _MEDIA_ROWS:
        cells = "".join(
            _cell(metric, i, run["metrics"].get(metric), digits) for i, run in enumerate(runs)
        )
        rows.append(f"<tr><th>{_e(title)}</th>{cells}</tr>")
    table = (
        f'<table id="media-table">{_head(runs, "Media quality")}<tbody>{"".join(rows)}</tbody>'
        "</table>"
    )
    # The streams by MOS estimate (from the summaries' MOS distributions) and media quality
    # over time (from the -trace_media files), drawn by report.js.
    chart = '<div class="chart" id="chart-mos"></div><div class="chart" id="chart-media"></div>'
    return f'<section id="media"><h2>Media</h2>{table}{chart}</section>\n'


def _latency_table(runs: Sequence[Mapping[str, Any]]) -> str:
    names: list[str] = []
    for run in runs:
        names += [n for n in run["summary"]["latency"]["rtd"] if n not in names]
    prefixes = [(f"Response time {n}", f"rtd.{n}.") for n in names]
    prefixes.append(("Call length", "call_length."))
    head = "".join(f"<th>{_e(stat.removesuffix('_ms'))}</th>" for stat in LATENCY_STATS)
    label_head = "<th>Run</th>" if len(runs) > 1 else ""
    rows = []
    for title, prefix in prefixes:
        for i, run in enumerate(runs):
            label = f"<td>{_e(run['label'])}</td>" if len(runs) > 1 else ""
            cells = "".join(
                _cell(f"{prefix}{stat}", i, run["metrics"].get(f"{prefix}{stat}"))
                for stat in LATENCY_STATS
            )
            rows.append(f"<tr><th>{_e(title)}</th>{label}{cells}</tr>")
    return (
        f'<table id="latency-table"><thead><tr><th>Measure (ms)</th>{label_head}{head}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _failure_table(runs: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    most = max(
        [1.0] + [float(run["metrics"][reason] or 0) for run in runs for reason in FAILURE_METRICS]
    )
    for reason in FAILURE_METRICS:
        if not any(run["metrics"][reason] for run in runs):
            continue
        cells = ""
        for i, run in enumerate(runs):
            value = run["metrics"][reason]
            bar = f'<span class="bar" style="width:{round(120 * (value or 0) / most)}px"></span> '
            cells += (
                f'<td data-metric="{_e(reason)}" data-run="{i}" data-value="{_e(repr(value))}">'
                f"{bar}{_num(value, 0)}</td>"
            )
        rows.append(f"<tr><th>{_e(reason)}</th>{cells}</tr>")
    if not rows:
        return '<p class="nodata">No call failed.</p>'
    return (
        f'<table id="failure-table">{_head(runs, "Reason (failed calls)")}'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


_COUNT_COLUMNS = ("Sent", "Recv", "Sessions", "Count", "Retrans", "Timeout", "Unexp", "Lost")


def _scenario_tables(runs: Sequence[Mapping[str, Any]]) -> str:
    out = []
    for run in runs:
        elements = run["scenario_table"]
        if not elements:
            continue
        used = [c for c in _COUNT_COLUMNS if any(c in e["counts"] for e in elements)]
        head = "".join(f"<th>{c}</th>" for c in used)
        rows = []
        for e in elements:
            counts = e["counts"]
            arrow = "&rarr; " if "Sent" in counts else "&larr; " if "Recv" in counts else ""
            cells = "".join(
                f'<td data-element="{e["index"]}" data-column="{c}">{counts[c]:,}</td>'
                if c in counts
                else "<td></td>"
                for c in used
            )
            rows.append(f"<tr><td>{e['index']}</td><th>{arrow}{_e(e['element'])}</th>{cells}</tr>")
        title = f"<h3>{_e(run['label'])}</h3>" if len(runs) > 1 else ""
        out.append(
            f'{title}<table class="scenario-table"><thead><tr><th>#</th><th>Element</th>{head}'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    if not out:
        return (
            '<p class="nodata">No counts file: run with -trace_counts (or pass --counts) for'
            " per-element counts.</p>"
        )
    return "".join(out)


def _gate_table(report: Report) -> str:
    if not report.gate_results:
        return '<p class="nodata">No gate was given (-gate EXPR).</p>'
    rows = []
    several = any(item.label for item in report.gate_results)
    for item in report.gate_results:
        result = item.result
        verdict = "pass" if result.passed else "fail"
        value = "–" if result.value is None else format_value(result.value)
        run = f"<td>{_e(item.label)}</td>" if several else ""
        rows.append(
            f'<tr data-gate="{_e(result.gate.text)}" data-passed="{str(result.passed).lower()}">'
            f"<th>{_e(result.gate.text)}</th>{run}<td>{_e(value)}</td>"
            f'<td><span class="verdict {verdict}">{verdict.upper()}</span></td>'
            f"<td>{_e(result.note)}</td></tr>"
        )
    run_head = "<th>Run</th>" if several else ""
    return (
        f'<table id="gate-table"><thead><tr><th>Gate</th>{run_head}<th>Value</th>'
        f"<th>Verdict</th><th>Note</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _verdict(report: Report) -> str:
    if not report.gate_results:
        failed = any(doc["calls"]["failed"] for _, doc in report.documents)
        return (
            '<span class="verdict fail">CALLS FAILED</span>'
            if failed
            else '<span class="verdict none">NO GATES</span>'
        )
    if report.passed:
        return '<span class="verdict pass">GATES PASSED</span>'
    return '<span class="verdict fail">GATES FAILED</span>'


def _cards(runs: Sequence[Mapping[str, Any]]) -> str:
    out = []
    for i, run in enumerate(runs):
        m = run["metrics"]
        cards = [
            ("total_calls", "calls", 0),
            ("successful_calls", "successful", 0),
            ("failed_calls", "failed", 0),
            ("rate_cps", "calls/s", 2),
            ("p99_ms", "p99 ms", 2),
        ]
        title = f"<h3>{_e(run['label'])}</h3>" if len(runs) > 1 else ""
        out.append(
            f'{title}<div class="cards">'
            + "".join(
                f'<div class="card"><b data-metric="{_e(metric)}" data-run="{i}">'
                f"{_num(m.get(metric), digits)}</b>{_e(text)}</div>"
                for metric, text, digits in cards
            )
            + "</div>"
        )
    return "".join(out)


def _json_for_script(data: Mapping[str, Any]) -> str:
    # "<" escaped keeps "</script>" and "<!--" out of the element; still the same JSON.
    return json.dumps(data, ensure_ascii=False, allow_nan=False).replace("<", "\\u003c")


_SECTIONS = (
    ("overview", "Overview"),
    ("gates", "Gates"),
    ("rate", "Rate"),
    ("latency", "Response times"),
    ("failures", "Failures"),
    ("summary", "Summary"),
    ("scenario", "Scenario"),
    ("sources", "Sources"),
)


def render_html(report: Report) -> str:
    """The self-contained page of a report."""
    data = report.data
    runs: list[dict[str, Any]] = data["runs"]
    first = runs[0]["summary"]
    title = f"gossipper report: {first['scenario_name']}"
    if data["mode"] == "compare":
        title = "gossipper report: " + " vs ".join(run["label"] for run in runs)
    failures = (
        f'{_media_section(runs)}<section id="failures"><h2>Failures by reason</h2>'
        f"{_failure_table(runs)}</section>"
    )
    sections: tuple[tuple[str, str], ...] = _SECTIONS
    if _has_media(runs):
        at = [sid for sid, _ in sections].index("failures")
        sections = (*sections[:at], ("media", "Media"), *sections[at:])
    nav = "".join(f'<a href="#{sid}">{_e(name)}</a>' for sid, name in sections)
    parts = "".join(f"<li>{_e(p)}</li>" for p in runs[0].get("parts", []))
    merged_note = f"<p>Merged from:</p><ul>{parts}</ul>" if parts else ""
    sources = "".join(
        f"<li>{_e(run['label'])}: {_e(', '.join(run['sources']) or 'summary given in memory')}</li>"
        for run in runs
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{_e(data["generated_by"])}">
<title>{_e(title)}</title>
<style>{_asset("vendor/uplot/uPlot.min.css")}</style>
<style>{_asset("assets/report.css")}</style>
</head>
<body>
<header><h1>{_e(title)}</h1>
<p>Started {_e(first["started_at"])} &middot; finished {_e(first["finished_at"])} &middot;
exit code {_e(first["exit_code"])} &middot; {_e(data["generated_by"])}</p></header>
<nav>{nav}</nav>
<main>
<section id="overview"><h2>Overview {_verdict(report)}</h2>{_cards(runs)}{merged_note}</section>
<section id="gates"><h2>Gates</h2>{_gate_table(report)}</section>
<section id="rate"><h2>Rate over time</h2>
<div class="chart" id="chart-rate"></div><div class="chart" id="chart-open"></div>
<div class="chart" id="chart-failures"></div></section>
<section id="latency"><h2>Response times</h2>{_latency_table(runs)}
<div class="chart" id="chart-distribution"></div><div class="chart" id="chart-percentiles"></div>
<div class="chart" id="chart-rtmean"></div></section>
{failures}
<section id="summary"><h2>Summary</h2>{_summary_table(runs)}</section>
<section id="scenario"><h2>Scenario</h2>{_scenario_tables(runs)}</section>
<section id="sources"><h2>Sources</h2><ul>{sources}</ul>
<p class="note">Charts drawn with uPlot {UPLOT_VERSION} (MIT licence), inlined.</p></section>
</main>
<script type="application/json" id="report-data">{_json_for_script(data)}</script>
<script>{_asset("vendor/uplot/uPlot.iife.min.js")}</script>
<script>{_asset("assets/report.js")}</script>
</body>
</html>
"""
