"""The command line end to end, in process: stdout, stderr and the exit status."""

from __future__ import annotations

import io
import json
import pathlib
import subprocess
import sys
import time

import pytest

from gossipper.cli.main import raw_main
from gossipper.errors import ExitStatus


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = raw_main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_version_exits_99() -> None:
    status, out, err = run_cli("-v")
    assert status == ExitStatus.NO_CALLS
    assert out.startswith("gossipper ")
    assert err == ""


def test_version_is_fast_in_a_fresh_process() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gossipper", "-v"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 99
    # -v stays fast because nothing heavy is imported for it; a wall-clock bound here only
    # measured how busy the test machine was (speed is checked in bench/, not by timed tests).
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from gossipper.cli.main import raw_main; raw_main(['-v']); "
            "print(sorted(m for m in ('trio', 'lxml') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.stdout.strip().endswith("[]"), probe.stdout


def test_help_lists_options_and_exits_99() -> None:
    status, out, _ = run_cli("-h")
    assert status == ExitStatus.NO_CALLS
    assert "-sf" in out and "-trace_stat" in out


def test_no_arguments_prints_help() -> None:
    status, out, _ = run_cli()
    assert status == ExitStatus.NO_CALLS
    assert "-sn" in out


def test_dump_builtin_scenario() -> None:
    status, out, _ = run_cli("-sd", "uac")
    assert status == ExitStatus.NO_CALLS
    assert out.lstrip().startswith("<?xml")
    assert 'name="Basic Sipstone UAC"' in out


def test_dump_unknown_builtin_is_an_error() -> None:
    status, out, err = run_cli("-sd", "nope")
    assert status == ExitStatus.CALLS_FAILED
    assert err.startswith("gossipper: error: -sd: invalid default scenario name 'nope'")
    assert "Traceback" not in err


def test_unknown_option_is_one_line_with_exit_1() -> None:
    status, _, err = run_cli("-frobnicate", "127.0.0.1")
    assert status == ExitStatus.CALLS_FAILED
    assert err.count("\n") == 1 and err.startswith("gossipper: error: ")


def test_conflicting_srtp_policies_are_refused_in_one_line() -> None:
    status, _, err = run_cli("-sn", "uac", "-media_srtp", "-media_reject_srtp", "127.0.0.1")
    assert status == ExitStatus.CALLS_FAILED
    assert err == (
        "gossipper: error: -media_srtp and -media_reject_srtp cannot be combined:"
        " keep only one of them\n"
    )


def test_bad_scenario_names_file_and_line(tmp_path: pathlib.Path) -> None:
    scenario = tmp_path / "bad.xml"
    scenario.write_text(
        '<?xml version="1.0"?>\n<scenario name="x">\n  <send>\n<![CDATA[\nINVITE sip:a SIP/2.0\n'
        'Call-ID: [call_id]\n\n]]>\n  </send>\n  <recv response="200" next="nowhere"/>\n'
        "</scenario>\n"
    )
    status, out, err = run_cli("-sf", str(scenario), "127.0.0.1")
    assert status == ExitStatus.CALLS_FAILED
    assert err.startswith(f"gossipper: error: {scenario}:10")
    assert "nowhere" in err
    assert out == ""


def test_missing_scenario_file() -> None:
    status, _, err = run_cli("-sf", "/nonexistent/x.xml", "127.0.0.1")
    assert status == ExitStatus.CALLS_FAILED
    assert "/nonexistent/x.xml" in err and "Traceback" not in err


def test_client_without_remote_host_is_fatal() -> None:
    status, _, err = run_cli("-sn", "uac", "-m", "1", "-nostdin")
    assert status == ExitStatus.FATAL
    assert "remote" in err


