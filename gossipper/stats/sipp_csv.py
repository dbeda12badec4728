"""SIPp 3.6.1 statistics files: ``-trace_stat``, ``-trace_counts``, ``-trace_rtt``,
``-trace_error_codes`` (docs/trace-schema-contract.md, SIPp format; docs/sipp-behaviour.md,
"Outputs").

Every function returns one line *including* its ``\\n``; in the stat and counts files every field,
the last one too, is followed by the delimiter.
"""

from __future__ import annotations

import datetime
import textwrap
from collections.abc import Iterable, Sequence
from typing import Protocol

from gossipper.stats.counters import (
    SIPP_FAILURE_REASONS,
    CounterValues,
    ElementInfo,
    ElementKindTag,
    StatsSnapshot,
)
from gossipper.stats.formatting import (
    c_double,
    c_ulong,
    elapsed_ms,
    ms_to_hhmmss,
    ms_to_hhmmss_us,
)
from gossipper.timefmt import log_time_formatter


class StatLayout(Protocol):
    """What decides the stat CSV columns (a :class:`RunStats` or a :class:`StatsSnapshot`)."""

    @property
    def rtd_names(self) -> tuple[str, ...]: ...
    @property
    def counter_names(self) -> tuple[str, ...]: ...
    @property
    def response_time_repartition_ms(self) -> tuple[int, ...] | None: ...
    @property
    def call_length_repartition_ms(self) -> tuple[int, ...] | None: ...


_FIXED_HEAD = (
    "StartTime",
    "LastResetTime",
    "CurrentTime",
    "ElapsedTime(P)",
    "ElapsedTime(C)",
    "TargetRate",
    "CallRate(P)",
    "CallRate(C)",
    "IncomingCall(P)",
    "IncomingCall(C)",
    "OutgoingCall(P)",
    "OutgoingCall(C)",
    "TotalCallCreated",
    "CurrentCall",
    "SuccessfulCall(P)",
    "SuccessfulCall(C)",
    "FailedCall(P)",
    "FailedCall(C)",
)
_FIXED_TAIL = (
    "OutOfCallMsgs",
    "DeadCallMsgs",
    "Retransmissions",
    "AutoAnswered",
    "Warnings",
    "FatalErrors",
    "WatchdogMajor",
    "WatchdogMinor",
)


def generic_counter_column(name: str) -> str:
    """Stat CSV base name of a generic counter: purely numeric names get a prefix."""
    return f"GenericCounter{name}" if name.isdigit() else name


def stat_csv_columns(layout: StatLayout) -> list[str]:
    """Column names of the stat CSV in order (docs/sipp-behaviour.md, "Outputs": statistics
    file)."""
    cols = list(_FIXED_HEAD)
    for reason in SIPP_FAILURE_REASONS:
        cols += [f"{reason.value}(P)", f"{reason.value}(C)"]
    for name in _FIXED_TAIL:
        cols += [f"{name}(P)", f"{name}(C)"]
    for rtd in layout.rtd_names:
        cols += [
            f"ResponseTime{rtd}(P)",
            f"ResponseTime{rtd}(C)",
            f"ResponseTime{rtd}StDev(P)",
            f"ResponseTime{rtd}StDev(C)",
        ]
    cols += ["CallLength(P)", "CallLength(C)", "CallLengthStDev(P)", "CallLengthStDev(C)"]
    for counter in layout.counter_names:
        column = generic_counter_column(counter)
        cols += [f"{column}(P)", f"{column}(C)"]
    borders = layout.response_time_repartition_ms
    if borders:
        for rtd in layout.rtd_names:
            cols += _repartition_columns(f"ResponseTimeRepartition{rtd}", borders)
    if layout.call_length_repartition_ms:
        cols += _repartition_columns("CallLengthRepartition", layout.call_length_repartition_ms)
    return cols


def _repartition_columns(base: str, borders: Sequence[int]) -> list[str]:
    return [base] + [f"{base}_<{b}" for b in borders] + [f"{base}_>={borders[-1]}"]


def format_stat_csv_header(layout: StatLayout, delimiter: str = ";") -> str:
    """The header line of the ``-trace_stat`` file."""
    return "".join(col + delimiter for col in stat_csv_columns(layout)) + "\n"


