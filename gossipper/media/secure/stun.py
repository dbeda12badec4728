"""STUN messages (RFC 8489) and an ICE-lite responder (RFC 8445 2.5): pure bytes in and out.

Encodes and decodes messages and their attributes, MESSAGE-INTEGRITY with short-term (ICE) or
long-term (TURN) credentials, and FINGERPRINT. Malformed input raises StunError only, so a
receiver can count it; nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from gossipper.errors import GossipperError

MAGIC_COOKIE = 0x2112A442
HEADER = struct.Struct("!HHI12s")
FINGERPRINT_XOR = 0x5354554E

# Methods
BINDING = 0x001
ALLOCATE = 0x003
REFRESH = 0x004
SEND = 0x006
DATA = 0x007
CREATE_PERMISSION = 0x008
CHANNEL_BIND = 0x009
# Classes
REQUEST = 0
INDICATION = 1
SUCCESS = 2
ERROR = 3

# Attributes
MAPPED_ADDRESS = 0x0001
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
UNKNOWN_ATTRIBUTES = 0x000A
CHANNEL_NUMBER = 0x000C
LIFETIME = 0x000D
XOR_PEER_ADDRESS = 0x0012
DATA_ATTR = 0x0013
REALM = 0x0014
NONCE = 0x0015
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_TRANSPORT = 0x0019
XOR_MAPPED_ADDRESS = 0x0020
PRIORITY = 0x0024
USE_CANDIDATE = 0x0025
SOFTWARE = 0x8022
FINGERPRINT = 0x8028
ICE_CONTROLLED = 0x8029
ICE_CONTROLLING = 0x802A

Address = tuple[str, int]
RandomBytes = Callable[[int], bytes]


class StunError(GossipperError):
    """A malformed STUN message or attribute (counted by receivers, never fatal)."""


def message_type(method: int, cls: int) -> int:
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((cls & 1) << 4)
        | ((cls & 2) << 7)
    )


def split_type(value: int) -> tuple[int, int]:
    method = (value & 0x000F) | ((value >> 1) & 0x0070) | ((value >> 2) & 0x0F80)
    cls = ((value >> 4) & 1) | ((value >> 7) & 2)
    return method, cls


def is_stun(datagram: bytes) -> bool:
    """RFC 7983 demultiplexing: STUN starts with 0..3 and carries the magic cookie."""
    return (
        len(datagram) >= 20
        and datagram[0] < 4
        and int.from_bytes(datagram[4:8], "big") == MAGIC_COOKIE
    )


def long_term_key(username: str, realm: str, password: str) -> bytes:
    """RFC 8489 9.2.2: MD5(username ":" realm ":" password) (no SASLprep: ASCII credentials)."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()


