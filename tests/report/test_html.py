"""The HTML report (issue 15 item 5): the figures in the page are the summary's, the page is
well formed and self-contained, and merged/compared reports add up."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from gossipper.report.csvdata import find_companions, read_counts_csv, read_stat_csv
from gossipper.report.gates import parse_gates, summary_metrics
from gossipper.report.html import UPLOT_VERSION, build_report, render_html
from gossipper.report.inputs import load_input
from gossipper.stats import Histogram, merge_summaries
from tests.report._html_check import embedded_data, read_page

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden_csv"
VENDOR = pathlib.Path(__file__).resolve().parents[2] / "gossipper" / "report" / "vendor"


def summary_of(case: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((GOLDEN / case / "summary.json").read_text("utf-8"))
    return document


def render(cases: list[str], **kwargs: Any) -> tuple[str, Any]:
    inputs = [load_input(str(GOLDEN / case / "summary.json"), label=case) for case in cases]
    report = build_report(inputs, tool_version="test", **kwargs)
    return render_html(report), report


@pytest.mark.parametrize("case", ["named_rtd", "timeout_limit", "tcp_tn_resets", "server_main"])
def test_figures_in_the_page_equal_the_summary(case: str) -> None:
    page, _ = render([case], gates=parse_gates(["failed_calls_pct<1", "p99_ms<=200"]))
    reader = read_page(page)
    data = embedded_data(reader)
    summary = summary_of(case)
    (run,) = data["runs"]
    # The data embedded in the page is the summary itself, and its metrics.
    assert run["summary"] == summary
    metrics = summary_metrics(summary)
    assert run["metrics"] == metrics
    # Every figure shown in a table or card is a metric of the summary, shown as its value.
    assert len(reader.cells) >= 5 + 14 + 2 * 9
    for attributes, shown in reader.cells:
        metric = attributes["data-metric"]
        assert metric is not None
        value = metrics[metric]
        if value is None:
            assert shown == "–"
            continue
        if attributes.get("data-value") is not None:
            assert float(attributes["data-value"] or "nan") == value
        number = float(shown.replace(",", ""))
        assert number == pytest.approx(value, abs=0.0051), (metric, shown, value)
    shown_metrics = {attributes["data-metric"] for attributes, _ in reader.cells}
    for required in ("total_calls", "successful_calls", "failed_calls", "rate_cps", "p99_ms"):
        assert required in shown_metrics
    for name in summary["latency"]["rtd"]:
        assert f"rtd.{name}.p99_ms" in shown_metrics
    for reason, count in summary["failures"].items():
        assert (reason in shown_metrics) == (count > 0)


def test_distribution_counts_every_value_once() -> None:
    _, report = render(["loss_10pct"])
    summary = summary_of("loss_10pct")
    distributions = report.data["distributions"]
    rtd = distributions["rtd.1"]
    assert sum(rtd["runs"][0]) == summary["latency"]["rtd"]["1"]["count"]
    assert len(rtd["centers_ms"]) == len(rtd["edges_ms"]) - 1
    assert rtd["edges_ms"][0] <= summary["latency"]["rtd"]["1"]["min_ms"]
    assert rtd["edges_ms"][-1] >= summary["latency"]["rtd"]["1"]["max_ms"]
    length = distributions["call_length"]
    assert sum(length["runs"][0]) == summary["latency"]["call_length"]["count"]


def test_stat_series_add_up_to_the_summary() -> None:
    summary = summary_of("tcp_tn_resets")
    found = find_companions(str(GOLDEN / "tcp_tn_resets" / "summary.json"), "uac")
    assert set(found) == {"stat", "rtt", "counts"}
    series = read_stat_csv(found["stat"])
    # The periodic (P) columns of the rows add up to the run's totals ...
    assert sum(series.successful) == summary["calls"]["successful"]
    assert sum(series.failed) == summary["calls"]["failed"]
    assert sum(series.failures["FailedTcpClosed"]) == summary["failures"]["FailedTcpClosed"]
    assert series.t_s[0] == 0.0 and series.t_s == sorted(series.t_s)
    _, report = render(["tcp_tn_resets"])
    (run,) = report.data["runs"]
    assert run["stat"][0]["successful"] == series.successful
    # ... and the percentiles over time count every RTT sample once.
    percentiles = run["percentiles"]["1"]
    assert sum(percentiles["count"]) == summary["latency"]["rtd"]["1"]["count"]


def test_scenario_table_is_the_last_counts_row() -> None:
    path = GOLDEN / "named_rtd" / "uac_rtd_4242_counts.csv"
    lines = path.read_text("utf-8").splitlines()
    header, last = lines[0].split(";"), lines[-1].split(";")
    table = read_counts_csv(str(path))
    by_column = {
        f"{e['index']}_{e['element']}_{column}": value
        for e in table.elements
        for column, value in e["counts"].items()
    }
    for name, value in zip(header[2:], last[2:], strict=False):
        if name:
            assert by_column[name] == int(value)
    page, _ = render(["named_rtd"])
    reader = read_page(page)
    assert 'data-element="0" data-column="Sent">25<' in page
    assert reader.ids.count("summary-table") == 1


def test_merged_report_adds_counts_and_merges_histograms_exactly() -> None:
    cases = ["loss_10pct", "tcp_tn_resets", "timeout_limit"]
    page, report = render(cases)
    data = embedded_data(read_page(page))
    assert data["mode"] == "merged"
    (run,) = data["runs"]
    expected = summary_of(cases[0])
    for case in cases[1:]:
        expected = merge_summaries(expected, summary_of(case))
    assert run["summary"] == expected
    assert run["metrics"]["total_calls"] == sum(summary_of(c)["calls"]["total"] for c in cases)
    merged = Histogram()
    for case in cases:
        merged.merge(Histogram.from_dict(summary_of(case)["latency"]["rtd"]["1"]["histogram"]))
    assert Histogram.from_dict(run["summary"]["latency"]["rtd"]["1"]["histogram"]) == merged
    assert len(run["stat"]) == 3  # one series per stat file
    assert run["parts"] == cases


def test_compare_report_keeps_runs_side_by_side() -> None:
    page, report = render(
        ["clean", "reject_486"], compare=True, gates=parse_gates(["failed_calls==0"])
    )
    data = embedded_data(read_page(page))
    assert data["mode"] == "compare"
    assert [run["label"] for run in data["runs"]] == ["clean", "reject_486"]
    assert [run["summary"] for run in data["runs"]] == [
        summary_of("clean"),
        summary_of("reject_486"),
    ]
    assert [(g["run"], g["passed"]) for g in data["gates"]] == [
        ("clean", True),
        ("reject_486", False),
    ]
    assert not report.passed
    assert 'data-metric="failed_calls" data-run="1"' in page


def test_page_is_self_contained_and_inlines_uplot() -> None:
    page, _ = render(["clean"])
    library = (VENDOR / "uplot" / "uPlot.iife.min.js").read_text("utf-8")
    assert library in page
    assert f"(v{UPLOT_VERSION})" in library
    assert f"uplot@{UPLOT_VERSION}" in (VENDOR / "uplot" / "README.md").read_text("utf-8")
    assert "MIT" in (VENDOR / "uplot" / "LICENSE").read_text("utf-8")
    assert "<link" not in page and "<img" not in page and "<iframe" not in page


def test_embedded_json_cannot_close_its_script() -> None:
    inputs = [load_input(str(GOLDEN / "clean" / "summary.json"), label="</script><b>x")]
    page = render_html(build_report(inputs))
    reader = read_page(page)
    assert embedded_data(reader)["runs"][0]["label"] == "</script><b>x"


def test_rfc3339_dates_in_the_stat_file() -> None:
    series = read_stat_csv(str(GOLDEN / "rfc3339" / "uac_timestamp_4242_.csv"))
    assert series.t_s == [0.0, 0.4]  # CurrentTime 22:13:20.000000Z, then 22:13:20.400000Z
    assert sum(series.failed) == summary_of("rfc3339")["calls"]["failed"]


def test_media_table_only_for_runs_with_media(tmp_path: pathlib.Path) -> None:
    from gossipper.stats.media import MediaTotals
    from tests.stats._media_samples import stream

    page, _ = render(["clean"])
    assert 'id="media"' not in page and "#media" not in page
    totals = MediaTotals()
    totals.add(stream(mos=4.1))
    totals.add(stream(call_number=2, mos=3.3, packets_lost=20))
    summary = summary_of("clean")
    summary["media"] = totals.to_dict()
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary), "utf-8")
    report = build_report([load_input(str(path), label="voice")], tool_version="test")
    page = render_html(report)
    assert '<a href="#media">Media</a>' in page and '<table id="media-table">' in page
    reader = read_page(page)
    metrics = summary_metrics(summary)
    shown = {attributes["data-metric"]: text for attributes, text in reader.cells}
    assert shown["media_mos_min"] == "3.30" and metrics["media_mos_min"] == 3.3
    assert shown["media_streams"] == "2"
    assert float(shown["media_loss_pct"]) == pytest.approx(metrics["media_loss_pct"])
