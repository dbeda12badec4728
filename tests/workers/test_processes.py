"""``-workers N`` as real processes on loopback against a gossipper UAS: one result for the
whole test, commands reach every worker, a killed worker is reported and leaves no process."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gossipper.errors import ConfigError, ExitStatus

WAIT_S = 25


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _gossipper(cwd: pathlib.Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gossipper", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def uas(tmp_path: pathlib.Path) -> Iterator[int]:
    """A one-process gossipper UAS on 127.0.0.1; yields its port."""
    port = _free_port()
    directory = tmp_path / "uas"
    directory.mkdir()
    process = _gossipper(
        directory, "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-nostdin", "-cp", "0"
    )
    try:
        yield port
    finally:
        process.kill()
        process.communicate()


def _client(tmp_path: pathlib.Path, port: int, *args: str) -> subprocess.Popen[str]:
    return _gossipper(
        tmp_path,
        "-sn",
        "uac",
        "-i",
        "127.0.0.1",
        "-nostdin",
        "-summary_json",
        "summary.json",
        *args,
        f"127.0.0.1:{port}",
    )


def _finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return process.communicate(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"the run did not end: {err}") from None


def _stderr_lines_until(
    process: subprocess.Popen[str], predicate: Callable[[str], bool]
) -> list[str]:
    """Read the parent's stderr line by line until ``predicate`` holds for one."""
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        if predicate(line):
            return lines
    process.kill()
    raise AssertionError(f"never seen: {lines}")


def _worker_pids(line: str) -> list[int]:
    match = re.search(r"pids ([\d, ]+);", line)
    assert match, line
    return [int(pid) for pid in match.group(1).split(", ")]


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not: it has exited)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _wait_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in pids):
        assert time.monotonic() < deadline, [pid for pid in pids if _running(pid)]
        time.sleep(0.05)


def _summary(path: pathlib.Path) -> dict[str, Any]:
    """The summary document, checked against its published schema."""
    import jsonschema

    from gossipper.stats.summary import load_summary_schema

    document: dict[str, Any] = json.loads(path.read_text())
    jsonschema.validate(document, load_summary_schema())
    return document


