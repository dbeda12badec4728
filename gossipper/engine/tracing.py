"""SIPp 3.6.1 trace files: messages, shortmessages, errors, logs, calldebug, screens and the
statistics CSVs (sipp-reference section 6).

:class:`TraceFiles` implements the engine's ``Tracer`` protocol and writes every file a SIPp
``-trace_*`` option asks for, with SIPp's names (6.1), timestamps (6.2) and layouts (6.3 to 6.8).
The CSV lines themselves come from :mod:`gossipper.stats.sipp_csv`; this module owns the files:
naming, opening, buffering, ring-buffer rotation and size limits.

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

``-trace_format gossipper`` (gossipper-inventory 3.0 to 3.7, contract in
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
from operator import itemgetter
from typing import IO, Protocol

from gossipper.config import RunConfig
from gossipper.errors import ConfigError
from gossipper.interfaces import Flow
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
from gossipper.stats.sipp_csv import (
    format_counts_header,
    format_counts_row,
    format_error_codes_row,
    format_rtt_header,
    format_rtt_lines,
    format_stat_csv_header,
    format_stat_csv_row,
)

__all__ = ["TraceFiles", "TraceLayout"]

BUFFER_BYTES = 256 * 1024
"""Write buffer per trace file; the periodic dumps flush it."""

_MESSAGE_SEPARATOR = "-" * 47
_CALLDEBUG_SEPARATOR = b"-" * 79 + b"\n"
_ERRORS_HEADER = b"The following events occurred:\n"
_US_PER_S = 1_000_000
_KEY = itemgetter(0)


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


def _encode(text: str) -> bytes:
    # Project convention: SIP text is the latin-1 view of the wire bytes. A str that escaped
    # that conversion (it holds a code point above U+00FF) is written as UTF-8, not refused.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


class _Stamper:
    """Formats wall times (epoch seconds) as SIPp does, caching the text of the current second.

    Microseconds are rounded like ``gossipper.stats.formatting.epoch_to_us`` so that a record and
    a CSV row for the same instant print the same digits.
    """

    __slots__ = ("_tz", "_second", "_log_head", "_log_mid", "_message_head", "_wall", "_text")

    def __init__(self, tz: datetime.tzinfo | None) -> None:
        self._tz = tz
        self._second: int | None = None
        self._log_head = ""
        self._log_mid = ""
        self._message_head = ""
        self._wall = -1.0
        self._text = ""

    def _load(self, second: int) -> None:
        if self._tz is None:
            # SIPp uses localtime(); so does the process-local default here.
            year, month, day, hour, minute, sec = time.localtime(second)[:6]
        else:
            moment = datetime.datetime.fromtimestamp(second, self._tz)
            year, month, day = moment.year, moment.month, moment.day
            hour, minute, sec = moment.hour, moment.minute, moment.second
        date = f"{year:04d}-{month:02d}-{day:02d}"
        clock = f"{hour:02d}:{minute:02d}:{sec:02d}"
        self._log_head = f"{date}\t{clock}."
        self._log_mid = f"\t{second:010d}."
        self._message_head = f"{date} {clock}."
        self._second = second

    def _micros(self, wall: float) -> str:
        if wall == self._wall:  # messages.log and shortmessages stamp the same instant
            return self._text
        second, micros = divmod(round(wall * _US_PER_S), _US_PER_S)
        if second != self._second:
            self._load(second)
        self._wall = wall
        self._text = text = f"{micros:06d}"
        return text

    def log_time(self, wall: float) -> str:
        """``YYYY-MM-DD<TAB>HH:MM:SS.uuuuuu<TAB>EPOCH.uuuuuu`` (reference 6.2 "log time")."""
        micros = self._micros(wall)
        return f"{self._log_head}{micros}{self._log_mid}{micros}"

    def message_time(self, wall: float) -> str:
        """``YYYY-MM-DD HH:MM:SS.uuuuuu``: the 3.6.1 messages.log separator time."""
        micros = self._micros(wall)
        return self._message_head + micros


class _TraceFile:
    """One output file: buffered writes, records of one instant ordered by key, and either
    ring-buffer rotation (``-ringbuffer_size``/``-ringbuffer_files``) or a size cap
    (``-max_log_size``). Write errors disable the file and are reported in ``errors``."""

    __slots__ = (
        "path",
        "kind",
        "_rotated_stem",
        "_directory",
        "_append",
        "_header",
        "_csv_header",
        "_rotate_size",
        "_keep_files",
        "_max_size",
        "_now_wall",
        "_errors",
        "_fh",
        "_stopped",
        "_count",
        "_started_s",
        "_rotated",
        "_last_rotation",
        "_pending",
        "_pending_wall",
    )

    def __init__(
        self,
        path: str,
        *,
        kind: str,
        rotated_stem: str,
        directory: str,
        append: bool,
        header: bytes,
        csv_header: bool = False,
        rotate_size: int,
        keep_files: int,
        max_size: int,
        now_wall: Callable[[], float],
        errors: list[str],
    ) -> None:
        self.path = path
        self.kind = kind
        self._rotated_stem = rotated_stem
        self._directory = directory
        self._append = append
        self._header = header
        self._csv_header = csv_header
        self._rotate_size = rotate_size
        self._keep_files = keep_files
        self._max_size = max_size
        self._now_wall = now_wall
        self._errors = errors
        self._fh: IO[bytes] | None = None
        self._stopped = False
        self._count = 0
        self._started_s = 0
        self._rotated: list[str] = []
        self._last_rotation: tuple[int, int] | None = None
        self._pending: list[tuple[str, bytes]] = []
        self._pending_wall = 0.0

    @property
    def rotated_files(self) -> list[str]:
        """Paths of the rotated files kept, oldest first."""
        return list(self._rotated)

    def open(self) -> None:
        """Create (or, with overwrite false, append to) the file and write its header."""
        mode = "ab" if self._append else "wb"
        # After the first open, files are always fresh: SIPp's *_overwrite false only applies
        # to the file that existed before the run.
        self._append = False
        fh = open(self.path, mode, buffering=BUFFER_BYTES)  # noqa: SIM115 - owned here
        self._fh = fh
        self._started_s = int(self._now_wall())
        header = self._header
        if self._csv_header and fh.tell() > 0:
            # Appending to a CSV that already has rows: a second header line in the middle
            # would break every CSV reader (append mode starts at the end of the file).
            header = b""
        # The header counts towards the size but never triggers a rotation by itself (a limit
        # smaller than the header would otherwise rotate forever).
        self._count = len(header)
        if header:
            fh.write(header)

    def add(self, wall: float, key: str, payload: bytes) -> None:
        """Queue a record stamped ``wall``; records of one instant are written sorted by key."""
        if wall != self._pending_wall:
            if self._pending:
                self._drain()
            self._pending_wall = wall
        self._pending.append((key, payload))

    def write(self, payload: bytes) -> None:
        """Write at once (after any queued records): CSV rows and screens."""
        if self._pending:
            self._drain()
        self._emit(payload)

    def flush(self) -> None:
        if self._pending:
            self._drain()
        if self._fh is not None:
            try:
                self._fh.flush()
            except OSError as exc:
                self._fail(exc)

    def close(self) -> None:
        if self._pending:
            self._drain()
        self._stop_writing()

    def _drain(self) -> None:
        pending = self._pending
        if len(pending) > 1:
            pending.sort(key=_KEY)
        for _, payload in pending:
            self._emit(payload)
        pending.clear()

    def _emit(self, payload: bytes) -> None:
        fh = self._fh
        if fh is None:
            if self._stopped:
                return
            try:
                self.open()  # a lazily created file (errors.log): opened by its first record
            except OSError as exc:
                self._fail(exc)
                return
            fh = self._fh
            assert fh is not None
        try:
            fh.write(payload)
        except OSError as exc:
            self._fail(exc)
            return
        self._count += len(payload)
        if self._rotate_size and self._count > self._rotate_size:
            self._rotate()
        elif self._max_size and self._count > self._max_size:
            # -max_log_size: SIPp stops writing the file once it is exceeded.
            self._stop_writing()

    def _stop_writing(self) -> None:
        fh = self._fh
        self._fh = None
        self._stopped = True  # later records (queued ones included) are dropped by _emit
        if fh is not None:
            try:
                fh.close()
            except OSError as exc:
                self._errors.append(f"{self.path}: {exc.strerror or exc}")

    def _rotate(self) -> None:
        """Start a new file; keep the full one as ``<scen>_<pid>_<kind>_<start epoch>.log``
        (``.<n>.log`` when several started in the same second), at most ``-ringbuffer_files``
        of them. With 0 files to keep the file simply restarts empty, as in SIPp."""
        fh = self._fh
        assert fh is not None
        self._fh = None
        try:
            fh.close()
        except OSError as exc:
            self._fail(exc)
            return
        try:
            if self._keep_files > 0:
                if len(self._rotated) >= self._keep_files:
                    oldest = self._rotated.pop(0)
                    try:
                        os.remove(oldest)
                    except FileNotFoundError:
                        pass
                start = self._started_s
                n = 0
                if self._last_rotation is not None and self._last_rotation[0] == start:
                    n = self._last_rotation[1] + 1
                target = self._rotated_path(start, n)
                # Never clobber a file we did not write (e.g. one left by an earlier run).
                while os.path.exists(target):
                    n += 1
                    target = self._rotated_path(start, n)
                os.rename(self.path, target)
                self._rotated.append(target)
                self._last_rotation = (start, n)
            self.open()
        except OSError as exc:
            self._fail(exc)

    def _rotated_path(self, start_s: int, n: int) -> str:
        suffix = f"{start_s}.{n}.log" if n else f"{start_s}.log"
        return os.path.join(self._directory, f"{self._rotated_stem}_{self.kind}_{suffix}")

    def _fail(self, exc: OSError) -> None:
        self._errors.append(f"{self.path}: {exc.strerror or exc}; file no longer written")
        fh = self._fh
        self._fh = None
        self._stopped = True
        self._pending.clear()
        if fh is not None:
            try:
                fh.close()
            except OSError:
                pass


def _cseq_and_first_line(data: bytes) -> tuple[bytes, bytes]:
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
    return (
        ("messages", config.trace_msg, config.message_file, config.message_overwrite),
        (
            "shortmessages",
            config.trace_shortmsg,
            config.shortmessage_file,
            config.shortmessage_overwrite,
        ),
        ("errors", config.trace_err, config.error_file, config.error_overwrite),
        ("logs", config.trace_logs, config.log_file, config.log_overwrite),
        ("calldebug", config.trace_calldebug, config.calldebug_file, config.calldebug_overwrite),
        ("screen", config.trace_screen, config.screen_file, config.screen_overwrite),
    )


def _sibling(base: str, suffix: str) -> str:
    """``dir/x.log`` + ``_rtt`` -> ``dir/x_rtt.log``; without an extension ``.log`` is added
    (gossipper-inventory 3.0)."""
    root, extension = os.path.splitext(base)
    return f"{root}{suffix}{extension or '.log'}"


def trace_files_wanted(config: RunConfig) -> bool:
    """True when the command line asks for at least one trace file."""
    return any(
        (
            config.trace_msg,
            config.trace_shortmsg,
            config.trace_err,
            config.trace_logs,
            config.trace_calldebug,
            config.trace_screen,
            config.trace_stat,
            config.trace_counts,
            config.trace_rtt,
            config.trace_error_codes,
        )
    )


class TraceFiles:
    """The ``-trace_*`` files of one run; implements the engine's ``Tracer`` protocol.

    Files are created in ``directory`` when the object is built (``errors.log`` on the first
    warning only), with their headers. Records are buffered: call :meth:`write_periodic` every
    ``-fd`` (it flushes), :meth:`write_final` at the end and :meth:`close` last.

    ``scenario_name`` is SIPp's base name (``uac`` for ``-sn uac``, ``foo`` for ``-sf
    dir/foo.xml``); ``transport_name`` prefixes message records (``UDP``); ``tz`` fixes the time
    zone of every timestamp (None: the process's local zone, as SIPp); ``now_wall`` gives epoch
    seconds for file start times (rotated file names). ``layout`` (a ``RunStats``) is needed for
    the counts header and SIPp's stat header (``-trace_counts``, ``-trace_stat``); its
    ``start_wall`` dates the gossipper-schema rtt rows.

    ``config.trace_format`` picks SIPp's files or the gossipper schemas (module docstring).
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
        transport_name: str = "UDP",
        directory: str | os.PathLike[str] = ".",
        tz: datetime.tzinfo | None = None,
        now_wall: Callable[[], float] = time.time,
        layout: TraceLayout | None = None,
    ) -> None:
        self.config = config
        self.transport_name = transport_name
        self.tz = tz
        self.errors: list[str] = []
        """One line per file that could not be written; shown to the user at exit."""
        try:
            self.trace_format = TraceFormat(config.trace_format)
        except ValueError:
            raise ConfigError(
                f"-trace_format {config.trace_format}: use -trace_format sipp or gossipper"
            ) from None
        gossipper = self.trace_format is TraceFormat.GOSSIPPER
        self._gossipper = gossipper
        self._directory = os.fspath(directory)
        self._delimiter = config.stat_delimiter
        self._periodic_rtd = config.periodic_rtd
        self._last_sipp_row_state: object = None
        self._stamper = _Stamper(tz)
        self._now_wall = now_wall
        self._stem = f"{scenario_name}_{pid}"
        self._pid = pid
        self._files: dict[str, _TraceFile] = {}
        self._calldebug_calls: dict[str, list[tuple[float, int, bytes]]] = {}
        self._closed = False
        self._sent_title = f"{transport_name} message sent ("
        self._received_title = f"{transport_name} message received ["
        self._lost_line = f"{transport_name} message voluntary lost (while sending).\n".encode()
        # -trace_format gossipper: the "call" column and the rtt timestamps.
        self._call_numbers: dict[str, int] = {}
        self._numbers_announced = False
        self._next_call_number = 0
        self._run_start_wall: float | None = layout.start_wall if layout is not None else None
        self._fallback_start_wall = now_wall()
        self._last_row_state: object = None

        needs_layout = config.trace_counts or (config.trace_stat and not gossipper)
        if needs_layout and layout is None:
            raise ValueError("TraceFiles needs the stats layout for -trace_stat/-trace_counts")

        if gossipper:
            wanted = self._gossipper_files(config)
            headers = self._gossipper_headers(layout)
            csv_kinds = frozenset(
                ("stat", "rtt", "counts", "error_codes", "shortmessages", "screen")
            )
            rotated_stem = f"gossipper_{pid}"
        else:
            wanted = self._sipp_files(config)
            headers = self._sipp_headers(layout)
            csv_kinds = frozenset()
            rotated_stem = self._stem

        try:
            for kind, (name, append, limited) in wanted.items():
                limit_rotate = config.ringbuffer_size if limited else 0
                trace_file = _TraceFile(
                    os.path.join(self._directory, name),
                    kind=kind,
                    rotated_stem=rotated_stem,
                    directory=self._directory,
                    append=append,
                    header=headers.get(kind, b""),
                    csv_header=kind in csv_kinds,
                    rotate_size=limit_rotate,
                    keep_files=config.ringbuffer_files,
                    max_size=config.max_log_size if limited else 0,
                    now_wall=now_wall,
                    errors=self.errors,
                )
                self._files[kind] = trace_file
                if kind != "errors":
                    trace_file.open()
        except OSError as exc:
            self.close()
            raise ConfigError(
                f"cannot create trace file {exc.filename}: {exc.strerror};"
                " check that the directory exists and is writable"
            ) from exc

        files = self._files
        self._messages = files.get("messages")
        self._shortmessages = files.get("shortmessages")
        self._errors_file = files.get("errors")
        self._logs = files.get("logs")
        self._calldebug = files.get("calldebug")
        self._screen = files.get("screen")
        self._stat = files.get("stat")
        self._counts = files.get("counts")
        self._error_codes = files.get("error_codes")
        self._rtt = files.get("rtt")
        # Call numbers are only bookkept when a gossipper-schema file has a "call" column.
        self._track_calls = gossipper and (
            self._shortmessages is not None or self._error_codes is not None
        )

    def _sipp_headers(self, layout: TraceLayout | None) -> dict[str, bytes]:
        headers: dict[str, bytes] = {"errors": _ERRORS_HEADER}
        delimiter = self._delimiter
        if layout is not None:
            headers["stat"] = format_stat_csv_header(layout, delimiter).encode("latin-1")
            headers["counts"] = format_counts_header(layout.element_infos, delimiter).encode(
                "latin-1"
            )
        headers["rtt"] = format_rtt_header(delimiter).encode("latin-1")
        return headers

    @staticmethod
    def _gossipper_headers(layout: TraceLayout | None) -> dict[str, bytes]:
        headers: dict[str, bytes] = {
            "errors": _ERRORS_HEADER,
            "stat": format_gossipper_stat_header().encode("latin-1"),
            "rtt": format_gossipper_rtt_header().encode("latin-1"),
            "error_codes": format_gossipper_error_codes_header().encode("latin-1"),
            "shortmessages": format_gossipper_shortmessage_header().encode("latin-1"),
            "screen": format_gossipper_screen_header().encode("latin-1"),
        }
        if layout is not None:
            headers["counts"] = _encode(format_gossipper_counts_header(layout.element_infos))
        return headers

    def _sipp_files(self, config: RunConfig) -> dict[str, tuple[str, bool, bool]]:
        """kind -> (file name, append, ring buffer/size limit applies), in a fixed order;
        SIPp's names (reference 6.1)."""
        stem = self._stem
        wanted: dict[str, tuple[str, bool, bool]] = {}
        if config.trace_stat:
            wanted["stat"] = (config.stat_file or f"{stem}_.csv", False, False)
        if config.trace_rtt:
            wanted["rtt"] = (f"{stem}_rtt.csv", False, False)
        if config.trace_counts:
            wanted["counts"] = (f"{stem}_counts.csv", False, False)
        if config.trace_error_codes:
            wanted["error_codes"] = (f"{stem}_error_codes.csv", False, False)
        for kind, enabled, name, overwrite in _text_files(config):
            if enabled:
                wanted[kind] = (name or f"{stem}_{kind}.log", not overwrite, True)
        return wanted

    def _gossipper_files(self, config: RunConfig) -> dict[str, tuple[str, bool, bool]]:
        """Like :meth:`_sipp_files` with the Go tool's names (gossipper-inventory 3.0): a base
        path and siblings named by a suffix inserted before its extension."""
        base = config.message_file or f"gossipper_{self._pid}_messages.log"
        wanted: dict[str, tuple[str, bool, bool]] = {}
        if config.trace_stat:
            wanted["stat"] = (config.stat_file or _sibling(base, "_stats"), False, False)
        if config.trace_rtt:
            wanted["rtt"] = (_sibling(base, "_rtt"), False, False)
        if config.trace_counts:
            wanted["counts"] = (_sibling(base, "_counts"), False, False)
        if config.trace_error_codes:
            # The Go tool puts this one next to -error_file when that is given.
            codes_base = config.error_file or base
            wanted["error_codes"] = (_sibling(codes_base, "_error_codes"), False, False)
        for kind, enabled, name, overwrite in _text_files(config):
            if enabled:
                default = base if kind == "messages" else _sibling(base, f"_{kind}")
                wanted[kind] = (name or default, not overwrite, True)
        return wanted

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
            head = (
                f"{_MESSAGE_SEPARATOR} {self._stamper.message_time(wall)}\n"
                f"{self._sent_title}{len(data)} bytes):\n\n"
            )
            messages.add(wall, call_id, b"".join((_encode(head), data, b"\n")))
        short = self._shortmessages
        if short is None:
            pass
        elif self._gossipper:
            first_line = _cseq_and_first_line(data)[1].decode("latin-1")
            self._short_row(short, call_id, "send", first_line, wall)
        else:
            cseq, first = _cseq_and_first_line(data)
            short.add(
                wall,
                call_id,
                b"%s\tS\t%s\tCSeq:%s\t%s\n"
                % (_encode(self._stamper.log_time(wall)), _encode(call_id), cseq, first),
            )
        if self._calldebug is not None:
            self._calldebug_calls.setdefault(call_id, []).append((wall, 0, data))

    def _short_row(
        self, short: _TraceFile, call_id: str, direction: str, first_line: str, wall: float
    ) -> None:
        """One row of the gossipper-schema shortmessages file."""
        row = format_gossipper_shortmessage_row(
            wall,
            direction=direction,
            call_number=self._call_number(call_id),
            text=first_line,
            call_id=call_id,
            tz=self.tz,
        )
        short.add(wall, call_id, _encode(row))

    def _call_number(self, call_id: str) -> int:
        number = self._call_numbers.get(call_id)
        if number is None:
            if self._numbers_announced:
                return 0  # a record after the call ended: no number to give
            # Nobody announces calls: number them in order of first appearance.
            self._next_call_number += 1
            number = self._call_numbers[call_id] = self._next_call_number
        return number

    def message_received(self, call_id: str, message: SipMessage, flow: Flow, wall: float) -> None:
        """A message was handed to its call."""
        messages = self._messages
        raw = message.raw
        if messages is not None:
            head = (
                f"{_MESSAGE_SEPARATOR} {self._stamper.message_time(wall)}\n"
                f"{self._received_title}{len(raw)}] bytes :\n\n"
            )
            messages.add(wall, call_id, b"".join((_encode(head), raw, b"\n")))
        short = self._shortmessages
        if short is None:
            pass
        elif self._gossipper:
            self._short_row(short, call_id, "recv", message.first_line, wall)
        else:
            cseq = message.header("CSeq") or ""
            short.add(
                wall,
                call_id,
                _encode(
                    f"{self._stamper.log_time(wall)}\tR\t{call_id}"
                    f"\tCSeq:{cseq}\t{message.first_line}\n"
                ),
            )
        if self._calldebug is not None:
            self._calldebug_calls.setdefault(call_id, []).append((wall, 1, raw))

    def message_lost(self, call_id: str, data: bytes, flow: Flow, wall: float) -> None:
        """``-lost``/``lost=``: a message was dropped on purpose instead of being sent. SIPp
        writes one line (no separator) to messages.log and nothing to shortmessages."""
        if self._messages is not None:
            self._messages.add(wall, call_id, self._lost_line)
        if self._calldebug is not None:
            self._calldebug_calls.setdefault(call_id, []).append((wall, 2, data))

    def warning(self, text: str, wall: float) -> None:
        """A warning or error: one ``<log time>: <text>`` line in errors.log."""
        errors_file = self._errors_file
        if errors_file is not None:
            errors_file.add(wall, text, _encode(f"{self._stamper.log_time(wall)}: {text}\n"))

    def log(self, text: str, wall: float) -> None:
        """A ``<log message>`` action: the text and a newline in logs.log."""
        logs = self._logs
        if logs is not None:
            logs.add(wall, text, _encode(text) + b"\n")

    def out_of_call(self, data: bytes, flow: Flow, wall: float) -> None:
        """A message no call took (unknown or dead Call-ID). SIPp logs every datagram it
        reads in messages.log before dispatching it, so it appears there as received."""
        messages = self._messages
        if messages is not None:
            head = (
                f"{_MESSAGE_SEPARATOR} {self._stamper.message_time(wall)}\n"
                f"{self._received_title}{len(data)}] bytes :\n\n"
            )
            # Sorted before any call's records of the same instant, by content.
            messages.add(
                wall, "\0" + data.decode("latin-1"), b"".join((_encode(head), data, b"\n"))
            )

    def call_ended(self, call_id: str, failed: bool, reason: str, wall: float) -> None:
        """A call's fate is decided. With ``-trace_calldebug`` a failed call's messages are
        written to calldebug.log; otherwise its buffered records are dropped. Must be called
        for every call when calldebug is on (else its records stay in memory until close)."""
        if self._track_calls:
            self._call_numbers.pop(call_id, None)
        records = self._calldebug_calls.pop(call_id, None)
        calldebug = self._calldebug
        if calldebug is None or not failed:
            return
        stamp = self._stamper.log_time
        transport = self.transport_name
        parts = [
            _CALLDEBUG_SEPARATOR,
            _encode(f"Call debugging information for call {call_id}:\n"),
        ]
        for when, kind, data in records or ():
            if kind == 0:
                parts.append(
                    _encode(f"{stamp(when)} Sending {transport} message for call {call_id}:\n")
                )
                parts += (data, b"\n\n")
            elif kind == 1:
                parts.append(
                    _encode(
                        f"{stamp(when)} Processing {len(data)} byte incoming message"
                        f" for call-ID {call_id}:\n"
                    )
                )
                parts += (data, b"\n\n")
            else:
                parts.append(
                    _encode(
                        f"{stamp(when)} {transport} message voluntary lost (while sending)"
                        f" for call {call_id}.\n"
                    )
                )
        detail = f" ({reason})" if reason else ""
        parts.append(_encode(f"{stamp(wall)} Aborting call {call_id}{detail}.\n"))
        calldebug.add(wall, call_id, b"".join(parts))

    def call_started(self, call_id: str, call_number: int) -> None:
        """A call was created with this number (SIPp's ``[call_number]``): the ``call`` column
        of the gossipper-schema shortmessages and error-codes files."""
        if self._track_calls:
            self._numbers_announced = True
            self._call_numbers[call_id] = call_number

    def unexpected_message(
        self, call_id: str, message: SipMessage, expected: str, flow: Flow, wall: float
    ) -> None:
        """A call received a message its scenario did not expect; ``expected`` is what the
        ``recv`` waited for (its ``request`` or ``response`` attribute). With
        ``-trace_format gossipper`` an unexpected *response* is a row of the error-codes file;
        SIPp's error-codes file takes its codes from the statistics instead."""
        codes = self._error_codes
        if codes is None or not self._gossipper or message.is_request:
            return
        row = format_gossipper_error_code_row(
            wall,
            call_number=self._call_number(call_id),
            code=message.status_code,
            reason=message.reason,
            call_id=call_id,
            expected=expected,
            tz=self.tz,
        )
        codes.add(wall, call_id, _encode(row))

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
        if self._gossipper:
            start_wall = self._run_start_wall
            if start_wall is None:
                start_wall = self._fallback_start_wall
            lines = format_gossipper_rtt_lines(ordered, start_wall=start_wall, tz=self.tz)
        else:
            lines = format_rtt_lines(
                [(date_ms, value_ms, name) for date_ms, value_ms, name, _ in ordered],
                self._delimiter,
            )
        rtt.write(_encode(lines))

    def write_periodic(self, snapshot: StatsSnapshot, *, screens_text: str | None = None) -> None:
        """One dump (at start-up, every ``-fd``, and the end-of-main-loop dump at exit): a stat
        CSV row, a counts row, an error-codes row (a screen row in the gossipper schema), then
        flush every file. ``snapshot`` is a ``"log"``-window snapshot taken with
        ``reset_periodic=True``. ``screens_text`` (the screens as printed) is appended to
        SIPp's screen file when given."""
        self._write_rows(snapshot, final=False)
        if screens_text is not None:
            self.write_screens(screens_text)
        self.flush()

    def write_final(self, snapshot: StatsSnapshot, screens_text: str) -> None:
        """The exit dump: the rows of :meth:`write_periodic` and the screens in the screen file.

        SIPp 3.6.1 writes the stat, counts and error-codes rows twice at exit (once at the end
        of the main loop, once on the exit path). That duplicate is a 3.6.1 bug (issue 3): the
        engine's last :meth:`write_periodic` is the one final row, and this adds a row only
        when the counters changed since the last one (both schemas)."""
        self._write_rows(snapshot, final=True)
        self.write_screens(screens_text)
        self.flush()

    def write_screens(self, screens_text: str) -> None:
        """Append the screens to SIPp's ``-trace_screen`` file (exit, SIGUSR2, key ``s``). The
        gossipper schema's screen file is a CSV of snapshot rows: the text is not written."""
        if self._screen is not None and screens_text and not self._gossipper:
            self._screen.write(_encode(screens_text))

    def _write_rows(self, snapshot: StatsSnapshot, *, final: bool) -> None:
        if self._gossipper:
            self._write_gossipper_rows(snapshot, final=final)
            return
        state = (snapshot.cumulative, snapshot.current_calls, snapshot.elements)
        if final and state == self._last_sipp_row_state and not snapshot.error_codes:
            return
        self._last_sipp_row_state = state
        delimiter = self._delimiter
        if self._stat is not None:
            row = format_stat_csv_row(
                snapshot, delimiter, tz=self.tz, periodic_rtd=self._periodic_rtd
            )
            self._stat.write(row.encode("latin-1"))
        if self._counts is not None:
            self._counts.write(format_counts_row(snapshot, delimiter, tz=self.tz).encode("latin-1"))
        if self._error_codes is not None:
            row = format_error_codes_row(snapshot, delimiter, tz=self.tz)
            self._error_codes.write(row.encode("latin-1"))

    def _write_gossipper_rows(self, snapshot: StatsSnapshot, *, final: bool) -> None:
        """gossipper-inventory 3.6/3.7: stat, screen and counts rows. The error-codes file has
        one row per unexpected response instead (:meth:`unexpected_message`)."""
        if self._run_start_wall is None:
            # Monotonic zero of the rtt dates, on the wall clock.
            self._run_start_wall = snapshot.now_wall - (snapshot.now_mono - snapshot.run_start_mono)
        state = (snapshot.cumulative, snapshot.current_calls, snapshot.elements)
        if final and state == self._last_row_state:
            # The engine's end-of-main-loop dump already wrote the final row (SIPp's second
            # copy of it has no place in this schema).
            return
        self._last_row_state = state
        tz = self.tz
        if self._stat is not None:
            self._stat.write(_encode(format_gossipper_stat_row(snapshot, tz=tz)))
        if self._screen is not None:
            self._screen.write(_encode(format_gossipper_screen_row(snapshot, tz=tz)))
        if self._counts is not None:
            self._counts.write(_encode(format_gossipper_counts_row(snapshot, tz=tz)))

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
