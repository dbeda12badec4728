"""Media gates (media_mos_min, media_loss_pct, ...): metrics from the summary's media section,
failing when the run had no media, the exit status and JUnit cases through `gossipper report`."""

from __future__ import annotations

import io
import json
import pathlib
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from gossipper.cli.main import raw_main
from gossipper.errors import ExitStatus
from gossipper.report.gates import (
    MEDIA_METRICS,
    cannot_pass,
    evaluate_gates,
    parse_gate,
    parse_gates,
    summary_metrics,
)
from gossipper.stats.media import MediaTotals
from tests.stats._media_samples import stream

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden_csv"


def clean_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((GOLDEN / "clean" / "summary.json").read_text("utf-8"))
    return doc


def media_doc() -> dict[str, Any]:
    totals = MediaTotals()
    totals.add(stream(mos=4.3, packets_expected=500, packets_lost=5, max_jitter_ms=3.5))
    totals.add(
        stream(
            call_number=2,
            mos=3.2,
            packets_expected=500,
            packets_lost=50,
            jitter_ms=6.0,
            max_jitter_ms=12.5,
            rtt_ms=None,
        )
    )
    doc = clean_doc()
    doc["media"] = totals.to_dict()
    return doc


def test_media_metrics_parse() -> None:
    for metric in MEDIA_METRICS:
        assert parse_gate(f"{metric}>=0").metric == metric
    assert parse_gate("media_mos_min>=3.5").threshold == 3.5


def test_media_metric_values() -> None:
    metrics = summary_metrics(media_doc())
    assert metrics["media_streams"] == 2
    assert metrics["media_mos_min"] == 3.2
    assert metrics["media_mos_mean"] == pytest.approx(3.75)
    assert metrics["media_loss_pct"] == pytest.approx(5.5)
    assert metrics["media_loss_pct_max"] == pytest.approx(10.0)
    assert metrics["media_jitter_ms_max"] == 12.5
    assert metrics["media_jitter_ms_mean"] == pytest.approx(3.625)
    assert metrics["media_packets_lost"] == 55
    assert metrics["media_rtt_ms_mean"] == pytest.approx(0.75)
    assert metrics["media_late_pct"] == pytest.approx(0.4)


def test_media_gates_pass_and_fail() -> None:
    gates = parse_gates(
        ["media_mos_min>=3.5", "media_mos_mean>3.5", "media_loss_pct<1", "media_jitter_ms_max<20"]
    )
    results = evaluate_gates(gates, media_doc())
    assert [r.passed for r in results] == [False, True, False, True]
    assert results[0].value == 3.2


def test_media_gates_fail_without_media() -> None:
    (result,) = evaluate_gates(parse_gates(["media_mos_min>=1"]), clean_doc())
    assert not result.passed and result.value is None
    assert "no media stream" in result.note
    # Nothing received: loss and MOS have no value, the sent count has one.
    doc = clean_doc()
    silent = MediaTotals()
    silent.add(stream(packets_received=0, packets_expected=0, packets_lost=0, mos=None))
    doc["media"] = silent.to_dict()
    metrics = summary_metrics(doc)
    assert metrics["media_loss_pct"] is None and metrics["media_mos_min"] is None
    assert metrics["media_packets_sent"] == 500


def test_gate_abort_on_media_minimum_and_maximum() -> None:
    metrics = summary_metrics(media_doc())
    reason = cannot_pass(parse_gate("media_mos_min>=3.5"), metrics)
    assert reason is not None and "cannot increase" in reason
    assert cannot_pass(parse_gate("media_mos_min<=3.5"), metrics) is None
    assert cannot_pass(parse_gate("media_jitter_ms_max<10"), metrics) is not None
    # A mean can still recover.
    assert cannot_pass(parse_gate("media_mos_mean>=4"), metrics) is None


def test_report_command_media_gate_exit_status_and_junit(tmp_path: pathlib.Path) -> None:
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps(media_doc()), "utf-8")
    junit = tmp_path / "junit.xml"
    out, err = io.StringIO(), io.StringIO()
    status = raw_main(
        [
            "report",
            "-o",
            str(tmp_path / "r.html"),
            str(summary),
            "-gate",
            "media_mos_min>=3.5",
            "-gate",
            "media_loss_pct_max<=10",
            "-junit",
            str(junit),
        ],  # fmt: skip
        stdout=out,
        stderr=err,
    )
    stderr = err.getvalue()
    assert status == ExitStatus.CALLS_FAILED, stderr
    assert "gate media_mos_min>=3.5: FAIL (media_mos_min = 3.2)" in stderr
    assert "gate media_loss_pct_max<=10: PASS (media_loss_pct_max = 10)" in stderr
    root = ET.parse(junit).getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    failed = [name for name, case in cases.items() if case.find("failure") is not None]
    assert any("media_mos_min>=3.5" in str(name) for name in failed)
    assert not any("media_loss_pct_max" in str(name) for name in failed)


def test_media_free_documents_have_no_media_metrics() -> None:
    assert not any(name.startswith("media_") for name in summary_metrics(clean_doc()))
    assert set(MEDIA_METRICS) <= set(summary_metrics(media_doc()))