def test_background_group_parent_exits_99_and_the_workers_run(
    tmp_path: pathlib.Path, uas: int
) -> None:
    """-bg with -workers: the foreground prints the background process's pid and exits 99,
    as one process's -bg does; that process runs the group and writes its files."""
    done = subprocess.run(
        [
            sys.executable, "-m", "gossipper", "-sn", "uac", "-i", "127.0.0.1", "-workers", "2",
            "-m", "20", "-r", "100", "-bg", "-summary_json", "summary.json", "-trace_stat",
            f"127.0.0.1:{uas}",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=WAIT_S, check=False,
    )  # fmt: skip
    assert done.returncode == ExitStatus.NO_CALLS, done.stderr
    match = re.fullmatch(r"Background mode - PID=\[(\d+)\]\n", done.stdout)
    assert match, done.stdout
    child = int(match[1])
    summary = tmp_path / "summary.json"
    deadline = time.monotonic() + WAIT_S
    while (_running(child) or not summary.exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(child), "the background group did not end"
    document = _summary(summary)
    assert document["calls"]["successful"] == 20
    assert document["exit_code"] == 0
    assert len(document["workers"]) == 2
    workers = [worker["pid"] for worker in document["workers"]]
    assert child not in workers
    _wait_gone(workers)
    # The group's files are named after the background process, as one process's are.
    assert (tmp_path / f"uac_{child}_.csv").exists(), sorted(p.name for p in tmp_path.iterdir())
    assert (tmp_path / f"uac_{child}_workers").is_dir()


def test_gates_and_junit_judge_the_groups_merged_figures(tmp_path: pathlib.Path, uas: int) -> None:
    """-gate and -junit with -workers: judged on the merged summary, as one process's; a
    failed gate turns exit status 0 into 1."""
    import xml.etree.ElementTree as ET

    process = _client(
        tmp_path, uas, "-workers", "2", "-m", "21", "-r", "100", "-cp", "0",
        "-gate", "successful_calls>=21", "-gate", "total_calls<21", "-junit", "junit.xml",
    )  # fmt: skip
    _, err = _finish(process)
    assert process.returncode == ExitStatus.CALLS_FAILED, err
    # 21 calls in all (11 + 10 from the two workers): each gate sees the group's total.
    assert "gossipper: gate successful_calls>=21: PASS (successful_calls = 21)" in err
    assert "gossipper: gate total_calls<21: FAIL (total_calls = 21)" in err
    summary = _summary(tmp_path / "summary.json")
    assert summary["exit_code"] == 1
    assert [(g["gate"], g["passed"]) for g in summary["gates"]] == [
        ("successful_calls>=21", True),
        ("total_calls<21", False),
    ]
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert root.get("failures") == "1"
    assert [c.get("name") for c in root.iter("testcase")][:2] == [
        "successful_calls>=21",
        "total_calls<21",
    ]


def test_report_html_shows_the_groups_merged_summary_and_files(
    tmp_path: pathlib.Path, uas: int
) -> None:
    """-report_html with -workers: the page of the merged summary and of the trace files
    merged under one process's names."""
    from tests.report._html_check import embedded_data, read_page

    process = _client(
        tmp_path, uas, "-workers", "2", "-m", "21", "-r", "100", "-cp", "0",
        "-trace_stat", "-fd", "1", "-trace_counts", "-report_html", "run.html",
    )  # fmt: skip
    _, err = _finish(process)
    assert process.returncode == ExitStatus.SUCCESS, err
    summary = _summary(tmp_path / "summary.json")
    data = embedded_data(read_page((tmp_path / "run.html").read_text("utf-8")))
    (run,) = data["runs"]
    assert run["summary"] == summary
    assert run["summary"]["calls"]["successful"] == 21
    # The merged -trace_stat and -trace_counts files (named after the parent) were read.
    assert (tmp_path / f"uac_{process.pid}_.csv").exists()
    assert run["stat"] and run["scenario_table"]
    assert "warning: -report_html" not in err


def test_gate_abort_stops_every_worker_on_the_merged_figures(
    tmp_path: pathlib.Path, uas: int
) -> None:
    """-gate_abort with -workers: 1000 calls at 100/s would take 10 s; the gate can no longer
    pass once the group's merged total reaches 10, and every worker stops starting calls."""
    started = time.monotonic()
    process = _client(
        tmp_path, uas, "-workers", "2", "-m", "1000", "-r", "100", "-cp", "0",
        "-gate", "total_calls<10", "-gate_abort",
    )  # fmt: skip
    _, err = _finish(process)
    assert process.returncode == ExitStatus.CALLS_FAILED, err
    assert "gossipper: gate total_calls<10 can no longer pass (total_calls = " in err
    assert "stopping the run (-gate_abort)" in err
    summary = _summary(tmp_path / "summary.json")
    assert 10 <= summary["calls"]["total"] < 500
    assert summary["calls"]["failed"] == 0  # open calls were let finish
    assert summary["gates"][0]["passed"] is False
    assert time.monotonic() - started < 9


def test_a_bad_gate_is_refused_before_any_worker_starts(tmp_path: pathlib.Path) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "gossipper", "-sn", "uac", "-peer", "uas", "-workers", "2",
            "-m", "2", "-nostdin", "-gate", "p98_ms<1", "-summary_json", "x.json",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=WAIT_S, check=False,
    )  # fmt: skip
    assert done.returncode == ExitStatus.FATAL, done.stderr
    assert done.stderr.startswith("gossipper: error: -gate 'p98_ms<1': unknown metric")
    assert not list(tmp_path.iterdir())


def test_two_workers_run_the_whole_test_once(tmp_path: pathlib.Path, uas: int) -> None:
    process = _client(
        tmp_path, uas, "-workers", "2", "-m", "41", "-r", "100", "-cp", "0", "-trace_counts"
    )
    out, err = _finish(process)
    assert process.returncode == ExitStatus.SUCCESS, err
    summary = _summary(tmp_path / "summary.json")
    assert summary["calls"]["total"] == 41
    assert summary["calls"]["successful"] == 41
    assert len(summary["workers"]) == 2
    (workers_dir,) = tmp_path.glob("uac_*_workers")
    parts = [_summary(workers_dir / f"w{i}" / "summary.json") for i in range(2)]
    # -segment 0/2 and 1/2: 21 + 20 calls, together the test.
    assert sorted(part["calls"]["total"] for part in parts) == [20, 21]
    rtd = summary["latency"]["rtd"]
    for name, latency in rtd.items():
        assert latency["histogram"]["count"] == sum(
            part["latency"]["rtd"][name]["histogram"]["count"] for part in parts
        )
    # One counts file, named as one process's, merged from the workers' files.
    counts = (tmp_path / f"uac_{process.pid}_counts.csv").read_text().splitlines()
    header, last = counts[0].split(";"), counts[-1].split(";")
    assert int(last[header.index("0_INVITE_Sent")]) == 41
    assert "Successful call        |" in out
    assert "Traceback" not in err


def test_control_socket_commands_reach_every_worker(tmp_path: pathlib.Path, uas: int) -> None:
    control = _free_port()
    process = _client(tmp_path, uas, "-workers", "2", "-r", "20", "-cp", str(control))
    lines = _stderr_lines_until(process, lambda line: "workers started" in line)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"cset rate 60", ("127.0.0.1", control))
        time.sleep(1.5)
        # q: no new calls in any worker; the run ends when the open ones have ended.
        sock.sendto(b"q", ("127.0.0.1", control))
    _, err = _finish(process)
    assert process.returncode == ExitStatus.SUCCESS, "".join(lines) + err
    summary = _summary(tmp_path / "summary.json")
    assert summary["rate"]["target_cps"] == pytest.approx(60.0)
    assert summary["calls"]["failed"] == 0
    assert all(worker["exit_code"] == 0 for worker in summary["workers"])


