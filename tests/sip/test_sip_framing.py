from __future__ import annotations

import pytest

from gossipper.errors import SipParseError
from gossipper.sip import MAX_MESSAGE_SIZE, StreamFramer, parse_message, serialize_message

from .samples import SAMPLE_IDS, SAMPLES, Sample, wire


def _stream_form(sample: Sample) -> bytes:
    """The sample as it must appear on a stream: with a Content-Length matching its body."""
    if sample.name == "bare_lf_line_ends":
        return sample.data  # has a correct Content-Length; keeps its LF line ends
    msg = parse_message(sample.data)
    return serialize_message(msg.first_line, msg.headers, msg.body)


STREAM_MESSAGES = [_stream_form(s) for s in SAMPLES]


def _drain(framer: StreamFramer) -> list[bytes]:
    out: list[bytes] = []
    while (message := framer.next_message()) is not None:
        out.append(message)
    return out


def _feed_in_pieces(data: bytes, size: int) -> list[bytes]:
    framer = StreamFramer()
    out: list[bytes] = []
    for i in range(0, len(data), size):
        framer.feed(data[i : i + size])
        out.extend(_drain(framer))
    assert framer.buffered_size == 0
    return out


@pytest.mark.parametrize("data", STREAM_MESSAGES, ids=SAMPLE_IDS)
@pytest.mark.parametrize("piece", [None, 7, 1], ids=["whole", "7-bytes", "byte-by-byte"])
def test_framer_returns_each_sample_intact(data: bytes, piece: int | None) -> None:
    out = _feed_in_pieces(data, piece or len(data))
    assert out == [data]
    parse_message(out[0])


def test_framer_two_messages_in_one_chunk() -> None:
    framer = StreamFramer()
    framer.feed(STREAM_MESSAGES[0] + STREAM_MESSAGES[2])
    assert framer.next_message() == STREAM_MESSAGES[0]
    assert framer.next_message() == STREAM_MESSAGES[2]
    assert framer.next_message() is None


@pytest.mark.parametrize("piece", [1, 7, 64, 100000])
def test_framer_whole_table_with_keepalives(piece: int) -> None:
    # RFC 5626 keepalives (CRLFCRLF) and single CRLFs between messages are skipped.
    stream = b"\r\n\r\n"
    for i, data in enumerate(STREAM_MESSAGES):
        stream += data + (b"\r\n\r\n" if i % 2 else b"\r\n")
    assert _feed_in_pieces(stream, piece) == STREAM_MESSAGES


def test_framer_keepalive_only() -> None:
    framer = StreamFramer()
    framer.feed(b"\r\n\r\n\r\n")
    assert framer.next_message() is None
    assert framer.buffered_size == 0


def test_framer_waits_for_the_body() -> None:
    framer = StreamFramer()
    data = STREAM_MESSAGES[0]
    framer.feed(data[:-1])
    assert framer.next_message() is None
    assert framer.next_message() is None
    framer.feed(data[-1:])
    assert framer.next_message() == data


@pytest.mark.parametrize(
    ("header", "body_length"),
    [
        ("Content-Length: 3", 3),
        ("content-length : 3", 3),
        ("CONTENT-LENGTH:3", 3),
        ("l: 3", 3),
        ("L:3", 3),
        ("Content-Length: junk", 0),  # SIPp: unparsable counts as 0
        ("Content-Length: -3", 0),
        ("X-Content-Length: 3", 0),
        ("Subject: l: 3", 0),
        ("Max-Forwards: 70", 0),  # missing counts as 0
        ("Content-Length-Extra: 3", 0),
        ("Content-Length-X: 9\r\nContent-Length: 3", 3),
        ("Lines: 9\r\nContent-Length: 3", 3),
        ("Content-Length: 2\r\nl: 3", 2),
        ("l: 1\r\nContent-Length: 3", 1),
    ],
)
def test_framer_content_length_forms(header: str, body_length: int) -> None:
    framer = StreamFramer()
    head = wire(["MESSAGE sip:a SIP/2.0", "Call-ID: x", header])
    framer.feed(head + b"abc")
    assert framer.next_message() == head + b"abc"[:body_length]


def test_framer_oversize_message_raises_and_stays_broken() -> None:
    framer = StreamFramer()
    head = wire(["MESSAGE sip:a SIP/2.0", f"Content-Length: {MAX_MESSAGE_SIZE}"])
    framer.feed(head)
    with pytest.raises(SipParseError, match="exceeds"):
        framer.next_message()
    framer.feed(STREAM_MESSAGES[0])
    with pytest.raises(SipParseError):
        framer.next_message()


def test_framer_endless_headers_raise() -> None:
    framer = StreamFramer(max_message_size=1000)
    framer.feed(b"MESSAGE sip:a SIP/2.0\r\n")
    for _ in range(100):
        framer.feed(b"X-Filler: 0123456789\r\n")
        if framer.buffered_size > 1000:
            with pytest.raises(SipParseError, match="no end of headers"):
                framer.next_message()
            return
        assert framer.next_message() is None
    raise AssertionError("limit never reached")


def test_framer_exact_limit_is_accepted() -> None:
    head = wire(["MESSAGE sip:a SIP/2.0", "Content-Length: 00000"])
    body_length = MAX_MESSAGE_SIZE - len(head)
    head = wire(["MESSAGE sip:a SIP/2.0", f"Content-Length: {body_length:05d}"])
    data = head + b"x" * body_length
    assert len(data) == MAX_MESSAGE_SIZE
    framer = StreamFramer()
    framer.feed(data)
    assert framer.next_message() == data
    parse_message(data)
    framer.feed(head.replace(f"{body_length:05d}".encode(), f"{body_length + 1:05d}".encode()))
    with pytest.raises(SipParseError):
        framer.next_message()


@pytest.mark.parametrize("piece", [1, 2, 3, 1000])
def test_framer_counts_double_crlf_pings_across_reads(piece: int) -> None:
    # RFC 5626: CRLFCRLF is a ping (answered with CRLF); a lone CRLF is not. NUL keep-alives
    # are skipped without counting as line ends.
    stream = b"\r\n\r\n\x00\x00\x00\x00\r\n" + STREAM_MESSAGES[0] + b"\r\n\r\n\r\n\r\n"
    framer = StreamFramer()
    messages = []
    pings = 0
    for start in range(0, len(stream), piece):
        framer.feed(stream[start : start + piece])
        while (message := framer.next_message()) is not None:
            messages.append(message)
        pings += framer.take_pings()
    assert messages == [STREAM_MESSAGES[0]]
    assert pings == 3
    assert framer.take_pings() == 0


def test_framer_counts_messages_without_content_length() -> None:
    framer = StreamFramer()
    framer.feed(b"OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\nOPTIONS sip:b SIP/2.0\r\nl: 0\r\n\r\n")
    assert framer.next_message() == b"OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n"
    assert framer.next_message() == b"OPTIONS sip:b SIP/2.0\r\nl: 0\r\n\r\n"
    assert framer.missing_lengths == 1
