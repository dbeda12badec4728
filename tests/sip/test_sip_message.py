from __future__ import annotations

import pytest

from gossipper.errors import SipParseError
from gossipper.sip import (
    MAX_MESSAGE_SIZE,
    SipMessage,
    message_hash,
    parse_message,
    serialize_message,
    trying_response,
)

from .samples import SAMPLE_IDS, SAMPLES, Sample, wire


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
def test_parse_table(sample: Sample) -> None:
    msg = parse_message(sample.data)
    assert msg.first_line == sample.first_line
    assert msg.headers == sample.headers
    assert msg.body == sample.body
    assert msg.is_request is sample.is_request
    assert msg.method == sample.method
    assert msg.request_uri == sample.request_uri
    assert msg.status_code == sample.status_code
    assert msg.reason == sample.reason
    assert msg.call_id == sample.call_id
    assert msg.cseq_number == sample.cseq_number
    assert msg.cseq_method == sample.cseq_method
    assert msg.to_tag == sample.to_tag
    assert msg.from_tag == sample.from_tag
    assert msg.via_branch == sample.via_branch
    for name, value in sample.extra.items():
        assert msg.header(name) == value
    assert isinstance(msg.raw, bytes)
    assert msg.raw.endswith(msg.body)
    assert msg.text == msg.raw.decode("latin-1")
    assert msg.header_text.startswith(msg.first_line)
    assert msg.text.startswith(msg.header_text)


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
def test_serialize_round_trip(sample: Sample) -> None:
    msg = parse_message(sample.data)
    data = serialize_message(msg.first_line, msg.headers, msg.body)
    again = parse_message(data)
    assert again.first_line == msg.first_line
    assert again.body == msg.body
    expected = list(msg.headers)
    if msg.header("Content-Length") is None:
        expected.append(("Content-Length", str(len(msg.body))))
    assert again.headers == expected
    # Serializing what we parsed is a fixed point after one round.
    assert serialize_message(again.first_line, again.headers, again.body) == data
    if sample.canonical:
        assert data == sample.data


def test_serialize_sets_content_length_in_any_spelling() -> None:
    data = serialize_message("MESSAGE sip:a@b SIP/2.0", [("i", "x"), ("l", "999")], b"hey")
    assert data == b"MESSAGE sip:a@b SIP/2.0\r\ni: x\r\nl: 3\r\n\r\nhey"
    data = serialize_message("SIP/2.0 200 OK", [("Call-ID", "x")])
    assert data == b"SIP/2.0 200 OK\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n"


def test_raw_is_cut_to_content_length() -> None:
    msg = parse_message(wire(["INFO sip:a@b SIP/2.0", "Content-Length: 2"], "abcdef"))
    assert msg.body == b"ab"
    assert msg.raw.endswith(b"\r\n\r\nab")


def test_leading_crlf_not_in_raw() -> None:
    msg = parse_message(b"\r\n" + wire(["OPTIONS sip:a SIP/2.0", "Call-ID: 1"]))
    assert msg.raw.startswith(b"OPTIONS ")


def test_accepts_bytearray_and_memoryview() -> None:
    data = SAMPLES[0].data
    for view in (bytearray(data), memoryview(data)):
        msg = parse_message(view)  # type: ignore[arg-type]
        assert type(msg.raw) is bytes
        assert msg.call_id == SAMPLES[0].call_id


def _invite() -> SipMessage:
    return parse_message(SAMPLES[0].data)


def test_header_lookup_is_case_insensitive_and_knows_compact_forms() -> None:
    msg = _invite()
    assert msg.header("call-id") == "1-7107@127.0.0.1"
    assert msg.header("CALL-ID") == "1-7107@127.0.0.1"
    assert msg.header("i") == "1-7107@127.0.0.1"
    assert msg.header("I") == "1-7107@127.0.0.1"
    assert msg.header("v") == msg.header("Via")
    assert msg.header("l") == "129"
    assert msg.header("X-Missing") is None
    compact = parse_message(SAMPLES[7].data)  # compact_forms
    assert compact.header("Call-ID") == "compact-call@10.0.0.1"
    assert compact.header("via") == "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKcompact"
    assert compact.header("Content-Length") == "129"
    assert compact.header("From") == "<sip:alice@atlanta.example.com>;tag=88sja8x"
    assert compact.header("To") == "Bob <sip:bob@biloxi.example.com>"


