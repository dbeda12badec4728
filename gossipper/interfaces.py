"""The seams between the engine and the outside world.

The engine sees the network, the wall clock and its trace sinks only through these protocols.
Real sockets (``gossipper.transport``) and the in-memory simulation (``gossipper.sim``) both
implement the transports; ``gossipper.session`` wires one run from them, and ``gossipper.cli``
(or ``gossipper.sim``) picks which. Signatures use bytes, address tuples and ``SipMessage`` only.

Monotonic time is not part of this seam: the engine reads ``trio.current_time()``, which the
simulation replaces with a ``MockClock``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

from gossipper.sip import SipMessage

Address = tuple[str, int]
"""(host, port); IPv6 hosts without brackets."""

Datagram = tuple[bytes, Address]
"""One received datagram and the address it came from."""

TimedDatagram = tuple[bytes, Address, float]
"""A received datagram, its source and its arrival on the run's clock (``trio.current_time()``
seconds)."""


class DatagramTransport(Protocol):
    """One bound datagram endpoint (a UDP socket, or its simulated twin)."""

    @property
    def transport_name(self) -> str:
        """What ``[transport]``, Via headers and screens print for it ("UDP")."""
        ...

    @property
    def local_address(self) -> Address:
        """The bound (host, port)."""
        ...

    def send_nowait(self, data: bytes, address: Address) -> bool:
        """Send without blocking. Returns False when the send buffer is full (nothing sent).

        Raises:
            TransportError: the datagram cannot be sent at all (e.g. no route, too large).
        """
        ...

    async def send(self, data: bytes, address: Address) -> None:
        """Send, waiting for buffer space when needed."""
        ...

    async def receive_batch(self) -> list[Datagram]:
        """Wait until at least one datagram is available and return all that are (bounded)."""
        ...

    def receive_nowait(self) -> list[Datagram]:
        """The datagrams available now (bounded), without waiting; possibly none."""
        ...

    async def receive_batch_timed(self) -> list[TimedDatagram]:
        """``receive_batch`` with each datagram's arrival time (media: RFC 3550 jitter wants
        per-packet arrival, not the instant a batch is read). Real sockets give the kernel's
        receive timestamp, the simulation the virtual instant of the wake-up."""
        ...

    def close(self) -> None:
        """Release the endpoint; a pending ``receive_batch`` gets ``trio.ClosedResourceError``."""
        ...


@runtime_checkable
class DirectDelivery(Protocol):
    """A datagram endpoint that can hand each datagram straight to a handler as it arrives.

    The simulation's endpoints do: its delivery task calls the handler at the delivery instant,
    so no receive task has to wake for each datagram (a pass of Trio's loop per delivery, the
    largest cost of a simulated call after the SIP work). Real sockets do not: their datagrams
    are read by the engine's receive loop.
    """

    async def receive_each(self, handler: Callable[[bytes, Address], None]) -> None:
        """Call ``handler(data, source)`` for every datagram, in delivery order, until the
        endpoint is closed (then return). The handler runs synchronously in the delivering
        task and must not block; what it sends counts as sent by this endpoint's receiver."""
        ...


@runtime_checkable
class ReceiveBacklog(Protocol):
    """A datagram endpoint that can tell how full its receive buffer is (a Linux UDP socket).

    A server that has fallen behind sheds new calls to save the ones it has (the engine's
    ``_dispatch_batch``): with this gauge, only once the datagrams waiting put the buffer at
    risk of overflowing, not after a fixed time of full receive batches.
    """

    def receive_backlog(self) -> float:
        """The share (0.0-1.0) of the receive buffer held by datagrams not read yet; negative
        where the system cannot tell."""
        ...


@runtime_checkable
class ReadableDescriptor(Protocol):
    """A datagram endpoint on one descriptor of its own, which an epoll may watch for
    readability (a UDP socket): a client's timer queue then reads it when it becomes readable
    (``TimerQueue.read_when_readable``) instead of a task waiting for it through Trio."""

    def fileno(self) -> int:
        """The socket's descriptor; it stays open until the endpoint is closed."""
        ...


class TransportFactory(Protocol):
    """Opens endpoints. Port 0 asks for an ephemeral port."""

    async def open_datagram(
        self, host: str, port: int, *, buffer_bytes: int | None = None
    ) -> DatagramTransport:
        """Bind a datagram endpoint on (host, port). ``buffer_bytes``: its SO_RCVBUF and
        SO_SNDBUF instead of the factory's (``-rtp_buffsize`` for RTP); the simulation has
        no socket buffers and ignores it.

        Raises:
            BindError: the address is in use or cannot be bound.
        """
        ...

    async def open_stream_listener(self, host: str, port: int) -> StreamListener:
        """Listen for stream connections on (host, port); see ``StreamListener``.

        Raises:
            BindError: the address is in use or cannot be bound (the message names host:port).
        """
        ...

    async def connect_stream(
        self, remote: Address, *, local_host: str | None = None, local_port: int = 0
    ) -> StreamConnection:
        """Connect to ``remote``; returns once the connection is established.

        ``local_host``/``local_port`` bind the client end first (SIPp binds its TCP client
        connection to ``-i``/``-p``); ``None``/0 let the system choose.

        Raises:
            BindError: the local address is in use or cannot be bound.
            TransportError: the connection is refused, unreachable or reset while connecting.
        """
        ...


