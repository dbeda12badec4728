"""SIP over TLS (``-t l1``/``ln``): a ``ChannelLayer`` on any ``StreamConnection``.

Built on the stdlib ``ssl`` module and ``trio.SSLStream`` only. The stream under the TLS
records is reached through ``gossipper.interfaces.StreamConnection``, so the same layer runs
over real TCP (``gossipper.transport.tcp``) and over the simulation's streams
(``gossipper.sim.stream``). Imported only by runs that use TLS: it stays off the import path
of a plain UDP run, and ``cryptography`` is imported only by ``ephemeral_server_context``.

How the command-line options become contexts (``build_tls_contexts``):

- A server context needs ``-tls_cert`` and ``-tls_key`` (SIPp's defaults ``cacert.pem`` and
  ``cakey.pem``, relative to the current directory); a missing or bad file is an error.
- A client context presents the same pair as its client certificate only when both files
  exist. With the default names missing files just mean "no client certificate"; names the
  user gave must exist.
- Peer verification is lab-friendly by default, as in SIPp: the client accepts any server
  certificate. ``-tls_verify`` makes the client require a certificate that chains to
  ``-tls_ca`` (or to the system CAs without it) and names the host it dialled.
- A server given ``-tls_ca`` requires a client certificate signed by that CA.
- ``-tls_crl`` (needs ``-tls_ca``) loads a PEM CRL and refuses revoked peer certificates
  (leaf only: ``VERIFY_CRL_CHECK_LEAF``).
- ``-tls_version auto`` negotiates the highest version both ends support, TLS 1.2 at least.
  ``1.0``/``1.1``/``1.2``/``1.3`` pin exactly that version; for 1.0 and 1.1 the OpenSSL
  security level is lowered (``DEFAULT:@SECLEVEL=0``) because their ciphers are refused
  otherwise. An OpenSSL built without them still refuses, and the handshake error says so.
- ``SSLKEYLOGFILE`` in the environment makes both contexts append their session secrets to
  that file (NSS key log format), so Wireshark can decrypt a capture.
- Server contexts send no TLS 1.3 session tickets: gossipper's clients (and SIPp's) never
  resume sessions, so tickets would only cost work and bytes on every connection.

Every problem is a ``ConfigError`` of one line naming the option, the file and the fix.

On the wire: the handshake is bounded by ``HANDSHAKE_TIMEOUT_S`` (here, not by the caller: a
layer's context manager cannot sit inside a caller's cancel scope when it opens a nursery, as
the WebSocket layer does over this one). A failed handshake resets the connection, so the peer sees
a reset rather than our TLS alert (``trio.SSLStream`` drops the alert it could not send).
A graceful close sends close_notify and waits ``CLOSE_NOTIFY_WAIT_S`` at most for the peer's.
A peer that closes without close_notify reads as EOF (``https_compatible``), as SIP peers often
do.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import ssl
import warnings
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

import trio

from gossipper.config import TransportSettings
from gossipper.errors import ConfigError, TransportError
from gossipper.interfaces import Address, StreamConnection
from gossipper.transport.channels import RECEIVE_SIZE_BYTES

HANDSHAKE_TIMEOUT_S = 10.0
"""Longest a TLS handshake may take before the connection is reset (SIPp has no bound)."""
CLOSE_NOTIFY_WAIT_S = 1.0
"""How long a graceful close waits for the peer's close_notify before closing TCP anyway."""

_DEFAULT_SETTINGS = TransportSettings()
DEFAULT_CERT_FILE = _DEFAULT_SETTINGS.tls_cert
"""SIPp's default -tls_cert (cacert.pem), relative to the current directory."""
DEFAULT_KEY_FILE = _DEFAULT_SETTINGS.tls_key
"""SIPp's default -tls_key (cakey.pem)."""

_TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}
_LEGACY_VERSIONS = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
_LEGACY_CIPHERS = "DEFAULT:@SECLEVEL=0"

_CERT_FIX = "give the server's PEM certificate with -tls_cert FILE"
_KEY_FIX = "give the PEM private key of -tls_cert with -tls_key FILE"
_CA_FIX = "give the PEM file of the CA that signs the peers' certificates with -tls_ca FILE"
_CRL_FIX = "give a PEM certificate revocation list with -tls_crl FILE"

