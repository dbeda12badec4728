"""Real UDP sockets for the engine (implements ``gossipper.interfaces.DatagramTransport``).

Hot-path facts (design.md "The hot path"): a trio ``sendto`` costs ~25 us against ~3 us for the
non-blocking stdlib call, and one ``await`` per received datagram caps a loop at ~15,000 messages/s.
So sends go straight to the non-blocking socket (waiting only when the kernel buffer is full),
and receives wait for readability once and then drain the socket in a batch.
"""

from __future__ import annotations

import errno
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Final

import trio

from gossipper.errors import BindError, SendBufferError, TransportError
from gossipper.interfaces import Address, Datagram, TimedDatagram
from gossipper.transport.tcp import (
    TcpConnection,
    TcpListener,
    bind_to_device,
    connect_tcp,
    open_tcp_listener,
)

RECEIVE_BATCH_MAX = 256
"""Datagrams taken per wake-up; bounds the work done between two checkpoints."""

SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
"""Requested SO_RCVBUF/SO_SNDBUF; the kernel caps it at net.core.[rw]mem_max."""

_MAX_DATAGRAM = 65536

# Kernel receive timestamps (socket(7)): with SO_TIMESTAMPNS on, each datagram carries a
# struct timespec of CLOCK_REALTIME taken when the packet reached the socket layer, the moment
# a packet capture sees it too. Python names no constant for it; 35 is Linux's value on every
# architecture (asm-generic/socket.h), and the control message type is the option's number.
_SO_TIMESTAMPNS: int | None = getattr(
    socket, "SO_TIMESTAMPNS", 35 if sys.platform.startswith("linux") else None
)
_TIMESPEC = struct.Struct("@ll")
_ANCILLARY_BYTES = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0


# How full the receive buffer is (socket(7), SO_MEMINFO, Linux 3.14+): an array of u32 whose
# first two are the bytes the kernel holds for the socket (each datagram at its truesize, about
# 1.3 KB for a 600-byte INVITE on loopback) and the buffer's limit, past which it drops.
_SO_MEMINFO: int | None = getattr(
    socket, "SO_MEMINFO", 55 if sys.platform.startswith("linux") else None
)
_MEMINFO = struct.Struct("=II")
_MEMINFO_BYTES = 9 * 4  # SK_MEMINFO_VARS in Linux 4.x-6.x; the kernel copies at most this


_RecvBatch = Callable[[int, int], list[Datagram]]
_SendTo = Callable[[int, int, bytes, Address], bool | None]


def _load_recv_batch() -> _RecvBatch | None:
    try:
        from gossipper.transport._udpfast import recv_batch
    except ImportError:  # a pure-Python install: the socket methods below do it all
        return None
    return recv_batch


def _load_send_to() -> _SendTo | None:
    try:
        from gossipper.transport._udpfast import send_to
    except ImportError:
        return None
    return send_to


_C_RECV_BATCH: Final = _load_recv_batch()
_C_SEND_TO: Final = _load_send_to()
"""The C accelerator (gossipper/transport/_udpfast.c): ``recv_batch`` drains the socket with
recvmmsg, sharing source tuples, and ends on an empty socket without an exception;
``send_to`` sends to a numeric address converted once per destination, and answers None for
anything else (host names, scope ids), which then goes through ``socket.sendto``. The socket
methods stay the reference (tests/transport/test_udpfast.py)."""


_BUFFER_ERRNOS = (errno.ENOBUFS, errno.ENOMEM)
"""Send errors that mean "no buffer space now" (a full interface queue), not a bad peer."""


def send_error(exc: OSError, address: Address) -> TransportError:
    """The transport error of a failed non-blocking send (EAGAIN never gets here: it waits)."""
    text = f"UDP send to {address[0]}:{address[1]} failed: {exc}"
    if exc.errno in _BUFFER_ERRNOS:
        return SendBufferError(text)
    return TransportError(text)


