"""Pass/fail gates on the figures of a summary document (``-gate EXPR``, docs/reports.md).

A gate is ``METRIC OP NUMBER`` (``failed_calls_pct<1``, ``p99_ms<=200``); the metrics are
named figures of the ``gossipper.summary`` document (:func:`summary_metrics`). A gate whose
metric has no value in the run (no call made, no response time measured, an RTD or counter the
run does not have) fails: a threshold that nothing was measured against has not been met.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from gossipper.errors import ConfigError, ExitStatus
from gossipper.stats.summary import MESSAGE_KEYS

__all__ = [
    "Gate",
    "cannot_pass",
    "GateError",
    "GateResult",
    "MEDIA_METRICS",
    "RTPCHECK_METRICS",
    "SECURE_MEDIA_METRICS",
    "evaluate_gates",
    "format_gate_line",
    "gate_results_json",
    "metric_names_help",
    "parse_gate",
    "parse_gates",
    "summary_metrics",
]


class GateError(ConfigError):
    """A gate expression that cannot be evaluated: a fatal input error (exit status 255)."""

    exit_status = ExitStatus.FATAL


_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}

_GATE = re.compile(
    r"\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.:-]*?)\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*"
)

CALL_METRICS = (
    "total_calls",
    "incoming_calls",
    "outgoing_calls",
    "successful_calls",
    "failed_calls",
    "current_calls",
    "peak_calls",
    "success_pct",
    "failed_calls_pct",
    "rate_cps",
    "target_cps",
    "rate_pct",
    "duration_s",
)
"""Metrics from the ``calls``, ``rate`` and top-level keys of the summary."""

MESSAGE_METRICS = MESSAGE_KEYS
"""Metrics named like the keys of the summary's ``messages`` object."""

LATENCY_STATS = (
    "count",
    "min_ms",
    "mean_ms",
    "stddev_ms",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
)
"""Statistics of a latency object; bare names (``p99_ms``) are those of the first RTD."""

FAILURE_METRICS = (
    "FailedCannotSendMessage",
    "FailedMaxUDPRetrans",
    "FailedTcpConnect",
    "FailedTcpClosed",
    "FailedUnexpectedMessage",
    "FailedCallRejected",
    "FailedCmdNotSent",
    "FailedRegexpDoesntMatch",
    "FailedRegexpShouldntMatch",
    "FailedRegexpHdrNotFound",
    "FailedOutboundCongestion",
    "FailedTimeoutOnRecv",
    "FailedTimeoutOnSend",
    "FailedTestDoesntMatch",
    "FailedTestShouldntMatch",
    "FailedStrcmpDoesntMatch",
    "FailedStrcmpShouldntMatch",
    "FailedMediaPorts",
    "FailedMediaSdp",
)
"""Failure reasons, named as the summary's ``failures`` keys and SIPp's stat CSV columns (the
last two are gossipper's media reasons: no SIPp column, in the summary only when counted)."""

MEDIA_METRICS = (
    "media_streams",
    "media_packets_sent",
    "media_packets_received",
    "media_packets_lost",
    "media_out_of_order",
    "media_duplicated",
    "media_malformed",
    "media_late_packets",
    "media_rtcp_received",
    "media_loss_pct",
    "media_loss_pct_max",
    "media_late_pct",
    "media_jitter_ms_mean",
    "media_jitter_ms_max",
    "media_mos_mean",
    "media_mos_min",
    "media_mos_p05",
    "media_mos_p50",
    "media_rtt_ms_mean",
    "media_rtt_ms_max",
)
"""Metrics from the summary's ``media`` section; None (the gate fails) when the run had no
media stream, or nothing was measured (no stream received: no jitter or MOS)."""

