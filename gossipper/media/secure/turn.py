"""A TURN client (RFC 8656) over UDP, driven through datagram callables.

Allocate (answering the 401 challenge with long-term credentials, and a 438 stale nonce),
Refresh, CreatePermission, ChannelBind, Send indications and ChannelData out, Data indications
and ChannelData in. Requests are retransmitted (RFC 8489 6.2.1: RTO doubling from 500 ms) until
the overall timeout. One task uses a client at a time: responses are matched while relayed
data that arrives meanwhile is queued for ``receive``.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from gossipper.errors import GossipperError
from gossipper.media.secure import stun
from gossipper.media.secure.stun import Address, StunError, StunMessage

# Named reasons (TurnError.reason): what a call's failure reports.
TURN_TIMEOUT = "turn_timeout"
TURN_AUTH_FAILED = "turn_auth_failed"
TURN_REJECTED = "turn_rejected"
TURN_BAD_RESPONSE = "turn_bad_response"

UDP_TRANSPORT = 17
CHANNEL_MIN = 0x4000
CHANNEL_MAX = 0x4FFF

SendFn = Callable[[bytes], Awaitable[None]]
ReceiveFn = Callable[[], Awaitable[bytes]]


class TurnError(GossipperError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(slots=True)
class TurnCounters:
    requests: int = 0
    retransmissions: int = 0
    data_in: int = 0
    data_out: int = 0
    malformed: int = 0  # undecodable datagrams and responses failing MESSAGE-INTEGRITY


def channel_data(channel: int, data: bytes) -> bytes:
    """RFC 8656 12.4 ChannelData (no padding: over UDP it is optional)."""
    return struct.pack("!HH", channel, len(data)) + data


def parse_channel_data(datagram: bytes) -> tuple[int, bytes]:
    if len(datagram) < 4:
        raise StunError("ChannelData shorter than its 4-byte header")
    channel, length = struct.unpack_from("!HH", datagram)
    if not CHANNEL_MIN <= channel <= CHANNEL_MAX or 4 + length > len(datagram):
        raise StunError(f"bad ChannelData (channel 0x{channel:04x}, length {length})")
    return channel, datagram[4 : 4 + length]


class TurnClient:
    def __init__(
        self, send: SendFn, receive: ReceiveFn, *, username: str, password: str,
        realm: str | None = None, timeout_s: float = 5.0, rto_s: float = 0.5,
        random_bytes: Callable[[int], bytes] = os.urandom, software: str = "gossipper",
    ) -> None:  # fmt: skip
        self._send = send
        self._receive = receive
        self.username = username
        self.password = password
        self.realm = realm
        self.nonce: str | None = None
        self.timeout_s = timeout_s
        self.rto_s = rto_s
        self._random_bytes = random_bytes
        self.software = software
        self.counters = TurnCounters()
        self.relayed: Address | None = None
        self.mapped: Address | None = None
        self.lifetime_s = 0
        self.channels: dict[Address, int] = {}
        self._peers_of: dict[int, Address] = {}
        self._inbox: deque[tuple[Address, bytes]] = deque()

    @property
    def _key(self) -> bytes:
        return stun.long_term_key(self.username, self.realm or "", self.password)

    def _message(self, method: int) -> StunMessage:
        return StunMessage.new(method, stun.REQUEST, self._random_bytes)

    async def _transact(self, request: StunMessage, authenticated: bool) -> StunMessage:
        if authenticated:
            request.add(stun.USERNAME, self.username.encode())
            request.add(stun.REALM, (self.realm or "").encode())
            request.add(stun.NONCE, (self.nonce or "").encode())
        datagram = request.encode(
            integrity_key=self._key if authenticated else None, fingerprint=True
        )
        self.counters.requests += 1
        name = _METHOD_NAMES.get(request.method, hex(request.method))
        with trio.move_on_after(self.timeout_s):
            rto_s = self.rto_s
            while True:
                await self._send(datagram)
                with trio.move_on_after(rto_s):
                    while True:
                        response = self._dispatch(await self._receive())
                        if response is not None and (
                            response.transaction_id == request.transaction_id
                        ):
                            return response
                rto_s *= 2
                self.counters.retransmissions += 1
        raise TurnError(TURN_TIMEOUT, f"no answer to {name} in {self.timeout_s:g} s")

    def _dispatch(self, datagram: bytes) -> StunMessage | None:
        """A STUN response for the caller; relayed data goes to the inbox."""
        if datagram and 0x40 <= datagram[0] <= 0x4F:
            try:
                channel, data = parse_channel_data(datagram)
            except StunError:
                self.counters.malformed += 1
                return None
            peer = self._peers_of.get(channel)
            if peer is None:
                self.counters.malformed += 1
                return None
            self.counters.data_in += 1
            self._inbox.append((peer, data))
            return None
        try:
            message = stun.decode(datagram)
        except StunError:
            self.counters.malformed += 1
            return None
        if (message.method, message.cls) == (stun.DATA, stun.INDICATION):
            try:
                sender = message.address(stun.XOR_PEER_ADDRESS)
            except StunError:
                sender = None
            relayed = message.get(stun.DATA_ATTR)
            if sender is None or relayed is None:
                self.counters.malformed += 1
                return None
            self.counters.data_in += 1
            self._inbox.append((sender, relayed))
            return None
        if message.cls in (stun.SUCCESS, stun.ERROR):
            return message
        return None

    async def _authenticated(self, build: Callable[[], StunMessage]) -> StunMessage:
        """Send with credentials, answering one 401 challenge and 438 stale nonces."""
        name = ""
        for attempt in range(4):
            request = build()
            name = _METHOD_NAMES.get(request.method, hex(request.method))
            response = await self._transact(request, authenticated=self.nonce is not None)
            if response.cls == stun.SUCCESS:
                if self.nonce is not None and not response.check_integrity(self._key):
                    self.counters.malformed += 1
                    raise TurnError(TURN_BAD_RESPONSE,
                                    f"{name} success fails MESSAGE-INTEGRITY")  # fmt: skip
                return response
            code, reason = response.error_code() or (0, "no ERROR-CODE")
            realm = response.text(stun.REALM)
            nonce = response.text(stun.NONCE)
            if code == 401 and nonce and attempt == 0 or code == 438 and nonce:
                self.realm = realm or self.realm
                self.nonce = nonce
                continue
            if code == 401:
                raise TurnError(TURN_AUTH_FAILED,
                                f"{name} refused user {self.username!r} in realm "
                                f"{self.realm!r}: 401 {reason}")  # fmt: skip
            raise TurnError(TURN_REJECTED, f"{name}: {code} {reason}")
        raise TurnError(TURN_AUTH_FAILED, f"{name}: the server kept asking for credentials")

    async def allocate(self, lifetime_s: int = 600) -> Address:
        def build() -> StunMessage:
            request = self._message(stun.ALLOCATE)
            request.add(stun.REQUESTED_TRANSPORT, struct.pack("!B3x", UDP_TRANSPORT))
            request.add(stun.LIFETIME, struct.pack("!I", lifetime_s))
            return request

        response = await self._authenticated(build)
        try:
            relayed = response.address(stun.XOR_RELAYED_ADDRESS)
            self.mapped = response.address(stun.XOR_MAPPED_ADDRESS)
        except StunError as error:
            raise TurnError(TURN_BAD_RESPONSE, f"Allocate: {error}") from None
        if relayed is None:
            raise TurnError(TURN_BAD_RESPONSE, "Allocate success without XOR-RELAYED-ADDRESS")
        lifetime = response.get(stun.LIFETIME)
        self.lifetime_s = struct.unpack("!I", lifetime)[0] if lifetime and len(lifetime) == 4 else 0
        self.relayed = relayed
        return relayed

    async def refresh(self, lifetime_s: int = 600) -> int:
        """Refresh the allocation; 0 releases it. Returns the granted lifetime (s)."""

        def build() -> StunMessage:
            return self._message(stun.REFRESH).add(stun.LIFETIME, struct.pack("!I", lifetime_s))

        response = await self._authenticated(build)
        value = response.get(stun.LIFETIME)
        self.lifetime_s = struct.unpack("!I", value)[0] if value and len(value) == 4 else 0
        if lifetime_s == 0:
            self.relayed = None
        return self.lifetime_s

    async def create_permission(self, peer: Address) -> None:
        await self._authenticated(
            lambda: self._message(stun.CREATE_PERMISSION).add_address(stun.XOR_PEER_ADDRESS, peer)
        )

    async def channel_bind(self, peer: Address, channel: int | None = None) -> int:
        number = channel or self.channels.get(peer) or CHANNEL_MIN + len(self.channels)

        def build() -> StunMessage:
            request = self._message(stun.CHANNEL_BIND)
            request.add(stun.CHANNEL_NUMBER, struct.pack("!H2x", number))
            return request.add_address(stun.XOR_PEER_ADDRESS, peer)

        await self._authenticated(build)
        self.channels[peer] = number
        self._peers_of[number] = peer
        return number

    async def send_to(self, peer: Address, data: bytes) -> None:
        """Relay ``data`` to ``peer``: ChannelData once a channel is bound, else Send indication."""
        channel = self.channels.get(peer)
        if channel is not None:
            datagram = channel_data(channel, data)
        else:
            indication = StunMessage.new(stun.SEND, stun.INDICATION, self._random_bytes)
            indication.add_address(stun.XOR_PEER_ADDRESS, peer).add(stun.DATA_ATTR, data)
            datagram = indication.encode()
        self.counters.data_out += 1
        await self._send(datagram)

    async def receive(self) -> tuple[Address, bytes]:
        """The next datagram a peer sent through the relay (Data indication or ChannelData)."""
        while not self._inbox:
            self._dispatch(await self._receive())
        return self._inbox.popleft()


_METHOD_NAMES = {
    stun.ALLOCATE: "Allocate",
    stun.REFRESH: "Refresh",
    stun.CREATE_PERMISSION: "CreatePermission",
    stun.CHANNEL_BIND: "ChannelBind",
    stun.BINDING: "Binding",
}
