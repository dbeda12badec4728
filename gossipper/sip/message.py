"""SIP message parsing and serialization (RFC 3261 section 7), sans-IO.

This is the per-message hot path: one find of the empty line, one decode of the header section,
one split into lines, one pass over the lines giving ``(name, value)`` pairs plus a parallel list
of canonical keys. Call-ID, CSeq, Content-Length and every later ``header()`` lookup are then a
C-level ``list.index`` over those keys, which measured cheaper than building a dict per message.
Tags and branch are computed on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from gossipper.errors import SipParseError
from gossipper.sip.headers import TOKEN_CHARS, canonical_header_name, header_param, is_token

__all__ = [
    "MAX_MESSAGE_SIZE",
    "SipMessage",
    "message_hash",
    "parse_message",
    "serialize_message",
]

# Final: compiled code uses these constants directly instead of a module dict look-up per use
# (every received message reads most of them).
MAX_MESSAGE_SIZE: Final[int] = 65535
"""Largest message accepted, in bytes (SIPp's SIPP_MAX_MSG_SIZE buffer is 65536 incl. NUL)."""

# Canonical keys the parser needs while splitting the header lines.
_K_CALL_ID: Final = "call-id"
_K_CSEQ: Final = "cseq"
_K_CONTENT_LENGTH: Final = "content-length"

# Header-name spellings already validated as tokens -> canonical key. Under load the same dozen
# spellings repeat, so one dict hit replaces validation, lower() and the compact-form lookup.
# Bounded so that hostile traffic cannot grow it without limit.
_NAME_CACHE: Final[dict[str, str]] = {}
_NAME_CACHE_MAX: Final = 4096

_CR_LF: Final = (13, 10)

_Split = tuple[
    None, str, list[tuple[str, str]], list[str], int, bool, str, str, int, str, str, int, str, int
]
"""What split_head gives for the usual message: the header section's str (None: made when
asked), the start line, the (name, value) pairs, their keys, the body's offset, then the start
line's fields (is_request, method, request_uri, status_code, reason), the Call-ID, the CSeq's
number and method, and the body's length from Content-Length (-1 without one)."""
_SplitHead = Callable[[bytes, dict[str, str]], _Split | None]


def _load_split_head() -> _SplitHead | None:
    try:
        from gossipper.sip._sipfast import split_head
    except ImportError:  # a pure-Python install: the Python split below does it all
        return None
    return split_head


_JoinedLine = Callable[[list[tuple[str, str]], list[str], str], str | None]


def _load_joined_line() -> _JoinedLine | None:
    try:
        from gossipper.sip._sipfast import joined_line
    except ImportError:  # a pure-Python install: joined_line_of builds the text itself
        return None
    return joined_line


_C_SPLIT_HEAD: Final = _load_split_head()
"""The C accelerator's split of the usual header section (gossipper/sip/_sipfast.c), or None.
It answers None for anything unusual (LF line ends, folding, a new spelling, an error), which
the Python path then parses: that path stays the reference (tests/sip/test_sipfast.py)."""

_C_JOINED_LINE: Final = _load_joined_line()
"""The C accelerator's ``[last_Name:]`` text (gossipper/sip/_sipfast.c), or None; it too
answers None for what it does not build, and the Python path does it."""


def _split_head_lf(data: bytes) -> tuple[str, list[str], int]:
    """Header section, its lines and the body offset, for CRLF and bare-LF line ends alike.

    RFC 3261 section 7.5 asks for CRLF but robust parsers accept LF; the header section ends at
    the first empty line, whichever line end it uses.
    """
    # head_end is the index of the LF that ends the last header line.
    head_end = data.find(b"\n\r\n")
    lflf = data.find(b"\n\n", 0, head_end + 1 if head_end >= 0 else len(data))
    if lflf >= 0:
        head_end = lflf
        body_start = lflf + 2
    elif head_end >= 0:
        body_start = head_end + 3
    else:
        raise SipParseError("no empty line after the headers")
    head = data[:head_end].decode("latin-1")
    if head[-1:] == "\r":
        head = head[:-1]
    lines = [line[:-1] if line[-1:] == "\r" else line for line in head.split("\n")]
    return head, lines, body_start


def _content_length(headers: list[tuple[str, str]], keys: list[str], available: int) -> int:
    """The body's length from the first Content-Length (-1 without one), at most
    ``available``; raises SipParseError for any other value."""
    try:
        text = headers[keys.index(_K_CONTENT_LENGTH)][1]
    except ValueError:
        return -1
    if not (text.isascii() and text.isdigit()):
        raise SipParseError(f"bad Content-Length {text[:40]!r}")
    length = int(text) if len(text) <= 10 else available + 1
    if length > available:
        raise SipParseError(f"Content-Length {text[:40]} larger than the {available}-byte body")
    return length


def _split_headers(lines: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """``(name, value)`` pairs and their canonical keys for the header lines ``lines[1:]``.

    Fast path: every line has a colon and a name spelling already validated (the usual case
    under load). A folded line starts with whitespace, and such a "name" is never in the cache,
    so folding, new spellings and errors all go through :func:`_split_headers_slow`.
    """
    headers: list[tuple[str, str]] = []
    keys: list[str] = []
    get = _NAME_CACHE.get
    add_header = headers.append
    add_key = keys.append
    it = iter(lines)
    next(it)  # the start line
    for line in it:
        name, colon, value = line.partition(":")
        key = get(name)
        if key is None or not colon:
            return _split_headers_slow(lines)
        add_header((name, value.strip(" \t")))
        add_key(key)
    return headers, keys


def _split_headers_slow(lines: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    headers: list[tuple[str, str]] = []
    keys: list[str] = []
    cache = _NAME_CACHE
    for i in range(1, len(lines)):
        line = lines[i]
        c0 = line[:1]
        if c0 == " " or c0 == "\t":
            # RFC 3261 section 7.3.1: a line starting with whitespace continues the previous
            # header; unfold into one line joined by a single space.
            if not headers:
                raise SipParseError("continuation line before the first header")
            cont = line.strip(" \t")
            if cont:
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {cont}" if value else cont)
            continue
        colon = line.find(":")
        if colon < 0:
            raise SipParseError(f"header line without colon: {line[:80]!r}")
        name = line[:colon]
        key = cache.get(name)
        if key is None:
            # A spelling not seen before: validate it; "Name :" is legal (RFC 3261 HCOLON).
            name = name.rstrip(" \t")
            if not is_token(name):
                raise SipParseError(f"bad header name {name[:80]!r}")
            key = canonical_header_name(name)
            if len(cache) < _NAME_CACHE_MAX and name == line[:colon]:
                cache[name] = key
        headers.append((name, line[colon + 1 :].strip(" \t")))
        keys.append(key)
    return headers, keys


def _start_line_fields(first: str) -> tuple[bool, str, str, int, str]:
    """(is_request, method, request_uri, status_code, reason) of a start line; raises
    :class:`SipParseError` if it is neither a SIP/2.0 request nor a response line."""
    if first.startswith("SIP/2.0 ") or first[:8].upper() == "SIP/2.0 ":
        code = first[8:11]
        if len(code) != 3 or not (code.isascii() and code.isdigit()):
            raise SipParseError(f"bad status code in {first[:80]!r}")
        status = int(code)
        if status < 100 or status > 699:
            raise SipParseError(f"status code {status} out of range 100-699")
        rest = first[11:]
        if rest and rest[0] != " ":
            raise SipParseError(f"bad status code in {first[:80]!r}")
        return False, "", "", status, rest[1:].strip(" \t")
    parts = first.split(" ")
    if len(parts) != 3 or (parts[2] != "SIP/2.0" and parts[2].upper() != "SIP/2.0"):
        raise SipParseError(f"not a SIP/2.0 start line: {first[:80]!r}")
    method, uri = parts[0], parts[1]
    if not method or method.strip(TOKEN_CHARS):
        raise SipParseError(f"bad method in {first[:80]!r}")
    if not uri:
        raise SipParseError("empty Request-URI")
    return True, method, uri, 0, ""


def _call_id_and_cseq(headers: list[tuple[str, str]], keys: list[str]) -> tuple[str, int, str]:
    """The first Call-ID ("" if none), and the CSeq's number (-1 unless 1 to 10 digits) and
    method ("" if none)."""
    try:
        call_id = headers[keys.index(_K_CALL_ID)][1]
    except ValueError:
        call_id = ""
    cseq_number = -1
    cseq_method = ""
    try:
        cseq = headers[keys.index(_K_CSEQ)][1].split()
    except ValueError:
        cseq = []
    if cseq:
        num = cseq[0]
        # RFC 3261 section 8.1.1.5: CSeq number < 2**31 (and int() limits digit counts).
        if num.isascii() and num.isdigit() and len(num) <= 10:
            cseq_number = int(num)
        if len(cseq) > 1:
            cseq_method = cseq[1]
    return call_id, cseq_number, cseq_method


class SipMessage:
    """One parsed SIP request or response. Treat as immutable.

    Build it with :func:`parse_message`. Strings are the latin-1 view of the wire bytes.
    ``raw`` is the message exactly as framed: leading CRLFs dropped and, when Content-Length is
    shorter than the datagram, the surplus bytes cut off (RFC 3261 section 18.3).
    """

    __slots__ = (
        "raw",
        "is_request",
        "method",
        "request_uri",
        "status_code",
        "reason",
        "first_line",
        "headers",
        "body",
        "call_id",
        "cseq_number",
        "cseq_method",
        "_keys",
        "_head",
        "_joined",
    )

    raw: bytes
    is_request: bool
    method: str
    request_uri: str
    status_code: int
    reason: str
    first_line: str
    headers: list[tuple[str, str]]
    body: bytes
    call_id: str
    cseq_number: int
    cseq_method: str
    _keys: list[str]
    _head: str | None
    _joined: dict[str, str] | None

    def __init__(self, source: bytes | bytearray | memoryview) -> None:
        """Parse ``source``; raises :class:`SipParseError` (and nothing else) if malformed."""
        # The union is spelled out (not just ``bytes``) because a mypyc build checks argument
        # types at runtime and would reject a bytearray or memoryview.
        data = source if type(source) is bytes else bytes(source)
        size = len(data)
        if size > MAX_MESSAGE_SIZE:
            raise SipParseError(
                f"message of {size} bytes exceeds the {MAX_MESSAGE_SIZE}-byte limit"
            )
        if size and data[0] in _CR_LF:
            # RFC 3261 section 7.5: CRLFs before the start line are ignored.
            data = data.lstrip(b"\r\n")
            size = len(data)
        if not size:
            raise SipParseError("empty message")

        head: str | None
        split = _C_SPLIT_HEAD(data, _NAME_CACHE) if _C_SPLIT_HEAD is not None else None
        if split is not None:
            # The usual message, split and its start line, Call-ID and CSeq read in C; the
            # header section's str is left to header_text (rarely asked for).
            (
                head,
                first,
                headers,
                keys,
                body_start,
                is_request,
                method,
                request_uri,
                status_code,
                reason,
                call_id,
                cseq_number,
                cseq_method,
                length,
            ) = split
        else:
            # Fast path: CRLF line ends throughout. If the header section holds a bare LF
            # anywhere (LF line ends, or an earlier LF-only blank line), the general split
            # takes over.
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0:
                body_start = head_end + 4
                head = data[:head_end].decode("latin-1")
                lines = head.split("\r\n")
                if head.count("\n") != len(lines) - 1:
                    head, lines, body_start = _split_head_lf(data)
            else:
                head, lines, body_start = _split_head_lf(data)
            first = lines[0]
            is_request, method, request_uri, status_code, reason = _start_line_fields(first)
            # After the start line's checks, so that its errors come first (as with C).
            headers, keys = _split_headers(lines)
            call_id, cseq_number, cseq_method = _call_id_and_cseq(headers, keys)
            length = _content_length(headers, keys, size - body_start)

        self.first_line = first
        self.is_request = is_request
        self.method = method
        self.request_uri = request_uri
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self._keys = keys
        self._head = head
        self._joined = None
        self.call_id = call_id
        self.cseq_number = cseq_number
        self.cseq_method = cseq_method

        if length < 0 or length == size - body_start:
            # Without Content-Length the body is the rest of the datagram (RFC 3261 section
            # 18.3).
            self.body = data[body_start:]
            self.raw = data
        else:
            # RFC 3261 section 18.3: surplus bytes after Content-Length are discarded.
            end = body_start + length
            self.body = data[body_start:end]
            self.raw = data[:end]

    def __repr__(self) -> str:
        return f"<SipMessage {self.first_line!r} call_id={self.call_id!r}>"

    def header(self, name: str) -> str | None:
        """Value of the first header called ``name`` (case-insensitive, compact forms too)."""
        try:
            i = self._keys.index(canonical_header_name(name))
        except ValueError:
            return None
        return self.headers[i][1]

    def header_values(self, name: str) -> list[str]:
        """Values of every header line called ``name``, in order (not split on commas)."""
        key = canonical_header_name(name)
        return [h[1] for h, k in zip(self.headers, self._keys, strict=True) if k == key]

    def header_lines(self, name: str) -> list[tuple[str, str]]:
        """``(name as written, value)`` of every header line called ``name``, in order."""
        key = canonical_header_name(name)
        return [h for h, k in zip(self.headers, self._keys, strict=True) if k == key]

    def joined_header_line(self, name: str) -> str:
        """``Name: v1, v2``: every header line called ``name`` on one line, "" if there is none.

        The name is spelled as in the first such line; this is what SIPp's ``[last_Name:]``
        keyword writes (docs/sipp-behaviour.md#message-text-and-keywords).
        """
        return self.joined_line_of(canonical_header_name(name))

    def joined_line_of(self, key: str) -> str:
        """:meth:`joined_header_line` for a canonical key (:func:`canonical_header_name`).

        Built in C where the accelerator is there (one pass over the keys). The Python path
        below memoizes the text: a UAS renders the same ``[last_*]`` lines of one request into
        several responses.
        """
        if _C_JOINED_LINE is not None:
            text = _C_JOINED_LINE(self.headers, self._keys, key)
            if text is not None:
                return text
        joined = self._joined
        if joined is None:
            joined = self._joined = {}
        else:
            text = joined.get(key)
            if text is not None:
                return text
        keys = self._keys
        try:
            i = keys.index(key)
        except ValueError:
            text = ""
        else:
            # C-level index/count: no per-header Python loop in the usual one-line case.
            header_name, value = self.headers[i]
            if keys.count(key) == 1:
                text = f"{header_name}: {value}"
            else:
                # A canonical key is its own canonical name: header_values takes it as is.
                text = f"{header_name}: " + ", ".join(self.header_values(key))
        joined[key] = text
        return text

    @property
    def to_tag(self) -> str | None:
        """The ``tag`` parameter of the To header, or None."""
        value = self.header("to")
        return None if value is None else header_param(value, "tag")

    @property
    def from_tag(self) -> str | None:
        """The ``tag`` parameter of the From header, or None."""
        value = self.header("from")
        return None if value is None else header_param(value, "tag")

    @property
    def via_branch(self) -> str | None:
        """The ``branch`` parameter of the first Via (first header line, first comma item)."""
        value = self.header("via")
        return None if value is None else header_param(value, "branch")

    @property
    def text(self) -> str:
        """The whole message as a latin-1 str."""
        return self.raw.decode("latin-1")

    @property
    def header_text(self) -> str:
        """Start line and header lines as received (original line ends, no final blank line)."""
        head = self._head
        if head is None:
            # The C split (CRLF CRLF ends the headers) left it: raw and body share the end.
            raw = self.raw
            head = self._head = raw[: len(raw) - len(self.body) - 4].decode("latin-1")
        return head


def parse_message(data: bytes | bytearray | memoryview) -> SipMessage:
    """Parse one complete SIP message; raises :class:`SipParseError` (only) if malformed."""
    return SipMessage(data)


def serialize_message(first_line: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    """Wire bytes of a message: start line, ``Name: value`` lines, blank line, body (CRLF ends).

    Every Content-Length header (any spelling) gets ``len(body)`` as its value; if there is none,
    ``Content-Length`` is appended. Strings must be latin-1 views (see the project conventions).
    """
    length = str(len(body))
    lines = [first_line]
    has_length = False
    for name, value in headers:
        if canonical_header_name(name) == _K_CONTENT_LENGTH:
            value = length
            has_length = True
        lines.append(f"{name}: {value}")
    if not has_length:
        lines.append(f"Content-Length: {length}")
    lines.append("")
    lines.append("")
    head = "\r\n".join(lines).encode("latin-1")
    return head + body if body else head


def trying_response(request: SipMessage) -> bytes:
    """A ``100 Trying`` for ``request``: the request's lines it must copy (RFC 3261 8.2.6.1 and
    8.2.6.2: Via, From, To, Call-ID and CSeq, and a Timestamp when there is one), in their order
    and spelling, and ``Content-Length: 0``. The To keeps whatever tag the request had (a 100
    Trying need not add one)."""
    # A server behind its socket sends one per INVITE it holds, so this is written for the
    # compiled build: an index loop and a test against a tuple display, where zip(strict=True)
    # and a frozenset were generic calls (half the time: 0.96 -> 0.44 us), and one join, not
    # serialize_message's look-up of every name.
    headers = request.headers
    keys = request._keys
    parts = ["SIP/2.0 100 Trying\r\n"]
    for i in range(len(keys)):
        key = keys[i]
        if key in ("via", "from", "to", _K_CALL_ID, _K_CSEQ, "timestamp"):
            name, value = headers[i]
            parts.append(name)
            parts.append(": ")
            parts.append(value)
            parts.append("\r\n")
    parts.append("Content-Length: 0\r\n\r\n")
    return "".join(parts).encode("latin-1")


def message_hash(msg: SipMessage, *, loose: bool) -> int:
    """Fingerprint used to recognise UDP retransmissions (SIPp ``-rtcheck``,
    docs/sipp-behaviour.md#retransmissions).

    ``loose=False`` hashes the whole message; ``loose=True`` hashes the To, From, Call-ID and
    CSeq values, plus the status line and body for responses. Only compare values computed in
    the same process (Python's hash is salted per process).
    """
    if not loose:
        return hash(msg.raw)
    parts = (
        msg.header("to"),
        msg.header("from"),
        msg.call_id,
        msg.header("cseq"),
    )
    if msg.is_request:
        return hash(parts)
    return hash((parts, msg.first_line, msg.body))
