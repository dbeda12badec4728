"""SIP over WebSocket (RFC 7118): a channel layer over any byte-stream layer.

``WebSocketLayer`` wraps an inner ``ChannelLayer`` (``PlainLayer`` for WS, a TLS layer for WSS)
and runs the WebSocket protocol over the inner channel with trio-websocket (framing by wsproto).
Each SIP message travels as exactly one WebSocket message, so the channel is message-oriented.

Only the layer that a run selects (``-t w1/wn/ws1/wsn``) imports this module:
``gossipper.transport`` does not, so plain UDP and TCP runs never load trio-websocket.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import trio
import trio_websocket

from gossipper.errors import TransportError
from gossipper.interfaces import Address, ChannelLayer, MessageChannel, StreamConnection
from gossipper.transport.channels import RECEIVE_SIZE_BYTES

SUBPROTOCOL = "sip"
"""The WebSocket subprotocol of SIP (RFC 7118 section 4)."""
HANDSHAKE_TIMEOUT_S = 10.0
"""Longest wait for the opening handshake; a peer that connects and stays silent is given up."""
CLOSE_TIMEOUT_S = 2.0
"""Longest wait for the peer's answer to our Close frame before the connection is just closed."""
MAX_MESSAGE_BYTES = 1 << 20
"""Largest message accepted (trio-websocket's default); a larger one closes with 1009."""

_WRAPPED_TRANSPORTS = {"TCP": "WS", "TLS": "WSS"}
"""What a WebSocket over each inner transport is called in ``[transport]`` and Via."""


def _host_port(host: str, port: int) -> str:
    # An IPv6 literal needs brackets wherever a port follows it (RFC 3986 section 3.2.2).
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe(address: Address) -> str:
    host, port = address
    return f"{host}:{port}"


class _Rejected(TransportError):
    """The server refused the handshake and has sent the HTTP response saying why."""


class _ChannelStream(trio.abc.Stream):
    """An inner ``MessageChannel`` seen as the ``trio.abc.Stream`` trio-websocket runs on.

    trio-websocket only recognises ``trio.BrokenResourceError`` as a broken stream, so the
    inner channel's ``TransportError`` is translated, and kept so that the WebSocket channel can
    raise it again to its caller.
    """

    def __init__(self, channel: MessageChannel) -> None:
        self._channel = channel
        self._unread = b""
        self.broken: TransportError | None = None
        self.ended = False
        self._end_scope: trio.CancelScope | None = None

    def cancel_on_end(self, scope: trio.CancelScope | None) -> None:
        """Cancel ``scope`` as soon as the stream ends (EOF, broken or closed).

        The handshake waits on this: trio-websocket's own wait for the handshake does not
        return when the connection goes away before it completes.
        """
        self._end_scope = scope
        if scope is not None and self.ended:
            scope.cancel()

    def _end(self) -> None:
        self.ended = True
        if self._end_scope is not None:
            self._end_scope.cancel()

    def _break(self, exc: TransportError) -> trio.BrokenResourceError:
        if self.broken is None:
            self.broken = exc
        self._end()
        return trio.BrokenResourceError(str(exc))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        try:
            await self._channel.send(bytes(data))
        except TransportError as exc:
            raise self._break(exc) from exc
        except trio.ClosedResourceError:
            self._end()
            raise

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._unread:
            data = self._unread
            self._unread = b""
            await trio.lowlevel.checkpoint()
        else:
            try:
                data = await self._channel.receive()
            except TransportError as exc:
                raise self._break(exc) from exc
            except trio.ClosedResourceError:
                self._end()
                raise
            if not data:
                self._end()
                return b""
        if max_bytes is not None and len(data) > max_bytes:
            # The inner channel decides how much one receive returns; keep what does not fit.
            data, self._unread = data[:max_bytes], data[max_bytes:]
        return data

    async def aclose(self) -> None:
        self._end()
        await self._channel.aclose()


