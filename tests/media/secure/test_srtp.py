"""SrtpSession over libsrtp: every suite libsrtp offers round-trips; failures are counted."""

from __future__ import annotations

import random

import pytest

from tests.media.secure import require

require("pylibsrtp")

from gossipper.media.rtp import ReceiverReport, RtpPacket, build_compound  # noqa: E402
from gossipper.media.secure.sdes import SUITES, generate  # noqa: E402
from gossipper.media.secure.srtp import SrtpError, SrtpSession  # noqa: E402

RUNNABLE = [name for name, s in SUITES.items() if s.libsrtp_profile is not None]


def _pair(name: str) -> tuple[SrtpSession, SrtpSession]:
    rng = random.Random(name).randbytes
    a = generate(1, name, rng).key_salt
    b = generate(1, name, rng).key_salt
    return SrtpSession(name, a, b), SrtpSession(name, b, a)


def _rtp(seq: int, payload: bytes = b"\x55" * 160) -> bytes:
    return RtpPacket(0, seq, seq * 160, 0x1234ABCD, payload).pack()


@pytest.mark.parametrize("name", RUNNABLE)
def test_protect_then_unprotect_restores_rtp_and_rtcp(name: str) -> None:
    alice, bob = _pair(name)
    for seq in range(1, 6):
        plain = _rtp(seq)
        wire = alice.protect(plain)
        assert wire is not None
        assert len(wire) == len(plain) + SUITES[name].rtp_tag_len
        if SUITES[name].encrypted:
            assert wire[12 : len(plain)] != plain[12:]
        else:
            assert wire[: len(plain)] == plain
        assert bob.unprotect(wire) == plain
    rtcp = build_compound([ReceiverReport(0x1234ABCD)])
    srtcp = alice.protect_rtcp(rtcp)
    assert srtcp is not None and srtcp != rtcp
    assert bob.unprotect_rtcp(srtcp) == rtcp
    assert alice.counters.protected == 6 and bob.counters.unprotected == 6
    assert bob.counters.failures == {}


def test_failures_are_counted_by_reason_never_raised() -> None:
    alice, bob = _pair("AES_CM_128_HMAC_SHA1_80")
    wire = alice.protect(_rtp(1))
    assert wire is not None
    tampered = wire[:20] + bytes([wire[20] ^ 1]) + wire[21:]
    assert bob.unprotect(tampered) is None
    assert bob.unprotect(wire) is not None
    assert bob.unprotect(wire) is None  # the same packet again
    assert bob.unprotect(b"\x80\x00") is None
    assert bob.unprotect(b"junk" * 10) is None
    assert bob.unprotect_rtcp(b"\x81") is None
    assert alice.protect(b"short") is None
    assert alice.protect(_rtp(2, b"x" * 1500)) is None
    assert bob.counters.failures == {"auth_failure": 1, "replay": 1, "malformed": 3}
    assert alice.counters.failures == {"malformed": 2}


def test_wrong_key_is_an_auth_failure() -> None:
    alice, _ = _pair("AEAD_AES_128_GCM")
    _, stranger = _pair("AEAD_AES_256_GCM")
    eve = SrtpSession("AEAD_AES_128_GCM", bytes(28), bytes(28))
    wire = alice.protect(_rtp(1))
    assert wire is not None
    assert eve.unprotect(wire) is None
    assert eve.counters.failures == {"auth_failure": 1}
    assert stranger.suite.name == "AEAD_AES_256_GCM"


@pytest.mark.parametrize(
    ("suite", "local", "message"),
    [
        ("NULL_HMAC_SHA1_32", 30, "NULL_HMAC_SHA1_32 is not offered by libsrtp"),
        ("AES_CM_128_HMAC_SHA1_80", 29, "needs a 30-byte local key||salt, got 29"),
        ("F8_128_HMAC_SHA1_80", 30, "unknown SRTP suite 'F8_128_HMAC_SHA1_80'"),
    ],
)
def test_setup_errors_name_the_attribute(suite: str, local: int, message: str) -> None:
    with pytest.raises(SrtpError) as caught:
        SrtpSession(suite, bytes(local), bytes(30), attribute="a=crypto:1")
    assert str(caught.value).startswith("a=crypto:1: ")
    assert message in str(caught.value)
