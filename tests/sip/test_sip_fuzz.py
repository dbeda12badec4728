"""Property tests: no input makes the parser or the framer raise anything but SipParseError."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gossipper.errors import SipParseError
from gossipper.sip import (
    StreamFramer,
    canonical_header_name,
    header_param,
    parse_message,
    parse_uri,
    serialize_message,
    uri_in_brackets,
)
from gossipper.sip.headers import TOKEN_CHARS

from .samples import SAMPLES

# GOSSIPPER_FUZZ_EXAMPLES raises the example count for a long local or nightly fuzz run.
FAST = settings(
    max_examples=int(os.environ.get("GOSSIPPER_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Bytes that matter to the grammar, so mutations hit the interesting paths often.
SPECIAL = [
    b"\r\n",
    b"\n",
    b"\r",
    b":",
    b" ",
    b"\t",
    b";",
    b"<",
    b">",
    b'"',
    b",",
    b"\r\n\r\n",
    b"\x00",
]


def _try_parse(data: bytes) -> None:
    try:
        msg = parse_message(data)
    except SipParseError as exc:
        assert exc.reason
        return
    # Whatever parsed must answer every accessor without raising.
    assert msg.raw
    for name in ("via", "to", "from", "call-id", "cseq", "contact", "l"):
        msg.header(name)
        msg.header_values(name)
        msg.header_lines(name)
    _ = (msg.to_tag, msg.from_tag, msg.via_branch, msg.text, msg.header_text)
    for _name, value in msg.headers:
        uri_in_brackets(value)
        header_param(value, "tag")
    try:
        parse_uri(msg.request_uri)
    except SipParseError:
        pass
    # And re-serializing it parses again to the same thing.
    again = parse_message(serialize_message(msg.first_line, msg.headers, msg.body))
    assert again.first_line == msg.first_line
    assert again.body == msg.body


@FAST
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    _try_parse(data)


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)).data)
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data)))
        kind = draw(st.integers(0, 4))
        if kind == 0:
            data[pos:pos] = draw(st.sampled_from(SPECIAL))
        elif kind == 1:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == 2:
            del data[pos : pos + draw(st.integers(1, 20))]
        elif kind == 3 and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        else:
            end = draw(st.integers(pos, len(data)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


@FAST
@given(mutated_samples())
def test_mutated_valid_messages(data: bytes) -> None:
    _try_parse(data)


@FAST
@given(st.lists(st.binary(max_size=300), max_size=12), st.data())
def test_framer_arbitrary_chunks(chunks: list[bytes], data: st.DataObject) -> None:
    framer = StreamFramer(max_message_size=data.draw(st.sampled_from([200, 65535])))
    try:
        for chunk in chunks:
            framer.feed(chunk)
            while (message := framer.next_message()) is not None:
                assert message
                _try_parse(message)
    except SipParseError as exc:
        assert exc.reason


@FAST
@given(st.lists(mutated_samples(), min_size=1, max_size=4), st.integers(1, 50))
def test_framer_mutated_stream(messages: list[bytes], piece: int) -> None:
    stream = b"".join(messages)
    framer = StreamFramer()
    total = 0
    try:
        for i in range(0, len(stream), piece):
            framer.feed(stream[i : i + piece])
            while (message := framer.next_message()) is not None:
                total += len(message)
                _try_parse(message)
    except SipParseError:
        return
    # Nothing is lost: every byte is either returned, skipped as a line end, or still buffered.
    assert total + framer.buffered_size <= len(stream)


TOKENS = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=20)
# Any latin-1 character except line ends; no leading/trailing blanks (those are stripped).
VALUE_CHARS = st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\r\n")
VALUES = st.text(alphabet=VALUE_CHARS, max_size=60).map(lambda v: v.strip(" \t"))
URIS = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=255), min_size=1, max_size=40)


@st.composite
def first_lines(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return f"{draw(TOKENS)} {draw(URIS)} SIP/2.0"
    reason = draw(st.text(alphabet=VALUE_CHARS, max_size=30)).strip(" \t")
    code = draw(st.integers(100, 699))
    return f"SIP/2.0 {code} {reason}" if reason else f"SIP/2.0 {code}"


@FAST
@given(
    first_lines(),
    st.lists(st.tuples(TOKENS, VALUES), max_size=15),
    st.binary(max_size=200),
)
def test_serialize_parse_round_trip(
    first_line: str, headers: list[tuple[str, str]], body: bytes
) -> None:
    data = serialize_message(first_line, headers, body)
    msg = parse_message(data)
    assert msg.first_line == first_line
    assert msg.body == body
    length = str(len(body))
    expected = [
        (n, length if canonical_header_name(n) == "content-length" else v) for n, v in headers
    ]
    if not any(canonical_header_name(n) == "content-length" for n, _ in headers):
        expected.append(("Content-Length", length))
    assert msg.headers == expected
    # The framer cuts exactly this message out of a stream.
    framer = StreamFramer()
    framer.feed(data + data)
    assert framer.next_message() == data
    assert framer.next_message() == data


@FAST
@given(st.lists(st.text(alphabet="ab ", min_size=1, max_size=8), min_size=1, max_size=5))
def test_folded_value_unfolds_to_single_spaces(words: list[str]) -> None:
    words = [w.strip() for w in words if w.strip()]
    if not words:
        return
    lines = ["OPTIONS sip:a SIP/2.0", f"Subject: {words[0]}"]
    lines += [("\t" if i % 2 else "   ") + w for i, w in enumerate(words[1:])]
    msg = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert msg.headers == [("Subject", " ".join(words))]


@FAST
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=80))
def test_uri_and_param_helpers_never_crash(text: str) -> None:
    try:
        parse_uri(text)
    except SipParseError:
        pass
    uri_in_brackets(text)
    header_param(text, "tag")
    canonical_header_name(text)


def _frames_alone(data: bytes) -> bool:
    """A sample the framer returns whole when it is the only thing on the stream (a valid
    stream message: its Content-Length covers exactly its body)."""
    framer = StreamFramer()
    framer.feed(data)
    try:
        return framer.next_message() == data and framer.buffered_size == 0
    except SipParseError:
        return False


STREAM_MESSAGES = [s.data for s in SAMPLES if _frames_alone(s.data) and s.data[:1] not in b"\r\n"]
# Between messages a sender may put keep-alives: CRLF pairs (two make one ping) and NULs.
KEEPALIVES = st.sampled_from([b"", b"", b"\r\n\r\n", b"\r\n\r\n\r\n\r\n", b"\0\0\0\0"])


def test_enough_stream_messages_to_fuzz_with() -> None:
    assert len(STREAM_MESSAGES) >= 5
    assert any(b"\r\n\r\nv=0" in m for m in STREAM_MESSAGES)  # some carry a body


@FAST
@given(
    st.lists(st.tuples(KEEPALIVES, st.sampled_from(STREAM_MESSAGES)), min_size=1, max_size=8),
    st.data(),
)
def test_framer_returns_every_message_in_order(
    sequence: list[tuple[bytes, bytes]], data: st.DataObject
) -> None:
    """Nothing invented, nothing lost: a stream of valid messages (with keep-alives between),
    cut at random points into reads of any size, comes out as exactly those messages, in
    order, and every CRLFCRLF ping is counted."""
    stream = b"".join(keepalive + message for keepalive, message in sequence)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(len(stream) - 1, 1)), max_size=20)))
    framer = StreamFramer()
    out: list[bytes] = []
    pings = 0
    for begin, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        framer.feed(stream[begin:end])
        while (message := framer.next_message()) is not None:
            out.append(message)
        pings += framer.take_pings()
    assert out == [message for _, message in sequence]
    assert framer.buffered_size == 0
    assert pings == sum(keepalive.count(b"\r\n\r\n") for keepalive, _ in sequence)
