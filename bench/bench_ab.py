"""A/B: CPU per call of two gossipper revisions against SIPp, interleaved, at one rate.

Builds a snapshot of each revision (mypyc build, as ``pip install .``), then runs rounds in
which each revision plays uac against SIPp's uas and uas against SIPp's uac, alternating which
goes first. Every process gets the same socket buffers (``-buff_size``, 4 MiB by default). Prints
each step, then the medians of gossipper's CPU per call and the ratio new / old, with SIPp's own
CPU per call as the reference.

  python bench/bench_ab.py --old a87c832 --new HEAD            # 3,000 calls/s, 4 rounds
  python bench/bench_ab.py --old a87c832 --new HEAD --rate 3000 --rounds 6 --json ab.json
  python bench/bench_ab.py --old a87c832 --new HEAD --trace     # with the trace files on
  python bench/bench_ab.py --old HEAD~1 --new HEAD --transport t1 --rate 4000   # over TCP

Over connections (``--transport t1|tn``) both uas run gossipper's built-in uas without its
``<timewait>`` line, as in ``bench_streams.py`` (SIPp's uas fails the calls still in timewait
when a client closes the connection).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import statistics
import tempfile

import benchlib
from bench_rates import Pair, run_step
from benchlib import install_cleanup, machine_info, sipp_binary, snapshot_source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--old", required=True, help="git revision A")
    parser.add_argument("--new", required=True, help="git revision B")
    parser.add_argument("--rate", type=int, default=3000, help="calls/s (3000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of a step (5)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds (4)")
    parser.add_argument("--buff-size", type=int, default=4 * 1024 * 1024, help="-buff_size")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="both sides also write -trace_msg, -trace_shortmsg and -trace_rtt (trace cost)",
    )
    parser.add_argument(
        "--transport", default="u1", choices=("u1", "t1", "tn"), help="-t of both sides (u1)"
    )
    parser.add_argument("--work", type=pathlib.Path, help="reuse/keep snapshots here")
    parser.add_argument("--quiet-wait-s", type=float, default=60.0)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args(argv)

    install_cleanup()
    sipp_binary()
    root = args.work or pathlib.Path(tempfile.mkdtemp(prefix="gossipper-ab-"))
    sources: dict[str, pathlib.Path] = {}
    for label, rev in (("old", args.old), ("new", args.new)):
        target = root / label
        if not (target / "gossipper").is_dir():
            snapshot_source(target, rev)
        sources[label] = target
    buffers: tuple[str, ...] = ("-buff_size", str(args.buff_size))
    if args.trace:
        buffers += ("-trace_msg", "-trace_shortmsg", "-trace_rtt")
    uas_scenario = None
    if args.transport != "u1":
        if args.transport == "tn":
            buffers += ("-max_socket", "2000")
        builtin = sources["new"] / "gossipper" / "builtin_scenarios" / "uas.xml"
        uas_scenario = root / "uas_no_timewait.xml"
        uas_scenario.write_text(
            "".join(
                line
                for line in builtin.read_text().splitlines(keepends=True)
                if "<timewait" not in line
            )
        )
    pairs = tuple(
        Pair(
            name,
            uac,
            uas,
            uac_extra=buffers,
            uas_extra=buffers,
            transport=args.transport,
            uas_scenario=uas_scenario,
        )
        for name, uac, uas in (
            ("gossipper->sipp", "gossipper", "sipp"),
            ("sipp->gossipper", "sipp", "gossipper"),
        )
    )
    info = machine_info()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    versions = {label: (path / "VERSION").read_text().strip() for label, path in sources.items()}
    print(
        f"old {versions['old']}, new {versions['new']}; -t {args.transport}, {args.rate} calls/s, "
        f"{args.seconds:g} s steps, {args.rounds} rounds, -buff_size {args.buff_size} for all"
    )
    # samples[label][role]: gossipper's CPU per call; sipp[role]: SIPp's, as the reference.
    samples: dict[str, dict[str, list[float]]] = {key: {"uac": [], "uas": []} for key in sources}
    sipp: dict[str, list[float]] = {"uac": [], "uas": []}
    steps: list[dict[str, object]] = []
    work = root / "steps"
    for round_number in range(args.rounds):
        order = ("old", "new") if round_number % 2 == 0 else ("new", "old")
        for label in order:
            benchlib._SOURCE[0] = sources[label]
            for pair in pairs:
                step = run_step(pair, args.rate, args.seconds, work, args.quiet_wait_s)
                ours, theirs = (
                    (step.uac, step.uas) if pair.uac == "gossipper" else (step.uas, step.uac)
                )
                print(
                    f"round {round_number + 1} {label:3} {pair.name:16} clean={step.clean} "
                    f"gossipper {ours.role} {ours.cpu_us_per_call:6.1f} us/call, "
                    f"sipp {theirs.role} {theirs.cpu_us_per_call:6.1f}, "
                    f"other {step.foreign_cpu_s:.2f} s",
                    flush=True,
                )
                if step.clean:
                    samples[label][ours.role].append(ours.cpu_us_per_call)
                    sipp[theirs.role].append(theirs.cpu_us_per_call)
                steps.append(
                    {
                        "round": round_number + 1,
                        "source": label,
                        "pair": pair.name,
                        "clean": step.clean,
                        "reasons": step.reasons,
                        "gossipper_us_per_call": ours.cpu_us_per_call,
                        "sipp_us_per_call": theirs.cpu_us_per_call,
                    }
                )
    summary: dict[str, object] = {}
    for role in ("uac", "uas"):
        old = statistics.median(samples["old"][role]) if samples["old"][role] else float("nan")
        new = statistics.median(samples["new"][role]) if samples["new"][role] else float("nan")
        ref = statistics.median(sipp[role]) if sipp[role] else float("nan")
        summary[role] = {
            "old_us": old,
            "new_us": new,
            "new_over_old": new / old,
            "sipp_us": ref,
            "old_over_sipp": old / ref,
            "new_over_sipp": new / ref,
        }
        print(
            f"{role}: old {old:.1f} us/call, new {new:.1f} (new/old {new / old:.3f}); "
            f"SIPp {role} {ref:.1f} -> old {old / ref:.2f}x, new {new / ref:.2f}x"
        )
    if args.json:
        doc = {
            "benchmark": "bench_ab",
            "machine": info,
            "versions": versions,
            "rate_cps": args.rate,
            "seconds": args.seconds,
            "buff_size": args.buff_size,
            "summary": summary,
            "steps": steps,
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    if args.work is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
