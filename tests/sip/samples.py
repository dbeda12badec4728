"""Table of SIP messages with their expected parse, shared by the sip tests."""

from __future__ import annotations

from dataclasses import dataclass, field

CRLF = "\r\n"

SDP = (
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6004 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
)
SDP_BYTES = SDP.encode("latin-1")


def wire(lines: list[str], body: str = "", eol: str = CRLF) -> bytes:
    """Start line + header lines + empty line + body, as latin-1 bytes."""
    return (eol.join(lines) + eol + eol + body).encode("latin-1")


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    first_line: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    call_id: str = ""
    cseq_number: int = -1
    cseq_method: str = ""
    method: str = ""
    request_uri: str = ""
    status_code: int = 0
    reason: str = ""
    to_tag: str | None = None
    from_tag: str | None = None
    via_branch: str | None = None
    # True when serialize(parse(data)) must give back exactly data.
    canonical: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_request(self) -> bool:
        return self.status_code == 0


INVITE_HEADERS = [
    ("Via", "SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-7107-1-0"),
    ("From", "sipp <sip:sipp@127.0.0.1:5071>;tag=7107SIPpTag001"),
    ("To", "service <sip:service@127.0.0.1:5070>"),
    ("Call-ID", "1-7107@127.0.0.1"),
    ("CSeq", "1 INVITE"),
    ("Contact", "sip:sipp@127.0.0.1:5071"),
    ("Max-Forwards", "70"),
    ("Subject", "Performance Test"),
    ("Content-Type", "application/sdp"),
    ("Content-Length", str(len(SDP_BYTES))),
]

RESPONSE_200_HEADERS = [
    ("Via", "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKproxy;received=10.0.0.2"),
    ("Via", "SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-7107-1-0"),
    ("Record-Route", "<sip:10.0.0.2;lr>"),
    ("From", "sipp <sip:sipp@127.0.0.1:5071>;tag=7107SIPpTag001"),
    ("To", "service <sip:service@127.0.0.1:5070>;tag=7057SIPpTag011"),
    ("Call-ID", "1-7107@127.0.0.1"),
    ("CSeq", "1 INVITE"),
    ("Contact", "<sip:127.0.0.1:5070;transport=UDP>"),
    ("Content-Type", "application/sdp"),
    ("Content-Length", str(len(SDP_BYTES))),
]

