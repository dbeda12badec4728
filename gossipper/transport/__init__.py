"""Real network transports (Trio + non-blocking stdlib sockets)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gossipper.transport.channels import PlainChannel, PlainLayer
from gossipper.transport.tcp import TcpConnection, TcpListener, connect_tcp, open_tcp_listener
from gossipper.transport.udp import (
    UdpTransport,
    UdpTransportFactory,
    check_device,
    detect_local_ip,
    resolve_host,
)

__all__ = [
    "PlainChannel",
    "PlainLayer",
    "TcpConnection",
    "TcpListener",
    "UdpTransport",
    "UdpTransportFactory",
    "check_device",
    "connect_tcp",
    "detect_local_ip",
    "open_tcp_listener",
    "resolve_host",
]

if TYPE_CHECKING:
    # mypy --strict proves the real endpoints satisfy the seams of gossipper.interfaces.
    from gossipper.interfaces import (
        ChannelLayer,
        MessageChannel,
        StreamConnection,
        StreamListener,
        TransportFactory,
    )

    def _conforms(
        factory: UdpTransportFactory,
        connection: TcpConnection,
        listener: TcpListener,
        layer: PlainLayer,
        channel: PlainChannel,
    ) -> tuple[TransportFactory, StreamConnection, StreamListener, ChannelLayer, MessageChannel]:
        return factory, connection, listener, layer, channel
