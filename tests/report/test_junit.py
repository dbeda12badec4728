"""``-junit``: the JUnit XML of a summary, read back with xml.etree."""

from __future__ import annotations

import json
import pathlib
import xml.etree.ElementTree as ET
from typing import Any

from gossipper.report.gates import FAILURE_METRICS, evaluate_gates, parse_gates
from gossipper.report.junit import format_junit

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden_csv"


def golden(case: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((GOLDEN / case / "summary.json").read_text("utf-8"))
    return document


def test_one_case_per_gate_and_per_failure_reason() -> None:
    doc = golden("tcp_tn_resets")  # 5 of 40 calls failed with FailedTcpClosed
    results = evaluate_gates(parse_gates(["failed_calls_pct<1", "successful_calls>=30"]), doc)
    text = format_junit(doc, results)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.split("\n", 1)[1])
    assert root.tag == "testsuites"
    gates_suite, reasons_suite = root.findall("testsuite")
    gate_cases = gates_suite.findall("testcase")
    assert [case.get("name") for case in gate_cases] == [
        "failed_calls_pct<1",
        "successful_calls>=30",
    ]
    assert gate_cases[0].find("failure") is not None
    assert "failed_calls_pct = 12.5" in (gate_cases[0].find("failure").get("message") or "")
    assert gate_cases[1].find("failure") is None
    assert gates_suite.get("tests") == "2" and gates_suite.get("failures") == "1"

    reason_cases = reasons_suite.findall("testcase")
    assert [case.get("name") for case in reason_cases] == list(FAILURE_METRICS)
    failed = {case.get("name"): case.find("failure") for case in reason_cases}
    assert {name for name, failure in failed.items() if failure is not None} == {"FailedTcpClosed"}
    failure = failed["FailedTcpClosed"]
    assert failure is not None
    assert failure.get("count") == "5" and failure.get("total_calls") == "40"
    assert failure.get("message") == "5 of 40 calls failed with FailedTcpClosed (12.5%)"
    assert reasons_suite.get("failures") == "1"
    assert reasons_suite.get("tests") == str(len(FAILURE_METRICS))
    assert root.get("tests") == str(2 + len(FAILURE_METRICS))
    assert root.get("failures") == "2"
    properties = {p.get("name"): p.get("value") for p in gates_suite.iter("property")}
    assert properties["total_calls"] == "40" and properties["failed_calls"] == "5"


def test_failed_calls_without_a_reason_get_their_own_case() -> None:
    doc = golden("clean")
    doc["calls"]["failed"] = 2
    root = ET.fromstring(format_junit(doc, []).split("\n", 1)[1])
    names = [case.get("name") for case in root.iter("testcase")]
    assert names[-1] == "FailedOther"
    other = list(root.iter("testcase"))[-1].find("failure")
    assert other is not None and other.get("count") == "2"


def test_media_failure_reasons_gate_and_report_when_absent_or_counted() -> None:
    """gossipper's own reasons are in the summary only when counted: a gate on them reads 0
    when absent, and the JUnit report lists them as any other reason."""
    from gossipper.report.gates import summary_metrics

    doc = golden("tcp_tn_resets")
    assert "FailedMediaSdp" not in doc["failures"]
    assert summary_metrics(doc)["FailedMediaSdp"] == 0.0
    doc["failures"]["FailedMediaSdp"] = 2
    doc["calls"]["failed"] = int(doc["calls"]["failed"]) + 2
    results = evaluate_gates(parse_gates(["FailedMediaSdp==0"]), doc)
    assert [result.passed for result in results] == [False]
    root = ET.fromstring(format_junit(doc, results).split("\n", 1)[1])
    failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    assert "FailedMediaSdp" in failed and "FailedMediaPorts" not in failed
