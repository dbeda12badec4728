"""Statistics: counters bumped by the engine, snapshots, histograms and every output format.

Pure layer: no clock, no I/O. Times come in as arguments (wall = epoch seconds, monotonic =
seconds); formatters return ``str`` (or a JSON-ready ``dict``).
"""

from __future__ import annotations

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
    "build_summary_json",
    "format_counts_header",
    "format_counts_row",
    "format_error_codes_row",
    "format_exit_stdout",
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
