"""The two trace formats as strategy objects: what each ``-trace_format`` writes, chosen once.

:class:`TraceFiles <gossipper.output.tracing.TraceFiles>` owns the files and routes events to
them; a format object decides everything that differs between formats: which files exist and
their names, their headers, the shortmessages and error-codes records, the rtt lines, and the
rows of the periodic dumps. The layouts both formats share (messages.log, errors.log, logs.log,
calldebug.log) are rendered by :class:`TraceFormatBase`.

Every record comes back as the bytes to write, so a format object touches no file. Records take
the event's fields as arguments; a new field (the flow of a message: addresses, transport) is a
new parameter of the record methods, used by the formats that print it.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import ClassVar, NamedTuple, Protocol

from gossipper.config import RunConfig
from gossipper.output.files import Stamper, encode_text
from gossipper.sip import SipMessage
from gossipper.stats import ElementInfo, StatsSnapshot, TraceFormat
from gossipper.stats.gossipper_csv import (
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
)
from gossipper.stats.media import StreamQuality, format_media_csv_header, format_media_csv_row
from gossipper.stats.sipp_csv import (
    format_counts_header,
    format_counts_row,
    format_error_codes_row,
    format_rtt_header,
    format_rtt_lines,
    format_stat_csv_header,
    format_stat_csv_row,
)

__all__ = [
    "LOST",
    "RECEIVED",
    "SENT",
    "CallRecord",
    "FileSpec",
    "GossipperTraceFormat",
    "SippTraceFormat",
    "TraceFormatBase",
    "TraceLayout",
    "cseq_and_first_line",
    "trace_format_for",
]

_MESSAGE_SEPARATOR = "-" * 47
_CALLDEBUG_SEPARATOR = b"-" * 79 + b"\n"
_ERRORS_HEADER = b"The following events occurred:\n"

SENT, RECEIVED, LOST = 0, 1, 2
"""Kinds of :data:`CallRecord`: what calldebug.log says about the bytes."""

CallRecord = tuple[float, int, bytes, str]
"""(wall time, SENT/RECEIVED/LOST, bytes): one message of a call kept for calldebug.log."""


class TraceLayout(Protocol):
    """What the stat and counts headers depend on; a ``RunStats`` satisfies it."""

    @property
    def rtd_names(self) -> tuple[str, ...]: ...
    @property
    def counter_names(self) -> tuple[str, ...]: ...
    @property
    def response_time_repartition_ms(self) -> tuple[int, ...] | None: ...
    @property
    def call_length_repartition_ms(self) -> tuple[int, ...] | None: ...
    @property
    def element_infos(self) -> tuple[ElementInfo, ...]: ...
    @property
    def start_wall(self) -> float: ...


class FileSpec(NamedTuple):
    """One file a run writes."""

    name: str
    """Path, relative to the trace directory unless absolute."""
    append: bool
    """``*_overwrite false``: append to an existing file."""
    limited: bool
    """``-ringbuffer_*`` and ``-max_log_size`` apply."""


def cseq_and_first_line(data: bytes) -> tuple[bytes, bytes]:
    """CSeq value and start line of outgoing bytes, without a full parse."""
    eol = data.find(b"\n")
    first = data if eol < 0 else data[:eol]
    if first.endswith(b"\r"):
        first = first[:-1]
    start = data.find(b"\nCSeq:")
    if start < 0:
        # Unusual spelling (cseq:, CSEQ :): search the header section case-insensitively.
        end = data.find(b"\r\n\r\n")
        head = (data if end < 0 else data[:end]).lower()
        start = head.find(b"\ncseq")
        if start < 0:
            return b"", first
        colon = head.find(b":", start)
        if colon < 0 or head[start + 5 : colon].strip(b" \t"):
            return b"", first
        start = colon + 1
    else:
        start += 6
    stop = data.find(b"\n", start)
    value = data[start:stop] if stop >= 0 else data[start:]
    return value.strip(b" \t\r"), first


def _text_files(config: RunConfig) -> tuple[tuple[str, bool, str | None, bool], ...]:
    """(kind, enabled, explicit name, overwrite) of the files ring buffers apply to."""
    t = config.traces
    return (
        ("messages", t.trace_msg, t.message_file, t.message_overwrite),
        ("shortmessages", t.trace_shortmsg, t.shortmessage_file, t.shortmessage_overwrite),
        ("errors", t.trace_err, t.error_file, t.error_overwrite),
        ("logs", t.trace_logs, t.log_file, t.log_overwrite),
        ("calldebug", t.trace_calldebug, t.calldebug_file, t.calldebug_overwrite),
        ("screen", t.trace_screen, t.screen_file, t.screen_overwrite),
    )


def _check_kinds(config: RunConfig) -> tuple[str, ...]:
    """The debug files of SIPp 3.7's RTP/SRTP pattern checks the options ask for."""
    kinds: tuple[str, ...] = ()
    if config.identity.rtpcheck_debug:
        kinds += ("rtpcheck",)
    if config.identity.srtpcheck_debug:
        kinds += ("srtpcheck",)
    return kinds


