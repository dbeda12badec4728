"""Wireshark's decoders read our RTP, RFC 4733 and RTCP bytes as we meant them (issue 17)."""

from __future__ import annotations

import pathlib
import random
import socket
import subprocess

import dpkt
import pytest

from gossipper.media.quality import ReceiverStats
from gossipper.media.rtp import (
    Bye,
    ReportBlock,
    RtpExtension,
    RtpPacket,
    SdesChunk,
    SenderReport,
    SourceDescription,
    build_compound,
    dtmf_packets,
    ntp_from_seconds,
)

pytestmark = pytest.mark.interop

RTP_PORT = 40002
RTCP_PORT = 40003
FIELDS = [
    "rtp.version",
    "rtp.marker",
    "rtp.p_type",
    "rtp.seq",
    "rtp.timestamp",
    "rtp.ssrc",
    "rtp.csrc.item",
    "rtp.ext.profile",
    "rtp.padding.count",
    "rtpevent.event_id",
    "rtpevent.end_of_event",
    "rtpevent.volume",
    "rtpevent.duration",
    "rtcp.pt",
    "rtcp.senderssrc",
    "rtcp.sender.packetcount",
    "rtcp.sender.octetcount",
    "rtcp.ssrc.fraction",
    "rtcp.ssrc.cum_nr",
    "rtcp.ssrc.jitter",
    "rtcp.sdes.text",
    "rtcp.length_check",
    "_ws.malformed",
]


def _frame(sport: int, dport: int, payload: bytes) -> bytes:
    udp = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    udp.ulen = len(udp)
    loopback = socket.inet_aton("127.0.0.1")
    ip = dpkt.ip.IP(src=loopback, dst=loopback, p=dpkt.ip.IP_PROTO_UDP, data=udp)
    ip.len = len(ip)
    return bytes(dpkt.ethernet.Ethernet(src=bytes(6), dst=bytes(6), type=0x0800, data=ip))


def _write_pcap(path: pathlib.Path) -> None:
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f)
        voice = [
            RtpPacket(0, 65535, 160, 0xCAFE, b"\xff" * 160, marker=True, csrcs=(5,)),
            RtpPacket(
                0,
                0,
                320,
                0xCAFE,
                b"\xff" * 160,
                extension=RtpExtension(0xBEDE, bytes(4)),
                padding=4,
            ),
        ]
        events = dtmf_packets(
            "#", payload_type=101, ssrc=0xCAFE, sequence=1, timestamp=480, duration_ms=60
        )
        for i, packet in enumerate(voice + events):
            writer.writepkt(_frame(40000, RTP_PORT, packet.pack()), ts=1.0 + 0.02 * i)
        report = SenderReport(
            0xCAFE,
            ntp_from_seconds(1.0),
            480,
            2,
            320,
            (ReportBlock(0xBEEF, 42, 3, 0x10005, 9, 0, 0),),
        )
        sdes = SourceDescription((SdesChunk(0xCAFE, ((1, b"gossipper@127.0.0.1"),)),))
        compound = build_compound([report, sdes, Bye((0xCAFE,), b"done")])
        writer.writepkt(_frame(40001, RTCP_PORT, compound), ts=1.5)


def test_tshark_decodes_rtp_dtmf_and_rtcp(tshark_binary: str, tmp_path: pathlib.Path) -> None:
    pcap = tmp_path / "media.pcap"
    _write_pcap(pcap)
    command = [tshark_binary, "-r", str(pcap), "-d", f"udp.port=={RTP_PORT},rtp"]
    command += ["-d", f"udp.port=={RTCP_PORT},rtcp"]
    command += ["-o", "rtpevent.event_payload_type_value:101", "-T", "fields", "-E", "separator=;"]
    for name in FIELDS:
        command += ["-e", name]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    rows = [dict(zip(FIELDS, line.split(";"), strict=True)) for line in result.stdout.splitlines()]
    assert len(rows) == 8
    assert all(row["_ws.malformed"] == "" for row in rows)
    rtp = rows[:7]
    assert [r["rtp.version"] for r in rtp] == ["2"] * 7
    assert [r["rtp.seq"] for r in rtp] == ["65535", "0", "1", "2", "3", "4", "5"]
    assert [r["rtp.marker"] for r in rtp] == ["1", "0", "1", "0", "0", "0", "0"]
    assert rtp[0]["rtp.csrc.item"] == "0x00000005"
    assert rtp[1]["rtp.ext.profile"] == "0xbede" and rtp[1]["rtp.padding.count"] == "4"
    assert {r["rtp.ssrc"] for r in rtp} == {"0x0000cafe"}
    events = rtp[2:]
    assert [r["rtpevent.event_id"] for r in events] == ["11"] * 5
    assert [r["rtpevent.end_of_event"] for r in events] == ["0", "0", "1", "1", "1"]
    assert [r["rtpevent.duration"] for r in events] == ["160", "320", "480", "480", "480"]
    assert {r["rtp.timestamp"] for r in events} == {"480"}
    rtcp = rows[7]
    assert rtcp["rtcp.pt"] == "200,202,203"
    assert rtcp["rtcp.length_check"] == "1"
    assert rtcp["rtcp.senderssrc"] == "0x0000cafe"
    assert (rtcp["rtcp.sender.packetcount"], rtcp["rtcp.sender.octetcount"]) == ("2", "320")
    assert (rtcp["rtcp.ssrc.fraction"], rtcp["rtcp.ssrc.cum_nr"]) == ("42", "3")
    assert rtcp["rtcp.ssrc.jitter"] == "9"
    assert "gossipper@127.0.0.1" in rtcp["rtcp.sdes.text"]


def test_tshark_stream_analysis_agrees_with_receiver_stats(
    tshark_binary: str, tmp_path: pathlib.Path
) -> None:
    """Wireshark's RTP stream analysis (RFC 3550 jitter, loss) gives our figures for a stream."""
    rng = random.Random(7)
    stats = ReceiverStats(clock_rate=8000)
    jitters_ms: list[float] = []
    pcap = tmp_path / "stream.pcap"
    with pcap.open("wb") as f:
        writer = dpkt.pcap.Writer(f)
        for seq in range(200):
            if seq in (50, 120):  # two lost packets
                continue
            # pcap keeps microseconds: feed the stats the very time tshark will read.
            arrival_s = round(1000.0 + seq * 0.02 + rng.uniform(0, 0.008), 6)
            packet = RtpPacket(0, seq, seq * 160, 0xCAFE, b"\xff" * 160)
            writer.writepkt(_frame(40000, RTP_PORT, packet.pack()), ts=arrival_s)
            stats.receive(arrival_s, packet)
            jitters_ms.append(stats.jitter_ms)
    command = [tshark_binary, "-q", "-r", str(pcap), "-d", f"udp.port=={RTP_PORT},rtp"]
    command += ["-z", "rtp,streams"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    rows = [line.split() for line in result.stdout.splitlines() if "0x0000CAFE" in line]
    assert len(rows) == 1
    row = rows[0]
    # ... SSRC Payload Pkts Lost (pct) MinDelta MeanDelta MaxDelta MinJit MeanJit MaxJit [X]
    at = row.index("0x0000CAFE")
    packets, lost = int(row[at + 2]), int(row[at + 3])
    mean_jitter_ms, max_jitter_ms = float(row[at + 9]), float(row[at + 10])
    assert (packets, lost) == (stats.received, stats.lost) == (198, 2)
    assert max_jitter_ms == pytest.approx(max(jitters_ms), abs=0.001)
    assert mean_jitter_ms == pytest.approx(sum(jitters_ms) / len(jitters_ms), rel=0.05)
