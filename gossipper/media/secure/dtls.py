"""DTLS-SRTP (RFC 5763/5764): certificates, ``a=fingerprint``/``a=setup``, the handshake.

The handshake runs pyOpenSSL over memory BIOs and is driven through two callables (send one
datagram, receive one datagram), so it works on a run's own sockets or on the simulation's.
Flights are retransmitted when OpenSSL's DTLS timer expires. The SRTP keys are exported with
the ``EXTRACTOR-dtls_srtp`` label (RFC 5764 4.2) and turned into an SrtpSession.

pyOpenSSL is imported by the handshake only; certificates and fingerprints use cryptography.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from gossipper.errors import GossipperError
from gossipper.media.secure.sdes import SUITES

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from gossipper.media.secure.srtp import SrtpSession

# Named reasons a handshake fails with (DtlsError.reason): what a call's failure reports.
FINGERPRINT_MISMATCH = "dtls_fingerprint_mismatch"
CERTIFICATE_EXPIRED = "dtls_certificate_expired"
HANDSHAKE_TIMEOUT = "dtls_handshake_timeout"
HANDSHAKE_FAILED = "dtls_handshake_failed"
NO_SRTP_PROFILE = "dtls_no_srtp_profile"

# use_srtp profile names (RFC 5764 4.1.2, RFC 7714) -> our suite names; in preference order.
SRTP_PROFILES = {
    "SRTP_AEAD_AES_128_GCM": "AEAD_AES_128_GCM",
    "SRTP_AEAD_AES_256_GCM": "AEAD_AES_256_GCM",
    "SRTP_AES128_CM_SHA1_80": "AES_CM_128_HMAC_SHA1_80",
    "SRTP_AES128_CM_SHA1_32": "AES_CM_128_HMAC_SHA1_32",
}
HASHES = {"sha-1": hashlib.sha1, "sha-256": hashlib.sha256, "sha-384": hashlib.sha384,
          "sha-512": hashlib.sha512}  # fmt: skip
_FINGERPRINT = re.compile(r"^([A-Za-z0-9-]+)\s+((?:[0-9A-Fa-f]{2}:)*[0-9A-Fa-f]{2})$")
# One datagram; a flight larger than this is sent as OpenSSL wrote it (loopback has 64 KiB).
MAX_DATAGRAM = 65535


class DtlsError(GossipperError):
    """A DTLS-SRTP failure; ``reason`` is one of the named reasons above."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DtlsCertificate:
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    def fingerprint(self, algorithm: str = "sha-256") -> str:
        """The ``a=fingerprint`` value: ``sha-256 AB:CD:...``."""
        return render_fingerprint(algorithm, _der_digest(self.certificate, algorithm))


def _der_digest(certificate: x509.Certificate, algorithm: str) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return HASHES[algorithm](certificate.public_bytes(Encoding.DER)).digest()


def render_fingerprint(algorithm: str, digest: bytes) -> str:
    return f"{algorithm} " + ":".join(f"{byte:02X}" for byte in digest)


def parse_fingerprint(value: str, *, attribute: str = "a=fingerprint") -> tuple[str, bytes]:
    """``(algorithm, digest)`` from an ``a=fingerprint`` value (prefix optional)."""
    text = value.strip()
    if text.lower().startswith("a=fingerprint:"):
        text = text[len("a=fingerprint:") :]
    match = _FINGERPRINT.match(text)
    if match is None:
        detail = f"{attribute}: expected '<hash> XX:XX:...', got {value!r}"
        raise DtlsError("dtls_bad_fingerprint", detail)
    algorithm = match.group(1).lower()
    if algorithm not in HASHES:
        detail = f"{attribute}: unknown hash {match.group(1)!r} (known: {', '.join(HASHES)})"
        raise DtlsError("dtls_bad_fingerprint", detail)
    digest = bytes.fromhex(match.group(2).replace(":", ""))
    size = HASHES[algorithm]().digest_size
    if len(digest) != size:
        detail = f"{attribute}: {algorithm} digest has {len(digest)} bytes, expected {size}"
        raise DtlsError("dtls_bad_fingerprint", detail)
    return algorithm, digest


