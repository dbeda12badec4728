"""RTP between gossipper and SIPp 3.6.1's own ``rtp_stream`` / ``-rtp_echo`` (issue 17 item 5).

Every run is captured on loopback by dumpcap and read back by Wireshark (tshark), the judge both
programs have to agree with: packet counts and payload bytes per direction, and for gossipper's
streams its own per-stream figures against tshark's RTP stream analysis. SIPp counts no RTP, so
its side is what the capture shows.
"""

from __future__ import annotations

import hashlib
import json
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
    Flow,
    GossipperStream,
    LoopbackCapture,
    LossyRelay,
    TsharkStream,
    assert_agrees_with_tshark,
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
TONE_FILE = "media_tone.ulaw"  # the file data/*_rtp_stream.xml stream (found in the cwd)
TONE_S = 2.0
TONE_PACKETS = 100  # 2 s of 20 ms PCMU frames
TONE_OCTETS = 16000  # 160 bytes each
# gossipper's scheduler skips frames it could only send in a burst after a stall (docs/media.md).
MIN_OUR_PACKETS = 95
CALLS = 3  # concurrent calls in the gossipper-against-SIPp runs


def _sipp(sipp: str, sip_port: int, media_port: int, *args: str) -> list[str]:
    # 3.6.1 binds its audio socket at -mp and its video socket at -mp + 2.
    return [sipp, "-i", LOOPBACK, "-p", str(sip_port), "-mp", str(media_port), "-m", "1",
            "-nostdin", *args]  # fmt: skip


Seen = tuple[list[TsharkStream], dict[tuple[int, int], Flow]]


def _seen(
    tshark: str, pcap: pathlib.Path, rtp_ports: list[int], rtcp_ports: list[int] | None = None
) -> Seen:
    """Wireshark's reading of a run, once: its RTP stream analysis and the per-flow totals."""
    return (
        rtp_streams(tshark, pcap, rtp_ports, rtcp_ports or []),
        rtp_flows(tshark, pcap, rtp_ports),
    )


def _assert_echoed_tone(
    seen: Seen, streamer_port: int, echo_port: int, minimum_packets: int = TONE_PACKETS
) -> None:
    """The capture shows one tone stream from ``streamer_port`` and the same payloads back.

    SIPp's rtp_stream sends every frame (late ones in a burst); gossipper's scheduler skips
    frames it could only send in a burst after a stall (docs/media.md), so a gossipper stream
    may be a few packets short on a loaded machine: its callers pass ``minimum_packets``."""
    all_streams, flows = seen
    pairs = {(streamer_port, echo_port), (echo_port, streamer_port)}
    streams = [s for s in all_streams if (s.src_port, s.dst_port) in pairs]
    assert sorted((s.src_port, s.dst_port) for s in streams) == sorted(pairs)
    for stream in streams:
        assert (stream.lost, stream.payload) == (0, "g711U")
    sent, echoed = flows[(streamer_port, echo_port)], flows[(echo_port, streamer_port)]
    assert sent.packets == echoed.packets >= minimum_packets
    assert sent.payload_octets == echoed.payload_octets == 160 * sent.packets
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
    seen = _seen(tshark_binary, capture.path, [uas_media, uac_media])
    if streamer == "uac":
        _assert_echoed_tone(seen, uac_media, uas_media)
    else:
        _assert_echoed_tone(seen, uas_media, uac_media)


# (gossipper's role, which side streams with rtp_stream); the other side echoes with -rtp_echo.
GOSSIPPER_CASES = [
    pytest.param("uas", "sipp", id="sipp_uac_streams_to_gossipper_uas_echo"),
    pytest.param("uac", "sipp", id="sipp_uas_streams_to_gossipper_uac_echo"),
    pytest.param("uac", "gossipper", id="gossipper_uac_streams_to_sipp_uas_echo"),
    pytest.param("uas", "gossipper", id="gossipper_uas_streams_to_sipp_uac_echo"),
    # Both stream the tone at once, no echo.
    pytest.param("uas", "both", id="sipp_uac_and_gossipper_uas_stream"),
    pytest.param("uac", "both", id="gossipper_uac_and_sipp_uas_stream"),
]


