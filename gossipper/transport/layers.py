"""The channel layer a run's ``-t`` mode asks for: TCP, TLS, WS or WSS.

TLS and WebSocket modules are imported only here, when a run uses them, so a plain UDP run
never loads ``ssl`` contexts, ``cryptography`` or trio-websocket.
"""

from __future__ import annotations

from gossipper.config import RunConfig, is_stream_mode, transport_name_for
from gossipper.interfaces import ChannelLayer
from gossipper.transport.channels import PlainLayer


def channel_layer_for(
    config: RunConfig, *, is_server: bool, ephemeral_certificate: bool = False
) -> ChannelLayer | None:
    """The layer for ``config``'s -t mode (None for UDP modes).

    ``ephemeral_certificate``: a TLS server gets a freshly made self-signed certificate instead
    of reading -tls_cert/-tls_key (the simulation, the in-process -peer).

    Raises:
        ConfigError: a TLS certificate, key, CA or CRL file is missing or unusable (the message
            names the option and the file).
    """
    mode = config.transport.transport_mode
    if not is_stream_mode(mode):
        return None
    name = transport_name_for(mode)
    secure = name in ("TLS", "WSS")
    inner: ChannelLayer = PlainLayer()
    if secure:
        inner = _tls_layer(config, is_server=is_server, ephemeral_certificate=ephemeral_certificate)
    if name in ("WS", "WSS"):
        from gossipper.transport.websocket import WebSocketLayer

        return WebSocketLayer(inner, path=config.transport.ws_path)
    return inner


def _tls_layer(config: RunConfig, *, is_server: bool, ephemeral_certificate: bool) -> ChannelLayer:
    from gossipper.transport.tls import TlsLayer, build_tls_contexts, ephemeral_server_context

    if ephemeral_certificate:
        # The simulation and the in-process -peer read no files: a throwaway certificate, and
        # a client that accepts any.
        client, _ = build_tls_contexts(config.transport, server=False, client=True, environ={})
        assert client is not None
        return TlsLayer(client, ephemeral_server_context() if is_server else None)
    client, server = build_tls_contexts(config.transport, server=is_server, client=not is_server)
    if client is None:
        client, _ = build_tls_contexts(config.transport, server=False, client=True)
    assert client is not None
    return TlsLayer(client, server)
