"""RTP between gossipper and SIPp 3.6.1's own ``rtp_stream`` / ``-rtp_echo`` (issue 17 item 5).

Every run is captured on loopback by dumpcap and read back by Wireshark (tshark), the judge both
programs have to agree with: packet counts and payload bytes per direction, and for gossipper's
streams its own per-stream figures against tshark's RTP stream analysis. SIPp counts no RTP, so
its side is what the capture shows.
"""

from __future__ import annotations

import hashlib
import pathlib
import re
import time

import pytest

from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_udp_port,
    gossipper_command,
    start,
    wait_for_udp_listener,
)
from tests.interop.media import (
    LoopbackCapture,
    free_udp_port_block,
    rtp_flows,
    rtp_streams,
    write_ulaw_tone,
)

pytestmark = pytest.mark.interop

DATA = pathlib.Path(__file__).parent / "data"
TONE_FILE = "media_tone.ulaw"  # the file data/*_rtp_stream.xml stream (found in the cwd)
TONE_S = 2.0
TONE_PACKETS = 100  # 2 s of 20 ms PCMU frames
TONE_OCTETS = 16000  # 160 bytes each


def _sipp(sipp: str, sip_port: int, media_port: int, *args: str) -> list[str]:
    # 3.6.1 binds its audio socket at -mp and its video socket at -mp + 2.
    return [sipp, "-i", LOOPBACK, "-p", str(sip_port), "-mp", str(media_port), "-m", "1",
            "-nostdin", *args]  # fmt: skip


def _assert_echoed_tone(
    tshark: str, pcap: pathlib.Path, streamer_port: int, echo_port: int
) -> None:
    """The capture shows one tone stream from ``streamer_port`` and the same payloads back."""
    ports = [streamer_port, echo_port]
    streams = {(s.src_port, s.dst_port): s for s in rtp_streams(tshark, pcap, ports)}
    assert set(streams) == {(streamer_port, echo_port), (echo_port, streamer_port)}
    for stream in streams.values():
        assert (stream.packets, stream.lost, stream.payload) == (TONE_PACKETS, 0, "g711U")
        assert stream.mean_delta_ms == pytest.approx(20.0, abs=0.5)
    flows = rtp_flows(tshark, pcap, ports)
    sent, echoed = flows[(streamer_port, echo_port)], flows[(echo_port, streamer_port)]
    assert sent.payload_octets == echoed.payload_octets == TONE_OCTETS
    assert sent.payload_sha256 == echoed.payload_sha256
    assert sent.malformed == echoed.malformed == 0


@pytest.mark.parametrize("streamer", ["uac", "uas"])
def test_capture_reads_sipp_rtp_stream_echoed_by_sipp(
    streamer: str,
    sipp_binary: str,
    tshark_binary: str,
    dumpcap_binary: str,
    tmp_path: pathlib.Path,
) -> None:
    """The harness on a known pair: one SIPp streams 2 s of tone with rtp_stream (as UAC or
    UAS), the other echoes it with -rtp_echo. What the capture shows here is what the
    gossipper tests below hold gossipper to."""
    write_ulaw_tone(tmp_path / TONE_FILE, TONE_S)
    uas_sip, uac_sip = free_udp_port(), free_udp_port()
    media = free_udp_port_block(8)
    uas_media, uac_media = media, media + 4
    if streamer == "uac":
        uas_role = ["-sn", "uas", "-rtp_echo"]
        uac_role = ["-sf", str(DATA / "uac_rtp_stream.xml")]
    else:
        uas_role = ["-sf", str(DATA / "uas_rtp_stream.xml")]
        uac_role = ["-sn", "uac", "-rtp_echo"]
    with LoopbackCapture(
        dumpcap_binary, tmp_path / "run.pcap", [uas_sip, uac_sip, *range(media, media + 8)]
    ) as capture:
        uas = start(_sipp(sipp_binary, uas_sip, uas_media, *uas_role), tmp_path)
        wait_for_udp_listener(uas_sip, uas)
        uac = start(
            _sipp(sipp_binary, uac_sip, uac_media, f"{LOOPBACK}:{uas_sip}", *uac_role,
                  "-d", "2500"),
            tmp_path,
        )  # fmt: skip
        uac_rc, _, uac_err = finish(uac, timeout_s=30)
        uas_rc, _, uas_err = finish(uas, timeout_s=30)
    assert (uac_rc, uas_rc) == (0, 0), uac_err[-2000:] + uas_err[-2000:]
    if streamer == "uac":
        _assert_echoed_tone(tshark_binary, capture.path, uac_media, uas_media)
    else:
        _assert_echoed_tone(tshark_binary, capture.path, uas_media, uac_media)


