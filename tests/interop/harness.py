"""Run gossipper and SIPp side by side on loopback and read what each counted."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass
class Counts:
    created: int
    successful: int
    failed: int
    failed_unexpected: int
    retransmissions: int


def gossipper_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gossipper", *args]


def start(
    command: list[str], cwd: pathlib.Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start ``command`` in ``cwd``; ``env`` adds variables to this process's environment."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env} if env else None,
    )


def finish(process: subprocess.Popen[str], timeout_s: float = 120.0) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(
            f"{process.args!r} did not finish:\n{out[-3000:]}\n{err[-3000:]}"
        ) from None
    return process.returncode, out, err


def sipp_counts(stat_file: pathlib.Path) -> Counts:
    """Final cumulative counters from a SIPp statistics CSV (-trace_stat -stf FILE)."""
    lines = stat_file.read_text().splitlines()
    header = lines[0].split(";")
    last = lines[-1].split(";")
    row = dict(zip(header, last, strict=False))
    return Counts(
        created=int(row["TotalCallCreated"]),
        successful=int(row["SuccessfulCall(C)"]),
        failed=int(row["FailedCall(C)"]),
        failed_unexpected=int(row["FailedUnexpectedMessage(C)"]),
        retransmissions=int(row["Retransmissions(C)"]),
    )


def gossipper_counts(summary_file: pathlib.Path) -> Counts:
    doc = json.loads(summary_file.read_text())
    calls = doc["calls"]
    return Counts(
        created=int(calls["total"]),
        successful=int(calls["successful"]),
        failed=int(calls["failed"]),
        failed_unexpected=int(doc["failures"]["FailedUnexpectedMessage"]),
        retransmissions=int(doc["messages"]["retransmissions"]),
    )


def _port_in_table(port: int, tables: tuple[str, str], state: str | None) -> bool:
    """Whether a socket is bound to ``port`` (in ``state`` when given, e.g. "0A" = LISTEN),
    read from /proc/net/{udp,tcp}{,6}.

    Passive on purpose: probing by binding the port ourselves would, for that moment, make the
    process under test fail to bind it (a race that failed a CI run), and probing a TCP port by
    connecting would hand the process under test a connection to handle.
    """
    for table in tables:
        try:
            lines = pathlib.Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 3
                and int(fields[1].rsplit(":", 1)[1], 16) == port
                and (state is None or fields[3] == state)
            ):
                return True
    return False


def udp_port_bound(port: int) -> bool:
    return _port_in_table(port, ("/proc/net/udp", "/proc/net/udp6"), None)


def tcp_port_bound(port: int) -> bool:
    return _port_in_table(port, ("/proc/net/tcp", "/proc/net/tcp6"), None)


def _tcp_port_listening(port: int) -> bool:
    return _port_in_table(port, ("/proc/net/tcp", "/proc/net/tcp6"), "0A")


def _wait_for_port(
    what: str,
    bound: Callable[[int], bool],
    port: int,
    process: subprocess.Popen[str] | None,
    timeout_s: float,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if bound(port):
            return
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(
                f"process exited ({process.returncode}) before listening on {what} {port}:\n"
                f"{out[-2000:]}\n{err[-2000:]}"
            )
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {what} {port} after {timeout_s} s")


def wait_for_udp_listener(
    port: int, process: subprocess.Popen[str] | None = None, timeout_s: float = 30.0
) -> None:
    """Wait until something is bound to the UDP port.

    Generous timeout: on a loaded CI machine a cold start (modules compiled from source, no
    .pyc) can take seconds. If ``process`` exits first, its output says why.
    """
    _wait_for_port("UDP", udp_port_bound, port, process, timeout_s)


def wait_for_tcp_listener(
    port: int, process: subprocess.Popen[str] | None = None, timeout_s: float = 30.0
) -> None:
    """Wait until something listens on the TCP port (see ``wait_for_udp_listener``)."""
    _wait_for_port("TCP", _tcp_port_listening, port, process, timeout_s)


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])
