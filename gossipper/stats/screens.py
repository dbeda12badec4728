"""SIPp 3.6.1 text screens: scenario, statistics and repartition screens, the ``-trace_screen``
dump and what SIPp prints on stdout at exit (docs/sipp-behaviour.md, "Outputs": screens).

Layouts were taken from real 3.6.1 output (``sipp-samples/*_screen.log``,
``*_stdout_at_exit.txt`` and black-box runs); every function returns complete lines ending in
``\\n``. Snapshots for screens should come from the ``"display"`` window (reset every ``-f``).
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from gossipper.stats.counters import ElementCounts, ElementInfo, ElementKindTag, StatsSnapshot
from gossipper.stats.formatting import (
    ms_to_hhmmss_us,
    sipp_time_string,
)
from gossipper.stats.media import MediaTotals
from gossipper.stats.sipp_csv import duration_field
from gossipper.timefmt import log_time_formatter


class ScreenState(enum.Enum):
    """Which bottom line a screen ends with; the value is the line itself."""

    RUNNING = "------ [+|-|*|/]: Adjust rate ---- [q]: Soft exit ---- [p]: Pause traffic -----"
    SERVER = "------------------------------ SIPp Server Mode -------------------------------"
    QUITTING = "------- Waiting for active calls to end. Press [q] again to force exit. -------"
    PAUSED = "----------------- Traffic Paused - Press [p] again to resume ------------------"
    TERMINATED = "------------------------------ Test Terminated --------------------------------"
    CPU_CONGESTED = (
        "-------------------------------- CPU CONGESTED ---------------------------------"
    )
    OUTBOUND_CONGESTION = (
        "------------------------------ OUTBOUND CONGESTION -----------------------------"
    )
    THREE_PCC_CONTROLLER_A = (
        "----------------------- 3PCC Mode - Controller A side -------------------------"
    )
    THREE_PCC_CONTROLLER_B = (
        "----------------------- 3PCC Mode - Controller B side -------------------------"
    )
    THREE_PCC_A_PASSIVE = (
        "------------------ 3PCC Mode - Controller A side (passive) --------------------"
    )
    MASTER = "-----------------------3PCC extended mode - Master side -------------------------"
    MASTER_PASSIVE = (
        "------------------ 3PCC extended mode - Master side (passive) --------------------"
    )
    SLAVE = "----------------------- 3PCC extended mode - Slave side -------------------------"


_SCENARIO_TITLE = "------------------------------ Scenario Screen -------- [1-9]: Change Screen --"
_STATS_TITLE = "----------------------------- Statistics Screen ------- [1-9]: Change Screen --"
_REPARTITION_TITLE = (
    "---------------------------- Repartition Screen ------- [1-9]: Change Screen --"
)
_CROSS = "-------------------------+---------------------------+--------------------------"
_COLUMNS = "                                 Messages  Retrans   Timeout   Unexpected-Msg"
_COLUMNS_LOST = "                                 Messages  Retrans   Timeout   Unexp.    Lost"


@dataclass(frozen=True, slots=True)
class ScreenContext:
    """Engine and option values shown on the scenario screen that are not statistics.

    ``rate_cps`` None shows the snapshot's target rate. ``users`` set = ``-users`` mode.
    ``duration_ms`` is ``-d``. ``call_limit`` is ``-m`` (None = no limit);
    ``open_calls_allowed`` the ``-l`` value in force. ``show_rtp_line`` reproduces the
    second socket/RTP line of the PCAP-enabled 3.6.1 build.
    """

    local_port: int = 0
    transport: str = "UDP"
    remote_host: str = ""
    remote_port: int = 0
    rate_cps: float | None = None
    rate_period_ms: int = 1000
    users: int | None = None
    duration_ms: int = 0
    call_limit: int | None = None
    open_calls_allowed: int = 0
    scheduler_resolution_ms: int = 0
    running_calls: int = 0
    paused_calls: int = 0
    woken_calls: int = 0
    open_sockets: int = 0
    send_errors: int = 0
    recv_errors: int = 0
    congestions: int = 0
    rtp_packets_sent: int = 0
    rtp_bytes_in_period: int = 0
    show_rtp_line: bool = True
    respect_hide: bool = True


def screen_state(
    *,
    terminated: bool = False,
    quitting: bool = False,
    paused: bool = False,
    server: bool = False,
) -> ScreenState:
    """The bottom line SIPp picks, in its order of precedence (3PCC roles: pick directly)."""
    if terminated:
        return ScreenState.TERMINATED
    if quitting:
        return ScreenState.QUITTING
    if paused:
        return ScreenState.PAUSED
    return ScreenState.SERVER if server else ScreenState.RUNNING


def _two_columns(left: str, right: str) -> str:
    # Second column starts at character 42 on every 3.6.1 line of this shape.
    return f"  {left:<39} {right}"


def _period_ms(snapshot: StatsSnapshot) -> int:
    return max(0, int((snapshot.now_mono - snapshot.period_start_mono) * 1000.0 + 1e-6))


def format_scenario_screen(
    snapshot: StatsSnapshot,
    *,
    elements: Sequence[ElementInfo] | None = None,
    server: bool,
    context: ScreenContext,
    state: ScreenState,
    last_error: str | None = None,
) -> str:
    """The scenario screen (key ``1``), title to bottom line included.

    ``elements`` defaults to the snapshot's element infos; ``last_error`` is the text of the
    last error without its timestamp (printed above the bottom line, cut at 60 characters).
    """
    infos = snapshot.element_infos if elements is None else tuple(elements)
    c = snapshot.cumulative
    lines = [_SCENARIO_TITLE]
    elapsed_total_ms = max(0, int(snapshot.elapsed_s * 1000.0 + 1e-6))
    total_time = f"{elapsed_total_ms // 1000:6d}.{elapsed_total_ms % 1000 // 10:02d} s"
    if server:
        lines.append("  Port   Total-time  Total-calls  Transport")
        lines.append(
            f"  {context.local_port:<5} {total_time}     {c.total_calls:8d}  {context.transport}"
        )
    else:
        if context.users is not None:
            lines.append("  Users (length)   Port   Total-time  Total-calls  Remote-host")
            rate_text = f"{context.users} ({context.duration_ms} ms)"
        else:
            lines.append("  Call rate (length)   Port   Total-time  Total-calls  Remote-host")
            rate = snapshot.target_rate if context.rate_cps is None else context.rate_cps
            rate_text = (
                f"{rate:3.1f}({context.duration_ms} ms)/{context.rate_period_ms / 1000.0:5.3f}s"
            )
        lines.append(
            f"  {rate_text}   {context.local_port:<5} {total_time}     {c.total_calls:8d}  "
            f"{context.remote_host}:{context.remote_port}({context.transport})"
        )
    lines.append("")

    period_ms = _period_ms(snapshot)
    if context.call_limit is not None and c.total_calls >= context.call_limit:
        left = f"Call limit {context.call_limit} hit, {period_ms / 1000.0:.1f} s period"
    else:
        left = (
            f"{snapshot.periodic.total_calls} new calls during "
            f"{period_ms // 1000}.{period_ms % 1000:03d} s period"
        )
    lines.append(
        _two_columns(left, f"{context.scheduler_resolution_ms} ms scheduler resolution") + " " * 12
    )
    calls = f"{snapshot.current_calls} calls"
    if not server:
        calls += f" (limit {context.open_calls_allowed})"
    peak_after_s = max(0, int(snapshot.peak_calls_mono - snapshot.run_start_mono))
    lines.append(
        _two_columns(calls, f"Peak was {snapshot.peak_calls} calls, after {peak_after_s} s")
    )
    lines.append(
        f"  {context.running_calls} Running, {context.paused_calls} Paused, "
        f"{context.woken_calls} Woken up"
    )
    dead = f"  {f'{c.dead_call_msgs} dead call msg (discarded)':<38}"
    if not server:
        dead += f"  {c.out_of_call_msgs} out-of-call msg (discarded)"
    lines.append(dead)
    sockets = _two_columns(
        f"{context.open_sockets} open sockets",
        f"{context.send_errors}/{context.recv_errors}/{context.congestions} "
        f"{context.transport} errors (send/recv/cong)",
    )
    lines.append(sockets)
    if context.show_rtp_line:
        if period_ms > 0:
            rtp_bytes = context.rtp_bytes_in_period
            lines.append(
                _two_columns(
                    f"{context.rtp_packets_sent} Total RTP pckts sent",
                    f"{rtp_bytes // period_ms}.{rtp_bytes % period_ms:03d} "
                    "last period RTP rate (kB/s)",
                )
            )
        else:
            # 3.6.1 repeats the sockets line when the period is empty (always so at exit).
            lines.append(sockets)
    lines.append("")
    lose_packets = any(info.lost_active for info in infos)
    lines.append(_COLUMNS_LOST if lose_packets else _COLUMNS)
    for position, info in enumerate(infos):
        if context.respect_hide and info.hide:
            continue
        counts = snapshot.elements[position]
        lines.append(_element_line(snapshot, info, counts, server, lose_packets))
        if info.crlf:
            lines.append("")
    return _finish(lines, state, last_error)


def pause_description(info: ElementInfo) -> str:
    """Pause text as shown between brackets (at most 23 characters, as SIPp)."""
    if info.pause_desc is not None:
        return info.pause_desc[:23]
    return sipp_time_string(float(info.pause_ms or 0))[:23]


def _element_line(
    snapshot: StatsSnapshot,
    info: ElementInfo,
    counts: ElementCounts,
    server: bool,
    lose_packets: bool,
) -> str:
    messages, retrans, timeouts = counts.messages, counts.retrans, counts.timeouts
    unexpected, lost = counts.unexpected, counts.lost
    kind = info.kind
    if kind is ElementKindTag.PAUSE:
        desc = pause_description(info)
        width = max(9, len(desc))
        if server:
            head = f"  [{desc:>9}] Pause" + " " * max(0, 23 - width)
        else:
            head = f"       Pause [{desc:>9}]" + " " * max(0, 18 - width)
        return f"{head}{messages:<9}" + " " * 21 + f"{unexpected:<9}"
    if kind is ElementKindTag.NOP:
        if info.display is not None:
            return f" {info.display}"
        return "              [ NOP ]              "
    if kind is ElementKindTag.RECVCMD:
        if info.has_timeout:
            return f"    [ Received Command ]         {messages:<9} {'':<9} {timeouts:<9} {'':<9}"
        return f"    [ Received Command ]         {messages:<9} {'':<9}           {'':<9}"
    if kind is ElementKindTag.SENDCMD:
        return f"        [ Sent Command ]         {messages:<9} {'':<9}           {'':<9}"

    outgoing = kind is ElementKindTag.SEND
    if outgoing == server:
        # Server sends and client receives point left.
        arrow = f"  <---------- {info.label:<10} " if server else f"  {info.label:>10} <---------- "
    else:
        arrow = f"  ----------> {info.label:<10} " if server else f"  {info.label:>10} ----------> "
    marker = "        "
    if info.start_rtd is not None:
        index = snapshot.rtd_index(info.start_rtd)
        if index is not None:
            marker = f" B-RTD{index + 1} "
    elif info.rtd is not None:
        index = snapshot.rtd_index(info.rtd)
        if index is not None:
            marker = f" E-RTD{index + 1} "
    if outgoing:
        timeout_text = str(timeouts) if info.has_retrans else ""
        values = f"{messages:<9} {retrans:<9} {timeout_text:<9} {'':<9}"
    else:
        values = f"{messages:<9} {retrans:<9} {timeouts:<9} {unexpected:<9}"
    suffix = f" {lost:<6}" if lose_packets and lost else " " * 7
    return arrow + marker + values + suffix


def _finish(lines: list[str], state: ScreenState, last_error: str | None) -> str:
    if last_error:
        text = last_error.lstrip()
        lines.append(f"Last Error: {text[:60]}..." if len(text) > 60 else f"Last Error: {text}")
    lines.append(state.value)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- statistics screen


def _text_row(label: str, periodic: str, cumulative: str) -> str:
    return f"  {label[:22]:<22} | {periodic[:25]:<25} | {cumulative[:24]:<24} "


def _count_row(label: str, periodic: int, cumulative: int) -> str:
    return f"  {label[:22]:<22} | {periodic:8d}                  | {cumulative:8d}                 "


def format_statistics_screen(
    snapshot: StatsSnapshot,
    *,
    state: ScreenState = ScreenState.TERMINATED,
    last_error: str | None = None,
    tz: datetime.tzinfo | None = None,
    sipp_quirks: bool = True,
    rfc3339: bool = False,
) -> str:
    """The statistics screen (key ``2``), title to bottom line included. ``rfc3339``
    (``-rfc3339``): the three dates in RFC 3339.

    With ``sipp_quirks`` the Elapsed Time, Response Time and Call Length rows show the periodic
    value in both columns, exactly as 3.6.1 does (both columns are formatted into one static
    buffer); pass False to show the real cumulative values.
    """
    c = snapshot.cumulative
    p = snapshot.periodic
    stamp = log_time_formatter(rfc3339)
    lines = [_STATS_TITLE]
    for label, moment in (
        ("Start Time", snapshot.start_wall),
        ("Last Reset Time", snapshot.period_start_wall),
        ("Current Time", snapshot.now_wall),
    ):
        lines.append(f"  {label:<22} | {stamp(moment, tz)[:52]:<52} ")
    lines += [_CROSS, "  Counter Name           | Periodic value            | Cumulative value"]
    lines.append(_CROSS)

    def times(periodic: str, cumulative: str) -> tuple[str, str]:
        return (periodic, periodic) if sipp_quirks else (periodic, cumulative)

    lines.append(
        _text_row(
            "Elapsed Time",
            *times(ms_to_hhmmss_us(snapshot.elapsed_ms_p), ms_to_hhmmss_us(snapshot.elapsed_ms_c)),
        )
    )
    lines.append(
        f"  {'Call Rate':<22} | {snapshot.call_rate_p:8.3f} cps              "
        f"| {snapshot.call_rate_c:8.3f} cps             "
    )
    lines.append(_CROSS)
    lines.append(_count_row("Incoming calls created", p.incoming_calls, c.incoming_calls))
    lines.append(_count_row("Outgoing calls created", p.outgoing_calls, c.outgoing_calls))
    lines.append(
        f"  {'Total Calls created':<22} |                           "
        f"| {c.total_calls:8d}                 "
    )
    lines.append(
        f"  {'Current Calls':<22} | {snapshot.current_calls:8d}                  "
        "|                          "
    )
    if snapshot.counter_names:
        lines.append(_CROSS)
        for i, name in enumerate(snapshot.counter_names):
            lines.append(
                _count_row(f"Counter {name}", p.generic_counters[i], c.generic_counters[i])
            )
    lines.append(_CROSS)
    lines.append(_count_row("Successful call", p.successful_calls, c.successful_calls))
    lines.append(_count_row("Failed call", p.failed_calls, c.failed_calls))
    lines.append(_CROSS)
    for i, name in enumerate(snapshot.rtd_names):
        lines.append(
            _text_row(
                f"Response Time {name}",
                *times(duration_field(p.rtd[i].mean_ms), duration_field(c.rtd[i].mean_ms)),
            )
        )
    lines.append(
        _text_row(
            "Call Length",
            *times(duration_field(p.call_length.mean_ms), duration_field(c.call_length.mean_ms)),
        )
    )
    if snapshot.media is not None:
        lines.append(_CROSS)
        lines += media_screen_rows(snapshot.media)
    return _finish(lines, state, last_error)


def _or_dash(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def media_screen_rows(media: MediaTotals) -> list[str]:
    """The media block of the statistics screen (a gossipper addition, shown only when the run
    has media streams, so SIPp's screens keep their bytes otherwise): whole-run values in the
    cumulative column."""
    jitter = f"{_or_dash(media.jitter_mean_ms, '.3f')} / {media.jitter_max_ms:.3f} ms"
    mos = f"{_or_dash(media.mos_mean, '.2f')} / {_or_dash(media.mos_min, '.2f')}"
    rtt = _or_dash(media.rtt_mean_ms, ".3f")
    # No periodic column: media figures are known per stream, when its call ends.
    return [
        _text_row("RTP streams", "", f"{media.streams:8d}"),
        _text_row("RTP packets sent", "", f"{media.packets_sent:8d}"),
        _text_row("RTP packets received", "", f"{media.packets_received:8d}"),
        _text_row("RTP packets lost", "", f"{media.packets_lost:8d} ({media.loss_pct:.2f}%)"),
        _text_row("RTP packets late", "", f"{media.late_packets:8d}"),
        _text_row("Jitter mean / max", "", jitter),
        _text_row("MOS mean / min", "", mos),
        _text_row("RTCP RTT mean", "", rtt if media.rtt_count == 0 else f"{rtt} ms"),
    ]


# ---------------------------------------------------------------------- repartition screens


def _info(text: str) -> str:
    return f"  {text[:77]:<77}"


def _repartition_lines(borders: tuple[int, ...] | None, counts: Sequence[int]) -> list[str]:
    if not borders:
        return [_info("  <No repartion defined>")]
    lines = []
    low = 0
    for border, n in zip(borders, counts, strict=False):
        lines.append(f"{low:>14} ms <= n < {border:>10} ms : {n:>10}")
        low = border
    lines.append(f"{'':19}n >= {borders[-1]:>10} ms : {counts[len(borders)]:>10}")
    return lines


def _rtd_repartition_lines(
    snapshot: StatsSnapshot, rtd_index: int, periodic_rtd: bool
) -> list[str]:
    if rtd_index >= len(snapshot.rtd_names):
        return [_info("  <No repartion defined>")]
    values = snapshot.periodic if periodic_rtd else snapshot.cumulative
    counts = values.rtd_repartition[rtd_index] if values.rtd_repartition else ()
    return [
        _info(f"Average Response Time Repartition {snapshot.rtd_names[rtd_index]}"),
        *_repartition_lines(snapshot.response_time_repartition_ms, counts),
    ]


def format_repartition_screen(
    snapshot: StatsSnapshot,
    *,
    state: ScreenState = ScreenState.TERMINATED,
    last_error: str | None = None,
    periodic_rtd: bool = False,
) -> str:
    """The repartition screen (key ``3``): first RTD and call length."""
    values = snapshot.periodic if periodic_rtd else snapshot.cumulative
    lines = [_REPARTITION_TITLE, *_rtd_repartition_lines(snapshot, 0, periodic_rtd)]
    lines.append(_info("Average Call Length Repartition"))
    lines += _repartition_lines(snapshot.call_length_repartition_ms, values.call_length_repartition)
    return _finish(lines, state, last_error)


def format_secondary_repartition_screen(
    snapshot: StatsSnapshot,
    number: int,
    *,
    state: ScreenState = ScreenState.TERMINATED,
    last_error: str | None = None,
    periodic_rtd: bool = False,
) -> str:
    """Repartition screen of RTD ``number`` (1-based, >= 2; keys ``6``..``9``)."""
    title = (
        f"--------------------------- Repartition {number} Screen ------ [1-9]: Change Screen --"
    )
    lines = [title, *_rtd_repartition_lines(snapshot, number - 1, periodic_rtd)]
    return _finish(lines, state, last_error)


def format_repartition_screens(
    snapshot: StatsSnapshot,
    *,
    state: ScreenState = ScreenState.TERMINATED,
    last_error: str | None = None,
    periodic_rtd: bool = False,
) -> str:
    """The repartition screen followed by one secondary screen per further RTD."""
    parts = [
        format_repartition_screen(
            snapshot, state=state, last_error=last_error, periodic_rtd=periodic_rtd
        )
    ]
    for number in range(2, len(snapshot.rtd_names) + 1):
        parts.append(
            format_secondary_repartition_screen(
                snapshot, number, state=state, last_error=last_error, periodic_rtd=periodic_rtd
            )
        )
    return "".join(parts)


_VARIABLES_TITLE = "---------------------------- Variables Screen -------- [1-9]: Change Screen --"
_TDM_TITLE = "------------------------------ TDM map Screen ------- [1-9]: Change Screen --"


def format_variables_screen(
    actions: Sequence[tuple[int, str, Sequence[str]]],
    variables: Sequence[tuple[str, str]],
    *,
    state: ScreenState = ScreenState.TERMINATED,
    last_error: str | None = None,
) -> str:
    """The variables screen (key ``4``): the actions of each message element and the
    scenario's variables.

    ``actions`` holds (element index, element label, action names) for the elements that
    have actions; ``variables`` holds (name, scope) pairs.
    """
    lines = [_VARIABLES_TITLE, "  Action defined Per Message :"]
    for index, label, names in actions:
        lines.append(f"  => Message[{index}] ({label}) - [{len(names)}] action(s) defined :")
        for number, name in enumerate(names):
            lines.append(f"     --> action[{number}] = {name}")
    if not actions:
        lines.append("  (none)")
    lines.append("")
    lines.append("  Setted Variable List:")
    for number, (name, scope) in enumerate(variables):
        lines.append(f"  => Variable[{number}] : {name} ({scope})")
    if not variables:
        lines.append("  (none)")
    return _finish(lines, state, last_error)


def format_tdm_screen(
    circuits: Sequence[tuple[str, bool]],
    *,
    state: ScreenState = ScreenState.TERMINATED,
    last_error: str | None = None,
    per_line: int = 8,
) -> str:
    """The TDM map screen (key ``5``, ``-tdmmap``): every circuit, ``*`` marking a busy one."""
    busy = sum(1 for _, taken in circuits if taken)
    lines = [_TDM_TITLE, f"  {len(circuits)} circuits, {busy} in use, {len(circuits) - busy} free"]
    cells = [f"{name}{'*' if taken else ' '}" for name, taken in circuits]
    for start in range(0, len(cells), per_line):
        lines.append("  " + " ".join(f"{cell:<9}" for cell in cells[start : start + per_line]))
    return _finish(lines, state, last_error)


# ---------------------------------------------------------------------- compositions


def format_screen_dump(
    snapshot: StatsSnapshot,
    *,
    server: bool,
    context: ScreenContext,
    state: ScreenState,
    last_error: str | None = None,
    tz: datetime.tzinfo | None = None,
    periodic_rtd: bool = False,
    sipp_quirks: bool = True,
    rfc3339: bool = False,
) -> str:
    """What one ``-trace_screen`` dump (exit, SIGUSR2, key ``s``) appends to the screen file:
    scenario, statistics and repartition screens."""
    return (
        format_scenario_screen(
            snapshot, server=server, context=context, state=state, last_error=last_error
        )
        + format_statistics_screen(
            snapshot,
            state=state,
            last_error=last_error,
            tz=tz,
            sipp_quirks=sipp_quirks,
            rfc3339=rfc3339,
        )
        + format_repartition_screens(
            snapshot, state=state, last_error=last_error, periodic_rtd=periodic_rtd
        )
    )


def format_exit_stdout(
    snapshot: StatsSnapshot,
    *,
    server: bool,
    context: ScreenContext,
    tz: datetime.tzinfo | None = None,
    sipp_quirks: bool = True,
    rfc3339: bool = False,
) -> str:
    """What SIPp prints on stdout at exit: the scenario screen then the statistics screen,
    both ending with the "Test Terminated" line.

    SIPp resets the display window just before (so the periodic column is about zero): restart
    the screen's window (``snapshot(..., window, restart=True)``) and print a second snapshot of
    it (``session.Run.display_snapshot``).
    """
    state = ScreenState.TERMINATED
    return format_scenario_screen(
        snapshot, server=server, context=context, state=state
    ) + format_statistics_screen(
        snapshot, state=state, tz=tz, sipp_quirks=sipp_quirks, rfc3339=rfc3339
    )
