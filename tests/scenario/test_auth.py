"""Digest authentication against answers computed elsewhere: SIPp 3.6.1's own ``response=``
(tests/data/sipp-samples/keywords_uac_messages.log) and RFC 7616 section 3.9.1's MD5 and
SHA-256 examples. A wrong hash, field order, nc format or qop choice changes every answer."""

from __future__ import annotations

import pathlib

import pytest

from gossipper.scenario.auth import (
    DigestError,
    auth_parameter,
    build_credentials,
    verify_credentials,
)

SAMPLES = pathlib.Path(__file__).parents[1] / "data" / "sipp-samples"


def _sipp_exchange() -> tuple[str, str]:
    """The 401 challenge SIPp received and the Authorization it answered with (REGISTER of
    alice, password ``secret``: keywords_users.csv; uri from SIPp's -s/remote address)."""
    log = (SAMPLES / "keywords_uac_messages.log").read_text()
    challenge = next(
        line.split(":", 1)[1].strip()
        for line in log.splitlines()
        if line.startswith("WWW-Authenticate:")
    )
    authorization = next(
        line.split(":", 1)[1].strip()
        for line in log.splitlines()
        if line.startswith("Authorization:")
    )
    return challenge, authorization


def test_sipp_sample_response_is_reproduced() -> None:
    challenge, authorization = _sipp_exchange()
    assert auth_parameter(authorization, "response") == "e440e670c50d2d6617ee5af2f9c76bc5"
    built = build_credentials(
        challenge,
        username="alice",
        password="secret",
        method="REGISTER",
        uri="sip:127.0.0.1:5082",
        body="",
        nonce_count=1,
        cnonce="610f5f9d",
    )
    # Byte for byte what SIPp wrote, parameter order included.
    assert built == authorization


def test_sipp_sample_response_verifies() -> None:
    _, authorization = _sipp_exchange()
    check = {"username": "alice", "method": "REGISTER", "body": ""}
    assert verify_credentials(authorization, password="secret", **check)
    assert not verify_credentials(authorization, password="secreT", **check)
    assert not verify_credentials(
        authorization, password="secret", username="alice", method="INVITE", body=""
    )


# RFC 7616 section 3.9.1 (the same request answered with MD5 and with SHA-256).
RFC_USER = "Mufasa"
RFC_PASSWORD = "Circle of Life"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC_URI = "/dir/index.html"
RFC_RESPONSES = {
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}


@pytest.mark.parametrize("algorithm", sorted(RFC_RESPONSES))
def test_rfc7616_examples(algorithm: str) -> None:
    challenge = (
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        f'nonce="{RFC_NONCE}", opaque="{RFC_OPAQUE}"'
    )
    built = build_credentials(
        challenge,
        username=RFC_USER,
        password=RFC_PASSWORD,
        method="GET",
        uri=RFC_URI,
        body="",
        nonce_count=1,
        cnonce=RFC_CNONCE,
    )
    # SIPp (and gossipper) pick auth-int when offered; the RFC's example answers qop=auth, so
    # the offer above yields a different response: check that, then the RFC's own case.
    assert auth_parameter(built, "qop") == "auth-int"
    assert auth_parameter(built, "response") != RFC_RESPONSES[algorithm]
    built = build_credentials(
        challenge.replace('qop="auth, auth-int"', 'qop="auth"'),
        username=RFC_USER,
        password=RFC_PASSWORD,
        method="GET",
        uri=RFC_URI,
        body="",
        nonce_count=1,
        cnonce=RFC_CNONCE,
    )
    assert auth_parameter(built, "response") == RFC_RESPONSES[algorithm]
    assert auth_parameter(built, "nc") == "00000001"
    assert auth_parameter(built, "algorithm") == algorithm
    assert auth_parameter(built, "opaque") == RFC_OPAQUE
    # The RFC's own Authorization header (its parameter order and spacing) verifies.
    rfc_header = (
        f'Digest username="{RFC_USER}", realm="http-auth@example.org", uri="{RFC_URI}", '
        f'algorithm={algorithm}, nonce="{RFC_NONCE}", nc=00000001, '
        f'cnonce="{RFC_CNONCE}", qop=auth, response="{RFC_RESPONSES[algorithm]}", '
        f'opaque="{RFC_OPAQUE}"'
    )
    assert verify_credentials(
        rfc_header, username=RFC_USER, password=RFC_PASSWORD, method="GET", body=""
    )
    assert not verify_credentials(
        rfc_header, username=RFC_USER, password="Circle of life", method="GET", body=""
    )


def test_nonce_count_is_eight_hex_digits() -> None:
    challenge = 'Digest realm="r", nonce="n", qop="auth"'
    built = build_credentials(
        challenge,
        username="u",
        password="p",
        method="INVITE",
        uri="sip:x",
        body="",
        nonce_count=26,
        cnonce="c",
    )
    assert auth_parameter(built, "nc") == "0000001a"


def test_rfc2069_without_qop_has_no_cnonce() -> None:
    # Without qop (RFC 2617 section 3.2.2.1, RFC 2069 compatibility) the response is
    # MD5(HA1:nonce:HA2) and no cnonce/nc is sent; the value below was computed from that
    # formula with RFC 2617 section 3.5's user, realm and nonce.
    challenge = 'Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"'
    built = build_credentials(
        challenge,
        username="Mufasa",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        body="",
        nonce_count=1,
        cnonce="0a4f113b",
    )
    assert auth_parameter(built, "cnonce") is None
    assert auth_parameter(built, "nc") is None
    assert auth_parameter(built, "response") == "670fd8c2df070c60b045671b8b24ff02"


def test_unanswerable_challenges() -> None:
    for challenge in ('Basic realm="r"', 'Digest realm="r", nonce="n", algorithm=SHA-1'):
        with pytest.raises(DigestError):
            build_credentials(
                challenge,
                username="u",
                password="p",
                method="INVITE",
                uri="sip:x",
                body="",
                nonce_count=1,
                cnonce="c",
            )