def format_stat_csv_row(
    snapshot: StatsSnapshot,
    delimiter: str = ";",
    *,
    tz: datetime.tzinfo | None = None,
    periodic_rtd: bool = False,
    rfc3339: bool = False,
) -> str:
    """One data row of the ``-trace_stat`` file from a ``"log"``-window snapshot.

    ``periodic_rtd`` (``-periodic_rtd``): repartition buckets count the period, not the run.
    ``rfc3339`` (``-rfc3339``): the three dates in RFC 3339 instead of SIPp's log time.
    """
    c = snapshot.cumulative
    p = snapshot.periodic
    stamp = log_time_formatter(rfc3339)
    fields: list[str] = [
        stamp(snapshot.start_wall, tz),
        stamp(snapshot.period_start_wall, tz),
        stamp(snapshot.now_wall, tz),
        ms_to_hhmmss(snapshot.elapsed_ms_p),
        ms_to_hhmmss(snapshot.elapsed_ms_c),
        c_double(snapshot.target_rate),
        c_double(snapshot.call_rate_p),
        c_double(snapshot.call_rate_c),
        str(p.incoming_calls),
        str(c.incoming_calls),
        str(p.outgoing_calls),
        str(c.outgoing_calls),
        str(c.total_calls),
        str(snapshot.current_calls),
        str(p.successful_calls),
        str(c.successful_calls),
        str(p.failed_calls),
        str(c.failed_calls),
    ]
    for i in range(len(SIPP_FAILURE_REASONS)):  # SIPp's are the first reasons
        fields += [str(p.failures[i]), str(c.failures[i])]
    for period_value, total_value in (
        (p.out_of_call_msgs, c.out_of_call_msgs),
        (p.dead_call_msgs, c.dead_call_msgs),
        (p.retransmissions, c.retransmissions),
        (p.auto_answered, c.auto_answered),
        (p.warnings, c.warnings),
        (p.fatal_errors, c.fatal_errors),
        (p.watchdog_major, c.watchdog_major),
        (p.watchdog_minor, c.watchdog_minor),
    ):
        fields += [str(period_value), str(total_value)]
    for i in range(len(snapshot.rtd_names)):
        fields += [
            duration_field(p.rtd[i].mean_ms),
            duration_field(c.rtd[i].mean_ms),
            duration_field(p.rtd[i].sipp_rtd_stddev_ms),
            duration_field(c.rtd[i].sipp_rtd_stddev_ms),
        ]
    fields += [
        duration_field(p.call_length.mean_ms),
        duration_field(c.call_length.mean_ms),
        duration_field(p.call_length.sipp_call_length_stddev_ms),
        duration_field(c.call_length.sipp_call_length_stddev_ms),
    ]
    for i in range(len(snapshot.counter_names)):
        fields += [str(p.generic_counters[i]), str(c.generic_counters[i])]
    buckets: CounterValues = p if periodic_rtd else c
    if snapshot.response_time_repartition_ms:
        for rtd_buckets in buckets.rtd_repartition:
            fields += [""] + [str(n) for n in rtd_buckets]
    if snapshot.call_length_repartition_ms:
        fields += [""] + [str(n) for n in buckets.call_length_repartition]
    return "".join(field + delimiter for field in fields) + "\n"


def duration_field(ms: float) -> str:
    """A mean or standard deviation in ms as SIPp prints it: ``(unsigned long)`` truncation to
    whole ms, then ``HH:MM:SS:uuuuuu``."""
    return ms_to_hhmmss_us(c_ulong(ms))


# ---------------------------------------------------------------------- counts file


def _counts_plan(infos: Iterable[ElementInfo]) -> list[tuple[int, ElementInfo, list[str]]]:
    """For every non-hidden element: its position, its info and the counter fields it
    contributes, in order."""
    infos = list(infos)
    lost = any(info.lost_active for info in infos)
    plan: list[tuple[int, ElementInfo, list[str]]] = []
    for position, info in enumerate(infos):
        if info.hide:
            continue
        kind = info.kind
        if kind is ElementKindTag.SEND:
            names = ["Sent", "Retrans"] + (["Timeout"] if info.has_retrans else [])
            names += ["Lost"] if lost else []
        elif kind is ElementKindTag.RECV:
            names = ["Recv", "Retrans", "Timeout", "Unexp"] + (["Lost"] if lost else [])
        elif kind in (ElementKindTag.PAUSE, ElementKindTag.NOP):
            # 3.6.1 quirk: a nop is classified as a pause (docs/sipp-behaviour.md, "Outputs":
            # counts file).
            names = ["Sessions", "Unexp"]
        elif kind is ElementKindTag.RECVCMD:
            names = ["RecvCmd", "RecvCmd_Timeout"]
        else:
            names = ["SendCmd"]
        plan.append((position, info, names))
    return plan


