"""Long-run soak: RSS and open file descriptors of gossipper over a long run at a steady rate.

Two pairs run side by side on loopback for --duration-s seconds at --rate calls/s each:

  gossipper -> gossipper   gossipper's uac and uas (both measured)
  gossipper -> sipp        gossipper's uac against SIPp's uas (gossipper measured)

Every --every-s seconds the script samples VmRSS and the number of open file descriptors of each
gossipper process. After --warmup-s the curve must stay flat: the largest RSS sample is within
--rss-tolerance (5 % by default) of the first post-warm-up sample and the descriptor count does
not grow. Every call must succeed. The samples go to --json; the verdict is printed and is the
exit status (0 flat and clean, 1 otherwise).

  python bench/soak.py --duration-s 900 --json soak.json [--source DIR [--rev REV]]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
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
    wait_for_udp_listener,
)


@dataclass
class Curve:
    """Samples of one measured process: (elapsed s, RSS KB, open fds)."""

    name: str
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    rss_growth: float | None = None
    fd_growth: int | None = None
    flat: bool = False


def _open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


# Both tools get the same socket buffers (SIPp's default is 128 KB, gossipper's 4 MiB).
EQUAL_BUFFERS = ("-buff_size", str(4 * 1024 * 1024))


def _uas(program: str, port: int, workdir: pathlib.Path) -> list[str]:
    common = [
        "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-nostdin",
        "-trace_stat", "-stf", str(workdir / "uas_stat.csv"), "-fd", "10", *EQUAL_BUFFERS,
    ]  # fmt: skip
    if program == "sipp":
        return [sipp_binary(), *common]
    return gossipper_command(*common, "-summary_json", str(workdir / "uas_summary.json"))


def _uac(port: int, calls: int, rate_cps: int, workdir: pathlib.Path) -> list[str]:
    return gossipper_command(
        "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-nostdin",
        "-m", str(calls), "-r", str(rate_cps), "-d", "1000", *EQUAL_BUFFERS,
        "-trace_stat", "-stf", str(workdir / "uac_stat.csv"), "-fd", "10",
        "-summary_json", str(workdir / "uac_summary.json"),
    )  # fmt: skip


def judge(curve: Curve, warmup_s: float, tolerance: float) -> None:
    """Flat when RSS after warm-up stays within tolerance and the fd count never grows."""
    after = [s for s in curve.samples if s[0] >= warmup_s]
    if len(after) < 2:
        return
    first_rss, first_fds = after[0][1], after[0][2]
    curve.rss_growth = max(s[1] for s in after) / first_rss - 1.0
    curve.fd_growth = max(s[2] for s in after) - first_fds
    curve.flat = curve.rss_growth <= tolerance and curve.fd_growth <= 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=3600.0)
    parser.add_argument("--rate", type=int, default=200, help="calls/s of each pair")
    parser.add_argument("--every-s", type=float, default=10.0)
    parser.add_argument("--warmup-s", type=float, default=120.0)
    parser.add_argument("--rss-tolerance", type=float, default=0.05)
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling priority of every child (negative: ahead of other work on a shared"
        " machine; needs root)",
    )
    parser.add_argument("--json", type=pathlib.Path)
    add_source_options(parser)
    args = parser.parse_args(argv)
    install_cleanup()
    root = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-soak-"))
    version = prepare_source(args, root)
    calls = int(args.duration_s * args.rate)
    pairs = {"gossipper->gossipper": "gossipper", "gossipper->sipp": "sipp"}
    children: dict[str, Child] = {}
    curves: dict[str, Curve] = {}
    workdirs: dict[str, pathlib.Path] = {}
    for pair, uas_program in pairs.items():
        workdir = root / pair.replace("->", "_to_")
        workdir.mkdir()
        workdirs[pair] = workdir
        port = free_udp_port()
        uas = Child(f"{pair} uas", _uas(uas_program, port, workdir), workdir)
        if not wait_for_udp_listener(port, uas):
            print(f"{pair}: uas did not start: {uas.tail(300)}", file=sys.stderr)
            return 1
        uac = Child(f"{pair} uac", _uac(port, calls, args.rate, workdir), workdir)
        if args.nice:
            for child in (uas, uac):
                os.setpriority(os.PRIO_PROCESS, child.pid, args.nice)
        children[f"{pair} uac"] = uac
        children[f"{pair} uas"] = uas
        curves[f"{pair} uac"] = Curve(f"{pair} uac")
        if uas_program == "gossipper":
            curves[f"{pair} uas"] = Curve(f"{pair} uas")
    started = time.monotonic()
    uacs = [c for name, c in children.items() if name.endswith("uac")]
    while any(c.poll() is None for c in uacs):
        elapsed = round(time.monotonic() - started, 1)
        for name, curve in curves.items():
            pid = children[name].pid
            rss, fds = children[name].vm_rss_kb(), _open_fds(pid)
            if rss is not None and fds is not None and children[name].poll() is None:
                curve.samples.append((elapsed, rss, fds))
                print(f"{elapsed:8.1f} s  {name:26} rss {rss:7d} KB  fds {fds:3d}", flush=True)
        time.sleep(args.every_s)
        if elapsed > args.duration_s + 120:
            break
    for name, child in children.items():
        if name.endswith("uac"):
            child.wait(60.0)
        else:
            child.kill()
    ok = True
    report: dict[str, object] = {
        "version": version,
        "machine": machine_info(),
        "rate_cps": args.rate,
        "duration_s": args.duration_s,
        "warmup_s": args.warmup_s,
        "nice": args.nice,
    }
    for pair in pairs:
        counts = gossipper_counts(workdirs[pair] / "uac_summary.json") or sipp_counts(
            workdirs[pair] / "uac_stat.csv"
        )
        clean = counts is not None and counts.failed == 0 and counts.successful == calls
        ok = ok and clean
        report[pair] = asdict(counts) if counts is not None else None
        print(f"{pair}: {counts} {'clean' if clean else 'NOT clean'}")
    for curve in curves.values():
        judge(curve, args.warmup_s, args.rss_tolerance)
        ok = ok and curve.flat
        growth = "n/a" if curve.rss_growth is None else f"{curve.rss_growth * 100:+.1f} %"
        print(f"{curve.name:26} RSS growth after warm-up {growth}, fd growth {curve.fd_growth}")
    report["curves"] = [asdict(c) for c in curves.values()]
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print("FLAT and clean" if ok else "NOT flat or not clean")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
