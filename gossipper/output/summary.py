"""The ``-summary_json`` document (docs/summary-json.md) and its one writer."""

from __future__ import annotations

import datetime
import os
from typing import Any

from gossipper.segment import ExecutionSegment
from gossipper.stats import StatsSnapshot

__all__ = ["summary_document", "write_json_atomic"]

_TEMPORARY_NAME_TRIES = 16


def summary_document(
    snapshot: StatsSnapshot,
    *,
    target_rate: float,
    scenario_name: str,
    exit_code: int,
    tool_version: str,
    tz: datetime.tzinfo | None = None,
    segment: ExecutionSegment | None = None,
) -> dict[str, Any]:
    """The ``-summary_json`` document of a finished run, from its final snapshot; with
    ``segment`` (``-segment``) it names the slice, so that ``gossipper merge`` can check that
    the parts it merges are disjoint and complete."""
    from gossipper.stats.summary import build_summary_json  # only with -summary_json

    document = build_summary_json(
        snapshot,
        tool_version=tool_version,
        start_wall=snapshot.start_wall,
        finish_wall=snapshot.now_wall,
        target_rate=target_rate,
        scenario_name=scenario_name,
        exit_code=exit_code,
        tz=tz,
    )
    if segment is not None:
        document["segment"] = {
            "range": segment.label(),
            "first": segment.first,
            "end": segment.end,
            "period": segment.period,
        }
    return document


def write_json_atomic(path: str | os.PathLike[str], document: object) -> None:
    """Write ``document`` as JSON (indent 2, newline-terminated, UTF-8) to ``path`` atomically:
    to a new file in the same directory, then renamed over ``path``, so a reader never sees a
    partial document. The file gets the usual permissions (the umask's)."""
    import json  # only when a summary is written (start-up: docs/performance.md)

    data = (json.dumps(document, indent=2, sort_keys=False) + "\n").encode("utf-8")
    directory, name = os.path.split(os.path.abspath(path))
    for _ in range(_TEMPORARY_NAME_TRIES):
        temporary = os.path.join(directory, f".{name}.{os.urandom(4).hex()}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(f"{directory}: no free temporary name for {name}")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
