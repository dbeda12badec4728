"""HEP mirroring of media checked by a real collector: Kamailio's sipcapture stores the RTCP
reports (HEP type 5) in rtcp_capture and each stream's quality JSON log (type 100) in
logs_capture, both under the call's Call-ID (correlation id), with the real addresses, ports
and times. The media layer's calls are made here directly (the MediaTap and the RunStats
media sink), so this checks the HEP side alone."""

from __future__ import annotations

import datetime
import json
import pathlib
import time

import pytest
import trio

from gossipper.config import RunConfig
from gossipper.media.rtp import (
    ReceiverReport,
    ReportBlock,
    SdesChunk,
    SenderReport,
    SourceDescription,
    build_compound,
    ntp_from_seconds,
)
from gossipper.session.hep import HepMirror
from gossipper.stats.counters import RunStats
from gossipper.transport.udp import UdpTransportFactory
from tests.interop.harness import LOOPBACK
from tests.interop.kamailio_proxy import kamailio_binary
from tests.interop.sipcapture import CAPTURE_NODE, Collector, sipcapture
from tests.stats._media_samples import stream

pytestmark = pytest.mark.interop

PASSWORD = "media-key"
WALL_S = 1_790_000_000.5
CALLS = ("11-77@127.0.0.1", "12-77@127.0.0.1")


class FixedClock:
    tz: datetime.tzinfo | None = datetime.UTC

    def wall_time(self) -> float:
        return WALL_S


def _sr(ssrc: int) -> bytes:
    block = ReportBlock(ssrc + 1, 25, 4, 66_000, 240, 0x01020304, 3277)
    report = SenderReport(ssrc, ntp_from_seconds(WALL_S), 8000, 50, 8600, (block,))
    sdes = SourceDescription((SdesChunk(ssrc, ((1, b"gossipper@127.0.0.1"),)),))
    return build_compound([report, sdes])


def _rr(ssrc: int) -> bytes:
    return build_compound([ReceiverReport(ssrc, (ReportBlock(ssrc - 1, 0, 0, 60, 8, 0, 0),))])


def _mirror(collector: Collector, password: str) -> HepMirror:
    config = RunConfig(
        hep_addr=f"{LOOPBACK}:{collector.hep_port}", hep_password=password, hep_capture_id=2003
    )
    mirror = HepMirror(
        config,
        local_ip=LOOPBACK,
        target=(LOOPBACK, collector.hep_port),
        wall_clock=FixedClock(),
    )
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
            for number, call_id in enumerate(CALLS):
                local, remote = (LOOPBACK, 6001 + 4 * number), (LOOPBACK, 7001 + 4 * number)
                mirror.rtcp(call_id, _sr(0x100 * (number + 1)), local, remote, True)
                mirror.rtcp(call_id, _rr(0x100 * (number + 1) + 1), remote, local, False)
                stats.media_stream_ended(
                    stream(
                        call_id=call_id,
                        call_number=number + 1,
                        local=f"{LOOPBACK}:{6000 + 4 * number}",
                        remote=f"{LOOPBACK}:{7000 + 4 * number}",
                    )
                )
            await mirror.flush()
            nursery.cancel_scope.cancel()

    trio.run(main)
    return mirror


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def test_rtcp_and_quality_rows_are_stored_under_the_call_id(tmp_path: pathlib.Path) -> None:
    with sipcapture(kamailio_binary(), tmp_path / "collector", PASSWORD) as collector:
        mirror = _mirror(collector, PASSWORD)
        rtcp = collector.wait_rows("rtcp_capture", 2 * len(CALLS))
        logs = collector.wait_rows("logs_capture", len(CALLS))
        assert collector.refused() == 0
    assert mirror.counts().sent == 3 * len(CALLS) and mirror.counts().dropped == 0
    assert len(rtcp) == 2 * len(CALLS) and len(logs) == len(CALLS)
    micros = int(WALL_S) * 1_000_000 + 500_000
    for number, call_id in enumerate(CALLS):
        reports = [row for row in rtcp if row["correlation_id"] == call_id]
        assert len(reports) == 2
        sent = next(row for row in reports if row["source_port"] == 6001 + 4 * number)
        received = next(row for row in reports if row["source_port"] == 7001 + 4 * number)
        assert (sent["destination_ip"], sent["destination_port"]) == (LOOPBACK, 7001 + 4 * number)
        assert sent["micro_ts"] == micros and sent["node"] == f"{CAPTURE_NODE}:2003"
        sr = json.loads(_text(sent["msg"]))
        assert sr["type"] == 200 and sr["ssrc"] == 0x100 * (number + 1)
        assert sr["report_blocks"][0]["ia_jitter"] == 240
        assert sr["sender_information"]["packets"] == 50
        assert json.loads(_text(received["msg"]))["type"] == 201
        (log,) = [row for row in logs if row["correlation_id"] == call_id]
        assert (log["source_ip"], log["source_port"]) == (LOOPBACK, 6000 + 4 * number)
        assert (log["destination_ip"], log["destination_port"]) == (LOOPBACK, 7000 + 4 * number)
        document = json.loads(_text(log["msg"]))
        assert document["type"] == "media_quality" and document["call_id"] == call_id
        assert document["mos"] == 4.31


def test_wrong_password_refuses_media_too(tmp_path: pathlib.Path) -> None:
    with sipcapture(kamailio_binary(), tmp_path / "collector", PASSWORD) as collector:
        _mirror(collector, "wrong")
        deadline = time.monotonic() + 5
        while collector.refused() < 3 * len(CALLS) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert collector.refused() == 3 * len(CALLS)
        assert collector.rows("rtcp_capture") == [] and collector.rows("logs_capture") == []
