"""TLS channels (``gossipper.transport.tls``) over real loopback TCP and over the simulation's
streams, with certificates from a throw-away ``trustme`` CA."""

from __future__ import annotations

import datetime
import os
import pathlib
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
import trio
import trio.testing
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from gossipper.config import TransportSettings
from gossipper.errors import ConfigError, TransportError
from gossipper.interfaces import StreamConnection
from gossipper.sim import FaultPlan, SimTransportFactory, open_sim_network, run_under_virtual_time
from gossipper.transport.tcp import connect_tcp, open_tcp_listener
from gossipper.transport.tls import (
    CLOSE_NOTIFY_WAIT_S,
    TlsChannel,
    TlsLayer,
    build_tls_contexts,
    ephemeral_server_context,
)

REAL_DEADLINE_S = 10.0
"""Every loopback test stops by itself within this (a handshake takes milliseconds)."""
SIM_DEADLINE_S = 60.0
"""Virtual seconds for the simulated test."""

INVITE = b"INVITE sip:bob@example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n"
OK = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
NO_ENV: dict[str, str] = {}


@dataclass(frozen=True)
class Pki:
    """PEM files of one test CA: a server certificate for localhost/127.0.0.1, a client
    certificate, another client certificate that the CRL revokes, and an unrelated CA."""

    ca: str
    other_ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    revoked_cert: str
    revoked_key: str
    crl: str


def _write_crl(ca: trustme.CA, revoked: trustme.LeafCert, path: pathlib.Path) -> None:
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    revoked_cert = x509.load_pem_x509_certificate(revoked.cert_chain_pems[0].bytes())
    now = datetime.datetime.now(datetime.UTC)
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(revoked_cert.serial_number)
        .revocation_date(now - datetime.timedelta(minutes=1))
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - datetime.timedelta(minutes=1))
        .next_update(now + datetime.timedelta(days=1))
        .add_revoked_certificate(entry)
        .sign(ca_key, hashes.SHA256())
    )
    path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    other = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    client = ca.issue_cert("alice.example.com")
    revoked = ca.issue_cert("mallory.example.com")

    def write(blob: trustme.Blob, name: str) -> str:
        path = directory / name
        blob.write_to_path(str(path))
        return str(path)

    _write_crl(ca, revoked, directory / "crl.pem")
    return Pki(
        ca=write(ca.cert_pem, "ca.pem"),
        other_ca=write(other.cert_pem, "other-ca.pem"),
        server_cert=write(server.cert_chain_pems[0], "server.pem"),
        server_key=write(server.private_key_pem, "server-key.pem"),
        client_cert=write(client.cert_chain_pems[0], "client.pem"),
        client_key=write(client.private_key_pem, "client-key.pem"),
        revoked_cert=write(revoked.cert_chain_pems[0], "revoked.pem"),
        revoked_key=write(revoked.private_key_pem, "revoked-key.pem"),
        crl=str(directory / "crl.pem"),
    )


@pytest.fixture(autouse=True)
def _no_default_files(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SIPp's defaults (cacert.pem, cakey.pem) are relative to the current directory: run in an
    # empty one so a stray file never turns into a client certificate.
    monkeypatch.chdir(tmp_path)


def _server_layer(pki: Pki, environ: dict[str, str] = NO_ENV, **options: object) -> TlsLayer:
    settings = TransportSettings(tls_cert=pki.server_cert, tls_key=pki.server_key, **options)
    _, server_context = build_tls_contexts(settings, server=True, client=False, environ=environ)
    assert server_context is not None
    return TlsLayer(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), server_context)


def _client_layer(environ: dict[str, str] = NO_ENV, **options: object) -> TlsLayer:
    settings = TransportSettings(**options)
    client_context, _ = build_tls_contexts(settings, server=False, client=True, environ=environ)
    assert client_context is not None
    return TlsLayer(client_context, None)


ChannelBody = Callable[[TlsChannel], Awaitable[None]]


async def _read_exactly(channel: TlsChannel, size: int) -> bytes:
    received = bytearray()
    while len(received) < size:
        data = await channel.receive()
        assert data, f"EOF after {len(received)} of {size} bytes"
        received += data
    return bytes(received)


