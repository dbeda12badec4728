"""``gossipper sim`` end to end: two real engines on the simulated network.

The determinism tests run the golden cases (tests/golden_tool.py) under several reproducible
but very different Trio scheduling orders (tests/sim/_scheduling.py) and in separate processes
with different PYTHONHASHSEED values; the fault tests recompute the retransmission counters from
the network's own event log.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import io
import os
import pathlib
import shlex
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from gossipper.cli.main import raw_main
from gossipper.cli.sim_command import build_plan
from gossipper.errors import ExitStatus
from gossipper.sim import CLIENT_HOST, EventKind, SimulationResult, run_simulation
from gossipper.sip import SipMessage, parse_message
from gossipper.stats import FailureReason
from tests import golden_tool
from tests.golden_tool import CASES, GoldenCase, run_case
from tests.sim._scheduling import shuffled_scheduling

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN_INPUTS = golden_tool.INPUTS
HASH_SEEDS = ("0", "98765")
_CASES = {case.name: case for case in CASES}


def _run(case: GoldenCase, tmp_path: pathlib.Path, tag: str) -> dict[str, bytes]:
    directory = tmp_path / tag
    directory.mkdir()
    return run_case(case, directory)


# ------------------------------------------------------------------ determinism


@pytest.mark.parametrize("name", [case.name for case in CASES])
def test_outputs_do_not_depend_on_trio_scheduling_order(name: str, tmp_path: pathlib.Path) -> None:
    case = _CASES[name]
    reference = _run(case, tmp_path, "default")
    for seed in (1, 2):
        with shuffled_scheduling(seed):
            shuffled = _run(case, tmp_path, f"shuffled{seed}")
        assert sorted(shuffled) == sorted(reference)
        for file_name, data in reference.items():
            assert shuffled[file_name] == data, f"{file_name} differs under shuffle seed {seed}"


def _run_in_subprocess(
    case: GoldenCase, directory: pathlib.Path, hash_seed: str
) -> dict[str, bytes]:
    """``run_case`` in a fresh interpreter with PYTHONHASHSEED=hash_seed (same output names)."""
    directory.mkdir()
    for name in case.inputs:
        (directory / name).write_bytes((GOLDEN_INPUTS / name).read_bytes())
    env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "gossipper", *case.argv],
        cwd=directory,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    outputs = {
        path.name: path.read_bytes()
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name not in case.inputs
    }
    outputs["stdout.txt"] = done.stdout
    outputs["stderr.txt"] = done.stderr
    outputs["exit_status.txt"] = f"{done.returncode}\n".encode()
    return outputs


def test_hash_seeds_reach_the_child_process() -> None:
    """The test below means something only if PYTHONHASHSEED changes the child's str hashes."""
    hashes = {
        subprocess.run(
            [sys.executable, "-c", "print(hash('gossipper'))"],
            env=dict(os.environ, PYTHONHASHSEED=seed),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in HASH_SEEDS
    }
    assert len(hashes) == len(HASH_SEEDS)


# tls_ln: real TLS handshakes with fresh random keys per run; tcp_tn_resets: stream faults.
@pytest.mark.parametrize("name", ["loss_10pct", "tls_ln", "tcp_tn_resets"])
def test_same_bytes_in_separate_processes_with_different_hash_seeds(
    tmp_path: pathlib.Path, name: str
) -> None:
    case = _CASES[name]
    runs = {seed: _run_in_subprocess(case, tmp_path / f"hash{seed}", seed) for seed in HASH_SEEDS}
    runs["in-process"] = _run(case, tmp_path, "in_process")
    reference = runs["in-process"]
    assert len(reference) > 10  # every trace file, the summary, stdout, stderr, exit status
    for label, outputs in runs.items():
        assert sorted(outputs) == sorted(reference), label
        for file_name, data in reference.items():
            assert outputs[file_name] == data, f"{file_name} differs under PYTHONHASHSEED={label}"


# Clocks a simulation must not read: the wall clock from anywhere (trio included), the
# monotonic/performance clocks from gossipper's own code (trio's MockClock reads one itself).
WALL_CLOCKS = {
    (time, "time"),
    (time, "time_ns"),
    (datetime.datetime, "now"),
    (datetime.datetime, "utcnow"),
    (datetime.datetime, "today"),
    (datetime.date, "today"),
}
MONOTONIC_CLOCKS = {
    (time, "monotonic"),
    (time, "monotonic_ns"),
    (time, "perf_counter"),
    (time, "perf_counter_ns"),
}
GOSSIPPER_SOURCES = str(ROOT / "gossipper")


def _clock_read(arg: Any, clocks: set[tuple[Any, str]]) -> str | None:
    """The clock a ``c_call`` profile event calls, if it is one of ``clocks``. By identity:
    ``__self__`` of other builtins may be unhashable (a list's ``append``)."""
    name = getattr(arg, "__name__", None)
    owner = getattr(arg, "__self__", None)
    if any(owner is clock_owner and name == clock_name for clock_owner, clock_name in clocks):
        return str(name)
    return None


def test_a_simulation_opens_no_network_socket_thread_or_clock(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    """A sim run is a function of its seed: no real socket, thread, wall clock or (in
    gossipper's code) monotonic clock. Clock calls are caught by a profile hook, which sees
    them however the function was reached (``from time import time``, a default argument
    ``now=time.time``, ``datetime.datetime.now(tz)``); in the mypyc-compiled build, calls from
    compiled modules are invisible to it, and the patched ``time.time``/``time.time_ns`` still
    catch those made through the module."""
    seen: list[str] = []
    real_start = threading.Thread.start

    class GuardedSocket(socket.socket):
        def __init__(self, family: Any = -1, *args: Any, **kwargs: Any) -> None:
            super().__init__(family, *args, **kwargs)
            # trio.run makes one AF_UNIX socketpair to wake itself up; nothing else may exist.
            if self.family != socket.AF_UNIX:
                seen.append(f"socket {self.family!r}")

    def guarded_start(self: threading.Thread) -> None:
        seen.append("thread")
        real_start(self)

    def patched(name: str) -> Any:
        def no_wall_clock() -> int:
            seen.append(f"time.{name} (patched)")
            return 0

        return no_wall_clock

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event != "c_call":
            return
        clock = _clock_read(arg, WALL_CLOCKS)
        if clock is None and frame.f_code.co_filename.startswith(GOSSIPPER_SOURCES):
            clock = _clock_read(arg, MONOTONIC_CLOCKS)
        if clock is not None:
            seen.append(f"{clock} at {frame.f_code.co_filename}:{frame.f_lineno}")

    monkeypatch.setattr(socket, "socket", GuardedSocket)
    monkeypatch.setattr(threading.Thread, "start", guarded_start)
    monkeypatch.setattr(time, "time", patched("time"))
    monkeypatch.setattr(time, "time_ns", patched("time_ns"))
    sys.setprofile(profile)
    try:
        outputs = run_case(_CASES["named_rtd"], tmp_path)
    finally:
        sys.setprofile(None)
    assert outputs["exit_status.txt"] == b"0\n"
    assert seen == []


def test_the_clock_guard_sees_every_way_of_reading_a_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The profile hook above, checked against the calls it must catch."""
    from time import monotonic as imported_monotonic

    def read_all(now_wall: Any = time.time) -> None:
        now_wall()
        datetime.datetime.now(datetime.UTC)
        datetime.date.today()
        time.time_ns()
        imported_monotonic()

    seen: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "c_call":
            clock = _clock_read(arg, WALL_CLOCKS | MONOTONIC_CLOCKS)
            if clock is not None:
                seen.append(clock)

    sys.setprofile(profile)
    try:
        read_all()
    finally:
        sys.setprofile(None)
    assert seen == ["time", "now", "today", "time_ns", "monotonic"]


# ------------------------------------------------------------------ faults and counters


def _simulate(args: list[str], tmp_path: pathlib.Path) -> tuple[SimulationResult, str]:
    plan = dataclasses.replace(build_plan(args, directory=str(tmp_path)), record_payloads=True)
    stdout, stderr = io.StringIO(), io.StringIO()
    result = run_simulation(plan, stdout, stderr)
    return result, stdout.getvalue()


def _expected_client_counters(result: SimulationResult) -> dict[str, int]:
    """SIPp's retransmission counters of a uac, recomputed from the network log alone.

    A retransmission is a datagram the client sends again with the same bytes; a transaction
    times out when its request went out 1 + max retransmissions times (INVITE 6, BYE 10) and no
    answer for it ever reached the client; a 180 arriving after the 200 of the INVITE (a re-sent
    180 overtaken by the 200's own retransmission) is discarded once the uac has acknowledged
    the 200 (RFC 3261 17.1.1.2; SIPp 3.6.1 would abort the call: docs/compatibility.md), so
    nothing is unexpected; ``late_180`` counts them.
    """
    messages: dict[str, SipMessage] = {d: parse_message(b) for d, b in result.payloads.items()}
    sends: collections.Counter[str] = collections.Counter()
    delivered: dict[str, list[SipMessage]] = collections.defaultdict(list)
    for event in result.events:
        if event.time_s > result.end_time_s:
            break  # the peer's drain after the main side ended
        if event.src[0] == CLIENT_HOST and event.copy == 0:
            if event.kind in (EventKind.SCHEDULED, EventKind.LOST):
                sends[event.digest] += 1
        elif event.dst[0] == CLIENT_HOST and event.kind is EventKind.DELIVERED:
            message = messages[event.digest]
            delivered[message.call_id].append(message)
    retrans: collections.Counter[str] = collections.Counter()
    most_sends: dict[tuple[str, str], int] = collections.defaultdict(int)
    for digest, count in sends.items():
        message = messages[digest]
        retrans[message.method] += count - 1
        key = (message.call_id, message.method)
        most_sends[key] = max(most_sends[key], count)
    invite_timeouts = bye_timeouts = unexpected = late_180 = 0
    for call_id in {call_id for call_id, _ in most_sends}:
        answers = delivered[call_id]
        if most_sends[(call_id, "INVITE")] == 6 and not answers:
            invite_timeouts += 1
        bye_answered = any(m.cseq_method == "BYE" for m in answers)
        if most_sends[(call_id, "BYE")] == 10 and not bye_answered:
            bye_timeouts += 1
        answered = False
        for message in answers:
            if message.cseq_method == "BYE":
                break
            if message.status_code == 200:
                answered = True
            elif answered and message.status_code == 180:
                late_180 += 1
    return {
        "retransmissions": sum(retrans.values()),
        "invite_retrans": retrans["INVITE"],
        "ack_retrans": retrans["ACK"],
        "bye_retrans": retrans["BYE"],
        "invite_timeouts": invite_timeouts,
        "bye_timeouts": bye_timeouts,
        "max_udp_retrans": invite_timeouts + bye_timeouts,
        "unexpected": unexpected,
        "late_180": late_180,
    }


def _client_counters(result: SimulationResult) -> dict[str, int]:
    snapshot = result.main.snapshot
    elements = snapshot.elements  # uac: 0 INVITE, 5 ACK, 7 BYE
    return {
        "retransmissions": snapshot.cumulative.retransmissions,
        "invite_retrans": elements[0].retrans,
        "ack_retrans": elements[5].retrans,
        "bye_retrans": elements[7].retrans,
        "invite_timeouts": elements[0].timeouts,
        "bye_timeouts": elements[7].timeouts,
        "max_udp_retrans": snapshot.cumulative.failure(FailureReason.MAX_UDP_RETRANS),
        "unexpected": sum(element.unexpected for element in elements),
        "late_180": elements[2].retrans,  # uac: 2 is the optional 180
    }


def test_ten_percent_loss_counters_match_the_loss_pattern(tmp_path: pathlib.Path) -> None:
    args = ["-sn", "uac", "-m", "200", "-r", "20", "-net_loss", "10", "-net_delay", "5"]
    result, _ = _simulate([*args, "-seed", "7"], tmp_path)
    counters = _client_counters(result)
    assert counters == _expected_client_counters(result)
    # Pinned for seed 7: SIPp's retransmissions recover 199 of 200 calls; one BYE outlives the
    # uas's 4 s timewait; one late 180 is discarded (SIPp 3.6.1 would abort that call).
    assert result.network.lost == 159  # (including the peer's drain after the end)
    assert counters == {
        "retransmissions": 87,
        "invite_retrans": 21,
        "ack_retrans": 7,
        "bye_retrans": 59,
        "invite_timeouts": 0,
        "bye_timeouts": 1,
        "max_udp_retrans": 1,
        "unexpected": 0,
        "late_180": 1,
    }
    cumulative = result.main.snapshot.cumulative
    assert (cumulative.successful_calls, cumulative.failed_calls) == (199, 1)
    assert cumulative.failure(FailureReason.UNEXPECTED_MESSAGE) == 0


def test_a_run_without_the_event_log_is_the_same_run(tmp_path: pathlib.Path) -> None:
    """``gossipper sim`` keeps no event log (nothing there reads it): the run, its output and
    its counters are the same without one, and the network only counts what it left out."""
    args = ["-sn", "uac", "-m", "40", "-r", "20", "-net_loss", "10", "-net_delay", "5"]
    (tmp_path / "kept").mkdir()
    (tmp_path / "off").mkdir()
    kept, kept_out = _simulate(args, tmp_path / "kept")
    plan = build_plan(args, directory=str(tmp_path / "off"))
    stdout = io.StringIO()
    off = run_simulation(dataclasses.replace(plan, record_events=False), stdout, io.StringIO())
    assert kept.events and not off.events
    assert stdout.getvalue().replace("/off", "/kept") == kept_out
    assert off.network.events_dropped == len(kept.events) + kept.network.events_dropped
    assert dataclasses.replace(off.network, events_dropped=0) == dataclasses.replace(
        kept.network, events_dropped=0
    )
    assert off.exit_status == kept.exit_status


def test_a_late_180_after_the_acknowledged_200_is_discarded(tmp_path: pathlib.Path) -> None:
    # A 600 ms client-to-server delay: the INVITE is retransmitted before it arrives, the uas
    # answers the retransmission with its 180 again, which reaches the uac after it has
    # acknowledged the 200 (the soak's starved-CPU failure, docs/performance.md).
    args = ["-sn", "uac", "-m", "20", "-r", "10", "-net_delay_c2s", "600", "-d", "100"]
    result, _ = _simulate([*args, "-seed", "1"], tmp_path)
    counters = _client_counters(result)
    assert counters == _expected_client_counters(result)
    assert counters["late_180"] == 20 and counters["unexpected"] == 0
    cumulative = result.main.snapshot.cumulative
    assert (cumulative.successful_calls, cumulative.failed_calls) == (20, 0)


def test_heavy_loss_times_transactions_out_exactly_as_the_log_says(tmp_path: pathlib.Path) -> None:
    args = ["-sn", "uac", "-m", "100", "-r", "10", "-net_loss", "40", "-net_delay", "5"]
    result, stdout = _simulate([*args, "-seed", "3"], tmp_path)
    counters = _client_counters(result)
    assert counters == _expected_client_counters(result)
    assert counters["invite_timeouts"] >= 1 and counters["bye_timeouts"] >= 1
    cumulative = result.main.snapshot.cumulative
    assert cumulative.failed_calls == counters["max_udp_retrans"] + counters["unexpected"]
    assert result.exit_status is ExitStatus.CALLS_FAILED
    assert stdout.endswith(f"Reproduce with: gossipper sim {shlex.join(args)} -seed 3\n")


def test_loss_changes_with_the_seed_only(tmp_path: pathlib.Path) -> None:
    args = ["-sn", "uac", "-m", "50", "-r", "20", "-net_loss", "20"]
    first, _ = _simulate([*args, "-seed", "1"], tmp_path)
    again, _ = _simulate([*args, "-seed", "1"], tmp_path)
    other, _ = _simulate([*args, "-seed", "2"], tmp_path)
    assert first.events == again.events
    assert first.events != other.events


# ------------------------------------------------------------------ command line and report


def _cli(args: list[str], directory: pathlib.Path) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(directory)
    try:
        status = raw_main(["sim", *args], stdout=stdout, stderr=stderr)
    finally:
        os.chdir(previous)
    return status, stdout.getvalue(), stderr.getvalue()


def test_failed_run_ends_with_a_command_that_reproduces_it(tmp_path: pathlib.Path) -> None:
    (tmp_path / "busy.xml").write_bytes(
        (ROOT / "tests/golden_csv/scenarios/uas_486.xml").read_bytes()
    )
    args = ["-sn", "uac", "-m", "3", "-peer", "busy.xml", "-net_jitter", "3"]
    status, stdout, _ = _cli(args, tmp_path)
    assert status == int(ExitStatus.CALLS_FAILED)
    last = stdout.splitlines()[-1]
    assert last == f"Reproduce with: gossipper sim {shlex.join(args)} -seed 1"
    replay = shlex.split(last.removeprefix("Reproduce with: "))
    assert replay[:2] == ["gossipper", "sim"]
    assert _cli(replay[2:], tmp_path) == (status, stdout, "")


def test_successful_run_prints_no_reproduction_line(tmp_path: pathlib.Path) -> None:
    status, stdout, stderr = _cli(["-sn", "uac", "-m", "5", "-r", "50"], tmp_path)
    assert (status, stderr) == (0, "")
    assert "Reproduce with" not in stdout
    assert "Test Terminated" in stdout
    assert "  Peer uas: 5 calls, 5 successful, 0 failed, 0 retransmissions" in stdout


def test_fault_options_build_per_direction_rules(tmp_path: pathlib.Path) -> None:
    plan = build_plan(
        [
            "-sn",
            "uac",
            "-net_loss",
            "5",
            "-net_loss_s2c",
            "20",
            "-net_delay_c2s",
            "30",
            "-net_jitter",
            "4",
            "-seed",
            "0x10",
            "-epoch",
            "1000",
        ]
    )
    c2s = plan.faults.for_link((CLIENT_HOST, 5060), ("10.0.0.2", 5060))
    s2c = plan.faults.for_link(("10.0.0.2", 5060), (CLIENT_HOST, 5060))
    assert (c2s.loss_pct, c2s.delay_ms, c2s.jitter_ms) == (5, 30, 4)
    assert (s2c.loss_pct, s2c.delay_ms, s2c.jitter_ms) == (20, 0, 4)
    assert (plan.seed, plan.epoch_s) == (16, 1000.0)
    assert plan.peer.scenario.base_name == "uas"
    # No -m: the main side stops after the default sim timeout (an hour of virtual time).
    assert plan.main.config.timers.timeout_s == 3600.0


def test_sip_over_split_and_coalesced_tcp_segments_still_completes_every_call(
    tmp_path: pathlib.Path,
) -> None:
    args = ["-sn", "uac", "-m", "40", "-r", "20", "-t", "t1", "-net_delay", "2"]
    args += ["-net_split", "60", "-net_coalesce", "60"]
    result, _ = _simulate(args, tmp_path)
    cumulative = result.main.snapshot.cumulative
    assert (cumulative.successful_calls, cumulative.failed_calls) == (40, 0)
    # The framing saw messages cut mid-way and two messages in one read.
    assert result.network.stream_splits > 0
    assert result.network.stream_coalesced > 0


def test_refused_tcp_connections_fail_the_calls(tmp_path: pathlib.Path) -> None:
    args = ["-sn", "uac", "-m", "5", "-r", "10", "-t", "tn", "-net_refuse_c2s", "100"]
    result, _ = _simulate(args, tmp_path)
    assert result.main.snapshot.cumulative.failed_calls == 5
    assert result.network.stream_refusals >= 5


def test_stream_fault_options_reach_the_fault_plan() -> None:
    plan = build_plan(
        [
            "-sn",
            "uac",
            "-net_refuse",
            "10",
            "-net_split_c2s",
            "25",
            "-net_coalesce",
            "5",
            "-net_coalesce_s2c",
            "50",
            "-net_coalesce_hold_s2c",
            "3",
        ]
    )
    c2s = plan.faults.for_link((CLIENT_HOST, 40000), ("10.0.0.2", 5060))
    s2c = plan.faults.for_link(("10.0.0.2", 5060), (CLIENT_HOST, 40000))
    assert (c2s.refuse_pct, c2s.split_pct, c2s.coalesce_pct, c2s.coalesce_hold_ms) == (10, 25, 5, 1)
    assert (s2c.refuse_pct, s2c.split_pct, s2c.coalesce_pct, s2c.coalesce_hold_ms) == (10, 0, 50, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-sn", "uac", "-net_loss", "101"], "-net_loss must be a percentage in [0, 100]"),
        (["-sn", "uac", "-net_split", "101"], "-net_split must be a percentage in [0, 100]"),
        (["-sn", "uac", "-net_coalesce_hold", "-1"], "-net_coalesce_hold must be a finite number"),
        (["-sn", "uac", "-net_delay", "-1"], "-net_delay must be a finite number >= 0"),
        (["-sn", "uac", "-net_jitter", "x"], "-net_jitter must be a number"),
        (["-sn", "uac", "-seed", "abc"], "-seed must be an integer"),
        (["-sn", "uac", "-seed"], "-seed needs a value"),
        (["-sn", "uac", "127.0.0.1"], "drop the remote host 127.0.0.1"),
        (["-sn", "uac", "-peer", "uac"], "-peer uac: the peer must not be a client scenario"),
        (["-sn", "uac", "-peer", "nope"], "-peer nope: not a built-in scenario name"),
        (["-sn", "uac", "-bg"], "-bg has no meaning in a simulation"),
    ],
)
def test_bad_sim_arguments_are_one_line_errors(
    args: list[str], message: str, tmp_path: pathlib.Path
) -> None:
    status, stdout, stderr = _cli(args, tmp_path)
    assert status == int(ExitStatus.CALLS_FAILED)  # ConfigError: 1, as a bad SIPp command line
    assert stdout == ""
    assert stderr.startswith("gossipper: error: ") and message in stderr
    assert stderr.count("\n") == 1


def test_sim_help_lists_every_sim_option(tmp_path: pathlib.Path) -> None:
    from gossipper.cli.options import OPTIONS, SIM

    status, stdout, _ = _cli(["-h"], tmp_path)
    assert status == int(ExitStatus.NO_CALLS)
    sim_only = [spec for spec in OPTIONS if spec.scope == SIM]
    assert sim_only
    for spec in sim_only:
        assert f"  {spec.name} " in stdout
    assert "-bg" in stdout.split("refuses:", 1)[1]  # real-only options are named, not listed
    assert all(len(line) <= 100 for line in stdout.splitlines())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-sn", "uac", "-cp", "9000"], "gossipper sim: -cp has no meaning in a simulation"),
        (["-sn", "uac", "-rsa", "10.0.0.9"], "gossipper sim: -rsa has no meaning"),
        (["-sn", "uac", "-v"], "gossipper sim: -v is not a sim option; use gossipper -v"),
        (["-net_los", "5"], "unknown option -net_los; did you mean -net_loss?"),
    ],
)
def test_options_outside_the_sim_scope_are_refused(
    args: list[str], message: str, tmp_path: pathlib.Path
) -> None:
    status, stdout, stderr = _cli(args, tmp_path)
    assert (status, stdout) == (int(ExitStatus.CALLS_FAILED), "")
    assert stderr.startswith(f"gossipper: error: {message}")
    assert stderr.count("\n") == 1


def test_only_sim_options_run_the_default_scenario() -> None:
    plan = build_plan(["-seed", "7"])
    assert plan.main.config == build_plan(["-sn", "uac"]).main.config
    assert plan.seed == 7


def test_main_side_may_be_the_server(tmp_path: pathlib.Path) -> None:
    status, stdout, _ = _cli(["-sn", "uas", "-m", "6", "-r", "30"], tmp_path)
    assert status == 0
    assert "SIPp Server Mode" not in stdout  # exit screens say Test Terminated, as SIPp
    assert "  Peer uac: 6 calls, 6 successful, 0 failed, 0 retransmissions" in stdout


def test_exec_commands_are_skipped_and_reported(tmp_path: pathlib.Path) -> None:
    scenario = (ROOT / "tests/golden_csv/scenarios/uac_rtd.xml").read_text()
    scenario = scenario.replace(
        '<log message="call', '<exec command="touch never-created"/>\n      <log message="call'
    )
    (tmp_path / "exec.xml").write_text(scenario)
    status, _, stderr = _cli(["-sf", "exec.xml", "-m", "2", "-r", "10"], tmp_path)
    assert status == 0
    assert not (tmp_path / "never-created").exists()
    assert "2 <exec command> action(s) not run" in stderr


def test_docs_cli_md_has_the_current_sim_section() -> None:
    from gossipper.cli.options import format_markdown

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    # One generator for the whole file: python -m gossipper.cli.options --markdown.
    assert text == format_markdown()
    assert "\n## gossipper sim\n" in text and "| `-net_loss_c2s` |" in text


def test_a_run_where_time_stops_passing_ends_with_one_error_line(tmp_path: pathlib.Path) -> None:
    from gossipper.sim import SimulationStalled

    # -users without -m on a network without delay: every call takes no virtual time at all.
    plan = dataclasses.replace(
        build_plan(["-sn", "uac", "-users", "2"], directory=str(tmp_path)),
        max_rounds_per_instant=300,
    )
    with pytest.raises(SimulationStalled, match="stalled at virtual time 0.000000 s") as info:
        run_simulation(plan, io.StringIO(), io.StringIO())
    assert info.value.exit_status is ExitStatus.FATAL
    assert "-net_delay" in str(info.value) and "\n" not in str(info.value)
