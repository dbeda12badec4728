"""HEP3 (the Homer Encapsulation Protocol, version 3): packets that mirror what a run sends and
receives to a capture server (Homer, Kamailio's sipcapture, heplify-server).

Sans-IO: ``encode`` turns a ``HepPacket`` into bytes and ``decode`` reads one back (the
simulation's collector and the tests use it). A packet is the ASCII id ``HEP3``, its total
length (uint16), then chunks: vendor id (uint16, 0 = generic), chunk type (uint16), chunk
length including its 6-byte header (uint16), payload. Integers are big-endian.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import struct

__all__ = [
    "CHUNK_AUTH_KEY",
    "CHUNK_CAPTURE_ID",
    "CHUNK_CORRELATION_ID",
    "CHUNK_NODE_NAME",
    "CHUNK_PAYLOAD",
    "HEP_MAX_BYTES",
    "IPPROTO_TCP",
    "IPPROTO_UDP",
    "PROTO_JSON_LOG",
    "PROTO_RTCP",
    "PROTO_SIP",
    "HepError",
    "HepPacket",
    "decode",
    "describe",
    "encode",
    "split_stream",
]

PROTO_SIP = 1
PROTO_RTCP = 5
PROTO_JSON_LOG = 100
"""Protocol types (chunk 0x000b): SIP, RTCP, and a JSON log line (Homer's "LOG" type)."""

IPPROTO_TCP = 6
IPPROTO_UDP = 17

_FAMILY_IPV4 = 2
_FAMILY_IPV6 = 10

CHUNK_FAMILY = 0x0001
CHUNK_IP_PROTOCOL = 0x0002
CHUNK_IPV4_SRC = 0x0003
CHUNK_IPV4_DST = 0x0004
CHUNK_IPV6_SRC = 0x0005
CHUNK_IPV6_DST = 0x0006
CHUNK_SRC_PORT = 0x0007
CHUNK_DST_PORT = 0x0008
CHUNK_TIME_S = 0x0009
CHUNK_TIME_US = 0x000A
CHUNK_PROTO_TYPE = 0x000B
CHUNK_CAPTURE_ID = 0x000C
CHUNK_AUTH_KEY = 0x000E
CHUNK_PAYLOAD = 0x000F
CHUNK_CORRELATION_ID = 0x0011
CHUNK_NODE_NAME = 0x0013
"""0x0013 is the spec's "group id"; capture agents (heplify) carry their node name in it."""

HEP_MAX_BYTES = 65535
"""The length field is 16 bits: a larger packet cannot be encoded."""

_HEADER = struct.Struct("!4sH")
_CHUNK = struct.Struct("!HHH")


class HepError(ValueError):
    """Bytes that are not a well-formed HEP3 packet, or a packet too large to encode."""


@dataclasses.dataclass(frozen=True, slots=True)
class HepPacket:
    """One mirrored message: where it went from and to, when, and what."""

    src: tuple[str, int]
    dst: tuple[str, int]
    time_s: int
    time_us: int
    payload: bytes
    ip_protocol: int = IPPROTO_UDP
    proto_type: int = PROTO_SIP
    capture_id: int = 0
    auth_key: str | None = None
    correlation_id: str | None = None
    node_name: str | None = None

    @property
    def ipv6(self) -> bool:
        return ":" in self.src[0]


def _chunk(kind: int, value: bytes) -> bytes:
    return _CHUNK.pack(0, kind, len(value) + _CHUNK.size) + value


def encode(packet: HepPacket) -> bytes:
    """The HEP3 bytes of ``packet``.

    Raises:
        HepError: an address is not an IP literal, the two are of different families, or the
            packet would exceed 65,535 bytes.
    """
    try:
        src = ipaddress.ip_address(packet.src[0])
        dst = ipaddress.ip_address(packet.dst[0])
    except ValueError as exc:
        raise HepError(f"HEP needs IP addresses: {exc}") from exc
    if src.version != dst.version:
        raise HepError(f"HEP addresses of two families: {src} and {dst}")
    v6 = src.version == 6
    parts = [
        _chunk(CHUNK_FAMILY, bytes((_FAMILY_IPV6 if v6 else _FAMILY_IPV4,))),
        _chunk(CHUNK_IP_PROTOCOL, bytes((packet.ip_protocol,))),
        _chunk(CHUNK_IPV6_SRC if v6 else CHUNK_IPV4_SRC, src.packed),
        _chunk(CHUNK_IPV6_DST if v6 else CHUNK_IPV4_DST, dst.packed),
        _chunk(CHUNK_SRC_PORT, struct.pack("!H", packet.src[1])),
        _chunk(CHUNK_DST_PORT, struct.pack("!H", packet.dst[1])),
        _chunk(CHUNK_TIME_S, struct.pack("!I", packet.time_s)),
        _chunk(CHUNK_TIME_US, struct.pack("!I", packet.time_us)),
        _chunk(CHUNK_PROTO_TYPE, bytes((packet.proto_type,))),
        _chunk(CHUNK_CAPTURE_ID, struct.pack("!I", packet.capture_id)),
    ]
    if packet.auth_key:
        parts.append(_chunk(CHUNK_AUTH_KEY, packet.auth_key.encode()))
    if packet.correlation_id is not None:
        parts.append(_chunk(CHUNK_CORRELATION_ID, packet.correlation_id.encode("latin-1")))
    if packet.node_name:
        parts.append(_chunk(CHUNK_NODE_NAME, packet.node_name.encode()))
    parts.append(_chunk(CHUNK_PAYLOAD, packet.payload))
    body = b"".join(parts)
    total = _HEADER.size + len(body)
    if total > HEP_MAX_BYTES:
        raise HepError(f"HEP packet of {total} bytes exceeds {HEP_MAX_BYTES}")
    return _HEADER.pack(b"HEP3", total) + body


def decode(data: bytes) -> HepPacket:
    """Read one HEP3 packet (unknown chunks and vendor chunks are skipped).

    Raises:
        HepError: not HEP3, a length that does not match, or a required chunk missing.
    """
    if len(data) < _HEADER.size:
        raise HepError("HEP packet shorter than its header")
    magic, total = _HEADER.unpack_from(data)
    if magic != b"HEP3":
        raise HepError(f"not a HEP3 packet (starts with {magic!r})")
    if total != len(data):
        raise HepError(f"HEP length field says {total} bytes, the packet has {len(data)}")
    chunks: dict[int, bytes] = {}
    offset = _HEADER.size
    while offset < total:
        if offset + _CHUNK.size > total:
            raise HepError(f"truncated chunk header at byte {offset}")
        vendor, kind, length = _CHUNK.unpack_from(data, offset)
        if length < _CHUNK.size or offset + length > total:
            raise HepError(f"chunk 0x{kind:04x} at byte {offset} has a bad length {length}")
        if vendor == 0:
            chunks[kind] = data[offset + _CHUNK.size : offset + length]
        offset += length
    try:
        v6 = chunks[CHUNK_FAMILY] == bytes((_FAMILY_IPV6,))
        src_ip = chunks[CHUNK_IPV6_SRC if v6 else CHUNK_IPV4_SRC]
        dst_ip = chunks[CHUNK_IPV6_DST if v6 else CHUNK_IPV4_DST]
        (src_port,) = struct.unpack("!H", chunks[CHUNK_SRC_PORT])
        (dst_port,) = struct.unpack("!H", chunks[CHUNK_DST_PORT])
        (time_s,) = struct.unpack("!I", chunks[CHUNK_TIME_S])
        (time_us,) = struct.unpack("!I", chunks[CHUNK_TIME_US])
        ip_protocol = chunks[CHUNK_IP_PROTOCOL][0]
        proto_type = chunks[CHUNK_PROTO_TYPE][0]
        payload = chunks[CHUNK_PAYLOAD]
    except (KeyError, IndexError, struct.error) as exc:
        raise HepError(f"HEP packet lacks a required chunk ({exc})") from exc
    capture = chunks.get(CHUNK_CAPTURE_ID)
    auth = chunks.get(CHUNK_AUTH_KEY)
    correlation = chunks.get(CHUNK_CORRELATION_ID)
    node = chunks.get(CHUNK_NODE_NAME)
    return HepPacket(
        src=(str(ipaddress.ip_address(src_ip)), src_port),
        dst=(str(ipaddress.ip_address(dst_ip)), dst_port),
        time_s=time_s,
        time_us=time_us,
        payload=payload,
        ip_protocol=ip_protocol,
        proto_type=proto_type,
        capture_id=struct.unpack("!I", capture)[0] if capture and len(capture) == 4 else 0,
        auth_key=auth.decode("utf-8", "replace") if auth is not None else None,
        correlation_id=correlation.decode("latin-1") if correlation is not None else None,
        node_name=node.decode("utf-8", "replace") if node is not None else None,
    )


_PROTO_NAMES = {PROTO_SIP: "SIP", PROTO_RTCP: "RTCP", PROTO_JSON_LOG: "LOG"}


def describe(packet: HepPacket) -> str:
    """A packet as text: one header line, the payload (latin-1), a blank line. The
    simulation's collector writes these (``gossipper sim``'s ``hep_capture.log``)."""
    transport = "TCP" if packet.ip_protocol == IPPROTO_TCP else "UDP"
    kind = _PROTO_NAMES.get(packet.proto_type, str(packet.proto_type))
    src = (
        f"[{packet.src[0]}]:{packet.src[1]}" if packet.ipv6 else f"{packet.src[0]}:{packet.src[1]}"
    )
    dst = (
        f"[{packet.dst[0]}]:{packet.dst[1]}" if packet.ipv6 else f"{packet.dst[0]}:{packet.dst[1]}"
    )
    header = (
        f"HEP3 {kind} {transport} {src} -> {dst} at {packet.time_s}.{packet.time_us:06d}"
        f" capture_id={packet.capture_id}"
    )
    if packet.auth_key is not None:
        header += " auth_key=yes"
    if packet.node_name is not None:
        header += f" node={packet.node_name}"
    if packet.correlation_id is not None:
        header += f" correlation_id={packet.correlation_id}"
    return f"{header}\n{packet.payload.decode('latin-1')}\n"


def split_stream(buffer: bytearray) -> list[bytes]:
    """Whole HEP3 packets taken off the front of ``buffer`` (a TCP stream's bytes); what is
    left is the start of the next one.

    Raises:
        HepError: the stream is not HEP3 at a packet boundary.
    """
    packets: list[bytes] = []
    while len(buffer) >= _HEADER.size:
        magic, total = _HEADER.unpack_from(buffer)
        if magic != b"HEP3" or total < _HEADER.size:
            raise HepError(f"HEP stream out of step (starts with {bytes(buffer[:4])!r})")
        if len(buffer) < total:
            break
        packets.append(bytes(buffer[:total]))
        del buffer[:total]
    return packets