def _open_calls_in_stat_file(directory: pathlib.Path) -> int:
    """CurrentCall of the last row of a worker's live -trace_stat file (0 before one)."""
    for path in directory.glob("uac_*_.csv"):
        lines = path.read_text().splitlines()
        if len(lines) >= 2:
            row = dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))
            return int(row.get("CurrentCall", "0") or 0)
    return 0


def test_killed_worker_is_reported_and_leaves_no_process(tmp_path: pathlib.Path, uas: int) -> None:
    process = _client(
        tmp_path,
        uas,
        *("-workers", "2", "-r", "40", "-m", "80", "-d", "6000", "-cp", "0"),
        *("-trace_stat", "-fd", "1"),
    )
    lines = _stderr_lines_until(process, lambda line: "workers started" in line)
    pids = _worker_pids(lines[-1])
    # Worker 1 has open calls (each lasts 6 s) once its live stat file says so; a poll of
    # the parent (every second) then knows them too.
    (workers_dir,) = tmp_path.glob("uac_*_workers")
    deadline = time.monotonic() + WAIT_S
    while _open_calls_in_stat_file(workers_dir / "w1") == 0:
        assert time.monotonic() < deadline, "worker 1 never had an open call"
        time.sleep(0.1)
    time.sleep(1.5)
    os.kill(pids[1], signal.SIGKILL)
    _, err = _finish(process)
    assert process.returncode == ExitStatus.FATAL, err
    assert f"worker 1 (pid {pids[1]}) died (killed by SIGKILL)" in err
    summary = _summary(tmp_path / "summary.json")
    assert "FailedWorkerDied" in summary["failures"], (summary["workers"], summary["calls"], err)
    lost = summary["failures"]["FailedWorkerDied"]
    assert lost > 0
    assert summary["calls"]["failed"] >= lost
    died = [worker for worker in summary["workers"] if worker["died"]]
    assert [(worker["index"], worker["returncode"]) for worker in died] == [(1, -9)]
    _wait_gone(pids)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:"):
                inodes.add(target)
    return inodes