class WebSocketChannel:
    """One WebSocket connection carrying SIP: one SIP message per WebSocket message."""

    message_oriented = True

    def __init__(
        self,
        connection: trio_websocket.WebSocketConnection,
        stream: _ChannelStream,
        inner: MessageChannel,
        *,
        transport_name: str,
        path: str,
    ) -> None:
        self._connection = connection
        self._stream = stream
        self._inner = inner
        self._transport_name = transport_name
        self._path = path
        self._closed = False
        self._sending = False
        self._receiving = False

    @property
    def transport_name(self) -> str:
        return self._transport_name

    @property
    def local_address(self) -> Address:
        return self._inner.local_address

    @property
    def remote_address(self) -> Address:
        return self._inner.remote_address

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol ("sip" once the handshake succeeded)."""
        return self._connection.subprotocol

    @property
    def path(self) -> str:
        """The request path (resource) of the handshake."""
        return self._path

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError(f"{self._transport_name} channel is closed")

    def _closed_error(self, action: str, exc: trio_websocket.ConnectionClosed) -> TransportError:
        remote = _describe(self.remote_address)
        if self._stream.broken is not None:
            return TransportError(
                f"{self._transport_name} {action} {remote} failed: {self._stream.broken}"
            )
        reason = exc.reason
        detail = "" if reason is None else f" ({reason.code} {reason.name})"
        return TransportError(
            f"{self._transport_name} {action} {remote} failed: connection closed{detail}"
        )

    async def send(self, data: bytes) -> None:
        """Send ``data`` as one WebSocket message: a text frame when it is valid UTF-8 (what
        browsers and JsSIP send), else a binary frame."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            self._check_open()
        if self._sending:
            raise trio.BusyResourceError("another task is already sending on this channel")
        message: str | bytes
        try:
            message = data.decode("utf-8")
        except UnicodeDecodeError:
            message = bytes(data)
        self._sending = True
        try:
            await self._connection.send_message(message)
        except trio_websocket.ConnectionClosed as exc:
            self._check_open()
            raise self._closed_error("send to", exc) from None
        finally:
            self._sending = False

    async def receive(self) -> bytes:
        """The next whole message; b"" once the connection is closed."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            self._check_open()
        if self._receiving:
            raise trio.BusyResourceError("another task is already receiving on this channel")
        self._receiving = True
        try:
            message = await self._connection.get_message()
        except trio_websocket.ConnectionClosed as exc:
            self._check_open()  # closed under a pending receive: local, not the peer's doing
            if self._stream.broken is not None:
                raise self._closed_error("receive from", exc) from self._stream.broken
            return b""
        finally:
            self._receiving = False
        return message.encode("utf-8") if isinstance(message, str) else message

    async def aclose(self) -> None:
        """Send a Close frame, wait (bounded) for the peer's, then close the connection."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        with trio.move_on_after(CLOSE_TIMEOUT_S):
            await self._connection.aclose()
        # trio-websocket leaves the stream open when the peer closed first (a client waits
        # for the server to drop TCP); closing is idempotent, so always finish it here.
        await self._inner.aclose()

    def reset(self) -> None:
        self._closed = True
        self._inner.reset()


_Handshake = Callable[[trio.Nursery, _ChannelStream], Awaitable[trio_websocket.WebSocketConnection]]


