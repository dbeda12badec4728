"""baresip (Debian's baresip-core) answering calls with real audio (issue 17 item 5).

baresip runs from a configuration of the test's own (tests/interop/baresip.py): auto-answer,
G.711, a 440 Hz WAV tone as its microphone, no sound card, and sndfile recording what it decoded.
Each call is captured on loopback and read back by tshark; both directions are checked: what
baresip received (its own counters, its decoded audio, the capture) and what it sent.
"""

from __future__ import annotations

import pathlib

import pytest

from tests.interop.baresip import Baresip, wav_stats
from tests.interop.harness import LOOPBACK, finish, free_udp_port, gossipper_command, start
from tests.interop.media import (
    LoopbackCapture,
    assert_agrees_with_tshark,
    cut_capture,
    free_udp_port_block,
    packet_fields,
    read_media_csv,
    realtime,
    rtp_flows,
    rtp_streams,
    write_ulaw_tone,
)

pytestmark = pytest.mark.interop

DATA = pathlib.Path(__file__).parent / "data"
TONE_FILE = "media_tone.ulaw"
TONE_PACKETS = 100  # 2 s of 20 ms PCMU frames
CALL_MS = 3000
# The tone is at half scale: an RMS near 16000 / sqrt(2) is the tone, not noise or silence.
TONE_RMS = 16000 / 2**0.5


def _assert_tone(path: pathlib.Path, min_seconds: float) -> None:
    rate, frames, rms = wav_stats(path)
    assert rate == 8000
    assert frames >= min_seconds * rate, f"{path.name}: {frames} frames"
    assert rms == pytest.approx(TONE_RMS, rel=0.15), f"{path.name}: RMS {rms}"


def test_baresip_answers_sipp_rtp_stream_with_audio(
    sipp_binary: str,
    tshark_binary: str,
    dumpcap_binary: str,
    baresip_agent: Baresip,
    tmp_path: pathlib.Path,
) -> None:
    """The harness on a known caller: SIPp's UAC streams 2 s of tone, baresip answers by
    itself and talks back for the whole call."""
    write_ulaw_tone(tmp_path / TONE_FILE, 2.0)
    sip_port, media = free_udp_port(), free_udp_port_block(4)
    agent = baresip_agent
    ports = [sip_port, agent.sip_port, *range(media, media + 4), *agent.rtp_ports]
    with LoopbackCapture(dumpcap_binary, tmp_path / "run.pcap", ports) as capture:
        uac = start(
            [sipp_binary, f"{LOOPBACK}:{agent.sip_port}", "-s", agent.user, "-i", LOOPBACK,
             "-p", str(sip_port), "-mp", str(media), "-m", "1", "-nostdin",
             "-sf", str(DATA / "uac_rtp_stream.xml"), "-d", str(CALL_MS)],
            tmp_path,
        )  # fmt: skip
        rc, _, err = finish(uac, timeout_s=30)
        agent.stop()
    assert rc == 0, err[-2000:]
    # baresip's own counters: it received every packet SIPp sent, and sent for the whole call.
    [(baresip_sent, baresip_received)] = agent.call_packets()
    assert baresip_received == TONE_PACKETS
    assert baresip_sent >= 0.9 * CALL_MS / 20
    # What baresip decoded from the network is the tone SIPp sent, not silence or noise.
    [decoded] = agent.decoded_recordings()
    _assert_tone(decoded, 1.5)
    rtp_ports = [media, *agent.rtp_ports[::2]]
    streams = rtp_streams(tshark_binary, capture.path, rtp_ports)
    [to_baresip] = [s for s in streams if s.src_port == media]
    [from_baresip] = [s for s in streams if s.dst_port == media]
    assert (to_baresip.packets, to_baresip.lost) == (TONE_PACKETS, 0)
    assert to_baresip.dst_port in agent.rtp_ports
    assert (from_baresip.packets, from_baresip.lost) == (baresip_sent, 0)
    assert from_baresip.payload == "g711U"
    flows = rtp_flows(tshark_binary, capture.path, rtp_ports)
    assert all(f.malformed == 0 for f in flows.values())
    # baresip's RTCP (on RTP port + 1) decodes cleanly.
    rtcp_port = from_baresip.src_port + 1
    rtcp = packet_fields(
        tshark_binary, capture.path, ["rtcp.pt"], "rtcp", rtp_ports, [rtcp_port, media + 1]
    )
    assert rtcp, "baresip sent no RTCP"
    assert all(row["_ws.malformed"] == "" for row in rtcp)


DTMF_DIGITS = "159#"
DTMF_EVENTS = ["1", "5", "9", "11"]  # RFC 4733 event codes of the digits


