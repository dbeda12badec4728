"""Injection files (``-inf``), docs/sipp-behaviour.md#injection-files.

An injection file is read once at start-up into memory. Text is kept as the latin-1 view of the
file's bytes (project convention), so any byte round-trips into messages.
"""

from __future__ import annotations

import enum
import os
import random
import re
from collections.abc import Iterable

from gossipper.errors import ConfigError

_PRINTF_CONVERSION = re.compile(r"%(%|[-+ #0]*\d*(?:\.\d+)?([a-zA-Z]))")


class LineOrder(enum.Enum):
    """How each new call picks its line."""

    SEQUENTIAL = "SEQUENTIAL"
    RANDOM = "RANDOM"
    USER = "USER"


class InjectionFile:
    """One ``-inf`` file: its lines split into ``;`` fields, the per-call line choice, and the
    optional ``-infindex`` index used by the ``lookup``/``insert``/``replace`` actions."""

    __slots__ = (
        "_index",
        "_index_field",
        "_next_sequential",
        "lines",
        "name",
        "order",
        "path",
        "printf_count",
        "printf_multiple",
        "printf_offset",
        "rows_by_call_number",
        "source_lines",
    )

    def __init__(
        self,
        path: str,
        order: LineOrder,
        lines: Iterable[str],
        *,
        printf_count: int = 0,
        printf_offset: int = 0,
        printf_multiple: int = 1,
        source_lines: Iterable[int] | None = None,
    ) -> None:
        self.path = path
        self.name = os.path.basename(path)
        self.order = order
        self.lines: list[str] = list(lines)
        # The file line of each data line (1 = the header), for error messages; without them
        # the data lines are taken to follow the header directly.
        self.source_lines: list[int] = (
            list(source_lines) if source_lines is not None else list(range(2, len(self.lines) + 2))
        )
        self.printf_count = printf_count
        self.printf_offset = printf_offset
        self.printf_multiple = printf_multiple
        self._next_sequential = 0
        self.rows_by_call_number = False
        """-segment: a SEQUENTIAL call takes row ``(call number - 1) mod rows``, the row the
        whole test gives that call, rather than the next row of this process."""
        self._index: dict[str, int] | None = None
        self._index_field = -1

    @property
    def line_count(self) -> int:
        """Number of usable lines (PRINTF files: the virtual count)."""
        return self.printf_count if self.printf_count else len(self.lines)

    @property
    def is_printf(self) -> bool:
        """True for ``PRINTF=n`` files (which refuse insert/replace)."""
        return self.printf_count > 0

    def line_text(self, line: int) -> str | None:
        """The full text of a line (after PRINTF expansion) or None when out of range."""
        if line < 0 or line >= self.line_count:
            return None
        if not self.printf_count:
            return self.lines[line]
        template = self.lines[line % len(self.lines)]
        number = self.printf_offset + line * self.printf_multiple
        return _expand_printf(template, number)

    def source_line(self, line: int) -> int | None:
        """The file line (1 = the header) that line ``line`` comes from (PRINTF files: its
        template line); None for lines added at run time or out of range."""
        if line < 0 or line >= self.line_count or not self.lines:
            return None
        index = line % len(self.lines)
        return self.source_lines[index] if index < len(self.source_lines) else None

    def field(self, line: int, field: int) -> str | None:
        """Field ``field`` (0-based) of line ``line``; None when the line or field is missing
        (SIPp inserts nothing and warns "Field N not found in the file X")."""
        text = self.line_text(line)
        if text is None:
            return None
        parts = text.split(";")
        if field < 0 or field >= len(parts):
            return None
        return parts[field]

    def next_line(self, user_id: int, rng: random.Random, call_number: int = 0) -> int:
        """The line for a newly created call (docs/sipp-behaviour.md#injection-files): SEQUENTIAL
        wraps, RANDOM is uniform, USER is ``user_id - 1`` (-1 when the call has no user)."""
        count = self.line_count
        if self.order is LineOrder.SEQUENTIAL:
            if self.rows_by_call_number and call_number > 0:
                return (call_number - 1) % count
            line = self._next_sequential % count
            self._next_sequential = line + 1
            return line
        if self.order is LineOrder.RANDOM:
            return rng.randrange(count)
        return user_id - 1 if user_id > 0 else -1

    def check_users(self, users: int) -> None:
        """USER files need ``-users`` and at least as many lines as users."""
        if self.order is not LineOrder.USER:
            return
        if users <= 0:
            raise ConfigError(f"{self.path}: a USER injection file needs -users")
        if users > self.line_count:
            raise ConfigError(
                f"{self.path}: {users} users but only {self.line_count} lines in the file"
            )

    # -infindex and the database actions (docs/sipp-behaviour.md#actions) -------------------

    def build_index(self, field: int) -> None:
        """Index field ``field`` of every line (``-infindex FILE N``); later duplicates win."""
        self._index_field = field
        self._reindex()

    @property
    def has_index(self) -> bool:
        """True after :meth:`build_index`."""
        return self._index is not None

    def _reindex(self) -> None:
        index: dict[str, int] = {}
        for line in range(self.line_count):
            value = self.field(line, self._index_field)
            if value is not None:
                index[value] = line
        self._index = index

    def lookup(self, key: str) -> int:
        """Line number of ``key`` in the index, -1 if absent. Raises ValueError without index."""
        if self._index is None:
            raise ValueError(f"injection file {self.name} has no index (use -infindex)")
        return self._index.get(key, -1)

    def insert(self, text: str) -> None:
        """Append a line (in memory only) and re-index."""
        if self.printf_count:
            raise ValueError(f"can not insert into PRINTF injection file {self.name}")
        self.lines.append(text)
        if self._index is not None:
            self._reindex()

    def replace(self, line: int, text: str) -> None:
        """Replace line ``line`` (in memory only) and re-index."""
        if self.printf_count:
            raise ValueError(f"can not replace in PRINTF injection file {self.name}")
        if line < 0 or line >= len(self.lines):
            raise ValueError(f"line {line} out of range in injection file {self.name}")
        self.lines[line] = text
        if self._index is not None:
            self._reindex()


