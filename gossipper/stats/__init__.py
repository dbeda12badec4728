"""Statistics: counters bumped by the engine, snapshots, histograms and every output format.

Pure layer: no clock, no I/O. Times come in as arguments (wall = epoch seconds, monotonic =
seconds); formatters return ``str`` (or a JSON-ready ``dict``).

The names below are loaded on first use (PEP 562), so a run imports only the formatters it
writes (trace files and the JSON summary are optional).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gossipper.stats.counters import (
        FAILURE_INDEX,
        FAILURE_REASONS,
        CounterValues,
        ElementCounters,
        ElementCounts,
        ElementInfo,
        ElementKindTag,
        FailureReason,
        MeanStat,
        RunStats,
        StatsSnapshot,
    )
    from gossipper.stats.formatting import (
        format_log_time,
        format_rfc3339,
        ms_to_hhmmss,
        ms_to_hhmmss_us,
        sipp_time_string,
    )
    from gossipper.stats.gossipper_csv import (
        TraceFormat,
        format_counts_file_header,
        format_counts_file_row,
        format_gossipper_counts_header,
        format_gossipper_counts_row,
        format_gossipper_error_code_row,
        format_gossipper_error_codes_header,
        format_gossipper_rtt_header,
        format_gossipper_rtt_lines,
        format_gossipper_screen_header,
        format_gossipper_screen_row,
        format_gossipper_shortmessage_header,
        format_gossipper_shortmessage_row,
        format_gossipper_stat_header,
        format_gossipper_stat_row,
        format_stat_header,
        format_stat_row,
    )
    from gossipper.stats.histogram import Histogram
    from gossipper.stats.screens import (
        ScreenContext,
        ScreenState,
        format_exit_stdout,
        format_repartition_screen,
        format_repartition_screens,
        format_scenario_screen,
        format_screen_dump,
        format_secondary_repartition_screen,
        format_statistics_screen,
        pause_description,
        screen_state,
    )
    from gossipper.stats.sipp_csv import (
        format_counts_header,
        format_counts_row,
        format_error_codes_row,
        format_rtt_header,
        format_rtt_lines,
        format_stat_csv_header,
        format_stat_csv_row,
        stat_csv_columns,
    )
    from gossipper.stats.summary import (
        SCHEMA_NAME,
        SCHEMA_VERSION,
        build_summary_json,
        latency_summary,
        load_summary_schema,
        merge_summaries,
    )

_SUBMODULE_OF = {
    "FAILURE_INDEX": "counters",
    "FAILURE_REASONS": "counters",
    "CounterValues": "counters",
    "ElementCounters": "counters",
    "ElementCounts": "counters",
    "ElementInfo": "counters",
    "ElementKindTag": "counters",
    "FailureReason": "counters",
    "MeanStat": "counters",
    "RunStats": "counters",
    "StatsSnapshot": "counters",
    "format_log_time": "formatting",
    "format_rfc3339": "formatting",
    "ms_to_hhmmss": "formatting",
    "ms_to_hhmmss_us": "formatting",
    "sipp_time_string": "formatting",
    "TraceFormat": "gossipper_csv",
    "format_counts_file_header": "gossipper_csv",
    "format_counts_file_row": "gossipper_csv",
    "format_gossipper_counts_header": "gossipper_csv",
    "format_gossipper_counts_row": "gossipper_csv",
    "format_gossipper_error_code_row": "gossipper_csv",
    "format_gossipper_error_codes_header": "gossipper_csv",
    "format_gossipper_rtt_header": "gossipper_csv",
    "format_gossipper_rtt_lines": "gossipper_csv",
    "format_gossipper_screen_header": "gossipper_csv",
    "format_gossipper_screen_row": "gossipper_csv",
    "format_gossipper_shortmessage_header": "gossipper_csv",
    "format_gossipper_shortmessage_row": "gossipper_csv",
    "format_gossipper_stat_header": "gossipper_csv",
    "format_gossipper_stat_row": "gossipper_csv",
    "format_stat_header": "gossipper_csv",
    "format_stat_row": "gossipper_csv",
    "Histogram": "histogram",
    "ScreenContext": "screens",
    "ScreenState": "screens",
    "format_exit_stdout": "screens",
    "format_repartition_screen": "screens",
    "format_repartition_screens": "screens",
    "format_scenario_screen": "screens",
    "format_screen_dump": "screens",
    "format_secondary_repartition_screen": "screens",
    "format_statistics_screen": "screens",
    "pause_description": "screens",
    "screen_state": "screens",
    "format_counts_header": "sipp_csv",
    "format_counts_row": "sipp_csv",
    "format_error_codes_row": "sipp_csv",
    "format_rtt_header": "sipp_csv",
    "format_rtt_lines": "sipp_csv",
    "format_stat_csv_header": "sipp_csv",
    "format_stat_csv_row": "sipp_csv",
    "stat_csv_columns": "sipp_csv",
    "SCHEMA_NAME": "summary",
    "SCHEMA_VERSION": "summary",
    "build_summary_json": "summary",
    "latency_summary": "summary",
    "load_summary_schema": "summary",
    "merge_summaries": "summary",
}


def __getattr__(name: str) -> object:
    """Import the submodule that defines ``name`` on first access, then cache the value."""
    submodule = _SUBMODULE_OF.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # __import__ rather than importlib.import_module: the same work, and ``-X importtime``
    # (which only sees the import statement's path) still lists the module.
    value = getattr(__import__(f"{__name__}.{submodule}", fromlist=[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULE_OF})


__all__ = [
    "FAILURE_INDEX",
    "FAILURE_REASONS",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "CounterValues",
    "ElementCounters",
    "ElementCounts",
    "ElementInfo",
    "ElementKindTag",
    "FailureReason",
    "Histogram",
    "MeanStat",
    "RunStats",
    "ScreenContext",
    "ScreenState",
    "StatsSnapshot",
    "TraceFormat",
    "build_summary_json",
    "format_counts_file_header",
    "format_counts_file_row",
    "format_counts_header",
    "format_counts_row",
    "format_error_codes_row",
    "format_exit_stdout",
    "format_gossipper_counts_header",
    "format_gossipper_counts_row",
    "format_gossipper_error_code_row",
    "format_gossipper_error_codes_header",
    "format_gossipper_rtt_header",
    "format_gossipper_rtt_lines",
    "format_gossipper_screen_header",
    "format_gossipper_screen_row",
    "format_gossipper_shortmessage_header",
    "format_gossipper_shortmessage_row",
    "format_gossipper_stat_header",
    "format_gossipper_stat_row",
    "format_log_time",
    "format_repartition_screen",
    "format_repartition_screens",
    "format_rfc3339",
    "format_rtt_header",
    "format_rtt_lines",
    "format_scenario_screen",
    "format_screen_dump",
    "format_secondary_repartition_screen",
    "format_stat_csv_header",
    "format_stat_csv_row",
    "format_stat_header",
    "format_stat_row",
    "format_statistics_screen",
    "latency_summary",
    "load_summary_schema",
    "merge_summaries",
    "ms_to_hhmmss",
    "ms_to_hhmmss_us",
    "pause_description",
    "screen_state",
    "sipp_time_string",
    "stat_csv_columns",
]
