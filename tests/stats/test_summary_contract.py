"""The ``-summary_json`` contract (docs/summary-json.md), checked on real runs.

Two short runs of the built-in uac against the in-process uas peer write their summaries
through the real command line; the documents must validate against summary.schema.json, merge
into a document that validates too, and the merge must add counts and histograms exactly.
"""

from __future__ import annotations

import datetime
import io
import json
import pathlib
import re
import socket
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from gossipper.cli.main import raw_main
from gossipper.stats import Histogram, load_summary_schema, merge_summaries
from gossipper.stats.counters import SIPP_FAILURE_REASONS

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "summary-json.md"


def free_udp_port() -> int:
    # An explicit free port keeps other programs' SIP traffic (on 5060...) away from the run.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_uac(path: pathlib.Path, calls: int) -> dict[str, Any]:
    stdout, stderr = io.StringIO(), io.StringIO()
    status = raw_main(
        [
            "-sn", "uac", "-peer", "uas", "-m", str(calls), "-r", "50", "-nostdin",
            "-i", "127.0.0.1", "-p", str(free_udp_port()), "-summary_json", str(path),
        ],
        stdout=stdout,
        stderr=stderr,
    )  # fmt: skip
    assert status == 0, stderr.getvalue()
    document: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return document


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    directory = tmp_path_factory.mktemp("summaries")
    return run_uac(directory / "a.json", 5), run_uac(directory / "b.json", 3)


def validate(document: dict[str, Any]) -> None:
    schema = load_summary_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    validator.validate(document)


def test_real_run_summary_validates(runs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    first, _ = runs
    validate(first)
    assert first["schema"] == "gossipper.summary" and first["schema_version"] == 1
    assert first["scenario_name"] == "uac" and first["exit_code"] == 0
    calls = first["calls"]
    assert (calls["total"], calls["outgoing"], calls["successful"], calls["failed"]) == (5, 5, 5, 0)
    assert calls["success_ratio"] == 1.0 and calls["current"] == 0
    assert list(first["failures"]) == [reason.value for reason in SIPP_FAILURE_REASONS]
    assert first["rate"]["target_cps"] == 50.0
    # Times: RFC 3339 text and epoch seconds describe the same instants.
    for text_key, epoch_key in (("started_at", "start_epoch_s"), ("finished_at", "finish_epoch_s")):
        moment = datetime.datetime.fromisoformat(first[text_key])
        assert moment.tzinfo is not None
        assert abs(moment.timestamp() - first[epoch_key]) < 1e-6
    assert first["duration_s"] == pytest.approx(first["finish_epoch_s"] - first["start_epoch_s"])
    # The built-in uac measures one response time, named "1" as in SIPp's stat CSV.
    rtd = first["latency"]["rtd"]["1"]
    assert rtd["count"] == 5
    assert rtd["min_ms"] <= rtd["p50_ms"] <= rtd["p99_ms"] <= rtd["max_ms"]
    histogram = Histogram.from_dict(rtd["histogram"])
    assert histogram.count == 5
    assert rtd["mean_ms"] == pytest.approx(histogram.mean_s * 1000.0)
    assert first["latency"]["call_length"]["count"] == 5


def test_merge_of_two_real_runs(runs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    a, b = runs
    merged = merge_summaries(a, b)
    validate(merged)
    for key in ("total", "incoming", "outgoing", "successful", "failed", "current"):
        assert merged["calls"][key] == a["calls"][key] + b["calls"][key], key
    assert merged["calls"]["total"] == 8 and merged["calls"]["success_ratio"] == 1.0
    assert merged["calls"]["peak"] == max(a["calls"]["peak"], b["calls"]["peak"])
    for group in ("failures", "messages"):
        assert merged[group] == {key: a[group][key] + b[group][key] for key in a[group]}, group
    assert merged["rate"]["target_cps"] == 100.0
    assert merged["start_epoch_s"] == a["start_epoch_s"]  # a ran first
    assert merged["finish_epoch_s"] == b["finish_epoch_s"]
    assert merged["started_at"] == a["started_at"] and merged["finished_at"] == b["finished_at"]
    assert merged["exit_code"] == 0

    for name, part_a, part_b, combined in (
        (
            "rtd 1",
            a["latency"]["rtd"]["1"],
            b["latency"]["rtd"]["1"],
            merged["latency"]["rtd"]["1"],
        ),
        (
            "call_length",
            a["latency"]["call_length"],
            b["latency"]["call_length"],
            merged["latency"]["call_length"],
        ),
    ):
        expected = Histogram.from_dict(part_a["histogram"])
        expected.merge(Histogram.from_dict(part_b["histogram"]))
        assert Histogram.from_dict(combined["histogram"]) == expected, name
        assert combined["count"] == part_a["count"] + part_b["count"] == 8, name
        assert combined["min_ms"] == min(part_a["min_ms"], part_b["min_ms"]), name
        assert combined["max_ms"] == max(part_a["max_ms"], part_b["max_ms"]), name
        assert combined["p50_ms"] == pytest.approx(expected.quantile(0.5) * 1000.0), name
    # Merging is exact: the order of the operands does not change the histograms.
    swapped = merge_summaries(b, a)
    assert swapped["latency"] == merged["latency"]
    assert swapped["calls"] == merged["calls"]


def _schema_keys(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            found.add(key)
            _schema_keys(value, found)
        for value in node.get("$defs", {}).values():
            _schema_keys(value, found)
    return found


def test_every_schema_field_is_documented() -> None:
    """docs/summary-json.md names every key of the schema (a key change is a contract change)."""
    documented = set(re.findall(r"`([a-z_0-9A-Z]+)`", DOC.read_text("utf-8")))
    missing = sorted(_schema_keys(load_summary_schema(), set()) - documented)
    assert not missing, f"not documented in {DOC.name}: {missing}"
