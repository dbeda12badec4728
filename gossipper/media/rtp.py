"""RTP and RTCP packets (RFC 3550), RFC 4733 telephone-events, and modular seq/ts arithmetic.

Pure: bytes in, bytes out. Parsers raise only RtpError for any malformed input, because they
are fed straight from the network.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from gossipper.errors import GossipperError

RTP_VERSION = 2
SEQ_MOD = 1 << 16
TS_MOD = 1 << 32

RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204

SDES_END = 0
SDES_CNAME = 1


class RtpError(GossipperError):
    """A malformed RTP or RTCP packet (counted by the receiver, never fatal)."""


# --- sequence number and timestamp arithmetic -------------------------------------------------


def seq_add(seq: int, n: int) -> int:
    """``seq + n`` modulo 2**16."""
    return (seq + n) % SEQ_MOD


def seq_diff(a: int, b: int) -> int:
    """The signed distance ``a - b`` on the 16-bit circle, in [-32768, 32767]."""
    d = (a - b) % SEQ_MOD
    return d - SEQ_MOD if d >= SEQ_MOD // 2 else d


def seq_lt(a: int, b: int) -> bool:
    """True when ``a`` comes before ``b`` (RFC 1982 serial comparison)."""
    return seq_diff(a, b) < 0


def ts_add(ts: int, n: int) -> int:
    """``ts + n`` modulo 2**32."""
    return (ts + n) % TS_MOD


def ts_diff(a: int, b: int) -> int:
    """The signed distance ``a - b`` on the 32-bit circle."""
    d = (a - b) % TS_MOD
    return d - TS_MOD if d >= TS_MOD // 2 else d


# --- RTP ---------------------------------------------------------------------------------------

_RTP_HEADER = struct.Struct("!BBHII")


@dataclass(frozen=True, slots=True)
class RtpExtension:
    """An RFC 3550 section 5.3.1 header extension; ``data`` is a multiple of 4 bytes."""

    profile: int
    data: bytes


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet. ``padding`` is the number of padding bytes (0 = P bit clear)."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: int = 0

    def pack(self) -> bytes:
        if not 0 <= self.payload_type <= 127:
            raise ValueError(f"payload type {self.payload_type} is outside 0..127")
        if len(self.csrcs) > 15:
            raise ValueError("at most 15 CSRCs fit the CC field")
        if not 0 <= self.padding <= 255:
            raise ValueError("padding is 0..255 bytes")
        first = (RTP_VERSION << 6) | (len(self.csrcs) & 0x0F)
        if self.padding:
            first |= 0x20
        if self.extension is not None:
            first |= 0x10
        second = (0x80 if self.marker else 0) | self.payload_type
        parts = [_RTP_HEADER.pack(first, second, self.sequence, self.timestamp, self.ssrc)]
        parts.extend(struct.pack("!I", c) for c in self.csrcs)
        if self.extension is not None:
            data = self.extension.data
            if len(data) % 4:
                raise ValueError("an RTP header extension is a whole number of 32-bit words")
            parts.append(struct.pack("!HH", self.extension.profile, len(data) // 4))
            parts.append(data)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes((self.padding,)))
        return b"".join(parts)


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse one RTP packet; RtpError when it is not a well-formed version 2 packet."""
    if len(data) < 12:
        raise RtpError(f"RTP packet of {len(data)} bytes is shorter than the 12-byte header")
    first, second, seq, ts, ssrc = _RTP_HEADER.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        raise RtpError(f"RTP version {first >> 6}, expected 2")
    offset = 12
    cc = first & 0x0F
    if len(data) < offset + 4 * cc:
        raise RtpError(f"RTP packet too short for its {cc} CSRCs")
    csrcs = struct.unpack_from(f"!{cc}I", data, offset) if cc else ()
    offset += 4 * cc
    extension: RtpExtension | None = None
    if first & 0x10:
        if len(data) < offset + 4:
            raise RtpError("RTP packet too short for its header extension")
        profile, words = struct.unpack_from("!HH", data, offset)
        offset += 4
        if len(data) < offset + 4 * words:
            raise RtpError(f"RTP header extension of {words} words runs past the packet")
        extension = RtpExtension(profile, bytes(data[offset : offset + 4 * words]))
        offset += 4 * words
    end = len(data)
    padding = 0
    if first & 0x20:
        padding = data[-1]
        if padding == 0 or end - padding < offset:
            raise RtpError(f"RTP padding count {padding} is invalid for the packet length")
        end -= padding
    return RtpPacket(
        payload_type=second & 0x7F,
        sequence=seq,
        timestamp=ts,
        ssrc=ssrc,
        payload=bytes(data[offset:end]),
        marker=bool(second & 0x80),
        csrcs=tuple(csrcs),
        extension=extension,
        padding=padding,
    )


