"""DTLS-SRTP in real calls (issue 18 item 2): a gossipper UAC and a gossipper UAS on loopback
(real sockets, two processes) negotiate a=fingerprint/a=setup, run the handshake on the RTP
port, and stream SRTP both ways with the exported keys; a wrong fingerprint fails the call with
its named reason."""

from __future__ import annotations

import csv
import json
import os
import pathlib
import shutil
import subprocess

from tests.interop.harness import free_udp_port
from tests.interop.media import free_udp_port_block
from tests.media.calls import Completed, gossipper, media_rows, run_call_pair
from tests.media.secure import certificate_pem, require

require("pylibsrtp")
require("OpenSSL")

DATA = pathlib.Path(__file__).resolve().parent / "data"
TONE = pathlib.Path(__file__).resolve().parents[2] / "golden_csv" / "scenarios" / "tone.alaw"
# 2.4 s of A-law at 50 packets/s.
TONE_PACKETS = 120
SUMMARY = ("-summary_json", "summary.json")  # every gossipper of this file and its users'


def summary(directory: pathlib.Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((directory / "summary.json").read_text())
    return document


def prepare(tmp_path: pathlib.Path, uas_text: str | None = None) -> tuple[pathlib.Path, ...]:
    uas_dir, uac_dir = tmp_path / "uas", tmp_path / "uac"
    for directory, name in ((uas_dir, "uas_dtls.xml"), (uac_dir, "uac_dtls.xml")):
        directory.mkdir()
        shutil.copyfile(DATA / name, directory / name)
        shutil.copyfile(TONE, directory / "tone.alaw")
    if uas_text is not None:
        (uas_dir / "uas_dtls.xml").write_text(uas_text)
    return uas_dir, uac_dir


def run_pair(
    uas_dir: pathlib.Path, uac_dir: pathlib.Path, *uac_args: str, uas_args: tuple[str, ...] = ()
) -> tuple[Completed, Completed, int]:
    """The DTLS scenarios' call (tests.media.calls), each side writing summary.json; both
    are waited for whatever the UAC's status (some tests judge the UAS's)."""
    return run_call_pair(
        "uas_dtls.xml", "uac_dtls.xml", uas_dir=uas_dir, uac_dir=uac_dir, uas_args=uas_args,
        uac_args=uac_args, extra=SUMMARY,
    )  # fmt: skip


def assert_srtp_both_ways(
    uac_dir: pathlib.Path, uas_dir: pathlib.Path
) -> tuple[dict[str, str], dict[str, str]]:
    """Each side streamed the tone once, every frame sent arrived, and neither summary counts
    an SRTP or secure-media failure; returns the UAC's and the UAS's rows for more checks.

    Frames due before the handshake gave keys are not sent (never in clear text): the UAS
    starts its stream on the ACK and the handshake started with the INVITE, so on a loaded
    host its first frames may go that way; and a loaded host skips a few overdue frames
    (never a burst). Every frame sent arrived and was authenticated and decrypted.
    """
    (client,), (server,) = media_rows(uac_dir), media_rows(uas_dir)
    for sender, receiver in ((client, server), (server, client)):
        assert TONE_PACKETS * 2 // 3 <= int(sender["packets_sent"]) <= TONE_PACKETS
        assert int(receiver["packets_received"]) == int(sender["packets_sent"])
    for directory in (uac_dir, uas_dir):
        media = summary(directory)["media"]
        assert isinstance(media, dict)
        assert media["srtp"] == {"auth_failures": 0, "replays": 0}
        assert media.get("secure_failures", {}) == {}
    return client, server


def assert_secure_failure(run: Completed, directory: pathlib.Path, reason: str) -> str:
    """The run's one call failed (status 1), counted in summary.json under the secure-media
    ``reason``; returns its errors log, whose message the caller checks."""
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr
    document = summary(directory)
    calls, media = document["calls"], document["media"]
    assert isinstance(calls, dict) and isinstance(media, dict)
    assert calls["failed"] == 1
    assert media["secure_failures"] == {reason: 1}
    return "".join(p.read_text() for p in directory.glob("*_errors.log"))


SILENT_PORT = 9  # discard: nobody answers SIP there


def run_uac_alone(uac_dir: pathlib.Path, *uac_args: str) -> subprocess.CompletedProcess[str]:
    """The UAC against a SIP port nobody listens on (its call must fail before sending);
    its own SIP port is a free one (5060 may receive other programs' traffic)."""
    base = free_udp_port_block(100)
    uac = gossipper(
        "-sf", "uac_dtls.xml", "-i", "127.0.0.1", f"127.0.0.1:{SILENT_PORT}", "-m", "1",
        "-p", str(free_udp_port()), "-min_rtp_port", str(base), "-max_rtp_port",
        str(base + 49), "-trace_err", "-trace_msg", *uac_args, cwd=uac_dir, extra=SUMMARY,
    )  # fmt: skip
    out, err = uac.communicate(timeout=60)
    return subprocess.CompletedProcess(uac.args, uac.returncode, out, err)


def test_dtls_srtp_call_between_two_gossippers(tmp_path: pathlib.Path) -> None:
    uas_dir, uac_dir = prepare(tmp_path)
    uac, uas, base = run_pair(uas_dir, uac_dir)
    assert uac.returncode == 0, uac.stdout[-2000:] + uac.stderr
    assert uas.returncode == 0, uas.stdout[-2000:] + uas.stderr
    client, server = assert_srtp_both_ways(uac_dir, uas_dir)
    assert client["remote"] == server["local"] == f"127.0.0.1:{base}"
    for receiver in (server, client):
        assert int(receiver["packets_lost"]) == 0
        assert int(receiver["malformed"]) == 0


def test_wrong_fingerprint_fails_the_call_with_its_reason(tmp_path: pathlib.Path) -> None:
    text = (DATA / "uas_dtls.xml").read_text()
    wrong = "sha-256 " + ":".join(["AB"] * 32)
    uas_dir, uac_dir = prepare(tmp_path, text.replace("[dtls_fingerprint]", wrong))
    uac, _uas, _base = run_pair(uas_dir, uac_dir, "-trace_err")
    assert uac.returncode == 1, uac.stdout[-2000:] + uac.stderr
    document = summary(uac_dir)
    calls, failures = document["calls"], document["failures"]
    assert isinstance(calls, dict) and isinstance(failures, dict)
    assert calls["failed"] == 1 and failures["FailedCallRejected"] == 1
    media = document["media"]
    assert isinstance(media, dict)
    assert media["secure_failures"] == {"dtls_fingerprint_mismatch": 1}
    errors = "".join(p.read_text() for p in uac_dir.glob("*_errors.log")) + uac.stderr
    assert "dtls_fingerprint_mismatch" in errors


def test_unreachable_turn_server_fails_the_call_before_its_invite(tmp_path: pathlib.Path) -> None:
    """Nobody answers on -turn_server: the allocation times out (5 s, retransmitted from a
    500 ms RTO), the call fails with turn_timeout without sending its INVITE, nothing hangs."""
    _uas_dir, uac_dir = prepare(tmp_path)
    uac = run_uac_alone(
        uac_dir, "-turn_server", f"127.0.0.1:{free_udp_port()}", "-turn_user", "u",
        "-turn_pass", "p",
    )  # fmt: skip
    errors = assert_secure_failure(uac, uac_dir, "turn_timeout")
    assert "turn_timeout: no answer to Allocate in 5 s" in errors
    messages = "".join(p.read_text() for p in uac_dir.glob("*_messages.log"))
    assert f"INVITE sip:service@127.0.0.1:{SILENT_PORT} " not in messages


def test_turn_options_are_checked(tmp_path: pathlib.Path) -> None:
    _uas_dir, uac_dir = prepare(tmp_path)
    uac = run_uac_alone(uac_dir, "-turn_server", "127.0.0.1:3478")
    assert uac.returncode != 0  # the exit status of every option error (config.py)
    assert "-turn_server needs -turn_user and -turn_pass" in uac.stderr
    assert "Traceback" not in uac.stderr
    uac = run_uac_alone(uac_dir, "-turn_server", "127.0.0.1:x", "-turn_user", "u",
                        "-turn_pass", "p")  # fmt: skip
    assert uac.returncode != 0  # the exit status of every option error (config.py)
    assert "-turn_server: expected HOST[:PORT]" in uac.stderr
    uac = run_uac_alone(uac_dir, "-dtls_cert", str(tmp_path / "missing.pem"),
                        "-dtls_key", str(tmp_path / "missing.key"))  # fmt: skip
    assert uac.returncode != 0  # the exit status of every option error (config.py)
    assert "-dtls_cert: cannot read" in uac.stderr and "Traceback" not in uac.stderr


def test_dtls_srtp_calls_in_the_simulation(tmp_path: pathlib.Path) -> None:
    """The same pair in `gossipper sim` (in-memory network, virtual time, lossless): the
    handshake and SRTP run on the simulated sockets with no code of their own."""
    import dataclasses
    import io

    from gossipper.cli.sim_command import build_plan
    from gossipper.sim.run import run_simulation

    for name in ("uac_dtls.xml", "uas_dtls.xml"):
        shutil.copyfile(DATA / name, tmp_path / name)
    shutil.copyfile(TONE, tmp_path / "tone.alaw")
    args = ["-sf", "uac_dtls.xml", "-peer", "uas_dtls.xml", "-m", "2", "-r", "2", "-seed", "3",
            "-trace_media", "-summary_json", "summary.json"]  # fmt: skip
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        plan = dataclasses.replace(build_plan(args, directory="."), record_payloads=True)
        result = run_simulation(plan, io.StringIO(), io.StringIO())
    finally:
        os.chdir(previous)
    (path,) = tmp_path.glob("*_media.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert len(rows) == 2
    for row in rows:
        assert int(row["packets_sent"]) == int(row["packets_received"]) == TONE_PACKETS
        assert row["secure_failure"] == ""
    media = summary(tmp_path)["media"]
    assert isinstance(media, dict) and media["secure_failures"] == {}
    # On the simulated wire: DTLS records, and SRTP whose payload is not the tone's bytes.
    tone = TONE.read_bytes()
    payloads = list(result.payloads.values())
    assert any(20 <= p[0] <= 63 for p in payloads)
    # 160 bytes of A-law and the authentication tag of the suite the handshake chose (OpenSSL
    # picks AEAD_AES_128_GCM, 16 bytes, from both sides' lists): longer than the plain packet.
    media_packets = [
        p for p in payloads
        if len(p) in (12 + 160 + 10, 12 + 160 + 16) and p[0] >> 6 == 2 and p[1] & 0x7F == 8
    ]  # fmt: skip
    assert len(media_packets) >= 2 * TONE_PACKETS
    assert all(p[12:172] not in tone for p in media_packets)


def _expired_certificate(directory: pathlib.Path) -> tuple[str, str]:
    """An ECDSA certificate that expired in 2020, as -dtls_cert/-dtls_key PEM files."""
    import datetime

    from gossipper.media.secure.dtls import generate_certificate

    old = generate_certificate(
        now=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
        validity=datetime.timedelta(days=1),
    )
    cert, key = directory / "expired.pem", directory / "expired.key"
    cert_pem, key_pem = certificate_pem(old)
    cert.write_bytes(cert_pem)
    key.write_bytes(key_pem)
    return str(cert), str(key)


def test_expired_peer_certificate_fails_the_call_with_its_reason(tmp_path: pathlib.Path) -> None:
    """The UAS presents an expired certificate (-dtls_cert) whose fingerprint its SDP
    announces truly: the UAC refuses it, dtls_certificate_expired, and sends no media."""
    uas_dir, uac_dir = prepare(tmp_path)
    cert, key = _expired_certificate(uas_dir)
    uac, _uas, _base = run_pair(
        uas_dir, uac_dir, "-trace_err", uas_args=("-dtls_cert", cert, "-dtls_key", key)
    )
    errors = assert_secure_failure(uac, uac_dir, "dtls_certificate_expired")
    assert "dtls_certificate_expired" in errors
    (client,) = media_rows(uac_dir)
    assert int(client["packets_sent"]) == 0