@pytest.mark.parametrize(("ours", "streamer"), GOSSIPPER_CASES)
def test_gossipper_media_against_sipp(
    ours: str,
    streamer: str,
    sipp_binary: str,
    tshark_binary: str,
    dumpcap_binary: str,
    tmp_path: pathlib.Path,
) -> None:
    """gossipper's rtp_stream and -rtp_echo against SIPp 3.6.1's, as UAC and as UAS, three
    calls at once: in each, the tone goes one way and comes back byte for byte, and
    gossipper's per-stream figures (-trace_media) are what Wireshark counts on the wire.
    (SIPp 3.6.1 streams and echoes every call on its one media socket.)"""
    write_ulaw_tone(tmp_path / TONE_FILE, TONE_S)
    uas_sip, uac_sip = free_udp_port(), free_udp_port()
    block = free_udp_port_block(20)
    sipp_media, our_media = block, block + 4
    role_args = {
        # The streamer runs the scenario file, the echoer SIPp's built-in scenario.
        ("uac", True): ["-sf", str(DATA / "uac_rtp_stream.xml")],
        ("uas", True): ["-sf", str(DATA / "uas_rtp_stream.xml")],
        ("uac", False): ["-sn", "uac", "-rtp_echo"],
        ("uas", False): ["-sn", "uas", "-rtp_echo"],
    }
    theirs = "uac" if ours == "uas" else "uas"
    our_args = role_args[(ours, streamer in ("gossipper", "both"))]
    their_args = role_args[(theirs, streamer in ("sipp", "both"))]
    our_scenario = pathlib.Path(our_args[1]).stem if our_args[0] == "-sf" else our_args[1]
    our_sip, their_sip = (uas_sip, uac_sip) if ours == "uas" else (uac_sip, uas_sip)
    gossipper = realtime(gossipper_command(
        "-i", LOOPBACK, "-p", str(our_sip), "-m", str(CALLS), "-nostdin",
        "-min_rtp_port", str(our_media), "-max_rtp_port", str(our_media + 15),
        "-trace_media", "-summary_json", str(tmp_path / "ours.json"), *our_args,
    ))  # fmt: skip
    sipp = _sipp(sipp_binary, their_sip, sipp_media, *their_args, "-m", str(CALLS))
    if ours == "uac":
        gossipper += [f"{LOOPBACK}:{uas_sip}", "-d", "2500"]
        uas_command, uac_command = sipp, gossipper
    else:
        sipp += [f"{LOOPBACK}:{uas_sip}", "-d", "2500"]
        uas_command, uac_command = gossipper, sipp
    ports = [uas_sip, uac_sip, *range(block, block + 20)]
    with LoopbackCapture(dumpcap_binary, tmp_path / "run.pcap", ports) as capture:
        uas = start(uas_command, tmp_path)
        wait_for_udp_listener(uas_sip, uas)
        uac = start(uac_command, tmp_path)
        uac_rc, uac_out, uac_err = finish(uac, timeout_s=30)
        uas_rc, uas_out, uas_err = finish(uas, timeout_s=30)
    assert (uac_rc, uas_rc) == (0, 0), uac_out[-2000:] + uac_err[-2000:] + uas_err[-2000:]
    records = read_media_csv(tmp_path, our_scenario)
    assert len(records) == CALLS
    assert len({record.local_port for record in records}) == CALLS
    # Wireshark's reading of the whole run, once.
    rtp_ports = [sipp_media, *(record.local_port for record in records)]
    rtcp_ports = [record.local_port + 1 for record in records]
    seen = _seen(tshark_binary, capture.path, rtp_ports, rtcp_ports)
    tone_sha256 = hashlib.sha256((tmp_path / TONE_FILE).read_bytes()).hexdigest()
    rtcp = packet_fields(
        tshark_binary, capture.path, ["rtcp.pt", "rtcp.length_check"], "rtcp",
        rtp_ports, rtcp_ports,
    )  # fmt: skip
    for record in records:
        _check_call_against_sipp(
            record, ours, streamer, our_media, sipp_media, seen, rtcp, tone_sha256
        )
    # The summary JSON's media section adds up the same streams.
    summary = json.loads((tmp_path / "ours.json").read_text())["media"]
    assert summary["streams"] == CALLS
    sent = sum(record.packets_sent for record in records)
    received = sum(record.packets_received for record in records)
    assert (summary["packets"]["sent"], summary["packets"]["received"]) == (sent, received)
    assert summary["octets"] == {"sent": 160 * sent, "received": 160 * received}
    assert summary["packets"]["lost"] == 0
    assert summary["rtcp"]["sent"] == sum(record.rtcp_sent for record in records)


