"""Simulation speed: simulated calls per wall-clock second of ``gossipper sim``.

Runs ``gossipper sim -sn uac -m CALLS -r RATE`` (both engines, the simulated network, virtual
time) in a child process per configuration and reports calls / wall second, the virtual/wall
speed-up and the child's CPU time. The bar (issue 11 item 5): 10,000 uac<->uas calls at 100 cps
(100 s of virtual time) at >= 3,000 simulated calls per wall second on this project's machines.

  python bench/bench_sim.py                    # clean, 10% loss, traces on (10,000 calls each)
  python bench/bench_sim.py --calls 2000       # shorter
  python bench/bench_sim.py --json out.json
  python bench/bench_sim.py --ab base=/tmp/snapA --ab new=/tmp/snapB --rounds 3   # A/B

With --ab (snapshots made by benchlib.snapshot_source), every round runs each configuration
with each snapshot in turn (the order rotating from round to round), and the medians are
compared with the first snapshot's.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass

import benchlib
from benchlib import (
    Child,
    gossipper_command,
    install_cleanup,
    machine_info,
    snapshot_arguments,
)

TARGET_CALLS_PER_WALL_S = 3000.0


@dataclass(frozen=True, slots=True)
class Config:
    name: str
    extra: tuple[str, ...]


CONFIGS = (
    Config("clean", ()),
    Config("loss10", ("-net_loss", "10", "-net_delay", "10", "-net_jitter", "5")),
    Config("traces", ("-trace_msg", "-trace_stat", "-trace_rtt", "-trace_counts")),
)


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    calls: int
    rate_cps: float
    exit_status: int
    wall_s: float
    cpu_s: float
    virtual_s: float
    calls_per_wall_s: float
    speedup: float


def _virtual_seconds(stdout: bytes) -> float:
    for line in stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("  Seed ") and "virtual time" in line:
            return float(line.split("virtual time ", 1)[1].split(" s", 1)[0])
    return 0.0


def run_one(config: Config, calls: int, rate_cps: float) -> Result:
    args = ("sim", "-sn", "uac", "-m", str(calls), "-r", f"{rate_cps:g}", *config.extra)
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as scratch:
        child = Child(config.name, gossipper_command(*args), pathlib.Path(scratch))
        done = child.wait(timeout_s=600.0)
        stdout = child.stdout_path.read_bytes()
        if done.returncode not in (0, 1):
            print(child.tail(), file=sys.stderr)
    virtual_s = _virtual_seconds(stdout)
    wall_s = done.wall_s
    return Result(
        name=config.name,
        calls=calls,
        rate_cps=rate_cps,
        exit_status=done.returncode,
        wall_s=wall_s,
        cpu_s=done.cpu_s,
        virtual_s=virtual_s,
        calls_per_wall_s=calls / wall_s if wall_s > 0 else 0.0,
        speedup=virtual_s / wall_s if wall_s > 0 else 0.0,
    )


def _ab(
    configs: list[Config],
    sources: list[tuple[str, pathlib.Path]],
    rounds: int,
    calls: int,
    rate_cps: float,
) -> dict[str, dict[str, list[Result]]]:
    """Interleaved runs: results[source][config] over the rounds."""
    results: dict[str, dict[str, list[Result]]] = {name: {} for name, _ in sources}
    for round_number in range(rounds):
        shift = round_number % len(sources)
        order = sources[shift:] + sources[:shift]
        for config in configs:
            for name, directory in order:
                benchlib._SOURCE[0] = directory
                result = run_one(config, calls, rate_cps)
                results[name].setdefault(config.name, []).append(result)
                print(
                    f"round {round_number + 1} {name:<12} {config.name:<8} exit"
                    f" {result.exit_status} {result.calls_per_wall_s:>8.0f} calls/wall s"
                    f" (cpu {result.cpu_s:.2f} s)",
                    flush=True,
                )
    first = sources[0][0]
    print(f"\nmedian calls per wall second over {rounds} round(s); ratio to {first}")
    print(f"{'snapshot':<12} " + " ".join(f"{c.name:>16}" for c in configs))
    for name, _ in sources:
        cells = []
        for config in configs:
            median = statistics.median(r.calls_per_wall_s for r in results[name][config.name])
            base = statistics.median(r.calls_per_wall_s for r in results[first][config.name])
            cells.append(f"{median:>8.0f} ({median / base:4.2f})")
        print(f"{name:<12} " + " ".join(f"{cell:>16}" for cell in cells))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second (virtual)")
    parser.add_argument("--only", choices=[c.name for c in CONFIGS], action="append")
    parser.add_argument("--json", type=pathlib.Path, help="also write the results here")
    parser.add_argument(
        "--ab",
        action="append",
        metavar="NAME=DIR",
        help="a snapshot directory to compare (repeat: the first is the reference)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds of --ab runs (medians)")
    options = parser.parse_args(argv)
    install_cleanup()
    if options.ab:
        sources = snapshot_arguments(parser, options.ab)
        chosen = [c for c in CONFIGS if not options.only or c.name in options.only]
        by_source = _ab(chosen, sources, options.rounds, options.calls, options.rate)
        if options.json:
            document = {
                "machine": machine_info(),
                "ab": {
                    name: {c: [asdict(r) for r in runs] for c, runs in configs.items()}
                    for name, configs in by_source.items()
                },
            }
            options.json.write_text(json.dumps(document, indent=2) + "\n")
        return 0
    results = []
    print(
        f"{'config':<8} {'calls':>7} {'exit':>4} {'wall s':>8} {'cpu s':>8} {'virt s':>8}"
        f" {'calls/wall s':>13} {'speed-up':>9}"
    )
    for config in CONFIGS:
        if options.only and config.name not in options.only:
            continue
        result = run_one(config, options.calls, options.rate)
        results.append(result)
        print(
            f"{result.name:<8} {result.calls:>7} {result.exit_status:>4} {result.wall_s:>8.2f}"
            f" {result.cpu_s:>8.2f} {result.virtual_s:>8.1f} {result.calls_per_wall_s:>13.0f}"
            f" {result.speedup:>8.1f}x"
        )
    clean = next((r for r in results if r.name == "clean"), None)
    if clean is not None:
        verdict = "meets" if clean.calls_per_wall_s >= TARGET_CALLS_PER_WALL_S else "BELOW"
        print(
            f"clean: {clean.calls_per_wall_s:.0f} simulated calls per wall second ({verdict} the"
            f" target of {TARGET_CALLS_PER_WALL_S:.0f})"
        )
    if options.json:
        document = {"machine": machine_info(), "results": [asdict(r) for r in results]}
        options.json.write_text(json.dumps(document, indent=2) + "\n")
    failed = [r.name for r in results if r.exit_status not in (0, 1)]
    if failed:
        print(f"bench: gossipper sim failed for {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
