"""Trace files of a running process are readable while it runs, and complete on every exit path.

Each test starts a real ``gossipper`` process (a uac against the built-in in-process peer on
loopback) with the message, short-message and RTT traces on, reads its files while it runs, ends
it one way (the call limit, ``q``/``Q`` on the control socket, SIGINT, SIGTERM, ``-timeout``, a
fatal scenario error) and then checks that every INVITE the summary counts is in the files.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from gossipper.errors import ExitStatus
from tests.loopback_ports import free_udp_port, udp_port_taken

_SEPARATOR = re.compile(rb"^-{47} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6})$", re.MULTILINE)
_SENT_INVITE = re.compile(rb"^INVITE sip:", re.MULTILINE)

FATAL_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="fatal after answer">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: sut <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200">
    <action><error message="stopped by the scenario on purpose"/></action>
  </recv>
</scenario>
"""


_STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _stop_leftovers() -> Iterator[None]:
    """A test that fails half-way must not leave its process (and the pipe to it) behind: the
    pipe, closed only by the garbage collector, would fail a later test with a ResourceWarning."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            process.kill()
        process.communicate()


def _start(tmp_path: pathlib.Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start the run; -cp takes a port that was free a moment ago, and another process may bind
    it first (the run then exits 254 at start-up): start again on another port, up to 3 times."""
    for _ in range(3):
        control_port = free_udp_port()
        command = [
            sys.executable, "-m", "gossipper", "-peer", "uas", "-i", "127.0.0.1", "-nostdin",
            "-cp", str(control_port), "-trace_msg", "-trace_shortmsg", "-trace_rtt",
            "-rtt_freq", "1", "-summary_json", "summary.json", *extra,
        ]  # fmt: skip
        process = subprocess.Popen(
            command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _STARTED.append(process)
        # Bound once the control port is taken; the other sockets are bound at the same stage.
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and process.poll() is None:
            if udp_port_taken(control_port):
                time.sleep(0.3)
                break
            time.sleep(0.02)
        if process.poll() != ExitStatus.BIND_ERROR:
            return process, control_port
        _, err = process.communicate()
        print(f"start-up lost a port, trying again: {err.decode(errors='replace')}")
    raise AssertionError("three start-ups in a row could not bind their ports")


def _file(tmp_path: pathlib.Path, suffix: str) -> pathlib.Path | None:
    found = sorted(tmp_path.glob(f"*_{suffix}"))
    return found[0] if found else None


def _wait_for_first_invite(tmp_path: pathlib.Path, process: subprocess.Popen[bytes]) -> float:
    """Seconds between the first INVITE's trace timestamp and the moment the file shows it."""
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(
                f"the run ended (exit {process.returncode}) before its first call was traced:"
                f" {err.decode(errors='replace')}"
            )
        path = _file(tmp_path, "messages.log")
        data = path.read_bytes() if path is not None else b""
        match = _SEPARATOR.search(data)
        if match is not None and _SENT_INVITE.search(data):
            seen = datetime.datetime.now()
            stamped = datetime.datetime.strptime(match.group(1).decode(), "%Y-%m-%d %H:%M:%S.%f")
            return (seen - stamped).total_seconds()
        time.sleep(0.02)
    raise AssertionError("no INVITE in messages.log 20 s after start")


def _finish(process: subprocess.Popen[bytes]) -> int:
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert b"Traceback" not in err, err.decode(errors="replace")
    return process.returncode


def _check_complete(tmp_path: pathlib.Path) -> int:
    """Every call the summary counts left its INVITE in both message traces."""
    summary = json.loads((tmp_path / "summary.json").read_text())
    created = summary["calls"]["total"]
    assert created >= 1
    messages = _file(tmp_path, "messages.log")
    shortmessages = _file(tmp_path, "shortmessages.log")
    assert messages is not None and shortmessages is not None
    assert len(_SENT_INVITE.findall(messages.read_bytes())) == created
    lines = shortmessages.read_text().splitlines()
    short_invites = [line for line in lines if "\tS\t" in line and "INVITE" in line]
    assert len(short_invites) == created
    return int(created)


def test_messages_reach_the_file_at_once_at_a_low_rate(tmp_path: pathlib.Path) -> None:
    process, _ = _start(tmp_path, "-sn", "uac", "-r", "1", "-m", "3")
    lag_s = _wait_for_first_invite(tmp_path, process)
    # Buffered writing shows nothing until the 256 KiB buffer fills or the run ends.
    assert lag_s < 1.0, f"the first INVITE reached messages.log {lag_s:.2f} s after it was sent"
    rtt = None
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and process.poll() is None:
        rtt = _file(tmp_path, "rtt.csv")
        if rtt is not None and len(rtt.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before its RTT samples were seen"
    assert rtt is not None and len(rtt.read_text().splitlines()) >= 2, "no RTT sample while running"
    assert _finish(process) == ExitStatus.SUCCESS
    assert _check_complete(tmp_path) == 3


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("q", {ExitStatus.SUCCESS}),
        ("Q", {ExitStatus.SUCCESS, ExitStatus.CALLS_FAILED, ExitStatus.INTERNAL_COMMAND}),
        ("SIGINT", {ExitStatus.SUCCESS, ExitStatus.CALLS_FAILED, ExitStatus.INTERNAL_COMMAND}),
        ("SIGTERM", {ExitStatus.SUCCESS, ExitStatus.CALLS_FAILED, ExitStatus.INTERNAL_COMMAND}),
    ],
)
def test_every_traced_call_is_in_the_files_after_a_stop(
    tmp_path: pathlib.Path, how: str, expected: set[ExitStatus]
) -> None:
    process, control_port = _start(tmp_path, "-sn", "uac", "-r", "20", "-d", "200")
    _wait_for_first_invite(tmp_path, process)
    time.sleep(0.5)
    if how in ("q", "Q"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(how.encode(), ("127.0.0.1", control_port))
    else:
        process.send_signal(getattr(signal, how))
    status = _finish(process)
    assert status in expected, (how, status)
    assert _check_complete(tmp_path) > 1


def test_global_timeout_leaves_complete_files(tmp_path: pathlib.Path) -> None:
    process, _ = _start(tmp_path, "-sn", "uac", "-r", "20", "-d", "200", "-timeout", "2s")
    _wait_for_first_invite(tmp_path, process)
    # Calls still in their pause when the timeout strikes fail (exit 1), as in SIPp.
    assert _finish(process) in (ExitStatus.SUCCESS, ExitStatus.CALLS_FAILED)
    assert _check_complete(tmp_path) > 1


def test_fatal_scenario_error_leaves_complete_files(tmp_path: pathlib.Path) -> None:
    scenario = tmp_path / "fatal.xml"
    scenario.write_text(FATAL_UAC)
    process, _ = _start(tmp_path, "-sf", str(scenario), "-r", "5", "-m", "10")
    assert _finish(process) == ExitStatus.FATAL
    assert _check_complete(tmp_path) >= 1
