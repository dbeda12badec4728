"""``-junit FILE``: JUnit XML for CI systems (docs/reports.md, "JUnit XML").

One test suite of gates (a test case per gate) and one of failure reasons (a test case per
SIPp failure reason; it fails when calls failed for that reason, with the counts). Readers
such as GitLab, Jenkins and GitHub test reporters then list every gate and reason by name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from gossipper.report.gates import FAILURE_METRICS, GateResult, format_gate_line, format_value

__all__ = ["format_junit"]


def _suite(parent: ET.Element, name: str, tests: int, failures: int, time_s: float) -> ET.Element:
    return ET.SubElement(
        parent,
        "testsuite",
        {
            "name": name,
            "tests": str(tests),
            "failures": str(failures),
            "errors": "0",
            "skipped": "0",
            "time": f"{time_s:.3f}",
        },
    )


def format_junit(doc: Mapping[str, Any], results: Sequence[GateResult], *, label: str = "") -> str:
    """The JUnit XML document of a run: its summary document and its evaluated gates."""
    scenario = str(doc["scenario_name"])
    prefix = f"gossipper.{label or scenario}"
    duration_s = float(doc["duration_s"])
    calls = doc["calls"]
    total = int(calls["total"])
    failures: Mapping[str, Any] = doc["failures"]
    failed_reasons = [reason for reason in FAILURE_METRICS if int(failures.get(reason, 0)) > 0]
    # A failed call counted under no reason (e.g. ended by a stop command) gets its own case.
    unclassified = int(calls["failed"]) - sum(int(failures.get(r, 0)) for r in FAILURE_METRICS)
    reason_cases = len(FAILURE_METRICS) + (1 if unclassified > 0 else 0)
    reason_failures = len(failed_reasons) + (1 if unclassified > 0 else 0)
    gate_failures = sum(1 for result in results if not result.passed)

    root = ET.Element(
        "testsuites",
        {
            "name": prefix,
            "tests": str(len(results) + reason_cases),
            "failures": str(gate_failures + reason_failures),
            "errors": "0",
            "time": f"{duration_s:.3f}",
        },
    )
    gates = _suite(root, f"{prefix}.gates", len(results), gate_failures, duration_s)
    properties = ET.SubElement(gates, "properties")
    for key, value in (
        ("scenario", scenario),
        ("started_at", str(doc["started_at"])),
        ("total_calls", str(total)),
        ("failed_calls", str(calls["failed"])),
        ("exit_code", str(doc["exit_code"])),
    ):
        ET.SubElement(properties, "property", {"name": key, "value": value})
    for result in results:
        case = ET.SubElement(
            gates,
            "testcase",
            {"classname": f"{prefix}.gates", "name": result.gate.text, "time": "0"},
        )
        line = format_gate_line(result)
        if not result.passed:
            failure = ET.SubElement(case, "failure", {"message": line, "type": "gate"})
            failure.text = line
        else:
            ET.SubElement(case, "system-out").text = line

    reasons = _suite(root, f"{prefix}.failures", reason_cases, reason_failures, duration_s)
    for reason in FAILURE_METRICS:
        count = int(failures.get(reason, 0))
        case = ET.SubElement(
            reasons, "testcase", {"classname": f"{prefix}.failures", "name": reason, "time": "0"}
        )
        if count > 0:
            _failure(case, reason, count, total)
    if unclassified > 0:
        case = ET.SubElement(
            reasons,
            "testcase",
            {"classname": f"{prefix}.failures", "name": "FailedOther", "time": "0"},
        )
        _failure(case, "FailedOther", unclassified, total)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _failure(case: ET.Element, reason: str, count: int, total: int) -> None:
    pct = format_value(round(100.0 * count / total, 3)) if total else "0"
    message = f"{count} of {total} calls failed with {reason} ({pct}%)"
    failure = ET.SubElement(
        case,
        "failure",
        {"message": message, "type": reason, "count": str(count), "total_calls": str(total)},
    )
    failure.text = message
