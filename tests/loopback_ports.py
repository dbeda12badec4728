"""UDP ports on 127.0.0.1 for tests that start gossipper as a separate process."""

from __future__ import annotations

import socket


def free_udp_port() -> int:
    """A port free now (another process may still take it before the test's run binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def udp_port_taken(port: int) -> bool:
    """Whether some socket holds the port (a run has bound its control socket, say)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False
