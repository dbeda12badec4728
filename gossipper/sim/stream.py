"""A small TCP-like stream over ``SimNetwork``: ordered bytes, a handshake, FIN and reset.

It implements ``gossipper.interfaces.StreamConnection`` / ``StreamListener`` with the real TCP
transport's error contract (see there), and stays a ``trio.abc.Stream`` so a TLS layer
(``trio.SSLStream``) can wrap it. Every segment (SYN, SYN-ACK, refusal, data, FIN, RST) travels
through the network's outbox and heap like a datagram, keyed by ``(deliver_at, source,
destination, sequence)``, so streams obey the same determinism argument (see
``gossipper.sim.network``). Per direction a segment never arrives before the previous one,
so byte order is kept whatever the jitter. Loss, duplication and reordering are not applied
(TCP hides them). The stream faults (``LinkFaults``) are what TCP does show its user:

- ``reset_pct`` resets the connection on a written chunk: both ends then raise
  ``TransportError``;
- ``refuse_pct`` refuses a connection attempt although a listener exists: ``connect_stream``
  raises ``TransportError`` "connection refused", as with no listener;
- ``split_pct`` cuts a written chunk into 2 or 3 data segments, so that the reader's
  ``receive_some`` returns a message in pieces (mid-header, mid-Content-Length);
- ``coalesce_pct`` holds a chunk back and sends it in one segment with the next chunk (the
  reader gets two messages in one ``receive_some``), or alone after ``coalesce_hold_ms``.

None of them loses, duplicates or reorders a byte, except that a reset (fault, ``reset`` or
the peer's RST) discards the held bytes of the connection, as an abortive close discards the
unsent data of a real socket; ``aclose`` sends them before the FIN. ``SimStream.reset`` is the
abortive close: an RST reaches the peer after the bytes already in flight, and the peer's next
send or receive raises ``TransportError``.
"""

from __future__ import annotations

import enum

import trio

from gossipper.errors import BindError, TransportError
from gossipper.interfaces import Address
from gossipper.sim.network import SimNetwork, StreamSegment, _check_destination

STREAM_WINDOW_BYTES = 1 << 20
"""Bytes a stream may have in flight before ``send_all`` waits (a bounded send buffer)."""
LISTEN_BACKLOG = 128
"""Connections queued for ``accept`` before further SYNs are refused."""


class _SegmentKind(enum.Enum):
    SYN = "syn"
    SYN_ACK = "syn-ack"
    REFUSED = "refused"
    DATA = "data"
    FIN = "fin"
    RST = "rst"


