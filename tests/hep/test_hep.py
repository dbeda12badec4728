"""HEP3 encoding against bytes worked out by hand from the HEP3 specification, and back."""

from __future__ import annotations

import pytest

from gossipper.hep import (
    IPPROTO_TCP,
    PROTO_JSON_LOG,
    HepError,
    HepPacket,
    decode,
    describe,
    encode,
    split_stream,
)

PACKET = HepPacket(
    src=("10.0.0.1", 5060),
    dst=("10.0.0.2", 5061),
    time_s=1_700_000_000,
    time_us=123_456,
    payload=b"OPTIONS",
    capture_id=2001,
)


def _chunk(kind: int, value: bytes) -> bytes:
    return b"\x00\x00" + kind.to_bytes(2, "big") + (len(value) + 6).to_bytes(2, "big") + value


def test_known_answer_ipv4() -> None:
    body = b"".join(
        (
            _chunk(0x01, b"\x02"),  # AF_INET
            _chunk(0x02, b"\x11"),  # UDP
            _chunk(0x03, bytes([10, 0, 0, 1])),
            _chunk(0x04, bytes([10, 0, 0, 2])),
            _chunk(0x07, b"\x13\xc4"),  # 5060
            _chunk(0x08, b"\x13\xc5"),  # 5061
            _chunk(0x09, bytes.fromhex("6553f100")),  # 1700000000
            _chunk(0x0A, bytes.fromhex("0001e240")),  # 123456
            _chunk(0x0B, b"\x01"),  # SIP
            _chunk(0x0C, bytes.fromhex("000007d1")),  # 2001
            _chunk(0x0F, b"OPTIONS"),
        )
    )
    expected = b"HEP3" + (len(body) + 6).to_bytes(2, "big") + body
    assert encode(PACKET) == expected
    assert decode(expected) == PACKET


def test_optional_chunks_and_ipv6_round_trip() -> None:
    packet = HepPacket(
        src=("::1", 5060),
        dst=("2001:db8::7", 15060),
        time_s=1,
        time_us=999_999,
        payload=b"{}",
        ip_protocol=IPPROTO_TCP,
        proto_type=PROTO_JSON_LOG,
        capture_id=0xFFFFFFFF,
        auth_key="k\u00e9y",
        correlation_id="abc@host",
        node_name="lab-1",
    )
    data = encode(packet)
    assert _chunk(0x05, bytes(15) + b"\x01") in data  # IPv6 source ::1
    assert _chunk(0x0E, "k\u00e9y".encode()) in data
    assert _chunk(0x11, b"abc@host") in data
    assert _chunk(0x13, b"lab-1") in data
    assert decode(data) == packet
    assert "correlation_id=abc@host" in describe(packet)
    assert "[::1]:5060 -> [2001:db8::7]:15060" in describe(packet)


def test_vendor_and_unknown_chunks_are_skipped() -> None:
    data = encode(PACKET)
    extra = b"\x00\x07\x00\x01\x00\x07X" + _chunk(0x30, b"zz")
    total = len(data) + len(extra)
    patched = b"HEP3" + total.to_bytes(2, "big") + data[6:] + extra
    assert decode(patched) == PACKET


@pytest.mark.parametrize(
    "data",
    [
        b"HEP",
        b"HEP2\x00\x06",
        b"HEP3\x00\x07",  # length says 7, has 6
        b"HEP3\x00\x0c\x00\x00\x00\x01\x00\x02",  # chunk length 2 < 6
        b"HEP3\x00\x0d" + _chunk(0x01, b"\x02"),  # no addresses, no payload
    ],
)
def test_malformed_packets_raise(data: bytes) -> None:
    with pytest.raises(HepError):
        decode(data)


def test_encode_refuses_what_cannot_be_sent() -> None:
    with pytest.raises(HepError):
        encode(HepPacket(("sip.example", 1), ("10.0.0.2", 2), 0, 0, b""))
    with pytest.raises(HepError):
        encode(HepPacket(("::1", 1), ("10.0.0.2", 2), 0, 0, b""))
    with pytest.raises(HepError):
        encode(HepPacket(("10.0.0.1", 1), ("10.0.0.2", 2), 0, 0, b"x" * 65_500))


def test_stream_split_at_every_byte() -> None:
    one, two = encode(PACKET), encode(HepPacket(("10.0.0.3", 1), ("10.0.0.4", 2), 5, 6, b"x"))
    stream = one + two
    for cut in range(len(stream) + 1):
        buffer = bytearray(stream[:cut])
        got = split_stream(buffer)
        buffer += stream[cut:]
        got += split_stream(buffer)
        assert got == [one, two] and not buffer
    with pytest.raises(HepError):
        split_stream(bytearray(b"GET / HTTP/1.1\r\n"))
