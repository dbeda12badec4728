"""Start-up cost: CPU of a two-call run, alone and with -workers N, for one or more builds.

A short run at a low rate pays its start-up (interpreter, imports, option tables, scenario)
in every call's share: at 250 calls/s for 5 s, 0.5 s of start-up is 400 µs per call
(docs/performance.md, "Start-up"), and each worker of a -workers run used to pay it again.
This runs gossipper's uac for two calls against SIPp's uas, with and without -workers, and
reports the user + system CPU of the whole process tree (os.wait4 of the parent, which has
reaped its workers), rounds interleaved between the builds, medians per build:

  python bench/start_up.py --gossipper old=/tmp/snapA --gossipper new=/tmp/snapB \\
      [--workers 2] [--rounds 5]

Each --gossipper LABEL=DIR names a snapshot (bench/benchlib.py snapshot_source, or any tree
with a built gossipper package). SIPp's own uac is measured the same way for reference.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import statistics
import tempfile

import benchlib
from benchlib import (
    LOOPBACK,
    Child,
    free_udp_port,
    gossipper_command,
    install_cleanup,
    machine_busy_s,
    machine_info,
    sipp_binary,
    start_sipp_uas,
)

CALLS = 2
RATE_CPS = 10


def one_run(
    source: pathlib.Path | None, workers: int, work: pathlib.Path, buff_size: int
) -> tuple[float, bool, float]:
    """(CPU seconds of the uac's process tree, clean, other processes' CPU meanwhile)."""
    here = benchlib.new_step_dir(work, "run")
    port = free_udp_port()
    uas = start_sipp_uas(port, CALLS, here / "uas_stat.csv", buff_size, here)
    common = ["-i", LOOPBACK, "-nostdin", "-m", str(CALLS), "-r", str(RATE_CPS)]
    buffers = ["-buff_size", str(buff_size)]
    if source is None:
        command = [sipp_binary(), "-sn", "uac", f"{LOOPBACK}:{port}", *common, *buffers]
    else:
        benchlib._SOURCE[0] = source
        extra = ["-workers", str(workers)] if workers else []
        command = gossipper_command(
            "-sn", "uac", f"{LOOPBACK}:{port}", *common, *buffers, *extra
        )  # fmt: skip
    busy = machine_busy_s()
    uac = Child("uac", command, here)
    result = uac.wait(60.0)
    uas_result = uas.wait(15.0)
    other_s = max(0.0, machine_busy_s() - busy - result.cpu_s - uas_result.cpu_s)
    return result.cpu_s, result.returncode == 0 and not result.killed, other_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--gossipper", action="append", default=[], help="LABEL=DIR (repeat)")
    parser.add_argument("--workers", default="2", help="comma list of -workers N (0: none)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--buff-size", type=int, default=4 * 1024 * 1024)
    args = parser.parse_args(argv)
    if not args.gossipper:
        parser.error("give at least one --gossipper LABEL=DIR")
    install_cleanup()
    builds = []
    for item in args.gossipper:
        label, _, path = item.partition("=")
        builds.append((label, pathlib.Path(path).resolve()))
    worker_counts = [0, *(int(n) for n in args.workers.split(",") if int(n) > 0)]
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine_info().items()))
    print(f"{CALLS} calls at {RATE_CPS} calls/s against SIPp's uas; {args.rounds} rounds")
    work = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-start-up-"))
    samples: dict[tuple[str, int], list[float]] = {}
    try:
        for round_number in range(1, args.rounds + 1):
            variants: list[tuple[str, pathlib.Path | None, int]] = [("sipp", None, 0)]
            for label, source in builds:
                variants += [(label, source, n) for n in worker_counts]
            if round_number % 2 == 0:
                variants.reverse()  # alternate the order: every build sees the same drift
            for label, source, workers in variants:
                cpu_s, clean, other_s = one_run(source, workers, work, args.buff_size)
                name = label if not workers else f"{label} -workers {workers}"
                flag = "" if clean else "  NOT CLEAN"
                print(
                    f"round {round_number} {name:<28} {cpu_s:6.3f} s of CPU"
                    f" (other processes {other_s:.2f} s){flag}",
                    flush=True,
                )
                if clean:
                    samples.setdefault((label, workers), []).append(cpu_s)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nmedian CPU of a two-call run (s); -workers N: above the same build without")
    for (label, workers), values in samples.items():
        median = statistics.median(values)
        line = f"  {label if not workers else f'{label} -workers {workers}':<28} {median:6.3f}"
        alone = samples.get((label, 0))
        if workers and alone:
            extra = median - statistics.median(alone)
            line += f"   +{extra:.3f} s, {extra / workers:.3f} s per worker"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
