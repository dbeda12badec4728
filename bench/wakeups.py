"""Wake-ups per call: how often gossipper's uac sleeps and wakes, against SIPp's uas.

At low call rates CPU per call is dominated by waking up (docs/performance.md, "CPU per call
at low rates"): each pass of Trio's run loop after a sleep runs on cold caches. This script
runs the built-in uac under a Trio instrument and reports, per call, the passes of the run
loop (those that slept and those with a zero timeout: task hand-offs), the task steps by
task, and the uac's CPU per call (os.wait4, start-up included). Counts vary with the peer's
timing from run to run (±40 % here); compare medians of several runs.

  python bench/wakeups.py --rates 250,500 --seconds 5 --runs 3 [--live | --source DIR]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import statistics
import sys
import tempfile

import benchlib
from benchlib import (
    LOOPBACK,
    Child,
    add_source_options,
    free_udp_port,
    install_cleanup,
    machine_busy_s,
    prepare_source,
    start_sipp_uas,
)

# Runs gossipper's CLI with a Trio instrument; the counts go to argv[1] as JSON at exit
# (a finished run leaves through os._exit, so that is wrapped too).
_SNIPPET = """
import collections, json, os, runpy, sys
import trio
out = sys.argv[1]
sys.argv = ["gossipper"] + sys.argv[2:]
counts = collections.Counter()
class Count(trio.abc.Instrument):
    def before_io_wait(self, timeout):
        counts["passes"] += 1
        if timeout == 0:
            counts["zero_timeout_passes"] += 1
    def before_task_step(self, task):
        # "<bound method Engine._receive_loop of <...>>" -> "_receive_loop"
        name = task.name.split(" of ", 1)[0]
        counts["step " + name.rsplit(".", 1)[-1]] += 1
real_run = trio.run
def run(*args, **kwargs):
    kwargs["instruments"] = [*kwargs.get("instruments", ()), Count()]
    return real_run(*args, **kwargs)
trio.run = run
def dump():
    with open(out, "w") as f:
        json.dump(dict(counts), f)
real_exit = os._exit
def exit_after_dump(status):
    dump()
    real_exit(status)
os._exit = exit_after_dump
try:
    runpy.run_module("gossipper", run_name="__main__", alter_sys=True)
finally:
    dump()
"""


def one_run(rate: int, seconds: float, buff_size: int, work: pathlib.Path) -> dict[str, float]:
    calls = round(rate * seconds)
    here = pathlib.Path(tempfile.mkdtemp(prefix=f"r{rate}-", dir=work))
    port = free_udp_port()
    uas = start_sipp_uas(port, calls, here / "uas_stat.csv", buff_size, here)
    counts_file = here / "counts.json"
    command = [
        *benchlib.plain_site_python(_SNIPPET), str(counts_file),
        "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-p", str(free_udp_port()),
        "-nostdin", "-m", str(calls), "-r", str(rate), "-buff_size", str(buff_size),
        "-summary_json", str(here / "uac.json"),
    ]  # fmt: skip
    busy = machine_busy_s()
    uac = Child("uac", command, here)
    result = uac.wait(seconds * 3 + 45)
    uas_result = uas.wait(15.0)
    other_s = max(0.0, machine_busy_s() - busy - result.cpu_s - uas_result.cpu_s)
    counts = benchlib.gossipper_counts(here / "uac.json")
    raw: dict[str, int] = json.loads(counts_file.read_text()) if counts_file.exists() else {}
    sleeps = raw.get("passes", 0) - raw.get("zero_timeout_passes", 0)
    row: dict[str, float] = {
        "clean": float(
            result.returncode == 0 and counts is not None and counts.successful == calls
        ),
        "cpu_us_per_call": result.cpu_s / calls * 1e6,
        "passes_per_call": raw.get("passes", 0) / calls,
        "sleeps_per_call": sleeps / calls,
        "other_s": other_s,
    }
    for key, value in raw.items():
        if key.startswith("step "):
            row[key + " per call"] = value / calls
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rates", default="250,500")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--buff-size", type=int, default=4 * 1024 * 1024)
    parser.add_argument("--json", type=pathlib.Path)
    add_source_options(parser)
    args = parser.parse_args(argv)
    install_cleanup()
    work = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-wakeups-"))
    results: dict[str, list[dict[str, float]]] = {}
    try:
        print(f"gossipper {prepare_source(args, work)}", flush=True)
        for _ in range(args.runs):
            for rate in (int(r) for r in args.rates.split(",")):
                row = one_run(rate, args.seconds, args.buff_size, work)
                results.setdefault(str(rate), []).append(row)
                print(
                    f"{rate:>6}/s clean={bool(row['clean'])!s:<5}"
                    f" {row['cpu_us_per_call']:7.1f} us/call"
                    f" passes {row['passes_per_call']:.2f}"
                    f" sleeps {row['sleeps_per_call']:.2f} per call"
                    f" other_s {row['other_s']:.1f}",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nmedians per call:")
    for rate, rows in results.items():
        keys = sorted({key for row in rows for key in row if key not in ("clean", "other_s")})
        text = ", ".join(
            f"{key} {statistics.median(row.get(key, 0.0) for row in rows):.2f}" for key in keys
        )
        print(f"  {rate:>6}/s: {text}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
