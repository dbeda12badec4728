"""Secure-media gates (issue 18): media_srtp_auth_failures, media_srtp_replays,
media_secure_failures and media_secure_failure.REASON from the summary's media section."""

from __future__ import annotations

import io
import json
import pathlib
from typing import Any

import pytest

from gossipper.cli.main import raw_main
from gossipper.errors import ExitStatus
from gossipper.report.gates import (
    SECURE_MEDIA_METRICS,
    GateError,
    cannot_pass,
    evaluate_gates,
    parse_gate,
    parse_gates,
    summary_metrics,
)
from gossipper.stats.media import MediaTotals
from tests.report.test_gates_media import clean_doc
from tests.stats._media_samples import stream


def secure_doc() -> dict[str, Any]:
    totals = MediaTotals()
    totals.add(stream(srtp_auth_failures=3, srtp_replays=1))
    totals.add(stream(call_number=2, srtp_auth_failures=2))
    totals.add(stream(call_number=3, secure_failure="dtls_fingerprint_mismatch"))
    totals.add(stream(call_number=4, secure_failure="dtls_fingerprint_mismatch"))
    totals.add(stream(call_number=5, secure_failure="dtls_handshake_timeout"))
    doc = clean_doc()
    doc["media"] = totals.to_dict()
    return doc


def test_secure_media_metrics_parse() -> None:
    for metric in (*SECURE_MEDIA_METRICS, "media_secure_failure.dtls_handshake_timeout"):
        assert parse_gate(f"{metric}==0").metric == metric
    with pytest.raises(GateError, match="unknown metric 'media_secure_failure.'"):
        parse_gate("media_secure_failure.==0")
    with pytest.raises(GateError, match="media_secure_failure.REASON"):
        parse_gate("media_srtp_failures==0")  # the message lists the secure metrics


def test_secure_media_metric_values() -> None:
    metrics = summary_metrics(secure_doc())
    assert metrics["media_srtp_auth_failures"] == 5
    assert metrics["media_srtp_replays"] == 1
    assert metrics["media_secure_failures"] == 3
    assert metrics["media_secure_failure.dtls_fingerprint_mismatch"] == 2
    assert metrics["media_secure_failure.dtls_handshake_timeout"] == 1


def test_secure_media_gates_pass_and_fail() -> None:
    gates = parse_gates(
        [
            "media_srtp_auth_failures==0",
            "media_srtp_replays<=1",
            "media_secure_failures<3",
            "media_secure_failure.dtls_fingerprint_mismatch==2",
            # A reason no stream failed with counts zero.
            "media_secure_failure.turn_timeout==0",
        ]
    )
    results = evaluate_gates(gates, secure_doc())
    assert [r.passed for r in results] == [False, True, False, True, True]
    assert [r.value for r in results] == [5, 1, 3, 2, 0]


def test_secure_media_gates_clean_run_and_no_media() -> None:
    clean = clean_doc()
    totals = MediaTotals()
    totals.add(stream())
    clean["media"] = totals.to_dict()
    gates = parse_gates(
        ["media_srtp_auth_failures==0", "media_secure_failures==0", "media_secure_failure.x==0"]
    )
    assert all(r.passed for r in evaluate_gates(gates, clean))
    # No media at all: nothing was measured, every gate fails.
    results = evaluate_gates(gates, clean_doc())
    assert not any(r.passed for r in results)
    assert all(r.value is None and "no media stream" in r.note for r in results)
    # A summary written before secure media (no srtp/secure_failures keys): no value either.
    del clean["media"]["srtp"], clean["media"]["secure_failures"]
    assert not any(r.passed for r in evaluate_gates(gates, clean))


def test_gate_abort_on_secure_media_counts() -> None:
    metrics = summary_metrics(secure_doc())
    for text in ("media_srtp_auth_failures<5", "media_secure_failure.dtls_handshake_timeout==0"):
        reason = cannot_pass(parse_gate(text), metrics)
        assert reason is not None and "cannot decrease" in reason
    assert cannot_pass(parse_gate("media_srtp_replays<5"), metrics) is None
    assert cannot_pass(parse_gate("media_secure_failure.turn_timeout<1"), metrics) is None


def test_report_command_secure_media_gate(tmp_path: pathlib.Path) -> None:
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps(secure_doc()), "utf-8")
    out, err = io.StringIO(), io.StringIO()
    status = raw_main(
        ["report", "-o", str(tmp_path / "r.html"), str(summary),
         "-gate", "media_secure_failure.dtls_fingerprint_mismatch==0",
         "-gate", "media_srtp_replays<2"],
        stdout=out, stderr=err,
    )  # fmt: skip
    stderr = err.getvalue()
    assert status == ExitStatus.CALLS_FAILED, stderr
    assert (
        "gate media_secure_failure.dtls_fingerprint_mismatch==0: FAIL "
        "(media_secure_failure.dtls_fingerprint_mismatch = 2)"
    ) in stderr
    assert "gate media_srtp_replays<2: PASS (media_srtp_replays = 1)" in stderr
