"""``gossipper merge``: the results of N segments (``-segment``) or N processes of one test as
one result (docs/compatibility.md, "gossipper merge").

Inputs are the files each part wrote: ``-summary_json`` documents and SIPp's trace files
(``SCENARIO_PID_.csv``, ``_counts.csv``, ``_rtt.csv``, ``_error_codes.csv``, ``_*.log``).
Files of one kind and scenario are merged together:

- summaries: :func:`gossipper.stats.summary.merge_summaries` (counts add, histograms merge,
  percentiles are recomputed from the merged histograms: exact);
- the stat CSV, row by row (row *i* of every part is the *i*-th ``-fd`` dump): counters, (P)
  and (C), add exactly; ``TargetRate`` adds; the call rates are recomputed from the merged
  counts and times as SIPp computes them; the times are the earliest start and the latest
  current time; mean response times and call lengths are combined weighted by the successful
  calls of the period (SIPp counts call lengths of successful calls only; the CSV has no
  per-timer sample count, so response-time means assume one sample per successful call),
  standard deviations pooled from the parts' means and deviations. Those latency columns are
  as exact as the CSV's whole milliseconds allow; the exact figures are the summary's;
- the counts CSV: counts add row by row; the rtt CSV: rows of every part in ``Date_ms`` order
  (each part's ``Date_ms`` counts from its own start); the error-codes CSV: per row, the codes
  of every part;
- logs (errors, messages, ...): each part's text after a line naming the file it came from.

A part with fewer rows than the others (it finished earlier) keeps its last row's cumulative
values in the later merged rows and contributes nothing to their periodic values.

This module is pure apart from reading and writing the named files (no trio, no engine).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

from gossipper.errors import ConfigError, ExitStatus
from gossipper.segment import ExecutionSegment
from gossipper.stats.formatting import c_double, elapsed_ms, sipp_call_rate
from gossipper.stats.sipp_csv import duration_field
from gossipper.stats.summary import SCHEMA_NAME, merge_summaries

__all__ = [
    "MergeError",
    "MergedFile",
    "merge_counts_csv",
    "merge_error_codes",
    "merge_logs",
    "merge_result_files",
    "merge_rtt_csv",
    "merge_stat_csv",
]


class MergeError(ConfigError):
    """Inputs that cannot be merged; the message names the file and the fix."""

    exit_status = ExitStatus.FATAL


@dataclasses.dataclass(frozen=True, slots=True)
class MergedFile:
    """One written output: its path, its kind and the input files it combines."""

    path: str
    kind: str
    sources: tuple[str, ...]


_TRACE_NAME = re.compile(
    r"^(?P<base>.+)_(?P<pid>\d+)_(?P<kind>|counts|rtt|error_codes"
    r"|errors|messages|shortmessages|logs|calldebug|screen)\.(?P<ext>csv|log)$"
)
_LOG_KINDS = frozenset({"errors", "messages", "shortmessages", "logs", "calldebug", "screen"})
_HUGE_MS = float(1 << 62)
"""Above this a duration field is SIPp's printed NaN (the deviation of a single call)."""


# ------------------------------------------------------------------ field conversions


def _epoch(text: str) -> float:
    """A log time (``DATE<TAB>TIME<TAB>EPOCH``) or an RFC 3339 time as epoch seconds."""
    if "\t" in text:
        return float(text.rsplit("\t", 1)[1])
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _duration_ms(text: str) -> float:
    """``HH:MM:SS`` or ``HH:MM:SS:uuuuuu`` as milliseconds."""
    parts = text.split(":")
    hours, minutes, seconds = int(parts[0]), int(parts[1]), int(parts[2])
    micros = int(parts[3]) if len(parts) > 3 else 0
    return ((hours * 60 + minutes) * 60 + seconds) * 1000.0 + micros / 1000.0


