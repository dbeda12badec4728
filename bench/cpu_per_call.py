"""CPU per call of uacs against SIPp's uas: SIPp's own uac and one or more gossipper builds.

CPU time per call (user + system of the uac process, from os.wait4, start-up included) is far
less sensitive to other load on a shared machine than rates or ceilings are: it measures the
work done, not how fast the machine let it happen. Each round runs every uac once per rate,
in an order that rotates between rounds, so every variant sees the same drift; the medians of
the clean steps are reported. Every process gets the same socket buffers (-buff_size, 4 MiB).

  python bench/cpu_per_call.py --gossipper old=/tmp/snapA --gossipper new=/tmp/snapB \\
      --rates 2000,5000 --rounds 3 [--nice -5] [--pin]

Each --gossipper LABEL=DIR names a snapshot (bench/benchlib.py snapshot_source, or any tree
with a built gossipper package and gossipper/builtin_scenarios).
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
    free_udp_port,
    gossipper_command,
    gossipper_counts,
    install_cleanup,
    machine_busy_s,
    machine_info,
    niced_command,
    sipp_binary,
    sipp_counts,
    start_sipp_uas,
    wait_for_quiet,
)


def step(
    variant: str,
    source: pathlib.Path | None,
    rate: int,
    args: argparse.Namespace,
    work: pathlib.Path,
) -> dict[str, object]:
    if args.quiet_wait_s > 0:
        wait_for_quiet(args.quiet_wait_s)
    calls = round(rate * args.seconds)
    n = 1
    while (work / f"{variant}_{rate}_{n}").exists():
        n += 1
    here = work / f"{variant}_{rate}_{n}"
    here.mkdir(parents=True)
    buffers = ["-buff_size", str(args.buff_size)]
    port = free_udp_port()
    uas = start_sipp_uas(
        port,
        calls,
        here / "uas_stat.csv",
        args.buff_size,
        here,
        nice=args.nice,
        cpu=1 if args.pin else None,
    )
    uac_port = free_udp_port()
    if source is None:
        command = [
            sipp_binary(), "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK,
            "-p", str(uac_port), "-nostdin", "-m", str(calls), "-r", str(rate), *buffers,
            "-trace_stat", "-stf", str(here / "uac_stat.csv"), "-fd", "1",
        ]  # fmt: skip
    else:
        benchlib._SOURCE[0] = source
        command = gossipper_command(
            "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-p", str(uac_port),
            "-nostdin", "-m", str(calls), "-r", str(rate), *buffers,
            "-summary_json", str(here / "uac.json"),
        )  # fmt: skip
    busy = machine_busy_s()
    uac = Child("uac", niced_command(command, args.nice, 0 if args.pin else None), here)
    uac_result = uac.wait(calls / rate * 3 + 45)
    uas_result = uas.wait(15.0)
    other_s = max(0.0, machine_busy_s() - busy - uac_result.cpu_s - uas_result.cpu_s)
    counts = (
        sipp_counts(here / "uac_stat.csv")
        if source is None
        else gossipper_counts(here / "uac.json")
    )
    clean = (
        uac_result.returncode == 0
        and counts is not None
        and counts.successful == calls
        and counts.failed == 0
        and counts.rate_cps >= 0.9 * rate
    )
    return {
        "variant": variant,
        "rate": rate,
        "calls": calls,
        "clean": clean,
        "uac_us_per_call": uac_result.cpu_s / calls * 1e6,
        "uas_us_per_call": uas_result.cpu_s / calls * 1e6,
        "achieved_cps": counts.rate_cps if counts else 0.0,
        "other_s": other_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--gossipper", action="append", default=[], help="LABEL=DIR (repeat)")
    parser.add_argument("--rates", default="2000,5000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--buff-size", type=int, default=4 * 1024 * 1024)
    parser.add_argument("--nice", type=int, default=0, help="run every process at this nice")
    parser.add_argument("--pin", action="store_true", help="uac on CPU 0, uas on CPU 1")
    parser.add_argument("--quiet-wait-s", type=float, default=20.0)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args(argv)
    install_cleanup()
    variants: list[tuple[str, pathlib.Path | None]] = [("sipp", None)]
    for item in args.gossipper:
        label, _, path = item.partition("=")
        variants.append((label, pathlib.Path(path).resolve()))
    rates = [int(rate) for rate in args.rates.split(",")]
    info = machine_info()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    print(
        f"-buff_size {args.buff_size} for every process; nice {args.nice}; pinned {args.pin};"
        f" {args.seconds:g} s steps; {args.rounds} rounds",
        flush=True,
    )
    work = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-cpu-"))
    results: list[dict[str, object]] = []
    try:
        for round_number in range(args.rounds):
            shift = round_number % len(variants)
            order = variants[shift:] + variants[:shift]
            for rate in rates:
                for label, source in order:
                    result = step(label, source, rate, args, work)
                    results.append(result)
                    print(
                        f"round {round_number + 1} {rate:>6}/s {label:<10}"
                        f" clean={result['clean']!s:<5}"
                        f" uac {result['uac_us_per_call']:7.1f} us/call"
                        f" (uas {result['uas_us_per_call']:6.1f})"
                        f" got {result['achieved_cps']:7.0f}/s"
                        f" other_s {result['other_s']:.1f}",
                        flush=True,
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nmedians of clean steps, uac us of CPU per call (ratio to SIPp's):")
    summary: dict[str, dict[str, float | None]] = {}
    for rate in rates:
        line = [f"  {rate:>6}/s"]
        reference = None
        for label, _ in variants:
            values = [
                float(r["uac_us_per_call"])  # type: ignore[arg-type]
                for r in results
                if r["variant"] == label and r["rate"] == rate and r["clean"]
            ]
            median = statistics.median(values) if values else None
            summary.setdefault(label, {})[str(rate)] = median
            if label == "sipp":
                reference = median
            ratio = f" ({median / reference:.2f}x)" if median and reference else ""
            text = f"{median:.1f}" if median is not None else "n/a"
            line.append(f"{label} {text}{ratio} [{len(values)} clean]")
        print("  ".join(line))
    if args.json:
        args.json.write_text(
            json.dumps({"machine": info, "summary": summary, "steps": results}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