# --- RFC 4733 telephone-events -----------------------------------------------------------------

DTMF_EVENTS: dict[str, int] = {
    **{str(d): d for d in range(10)},
    "*": 10,
    "#": 11,
    "A": 12,
    "B": 13,
    "C": 14,
    "D": 15,
}
"""DTMF digit -> RFC 4733 section 3.2 event code."""


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """The 4-byte RFC 4733 payload: event, E bit, volume (0..63, -dBm0), duration (ts units)."""

    event: int
    end: bool
    volume: int
    duration: int

    def pack(self) -> bytes:
        if not 0 <= self.volume <= 63:
            raise ValueError("volume is 0..63 (-dBm0)")
        flags = (0x80 if self.end else 0) | self.volume
        return struct.pack("!BBH", self.event, flags, min(self.duration, 0xFFFF))


def parse_telephone_event(payload: bytes) -> TelephoneEvent:
    if len(payload) < 4:
        raise RtpError(f"telephone-event payload of {len(payload)} bytes, expected 4")
    event, flags, duration = struct.unpack_from("!BBH", payload)
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


def dtmf_event_code(digit: str) -> int:
    """The event code of a DTMF digit (case-insensitive A-D); ValueError names the digit."""
    code = DTMF_EVENTS.get(digit.upper())
    if code is None:
        raise ValueError(f"{digit!r} is not a DTMF digit (0-9, *, #, A-D)")
    return code


def dtmf_packets(
    digit: str,
    *,
    payload_type: int,
    ssrc: int,
    sequence: int,
    timestamp: int,
    duration_ms: int,
    clock_rate: int = 8000,
    interval_ms: int = 20,
    volume: int = 10,
) -> list[RtpPacket]:
    """Every packet of one RFC 4733 event, to send ``interval_ms`` apart.

    All share the event's start timestamp (section 2.5.1.2); the first has the marker bit; each
    update carries the duration so far; the final (E bit) packet is sent three times in all
    (section 2.5.1.4), each with its own sequence number as RTP requires.
    """
    code = dtmf_event_code(digit)
    if duration_ms <= 0 or interval_ms <= 0:
        raise ValueError("DTMF duration and interval must be positive")
    step = clock_rate * interval_ms // 1000
    total = clock_rate * duration_ms // 1000
    packets: list[RtpPacket] = []
    elapsed = step
    while elapsed < total:
        event = TelephoneEvent(code, False, volume, elapsed)
        packets.append(
            RtpPacket(
                payload_type,
                seq_add(sequence, len(packets)),
                timestamp,
                ssrc,
                event.pack(),
                marker=not packets,
            )
        )
        elapsed += step
    final = TelephoneEvent(code, True, volume, total).pack()
    for _ in range(3):
        packets.append(
            RtpPacket(
                payload_type,
                seq_add(sequence, len(packets)),
                timestamp,
                ssrc,
                final,
                marker=not packets,
            )
        )
    return packets


# --- RTCP --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """An RFC 3550 section 6.4.1 reception report block."""

    ssrc: int
    fraction_lost: int
    """Lost fraction since the last report, in 1/256 units (0..255)."""
    cumulative_lost: int
    """Signed 24-bit count (duplicates can make it negative)."""
    highest_sequence: int
    """Extended highest sequence number received (cycles << 16 | seq)."""
    jitter: int
    """Interarrival jitter in timestamp units."""
    last_sr: int
    delay_since_last_sr: int
    """In units of 1/65536 s."""

    def pack(self) -> bytes:
        lost = max(-(1 << 23), min((1 << 23) - 1, self.cumulative_lost)) & 0xFFFFFF
        return struct.pack(
            "!IIIIII",
            self.ssrc,
            (min(self.fraction_lost, 255) << 24) | lost,
            self.highest_sequence & 0xFFFFFFFF,
            min(self.jitter, 0xFFFFFFFF),
            self.last_sr,
            self.delay_since_last_sr,
        )


