"""Reading SIP messages out of a pcap or pcapng file (dpkt parses the file and the packets).

Link types: Ethernet, Linux cooked capture (SLL and SLL2), raw IP, BSD loopback (NULL/LOOP).
Network: IPv4 and IPv6; UDP datagrams, and TCP segments reassembled per direction by sequence
number, then framed by Content-Length (:class:`gossipper.sip.framing.StreamFramer`). What is
not SIP, cannot be decoded, or is cut short is skipped and counted in :class:`SkipCounts`.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import socket
import struct
from collections.abc import Iterator

import dpkt

from gossipper.capture import CaptureError
from gossipper.errors import SipParseError
from gossipper.sip.framing import StreamFramer
from gossipper.sip.message import SipMessage, parse_message

__all__ = ["CapturedMessage", "CaptureRead", "SkipCounts", "read_capture"]

Endpoint = tuple[str, int]

_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_PCAP_MAGICS = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",  # nanosecond timestamps
    b"\xa1\xb2\x3c\x4d",
)

# Link-layer header types (https://www.tcpdump.org/linktypes.html).
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_RAW_OLD = 12  # DLT_RAW on OpenBSD and some older writers
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

_SIP_STARTS = (
    b"SIP/2.0 ",
    b"INVITE ",
    b"ACK ",
    b"BYE ",
    b"CANCEL ",
    b"OPTIONS ",
    b"REGISTER ",
    b"PRACK ",
    b"SUBSCRIBE ",
    b"NOTIFY ",
    b"PUBLISH ",
    b"INFO ",
    b"REFER ",
    b"MESSAGE ",
    b"UPDATE ",
)


@dataclasses.dataclass(frozen=True, slots=True)
class CapturedMessage:
    """One SIP message of the capture: when (Unix seconds), from where to where, over what."""

    time_s: float
    src: Endpoint
    dst: Endpoint
    transport: str
    """``"UDP"`` or ``"TCP"``."""
    message: SipMessage


@dataclasses.dataclass(slots=True)
class SkipCounts:
    """What was skipped while reading, by reason (printed as one summary line)."""

    truncated_file: int = 0
    """1 when the file ends inside a record (a capture cut short)."""
    truncated_packets: int = 0
    """Packets captured shorter than they were on the wire (snap length)."""
    unknown_link: int = 0
    fragments: int = 0
    not_ip: int = 0
    other_protocols: int = 0
    """IP packets that are neither UDP nor TCP."""
    not_sip: int = 0
    malformed_sip: int = 0
    undecodable: int = 0
    """Packets whose headers dpkt could not decode."""

    def total(self) -> int:
        return sum(getattr(self, field.name) for field in dataclasses.fields(self))

    def summary(self) -> str:
        """``"3 fragments, 1 not SIP"``: the non-zero counters, or ""."""
        labels = {
            "truncated_file": "truncated file",
            "truncated_packets": "truncated packets",
            "unknown_link": "unknown link type",
            "fragments": "IP fragments",
            "not_ip": "not IP",
            "other_protocols": "neither UDP nor TCP",
            "not_sip": "not SIP",
            "malformed_sip": "malformed SIP",
            "undecodable": "undecodable packets",
        }
        parts = [
            f"{getattr(self, name)} {label}"
            for name, label in labels.items()
            if getattr(self, name)
        ]
        return ", ".join(parts)


@dataclasses.dataclass(frozen=True, slots=True)
class CaptureRead:
    """The SIP messages of a capture in capture order, and what was skipped."""

    messages: tuple[CapturedMessage, ...]
    skipped: SkipCounts
    packets: int
    first_time_s: float | None
    """Timestamp of the first packet (the origin of ``--from``/``--to``)."""


def read_capture(path: str | os.PathLike[str]) -> CaptureRead:
    """Read the SIP messages of a pcap or pcapng file.

    Raises:
        CaptureError: the file cannot be read or is not a pcap/pcapng capture.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise CaptureError(f"cannot read capture {name}: {exc.strerror or exc}") from None
    return read_capture_bytes(data, name)


