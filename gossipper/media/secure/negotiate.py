"""What the media wiring asks of an SDP m= line and of a datagram on a secure media port.

Pure glue over gossipper.sdp: which keying an m= line asks for (its proto), the peer's
``a=crypto`` lines, its ``a=fingerprint``/``a=setup`` (media level, else session level), and
RFC 7983 demultiplexing of one port shared by STUN, DTLS, TURN channels, RTP and RTCP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gossipper.media.secure.sdes import CryptoAttribute, SdesError, parse_crypto

if TYPE_CHECKING:
    from gossipper.media.secure.srtp import SrtpSession
    from gossipper.sdp.model import MediaDescription, SessionDescription

NONE = "none"
SDES = "sdes"
DTLS = "dtls"


def keying(media: MediaDescription) -> str:
    """``sdes`` for RTP/SAVP(F), ``dtls`` for UDP/TLS/RTP/SAVP(F), else ``none``."""
    proto = media.proto.upper()
    if proto.startswith("UDP/TLS/RTP/SAVP"):
        return DTLS
    if proto in ("RTP/SAVP", "RTP/SAVPF"):
        return SDES
    return NONE


def peer_crypto(media: MediaDescription, *, where: str = "") -> list[CryptoAttribute]:
    """The m= line's ``a=crypto`` attributes; SdesError names the bad one (``where``, e.g.
    ``"m=audio in the 200 OK"``, is added to the attribute's name)."""
    found: list[CryptoAttribute] = []
    for index, value in enumerate(media.attribute_values("crypto"), start=1):
        name = f"a=crypto #{index} of m={media.media}" + (f" {where}" if where else "")
        found.append(parse_crypto(value, attribute=name))
    return found


def peer_dtls(media: MediaDescription, session: SessionDescription) -> tuple[str, str] | None:
    """``(fingerprint value, setup)`` for the m= line (media level wins; setup defaults to
    ``actpass`` as RFC 4145 says for an absent attribute in an offer), None without a
    fingerprint."""
    fingerprint = media.attribute("fingerprint") or session.attribute("fingerprint")
    if fingerprint is None:
        return None
    setup = media.attribute("setup") or session.attribute("setup") or "actpass"
    return fingerprint, setup


def sdes_session(local: CryptoAttribute, remote: CryptoAttribute) -> SrtpSession:
    """The SrtpSession for an accepted pair of lines (same tag and suite, RFC 4568 5.1.2)."""
    from gossipper.media.secure.srtp import SrtpSession

    if (local.tag, local.suite.name) != (remote.tag, remote.suite.name):
        raise SdesError(
            f"a=crypto: answer tag {remote.tag} {remote.suite.name} does not match offer "
            f"tag {local.tag} {local.suite.name}"
        )
    return SrtpSession(local.suite, local.key_salt, remote.key_salt,
                       attribute=f"a=crypto:{local.tag}")  # fmt: skip


# RFC 7983 section 7 (with RFC 5764 5.1.2's ranges): the first byte says who a datagram is for.
STUN = "stun"
ZRTP = "zrtp"
DTLS_RECORD = "dtls"
TURN_CHANNEL = "turn_channel"
RTP = "rtp"
RTCP = "rtcp"
UNKNOWN = "unknown"


def classify(datagram: bytes) -> str:
    if not datagram:
        return UNKNOWN
    first = datagram[0]
    if first <= 3:
        return STUN
    if 16 <= first <= 19:
        return ZRTP
    if 20 <= first <= 63:
        return DTLS_RECORD
    if 64 <= first <= 79:
        return TURN_CHANNEL
    if 128 <= first <= 191:
        # rtcp-mux (RFC 5761 4): RTCP packet types 192..223 occupy what would be RTP PTs 64..95.
        if len(datagram) >= 2 and 192 <= datagram[1] <= 223:
            return RTCP
        return RTP
    return UNKNOWN
