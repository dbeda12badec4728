"""The comma-separated trace schemas of the Go gossipper tool (contract:
docs/trace-schema-contract.md, gossipper format), as an alternative to SIPp's formats, selected
by :class:`TraceFormat`.

Conventions of those files: comma separator, RFC 4180 quoting only where needed, ``\\n`` line
ends, one header line; timestamps RFC 3339 with the fraction's trailing zeros trimmed
(microsecond precision here); ratios and rates with 6 decimals; millisecond values are whole
(truncated) integers.

Mapping of our failure reasons to the Go failure classes: ``timeout`` = max UDP retransmissions,
receive and send timeouts; ``unexpected_sip`` = unexpected message; ``transport_error`` = cannot
send, TCP connect/closed, outbound congestion, 3PCC command not sent; ``scenario_error`` = call
rejected and every regexp/test/strcmp check; ``parse_error`` is always 0 (malformed SIP never
fails a call here); ``cancelled`` = failed calls without a specific reason (aborted at exit).
``timeouts`` equals ``failure_timeout``; ``avg_invite_ms`` is the first RTD (or the one named).
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Iterable, Mapping, Sequence

from gossipper.stats.counters import (
    FAILURE_INDEX,
    CounterValues,
    ElementInfo,
    ElementKindTag,
    FailureReason,
    StatsSnapshot,
)
from gossipper.stats.formatting import epoch_to_us
from gossipper.stats.histogram import Histogram
from gossipper.stats.sipp_csv import (
    StatLayout,
    format_counts_header,
    format_counts_row,
    format_stat_csv_header,
    format_stat_csv_row,
)


class TraceFormat(enum.Enum):
    """Which schema the periodic trace files use."""

    SIPP = "sipp"
    GOSSIPPER = "gossipper"


FAILURE_CLASSES: dict[str, tuple[FailureReason, ...]] = {
    "timeout": (
        FailureReason.MAX_UDP_RETRANS,
        FailureReason.TIMEOUT_ON_RECV,
        FailureReason.TIMEOUT_ON_SEND,
    ),
    "unexpected_sip": (FailureReason.UNEXPECTED_MESSAGE,),
    "transport_error": (
        FailureReason.CANNOT_SEND_MESSAGE,
        FailureReason.TCP_CONNECT,
        FailureReason.TCP_CLOSED,
        FailureReason.OUTBOUND_CONGESTION,
        FailureReason.CMD_NOT_SENT,
        FailureReason.MEDIA_PORTS,
    ),
    "parse_error": (FailureReason.MEDIA_SDP,),
    "scenario_error": (
        FailureReason.CALL_REJECTED,
        FailureReason.REGEXP_DOESNT_MATCH,
        FailureReason.REGEXP_SHOULDNT_MATCH,
        FailureReason.REGEXP_HDR_NOT_FOUND,
        FailureReason.TEST_DOESNT_MATCH,
        FailureReason.TEST_SHOULDNT_MATCH,
        FailureReason.STRCMP_DOESNT_MATCH,
        FailureReason.STRCMP_SHOULDNT_MATCH,
    ),
}
_CLASS_NAMES = ("timeout", "unexpected_sip", "transport_error", "parse_error", "scenario_error")

MEDIA_KEYS = (
    "rtp_packets_sent",
    "rtp_packets_received",
    "rtcp_sender_reports",
    "rtcp_receiver_reports",
    "rtcp_packets_received",
)
"""Media counters of the stat schema; pass them in ``media`` (0 when absent)."""

STAT_COLUMNS = (
    "timestamp",
    "elapsed_ms",
    "total_calls",
    "success_calls",
    "failed_calls",
    "active_calls",
    "success_ratio",
    "calls_per_second",
    "retransmits",
    "timeouts",
    "avg_call_ms",
    "call_stddev_ms",
    "avg_invite_ms",
    "invite_stddev_ms",
    *MEDIA_KEYS,
    *(f"failure_{name}" for name in (*_CLASS_NAMES, "cancelled")),
    "interval_ms",
    "interval_calls_per_second",
    "delta_total_calls",
    "delta_success_calls",
    "delta_failed_calls",
    "delta_retransmits",
    "delta_timeouts",
    *(f"delta_{key}" for key in MEDIA_KEYS),
    *(f"delta_failure_{name}" for name in (*_CLASS_NAMES, "cancelled")),
)
SCREEN_COLUMNS = (
    "timestamp",
    "total_calls",
    "success_calls",
    "failed_calls",
    "active_calls",
    "success_ratio",
    "calls_per_second",
    "interval_ms",
    "interval_calls_per_second",
    "avg_call_ms",
    "avg_invite_ms",
    "retransmits",
    "timeouts",
    "failure_timeout",
    "failure_unexpected_sip",
)
RTT_COLUMNS = ("timestamp", "call", "name", "value_ms")
ERROR_CODES_COLUMNS = ("timestamp", "call", "code", "reason", "call_id", "expected")
SHORTMESSAGE_COLUMNS = ("timestamp", "direction", "call", "proto", "summary", "call_id")


# ---------------------------------------------------------------------- value formats


def csv_field(value: str) -> str:
    """RFC 4180 quoting where Go's ``encoding/csv`` applies it."""
    if value == "":
        return value
    if value == r"\." or any(ch in value for ch in ',"\r\n') or value[0] in " \t":
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_line(fields: Iterable[str]) -> str:
    """Fields joined by commas, quoted where needed, ending in ``\\n``."""
    return ",".join(csv_field(field) for field in fields) + "\n"


