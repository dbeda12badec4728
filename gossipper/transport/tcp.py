"""Real TCP streams (implement ``gossipper.interfaces.StreamConnection`` / ``StreamListener``).

Built on trio's ``SocketStream``/``SocketListener`` (TCP_NODELAY on, as SIP wants small messages
out at once). This module only translates trio's stream errors into the contract written in
``gossipper.interfaces``: a broken connection raises ``TransportError``, local misuse after a
close stays ``trio.ClosedResourceError``, bind problems raise ``BindError`` naming host:port.

``TcpConnection`` keeps the bytes-carrying stream apart from the socket it runs on, so TLS (a
``trio.SSLStream`` over the socket stream) and WebSocket framing can reuse it: they pass their
own stream and keep the socket for addresses and ``reset``.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import sys

import trio

from gossipper.errors import BindError, TransportError
from gossipper.interfaces import Address

LISTEN_BACKLOG = 100
"""Pending connections a listener queues (SIPp listens with the same backlog;
docs/sipp-behaviour.md, "Transports")."""

_LINGER_ABORT = struct.pack("ii", 1, 0)
"""SO_LINGER on with a zero timeout: ``close`` then sends RST (RFC 9293 3.10.5, ABORT call)."""


_DEVICE_HINTS = {
    errno.ENODEV: "no network interface has that name (see `ip link`)",
    errno.EPERM: "binding to an interface needs root or CAP_NET_RAW here",
    errno.EACCES: "binding to an interface needs root or CAP_NET_RAW here",
}


def bind_to_device(sock: socket.socket | trio.socket.SocketType, device: str) -> None:
    """``-bind_to_device``: SO_BINDTODEVICE, before the socket binds or connects, so every
    packet of it goes in and out through ``device`` (Linux; SIPp 3.7).

    Raises:
        BindError: no such interface, no permission, or no SO_BINDTODEVICE on this system
            (SIPp's bind error, exit status 254).
    """
    option = getattr(socket, "SO_BINDTODEVICE", None)
    if option is None:
        raise BindError(
            f"-bind_to_device {device}: this system has no SO_BINDTODEVICE (Linux only)"
        )
    try:
        sock.setsockopt(socket.SOL_SOCKET, option, device.encode() + b"\0")
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        hint = _DEVICE_HINTS.get(exc.errno or 0, "")
        raise BindError(
            f"-bind_to_device {device}: cannot bind a socket to the interface:"
            f" {exc.strerror or exc} ({code}){'; ' + hint if hint else ''}"
        ) from exc


def _family_for(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _address(sockaddr: object) -> Address:
    # IPv6 gives (host, port, flowinfo, scope_id): keep host and port.
    assert isinstance(sockaddr, tuple)
    return (str(sockaddr[0]), int(sockaddr[1]))


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(cause)


class TcpConnection:
    """One established TCP connection (or a stream layered on one, such as TLS)."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        socket_stream: trio.SocketStream,
        receive_buffer: bytearray | None = None,
    ) -> None:
        """``stream`` carries the bytes; ``socket_stream`` is the TCP connection under it.
        ``receive_buffer`` (plain TCP only, shared by the connections of one factory): reads
        land there and only what arrived is copied out, instead of trio's ``recv(max_bytes)``
        allocating ``max_bytes`` per read and shrinking it, whose freed tails fragment the C
        heap over a long run (the UDP transport does the same; docs/performance.md,
        "Robustness").

        Raises:
            OSError: the socket is no longer connected (the peer reset it already).
        """
        self._stream = stream
        self._socket = socket_stream.socket
        self._buffer = receive_buffer if stream is socket_stream else None
        self._local = _address(self._socket.getsockname())
        self._remote = _address(self._socket.getpeername())
        self._closed = False

    @property
    def local_address(self) -> Address:
        return self._local

    @property
    def remote_address(self) -> Address:
        return self._remote

    def _broken(self, action: str, exc: BaseException) -> TransportError:
        host, port = self._remote
        return TransportError(f"TCP {action} {host}:{port} failed: {_reason(exc)}")

    async def send_all(self, data: bytes) -> None:
        if self._closed:
            await trio.lowlevel.checkpoint()
            raise trio.ClosedResourceError("TCP connection is closed")
        try:
            await self._stream.send_all(data)
        except trio.BrokenResourceError as exc:
            raise self._broken("send to", exc) from exc

    async def receive_some(self, max_bytes: int) -> bytes:
        if self._closed:
            await trio.lowlevel.checkpoint()
            raise trio.ClosedResourceError("TCP connection is closed")
        if self._buffer is not None:
            return await self._receive_into(self._buffer, max_bytes)
        try:
            data = await self._stream.receive_some(max_bytes)
        except trio.BrokenResourceError as exc:
            raise self._broken("receive from", exc) from exc
        return data if isinstance(data, bytes) else bytes(data)

    async def _receive_into(self, buffer: bytearray, max_bytes: int) -> bytes:
        # The bytes are copied out of the shared buffer before this task yields, so another
        # connection's read cannot overwrite them; a readable socket is read before waiting,
        # as trio's own recv does, so a busy connection costs no poll registration.
        await trio.lowlevel.checkpoint_if_cancelled()
        view = memoryview(buffer)[: min(max_bytes, len(buffer))]
        sock = self._socket
        while True:
            if self._closed:
                raise trio.ClosedResourceError("TCP connection is closed")
            try:
                size = os.readv(sock.fileno(), [view])
                break
            except BlockingIOError:
                await trio.lowlevel.wait_readable(sock)
            except OSError as exc:
                if self._closed:
                    raise trio.ClosedResourceError("TCP connection is closed") from exc
                raise self._broken("receive from", exc) from exc
        data = bytes(view[:size])
        view.release()
        await trio.lowlevel.cancel_shielded_checkpoint()
        return data

    async def aclose(self) -> None:
        self._closed = True
        await self._stream.aclose()

    def reset(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ABORT)
        except OSError:
            pass  # already disconnected: a plain close is all that is left to do
        # trio's close wakes tasks waiting on the socket with ClosedResourceError.
        self._socket.close()


