"""What watching a run costs: the same UAC with no UI, with SIPp's live screen, with the TUI.

Runs gossipper's built-in uac at one rate (1,000 calls/s by default) against SIPp's uas, in
rounds that alternate the order of three modes:

  off   stdout to a file, -nostdin: no screen at all (what CI and scripts get)
  live  on an 80x24 pseudo-terminal: SIPp's live screen redrawn every second
  tui   on an 80x24 pseudo-terminal with -interactive: the urwid TUI (dashboard view)

For each mode it prints the uac's CPU per call (from os.wait4), the CPU the UI adds per second
of run as a share of one core (against ``off``), the bytes drawn per second, and the achieved
clean rate relative to ``off`` (1.00 = unchanged; a step with a failed call counts 0). Every
process gets 4 MiB socket buffers. The pseudo-terminal is drained continuously by this script,
as a terminal emulator would.

It first measures the TUI's own work per second in one process (one sample and one refresh of
the dashboard with ten minutes of history, rendered at 80x24 and 200x60), free of the noise of
whole runs on a shared machine.

  python bench/ui_cost.py                      # 1,000 calls/s, 10 s steps, 3 rounds
  python bench/ui_cost.py --rate 2000 --rounds 5 --json ui.json
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pathlib
import pty
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

import benchlib
from benchlib import (
    LOOPBACK,
    Child,
    add_source_options,
    free_udp_port,
    gossipper_command,
    gossipper_counts,
    install_cleanup,
    machine_info,
    new_step_dir,
    prepare_source,
    sipp_binary,
    wait_for_quiet,
    wait_for_udp_listener,
)

MODES = ("off", "live", "tui")
COLUMNS, ROWS = 80, 24


class PtyChild(Child):
    """A benchmark process whose stdin, stdout and stderr are a pseudo-terminal of 80x24; a
    thread reads (and counts) everything it draws, as a terminal would."""

    def __init__(self, name: str, command: list[str], cwd: pathlib.Path) -> None:
        self.name = name
        self.command = command
        self.cwd = cwd
        self.stdout_path = cwd / f"{name}.tty"
        self.stderr_path = cwd / f"{name}.stderr"
        self.stderr_path.write_bytes(b"")
        self.result = None
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        env = benchlib._child_env()
        env.update({"TERM": "xterm-256color", "LANG": "C.UTF-8", "COLUMNS": str(COLUMNS)})
        self.started_at = time.monotonic()
        self._popen = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave
        )
        os.close(slave)
        self.pid = self._popen.pid
        benchlib._LIVE[self.pid] = self._popen
        self.drawn_bytes = 0
        self._master = master
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        tail = bytearray()
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            self.drawn_bytes += len(data)
            tail += data
            del tail[:-20000]
        os.close(self._master)
        self.stdout_path.write_bytes(bytes(tail))

    def finish(self) -> None:
        self._reader.join(timeout=5)


# The TUI's own work per second, measured in one process without the noise of a whole run:
# one sample (a snapshot of the window, the histogram difference) and one refresh of the
# dashboard rendered at 80x24 and 200x60, with a full ten-minute history of 1,000 calls/s.
_RENDER_SNIPPET = """
import random, time
import urwid
from gossipper.engine import QuitState
from gossipper.stats.counters import FailureReason, RunStats
from gossipper.tui.model import History
from gossipper.tui.widgets import KEYS_LINE, Dashboard, RunState, header_text

stats = RunStats(elements=[], rtd_names=["1"], counter_names=[],
                 response_time_repartition_ms=None, call_length_repartition_ms=None,
                 start_wall=0.0, start_mono=0.0, target_rate=1000.0)
window = stats.open_window()
history = History()
draw = random.Random(1)
sample_s = 0.0
for second in range(1, 601):
    for n in range(1000):
        stats.call_created(second - 0.5, incoming=False)
        stats.rtd_sample(0, draw.lognormvariate(-6.0, 0.6), second - 0.5)
        stats.call_ended(second - 0.4, 0.01, FailureReason.TIMEOUT_ON_RECV if n == 0 else None)
    started = time.process_time()
    history.add(stats.snapshot(float(second), float(second), window, restart=True))
    sample_s += time.process_time() - started
state = RunState(scenario="uac", transport_name="UDP", local_address=("127.0.0.1", 5060),
                 remote_address=("127.0.0.1", 5070), rate=1000.0, rate_period_s=1.0, users=None,
                 open_calls=12, open_call_limit=3000, calls_started=600000, call_limit=None,
                 open_call_sockets=0, malformed_messages=0, paused=False,
                 quit_state=QuitState.RUNNING, is_server=False)
for columns, rows in ((80, 24), (200, 60)):
    dashboard = Dashboard()
    header = urwid.Text(header_text(state, 600.0))
    frame = urwid.Frame(dashboard, header=header, footer=urwid.Text(KEYS_LINE))
    rounds = 50
    started = time.process_time()
    for _ in range(rounds):
        dashboard.update(history, state)
        header.set_text(header_text(state, 600.0))
        frame.render((columns, rows))
    refresh_ms = (time.process_time() - started) / rounds * 1000
    print(f"RENDER {columns}x{rows} sample_ms={sample_s / 600 * 1000:.3f}"
          f" refresh_ms={refresh_ms:.3f}")
"""


def render_cost() -> list[str]:
    """The TUI's work per sample, measured in a child running the code under test."""
    done = subprocess.run(
        [sys.executable, "-c", _RENDER_SNIPPET],
        env=benchlib._child_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if line.startswith("RENDER ")]


