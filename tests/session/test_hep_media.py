"""HEP mirroring of media (issue 16 item 1): RTCP as protocol type 5 and each stream's quality as
a JSON log, correlated by Call-ID, received by a real UDP collector on loopback and decoded with
gossipper.hep; the queue bound applies to media packets as it does to SIP."""

from __future__ import annotations

import datetime
import json
import socket

import trio

from gossipper.config import RunConfig
from gossipper.hep import IPPROTO_UDP, PROTO_JSON_LOG, PROTO_RTCP, HepPacket, decode
from gossipper.interfaces import MediaTap
from gossipper.media.rtp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    SenderReport,
    build_compound,
    ntp_from_seconds,
)
from gossipper.session.hep import HepMirror, rtcp_json
from gossipper.stats.counters import RunStats
from gossipper.transport.udp import UdpTransportFactory
from tests.stats._media_samples import stream

WALL_S = 1_790_000_000.25
WALL_S_NTP = 1_790_000_000 + 2_208_988_800  # NTP seconds count from 1900
CALL_ID = "7-4242@127.0.0.1"


class FixedClock:
    tz: datetime.tzinfo | None = datetime.UTC

    def wall_time(self) -> float:
        return WALL_S


def _rtcp_sr() -> bytes:
    block = ReportBlock(0x2222, 12, 3, 70_000, 160, 0x12345678, 6554)
    report = SenderReport(0x1111, ntp_from_seconds(WALL_S), 16_000, 100, 17_200, (block,))
    return build_compound([report])


def _rtcp_rr() -> bytes:
    return build_compound([ReceiverReport(0x2222, (ReportBlock(0x1111, 0, 0, 500, 8, 0, 0),))])


def _mirror_and_collect(queue: int, feed: int) -> tuple[list[HepPacket], HepMirror]:
    """Run a mirror towards a UDP collector on loopback, feed it `feed` RTCP pairs and one
    quality record through RunStats, and return what the collector decoded."""
    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.bind(("127.0.0.1", 0))
    collector.settimeout(1.0)
    port = collector.getsockname()[1]
    config = RunConfig(hep_addr=f"127.0.0.1:{port}", hep_capture_id=77, hep_queue=queue)
    mirror = HepMirror(
        config, local_ip="127.0.0.1", target=("127.0.0.1", port), wall_clock=FixedClock()
    )
    tap: MediaTap = mirror  # the protocol the media factory receives
    stats = RunStats(
        elements=[],
        rtd_names=[],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=WALL_S,
        start_mono=0.0,
        target_rate=1.0,
    )
    stats.media_sinks.append(mirror.media_quality)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(mirror.run, UdpTransportFactory())
            for _ in range(feed):
                tap.rtcp(CALL_ID, _rtcp_sr(), ("127.0.0.1", 6001), ("127.0.0.1", 7001), True)
                tap.rtcp(CALL_ID, _rtcp_rr(), ("127.0.0.1", 7001), ("127.0.0.1", 6001), False)
            stats.media_stream_ended(
                stream(call_id=CALL_ID, local="127.0.0.1:6000", remote="127.0.0.1:7000")
            )
            await mirror.flush()
            nursery.cancel_scope.cancel()

    packets: list[HepPacket] = []
    try:
        trio.run(main)
        while True:
            packets.append(decode(collector.recv(65535)))
    except TimeoutError:
        pass
    finally:
        collector.close()
    return packets, mirror


def test_rtcp_and_quality_reach_a_udp_collector_correlated_by_call_id() -> None:
    packets, mirror = _mirror_and_collect(queue=100, feed=2)
    assert mirror.counts().sent == 5 and mirror.counts().dropped == 0
    rtcp = [p for p in packets if p.proto_type == PROTO_RTCP]
    logs = [p for p in packets if p.proto_type == PROTO_JSON_LOG]
    assert len(rtcp) == 4 and len(logs) == 1
    assert {p.correlation_id for p in packets} == {CALL_ID}
    assert {p.capture_id for p in packets} == {77}
    assert {p.ip_protocol for p in packets} == {IPPROTO_UDP}
    assert {(p.time_s, p.time_us) for p in packets} == {(1_790_000_000, 250_000)}
    # Each report as Homer's JSON, with its direction.
    assert (rtcp[0].src, rtcp[0].dst) == (("127.0.0.1", 6001), ("127.0.0.1", 7001))
    assert (rtcp[1].src, rtcp[1].dst) == (("127.0.0.1", 7001), ("127.0.0.1", 6001))
    sr, rr = json.loads(rtcp[0].payload), json.loads(rtcp[1].payload)
    assert sr == {
        "type": 200,
        "ssrc": 0x1111,
        "report_count": 1,
        "report_blocks": [
            {
                "source_ssrc": 0x2222,
                "fraction_lost": 12,
                "packets_lost": 3,
                "highest_seq_no": 70_000,
                "ia_jitter": 160,
                "lsr": 0x12345678,
                "dlsr": 6554,
            }
        ],
        "sender_information": {
            "ntp_timestamp_sec": WALL_S_NTP,
            "ntp_timestamp_usec": 250_000,
            "rtp_timestamp": 16_000,
            "packets": 100,
            "octets": 17_200,
        },
    }
    assert rr["type"] == 201 and rr["ssrc"] == 0x2222 and rr["report_count"] == 1
    assert rr["report_blocks"][0]["highest_seq_no"] == 500
    assert rr["sender_information"]["packets"] == 0
    # The quality document: every field of the record, from our RTP address to the peer's.
    (log,) = logs
    assert (log.src, log.dst) == (("127.0.0.1", 6000), ("127.0.0.1", 7000))
    document = json.loads(log.payload)
    assert document["type"] == "media_quality"
    assert document["call_id"] == CALL_ID and document["mos"] == 4.31
    assert document["packets_lost"] == 5 and document["loss_pct"] == 1.0
    assert document["rtt_ms"] == 0.75 and document["codec"] == "PCMU"


def test_rtcp_without_a_report_is_counted_not_sent() -> None:
    assert rtcp_json(build_compound([Bye((0x1111,))])) is None
    assert rtcp_json(b"not rtcp") is None
    assert rtcp_json(_rtcp_sr()) is not None


def test_media_packets_obey_the_queue_bound() -> None:
    # All 41 packets are queued before the sender runs: 10 fit, the rest are dropped, counted.
    packets, mirror = _mirror_and_collect(queue=10, feed=20)
    counts = mirror.counts()
    assert counts.sent == len(packets) == 10
    assert counts.dropped == 31