def _parse_report_block(data: bytes, offset: int) -> ReportBlock:
    ssrc, lost_word, highest, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", data, offset)
    lost = lost_word & 0xFFFFFF
    if lost & 0x800000:
        lost -= 1 << 24
    return ReportBlock(ssrc, lost_word >> 24, lost, highest, jitter, lsr, dlsr)


@dataclass(frozen=True, slots=True)
class SenderReport:
    ssrc: int
    ntp_timestamp: int
    """64-bit NTP time: seconds since 1900 in the high 32 bits, fraction in the low."""
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    ssrc: int
    reports: tuple[ReportBlock, ...] = ()


@dataclass(frozen=True, slots=True)
class SdesChunk:
    ssrc: int
    items: tuple[tuple[int, bytes], ...]
    """(item type, text) pairs, e.g. (SDES_CNAME, b"user@host")."""


@dataclass(frozen=True, slots=True)
class SourceDescription:
    chunks: tuple[SdesChunk, ...]


@dataclass(frozen=True, slots=True)
class Bye:
    ssrcs: tuple[int, ...]
    reason: bytes = b""


@dataclass(frozen=True, slots=True)
class UnknownRtcp:
    """An RTCP packet type this module does not interpret (APP, XR, feedback, ...)."""

    packet_type: int
    count: int
    body: bytes


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Bye | UnknownRtcp


def ntp_from_seconds(unix_seconds: float) -> int:
    """The 64-bit NTP timestamp of a Unix time (RFC 3550 section 4)."""
    ntp = unix_seconds + 2_208_988_800
    seconds = int(ntp)
    return ((seconds & 0xFFFFFFFF) << 32) | int((ntp - seconds) * (1 << 32)) & 0xFFFFFFFF


# Peers stamp DLSR from millisecond clocks (baresip, for one) and we truncate the arrival to
# 1/65536 s, so on loopback, where the true round trip is near zero, the difference can come out a
# few units below zero. Up to 5 ms of that is rounding and reads as 0; more is a report out of step.
_RTT_ROUNDING_UNITS = 5 * 65536 // 1000


def round_trip_ms(arrival_ntp32: int, last_sr: int, delay_since_last_sr: int) -> float | None:
    """RFC 3550 6.4.1's round trip from a report block, in ms, or None if out of step.

    All three are the middle 32 bits of NTP timestamps (units of 1/65536 s).
    """
    rtt = (arrival_ntp32 - last_sr - delay_since_last_sr) & 0xFFFFFFFF
    if rtt < 1 << 31:
        return rtt * 1000.0 / 65536.0
    if (1 << 32) - rtt <= _RTT_ROUNDING_UNITS:
        return 0.0
    return None