def read_capture_bytes(data: bytes, name: str = "<capture>") -> CaptureRead:
    """:func:`read_capture` on the bytes of a file (``name`` is for messages)."""
    import io

    magic = data[:4]
    stream = io.BytesIO(data)
    reader: dpkt.pcap.Reader | dpkt.pcapng.Reader
    try:
        if magic == _PCAPNG_MAGIC:
            reader = dpkt.pcapng.Reader(stream)
        elif magic in _PCAP_MAGICS:
            reader = dpkt.pcap.Reader(stream)
        else:
            raise ValueError("no pcap or pcapng magic number")
    except (ValueError, dpkt.Error, struct.error) as exc:
        raise CaptureError(
            f"{name} is not a pcap or pcapng capture ({_reason(exc)}); give a file written"
            " by tcpdump, tshark or dumpcap"
        ) from None
    skipped = SkipCounts()
    assembler = _Assembler(skipped)
    packets = 0
    first_time_s: float | None = None
    complete = _complete_pcap_records(data) if magic in _PCAP_MAGICS else None
    for time_s, linktype, frame in _records(reader, skipped, complete):
        packets += 1
        if first_time_s is None:
            first_time_s = time_s
        assembler.packet(time_s, linktype, frame)
    return CaptureRead(tuple(assembler.messages), skipped, packets, first_time_s)


def _complete_pcap_records(data: bytes) -> int | None:
    """The number of whole records of a pcap file cut inside a record, or None if it is whole.

    dpkt's pcap reader hands out the last record of a cut file short; the record headers say
    how long it should be.
    """
    order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    offset, count, size = 24, 0, len(data)
    while offset < size:
        if offset + 16 > size:
            return count
        (captured_length,) = struct.unpack_from(order + "I", data, offset + 8)
        if offset + 16 + captured_length > size:
            return count
        offset += 16 + captured_length
        count += 1
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def _records(
    reader: dpkt.pcap.Reader | dpkt.pcapng.Reader,
    skipped: SkipCounts,
    complete_records: int | None,
) -> Iterator[tuple[float, int, bytes]]:
    """(time, link type, frame bytes) of each record until the end or the
    first record cut short (a truncated file: counted, and reading stops there).
    ``complete_records``: how many records a truncated pcap file holds whole (None: not cut).
    """
    linktype = reader.datalink()
    iterator = iter(reader)
    limit = complete_records if complete_records is not None else -1
    while limit != 0:
        limit -= 1
        try:
            record = next(iterator)
        except StopIteration:
            return
        except (ValueError, dpkt.Error, struct.error, IndexError):
            skipped.truncated_file += 1
            return
        yield float(record[0]), linktype, bytes(record[1])
    if complete_records is not None:
        skipped.truncated_file += 1


def _network_layer(linktype: int, frame: bytes) -> dpkt.Packet | None:
    """The IPv4/IPv6 packet of a frame, None when the frame carries something else.

    Raises:
        KeyError: unknown link type.
    """
    if linktype == LINKTYPE_ETHERNET:
        return _ip_or_none(dpkt.ethernet.Ethernet(frame).data)
    if linktype in (LINKTYPE_RAW, LINKTYPE_RAW_OLD, LINKTYPE_IPV4, LINKTYPE_IPV6):
        return _raw_ip(frame)
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        # A 4-byte address family in the writer's byte order (NULL) or network order (LOOP);
        # the IP version nibble after it says more than the many BSD values of AF_INET6.
        return _raw_ip(frame[4:])
    if linktype == LINKTYPE_LINUX_SLL:
        return _ip_or_none(dpkt.sll.SLL(frame).data)
    if linktype == LINKTYPE_LINUX_SLL2:
        return _ip_or_none(dpkt.sll2.SLL2(frame).data)
    raise KeyError(linktype)


def _raw_ip(data: bytes) -> dpkt.Packet | None:
    if not data:
        return None
    version = data[0] >> 4
    if version == 4:
        return dpkt.ip.IP(data)
    if version == 6:
        return dpkt.ip6.IP6(data)
    return None


def _ip_or_none(payload: object) -> dpkt.Packet | None:
    if isinstance(payload, (dpkt.ip.IP, dpkt.ip6.IP6)):
        return payload
    return None


def _address(packet: dpkt.Packet, raw: bytes) -> str:
    family = socket.AF_INET6 if isinstance(packet, dpkt.ip6.IP6) else socket.AF_INET
    return socket.inet_ntop(family, raw)


class _Flow:
    """One direction of a TCP connection: its next expected sequence number, the segments that
    arrived ahead of it, and the framer of the bytes in order."""

    __slots__ = ("next_seq", "pending", "framer")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.pending: dict[int, bytes] = {}
        self.framer = StreamFramer()