def _check_call_against_sipp(
    record: GossipperStream,
    ours: str,
    streamer: str,
    our_media: int,
    sipp_media: int,
    seen: Seen,
    rtcp: list[dict[str, str]],
    tone_sha256: str,
) -> None:
    assert our_media <= record.local_port <= our_media + 15
    assert record.remote_port == sipp_media
    # Both ways: the tone, and its echo or the other's tone. (A stalled gossipper skips late
    # frames: up to 5 %.)
    assert record.packets_sent >= MIN_OUR_PACKETS and record.packets_received >= MIN_OUR_PACKETS
    if streamer != "both":
        assert record.packets_sent == record.packets_received
    assert record.octets_sent == 160 * record.packets_sent
    assert record.octets_received == 160 * record.packets_received
    assert (record.packets_lost, record.malformed) == (0, 0)
    if streamer == "gossipper":
        _assert_echoed_tone(seen, record.local_port, sipp_media, MIN_OUR_PACKETS)
    elif streamer == "sipp":
        assert record.packets_received == TONE_PACKETS
        _assert_echoed_tone(seen, sipp_media, record.local_port)
    else:  # each side its own tone: SIPp's arrives whole, ours whole unless frames were skipped
        assert record.packets_received == TONE_PACKETS
        flows = seen[1]
        theirs = flows[(sipp_media, record.local_port)]
        ours = flows[(record.local_port, sipp_media)]
        assert theirs.payload_sha256 == tone_sha256
        assert ours.packets == record.packets_sent
        if ours.packets == TONE_PACKETS:
            assert ours.payload_sha256 == tone_sha256
    # Jitter too: loopback's own is a fraction of a ms, and gossipper's receive path takes each
    # datagram's kernel receive time (SO_TIMESTAMPNS), the moment the capture sees it, so a
    # late wake-up of its receive task does not show as jitter (before that it came out
    # 0.07-0.2 ms, up to 40 %, above Wireshark's on this loaded machine).
    assert_agrees_with_tshark(record, *seen)
    # Our RTCP (SIPp sends none, and its -rtp_echo does not listen on RTP + 1): every report
    # we counted is on the wire, a sender report with SDES, and Wireshark finds nothing wrong.
    ours = [r for r in rtcp if int(r["udp.srcport"]) == record.local_port + 1]
    assert len(ours) == record.rtcp_sent >= 1
    for report in ours:
        assert report["_ws.malformed"] == ""
        assert set(report["rtcp.length_check"].split(",")) == {"1"}
        assert report["rtcp.pt"].split(",")[:2] == ["200", "202"], report


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
            realtime(gossipper_command(
                "-rtp_send", "-rtp_addr", f"{LOOPBACK}:{sipp_media}",
                "-rtp_local", f"{LOOPBACK}:{ours}", "-rtp_file", TONE_FILE, "-rtp_loops", "1",
                "-rtp_streams", "2",
            )),
            tmp_path,
        )  # fmt: skip
        rc, out, err = finish(sender, timeout_s=30)
        time.sleep(0.2)  # the last echoes
        echo.terminate()
        finish(echo, timeout_s=10)
    assert rc == 0, out[-2000:] + err[-2000:]
    summary = re.search(
        r"rtp_send: done streams=(\d+) sent=(\d+) octets=(\d+) .* skipped=(\d+)", out + err
    )
    assert summary is not None, out[-2000:] + err[-2000:]
    streams_done, sent, octets, skipped = map(int, summary.groups())
    assert (streams_done, sent + skipped, octets) == (2, 2 * TONE_PACKETS, 160 * sent)
    ports = [sipp_media, ours, ours + 2]
    streams = {(s.src_port, s.dst_port): s for s in rtp_streams(tshark_binary, capture.path, ports)}
    senders = (ours, ours + 2)
    assert set(streams) == {(p, sipp_media) for p in senders} | {(sipp_media, p) for p in senders}
    assert sum(streams[(p, sipp_media)].packets for p in senders) == sent
    for stream in streams.values():
        assert (stream.lost, stream.payload) == (0, "g711U")
        assert stream.packets >= MIN_OUR_PACKETS
    flows = rtp_flows(tshark_binary, capture.path, ports)
    file_sha256 = hashlib.sha256((tmp_path / TONE_FILE).read_bytes()).hexdigest()
    assert tone == TONE_OCTETS
    for (source, destination), flow in flows.items():
        assert flow.payload_octets == 160 * flow.packets and flow.malformed == 0
        echo = flows[(destination, source)]
        assert (echo.packets, echo.payload_sha256) == (flow.packets, flow.payload_sha256)
        if skipped == 0:  # every frame went out: the payloads are the file's bytes, in order
            assert flow.payload_sha256 == file_sha256, f"payload from {source} is not the file"
    # Each stream has its own SSRC, and SIPp's echo keeps it.
    assert flows[(ours, sipp_media)].ssrcs == flows[(sipp_media, ours)].ssrcs
    assert flows[(ours, sipp_media)].ssrcs != flows[(ours + 2, sipp_media)].ssrcs