def _header(packet_type: int, count: int, body: bytes) -> bytes:
    if len(body) % 4:
        raise ValueError("RTCP bodies are whole 32-bit words")
    return struct.pack("!BBH", 0x80 | count, packet_type, len(body) // 4) + body


def pack_rtcp(packet: RtcpPacket) -> bytes:
    """One RTCP packet (no padding)."""
    if isinstance(packet, SenderReport):
        if len(packet.reports) > 31:
            raise ValueError("at most 31 report blocks per SR")
        body = struct.pack(
            "!IQIII",
            packet.ssrc,
            packet.ntp_timestamp,
            packet.rtp_timestamp,
            packet.packet_count & 0xFFFFFFFF,
            packet.octet_count & 0xFFFFFFFF,
        ) + b"".join(r.pack() for r in packet.reports)
        return _header(RTCP_SR, len(packet.reports), body)
    if isinstance(packet, ReceiverReport):
        if len(packet.reports) > 31:
            raise ValueError("at most 31 report blocks per RR")
        body = struct.pack("!I", packet.ssrc) + b"".join(r.pack() for r in packet.reports)
        return _header(RTCP_RR, len(packet.reports), body)
    if isinstance(packet, SourceDescription):
        chunks = []
        for chunk in packet.chunks:
            data = bytearray(struct.pack("!I", chunk.ssrc))
            for item_type, text in chunk.items:
                if len(text) > 255:
                    raise ValueError("an SDES item is at most 255 bytes")
                data += bytes((item_type, len(text))) + text
            # The item list ends with a null byte, then pads to a 32-bit boundary with nulls.
            data += bytes(4 - len(data) % 4)
            chunks.append(bytes(data))
        return _header(RTCP_SDES, len(packet.chunks), b"".join(chunks))
    if isinstance(packet, Bye):
        body = b"".join(struct.pack("!I", s) for s in packet.ssrcs)
        if packet.reason:
            reason = bytes((len(packet.reason),)) + packet.reason
            body += reason + bytes(-len(reason) % 4)
        return _header(RTCP_BYE, len(packet.ssrcs), body)
    return _header(packet.packet_type, packet.count, packet.body)


def build_compound(packets: list[RtcpPacket]) -> bytes:
    """A compound RTCP packet: the packets back to back (RFC 3550 section 6.1)."""
    return b"".join(pack_rtcp(p) for p in packets)


def parse_rtcp(data: bytes) -> list[RtcpPacket]:
    """Parse a (compound) RTCP packet; RtpError for anything malformed."""
    packets: list[RtcpPacket] = []
    offset = 0
    if len(data) < 4:
        raise RtpError(f"RTCP packet of {len(data)} bytes is shorter than its 4-byte header")
    while offset < len(data):
        if len(data) - offset < 4:
            raise RtpError(f"{len(data) - offset} trailing bytes after the last RTCP packet")
        first, packet_type, words = struct.unpack_from("!BBH", data, offset)
        if first >> 6 != RTP_VERSION:
            raise RtpError(f"RTCP version {first >> 6}, expected 2")
        end = offset + 4 + 4 * words
        if end > len(data):
            raise RtpError(f"RTCP packet type {packet_type} length runs past the datagram")
        if first & 0x20:
            pad = data[end - 1]
            if pad == 0 or pad > end - offset - 4:
                raise RtpError(f"RTCP padding count {pad} is invalid")
            body = bytes(data[offset + 4 : end - pad])
        else:
            body = bytes(data[offset + 4 : end])
        packets.append(_parse_one(packet_type, first & 0x1F, body))
        offset = end
    return packets


def _parse_reports(body: bytes, offset: int, count: int, kind: str) -> tuple[ReportBlock, ...]:
    if len(body) < offset + 24 * count:
        raise RtpError(f"RTCP {kind} too short for its {count} report blocks")
    return tuple(_parse_report_block(body, offset + 24 * i) for i in range(count))


def _parse_one(packet_type: int, count: int, body: bytes) -> RtcpPacket:
    if packet_type == RTCP_SR:
        if len(body) < 24:
            raise RtpError("RTCP SR shorter than its sender info")
        ssrc, ntp, rtp_ts, packets, octets = struct.unpack_from("!IQIII", body)
        return SenderReport(
            ssrc, ntp, rtp_ts, packets, octets, _parse_reports(body, 24, count, "SR")
        )
    if packet_type == RTCP_RR:
        if len(body) < 4:
            raise RtpError("RTCP RR shorter than its SSRC")
        (ssrc,) = struct.unpack_from("!I", body)
        return ReceiverReport(ssrc, _parse_reports(body, 4, count, "RR"))
    if packet_type == RTCP_SDES:
        chunks: list[SdesChunk] = []
        offset = 0
        for _ in range(count):
            if len(body) < offset + 4:
                raise RtpError("RTCP SDES chunk runs past the packet")
            (ssrc,) = struct.unpack_from("!I", body, offset)
            offset += 4
            items: list[tuple[int, bytes]] = []
            while True:
                if offset >= len(body):
                    raise RtpError("RTCP SDES item list has no terminating null")
                item_type = body[offset]
                if item_type == SDES_END:
                    # Skip the null and the padding up to the next 32-bit boundary.
                    offset += 1
                    offset += -offset % 4
                    break
                if offset + 2 > len(body) or offset + 2 + body[offset + 1] > len(body):
                    raise RtpError("RTCP SDES item runs past the packet")
                length = body[offset + 1]
                items.append((item_type, body[offset + 2 : offset + 2 + length]))
                offset += 2 + length
            chunks.append(SdesChunk(ssrc, tuple(items)))
        return SourceDescription(tuple(chunks))
    if packet_type == RTCP_BYE:
        if len(body) < 4 * count:
            raise RtpError(f"RTCP BYE too short for its {count} SSRCs")
        ssrcs = struct.unpack_from(f"!{count}I", body) if count else ()
        rest = body[4 * count :]
        reason = b""
        if rest:
            if 1 + rest[0] > len(rest):
                raise RtpError("RTCP BYE reason runs past the packet")
            reason = rest[1 : 1 + rest[0]]
        return Bye(tuple(ssrcs), reason)
    return UnknownRtcp(packet_type, count, body)