# OpenSSL's messages look like "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed:
# self-signed certificate (_ssl.c:1006)"; the bracketed code and the source location say
# nothing to a user.
_SSL_MESSAGE_NOISE = re.compile(r"^\[[^\]]*\]\s*|\s*\(_ssl\.c:\d+\)$")


# --------------------------------------------------------------------------------------------
# Channel and layer


class _ConnectionStream(trio.abc.Stream):
    """A ``StreamConnection`` seen as the ``trio.abc.Stream`` that ``trio.SSLStream`` wraps.

    Errors pass through unchanged (``TransportError`` for a broken connection), so
    ``TlsChannel`` sees the TCP layer's own message.
    """

    def __init__(self, connection: StreamConnection) -> None:
        self._connection = connection

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._connection.send_all(bytes(data))

    async def wait_send_all_might_not_block(self) -> None:
        # StreamConnection has no such wait; SSLStream only forwards its own, which no one calls.
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        return await self._connection.receive_some(
            RECEIVE_SIZE_BYTES if max_bytes is None else max_bytes
        )

    async def aclose(self) -> None:
        await self._connection.aclose()


def _ssl_reason(exc: BaseException | None) -> str:
    """A short, one-line reason for a TLS failure (OpenSSL's text without its decoration)."""
    if isinstance(exc, ssl.SSLEOFError):
        return "the peer closed the connection"
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        text = exc.strerror or str(exc)
        if exc.reason and not text:
            text = exc.reason.replace("_", " ").lower()
        return _SSL_MESSAGE_NOISE.sub("", text).strip() or type(exc).__name__
    if isinstance(exc, ssl.CertificateError):
        return f"certificate verify failed: {exc}"
    if isinstance(exc, TransportError):
        # The TCP layer's message names the peer again; the system's reason is enough here.
        cause = exc.__cause__
        while cause is not None:
            if isinstance(cause, OSError) and cause.strerror:
                return cause.strerror
            cause = cause.__cause__
        return str(exc)
    if isinstance(exc, trio.BrokenResourceError):
        if exc.__cause__ is not None:
            return _ssl_reason(exc.__cause__)
        return "connection already broken"
    if exc is None:
        return "unknown error"
    return str(exc) or type(exc).__name__


def _legacy_hint(context: ssl.SSLContext) -> str:
    if context.maximum_version in _LEGACY_VERSIONS:
        return " (-tls_version asks for TLS 1.0/1.1, which this OpenSSL may refuse)"
    return ""