def generate_certificate(
    *, now: datetime.datetime | None = None, validity: datetime.timedelta | None = None,
    common_name: str = "gossipper",
) -> DtlsCertificate:  # fmt: skip
    """A self-signed ECDSA P-256 certificate for one run (RFC 8827 5.5: ephemeral, short-lived).

    ``now`` defaults to the wall clock; ``validity`` to one day (a run that outlives it should
    make a new one).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    start = now or datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(os.urandom(8), "big") >> 1)
        # An hour of slack for peers whose clocks lag ours.
        .not_valid_before(start - datetime.timedelta(hours=1))
        .not_valid_after(start + (validity or datetime.timedelta(days=1)))
        .sign(key, hashes.SHA256())
    )
    return DtlsCertificate(certificate, key)


def load_certificate(certificate_pem: bytes, key_pem: bytes) -> DtlsCertificate:
    """A certificate and its EC private key given by the user (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        key = load_pem_private_key(key_pem, password=None)
    except ValueError as error:
        raise DtlsError("dtls_bad_certificate", f"certificate or key: {error}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise DtlsError("dtls_bad_certificate", "DTLS key must be an EC (ECDSA) private key")
    return DtlsCertificate(certificate, key)


# a=setup (RFC 4145, RFC 5763 5): the offerer says actpass; the answerer picks active (it is
# the DTLS client) or passive.
def answer_setup(offered: str, *, prefer: str = "active") -> str:
    offered = offered.strip().lower()
    if offered == "actpass":
        return prefer
    if offered == "active":
        return "passive"
    if offered == "passive":
        return "active"
    raise DtlsError("dtls_bad_setup", f"a=setup: {offered!r} is not actpass, active or passive")


def is_dtls_client(local_setup: str) -> bool:
    """The endpoint whose setup is ``active`` starts the handshake (the DTLS client)."""
    return local_setup.strip().lower() == "active"


def is_dtls_record(datagram: bytes) -> bool:
    """RFC 7983 demultiplexing: first byte 20..63 is DTLS (vs 128..191 RTP/RTCP, 0..3 STUN)."""
    return bool(datagram) and 20 <= datagram[0] <= 63


@dataclass(frozen=True, slots=True)
class DtlsSrtpKeys:
    suite: str
    local_key_salt: bytes
    remote_key_salt: bytes
    remote_fingerprint: str

    def srtp_session(self) -> SrtpSession:
        from gossipper.media.secure.srtp import SrtpSession

        return SrtpSession(self.suite, self.local_key_salt, self.remote_key_salt,
                           attribute="DTLS-SRTP")  # fmt: skip


SendFn = Callable[[bytes], Awaitable[None]]
ReceiveFn = Callable[[], Awaitable[bytes]]


# One OpenSSL context per certificate and profile list: loading the certificate and key into a
# new context costs more than a millisecond, a context per handshake would double the
# handshake's CPU in a run (every call of a run uses the run's one certificate).
_CONTEXTS: dict[tuple[int, tuple[str, ...]], tuple[DtlsCertificate, Any]] = {}


def _context(certificate: DtlsCertificate, profiles: tuple[str, ...]) -> Any:
    from OpenSSL import SSL

    key = (id(certificate), profiles)
    found = _CONTEXTS.get(key)
    if found is not None and found[0] is certificate:
        return found[1]
    context = SSL.Context(SSL.DTLS_METHOD)
    context.use_certificate(certificate.certificate)
    context.use_privatekey(certificate.private_key)
    context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, None)
    context.set_tlsext_use_srtp(":".join(profiles).encode("ascii"))
    if len(_CONTEXTS) > 64:  # certificates of tests and benches come and go
        _CONTEXTS.clear()
    _CONTEXTS[key] = (certificate, context)
    return context


class DtlsSrtpEndpoint:
    """One side of one DTLS-SRTP association.

    ``remote_fingerprint`` is the peer's ``a=fingerprint`` value; the peer's certificate must
    hash to it (its validity period is checked too), else the handshake fails with
    FINGERPRINT_MISMATCH / CERTIFICATE_EXPIRED.
    """

    def __init__(
        self, certificate: DtlsCertificate, *, client: bool, remote_fingerprint: str,
        profiles: tuple[str, ...] = tuple(SRTP_PROFILES),
        now: Callable[[], datetime.datetime] | None = None,
    ) -> None:  # fmt: skip
        self.certificate = certificate
        self.client = client
        self.remote_fingerprint = remote_fingerprint
        self._algorithm, self._digest = parse_fingerprint(remote_fingerprint)
        self._profiles = profiles
        self._now = now or (lambda: datetime.datetime.now(datetime.UTC))
        self._failure: DtlsError | None = None
        self._connection_after: Any = None  # kept once the handshake is done
        self.retransmissions = 0
        self.datagrams_sent = 0

    def _verify(self, _conn: Any, x509_cert: Any, _errno: int, depth: int, _ok: int) -> bool:
        if depth != 0:
            return True
        peer = x509_cert.to_cryptography()
        if not hmac.compare_digest(_der_digest(peer, self._algorithm), self._digest):
            got = render_fingerprint(self._algorithm, _der_digest(peer, self._algorithm))
            self._failure = DtlsError(FINGERPRINT_MISMATCH, f"peer certificate is {got}, "
                                      f"a=fingerprint says {self.remote_fingerprint}")  # fmt: skip
            return False
        now = self._now()
        if not peer.not_valid_before_utc <= now <= peer.not_valid_after_utc:
            self._failure = DtlsError(CERTIFICATE_EXPIRED, "peer certificate valid "
                                      f"{peer.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}.."
                                      f"{peer.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}, "
                                      f"now {now:%Y-%m-%dT%H:%M:%SZ}")  # fmt: skip
            return False
        return True

    def _connection(self) -> Any:
        from OpenSSL import SSL

        connection = SSL.Connection(_context(self.certificate, self._profiles), None)
        # Both sides present a certificate (RFC 5763 5); trust comes from the fingerprint,
        # checked by this endpoint's own callback.
        connection.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, self._verify)
        if self.client:
            connection.set_connect_state()
        else:
            connection.set_accept_state()
        return connection

    async def handshake(self, send: SendFn, receive: ReceiveFn, *,
                        timeout_s: float = 10.0) -> DtlsSrtpKeys:  # fmt: skip
        """Run the handshake to completion; raise DtlsError with a named reason."""
        from OpenSSL import SSL

        connection = self._connection()

        async def flush() -> None:
            while True:
                try:
                    data = connection.bio_read(MAX_DATAGRAM)
                except SSL.WantReadError:
                    return
                self.datagrams_sent += 1
                await send(data)

        def step() -> bool:
            try:
                connection.do_handshake()
            except SSL.WantReadError:
                return False
            except SSL.Error as error:
                raise self._failure or DtlsError(HANDSHAKE_FAILED, str(error)) from None
            return True

        role = "client" if self.client else "server"
        with trio.move_on_after(timeout_s) as deadline:
            done = step()
            await flush()
            while not done:
                wait_s = connection.DTLSv1_get_timeout()
                datagram: bytes | None = None
                with trio.move_on_after(1.0 if wait_s is None else max(wait_s, 0.001)):
                    datagram = await receive()
                if datagram is None:
                    # OpenSSL's timer ran out: resend the last flight (doubling back-off).
                    if connection.DTLSv1_handle_timeout():
                        self.retransmissions += 1
                    await flush()
                    continue
                if not is_dtls_record(datagram):
                    continue  # early RTP/STUN on a muxed port is not ours
                connection.bio_write(datagram)
                done = step()
                await flush()
        if deadline.cancelled_caught:
            raise DtlsError(HANDSHAKE_TIMEOUT, f"no DTLS handshake as {role} in {timeout_s:g} s")
        self._connection_after = connection
        profile = connection.get_selected_srtp_profile().decode("ascii")
        suite_name = SRTP_PROFILES.get(profile)
        if suite_name is None:
            raise DtlsError(NO_SRTP_PROFILE, f"peer agreed no SRTP profile we offer ({profile!r})")
        found = SUITES[suite_name]
        key_len, salt_len = found.key_len, found.salt_len
        material = connection.export_keying_material(
            b"EXTRACTOR-dtls_srtp", 2 * (key_len + salt_len)
        )
        # RFC 5764 4.2: client key, server key, client salt, server salt.
        client_key = material[:key_len]
        server_key = material[key_len : 2 * key_len]
        client_salt = material[2 * key_len : 2 * key_len + salt_len]
        server_salt = material[2 * key_len + salt_len :]
        client_side = client_key + client_salt
        server_side = server_key + server_salt
        peer = connection.get_peer_certificate(as_cryptography=True)
        return DtlsSrtpKeys(
            suite=suite_name,
            local_key_salt=client_side if self.client else server_side,
            remote_key_salt=server_side if self.client else client_side,
            remote_fingerprint=render_fingerprint("sha-256", _der_digest(peer, "sha-256")),
        )

    def handle_record(self, datagram: bytes) -> list[bytes]:
        """After the handshake: feed a DTLS datagram that still arrives, return what to send.

        The side that sends the last flight (the server in a full handshake) cannot know it
        arrived; when it was lost, the peer retransmits its own last flight and OpenSSL answers
        it by resending ours. The media path must pass DTLS records (``is_dtls_record``) here
        for the life of the stream. Application data and alerts are ignored.
        """
        from OpenSSL import SSL

        connection = self._connection_after
        if connection is None or not is_dtls_record(datagram):
            return []
        connection.bio_write(datagram)
        try:
            connection.recv(MAX_DATAGRAM)
        except (SSL.WantReadError, SSL.ZeroReturnError, SSL.Error):
            pass
        out: list[bytes] = []
        while True:
            try:
                out.append(connection.bio_read(MAX_DATAGRAM))
            except SSL.WantReadError:
                return out
