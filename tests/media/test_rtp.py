from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossipper.media.rtp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    RtpError,
    RtpExtension,
    RtpPacket,
    SdesChunk,
    SenderReport,
    SourceDescription,
    TelephoneEvent,
    UnknownRtcp,
    build_compound,
    dtmf_event_code,
    dtmf_packets,
    ntp_from_seconds,
    pack_rtcp,
    parse_rtcp,
    parse_rtp,
    parse_telephone_event,
    round_trip_ms,
    seq_add,
    seq_diff,
    seq_lt,
    ts_add,
    ts_diff,
)


def test_minimal_rtp_header_bytes_match_rfc3550_layout() -> None:
    packet = RtpPacket(0, 0x1234, 0xDEADBEEF, 0x01020304, b"\xff" * 4, marker=True)
    # V=2 P=0 X=0 CC=0 | M=1 PT=0 | seq | timestamp | SSRC | payload
    expected = bytes.fromhex("80801234deadbeef01020304ffffffff")
    assert packet.pack() == expected
    assert parse_rtp(expected) == packet


def test_rtp_with_csrcs_extension_and_padding() -> None:
    packet = RtpPacket(
        96,
        65535,
        1,
        7,
        b"abc",
        csrcs=(0x11111111, 0x22222222),
        extension=RtpExtension(0xBEDE, b"\x10\xaa\x00\x00"),
        padding=4,
    )
    expected = bytes.fromhex(
        "b2"
        "60"
        "ffff"
        "00000001"
        "00000007"  # V=2 P=1 X=1 CC=2, PT 96
        "11111111"
        "22222222"  # CSRC list
        "bede"
        "0001"
        "10aa0000"  # extension: profile, length in words, data
        "616263"  # payload
        "00000004"  # padding, last byte = its count
    )
    assert packet.pack() == expected
    assert parse_rtp(expected) == packet


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\x80\x00", "shorter than the 12-byte header"),
        (bytes.fromhex("40000000000000000000000000"), "version 1"),
        (bytes.fromhex("82000000000000000000000000000001"), "2 CSRCs"),
        (bytes.fromhex("900000000000000000000000bede"), "header extension"),
        (bytes.fromhex("900000000000000000000000bede000200000000"), "runs past"),
        (bytes.fromhex("a0000000000000000000000000"), "padding count 0"),
        (bytes.fromhex("a0000000000000000000000005"), "padding count 5"),
    ],
)
def test_malformed_rtp_raises_rtp_error(data: bytes, fragment: str) -> None:
    with pytest.raises(RtpError, match=fragment):
        parse_rtp(data)


@given(st.binary(max_size=80))
def test_rtp_parser_raises_only_rtp_error(data: bytes) -> None:
    try:
        packet = parse_rtp(data)
    except RtpError:
        return
    # What parses re-packs to the same bytes (padding bytes other than the count aside).
    if not packet.padding:
        assert packet.pack() == data


def test_sequence_and_timestamp_arithmetic_wrap() -> None:
    assert seq_add(65535, 1) == 0
    assert seq_add(0, -1) == 65535
    assert seq_diff(0, 65535) == 1
    assert seq_diff(65535, 0) == -1
    assert seq_diff(32767, 0) == 32767
    assert seq_diff(32768, 0) == -32768
    assert seq_lt(65530, 3) and not seq_lt(3, 65530)
    assert ts_add(0xFFFFFFFF, 161) == 160
    assert ts_diff(160, 0xFFFFFFFF) == 161
    assert ts_diff(0xFFFFFFFF, 160) == -161


def test_rfc4733_event_codes_and_payload() -> None:
    assert [dtmf_event_code(d) for d in "0123456789*#ABCD"] == list(range(16))
    assert dtmf_event_code("a") == 12
    with pytest.raises(ValueError, match="'E' is not a DTMF digit"):
        dtmf_event_code("E")
    event = TelephoneEvent(11, True, 10, 800)
    # event | E=1 R=0 volume=10 | duration
    assert event.pack() == bytes.fromhex("0b8a0320")
    assert parse_telephone_event(event.pack()) == event
    with pytest.raises(RtpError):
        parse_telephone_event(b"\x01")


def test_dtmf_packets_follow_rfc4733_timing_and_end_retransmissions() -> None:
    packets = dtmf_packets(
        "5", payload_type=101, ssrc=9, sequence=65534, timestamp=4000, duration_ms=100
    )
    assert [p.sequence for p in packets] == [65534, 65535, 0, 1, 2, 3, 4]
    assert {p.timestamp for p in packets} == {4000}
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert [p.payload.hex() for p in packets] == [
        "050a00a0",  # 20 ms so far
        "050a0140",
        "050a01e0",
        "050a0280",
        "058a0320",  # end, 100 ms = 800 units, sent three times
        "058a0320",
        "058a0320",
    ]
    assert all(p.payload_type == 101 and p.ssrc == 9 for p in packets)