@dataclass(slots=True)
class StunMessage:
    method: int
    cls: int
    transaction_id: bytes
    attributes: list[tuple[int, bytes]] = field(default_factory=list)
    # Set by decode(): the raw message, for integrity checks.
    raw: bytes = b""

    @classmethod
    def new(
        cls, method: int, msg_class: int, random_bytes: RandomBytes = os.urandom
    ) -> StunMessage:
        return cls(method, msg_class, random_bytes(12))

    def get(self, attribute: int) -> bytes | None:
        for kind, value in self.attributes:
            if kind == attribute:
                return value
        return None

    def add(self, attribute: int, value: bytes) -> StunMessage:
        self.attributes.append((attribute, value))
        return self

    def add_address(self, attribute: int, address: Address) -> StunMessage:
        return self.add(attribute, encode_address(attribute, address, self.transaction_id))

    def address(self, attribute: int) -> Address | None:
        value = self.get(attribute)
        return None if value is None else decode_address(attribute, value, self.transaction_id)

    def text(self, attribute: int) -> str | None:
        value = self.get(attribute)
        return None if value is None else value.decode("utf-8", "replace")

    def error_code(self) -> tuple[int, str] | None:
        value = self.get(ERROR_CODE)
        if value is None:
            return None
        if len(value) < 4:
            raise StunError("ERROR-CODE shorter than 4 bytes")
        return (value[2] & 0x7) * 100 + value[3], value[4:].decode("utf-8", "replace")

    def encode(self, *, integrity_key: bytes | None = None, fingerprint: bool = False) -> bytes:
        body = b"".join(_attribute(kind, value) for kind, value in self.attributes)
        kind = message_type(self.method, self.cls)
        if integrity_key is not None:
            header = HEADER.pack(kind, len(body) + 24, MAGIC_COOKIE, self.transaction_id)
            mac = hmac.new(integrity_key, header + body, hashlib.sha1).digest()
            body += _attribute(MESSAGE_INTEGRITY, mac)
        if fingerprint:
            header = HEADER.pack(kind, len(body) + 8, MAGIC_COOKIE, self.transaction_id)
            crc = zlib.crc32(header + body) ^ FINGERPRINT_XOR
            body += _attribute(FINGERPRINT, struct.pack("!I", crc))
        return HEADER.pack(kind, len(body), MAGIC_COOKIE, self.transaction_id) + body

    def check_integrity(self, key: bytes) -> bool:
        """Whether MESSAGE-INTEGRITY is present and matches ``key`` (RFC 8489 14.5)."""
        offset = _attribute_offset(self.raw, MESSAGE_INTEGRITY)
        if offset is None:
            return False
        kind = self.raw[:2]
        length = struct.pack("!H", offset - 20 + 24)
        signed = kind + length + self.raw[4:offset]
        expected = hmac.new(key, signed, hashlib.sha1).digest()
        return hmac.compare_digest(expected, self.raw[offset + 4 : offset + 24])

    def check_fingerprint(self) -> bool:
        offset = _attribute_offset(self.raw, FINGERPRINT)
        if offset is None:
            return False
        length = struct.pack("!H", offset - 20 + 8)
        crc = zlib.crc32(self.raw[:2] + length + self.raw[4:offset]) ^ FINGERPRINT_XOR
        return struct.pack("!I", crc) == self.raw[offset + 4 : offset + 8]


def _attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\x00" * (-len(value) % 4)


def _attribute_offset(raw: bytes, wanted: int) -> int | None:
    offset = 20
    while offset + 4 <= len(raw):
        kind, length = struct.unpack_from("!HH", raw, offset)
        if kind == wanted:
            return offset
        offset += 4 + length + (-length % 4)
    return None


def decode(datagram: bytes) -> StunMessage:
    if len(datagram) < 20:
        raise StunError(f"STUN message of {len(datagram)} bytes, shorter than its header")
    kind, length, cookie, transaction_id = HEADER.unpack_from(datagram)
    if kind & 0xC000 or cookie != MAGIC_COOKIE:
        raise StunError("not a STUN message (top bits or magic cookie)")
    if length % 4 or 20 + length != len(datagram):
        raise StunError(f"STUN length {length} does not match the {len(datagram)}-byte datagram")
    method, cls = split_type(kind)
    message = StunMessage(method, cls, transaction_id, raw=datagram)
    offset = 20
    while offset < len(datagram):
        if offset + 4 > len(datagram):
            raise StunError("truncated STUN attribute header")
        attribute, size = struct.unpack_from("!HH", datagram, offset)
        end = offset + 4 + size
        if end > len(datagram):
            raise StunError(f"STUN attribute 0x{attribute:04x} runs past the message")
        message.attributes.append((attribute, datagram[offset + 4 : end]))
        offset = end + (-size % 4)
    return message


def encode_address(attribute: int, address: Address, transaction_id: bytes) -> bytes:
    ip = ipaddress.ip_address(address[0])
    port = address[1]
    packed = ip.packed
    family = 1 if ip.version == 4 else 2
    if attribute != MAPPED_ADDRESS:  # every other address attribute we use is XOR-ed
        port ^= MAGIC_COOKIE >> 16
        mask = struct.pack("!I", MAGIC_COOKIE) + transaction_id
        packed = bytes(a ^ b for a, b in zip(packed, mask, strict=False))
    return struct.pack("!BBH", 0, family, port) + packed


def decode_address(attribute: int, value: bytes, transaction_id: bytes) -> Address:
    if len(value) < 8:
        raise StunError(f"address attribute 0x{attribute:04x} shorter than 8 bytes")
    _, family, port = struct.unpack_from("!BBH", value)
    size = {1: 4, 2: 16}.get(family)
    if size is None or len(value) != 4 + size:
        raise StunError(f"address attribute 0x{attribute:04x}: bad family {family}")
    packed = value[4:]
    if attribute != MAPPED_ADDRESS:
        port ^= MAGIC_COOKIE >> 16
        mask = struct.pack("!I", MAGIC_COOKIE) + transaction_id
        packed = bytes(a ^ b for a, b in zip(packed, mask, strict=False))
    return str(ipaddress.ip_address(packed)), port


