"""``gossipper server -config FILE.json`` as a separate process on loopback: SIGHUP applies an
edited file, SIGTERM drains and exits 0, configuration errors are one line and exit 255."""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from gossipper.errors import ExitStatus
from tests.loopback_ports import free_udp_port, udp_port_taken

WAIT_S = 30


def _start(tmp_path: pathlib.Path, document: dict[str, Any]) -> subprocess.Popen[str]:
    (tmp_path / "server.json").write_text(json.dumps(document))
    return subprocess.Popen(
        [sys.executable, "-m", "gossipper", "server", "-config", "server.json"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(process: subprocess.Popen[str], predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"the server exited ({process.returncode}) before {what}: {err}")
        if time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            raise AssertionError(f"timed out waiting for {what}: {err}")
        time.sleep(0.05)


def _summary(tmp_path: pathlib.Path, run: str) -> dict[str, Any] | None:
    path = tmp_path / "out" / run / "summary.json"
    if not path.exists():
        return None
    summary: dict[str, Any] = json.loads(path.read_text())
    return summary


def _finish(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"no exit after SIGTERM: {err}") from None
    assert out == ""
    assert process.returncode == 0, err
    assert "Traceback" not in err
    return err


def _uas(port: int) -> dict[str, Any]:
    return {"name": "uas", "sn": "uas", "local_ip": "127.0.0.1", "local_port": port}


def _uac(name: str, port: int, **settings: Any) -> dict[str, Any]:
    remote = f"127.0.0.1:{port}"
    return {"name": name, "sn": "uac", "local_ip": "127.0.0.1", "remote": remote, **settings}


def test_sighup_adds_changes_and_removes_runs(tmp_path: pathlib.Path) -> None:
    port = free_udp_port()
    document = {
        "output_dir": "out",
        "drain_timeout_s": 10,
        "runs": [
            _uas(port),
            _uac("changed", port, rate=50, max_calls=15),
            _uac("removed", port, rate=10),  # no limit: runs until removed
        ],
    }
    process = _start(tmp_path, document)
    try:
        _wait(process, lambda: _summary(tmp_path, "changed") is not None, "the first UAC run")
        first = _summary(tmp_path, "changed")
        assert first is not None and first["calls"]["successful"] == 15
        assert _summary(tmp_path, "removed") is None  # still running

        # A bad file on SIGHUP is logged and changes nothing.
        (tmp_path / "server.json").write_text('{"runs": [{"name": "x", "rate": -1}]}')
        process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert _summary(tmp_path, "removed") is None

        document["runs"] = [
            _uas(port),  # unchanged: untouched
            _uac("changed", port, rate=50, max_calls=7),
            _uac("added", port, rate=50, max_calls=9),
        ]
        (tmp_path / "server.json").write_text(json.dumps(document))
        process.send_signal(signal.SIGHUP)
        _wait(process, lambda: _summary(tmp_path, "added") is not None, "the added run")
        _wait(
            process,
            lambda: (_summary(tmp_path, "changed") or {}).get("calls", {}).get("total") == 7,
            "the changed run's second summary",
        )
        _wait(process, lambda: _summary(tmp_path, "removed") is not None, "the removed run")
    finally:
        err = _finish(process)
    added = _summary(tmp_path, "added")
    assert added is not None and added["calls"]["successful"] == 9
    assert added["calls"]["failed"] == 0
    uas = _summary(tmp_path, "uas")
    assert uas is not None and uas["calls"]["failed"] == 0
    lines = err.splitlines()
    assert all(line.startswith("gossipper: ") for line in lines), err
    assert sum("reload failed, the running configuration stays: " in line for line in lines) == 1
    failed = next(line for line in lines if "reload failed" in line)
    assert "runs[0].rate: must be a number >= 0, got -1" in failed
    assert "gossipper: reload applied: 1 added, 1 changed, 1 removed, 1 unchanged" in lines
    assert "gossipper: run removed: deleted" in lines
    assert "gossipper: run changed: replaced" in lines
    # The UAS was not restarted by the reload: it started once.
    assert sum(line.startswith("gossipper: run uas: started") for line in lines) == 1
    assert lines[-1] == "gossipper: server: stopped"


def test_sigterm_drains_running_calls_and_exits_0(tmp_path: pathlib.Path) -> None:
    port = free_udp_port()
    # Calls of half a second at 30 calls/s: about 15 are running when SIGTERM comes.
    document = {
        "output_dir": "out",
        "drain_timeout_s": 20,
        "runs": [_uas(port), _uac("uac", port, rate=30, pause_default_s=0.5, trace_stat=True)],
    }
    process = _start(tmp_path, document)
    try:
        stat = tmp_path / "out" / "uac"
        _wait(process, lambda: any(stat.glob("*_.csv")) if stat.exists() else False, "the UAC")
        time.sleep(1.5)
    finally:
        err = _finish(process)
    uac = _summary(tmp_path, "uac")
    uas = _summary(tmp_path, "uas")
    assert uac is not None and uas is not None
    assert uac["calls"]["failed"] == 0 and uas["calls"]["failed"] == 0
    assert uac["calls"]["successful"] == uac["calls"]["total"] >= 20
    assert uas["calls"]["successful"] == uac["calls"]["successful"]
    assert "gossipper: SIGTERM: draining" in err.splitlines()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            {"runs": [{"name": "uac", "sn": "uac", "remote": "127.0.0.1:5060", "rate": -3}]},
            "gossipper: error: server.json: runs[0].rate: must be a number >= 0, got -3\n",
        ),
        (
            {"runs": [{"name": "uas", "sn": "uas", "ratte": 3}]},
            "gossipper: error: server.json: runs[0].ratte: unknown key; did you mean rate?\n",
        ),
        ("{not json", "gossipper: error: server.json:1:2: not valid JSON"),
    ],
)
def test_a_config_error_is_one_line_and_exit_255(
    tmp_path: pathlib.Path, content: object, expected: str
) -> None:
    text = content if isinstance(content, str) else json.dumps(content)
    (tmp_path / "server.json").write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "gossipper", "server", "-config", "server.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == ExitStatus.FATAL == 255
    assert done.stderr.startswith(expected)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "gossipper: error: -config FILE.json is required; usage: gossipper server"),
        (("-config",), "gossipper: error: -config needs a value; usage:"),
        (("-config", "missing.json"), "gossipper: error: -config missing.json: cannot read it"),
        (("-config", "x.json", "-bogus"), "gossipper: error: unknown argument '-bogus'; usage:"),
        (("-config", "x.json", "-api_addr", "nohost"), "gossipper: error: -api_addr: 'nohost'"),
    ],
)
def test_command_line_errors_are_one_line_and_exit_255(
    tmp_path: pathlib.Path, args: tuple[str, ...], expected: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gossipper", "server", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert (done.returncode, done.stdout) == (255, "")
    assert done.stderr.startswith(expected) and done.stderr.count("\n") == 1


def test_help_lists_the_options(tmp_path: pathlib.Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gossipper", "server", "-h"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == ExitStatus.NO_CALLS
    assert done.stdout.startswith("usage: gossipper server -config FILE.json")
    assert "SIGHUP" in done.stdout


def test_a_failed_run_does_not_stop_the_server(tmp_path: pathlib.Path) -> None:
    port = free_udp_port()
    # Not the same address as the UAS (the document check refuses that), but the bind fails:
    # the UAS holds the port on every address.
    uas = {**_uas(port), "local_ip": "0.0.0.0"}
    clash = {**_uas(port), "name": "clash"}
    document = {"output_dir": "out", "runs": [uas, clash, _uac("uac", port, max_calls=5)]}
    process = _start(tmp_path, document)
    try:
        _wait(process, lambda: _summary(tmp_path, "uac") is not None, "the UAC")
    finally:
        err = _finish(process)
    uac = _summary(tmp_path, "uac")
    assert uac is not None and uac["calls"]["successful"] == 5
    assert any(line.startswith("gossipper: run clash: failed: ") for line in err.splitlines())


def test_sigint_drains_too(tmp_path: pathlib.Path) -> None:
    # A terminal's Ctrl-C: the same drain as SIGTERM.
    port = free_udp_port()
    process = _start(tmp_path, {"runs": [_uas(port)]})
    _wait(process, lambda: udp_port_taken(port), "the UAS to listen")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=WAIT_S)
    assert process.returncode == 0, err
    assert "gossipper: SIGINT: draining" in err.splitlines()
