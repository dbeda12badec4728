"""Real network transports (Trio + non-blocking stdlib sockets)."""

from __future__ import annotations

from gossipper.transport.udp import UdpTransport, UdpTransportFactory, detect_local_ip, resolve_host

__all__ = ["UdpTransport", "UdpTransportFactory", "detect_local_ip", "resolve_host"]