def _sibling(base: str, suffix: str) -> str:
    """``dir/x.log`` + ``_rtt`` -> ``dir/x_rtt.log``; without an extension ``.log`` is added
    (docs/trace-schema-contract.md, gossipper format, file names)."""
    root, extension = os.path.splitext(base)
    return f"{root}{suffix}{extension or '.log'}"


class TraceFormatBase:
    """What both formats share: SIPp's messages.log, errors.log, logs.log and calldebug.log
    records, and the no-op defaults of the per-format hooks. Subclasses fill in the rest."""

    trace_format: ClassVar[TraceFormat]
    csv_kinds: ClassVar[frozenset[str]] = frozenset()
    """Files whose header is a CSV header (not repeated when appending to a non-empty file)."""

    tracks_calls = False
    """Whether :meth:`call_started`/:meth:`call_ended` keep per-call state (call numbers)."""

    def __init__(
        self,
        config: RunConfig,
        *,
        scenario_name: str,
        pid: int,
        tz: datetime.tzinfo | None,
        now_wall: Callable[[], float],
        layout: TraceLayout | None,
    ) -> None:
        self.tz = tz
        self.rfc3339 = config.traces.rfc3339
        self.stamper = Stamper(tz, rfc3339=self.rfc3339)
        """One cache for every file: messages.log and shortmessages stamp the same instants."""
        self.rotated_stem = f"{scenario_name}_{pid}"
        """Rotated files are ``<rotated_stem>_<kind>_<epoch>.log``."""
        self.media_delimiter = (
            config.traces.stat_delimiter if self.trace_format is TraceFormat.SIPP else ","
        )
        """Field separator of the ``-trace_media`` CSV: the stat files' one in each format."""
        self._configure(config, pid=pid, now_wall=now_wall, layout=layout)

    def _configure(
        self,
        config: RunConfig,
        *,
        pid: int,
        now_wall: Callable[[], float],
        layout: TraceLayout | None,
    ) -> None:
        """The format's own settings, at the end of construction."""

    # ------------------------------------------------------------------ files

    def files(self, config: RunConfig) -> dict[str, FileSpec]:
        """kind (``messages``, ``stat``, ...) -> file, in the order they are created."""
        raise NotImplementedError

    def headers(self, layout: TraceLayout | None) -> dict[str, bytes]:
        """kind -> the bytes a fresh file starts with."""
        raise NotImplementedError

    def needs_layout(self, config: RunConfig) -> bool:
        """Whether the headers of the files ``config`` asks for need the stats layout."""
        return config.traces.trace_counts

    # ------------------------------------------------------------------ per-message records

    def sent_record(self, data: bytes, transport: str, wall: float) -> bytes:
        """messages.log: a message left over ``transport`` (its name: "UDP", ...)."""
        head = (
            f"{_MESSAGE_SEPARATOR} {self.stamper.message_time(wall)}\n"
            f"{transport} message sent ({len(data)} bytes):\n\n"
        )
        return b"".join((encode_text(head), data, b"\n"))

    def received_record(self, raw: bytes, transport: str, wall: float) -> bytes:
        """messages.log: a message arrived (for a call or not)."""
        head = (
            f"{_MESSAGE_SEPARATOR} {self.stamper.message_time(wall)}\n"
            f"{transport} message received [{len(raw)}] bytes :\n\n"
        )
        return b"".join((encode_text(head), raw, b"\n"))

    def command_sent_record(self, data: bytes, wall: float) -> bytes:
        """messages.log: a 3PCC command left (``data`` ends with its ESC byte, as SIPp
        prints it)."""
        return self.sent_record(data, "TCP control", wall)

    def command_received_record(self, text: bytes, size: int, wall: float) -> bytes:
        """messages.log: a 3PCC command arrived; ``size`` counts its ESC byte, ``text`` is
        printed without it (SIPp 3.6.1's record)."""
        head = (
            f"{_MESSAGE_SEPARATOR} {self.stamper.message_time(wall)}\n"
            f"TCP control message received [{size}] bytes :\n\n"
        )
        return b"".join((encode_text(head), text, b"\n"))

    @staticmethod
    def lost_record(transport: str) -> bytes:
        """messages.log line of a message dropped on purpose (``-lost``)."""
        return f"{transport} message voluntary lost (while sending).\n".encode()

    def short_sent(self, call_id: str, data: bytes, wall: float) -> bytes:
        """shortmessages: a message left."""
        raise NotImplementedError

    def short_received(self, call_id: str, message: SipMessage, wall: float) -> bytes:
        """shortmessages: a message was handed to its call."""
        raise NotImplementedError

    def unexpected_row(
        self, call_id: str, message: SipMessage, expected: str, wall: float
    ) -> bytes | None:
        """error-codes record of an unexpected message, or None when the format has none."""
        return None

    def warning_record(self, text: str, wall: float) -> bytes:
        """errors.log: ``<log time>: <text>``, newline-terminated."""
        return encode_text(f"{self.stamper.log_time(wall)}: {text}\n")

    @staticmethod
    def log_record(text: str) -> bytes:
        """logs.log: a ``<log message>`` text and a newline."""
        return encode_text(text) + b"\n"

    def calldebug_record(
        self, call_id: str, records: Iterable[CallRecord], reason: str, wall: float
    ) -> bytes:
        """calldebug.log: a failed call's messages and the abort line (a partial of SIPp's;
        docs/trace-schema-contract.md, calldebug.log)."""
        stamp = self.stamper.log_time
        parts = [
            _CALLDEBUG_SEPARATOR,
            encode_text(f"Call debugging information for call {call_id}:\n"),
        ]
        for when, kind, data, transport in records:
            if kind == SENT:
                parts.append(
                    encode_text(f"{stamp(when)} Sending {transport} message for call {call_id}:\n")
                )
                parts += (data, b"\n\n")
            elif kind == RECEIVED:
                parts.append(
                    encode_text(
                        f"{stamp(when)} Processing {len(data)} byte incoming message"
                        f" for call-ID {call_id}:\n"
                    )
                )
                parts += (data, b"\n\n")
            else:
                parts.append(
                    encode_text(
                        f"{stamp(when)} {transport} message voluntary lost (while sending)"
                        f" for call {call_id}.\n"
                    )
                )
        detail = f" ({reason})" if reason else ""
        parts.append(encode_text(f"{stamp(wall)} Aborting call {call_id}{detail}.\n"))
        return b"".join(parts)

    def call_started(self, call_id: str, call_number: int) -> None:
        """A call was created with this number."""

    def call_ended(self, call_id: str) -> None:
        """A call's fate is decided (per-call state may go)."""

    # ------------------------------------------------------------------ statistics files

    def rtt_lines(self, ordered: Sequence[tuple[float, float, str, int]]) -> bytes:
        """The rtt file's lines of (ms since start, response time ms, rtd name, call number)
        samples, already sorted."""
        raise NotImplementedError

    def rows(
        self, snapshot: StatsSnapshot, *, final: bool, kinds: Collection[str]
    ) -> list[tuple[str, bytes]]:
        """(kind, row) of one periodic dump, for the files in ``kinds``; ``final`` for the exit
        dump, which adds rows only when something changed since the last dump."""
        raise NotImplementedError

    def screen_text(self, screens_text: str) -> bytes | None:
        """What the screen file gets of the screens as printed (None: nothing)."""
        return None

    def media_row(self, quality: StreamQuality, wall: float) -> bytes:
        """One ``-trace_media`` row: the stream whose call's media closed at ``wall``."""
        return encode_text(format_media_csv_row(quality, wall, self.media_delimiter))