SAMPLES: list[Sample] = [
    Sample(
        name="invite_sdp",
        data=wire(
            ["INVITE sip:service@127.0.0.1:5070 SIP/2.0"]
            + [f"{n}: {v}" for n, v in INVITE_HEADERS],
            SDP,
        ),
        first_line="INVITE sip:service@127.0.0.1:5070 SIP/2.0",
        headers=INVITE_HEADERS,
        body=SDP_BYTES,
        call_id="1-7107@127.0.0.1",
        cseq_number=1,
        cseq_method="INVITE",
        method="INVITE",
        request_uri="sip:service@127.0.0.1:5070",
        from_tag="7107SIPpTag001",
        via_branch="z9hG4bK-7107-1-0",
        canonical=True,
    ),
    Sample(
        name="sipp_len_padding",
        # SIPp's [len] pads Content-Length with spaces (reference section 15, item 17).
        data=wire(
            ["INVITE sip:service@127.0.0.1:5070 SIP/2.0"]
            + [f"{n}: {v}" for n, v in INVITE_HEADERS[:-1]]
            + [f"Content-Length:   {len(SDP_BYTES)}"],
            SDP,
        ),
        first_line="INVITE sip:service@127.0.0.1:5070 SIP/2.0",
        headers=INVITE_HEADERS,
        body=SDP_BYTES,
        call_id="1-7107@127.0.0.1",
        cseq_number=1,
        cseq_method="INVITE",
        method="INVITE",
        request_uri="sip:service@127.0.0.1:5070",
        from_tag="7107SIPpTag001",
        via_branch="z9hG4bK-7107-1-0",
    ),
    Sample(
        name="ringing_180_with_tag",
        data=wire(
            [
                "SIP/2.0 180 Ringing",
                "Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-7107-1-0",
                "From: sipp <sip:sipp@127.0.0.1:5071>;tag=7107SIPpTag001",
                "To: service <sip:service@127.0.0.1:5070>;tag=7057SIPpTag011",
                "Call-ID: 1-7107@127.0.0.1",
                "CSeq: 1 INVITE",
                "Contact: <sip:127.0.0.1:5070;transport=UDP>",
                "Content-Length: 0",
            ]
        ),
        first_line="SIP/2.0 180 Ringing",
        headers=[
            ("Via", "SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-7107-1-0"),
            ("From", "sipp <sip:sipp@127.0.0.1:5071>;tag=7107SIPpTag001"),
            ("To", "service <sip:service@127.0.0.1:5070>;tag=7057SIPpTag011"),
            ("Call-ID", "1-7107@127.0.0.1"),
            ("CSeq", "1 INVITE"),
            ("Contact", "<sip:127.0.0.1:5070;transport=UDP>"),
            ("Content-Length", "0"),
        ],
        call_id="1-7107@127.0.0.1",
        cseq_number=1,
        cseq_method="INVITE",
        status_code=180,
        reason="Ringing",
        to_tag="7057SIPpTag011",
        from_tag="7107SIPpTag001",
        via_branch="z9hG4bK-7107-1-0",
        canonical=True,
    ),
    Sample(
        name="ok_200_sdp_two_vias",
        data=wire(["SIP/2.0 200 OK"] + [f"{n}: {v}" for n, v in RESPONSE_200_HEADERS], SDP),
        first_line="SIP/2.0 200 OK",
        headers=RESPONSE_200_HEADERS,
        body=SDP_BYTES,
        call_id="1-7107@127.0.0.1",
        cseq_number=1,
        cseq_method="INVITE",
        status_code=200,
        reason="OK",
        to_tag="7057SIPpTag011",
        from_tag="7107SIPpTag001",
        via_branch="z9hG4bKproxy",
        canonical=True,
    ),
    Sample(
        name="ack",
        data=wire(
            [
                "ACK sip:service@127.0.0.1:5070 SIP/2.0",
                "Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-7107-5-0",
                "From: sipp <sip:sipp@127.0.0.1:5071>;tag=7107SIPpTag001",
                "To: service <sip:service@127.0.0.1:5070>;tag=7057SIPpTag011",
                "Call-ID: 1-7107@127.0.0.1",
                "CSeq: 1 ACK",
                "Contact: sip:sipp@127.0.0.1:5071",
                "Max-Forwards: 70",
                "Subject: Performance Test",
                "Content-Length: 0",
            ]
        ),
        first_line="ACK sip:service@127.0.0.1:5070 SIP/2.0",
        headers=[
            ("Via", "SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-7107-5-0"),
            ("From", "sipp <sip:sipp@127.0.0.1:5071>;tag=7107SIPpTag001"),
            ("To", "service <sip:service@127.0.0.1:5070>;tag=7057SIPpTag011"),
            ("Call-ID", "1-7107@127.0.0.1"),
            ("CSeq", "1 ACK"),
            ("Contact", "sip:sipp@127.0.0.1:5071"),
            ("Max-Forwards", "70"),
            ("Subject", "Performance Test"),
            ("Content-Length", "0"),
        ],
        call_id="1-7107@127.0.0.1",
        cseq_number=1,
        cseq_method="ACK",
        method="ACK",
        request_uri="sip:service@127.0.0.1:5070",
        to_tag="7057SIPpTag011",
        from_tag="7107SIPpTag001",
        via_branch="z9hG4bK-7107-5-0",
        canonical=True,
    ),
    Sample(
        name="bye",
        data=wire(
            [
                "BYE sip:service@127.0.0.1:5070 SIP/2.0",
                "Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-7107-7-3",
                "From: sipp <sip:sipp@127.0.0.1:5071>;tag=7107SIPpTag001",
                "To: service <sip:service@127.0.0.1:5070>;tag=7057SIPpTag011",
                "Call-ID: 1-7107@127.0.0.1",
                "CSeq: 2 BYE",
                "Max-Forwards: 70",
                "Content-Length: 0",
            ]
        ),
        first_line="BYE sip:service@127.0.0.1:5070 SIP/2.0",
        headers=[
            ("Via", "SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-7107-7-3"),
            ("From", "sipp <sip:sipp@127.0.0.1:5071>;tag=7107SIPpTag001"),
            ("To", "service <sip:service@127.0.0.1:5070>;tag=7057SIPpTag011"),
            ("Call-ID", "1-7107@127.0.0.1"),
            ("CSeq", "2 BYE"),
            ("Max-Forwards", "70"),
            ("Content-Length", "0"),
        ],
        call_id="1-7107@127.0.0.1",
        cseq_number=2,
        cseq_method="BYE",
        method="BYE",
        request_uri="sip:service@127.0.0.1:5070",
        to_tag="7057SIPpTag011",
        from_tag="7107SIPpTag001",
        via_branch="z9hG4bK-7107-7-3",
        canonical=True,
    ),
    Sample(
        name="register_with_auth",
        data=wire(
            [
                "REGISTER sip:example.com SIP/2.0",
                "Via: SIP/2.0/TCP 192.0.2.4:5060;branch=z9hG4bKnashds7;rport",
                "Max-Forwards: 70",
                'From: "Alice, the \\"first\\"" <sip:alice@example.com>;tag=456248',
                "To: <sip:alice@example.com>",
                "Call-ID: 843817637684230@998sdasdh09",
                "CSeq: 1826 REGISTER",
                "Contact: <sip:alice@192.0.2.4>;expires=7200",
                'Authorization: Digest username="alice", realm="example.com", '
                'nonce="ea9c8e88df84f1cec4341ae6cbe5a359", uri="sip:example.com", '
                'response="dfe56131d1958046689d83306477ecc", algorithm=MD5',
                "Expires: 7200",
                "Content-Length: 0",
            ]
        ),
        first_line="REGISTER sip:example.com SIP/2.0",
        headers=[
            ("Via", "SIP/2.0/TCP 192.0.2.4:5060;branch=z9hG4bKnashds7;rport"),
            ("Max-Forwards", "70"),
            ("From", '"Alice, the \\"first\\"" <sip:alice@example.com>;tag=456248'),
            ("To", "<sip:alice@example.com>"),
            ("Call-ID", "843817637684230@998sdasdh09"),
            ("CSeq", "1826 REGISTER"),
            ("Contact", "<sip:alice@192.0.2.4>;expires=7200"),
            (
                "Authorization",
                'Digest username="alice", realm="example.com", '
                'nonce="ea9c8e88df84f1cec4341ae6cbe5a359", uri="sip:example.com", '
                'response="dfe56131d1958046689d83306477ecc", algorithm=MD5',
            ),
            ("Expires", "7200"),
            ("Content-Length", "0"),
        ],
        call_id="843817637684230@998sdasdh09",
        cseq_number=1826,
        cseq_method="REGISTER",
        method="REGISTER",
        request_uri="sip:example.com",
        from_tag="456248",
        via_branch="z9hG4bKnashds7",
        canonical=True,
    ),
    Sample(
        name="compact_forms",
        data=wire(
            [
                "INVITE sip:bob@biloxi.example.com SIP/2.0",
                "v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKcompact",
                "f: <sip:alice@atlanta.example.com>;tag=88sja8x",
                "t: Bob <sip:bob@biloxi.example.com>",
                "i: compact-call@10.0.0.1",
                "CSeq: 7 INVITE",
                "m: <sip:alice@10.0.0.1>",
                "k: timer",
                "s: Need more boxes",
                "o: presence",
                "c: application/sdp",
                "e: gzip",
                f"l: {len(SDP_BYTES)}",
            ],
            SDP,
        ),
        first_line="INVITE sip:bob@biloxi.example.com SIP/2.0",
        headers=[
            ("v", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKcompact"),
            ("f", "<sip:alice@atlanta.example.com>;tag=88sja8x"),
            ("t", "Bob <sip:bob@biloxi.example.com>"),
            ("i", "compact-call@10.0.0.1"),
            ("CSeq", "7 INVITE"),
            ("m", "<sip:alice@10.0.0.1>"),
            ("k", "timer"),
            ("s", "Need more boxes"),
            ("o", "presence"),
            ("c", "application/sdp"),
            ("e", "gzip"),
            ("l", str(len(SDP_BYTES))),
        ],
        body=SDP_BYTES,
        call_id="compact-call@10.0.0.1",
        cseq_number=7,
        cseq_method="INVITE",
        method="INVITE",
        request_uri="sip:bob@biloxi.example.com",
        from_tag="88sja8x",
        via_branch="z9hG4bKcompact",
        canonical=True,
        extra={
            "Supported": "timer",
            "Subject": "Need more boxes",
            "Event": "presence",
            "Content-Type": "application/sdp",
            "Content-Encoding": "gzip",
            "Contact": "<sip:alice@10.0.0.1>",
        },
    ),
    Sample(
        name="repeated_via_and_comma_list",
        data=wire(
            [
                "OPTIONS sip:carol@chicago.example.com SIP/2.0",
                "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKa, SIP/2.0/UDP p2;branch=z9hG4bKb",
                "Via: SIP/2.0/UDP p3.example.com;branch=z9hG4bKc",
                "v: SIP/2.0/UDP p4.example.com;branch=z9hG4bKd",
                "From: <sip:a@b>;tag=1",
                "To: <sip:carol@chicago.example.com>",
                "Call-ID: vias",
                "CSeq: 63104 OPTIONS",
                "Content-Length: 0",
            ]
        ),
        first_line="OPTIONS sip:carol@chicago.example.com SIP/2.0",
        headers=[
            ("Via", "SIP/2.0/UDP p1.example.com;branch=z9hG4bKa, SIP/2.0/UDP p2;branch=z9hG4bKb"),
            ("Via", "SIP/2.0/UDP p3.example.com;branch=z9hG4bKc"),
            ("v", "SIP/2.0/UDP p4.example.com;branch=z9hG4bKd"),
            ("From", "<sip:a@b>;tag=1"),
            ("To", "<sip:carol@chicago.example.com>"),
            ("Call-ID", "vias"),
            ("CSeq", "63104 OPTIONS"),
            ("Content-Length", "0"),
        ],
        call_id="vias",
        cseq_number=63104,
        cseq_method="OPTIONS",
        method="OPTIONS",
        request_uri="sip:carol@chicago.example.com",
        from_tag="1",
        via_branch="z9hG4bKa",
        canonical=True,
    ),
    Sample(
        name="folded_lines",
        data=wire(
            [
                "MESSAGE sip:user2@domain.com SIP/2.0",
                "Via: SIP/2.0/UDP 10.0.0.1;",
                "   branch=z9hG4bKfold",
                "From: <sip:user1@domain.com>;tag=49583",
                "To: <sip:user2@domain.com>",
                "Subject: a long",
                "\tsubject line",
                "  \t  split over three",
                "Call-ID: folded@10.0.0.1",
                "CSeq: 1 MESSAGE",
                "Content-Type: text/plain",
                "Content-Length: 5",
            ],
            "hello",
        ),
        first_line="MESSAGE sip:user2@domain.com SIP/2.0",
        headers=[
            ("Via", "SIP/2.0/UDP 10.0.0.1; branch=z9hG4bKfold"),
            ("From", "<sip:user1@domain.com>;tag=49583"),
            ("To", "<sip:user2@domain.com>"),
            ("Subject", "a long subject line split over three"),
            ("Call-ID", "folded@10.0.0.1"),
            ("CSeq", "1 MESSAGE"),
            ("Content-Type", "text/plain"),
            ("Content-Length", "5"),
        ],
        body=b"hello",
        call_id="folded@10.0.0.1",
        cseq_number=1,
        cseq_method="MESSAGE",
        method="MESSAGE",
        request_uri="sip:user2@domain.com",
        from_tag="49583",
        via_branch="z9hG4bKfold",
    ),
    Sample(
        name="odd_case_names_and_space_before_colon",
        data=wire(
            [
                "SIP/2.0 486 Busy Here",
                "VIA: SIP/2.0/UDP 127.0.0.1:5071;BRANCH=z9hG4bKodd",
                "fROM: <sip:a@b>;TAG=abc",
                "to : <sip:c@d>;tag=def",
                "call-ID:odd-case",
                "cSeQ :  42   INVITE  ",
                "CONTENT-LENGTH\t: 0",
            ]
        ),
        first_line="SIP/2.0 486 Busy Here",
        headers=[
            ("VIA", "SIP/2.0/UDP 127.0.0.1:5071;BRANCH=z9hG4bKodd"),
            ("fROM", "<sip:a@b>;TAG=abc"),
            ("to", "<sip:c@d>;tag=def"),
            ("call-ID", "odd-case"),
            ("cSeQ", "42   INVITE"),
            ("CONTENT-LENGTH", "0"),
        ],
        call_id="odd-case",
        cseq_number=42,
        cseq_method="INVITE",
        status_code=486,
        reason="Busy Here",
        to_tag="def",
        from_tag="abc",
        via_branch="z9hG4bKodd",
    ),
    Sample(
        name="ipv6",
        data=wire(
            [
                "INVITE sip:bob@[2001:db8::1]:5060;transport=udp SIP/2.0",
                "Via: SIP/2.0/UDP [2001:db8::2]:5061;branch=z9hG4bK6",
                "From: <sip:alice@[2001:db8::2]:5061>;tag=v6",
                "To: <sip:bob@[2001:db8::1]>",
                "Call-ID: v6@[2001:db8::2]",
                "CSeq: 1 INVITE",
                "Contact: <sip:alice@[::1]:5061>",
                "Content-Length: 0",
            ]
        ),
        first_line="INVITE sip:bob@[2001:db8::1]:5060;transport=udp SIP/2.0",
        headers=[
            ("Via", "SIP/2.0/UDP [2001:db8::2]:5061;branch=z9hG4bK6"),
            ("From", "<sip:alice@[2001:db8::2]:5061>;tag=v6"),
            ("To", "<sip:bob@[2001:db8::1]>"),
            ("Call-ID", "v6@[2001:db8::2]"),
            ("CSeq", "1 INVITE"),
            ("Contact", "<sip:alice@[::1]:5061>"),
            ("Content-Length", "0"),
        ],
        call_id="v6@[2001:db8::2]",
        cseq_number=1,
        cseq_method="INVITE",
        method="INVITE",
        request_uri="sip:bob@[2001:db8::1]:5060;transport=udp",
        from_tag="v6",
        via_branch="z9hG4bK6",
        canonical=True,
    ),
    Sample(
        name="no_content_length_empty_body",
        data=wire(
            [
                "CANCEL sip:service@127.0.0.1 SIP/2.0",
                "Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKc",
                "Call-ID: nocl",
                "CSeq: 1 CANCEL",
            ]
        ),
        first_line="CANCEL sip:service@127.0.0.1 SIP/2.0",
        headers=[
            ("Via", "SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKc"),
            ("Call-ID", "nocl"),
            ("CSeq", "1 CANCEL"),
        ],
        call_id="nocl",
        cseq_number=1,
        cseq_method="CANCEL",
        method="CANCEL",
        request_uri="sip:service@127.0.0.1",
        via_branch="z9hG4bKc",
    ),
    Sample(
        name="no_content_length_body_is_rest",
        data=wire(
            ["NOTIFY sip:a@b SIP/2.0", "Call-ID: rest", "CSeq: 3 NOTIFY", "Event: dialog"],
            "body without length",
        ),
        first_line="NOTIFY sip:a@b SIP/2.0",
        headers=[("Call-ID", "rest"), ("CSeq", "3 NOTIFY"), ("Event", "dialog")],
        body=b"body without length",
        call_id="rest",
        cseq_number=3,
        cseq_method="NOTIFY",
        method="NOTIFY",
        request_uri="sip:a@b",
    ),
    Sample(
        name="body_truncated_by_content_length",
        data=wire(
            ["INFO sip:a@b SIP/2.0", "Call-ID: trunc", "CSeq: 4 INFO", "Content-Length: 4"],
            "abcdTRAILING GARBAGE",
        ),
        first_line="INFO sip:a@b SIP/2.0",
        headers=[("Call-ID", "trunc"), ("CSeq", "4 INFO"), ("Content-Length", "4")],
        body=b"abcd",
        call_id="trunc",
        cseq_number=4,
        cseq_method="INFO",
        method="INFO",
        request_uri="sip:a@b",
    ),
    Sample(
        name="bare_lf_line_ends",
        data=wire(
            [
                "SIP/2.0 100 Trying",
                "Via: SIP/2.0/UDP h;branch=z9hG4bKlf",
                "Call-ID: lf",
                "CSeq: 1 INVITE",
                "Content-Length: 3",
            ],
            "a\nb",
            eol="\n",
        ),
        first_line="SIP/2.0 100 Trying",
        headers=[
            ("Via", "SIP/2.0/UDP h;branch=z9hG4bKlf"),
            ("Call-ID", "lf"),
            ("CSeq", "1 INVITE"),
            ("Content-Length", "3"),
        ],
        body=b"a\nb",
        call_id="lf",
        cseq_number=1,
        cseq_method="INVITE",
        status_code=100,
        reason="Trying",
        via_branch="z9hG4bKlf",
    ),
    Sample(
        name="empty_reason_and_empty_value",
        data=wire(["SIP/2.0 200", "Call-ID: er", "Subject:", "CSeq: 5 BYE", "Content-Length: 0"]),
        first_line="SIP/2.0 200",
        headers=[("Call-ID", "er"), ("Subject", ""), ("CSeq", "5 BYE"), ("Content-Length", "0")],
        call_id="er",
        cseq_number=5,
        cseq_method="BYE",
        status_code=200,
        reason="",
    ),
    Sample(
        name="latin1_and_utf8_bytes",
        # A UTF-8 display name: its bytes (including 0xA0 from "à") must survive unchanged.
        data=wire(["SIP/2.0 603 Décliné à jamais", 'From: "Zoë à" <sip:z@x>;tag=é', "Call-ID: u8"])
        .decode("latin-1")
        .encode("utf-8"),
        first_line="SIP/2.0 603 Décliné à jamais".encode().decode("latin-1"),
        headers=[
            ("From", '"Zoë à" <sip:z@x>;tag=é'.encode().decode("latin-1")),
            ("Call-ID", "u8"),
        ],
        call_id="u8",
        status_code=603,
        reason="Décliné à jamais".encode().decode("latin-1"),
        from_tag="é".encode().decode("latin-1"),
    ),
    Sample(
        name="leading_crlf_ignored",
        data=b"\r\n\r\n" + wire(["PRACK sip:a@b SIP/2.0", "Call-ID: lead", "CSeq: 2 PRACK"]),
        first_line="PRACK sip:a@b SIP/2.0",
        headers=[("Call-ID", "lead"), ("CSeq", "2 PRACK")],
        call_id="lead",
        cseq_number=2,
        cseq_method="PRACK",
        method="PRACK",
        request_uri="sip:a@b",
    ),
    Sample(
        name="unparsable_cseq",
        data=wire(["UPDATE sip:a@b SIP/2.0", "Call-ID: cs", "CSeq: x UPDATE", "Content-Length: 0"]),
        first_line="UPDATE sip:a@b SIP/2.0",
        headers=[("Call-ID", "cs"), ("CSeq", "x UPDATE"), ("Content-Length", "0")],
        call_id="cs",
        cseq_number=-1,
        cseq_method="UPDATE",
        method="UPDATE",
        request_uri="sip:a@b",
    ),
]

SAMPLE_IDS = [s.name for s in SAMPLES]
