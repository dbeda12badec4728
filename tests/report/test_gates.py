"""Gate expressions (``-gate``): grammar, metric names, evaluation on summary documents."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from gossipper.errors import ExitStatus
from gossipper.report.gates import (
    GateError,
    cannot_pass,
    evaluate_gates,
    format_gate_line,
    gate_results_json,
    parse_gate,
    parse_gates,
    summary_metrics,
)

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden_csv"


def golden(case: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((GOLDEN / case / "summary.json").read_text("utf-8"))
    return document


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold"),
    [
        ("failed_calls_pct<1", "failed_calls_pct", "<", 1.0),
        (" p99_ms <= 200 ", "p99_ms", "<=", 200.0),
        ("rate_cps>=95", "rate_cps", ">=", 95.0),
        ("successful_calls>=1000", "successful_calls", ">=", 1000.0),
        ("rtd.setup.p90_ms<50.5", "rtd.setup.p90_ms", "<", 50.5),
        ("call_length.max_ms!=0", "call_length.max_ms", "!=", 0.0),
        ("counter.got200==3", "counter.got200", "==", 3.0),
        ("FailedTimeoutOnRecv==0", "FailedTimeoutOnRecv", "==", 0.0),
        ("retransmissions>-1e3", "retransmissions", ">", -1000.0),
    ],
)
def test_gate_grammar(text: str, metric: str, op: str, threshold: float) -> None:
    gate = parse_gate(text)
    assert (gate.metric, gate.op, gate.threshold) == (metric, op, threshold)
    assert " " not in gate.text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("p98_ms<1", "unknown metric 'p98_ms'"),
        ("failed_calls_pct", "not a gate"),
        ("failed_calls_pct<<1", "not a gate"),
        ("failed_calls_pct<abc", "not a gate"),
        ("rtd.p99_ms<1", "unknown metric"),
        ("call_length.p42_ms<1", "unknown metric"),
    ],
)
def test_bad_gates_name_the_gate_and_the_metrics(text: str, fragment: str) -> None:
    with pytest.raises(GateError) as info:
        parse_gate(text)
    message = str(info.value)
    assert fragment in message
    assert repr(text) in message  # the gate is named
    assert "failed_calls_pct" in message and "p99_ms" in message  # the metric list
    assert "\n" not in message
    assert info.value.exit_status == ExitStatus.FATAL


def test_metrics_come_from_the_summary() -> None:
    doc = golden("timeout_limit")
    metrics = summary_metrics(doc)
    assert metrics["total_calls"] == 9
    assert metrics["failed_calls"] == 4
    assert metrics["failed_calls_pct"] == pytest.approx(100 * 4 / 9)
    assert metrics["success_pct"] == pytest.approx(100 * 5 / 9)
    assert metrics["FailedCallRejected"] == 4
    assert metrics["rate_cps"] == doc["rate"]["achieved_cps"]
    assert metrics["rate_pct"] == pytest.approx(
        100 * doc["rate"]["achieved_cps"] / doc["rate"]["target_cps"]
    )
    first = doc["latency"]["rtd"]["1"]
    for stat in ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "mean_ms", "max_ms"):
        assert metrics[stat] == first[stat]
        assert metrics[f"rtd.1.{stat}"] == first[stat]
        assert metrics[f"call_length.{stat}"] == doc["latency"]["call_length"][stat]
    assert metrics["rtd_count"] == first["count"]


def test_named_rtds_and_counters() -> None:
    doc = golden("named_rtd")
    metrics = summary_metrics(doc)
    assert metrics["rtd.setup.p99_ms"] == doc["latency"]["rtd"]["setup"]["p99_ms"]
    # Bare names are the first RTD of the scenario.
    assert metrics["p99_ms"] == doc["latency"]["rtd"]["setup"]["p99_ms"]
    for name, value in doc["counters"].items():
        assert metrics[f"counter.{name}"] == value


def test_evaluation_pass_fail_and_missing_values() -> None:
    doc = golden("timeout_limit")
    gates = parse_gates(
        [
            "failed_calls_pct<1",
            "successful_calls>=5",
            "rtd.nosuch.p99_ms<10",
            "counter.nosuch==0",
            "FailedCallRejected==4",
        ]
    )
    results = evaluate_gates(gates, doc)
    assert [r.passed for r in results] == [False, True, False, False, True]
    assert results[0].value == pytest.approx(400 / 9)
    assert results[2].value is None and "no such RTD" in results[2].note
    assert results[3].value is None and "no such counter" in results[3].note
    assert format_gate_line(results[1]) == ("gate successful_calls>=5: PASS (successful_calls = 5)")
    assert format_gate_line(results[0]).startswith("gate failed_calls_pct<1: FAIL (")
    entries = gate_results_json(results)
    assert entries[0] == {
        "gate": "failed_calls_pct<1",
        "metric": "failed_calls_pct",
        "op": "<",
        "threshold": 1.0,
        "value": pytest.approx(400 / 9),
        "passed": False,
    }
    assert entries[2]["value"] is None


def test_percentages_of_no_call_fail() -> None:
    doc = golden("clean")
    doc["calls"].update(total=0, outgoing=0, successful=0)
    (result,) = evaluate_gates(parse_gates(["failed_calls_pct<1"]), doc)
    assert not result.passed and result.value is None


@pytest.mark.parametrize(
    ("text", "metrics", "max_calls", "stops"),
    [
        ("failed_calls<10", {"failed_calls": 10.0}, 0, True),
        ("failed_calls<10", {"failed_calls": 9.0}, 0, False),
        ("failed_calls<=10", {"failed_calls": 10.0}, 0, False),
        ("FailedTimeoutOnRecv==0", {"FailedTimeoutOnRecv": 1.0}, 0, True),
        ("retransmissions<=5", {"retransmissions": 6.0}, 0, True),
        ("max_ms<100", {"max_ms": 150.0}, 0, True),
        ("rtd.setup.max_ms<100", {"rtd.setup.max_ms": 150.0}, 0, True),
        ("counter.errors<1", {"counter.errors": 1.0}, 0, True),
        # Can still come back: percentiles, means, rates, lower bounds on counts.
        ("p99_ms<100", {"p99_ms": 500.0}, 0, False),
        ("rate_cps>=10", {"rate_cps": 1.0}, 0, False),
        ("successful_calls>=100", {"successful_calls": 1.0}, 0, False),
        # Percentages: sure only with a call limit.
        ("failed_calls_pct<1", {"failed_calls_pct": 50.0, "failed_calls": 1.0}, 0, False),
        ("failed_calls_pct<1", {"failed_calls_pct": 50.0, "failed_calls": 1.0}, 100, True),
        ("failed_calls_pct<1", {"failed_calls_pct": 50.0, "failed_calls": 1.0}, 101, False),
        ("success_pct>=99", {"success_pct": 50.0, "failed_calls": 1.0}, 100, False),
        ("success_pct>=99", {"success_pct": 50.0, "failed_calls": 2.0}, 100, True),
    ],
)
def test_cannot_pass_only_when_sure(
    text: str, metrics: dict[str, float], max_calls: int, stops: bool
) -> None:
    why = cannot_pass(parse_gate(text), metrics, max_calls=max_calls)
    assert (why is not None) == stops, why