SECURE_MEDIA_METRICS = (
    "media_srtp_auth_failures",
    "media_srtp_replays",
    "media_secure_failures",
)
"""Secure media (issue 18) from the summary's ``media`` section: SRTP/SRTCP packets dropped
for a bad authentication tag (``media.srtp.auth_failures``) or as replays (``.replays``), and
streams whose call failed for a secure-media reason (the sum of ``media.secure_failures``;
one reason: ``media_secure_failure.REASON``, 0 when the run had none). Not in the HTML
report's media table (``MEDIA_METRICS``); no value without media."""

RTPCHECK_METRICS = (
    "media_rtpcheck_streams",
    "media_rtpcheck_failed",
    "media_rtpcheck_mismatched",
    "media_rtpcheck_matched_pct",
)
"""SIPp 3.7's RTP check patterns (apattern/vpattern) from the summary's ``media.rtpcheck``:
pattern streams judged, those whose echo check failed (the run already exits 253 for one),
echoed packets that differ from what was sent, and matched packets as a percentage of those
judged (no value when none was judged). No value in a summary without the section."""

_SECURE_FAILURE_PREFIX = "media_secure_failure."

_MEDIA_PACKET_KEYS = {
    "media_packets_sent": "sent",
    "media_packets_received": "received",
    "media_packets_lost": "lost",
    "media_out_of_order": "out_of_order",
    "media_duplicated": "duplicated",
    "media_malformed": "malformed",
    "media_late_packets": "late",
}

_LATENCY_ALIASES = {f"rtd_{stat}" if stat == "count" else stat: stat for stat in LATENCY_STATS}
"""Bare latency names: ``p99_ms`` ... of the first RTD; its sample count is ``rtd_count``."""


@dataclasses.dataclass(frozen=True, slots=True)
class Gate:
    """One ``METRIC OP THRESHOLD`` condition; ``text`` is its name (as given, spaces removed)."""

    text: str
    metric: str
    op: str
    threshold: float

    def holds(self, value: float) -> bool:
        """Whether ``value`` meets the threshold."""
        return _OPERATORS[self.op](value, self.threshold)


@dataclasses.dataclass(frozen=True, slots=True)
class GateResult:
    """The outcome of one gate: the metric's value (None when the run has none) and the
    verdict."""

    gate: Gate
    value: float | None
    passed: bool
    note: str = ""


def metric_names_help() -> str:
    """The metric list given in gate error messages (one line)."""
    return ", ".join(
        (
            *CALL_METRICS,
            *MESSAGE_METRICS,
            *MEDIA_METRICS,
            *SECURE_MEDIA_METRICS,
            *RTPCHECK_METRICS,
            f"{_SECURE_FAILURE_PREFIX}REASON (e.g. dtls_fingerprint_mismatch)",
            *_LATENCY_ALIASES,
            "rtd.NAME.p99_ms (any latency statistic of RTD NAME)",
            "call_length.p99_ms (idem for call lengths)",
            "counter.NAME",
            "FailedTimeoutOnRecv (any failure reason)",
        )
    )


def _known_metric(metric: str) -> bool:
    if metric in CALL_METRICS or metric in MESSAGE_METRICS or metric in FAILURE_METRICS:
        return True
    if metric in MEDIA_METRICS or metric in SECURE_MEDIA_METRICS or metric in RTPCHECK_METRICS:
        return True
    if metric.startswith(_SECURE_FAILURE_PREFIX):
        return len(metric) > len(_SECURE_FAILURE_PREFIX)
    if metric in _LATENCY_ALIASES:
        return True
    if metric.startswith("call_length."):
        return metric.removeprefix("call_length.") in LATENCY_STATS
    if metric.startswith("rtd."):
        name, _, stat = metric.removeprefix("rtd.").rpartition(".")
        return bool(name) and stat in LATENCY_STATS
    return metric.startswith("counter.") and len(metric) > len("counter.")


