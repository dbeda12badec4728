"""Stream (TCP/TLS) framing of SIP messages (RFC 3261 section 18.3,
docs/sipp-behaviour.md#stream-framing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, NoReturn

from gossipper.errors import SipParseError
from gossipper.sip.message import MAX_MESSAGE_SIZE

__all__ = ["StreamFramer"]

_CONTENT_LENGTH_NAMES = (b"content-length", b"l")


_ContentLength = Callable[[bytes | bytearray, int], int]
_CutMessage = Callable[[bytearray, int, int], bytes | None]


def _load_accelerator() -> tuple[_ContentLength | None, _CutMessage | None]:
    try:
        from gossipper.sip._sipfast import content_length, cut_message
    except ImportError:  # a pure-Python install: the Python code below does it all
        return None, None
    return content_length, cut_message


_ACCELERATOR: Final = _load_accelerator()
_C_CONTENT_LENGTH: Final = _ACCELERATOR[0]
_C_CUT_MESSAGE: Final = _ACCELERATOR[1]
"""The C accelerator (gossipper/sip/_sipfast.c): ``_content_length`` of ``buffer[:end]`` without
copying it, and ``cut_message``, the usual step of :meth:`StreamFramer.next_message` in one call
(it answers None for everything else, which the Python code then handles). The Python path
stays the reference (tests/sip/test_sipfast.py)."""


def _content_length(head: bytes) -> int:
    """Content-Length of a header section (long or compact form, any case); -1 when missing.

    SIPp rule (docs/sipp-behaviour.md#stream-framing): missing means 0 (the caller maps -1 to 0
    and counts it) and an unparsable value also counts as 0, so a garbled header cannot stall
    the stream; parse_message reports it afterwards.
    """
    lowered = head.lower()
    pos = lowered.find(b"\ncontent-length")
    if pos >= 0 and b"\nl" not in lowered:
        # Usual case: one long-form header and no line that could be the compact "l:" form.
        end = lowered.find(b"\n", pos + 1)
        length = _length_value(lowered[pos + 1 : end if end >= 0 else len(lowered)])
        if length is not None:
            return length
    elif pos < 0 and b"\nl" not in lowered:
        return -1
    for line in lowered.split(b"\n")[1:]:  # [0] is the start line
        length = _length_value(line)
        if length is not None:
            return length
    return -1


def _length_value(line: bytes) -> int | None:
    """Value of a lower-cased header line if it is Content-Length (0 if unparsable), else None."""
    colon = line.find(b":")
    if colon <= 0 or line[:1] in (b" ", b"\t"):
        return None
    if line[:colon].rstrip(b" \t") not in _CONTENT_LENGTH_NAMES:
        return None
    value = line[colon + 1 :].strip(b" \t\r")
    if value.isdigit() and len(value) <= 10:
        return int(value)
    return 0


class StreamFramer:
    """Cuts a byte stream into whole SIP messages: headers, empty line, Content-Length bytes.

    Feed received bytes with :meth:`feed`, then call :meth:`next_message` until it returns
    None. CRLFs between messages (RFC 5626 keepalives) are skipped. A message longer than
    ``max_message_size`` raises :class:`SipParseError`; the framer is unusable afterwards (the
    stream has lost sync, so the connection should be closed).
    """

    __slots__ = ("_buf", "_max", "_scan_from", "_broken", "_crlf_run", "_pings", "missing_lengths")

    def __init__(self, max_message_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self._max = max_message_size
        # Where to resume looking for the end of the headers (bytes before it were scanned).
        self._scan_from = 0
        self._broken: str | None = None
        # Line-end bytes skipped since the last message (across reads): every four of them
        # (CRLFCRLF) are one RFC 5626 keep-alive ping, which the connection answers.
        self._crlf_run = 0
        self._pings = 0
        # Messages framed without a Content-Length header (taken as 0); the reader resets it.
        self.missing_lengths = 0

    def take_pings(self) -> int:
        """Double-CRLF keep-alive pings seen since the last call (each wants a CRLF pong)."""
        pings = self._pings
        self._pings = 0
        return pings

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buf += data

    @property
    def buffered_size(self) -> int:
        """Number of bytes held, not yet returned as messages."""
        return len(self._buf)

    def next_message(self) -> bytes | None:
        """Next complete message, or None if more bytes are needed."""
        if self._broken is not None:
            raise SipParseError(self._broken)
        buf = self._buf
        if buf and buf[0] in (13, 10, 0):  # CR, LF, NUL
            # Keepalive CRLFs (RFC 5626 section 3.5.1), stray line ends before a start line, or
            # the 4-NUL keep-alives some UAs send (SIPp ignores both kinds).
            skip = 0
            line_ends = 0
            size = len(buf)
            while skip < size and buf[skip] in (13, 10, 0):
                line_ends += buf[skip] != 0
                skip += 1
            del buf[:skip]
            self._scan_from = 0
            run = self._crlf_run + line_ends
            self._pings += run // 4
            self._crlf_run = run % 4
        if not buf:
            return None
        self._crlf_run = 0

        start = max(self._scan_from - 2, 0)
        if _C_CUT_MESSAGE is not None:
            message = _C_CUT_MESSAGE(buf, start, self._max)
            if message is not None:
                self._scan_from = 0
                return message
        end = buf.find(b"\n\r\n", start)
        if end >= 0:
            body_start = end + 3
            # A bare-LF blank line may come first ("...\n\n\r\n" ends the headers at the LFLF).
            lflf = buf.find(b"\n\n", start, end + 1)
            if lflf >= 0:
                end = lflf
                body_start = lflf + 2
        else:
            end = buf.find(b"\n\n", start)
            body_start = end + 2
        if end < 0:
            if len(buf) > self._max:
                self._fail(f"no end of headers within {self._max} bytes")
            self._scan_from = len(buf)
            return None

        if _C_CONTENT_LENGTH is not None:
            length = _C_CONTENT_LENGTH(buf, end)
        else:
            length = _content_length(bytes(buf[:end]))
        if length < 0:
            # RFC 3261 18.3 requires Content-Length on streams; SIPp takes a missing one as 0.
            self.missing_lengths += 1
            length = 0
        total = body_start + length
        if total > self._max:
            self._fail(f"message of {total} bytes exceeds the {self._max}-byte limit")
        if len(buf) < total:
            # Headers complete, body not yet; rescanning will find the same end quickly.
            self._scan_from = end
            return None
        message = bytes(buf[:total])
        del buf[:total]
        self._scan_from = 0
        return message

    def _fail(self, reason: str) -> NoReturn:
        self._broken = reason
        self._buf.clear()
        raise SipParseError(reason)
