"""Channel layers over stream connections: plain TCP here; TLS in ``transport.tls``, WebSocket
in ``transport.websocket`` (imported only when a run uses them).

A layer turns an established ``StreamConnection`` (real TCP or the simulation's stream) into a
``MessageChannel`` (see ``gossipper.interfaces``), so the same layers serve real runs and
``gossipper sim``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from gossipper.interfaces import Address, StreamConnection

RECEIVE_SIZE_BYTES = 65536
"""Bytes asked for per read of a byte stream (SIPp's largest message)."""


class PlainChannel:
    """A TCP connection as a channel: bytes in, bytes out, framed by the caller."""

    __slots__ = ("_connection",)

    transport_name = "TCP"
    message_oriented = False

    def __init__(self, connection: StreamConnection) -> None:
        self._connection = connection

    @property
    def local_address(self) -> Address:
        return self._connection.local_address

    @property
    def remote_address(self) -> Address:
        return self._connection.remote_address

    async def send(self, data: bytes) -> None:
        await self._connection.send_all(data)

    async def receive(self) -> bytes:
        return await self._connection.receive_some(RECEIVE_SIZE_BYTES)

    async def aclose(self) -> None:
        await self._connection.aclose()

    def reset(self) -> None:
        self._connection.reset()


class PlainLayer:
    """SIP straight over TCP (``-t t1``/``tn``)."""

    transport_name = "TCP"

    @contextlib.asynccontextmanager
    async def client(
        self, connection: StreamConnection, *, server_name: str | None
    ) -> AsyncIterator[PlainChannel]:
        channel = PlainChannel(connection)
        try:
            yield channel
        finally:
            await channel.aclose()

    @contextlib.asynccontextmanager
    async def server(self, connection: StreamConnection) -> AsyncIterator[PlainChannel]:
        channel = PlainChannel(connection)
        try:
            yield channel
        finally:
            await channel.aclose()
