"""Memory per open call: gossipper against SIPp with 10,000 concurrent calls on loopback.

Each pair runs `-sn uac -d 30000 -r 1000 -m 10000` against a `-sn uas -m 10000`, so every call
sits in the scenario's <pause/> for 30 s and about 10,000 calls are open on both sides from ~10 s
to ~30 s. For the measured process we sample VmRSS from /proc/PID/status before traffic starts
(baseline: the uas once it listens, the uac as soon as it has bound its socket), then every
100 ms while the calls are open, and report (peak - baseline) / open calls in KB per call. Open
calls come from the CurrentCall column of each side's statistics CSV (-trace_stat -fd 1).

  sipp -> sipp         measures SIPp as uac and as uas (the reference)
  gossipper -> sipp    measures the gossipper uac
  sipp -> gossipper    measures the gossipper uas

  python bench/bench_memory.py [--json out.json] [--no-wait] [--source DIR [--rev REV]]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

from benchlib import (
    LOOPBACK,
    Child,
    add_source_options,
    free_udp_port,
    gossipper_command,
    gossipper_counts,
    install_cleanup,
    machine_info,
    prepare_source,
    sipp_binary,
    sipp_counts,
    udp_port_bound,
    wait_for_udp_listener,
)

SAMPLE_PERIOD_S = 0.1


@dataclass
class Measured:
    """Memory of one measured process."""

    pair: str
    role: str
    program: str
    baseline_kb: int = 0
    peak_kb: int = 0
    open_calls: int = 0
    kb_per_call: float = 0.0
    hwm_kb: int = 0
    samples: list[tuple[float, int]] = field(default_factory=list)


@dataclass
class PairResult:
    """One pair's run: the measured processes and how the calls ended."""

    pair: str
    measured: list[Measured]
    uac_created: int | None = None
    uac_successful: int | None = None
    uac_failed: int | None = None
    uas_created: int | None = None
    uas_successful: int | None = None
    uas_failed: int | None = None
    notes: list[str] = field(default_factory=list)


def _current_calls(stat_file: pathlib.Path) -> int:
    """Latest CurrentCall from a statistics CSV (SIPp and gossipper write the same columns)."""
    counts = sipp_counts(stat_file)
    return counts.current if counts is not None else 0


# Both tools get the same socket buffers (SIPp's default is 128 KB, gossipper's 4 MiB).
EQUAL_BUFFERS = ("-buff_size", str(4 * 1024 * 1024))


def _uas_command(program: str, port: int, calls: int, workdir: pathlib.Path) -> list[str]:
    common = [
        "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-nostdin", "-m", str(calls),
        "-trace_stat", "-stf", str(workdir / "uas_stat.csv"), "-fd", "1", *EQUAL_BUFFERS,
    ]  # fmt: skip
    if program == "sipp":
        return [sipp_binary(), *common]
    return gossipper_command(*common, "-summary_json", str(workdir / "uas_summary.json"))


def _uac_command(
    program: str,
    remote_port: int,
    local_port: int,
    calls: int,
    rate_cps: int,
    pause_ms: int,
    workdir: pathlib.Path,
) -> list[str]:
    common = [
        "-sn", "uac", f"{LOOPBACK}:{remote_port}", "-i", LOOPBACK, "-p", str(local_port),
        "-nostdin", "-m", str(calls), "-r", str(rate_cps), "-d", str(pause_ms),
        "-trace_stat", "-stf", str(workdir / "uac_stat.csv"), "-fd", "1", *EQUAL_BUFFERS,
    ]  # fmt: skip
    if program == "sipp":
        return [sipp_binary(), *common]
    return gossipper_command(*common, "-summary_json", str(workdir / "uac_summary.json"))


