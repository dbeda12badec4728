"""Out-of-call scenarios and mixed mode on real loopback UDP sockets (gossipper only)."""

from __future__ import annotations

import json
import pathlib
import socket
import time

from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_udp_port,
    gossipper_command,
    start,
    wait_for_udp_listener,
)


def _options(call_id: str, via_port: int) -> bytes:
    return (
        f"OPTIONS sip:x@{LOOPBACK} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {LOOPBACK}:{via_port};branch=z9hG4bK-loop\r\n"
        f"From: <sip:probe@{LOOPBACK}>;tag=7\r\nTo: <sip:x@{LOOPBACK}>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 5 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def test_uac_answers_an_out_of_call_options_with_ooc_default(tmp_path: pathlib.Path) -> None:
    port = free_udp_port()
    uac = start(
        gossipper_command(
            "-sn", "uac", "-peer", "uas", "-i", LOOPBACK, "-p", str(port), "-m", "2", "-r", "1",
            "-d", "3000", "-nostdin", "-oocsn", "ooc_default",
            "-summary_json", str(tmp_path / "uac.json"),
        ),
        tmp_path,
    )  # fmt: skip
    wait_for_udp_listener(port, uac)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        probe.settimeout(10.0)
        probe.sendto(_options("probe-1@loop", probe.getsockname()[1]), (LOOPBACK, port))
        answer, source = probe.recvfrom(65536)
    rc, out, err = finish(uac)
    assert rc == 0, out[-2000:] + err[-2000:]
    assert source == (LOOPBACK, port)
    assert answer.startswith(b"SIP/2.0 200 OK\r\n")
    assert b"Call-ID: probe-1@loop\r\n" in answer
    assert b"CSeq: 5 OPTIONS\r\n" in answer
    summary = json.loads((tmp_path / "uac.json").read_text())
    assert summary["calls"]["successful"] == 2
    assert summary["messages"]["auto_answered"] == 1
    assert summary["messages"]["out_of_call"] == 0


def test_two_mixed_mode_processes_call_each_other(tmp_path: pathlib.Path) -> None:
    port_a, port_b = free_udp_port(), free_udp_port()
    side_a, side_b = tmp_path / "a", tmp_path / "b"
    side_a.mkdir()
    side_b.mkdir()

    def mixed(own: int, peer: int, cwd: pathlib.Path) -> list[str]:
        return gossipper_command(
            "-sn", "uac", "-rxsn", "uas", f"{LOOPBACK}:{peer}", "-i", LOOPBACK, "-p", str(own),
            "-m", "3", "-r", "2", "-d", "2000", "-nostdin", "-trace_stat", "-fd", "1",
            "-summary_json", str(cwd / "summary.json"),
        )  # fmt: skip

    a = start(mixed(port_a, port_b, side_a), side_a)
    wait_for_udp_listener(port_a, a)
    # B's first INVITE must find A listening; A's first INVITE retransmits until B is up.
    time.sleep(0.1)
    b = start(mixed(port_b, port_a, side_b), side_b)
    rc_b, out_b, err_b = finish(b)
    rc_a, out_a, err_a = finish(a)
    assert rc_a == 0, out_a[-3000:] + err_a[-2000:]
    assert rc_b == 0, out_b[-3000:] + err_b[-2000:]
    for side, out in ((side_a, out_a), (side_b, out_b)):
        summary = json.loads((side / "summary.json").read_text())
        assert summary["calls"]["successful"] == 3
        (rx_stat,) = side.glob("uas_*_.csv")
        lines = rx_stat.read_text().splitlines()
        row = dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))
        assert row["IncomingCall(C)"] == "3"
        assert row["SuccessfulCall(C)"] == "3"
        # The exit screens show the client scenario, then the rx scenario (server mode).
        assert out.count("Scenario Screen") == 2
        assert out.count("Test Terminated") == 4
