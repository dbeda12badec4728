"""-media_srtp's DTLS-SRTP side (the Go tool's "enable SDES and DTLS-SRTP"): a peer offering
DTLS-SRTP (UDP/TLS/RTP/SAVP with a=fingerprint) to a scenario whose SDP is plain RTP is answered
in kind and the media is SRTP; a plain-RTP peer fails the call with the named reason
``srtp_required``. Two gossippers on loopback (real sockets, two processes)."""

from __future__ import annotations

import pathlib
import re

from tests.media.secure import require
from tests.media.secure.test_dtls_calls import (
    DATA,
    assert_secure_failure,
    assert_srtp_both_ways,
    prepare,
    run_pair,
    summary,
)

require("pylibsrtp")
require("OpenSSL")


def _plain(text: str) -> str:
    """A DTLS scenario's SDP made plain RTP (SIPp 3.6 style): RTP/AVP, no DTLS or ICE lines."""
    text = text.replace("UDP/TLS/RTP/SAVP", "RTP/AVP")
    text = re.sub(r"^\s*a=(fingerprint|setup|ice-ufrag|ice-pwd|ice-lite):.*\n", "", text,
                  flags=re.M)  # fmt: skip
    text = re.sub(r"^\s*a=ice-lite\n|^\s*\[ice_candidates\]\n", "", text, flags=re.M)
    assert "dtls" not in text.split("<![CDATA[", 1)[1].split("]]>", 1)[0].lower()
    return text


def _sent_answer(directory: pathlib.Path) -> str:
    (log,) = directory.glob("*_messages.log")
    sent = [m for m in log.read_text().split("-" * 47) if "message sent" in m[:80]]
    (answer,) = [m for m in sent if "SIP/2.0 200" in m and "m=audio" in m]
    return answer


def test_media_srtp_answers_a_dtls_offer_to_a_plain_scenario(tmp_path: pathlib.Path) -> None:
    uas_dir, uac_dir = prepare(tmp_path, _plain((DATA / "uas_dtls.xml").read_text()))
    uac, uas, _base = run_pair(uas_dir, uac_dir, uas_args=("-media_srtp", "-trace_msg"))
    assert uac.returncode == 0, uac.stdout[-2000:] + uac.stderr
    assert uas.returncode == 0, uas.stdout[-2000:] + uas.stderr
    answer = _sent_answer(uas_dir)
    assert re.search(r"^\s*m=audio \d+ UDP/TLS/RTP/SAVP 8\s*$", answer, re.M), answer
    assert re.search(r"^\s*a=fingerprint:sha-256 [0-9A-F:]{95}\s*$", answer, re.M), answer
    # Against the offer's actpass we take active (we start the handshake).
    assert re.search(r"^\s*a=setup:active\s*$", answer, re.M), answer
    assert "a=crypto" not in answer
    # The grown body parsed at the UAC (Content-Length followed) and keyed the stream.
    client, server = assert_srtp_both_ways(uac_dir, uas_dir)
    for receiver in (server, client):
        assert receiver["srtp_auth_failures"] == "0" and receiver["secure_failure"] == ""


def test_media_srtp_fails_a_call_whose_peer_answers_plain_rtp(tmp_path: pathlib.Path) -> None:
    """Our DTLS-SRTP offer answered with RTP/AVP: under -media_srtp the call fails with the
    named reason (without it, the call would go on in plain RTP)."""
    uas_dir, uac_dir = prepare(tmp_path, _plain((DATA / "uas_dtls.xml").read_text()))
    uac, _uas, _base = run_pair(
        uas_dir, uac_dir, "-media_srtp", "-trace_err",
        "-gate", "media_secure_failure.srtp_required<1", "-gate", "media_srtp_auth_failures==0",
    )  # fmt: skip
    assert uac.returncode == 1, uac.stdout[-2000:] + uac.stderr
    document = summary(uac_dir)
    # The secure-media gates read the same figures.
    gates = document["gates"]
    assert isinstance(gates, list)
    assert [(g["metric"], g["value"], g["passed"]) for g in gates] == [
        ("media_secure_failure.srtp_required", 1.0, False),
        ("media_srtp_auth_failures", 0.0, True),
    ]
    calls, failures, media = document["calls"], document["failures"], document["media"]
    assert isinstance(calls, dict) and isinstance(failures, dict) and isinstance(media, dict)
    assert calls["failed"] == 1 and failures["FailedCallRejected"] == 1
    assert media["secure_failures"] == {"srtp_required": 1}
    errors = "".join(p.read_text() for p in uac_dir.glob("*_errors.log"))
    assert "-media_srtp: the peer's m=audio line is RTP/AVP, plain RTP" in errors


def test_media_srtp_fails_a_call_whose_peer_offers_plain_rtp(tmp_path: pathlib.Path) -> None:
    """A plain-RTP offer to a -media_srtp UAS: the call fails on the INVITE, named."""
    uas_dir, uac_dir = prepare(tmp_path)
    (uac_dir / "uac_dtls.xml").write_text(_plain((DATA / "uac_dtls.xml").read_text()))
    # The failed UAS call answers nothing (as SIPp drops a failed call): the UAC gives up soon.
    _uac, uas, _base = run_pair(
        uas_dir, uac_dir, "-recv_timeout", "2000", uas_args=("-media_srtp", "-trace_err")
    )
    errors = assert_secure_failure(uas, uas_dir, "srtp_required")
    assert "-media_srtp: the peer's m=audio line is RTP/AVP, plain RTP" in errors
