"""The screens of a run, from explicit data (no engine).

The text comes from the formatters of :mod:`gossipper.stats.screens`; these functions are what a
run prints or writes, with the facts about the run passed in: the snapshot, the scenario's mode,
the :class:`ScreenContext` (ports, rate, limits) and the bottom-line state. SIPp's layouts:
docs/trace-schema-contract.md (screen.log) and docs/sipp-behaviour.md ("Outputs").
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from gossipper.stats import (
    ScreenContext,
    ScreenState,
    StatsSnapshot,
    format_exit_stdout,
    format_repartition_screen,
    format_scenario_screen,
    format_screen_dump,
    format_secondary_repartition_screen,
    format_statistics_screen,
)
from gossipper.stats.screens import format_tdm_screen, format_variables_screen

__all__ = ["LIVE_SCREEN_KEYS", "exit_screens", "live_screen", "screen_dump"]

LIVE_SCREEN_KEYS = "123456789"
"""SIPp's keys of the live screens: 1 scenario, 2 statistics, 3 repartition, 4 variables,
5 TDM map (with -tdmmap), 6-9 the repartitions of the second to fifth response-time
measures."""


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


def live_screen(
    number: int,
    snapshot: StatsSnapshot,
    *,
    server: bool,
    context: ScreenContext,
    state: ScreenState,
    periodic_rtd: bool,
    actions: Sequence[tuple[int, str, Sequence[str]]],
    variables: Sequence[tuple[str, str]],
    circuits: Sequence[tuple[str, bool]] | None,
    tz: datetime.tzinfo | None = None,
    rfc3339: bool = False,
) -> str | None:
    """Screen ``number`` (a key of ``LIVE_SCREEN_KEYS``) as a terminal shows it while the run
    goes on; None when the run has no such screen (5 without a TDM map)."""
    if number == 1:
        return format_scenario_screen(snapshot, server=server, context=context, state=state)
    if number == 2:
        return format_statistics_screen(snapshot, state=state, tz=tz, rfc3339=rfc3339)
    if number == 3:
        return format_repartition_screen(snapshot, state=state, periodic_rtd=periodic_rtd)
    if number == 4:
        return format_variables_screen(actions, variables, state=state)
    if number == 5:
        return None if circuits is None else format_tdm_screen(circuits, state=state)
    if 6 <= number <= 9:
        return format_secondary_repartition_screen(
            snapshot, number - 4, state=state, periodic_rtd=periodic_rtd
        )
    return None
