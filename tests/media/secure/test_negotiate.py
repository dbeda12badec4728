"""SDP glue for secure media and RFC 7983 demultiplexing."""

from __future__ import annotations

import random

import pytest

from gossipper.media.rtp import ReceiverReport, RtpPacket, build_compound
from gossipper.media.secure import negotiate
from gossipper.media.secure.dtls import generate_certificate
from gossipper.media.secure.sdes import SdesError, generate
from gossipper.media.secure.stun import StunMessage
from gossipper.media.secure.turn import channel_data
from gossipper.sdp import parse_sdp
from tests.media.secure import require

OFFER = """v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
a=fingerprint:{fingerprint}
m=audio 4000 RTP/SAVP 0
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz
m=video 4002 UDP/TLS/RTP/SAVPF 96
a=setup:active
m=audio 4004 RTP/AVP 0
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA
"""


def test_keying_crypto_and_dtls_from_sdp() -> None:
    fingerprint = generate_certificate().fingerprint()
    sdp = parse_sdp(OFFER.format(fingerprint=fingerprint))
    audio, video, plain = sdp.media
    assert [negotiate.keying(m) for m in sdp.media] == ["sdes", "dtls", "none"]
    lines = negotiate.peer_crypto(audio)
    assert [(c.tag, c.suite.name, c.lifetime) for c in lines] == [
        (1, "AES_CM_128_HMAC_SHA1_80", 1 << 20),
        (2, "AES_CM_128_HMAC_SHA1_32", None),
    ]
    assert negotiate.peer_dtls(video, sdp) == (fingerprint, "active")
    assert negotiate.peer_dtls(audio, sdp) == (fingerprint, "actpass")
    with pytest.raises(SdesError, match=r"^a=crypto #1 of m=audio in the INVITE: .*got 3 bytes"):
        negotiate.peer_crypto(plain, where="in the INVITE")


def test_sdes_session_needs_matching_tag_and_suite() -> None:
    require("pylibsrtp")
    rng = random.Random(4).randbytes
    ours = generate(1, "AES_CM_128_HMAC_SHA1_80", rng)
    theirs = generate(1, "AES_CM_128_HMAC_SHA1_80", rng)
    mine, peer = negotiate.sdes_session(ours, theirs), negotiate.sdes_session(theirs, ours)
    wire = mine.protect(RtpPacket(0, 1, 0, 1, b"x" * 20).pack())
    assert wire is not None and peer.unprotect(wire) is not None
    with pytest.raises(SdesError, match="answer tag 2 AES_CM_128_HMAC_SHA1_80 does not match"):
        negotiate.sdes_session(ours, generate(2, "AES_CM_128_HMAC_SHA1_80", rng))


def test_rfc7983_demultiplexing() -> None:
    assert negotiate.classify(StunMessage.new(1, 0).encode()) == "stun"
    assert negotiate.classify(b"\x16\xfe\xfd" + bytes(10)) == "dtls"
    assert negotiate.classify(channel_data(0x4000, b"x")) == "turn_channel"
    assert negotiate.classify(RtpPacket(0, 1, 0, 1).pack()) == "rtp"
    assert negotiate.classify(RtpPacket(96, 1, 0, 1, marker=True).pack()) == "rtp"
    assert negotiate.classify(build_compound([ReceiverReport(1)])) == "rtcp"
    assert negotiate.classify(b"") == "unknown"
    assert negotiate.classify(b"\xff\x00") == "unknown"
