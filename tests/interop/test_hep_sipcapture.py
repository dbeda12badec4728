"""HEP3 mirroring checked by a real collector: Kamailio's sipcapture module (the capture node
Homer was built on) stores gossipper's HEP3 stream in SQLite, and the stored rows equal what
each run wrote in its own message log: addresses, ports, time to the microsecond, Call-ID,
payload, capture id. A run with the wrong ``-hep_password`` is refused by the collector."""

from __future__ import annotations

import datetime
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
from tests.interop.kamailio_proxy import kamailio_binary
from tests.interop.sipcapture import CAPTURE_NODE, Collector, sipcapture

pytestmark = pytest.mark.interop

PASSWORD = "s3cret-key"
CALLS = 10
_ENTRY = re.compile(
    r"^-{47} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6})\n"
    r"UDP message (sent|received) (?:\((\d+) bytes\):|\[(\d+)\] bytes :)\n\n",
    re.MULTILINE,
)


def _log_entries(path: pathlib.Path) -> list[tuple[int, str, bytes]]:
    """(time in microseconds, "sent"/"received", message) of each entry of a -trace_msg file."""
    text = path.read_bytes().decode("latin-1")
    matches = list(_ENTRY.finditer(text))
    entries = []
    for number, match in enumerate(matches):
        end = matches[number + 1].start() if number + 1 < len(matches) else len(text)
        size = int(match.group(3) or match.group(4))
        body = text[match.end() : end].encode("latin-1")[:size]
        # The log's clock text is local time; this test runs with TZ=UTC.
        moment = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(
            tzinfo=datetime.UTC
        )
        micros = int(moment.timestamp()) * 1_000_000 + moment.microsecond
        entries.append((micros, match.group(2), body))
    return entries


def _bytes(value: object) -> bytes:
    # db_sqlite stores the payload as a BLOB or as TEXT depending on the column affinity.
    return value if isinstance(value, bytes) else str(value).encode("latin-1")


def _call_id(payload: bytes) -> str:
    match = re.search(rb"^(?:Call-ID|i)\s*:\s*(\S+)", payload, re.MULTILINE | re.IGNORECASE)
    assert match is not None, payload[:200]
    return match.group(1).decode()


def _run_pair(
    tmp_path: pathlib.Path, collector: Collector, password: str
) -> tuple[pathlib.Path, pathlib.Path, int, int]:
    uas_port, uac_port = free_udp_port(), free_udp_port()
    hep = ["-hep_addr", f"{LOOPBACK}:{collector.hep_port}", "-hep_password", password]
    env = {"TZ": "UTC"}
    uas = start(
        gossipper_command(
            "-sn",
            "uas",
            "-i",
            LOOPBACK,
            "-p",
            str(uas_port),
            "-m",
            str(CALLS),
            "-trace_msg",
            "-hep_capture_id",
            "2002",
            "-hep_node_name",
            "uas-node",
            *hep,
        ),
        tmp_path,
        env=env,
    )
    wait_for_udp_listener(uas_port, uas)
    uac = start(
        gossipper_command(
            "-sn",
            "uac",
            f"{LOOPBACK}:{uas_port}",
            "-i",
            LOOPBACK,
            "-p",
            str(uac_port),
            "-m",
            str(CALLS),
            "-r",
            "20",
            "-trace_msg",
            "-hep_capture_id",
            "2001",
            "-summary_json",
            "uac.json",
            *hep,
        ),
        tmp_path,
        env=env,
    )
    rc_uac, out, err = finish(uac)
    assert rc_uac == 0, err
    rc_uas, out, err = finish(uas)
    assert rc_uas == 0, err
    uac_log = next(tmp_path.glob("uac_*_messages.log"))
    uas_log = next(tmp_path.glob("uas_*_messages.log"))
    return uac_log, uas_log, uac_port, uas_port


def test_stored_rows_equal_each_runs_message_log(tmp_path: pathlib.Path) -> None:
    with sipcapture(kamailio_binary(), tmp_path / "collector", PASSWORD) as collector:
        uac_log, uas_log, uac_port, uas_port = _run_pair(tmp_path, collector, PASSWORD)
        rows = collector.wait_rows("sip_capture", 2 * 6 * CALLS)
        logs = collector.wait_rows("logs_capture", 2 * CALLS)
        assert collector.refused() == 0
    uac_address, uas_address = (LOOPBACK, uac_port), (LOOPBACK, uas_port)
    for log, node, local, remote in (
        (uac_log, f"{CAPTURE_NODE}:2001", uac_address, uas_address),
        (uas_log, f"{CAPTURE_NODE}:2002", uas_address, uac_address),
    ):
        entries = _log_entries(log)
        assert len(entries) == 6 * CALLS  # INVITE 180 200 ACK BYE 200 per call
        stored = [row for row in rows if row["node"] == node]
        expected = []
        for micros, direction, payload in entries:
            src, dst = (local, remote) if direction == "sent" else (remote, local)
            expected.append((micros, src, dst, _call_id(payload), payload))
        got = [
            (
                row["micro_ts"],
                (row["source_ip"], row["source_port"]),
                (row["destination_ip"], row["destination_port"]),
                row["callid"],
                _bytes(row["msg"]),
            )
            for row in stored
        ]
        assert sorted(got) == sorted(expected)
        assert {row["proto"] for row in stored} == {1}  # UDP... sipcapture's proto column
        assert {row["family"] for row in stored} == {2}
    # One JSON log per call and side, correlated by Call-ID.
    assert len(logs) == 2 * CALLS
    for row in logs:
        document = json.loads(_bytes(row["msg"]))
        assert row["correlation_id"] == document["call_id"]
        assert document["result"] == "success"
    call_ids = {row["callid"] for row in rows}
    assert {row["correlation_id"] for row in logs} == call_ids


def test_wrong_password_is_refused(tmp_path: pathlib.Path) -> None:
    with sipcapture(kamailio_binary(), tmp_path / "collector", PASSWORD) as collector:
        _run_pair(tmp_path, collector, "not-the-key")
        # Every packet of both runs reaches the gate and is refused there.
        expected = 2 * (6 * CALLS + CALLS)
        deadline = time.monotonic() + 5
        while collector.refused() < expected and time.monotonic() < deadline:
            time.sleep(0.1)
        assert collector.refused() == expected
        assert collector.rows("sip_capture") == []
        assert collector.rows("logs_capture") == []
