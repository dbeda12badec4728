"""Profile a gossipper uac under load: cProfile of `-sn uac` against SIPp's uas on loopback.

  python bench/profile_uac.py [--rate 2000] [--seconds 5] [--top 15] [--out uac.prof]

Prints the top functions by own time (tottime) and by cumulative time, plus how the calls ended.
cProfile roughly doubles the cost of Python-heavy code, so compare shares, not absolute times.
With the default wall clock, the time gossipper sleeps waiting for the next call shows up as the
tottime of `select.epoll.poll`; everything else is CPU work.
"""

from __future__ import annotations

import argparse
import io
import pathlib
import pstats
import shutil
import sys
import tempfile

from benchlib import (
    LOOPBACK,
    Child,
    free_udp_port,
    gossipper_command,
    gossipper_counts,
    install_cleanup,
    sipp_binary,
    wait_for_udp_listener,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cProfile a gossipper uac against SIPp's uas")
    parser.add_argument("--rate", type=int, default=2000, help="-r in calls/s (2000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of calls (5)")
    parser.add_argument("--top", type=int, default=15, help="rows per table (15)")
    parser.add_argument("--out", type=pathlib.Path, help="keep the raw profile in this file")
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="wall",
        help="wall: plain python -m cProfile (default; ignore the epoll idle line);"
        " cpu: process-time clock (about 1 us per event more, so it slows the run a lot)",
    )
    args = parser.parse_args(argv)

    install_cleanup()
    calls = max(1, round(args.rate * args.seconds))
    root = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-profile-"))
    try:
        port = free_udp_port()
        uas = Child(
            "uas",
            [
                sipp_binary(), "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-nostdin",
                "-m", str(calls),
            ],
            root,
        )  # fmt: skip
        if not wait_for_udp_listener(port, uas):
            uas.kill()
            sys.exit(f"sipp uas did not start: {uas.tail()}")
        profile = args.out.resolve() if args.out else root / "uac.prof"
        uac = Child(
            "uac",
            gossipper_command(
                "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-p", str(free_udp_port()),
                "-nostdin", "-m", str(calls), "-r", str(args.rate),
                "-summary_json", str(root / "uac.json"),
                profile_to=profile, profile_clock=args.clock,
            ),
            root,
        )  # fmt: skip
        result = uac.wait(calls / args.rate * 4 + 60.0)
        uas.wait(15.0)
        counts = gossipper_counts(root / "uac.json")
        print(
            f"gossipper uac -r {args.rate} -m {calls}: exit {result.returncode},"
            f" CPU {result.cpu_s:.2f} s ({result.cpu_s / calls * 1e6:.0f} us/call under"
            f" cProfile), wall {result.wall_s:.1f} s"
        )
        if counts is not None:
            print(
                f"calls created {counts.created}, successful {counts.successful},"
                f" failed {counts.failed}, retransmissions {counts.retransmissions},"
                f" achieved {counts.rate_cps:.0f} cps"
            )
        if not profile.exists():
            sys.exit(f"no profile written: {uac.tail()}")
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            stats = pstats.Stats(str(profile), stream=text)
            stats.strip_dirs().sort_stats(order).print_stats(args.top)
            body = text.getvalue()
            start = body.find("   ncalls")
            print(f"\n== top {args.top} by {order} ({args.clock} clock) ==")
            print(body[start:].rstrip() if start >= 0 else body.rstrip())
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
