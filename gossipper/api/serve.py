"""Serve the API with Hypercorn on the caller's Trio loop (``-api_addr``, ``gossipper server``).

The API binds loopback unless an address says otherwise: ``-api_addr 8080`` and
``-api_addr :8080`` listen on 127.0.0.1; ``0.0.0.0:8080`` or ``[::]:8080`` expose it.
"""

from __future__ import annotations

import logging
import os
import socket

import trio

from gossipper.api.seams import Authenticator, RunRegistry
from gossipper.errors import BindError, ConfigError

__all__ = ["DEFAULT_API_HOST", "parse_api_addr", "serve_api"]

DEFAULT_API_HOST = "127.0.0.1"


def parse_api_addr(text: str, option: str = "-api_addr") -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT``, ``:PORT`` or ``PORT`` -> (host, port); no host means
    loopback. Raises ConfigError naming the option."""
    value = text.strip()
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if not sep or not host:
            port_text = ""
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    elif ":" not in value:
        host, port_text = "", value
    else:
        host, port_text = "", ""
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(
            f"{option} must be HOST:PORT, [IPv6]:PORT or PORT (e.g. 127.0.0.1:8080), got {text!r}"
        )
    return host or DEFAULT_API_HOST, int(port_text)


def _listen(host: str, port: int, addr: str, backlog: int) -> socket.socket:
    """A listening, non-blocking TCP socket on (host, port); the socket is closed when the
    bind fails (Hypercorn's own binding leaks it)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        raise ConfigError(f"-api_addr {addr}: cannot resolve {host!r} ({exc})") from exc
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise BindError(f"-api_addr {addr}: cannot bind the API: {exc.strerror}") from exc
    return sock


def _quiet_logger() -> logging.Logger:
    # Hypercorn's "Running on ..." lines would interleave with the screens; warnings and
    # errors still reach stderr through logging's last-resort handler.
    logger = logging.getLogger("gossipper.api.http")
    logger.propagate = False
    return logger


async def serve_api(
    registry: RunRegistry,
    authenticator: Authenticator,
    *,
    addr: str,
    tool_version: str,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    metrics_public: bool = False,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the API until cancelled; ``nursery.start`` returns the bound URLs
    (``["http://127.0.0.1:8080"]``) once it accepts connections.

    Raises:
        ConfigError: a bad address or an unreadable certificate/key (exit 255).
        BindError: the address cannot be bound (exit 254).
    """
    from hypercorn.config import Config, Sockets
    from hypercorn.trio.run import worker_serve
    from hypercorn.utils import wrap_app

    from gossipper.api.app import create_app

    host, port = parse_api_addr(addr)
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("-api_tls_cert and -api_tls_key go together: give both or neither")
    config = Config()
    config.accesslog = None
    config.errorlog = _quiet_logger()
    # Hypercorn's graceful shutdown would wait for WebSocket clients; a run's end is final.
    config.graceful_timeout = 1.0
    if tls_cert is not None and tls_key is not None:
        for option, path in (("-api_tls_cert", tls_cert), ("-api_tls_key", tls_key)):
            if not os.access(path, os.R_OK):
                raise ConfigError(f"{option} {path}: cannot read it; give a PEM file")
        config.certfile = tls_cert
        config.keyfile = tls_key
        try:
            config.create_ssl_context()
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"-api_tls_cert {tls_cert}: cannot load the certificate and key ({exc}); "
                "give a PEM certificate and its key"
            ) from None
    app = create_app(
        registry, authenticator, tool_version=tool_version, metrics_public=metrics_public
    )
    listening = _listen(host, port, addr, config.backlog)
    with listening:
        sockets = Sockets(
            secure_sockets=[listening] if config.ssl_enabled else [],
            insecure_sockets=[] if config.ssl_enabled else [listening],
            quic_sockets=[],
        )
        await worker_serve(
            wrap_app(app, config.wsgi_max_body_size, None),
            config,
            sockets=sockets,
            task_status=task_status,
        )
