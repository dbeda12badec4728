"""The seams between the engine and the outside world.

The engine sees the network and the wall clock only through these protocols. Real sockets
(``gossipper.transport``) and the in-memory simulation (``gossipper.sim``) both implement them;
``gossipper.cli`` picks one at the composition root. Signatures use bytes and address tuples only.

Monotonic time is not part of this seam: the engine reads ``trio.current_time()``, which the
simulation replaces with a ``MockClock``.
"""

from __future__ import annotations

from typing import Protocol

Address = tuple[str, int]
"""(host, port); IPv6 hosts without brackets."""

Datagram = tuple[bytes, Address]
"""One received datagram and the address it came from."""


class DatagramTransport(Protocol):
    """One bound datagram endpoint (a UDP socket, or its simulated twin)."""

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

    def close(self) -> None:
        """Release the endpoint; a pending ``receive_batch`` gets ``trio.ClosedResourceError``."""
        ...


class TransportFactory(Protocol):
    """Opens endpoints. Port 0 asks for an ephemeral port."""

    async def open_datagram(self, host: str, port: int) -> DatagramTransport:
        """Bind a datagram endpoint on (host, port).

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
    """Wall-clock time for output timestamps (real: ``time.time``; sim: epoch + virtual)."""

    def wall_time(self) -> float:
        """Seconds since the Unix epoch."""
        ...


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