def test_baresip_answers_gossipper_rtp_stream_with_audio_dtmf_and_rtcp(
    tshark_binary: str, dumpcap_binary: str, baresip_agent: Baresip, tmp_path: pathlib.Path
) -> None:
    """gossipper calls baresip with rtp_stream (6 s of tone) and play_dtmf; baresip answers
    and talks back. Both directions, three witnesses: gossipper's -trace_media figures,
    baresip's own counters and decoded audio, and Wireshark's reading of the capture, which
    also decodes our telephone-events and RTCP reports, and baresip's, without errors."""
    write_ulaw_tone(tmp_path / TONE_FILE, 2.0)
    agent = baresip_agent
    sip_port, media = free_udp_port(), free_udp_port_block(16)
    ports = [sip_port, agent.sip_port, *range(media, media + 16), *agent.rtp_ports]
    with LoopbackCapture(dumpcap_binary, tmp_path / "run.pcap", ports) as capture:
        uac = start(
            realtime(gossipper_command(
                f"{LOOPBACK}:{agent.sip_port}", "-s", agent.user, "-i", LOOPBACK,
                "-p", str(sip_port), "-m", "1", "-nostdin",
                "-min_rtp_port", str(media), "-max_rtp_port", str(media + 15),
                "-sf", str(DATA / "uac_rtp_stream_dtmf.xml"), "-trace_media",
            )),
            tmp_path,
        )  # fmt: skip
        rc, out, err = finish(uac, timeout_s=30)
        agent.stop()
    assert rc == 0, out[-2000:] + err[-2000:]
    [ours] = read_media_csv(tmp_path, "uac_rtp_stream_dtmf")
    assert ours.remote_port in agent.rtp_ports
    assert ours.codec == "PCMU"
    [(baresip_sent, baresip_received)] = agent.call_packets()
    # 3 x 100 frames of tone, the digits' telephone-events in the same RTP stream.
    assert ours.packets_sent >= 0.95 * 3 * TONE_PACKETS
    assert baresip_received == ours.packets_sent
    assert ours.packets_lost == 0 and ours.malformed == 0
    # baresip decoded our tone, not silence or noise: 6 s of it, less the 1 s or so the digits
    # took and what its jitter buffer held back.
    [decoded] = agent.decoded_recordings()
    _assert_tone(decoded, 4.0)
    rtp_ports = [ours.local_port, ours.remote_port]
    rtcp_ports = [port + 1 for port in rtp_ports]
    # baresip talks until our BYE reaches it, we stop listening as we send it: what counts on
    # the wire is what came before our media closed (our last RTCP report is sent as it closes).
    ours_rtcp_times = packet_fields(
        tshark_binary, capture.path, ["frame.time_epoch"],
        f"rtcp && udp.srcport == {ours.local_port + 1}", rtp_ports, rtcp_ports,
    )  # fmt: skip
    closed = cut_capture(
        tshark_binary, capture.path, max(float(r["frame.time_epoch"]) for r in ours_rtcp_times)
    )
    streams = rtp_streams(tshark_binary, closed, rtp_ports, rtcp_ports)
    flows = rtp_flows(tshark_binary, closed, rtp_ports)
    # Jitter: compared in test_media_sipp.py's relay test; at baresip's 1-2 ms gossipper's
    # batch-stamped arrival times can put its largest jitter more than 5 % off (reported).
    _, from_baresip = assert_agrees_with_tshark(
        ours, streams, flows, unread_at_close=1, compare_jitter=False
    )
    assert from_baresip is not None
    assert ours.packets_received >= 0.9 * 6000 / 20
    # baresip counted what it sent, all of it on the wire.
    [whole] = [s for s in rtp_streams(tshark_binary, capture.path, rtp_ports, rtcp_ports)
               if s.dst_port == ours.local_port]  # fmt: skip
    assert whole.packets == baresip_sent >= ours.packets_received
    # Our telephone-events: each digit, its end packet sent three times, nothing malformed.
    events = packet_fields(
        tshark_binary, capture.path,
        ["rtpevent.event_id", "rtpevent.end_of_event", "rtp.marker", "rtp.timestamp"],
        f"rtpevent && udp.srcport == {ours.local_port}", rtp_ports, rtcp_ports,
    )  # fmt: skip
    assert all(e["_ws.malformed"] == "" for e in events)
    starts = [e["rtpevent.event_id"] for e in events if e["rtp.marker"] == "1"]
    assert starts == DTMF_EVENTS
    ends = [e["rtpevent.event_id"] for e in events if e["rtpevent.end_of_event"] == "1"]
    assert ends == [code for code in DTMF_EVENTS for _ in range(3)]
    # RTCP both ways decodes cleanly; gossipper counted what Wireshark saw.
    rtcp = packet_fields(
        tshark_binary, capture.path,
        ["rtcp.pt", "rtcp.length_check", "frame.time_epoch", "rtcp.ssrc.lsr"],
        "rtcp", rtp_ports, rtcp_ports,
    )  # fmt: skip
    sip_bye = packet_fields(
        tshark_binary, capture.path, ["frame.time_epoch"], 'sip.Method == "BYE"'
    )
    assert len(sip_bye) == 1
    ours_rtcp = [r for r in rtcp if int(r["udp.srcport"]) == ours.local_port + 1]
    theirs_rtcp = [r for r in rtcp if int(r["udp.dstport"]) == ours.local_port + 1]
    assert ours_rtcp and theirs_rtcp
    assert all(r["_ws.malformed"] == "" for r in rtcp)
    assert all(set(r["rtcp.length_check"].split(",")) == {"1"} for r in rtcp)
    assert ours.rtcp_sent == len(ours_rtcp)
    # baresip's RTCP BYE answers our SIP BYE: it may come after our media closed, uncounted.
    bye_time = float(sip_bye[0]["frame.time_epoch"])
    before_bye = [r for r in theirs_rtcp if float(r["frame.time_epoch"]) < bye_time]
    assert len(before_bye) <= ours.rtcp_received <= len(theirs_rtcp)
    # Sender reports from us, and baresip's reports about our stream gave a round trip.
    assert any(r["rtcp.pt"].split(",")[0] == "200" for r in ours_rtcp)
    # A round trip needs a report of baresip's that echoes one of our SRs (LSR not 0); on a busy
    # machine baresip's only report before the BYE can come before our first SR reached it.
    echoed = [
        r for r in before_bye if any(v not in ("", "0") for v in r["rtcp.ssrc.lsr"].split(","))
    ]
    assert (ours.rtt_ms is not None) == bool(echoed), (ours, before_bye)