class SippTraceFormat(TraceFormatBase):
    """SIPp 3.6.1's files: names, headers and rows (docs/trace-schema-contract.md, SIPp
    format; docs/sipp-behaviour.md, "Outputs")."""

    trace_format = TraceFormat.SIPP

    def _configure(
        self,
        config: RunConfig,
        *,
        pid: int,
        now_wall: Callable[[], float],
        layout: TraceLayout | None,
    ) -> None:
        self._delimiter = config.traces.stat_delimiter
        self._periodic_rtd = config.traces.periodic_rtd
        self._last_row_state: object = None

    def needs_layout(self, config: RunConfig) -> bool:
        return config.traces.trace_counts or config.traces.trace_stat

    def files(self, config: RunConfig) -> dict[str, FileSpec]:
        """SIPp's names: ``<scenario>_<pid>_<kind>`` (docs/sipp-behaviour.md, "Outputs":
        file names)."""
        stem = self.rotated_stem
        wanted: dict[str, FileSpec] = {}
        if config.traces.trace_stat:
            wanted["stat"] = FileSpec(config.traces.stat_file or f"{stem}_.csv", False, False)
        if config.traces.trace_rtt:
            wanted["rtt"] = FileSpec(f"{stem}_rtt.csv", False, False)
        if config.traces.trace_counts:
            wanted["counts"] = FileSpec(f"{stem}_counts.csv", False, False)
        if config.traces.trace_error_codes:
            wanted["error_codes"] = FileSpec(f"{stem}_error_codes.csv", False, False)
        if config.traces.trace_media:
            wanted["media"] = FileSpec(f"{stem}_media.csv", False, False)
        # -rtpcheck_debug/-srtpcheck_debug: the pattern checks' records (docs/media.md).
        for kind in _check_kinds(config):
            wanted[kind] = FileSpec(f"{stem}_{kind}.log", False, False)
        for kind, enabled, name, overwrite in _text_files(config):
            if enabled:
                wanted[kind] = FileSpec(name or f"{stem}_{kind}.log", not overwrite, True)
        return wanted

    def headers(self, layout: TraceLayout | None) -> dict[str, bytes]:
        headers: dict[str, bytes] = {"errors": _ERRORS_HEADER}
        delimiter = self._delimiter
        if layout is not None:
            headers["stat"] = format_stat_csv_header(layout, delimiter).encode("latin-1")
            headers["counts"] = format_counts_header(layout.element_infos, delimiter).encode(
                "latin-1"
            )
        headers["rtt"] = format_rtt_header(delimiter).encode("latin-1")
        headers["media"] = encode_text(format_media_csv_header(delimiter))
        return headers

    def short_sent(self, call_id: str, data: bytes, wall: float) -> bytes:
        cseq, first = cseq_and_first_line(data)
        return b"%s\tS\t%s\tCSeq:%s\t%s\n" % (
            encode_text(self.stamper.log_time(wall)),
            encode_text(call_id),
            cseq,
            first,
        )

    def short_received(self, call_id: str, message: SipMessage, wall: float) -> bytes:
        cseq = message.header("CSeq") or ""
        return encode_text(
            f"{self.stamper.log_time(wall)}\tR\t{call_id}\tCSeq:{cseq}\t{message.first_line}\n"
        )

    def rtt_lines(self, ordered: Sequence[tuple[float, float, str, int]]) -> bytes:
        lines = format_rtt_lines(
            [(date_ms, value_ms, name) for date_ms, value_ms, name, _ in ordered],
            self._delimiter,
        )
        return encode_text(lines)

    def rows(
        self, snapshot: StatsSnapshot, *, final: bool, kinds: Collection[str]
    ) -> list[tuple[str, bytes]]:
        # SIPp 3.6.1 writes its last rows twice at exit; the engine's last periodic dump is the
        # one final row, and the exit dump adds one only when something changed.
        state = (snapshot.cumulative, snapshot.current_calls, snapshot.elements)
        if final and state == self._last_row_state and not snapshot.error_codes:
            return []
        self._last_row_state = state
        delimiter = self._delimiter
        tz = self.tz
        rows: list[tuple[str, bytes]] = []
        if "stat" in kinds:
            row = format_stat_csv_row(
                snapshot,
                delimiter,
                tz=tz,
                periodic_rtd=self._periodic_rtd,
                rfc3339=self.rfc3339,
            )
            rows.append(("stat", row.encode("latin-1")))
        if "counts" in kinds:
            row = format_counts_row(snapshot, delimiter, tz=tz, rfc3339=self.rfc3339)
            rows.append(("counts", row.encode("latin-1")))
        if "error_codes" in kinds:
            row = format_error_codes_row(snapshot, delimiter, tz=tz, rfc3339=self.rfc3339)
            rows.append(("error_codes", row.encode("latin-1")))
        return rows

    def screen_text(self, screens_text: str) -> bytes | None:
        return encode_text(screens_text) if screens_text else None


