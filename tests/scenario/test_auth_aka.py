"""AKAv1-MD5 digest authentication (RFC 3310): ``[authentication aka_K= aka_OP= aka_AMF=]``
and the -aka_K/-aka_OP/-aka_AMF defaults. Expected responses are computed here from the
published 3GPP TS 35.208 test set 1 outputs (RES, AK, MAC-A), not with our Milenage."""

from __future__ import annotations

import base64
import hashlib

import pytest

from gossipper.errors import ScenarioError
from gossipper.scenario import BasicCallContext, RenderError, Scenario
from gossipper.scenario.auth import DigestError, aka_value_bytes, build_credentials
from tests.scenario._support import context, env, load

# 3GPP TS 35.208 4.3.1, test set 1.
K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OP = "cdc202d5123e20f62b6d676ac72cb318"
RAND = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35")
SQN = bytes.fromhex("ff9bb4d0b607")
AMF = bytes.fromhex("b9b9")
MAC_A = bytes.fromhex("4a9ffac354dfafb3")
RES = bytes.fromhex("a54211d5e3ba50bf")
AK = bytes.fromhex("aa689c648370")

AUTN = bytes(s ^ a for s, a in zip(SQN, AK, strict=True)) + AMF + MAC_A
NONCE = base64.b64encode(RAND + AUTN).decode("ascii")
CHALLENGE = f'Digest realm="ims.test", nonce="{NONCE}", algorithm=AKAv1-MD5, qop="auth"'


def expected_response(header: str, *, method: str = "REGISTER", password: bytes = RES) -> str:
    """RFC 2617 with the raw RES bytes as the password, from the header's own fields."""

    def param(name: str) -> str:
        start = header.index(f",{name}=") + len(name) + 2
        end = header.find(",", start)
        return header[start : end if end >= 0 else len(header)].strip('"')

    def md5(data: bytes) -> str:
        return hashlib.md5(data).hexdigest()

    ha1 = md5(b"alice:ims.test:" + password)
    ha2 = md5(f"{method}:{param('uri')}".encode())
    tail = f"{param('nc')}:{param('cnonce')}:{param('qop')}"
    return md5(f"{ha1}:{param('nonce')}:{tail}:{ha2}".encode())


def auth_line(scenario: Scenario, ctx: BasicCallContext) -> str:
    template = scenario.elements[0].template
    assert template is not None
    text = template.render(ctx, 0, 0)
    return next(x for x in text.split("\r\n") if "Authorization: " in x)


def one(keyword: str) -> tuple[Scenario, BasicCallContext]:
    scenario = load(
        "<send><![CDATA[\nREGISTER sip:ims.test SIP/2.0\nCSeq: 2 REGISTER\n"
        f"{keyword}\nContent-Length: 0\n]]></send>"
    )
    ctx = context(scenario)
    ctx.auth_challenge = CHALLENGE
    return scenario, ctx


def test_aka_keyword_parameters_answer_the_3gpp_challenge() -> None:
    scenario, ctx = one(f"[authentication username=alice aka_K=0x{K} aka_OP=0x{OP} aka_AMF=0xb9b9]")
    line = auth_line(scenario, ctx)
    assert line.startswith('Authorization: Digest username="alice",realm="ims.test",cnonce="')
    assert f',nc=00000001,qop=auth,uri="sip:127.0.0.1:5082",nonce="{NONCE}",response="' in line
    assert line.endswith('",algorithm=AKAv1-MD5')
    response = line.split('response="', 1)[1].split('"', 1)[0]
    assert response == expected_response(line)
    # A wrong password gives another response: the check above can fail.
    assert response != expected_response(line, password=b"password")


def test_aka_from_options_and_key_from_password() -> None:
    # -aka_K/-aka_OP stand in for missing keyword parameters.
    scenario, ctx = one("[authentication username=alice]")
    ctx.env = env(aka_k=f"0x{K}", aka_op=f"0x{OP}")
    line = auth_line(scenario, ctx)
    assert line.split('response="')[1].split('"')[0] == expected_response(line)
    # Without aka_K the key is the password's first 16 bytes (SIPp): K as text works too.
    key_text = bytes.fromhex(K).decode("latin-1")
    ctx.env = env(auth_password=key_text + "ignored", aka_op=f"0x{OP}")
    line = auth_line(scenario, ctx)
    assert line.split('response="')[1].split('"')[0] == expected_response(line)


def test_wrong_key_is_a_mac_failure() -> None:
    scenario, ctx = one(f"[authentication username=alice aka_K=0x{'00' * 16} aka_OP=0x{OP}]")
    with pytest.raises(RenderError, match=r"MAC != expectedMAC\): check aka_K and aka_OP"):
        auth_line(scenario, ctx)


def test_bad_aka_parameters_are_refused_with_their_name() -> None:
    with pytest.raises(ScenarioError, match=r"aka_K must be 32 hex digits \(16 bytes\), got 31"):
        one(f"[authentication aka_K=0x{K[:-1]}]")
    with pytest.raises(ScenarioError, match=r"aka_AMF must be 4 hex digits \(2 bytes\), got 6"):
        one("[authentication aka_AMF=0xb9b9b9]")
    with pytest.raises(DigestError, match="aka_OP must be 0x followed by 32 hex digits"):
        aka_value_bytes("0xzz", "aka_OP")
    with pytest.raises(DigestError, match="aka_K is 17 bytes long, at most 16"):
        aka_value_bytes("x" * 17, "aka_K")
    assert aka_value_bytes("ab", "aka_AMF") == b"ab"
    assert aka_value_bytes("a", "aka_AMF") == b"a\x00"
    with pytest.raises(DigestError, match="nonce is 3 bytes, 32 expected"):
        build_credentials(
            'Digest realm="r", nonce="YWJj", algorithm=AKAv1-MD5',
            username="u",
            password="p",
            method="REGISTER",
            uri="sip:r",
            body="",
            nonce_count=1,
            cnonce="c",
        )