def sendto_nowait(sock: socket.socket, data: bytes, address: Address, *, closed: bool) -> bool:
    """One non-blocking ``sendto``: False when the send buffer is full (nothing sent).

    Raises:
        TransportError: the datagram cannot be sent (``send_error``).
        trio.ClosedResourceError: the socket was closed by its owner (``closed``): misuse
            after close is not a network failure, as in the simulation.
    """
    try:
        sock.sendto(data, address)
    except BlockingIOError:
        return False
    except OSError as exc:
        if closed:
            raise trio.ClosedResourceError("UDP socket closed") from None
        raise send_error(exc, address) from exc
    return True


def _family_for(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class UdpTransport:
    """One bound, non-blocking UDP socket."""

    transport_name = "UDP"

    def __init__(self, sock: socket.socket, receive_buffer: bytearray | None = None) -> None:
        self._sock = sock
        name = sock.getsockname()
        self._local: Address = (str(name[0]), int(name[1]))
        self._closed = False
        # Datagrams land in a reusable buffer and are copied out at their size. ``recvfrom(65536)``
        # instead mallocs 64 KB per datagram and shrinks it with realloc: the freed tails get
        # filled by longer-lived objects, which fragments the C heap so that RSS creeps up over
        # a long run (docs/performance.md, "Robustness"). The transports of one factory share
        # one buffer (receive_nowait copies out before returning; one Trio thread), so -t un
        # with thousands of sockets does not hold 64 KB each.
        if receive_buffer is None:
            receive_buffer = bytearray(_MAX_DATAGRAM)
        self._buffer = receive_buffer
        # For the C accelerator: the descriptor stays valid until close(), after which the
        # socket methods run (and raise ClosedResourceError) so a reused number is never hit.
        self._fd = sock.fileno()
        self._family = int(sock.family)
        self._timestamps: bool | None = None  # None: not asked yet; False: not available
        self._meminfo_option = _SO_MEMINFO  # None once the kernel refused it

    @property
    def local_address(self) -> Address:
        return self._local

    @property
    def fast_socket(self) -> socket.socket:
        """The socket itself, for the media scheduler's C accelerator to send RTP on directly
        (gossipper.media.scheduler); ``send_nowait`` is the only other writer."""
        return self._sock

    def send_nowait(self, data: bytes, address: Address) -> bool:
        # sendto_nowait inlined: the media scheduler calls this once per RTP packet, and a
        # Python call level is a fair share of a packet's cost (docs/performance.md).
        try:
            if _C_SEND_TO is not None and not self._closed:
                sent = _C_SEND_TO(self._fd, self._family, data, address)
                if sent is not None:
                    return sent
            self._sock.sendto(data, address)
        except BlockingIOError:
            return False
        except OSError as exc:
            if self._closed:
                raise trio.ClosedResourceError("UDP socket closed") from None
            raise send_error(exc, address) from exc
        return True

    async def send(self, data: bytes, address: Address) -> None:
        while not self.send_nowait(data, address):
            await trio.lowlevel.wait_writable(self._sock)

    async def receive_batch(self) -> list[Datagram]:
        sock = self._sock
        if self._closed:
            await trio.lowlevel.checkpoint()
            raise trio.ClosedResourceError("UDP socket closed")
        while True:
            await trio.lowlevel.wait_readable(sock)
            batch = self.receive_nowait()
            if batch:
                return batch

    def receive_nowait(self) -> list[Datagram]:
        if _C_RECV_BATCH is not None and not self._closed:
            try:
                return _C_RECV_BATCH(self._fd, RECEIVE_BATCH_MAX)
            except OSError:
                if self._closed:
                    raise trio.ClosedResourceError("UDP socket closed") from None
                raise
        sock = self._sock
        buffer = self._buffer
        batch: list[Datagram] = []
        try:
            while len(batch) < RECEIVE_BATCH_MAX:
                size, addr = sock.recvfrom_into(buffer)
                # bytes(bytearray slice) is ~3x cheaper than a memoryview slice's tobytes().
                data = bytes(buffer[:size])
                # IPv6 gives (host, port, flowinfo, scope_id): keep host and port.
                batch.append((data, addr if len(addr) == 2 else (addr[0], addr[1])))
        except BlockingIOError:
            pass
        except ConnectionRefusedError:
            # An ICMP port-unreachable from an earlier send: nothing to deliver.
            pass
        except OSError:
            if self._closed:
                raise trio.ClosedResourceError("UDP socket closed") from None
            raise
        return batch

    def fileno(self) -> int:
        """``interfaces.ReadableDescriptor``: the socket's descriptor."""
        return self._fd

    def receive_backlog(self) -> float:
        """``interfaces.ReceiveBacklog``: the share of the receive buffer held by datagrams
        not read yet (SO_MEMINFO); -1.0 where the kernel cannot tell."""
        option = self._meminfo_option
        if option is None:
            return -1.0
        try:
            info = self._sock.getsockopt(socket.SOL_SOCKET, option, _MEMINFO_BYTES)
        except OSError:
            info = b""
        if len(info) < _MEMINFO.size:
            self._meminfo_option = None
            return -1.0
        held_bytes, limit_bytes = _MEMINFO.unpack_from(info)
        return held_bytes / limit_bytes if limit_bytes > 0 else -1.0

    async def receive_batch_timed(self) -> list[TimedDatagram]:
        sock = self._sock
        if self._closed:
            await trio.lowlevel.checkpoint()
            raise trio.ClosedResourceError("UDP socket closed")
        if self._timestamps is None:
            self._timestamps = _enable_timestamps(sock)
        if not self._timestamps:
            batch = await self.receive_batch()
            now = trio.current_time()
            return [(data, source, now) for data, source in batch]
        while True:
            await trio.lowlevel.wait_readable(sock)
            timed = self._receive_timed_nowait()
            if timed:
                return timed

    def _receive_timed_nowait(self) -> list[TimedDatagram]:
        """Drain like ``receive_nowait``, keeping each datagram's kernel timestamp; the stamps
        are moved onto the run's clock with one reading of both clocks after the drain (so
        every stamp is in the past of that reading)."""
        sock = self._sock
        buffer = self._buffer
        received: list[tuple[bytes, Address, int]] = []
        try:
            while len(received) < RECEIVE_BATCH_MAX:
                size, ancillary, _flags, addr = sock.recvmsg_into([buffer], _ANCILLARY_BYTES)
                stamp_ns = 0
                for _level, _kind, cdata in ancillary:
                    # The only control message asked for: SCM_TIMESTAMPNS.
                    if len(cdata) >= _TIMESPEC.size:
                        seconds, nanoseconds = _TIMESPEC.unpack_from(cdata)
                        stamp_ns = seconds * 1_000_000_000 + nanoseconds
                received.append(
                    (bytes(buffer[:size]), addr if len(addr) == 2 else (addr[0], addr[1]), stamp_ns)
                )
        except BlockingIOError:
            pass
        except ConnectionRefusedError:
            pass  # an ICMP port-unreachable from an earlier send: nothing to deliver
        except OSError:
            if self._closed:
                raise trio.ClosedResourceError("UDP socket closed") from None
            raise
        now = trio.current_time()
        wall_ns = time.time_ns()
        timed: list[TimedDatagram] = []
        for data, source, stamp_ns in received:
            age_ns = wall_ns - stamp_ns if stamp_ns else 0
            # A wall clock stepped back would make the age negative: never in the future.
            timed.append((data, source, now - age_ns / 1e9 if age_ns > 0 else now))
        return timed

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            trio.lowlevel.notify_closing(self._sock)
            self._sock.close()


def _enable_timestamps(sock: socket.socket) -> bool:
    """Ask the kernel for per-datagram receive timestamps; False where it cannot give them."""
    if _SO_TIMESTAMPNS is None or not _ANCILLARY_BYTES:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


class UdpTransportFactory:
    """Opens real sockets: UDP datagrams and TCP streams (implements
    ``interfaces.TransportFactory``; the stream endpoints live in ``transport.tcp``)."""

    def __init__(
        self,
        *,
        buffer_bytes: int = SOCKET_BUFFER_BYTES,
        stream_buffer_bytes: int | None = None,
        device: str | None = None,
    ) -> None:
        """``device`` (``-bind_to_device``): every socket opened here, datagram or stream,
        listener or connection, is bound to that network interface. ``stream_buffer_bytes``
        (``-buff_size`` when given): SO_SNDBUF/SO_RCVBUF of TCP sockets; None keeps the
        kernel's autotuning, which a fixed size turns off."""
        self._buffer_bytes = buffer_bytes
        self._stream_buffer_bytes = stream_buffer_bytes
        self._device = device
        self._receive_buffer = bytearray(_MAX_DATAGRAM)
        # The TCP connections' reads share another one (see ``TcpConnection``).
        self._stream_receive_buffer = bytearray(_MAX_DATAGRAM)

    async def open_datagram(
        self, host: str, port: int, *, buffer_bytes: int | None = None
    ) -> UdpTransport:
        await trio.lowlevel.checkpoint()
        size_bytes = self._buffer_bytes if buffer_bytes is None else buffer_bytes
        family = _family_for(host)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        if self._device is not None:
            try:
                bind_to_device(sock, self._device)
            except BindError:
                sock.close()
                raise
        try:
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, size_bytes)
                except OSError:
                    pass
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            # The system's words without "[Errno N]" (callers may quote them after their own).
            raise BindError(f"cannot bind UDP {host}:{port}: {exc.strerror or exc}") from exc
        sock.setblocking(False)
        return UdpTransport(sock, self._receive_buffer)

    async def open_stream_listener(self, host: str, port: int) -> TcpListener:
        """Listen for TCP connections on (host, port); see ``transport.tcp``."""
        return await open_tcp_listener(
            host,
            port,
            device=self._device,
            buffer_bytes=self._stream_buffer_bytes,
            receive_buffer=self._stream_receive_buffer,
        )

    async def connect_stream(
        self, remote: Address, *, local_host: str | None = None, local_port: int = 0
    ) -> TcpConnection:
        """Connect over TCP, bound to (local_host, local_port) when given; see ``transport.tcp``."""
        return await connect_tcp(
            remote,
            local_host=local_host,
            local_port=local_port,
            device=self._device,
            buffer_bytes=self._stream_buffer_bytes,
            receive_buffer=self._stream_receive_buffer,
        )


