"""The screens of a run, from explicit data (no engine).

The text comes from the formatters of :mod:`gossipper.stats.screens`; these functions are what a
run prints or writes, with the facts about the run passed in: the snapshot, the scenario's mode,
the :class:`ScreenContext` (ports, rate, limits) and the bottom-line state. SIPp's layouts:
docs/trace-schema-contract.md (screen.log) and docs/sipp-behaviour.md ("Outputs").
"""

from __future__ import annotations

import datetime

from gossipper.stats import (
    ScreenContext,
    ScreenState,
    StatsSnapshot,
    format_exit_stdout,
    format_screen_dump,
)

__all__ = ["exit_screens", "screen_dump"]


def exit_screens(
    snapshot: StatsSnapshot,
    *,
    server: bool,
    context: ScreenContext,
    tz: datetime.tzinfo | None = None,
    rfc3339: bool = False,
) -> str:
    """SIPp's stdout at exit: scenario screen and statistics screen, "Test Terminated"."""
    return format_exit_stdout(snapshot, server=server, context=context, tz=tz, rfc3339=rfc3339)


def screen_dump(
    snapshot: StatsSnapshot,
    *,
    server: bool,
    context: ScreenContext,
    state: ScreenState,
    periodic_rtd: bool,
    tz: datetime.tzinfo | None = None,
    rfc3339: bool = False,
) -> str:
    """What -trace_screen, SIGUSR2 and key s write: scenario, statistics, repartition screens.
    ``state`` picks the bottom line (``gossipper.stats.screen_state``)."""
    return format_screen_dump(
        snapshot,
        server=server,
        context=context,
        state=state,
        periodic_rtd=periodic_rtd,
        tz=tz,
        rfc3339=rfc3339,
    )