class WebSocketLayer:
    """SIP over WebSocket on top of ``inner`` (WS over plain TCP, WSS over TLS)."""

    def __init__(self, inner: ChannelLayer, *, path: str = "/") -> None:
        """``path`` is the request path (resource) a client asks for and a server serves.

        Raises:
            ValueError: ``inner`` is neither a TCP nor a TLS layer.
        """
        wrapped = _WRAPPED_TRANSPORTS.get(inner.transport_name)
        if wrapped is None:
            raise ValueError(f"WebSocket runs over TCP or TLS, not {inner.transport_name}")
        self._inner = inner
        self._path = path
        self._transport_name = wrapped

    @property
    def transport_name(self) -> str:
        return self._transport_name

    @property
    def path(self) -> str:
        return self._path

    @contextlib.asynccontextmanager
    async def client(
        self, connection: StreamConnection, *, server_name: str | None
    ) -> AsyncIterator[WebSocketChannel]:
        host, port = connection.remote_address
        host_header = _host_port(server_name or host, port)
        remote = _describe(connection.remote_address)

        async def handshake(
            nursery: trio.Nursery, stream: _ChannelStream
        ) -> trio_websocket.WebSocketConnection:
            websocket = await trio_websocket.wrap_client_stream(
                nursery,
                stream,  # type: ignore[arg-type]  # typed as Socket/SSLStream; any Stream works
                host_header,
                self._path,
                subprotocols=[SUBPROTOCOL],
                max_message_size=MAX_MESSAGE_BYTES,
                receive_buffer_size=RECEIVE_SIZE_BYTES,
            )
            if websocket.subprotocol != SUBPROTOCOL:
                raise TransportError(
                    f"WebSocket server at {remote} did not accept subprotocol '{SUBPROTOCOL}'"
                )
            return websocket

        async with (
            self._inner.client(connection, server_name=server_name) as inner,
            self._open(inner, handshake) as channel,
        ):
            yield channel

    @contextlib.asynccontextmanager
    async def server(self, connection: StreamConnection) -> AsyncIterator[WebSocketChannel]:
        remote = _describe(connection.remote_address)

        async def handshake(
            nursery: trio.Nursery, stream: _ChannelStream
        ) -> trio_websocket.WebSocketConnection:
            request = await trio_websocket.wrap_server_stream(
                nursery,
                stream,
                max_message_size=MAX_MESSAGE_BYTES,
                receive_buffer_size=RECEIVE_SIZE_BYTES,
            )
            if request.path != self._path:
                await self._reject(request, 404, b"Not Found\n")
                raise _Rejected(
                    f"WebSocket client at {remote} asked for path {request.path!r}, "
                    f"served is {self._path!r}: rejected with 404"
                )
            if SUBPROTOCOL not in request.proposed_subprotocols:
                # RFC 7118 section 4.1: a server must not accept a SIP WebSocket without it.
                await self._reject(request, 400, b"Subprotocol 'sip' required\n")
                raise _Rejected(
                    f"WebSocket client at {remote} did not propose subprotocol "
                    f"'{SUBPROTOCOL}': rejected with 400"
                )
            return await request.accept(subprotocol=SUBPROTOCOL)

        async with (
            self._inner.server(connection) as inner,
            self._open(inner, handshake) as channel,
        ):
            yield channel

    @staticmethod
    async def _reject(request: trio_websocket.WebSocketRequest, status: int, body: bytes) -> None:
        # A body gives the response a Content-Length; without one the client could tell where
        # the response ends only from the connection closing, which trio-websocket's client
        # does not wait for.
        with contextlib.suppress(trio_websocket.ConnectionClosed):
            await request.reject(status, body=body)

    @contextlib.asynccontextmanager
    async def _open(
        self, inner: MessageChannel, handshake: _Handshake
    ) -> AsyncIterator[WebSocketChannel]:
        """Run ``handshake`` over ``inner``, yield the channel, then close it.

        trio-websocket reads in a background task of a nursery opened here. Errors are
        raised outside that nursery, so callers see a plain ``TransportError`` (or their own
        exception) rather than an exception group.
        """
        stream = _ChannelStream(inner)
        failure: TransportError | None = None
        body_error: BaseException | None = None
        try:
            async with trio.open_nursery() as nursery:
                websocket = await self._handshake(nursery, stream, inner, handshake)
                if isinstance(websocket, TransportError):
                    failure = websocket
                    nursery.cancel_scope.cancel()
                else:
                    channel = WebSocketChannel(
                        websocket,
                        stream,
                        inner,
                        transport_name=self._transport_name,
                        path=self._path,
                    )
                    try:
                        yield channel
                    except BaseException as exc:
                        # Raised again below, once the nursery is gone: inside it, Trio would
                        # wrap it in an exception group.
                        body_error = exc
                    finally:
                        try:
                            await channel.aclose()
                        finally:
                            nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            rejected, rest = group.split(trio_websocket.ConnectionRejected)
            if rejected is None or rest is not None:
                raise
            leaf: BaseException = rejected
            while isinstance(leaf, BaseExceptionGroup):
                leaf = leaf.exceptions[0]
            assert isinstance(leaf, trio_websocket.ConnectionRejected)
            failure = TransportError(
                f"WebSocket handshake with {_describe(inner.remote_address)} for path "
                f"{self._path!r} rejected: HTTP {leaf.status_code}"
            )
        if isinstance(failure, _Rejected):
            # Closed gracefully, not reset: an RST right behind the rejection could make the
            # client's kernel drop the response unread, and the client would never see why.
            with trio.move_on_after(CLOSE_TIMEOUT_S):
                await inner.aclose()
            raise failure
        if failure is not None:
            inner.reset()
            raise failure
        if body_error is not None:
            raise body_error

    async def _handshake(
        self,
        nursery: trio.Nursery,
        stream: _ChannelStream,
        inner: MessageChannel,
        handshake: _Handshake,
    ) -> trio_websocket.WebSocketConnection | TransportError:
        """The opening handshake, bounded in time; a failure is returned, not raised (it has
        to leave the nursery as a plain exception)."""
        remote = _describe(inner.remote_address)
        with trio.move_on_after(HANDSHAKE_TIMEOUT_S) as scope:
            stream.cancel_on_end(scope)
            try:
                return await handshake(nursery, stream)
            except TransportError as exc:
                return exc
            except trio_websocket.ConnectionClosed as exc:
                reason = exc.reason
                detail = "" if reason is None else f" ({reason.code} {reason.name})"
                return TransportError(f"WebSocket handshake with {remote} failed: closed{detail}")
            finally:
                stream.cancel_on_end(None)
        if stream.broken is not None:
            return TransportError(f"WebSocket handshake with {remote} failed: {stream.broken}")
        if stream.ended:
            return TransportError(
                f"WebSocket handshake with {remote} failed: connection closed by the peer"
            )
        return TransportError(
            f"WebSocket handshake with {remote} failed: no answer within {HANDSHAKE_TIMEOUT_S} s"
        )


if TYPE_CHECKING:
    # mypy --strict proves the WebSocket layer satisfies the seams of gossipper.interfaces.
    def _conforms(
        layer: WebSocketLayer, channel: WebSocketChannel
    ) -> tuple[ChannelLayer, MessageChannel]:
        return layer, channel
