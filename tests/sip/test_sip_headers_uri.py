from __future__ import annotations

import pytest

from gossipper.errors import SipParseError
from gossipper.sip import (
    SipUri,
    canonical_header_name,
    header_param,
    is_token,
    parse_uri,
    uri_in_brackets,
)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("v", "via"),
        ("V", "via"),
        ("VIA", "via"),
        ("via", "via"),
        ("Via", "via"),
        ("i", "call-id"),
        ("Call-ID", "call-id"),
        ("f", "from"),
        ("t", "to"),
        ("m", "contact"),
        ("L", "content-length"),
        ("c", "content-type"),
        ("e", "content-encoding"),
        ("k", "supported"),
        ("s", "subject"),
        ("o", "event"),
        ("X-Custom-Header", "x-custom-header"),
        ("CSeq", "cseq"),
    ],
)
def test_canonical_header_name(name: str, key: str) -> None:
    assert canonical_header_name(name) == key
    assert canonical_header_name(name) == key  # second call goes through the cache


@pytest.mark.parametrize(
    ("text", "ok"),
    [("INVITE", True), ("X-Foo.bar!%*_+`'~", True), ("", False), ("A B", False), ("A:B", False)],
)
def test_is_token(text: str, ok: bool) -> None:
    assert is_token(text) is ok


@pytest.mark.parametrize(
    ("value", "param", "expected"),
    [
        ("sipp <sip:sipp@127.0.0.1:5071>;tag=7107SIPpTag001", "tag", "7107SIPpTag001"),
        ("<sip:a@b;tag=uri>;tag=hdr", "tag", "hdr"),
        ("<sip:a@b;tag=uri>", "tag", None),
        ("sip:a@b;tag=x", "tag", "x"),
        ("sip:a@b", "tag", None),
        ('"Bob; <x>, y" <sip:b@c>;tag=1', "tag", "1"),
        ('"quoted \\" still" <sip:b@c>;tag=2', "tag", "2"),
        ("<sip:a@b>;lr", "lr", ""),
        ("<sip:a@b>;TAG=ABC", "tag", "ABC"),
        ("<sip:a@b>;tag=abc", "TAG", "abc"),
        ("<sip:a@b> ; tag = 12 ", "tag", "12"),
        ("<sip:a@b>;x=1;tag=9;y", "tag", "9"),
        ('<sip:a@b>;x="a;b,c";tag=9', "tag", "9"),
        ('<sip:a@b>;x="a;b,c";tag=9', "x", '"a;b,c"'),
        ('<sip:a@b>;+sip.instance="<urn:uuid:1>";expires=60', "expires", "60"),
        ("<sip:a@b", "tag", None),
        ("", "tag", None),
        ("SIP/2.0/UDP h;branch=z9hG4bK1, SIP/2.0/UDP g;branch=z9hG4bK2", "branch", "z9hG4bK1"),
        ("SIP/2.0/UDP a, SIP/2.0/UDP b;branch=x", "branch", None),
        ("SIP/2.0/UDP h:5060;received=1.2.3.4;branch=z9hG4bKx;rport", "branch", "z9hG4bKx"),
        ("SIP/2.0/UDP h:5060;rport;branch=z", "rport", ""),
    ],
)
def test_header_param(value: str, param: str, expected: str | None) -> None:
    assert header_param(value, param) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Name <sip:a@b>;tag=1", "sip:a@b"),
        ("<sip:service@127.0.0.1:5070>", "sip:service@127.0.0.1:5070"),
        ('"a <fake> b" <sip:real@x>', "sip:real@x"),
        ("<sip:bob@[::1]:5060;transport=tcp>", "sip:bob@[::1]:5060;transport=tcp"),
        ("sip:a@b;tag=1", ""),
        ("<sip:a@b", ""),
        ("", ""),
    ],
)
def test_uri_in_brackets(value: str, expected: str) -> None:
    assert uri_in_brackets(value) == expected


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sip:service@127.0.0.1:5070", SipUri("sip", "service", "127.0.0.1", 5070, {})),
        ("sip:example.com", SipUri("sip", "", "example.com", None, {})),
        ("SIPS:Bob@Biloxi.example.com", SipUri("sips", "Bob", "Biloxi.example.com", None, {})),
        (
            "sip:u@[::1]:5060",
            SipUri("sip", "u", "::1", 5060, {}),
        ),
        (
            "sip:bob@[2001:db8::1];transport=TCP;lr",
            SipUri("sip", "bob", "2001:db8::1", None, {"transport": "TCP", "lr": ""}),
        ),
        (
            "sip:alice:secret@atlanta.com;Maddr=239.255.255.1;ttl=15",
            SipUri(
                "sip",
                "alice",
                "atlanta.com",
                None,
                {"maddr": "239.255.255.1", "ttl": "15"},
                "secret",
            ),
        ),
        (
            "sip:+1-212-555-1212;npdi@gateway.com;user=phone",
            SipUri("sip", "+1-212-555-1212;npdi", "gateway.com", None, {"user": "phone"}),
        ),
        (
            "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
            SipUri(
                "sip",
                "",
                "atlanta.com",
                None,
                {"method": "REGISTER"},
                None,
                "to=alice%40atlanta.com",
            ),
        ),
        ("sip:127.0.0.1:0", SipUri("sip", "", "127.0.0.1", 0, {})),
        ("sip:h:65535", SipUri("sip", "", "h", 65535, {})),
        (
            "tel:+1-201-555-0123;phone-context=example.com",
            SipUri("tel", "+1-201-555-0123", "", None, {"phone-context": "example.com"}),
        ),
    ],
)
def test_parse_uri(uri: str, expected: SipUri) -> None:
    assert parse_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("", "without a scheme"),
        ("example.com", "without a scheme"),
        (":foo", "without a scheme"),
        ("1sip:a@b", "without a scheme"),
        ("http://example.com", "unsupported URI scheme"),
        ("sip:", "bad host"),
        ("sip:@host", "empty user"),
        ("sip:a@", "bad host"),
        ("sip:a@host:", "bad port"),
        ("sip:a@host:x", "bad port"),
        ("sip:a@host:65536", "bad port"),
        ("sip:a@host:123456", "bad port"),
        ("sip:a@::1", "bad port"),
        ("sip:a@[::1", "unclosed IPv6"),
        ("sip:a@[]", "bad IPv6"),
        ("sip:a@[1.2.3.4]", "bad IPv6"),
        ("sip:a@[::1]x", "junk after IPv6"),
        ("sip:a@[::1]:99999", "bad port"),
        ("sip:a@ho st", "bad host"),
        ("sip:a@host;=x", "empty parameter name"),
        ("tel:", "empty number"),
    ],
)
def test_parse_uri_errors(uri: str, reason: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_uri(uri)
    assert reason in info.value.reason
