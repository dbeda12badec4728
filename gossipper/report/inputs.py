"""Reading a report's inputs: a summary JSON file and the CSV files that go with it."""

from __future__ import annotations

import json
import os
from typing import Any

from gossipper.errors import GossipperError
from gossipper.report.csvdata import (
    ReportInputError,
    find_companions,
    read_counts_csv,
    read_media_csv,
    read_rtt_csv,
    read_stat_csv,
)
from gossipper.report.gates import summary_metrics
from gossipper.report.html import ReportInput
from gossipper.stats.histogram import Histogram
from gossipper.stats.summary import SCHEMA_NAME, SCHEMA_VERSION

__all__ = ["load_input", "load_summary"]


def load_summary(path: str) -> dict[str, Any]:
    """A ``gossipper.summary`` version 1 document read from ``path``.

    Raises:
        ReportInputError: unreadable, not JSON, or not such a document.
    """
    try:
        with open(path, encoding="utf-8") as file:
            doc = json.load(file, parse_constant=_refuse_constant)
    except OSError as exc:
        raise ReportInputError(
            f"{path}: cannot read it ({exc.strerror}); give a -summary_json file"
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise ReportInputError(f"{path}: not JSON ({exc}); give a -summary_json file") from exc
    if (
        not isinstance(doc, dict)
        or doc.get("schema") != SCHEMA_NAME
        or doc.get("schema_version") != SCHEMA_VERSION
    ):
        raise ReportInputError(
            f"{path}: not a {SCHEMA_NAME} version {SCHEMA_VERSION} document; give a file"
            " written by -summary_json"
        )
    for key in ("calls", "failures", "rate", "messages", "latency", "counters"):
        if not isinstance(doc.get(key), dict):
            raise ReportInputError(f"{path}: the summary has no {key!r} object; is it complete?")
    try:
        # Everything the report reads: the figures and every histogram.
        summary_metrics(doc)
        latency = doc["latency"]
        for part in [*latency["rtd"].values(), latency["call_length"]]:
            Histogram.from_dict(part["histogram"])
        str(doc["started_at"]), str(doc["finished_at"]), int(doc["exit_code"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReportInputError(
            f"{path}: malformed summary ({exc!r}); give a file written by -summary_json"
        ) from None
    except GossipperError as exc:  # a histogram that is not one
        raise ReportInputError(
            f"{path}: malformed summary ({exc}); give a file written by -summary_json"
        ) from None
    return doc


def _refuse_constant(name: str) -> float:
    # NaN and Infinity are not JSON, and no summary contains them.
    raise ValueError(f"{name} is not a number a summary can contain")


def load_input(
    summary_path: str,
    *,
    stat: str | None = None,
    rtt: str | None = None,
    counts: str | None = None,
    media: str | None = None,
    find: bool = True,
    label: str | None = None,
) -> ReportInput:
    """A summary and its CSV files: the ones given, else (``find``) the ones found next to it
    (:func:`gossipper.report.csvdata.find_companions`)."""
    summary = load_summary(summary_path)
    found = find_companions(summary_path, str(summary["scenario_name"])) if find else {}
    stat = stat or found.get("stat")
    rtt = rtt or found.get("rtt")
    counts = counts or found.get("counts")
    media = media or found.get("media")
    return ReportInput(
        label=label or os.path.basename(summary_path),
        summary=summary,
        summary_path=summary_path,
        stat=read_stat_csv(stat) if stat else None,
        rtt=read_rtt_csv(rtt) if rtt else None,
        counts=read_counts_csv(counts) if counts else None,
        media=read_media_csv(media) if media else None,
    )