def _counts_column(info: ElementInfo, name: str) -> str:
    if info.kind in (ElementKindTag.PAUSE, ElementKindTag.NOP):
        return f"{info.index}_Pause_{name}"
    if info.kind in (ElementKindTag.RECVCMD, ElementKindTag.SENDCMD):
        return f"{info.index}_{name}"
    return f"{info.index}_{info.label}_{name}"


def format_counts_header(elements: Sequence[ElementInfo], delimiter: str = ";") -> str:
    """Header of the ``-trace_counts`` file."""
    cols = ["CurrentTime", "ElapsedTime"]
    for _, info, names in _counts_plan(elements):
        cols += [_counts_column(info, name) for name in names]
    return "".join(col + delimiter for col in cols) + "\n"


def format_counts_row(
    snapshot: StatsSnapshot,
    delimiter: str = ";",
    *,
    tz: datetime.tzinfo | None = None,
    rfc3339: bool = False,
) -> str:
    """One row of the ``-trace_counts`` file (cumulative values)."""
    stamp = log_time_formatter(rfc3339)
    fields = [stamp(snapshot.now_wall, tz), ms_to_hhmmss_us(snapshot.elapsed_ms_c)]
    for position, _, names in _counts_plan(snapshot.element_infos):
        counts = snapshot.elements[position]
        for name in names:
            if name in ("Sent", "Recv", "Sessions", "RecvCmd", "SendCmd"):
                value = counts.messages
            elif name == "Retrans":
                value = counts.retrans
            elif name in ("Timeout", "RecvCmd_Timeout"):
                value = counts.timeouts
            elif name == "Unexp":
                value = counts.unexpected
            else:
                value = counts.lost
            fields.append(str(value))
    return "".join(field + delimiter for field in fields) + "\n"


# ---------------------------------------------------------------------- rtt file


def format_rtt_header(delimiter: str = ";") -> str:
    """Header of the ``-trace_rtt`` file (no trailing delimiter)."""
    return f"Date_ms{delimiter}response_time_ms{delimiter}rtd_no\n"


def format_rtt_lines(samples: Iterable[tuple[float, float, str]], delimiter: str = ";") -> str:
    """Lines for samples from :meth:`RunStats.take_rtt_samples`."""
    return "".join(
        f"{c_double(date_ms)}{delimiter}{c_double(value_ms)}{delimiter}{name}\n"
        for date_ms, value_ms, name in samples
    )


# ---------------------------------------------------------------------- error codes


def format_error_codes_row(
    snapshot: StatsSnapshot,
    delimiter: str = ";",
    *,
    tz: datetime.tzinfo | None = None,
    rfc3339: bool = False,
) -> str:
    """One row of the ``-trace_error_codes`` file: time, elapsed, then the codes of the
    period's unexpected responses, most recent first, each followed by a comma."""
    codes = "".join(f"{code}," for code in reversed(snapshot.error_codes))
    return (
        f"{log_time_formatter(rfc3339)(snapshot.now_wall, tz)}{delimiter}"
        f"{ms_to_hhmmss_us(elapsed_ms(snapshot.start_wall, snapshot.now_wall))}{delimiter}"
        f"{codes}\n"
    )


# ---------------------------------------------------------------------- -h stat