def run_step(
    mode: str, rate_cps: int, seconds: float, root: pathlib.Path, quiet_wait_s: float
) -> dict[str, object]:
    if quiet_wait_s > 0:
        waited_s = wait_for_quiet(quiet_wait_s)
        if waited_s > 1.5:
            print(f"           (waited {waited_s:.0f} s for other processes to calm down)")
    calls = max(1, round(rate_cps * seconds))
    workdir = new_step_dir(root, mode)
    port = free_udp_port()
    buffers = ("-buff_size", str(4 * 1024 * 1024))
    uas = Child(
        "uas",
        [sipp_binary(), "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-nostdin",
         "-m", str(calls), *buffers],
        workdir,
    )  # fmt: skip
    if not wait_for_udp_listener(port, uas):
        uas.kill()
        raise SystemExit(f"SIPp's uas did not bind UDP {port}: {uas.tail(300)}")
    uac_args = [
        "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-p", str(free_udp_port()),
        "-m", str(calls), "-r", str(rate_cps), *buffers,
        "-summary_json", str(workdir / "uac_summary.json"),
    ]  # fmt: skip
    uac: Child
    if mode == "off":
        uac = Child("uac", gossipper_command(*uac_args, "-nostdin"), workdir)
    elif mode == "live":
        uac = PtyChild("uac", gossipper_command(*uac_args), workdir)
    else:
        uac = PtyChild("uac", gossipper_command(*uac_args, "-interactive"), workdir)
    result = uac.wait(calls / rate_cps + 40.0)
    uas.wait(6.0)
    drawn = 0
    if isinstance(uac, PtyChild):
        uac.finish()
        drawn = uac.drawn_bytes
    counts = gossipper_counts(workdir / "uac_summary.json")
    clean = (
        counts is not None
        and result.returncode == 0
        and counts.failed == 0
        and counts.successful == calls
    )
    return {
        "mode": mode,
        "calls": calls,
        "returncode": result.returncode,
        "killed": result.killed,
        "cpu_s": result.cpu_s,
        "wall_s": result.wall_s,
        "cpu_us_per_call": result.cpu_s / calls * 1e6,
        "achieved_cps": counts.rate_cps if counts is not None else 0.0,
        "clean": clean,
        "drawn_bytes_per_s": drawn / result.wall_s if result.wall_s > 0 else 0.0,
        "workdir": str(workdir),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=int, default=1000, help="calls/s (1000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of a step (10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument("--quiet-wait-s", type=float, default=60.0)
    parser.add_argument("--json", type=pathlib.Path)
    parser.add_argument("--work", type=pathlib.Path, help="keep the step directories here")
    add_source_options(parser)
    args = parser.parse_args(argv)

    install_cleanup()
    sipp_binary()
    root = args.work or pathlib.Path(tempfile.mkdtemp(prefix="gossipper-ui-cost-"))
    version = prepare_source(args, root)
    info = machine_info()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    print(
        f"gossipper {version}; uac at {args.rate} calls/s against SIPp's uas, "
        f"{args.seconds:g} s steps, {args.rounds} rounds, modes {', '.join(MODES)}"
    )
    render = render_cost()
    for line in render:
        print("  TUI work per second (one sample + one refresh), " + line.removeprefix("RENDER "))
    steps: list[dict[str, object]] = []
    for round_number in range(args.rounds):
        order = MODES if round_number % 2 == 0 else tuple(reversed(MODES))
        for mode in order:
            step = run_step(mode, args.rate, args.seconds, root / "steps", args.quiet_wait_s)
            steps.append(step)
            print(
                f"  round {round_number + 1} {mode:>4}: {step['cpu_us_per_call']:7.1f} µs/call"
                f"  achieved {step['achieved_cps']:8.1f} cps"
                f"  {'clean' if step['clean'] else 'NOT CLEAN'}"
                f"  drawn {float(step['drawn_bytes_per_s']) / 1024:6.1f} KiB/s",
                flush=True,
            )

    def median(mode: str, key: str) -> float:
        return statistics.median(float(s[key]) for s in steps if s["mode"] == mode)  # type: ignore[arg-type]

    def clean_rate(mode: str) -> float:
        return statistics.median(
            float(s["achieved_cps"]) if s["clean"] else 0.0  # type: ignore[arg-type]
            for s in steps
            if s["mode"] == mode
        )

    base_us = median("off", "cpu_us_per_call")
    base_rate = clean_rate("off")
    summary: dict[str, dict[str, float]] = {}
    print("\nmode  µs/call  UI cost (% of one core)  clean rate / off  drawn KiB/s")
    for mode in MODES:
        us = median(mode, "cpu_us_per_call")
        # Extra CPU per call times calls per second = extra CPU seconds per second.
        core_share = (us - base_us) * 1e-6 * args.rate * 100.0
        ratio = clean_rate(mode) / base_rate if base_rate > 0 else 0.0
        drawn = median(mode, "drawn_bytes_per_s") / 1024
        summary[mode] = {
            "cpu_us_per_call": us,
            "ui_core_percent": core_share,
            "clean_rate_ratio": ratio,
            "drawn_kib_per_s": drawn,
        }
        print(f"{mode:>4}  {us:7.1f}  {core_share:23.2f}  {ratio:16.2f}  {drawn:11.1f}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": info, "version": version, "rate_cps": args.rate, "steps": steps,
                 "summary": summary, "render": render},
                indent=2,
            )
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
