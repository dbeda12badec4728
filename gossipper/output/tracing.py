"""SIPp 3.6.1 trace files: messages, shortmessages, errors, logs, calldebug, screens and the
statistics CSVs (contract: docs/trace-schema-contract.md; SIPp's behaviour: docs/sipp-behaviour.md,
"Outputs").

:class:`TraceFiles` implements the engine's ``Tracer`` protocol and writes every file a SIPp
``-trace_*`` option asks for, with SIPp's names, timestamps and layouts. It routes events to
files; the format object chosen once from ``-trace_format`` (:mod:`gossipper.output.formats`)
decides which files exist and renders their records, with the CSV lines of
:mod:`gossipper.stats.sipp_csv` and :mod:`gossipper.stats.gossipper_csv`; the files themselves
(opening, buffering, ring-buffer rotation and size limits) are :mod:`gossipper.output.files`.

Keeping traces off the hot path: every file is a large ``BufferedWriter`` flushed by the periodic
dumps and at close; a record is formatted once, as bytes, with the date/time text of its second
cached (one ``localtime`` per distinct second, no ``datetime`` per line).

Determinism (design.md section 5): records that share one wall-clock instant are held back and
written sorted by a stable key (the Call-ID for a call's records, the text for warnings and
``<log>`` lines). Python's sort is stable, so one call's records keep their order; only the
interleaving of different calls within one instant, which Trio leaves to chance, is fixed.

Deliberate differences from SIPp 3.6.1 (for docs/compatibility.md):

* ``errors.log`` entries end with a newline (3.6.1 runs them together; SIPp HEAD fixed it), and
  so does ``UDP message voluntary lost (while sending).`` in ``messages.log`` (3.6.1 glues the next
  separator to it).
* ``logs.log`` is written for ``-sn`` scenarios too (3.6.1 only opened it for ``-sf``; HEAD does).
* ``-trace_rtt``: the samples are all written; 3.6.1 lost those still buffered at exit.
* ``calldebug.log`` is a partial: for each failed call, the dashed line, ``Call debugging
  information for call <id>:``, then the call's sent, received and lost messages with log times
  and the abort line. SIPp's internal state lines (``Processing message 3 of type 3``, message
  indexes and hashes) are not reproduced.
* The errors file header ``The following events occurred:`` starts every errors file, rotated
  ones included.

``-trace_media`` (a gossipper extension; SIPp has no such file) writes
``<scenario>_<pid>_media.csv``: one row per RTP stream when its call's media closes, the columns
of :data:`gossipper.stats.media.MEDIA_CSV_COLUMNS` separated by ``-stat_delimiter`` (by commas,
named ``<base>_media.log``, with ``-trace_format gossipper``).

``-trace_format gossipper`` (the Go tool's schemas, contract in
docs/trace-schema-contract.md) switches the stat, rtt, screen, counts, error-codes and
shortmessage files to the comma-separated schemas of :mod:`gossipper.stats.gossipper_csv`, and
every file name to that tool's scheme: a base path (``-message_file``, else
``gossipper_<pid>_messages.log``) and siblings with a suffix before its extension
(``_stats``, ``_rtt``, ``_screen``, ``_counts``, ``_shortmessages``, ``_errors``, ``_logs``,
``_calldebug``; ``_error_codes`` next to ``-error_file`` when given). messages.log, errors.log,
logs.log and calldebug.log keep SIPp's layouts in both formats. In that format:

* rows are written at start-up, every ``-fd`` and at the end of the main loop; the exit dump
  (:meth:`TraceFiles.write_final`) adds a row only when something changed since the last one;
* the error-codes file has one row per unexpected response (:meth:`TraceFiles.unexpected_message`);
* the ``call`` column is the engine's call number when it announces calls
  (:meth:`TraceFiles.call_started`), else the order in which Call-IDs first appear in the trace;
* a CSV header is not repeated when ``*_overwrite false`` appends to a non-empty file.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Iterable

from gossipper.config import RunConfig
from gossipper.errors import ConfigError
from gossipper.interfaces import Flow
from gossipper.output.files import TraceFile, encode_text
from gossipper.output.formats import (
    LOST,
    RECEIVED,
    SENT,
    CallRecord,
    TraceLayout,
    trace_format_for,
)
from gossipper.sip import SipMessage
from gossipper.stats import StatsSnapshot, TraceFormat
from gossipper.stats.media import RtpCheckReport, StreamQuality, format_rtpcheck_report

__all__ = ["TraceFiles", "TraceLayout", "trace_files_wanted"]

_LAZY_KINDS = frozenset({"errors", "rtpcheck", "srtpcheck"})
"""Files created by their first record only (a run without warnings, or without pattern
streams, leaves none)."""


def trace_files_wanted(config: RunConfig) -> bool:
    """True when the command line asks for at least one trace file."""
    return any(
        (
            config.traces.trace_msg,
            config.traces.trace_shortmsg,
            config.traces.trace_err,
            config.traces.trace_logs,
            config.traces.trace_calldebug,
            config.traces.trace_screen,
            config.traces.trace_stat,
            config.traces.trace_counts,
            config.traces.trace_rtt,
            config.traces.trace_error_codes,
            config.traces.trace_media,
            config.identity.rtpcheck_debug,
            config.identity.srtpcheck_debug,
        )
    )


class TraceFiles:
    """The ``-trace_*`` files of one run; implements the engine's ``Tracer`` protocol.

    Files are created in ``directory`` when the object is built (``errors.log`` on the first
    warning only), with their headers. Records are buffered: call :meth:`write_periodic` every
    ``-fd`` (it flushes), :meth:`write_final` at the end and :meth:`close` last.

    ``scenario_name`` is SIPp's base name (``uac`` for ``-sn uac``, ``foo`` for ``-sf
    dir/foo.xml``); message records name the transport of their event's flow; ``tz`` fixes the time
    zone of every timestamp (None: the process's local zone, as SIPp); ``now_wall`` gives epoch
    seconds for file start times (rotated file names). ``layout`` (a ``RunStats``) is needed for
    the counts header and SIPp's stat header (``-trace_counts``, ``-trace_stat``); its
    ``start_wall`` dates the gossipper-schema rtt rows.

    ``config.traces.trace_format`` picks SIPp's files or the gossipper schemas (module docstring).
    Beyond the engine's ``Tracer`` protocol, the gossipper schemas use :meth:`call_started`,
    :meth:`unexpected_message` and :meth:`write_rtt_records` (they do nothing harmful, or
    nothing at all, in SIPp's format).

    Problems writing a file (disk full, ...) do not stop the run: the file stops being written
    and a line is added to :attr:`errors`.
    """

    def __init__(
        self,
        config: RunConfig,
        *,
        scenario_name: str,
        pid: int,
        directory: str | os.PathLike[str] = ".",
        tz: datetime.tzinfo | None = None,
        now_wall: Callable[[], float] = time.time,
        layout: TraceLayout | None = None,
    ) -> None:
        self.config = config
        self.tz = tz
        self.errors: list[str] = []
        """One line per file that could not be written; shown to the user at exit."""
        try:
            self.trace_format = TraceFormat(config.traces.trace_format)
        except ValueError:
            raise ConfigError(
                f"-trace_format {config.traces.trace_format}: use -trace_format sipp or gossipper"
            ) from None
        fmt = trace_format_for(
            config,
            scenario_name=scenario_name,
            pid=pid,
            tz=tz,
            now_wall=now_wall,
            layout=layout,
        )
        self._format = fmt
        self._directory = os.fspath(directory)
        self._files: dict[str, TraceFile] = {}
        self._calldebug_calls: dict[str, list[CallRecord]] = {}
        self._closed = False

        if fmt.needs_layout(config) and layout is None:
            raise ValueError("TraceFiles needs the stats layout for -trace_stat/-trace_counts")
        headers = fmt.headers(layout)
        csv_kinds = fmt.csv_kinds
        try:
            for kind, (name, append, limited) in fmt.files(config).items():
                trace_file = TraceFile(
                    os.path.join(self._directory, name),
                    kind=kind,
                    rotated_stem=fmt.rotated_stem,
                    directory=self._directory,
                    append=append,
                    header=headers.get(kind, b""),
                    csv_header=kind in csv_kinds,
                    rotate_size=config.traces.ringbuffer_size if limited else 0,
                    keep_files=config.traces.ringbuffer_files,
                    max_size=config.traces.max_log_size if limited else 0,
                    now_wall=now_wall,
                    errors=self.errors,
                )
                self._files[kind] = trace_file
                if kind not in _LAZY_KINDS:
                    trace_file.open()
        except OSError as exc:
            self.close()
            raise ConfigError(
                f"cannot create trace file {exc.filename}: {exc.strerror};"
                " check that the directory exists and is writable"
            ) from exc

        files = self._files
        self._kinds = frozenset(files)
        self._messages = files.get("messages")
        self._shortmessages = files.get("shortmessages")
        self._errors_file = files.get("errors")
        self._logs = files.get("logs")
        self._calldebug = files.get("calldebug")
        self._screen = files.get("screen")
        self._error_codes = files.get("error_codes")
        self._rtt = files.get("rtt")
        self._media = files.get("media")
        self._now_wall = now_wall

    # ------------------------------------------------------------------ introspection

    @property
    def paths(self) -> dict[str, str]:
        """kind (``messages``, ``stat``, ...) -> path of every enabled file (``errors`` even
        before it exists)."""
        return {kind: f.path for kind, f in self._files.items()}

    def rotated_files(self, kind: str) -> list[str]:
        """Ring-buffer files kept for ``kind``, oldest first."""
        trace_file = self._files.get(kind)
        return [] if trace_file is None else trace_file.rotated_files

    # ------------------------------------------------------------------ Tracer protocol

    def message_sent(self, call_id: str, data: bytes, flow: Flow, wall: float) -> None:
        """A message left (after its send succeeded)."""
        messages = self._messages
        if messages is not None:
            messages.add(wall, call_id, self._format.sent_record(data, flow.transport_name, wall))
        short = self._shortmessages
        if short is not None:
            short.add(wall, call_id, self._format.short_sent(call_id, data, wall))
        if self._calldebug is not None:
            self._calldebug_calls.setdefault(call_id, []).append(
                (wall, SENT, data, flow.transport_name)
            )

    def message_received(self, call_id: str, message: SipMessage, flow: Flow, wall: float) -> None:
        """A message was handed to its call."""
        messages = self._messages
        raw = message.raw
        if messages is not None:
            messages.add(
                wall, call_id, self._format.received_record(raw, flow.transport_name, wall)
            )
        short = self._shortmessages
        if short is not None:
            short.add(wall, call_id, self._format.short_received(call_id, message, wall))
        if self._calldebug is not None:
            self._calldebug_calls.setdefault(call_id, []).append(
                (wall, RECEIVED, raw, flow.transport_name)
            )

    def command_sent(self, call_id: str, data: bytes, wall: float) -> None:
        """A 3PCC command left (messages.log only, as SIPp)."""
        messages = self._messages
        if messages is not None:
            messages.add(wall, call_id, self._format.command_sent_record(data, wall))

    def command_received(self, call_id: str, text: bytes, size: int, wall: float) -> None:
        """A 3PCC command arrived (messages.log only, as SIPp)."""
        messages = self._messages
        if messages is not None:
            messages.add(wall, call_id, self._format.command_received_record(text, size, wall))

    def message_lost(self, call_id: str, data: bytes, flow: Flow, wall: float) -> None:
        """``-lost``/``lost=``: a message was dropped on purpose instead of being sent. SIPp
        writes one line (no separator) to messages.log and nothing to shortmessages."""
        if self._messages is not None:
            self._messages.add(wall, call_id, self._format.lost_record(flow.transport_name))
        if self._calldebug is not None:
            self._calldebug_calls.setdefault(call_id, []).append(
                (wall, LOST, data, flow.transport_name)
            )

    def warning(self, text: str, wall: float) -> None:
        """A warning or error: one ``<log time>: <text>`` line in errors.log."""
        errors_file = self._errors_file
        if errors_file is not None:
            errors_file.add(wall, text, self._format.warning_record(text, wall))

    def log(self, text: str, wall: float) -> None:
        """A ``<log message>`` action: the text and a newline in logs.log."""
        logs = self._logs
        if logs is not None:
            logs.add(wall, text, self._format.log_record(text))

    def out_of_call(self, data: bytes, flow: Flow, wall: float) -> None:
        """A message no call took (unknown or dead Call-ID). SIPp logs every datagram it
        reads in messages.log before dispatching it, so it appears there as received."""
        messages = self._messages
        if messages is not None:
            # Sorted before any call's records of the same instant, by content.
            messages.add(
                wall,
                "\0" + data.decode("latin-1"),
                self._format.received_record(data, flow.transport_name, wall),
            )

    def call_ended(self, call_id: str, failed: bool, reason: str, wall: float) -> None:
        """A call's fate is decided. With ``-trace_calldebug`` a failed call's messages are
        written to calldebug.log; otherwise its buffered records are dropped. Must be called
        for every call when calldebug is on (else its records stay in memory until close)."""
        fmt = self._format
        if fmt.tracks_calls:
            fmt.call_ended(call_id)
        records = self._calldebug_calls.pop(call_id, None)
        calldebug = self._calldebug
        if calldebug is None or not failed:
            return
        calldebug.add(wall, call_id, fmt.calldebug_record(call_id, records or (), reason, wall))

    def call_started(self, call_id: str, call_number: int) -> None:
        """A call was created with this number (SIPp's ``[call_number]``): the ``call`` column
        of the gossipper-schema shortmessages and error-codes files."""
        self._format.call_started(call_id, call_number)

    def unexpected_message(
        self, call_id: str, message: SipMessage, expected: str, flow: Flow, wall: float
    ) -> None:
        """A call received a message its scenario did not expect; ``expected`` is what the
        ``recv`` waited for (its ``request`` or ``response`` attribute). With
        ``-trace_format gossipper`` an unexpected *response* is a row of the error-codes file;
        SIPp's error-codes file takes its codes from the statistics instead."""
        codes = self._error_codes
        if codes is None:
            return
        row = self._format.unexpected_row(call_id, message, expected, wall)
        if row is not None:
            codes.add(wall, call_id, row)

    # ------------------------------------------------------------------ media

    def media_stream(self, quality: StreamQuality) -> None:
        """A ``RunStats.media_sinks`` entry: one ``-trace_media`` row for a stream whose call's
        media just closed. Rows of one instant are sorted by call number (then Call-ID, media
        and local address): the order in which calls close their media within one instant
        is Trio's, not the run's."""
        media = self._media
        if media is None:
            return
        wall = self._now_wall()
        key = f"{quality.call_number:020d}\0{quality.call_id}\0{quality.media}\0{quality.local}"
        media.add(wall, key, self._format.media_row(quality, wall))

    def rtpcheck_report(self, report: RtpCheckReport) -> None:
        """A pattern stream's echo check (``-rtpcheck_debug``; an SRTP stream's goes to the
        ``-srtpcheck_debug`` file when that is given, else to the RTP one). Records of one
        instant are sorted by call number, then Call-ID and media."""
        target = self._files.get("srtpcheck") if report.srtp else None
        if target is None:
            target = self._files.get("rtpcheck")
        if target is None:
            return
        wall = self._now_wall()
        key = f"{report.call_number:020d}\0{report.call_id}\0{report.media}"
        target.add(wall, key, encode_text(format_rtpcheck_report(report)))

    # ------------------------------------------------------------------ statistics files

    def write_rtt(self, samples: Iterable[tuple[float, float, str]]) -> None:
        """Append RTD samples (from ``RunStats.take_rtt_samples()``) to the rtt file.

        SIPp writes them in blocks of ``-rtt_freq``; the content is the same whenever they are
        written, so the caller may pass them at every periodic dump and at exit. Without call
        numbers the gossipper schema's ``call`` column is 0: prefer :meth:`write_rtt_records`.
        """
        self.write_rtt_records((date_ms, value_ms, name, 0) for date_ms, value_ms, name in samples)

    def write_rtt_records(self, records: Iterable[tuple[float, float, str, int]]) -> None:
        """Like :meth:`write_rtt` with the call number (``RunStats.take_rtt_records()``).

        The records are written sorted: they come in time order (ms since the start first), so
        this only fixes the order of samples of one instant, which Trio leaves to chance."""
        rtt = self._rtt
        if rtt is None:
            return
        ordered = sorted(records)
        if not ordered:
            return
        rtt.write(self._format.rtt_lines(ordered))

    def write_periodic(self, snapshot: StatsSnapshot, *, screens_text: str | None = None) -> None:
        """One dump (at start-up, every ``-fd``, and the end-of-main-loop dump at exit): a stat
        CSV row, a counts row, an error-codes row (a screen row in the gossipper schema), then
        flush every file. ``snapshot`` is a snapshot of the files' own statistics window (with
        error codes), taken with ``restart=True``. ``screens_text`` (the screens as printed) is
        appended to SIPp's screen file when given."""
        self._write_rows(snapshot, final=False)
        if screens_text is not None:
            self.write_screens(screens_text)
        self.flush()

    def write_final(self, snapshot: StatsSnapshot, screens_text: str) -> None:
        """The exit dump: the rows of :meth:`write_periodic` and the screens in the screen file.

        SIPp 3.6.1 writes the stat, counts and error-codes rows twice at exit (once at the end
        of the main loop, once on the exit path). That duplicate is a 3.6.1 bug
        (docs/sipp-behaviour.md, "Outputs"): the engine's last :meth:`write_periodic` is the one
        final row, and this adds a row only when the counters changed since the last one (both
        schemas)."""
        self._write_rows(snapshot, final=True)
        self.write_screens(screens_text)
        self.flush()

    def write_screens(self, screens_text: str) -> None:
        """Append the screens to SIPp's ``-trace_screen`` file (exit, SIGUSR2, key ``s``). The
        gossipper schema's screen file is a CSV of snapshot rows: the text is not written."""
        screen = self._screen
        if screen is not None:
            payload = self._format.screen_text(screens_text)
            if payload is not None:
                screen.write(payload)

    def _write_rows(self, snapshot: StatsSnapshot, *, final: bool) -> None:
        files = self._files
        for kind, row in self._format.rows(snapshot, final=final, kinds=self._kinds):
            files[kind].write(row)

    # ------------------------------------------------------------------ lifecycle

    def flush(self) -> None:
        """Write out every buffered record."""
        for trace_file in self._files.values():
            trace_file.flush()

    def close(self) -> None:
        """Flush and close every file (idempotent). Calldebug records of calls that never
        ended are discarded."""
        if self._closed:
            return
        self._closed = True
        for trace_file in self._files.values():
            trace_file.close()
        self._calldebug_calls.clear()

    def __enter__(self) -> TraceFiles:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