_STAT_COLUMN_HELP: dict[str, str] = {
    "StartTime": "date and time the run started (log time, or RFC 3339 with -rfc3339)",
    "LastResetTime": "date and time the current period started (the previous row)",
    "CurrentTime": "date and time of this row",
    "ElapsedTime": "time elapsed, HH:MM:SS",
    "TargetRate": "the call rate asked for (-r, or the -users value in user mode)",
    "CallRate": "calls created per second",
    "IncomingCall": "calls created by a received message (server side)",
    "OutgoingCall": "calls created by the rate generator (client side)",
    "TotalCallCreated": "calls created since the start",
    "CurrentCall": "calls open now",
    "SuccessfulCall": "calls that reached the end of the scenario",
    "FailedCall": "calls that failed, for any of the reasons below",
    "FailedCannotSendMessage": "failed: a message could not be sent (socket error)",
    "FailedMaxUDPRetrans": "failed: a message was retransmitted -max_*retrans times unanswered",
    "FailedTcpConnect": "failed: the TCP/TLS connection could not be made",
    "FailedTcpClosed": "failed: the TCP/TLS connection closed under the call",
    "FailedUnexpectedMessage": "failed: a message the scenario did not expect arrived",
    "FailedCallRejected": "failed: rejected or aborted (stop_call, forced quit, 3PCC command)",
    "FailedCmdNotSent": "failed: a 3PCC command could not be sent to the twin",
    "FailedRegexpDoesntMatch": "failed: an ereg with check_it did not match",
    "FailedRegexpShouldntMatch": "failed: an ereg with check_it_inverse matched",
    "FailedRegexpHdrNotFound": "failed: the header an ereg searches was missing",
    "FailedOutboundCongestion": "failed: no free -tdmmap circuit for the call",
    "FailedTimeoutOnRecv": "failed: a <recv> timed out (timeout=, -recv_timeout)",
    "FailedTimeoutOnSend": "failed: a send waited longer than -send_timeout for the socket",
    "FailedTestDoesntMatch": "failed: a <test> with check_it was false",
    "FailedTestShouldntMatch": "failed: a <test> with check_it_inverse was true",
    "FailedStrcmpDoesntMatch": "failed: a <strcmp> with check_it found the strings different",
    "FailedStrcmpShouldntMatch": "failed: a <strcmp> with check_it_inverse found them equal",
    "OutOfCallMsgs": "messages for no known call (unknown Call-ID), discarded",
    "DeadCallMsgs": "messages for a call that ended less than -deadcall_wait ago",
    "Retransmissions": "messages retransmitted (UDP)",
    "AutoAnswered": "requests answered automatically (-aa, PING replies)",
    "Warnings": "warnings logged (errors file)",
    "FatalErrors": "fatal errors logged",
    "WatchdogMajor": "major watchdog trips",
    "WatchdogMinor": "minor watchdog trips",
    "ResponseTime<rtd>": "mean response time of the timer <rtd> (rtd=/start_rtd=), HH:MM:SS:uuuuuu",
    "ResponseTime<rtd>StDev": "standard deviation of that response time",
    "CallLength": "mean call length, HH:MM:SS:uuuuuu",
    "CallLengthStDev": "standard deviation of the call length",
    "<counter>": "value of the scenario's generic counter <counter> (a numeric name N is"
    " shown as GenericCounterN)",
    "ResponseTimeRepartition<rtd>": "<ResponseTimeRepartition>: title column, always empty",
    "ResponseTimeRepartition<rtd>_<B": "responses of timer <rtd> faster than B ms (and not"
    " faster than the previous border)",
    "ResponseTimeRepartition<rtd>_>=B": "responses of timer <rtd> of B ms or more (the last"
    " border)",
    "CallLengthRepartition": "<CallLengthRepartition>: title column, always empty",
    "CallLengthRepartition_<B": "calls shorter than B ms (and not shorter than the previous"
    " border)",
    "CallLengthRepartition_>=B": "calls of B ms or more (the last border)",
}


class _ExampleLayout:
    """A layout with one of each variable column, named by placeholders, for ``-h stat``."""

    rtd_names = ("<rtd>",)
    counter_names = ("<counter>",)
    response_time_repartition_ms: tuple[int, ...] | None = (-1,)
    call_length_repartition_ms: tuple[int, ...] | None = (-1,)


def _stat_column_key(column: str) -> tuple[str, str]:
    """(help key, shown name) of a column of the example layout."""
    base, suffix = column, ""
    if column.endswith(("(P)", "(C)")):
        base, suffix = column[:-3], "(P)/(C)"
    base = base.replace("-1", "B")
    return base, base + suffix


def format_stat_help(delimiter: str = ";", width: int = 100) -> str:
    """``gossipper -h stat``: every column of the ``-trace_stat`` file, in file order.

    Generated from :func:`stat_csv_columns` itself, so a new column without a description
    fails here (KeyError), not silently in the help.
    """
    lines = [
        "The statistics file (-trace_stat, name <scenario>_<pid>_.csv or -stf FILE) has a header",
        "line, then one row at the start, one every -fd period and one at the end. Every field,",
        f"the last one too, is followed by the delimiter ('{delimiter}', -stat_delimiter).",
        "(P) columns cover the period since the previous row, (C) columns the whole run.",
        "Response times and call lengths are means in milliseconds shown as HH:MM:SS:uuuuuu.",
        "<rtd> stands for each response-time timer of the scenario (in order of appearance),",
        "<counter> for each generic counter, B for each border of a repartition; those",
        "columns exist only when the scenario has them.",
        "",
    ]
    seen: set[str] = set()
    for column in stat_csv_columns(_ExampleLayout()):
        key, shown = _stat_column_key(column)
        if key in seen:
            continue
        seen.add(key)
        lines += textwrap.wrap(
            _STAT_COLUMN_HELP[key],
            width=width,
            initial_indent=f"  {shown:<36} ",
            subsequent_indent=" " * 39,
        )
    return "\n".join(lines) + "\n"
