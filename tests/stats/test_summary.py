from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from gossipper.errors import GossipperError
from gossipper.stats import (
    FailureReason,
    RunStats,
    build_summary_json,
    load_summary_schema,
    merge_summaries,
)
from gossipper.stats.counters import SIPP_FAILURE_REASONS
from tests.stats._windows import log_window

from ._samples import UAC_START, failing_final_stats, uac_final_stats

SCHEMA = load_summary_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def summary(stats: RunStats, finish: float, **overrides: Any) -> dict[str, Any]:
    snap = stats.snapshot(finish, finish - stats.start_wall, log_window(stats))
    kwargs: dict[str, Any] = {
        "tool_version": "gossipper 0.1.0",
        "start_wall": stats.start_wall,
        "finish_wall": finish,
        "target_rate": stats.target_rate,
        "scenario_name": "uac",
        "exit_code": 1 if stats.failed_calls else 0,
    }
    kwargs.update(overrides)
    return build_summary_json(snap, **kwargs)


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_uac_summary_validates_and_carries_the_counts() -> None:
    doc = summary(uac_final_stats(), UAC_START + 2.0)
    VALIDATOR.validate(doc)
    assert doc["schema"] == "gossipper.summary" and doc["schema_version"] == 1
    assert doc["started_at"] == "2026-11-26T05:43:03.487751Z"
    assert doc["calls"]["total"] == 20 and doc["calls"]["successful"] == 20
    assert doc["calls"]["success_ratio"] == 1.0
    assert doc["rate"] == {"target_cps": 10.0, "achieved_cps": 10.0}
    # SIPp's reasons always; gossipper's own (media) only when a call failed so.
    assert list(doc["failures"]) == [reason.value for reason in SIPP_FAILURE_REASONS]
    assert set(doc["failures"].values()) == {0}
    rtd = doc["latency"]["rtd"]["1"]
    assert rtd["count"] == 20 and rtd["max_ms"] == 8.0 and rtd["min_ms"] == 0.0
    assert rtd["mean_ms"] == pytest.approx(0.6)
    assert rtd["p50_ms"] == 0.0 and rtd["p999_ms"] == 8.0
    length = doc["latency"]["call_length"]
    assert length["count"] == 20 and length["p50_ms"] == pytest.approx(8.0, rel=0.01)
    json.dumps(doc)  # JSON-ready


def test_failing_summary_counts_reasons_and_counters() -> None:
    doc = summary(failing_final_stats(), 1795672240.8, scenario_name="failing")
    VALIDATOR.validate(doc)
    assert doc["exit_code"] == 1
    assert doc["failures"]["FailedUnexpectedMessage"] == 3
    assert doc["counters"] == {"got200": 1, "mid": 1}
    assert doc["latency"]["rtd"]["inv"]["count"] == 1


def test_empty_run_has_null_statistics() -> None:
    stats = RunStats(
        elements=[],
        rtd_names=["x"],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=100.0,
        start_mono=0.0,
        target_rate=0.0,
    )
    doc = summary(stats, 100.0, exit_code=99)
    VALIDATOR.validate(doc)
    assert doc["latency"]["rtd"]["x"]["p99_ms"] is None
    assert doc["rate"]["achieved_cps"] == 0.0 and doc["calls"]["success_ratio"] == 0.0


def _worker(start: float, calls: list[tuple[float, float, FailureReason | None]]) -> RunStats:
    stats = RunStats(
        elements=[],
        rtd_names=["inv", "bye"],
        counter_names=["c"],
        response_time_repartition_ms=[10],
        call_length_repartition_ms=None,
        start_wall=start,
        start_mono=0.0,
        target_rate=5.0,
    )
    return _play(stats, calls)


def _play(stats: RunStats, calls: list[tuple[float, float, FailureReason | None]]) -> RunStats:
    for rtt, length, reason in calls:
        stats.call_created(0.0, incoming=False)
        stats.rtd_sample(0, rtt, 0.0)
        stats.generic_counters[0] += 1
        stats.retransmissions += 1
        stats.call_ended(length, length, reason)
    return stats


A_CALLS = [(0.0012, 1.5, None), (0.0481, 2.25, FailureReason.TIMEOUT_ON_RECV), (0.003, 0.5, None)]
B_CALLS = [(0.91, 4.0, None), (0.0007, 3.3, FailureReason.UNEXPECTED_MESSAGE)]