def parse_gate(text: str, *, option: str = "-gate") -> Gate:
    """Parse ``METRIC OP NUMBER``.

    Raises:
        GateError: a malformed expression or an unknown metric (the message names the gate
            and lists the metrics).
    """
    match = _GATE.fullmatch(text)
    if match is None:
        raise GateError(
            f"{option} {text!r}: not a gate; write METRIC OP NUMBER with OP one of"
            f" < <= > >= == != (e.g. failed_calls_pct<1, p99_ms<=200); metrics: "
            f"{metric_names_help()}"
        )
    metric, op, raw = match.group("metric", "op", "value")
    if not _known_metric(metric):
        raise GateError(
            f"{option} {text!r}: unknown metric {metric!r}; metrics: {metric_names_help()}"
        )
    threshold = float(raw)
    if not math.isfinite(threshold):
        raise GateError(f"{option} {text!r}: the threshold must be a finite number")
    return Gate(text=f"{metric}{op}{raw}", metric=metric, op=op, threshold=threshold)


def parse_gates(texts: Iterable[str], *, option: str = "-gate") -> tuple[Gate, ...]:
    """Parse every gate expression (the first bad one raises :class:`GateError`)."""
    return tuple(parse_gate(text, option=option) for text in texts)


def _latency_metrics(prefix: str, latency: Mapping[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for stat in LATENCY_STATS:
        value = latency.get(stat)
        out[f"{prefix}{stat}"] = None if value is None else float(value)
    return out


def summary_metrics(doc: Mapping[str, Any]) -> dict[str, float | None]:
    """Every metric of a summary document (docs/reports.md, "Metrics"): name -> value, None
    where the run has no value (a percentage of zero calls, a latency without samples)."""
    calls = doc["calls"]
    total = int(calls["total"])
    rate = doc["rate"]
    target = float(rate["target_cps"])
    achieved = float(rate["achieved_cps"])
    metrics: dict[str, float | None] = {
        "total_calls": float(total),
        "incoming_calls": float(calls["incoming"]),
        "outgoing_calls": float(calls["outgoing"]),
        "successful_calls": float(calls["successful"]),
        "failed_calls": float(calls["failed"]),
        "current_calls": float(calls["current"]),
        "peak_calls": float(calls["peak"]),
        "success_pct": 100.0 * int(calls["successful"]) / total if total else None,
        "failed_calls_pct": 100.0 * int(calls["failed"]) / total if total else None,
        "rate_cps": achieved,
        "target_cps": target,
        "rate_pct": 100.0 * achieved / target if target > 0 else None,
        "duration_s": float(doc["duration_s"]),
    }
    messages = doc["messages"]
    for key in MESSAGE_METRICS:
        value = messages.get(key)
        metrics[key] = None if value is None else float(value)
    for reason in FAILURE_METRICS:
        metrics[reason] = float(doc["failures"].get(reason, 0))
    rtd: Mapping[str, Any] = doc["latency"]["rtd"]
    first = next(iter(rtd.values()), None)
    for alias, stat in _LATENCY_ALIASES.items():
        value = None if first is None else first.get(stat)
        metrics[alias] = None if value is None else float(value)
    for name, latency in rtd.items():
        metrics.update(_latency_metrics(f"rtd.{name}.", latency))
    metrics.update(_latency_metrics("call_length.", doc["latency"]["call_length"]))
    for name, value in doc["counters"].items():
        metrics[f"counter.{name}"] = float(value)
    media = doc.get("media")
    if media is not None:
        # Media-free runs get no media keys (a gate on one fails as "not measured"), so
        # their metric tables stay as they were.
        metrics.update(_media_metrics(media))
    return metrics


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _media_metrics(media: Mapping[str, Any]) -> dict[str, float | None]:
    packets = media["packets"]
    received = int(media["streams_received"]) > 0
    metrics: dict[str, float | None] = {"media_streams": float(media["streams"])}
    for metric, key in _MEDIA_PACKET_KEYS.items():
        metrics[metric] = float(packets[key])
    metrics["media_rtcp_received"] = float(media["rtcp"]["received"])
    # Loss needs expected packets, i.e. something received; lateness needs packets sent.
    metrics["media_loss_pct"] = float(media["loss_pct"]) if received else None
    metrics["media_loss_pct_max"] = float(media["loss_pct_max"]) if received else None
    metrics["media_late_pct"] = float(media["late_pct"]) if int(packets["sent"]) else None
    metrics["media_jitter_ms_mean"] = _number(media["jitter_ms"]["mean"])
    metrics["media_jitter_ms_max"] = float(media["jitter_ms"]["max"]) if received else None
    mos = media["mos"]
    metrics["media_mos_mean"] = _number(mos["mean"])
    metrics["media_mos_min"] = _number(mos["min"])
    metrics["media_mos_p05"] = _number(mos["p05"])
    metrics["media_mos_p50"] = _number(mos["p50"])
    metrics["media_rtt_ms_mean"] = _number(media["rtt_ms"]["mean"])
    metrics["media_rtt_ms_max"] = _number(media["rtt_ms"]["max"])
    # Summaries written before secure media have neither key: no value, not a zero.
    srtp: Mapping[str, Any] | None = media.get("srtp")
    metrics["media_srtp_auth_failures"] = _number(
        None if srtp is None else srtp.get("auth_failures")
    )
    metrics["media_srtp_replays"] = _number(None if srtp is None else srtp.get("replays"))
    failures: Mapping[str, Any] | None = media.get("secure_failures")
    if failures is None:
        metrics["media_secure_failures"] = None
    else:
        metrics["media_secure_failures"] = float(sum(int(n) for n in failures.values()))
        for reason, count in failures.items():
            metrics[f"{_SECURE_FAILURE_PREFIX}{reason}"] = float(count)
    check: Mapping[str, Any] | None = media.get("rtpcheck")
    metrics["media_rtpcheck_streams"] = _number(None if check is None else check.get("streams"))
    metrics["media_rtpcheck_failed"] = _number(None if check is None else check.get("failed"))
    metrics["media_rtpcheck_mismatched"] = _number(
        None if check is None else check.get("mismatched")
    )
    judged = 0 if check is None else int(check.get("judged", 0))
    metrics["media_rtpcheck_matched_pct"] = (
        100.0 * int(check.get("matched", 0)) / judged if check is not None and judged else None
    )
    return metrics


def _missing_note(metric: str) -> str:
    if metric.startswith("media_"):
        return "no value: no media stream (or nothing received, or nothing measured)"
    if metric.startswith("rtd."):
        return "no such RTD in this run"
    if metric.startswith("counter."):
        return "no such counter in this run"
    if metric.endswith("_pct"):
        return "no value: no call was made (or no target rate)"
    return "no value: nothing was measured"


def _metric_value(metrics: Mapping[str, float | None], metric: str) -> float | None:
    value = metrics.get(metric)
    if value is None and metric.startswith(_SECURE_FAILURE_PREFIX):
        # A reason no stream failed with: zero, in a run whose summary counts them.
        return None if metrics.get("media_secure_failures") is None else 0.0
    return value


def evaluate_gates(gates: Sequence[Gate], doc: Mapping[str, Any]) -> list[GateResult]:
    """Evaluate each gate on a summary document, in order."""
    metrics = summary_metrics(doc)
    results = []
    for gate in gates:
        value = _metric_value(metrics, gate.metric)
        if value is None:
            results.append(GateResult(gate, None, False, _missing_note(gate.metric)))
        else:
            results.append(GateResult(gate, value, gate.holds(value)))
    return results


def format_value(value: float) -> str:
    """A metric value for people: integers without a decimal point, else 6 significant
    digits."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def format_gate_line(result: GateResult, *, prefix: str = "") -> str:
    """``gate failed_calls_pct<1: PASS (failed_calls_pct = 0)``, one line, no newline."""
    gate = result.gate
    verdict = "PASS" if result.passed else "FAIL"
    if result.value is None:
        detail = result.note
    else:
        detail = f"{gate.metric} = {format_value(result.value)}"
    return f"gate {prefix}{gate.text}: {verdict} ({detail})"


def gate_results_json(results: Iterable[GateResult]) -> list[dict[str, Any]]:
    """The summary document's ``gates`` array."""
    return [
        {
            "gate": result.gate.text,
            "metric": result.gate.metric,
            "op": result.gate.op,
            "threshold": result.gate.threshold,
            "value": result.value,
            "passed": result.passed,
        }
        for result in results
    ]


_NEVER_DECREASING = frozenset(
    (
        "total_calls",
        "incoming_calls",
        "outgoing_calls",
        "successful_calls",
        "failed_calls",
        "peak_calls",
        "rtd_count",
        "max_ms",
        *MESSAGE_METRICS,
        *FAILURE_METRICS,
        "media_streams",
        *_MEDIA_PACKET_KEYS,
        "media_rtcp_received",
        "media_loss_pct_max",
        "media_jitter_ms_max",
        "media_rtt_ms_max",
        *SECURE_MEDIA_METRICS,
        "media_rtpcheck_streams",
        "media_rtpcheck_failed",
        "media_rtpcheck_mismatched",
    )
)
"""Metrics that can only grow while a run goes on (cumulative counts, maxima)."""

_NEVER_INCREASING = frozenset(("media_mos_min",))
"""Metrics that can only fall while a run goes on (minima)."""


def _never_decreasing(metric: str) -> bool:
    if metric in _NEVER_DECREASING or metric.startswith(("counter.", _SECURE_FAILURE_PREFIX)):
        return True
    if metric.startswith(("rtd.", "call_length.")):
        return metric.endswith((".count", ".max_ms"))
    return False


def _upper_bound_broken(op: str, lower_bound: float, threshold: float) -> bool:
    """Whether ``value OP threshold`` is false for every value >= ``lower_bound``."""
    if op == "<":
        return lower_bound >= threshold
    if op in ("<=", "=="):
        return lower_bound > threshold
    return False


def _lower_bound_broken(op: str, upper_bound: float, threshold: float) -> bool:
    """Whether ``value OP threshold`` is false for every value <= ``upper_bound``."""
    if op == ">":
        return upper_bound <= threshold
    if op in (">=", "=="):
        return upper_bound < threshold
    return False


def cannot_pass(
    gate: Gate, metrics: Mapping[str, float | None], *, max_calls: int = 0
) -> str | None:
    """Why ``gate`` can no longer pass, judging the figures of a run still going on, or None.

    Sure only for what cannot go back (``-gate_abort``, docs/reports.md): a count or maximum
    that only grows is already above an upper bound (``failed_calls<10`` once 10 calls failed);
    with a call limit (``-m``), the percentage of failed calls can no longer end below its
    bound (failed calls so far / the limit is the smallest it can end at), or the percentage of
    successful calls above its own. Other gates wait for the end of the run.
    """
    value = _metric_value(metrics, gate.metric)
    if value is None:
        return None
    if _never_decreasing(gate.metric) and _upper_bound_broken(gate.op, value, gate.threshold):
        return f"{gate.metric} = {format_value(value)} already, and it cannot decrease"
    if gate.metric in _NEVER_INCREASING and _lower_bound_broken(gate.op, value, gate.threshold):
        return f"{gate.metric} = {format_value(value)} already, and it cannot increase"
    failed = metrics.get("failed_calls") or 0.0
    if max_calls > 0 and gate.metric == "failed_calls_pct":
        least_pct = 100.0 * failed / max_calls
        if _upper_bound_broken(gate.op, least_pct, gate.threshold):
            return (
                f"{format_value(failed)} of at most {max_calls} calls failed already:"
                f" failed_calls_pct >= {format_value(least_pct)}"
            )
    if max_calls > 0 and gate.metric == "success_pct" and gate.op in (">", ">=", "=="):
        most_pct = 100.0 * (max_calls - failed) / max_calls
        if most_pct < gate.threshold or (gate.op == ">" and most_pct == gate.threshold):
            return (
                f"{format_value(failed)} of at most {max_calls} calls failed already:"
                f" success_pct <= {format_value(most_pct)}"
            )
    return None
