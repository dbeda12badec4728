"""Stream connections the engine owns (TCP, TLS, WS, WSS): flows, framing, reader and writer.

A ``Link`` is one connection: a client connection (``-t t1``: one for the run; ``tn``: one per
call) or one accepted by the server's listener. Every link runs in one task of the
``StreamEndpoints`` nursery: connect (client), handshake through the run's ``ChannelLayer``,
then a reader (framing with ``StreamFramer`` unless the channel is message-oriented, then
dispatch to the engine) and a writer draining the link's send queue. Calls never block on a
stream: ``StreamFlow.send_nowait`` queues the message and the writer sends what has queued up
in one write (many calls share a ``t1`` connection, so a burst becomes one segment).

When a connection breaks (reset, EOF from the peer, a framing error, a failed handshake) the link
reports it once to the engine, which fails the calls that used it (``FailedTcpClosed``) and,
for the shared client connection, reconnects as ``-max_reconnect`` allows.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from gossipper.errors import BindError, SipParseError, TransportError
from gossipper.interfaces import (
    Address,
    ChannelLayer,
    MessageChannel,
    StreamConnection,
    StreamListener,
    TransportFactory,
)
from gossipper.sip.framing import StreamFramer

LINK_QUEUE_LIMIT_BYTES = 4 << 20
"""Bytes a link may hold unsent before ``send_nowait`` reports no room (a send buffer)."""

DRAIN_TIMEOUT_S = 1.0
"""How long the run's end waits for the links to hand their queued messages to the network (a
peer that reads nothing must not hold the run open)."""

_PONG = b"\r\n"
"""RFC 5626 section 4.4.1: a double-CRLF ping is answered with one CRLF."""


class StreamFlow:
    """A call's flow over one link (shared by all the calls of a ``t1`` connection)."""

    __slots__ = ("link", "transport_name", "reliable", "local_address", "remote_address")

    def __init__(self, link: Link, transport_name: str) -> None:
        self.link = link
        self.transport_name = transport_name
        self.reliable = True
        self.local_address = link.local_address
        self.remote_address = link.remote_address

    def send_nowait(self, data: bytes) -> bool:
        return self.link.queue(data)

    async def send(self, data: bytes) -> None:
        await self.link.send(data)


class Link:
    """One stream connection of the run, with its send queue (see the module docstring)."""

    def __init__(self, remote: Address, transport_name: str, *, outgoing: bool) -> None:
        self.remote_address = remote
        self.local_address: Address = ("", 0)
        self.transport_name = transport_name
        self.outgoing = outgoing
        self.channel: MessageChannel | None = None
        self.flow = StreamFlow(self, transport_name)
        # Calls (or the run, for t1) using the link; a per-call link closes at zero.
        self.users = 0
        # The live calls whose flow is this link (the engine adds and removes them): failed
        # when the connection breaks, without scanning every call of the run.
        self.calls: set[object] = set()
        # The peer closed the connection gracefully (EOF) rather than resetting it.
        self.closed_by_peer = False
        self.broken: str | None = None
        self.closing = False
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._writer_lot = trio.lowlevel.ParkingLot()
        self._room_lot = trio.lowlevel.ParkingLot()
        # Set by StreamEndpoints.close: wake wait_drained whenever the writer is idle.
        self.draining = False
        self._sending = False
        self._drained_lot = trio.lowlevel.ParkingLot()
        self.cancel_scope: trio.CancelScope | None = None

    def bind_channel(self, channel: MessageChannel) -> None:
        """The connection is up: flows made from now on carry its addresses."""
        self.channel = channel
        self.local_address = channel.local_address
        self.remote_address = channel.remote_address
        self.broken = None
        self.flow = StreamFlow(self, self.transport_name)

    def queue(self, data: bytes) -> bool:
        """Queue one message; False when the queue is full (nothing queued).

        Raises:
            TransportError: the connection is broken.
        """
        if self.broken is not None:
            raise TransportError(self.broken)
        out = self._out
        if out and self._out_bytes + len(data) > LINK_QUEUE_LIMIT_BYTES:
            return False
        out.append(data)
        self._out_bytes += len(data)
        if len(out) == 1:
            self._writer_lot.unpark()
        return True

    async def send(self, data: bytes) -> None:
        """Queue one message, waiting for room."""
        while not self.queue(data):
            await self._room_lot.park()

    def close_when_drained(self) -> None:
        """A deliberate close: send what is queued, then close the connection."""
        self.closing = True
        self._writer_lot.unpark_all()

    def mark_broken(self, reason: str) -> None:
        self.broken = reason
        self._out.clear()
        self._out_bytes = 0
        self._room_lot.unpark_all()
        self._writer_lot.unpark_all()
        self._drained_lot.unpark_all()

    def drained(self) -> bool:
        """Nothing left to send: the queue is empty and no write is under way (or it broke)."""
        return self.broken is not None or (not self._out and not self._sending)

    async def wait_drained(self) -> None:
        """Until ``drained`` (set ``draining`` first, so the writer reports when it idles)."""
        while not self.drained():
            await self._drained_lot.park()

    def stop(self) -> None:
        """Stop the link's task now (the run is over)."""
        self.closing = True
        if self.cancel_scope is not None:
            self.cancel_scope.cancel()

    async def write_loop(self, channel: MessageChannel, done: trio.CancelScope) -> None:
        """Send what is queued until a deliberate close has drained the queue."""
        out = self._out
        joined = not channel.message_oriented
        while True:
            if not out:
                if self.closing or self.broken is not None:
                    done.cancel()
                    return
                if self.draining:
                    self._drained_lot.unpark_all()
                await self._writer_lot.park()
                continue
            if joined:
                batch = [b"".join(out)] if len(out) > 1 else [out[0]]
            else:
                batch = list(out)
            out.clear()
            self._out_bytes = 0
            self._room_lot.unpark_all()
            self._sending = True
            try:
                for data in batch:
                    await channel.send(data)
            finally:
                self._sending = False