def test_gossipper_rtp_send_echoed_by_sipp(
    sipp_binary: str, tshark_binary: str, dumpcap_binary: str, tmp_path: pathlib.Path
) -> None:
    """gossipper's standalone sender (-rtp_send, no SIP) streams the tone file twice in
    parallel to SIPp's -rtp_echo socket: Wireshark sees each stream whole, paced at 20 ms, with
    the file's bytes as payload, echoed back unchanged, and gossipper's closing line has the
    same totals."""
    tone = write_ulaw_tone(tmp_path / TONE_FILE, TONE_S)
    block = free_udp_port_block(8)
    sipp_media, ours = block, block + 4  # ours: two streams from ours and ours + 2
    sipp_sip = free_udp_port()
    with LoopbackCapture(
        dumpcap_binary, tmp_path / "run.pcap", [*range(block, block + 8)]
    ) as capture:
        # SIPp echoes on its media socket whether or not a call is up.
        echo = start(_sipp(sipp_binary, sipp_sip, sipp_media, "-sn", "uas", "-rtp_echo"), tmp_path)
        wait_for_udp_listener(sipp_media, echo)
        sender = start(
            gossipper_command(
                "-rtp_send", "-rtp_addr", f"{LOOPBACK}:{sipp_media}",
                "-rtp_local", f"{LOOPBACK}:{ours}", "-rtp_file", TONE_FILE, "-rtp_loops", "1",
                "-rtp_streams", "2",
            ),
            tmp_path,
        )  # fmt: skip
        rc, out, err = finish(sender, timeout_s=30)
        time.sleep(0.2)  # the last echoes
        echo.terminate()
        finish(echo, timeout_s=10)
    assert rc == 0, out[-2000:] + err[-2000:]
    summary = re.search(r"rtp_send: done streams=(\d+) sent=(\d+) octets=(\d+)", out + err)
    assert summary is not None, out[-2000:] + err[-2000:]
    assert tuple(map(int, summary.groups())) == (2, 2 * TONE_PACKETS, 2 * TONE_OCTETS)
    ports = [sipp_media, ours, ours + 2]
    streams = {(s.src_port, s.dst_port): s for s in rtp_streams(tshark_binary, capture.path, ports)}
    senders = (ours, ours + 2)
    assert set(streams) == {(p, sipp_media) for p in senders} | {(sipp_media, p) for p in senders}
    for stream in streams.values():
        assert (stream.packets, stream.lost, stream.payload) == (TONE_PACKETS, 0, "g711U")
        assert stream.mean_delta_ms == pytest.approx(20.0, abs=0.5)
    flows = rtp_flows(tshark_binary, capture.path, ports)
    file_sha256 = hashlib.sha256((tmp_path / TONE_FILE).read_bytes()).hexdigest()
    assert tone == TONE_OCTETS
    for (source, _), flow in flows.items():
        assert (flow.packets, flow.payload_octets, flow.malformed) == (TONE_PACKETS, tone, 0)
        assert flow.payload_sha256 == file_sha256, f"payload from {source} is not the file"
    # Each stream has its own SSRC, and SIPp's echo keeps it.
    assert flows[(ours, sipp_media)].ssrcs == flows[(sipp_media, ours)].ssrcs
    assert flows[(ours, sipp_media)].ssrcs != flows[(ours + 2, sipp_media)].ssrcs
