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
from tests.interop.harness import LOOPBACK, finish, free_udp_port, start
from tests.interop.media import (
    LoopbackCapture,
    free_udp_port_block,
    packet_fields,
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
