"""What a run writes: trace files, screens and the summary document.

This package renders and writes; it imports neither the engine nor trio (design.md section 2):
whoever runs the engine hands it events, snapshots and explicit facts about the run.

* :mod:`gossipper.output.tracing`: :class:`TraceFiles`, the ``-trace_*`` files;
* :mod:`gossipper.output.formats`: the two ``-trace_format`` strategies;
* :mod:`gossipper.output.files`: one buffered trace file, rotation, cached timestamps;
* :mod:`gossipper.output.screens`: the screens as printed and dumped;
* :mod:`gossipper.output.summary`: the ``-summary_json`` document and its atomic writer.
"""

from __future__ import annotations

from gossipper.output.screens import exit_screens, screen_dump
from gossipper.output.summary import summary_document, write_json_atomic
from gossipper.output.tracing import TraceFiles, TraceLayout, trace_files_wanted

__all__ = [
    "TraceFiles",
    "TraceLayout",
    "exit_screens",
    "screen_dump",
    "summary_document",
    "trace_files_wanted",
    "write_json_atomic",
]
