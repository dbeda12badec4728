"""The JSON documents the API serves, built from a ``HostedRun`` (no web framework here).

Statistics are the ``-summary_json`` document (``gossipper.summary`` version 1) of the run so
far, so the API, the summary file and the screens agree on every count.
"""

from __future__ import annotations

from typing import Any

from gossipper.api.seams import HostedRun
from gossipper.engine import EngineStatistics
from gossipper.output import summary_document
from gossipper.stats.counters import FAILURE_REASONS, ElementKindTag, StatsSnapshot
from gossipper.stats.screens import pause_description

__all__ = [
    "compact_statistics",
    "control_document",
    "elements_document",
    "failures_document",
    "run_document",
    "run_snapshot",
    "statistics_document",
]


def run_snapshot(hosted: HostedRun) -> StatsSnapshot | None:
    """The counters of a run now (live), or at its end (finished), or None (never started)."""
    session = hosted.session
    if session is not None:
        return session.engine.statistics().snapshot
    result = hosted.result
    return result.snapshot if result is not None else None


def statistics_document(
    hosted: HostedRun, tool_version: str, snapshot: StatsSnapshot | None = None
) -> dict[str, Any] | None:
    """The summary document of the run so far (from ``snapshot`` when the caller took one);
    None when it has no statistics yet."""
    session = hosted.session
    if session is not None:
        return session.live_summary_document(tool_version, snapshot)
    result = hosted.result
    if result is None:
        return None
    snapshot = result.snapshot
    scenario = hosted.spec.get("scenario")
    return summary_document(
        snapshot,
        target_rate=snapshot.target_rate,
        scenario_name=scenario if isinstance(scenario, str) else hosted.name,
        exit_code=int(result.exit_status),
        tool_version=tool_version,
    )


def compact_statistics(document: dict[str, Any]) -> dict[str, Any]:
    """A summary document without the serialised histograms (the live feed's size: the
    percentiles stay, the bucket lists go; likewise the media section's MOS distribution and
    accumulators)."""
    latency = document.get("latency")
    if not isinstance(latency, dict):
        return document
    media = document.get("media")
    if isinstance(media, dict):
        compact_media = {key: value for key, value in media.items() if key != "sums"}
        if isinstance(media.get("mos"), dict):
            compact_media["mos"] = {
                key: value for key, value in media["mos"].items() if key != "distribution"
            }
        document = {**document, "media": compact_media}
    rtd = {
        name: {key: value for key, value in stats.items() if key != "histogram"}
        for name, stats in latency.get("rtd", {}).items()
    }
    call_length = {
        key: value for key, value in latency.get("call_length", {}).items() if key != "histogram"
    }
    return {**document, "latency": {"rtd": rtd, "call_length": call_length}}


def control_document(
    hosted: HostedRun, state: EngineStatistics | None = None
) -> dict[str, Any] | None:
    """What can be steered, as it is now (or in ``state``, taken by the caller); None when
    the run is not live."""
    session = hosted.session
    if session is None or hosted.controller is None:
        return None
    if state is None:
        state = session.engine.statistics()
    return {
        "rate": state.rate,
        "rate_period_s": state.rate_period_s,
        "paused": state.traffic_paused,
        "users": state.users,
        "call_limit": state.call_limit,
        "open_call_limit": state.open_call_limit,
        "open_calls": state.open_calls,
        "calls_started": state.calls_started,
        "quit_state": state.quit_state.value,
        "is_server": state.is_server,
    }


def elements_document(snapshot: StatsSnapshot) -> list[dict[str, Any]]:
    """The scenario screen's table as data: one entry per shown element (hidden ones left
    out, as on the screen and in the counts file) with its cumulative counts.

    ``kind`` is ``send``, ``recv``, ``pause``, ``nop``, ``sendCmd`` or ``recvCmd``; ``label``
    the method or status code of a send/recv; ``rtd`` ``"B-RTD1"``/``"E-RTD1"`` where a
    response-time measure begins or ends (numbered as on the screen); ``text`` the pause
    length or a nop's ``display``. ``timeouts`` is null where the screen leaves the column
    blank (a send without retransmissions, a recvCmd without a timeout).
    """
    rows: list[dict[str, Any]] = []
    for info, counts in zip(snapshot.element_infos, snapshot.elements, strict=True):
        if info.hide:
            continue
        kind = info.kind
        marker: str | None = None
        if info.start_rtd is not None:
            index = snapshot.rtd_index(info.start_rtd)
            marker = None if index is None else f"B-RTD{index + 1}"
        elif info.rtd is not None:
            index = snapshot.rtd_index(info.rtd)
            marker = None if index is None else f"E-RTD{index + 1}"
        text: str | None = None
        if kind is ElementKindTag.PAUSE:
            text = pause_description(info)
        elif kind is ElementKindTag.NOP:
            text = info.display
        blank_timeout = (kind is ElementKindTag.SEND and not info.has_retrans) or (
            kind is ElementKindTag.RECVCMD and not info.has_timeout
        )
        rows.append(
            {
                "index": info.index,
                "kind": kind.value,
                "label": info.label,
                "optional": info.is_optional,
                "rtd": marker,
                "text": text,
                "messages": counts.messages,
                "retrans": counts.retrans,
                "timeouts": None if blank_timeout else counts.timeouts,
                "unexpected": counts.unexpected,
                "lost": counts.lost,
            }
        )
    return rows


def failures_document(hosted: HostedRun) -> dict[str, Any]:
    """Failed calls by reason (every reason of the stat CSV, zeros included)."""
    snapshot = run_snapshot(hosted)
    if snapshot is None:
        return {"failed": 0, "failures": {reason.value: 0 for reason in FAILURE_REASONS}}
    counts = snapshot.cumulative
    return {
        "failed": counts.failed_calls,
        "failures": {reason.value: counts.failures[i] for i, reason in enumerate(FAILURE_REASONS)},
    }


def run_document(
    hosted: HostedRun, tool_version: str, *, statistics: bool, compact: bool = False
) -> dict[str, Any]:
    """One run: name, state, error, spec, control and (when asked) statistics and the
    scenario table's per-element counts (``elements``, null before the run has started).

    A live run's engine is asked once: control, statistics and elements describe the same
    instant, and a live feed frame costs one snapshot, not three."""
    session = hosted.session
    state = session.engine.statistics() if session is not None else None
    document: dict[str, Any] = {
        "name": hosted.name,
        "state": hosted.state,
        "error": hosted.error,
        "spec": dict(hosted.spec),
        "control": control_document(hosted, state),
    }
    if statistics:
        snapshot = state.snapshot if state is not None else run_snapshot(hosted)
        stats = statistics_document(hosted, tool_version, snapshot)
        document["statistics"] = (
            compact_statistics(stats) if compact and stats is not None else stats
        )
        document["elements"] = None if snapshot is None else elements_document(snapshot)
    return document
