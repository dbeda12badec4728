"""3PCC against the real SIPp 3.6.1: gossipper and SIPp as the two controllers of one test.

Four processes per test, as docs/int_scenarios.rst deploys SIPp's 3PCC built-ins: the A and B
parties (``3pcc-A``, ``3pcc-B``, plain servers), controller B (``3pcc-C-B``, started first:
it listens on the ``-3pcc`` address) and controller A (``3pcc-C-A``, which connects to it and
creates the calls). Each test swaps which program plays which part and checks the exit codes
and the counts of both controllers; the last ones kill a twin in the middle of the run.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.interop.harness import (
    LOOPBACK,
    free_tcp_port,
    free_udp_port,
    gossipper_command,
    gossipper_counts,
    sipp_counts,
    wait_for_tcp_listener,
    wait_for_udp_listener,
)

pytestmark = pytest.mark.interop

DATA = pathlib.Path(__file__).parent / "data"
CALLS = 10


class Deployment:
    """The processes of one test; every one still running is killed at the end."""

    def __init__(self, tmp: pathlib.Path, sipp: str) -> None:
        self.tmp = tmp
        self.sipp = sipp
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, command: list[str]) -> subprocess.Popen[str]:
        # SIPp repaints its screen on stdout all the time: a pipe nobody reads would fill up
        # and block it, so every program's output goes to a file.
        index = len(self.processes)
        with (
            open(self.tmp / f"{index}.out", "w") as out,
            open(self.tmp / f"{index}.err", "w") as err,
        ):
            process = subprocess.Popen(command, cwd=self.tmp, stdout=out, stderr=err, text=True)
        self.processes.append(process)
        return process

    def output(self, process: subprocess.Popen[str]) -> tuple[str, str]:
        index = self.processes.index(process)
        return (
            (self.tmp / f"{index}.out").read_text(errors="replace"),
            (self.tmp / f"{index}.err").read_text(errors="replace"),
        )

    def finish(self, process: subprocess.Popen[str], timeout_s: float = 120.0) -> int:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            out, err = self.output(process)
            raise AssertionError(
                f"{process.args!r} did not finish:\n{out[-3000:]}\n{err[-3000:]}"
            ) from None
        return process.returncode

    def command(self, program: str, *args: str) -> list[str]:
        if program == "sipp":
            return [self.sipp, *args]
        return gossipper_command(*args)

    def server(self, program: str, scenario: list[str], port: int, calls: int | None) -> None:
        limit = ["-m", str(calls)] if calls is not None else []
        process = self.start(
            self.command(program, *scenario, "-i", LOOPBACK, "-p", str(port), "-nostdin", *limit)
        )
        wait_for_udp_listener(port, process)

    def controller_b(
        self, program: str, party_b: int, twin: int, stats: str
    ) -> subprocess.Popen[str]:
        process = self.start(
            self.command(
                program, "-sn", "3pcc-C-B", f"{LOOPBACK}:{party_b}", "-i", LOOPBACK,
                "-p", str(free_udp_port()), "-3pcc", f"{LOOPBACK}:{twin}", "-nostdin",
                *_stats_options(program, self.tmp / stats),
            )
        )  # fmt: skip
        wait_for_tcp_listener(twin, process)
        return process

    def controller_a(
        self, program: str, party_a: int, twin: int, stats: str, *extra: str
    ) -> subprocess.Popen[str]:
        return self.start(
            self.command(
                program, "-sn", "3pcc-C-A", f"{LOOPBACK}:{party_a}", "-i", LOOPBACK,
                "-p", str(free_udp_port()), "-3pcc", f"{LOOPBACK}:{twin}", "-nostdin",
                *_stats_options(program, self.tmp / stats), *extra,
            )
        )  # fmt: skip

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def deployment(sipp_binary: str, tmp_path: pathlib.Path) -> Iterator[Deployment]:
    deployed = Deployment(tmp_path, sipp_binary)
    try:
        yield deployed
    finally:
        deployed.stop()


def _stats_options(program: str, path: pathlib.Path) -> list[str]:
    if program == "sipp":
        return ["-trace_stat", "-stf", str(path), "-fd", "1"]
    return ["-summary_json", str(path), "-trace_counts", "-trace_msg"]


def _counts(program: str, path: pathlib.Path) -> tuple[int, int, int]:
    counts = sipp_counts(path) if program == "sipp" else gossipper_counts(path)
    return counts.created, counts.successful, counts.failed


@pytest.mark.parametrize(
    ("a_side", "b_side", "parties"),
    [
        ("gossipper", "sipp", "sipp"),
        ("sipp", "gossipper", "sipp"),
        ("gossipper", "sipp", "gossipper"),
        ("sipp", "gossipper", "gossipper"),
    ],
    ids=[
        "gossipper-C-A_sipp-C-B_sipp-parties",
        "sipp-C-A_gossipper-C-B_sipp-parties",
        "gossipper-C-A_sipp-C-B_gossipper-parties",
        "sipp-C-A_gossipper-C-B_gossipper-parties",
    ],
)
def test_3pcc_controllers_interoperate_with_sipp(
    deployment: Deployment, a_side: str, b_side: str, parties: str
) -> None:
    party_a, party_b, twin = free_udp_port(), free_udp_port(), free_tcp_port()
    # SIPp as controller B hangs when controller A closes while B's calls still run (see
    # data/3pcc_a_slow_bye.xml): then the A party answers the BYE late, so B finishes first.
    scenario_a = (
        ["-sf", str(DATA / "3pcc_a_slow_bye.xml")] if b_side == "sipp" else ["-sn", "3pcc-A"]
    )
    deployment.server(parties, scenario_a, party_a, CALLS)
    deployment.server(parties, ["-sn", "3pcc-B"], party_b, CALLS)
    b = deployment.controller_b(b_side, party_b, twin, "b.stats")
    a = deployment.controller_a(a_side, party_a, twin, "a.stats", "-m", str(CALLS), "-r", "10")
    a_rc = deployment.finish(a)
    # Controller B ends by itself once controller A has closed the command connection.
    b_rc = deployment.finish(b, timeout_s=30)
    assert a_rc == 0, deployment.output(a)
    assert b_rc == 0, deployment.output(b)
    assert _counts(a_side, deployment.tmp / "a.stats") == (CALLS, CALLS, 0)
    assert _counts(b_side, deployment.tmp / "b.stats") == (CALLS, CALLS, 0)
    ours = "a" if a_side == "gossipper" else "b"
    (counts_file,) = deployment.tmp.glob(f"3pcc-C-{ours.upper()}_*_counts.csv")
    header, *_, last = counts_file.read_text().splitlines()
    row = dict(zip(header.split(";"), last.split(";"), strict=False))
    send_cmd = "5_SendCmd" if ours == "a" else "7_SendCmd"
    recv_cmd = "6_RecvCmd" if ours == "a" else "0_RecvCmd"
    assert (row[send_cmd], row[recv_cmd]) == (str(CALLS), str(CALLS))
    (messages,) = deployment.tmp.glob(f"3pcc-C-{ours.upper()}_*_messages.log")
    text = messages.read_bytes()
    assert text.count(b"TCP control message sent (") == CALLS
    assert text.count(b"TCP control message received [") == CALLS


def test_gossipper_controller_a_without_its_twin_is_a_fatal_error(
    deployment: Deployment,
) -> None:
    twin = free_tcp_port()
    a = deployment.controller_a("gossipper", free_udp_port(), twin, "a.json", "-m", "1")
    rc = deployment.finish(a, timeout_s=60)
    _, err = deployment.output(a)
    assert rc == 255
    lines = [line for line in err.splitlines() if line.startswith("gossipper: error:")]
    assert len(lines) == 1, err
    assert f"-3pcc {LOOPBACK}:{twin}: cannot connect to the 3PCC twin" in lines[0]
    assert "Traceback" not in err


def _slow_b_party(deployment: Deployment, program: str, port: int) -> None:
    deployment.server(program, ["-sf", str(DATA / "3pcc_b_slow.xml")], port, None)


def test_sipp_twin_killed_mid_run_fails_the_gossipper_calls_waiting_for_it(
    deployment: Deployment,
) -> None:
    """gossipper controller A, SIPp controller B killed while calls wait for its answer
    (the B party answers after 2 s): those calls fail (FailedTcpClosed), no new call starts,
    and the run ends by itself with exit code 1."""
    party_a, party_b, twin = free_udp_port(), free_udp_port(), free_tcp_port()
    deployment.server("sipp", ["-sn", "3pcc-A"], party_a, None)
    _slow_b_party(deployment, "sipp", party_b)
    b = deployment.controller_b("sipp", party_b, twin, "b.stats")
    a = deployment.controller_a("gossipper", party_a, twin, "a.json", "-m", "200", "-r", "5")
    time.sleep(4.0)
    os.kill(b.pid, signal.SIGKILL)
    rc = deployment.finish(a, timeout_s=60)
    out, err = deployment.output(a)
    assert rc == 1, out[-2000:] + err[-2000:]
    assert "Traceback" not in err
    summary = json.loads((deployment.tmp / "a.json").read_text())
    calls = summary["calls"]
    assert calls["failed"] > 0
    assert summary["failures"]["FailedTcpClosed"] == calls["failed"]
    assert calls["total"] == calls["successful"] + calls["failed"] < 200


def test_sipp_twin_killed_mid_run_lets_gossipper_controller_b_end_cleanly(
    deployment: Deployment,
) -> None:
    """gossipper controller B, SIPp controller A killed mid-run: no command can come any
    more, so B takes no new call, finishes the calls it has (their commands to A cannot be
    sent: FailedCmdNotSent) and exits by itself."""
    party_a, party_b, twin = free_udp_port(), free_udp_port(), free_tcp_port()
    deployment.server("sipp", ["-sn", "3pcc-A"], party_a, None)
    _slow_b_party(deployment, "sipp", party_b)
    b = deployment.controller_b("gossipper", party_b, twin, "b.json")
    a = deployment.controller_a("sipp", party_a, twin, "a.stats", "-m", "200", "-r", "5")
    time.sleep(3.0)
    os.kill(a.pid, signal.SIGKILL)
    rc = deployment.finish(b, timeout_s=60)
    out, err = deployment.output(b)
    assert "Traceback" not in err
    summary = json.loads((deployment.tmp / "b.json").read_text())
    calls = summary["calls"]
    # Calls still waiting for the slow B party when A died could not send their command.
    assert calls["failed"] > 0
    assert summary["failures"]["FailedCmdNotSent"] == calls["failed"]
    assert calls["total"] == calls["successful"] + calls["failed"]
    assert rc == 1, out[-2000:] + err[-2000:]


@pytest.mark.parametrize(
    ("master", "slave"),
    [("gossipper", "sipp"), ("sipp", "gossipper")],
    ids=["gossipper-master_sipp-slave", "sipp-master_gossipper-slave"],
)
def test_extended_3pcc_master_and_slave_interoperate_with_sipp(
    deployment: Deployment, master: str, slave: str
) -> None:
    """-master/-slave with one -slave_cfg file: the built-in controllers with dest/src
    attributes and From lines (data/3pcc_master_a.xml, data/3pcc_slave_b.xml)."""
    party_a, party_b = free_udp_port(), free_udp_port()
    ports = {"m": free_tcp_port(), "s1": free_tcp_port()}
    cfg = deployment.tmp / "peers.cfg"
    cfg.write_text("".join(f"{name};{LOOPBACK}:{port}\n" for name, port in ports.items()))
    deployment.server("sipp", ["-sf", str(DATA / "3pcc_a_slow_bye.xml")], party_a, CALLS)
    deployment.server("sipp", ["-sn", "3pcc-B"], party_b, CALLS)
    s1 = deployment.start(
        deployment.command(
            slave, "-sf", str(DATA / "3pcc_slave_b.xml"), "-slave", "s1", "-slave_cfg",
            str(cfg), f"{LOOPBACK}:{party_b}", "-i", LOOPBACK, "-p", str(free_udp_port()),
            "-nostdin", *_stats_options(slave, deployment.tmp / "s1.stats"),
        )
    )  # fmt: skip
    wait_for_tcp_listener(ports["s1"], s1)
    m = deployment.start(
        deployment.command(
            master, "-sf", str(DATA / "3pcc_master_a.xml"), "-master", "m", "-slave_cfg",
            str(cfg), f"{LOOPBACK}:{party_a}", "-i", LOOPBACK, "-p", str(free_udp_port()),
            "-nostdin", "-m", str(CALLS), "-r", "10",
            *_stats_options(master, deployment.tmp / "m.stats"),
        )
    )  # fmt: skip
    assert deployment.finish(m) == 0, deployment.output(m)
    # The slave ends by itself once the master has gone.
    assert deployment.finish(s1, timeout_s=30) == 0, deployment.output(s1)
    assert _counts(master, deployment.tmp / "m.stats") == (CALLS, CALLS, 0)
    assert _counts(slave, deployment.tmp / "s1.stats") == (CALLS, CALLS, 0)