def _split_row(line: str, delimiter: str) -> list[str]:
    fields = line.rstrip("\n").split(delimiter)
    if fields and fields[-1] == "":
        fields.pop()  # every field, the last one too, is followed by the delimiter
    return fields


def _join_row(fields: Sequence[str], delimiter: str) -> str:
    return "".join(field + delimiter for field in fields) + "\n"


def _table(text: str, delimiter: str, name: str) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise MergeError(f"{name}: empty file; give the files the run wrote")
    header = _split_row(lines[0], delimiter)
    rows = [_split_row(line, delimiter) for line in lines[1:]]
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise MergeError(
                f"{name}:{number}: {len(row)} fields for {len(header)} columns;"
                f" is -stat_delimiter {delimiter!r} the one the run used?"
            )
    return header, rows


def _same_header(headers: Sequence[list[str]], names: Sequence[str]) -> list[str]:
    first = headers[0]
    for header, name in zip(headers[1:], names[1:], strict=True):
        if header != first:
            raise MergeError(
                f"{name}: its columns differ from {names[0]}'s; merge only the files of one"
                " scenario run with the same options"
            )
    return first


def _aligned(
    tables: Sequence[list[list[str]]],
) -> list[list[tuple[list[str], bool]]]:
    """Row i of every part: (row, active); an exhausted part repeats its last row, inactive."""
    count = max(len(rows) for rows in tables)
    merged: list[list[tuple[list[str], bool]]] = []
    for i in range(count):
        merged.append(
            [(rows[i], True) if i < len(rows) else (rows[-1], False) for rows in tables if rows]
        )
    return merged


# ------------------------------------------------------------------ stat CSV


def _is_int(text: str) -> bool:
    return text.isdigit()


def _pick_time(values: Sequence[str], choose: Callable[[Sequence[float]], float]) -> str:
    epochs = [_epoch(value) for value in values]
    return values[epochs.index(choose(epochs))]


def _sum_of_printed(values: Sequence[str]) -> str:
    """The sum of numbers printed with 6 significant digits, as the shortest such number
    within the inputs' rounding (2.33333 x 3 gives 7, not 6.99999)."""
    numbers = [float(value) for value in values]
    total = sum(numbers)
    slack = sum(0.5 * 10 ** (math.floor(math.log10(abs(n))) - 5) for n in numbers if n)
    for digits in range(1, 7):
        candidate = float(f"{total:.{digits}g}")
        if abs(candidate - total) <= slack:
            return c_double(candidate)
    return c_double(total)


def _pooled(samples: Sequence[tuple[int, float, float]]) -> tuple[int, float, float]:
    """(count, sum, sum of squares) from (count, mean, SIPp sample deviation) per part."""
    count, total, squares = 0, 0.0, 0.0
    for n, mean, deviation in samples:
        if n <= 0:
            continue
        if n == 1 or not math.isfinite(deviation) or deviation >= _HUGE_MS:
            deviation = 0.0
        count += n
        total += n * mean
        squares += (n - 1) * deviation * deviation + n * mean * mean
    return count, total, squares


def _deviation(count: int, total: float, squares: float, *, single_is_nan: bool) -> float:
    if count <= 0:
        return 0.0
    if count == 1:
        return math.nan if single_is_nan else 0.0
    variance = (count * squares - total * total) / (count * (count - 1.0))
    return math.sqrt(max(0.0, variance))