def run_pair(
    name: str,
    uac_program: str,
    uas_program: str,
    measure: tuple[str, ...],
    args: argparse.Namespace,
    root: pathlib.Path,
) -> PairResult:
    """Run one pair and measure the roles in `measure` ("uac", "uas")."""
    workdir = root / name.replace("->", "_to_")
    workdir.mkdir(parents=True)
    port = free_udp_port()
    uas = Child("uas", _uas_command(uas_program, port, args.calls, workdir), workdir)
    measured = {
        role: Measured(name, role, uac_program if role == "uac" else uas_program)
        for role in measure
    }
    result = PairResult(name, list(measured.values()))
    if not wait_for_udp_listener(port, uas):
        uas.kill()
        result.notes.append(f"uas did not start: {uas.tail(300)}")
        return result
    time.sleep(0.5)  # let the uas finish start-up before the baseline
    if "uas" in measured:
        measured["uas"].baseline_kb = uas.vm_rss_kb() or 0
    local_port = free_udp_port()
    uac = Child(
        "uac",
        _uac_command(uac_program, port, local_port, args.calls, args.rate, args.pause_ms, workdir),
        workdir,
    )
    children = {"uac": uac, "uas": uas}
    # Baseline of the uac: its last moment before traffic, i.e. as soon as its socket is bound.
    bind_deadline = time.monotonic() + 10.0
    while time.monotonic() < bind_deadline and not udp_port_bound(local_port):
        if uac.poll() is not None:
            break
        time.sleep(0.002)
    if "uac" in measured:
        measured["uac"].baseline_kb = uac.vm_rss_kb() or 0
    started = time.monotonic()
    sample_until = started + args.sample_until_s
    while time.monotonic() < sample_until:
        elapsed = time.monotonic() - started
        for role, entry in measured.items():
            rss = children[role].vm_rss_kb()
            if rss is not None:
                entry.samples.append((round(elapsed, 2), rss))
                if elapsed >= args.sample_from_s and rss > entry.peak_kb:
                    entry.peak_kb = rss
        if uac.poll() is not None:
            result.notes.append("uac exited before the sampling window ended")
            break
        time.sleep(SAMPLE_PERIOD_S)
    for role, entry in measured.items():
        entry.hwm_kb = children[role].vm_hwm_kb() or 0
        entry.open_calls = _current_calls(workdir / f"{role}_stat.csv")
        if entry.open_calls > 0 and entry.peak_kb:
            entry.kb_per_call = (entry.peak_kb - entry.baseline_kb) / entry.open_calls
    if args.no_wait:
        uac.kill()
        uas.kill()
    else:
        uac.wait(args.pause_ms / 1000 + args.calls / args.rate + 45.0)
        uas.wait(15.0)
    for role, program in (("uac", uac_program), ("uas", uas_program)):
        if program == "sipp":
            counts = sipp_counts(workdir / f"{role}_stat.csv")
        else:
            counts = gossipper_counts(workdir / f"{role}_summary.json")
            if counts is None:  # killed before writing the summary: use its stat CSV
                counts = sipp_counts(workdir / f"{role}_stat.csv")
        if counts is not None:
            setattr(result, f"{role}_created", counts.created)
            setattr(result, f"{role}_successful", counts.successful)
            setattr(result, f"{role}_failed", counts.failed)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Memory per open call, gossipper vs SIPp")
    parser.add_argument("--calls", type=int, default=10_000, help="-m (10000)")
    parser.add_argument("--rate", type=int, default=1000, help="-r (1000)")
    parser.add_argument("--pause-ms", type=int, default=30_000, help="-d (30000)")
    parser.add_argument("--sample-from-s", type=float, default=10.5, help="peak window start")
    parser.add_argument("--sample-until-s", type=float, default=13.0, help="peak window end")
    parser.add_argument("--no-wait", action="store_true", help="kill both after sampling")
    parser.add_argument("--json", type=pathlib.Path, help="write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    add_source_options(parser)
    args = parser.parse_args(argv)

    install_cleanup()
    sipp_binary()
    info = machine_info()
    print("machine: " + ", ".join(f"{key}={value}" for key, value in info.items()))
    print(
        f"-m {args.calls} -r {args.rate} -d {args.pause_ms}; peak = max VmRSS between"
        f" {args.sample_from_s:g} s and {args.sample_until_s:g} s after the uac started",
        flush=True,
    )
    plan = (
        ("sipp->sipp", "sipp", "sipp", ("uac", "uas")),
        ("gossipper->sipp", "gossipper", "sipp", ("uac",)),
        ("sipp->gossipper", "sipp", "gossipper", ("uas",)),
    )
    root = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-bench-mem-"))
    results: list[PairResult] = []
    try:
        source = prepare_source(args, root)
        print(f"gossipper source: {source}", flush=True)
        info["gossipper_source"] = source
        for name, uac_program, uas_program, measure in plan:
            print(f"\nrunning {name} ...", flush=True)
            pair = run_pair(name, uac_program, uas_program, measure, args, root)
            results.append(pair)
            print(
                f"  uac created/successful/failed {pair.uac_created}/{pair.uac_successful}"
                f"/{pair.uac_failed}; uas {pair.uas_created}/{pair.uas_successful}"
                f"/{pair.uas_failed}"
            )
            for note in pair.notes:
                print(f"  ! {note}")
            for entry in pair.measured:
                print(
                    f"  {entry.program} {entry.role}: baseline {entry.baseline_kb} KB,"
                    f" peak {entry.peak_kb} KB, open calls {entry.open_calls},"
                    f" {entry.kb_per_call:.2f} KB/call (VmHWM {entry.hwm_kb} KB)",
                    flush=True,
                )
    finally:
        if args.keep:
            print(f"\nwork directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    by_key = {(m.program, m.role): m for pair in results for m in pair.measured}
    print("\nKB per open call (target: gossipper <= 5 x SIPp)")
    print(f"  {'role':<5} {'SIPp':>10} {'gossipper':>10} {'ratio':>7}")
    ratios: dict[str, float | None] = {}
    for role in ("uac", "uas"):
        sipp = by_key.get(("sipp", role))
        ours = by_key.get(("gossipper", role))
        if sipp is None or ours is None:
            continue
        ratio = ours.kb_per_call / sipp.kb_per_call if sipp.kb_per_call > 0 else None
        ratios[role] = ratio
        ratio_text = "n/a" if ratio is None else f"{ratio:.2f}"
        print(f"  {role:<5} {sipp.kb_per_call:>10.2f} {ours.kb_per_call:>10.2f} {ratio_text:>7}")
    if args.json:
        doc = {
            "benchmark": "bench_memory",
            "machine": info,
            "calls": args.calls,
            "rate_cps": args.rate,
            "pause_ms": args.pause_ms,
            "ratios": ratios,
            "pairs": [asdict(pair) for pair in results],
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