async def _client_sends_invite(channel: TlsChannel) -> None:
    await channel.send(INVITE)
    assert await _read_exactly(channel, len(OK)) == OK


async def _server_answers_ok(channel: TlsChannel) -> None:
    assert await _read_exactly(channel, len(INVITE)) == INVITE
    await channel.send(OK)


@dataclass
class Outcome:
    client_error: TransportError | None = None
    server_error: TransportError | None = None
    client_version: str | None = None
    server_version: str | None = None


def _run_pair(
    client_layer: TlsLayer,
    server_layer: TlsLayer,
    *,
    server_name: str | None = "localhost",
    client_body: ChannelBody = _client_sends_invite,
    server_body: ChannelBody = _server_answers_ok,
) -> Outcome:
    """A loopback TCP connection with ``client_layer`` on one end and ``server_layer`` on the
    other; each side's ``TransportError`` (handshake or body) is caught and returned."""
    outcome = Outcome()

    async def serve(listener_accept: Callable[[], Awaitable[StreamConnection]]) -> None:
        connection = await listener_accept()
        try:
            async with server_layer.server(connection) as channel:
                outcome.server_version = channel.tls_version
                await server_body(channel)
        except TransportError as exc:
            outcome.server_error = exc

    async def main() -> None:
        with trio.fail_after(REAL_DEADLINE_S):
            listener = await open_tcp_listener("127.0.0.1", 0)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(serve, listener.accept)
                connection = await connect_tcp(listener.local_address)
                try:
                    async with client_layer.client(connection, server_name=server_name) as channel:
                        outcome.client_version = channel.tls_version
                        await client_body(channel)
                except TransportError as exc:
                    outcome.client_error = exc
            await listener.aclose()

    trio.run(main)
    return outcome


def _succeeded(outcome: Outcome) -> None:
    assert outcome.client_error is None, outcome.client_error
    assert outcome.server_error is None, outcome.server_error


# --------------------------------------------------------------------------------------------
# Carrying SIP


def test_sip_bytes_flow_both_ways_and_close_is_graceful(pki: Pki) -> None:
    async def server_body(channel: TlsChannel) -> None:
        await _server_answers_ok(channel)
        assert channel.transport_name == "TLS"
        assert channel.message_oriented is False
        assert channel.local_address[0] == "127.0.0.1"
        # The client's graceful close (close_notify, then FIN) reads as EOF, for good.
        assert await channel.receive() == b""
        assert await channel.receive() == b""

    outcome = _run_pair(_client_layer(), _server_layer(pki), server_body=server_body)
    _succeeded(outcome)
    assert outcome.client_version == outcome.server_version == "TLSv1.3"


def test_default_client_accepts_an_untrusted_self_signed_server() -> None:
    server_layer = TlsLayer(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), ephemeral_server_context())
    _succeeded(_run_pair(_client_layer(), server_layer, server_name="sip.example.com"))


def test_sni_is_the_clients_server_name_and_none_is_sent_for_an_ip(pki: Pki) -> None:
    for server_name, expected in (
        ("localhost", "localhost"),
        ("localhost.", "localhost"),
        ("127.0.0.1", None),
        (None, None),
    ):
        seen: list[str | None] = []
        server_layer = _server_layer(pki)
        context = server_layer._server_context
        assert context is not None
        context.sni_callback = lambda _obj, name, _ctx, seen=seen: seen.append(name)
        _succeeded(_run_pair(_client_layer(), server_layer, server_name=server_name))
        assert seen == [expected], server_name


def test_sslkeylogfile_writes_the_session_secrets(pki: Pki, tmp_path: pathlib.Path) -> None:
    keylog = tmp_path / "keys.log"
    environ = {"SSLKEYLOGFILE": str(keylog)}
    _succeeded(_run_pair(_client_layer(environ), _server_layer(pki, environ)))
    text = keylog.read_text()
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in text or "CLIENT_RANDOM" in text


# --------------------------------------------------------------------------------------------
# Verification


def test_verify_with_the_wrong_ca_fails_naming_the_reason(pki: Pki) -> None:
    outcome = _run_pair(_client_layer(tls_verify=True, tls_ca=pki.other_ca), _server_layer(pki))
    error = outcome.client_error
    assert error is not None
    message = str(error)
    assert message.startswith("TLS handshake with 127.0.0.1:")
    assert "certificate verify failed" in message
    assert "\n" not in message and "_ssl.c" not in message
    assert outcome.server_error is not None


