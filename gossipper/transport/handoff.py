"""The UDP server side of ``-workers``: one receiver steers each Call-ID to one worker.

All messages of a call must reach the worker that runs it. The kernel cannot do that by
itself: SO_REUSEPORT spreads datagrams by the 4-tuple (one SIPp client sending all its calls
from one port would land on one worker), and a classic BPF steering program cannot find a
header at a variable offset. So the parent of the workers owns the one UDP socket on the SIP
port and reads every datagram; :func:`steer` picks a worker from a hash of the Call-ID, and
the datagram crosses to that worker over a Unix datagram socketpair with its source address
in front (:func:`pack`). Workers send their replies directly from the same UDP socket (each
inherits its descriptor and never reads it), so replies leave from the SIP port as the
peer expects, and the hand-off costs only the receive direction.

``HandoffUdpTransport`` is the worker's end: it sends on the shared socket and receives the
handed-off datagrams (implements ``interfaces.DatagramTransport``).
"""

from __future__ import annotations

import re
import socket
import struct
import zlib

import trio

from gossipper.interfaces import (
    Address,
    Datagram,
    DatagramTransport,
    StreamConnection,
    StreamListener,
    TimedDatagram,
)
from gossipper.transport.udp import RECEIVE_BATCH_MAX, UdpTransportFactory, sendto_nowait

__all__ = [
    "HandoffCounts",
    "HandoffUdpTransport",
    "HandoffUdpTransportFactory",
    "call_id_of",
    "dispatch",
    "open_handoff_pairs",
    "pack",
    "steer",
    "unpack",
]

