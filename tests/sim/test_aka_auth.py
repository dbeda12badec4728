"""AKAv1-MD5 end to end: a UAC engine answers a UAS engine's AKA challenge on the simulated
network. The UAS builds its nonce from the published 3GPP TS 35.208 test set 1 (RAND, SQN xor
AK, AMF, MAC-A) and checks the REGISTER's response against one computed here from the
published RES, so neither side's Milenage is the judge."""

from __future__ import annotations

import base64
import hashlib
import io
import pathlib

import pytest

from gossipper.cli.main import raw_main
from gossipper.cli.sim_command import build_plan
from gossipper.errors import ExitStatus
from gossipper.sim import SimulationResult, run_simulation

K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OP = "cdc202d5123e20f62b6d676ac72cb318"
RAND = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35")
SQN = bytes.fromhex("ff9bb4d0b607")
AMF = bytes.fromhex("b9b9")
MAC_A = bytes.fromhex("4a9ffac354dfafb3")
RES = bytes.fromhex("a54211d5e3ba50bf")
AK = bytes.fromhex("aa689c648370")
NONCE = base64.b64encode(
    RAND + bytes(s ^ a for s, a in zip(SQN, AK, strict=True)) + AMF + MAC_A
).decode("ascii")
REALM = "ims.test"
USER = "alice@ims.test"

UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="aka uac">
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:alice@ims.test>;tag=[call_number]
To: <sip:alice@ims.test>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:alice@[local_ip]:[local_port]>
Content-Length: 0
  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:alice@ims.test>;tag=[call_number]
To: <sip:alice@ims.test>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:alice@[local_ip]:[local_port]>
[authentication username=alice@ims.test]
Content-Length: 0
  ]]></send>
  <recv response="200"/>
</scenario>
"""

UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="aka uas">
  <recv request="REGISTER"/>
  <send><![CDATA[
SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="REALM", nonce="NONCE", algorithm=AKAv1-MD5
Content-Length: 0
  ]]></send>
  <recv request="REGISTER">
    <action>
      <ereg regexp="response=&quot;EXPECTED&quot;" search_in="hdr" header="Authorization:"
            check_it="true" assign_to="ok"/>
    </action>
  </recv>
  <Reference variables="ok"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
  ]]></send>
</scenario>
"""


def _expected_response(uri: str) -> str:
    """RFC 3310: MD5 digest without qop, the password being RES as raw bytes."""
    ha1 = hashlib.md5(f"{USER}:{REALM}:".encode() + RES).hexdigest()
    ha2 = hashlib.md5(f"REGISTER:{uri}".encode()).hexdigest()
    return hashlib.md5(f"{ha1}:{NONCE}:{ha2}".encode()).hexdigest()


def _run(tmp_path: pathlib.Path, expected: str, *options: str) -> SimulationResult:
    (tmp_path / "uac.xml").write_text(UAC)
    uas = UAS.replace("REALM", REALM).replace("NONCE", NONCE).replace("EXPECTED", expected)
    (tmp_path / "uas.xml").write_text(uas)
    argv = ["-sf", str(tmp_path / "uac.xml"), "-peer", str(tmp_path / "uas.xml"), "-m", "2"]
    argv += ["-r", "10", *options]
    plan = build_plan(argv, directory=str(tmp_path))
    stdout, stderr = io.StringIO(), io.StringIO()
    return run_simulation(plan, stdout, stderr)


AKA_OPTIONS = ("-aka_K", f"0x{K}", "-aka_OP", f"0x{OP}", "-auth_uri", "ims.test")


def test_uac_answers_an_aka_challenge_with_the_3gpp_res(tmp_path: pathlib.Path) -> None:
    # -auth_uri fixes the digest uri the response covers.
    result = _run(tmp_path, _expected_response("sip:ims.test"), *AKA_OPTIONS)
    assert result.exit_status is ExitStatus.SUCCESS
    assert result.main.snapshot.cumulative.successful_calls == 2
    # The UAS's check of the response passed for both calls.
    assert result.peer.snapshot.cumulative.successful_calls == 2
    assert result.peer.snapshot.cumulative.failed_calls == 0


def test_the_uas_check_fails_for_a_wrong_expected_response(tmp_path: pathlib.Path) -> None:
    # The same run judged against another value: the UAS's check fails, so it can fail.
    result = _run(tmp_path, hashlib.md5(b"not the response").hexdigest(), *AKA_OPTIONS)
    assert result.peer.snapshot.cumulative.failed_calls == 2
    assert result.peer.snapshot.cumulative.successful_calls == 0


def test_wrong_key_ends_the_run_with_one_line_naming_the_parameters(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "uac.xml").write_text(UAC)
    uas = UAS.replace("REALM", REALM).replace("NONCE", NONCE).replace("EXPECTED", "x")
    (tmp_path / "uas.xml").write_text(uas)
    monkeypatch.chdir(tmp_path)
    err = io.StringIO()
    argv = ["sim", "-sf", "uac.xml", "-peer", "uas.xml", "-m", "1", "-aka_K", "0x" + "00" * 16]
    status = raw_main(argv, stdout=io.StringIO(), stderr=err)
    assert status == ExitStatus.FATAL
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1, lines
    assert "MAC != expectedMAC" in lines[0] and "check aka_K and aka_OP" in lines[0]
