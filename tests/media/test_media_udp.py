"""Media on real UDP sockets (loopback): a gossipper UAC streams to a gossipper UAS and back,
both binding their per-call RTP/RTCP pairs from their own -min_rtp_port ranges."""

from __future__ import annotations

import csv
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys

from tests.interop.harness import free_udp_port, wait_for_udp_listener
from tests.interop.media import free_udp_port_block

SCENARIOS = pathlib.Path(__file__).resolve().parents[1] / "golden_csv" / "scenarios"
REPO = pathlib.Path(__file__).resolve().parents[2]


def _gossipper(*args: str, cwd: pathlib.Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "gossipper", *args, "-nostdin", "-trace_media"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _row(directory: pathlib.Path) -> dict[str, str]:
    (path,) = directory.glob("*_media.csv")
    with path.open(newline="") as handle:
        (row,) = list(csv.DictReader(handle, delimiter=";"))
    return row


def test_rtp_both_ways_on_loopback(tmp_path: pathlib.Path) -> None:
    uas_dir, uac_dir = tmp_path / "uas", tmp_path / "uac"
    for directory, name in ((uas_dir, "uas_rtp.xml"), (uac_dir, "uac_rtp.xml")):
        directory.mkdir()
        shutil.copyfile(SCENARIOS / name, directory / name)
        shutil.copyfile(SCENARIOS / "tone.alaw", directory / "tone.alaw")
    sip_port = free_udp_port()
    base = free_udp_port_block(100)
    uas = _gossipper(
        "-sf", "uas_rtp.xml", "-i", "127.0.0.1", "-p", str(sip_port), "-m", "1",
        "-min_rtp_port", str(base), "-max_rtp_port", str(base + 49), cwd=uas_dir,
    )  # fmt: skip
    try:
        uac = _gossipper(
            "-sf", "uac_rtp.xml", "-i", "127.0.0.1", f"127.0.0.1:{sip_port}", "-m", "1",
            "-min_rtp_port", str(base + 50), "-max_rtp_port", str(base + 99), cwd=uac_dir,
        )  # fmt: skip
        uac_out, uac_err = uac.communicate(timeout=60)
        assert uac.returncode == 0, uac_out[-2000:] + uac_err
        uas.communicate(timeout=30)
        assert uas.returncode == 0
    finally:
        uas.kill()
        uas.wait()
    client, server = _row(uac_dir), _row(uas_dir)
    assert client["local"] == f"127.0.0.1:{base + 50}"
    assert client["remote"] == server["local"] == f"127.0.0.1:{base}"
    # 4 loops of 2.4 s at 50 packets/s each way; DTMF "15" replaces frames in the client's.
    # On a starved machine the scheduler skips a few overdue frames (never a burst): they
    # advance the timestamps but not the sequence numbers, so nothing counts as lost.
    assert 450 <= int(server["packets_sent"]) <= 480
    assert int(client["packets_received"]) == int(server["packets_sent"])
    assert int(server["packets_received"]) == int(client["packets_sent"]) > 450
    assert int(client["packets_lost"]) == int(server["packets_lost"]) == 0
    assert client["rtt_ms"] and 0.0 <= float(client["rtt_ms"]) < 500.0  # loopback, loaded host
    assert float(client["mos"]) > 4.0


def test_rtcp_and_call_quality_are_mirrored_to_hep_by_call_id(tmp_path: pathlib.Path) -> None:
    """A real run with -hep_addr (issue 16 item 1): the SIP messages, every RTCP report the
    UAC sends or receives (HEP type 5, Homer's JSON) and its per-stream quality (type 100, a
    JSON log) reach a UDP collector, the media ones correlated by the call's Call-ID."""
    from gossipper.hep import PROTO_SIP, decode

    uas_dir, uac_dir = tmp_path / "uas", tmp_path / "uac"
    for directory, name in ((uas_dir, "uas_rtp.xml"), (uac_dir, "uac_rtp.xml")):
        directory.mkdir()
        shutil.copyfile(SCENARIOS / name, directory / name)
        shutil.copyfile(SCENARIOS / "tone.alaw", directory / "tone.alaw")
    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.bind(("127.0.0.1", 0))
    collector.settimeout(0.2)
    hep_port = collector.getsockname()[1]
    sip_port = free_udp_port()
    base = free_udp_port_block(100)
    uas = _gossipper(
        "-sf", "uas_rtp.xml", "-i", "127.0.0.1", "-p", str(sip_port), "-m", "1",
        "-min_rtp_port", str(base), "-max_rtp_port", str(base + 49), cwd=uas_dir,
    )  # fmt: skip
    try:
        # The INVITE must find the UAS listening, or its retransmission is mirrored too.
        wait_for_udp_listener(sip_port, uas)
        uac = _gossipper(
            "-sf", "uac_rtp.xml", "-i", "127.0.0.1", f"127.0.0.1:{sip_port}", "-m", "1",
            "-min_rtp_port", str(base + 50), "-max_rtp_port", str(base + 99),
            "-hep_addr", f"127.0.0.1:{hep_port}", "-hep_capture_id", "2001", cwd=uac_dir,
        )  # fmt: skip
        datagrams: list[bytes] = []
        while uac.poll() is None:
            try:
                datagrams.append(collector.recv(65535))
            except TimeoutError:
                pass
        uac_out, uac_err = uac.communicate(timeout=60)
        assert uac.returncode == 0, uac_out[-2000:] + uac_err
        while True:
            try:
                datagrams.append(collector.recv(65535))
            except TimeoutError:
                break
        uas.communicate(timeout=30)
    finally:
        uas.kill()
        uas.wait()
        collector.close()
    row = _row(uac_dir)
    packets = [decode(data) for data in datagrams]
    assert {p.capture_id for p in packets} == {2001}
    sip = [p for p in packets if p.proto_type == PROTO_SIP]
    rtcp = [p for p in packets if p.proto_type == 5]
    # Type 100 carries JSON logs: each stream's quality and the call's result.
    logs = [p for p in packets if p.proto_type == 100 and b'"media_quality"' in p.payload]
    starts = [p.payload.split(b" ", 1)[0] for p in sip]
    # One INVITE, or more where a loaded machine made the UAC retransmit: each one mirrored.
    assert starts.count(b"INVITE") >= 1
    assert starts.count(b"ACK") == 1 and b"BYE" in starts
    assert all(row["call_id"].encode() in p.payload for p in sip)
    # The UAC sent one report at least every 5 s and at the end, and received the UAS's.
    local_rtcp = ("127.0.0.1", base + 51)
    sent = [p for p in rtcp if p.src == local_rtcp]
    received = [p for p in rtcp if p.dst == local_rtcp]
    assert len(sent) == int(row["rtcp_sent"]) >= 1
    assert len(received) == int(row["rtcp_received"]) >= 1
    assert {p.correlation_id for p in rtcp} == {row["call_id"]}
    assert {json.loads(p.payload)["type"] for p in rtcp} <= {200, 201}
    (log,) = logs
    assert log.correlation_id == row["call_id"]
    document = json.loads(log.payload)
    assert document["call_id"] == row["call_id"]
    assert document["packets_received"] == int(row["packets_received"])