def _expand_printf(template: str, number: int) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) == "%":
            return "%"
        return ("%" + match.group(1)) % number

    return _PRINTF_CONVERSION.sub(one, template)


def parse_injection_text(path: str, text: str) -> InjectionFile:
    """Parse the contents of an injection file (see :func:`load_injection_file`)."""
    raw_lines = text.split("\n")
    header = raw_lines[0].rstrip("\r")
    # SIPp searches the words in this order (docs/sipp-behaviour.md#injection-files).
    if "RANDOM" in header:
        order = LineOrder.RANDOM
    elif "SEQUENTIAL" in header:
        order = LineOrder.SEQUENTIAL
    elif "USER" in header:
        order = LineOrder.USER
    else:
        raise ConfigError(
            f"{path}:1: unknown injection file type {header!r}: the first line must contain "
            "SEQUENTIAL, RANDOM or USER"
        )
    printf_count = _header_int(path, header, "PRINTF", 0)
    printf_offset = _header_int(path, header, "PRINTFOFFSET", 0)
    printf_multiple = _header_int(path, header, "PRINTFMULTIPLE", 1)
    lines: list[str] = []
    source_lines: list[int] = []
    for number, raw in enumerate(raw_lines[1:], start=2):
        # CRLF files: the CR is stripped (SIPp 3.7 behaviour; 3.6.1 kept it in the last field).
        line = raw[:-1] if raw.endswith("\r") else raw
        if line == "":
            break  # reading stops at the first empty line
        if line.startswith("#"):
            continue
        if printf_count:
            for match in _PRINTF_CONVERSION.finditer(line):
                conv = match.group(2)
                if match.group(1) != "%" and conv not in ("d", "i", "u"):
                    raise ConfigError(
                        f"{path}:{number}: only decimal conversions (%d) are allowed in a "
                        f"PRINTF injection file, found {match.group(0)!r}"
                    )
        lines.append(line)
        source_lines.append(number)
    if not lines:
        raise ConfigError(f"{path}: the injection file has no data lines")
    return InjectionFile(
        path,
        order,
        lines,
        printf_count=printf_count,
        printf_offset=printf_offset,
        printf_multiple=printf_multiple,
        source_lines=source_lines,
    )


def _header_int(path: str, header: str, key: str, default: int) -> int:
    match = re.search(rf"(?:^|,)\s*{key}\s*=\s*([^,]*)", header)
    if match is None:
        return default
    value = match.group(1).strip()
    try:
        return int(value, 0)
    except ValueError:
        raise ConfigError(f"{path}:1: {key}={value!r} is not an integer") from None


def load_injection_file(path: str) -> InjectionFile:
    """Read an ``-inf`` file. Errors are :class:`ConfigError` naming ``file:line``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError(f"{path}: can not read injection file: {exc.strerror}") from None
    return parse_injection_text(path, data.decode("latin-1"))
