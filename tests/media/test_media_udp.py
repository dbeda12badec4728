"""Media on real UDP sockets (loopback): a gossipper UAC streams to a gossipper UAS and back,
both binding their per-call RTP/RTCP pairs from their own -min_rtp_port ranges."""

from __future__ import annotations

import json
import pathlib
import shutil
import socket
import subprocess

from tests.media.calls import media_rows, run_call_pair

SCENARIOS = pathlib.Path(__file__).resolve().parents[1] / "golden_csv" / "scenarios"


def widen_bye_margin(uac_rtp: pathlib.Path) -> None:
    """Give a copy of uac_rtp.xml 0.8 s between the streams' end and its BYE, not 0.2 s.

    Its BYE goes 9.8 s after the ACK, and the UAS's 9.6 s stream started when the ACK
    arrived: a side stalled that long on a loaded host reads the BYE (or its 200) before the
    peer's last RTP and closes the call's media with it unread. A test that compares one
    side's packets received with the other's sent exactly needs both streams over first."""
    text = uac_rtp.read_text()
    assert text.count('<pause milliseconds="600"/>') == 1  # the pause before the BYE
    uac_rtp.write_text(text.replace('<pause milliseconds="600"/>', '<pause milliseconds="1200"/>'))


def test_rtp_both_ways_on_loopback(tmp_path: pathlib.Path) -> None:
    uas_dir, uac_dir = tmp_path / "uas", tmp_path / "uac"
    for directory, name in ((uas_dir, "uas_rtp.xml"), (uac_dir, "uac_rtp.xml")):
        directory.mkdir()
        shutil.copyfile(SCENARIOS / name, directory / name)
        shutil.copyfile(SCENARIOS / "tone.alaw", directory / "tone.alaw")
    widen_bye_margin(uac_dir / "uac_rtp.xml")
    uac, uas, base = run_call_pair(
        "uas_rtp.xml", "uac_rtp.xml", uas_dir=uas_dir, uac_dir=uac_dir, uac_status=0
    )
    assert uac.returncode == 0, uac.stdout[-2000:] + uac.stderr
    assert uas.returncode == 0
    (client,), (server,) = media_rows(uac_dir), media_rows(uas_dir)
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
    datagrams: list[bytes] = []

    def collect(uac: subprocess.Popen[str]) -> None:
        while uac.poll() is None:
            try:
                datagrams.append(collector.recv(65535))
            except TimeoutError:
                pass

    try:
        # The INVITE must find the UAS listening, or its retransmission is mirrored too.
        uac, _uas, base = run_call_pair(
            "uas_rtp.xml", "uac_rtp.xml", uas_dir=uas_dir, uac_dir=uac_dir,
            uac_args=("-hep_addr", f"127.0.0.1:{hep_port}", "-hep_capture_id", "2001"),
            uac_status=0, wait_listening=True, while_uac=collect,
        )  # fmt: skip
        assert uac.returncode == 0, uac.stdout[-2000:] + uac.stderr
        while True:
            try:
                datagrams.append(collector.recv(65535))
            except TimeoutError:
                break
    finally:
        collector.close()
    (row,) = media_rows(uac_dir)
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