_MAX_DATAGRAM = 65536 + 512
_PORT = struct.Struct("!HB")
_CALL_ID = re.compile(rb"\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)


def call_id_of(data: bytes) -> bytes | None:
    """The Call-ID header value of a SIP message (long or compact form), or None."""
    # Only the header part: a body may hold anything.
    end = data.find(b"\r\n\r\n")
    match = _CALL_ID.search(data, 0, end if end >= 0 else len(data))
    return match.group(1).strip() if match else None


def steer(data: bytes, workers: int) -> int:
    """The worker (0..workers-1) that owns this message's call: a CRC-32 of its Call-ID (the
    same on every message of the call). A message without one goes to worker 0, whose engine
    counts it as malformed like any other."""
    call_id = call_id_of(data)
    if call_id is None:
        return 0
    return zlib.crc32(call_id) % workers


def pack(data: bytes, source: Address) -> bytes:
    """A received datagram with its source address in front, for the worker."""
    host = source[0].encode("ascii")
    return _PORT.pack(source[1], len(host)) + host + data


def unpack(frame: bytes) -> Datagram:
    port, length = _PORT.unpack_from(frame)
    start = _PORT.size
    host = frame[start : start + length].decode("ascii")
    return frame[start + length :], (host, port)


class HandoffUdpTransport:
    """A worker's SIP socket: sends on the shared UDP socket, receives what the parent
    hands off to it."""

    transport_name = "UDP"

    def __init__(self, send_sock: socket.socket, receive_sock: socket.socket) -> None:
        self._send = send_sock
        self._receive = receive_sock
        send_sock.setblocking(False)
        receive_sock.setblocking(False)
        name = send_sock.getsockname()
        self._local: Address = (str(name[0]), int(name[1]))
        self._closed = False

    @property
    def local_address(self) -> Address:
        return self._local

    def send_nowait(self, data: bytes, address: Address) -> bool:
        return sendto_nowait(self._send, data, address, closed=self._closed)

    async def send(self, data: bytes, address: Address) -> None:
        while not self.send_nowait(data, address):
            await trio.lowlevel.wait_writable(self._send)

    async def receive_batch(self) -> list[Datagram]:
        if self._closed:
            await trio.lowlevel.checkpoint()
            raise trio.ClosedResourceError("UDP socket closed")
        while True:
            await trio.lowlevel.wait_readable(self._receive)
            batch = self.receive_nowait()
            if batch:
                return batch

    async def receive_batch_timed(self) -> list[TimedDatagram]:
        # Only the SIP socket is handed off, and SIP needs no per-datagram time.
        batch = await self.receive_batch()
        now = trio.current_time()
        return [(data, source, now) for data, source in batch]

    def receive_nowait(self) -> list[Datagram]:
        batch: list[Datagram] = []
        receive = self._receive
        try:
            while len(batch) < RECEIVE_BATCH_MAX:
                batch.append(unpack(receive.recv(_MAX_DATAGRAM)))
        except BlockingIOError:
            pass
        except OSError:
            if self._closed:
                raise trio.ClosedResourceError("UDP socket closed") from None
            raise
        return batch

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            trio.lowlevel.notify_closing(self._receive)
            self._receive.close()
            # The shared socket is the parent's: this process only drops its descriptor.
            self._send.close()


class HandoffUdpTransportFactory:
    """A real-socket factory whose SIP socket (the first datagram endpoint opened) is the
    hand-off pair; everything else is opened by ``inner`` as usual (implements
    ``interfaces.TransportFactory``)."""

    def __init__(self, inner: UdpTransportFactory, send_fd: int, receive_fd: int) -> None:
        self._inner = inner
        self._pair: tuple[int, int] | None = (send_fd, receive_fd)

    async def open_datagram(
        self, host: str, port: int, *, buffer_bytes: int | None = None
    ) -> DatagramTransport:
        pair = self._pair
        if pair is None:
            return await self._inner.open_datagram(host, port, buffer_bytes=buffer_bytes)
        self._pair = None
        await trio.lowlevel.checkpoint()
        send_sock = socket.socket(fileno=pair[0])
        receive_sock = socket.socket(fileno=pair[1])
        return HandoffUdpTransport(send_sock, receive_sock)

    async def open_stream_listener(self, host: str, port: int) -> StreamListener:
        return await self._inner.open_stream_listener(host, port)

    async def connect_stream(
        self, remote: Address, *, local_host: str | None = None, local_port: int = 0
    ) -> StreamConnection:
        return await self._inner.connect_stream(
            remote, local_host=local_host, local_port=local_port
        )


class HandoffCounts:
    """What the receiver did: datagrams handed off, and dropped because a worker's queue
    was full or the worker was gone (as the kernel drops UDP on a full socket buffer)."""

    def __init__(self, workers: int) -> None:
        self.handed_off = [0] * workers
        self.dropped = 0


def open_handoff_pairs(count: int, buffer_bytes: int) -> list[tuple[socket.socket, socket.socket]]:
    """One (parent end, worker end) pair per worker. SOCK_SEQPACKET keeps datagram
    boundaries without the short queue-length limit of Unix datagram sockets
    (net.unix.max_dgram_qlen): the limit is the buffer size, as for UDP."""
    pairs = []
    for _ in range(count):
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for end, option in ((parent, socket.SO_SNDBUF), (child, socket.SO_RCVBUF)):
            try:
                end.setsockopt(socket.SOL_SOCKET, option, buffer_bytes)
            except OSError:
                pass
        parent.setblocking(False)
        pairs.append((parent, child))
    return pairs


async def dispatch(
    sock: socket.socket, outputs: list[socket.socket], counts: HandoffCounts
) -> None:
    """Read every datagram of the shared SIP socket and hand it to its call's worker, until
    cancelled. Drains the socket in batches (one wake-up per batch, as the UDP transport)."""
    sock.setblocking(False)
    buffer = bytearray(65536)
    workers = len(outputs)
    handed_off = counts.handed_off
    while True:
        await trio.lowlevel.wait_readable(sock)
        for _ in range(RECEIVE_BATCH_MAX):
            try:
                size, addr = sock.recvfrom_into(buffer)
            except BlockingIOError:
                break
            except ConnectionRefusedError:
                continue
            data = bytes(buffer[:size])
            index = steer(data, workers)
            try:
                outputs[index].send(pack(data, (addr[0], addr[1])))
            except OSError:
                counts.dropped += 1
            else:
                handed_off[index] += 1
        await trio.lowlevel.checkpoint()