class GossipperTraceFormat(TraceFormatBase):
    """The Go tool's comma-separated schemas and file names (docs/trace-schema-contract.md,
    gossipper format): rows of snapshots for stat, screen and counts, a ``call`` column in
    shortmessages, error codes and rtt, and one error-codes row per unexpected response."""

    trace_format = TraceFormat.GOSSIPPER
    csv_kinds = frozenset(
        ("stat", "rtt", "counts", "error_codes", "shortmessages", "screen", "media")
    )

    def _configure(
        self,
        config: RunConfig,
        *,
        pid: int,
        now_wall: Callable[[], float],
        layout: TraceLayout | None,
    ) -> None:
        self._pid = pid
        self.rotated_stem = f"gossipper_{pid}"
        # Call numbers are only bookkept when a file has a "call" column.
        self.tracks_calls = config.traces.trace_shortmsg or config.traces.trace_error_codes
        self._call_numbers: dict[str, int] = {}
        self._numbers_announced = False
        self._next_call_number = 0
        # The monotonic zero of the rtt dates, on the wall clock.
        self._run_start_wall: float | None = layout.start_wall if layout is not None else None
        self._fallback_start_wall = now_wall()
        self._last_row_state: object = None

    def files(self, config: RunConfig) -> dict[str, FileSpec]:
        """A base path (``-message_file``, else ``gossipper_<pid>_messages.log``) and siblings
        named by a suffix before its extension."""
        base = config.traces.message_file or f"gossipper_{self._pid}_messages.log"
        wanted: dict[str, FileSpec] = {}
        if config.traces.trace_stat:
            wanted["stat"] = FileSpec(
                config.traces.stat_file or _sibling(base, "_stats"), False, False
            )
        if config.traces.trace_rtt:
            wanted["rtt"] = FileSpec(_sibling(base, "_rtt"), False, False)
        if config.traces.trace_counts:
            wanted["counts"] = FileSpec(_sibling(base, "_counts"), False, False)
        if config.traces.trace_error_codes:
            # The Go tool puts this one next to -error_file when that is given.
            codes_base = config.traces.error_file or base
            wanted["error_codes"] = FileSpec(_sibling(codes_base, "_error_codes"), False, False)
        if config.traces.trace_media:
            wanted["media"] = FileSpec(_sibling(base, "_media"), False, False)
        for kind in _check_kinds(config):
            wanted[kind] = FileSpec(_sibling(base, f"_{kind}"), False, False)
        for kind, enabled, name, overwrite in _text_files(config):
            if enabled:
                default = base if kind == "messages" else _sibling(base, f"_{kind}")
                wanted[kind] = FileSpec(name or default, not overwrite, True)
        return wanted

    def headers(self, layout: TraceLayout | None) -> dict[str, bytes]:
        headers: dict[str, bytes] = {
            "errors": _ERRORS_HEADER,
            "stat": format_gossipper_stat_header().encode("latin-1"),
            "rtt": format_gossipper_rtt_header().encode("latin-1"),
            "error_codes": format_gossipper_error_codes_header().encode("latin-1"),
            "shortmessages": format_gossipper_shortmessage_header().encode("latin-1"),
            "screen": format_gossipper_screen_header().encode("latin-1"),
            "media": encode_text(format_media_csv_header(self.media_delimiter)),
        }
        if layout is not None:
            headers["counts"] = encode_text(format_gossipper_counts_header(layout.element_infos))
        return headers

    def _call_number(self, call_id: str) -> int:
        number = self._call_numbers.get(call_id)
        if number is None:
            if self._numbers_announced:
                return 0  # a record after the call ended: no number to give
            # Nobody announces calls: number them in order of first appearance.
            self._next_call_number += 1
            number = self._call_numbers[call_id] = self._next_call_number
        return number

    def _short_row(self, call_id: str, direction: str, first_line: str, wall: float) -> bytes:
        row = format_gossipper_shortmessage_row(
            wall,
            direction=direction,
            call_number=self._call_number(call_id),
            text=first_line,
            call_id=call_id,
            tz=self.tz,
        )
        return encode_text(row)

    def short_sent(self, call_id: str, data: bytes, wall: float) -> bytes:
        first_line = cseq_and_first_line(data)[1].decode("latin-1")
        return self._short_row(call_id, "send", first_line, wall)

    def short_received(self, call_id: str, message: SipMessage, wall: float) -> bytes:
        return self._short_row(call_id, "recv", message.first_line, wall)

    def unexpected_row(
        self, call_id: str, message: SipMessage, expected: str, wall: float
    ) -> bytes | None:
        """Unexpected *responses* only; SIPp's error-codes file takes its codes from the
        statistics instead."""
        if message.is_request:
            return None
        row = format_gossipper_error_code_row(
            wall,
            call_number=self._call_number(call_id),
            code=message.status_code,
            reason=message.reason,
            call_id=call_id,
            expected=expected,
            tz=self.tz,
        )
        return encode_text(row)

    def call_started(self, call_id: str, call_number: int) -> None:
        if self.tracks_calls:
            self._numbers_announced = True
            self._call_numbers[call_id] = call_number

    def call_ended(self, call_id: str) -> None:
        if self.tracks_calls:
            self._call_numbers.pop(call_id, None)

    def rtt_lines(self, ordered: Sequence[tuple[float, float, str, int]]) -> bytes:
        start_wall = self._run_start_wall
        if start_wall is None:
            start_wall = self._fallback_start_wall
        return encode_text(format_gossipper_rtt_lines(ordered, start_wall=start_wall, tz=self.tz))

    def rows(
        self, snapshot: StatsSnapshot, *, final: bool, kinds: Collection[str]
    ) -> list[tuple[str, bytes]]:
        """Stat, screen and counts rows; the error-codes file has one row per unexpected
        response instead (:meth:`unexpected_row`)."""
        if self._run_start_wall is None:
            self._run_start_wall = snapshot.now_wall - (snapshot.now_mono - snapshot.run_start_mono)
        state = (snapshot.cumulative, snapshot.current_calls, snapshot.elements)
        if final and state == self._last_row_state:
            # The engine's end-of-main-loop dump already wrote the final row (SIPp's second
            # copy of it has no place in this schema).
            return []
        self._last_row_state = state
        tz = self.tz
        rows: list[tuple[str, bytes]] = []
        if "stat" in kinds:
            rows.append(("stat", encode_text(format_gossipper_stat_row(snapshot, tz=tz))))
        if "screen" in kinds:
            rows.append(("screen", encode_text(format_gossipper_screen_row(snapshot, tz=tz))))
        if "counts" in kinds:
            rows.append(("counts", encode_text(format_gossipper_counts_row(snapshot, tz=tz))))
        return rows


_FORMATS: dict[TraceFormat, type[TraceFormatBase]] = {
    TraceFormat.SIPP: SippTraceFormat,
    TraceFormat.GOSSIPPER: GossipperTraceFormat,
}


def trace_format_for(
    config: RunConfig,
    *,
    scenario_name: str,
    pid: int,
    tz: datetime.tzinfo | None = None,
    now_wall: Callable[[], float],
    layout: TraceLayout | None = None,
) -> TraceFormatBase:
    """The format object of ``config.traces.trace_format`` (ValueError for an unknown one)."""
    cls = _FORMATS[TraceFormat(config.traces.trace_format)]
    return cls(
        config,
        scenario_name=scenario_name,
        pid=pid,
        tz=tz,
        now_wall=now_wall,
        layout=layout,
    )