class StreamEndpoints:
    """The run's stream side: a listener (server), client links, and the tasks running them.

    ``on_message(data, flow)`` gets every received message; ``on_lost(link, reason)`` is
    called once when a link breaks (not after a deliberate close); ``warning`` and
    ``malformed`` count and log what the network sent wrong.
    """

    def __init__(
        self,
        *,
        transports: TransportFactory,
        layer: ChannelLayer,
        server_name: str | None,
        on_message: Callable[[bytes, StreamFlow], None],
        on_lost: Callable[[Link, str], None],
        warning: Callable[[str], None],
        malformed: Callable[[], None],
    ) -> None:
        self._transports = transports
        self.layer = layer
        self.transport_name = layer.transport_name
        self._server_name = server_name
        self._on_message = on_message
        self._on_lost = on_lost
        self._warning = warning
        self._malformed = malformed
        self._listener: StreamListener | None = None
        self._nursery: trio.Nursery | None = None
        # Insertion-ordered (a dict, not a set): sharing links round robin stays deterministic.
        self.links: dict[Link, None] = {}

    @property
    def open_links(self) -> int:
        return len(self.links)

    async def listen(self, host: str, port: int) -> Address:
        """Bind the listener (before traffic, so bind errors come first)."""
        self._listener = await self._transports.open_stream_listener(host, port)
        return self._listener.local_address

    def start(self, nursery: trio.Nursery) -> None:
        """Run the accept loop (if listening) and future links in ``nursery``."""
        self._nursery = nursery
        if self._listener is not None:
            nursery.start_soon(self._accept_loop, self._listener)

    async def close(self) -> None:
        """The run is over: flush every link's queue (bounded), then stop the links and listener.

        A call queues its last message and ends; when that call was the run's last one (a uas
        whose scenario ends with the 200 to a BYE) the run ends at once, before the link's writer
        has run: stopping the links right away would drop the message and leave the peer waiting.
        """
        links = list(self.links)
        for link in links:
            link.draining = True
        with trio.move_on_after(DRAIN_TIMEOUT_S):
            for link in links:
                await link.wait_drained()
        for link in list(self.links):
            link.stop()
        if self._listener is not None:
            await self._listener.aclose()

    # ------------------------------------------------------------------ client links

    async def connect(
        self, remote: Address, *, local_host: str | None, local_port: int, link: Link | None = None
    ) -> Link:
        """Open (or re-open) a client link: returns once the handshake is done.

        Raises:
            TransportError: the connection or its handshake failed.
            BindError: the local address cannot be bound.
        """
        assert self._nursery is not None
        if link is None:
            link = Link(remote, self.transport_name, outgoing=True)
        started: Link = await self._nursery.start(
            self._client_link_task, link, remote, local_host, local_port
        )
        assert started is link
        return link

    async def _client_link_task(
        self,
        link: Link,
        remote: Address,
        local_host: str | None,
        local_port: int,
        task_status: trio.TaskStatus[Link],
    ) -> None:
        connection = await self._transports.connect_stream(
            remote, local_host=local_host, local_port=local_port
        )
        await self._run_link(link, connection, task_status)

    # ------------------------------------------------------------------ server links

    async def _accept_loop(self, listener: StreamListener) -> None:
        assert self._nursery is not None
        while True:
            try:
                connection = await listener.accept()
            except (trio.ClosedResourceError, OSError):
                return
            except TransportError as exc:
                self._warning(f"{self.transport_name} accept failed: {exc}")
                continue
            link = Link(connection.remote_address, self.transport_name, outgoing=False)
            self._nursery.start_soon(self._server_link_task, link, connection)

    async def _server_link_task(self, link: Link, connection: StreamConnection) -> None:
        try:
            await self._run_link(link, connection, None)
        except TransportError as exc:
            # A failed handshake of an incoming connection: the peer's problem, not the run's.
            self._warning(str(exc))

    # ------------------------------------------------------------------ both

    async def _run_link(
        self,
        link: Link,
        connection: StreamConnection,
        task_status: trio.TaskStatus[Link] | None,
    ) -> None:
        context = (
            self.layer.client(connection, server_name=self._server_name)
            if link.outgoing
            else self.layer.server(connection)
        )
        # Stays None when the link is stopped (cancelled) before _serve returns: a deliberate close.
        reason: str | None = None
        with trio.CancelScope() as cancel:
            link.cancel_scope = cancel
            # The layers bound their own handshakes (a nursery opened by a layer cannot sit
            # inside a cancel scope of ours).
            async with context as channel:
                link.bind_channel(channel)
                self.links[link] = None
                try:
                    if task_status is not None:
                        task_status.started(link)
                    reason = await self._serve(link, channel)
                finally:
                    self.links.pop(link, None)
                if reason is not None:
                    channel.reset()
        if reason is not None and not link.closing:
            link.mark_broken(reason)
            self._on_lost(link, reason)
        elif link.broken is None:
            link.mark_broken("connection closed")

    async def _serve(self, link: Link, channel: MessageChannel) -> str | None:
        """Read and write until the connection ends; the reason it broke, None when closed."""
        reason: str | None = None
        async with trio.open_nursery() as nursery:

            async def write() -> None:
                nonlocal reason
                try:
                    await link.write_loop(channel, nursery.cancel_scope)
                except TransportError as exc:
                    reason = str(exc)
                    nursery.cancel_scope.cancel()
                except trio.ClosedResourceError:
                    nursery.cancel_scope.cancel()

            nursery.start_soon(write)
            read_reason = await self._read_loop(link, channel)
            if read_reason is not None:
                reason = reason or read_reason
                nursery.cancel_scope.cancel()
        return reason

    async def _read_loop(self, link: Link, channel: MessageChannel) -> str | None:
        framer = None if channel.message_oriented else StreamFramer()
        on_message = self._on_message
        host, port = link.remote_address
        while True:
            try:
                data = await channel.receive()
            except TransportError as exc:
                return str(exc)
            except trio.ClosedResourceError:
                return None
            if not data:
                link.closed_by_peer = True
                return f"{self.transport_name} connection closed by {host}:{port}"
            if framer is None:
                if data.strip(b"\r\n"):
                    on_message(data, link.flow)
                continue
            framer.feed(data)
            while True:
                try:
                    message = framer.next_message()
                except SipParseError as exc:
                    self._malformed()
                    self._warning(
                        f"{self.transport_name} stream from {host}:{port} dropped: {exc.reason}"
                    )
                    return f"{self.transport_name} framing error from {host}:{port}"
                if message is None:
                    break
                on_message(message, link.flow)
            if framer.missing_lengths:
                framer.missing_lengths = 0
                self._warning(
                    f"{self.transport_name} message from {host}:{port} without Content-Length,"
                    " taken as 0 (RFC 3261 section 18.3 requires it on streams)"
                )
            if framer.take_pings():
                try:
                    link.queue(_PONG)
                except TransportError:
                    pass


async def first_free_listener(
    endpoints: StreamEndpoints, host: str, first_port: int, last_port: int
) -> Address:
    """Listen on the first free port of ``first_port..last_port``, else an ephemeral one."""
    for port in range(first_port, last_port + 1):
        try:
            return await endpoints.listen(host, port)
        except BindError:
            continue
    return await endpoints.listen(host, 0)