def test_workers_are_forked_and_hold_only_their_own_sockets(
    tmp_path: pathlib.Path, uas: int
) -> None:
    """The workers are forked from the parent without exec (its imports are theirs), and
    each keeps only its own descriptors: no socket is open in two of the three processes
    (a worker holding another's end of its socketpair would hide that worker's death)."""
    process = _client(tmp_path, uas, "-workers", "2", "-r", "20", "-cp", "0")
    try:
        lines = _stderr_lines_until(process, lambda line: "workers started" in line)
        pids = _worker_pids(lines[-1])
        parent_cmdline = pathlib.Path(f"/proc/{process.pid}/cmdline").read_bytes()
        for pid in pids:
            assert pathlib.Path(f"/proc/{pid}/cmdline").read_bytes() == parent_cmdline
        sockets = [_socket_inodes(pid) for pid in (process.pid, *pids)]
        assert all(sockets), sockets
        for index, mine in enumerate(sockets):
            others = set().union(*(sockets[:index] + sockets[index + 1 :]))
            assert not mine & others, (index, mine & others)
    finally:
        process.kill()
        process.communicate()
    _wait_gone(pids)


def test_killed_parent_takes_its_workers_with_it(tmp_path: pathlib.Path, uas: int) -> None:
    process = _client(tmp_path, uas, "-workers", "2", "-r", "20", "-cp", "0")
    lines = _stderr_lines_until(process, lambda line: "workers started" in line)
    pids = _worker_pids(lines[-1])
    process.kill()
    process.communicate()
    _wait_gone(pids)


def test_worker_that_cannot_start_stops_the_run(tmp_path: pathlib.Path, uas: int) -> None:
    # Both workers would bind -p, -p + 1: take the second port first.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1] - 1
        process = _client(tmp_path, uas, "-workers", "2", "-m", "4", "-p", str(port), "-cp", "0")
        _, err = _finish(process)
    assert process.returncode == ExitStatus.FATAL
    assert "worker 1 did not start" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-sn", "uas", "-t", "t1", "-workers", "2"], "-workers: a server scenario over -t t1"),
        (["-sn", "uas", "-m", "5", "-workers", "2"], "-m on the server side"),
        (["-sn", "uac", "-workers", "0", "127.0.0.1"], "-workers must be"),
        (["-sn", "uac", "-workers", "4", "-m", "2", "127.0.0.1"], "every worker needs"),
        (["-sn", "uac", "-workers", "2", "-segment", "0/2", "127.0.0.1"], "-segment"),
    ],
)
def test_refused_combinations_are_one_line(
    tmp_path: pathlib.Path, args: list[str], message: str
) -> None:
    process = _gossipper(tmp_path, *args)
    _, err = _finish(process)
    assert process.returncode == ConfigError.exit_status
    assert message in err
    assert err.count("\n") == 1, err


def test_server_workers_share_one_port_and_keep_calls_whole(tmp_path: pathlib.Path) -> None:
    port = _free_port()
    control = _free_port()
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    server = _gossipper(
        server_dir,
        "-sn",
        "uas",
        "-workers",
        "2",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-nostdin",
        "-cp",
        str(control),
        "-summary_json",
        "summary.json",
    )
    try:
        _stderr_lines_until(server, lambda line: "workers started" in line)
        client = _client(tmp_path, port, "-m", "30", "-r", "60", "-cp", "0")
        _, client_err = _finish(client)
        assert client.returncode == ExitStatus.SUCCESS, client_err
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            # q: the workers end once their calls have (the uas scenario ends with a pause).
            sock.sendto(b"q", ("127.0.0.1", control))
        _, err = _finish(server)
    finally:
        server.kill()
    assert server.returncode == ExitStatus.SUCCESS, err
    summary = _summary(server_dir / "summary.json")
    assert summary["calls"]["incoming"] == 30
    assert summary["calls"]["successful"] == 30
    (workers_dir,) = server_dir.glob("uas_*_workers")
    parts = [_summary(workers_dir / f"w{i}" / "summary.json") for i in range(2)]
    # Both workers took calls, and no message of a call reached the other worker.
    assert all(part["calls"]["incoming"] > 0 for part in parts)
    assert sum(part["calls"]["incoming"] for part in parts) == 30
    assert all(part["messages"]["out_of_call"] == 0 for part in parts)