class TcpListener:
    """A listening TCP socket (SO_REUSEADDR, so a restarted run can rebind at once)."""

    def __init__(
        self, listener: trio.SocketListener, receive_buffer: bytearray | None = None
    ) -> None:
        self._listener = listener
        self._receive_buffer = receive_buffer
        self._local = _address(listener.socket.getsockname())

    @property
    def local_address(self) -> Address:
        return self._local

    async def accept(self) -> TcpConnection:
        while True:
            stream = await self._listener.accept()
            try:
                return TcpConnection(stream, stream, self._receive_buffer)
            except OSError:
                # Reset by the peer between the kernel's accept and ours: nothing to hand out.
                await stream.aclose()

    async def aclose(self) -> None:
        await self._listener.aclose()


def set_buffer_sizes(sock: trio.socket.SocketType, buffer_bytes: int | None) -> None:
    """SO_SNDBUF and SO_RCVBUF (``-buff_size``) before connect/listen, so the window scale
    is negotiated for it; accepted connections inherit the listener's. None: untouched."""
    if buffer_bytes is None:
        return
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, buffer_bytes)
        except OSError:
            pass  # the kernel caps it (net.core.wmem_max/rmem_max); not an error in SIPp either


async def open_tcp_listener(
    host: str,
    port: int,
    *,
    backlog: int = LISTEN_BACKLOG,
    device: str | None = None,
    buffer_bytes: int | None = None,
    receive_buffer: bytearray | None = None,
) -> TcpListener:
    """Listen on (host, port); port 0 takes an ephemeral port; ``device``: only on that
    network interface (``-bind_to_device``); ``buffer_bytes``: the sockets' buffer sizes.

    Raises:
        BindError: the address is in use or cannot be bound.
    """
    family = _family_for(host)
    sock = trio.socket.socket(family, socket.SOCK_STREAM)
    try:
        if device is not None:
            bind_to_device(sock, device)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        set_buffer_sizes(sock, buffer_bytes)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        await sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise BindError(f"cannot bind TCP {host}:{port}: {_reason(exc)}") from exc
    except BaseException:
        sock.close()
        raise
    return TcpListener(trio.SocketListener(sock), receive_buffer)


IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
"""Linux (4.2+): bind(addr, 0) leaves the port to connect(). The stdlib names it from 3.12."""


def _defer_port_choice(sock: trio.socket.SocketType) -> None:
    """Let connect() choose the ephemeral port of a socket bound to an address with port 0.

    bind(addr, 0) on a TCP socket picks a port that no other socket holds, TIME_WAIT ones
    included: with `-t tn` every call leaves one, and with thousands of them that search cost
    about 2 ms of CPU per bind here (docs/performance.md, "tn: the port search"). connect()
    chooses among ports by the whole 4-tuple instead, as it does for an unbound socket.
    Elsewhere (not Linux) the option is missing or refused and bind picks the port as before.
    """
    if not sys.platform.startswith("linux"):  # elsewhere 24 may name another option
        return
    try:
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    except OSError:
        pass


async def connect_tcp(
    remote: Address,
    *,
    local_host: str | None = None,
    local_port: int = 0,
    device: str | None = None,
    buffer_bytes: int | None = None,
    receive_buffer: bytearray | None = None,
) -> TcpConnection:
    """Connect to ``remote``, first binding to (local_host, local_port) when either is given,
    and to the network interface ``device`` when given (``-bind_to_device``); ``buffer_bytes``:
    the socket's buffer sizes.

    Raises:
        BindError: the local address is in use or cannot be bound.
        TransportError: the connection is refused or the remote is unreachable.
    """
    host, port = remote
    family = _family_for(host)
    sock = trio.socket.socket(family, socket.SOCK_STREAM)
    try:
        if device is not None:
            bind_to_device(sock, device)
        set_buffer_sizes(sock, buffer_bytes)
        if local_host is not None or local_port:
            if local_host is None:
                local_host = "::" if family == socket.AF_INET6 else "0.0.0.0"
            # SIPp binds the client connection to -i/-p; reusing the port right after an earlier
            # connection from it closed (TIME_WAIT) needs SO_REUSEADDR.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if not local_port:
                _defer_port_choice(sock)
            try:
                await sock.bind((local_host, local_port))
            except OSError as exc:
                raise BindError(
                    f"cannot bind TCP {local_host}:{local_port}: {_reason(exc)}"
                ) from exc
        try:
            await sock.connect((host, port))
        except OSError as exc:
            raise TransportError(f"cannot connect TCP to {host}:{port}: {_reason(exc)}") from exc
        stream = trio.SocketStream(sock)
        try:
            return TcpConnection(stream, stream, receive_buffer)
        except OSError as exc:
            raise TransportError(f"cannot connect TCP to {host}:{port}: {_reason(exc)}") from exc
    except BaseException:
        sock.close()
        raise