class _Assembler:
    """Turns packets into SIP messages; keeps the TCP flows between packets."""

    def __init__(self, skipped: SkipCounts) -> None:
        self.skipped = skipped
        self.messages: list[CapturedMessage] = []
        self.flows: dict[tuple[Endpoint, Endpoint], _Flow] = collections.defaultdict(_Flow)
        self.unknown_links: set[int] = set()

    def packet(self, time_s: float, linktype: int, frame: bytes) -> None:
        skipped = self.skipped
        try:
            ip = _network_layer(linktype, frame)
        except KeyError:
            skipped.unknown_link += 1
            return
        except (dpkt.Error, struct.error, ValueError, IndexError):
            skipped.undecodable += 1
            return
        if ip is None:
            skipped.not_ip += 1
            return
        if self._is_fragment(ip):
            skipped.fragments += 1
            return
        transport = ip.data
        src = _address(ip, ip.src)
        dst = _address(ip, ip.dst)
        if isinstance(transport, dpkt.udp.UDP):
            if transport.ulen > len(transport):
                skipped.truncated_packets += 1  # cut by the snap length
                return
            self._datagram(time_s, (src, transport.sport), (dst, transport.dport), transport)
        elif isinstance(transport, dpkt.tcp.TCP):
            self._segment(time_s, (src, transport.sport), (dst, transport.dport), transport)
        elif isinstance(transport, bytes):
            # dpkt leaves the payload as bytes when it could not decode the UDP/TCP header.
            skipped.undecodable += 1
        else:
            skipped.other_protocols += 1

    @staticmethod
    def _is_fragment(ip: dpkt.Packet) -> bool:
        if isinstance(ip, dpkt.ip.IP):
            return bool(ip.mf) or ip.offset != 0
        return dpkt.ip.IP_PROTO_FRAGMENT in getattr(ip, "extension_hdrs", {}) and (
            ip.extension_hdrs[dpkt.ip.IP_PROTO_FRAGMENT] is not None
        )

    def _datagram(self, time_s: float, src: Endpoint, dst: Endpoint, udp: dpkt.Packet) -> None:
        payload = bytes(udp.data)
        if payload.strip(b"\r\n") == b"":
            return  # a keep-alive (CRLF ping) or an empty datagram: nothing to skip
        if not payload.lstrip(b"\r\n").startswith(_SIP_STARTS):
            self.skipped.not_sip += 1
            return
        self._message(time_s, src, dst, "UDP", payload)

    def _segment(self, time_s: float, src: Endpoint, dst: Endpoint, tcp: dpkt.Packet) -> None:
        flow = self.flows[(src, dst)]
        seq = int(tcp.seq)
        if tcp.flags & dpkt.tcp.TH_SYN:
            flow.next_seq = (seq + 1) & 0xFFFFFFFF
            flow.pending.clear()
            flow.framer = StreamFramer()
            return
        payload = bytes(tcp.data)
        if not payload:
            return
        if flow.next_seq is None:
            flow.next_seq = seq  # the capture started inside the connection
        offset = (seq - flow.next_seq) & 0xFFFFFFFF
        if offset >= 0x80000000:
            # Starts before what we have: a retransmission, maybe with new bytes at its end.
            overlap = (flow.next_seq - seq) & 0xFFFFFFFF
            if overlap >= len(payload):
                return
            payload = payload[overlap:]
            seq = flow.next_seq
        if seq != flow.next_seq:
            flow.pending[seq] = payload  # ahead of a gap: wait for the missing bytes
            return
        self._feed(time_s, src, dst, flow, payload)
        while flow.next_seq in flow.pending:
            self._feed(time_s, src, dst, flow, flow.pending.pop(flow.next_seq))

    def _feed(
        self, time_s: float, src: Endpoint, dst: Endpoint, flow: _Flow, payload: bytes
    ) -> None:
        assert flow.next_seq is not None
        flow.next_seq = (flow.next_seq + len(payload)) & 0xFFFFFFFF
        framer = flow.framer
        if not framer.buffered_size and not payload.lstrip(b"\r\n").startswith(_SIP_STARTS):
            if payload.strip(b"\r\n"):
                self.skipped.not_sip += 1
            return
        framer.feed(payload)
        while True:
            try:
                raw = framer.next_message()
            except SipParseError:
                self.skipped.malformed_sip += 1
                flow.framer = StreamFramer()
                return
            if raw is None:
                framer.take_pings()
                return
            self._message(time_s, src, dst, "TCP", raw)

    def _message(
        self, time_s: float, src: Endpoint, dst: Endpoint, transport: str, data: bytes
    ) -> None:
        try:
            message = parse_message(data)
        except SipParseError:
            self.skipped.malformed_sip += 1
            return
        if not message.call_id:
            self.skipped.malformed_sip += 1
            return
        self.messages.append(CapturedMessage(time_s, src, dst, transport, message))
