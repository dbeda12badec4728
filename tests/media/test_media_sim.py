"""Media in the simulation (issue 17 item 4): calls stream RTP both ways on the in-memory
network under seeded loss, delay and jitter; what gossipper reports per stream (-trace_media)
is checked against an independent computation from the network's own packet log."""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import pathlib
import shutil
import struct

import pytest

from gossipper.cli.sim_command import build_plan
from gossipper.sim.network import EventKind
from gossipper.sim.run import SimulationResult, run_simulation

SCENARIOS = pathlib.Path(__file__).resolve().parents[1] / "golden_csv" / "scenarios"
ARGS = [
    "-sf", "uac_rtp.xml", "-peer", "uas_rtp.xml", "-m", "4", "-r", "2",
    "-net_loss", "5", "-net_delay", "20", "-net_jitter", "15", "-seed", "11", "-trace_media",
]  # fmt: skip


def _simulate(tmp_path: pathlib.Path, args: list[str]) -> SimulationResult:
    for name in ("uac_rtp.xml", "uas_rtp.xml", "tone.alaw"):
        shutil.copyfile(SCENARIOS / name, tmp_path / name)
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        plan = dataclasses.replace(build_plan(args, directory="."), record_payloads=True)
        return run_simulation(plan, io.StringIO(), io.StringIO())
    finally:
        os.chdir(previous)


def _rows(tmp_path: pathlib.Path) -> list[dict[str, str]]:
    (path,) = tmp_path.glob("*_media.csv")
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


class _Independent:
    """RFC 3550 loss and jitter recomputed from delivered datagrams (not ReceiverStats)."""

    def __init__(self) -> None:
        self.received = 0
        self.octets = 0
        self.seqs: list[int] = []
        self.jitter = 0.0
        self.previous: tuple[float, int] | None = None

    def add(self, arrival_s: float, packet: bytes) -> None:
        seq, timestamp = struct.unpack_from("!HI", packet, 2)
        self.received += 1
        self.octets += len(packet) - 12
        self.seqs.append(seq)
        if packet[1] & 0x7F == 101:  # telephone-event: counted, not timed (RFC 4733)
            return
        if self.previous is not None:
            last_arrival, last_timestamp = self.previous
            d = (arrival_s - last_arrival) * 8000 - (timestamp - last_timestamp)
            self.jitter += (abs(d) - self.jitter) / 16
        self.previous = (arrival_s, timestamp)

    @property
    def expected(self) -> int:
        # The streams here never wrap their sequence numbers (under 500 packets each).
        return max(self.seqs) - min(self.seqs) + 1


def _is_rtp(data: bytes) -> bool:
    return len(data) >= 12 and data[0] >> 6 == 2 and not 72 <= (data[1] & 0x7F) <= 76


def test_reported_loss_and_jitter_match_the_network_log(tmp_path: pathlib.Path) -> None:
    result = _simulate(tmp_path, ARGS)
    rows = _rows(tmp_path)
    assert len(rows) == 4
    payloads = result.payloads
    for row in rows:
        local, remote = _endpoint(row["local"]), _endpoint(row["remote"])
        incoming = _Independent()
        sent = 0
        for event in result.events:
            data = payloads.get(event.digest, b"")
            if not _is_rtp(data):
                continue
            if event.kind is EventKind.DELIVERED and event.dst == local:
                incoming.add(event.time_s, data)
            elif event.kind in (EventKind.SCHEDULED, EventKind.LOST) and event.src == local:
                sent += event.copy == 0
        assert incoming.received > 400  # 4 x 2.4 s at 50 packets/s, 5% lost
        assert int(row["packets_received"]) == incoming.received
        assert int(row["octets_received"]) == incoming.octets
        assert int(row["packets_expected"]) == incoming.expected
        assert int(row["packets_lost"]) == incoming.expected - incoming.received
        assert int(row["packets_sent"]) == sent
        jitter_ms = incoming.jitter / 8.0
        assert float(row["jitter_ms"]) == pytest.approx(jitter_ms, abs=0.0015)
        assert jitter_ms > 1.0  # the 15 ms network jitter shows
        # RTCP reports crossed (the calls last about 10 s): the round trip is the two 20 ms
        # one-way delays plus jitter.
        assert row["rtt_ms"] and 40.0 <= float(row["rtt_ms"]) <= 80.0
        assert 1.0 <= float(row["mos"]) <= 4.5
        assert remote[1] % 2 == 0  # the peer's RTP port, learnt from its SDP answer


def test_same_seed_same_media_figures(tmp_path: pathlib.Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    _simulate(first, ARGS)
    _simulate(second, ARGS)
    assert _rows(first) == _rows(second)


def test_symmetric_rtp_follows_the_peer_behind_a_nat(tmp_path: pathlib.Path) -> None:
    """The peer's SDP names port 9 (nobody there); once its RTP arrives from its real port,
    our stream goes there instead."""
    shutil.copyfile(pathlib.Path(__file__).parent / "uas_nat.xml", tmp_path / "uas_nat.xml")
    args = ["-sf", "uac_rtp.xml", "-peer", "uas_nat.xml", "-m", "1", "-seed", "3",
            "-trace_media"]  # fmt: skip
    result = _simulate(tmp_path, args)
    (row,) = _rows(tmp_path)
    remote = _endpoint(row["remote"])
    assert remote[1] != 9
    payloads = result.payloads
    to_nat = [
        e for e in result.events
        if e.kind is EventKind.DROPPED_UNBOUND and e.dst[1] == 9 and _is_rtp(payloads[e.digest])
    ]  # fmt: skip
    to_real = [
        e for e in result.events
        if e.kind is EventKind.DELIVERED and e.dst == remote and _is_rtp(payloads[e.digest])
    ]  # fmt: skip
    assert to_nat, "before the peer's first packet, RTP goes where its SDP said"
    assert len(to_real) > 400, "then to where the peer's packets come from"
    assert max(e.time_s for e in to_nat) < min(e.time_s for e in to_real)
    assert int(row["packets_received"]) > 400


def test_uac_pcap_plays_its_shipped_recording(tmp_path: pathlib.Path) -> None:
    """The built-in uac_pcap replays its pcaps (400 G.711 packets, then 15 RFC 4733 ones) as
    captured, to the port the uas peer's SDP answer names ([media_port] of the uas)."""
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        plan = dataclasses.replace(
            build_plan(["-sn", "uac_pcap", "-m", "1", "-trace_media"], directory="."),
            record_payloads=True,
        )
        result = run_simulation(plan, io.StringIO(), io.StringIO())
    finally:
        os.chdir(previous)
    (row,) = _rows(tmp_path)
    assert int(row["packets_sent"]) == 415
    sent = [
        result.payloads[e.digest]
        for e in result.events
        if e.kind is EventKind.SCHEDULED and e.src == _endpoint(row["local"])
    ]
    rtp = [p for p in sent if _is_rtp(p)]
    assert len(rtp) == 415
    assert [p[1] & 0x7F for p in rtp].count(8) == 400
    assert [p[1] & 0x7F for p in rtp].count(101) == 15
    assert struct.unpack_from("!I", rtp[0], 8)[0] == 0x47535052  # as captured