def test_merge_of_two_summaries_equals_the_summary_of_the_combined_samples() -> None:
    a = summary(_worker(100.0, A_CALLS), 110.0)
    b = summary(_worker(104.0, B_CALLS), 112.5)
    combined_stats = _worker(100.0, A_CALLS)
    _play(combined_stats, B_CALLS)
    combined_stats.target_rate = 10.0
    combined = summary(combined_stats, 112.5, exit_code=1)
    merged = merge_summaries(a, b)
    VALIDATOR.validate(merged)
    for key in ("calls", "failures", "messages", "latency", "counters", "rate", "exit_code"):
        if key == "calls":
            merged_calls = dict(merged["calls"])
            combined_calls = dict(combined["calls"])
            # the peak of merged workers is the larger one; the replayed run had one at a time
            assert merged_calls.pop("peak") == 1 and combined_calls.pop("peak") == 1
            assert merged_calls == combined_calls
        else:
            assert merged[key] == combined[key], key
    assert merged["started_at"] == a["started_at"] and merged["finished_at"] == b["finished_at"]
    assert merged["duration_s"] == 12.5


def test_own_failure_reasons_appear_when_counted_and_merge() -> None:
    a = summary(_worker(100.0, [(0.001, 1.0, FailureReason.MEDIA_SDP)]), 110.0)
    b = summary(_worker(104.0, [(0.001, 1.0, FailureReason.MEDIA_PORTS)] + B_CALLS), 112.5)
    VALIDATOR.validate(a)
    VALIDATOR.validate(b)
    assert a["failures"]["FailedMediaSdp"] == 1 and "FailedMediaPorts" not in a["failures"]
    merged = merge_summaries(a, b)
    VALIDATOR.validate(merged)
    assert merged["failures"]["FailedMediaSdp"] == merged["failures"]["FailedMediaPorts"] == 1
    assert merged["failures"]["FailedUnexpectedMessage"] == 1
    assert merged["calls"]["failed"] == 3


def test_merge_is_commutative_for_counts_and_histograms() -> None:
    a = summary(_worker(100.0, A_CALLS), 110.0)
    b = summary(_worker(104.0, B_CALLS), 112.5)
    ab, ba = merge_summaries(a, b), merge_summaries(b, a)
    assert ab["latency"] == ba["latency"] and ab["failures"] == ba["failures"]
    assert ab["calls"] == ba["calls"]


def test_merge_keeps_rtds_and_counters_of_both_sides() -> None:
    a = summary(_worker(100.0, A_CALLS), 110.0)
    b = copy.deepcopy(a)
    b["latency"]["rtd"]["extra"] = b["latency"]["rtd"].pop("bye")
    b["counters"] = {"d": 4}
    merged = merge_summaries(a, b)
    assert list(merged["latency"]["rtd"]) == ["inv", "bye", "extra"]
    assert merged["counters"] == {"c": 3, "d": 4}


@pytest.mark.parametrize(
    ("a_code", "b_code", "failed", "expected"),
    [
        (0, 0, False, 0),
        (99, 0, False, 0),
        (0, 1, True, 1),
        (97, 0, False, 97),
        (0, 255, False, 255),
    ],
)
def test_merged_exit_code(a_code: int, b_code: int, failed: bool, expected: int) -> None:
    calls = A_CALLS if failed else A_CALLS[:1]
    a = summary(_worker(100.0, calls), 110.0, exit_code=a_code)
    b = summary(_worker(100.0, []), 110.0, exit_code=b_code)
    assert merge_summaries(a, b)["exit_code"] == expected


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(schema="other"),
        lambda d: d.update(schema_version=2),
        lambda d: d.pop("calls"),
        lambda d: d["latency"]["call_length"]["histogram"].update(count=-1),
        lambda d: d["failures"].pop("FailedTcpClosed"),
    ],
)
def test_merge_rejects_malformed_documents(mutate: Any) -> None:
    good = summary(_worker(100.0, A_CALLS), 110.0)
    bad = copy.deepcopy(good)
    mutate(bad)
    with pytest.raises(GossipperError):
        merge_summaries(good, bad)
    with pytest.raises(GossipperError):
        merge_summaries([], good)  # type: ignore[arg-type]
