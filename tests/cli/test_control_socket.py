"""SIPp's control socket (-cp) steering a running gossipper process: keys ``p + - * /`` and
``cset`` commands, seen in the -trace_stat rows (TargetRate, OutgoingCall(C)) the run writes
every second; ``q`` then ends it. (tests/cli/test_live_traces.py covers q/Q/SIGINT/SIGTERM and
the trace files they leave.)"""

from __future__ import annotations

import pathlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _rows(stat: pathlib.Path) -> list[dict[str, str]]:
    text = stat.read_text() if stat.exists() else ""
    if not text:
        return []  # not written yet (the file is created before its header is flushed)
    header, *rows = text.splitlines()
    names = header.split(";")
    return [dict(zip(names, row.split(";"), strict=False)) for row in rows if row]


def test_control_socket_keys_and_commands(tmp_path: pathlib.Path) -> None:
    control_port = _free_udp_port()
    stat = tmp_path / "stat.csv"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gossipper", "-sn", "uac", "-peer", "uas", "-i", "127.0.0.1",
            "-nostdin", "-r", "10", "-cp", str(control_port), "-trace_stat", "-stf", str(stat),
            "-fd", "1",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(text: str) -> None:
        sender.sendto(text.encode(), ("127.0.0.1", control_port))

    def wait_for_row(what: str, check: Callable[[dict[str, str]], bool]) -> dict[str, str]:
        """The first row written from now on that passes ``check``."""
        seen = len(_rows(stat))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            rows = _rows(stat)
            for row in rows[seen:]:
                if check(row):
                    return row
            seen = max(seen, len(rows) - 1)  # the last row may still be partial
            time.sleep(0.05)
        raise AssertionError(f"{what}: no such row in {stat.read_text()}")

    def rate_becomes(value: float) -> Callable[[dict[str, str]], bool]:
        return lambda row: float(row["TargetRate"]) == value

    try:
        wait_for_row("start", lambda row: int(row["OutgoingCall(C)"]) > 0)
        for key, rate in (("+", 11), ("*", 21), ("-", 20), ("/", 10)):
            send(key)
            wait_for_row(f"key {key}", rate_becomes(rate))
        send("cset rate 4")
        wait_for_row("cset rate 4", rate_becomes(4))
        send("cset rate-scale 3")
        send("+")
        wait_for_row("+ after cset rate-scale 3", rate_becomes(7))
        # p pauses the traffic: two consecutive rows with the same outgoing call count; a
        # second p resumes it.
        send("p")
        wait_for_row("pause", lambda row: True)  # may still count a call started meanwhile
        frozen = int(wait_for_row("paused", lambda row: True)["OutgoingCall(C)"])
        later = int(wait_for_row("still paused", lambda row: True)["OutgoingCall(C)"])
        assert later == frozen, "p did not pause the traffic"
        send("p")
        wait_for_row("resume", lambda row: int(row["OutgoingCall(C)"]) > frozen)
        send("q")
        _, err = process.communicate(timeout=30)
    finally:
        sender.close()
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err.decode(errors="replace")
    assert b"Traceback" not in err