def test_header_values_and_lines_keep_every_line_in_order() -> None:
    msg = parse_message(SAMPLES[8].data)  # repeated_via_and_comma_list
    assert msg.header_values("via") == [
        "SIP/2.0/UDP p1.example.com;branch=z9hG4bKa, SIP/2.0/UDP p2;branch=z9hG4bKb",
        "SIP/2.0/UDP p3.example.com;branch=z9hG4bKc",
        "SIP/2.0/UDP p4.example.com;branch=z9hG4bKd",
    ]
    assert msg.header_lines("V") == [
        ("Via", "SIP/2.0/UDP p1.example.com;branch=z9hG4bKa, SIP/2.0/UDP p2;branch=z9hG4bKb"),
        ("Via", "SIP/2.0/UDP p3.example.com;branch=z9hG4bKc"),
        ("v", "SIP/2.0/UDP p4.example.com;branch=z9hG4bKd"),
    ]
    assert msg.header_values("Record-Route") == []
    assert msg.header_lines("Record-Route") == []
    assert msg.via_branch == "z9hG4bKa"


def test_first_occurrence_wins_for_call_id_and_cseq() -> None:
    msg = parse_message(
        wire(["BYE sip:a SIP/2.0", "i: first", "Call-ID: second", "CSeq: 9 BYE", "CSeq: 10 BYE"])
    )
    assert msg.call_id == "first"
    assert msg.cseq_number == 9
    assert msg.header_values("Call-ID") == ["first", "second"]


def test_missing_identity_headers() -> None:
    msg = parse_message(wire(["OPTIONS sip:a SIP/2.0", "Max-Forwards: 70"]))
    assert msg.call_id == ""
    assert msg.cseq_number == -1
    assert msg.cseq_method == ""
    assert msg.to_tag is None
    assert msg.from_tag is None
    assert msg.via_branch is None


@pytest.mark.parametrize(
    ("cseq", "number", "method"),
    [
        ("1 INVITE", 1, "INVITE"),
        ("  2147483647\tACK ", 2147483647, "ACK"),
        ("12345678901 INVITE", -1, "INVITE"),
        ("\u00b2 INVITE", -1, "INVITE"),  # latin-1 superscript two: isdigit() but not int()
        ("-1 BYE", -1, "BYE"),
        ("7", 7, ""),
        ("", -1, ""),
    ],
)
def test_cseq_forms(cseq: str, number: int, method: str) -> None:
    msg = parse_message(wire(["OPTIONS sip:a SIP/2.0", f"CSeq: {cseq}"]))
    assert (msg.cseq_number, msg.cseq_method) == (number, method)


def test_header_text_has_original_line_ends() -> None:
    msg = parse_message(wire(["SIP/2.0 100 Trying", "Call-ID: a"], "x", eol="\n"))
    assert msg.header_text == "SIP/2.0 100 Trying\nCall-ID: a"
    msg = parse_message(wire(["SIP/2.0 100 Trying", "Call-ID: a"]))
    assert msg.header_text == "SIP/2.0 100 Trying\r\nCall-ID: a"


def test_lf_blank_line_before_crlf_blank_line() -> None:
    # The first empty line ends the headers even if a CRLFCRLF follows in the body.
    msg = parse_message(b"OPTIONS sip:a SIP/2.0\nCall-ID: z\n\n\r\nmore\r\n\r\n")
    assert msg.headers == [("Call-ID", "z")]
    assert msg.body == b"\r\nmore\r\n\r\n"


def test_mixed_line_ends() -> None:
    msg = parse_message(b"OPTIONS sip:a SIP/2.0\r\nCall-ID: z\nCSeq: 1 OPTIONS\r\n\r\nb")
    assert msg.headers == [("Call-ID", "z"), ("CSeq", "1 OPTIONS")]
    assert msg.body == b"b"