def format_timestamp(epoch_s: float, tz: datetime.tzinfo | None = None) -> str:
    """RFC 3339 like Go's ``time.RFC3339Nano``: fraction without trailing zeros, ``Z`` for a
    zero offset. ``tz`` None = local time zone."""
    us = epoch_to_us(epoch_s)
    seconds, micros = divmod(us, 1_000_000)
    moment = (
        datetime.datetime.fromtimestamp(seconds).astimezone()
        if tz is None
        else datetime.datetime.fromtimestamp(seconds, tz)
    )
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if micros:
        text += "." + f"{micros:06d}".rstrip("0")
    offset = moment.utcoffset() or datetime.timedelta(0)
    if not offset:
        return text + "Z"
    sign = "-" if offset < datetime.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _f6(value: float) -> str:
    return f"{value:.6f}"


def _ms(value_s: float) -> str:
    return str(max(0, int(value_s * 1000.0 + 1e-9)))


def _ratio(part: int, total: int) -> float:
    return part / total if total else 0.0


def _per_second(count: int, ms: int) -> float:
    return count * 1000.0 / ms if ms > 0 else 0.0


def failure_classes(values: CounterValues) -> dict[str, int]:
    """Failed calls per Go failure class (``cancelled`` = failures without a reason)."""
    classes = {
        name: sum(values.failures[FAILURE_INDEX[reason]] for reason in reasons)
        for name, reasons in FAILURE_CLASSES.items()
    }
    classes["cancelled"] = max(0, values.failed_calls - sum(values.failures))
    return classes


def _invite_histogram(snapshot: StatsSnapshot, invite_rtd: str | None) -> Histogram:
    if not snapshot.rtd_names:
        return Histogram()
    index = snapshot.rtd_index(invite_rtd) if invite_rtd is not None else 0
    return snapshot.rtd_histograms[index] if index is not None else Histogram()


# ---------------------------------------------------------------------- stat / screen


def format_gossipper_stat_header() -> str:
    """Header of the 43-column stat file."""
    return csv_line(STAT_COLUMNS)


def format_gossipper_stat_row(
    snapshot: StatsSnapshot,
    *,
    tz: datetime.tzinfo | None = None,
    invite_rtd: str | None = None,
    media: Mapping[str, int] | None = None,
    media_delta: Mapping[str, int] | None = None,
) -> str:
    """One stat row from a ``"log"``-window snapshot (deltas = the period)."""
    c, p = snapshot.cumulative, snapshot.periodic
    classes_c, classes_p = failure_classes(c), failure_classes(p)
    elapsed = snapshot.elapsed_ms_c
    interval = snapshot.elapsed_ms_p
    invite = _invite_histogram(snapshot, invite_rtd)
    length = snapshot.call_length_histogram
    media = media or {}
    media_delta = media_delta if media_delta is not None else media
    fields = [
        format_timestamp(snapshot.now_wall, tz),
        str(elapsed),
        str(c.total_calls),
        str(c.successful_calls),
        str(c.failed_calls),
        str(snapshot.current_calls),
        _f6(_ratio(c.successful_calls, c.total_calls)),
        _f6(_per_second(c.total_calls, elapsed)),
        str(c.retransmissions),
        str(classes_c["timeout"]),
        _ms(length.mean_s),
        _ms(length.stddev_s),
        _ms(invite.mean_s),
        _ms(invite.stddev_s),
        *(str(media.get(key, 0)) for key in MEDIA_KEYS),
        *(str(classes_c[name]) for name in (*_CLASS_NAMES, "cancelled")),
        str(interval),
        _f6(_per_second(p.total_calls, interval)),
        str(p.total_calls),
        str(p.successful_calls),
        str(p.failed_calls),
        str(p.retransmissions),
        str(classes_p["timeout"]),
        *(str(media_delta.get(key, 0)) for key in MEDIA_KEYS),
        *(str(classes_p[name]) for name in (*_CLASS_NAMES, "cancelled")),
    ]
    return csv_line(fields)