def merge_stat_csv(texts: Sequence[str], names: Sequence[str], delimiter: str = ";") -> str:
    """The ``-trace_stat`` files of the parts as one file (module doc)."""
    parsed = [_table(text, delimiter, name) for text, name in zip(texts, names, strict=True)]
    header = _same_header([h for h, _ in parsed], names)
    col = {name: i for i, name in enumerate(header)}
    for needed in ("StartTime", "CurrentTime", "TotalCallCreated", "SuccessfulCall(P)"):
        if needed not in col:
            raise MergeError(f"{names[0]}: no {needed} column; is it a -trace_stat file?")
    out = [_join_row(header, delimiter)]
    for parts in _aligned([rows for _, rows in parsed]):
        active = [row for row, is_active in parts if is_active]
        fields = [""] * len(header)
        for i, name in enumerate(header):
            periodic = name.endswith("(P)")
            values = [row[i] if is_active or not periodic else "0" for row, is_active in parts]
            if name in ("StartTime", "LastResetTime"):
                fields[i] = _pick_time([row[i] for row in active], min)
            elif name == "CurrentTime":
                fields[i] = _pick_time([row[i] for row in active], max)
            elif name.startswith("ElapsedTime"):
                fields[i] = max((row[i] for row in active), key=_duration_ms)
            elif name == "TargetRate":
                fields[i] = _sum_of_printed([row[i] for row, _ in parts])
            elif name.startswith(("ResponseTime", "CallLength")) and ":" in parts[0][0][i]:
                continue  # latency means and deviations: below, from the merged counts
            elif all(_is_int(value) for value in values):
                fields[i] = str(sum(int(value) for value in values))
            else:
                fields[i] = values[0]
        start, period_start, now = (
            _epoch(fields[col[name]]) if name in col else math.nan
            for name in ("StartTime", "LastResetTime", "CurrentTime")
        )
        if "CallRate(C)" in col:
            fields[col["CallRate(C)"]] = c_double(
                sipp_call_rate(int(fields[col["TotalCallCreated"]]), elapsed_ms(start, now))
            )
        if "CallRate(P)" in col and "LastResetTime" in col:
            created = sum(
                int(fields[col[name]])
                for name in ("IncomingCall(P)", "OutgoingCall(P)")
                if name in col
            )
            fields[col["CallRate(P)"]] = c_double(
                sipp_call_rate(created, elapsed_ms(period_start, now))
            )
        _merge_latency_columns(header, col, parts, fields)
        out.append(_join_row(fields, delimiter))
    return "".join(out)


def _merge_latency_columns(
    header: Sequence[str],
    col: dict[str, int],
    parts: Sequence[tuple[list[str], bool]],
    fields: list[str],
) -> None:
    for i, name in enumerate(header):
        if not name.startswith(("ResponseTime", "CallLength")) or fields[i] != "":
            continue
        if "StDev" in name or "Repartition" in name or not name.endswith(("(P)", "(C)")):
            continue
        scope = name[-3:]
        base = name[:-3]
        weights = col[f"SuccessfulCall{scope}"]
        deviation_col = col.get(f"{base}StDev{scope}")
        samples: list[tuple[int, float, float]] = []
        for row, is_active in parts:
            if scope == "(P)" and not is_active:
                continue
            if ":" not in row[i]:
                break
            deviation = _duration_ms(row[deviation_col]) if deviation_col is not None else 0.0
            samples.append((int(row[weights]), _duration_ms(row[i]), deviation))
        else:
            count, total, squares = _pooled(samples)
            fields[i] = duration_field(total / count if count else 0.0)
            if deviation_col is not None:
                fields[deviation_col] = duration_field(
                    _deviation(count, total, squares, single_is_nan=base == "CallLength")
                )


# ------------------------------------------------------------------ counts, rtt, error codes


def merge_counts_csv(texts: Sequence[str], names: Sequence[str], delimiter: str = ";") -> str:
    """The ``-trace_counts`` files: time and elapsed of the latest part, counts added."""
    parsed = [_table(text, delimiter, name) for text, name in zip(texts, names, strict=True)]
    header = _same_header([h for h, _ in parsed], names)
    if header[:2] != ["CurrentTime", "ElapsedTime"]:
        raise MergeError(f"{names[0]}: not a -trace_counts file (no CurrentTime, ElapsedTime)")
    out = [_join_row(header, delimiter)]
    for parts in _aligned([rows for _, rows in parsed]):
        active = [row for row, is_active in parts if is_active]
        fields = [
            _pick_time([row[0] for row in active], max),
            max((row[1] for row in active), key=_duration_ms),
        ]
        for i in range(2, len(header)):
            fields.append(str(sum(int(row[i]) for row, _ in parts)))
        out.append(_join_row(fields, delimiter))
    return "".join(out)