def test_sipp_alias_runs_against_builtin_peer(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    summary = tmp_path / "summary.json"
    status, out, err = run_cli(
        "sipp", "-sn", "uac", "-peer", "uas", "-m", "20", "-r", "100", "-nostdin",
        "-i", "127.0.0.1", "-summary_json", str(summary),
    )  # fmt: skip
    assert status == ExitStatus.SUCCESS, err
    assert "Scenario Screen" in out and "Statistics Screen" in out
    assert "Test Terminated" in out
    document = json.loads(summary.read_text())
    assert document["calls"]["successful"] == 20
    assert document["calls"]["failed"] == 0
    assert document["exit_code"] == 0


def test_summary_is_not_left_half_written(tmp_path: pathlib.Path) -> None:
    summary = tmp_path / "s.json"
    status, _, _ = run_cli(
        "-sn", "uac", "-peer", "uas", "-m", "3", "-r", "50", "-nostdin", "-i", "127.0.0.1",
        "-summary_json", str(summary),
    )  # fmt: skip
    assert status == 0
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_global_timeout_without_answers_exits_97(tmp_path: pathlib.Path) -> None:
    # A UAS that never answers: every call is still ringing when -timeout fires.
    import socket

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    try:
        port = sink.getsockname()[1]
        started = time.monotonic()
        status, out, _ = run_cli(
            "-sn", "uac", f"127.0.0.1:{port}", "-i", "127.0.0.1", "-m", "1", "-nostdin",
            "-timeout", "1s",
        )  # fmt: skip
        assert time.monotonic() - started < 10
    finally:
        sink.close()
    # SIPp HEAD: -timeout forces the exit and aborted calls count as failed.
    assert status == ExitStatus.CALLS_FAILED
    assert "Test Terminated" in out


def test_timeout_error_is_fatal(tmp_path: pathlib.Path) -> None:
    status, _, err = run_cli(
        "-sn", "uas", "-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout", "0.3", "-timeout_error"
    )
    assert status == ExitStatus.FATAL
    assert "timed out after '0.300' seconds" in err


def test_idle_server_ended_by_timeout_exits_97() -> None:
    status, _, _ = run_cli(
        "-sn", "uas", "-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout", "0.3"
    )
    assert status == ExitStatus.INTERNAL_COMMAND


def test_trace_screen_without_terminal_writes_periodic_snapshots(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, _, _ = run_cli(
        "-sn", "uac", "-peer", "uas", "-m", "25", "-r", "10", "-nostdin", "-i", "127.0.0.1",
        "-trace_screen", "-fd", "1",
    )  # fmt: skip
    assert status == 0
    (screen_file,) = tmp_path.glob("uac_*_screen.log")
    dumps = screen_file.read_text().count("Scenario Screen")
    # About 2.5 s of traffic at -fd 1: the start-up dump, two or three periodic ones, exit.
    assert dumps >= 4


def test_sigusr2_dumps_screens_and_sigusr1_quits(tmp_path: pathlib.Path) -> None:
    import os
    import signal

    process = subprocess.Popen(
        [
            sys.executable, "-m", "gossipper", "-sn", "uac", "-peer", "uas", "-r", "20",
            "-nostdin", "-i", "127.0.0.1", "-trace_screen",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip

    def screens() -> list[str]:
        """The Scenario Screens written so far (the start-up dump is the first)."""
        found = list(tmp_path.glob("uac_*_screen.log"))
        if not found:
            return []
        return found[0].read_text().split("Scenario Screen")[1:]

    def wait_for(count: int) -> list[str]:
        deadline = time.monotonic() + 15
        while len(written := screens()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return written

    try:
        # The start-up dump; the periodic ones come every -fd 60 s, far beyond this test.
        assert len(wait_for(1)) == 1
        time.sleep(1.5)  # about 30 calls at 20 calls/s
        assert len(screens()) == 1
        os.kill(process.pid, signal.SIGUSR2)
        written = wait_for(2)
        assert len(written) == 2, "SIGUSR2 wrote no screen"
        # The new screen shows the traffic since start-up: calls were made.
        total_calls = int(written[1].splitlines()[2].split()[-2])
        assert total_calls > 0, written[1]
        os.kill(process.pid, signal.SIGUSR1)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
        process.communicate()
    assert process.returncode == 0, err
    assert "Test Terminated" in out
    # SIGUSR1 dumps once more before quitting.
    assert len(screens()) >= 3


def test_ipv6_loopback_uac_against_uas(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    import socket

    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gossipper", "-sn", "uas", "-i", "::1", "-p", str(port),
            "-m", "5", "-nostdin", "-summary_json", str(tmp_path / "uas.json"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        time.sleep(1.0)
        status, out, err = run_cli(
            "-sn", "uac", f"[::1]:{port}", "-i", "::1", "-m", "5", "-r", "20", "-nostdin",
            "-trace_msg",
        )  # fmt: skip
        server_out, server_err = server.communicate(timeout=30)
    finally:
        server.kill()
    assert status == ExitStatus.SUCCESS, err
    assert server.returncode == 0, server_err
    assert json.loads((tmp_path / "uas.json").read_text())["calls"]["successful"] == 5


# --- the typer front door ----------------------------------------------------------------------


def _fresh(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "gossipper", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_version_and_a_plain_run_import_no_typer_or_click() -> None:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, io; from gossipper.cli.main import raw_main; "
            "raw_main(['-v'], stdout=io.StringIO()); "
            "raw_main(['-sn', 'uac', '-peer', 'uas', '-m', '1', '-nostdin', '-p', '0'],"
            " stdout=io.StringIO(), stderr=io.StringIO()); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click')))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.stdout.strip().endswith("[]"), probe.stdout + probe.stderr


def test_front_door_help_lists_the_subcommands_and_exits_99() -> None:
    result = _fresh("--help")
    assert result.returncode == ExitStatus.NO_CALLS
    assert "Commands:" in result.stdout and "\n  sim " in result.stdout
    assert "gossipper -h lists its options" in " ".join(result.stdout.split())
    assert result.stderr == ""


def test_sipp_help_stays_the_option_table() -> None:
    status, out, _ = run_cli("-h")
    assert status == ExitStatus.NO_CALLS
    assert out.startswith("Usage: gossipper [sipp]")
    flat = " ".join(out.split())
    line = flat[flat.index("Subcommands: ") : flat.index("lists them.")]
    assert "gossipper sim" in line and "gossipper report" in line
    for name in ("auth", "tui", "profile", "pcap2scenario", "shell", "server"):
        assert f"gossipper {name}" in line


def test_front_door_usage_error_is_one_line_with_sipp_exit_status() -> None:
    status, out, err = run_cli("--help", "--no-such-option")
    assert status == ExitStatus.CALLS_FAILED
    assert err.startswith("gossipper: error: No such option: --no-such-option")
    assert err.count("\n") == 1
    assert "Traceback" not in err and "╭" not in err


def test_sim_subcommand_gets_its_raw_arguments() -> None:
    # Negative numbers and -h reach the option table untouched (typer does not parse them).
    status, out, err = run_cli("sim", "-sn", "uac", "-net_delay", "-1")
    assert (status, out) == (ExitStatus.CALLS_FAILED, "")
    assert err == "gossipper: error: -net_delay must be a finite number >= 0, got '-1'\n"
    status, out, _ = run_cli("sim", "--help")
    assert status == ExitStatus.NO_CALLS and out.startswith("Usage: gossipper sim ")


def test_show_completion_prints_a_script_for_the_shell() -> None:
    result = _fresh(
        "--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    )
    assert result.returncode == 0, result.stderr
    assert "_GOSSIPPER_COMPLETE=complete_bash" in result.stdout


def test_completion_request_completes_subcommand_names() -> None:
    result = _fresh(
        env={
            "_GOSSIPPER_COMPLETE": "complete_bash",
            "COMP_WORDS": "gossipper si",
            "COMP_CWORD": "1",
        }
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["sim"]


def test_a_misspelt_subcommand_is_suggested_only_as_a_remote_host_hint() -> None:
    from gossipper.cli.commands import close_subcommand

    assert close_subcommand("smi") == "sim"
    assert close_subcommand("127.0.0.1") is None
    assert close_subcommand("proxy.example.com") is None


def test_an_unresolvable_remote_host_is_one_line() -> None:
    status, _, err = run_cli("smi.invalid", "-m", "1", "-nostdin")
    assert status == ExitStatus.CALLS_FAILED
    assert err.splitlines()[-1].startswith("gossipper: error: cannot resolve remote host")
    assert "Traceback" not in err


def test_h_stat_describes_every_column_of_the_stat_file() -> None:
    from gossipper.stats.counters import FAILURE_REASONS

    status, out, err = run_cli("-h", "stat")
    assert (status, err) == (ExitStatus.NO_CALLS, "")
    described = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    for base in ("StartTime", "CurrentTime", "TargetRate", "TotalCallCreated", "CurrentCall"):
        assert base in described
    for reason in FAILURE_REASONS:
        assert f"{reason.value}(P)/(C)" in described
    assert "ResponseTime<rtd>StDev(P)/(C)" in described
    assert "CallLengthRepartition_>=B" in described
    assert "Usage:" not in out