def test_short_dtmf_is_only_end_packets() -> None:
    packets = dtmf_packets("#", payload_type=96, ssrc=1, sequence=0, timestamp=0, duration_ms=20)
    assert [parse_telephone_event(p.payload) for p in packets] == [
        TelephoneEvent(11, True, 10, 160)
    ] * 3
    assert packets[0].marker


BLOCK = ReportBlock(
    ssrc=0x0A0B0C0D,
    fraction_lost=42,
    cumulative_lost=-1,
    highest_sequence=0x00010005,
    jitter=9,
    last_sr=0x12345678,
    delay_since_last_sr=0x00010000,
)


def test_sender_report_bytes() -> None:
    sr = SenderReport(1, 0x0123456789ABCDEF, 160, 5, 800, (BLOCK,))
    expected = bytes.fromhex(
        "81c8000c"  # V=2 RC=1 PT=200 length=12 words after the first
        "00000001"  # SSRC of sender
        "0123456789abcdef"  # NTP timestamp
        "000000a0"
        "00000005"
        "00000320"  # RTP timestamp, packets, octets
        "0a0b0c0d"
        "2affffff"
        "00010005"
        "00000009"
        "12345678"
        "00010000"
    )
    assert pack_rtcp(sr) == expected
    assert parse_rtcp(expected) == [sr]


def test_compound_rr_sdes_bye_round_trip_and_bytes() -> None:
    rr = ReceiverReport(2, (BLOCK,))
    sdes = SourceDescription((SdesChunk(2, ((1, b"a@b.c"),)),))
    bye = Bye((2,), b"bye")
    data = build_compound([rr, sdes, bye])
    assert data[:8] == bytes.fromhex("81c9000700000002")  # RR: RC=1, 7 words follow
    assert data[32:] == bytes.fromhex(
        "81ca0003"
        "00000002"
        "0105"
        "6140622e63"
        "00"  # SDES: CNAME "a@b.c", null end
        "81cb0002"
        "00000002"
        "03627965"  # BYE with reason "bye"
    )
    assert parse_rtcp(data) == [rr, sdes, bye]


def test_sdes_exactly_word_aligned_gets_a_whole_null_word() -> None:
    chunk = SdesChunk(3, ((1, b"ab"),))  # 4 + 2 + 2 = 8 bytes: needs 4 more nulls
    data = pack_rtcp(SourceDescription((chunk,)))
    assert data == bytes.fromhex("81ca0003000000030102616200000000")
    assert parse_rtcp(data) == [SourceDescription((chunk,))]


def test_unknown_rtcp_types_are_kept() -> None:
    app = UnknownRtcp(204, 1, b"\x00\x00\x00\x01NAME")
    assert parse_rtcp(pack_rtcp(app)) == [app]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\x80", "shorter than its 4-byte header"),
        (bytes.fromhex("40c9000100000001"), "version 1"),
        (bytes.fromhex("80c9000200000001"), "runs past"),
        (bytes.fromhex("81c9000100000001"), "1 report blocks"),
        (bytes.fromhex("80c8000100000001"), "sender info"),
        (bytes.fromhex("81ca000100000001"), "no terminating null"),
        (bytes.fromhex("81cb0000"), "1 SSRCs"),
        (bytes.fromhex("80c900010000000100"), "trailing"),
        (bytes.fromhex("a0c9000100000000"), "padding count 0"),
    ],
)
def test_malformed_rtcp_raises_rtp_error(data: bytes, fragment: str) -> None:
    with pytest.raises(RtpError, match=fragment):
        parse_rtcp(data)


@given(st.binary(max_size=120))
def test_rtcp_parser_raises_only_rtp_error(data: bytes) -> None:
    try:
        parse_rtcp(data)
    except RtpError:
        pass


@given(st.lists(st.binary(min_size=4, max_size=4), max_size=5))
def test_rtcp_parser_on_valid_headers_with_random_bodies(words: list[bytes]) -> None:
    for pt in (200, 201, 202, 203):
        data = bytes((0x81, pt, 0, len(words))) + b"".join(words)
        try:
            parse_rtcp(data)
        except RtpError:
            pass


def test_ntp_timestamp_of_unix_epoch_and_half_second() -> None:
    assert ntp_from_seconds(0.0) == 2_208_988_800 << 32
    assert ntp_from_seconds(0.5) == (2_208_988_800 << 32) | 0x80000000


def test_round_trip_from_report_block_and_rounding_below_zero() -> None:
    # 10 ms out, 20 ms held by the peer: arrival 30 ms after our SR left.
    assert round_trip_ms(0x10000 + 1966, 0x10000, 1310) == pytest.approx(10.0, abs=0.02)
    # Loopback with a peer's millisecond DLSR: a few units below zero is rounding, read as 0.
    assert round_trip_ms(0x10000, 0x10000, 60) == 0.0
    assert round_trip_ms(0x10000, 0x10000, 327) == 0.0
    # Far below zero: a report out of step, no round trip.
    assert round_trip_ms(0x10000, 0x10000, 6554) is None
    # The 32-bit fields wrap.
    assert round_trip_ms(5, 0xFFFFFFF0, 0) == pytest.approx(21 * 1000 / 65536)
