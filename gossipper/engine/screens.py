"""What the screens need to know about the scenario and the engine.

``describe_elements`` is the engine's own (the counts and screens layout of the scenario); the
other functions are adapters that take an ``Engine`` and produce the explicit data the writers of
``gossipper.output`` take (``screen_context``, ``engine_screen_state``, ``display_snapshot``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gossipper.config import RunConfig
from gossipper.scenario import ElementKind, Optional, Scenario
from gossipper.stats import (
    ElementInfo,
    ElementKindTag,
    ScreenContext,
    ScreenState,
    StatsSnapshot,
    format_screen_dump,
    screen_state,
)

if TYPE_CHECKING:
    from gossipper.engine.engine import Engine

_KIND_TAGS = {
    ElementKind.SEND: ElementKindTag.SEND,
    ElementKind.RECV: ElementKindTag.RECV,
    ElementKind.PAUSE: ElementKindTag.PAUSE,
    ElementKind.NOP: ElementKindTag.NOP,
    ElementKind.SENDCMD: ElementKindTag.SENDCMD,
    ElementKind.RECVCMD: ElementKindTag.RECVCMD,
}


def describe_elements(scenario: Scenario, config: RunConfig) -> list[ElementInfo]:
    """One ElementInfo per message element, for screens and the counts file."""
    default_pause_ms = int(config.pause_default_s * 1000)
    lost_active = config.lost_pct > 0 or any(e.lost_pct for e in scenario.elements)
    rtd_names = scenario.rtd_names
    infos: list[ElementInfo] = []
    for element in scenario.elements:
        kind = element.kind
        if kind is ElementKind.SEND:
            label = str(element.status_code) if element.is_response else element.method
        elif kind is ElementKind.RECV:
            label = element.response or element.request or ""
        else:
            label = ""
        pause_ms: int | None = None
        pause_desc: str | None = None
        if element.pause is not None:
            pause_ms = element.pause.fixed_ms(default_pause_ms)
            if pause_ms is None:
                if element.pause.variable is not None:
                    pause_desc = f"${element.pause.variable}"
                elif element.pause.distribution is not None:
                    pause_desc = element.pause.distribution.describe()
        infos.append(
            ElementInfo(
                index=element.index,
                kind=_KIND_TAGS[kind],
                label=label,
                has_retrans=bool(element.retrans_ms),
                has_timeout=kind is ElementKind.RECVCMD and bool(element.recv_timeout_ms),
                start_rtd=rtd_names[element.start_rtd] if element.start_rtd is not None else None,
                rtd=rtd_names[element.rtd] if element.rtd is not None else None,
                crlf=element.crlf,
                hide=element.hide,
                display=element.display,
                pause_ms=pause_ms,
                is_optional=element.optional is not Optional.NO,
                lost_active=lost_active,
                pause_desc=pause_desc,
            )
        )
    return infos


def screen_context(engine: Engine) -> ScreenContext:
    """Ports, transport, rate and limits shown on the scenario screen."""
    config = engine.config
    remote = engine.remote
    return ScreenContext(
        local_port=engine.local_address[1] if engine.main_transport is not None else 0,
        transport="UDP",
        remote_host=remote[0] if remote else "",
        remote_port=remote[1] if remote else 0,
        rate_cps=engine.rate_state.rate,
        rate_period_ms=int(config.rate_period_s * 1000),
        users=config.users,
        duration_ms=int(config.pause_default_s * 1000),
        call_limit=config.max_calls,
        open_calls_allowed=engine.open_call_limit,
        open_sockets=0,
    )


def display_snapshot(engine: Engine) -> StatsSnapshot:
    """The snapshot SIPp shows at exit: it resets the display window just before printing."""
    engine.snapshot(reset_periodic=True, window="display")
    return engine.snapshot(reset_periodic=False, window="display")


def engine_screen_state(engine: Engine, *, terminated: bool) -> ScreenState:
    """The bottom line of the screens for the engine's current state."""
    from gossipper.engine.engine import QuitState

    return screen_state(
        terminated=terminated,
        quitting=engine.quit_state is not QuitState.RUNNING,
        paused=engine.traffic_paused,
        server=engine.scenario.is_server,
    )


def screen_dump(engine: Engine, snapshot: StatsSnapshot, *, terminated: bool) -> str:
    """What -trace_screen, SIGUSR2 and key s write (``gossipper.output.screen_dump`` with the
    engine's facts). The engine itself needs it for the ``-fd`` screens and must not import
    ``gossipper.output`` (a sibling layer), so this calls the stats formatter directly."""
    return format_screen_dump(
        snapshot,
        server=engine.scenario.is_server,
        context=screen_context(engine),
        state=engine_screen_state(engine, terminated=terminated),
        periodic_rtd=engine.config.periodic_rtd,
    )