def test_gossipper_figures_agree_with_tshark_under_loss_and_jitter(
    sipp_binary: str, tshark_binary: str, dumpcap_binary: str, tmp_path: pathlib.Path
) -> None:
    """SIPp's rtp_stream reaches gossipper's -rtp_echo UAS through a relay that drops every
    tenth packet and delays each by 0-15 ms: gossipper's loss, counts and jitter for that leg
    are what Wireshark's RTP stream analysis finds in the capture, and the MOS drops."""
    write_ulaw_tone(tmp_path / TONE_FILE, TONE_S)
    uas_sip, uac_sip = free_udp_port(), free_udp_port()
    block = free_udp_port_block(8)
    sipp_media, our_media, relay_port = block, block + 4, block + 6
    gossipper = realtime(gossipper_command(
        "-sf", str(DATA / "uas_echo_via_relay.xml"), "-key", "relay_port", str(relay_port),
        "-rtp_echo", "-i", LOOPBACK, "-p", str(uas_sip), "-m", "1", "-nostdin",
        # One port pair: the relay knows where the call's RTP socket is.
        "-min_rtp_port", str(our_media), "-max_rtp_port", str(our_media + 1),
        "-trace_media",
    ))  # fmt: skip
    ports = [uas_sip, uac_sip, *range(block, block + 8)]
    with (
        LoopbackCapture(dumpcap_binary, tmp_path / "run.pcap", ports) as capture,
        LossyRelay(relay_port, (LOOPBACK, our_media), max_delay_ms=15) as relay,
    ):
        uas = start(gossipper, tmp_path)
        wait_for_udp_listener(uas_sip, uas)
        uac = start(
            _sipp(sipp_binary, uac_sip, sipp_media, f"{LOOPBACK}:{uas_sip}",
                  "-sf", str(DATA / "uac_rtp_stream.xml"), "-d", "2500"),
            tmp_path,
        )  # fmt: skip
        uac_rc, _, uac_err = finish(uac, timeout_s=30)
        uas_rc, uas_out, uas_err = finish(uas, timeout_s=30)
    assert (uac_rc, uas_rc) == (0, 0), uac_err[-2000:] + uas_out[-2000:] + uas_err[-2000:]
    assert relay.dropped == TONE_PACKETS // 10
    [record] = read_media_csv(tmp_path, "uas_echo_via_relay")
    assert (record.local_port, record.remote_port) == (our_media, relay_port)
    assert record.packets_received == relay.forwarded == TONE_PACKETS - relay.dropped
    # RFC 3550 counts up to the highest sequence number received: a last dropped packet is
    # not missed yet.
    assert record.packets_lost in (relay.dropped, relay.dropped - 1)
    assert record.packets_sent == record.packets_received  # the echo
    rtp_ports = [sipp_media, our_media, relay_port]
    streams = rtp_streams(tshark_binary, capture.path, rtp_ports)
    flows = rtp_flows(tshark_binary, capture.path, rtp_ports)
    _, received = assert_agrees_with_tshark(record, streams, flows)
    assert received is not None and received.lost == record.packets_lost > 0
    # Jitter well above loopback's own, so the 5 % comparison above is not only the floor.
    assert received.max_jitter_ms > 3.0
    assert record.mos is not None and record.mos < 4.0


