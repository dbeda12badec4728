"""Simulation speed: simulated calls per wall-clock second of ``gossipper sim``.

Runs ``gossipper sim -sn uac -m CALLS -r RATE`` (both engines, the simulated network, virtual
time) in a child process per configuration and reports calls / wall second, the virtual/wall
speed-up and the child's CPU time. The issue's bar: 10,000 uac<->uas calls at 100 cps (100 s of
virtual time) at >= 1,000 simulated calls per wall second on this project's machines.

  python bench/bench_sim.py                    # clean, 10% loss, traces on (10,000 calls each)
  python bench/bench_sim.py --calls 2000       # shorter
  python bench/bench_sim.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
from dataclasses import asdict, dataclass

from benchlib import Child, gossipper_command, install_cleanup, machine_info

TARGET_CALLS_PER_WALL_S = 1000.0


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second (virtual)")
    parser.add_argument("--only", choices=[c.name for c in CONFIGS], action="append")
    parser.add_argument("--json", type=pathlib.Path, help="also write the results here")
    options = parser.parse_args(argv)
    install_cleanup()
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
