"""The ``-fd`` log window of a test's ``RunStats``, as the trace writer's consumer keeps one."""

from __future__ import annotations

from gossipper.stats import RunStats
from gossipper.stats.counters import StatsWindow

_WINDOWS: dict[int, tuple[RunStats, StatsWindow]] = {}


def log_window(stats: RunStats) -> StatsWindow:
    """One window per ``RunStats`` (carrying error codes), opened on first use."""
    entry = _WINDOWS.get(id(stats))
    if entry is None or entry[0] is not stats:
        entry = (stats, stats.open_window(error_codes=True))
        _WINDOWS[id(stats)] = entry
    return entry[1]
