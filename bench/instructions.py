"""Instructions per simulated call and at start-up: a deterministic A/B of gossipper builds.

On a shared 2-core machine whose speed changes by 3 x over a day, whole runs resolve changes of
about 5 % at best (docs/performance.md, "Notes on method"). A change of the per-message code
worth 2 % needs a measure that does not move with the machine: the number of instructions
executed. This script runs ``gossipper sim`` (uac and uas in one process, the in-memory network,
virtual time: the same messages in the same order on every run) under valgrind's callgrind,
with ``PYTHONHASHSEED=0``, twice per build: with --small and with --large calls. The difference
divided by the extra calls is the instructions per call (both roles and the simulated network,
start-up cancelled out); the small run minus its calls is the start-up. Runs of one build give
the same counts to within a few thousandths.

  python bench/instructions.py --ab old=/tmp/snapA --ab new=/tmp/snapB
  python bench/instructions.py --ab old=/tmp/snapA --ab new=/tmp/snapB -t u1 --large 2300

The snapshots are made by benchlib.snapshot_source (mypyc builds, as ``pip install .``); each
run takes 1-4 minutes under callgrind, two at a time. Needs valgrind (Debian: ``valgrind``).
What it cannot see: the kernel, socket system calls and cache misses, which whole runs
(bench_ab.py, bench_rates.py) measure.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

from benchlib import machine_info, snapshot_arguments

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def count_instructions(
    name: str, source: pathlib.Path, calls: int, transport: str, rate_cps: int, work: pathlib.Path
) -> int:
    """Instructions executed by ``gossipper sim -sn uac -m CALLS`` run from ``source``."""
    log = work / f"callgrind-{name}-{calls}.log"
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={work / f'callgrind-{name}-{calls}.out'}",
        sys.executable,
        "-m",
        "gossipper",
        "sim",
        "-sn",
        "uac",
        "-t",
        transport,
        "-m",
        str(calls),
        "-r",
        str(rate_cps),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(source)}
    with log.open("w") as out:
        # Not from the checkout: ``-m`` puts the working directory first on sys.path, and the
        # checkout's uncompiled gossipper would shadow the snapshot's.
        done = subprocess.run(
            command, env=env, cwd=work, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    text = log.read_text(errors="replace")
    found = _COLLECTED.search(text)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{source}: {calls} calls under callgrind failed, see {log}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--ab",
        action="append",
        required=True,
        metavar="NAME=DIR",
        help="a snapshot directory (repeat: the first is the reference)",
    )
    parser.add_argument("-t", dest="transport", default="t1", help="-t of the sim (t1)")
    parser.add_argument("--small", type=int, default=300, help="calls of the short run (300)")
    parser.add_argument("--large", type=int, default=1300, help="calls of the long run (1300)")
    parser.add_argument("--rate", type=int, default=100, help="calls/s (virtual) (100)")
    parser.add_argument("--json", type=pathlib.Path, help="write the counts here")
    options = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (Debian: apt-get install valgrind)")
    if not 0 < options.small < options.large:
        parser.error("--small and --large: 0 < small < large")
    sources = snapshot_arguments(parser, options.ab)
    print(f"machine: {machine_info()}")
    print(
        f"gossipper sim -sn uac -t {options.transport} -r {options.rate}: "
        f"{options.small} and {options.large} calls per build, PYTHONHASHSEED=0"
    )
    work = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-instructions-"))
    jobs = [
        (name, path, calls) for name, path in sources for calls in (options.small, options.large)
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            (name, calls): pool.submit(
                count_instructions, name, path, calls, options.transport, options.rate, work
            )
            for name, path, calls in jobs
        }
        counts = {key: future.result() for key, future in futures.items()}
    extra_calls = options.large - options.small
    results: dict[str, dict[str, float]] = {}
    for name, _ in sources:
        small = counts[(name, options.small)]
        large = counts[(name, options.large)]
        per_call = (large - small) / extra_calls
        results[name] = {
            "instructions_small": small,
            "instructions_large": large,
            "per_call": per_call,
            "start_up": small - per_call * options.small,
        }
    reference = results[sources[0][0]]
    print(f"\n  {'build':<12} {'per call':>14} {'ratio':>7} {'start-up':>16} {'ratio':>7}")
    for name, result in results.items():
        print(
            f"  {name:<12} {result['per_call']:>14,.0f} "
            f"{result['per_call'] / reference['per_call']:>7.3f} "
            f"{result['start_up']:>16,.0f} {result['start_up'] / reference['start_up']:>7.3f}"
        )
    if options.json:
        options.json.write_text(json.dumps({"machine": machine_info(), "results": results}))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
