"""Simulated endpoints: ``SimTransportFactory`` and ``SimDatagramTransport``.

They implement ``gossipper.interfaces.TransportFactory`` / ``DatagramTransport`` over a
``SimNetwork``, with the same contract as the real UDP transport: ``send_nowait`` returns False
only when this endpoint's bounded send queue (datagrams in flight) is full, ``receive_batch``
waits for at least one datagram, and ``close`` wakes a pending receive with
``trio.ClosedResourceError``. No real socket or thread is involved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import trio

from gossipper.errors import BindError, TransportError
from gossipper.interfaces import Address, Datagram, TimedDatagram
from gossipper.sim.network import MAX_DATAGRAM_BYTES, SimNetwork, _check_destination, _DatagramPort
from gossipper.sim.stream import SimStream, SimStreamListener, connect_stream, open_stream_listener

WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
"""Bind hosts that mean "this host"; the endpoint then reports the factory's host."""


class SimDatagramTransport:
    """One bound datagram endpoint of a ``SimNetwork``."""

    transport_name = "UDP"  # simulated UDP: what the real one prints

    def __init__(self, network: SimNetwork, port: _DatagramPort) -> None:
        self._network = network
        self._port = port
        self._receiving = False

    @property
    def local_address(self) -> Address:
        """The bound (host, port); a wildcard bind reports the factory's host."""
        return self._port.address

    def send_nowait(self, data: bytes, address: Address) -> bool:
        """Queue ``data`` for ``address``; False only when this endpoint's send queue is full.

        Raises:
            trio.ClosedResourceError: the endpoint is closed.
            TransportError: the datagram is too large or the address is malformed.
        """
        if self._port.closed:
            raise trio.ClosedResourceError("send on a closed sim endpoint")
        if len(data) > MAX_DATAGRAM_BYTES:
            raise TransportError(
                f"UDP send to {address!r} failed: {len(data)} bytes exceeds {MAX_DATAGRAM_BYTES}"
            )
        dst = _check_destination(address)
        return self._network._submit_datagram(self._port, bytes(data), dst)

    async def send(self, data: bytes, address: Address) -> None:
        """Send, waiting while this endpoint's send queue is full."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while not self.send_nowait(data, address):
            await self._port.send_lot.park()
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def receive_batch(self) -> list[Datagram]:
        """Wait for at least one datagram and return all queued ones, in delivery order."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._receiving:
            raise trio.BusyResourceError("another task is already receiving on this endpoint")
        self._receiving = True
        parked = False
        try:
            port = self._port
            while True:
                if port.closed:
                    raise trio.ClosedResourceError("sim endpoint was closed")
                if port.queue:
                    batch = list(port.queue)
                    port.queue.clear()
                    break
                parked = True
                await port.receive_lot.park()
        finally:
            self._receiving = False
        if not parked:
            # A wait was a schedule point already; only a batch taken at once needs one (a
            # second step per delivery otherwise, the receive loop's largest cost here).
            await trio.lowlevel.cancel_shielded_checkpoint()
        return batch

    async def receive_each(self, handler: Callable[[bytes, Address], None]) -> None:
        """``interfaces.DirectDelivery``: the network's delivery task calls ``handler`` for each
        datagram as it lands; returns when the endpoint is closed."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._receiving:
            raise trio.BusyResourceError("another task is already receiving on this endpoint")
        self._receiving = True
        port = self._port
        try:
            if port.queue:  # landed before the handler was attached: in order, from here
                batch = list(port.queue)
                port.queue.clear()
                for data, source in batch:
                    handler(data, source)
            port.handler = handler
            while not port.closed:
                await port.receive_lot.park()  # only close() wakes it now
        finally:
            port.handler = None
            self._receiving = False

    async def receive_batch_timed(self) -> list[TimedDatagram]:
        """``receive_batch``, each datagram stamped with the virtual instant of the wake-up
        (delivery is an event of the virtual clock: nothing waits in a kernel queue)."""
        batch = await self.receive_batch()
        now = trio.current_time()
        return [(data, source, now) for data, source in batch]

    def receive_nowait(self) -> list[Datagram]:
        """The datagrams queued now, in delivery order (possibly none)."""
        port = self._port
        if port.closed:
            raise trio.ClosedResourceError("sim endpoint was closed")
        batch = list(port.queue)
        port.queue.clear()
        return batch

    def close(self) -> None:
        """Unbind; later arrivals count as dropped_unbound; a pending receive is woken."""
        port = self._port
        if port.closed:
            return
        port.closed = True
        port.queue.clear()
        self._network._unbind_datagram(port)
        port.receive_lot.unpark_all()
        port.send_lot.unpark_all()


class SimTransportFactory:
    """Opens endpoints of one simulated host (implements ``interfaces.TransportFactory``)."""

    def __init__(self, network: SimNetwork, host: str) -> None:
        if not host or host in WILDCARD_HOSTS:
            raise BindError(f"a sim host needs a concrete address, got {host!r}")
        self.network = network
        self.host = host

    def _resolve_bind(self, host: str, port: int, protocol: str) -> None:
        if host not in WILDCARD_HOSTS and host != self.host:
            raise BindError(
                f"cannot bind {protocol} {host}:{port}: address not available on sim host "
                f"{self.host}"
            )
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise BindError(f"cannot bind {protocol} {host}:{port}: port out of range")

    async def open_datagram(
        self, host: str, port: int, *, buffer_bytes: int | None = None
    ) -> SimDatagramTransport:
        """Bind a datagram endpoint; port 0 takes the next ephemeral port from 40000.

        Raises:
            BindError: the port is in use, or ``host`` is not this sim host (nor a wildcard).
        """
        await trio.lowlevel.checkpoint()
        self._resolve_bind(host, port, "UDP")
        return SimDatagramTransport(self.network, self.network._bind_datagram(self.host, port))

    async def open_stream_listener(self, host: str, port: int) -> SimStreamListener:
        """Listen for simulated stream connections (TCP-like); port 0 takes an ephemeral port.

        Raises:
            BindError: the port is in use, or ``host`` is not this sim host (nor a wildcard).
        """
        await trio.lowlevel.checkpoint()
        self._resolve_bind(host, port, "TCP")
        return open_stream_listener(self.network, self.host, port)

    async def connect_stream(
        self, remote: Address, *, local_host: str | None = None, local_port: int = 0
    ) -> SimStream:
        """Connect to a listener; returns once the handshake has crossed the network.

        ``local_host`` must be this sim host or a wildcard; ``local_port`` 0 takes an
        ephemeral port.

        Raises:
            BindError: the local port is in use, or ``local_host`` is not this sim host.
            TransportError: nothing listens at ``remote`` (connection refused).
        """
        if local_host is not None or local_port:
            self._resolve_bind("" if local_host is None else local_host, local_port, "TCP")
        return await connect_stream(self.network, self.host, remote, local_port)


if TYPE_CHECKING:
    # mypy --strict proves the simulated endpoints satisfy the seams of gossipper.interfaces.
    from gossipper.interfaces import (
        DatagramTransport,
        StreamConnection,
        StreamListener,
        TransportFactory,
    )

    def _conforms(
        factory: SimTransportFactory,
        datagrams: SimDatagramTransport,
        connection: SimStream,
        listener: SimStreamListener,
    ) -> tuple[TransportFactory, DatagramTransport, StreamConnection, StreamListener]:
        return factory, datagrams, connection, listener
