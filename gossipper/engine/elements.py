"""What the statistics need to know about a scenario's elements (screens, the counts file)."""

from __future__ import annotations

from gossipper.config import RunConfig
from gossipper.scenario import ElementKind, Optional, Scenario
from gossipper.stats import ElementInfo, ElementKindTag, RunStats

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
    default_pause_ms = int(config.timers.pause_default_s * 1000)
    lost_active = config.identity.lost_pct > 0 or any(e.lost_pct for e in scenario.elements)
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


def new_run_stats(
    scenario: Scenario, config: RunConfig, *, start_wall: float, start_mono: float
) -> RunStats:
    """The statistics of one run of ``scenario`` (an ``Engine`` makes its own when not given
    one; a host that needs the layout first, e.g. for trace file headers, makes it here)."""
    return RunStats(
        elements=describe_elements(scenario, config),
        rtd_names=scenario.rtd_names,
        counter_names=scenario.counter_names,
        response_time_repartition_ms=scenario.response_time_repartition_ms,
        call_length_repartition_ms=scenario.call_length_repartition_ms,
        start_wall=start_wall,
        start_mono=start_mono,
        target_rate=float(config.load.users) if config.load.users is not None else config.load.rate,
        keep_rtt_samples=config.traces.trace_rtt,
    )