def check_device(device: str) -> None:
    """Fail before any traffic when ``-bind_to_device`` cannot work: a socket is bound to the
    interface and closed (raises ``BindError``, exit status 254)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        bind_to_device(probe, device)
    finally:
        probe.close()


def detect_local_ip(remote_host: str | None, *, ipv6: bool = False) -> str:
    """The address SIPp would put in ``[local_ip]`` when ``-i`` is not given.

    A connected UDP socket asks the kernel for the route's source address (no packet is sent);
    without a remote host, the host name is resolved (SIPp's server-mode rule).
    """
    if remote_host:
        family = _family_for(remote_host)
        probe = socket.socket(family, socket.SOCK_DGRAM)
        try:
            probe.connect((remote_host, 9))
            return str(probe.getsockname()[0])
        except OSError:
            pass
        finally:
            probe.close()
    try:
        infos = socket.getaddrinfo(
            socket.gethostname(), None, socket.AF_INET6 if ipv6 else socket.AF_INET
        )
        return str(infos[0][4][0])
    except OSError:
        return "::1" if ipv6 else "127.0.0.1"


def resolve_host(host: str) -> str:
    """Numeric address for a host name (SIPp resolves the remote host once at start-up)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise TransportError(f"cannot resolve remote host '{host}': {exc}") from exc
    return str(infos[0][4][0])