def merge_rtt_csv(texts: Sequence[str], names: Sequence[str], delimiter: str = ";") -> str:
    """The ``-trace_rtt`` files: one header, every sample, in ``Date_ms`` order."""
    header = f"Date_ms{delimiter}response_time_ms{delimiter}rtd_no"
    samples: list[tuple[float, int, int, str]] = []
    for part, (text, name) in enumerate(zip(texts, names, strict=True)):
        lines = text.splitlines()
        if not lines or lines[0] != header:
            raise MergeError(f"{name}: not a -trace_rtt file (its header is not {header!r})")
        for number, line in enumerate(lines[1:], start=2):
            if not line:
                continue
            try:
                date_ms = float(line.split(delimiter, 1)[0])
            except ValueError:
                raise MergeError(f"{name}:{number}: Date_ms is not a number") from None
            samples.append((date_ms, part, number, line))
    samples.sort()
    return header + "\n" + "".join(line + "\n" for *_, line in samples)


def merge_error_codes(texts: Sequence[str], names: Sequence[str], delimiter: str = ";") -> str:
    """The ``-trace_error_codes`` files: per row, the latest time and every part's codes."""
    tables = []
    for text, name in zip(texts, names, strict=True):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            fields = line.split(delimiter)
            if len(fields) != 3:
                raise MergeError(f"{name}:{number}: not a -trace_error_codes row")
            rows.append(fields)
        tables.append(rows)
    out = []
    for parts in _aligned(tables):
        active = [row for row, is_active in parts if is_active]
        now = _pick_time([row[0] for row in active], max)
        elapsed = max((row[1] for row in active), key=_duration_ms)
        codes = "".join(row[2] for row, is_active in parts if is_active)
        out.append(f"{now}{delimiter}{elapsed}{delimiter}{codes}\n")
    return "".join(out)


def merge_logs(texts: Sequence[str], names: Sequence[str]) -> str:
    """Log files: each part's text after one line naming its file."""
    out = []
    for text, name in zip(texts, names, strict=True):
        out.append(f"----- gossipper merge: {name} -----\n")
        out.append(text if text.endswith("\n") or not text else text + "\n")
    return "".join(out)


# ------------------------------------------------------------------ files


def _walk(paths: Sequence[str], skip: str) -> list[str]:
    """Files of ``paths``; folders searched recursively, except ``skip`` (the output)."""
    files: list[str] = []
    skip_real = os.path.realpath(skip)
    for path in paths:
        if os.path.isdir(path):
            found = []
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(
                    d for d in dirs if os.path.realpath(os.path.join(root, d)) != skip_real
                )
                if os.path.realpath(root) == skip_real:
                    continue
                found += [os.path.join(root, name) for name in names]
            files += sorted(found)
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise MergeError(f"{path}: no such file or directory; give result folders or files")
    return files


def _read(path: str) -> str:
    with open(path, encoding="latin-1", newline="") as handle:
        return handle.read()


def _summary(path: str) -> dict[str, Any] | None:
    try:
        document = json.loads(_read(path))
    except ValueError:
        return None
    if isinstance(document, dict) and document.get("schema") == SCHEMA_NAME:
        return document
    return None


