"""Readers of SIPp's statistics, RTT and counts CSV files for the report (SIPp format only),
and of gossipper's ``-trace_media`` CSV.

Only what the report plots is extracted: the periodic rows of the stat CSV (calls/s, failures,
open calls, retransmissions, mean response times), the samples of the RTT file (percentiles
over time), the last row of the counts file (the scenario table) and, per RTP stream of the
media file, when its call ended with its loss, jitter and MOS (media quality over time). The
delimiter is read from the header (``-stat_delimiter``). Dates are SIPp's
(``date<TAB>time<TAB>epoch``) or ``-rfc3339`` text.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import os
import re
from typing import Any

from gossipper.errors import ConfigError, ExitStatus
from gossipper.stats.histogram import Histogram

__all__ = [
    "CountsTable",
    "MediaRecords",
    "ReportInputError",
    "RttSamples",
    "StatSeries",
    "find_companions",
    "read_counts_csv",
    "read_media_csv",
    "read_rtt_csv",
    "read_stat_csv",
]


class ReportInputError(ConfigError):
    """An input file of the report that cannot be read: a fatal input error (exit 255)."""

    exit_status = ExitStatus.FATAL


@dataclasses.dataclass(slots=True)
class StatSeries:
    """Per-row figures of a stat CSV; ``t_s`` is seconds since the first row."""

    path: str
    t_s: list[float]
    call_rate_cps: list[float]
    successful: list[int]
    failed: list[int]
    current_calls: list[int]
    retransmissions: list[int]
    response_time_ms: dict[str, list[float]]
    failures: dict[str, list[int]]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": os.path.basename(self.path),
            "t_s": self.t_s,
            "call_rate_cps": self.call_rate_cps,
            "successful": self.successful,
            "failed": self.failed,
            "current_calls": self.current_calls,
            "retransmissions": self.retransmissions,
            "response_time_ms": self.response_time_ms,
            "failures": self.failures,
        }


@dataclasses.dataclass(slots=True)
class RttSamples:
    """The samples of an RTT file: RTD name -> [(time since start ms, response time ms)]."""

    path: str
    samples: dict[str, list[tuple[float, float]]]

    def percentiles_over_time(self, max_points: int = 120) -> dict[str, Any]:
        """Per RTD: p50/p90/p99 (ms) of the samples of each time window (at least 1 s, wider
        when the run is long, so that there are at most ``max_points`` windows)."""
        out: dict[str, Any] = {}
        for name, samples in self.samples.items():
            if not samples:
                continue
            end_ms = max(t for t, _ in samples)
            window_ms = 1000.0
            while end_ms / window_ms > max_points:
                window_ms *= 2
            windows: dict[int, Histogram] = {}
            for t_ms, rt_ms in samples:
                hist = windows.setdefault(int(t_ms // window_ms), Histogram())
                hist.add_ns(max(0, round(rt_ms * 1e6)))
            keys = sorted(windows)
            out[name] = {
                "window_s": window_ms / 1000.0,
                "t_s": [(k + 1) * window_ms / 1000.0 for k in keys],
                "count": [windows[k].count for k in keys],
                "p50_ms": [windows[k].quantile(0.5) * 1000.0 for k in keys],
                "p90_ms": [windows[k].quantile(0.9) * 1000.0 for k in keys],
                "p99_ms": [windows[k].quantile(0.99) * 1000.0 for k in keys],
            }
        return out


@dataclasses.dataclass(slots=True)
class CountsTable:
    """The last row of a counts CSV: per scenario element, its counts by column."""

    path: str
    header: tuple[str, ...]
    elements: list[dict[str, Any]]


@dataclasses.dataclass(slots=True)
class MediaRecords:
    """The rows of a ``-trace_media`` file the report plots: one per RTP stream, when its call
    ended (epoch seconds), its packets received, expected and lost, its jitter and its MOS
    (None when the stream had no estimate)."""

    path: str
    end_epoch_s: list[float]
    packets_received: list[int]
    packets_expected: list[int]
    packets_lost: list[int]
    jitter_ms: list[float]
    mos: list[float | None]

    def over_time(self, start_epoch_s: float, max_points: int = 120) -> dict[str, Any]:
        """The streams grouped by when their call ended, in windows of 1 s since
        ``start_epoch_s`` (doubled until there are at most ``max_points``): per window that
        has streams, its start (``t_s``), its streams, the mean MOS of those with an estimate,
        the loss % (lost over expected packets of its streams) and the mean jitter of the
        streams that received packets (None where nothing counts)."""
        out: dict[str, Any] = {
            "path": os.path.basename(self.path),
            "t_s": [],
            "streams": [],
            "mos_mean": [],
            "loss_pct": [],
            "jitter_ms_mean": [],
        }
        if not self.end_epoch_s:
            return out
        offsets = [max(0.0, end - start_epoch_s) for end in self.end_epoch_s]
        window_s = 1.0
        while max(offsets) / window_s >= max_points:
            window_s *= 2
        windows: dict[int, list[int]] = {}
        for row, offset in enumerate(offsets):
            windows.setdefault(int(offset // window_s), []).append(row)
        for index in sorted(windows):
            rows = windows[index]
            mos = [m for m in (self.mos[r] for r in rows) if m is not None]
            expected = sum(self.packets_expected[r] for r in rows)
            jitter = [self.jitter_ms[r] for r in rows if self.packets_received[r] > 0]
            out["t_s"].append(index * window_s)
            out["streams"].append(len(rows))
            out["mos_mean"].append(round(sum(mos) / len(mos), 3) if mos else None)
            out["loss_pct"].append(
                round(sum(max(self.packets_lost[r], 0) for r in rows) * 100.0 / expected, 4)
                if expected > 0
                else None
            )
            out["jitter_ms_mean"].append(round(sum(jitter) / len(jitter), 3) if jitter else None)
        return out


def _read_lines(path: str, what: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return [line.rstrip("\r\n") for line in file if line.strip()]
    except OSError as exc:
        raise ReportInputError(f"{what} {path}: cannot read it ({exc.strerror})") from exc


def _delimiter(header: str, first: str, path: str, what: str) -> str:
    if not header.startswith(first) or len(header) <= len(first):
        raise ReportInputError(
            f"{what} {path}: line 1 does not start with {first}: not a SIPp-format file"
            " (the report reads SIPp's CSV format, not -trace_format gossipper)"
        )
    return header[len(first)]


def _split(line: str, delimiter: str) -> list[str]:
    fields = line.split(delimiter)
    if fields and fields[-1] == "":
        fields.pop()  # SIPp ends every field, the last one included, with the delimiter
    return fields


def _epoch(text: str) -> float | None:
    """Epoch seconds of a SIPp date (``date<TAB>time<TAB>epoch``) or of RFC 3339 text."""
    parts = text.split("\t")
    if len(parts) == 3:
        try:
            return float(parts[2])
        except ValueError:
            return None
    try:
        return datetime.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        return None


_DURATION = re.compile(r"(\d+):(\d\d):(\d\d)(?::(\d+))?")


def _duration_ms(text: str) -> float:
    """``HH:MM:SS:uuuuuu`` (SIPp's response times and call lengths) in ms."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return 0.0
    hours, minutes, seconds, micros = match.groups()
    total_s = int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return total_s * 1000.0 + (int(micros) / 1000.0 if micros else 0.0)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def read_stat_csv(path: str) -> StatSeries:
    """The periodic rows of a SIPp ``-trace_stat`` file.

    Raises:
        ConfigError: unreadable, or not a SIPp-format stat file.
    """
    lines = _read_lines(path, "--stat")
    if not lines:
        raise ReportInputError(f"--stat {path}: empty file; give a -trace_stat CSV")
    delimiter = _delimiter(lines[0], "StartTime", path, "--stat")
    columns = _split(lines[0], delimiter)
    index = {name: i for i, name in enumerate(columns)}
    for needed in ("CurrentTime", "CallRate(P)", "FailedCall(P)", "SuccessfulCall(P)"):
        if needed not in index:
            raise ReportInputError(f"--stat {path}: no {needed} column; give a -trace_stat CSV")
    rtds = [
        name[len("ResponseTime") : -len("(P)")]
        for name in columns
        if name.startswith("ResponseTime") and name.endswith("(P)") and "StDev" not in name
    ]
    reasons = [
        name[: -len("(P)")]
        for name in columns
        if name.startswith("Failed") and name.endswith("(P)") and name != "FailedCall(P)"
    ]
    series = StatSeries(path, [], [], [], [], [], [], {r: [] for r in rtds}, {})
    reason_values: dict[str, list[int]] = {r: [] for r in reasons}
    first_epoch: float | None = None
    for row_number, line in enumerate(lines[1:], start=2):
        fields = _split(line, delimiter)
        if len(fields) < len(columns):
            raise ReportInputError(
                f"--stat {path}:{row_number}: {len(fields)} fields, the header has"
                f" {len(columns)}; the file is truncated or not a stat CSV"
            )

        def get(name: str, fields: list[str] = fields) -> str:
            return fields[index[name]] if name in index else "0"

        epoch = _epoch(get("CurrentTime"))
        if epoch is None:
            raise ReportInputError(f"--stat {path}:{row_number}: cannot read CurrentTime")
        if first_epoch is None:
            first_epoch = epoch
        series.t_s.append(round(epoch - first_epoch, 6))
        series.call_rate_cps.append(_number(get("CallRate(P)")))
        series.successful.append(int(_number(get("SuccessfulCall(P)"))))
        series.failed.append(int(_number(get("FailedCall(P)"))))
        series.current_calls.append(int(_number(get("CurrentCall"))))
        series.retransmissions.append(int(_number(get("Retransmissions(P)"))))
        for rtd in rtds:
            series.response_time_ms[rtd].append(_duration_ms(get(f"ResponseTime{rtd}(P)")))
        for reason in reasons:
            reason_values[reason].append(int(_number(get(f"{reason}(P)"))))
    # Only the reasons that ever counted a failure are plotted.
    series.failures = {r: values for r, values in reason_values.items() if any(values)}
    return series


def read_rtt_csv(path: str) -> RttSamples:
    """The samples of a SIPp ``-trace_rtt`` file.

    Raises:
        ConfigError: unreadable, or not an RTT file.
    """
    lines = _read_lines(path, "--rtt")
    if not lines:
        return RttSamples(path, {})
    delimiter = _delimiter(lines[0], "Date_ms", path, "--rtt")
    samples: dict[str, list[tuple[float, float]]] = {}
    for row_number, line in enumerate(lines[1:], start=2):
        fields = _split(line, delimiter)
        if len(fields) < 3:
            raise ReportInputError(
                f"--rtt {path}:{row_number}: expected Date_ms;response_time_ms;rtd"
            )
        try:
            t_ms, rt_ms = float(fields[0]), float(fields[1])
        except ValueError:
            raise ReportInputError(f"--rtt {path}:{row_number}: not a number") from None
        samples.setdefault(fields[2], []).append((t_ms, rt_ms))
    return RttSamples(path, samples)


_COUNT_SUFFIXES = ("Sent", "Recv", "Retrans", "Timeout", "Unexp", "Lost", "Sessions")


def _element_column(name: str) -> tuple[int, str, str] | None:
    number, _, rest = name.partition("_")
    if not number.isdigit() or not rest:
        return None
    element, _, suffix = rest.rpartition("_")
    if element and suffix in _COUNT_SUFFIXES:
        return int(number), element, suffix
    return int(number), rest, "Count"  # RecvCmd, SendCmd


def read_counts_csv(path: str) -> CountsTable:
    """The scenario table from the last row of a SIPp ``-trace_counts`` file.

    Raises:
        ConfigError: unreadable, or not a counts file.
    """
    lines = _read_lines(path, "--counts")
    if not lines:
        raise ReportInputError(f"--counts {path}: empty file; give a -trace_counts CSV")
    delimiter = _delimiter(lines[0], "CurrentTime", path, "--counts")
    columns = _split(lines[0], delimiter)
    last = _split(lines[-1], delimiter) if len(lines) > 1 else []
    elements: dict[int, dict[str, Any]] = {}
    for position, column in enumerate(columns[2:], start=2):
        parsed = _element_column(column)
        if parsed is None:
            continue
        number, element, suffix = parsed
        entry = elements.setdefault(number, {"index": number, "element": element, "counts": {}})
        value = last[position] if position < len(last) else "0"
        entry["counts"][suffix] = int(_number(value))
    return CountsTable(path, tuple(columns), [elements[k] for k in sorted(elements)])


_MEDIA_COLUMNS = (
    "end_epoch_s",
    "packets_received",
    "packets_expected",
    "packets_lost",
    "jitter_ms",
    "mos",
)
"""The columns of a ``-trace_media`` file the report reads (docs/media.md)."""


def read_media_csv(path: str) -> MediaRecords:
    """The streams of a gossipper ``-trace_media`` file (any ``-stat_delimiter``)."""
    what = "--media"
    lines = _read_lines(path, what)
    if not lines:
        raise ReportInputError(f"{what} {path}: empty; give the _media.csv of a run")
    delimiter = _delimiter(lines[0], "end_epoch_s", path, what)
    columns = lines[0].split(delimiter)
    missing = [name for name in _MEDIA_COLUMNS if name not in columns]
    if missing:
        raise ReportInputError(
            f"{what} {path}: line 1 has no {', '.join(missing)} column; give the _media.csv"
            " written by -trace_media"
        )
    position = {name: columns.index(name) for name in _MEDIA_COLUMNS}
    records = MediaRecords(path, [], [], [], [], [], [])
    # Call-IDs are quoted (RFC 4180) when they hold the delimiter: the csv module reads those.
    rows = (
        csv.reader(lines[1:], delimiter=delimiter)
        if len(delimiter) == 1
        else (line.split(delimiter) for line in lines[1:])
    )
    for number, fields in enumerate(rows, start=2):
        if len(fields) != len(columns):
            raise ReportInputError(
                f"{what} {path}: line {number} has {len(fields)} fields, the header"
                f" {len(columns)}; give the _media.csv written by -trace_media"
            )

        def get(name: str, fields: list[str] = fields) -> str:
            return fields[position[name]]

        records.end_epoch_s.append(_number(get("end_epoch_s")))
        records.packets_received.append(int(_number(get("packets_received"))))
        records.packets_expected.append(int(_number(get("packets_expected"))))
        records.packets_lost.append(int(_number(get("packets_lost"))))
        records.jitter_ms.append(_number(get("jitter_ms")))
        records.mos.append(_number(get("mos")) if get("mos").strip() else None)
    return records


def find_companions(summary_path: str, scenario_name: str) -> dict[str, str]:
    """The stat, rtt, counts and media CSVs that belong to a summary (docs/reports.md,
    "Finding the CSV files"): kind -> path of the ones found.

    1. By base name: ``BASE.json`` goes with ``BASE_.csv`` (or ``BASE.csv``), ``BASE_rtt.csv``,
       ``BASE_counts.csv`` and ``BASE_media.csv``.
    2. Else, by SIPp's default names in the summary's directory: when exactly one stat file
       ``SCENARIO_<pid>_.csv`` is there, it and its ``_rtt.csv``/``_counts.csv``/``_media.csv``
       siblings.
    """
    directory = os.path.dirname(summary_path) or "."
    base = os.path.splitext(summary_path)[0]
    found: dict[str, str] = {}
    for kind, candidates in (
        ("stat", (f"{base}_.csv", f"{base}.csv")),
        ("rtt", (f"{base}_rtt.csv",)),
        ("counts", (f"{base}_counts.csv",)),
        ("media", (f"{base}_media.csv",)),
    ):
        for candidate in candidates:
            if os.path.isfile(candidate):
                found[kind] = candidate
                break
    if found:
        return found
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return found
    stem = re.compile(re.escape(scenario_name) + r"_\d+_\.csv")
    stats = [name for name in names if stem.fullmatch(name)]
    if len(stats) != 1:
        return found
    prefix = os.path.join(directory, stats[0][: -len("_.csv")])
    found["stat"] = os.path.join(directory, stats[0])
    for kind in ("rtt", "counts", "media"):
        if os.path.isfile(f"{prefix}_{kind}.csv"):
            found[kind] = f"{prefix}_{kind}.csv"
    return found