class TlsChannel:
    """One TLS connection carrying SIP: bytes in, bytes out, framed by the caller."""

    transport_name = "TLS"
    message_oriented = False

    def __init__(
        self, ssl_stream: trio.SSLStream[_ConnectionStream], connection: StreamConnection
    ) -> None:
        self._ssl_stream = ssl_stream
        self._connection = connection
        self._closed = False
        self._eof = False
        self._broken: str | None = None

    @property
    def local_address(self) -> Address:
        return self._connection.local_address

    @property
    def remote_address(self) -> Address:
        return self._connection.remote_address

    @property
    def tls_version(self) -> str | None:
        """The negotiated protocol version, e.g. "TLSv1.3"."""
        version: str | None = self._ssl_stream.version()
        return version

    def _check_usable(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("TLS channel is closed")
        if self._broken is not None:
            raise TransportError(self._broken)

    def _break(self, action: str, exc: BaseException) -> TransportError:
        if isinstance(exc, TransportError):
            # The TCP layer's message already names the peer and the reason.
            self._broken = str(exc)
            return exc
        host, port = self.remote_address
        self._broken = f"TLS {action} {host}:{port} failed: {_ssl_reason(exc)}"
        return TransportError(self._broken)

    async def send(self, data: bytes) -> None:
        self._check_usable()
        try:
            await self._ssl_stream.send_all(data)
        except (trio.BrokenResourceError, TransportError, ssl.SSLError) as exc:
            if self._closed:
                raise trio.ClosedResourceError("TLS channel was closed") from exc
            raise self._break("send to", exc) from exc

    async def receive(self) -> bytes:
        self._check_usable()
        if self._eof:
            # SSLStream marks itself broken after a ragged EOF; the contract says EOF for good.
            await trio.lowlevel.checkpoint()
            return b""
        try:
            data = await self._ssl_stream.receive_some(RECEIVE_SIZE_BYTES)
        except (trio.BrokenResourceError, TransportError, ssl.SSLError) as exc:
            if self._closed:
                raise trio.ClosedResourceError("TLS channel was closed") from exc
            raise self._break("receive from", exc) from exc
        if not data:
            self._eof = True
        return bytes(data)

    async def aclose(self) -> None:
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        try:
            if self._broken is None:
                # Send close_notify and wait briefly for the peer's: reading it also drains
                # what the peer sent last, so our close is a FIN rather than a RST (a kernel
                # resets a connection closed with unread bytes). A peer that never answers
                # costs CLOSE_NOTIFY_WAIT_S at most.
                with trio.move_on_after(CLOSE_NOTIFY_WAIT_S):
                    await self._ssl_stream.unwrap()
        except (
            trio.BrokenResourceError,
            trio.BusyResourceError,
            trio.ClosedResourceError,
            TransportError,
            ssl.SSLError,
        ):
            pass  # the peer went away, or another task is still using the stream: just close
        finally:
            await self._connection.aclose()

    def reset(self) -> None:
        self._closed = True
        self._connection.reset()


class TlsLayer:
    """SIP over TLS over a stream connection (``-t l1``/``ln``)."""

    transport_name = "TLS"

    def __init__(
        self, client_context: ssl.SSLContext, server_context: ssl.SSLContext | None
    ) -> None:
        """``server_context`` None means this run cannot accept TLS (no certificate)."""
        self._client_context = client_context
        self._server_context = server_context

    @contextlib.asynccontextmanager
    async def client(
        self, connection: StreamConnection, *, server_name: str | None
    ) -> AsyncIterator[TlsChannel]:
        context = self._client_context
        hostname = server_name
        if hostname is None and context.check_hostname:
            # Verification needs a name to check; the peer's IP is what the user dialled.
            # CPython sends no SNI for an IP literal but verifies the certificate against it.
            hostname = connection.remote_address[0]
        channel = await _handshake(connection, context, server_side=False, hostname=hostname)
        try:
            yield channel
        finally:
            await channel.aclose()

    @contextlib.asynccontextmanager
    async def server(self, connection: StreamConnection) -> AsyncIterator[TlsChannel]:
        if self._server_context is None:
            connection.reset()
            raise TransportError(
                "a TLS server needs a certificate and its key: give -tls_cert FILE and "
                "-tls_key FILE"
            )
        channel = await _handshake(
            connection, self._server_context, server_side=True, hostname=None
        )
        try:
            yield channel
        finally:
            await channel.aclose()


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


async def _handshake(
    connection: StreamConnection,
    context: ssl.SSLContext,
    *,
    server_side: bool,
    hostname: str | None,
) -> TlsChannel:
    """Wrap ``connection`` and run the handshake; on failure reset it and raise
    ``TransportError``. ``hostname``: SNI for a host name; an IP literal is passed too, for
    verification only (CPython sends no SNI for an address, RFC 6066 section 3)."""
    if hostname is not None and not _is_ip_literal(hostname) and hostname.endswith("."):
        hostname = hostname[:-1]  # a fully qualified "host." is sent and checked as "host"
    ssl_stream = trio.SSLStream(
        _ConnectionStream(connection),
        context,
        server_side=server_side,
        server_hostname=hostname,
        https_compatible=True,
    )
    try:
        # A peer that never completes its handshake must not hold the connection forever.
        with trio.move_on_after(HANDSHAKE_TIMEOUT_S) as deadline:
            await ssl_stream.do_handshake()
        if deadline.cancelled_caught:
            connection.reset()
            host, port = connection.remote_address
            raise TransportError(
                f"TLS handshake with {host}:{port} failed: no answer within"
                f" {HANDSHAKE_TIMEOUT_S:g} s"
            )
    except (trio.BrokenResourceError, ssl.SSLError) as exc:
        connection.reset()
        host, port = connection.remote_address
        reason = _ssl_reason(exc)
        if not isinstance(exc, TransportError):
            reason += _legacy_hint(context)
        raise TransportError(f"TLS handshake with {host}:{port} failed: {reason}") from exc
    except TransportError as exc:
        connection.reset()
        if str(exc).startswith("TLS handshake"):
            raise
        host, port = connection.remote_address
        raise TransportError(f"TLS handshake with {host}:{port} failed: {exc}") from exc
    except BaseException:
        connection.reset()
        raise
    return TlsChannel(ssl_stream, connection)


# --------------------------------------------------------------------------------------------
# Contexts from the command line


def _read_pem(option: str, path: str, fix: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return file.read()
    except FileNotFoundError:
        raise ConfigError(f"{option} {path}: no such file ({fix})") from None
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot read: {exc.strerror or exc} ({fix})") from None


class _EncryptedKey(Exception):
    pass


def _refuse_password() -> bytes:
    # Without a callback OpenSSL would prompt on the terminal and block the run.
    raise _EncryptedKey


def _load_cert_chain(context: ssl.SSLContext, cert: str, key: str) -> None:
    cert_text = _read_pem("-tls_cert", cert, _CERT_FIX)
    if "-----BEGIN CERTIFICATE-----" not in cert_text:
        raise ConfigError(f"-tls_cert {cert}: not a PEM certificate ({_CERT_FIX})")
    key_text = _read_pem("-tls_key", key, _KEY_FIX)
    if not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", key_text):
        raise ConfigError(f"-tls_key {key}: not a PEM private key ({_KEY_FIX})")
    try:
        context.load_cert_chain(cert, key, password=_refuse_password)
    except _EncryptedKey:
        raise ConfigError(
            f"-tls_key {key}: the key is encrypted (give an unencrypted PEM key, e.g. "
            "openssl pkey -in KEY -out PLAIN)"
        ) from None
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            raise ConfigError(
                f"-tls_key {key} does not match -tls_cert {cert} (give the key the "
                "certificate was issued for)"
            ) from None
        if _loads_as_certificates(cert):
            raise ConfigError(
                f"-tls_key {key}: not a usable PEM private key: {_ssl_reason(exc)} ({_KEY_FIX})"
            ) from None
        raise ConfigError(
            f"-tls_cert {cert}: not a usable PEM certificate: {_ssl_reason(exc)} ({_CERT_FIX})"
        ) from None


def _loads_as_certificates(path: str) -> bool:
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.load_verify_locations(cafile=path)
    except (ssl.SSLError, OSError):
        return False
    return True


def _load_verify_pem(
    context: ssl.SSLContext, option: str, path: str, marker: str, what: str, fix: str
) -> None:
    """Load a PEM file of CA certificates or CRLs into the trust store (OpenSSL's file lookup
    takes both), or raise a one-line ConfigError naming the option and the file."""
    text = _read_pem(option, path, fix)
    if marker not in text:
        raise ConfigError(f"{option} {path}: not a PEM {what} file ({fix})")
    try:
        context.load_verify_locations(cafile=path)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"{option} {path}: not a PEM {what} file: {_ssl_reason(exc)} ({fix})"
        ) from None


def _load_ca(context: ssl.SSLContext, ca: str) -> None:
    _load_verify_pem(context, "-tls_ca", ca, "-----BEGIN CERTIFICATE-----", "CA", _CA_FIX)


def _load_crl(context: ssl.SSLContext, crl: str) -> None:
    _load_verify_pem(context, "-tls_crl", crl, "-----BEGIN X509 CRL-----", "CRL", _CRL_FIX)
    context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF


def _apply_version(context: ssl.SSLContext, version: str) -> None:
    if version == "auto":
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return
    pinned = _TLS_VERSIONS[version]
    with warnings.catch_warnings():
        # The user asked for the deprecated version on purpose (an old peer under test).
        warnings.simplefilter("ignore", DeprecationWarning)
        # Order matters: the minimum may not go above the current maximum, nor the reverse.
        if pinned >= context.minimum_version:
            context.maximum_version = pinned
            context.minimum_version = pinned
        else:
            context.minimum_version = pinned
            context.maximum_version = pinned
    if pinned in _LEGACY_VERSIONS:
        try:
            context.set_ciphers(_LEGACY_CIPHERS)
        except ssl.SSLError:
            pass  # this OpenSSL has no such ciphers: the handshake error will say so


def _apply_keylog(context: ssl.SSLContext, environ: Mapping[str, str]) -> None:
    path = environ.get("SSLKEYLOGFILE")
    if not path:
        return
    try:
        context.keylog_filename = path
    except OSError as exc:
        raise ConfigError(
            f"SSLKEYLOGFILE {path}: cannot write: {exc.strerror or exc} (give a writable file "
            "or unset SSLKEYLOGFILE)"
        ) from None


def _common_setup(context: ssl.SSLContext, settings: TransportSettings) -> None:
    _apply_version(context, settings.tls_version)
    if settings.tls_crl is not None:
        _load_crl(context, settings.tls_crl)


def build_tls_contexts(
    settings: TransportSettings,
    *,
    server: bool,
    client: bool,
    environ: Mapping[str, str] = os.environ,
) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
    """The (client, server) contexts a run needs; see the module docstring for the rules.

    Raises:
        ConfigError: a file is missing or unusable, or the options contradict each other.
    """
    if settings.tls_crl is not None and settings.tls_ca is None:
        raise ConfigError(
            f"-tls_crl {settings.tls_crl} needs -tls_ca (give the CA that issued the CRL with "
            "-tls_ca FILE)"
        )
    client_context: ssl.SSLContext | None = None
    server_context: ssl.SSLContext | None = None
    if server:
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.num_tickets = 0
        _load_cert_chain(server_context, settings.tls_cert, settings.tls_key)
        if settings.tls_ca is not None:
            _load_ca(server_context, settings.tls_ca)
            server_context.verify_mode = ssl.CERT_REQUIRED
        _common_setup(server_context, settings)
        _apply_keylog(server_context, environ)
    if client:
        client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if settings.tls_verify:
            client_context.check_hostname = True
            client_context.verify_mode = ssl.CERT_REQUIRED
            if settings.tls_ca is None:
                client_context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        else:
            # SIPp's lab-friendly default: talk to any server, self-signed included.
            client_context.check_hostname = False
            client_context.verify_mode = ssl.CERT_NONE
        if settings.tls_ca is not None:
            # Loaded even without -tls_verify, so a wrong file is reported, not ignored.
            _load_ca(client_context, settings.tls_ca)
        cert, key = settings.tls_cert, settings.tls_key
        defaults = cert == DEFAULT_CERT_FILE and key == DEFAULT_KEY_FILE
        if not defaults or (os.path.exists(cert) and os.path.exists(key)):
            _load_cert_chain(client_context, cert, key)
        _common_setup(client_context, settings)
        _apply_keylog(client_context, environ)
    return client_context, server_context


def ephemeral_server_context() -> ssl.SSLContext:
    """A server context with a fresh self-signed ECDSA P-256 certificate (CN "gossipper",
    SAN localhost and 127.0.0.1), valid for a day: for ``gossipper sim`` and tests."""
    # Imported here so only the runs that need a throw-away certificate load cryptography.
    import datetime
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gossipper")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # Back-dated an hour so a peer whose clock runs a little behind still accepts it.
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.num_tickets = 0
    # ssl loads certificates and keys from files only; the directory and both files are
    # removed as soon as they are loaded.
    with tempfile.TemporaryDirectory(prefix="gossipper-tls-") as directory:
        cert_path = os.path.join(directory, "cert.pem")
        key_path = os.path.join(directory, "key.pem")
        with open(cert_path, "wb") as file:
            file.write(certificate.public_bytes(serialization.Encoding.PEM))
        with open(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            file.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        context.load_cert_chain(cert_path, key_path)
    return context


if TYPE_CHECKING:
    # mypy --strict proves the TLS layer satisfies the seams of gossipper.interfaces.
    from gossipper.interfaces import ChannelLayer, MessageChannel

    def _conforms(layer: TlsLayer, channel: TlsChannel) -> tuple[ChannelLayer, MessageChannel]:
        return layer, channel