def test_verify_refuses_a_host_name_mismatch(pki: Pki) -> None:
    outcome = _run_pair(
        _client_layer(tls_verify=True, tls_ca=pki.ca), _server_layer(pki), server_name="bob.test"
    )
    assert outcome.client_error is not None
    assert "certificate verify failed" in str(outcome.client_error)


def test_verify_with_the_right_ca_and_name_succeeds(pki: Pki) -> None:
    client_layer = _client_layer(tls_verify=True, tls_ca=pki.ca)
    _succeeded(_run_pair(client_layer, _server_layer(pki), server_name="localhost"))
    # No name: the certificate is checked against the IP dialled (its SAN has 127.0.0.1).
    _succeeded(_run_pair(client_layer, _server_layer(pki), server_name=None))


@pytest.mark.parametrize(("version", "expected"), [("1.2", "TLSv1.2"), ("1.3", "TLSv1.3")])
def test_tls_version_pins_the_protocol(pki: Pki, version: str, expected: str) -> None:
    outcome = _run_pair(_client_layer(tls_version=version), _server_layer(pki))
    _succeeded(outcome)
    assert outcome.client_version == outcome.server_version == expected


def test_tls_1_0_works_or_the_error_says_openssl_refused_it(pki: Pki) -> None:
    outcome = _run_pair(_client_layer(tls_version="1.0"), _server_layer(pki, tls_version="1.0"))
    if outcome.client_error is None:
        assert outcome.client_version == "TLSv1"
    else:
        assert "-tls_version" in str(outcome.client_error)


def test_server_with_tls_ca_requires_a_client_certificate(pki: Pki) -> None:
    server_layer = _server_layer(pki, tls_ca=pki.ca)
    outcome = _run_pair(_client_layer(), server_layer)
    assert outcome.server_error is not None
    assert "TLS handshake with 127.0.0.1:" in str(outcome.server_error)
    # In TLS 1.3 the client's handshake ends before the server checks; its first read fails.
    assert outcome.client_error is not None

    with_certificate = _client_layer(tls_cert=pki.client_cert, tls_key=pki.client_key)
    _succeeded(_run_pair(with_certificate, server_layer))


def test_server_with_tls_crl_refuses_a_revoked_client_certificate(pki: Pki) -> None:
    server_layer = _server_layer(pki, tls_ca=pki.ca, tls_crl=pki.crl)
    revoked = _client_layer(tls_cert=pki.revoked_cert, tls_key=pki.revoked_key)
    outcome = _run_pair(revoked, server_layer)
    assert outcome.server_error is not None
    assert "certificate revoked" in str(outcome.server_error)
    assert outcome.client_error is not None

    valid = _client_layer(tls_cert=pki.client_cert, tls_key=pki.client_key)
    _succeeded(_run_pair(valid, server_layer))


def test_a_server_without_a_context_refuses_naming_the_options() -> None:
    async def main() -> None:
        with trio.fail_after(REAL_DEADLINE_S):
            listener = await open_tcp_listener("127.0.0.1", 0)
            client = await connect_tcp(listener.local_address)
            server = await listener.accept()
            layer = TlsLayer(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), None)
            with pytest.raises(TransportError, match="-tls_cert FILE and -tls_key FILE"):
                async with layer.server(server):
                    pass
            await client.aclose()
            await listener.aclose()

    trio.run(main)


# --------------------------------------------------------------------------------------------
# Broken and closed connections


async def _tls_pair(
    pki: Pki, body: Callable[[TlsChannel, StreamConnection, TlsChannel], Awaitable[None]]
) -> None:
    """Handshake over loopback, then ``body(client_channel, client_tcp, server_channel)``."""
    client_layer, server_layer = _client_layer(), _server_layer(pki)
    listener = await open_tcp_listener("127.0.0.1", 0)
    client_tcp = await connect_tcp(listener.local_address)
    server_tcp = await listener.accept()
    server_channels: list[TlsChannel] = []
    server_ready, body_done = trio.Event(), trio.Event()

    async def serve() -> None:
        async with server_layer.server(server_tcp) as channel:
            server_channels.append(channel)
            server_ready.set()
            await body_done.wait()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        try:
            async with client_layer.client(client_tcp, server_name="localhost") as client:
                await server_ready.wait()
                await body(client, client_tcp, server_channels[0])
        finally:
            body_done.set()
    await listener.aclose()


