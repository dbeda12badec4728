"""A call in its ``<timewait>`` on real loopback sockets: the server hands the call's task
back to its pool when the timewait starts (a real-time run only), and the call still
answers a retransmitted BYE, ends when the timewait does, and is counted as before when the
run is interrupted meanwhile."""

from __future__ import annotations

import json
import pathlib
import re
import signal
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

UAS = (pathlib.Path(__file__).parents[2] / "scenarios" / "uas.xml").read_text()


def _uas_scenario(tmp_path: pathlib.Path, timewait_ms: int) -> pathlib.Path:
    path = tmp_path / "uas_timewait.xml"
    text = UAS.replace(
        '<timewait milliseconds="4000"/>', f'<timewait milliseconds="{timewait_ms}"/>'
    )
    assert text != UAS
    path.write_text(text, encoding="iso-8859-1")
    return path


def _request(
    method: str, call_id: str, cseq: int, port: int, branch: str, to_tag: str = ""
) -> bytes:
    to = f"<sip:service@{LOOPBACK}>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} sip:service@{LOOPBACK} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {LOOPBACK}:{port};branch={branch}\r\n"
        f"From: <sip:probe@{LOOPBACK}>;tag=probe-{call_id}\r\nTo: {to}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _receive(sock: socket.socket, status: int) -> bytes:
    while True:
        data, _ = sock.recvfrom(65536)
        if data.startswith(f"SIP/2.0 {status} ".encode()):
            return data


def _call_up_to_bye(sock: socket.socket, uas_port: int, call_id: str) -> tuple[bytes, bytes]:
    """INVITE, 180, 200, ACK, BYE, 200: the BYE sent and the 200 that answered it."""
    port = sock.getsockname()[1]
    sock.sendto(_request("INVITE", call_id, 1, port, f"z9hG4bK-i-{call_id}"), (LOOPBACK, uas_port))
    ok = _receive(sock, 200)
    match = re.search(rb"^To:.*;tag=(\S+)\r$", ok, re.MULTILINE)
    assert match is not None, ok
    tag = match.group(1).decode()
    sock.sendto(
        _request("ACK", call_id, 1, port, f"z9hG4bK-a-{call_id}", tag), (LOOPBACK, uas_port)
    )
    bye = _request("BYE", call_id, 2, port, f"z9hG4bK-b-{call_id}", tag)
    sock.sendto(bye, (LOOPBACK, uas_port))
    return bye, _receive(sock, 200)


def test_a_call_in_its_timewait_answers_a_retransmitted_bye_and_ends(
    tmp_path: pathlib.Path,
) -> None:
    uas_port = free_udp_port()
    calls = 3
    uas = start(
        gossipper_command(
            "-sf", str(_uas_scenario(tmp_path, 1500)), "-i", LOOPBACK, "-p", str(uas_port),
            "-m", str(calls), "-nostdin", "-summary_json", str(tmp_path / "uas.json"),
        ),
        tmp_path,
    )  # fmt: skip
    wait_for_udp_listener(uas_port, uas)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(10.0)
        for number in range(calls):
            call_id = f"tw-{number}@loop"
            bye, answer = _call_up_to_bye(sock, uas_port, call_id)
            # The call is in its timewait now; the next call may take its task meanwhile.
            time.sleep(0.3)
            sock.sendto(bye, (LOOPBACK, uas_port))
            again = _receive(sock, 200)
            assert again == answer
            assert f"Call-ID: {call_id}\r\n".encode() in again
        started = time.monotonic()
        rc, out, err = finish(uas)
        # The last call's timewait (1.5 s from its BYE, 0.3 s of it already gone) held the run.
        assert time.monotonic() - started > 0.9
    assert rc == 0, out[-3000:] + err[-3000:]
    summary = json.loads((tmp_path / "uas.json").read_text())
    assert summary["calls"]["successful"] == calls
    assert summary["calls"]["failed"] == 0


def test_an_interrupted_timewait_counts_the_call_as_before(tmp_path: pathlib.Path) -> None:
    """SIGINT while a call waits in its timewait: the call is counted failed, as one whose
    task was cancelled (exit code 1), and the run ends at once."""
    uas_port = free_udp_port()
    uas = start(
        gossipper_command(
            "-sf", str(_uas_scenario(tmp_path, 30000)), "-i", LOOPBACK, "-p", str(uas_port),
            "-m", "5", "-nostdin", "-summary_json", str(tmp_path / "uas.json"),
        ),
        tmp_path,
    )  # fmt: skip
    wait_for_udp_listener(uas_port, uas)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(10.0)
        _call_up_to_bye(sock, uas_port, "tw-int@loop")
    time.sleep(0.3)
    uas.send_signal(signal.SIGINT)
    rc, out, err = finish(uas, timeout_s=20)
    summary = json.loads((tmp_path / "uas.json").read_text())
    assert (summary["calls"]["successful"], summary["calls"]["failed"]) == (0, 1), summary["calls"]
    assert rc == 1, out[-3000:] + err[-3000:]