def error_code_value(code: int, reason: str) -> bytes:
    return struct.pack("!HBB", 0, code // 100, code % 100) + reason.encode()


# ---- ICE-lite (RFC 8445 2.5): the gateway side answers checks, never sends its own ----------


@dataclass(frozen=True, slots=True)
class IceCredentials:
    ufrag: str
    pwd: str

    @classmethod
    def generate(cls, random_bytes: RandomBytes = os.urandom) -> IceCredentials:
        # RFC 8839 5.4: ufrag >= 4 and pwd >= 22 ice-chars; hex is a subset of ice-char.
        return cls(random_bytes(4).hex(), random_bytes(12).hex())

    def sdp_lines(self, *, lite: bool = True) -> list[str]:
        lines = [f"a=ice-ufrag:{self.ufrag}", f"a=ice-pwd:{self.pwd}"]
        return (["a=ice-lite"] if lite else []) + lines


def candidate_priority(type_preference: int, local_preference: int, component: int) -> int:
    """RFC 8445 5.1.2.1."""
    return (type_preference << 24) + (local_preference << 8) + (256 - component)


TYPE_PREFERENCE = {"host": 126, "prflx": 110, "srflx": 100, "relay": 0}


def candidate_line(
    foundation: str, component: int, address: Address, kind: str = "host",
    related: Address | None = None, local_preference: int = 65535,
) -> str:  # fmt: skip
    """An SDP ``a=candidate`` line (RFC 8839 5.1) for a UDP candidate."""
    priority = candidate_priority(TYPE_PREFERENCE[kind], local_preference, component)
    host, port = address
    line = f"a=candidate:{foundation} {component} UDP {priority} {host} {port} typ {kind}"
    if related is not None:
        line += f" raddr {related[0]} rport {related[1]}"
    return line


@dataclass(slots=True)
class IceLiteCounters:
    answered: int = 0
    bad_username: int = 0
    bad_integrity: int = 0
    malformed: int = 0
    nominated: int = 0


class IceLiteResponder:
    """Answers ICE connectivity checks for one media stream (a full agent checks us).

    ``handle(datagram, source)`` returns the response datagram to send back to ``source`` or
    None (not STUN, malformed, or not a Binding request: counted). Short-term credentials: the
    request's USERNAME is ``<our ufrag>:<their ufrag>`` signed with our ice-pwd, and the answer
    is signed with our ice-pwd (RFC 8445 7.2.2).
    """

    def __init__(self, local: IceCredentials, *, software: str = "gossipper") -> None:
        self.local = local
        self.software = software
        self.counters = IceLiteCounters()
        self.nominated: Address | None = None

    def handle(self, datagram: bytes, source: Address) -> bytes | None:
        try:
            request = decode(datagram)
        except StunError:
            self.counters.malformed += 1
            return None
        if (request.method, request.cls) != (BINDING, REQUEST):
            return None
        key = self.local.pwd.encode()
        username = request.text(USERNAME)
        if username is None or request.get(MESSAGE_INTEGRITY) is None:
            self.counters.malformed += 1
            return self._error(request, 400, "Bad Request")
        if not request.check_integrity(key):
            self.counters.bad_integrity += 1
            return self._error(request, 401, "Unauthorized")
        if username.split(":", 1)[0] != self.local.ufrag:
            self.counters.bad_username += 1
            return self._error(request, 401, "Unauthorized", key)
        if request.get(USE_CANDIDATE) is not None:
            self.counters.nominated += 1
            self.nominated = source
        self.counters.answered += 1
        answer = StunMessage(BINDING, SUCCESS, request.transaction_id)
        answer.add_address(XOR_MAPPED_ADDRESS, source)
        answer.add(SOFTWARE, self.software.encode())
        return answer.encode(integrity_key=key, fingerprint=True)

    def _error(self, request: StunMessage, code: int, reason: str,
               key: bytes | None = None) -> bytes:  # fmt: skip
        answer = StunMessage(BINDING, ERROR, request.transaction_id)
        answer.add(ERROR_CODE, error_code_value(code, reason))
        return answer.encode(integrity_key=key, fingerprint=True)
