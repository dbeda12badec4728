"""RTP check gates (SIPp 3.7's apattern/vpattern echo check): media_rtpcheck_streams,
media_rtpcheck_failed, media_rtpcheck_mismatched and media_rtpcheck_matched_pct, read from the
summary of the golden simulated run that checks four pattern streams and fails two."""

from __future__ import annotations

import json
import pathlib

from gossipper.report.gates import (
    RTPCHECK_METRICS,
    cannot_pass,
    evaluate_gates,
    metric_names_help,
    parse_gate,
    parse_gates,
    summary_metrics,
)
from tests.report.test_gates_media import clean_doc

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden_csv" / "media_rtpcheck"


def _golden_summary() -> dict[str, object]:
    doc: dict[str, object] = json.loads((GOLDEN / "summary.json").read_text())
    return doc


def test_the_metrics_come_from_the_summary_rtpcheck_section() -> None:
    doc = _golden_summary()
    check = doc["media"]["rtpcheck"]  # type: ignore[index]
    metrics = summary_metrics(doc)
    assert metrics["media_rtpcheck_streams"] == check["streams"] == 4
    assert metrics["media_rtpcheck_failed"] == check["failed"] == 2
    assert metrics["media_rtpcheck_mismatched"] == check["mismatched"]
    assert metrics["media_rtpcheck_matched_pct"] == 100.0 * check["matched"] / check["judged"]


def test_gates_pass_and_fail_on_the_golden_run() -> None:
    doc = _golden_summary()
    results = evaluate_gates(
        parse_gates(
            [
                "media_rtpcheck_failed==0",
                "media_rtpcheck_streams>=4",
                "media_rtpcheck_matched_pct>=99.9",
                "media_rtpcheck_matched_pct>=90",
            ]
        ),
        doc,
    )
    assert [r.passed for r in results] == [False, True, False, True]


def test_a_summary_without_pattern_streams_has_no_value() -> None:
    doc = clean_doc()
    metrics = summary_metrics(doc)
    for name in RTPCHECK_METRICS:
        assert metrics.get(name) is None, name
    (result,) = evaluate_gates([parse_gate("media_rtpcheck_failed==0")], doc)
    assert not result.passed


def test_the_names_are_listed_and_failures_cannot_recover() -> None:
    for name in RTPCHECK_METRICS:
        assert name in metric_names_help()
    failed = parse_gate("media_rtpcheck_failed==0")
    metrics = summary_metrics(_golden_summary())
    assert cannot_pass(failed, metrics) is not None
    assert cannot_pass(parse_gate("media_rtpcheck_failed<=5"), metrics) is None
