"""Trace file mechanics shared by both formats: one buffered file with ordering of same-instant
records, ring-buffer rotation and size caps, and the cached timestamp texts.

Nothing here knows which format a file holds: :mod:`gossipper.output.formats` renders records,
:mod:`gossipper.output.tracing` decides which files exist and routes records to them.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable
from operator import itemgetter
from typing import IO

from gossipper.timefmt import utc_offset_text

__all__ = ["BUFFER_BYTES", "Stamper", "TraceFile", "encode_text"]

BUFFER_BYTES = 256 * 1024
"""Write buffer per trace file; the periodic dumps flush it."""

_US_PER_S = 1_000_000
_KEY = itemgetter(0)


def encode_text(text: str) -> bytes:
    """Bytes of a ``str`` holding SIP text (its latin-1 view)."""
    # Project convention: SIP text is the latin-1 view of the wire bytes. A str that escaped
    # that conversion (it holds a code point above U+00FF) is written as UTF-8, not refused.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


class Stamper:
    """Formats wall times (epoch seconds) as SIPp does, caching the text of the current second.

    Microseconds are rounded like ``gossipper.stats.formatting.epoch_to_us`` so that a record and
    a CSV row for the same instant print the same digits.
    """

    __slots__ = (
        "_tz",
        "_rfc3339",
        "_second",
        "_log_head",
        "_log_mid",
        "_message_head",
        "_wall",
        "_text",
    )

    def __init__(self, tz: datetime.tzinfo | None, *, rfc3339: bool = False) -> None:
        """``rfc3339`` (``-rfc3339``): log times and messages.log times are RFC 3339,
        ``YYYY-MM-DDTHH:MM:SS.uuuuuu+HH:MM`` (SIPp 3.7)."""
        self._tz = tz
        self._rfc3339 = rfc3339
        self._second: int | None = None
        self._log_head = ""
        self._log_mid = ""
        self._message_head = ""
        self._wall = -1.0
        self._text = ""

    def _load(self, second: int) -> None:
        if self._rfc3339:
            # The offset can change with the second (DST): computed with the date.
            if self._tz is None:
                moment = datetime.datetime.fromtimestamp(second).astimezone()
            else:
                moment = datetime.datetime.fromtimestamp(second, self._tz)
            head = (
                f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
                f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
            )
            self._log_head = self._message_head = head
            self._log_mid = utc_offset_text(moment)
            self._second = second
            return
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
        """``YYYY-MM-DD<TAB>HH:MM:SS.uuuuuu<TAB>EPOCH.uuuuuu``: SIPp's "log time"
        (docs/sipp-behaviour.md, "Outputs"); RFC 3339 with ``rfc3339``."""
        micros = self._micros(wall)
        if self._rfc3339:
            return f"{self._log_head}{micros}{self._log_mid}"
        return f"{self._log_head}{micros}{self._log_mid}{micros}"

    def message_time(self, wall: float) -> str:
        """``YYYY-MM-DD HH:MM:SS.uuuuuu``: the 3.6.1 messages.log separator time; RFC 3339
        with ``rfc3339`` (as SIPp 3.7 always writes it)."""
        micros = self._micros(wall)
        if self._rfc3339:
            return f"{self._message_head}{micros}{self._log_mid}"
        return self._message_head + micros


class TraceFile:
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
