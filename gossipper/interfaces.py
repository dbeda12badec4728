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


class WallClock(Protocol):
    """Wall-clock time for output timestamps (real: ``time.time``; sim: epoch + virtual)."""

    def wall_time(self) -> float:
        """Seconds since the Unix epoch."""
        ...
