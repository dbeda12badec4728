"""Real network transports (Trio + non-blocking stdlib sockets)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gossipper.transport.tcp import TcpConnection, TcpListener, connect_tcp, open_tcp_listener
from gossipper.transport.udp import UdpTransport, UdpTransportFactory, detect_local_ip, resolve_host

__all__ = [
    "TcpConnection",
    "TcpListener",
    "UdpTransport",
    "UdpTransportFactory",
    "connect_tcp",
    "detect_local_ip",
    "open_tcp_listener",
    "resolve_host",
]

if TYPE_CHECKING:
    # mypy --strict proves the real endpoints satisfy the seams of gossipper.interfaces.
    from gossipper.interfaces import StreamConnection, StreamListener, TransportFactory

    def _conforms(
        factory: UdpTransportFactory, connection: TcpConnection, listener: TcpListener
    ) -> tuple[TransportFactory, StreamConnection, StreamListener]:
        return factory, connection, listener