class _State(enum.Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    REFUSED = "refused"


class _Segment:
    """One unit of one connection direction; implements ``network.StreamSegment``."""

    __slots__ = ("_dst", "_seq", "_src", "data", "kind", "refused", "sender", "target")

    def __init__(
        self,
        kind: _SegmentKind,
        src: Address,
        dst: Address,
        seq: int,
        sender: SimStream | None,
        target: SimStream | None,
        data: bytes = b"",
    ) -> None:
        self.kind = kind
        self._src = src
        self._dst = dst
        self._seq = seq
        self.sender = sender
        self.target = target
        self.data = data
        self.refused = False

    @property
    def src(self) -> Address:
        return self._src

    @property
    def dst(self) -> Address:
        return self._dst

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def resettable(self) -> bool:
        return self.kind is _SegmentKind.DATA

    @property
    def direction(self) -> object:
        return self.sender

    @property
    def refusable(self) -> bool:
        return self.kind is _SegmentKind.SYN

    @property
    def aborts(self) -> bool:
        return self.kind is _SegmentKind.RST

    def refuse(self) -> None:
        self.refused = True

    def absorb(self, earlier: StreamSegment) -> None:
        self.data = earlier.data + self.data

    def discard(self) -> None:
        if self.sender is not None:
            self.sender._release(len(self.data))
        self.data = b""

    def split(self, cuts: tuple[int, ...]) -> list[StreamSegment]:
        bounds = (0, *cuts, len(self.data))
        return [
            _Segment(
                _SegmentKind.DATA,
                self._src,
                self._dst,
                self._seq,
                self.sender,
                self.target,
                self.data[start:end],
            )
            for start, end in zip(bounds, bounds[1:], strict=False)
        ]

    def arrival_after(self, earliest_s: float) -> float:
        sender = self.sender
        if sender is None:
            return earliest_s
        arrival = max(earliest_s, sender._last_arrival_s)
        sender._last_arrival_s = arrival
        return arrival

    def reset(self, now: float) -> None:
        if self.sender is not None:
            self.sender._release(len(self.data))
            self.sender._reset_connection()

    def land(self, now: float) -> None:
        kind = self.kind
        if kind is _SegmentKind.SYN:
            self._land_syn(now)
            return
        if kind is _SegmentKind.DATA and self.sender is not None:
            self.sender._release(len(self.data))
        target = self.target
        if kind is _SegmentKind.RST:
            if target is not None and not target._closed and not target._reset:
                target._mark_reset("connection reset by peer")
            return
        if target is None or target._closed or target._reset:
            if kind is _SegmentKind.DATA and self.sender is not None and target is not None:
                # Data for a closed socket: the peer's kernel answers with RST (RFC 9293 3.10.7.1).
                self.sender._reset_connection()
            return
        if kind is _SegmentKind.SYN_ACK:
            target._state = _State.OPEN
        elif kind is _SegmentKind.REFUSED:
            target._state = _State.REFUSED
        elif kind is _SegmentKind.DATA:
            target._buffer += self.data
        else:
            target._eof = True
        target._lot.unpark_all()

    def _land_syn(self, now: float) -> None:
        client = self.sender
        assert client is not None
        if client._closed:
            return  # the connecting task gave up before the SYN arrived
        network = client._network
        listener = network._stream_ports.get(self._dst)
        if (
            self.refused
            or not isinstance(listener, SimStreamListener)
            or listener._closed
            or len(listener._backlog) >= LISTEN_BACKLOG
        ):
            reply = _Segment(_SegmentKind.REFUSED, self._dst, self._src, 0, None, client)
        else:
            server = SimStream(network, self._dst, self._src)
            server._state = _State.OPEN
            server._peer = client
            client._peer = server
            listener._backlog.append(server)
            listener._lot.unpark_all()
            reply = _Segment(
                _SegmentKind.SYN_ACK, self._dst, self._src, server._next_seq(), server, client
            )
        network._schedule_segment(reply, now)


class SimStream(trio.abc.Stream):
    """One end of a simulated stream connection."""

    def __init__(self, network: SimNetwork, local: Address, remote: Address) -> None:
        self._network = network
        self.local_address = local
        self.remote_address = remote
        self._state = _State.CONNECTING
        self._peer: SimStream | None = None
        self._buffer = bytearray()
        self._eof = False
        self._closed = False
        self._reset = False
        self._reset_reason = ""
        self._seq = 0
        self._last_arrival_s = float("-inf")
        self._in_flight_bytes = 0
        self._lot = trio.lowlevel.ParkingLot()
        self._send_lot = trio.lowlevel.ParkingLot()
        self._sending = False
        self._receiving = False
        self._owns_port = False

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    def _release(self, size: int) -> None:
        self._in_flight_bytes -= size
        self._send_lot.unpark_all()

    def _mark_reset(self, reason: str) -> None:
        self._reset = True
        self._reset_reason = reason
        self._buffer.clear()
        self._network._drop_held(self)  # unsent bytes die with the connection
        self._lot.unpark_all()
        self._send_lot.unpark_all()

    def _reset_connection(self) -> None:
        for end in (self, self._peer):
            if end is not None and not end._reset:
                end._mark_reset("connection reset (sim fault)")

    def _check_usable(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("stream is closed")
        if self._reset:
            host, port = self.remote_address
            raise TransportError(f"TCP connection to {host}:{port} broken: {self._reset_reason}")

    def _release_port(self) -> None:
        if self._owns_port and self._network._stream_ports.get(self.local_address) is self:
            del self._network._stream_ports[self.local_address]

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send all bytes, in order; waits while the in-flight window is full.

        Raises:
            trio.ClosedResourceError: this end is closed.
            TransportError: the connection was reset.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._sending:
            raise trio.BusyResourceError("another task is already sending on this stream")
        self._sending = True
        try:
            self._check_usable()
            while self._in_flight_bytes >= STREAM_WINDOW_BYTES:
                await self._send_lot.park()
                self._check_usable()
            if data:
                chunk = bytes(data)
                self._in_flight_bytes += len(chunk)
                segment = _Segment(
                    _SegmentKind.DATA,
                    self.local_address,
                    self.remote_address,
                    self._next_seq(),
                    self,
                    self._peer,
                    chunk,
                )
                self._network._submit_segment(segment)
        finally:
            self._sending = False
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def wait_send_all_might_not_block(self) -> None:
        """Wait until the in-flight window has room."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while not (self._closed or self._reset) and self._in_flight_bytes >= STREAM_WINDOW_BYTES:
            await self._send_lot.park()
        self._check_usable()
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Return the next bytes available (at most ``max_bytes``); b"" after the peer's FIN.

        Raises:
            trio.ClosedResourceError: this end is (or gets) closed.
            TransportError: the connection was reset; unread bytes are discarded.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        if self._receiving:
            raise trio.BusyResourceError("another task is already receiving on this stream")
        self._receiving = True
        try:
            while True:
                self._check_usable()
                if self._buffer:
                    size = len(self._buffer) if max_bytes is None else max_bytes
                    data = bytes(self._buffer[:size])
                    del self._buffer[:size]
                    break
                if self._eof:
                    data = b""
                    break
                await self._lot.park()
        finally:
            self._receiving = False
        await trio.lowlevel.cancel_shielded_checkpoint()
        return data

    async def aclose(self) -> None:
        """Close this end: the peer reads EOF after the bytes already sent."""
        if not self._closed:
            self._closed = True
            if self._state is _State.OPEN and not self._reset:
                fin = _Segment(
                    _SegmentKind.FIN,
                    self.local_address,
                    self.remote_address,
                    self._next_seq(),
                    self,
                    self._peer,
                )
                self._network._submit_segment(fin)
            self._release_port()
            self._lot.unpark_all()
            self._send_lot.unpark_all()
        await trio.lowlevel.checkpoint()

    def reset(self) -> None:
        """Abortive close: an RST follows the bytes already in flight; see the module docstring."""
        if self._closed:
            return
        self._closed = True
        if self._state is _State.OPEN and not self._reset and self._peer is not None:
            rst = _Segment(
                _SegmentKind.RST,
                self.local_address,
                self.remote_address,
                self._next_seq(),
                self,
                self._peer,
            )
            self._network._submit_segment(rst)
        self._buffer.clear()
        self._release_port()
        self._lot.unpark_all()
        self._send_lot.unpark_all()


class SimStreamListener(trio.abc.Listener[SimStream]):
    """Accepts simulated stream connections on one address."""

    def __init__(self, network: SimNetwork, local: Address) -> None:
        self._network = network
        self.local_address = local
        self._backlog: list[SimStream] = []
        self._lot = trio.lowlevel.ParkingLot()
        self._closed = False

    async def accept(self) -> SimStream:
        """Wait for the next connection (in the network's deterministic delivery order)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            if self._closed:
                raise trio.ClosedResourceError("listener is closed")
            if self._backlog:
                stream = self._backlog.pop(0)
                break
            await self._lot.park()
        await trio.lowlevel.cancel_shielded_checkpoint()
        return stream

    async def aclose(self) -> None:
        """Stop listening; connections not yet accepted are reset."""
        if not self._closed:
            self._closed = True
            if self._network._stream_ports.get(self.local_address) is self:
                del self._network._stream_ports[self.local_address]
            for stream in self._backlog:
                stream._reset_connection()
            self._backlog.clear()
            self._lot.unpark_all()
        await trio.lowlevel.checkpoint()


def open_stream_listener(network: SimNetwork, host: str, port: int) -> SimStreamListener:
    """Bind a listener at (host, port); port 0 takes the next ephemeral port."""
    ports = network._stream_ports
    if port == 0:
        port = network._allocate_port(host, "tcp", ports)
    elif (host, port) in ports:
        raise BindError(f"cannot bind TCP {host}:{port}: address already in use")
    listener = SimStreamListener(network, (host, port))
    ports[(host, port)] = listener
    return listener


async def connect_stream(
    network: SimNetwork, host: str, address: Address, local_port: int = 0
) -> SimStream:
    """Connect from (host, local_port) to ``address``; port 0 takes the next ephemeral port.

    See ``SimTransportFactory.connect_stream``.
    """
    await trio.lowlevel.checkpoint_if_cancelled()
    try:
        remote = _check_destination(address)
    except TransportError as exc:
        raise TransportError(f"cannot connect: {exc}") from None
    ports = network._stream_ports
    if local_port == 0:
        local_port = network._allocate_port(host, "tcp", ports)
    elif (host, local_port) in ports:
        raise BindError(f"cannot bind TCP {host}:{local_port}: address already in use")
    local = (host, local_port)
    client = SimStream(network, local, remote)
    client._owns_port = True
    ports[local] = client
    syn = _Segment(_SegmentKind.SYN, local, remote, client._next_seq(), client, None)
    network._submit_segment(syn)
    try:
        while client._state is _State.CONNECTING and not client._reset:
            await client._lot.park()
    except BaseException:
        await _abandon(client)
        raise
    if client._state is not _State.OPEN or client._reset:
        await _abandon(client)
        raise TransportError(f"cannot connect to {remote[0]}:{remote[1]}: connection refused")
    await trio.lowlevel.cancel_shielded_checkpoint()
    return client


async def _abandon(client: SimStream) -> None:
    with trio.CancelScope(shield=True):
        await client.aclose()