def format_gossipper_screen_header() -> str:
    """Header of the screen CSV."""
    return csv_line(SCREEN_COLUMNS)


def format_gossipper_screen_row(
    snapshot: StatsSnapshot, *, tz: datetime.tzinfo | None = None, invite_rtd: str | None = None
) -> str:
    """One screen CSV row (every ``-fd``, at exit, on SIGUSR1)."""
    c, p = snapshot.cumulative, snapshot.periodic
    classes = failure_classes(c)
    interval = snapshot.elapsed_ms_p
    return csv_line(
        [
            format_timestamp(snapshot.now_wall, tz),
            str(c.total_calls),
            str(c.successful_calls),
            str(c.failed_calls),
            str(snapshot.current_calls),
            _f6(_ratio(c.successful_calls, c.total_calls)),
            _f6(_per_second(c.total_calls, snapshot.elapsed_ms_c)),
            str(interval),
            _f6(_per_second(p.total_calls, interval)),
            _ms(snapshot.call_length_histogram.mean_s),
            _ms(_invite_histogram(snapshot, invite_rtd).mean_s),
            str(c.retransmissions),
            str(classes["timeout"]),
            str(classes["timeout"]),
            str(classes["unexpected_sip"]),
        ]
    )


# ---------------------------------------------------------------------- counts


def counts_label(info: ElementInfo) -> str:
    """Column label of a send/recv: ``INVITE``, ``SIP_2_0`` for a sent response, ``RESP_200``
    for an expected response; characters outside ``[A-Z0-9]`` become ``_``."""
    if info.kind is ElementKindTag.SEND:
        raw = "SIP/2.0" if info.label.isdigit() else info.label
    elif info.label.isdigit():
        raw = f"RESP_{info.label}"
    else:
        raw = info.label
    label = re.sub(r"[^A-Z0-9]", "_", raw.upper()).strip("_")
    return label or "CMD"


def _message_elements(infos: Iterable[ElementInfo]) -> list[tuple[int, ElementInfo]]:
    return [
        (position, info)
        for position, info in enumerate(infos)
        if info.kind in (ElementKindTag.SEND, ElementKindTag.RECV)
    ]


def format_gossipper_counts_header(elements: Sequence[ElementInfo]) -> str:
    """``timestamp`` then ``<idx>_<LABEL>_sent,_recv,_unexp`` per send/recv element."""
    cols = ["timestamp"]
    for _, info in _message_elements(elements):
        base = f"{info.index}_{counts_label(info)}"
        cols += [f"{base}_sent", f"{base}_recv", f"{base}_unexp"]
    return csv_line(cols)


def format_gossipper_counts_row(
    snapshot: StatsSnapshot, *, tz: datetime.tzinfo | None = None
) -> str:
    """Cumulative counts per send/recv element."""
    fields = [format_timestamp(snapshot.now_wall, tz)]
    for position, info in _message_elements(snapshot.element_infos):
        counts = snapshot.elements[position]
        sent = counts.messages if info.kind is ElementKindTag.SEND else 0
        received = counts.messages if info.kind is ElementKindTag.RECV else 0
        fields += [str(sent), str(received), str(counts.unexpected)]
    return csv_line(fields)


# ---------------------------------------------------------------------- per-event files


def format_gossipper_rtt_header() -> str:
    """Header of the rtt file."""
    return csv_line(RTT_COLUMNS)