def merge_result_files(
    inputs: Sequence[str],
    output_dir: str,
    *,
    delimiter: str = ";",
    warn: Callable[[str], None] | None = None,
) -> list[MergedFile]:
    """Merge the results under ``inputs`` (folders, searched recursively, or files) into
    ``output_dir``; each output keeps the name of its first input file. ``warn`` hears about
    segments missing from a complete test (the result is then a part of the test).

    Raises:
        MergeError: nothing to merge, or files that do not belong together.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    summaries: list[tuple[str, dict[str, Any]]] = []
    for path in _walk(inputs, output_dir):
        name = os.path.basename(path)
        if name.endswith(".json"):
            document = _summary(path)
            if document is not None:
                summaries.append((path, document))
            continue
        match = _TRACE_NAME.match(name)
        if match is None:
            continue
        kind = match["kind"] or "stat"
        groups.setdefault((kind, match["base"]), []).append(path)
    if not summaries and not groups:
        raise MergeError(
            f"{', '.join(inputs)}: no summary JSON or SIPp trace file found; give the folders"
            " the segments wrote (-summary_json, -trace_stat, -trace_counts, ...)"
        )
    os.makedirs(output_dir, exist_ok=True)
    written: list[MergedFile] = []
    if summaries:
        merged = summaries[0][1]
        for _, document in summaries[1:]:
            merged = merge_summaries(merged, document)
        covered = _check_segments(summaries, warn)
        if covered is not None:
            merged["segment"] = covered
        target = os.path.join(output_dir, os.path.basename(summaries[0][0]))
        _write(target, json.dumps(merged, indent=2) + "\n")
        written.append(MergedFile(target, "summary", tuple(p for p, _ in summaries)))
    mergers: dict[str, Callable[[Sequence[str], Sequence[str], str], str]] = {
        "stat": merge_stat_csv,
        "counts": merge_counts_csv,
        "rtt": merge_rtt_csv,
        "error_codes": merge_error_codes,
    }
    for (kind, _base), paths in sorted(groups.items()):
        texts = [_read(path) for path in paths]
        if kind in _LOG_KINDS:
            text = merge_logs(texts, paths)
        else:
            text = mergers[kind](texts, paths, delimiter)
        target = os.path.join(output_dir, os.path.basename(paths[0]))
        _write(target, text)
        written.append(MergedFile(target, kind, tuple(paths)))
    return written


def _check_segments(
    summaries: Sequence[tuple[str, dict[str, Any]]], warn: Callable[[str], None] | None
) -> dict[str, Any] | None:
    """Segments named by the summaries must be disjoint (else calls would count twice); the
    merged document names their union when it is one range short of the whole test."""
    named = [(path, doc["segment"]) for path, doc in summaries if "segment" in doc]
    if not named:
        return None
    if len(named) != len(summaries):
        plain = next(path for path, doc in summaries if "segment" not in doc)
        raise MergeError(
            f"{plain}: a whole run among the segments of {named[0][0]}; merge either segments"
            " of one test or separate runs"
        )
    periods = {int(segment["period"]) for _, segment in named}
    if len(periods) != 1:
        raise MergeError(
            f"{named[0][0]}, {named[-1][0]}: segments striped over different periods"
            f" ({', '.join(map(str, sorted(periods)))}): run every segment of a test with the"
            " same -segment_sequence"
        )
    period = periods.pop()
    owner: dict[int, str] = {}
    for path, segment in named:
        for residue in range(int(segment["first"]), int(segment["end"])):
            if residue in owner:
                raise MergeError(
                    f"{path}: segment {segment['range']} overlaps {owner[residue]}'s; each"
                    " segment of a test must be merged once"
                )
            owner[residue] = path
    missing = [residue for residue in range(period) if residue not in owner]
    if missing and warn is not None:
        gaps = ", ".join(
            ExecutionSegment(residue, residue + 1, period).label() for residue in missing
        )
        warn(f"the merged segments are not the whole test: {gaps} missing")
    if not missing:
        return None
    present = sorted(owner)
    if present != list(range(present[0], present[-1] + 1)):
        return None
    union = ExecutionSegment(present[0], present[-1] + 1, period)
    return {"range": union.label(), "first": union.first, "end": union.end, "period": period}


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="latin-1", newline="") as handle:
        handle.write(text)
