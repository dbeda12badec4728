"""AKAv1-MD5 against SIPp 3.6.1, both ways: one side challenges with an AKA nonce, the other
answers with [authentication aka_K= aka_OP= aka_AMF=], and the challenger's <ereg check_it>
accepts only the response this test expects. SIPp's own Milenage is the independent judge of
ours: the nonce and the expected response come from gossipper.scenario.milenage, SIPp answers
(or checks) with its own code.

The keys are plain text: SIPp 3.6.1 reads a 0x keyword value into raw bytes and then parses
them again as message text, so a key byte like 0x5b ('[') breaks it."""

from __future__ import annotations

import base64
import hashlib
import pathlib

import pytest

from gossipper.scenario import milenage
from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_udp_port,
    gossipper_command,
    start,
    wait_for_udp_listener,
)
from tests.sim.test_aka_auth import UAC, UAS

pytestmark = pytest.mark.interop

K = b"0123456789abcdef"
OP = b"fedcba9876543210"
AMF = b"AB"
RAND = bytes(range(16))
SQN = bytes.fromhex("000000000021")
USER = "alice"
REALM = "ims.test"


def _nonce_and_response() -> tuple[str, str]:
    opc = milenage.compute_opc(K, OP)
    vectors = milenage.f2345(K, opc, RAND)
    mac, _ = milenage.f1(K, opc, RAND, SQN, AMF)
    sqn_xor_ak = bytes(s ^ a for s, a in zip(SQN, vectors.ak, strict=True))
    nonce = base64.b64encode(RAND + sqn_xor_ak + AMF + mac).decode("ascii")
    ha1 = hashlib.md5(f"{USER}:{REALM}:".encode() + vectors.res).hexdigest()
    ha2 = hashlib.md5(f"REGISTER:sip:{REALM}".encode()).hexdigest()
    return nonce, hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()


def _write_scenarios(directory: pathlib.Path) -> None:
    nonce, expected = _nonce_and_response()
    uas = UAS.replace("REALM", REALM).replace("NONCE", nonce).replace("EXPECTED", expected)
    (directory / "uas.xml").write_text(uas)
    keyword = f"[authentication username={USER} aka_K={K.decode()} aka_OP={OP.decode()}"
    keyword += f" aka_AMF={AMF.decode()}]"
    (directory / "uac.xml").write_text(
        UAC.replace("[authentication username=alice@ims.test]", keyword)
    )


@pytest.mark.parametrize("server", ["gossipper", "sipp"])
def test_aka_challenge_answered_across_implementations(
    sipp_binary: str, tmp_path: pathlib.Path, server: str
) -> None:
    _write_scenarios(tmp_path)
    server_port = free_udp_port()
    common = ["-m", "2", "-r", "5", "-nostdin"]
    server_args = ["-sf", "uas.xml", "-i", LOOPBACK, "-p", str(server_port), *common]
    client_args = [f"{LOOPBACK}:{server_port}", "-sf", "uac.xml", "-i", LOOPBACK]
    client_args += ["-p", str(free_udp_port()), "-auth_uri", REALM, *common]
    if server == "gossipper":
        server_command = gossipper_command(*server_args)
        client_command = [sipp_binary, *client_args]
    else:
        server_command = [sipp_binary, *server_args]
        client_command = gossipper_command(*client_args)
    uas = start(server_command, tmp_path)
    wait_for_udp_listener(server_port, uas)
    client_status, client_out, client_err = finish(start(client_command, tmp_path), 60)
    server_status, server_out, server_err = finish(uas, 60)
    # The server's <ereg check_it> fails the call unless the response is the expected one.
    assert server_status == 0, server_out[-2000:] + server_err[-2000:]
    assert client_status == 0, client_out[-2000:] + client_err[-2000:]