def format_gossipper_rtt_lines(
    records: Iterable[tuple[float, float, str, int]],
    *,
    start_wall: float,
    tz: datetime.tzinfo | None = None,
) -> str:
    """Rows for :meth:`RunStats.take_rtt_records` output: (ms since start, response ms, RTD
    name, call number); the timestamp is ``start_wall`` plus the offset."""
    return "".join(
        csv_line(
            [
                format_timestamp(start_wall + date_ms / 1000.0, tz),
                str(call),
                name,
                str(max(0, int(value_ms + 1e-6))),
            ]
        )
        for date_ms, value_ms, name, call in records
    )


def format_gossipper_error_codes_header() -> str:
    """Header of the error-codes file."""
    return csv_line(ERROR_CODES_COLUMNS)


def format_gossipper_error_code_row(
    epoch_s: float,
    *,
    call_number: int,
    code: int,
    reason: str,
    call_id: str,
    expected: str,
    tz: datetime.tzinfo | None = None,
) -> str:
    """One unexpected *response*: its code and reason phrase, the call, and what the ``recv``
    expected (its ``request`` or ``response`` attribute)."""
    return csv_line(
        [format_timestamp(epoch_s, tz), str(call_number), str(code), reason, call_id, expected]
    )


def format_gossipper_shortmessage_header() -> str:
    """Header of the short-message trace."""
    return csv_line(SHORTMESSAGE_COLUMNS)


_RESPONSE = re.compile(r"SIP/2\.0 (\d{3})(?: (.*))?\Z")
_REQUEST = re.compile(r"([A-Za-z]+) \S+ SIP/2\.0\Z")
_CALL_ID = re.compile(r"^(?:call-id|i)[ \t]*:[ \t]*(.*?)[ \t]*$", re.IGNORECASE | re.MULTILINE)


def format_gossipper_shortmessage_row(
    epoch_s: float,
    *,
    direction: str,
    call_number: int,
    text: str,
    call_id: str | None = None,
    tz: datetime.tzinfo | None = None,
) -> str:
    """One message: ``direction`` is ``send`` or ``recv``; ``text`` the message (latin-1 view).
    ``proto`` is ``sip`` when the first line is a SIP request/status line, else ``cmd``;
    ``call_id`` defaults to the message's Call-ID header."""
    first = text.split("\n", 1)[0].rstrip("\r")
    response = _RESPONSE.match(first)
    request = _REQUEST.match(first)
    if response is not None:
        proto, summary = "sip", " ".join(g for g in response.groups() if g)
    elif request is not None:
        proto, summary = "sip", request.group(1)
    else:
        proto, summary = "cmd", first
    if call_id is None:
        found = _CALL_ID.search(text.replace("\r\n", "\n"))
        call_id = found.group(1) if found else ""
    return csv_line(
        [format_timestamp(epoch_s, tz), direction, str(call_number), proto, summary, call_id]
    )


# ---------------------------------------------------------------------- selection


def format_stat_header(trace_format: TraceFormat, layout: StatLayout, delimiter: str = ";") -> str:
    """Stat file header in the chosen schema (``delimiter`` only applies to SIPp's)."""
    if trace_format is TraceFormat.SIPP:
        return format_stat_csv_header(layout, delimiter)
    return format_gossipper_stat_header()


def format_stat_row(
    trace_format: TraceFormat,
    snapshot: StatsSnapshot,
    delimiter: str = ";",
    *,
    tz: datetime.tzinfo | None = None,
) -> str:
    """Stat file row in the chosen schema."""
    if trace_format is TraceFormat.SIPP:
        return format_stat_csv_row(snapshot, delimiter, tz=tz)
    return format_gossipper_stat_row(snapshot, tz=tz)


def format_counts_file_header(
    trace_format: TraceFormat, elements: Sequence[ElementInfo], delimiter: str = ";"
) -> str:
    """Counts file header in the chosen schema."""
    if trace_format is TraceFormat.SIPP:
        return format_counts_header(elements, delimiter)
    return format_gossipper_counts_header(elements)


def format_counts_file_row(
    trace_format: TraceFormat,
    snapshot: StatsSnapshot,
    delimiter: str = ";",
    *,
    tz: datetime.tzinfo | None = None,
) -> str:
    """Counts file row in the chosen schema."""
    if trace_format is TraceFormat.SIPP:
        return format_counts_row(snapshot, delimiter, tz=tz)
    return format_gossipper_counts_row(snapshot, tz=tz)