def _run_real(body: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        with trio.fail_after(REAL_DEADLINE_S):
            await body()

    trio.run(main)


def test_a_peer_reset_makes_receive_and_send_raise_transport_error(pki: Pki) -> None:
    async def body(client: TlsChannel, client_tcp: StreamConnection, server: TlsChannel) -> None:
        client.reset()
        with pytest.raises(TransportError):
            await server.receive()
        # Once broken, it stays broken.
        with pytest.raises(TransportError):
            await server.send(OK)
        with pytest.raises(trio.ClosedResourceError):
            await client.send(INVITE)

    _run_real(lambda: _tls_pair(pki, body))


def test_a_peer_reset_makes_send_raise_transport_error(pki: Pki) -> None:
    async def body(client: TlsChannel, client_tcp: StreamConnection, server: TlsChannel) -> None:
        client.reset()
        with pytest.raises(TransportError):
            # The first sends may be queued before the RST arrives; a later one sees it.
            for _ in range(100):
                await server.send(OK)
                await trio.sleep(0.01)

    _run_real(lambda: _tls_pair(pki, body))


def test_a_peer_closing_without_close_notify_reads_as_eof(pki: Pki) -> None:
    async def body(client: TlsChannel, client_tcp: StreamConnection, server: TlsChannel) -> None:
        await client.send(INVITE)
        assert await _read_exactly(server, len(INVITE)) == INVITE
        await client_tcp.aclose()  # a plain FIN under the TLS layer: no close_notify
        assert await server.receive() == b""
        assert await server.receive() == b""

    _run_real(lambda: _tls_pair(pki, body))


def test_closing_under_a_pending_receive_raises_closed_resource_error(pki: Pki) -> None:
    async def body(client: TlsChannel, client_tcp: StreamConnection, server: TlsChannel) -> None:
        async def pending_receive() -> None:
            with pytest.raises(trio.ClosedResourceError):
                await server.receive()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pending_receive)
            await trio.testing.wait_all_tasks_blocked()
            await server.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await server.send(OK)
        # The client's peer closed without close_notify: EOF.
        assert await client.receive() == b""

    _run_real(lambda: _tls_pair(pki, body))


# --------------------------------------------------------------------------------------------
# Over the simulation's streams


def test_tls_over_simulated_streams() -> None:
    async def main() -> None:
        async with open_sim_network(11, FaultPlan.uniform(delay_ms=1)) as network:
            with trio.fail_after(SIM_DEADLINE_S):
                server_host = SimTransportFactory(network, "10.0.0.2")
                client_host = SimTransportFactory(network, "10.0.0.1")
                layer = TlsLayer(_client_layer()._client_context, ephemeral_server_context())
                listener = await server_host.open_stream_listener("10.0.0.2", 5061)
                eof_seen: list[bytes] = []

                async def serve() -> None:
                    connection = await listener.accept()
                    async with layer.server(connection) as channel:
                        assert channel.remote_address[0] == "10.0.0.1"
                        await _server_answers_ok(channel)
                        eof_seen.append(await channel.receive())

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(serve)
                    connection = await client_host.connect_stream(("10.0.0.2", 5061))
                    async with layer.client(connection, server_name=None) as channel:
                        assert channel.tls_version == "TLSv1.3"
                        await _client_sends_invite(channel)
                        closing_at_s = trio.current_time()
                # Both ends answered close_notify: nobody waited for the bounded timeout.
                assert trio.current_time() - closing_at_s < CLOSE_NOTIFY_WAIT_S
                assert eof_seen == [b""]
                await listener.aclose()

    run_under_virtual_time(main)


# --------------------------------------------------------------------------------------------
# Configuration errors: one line naming the option, the file and the fix


