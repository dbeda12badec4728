"""What the golden case ``hep_media`` pins, read for its meaning (issue 16 item 1 in the
simulation): every RTCP report the UAC's media sent or received reached the collector as HEP
type 5 under its call's Call-ID, and each stream's quality log (type 100) carries the same
figures as the run's own ``-trace_media`` row. The golden comparison pins the bytes; this test
says why they are right."""

from __future__ import annotations

import csv
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1] / "golden_csv" / "hep_media"
HEADER = re.compile(
    r"^HEP3 (?P<kind>\w+) UDP (?P<src>\S+) -> (?P<dst>\S+) at (?P<at>[\d.]+)"
    r" capture_id=(?P<capture_id>\d+)(?P<rest>.*)$"
)


def _packets() -> list[tuple[dict[str, str], str]]:
    entries: list[tuple[dict[str, str], str]] = []
    lines = (ROOT / "hep_capture.log").read_text(encoding="latin-1").split("\n")
    for index, line in enumerate(lines):
        match = HEADER.match(line)
        if match:
            fields = match.groupdict()
            fields.update(re.findall(r" (\w+)=(\S+)", fields.pop("rest")))
            entries.append((fields, lines[index + 1]))
    return entries


def _media_rows() -> list[dict[str, str]]:
    (path,) = ROOT.glob("*_media.csv")
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def test_every_packet_is_labelled_with_the_runs_capture_id_and_node() -> None:
    packets = _packets()
    assert {fields["kind"] for fields, _ in packets} == {"SIP", "RTCP", "LOG"}
    assert all(fields["capture_id"] == "2002" for fields, _ in packets)
    assert all(fields.get("node") == "media-lab" for fields, _ in packets)


def test_rtcp_reports_are_correlated_with_their_call_and_counted_by_the_stream() -> None:
    rows = _media_rows()
    assert len(rows) == 2
    calls = {row["call_id"] for row in rows}
    rtcp = [(fields, json.loads(body)) for fields, body in _packets() if fields["kind"] == "RTCP"]
    assert {fields["correlation_id"] for fields, _ in rtcp} == calls
    for row in rows:
        host, rtp_port = row["local"].rsplit(":", 1)
        ours = f"{host}:{int(rtp_port) + 1}"
        mine = [report for fields, report in rtcp if fields["correlation_id"] == row["call_id"]]
        sent = [r for f, r in rtcp if f["correlation_id"] == row["call_id"] and f["src"] == ours]
        received = [
            r for f, r in rtcp if f["correlation_id"] == row["call_id"] and f["dst"] == ours
        ]
        assert len(sent) + len(received) == len(mine)
        assert len(sent) == int(row["rtcp_sent"])
        assert len(received) == int(row["rtcp_received"])
        # Homer's JSON form of an SR: the sender's packet count never goes down.
        counts = [report["sender_information"]["packets"] for report in sent]
        assert counts == sorted(counts) and counts[-1] <= int(row["packets_sent"])


def test_quality_logs_equal_the_trace_media_rows() -> None:
    logs = [json.loads(body) for fields, body in _packets() if fields["kind"] == "LOG"]
    quality = {log["call_id"]: log for log in logs if log.get("type") == "media_quality"}
    results = {log["call_id"]: log["result"] for log in logs if "result" in log}
    rows = _media_rows()
    assert set(quality) == set(results) == {row["call_id"] for row in rows}
    assert set(results.values()) == {"success"}
    for row in rows:
        log = quality[row["call_id"]]
        for key in (
            "local", "remote", "codec", "packets_sent", "packets_received",
            "packets_lost", "rtcp_sent", "rtcp_received",
        ):  # fmt: skip
            assert str(log[key]) == row[key], key
        assert int(row["packets_lost"]) > 0  # the case's 3 % loss shows in the figures