def test_exactly_max_size_is_accepted() -> None:
    head = wire(["MESSAGE sip:a SIP/2.0", "Call-ID: big"])
    body = b"x" * (MAX_MESSAGE_SIZE - len(head))
    msg = parse_message(head + body)
    assert len(msg.raw) == MAX_MESSAGE_SIZE


MALFORMED: list[tuple[bytes, str]] = [
    (b"", "empty"),
    (b"\r\n\r\n", "empty"),
    (b"\n", "empty"),
    (b"INVITE sip:a SIP/2.0\r\nCall-ID: x\r\n", "no empty line"),
    (b"INVITE sip:a SIP/2.0", "no empty line"),
    (b"hello world\r\n\r\n", "not a SIP/2.0 start line"),
    (b"INVITE sip:a SIP/3.0\r\n\r\n", "not a SIP/2.0 start line"),
    (b"INVITE sip:a\r\n\r\n", "not a SIP/2.0 start line"),
    (b"INVITE  sip:a SIP/2.0\r\n\r\n", "not a SIP/2.0 start line"),
    (b"INVITE sip:a SIP/2.0 extra\r\n\r\n", "not a SIP/2.0 start line"),
    (b" INVITE sip:a SIP/2.0\r\n\r\n", "not a SIP/2.0 start line"),
    (b"IN@VITE sip:a SIP/2.0\r\n\r\n", "bad method"),
    (b"INV\xe9TE sip:a SIP/2.0\r\n\r\n", "bad method"),
    (b"SIP/2.0 20 OK\r\n\r\n", "bad status code"),
    (b"SIP/2.0 2000 OK\r\n\r\n", "bad status code"),
    (b"SIP/2.0 abc OK\r\n\r\n", "bad status code"),
    (b"SIP/2.0 \xb200 OK\r\n\r\n", "bad status code"),
    (b"SIP/2.0 +20 OK\r\n\r\n", "bad status code"),
    (b"SIP/2.0 099 Low\r\n\r\n", "out of range"),
    (b"SIP/2.0 700 High\r\n\r\n", "out of range"),
    (b"SIP/2.0\r\n\r\n", "not a SIP/2.0 start line"),
    (b"SIP/2.0 200 OK\r\nNo colon here\r\n\r\n", "without colon"),
    (b"SIP/2.0 200 OK\r\n: empty name\r\n\r\n", "bad header name"),
    (b"SIP/2.0 200 OK\r\nBad Name: x\r\n\r\n", "bad header name"),
    (b"SIP/2.0 200 OK\r\nN\xe4me: x\r\n\r\n", "bad header name"),
    (b"SIP/2.0 200 OK\r\n<Name>: x\r\n\r\n", "bad header name"),
    (b"SIP/2.0 200 OK\r\n folded: first\r\n\r\n", "continuation line before the first"),
    (b"SIP/2.0 200 OK\r\nContent-Length: abc\r\n\r\n", "bad Content-Length"),
    (b"SIP/2.0 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
    (b"SIP/2.0 200 OK\r\nContent-Length: +5\r\n\r\nabcde", "bad Content-Length"),
    (b"SIP/2.0 200 OK\r\nContent-Length: 1.5\r\n\r\nab", "bad Content-Length"),
    (b"SIP/2.0 200 OK\r\nContent-Length:\r\n\r\n", "bad Content-Length"),
    (b"SIP/2.0 200 OK\r\nl: \xb3\r\n\r\nabc", "bad Content-Length"),
    (b"SIP/2.0 200 OK\r\nContent-Length: 5\r\n\r\nabcd", "larger than the 4-byte body"),
    (b"SIP/2.0 200 OK\r\nl: 99999999999999999999\r\n\r\nabcd", "larger than"),
    (b"SIP/2.0 200 OK\r\nl: " + b"9" * 5000 + b"\r\n\r\nabcd", "larger than"),
    (b"SIP/2.0 200 OK\r\n\r\n" + b"x" * MAX_MESSAGE_SIZE, "exceeds the 65535-byte limit"),
]


@pytest.mark.parametrize(("data", "reason"), MALFORMED, ids=[r for _, r in MALFORMED])
def test_malformed_inputs_raise_sip_parse_error(data: bytes, reason: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    assert reason in info.value.reason
    assert str(info.value) == info.value.reason


def test_oversize_65536_bytes_rejected_cleanly() -> None:
    head = wire(["MESSAGE sip:a SIP/2.0", "Call-ID: big"])
    data = head + b"x" * (65536 - len(head))
    assert len(data) == 65536
    with pytest.raises(SipParseError, match="65536 bytes exceeds"):
        parse_message(data)


def _request(via_branch: str, body: str = "") -> bytes:
    return wire(
        [
            "INVITE sip:a@b SIP/2.0",
            f"Via: SIP/2.0/UDP h;branch={via_branch}",
            "From: <sip:x@y>;tag=1",
            "To: <sip:a@b>",
            "Call-ID: hash",
            "CSeq: 1 INVITE",
            f"Content-Length: {len(body)}",
        ],
        body,
    )


def _response(status: str, via_branch: str = "b1", body: str = "") -> bytes:
    return wire(
        [
            status,
            f"Via: SIP/2.0/UDP h;branch={via_branch}",
            "From: <sip:x@y>;tag=1",
            "To: <sip:a@b>;tag=2",
            "Call-ID: hash",
            "CSeq: 1 INVITE",
            f"Content-Length: {len(body)}",
        ],
        body,
    )


def test_full_hash_is_whole_message() -> None:
    a = parse_message(_request("b1"))
    assert message_hash(a, loose=False) == message_hash(parse_message(_request("b1")), loose=False)
    assert message_hash(a, loose=False) != message_hash(parse_message(_request("b2")), loose=False)


def test_loose_hash_ignores_via_but_not_status_line_or_response_body() -> None:
    def loose(data: bytes) -> int:
        return message_hash(parse_message(data), loose=True)

    # Requests: only To, From, Call-ID and CSeq count.
    assert loose(_request("b1")) == loose(_request("b2"))
    assert loose(_request("b1", "sdp1")) == loose(_request("b1", "sdp2"))
    # Responses: plus the status line and the body.
    assert loose(_response("SIP/2.0 200 OK", "b1")) == loose(_response("SIP/2.0 200 OK", "b9"))
    assert loose(_response("SIP/2.0 200 OK")) != loose(_response("SIP/2.0 180 Ringing"))
    assert loose(_response("SIP/2.0 200 OK", body="x")) != loose(_response("SIP/2.0 200 OK"))
    changed_to = _response("SIP/2.0 200 OK").replace(b"tag=2", b"tag=3")
    assert loose(changed_to) != loose(_response("SIP/2.0 200 OK"))


def test_repr_names_the_message() -> None:
    assert "INVITE sip:service@127.0.0.1:5070" in repr(_invite())


def test_trying_response_copies_via_from_to_call_id_cseq_and_timestamp_in_order() -> None:
    """RFC 3261 8.2.6: a 100 Trying copies every Via (in order), From, To (a tag only if the
    request had one), Call-ID, CSeq and Timestamp, as written (compact names too); nothing
    else, and no body."""
    request = parse_message(
        b"INVITE sip:bob@192.0.2.4 SIP/2.0\r\n"
        b"v: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK-b\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-a\r\n"
        b"Record-Route: <sip:192.0.2.9;lr>\r\n"
        b"f: <sip:alice@192.0.2.1>;tag=1\r\n"
        b"To: <sip:bob@192.0.2.4>\r\n"
        b"i: abc@192.0.2.1\r\n"
        b"CSeq: 7 INVITE\r\n"
        b"Timestamp: 54\r\n"
        b"Contact: <sip:alice@192.0.2.1>\r\n"
        b"Content-Type: application/sdp\r\n"
        b"Content-Length: 4\r\n\r\nv=0\n"
    )
    assert trying_response(request) == (
        b"SIP/2.0 100 Trying\r\n"
        b"v: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK-b\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-a\r\n"
        b"f: <sip:alice@192.0.2.1>;tag=1\r\n"
        b"To: <sip:bob@192.0.2.4>\r\n"
        b"i: abc@192.0.2.1\r\n"
        b"CSeq: 7 INVITE\r\n"
        b"Timestamp: 54\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    answer = parse_message(trying_response(request))
    assert (answer.status_code, answer.call_id, answer.body) == (100, "abc@192.0.2.1", b"")