def _config_error(server: bool = True, client: bool = False, **options: object) -> str:
    settings = TransportSettings(**options)
    with pytest.raises(ConfigError) as caught:
        build_tls_contexts(settings, server=server, client=client, environ=NO_ENV)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_config_missing_default_server_certificate() -> None:
    assert _config_error() == (
        "-tls_cert cacert.pem: no such file (give the server's PEM certificate with -tls_cert FILE)"
    )


def test_config_missing_key(pki: Pki) -> None:
    message = _config_error(tls_cert=pki.server_cert, tls_key="nokey.pem")
    assert message.startswith("-tls_key nokey.pem: no such file (")
    assert "-tls_key FILE" in message


def test_config_key_does_not_match_certificate(pki: Pki) -> None:
    message = _config_error(tls_cert=pki.server_cert, tls_key=pki.client_key)
    assert message.startswith(f"-tls_key {pki.client_key} does not match -tls_cert")
    assert pki.server_cert in message


def test_config_certificate_not_pem(pki: Pki, tmp_path: pathlib.Path) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    message = _config_error(tls_cert="junk.pem", tls_key=pki.server_key)
    assert message.startswith("-tls_cert junk.pem: not a PEM certificate (")


def test_config_key_not_pem(pki: Pki, tmp_path: pathlib.Path) -> None:
    (tmp_path / "junk.pem").write_text("not a key\n")
    message = _config_error(tls_cert=pki.server_cert, tls_key="junk.pem")
    assert message.startswith("-tls_key junk.pem: not a PEM private key (")


def test_config_ca_not_pem(pki: Pki, tmp_path: pathlib.Path) -> None:
    (tmp_path / "ca.pem").write_text("nothing here\n")
    message = _config_error(tls_cert=pki.server_cert, tls_key=pki.server_key, tls_ca="ca.pem")
    assert message.startswith("-tls_ca ca.pem: not a PEM CA file (")


def test_config_ca_missing(pki: Pki) -> None:
    message = _config_error(server=False, client=True, tls_verify=True, tls_ca="gone.pem")
    assert message.startswith("-tls_ca gone.pem: no such file (")


def test_config_crl_needs_ca(pki: Pki) -> None:
    message = _config_error(tls_cert=pki.server_cert, tls_key=pki.server_key, tls_crl=pki.crl)
    assert message.startswith(f"-tls_crl {pki.crl} needs -tls_ca")


def test_config_crl_not_pem(pki: Pki) -> None:
    message = _config_error(
        tls_cert=pki.server_cert, tls_key=pki.server_key, tls_ca=pki.ca, tls_crl=pki.ca
    )
    assert message.startswith(f"-tls_crl {pki.ca}: not a PEM CRL file (")


def test_config_client_certificate_is_optional_only_under_the_default_names(pki: Pki) -> None:
    settings = TransportSettings()
    client_context, server_context = build_tls_contexts(
        settings, server=False, client=True, environ=NO_ENV
    )
    assert client_context is not None and server_context is None
    assert client_context.verify_mode == ssl.CERT_NONE and not client_context.check_hostname
    message = _config_error(server=False, client=True, tls_cert="mine.pem", tls_key="mine.key")
    assert message.startswith("-tls_cert mine.pem: no such file (")


def test_config_unwritable_keylog_file(tmp_path: pathlib.Path) -> None:
    settings = TransportSettings()
    environ = {"SSLKEYLOGFILE": str(tmp_path / "no" / "such" / "dir.log")}
    with pytest.raises(ConfigError, match="^SSLKEYLOGFILE .*: cannot write"):
        build_tls_contexts(settings, server=False, client=True, environ=environ)


def test_config_version_auto_is_tls_1_2_at_least() -> None:
    client_context, _ = build_tls_contexts(
        TransportSettings(), server=False, client=True, environ=NO_ENV
    )
    assert client_context is not None
    assert client_context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_a_plain_run_imports_neither_tls_nor_cryptography() -> None:
    probe = (
        "import sys, gossipper.transport, gossipper.sim;"
        "assert 'gossipper.transport.tls' not in sys.modules;"
        "import gossipper.transport.tls;"
        "assert not any(m.startswith('cryptography') for m in sys.modules), 'cryptography'"
    )
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(__file__).resolve().parents[2]))
    subprocess.run([sys.executable, "-c", probe], check=True, env=env)