def test_gossipper_uac_pcap_echoed_by_sipp(
    sipp_binary: str, tshark_binary: str, dumpcap_binary: str, tmp_path: pathlib.Path
) -> None:
    """The built-in uac_pcap (play_pcap_audio of the shipped G.711 A-law capture, then the
    RFC 2833 DTMF capture) against SIPp's -rtp_echo UAS: what gossipper replayed is on the
    wire, comes back, and its counts are Wireshark's; the replayed telephone-events decode."""
    uas_sip, uac_sip = free_udp_port(), free_udp_port()
    block = free_udp_port_block(20)
    sipp_media, our_media = block, block + 4
    with LoopbackCapture(
        dumpcap_binary, tmp_path / "run.pcap", [uas_sip, uac_sip, *range(block, block + 20)]
    ) as capture:
        uas = start(_sipp(sipp_binary, uas_sip, sipp_media, "-sn", "uas", "-rtp_echo"), tmp_path)
        wait_for_udp_listener(uas_sip, uas)
        uac = start(
            realtime(gossipper_command(
                "-sn", "uac_pcap", f"{LOOPBACK}:{uas_sip}", "-i", LOOPBACK, "-p", str(uac_sip),
                "-m", "1", "-nostdin", "-min_rtp_port", str(our_media),
                "-max_rtp_port", str(our_media + 15), "-trace_media",
            )),
            tmp_path,
        )  # fmt: skip
        uac_rc, uac_out, uac_err = finish(uac, timeout_s=40)
        uas_rc, _, uas_err = finish(uas, timeout_s=30)
    assert (uac_rc, uas_rc) == (0, 0), uac_out[-2000:] + uac_err[-2000:] + uas_err[-2000:]
    [record] = read_media_csv(tmp_path, "uac_pcap")
    assert record.remote_port == sipp_media
    # About 8 s of A-law and the digits: hundreds of packets, every one echoed.
    assert record.packets_sent == record.packets_received > 300
    rtp_ports = [sipp_media, record.local_port]
    seen = _seen(tshark_binary, capture.path, rtp_ports)
    # The two captures replayed one after the other share an SSRC but not a timestamp line:
    # RFC 3550 jitter takes the jump in (about 12 ms at the end), Wireshark's analysis does
    # not (under 3 ms). Counts, octets and loss must still agree.
    assert_agrees_with_tshark(record, *seen, compare_jitter=False)
    flows = seen[1]
    assert flows[(record.local_port, sipp_media)].payload_types == {8, 101}
    events = packet_fields(
        tshark_binary, capture.path, ["rtpevent.event_id", "rtpevent.end_of_event"],
        f"rtpevent && udp.srcport == {record.local_port}", rtp_ports,
    )  # fmt: skip
    assert events and all(e["_ws.malformed"] == "" for e in events)
    assert any(e["rtpevent.end_of_event"] == "1" for e in events)
