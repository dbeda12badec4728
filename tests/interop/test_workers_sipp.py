"""-workers against the real SIPp 3.6.1 on loopback UDP (docs/compatibility.md, "Workers"):
a gossipper uac in 2 workers is one test for a SIPp uas, and a gossipper uas in 2 workers on
one port serves a SIPp uac whose every call comes from one address."""

from __future__ import annotations

import json
import pathlib
import socket
import time

import pytest

from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_udp_port,
    gossipper_command,
    sipp_counts,
    start,
    wait_for_udp_listener,
)

pytestmark = pytest.mark.interop

CALLS = 200


def test_two_workers_are_one_test_for_a_sipp_uas(sipp_binary: str, tmp_path: pathlib.Path) -> None:
    port = free_udp_port()
    uas = start(
        [
            sipp_binary, "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-nostdin",
            "-m", str(CALLS), "-trace_stat", "-stf", str(tmp_path / "sipp_uas.csv"), "-fd", "1",
        ],
        tmp_path,
    )  # fmt: skip
    wait_for_udp_listener(port, uas)
    uac = start(
        gossipper_command(
            "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-workers", "2", "-cp", "0",
            "-cid_str", "%u-workers@%s", "-m", str(CALLS), "-r", "100", "-nostdin",
            "-summary_json", "summary.json", "-trace_stat", "-fd", "1",
        ),
        tmp_path,
    )  # fmt: skip
    code, _, err = finish(uac)
    assert code == 0, err
    uas_code, _, uas_err = finish(uas)
    assert uas_code == 0, uas_err
    # SIPp saw exactly -m distinct calls (a Call-ID run by both workers would be one call).
    sipp = sipp_counts(tmp_path / "sipp_uas.csv")
    assert (sipp.created, sipp.successful, sipp.failed) == (CALLS, CALLS, 0)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["calls"]["successful"] == CALLS
    stat = (tmp_path / f"uac_{uac.pid}_.csv").read_text().splitlines()
    row = dict(zip(stat[0].split(";"), stat[-1].split(";"), strict=False))
    assert int(row["SuccessfulCall(C)"]) == CALLS


def test_a_uas_in_two_workers_serves_a_sipp_uac(sipp_binary: str, tmp_path: pathlib.Path) -> None:
    port = free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        control = probe.getsockname()[1]
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    uas = start(
        gossipper_command(
            "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-workers", "2", "-nostdin",
            "-cp", str(control), "-summary_json", "summary.json",
        ),
        server_dir,
    )  # fmt: skip
    assert uas.stderr is not None
    deadline = time.monotonic() + 60
    while "workers started" not in uas.stderr.readline():
        assert time.monotonic() < deadline and uas.poll() is None, "the workers did not start"
    uac = start(
        [
            sipp_binary, "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-nostdin",
            "-m", str(CALLS), "-r", "100", "-trace_stat", "-stf",
            str(tmp_path / "sipp_uac.csv"), "-fd", "1",
        ],
        tmp_path,
    )  # fmt: skip
    code, _, err = finish(uac)
    assert code == 0, err
    sipp = sipp_counts(tmp_path / "sipp_uac.csv")
    assert (sipp.created, sipp.successful, sipp.failed, sipp.retransmissions) == (
        CALLS,
        CALLS,
        0,
        0,
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"q", (LOOPBACK, control))
    uas_code, _, uas_err = finish(uas)
    assert uas_code == 0, uas_err
    summary = json.loads((server_dir / "summary.json").read_text())
    assert (summary["calls"]["incoming"], summary["calls"]["successful"]) == (CALLS, CALLS)
    (workers_dir,) = server_dir.glob("uas_*_workers")
    parts = [json.loads((workers_dir / f"w{i}" / "summary.json").read_text()) for i in (0, 1)]
    assert all(part["calls"]["incoming"] > 0 for part in parts)
    assert all(part["messages"]["out_of_call"] == 0 for part in parts)