class WallClock(Protocol):
    """Wall-clock time for output timestamps (real: ``time.time``; sim: epoch + virtual).

    The time zone travels with the clock: every local-time field (``[timestamp]``, screens,
    trace files) is printed in ``tz``, so a run never needs the process's ``TZ`` changed.
    """

    @property
    def tz(self) -> datetime.tzinfo | None:
        """The zone local times are printed in; None is the process's local zone (SIPp's
        ``localtime``)."""
        ...

    def wall_time(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class Flow(Protocol):
    """Where a call's messages go and over what: one remote peer on one transport.

    A call sends only through its flow. For datagrams a flow is a (socket, remote address)
    pair; for stream transports it is one connection. ``transport_name`` is what
    ``[transport]``, Via headers and the screens print ("UDP", "TCP", "TLS", "WS", "WSS").
    """

    @property
    def transport_name(self) -> str: ...

    @property
    def reliable(self) -> bool:
        """True on stream transports: no retransmission timers (RFC 3261 section 17.1.1.2)."""
        ...

    @property
    def local_address(self) -> Address: ...

    @property
    def remote_address(self) -> Address: ...

    def send_nowait(self, data: bytes) -> bool:
        """Send without blocking; False when the transport has no room now (nothing sent).

        Raises:
            TransportError: the message cannot be sent at all.
        """
        ...

    async def send(self, data: bytes) -> None:
        """Send, waiting for room when needed."""
        ...


class MediaTap(Protocol):
    """A sink for the RTCP packets of a run's calls (HEP mirroring: ``session/hep.py``)."""

    def rtcp(
        self, call_id: str, data: bytes, source: Address, destination: Address, sent: bool
    ) -> None:
        """Every RTCP packet sent (``sent``) or received by a call's media."""
        ...


class CallMedia(Protocol):
    """One call's media (``gossipper.media.session``): its RTP/RTCP port pairs, the streams it
    sends and the quality of what it receives. The call drives it from its scenario actions;
    nothing here blocks or raises on network trouble (problems are counted and warned)."""

    @property
    def audio_port(self) -> int:
        """The local RTP port of the audio (and image) stream; RTCP is on the next port."""
        ...

    @property
    def video_port(self) -> int:
        """The local RTP port of the video stream (the audio port when none is opened)."""
        ...

    def peer_sdp(self, body: bytes, *, method: str = "") -> str | None:
        """Learn where the peer receives media from an SDP offer or answer it sent
        (``method``: the request's method, "" for a response: offer or answer, RFC 3264).

        Returns a one-line problem (no usable media line, unparsable body) or None.
        """
        ...

    @property
    def failure(self) -> str | None:
        """Why the call's media cannot go on (bad or unacceptable SDP crypto, issue 18), or
        None; set by ``peer_sdp``/``outgoing``, and the call then fails (FailedCallRejected)."""
        ...

    def crypto_keyword(self, name: str) -> str:
        """A SIPp 3.7 crypto keyword (``cryptokeyparams1audio``...) for this call: the
        keys it renders are the ones the call's SRTP uses."""
        ...

    def outgoing(self, data: bytes) -> bytes:
        """A message the call is about to send: its SDP's a=crypto lines are our keys.
        Returns the message to send (the same bytes unless the media rewrites its SDP)."""
        ...

    def rtp_stream(self, file: str, loops: int, payload_type: int, codec: str) -> str | None:
        """Start streaming a media file read at load time (replacing a running stream);
        ``loops`` as SIPp (-1 forever, 0 or 1 once). Returns a problem text or None."""
        ...

    def rtp_pattern(self, media: str, loops: int, payload_type: int, codec: str) -> str | None:
        """SIPp 3.7's ``apattern``/``vpattern``: stream the built-in check pattern on
        ``media`` and check what the peer echoes against it (judged at the call's end,
        ``-audiotolerance``/``-videotolerance``). Returns a problem text or None."""
        ...

    def pause_stream(self, media: str = "audio") -> None: ...

    def resume_stream(self, media: str = "audio") -> None: ...

    def play_pcap(self, media: str, file: str) -> str | None:
        """Replay the RTP packets of a pcap read at load time on the ``media`` stream
        ("audio", "video" or "image"), as captured; a running replay of that media stops."""
        ...

    def play_dtmf(self, digits: str, duration_ms: int) -> str | None:
        """Send RFC 4733 telephone-events for ``digits`` on the audio stream."""
        ...

    def set_echo(self, media: str, on: bool) -> None:
        """Echo the RTP received on ``media`` back to where it came from (or stop)."""
        ...

    def keyword(self, name: str) -> str:
        """A value of the call's secure media for the SDP it sends (``[dtls_fingerprint]``,
        ``[dtls_setup]``, ``[ice_ufrag]``, ...); empty when the run has no secure media."""
        ...

    def on_failure(self, handler: Callable[[str], None]) -> None:
        """Call ``handler(text)`` when the secure media fails later (DTLS handshake, TURN);
        ``text`` starts with the named reason (``dtls_fingerprint_mismatch: ...``)."""
        ...

    def close(self) -> None:
        """Stop every stream, report the call's stream quality and release the ports."""
        ...


class MediaFactory(Protocol):
    """Opens the media of calls (``gossipper.media.session.MediaRun``): port pairs from the
    run's RTP range, sockets through the run's ``TransportFactory`` (so the simulation gets
    media on its in-memory network), one media scheduler for all streams."""

    async def serve(self) -> None:
        """Run the media tasks of the run (scheduler, receivers) until cancelled."""
        ...

    async def open_call(self, call_id: str, call_number: int) -> CallMedia:
        """Take a port pair and bind its sockets.

        Raises:
            BindError: no pair of the range could be bound (all lent or all busy).
        """
        ...

    def set_echo(self, on: bool) -> None:
        """``<rtp_echo value="0|1"/>``: turn the run-wide ``-rtp_echo`` echo off or on."""
        ...


class Tracer(Protocol):
    """A sink for what happens to messages and calls (trace files, later HEP mirroring).

    Every message event carries the flow it travelled on, so a sink knows the local and remote
    addresses and the transport. ``wall`` is the run's wall-clock time of the event.
    """

    def message_sent(self, call_id: str, data: bytes, flow: Flow, wall: float) -> None: ...

    def message_received(
        self, call_id: str, message: SipMessage, flow: Flow, wall: float
    ) -> None: ...

    def message_lost(self, call_id: str, data: bytes, flow: Flow, wall: float) -> None:
        """A message the scenario's ``lost`` attribute (or -lost) dropped on purpose."""
        ...

    def command_sent(self, call_id: str, data: bytes, wall: float) -> None:
        """A 3PCC command left (``data`` with its ESC terminator)."""
        ...

    def command_received(self, call_id: str, text: bytes, size: int, wall: float) -> None:
        """A 3PCC command arrived: ``text`` without its ESC, ``size`` with it."""
        ...

    def out_of_call(self, data: bytes, flow: Flow, wall: float) -> None:
        """A received message that no call took (out-of-call or dead-call message)."""
        ...

    def unexpected_message(
        self, call_id: str, message: SipMessage, expected: str, flow: Flow, wall: float
    ) -> None: ...

    def call_started(self, call_id: str, call_number: int) -> None: ...

    def call_ended(self, call_id: str, failed: bool, reason: str, wall: float) -> None: ...

    def warning(self, text: str, wall: float) -> None: ...

    def log(self, text: str, wall: float) -> None: ...


# --------------------------------------------------------------------------------------------
# Stream endpoints (TCP now; TLS and WebSocket wrap a stream and implement the same protocols).
#
# Error contract, the same for every implementation:
# - Local misuse of a closed endpoint (after ``aclose`` or ``reset``) raises
#   ``trio.ClosedResourceError``, as ``DatagramTransport.close`` does for datagrams; so does an
#   operation pending in another task when the endpoint is closed under it.
# - A broken connection (the peer reset it, or the kernel gave up) raises ``TransportError`` from
#   ``send_all`` and ``receive_some``; it is an operating outcome (SIPp counts the call as
#   FailedTcpClosed), not a programming error. Once broken, a connection stays broken.
# - A peer's graceful close is not an error: ``receive_some`` returns b"" (EOF), for good.
# - Bind problems raise ``BindError`` naming host:port; nothing here blocks forever on a dead
#   peer except ``receive_some``/``accept`` themselves (callers put deadlines around them).
# - Two tasks may not send (or receive) on one connection at once: ``trio.BusyResourceError``.


class StreamConnection(Protocol):
    """One established, ordered, reliable byte stream (a TCP connection or its simulated twin)."""

    @property
    def local_address(self) -> Address:
        """This end's (host, port)."""
        ...

    @property
    def remote_address(self) -> Address:
        """The peer's (host, port): equals the peer's ``local_address`` (no NAT on our paths)."""
        ...

    async def send_all(self, data: bytes) -> None:
        """Send every byte, in order, waiting for buffer space when needed.

        Returning means the bytes are queued locally, not that the peer has them.

        Raises:
            trio.ClosedResourceError: this end was closed or reset.
            TransportError: the connection is broken (e.g. the peer reset it). A send may
                succeed before the peer's reset has arrived; the next one then raises.
        """
        ...

    async def receive_some(self, max_bytes: int) -> bytes:
        """Wait for and return between 1 and ``max_bytes`` bytes; b"" once the peer has closed.

        Message boundaries are not kept: the caller frames (RFC 3261 18.3, Content-Length).

        Raises:
            trio.ClosedResourceError: this end was closed or reset (also wakes a pending call).
            TransportError: the peer reset the connection. Bytes received but not yet read may
                be lost; a real kernel may instead report the reset as EOF (b""). Either way
                the call returns promptly.
        """
        ...

    async def aclose(self) -> None:
        """Graceful close (FIN): the peer reads the bytes already sent, then EOF.

        Idempotent. A real kernel sends RST instead when unread received bytes remain
        (RFC 2525 2.17; Linux does).
        """
        ...

    def reset(self) -> None:
        """Abortive close (RST, SO_LINGER with a zero timeout): unsent bytes are discarded and
        the peer's next ``receive_some``/``send_all`` raises ``TransportError`` (or reads EOF,
        see ``receive_some``). Synchronous so it can run in cleanup paths; idempotent, and a
        no-op after ``aclose``.
        """
        ...


class StreamListener(Protocol):
    """A listening stream endpoint."""

    @property
    def local_address(self) -> Address:
        """The bound (host, port); port 0 at open is resolved to the real port."""
        ...

    async def accept(self) -> StreamConnection:
        """Wait for the next incoming connection.

        Raises:
            trio.ClosedResourceError: the listener is (or gets) closed.
        """
        ...

    async def aclose(self) -> None:
        """Stop listening; connections already accepted are unaffected. Idempotent."""
        ...


# --------------------------------------------------------------------------------------------
# Message channels: a stream connection as the engine uses it, after any TLS or WebSocket
# handshake. The engine frames byte streams itself (RFC 3261 18.3); WebSocket carries one SIP
# message per WebSocket message (RFC 7118), so its channel is message-oriented.
#
# Error contract: as for ``StreamConnection`` (broken -> ``TransportError``, local misuse after a
# close -> ``trio.ClosedResourceError``, the peer's close -> b""). A failed handshake raises
# ``TransportError`` whose message says what failed (e.g. "TLS handshake with 127.0.0.1:5061
# failed: certificate verify failed").


class MessageChannel(Protocol):
    """One connection carrying SIP: TCP, TLS, WS or WSS."""

    @property
    def transport_name(self) -> str:
        """What ``[transport]`` and the Via header print: "TCP", "TLS", "WS" or "WSS"."""
        ...

    @property
    def message_oriented(self) -> bool:
        """True when every ``receive`` returns exactly one whole message (WebSocket); False
        when it returns bytes the caller frames (TCP, TLS)."""
        ...

    @property
    def local_address(self) -> Address: ...

    @property
    def remote_address(self) -> Address: ...

    async def send(self, data: bytes) -> None:
        """Send whole messages: on a byte stream any number of them, concatenated; on a
        message-oriented channel exactly one."""
        ...

    async def receive(self) -> bytes:
        """The next bytes (byte stream) or the next whole message (message-oriented);
        b"" once the peer has closed the connection, for good."""
        ...

    async def aclose(self) -> None:
        """Graceful close (TLS close_notify / WebSocket close, then FIN). Idempotent; never
        waits more than a short bounded time for the peer."""
        ...

    def reset(self) -> None:
        """Abortive close of the connection underneath (RST); see ``StreamConnection.reset``."""
        ...


class ChannelLayer(Protocol):
    """What runs on top of an established stream connection: nothing (TCP), TLS, WebSocket
    over TCP (WS) or WebSocket over TLS (WSS).

    Both methods are async context managers: entering performs the handshake (raising
    ``TransportError`` on failure, after resetting the connection) and yields the channel;
    leaving closes it gracefully (and stops any helper task the layer runs). The connection is
    owned by the channel from then on.
    """

    @property
    def transport_name(self) -> str: ...

    def client(
        self, connection: StreamConnection, *, server_name: str | None
    ) -> AbstractAsyncContextManager[MessageChannel]:
        """The client end. ``server_name`` is the host name the user gave for the peer (TLS
        SNI and certificate host name; WebSocket ``Host``); None or an IP address sends no SNI.
        """
        ...

    def server(self, connection: StreamConnection) -> AbstractAsyncContextManager[MessageChannel]:
        """The server end of an accepted connection."""
        ...
