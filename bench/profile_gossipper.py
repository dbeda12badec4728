"""Profile gossipper under load with cProfile, against SIPp on loopback.

  python bench/profile_gossipper.py [--role uac|uas] [--rate 3000] [--seconds 5] [--top 15]
                                    [--out FILE.prof] [--clock wall|cpu]

--role uac (default) profiles `gossipper -sn uac` against `sipp -sn uas`; --role uas profiles
`gossipper -sn uas` driven by `sipp -sn uac`. Prints how the calls ended and the top functions by
own time (tottime) and by cumulative time. cProfile roughly doubles the cost of Python-heavy
code, so compare shares, not absolute times. With the default wall clock (the same as
`python -m cProfile -o`), the time gossipper sleeps waiting for work shows up as the tottime of
`select.epoll.poll`; everything else is CPU work.
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
    add_source_options,
    free_udp_port,
    gossipper_command,
    gossipper_counts,
    install_cleanup,
    prepare_source,
    sipp_binary,
    wait_for_udp_listener,
)


def _group(filename: str, function: str) -> str:
    """Which part of the program a profile entry belongs to (for the own-time breakdown)."""
    if "epoll" in function and "poll" in function:
        return "epoll wait (idle + kernel)"
    if function in ("<method 'sendto' of '_socket.socket' objects>",):
        return "socket sendto (syscall)"
    if function in ("<method 'recvfrom' of '_socket.socket' objects>",):
        return "socket recvfrom (syscall)"
    normalized = filename.replace("\\", "/")
    if "/gossipper/" in normalized:
        part = normalized.rsplit("/gossipper/", 1)[1]
        package = part.split("/", 1)[0] if "/" in part else part
        return f"gossipper/{package.removesuffix('.py')}"
    if "/trio/" in normalized or "/outcome/" in normalized:
        return "trio (scheduler, traps, timers)"
    if filename == "~":
        return "builtins (other)"
    return "stdlib/other"


def print_breakdown(profile: pathlib.Path) -> None:
    """Own time summed by part of the program, largest first."""
    stats = pstats.Stats(str(profile))
    totals: dict[str, float] = {}
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, _nc, own_s, _cum_s, _callers) in raw.items():
        group = _group(filename, function)
        totals[group] = totals.get(group, 0.0) + own_s
    grand_total_s = sum(totals.values())
    busy_s = grand_total_s - totals.get("epoll wait (idle + kernel)", 0.0)
    print(f"\n== own time by part (total {grand_total_s:.2f} s, busy {busy_s:.2f} s) ==")
    for group, own_s in sorted(totals.items(), key=lambda item: -item[1]):
        if own_s < 0.0005:
            continue
        share = own_s / busy_s * 100 if busy_s > 0 and "epoll" not in group else 0.0
        share_text = f"{share:5.1f}% of busy" if share else ""
        print(f"  {group:<36} {own_s:7.3f} s  {share_text}")


def print_profile(profile: pathlib.Path, top: int, clock: str) -> None:
    """Top `top` functions by own time and by cumulative time."""
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        stats = pstats.Stats(str(profile), stream=text)
        stats.strip_dirs().sort_stats(order).print_stats(top)
        body = text.getvalue()
        start = body.find("   ncalls")
        print(f"\n== top {top} by {order} ({clock} clock) ==")
        print(body[start:].rstrip() if start >= 0 else body.rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cProfile gossipper against SIPp on loopback")
    parser.add_argument("--role", choices=("uac", "uas"), default="uac", help="uac (default)")
    parser.add_argument("--rate", type=int, default=3000, help="-r in calls/s (3000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of calls (5)")
    parser.add_argument("--top", type=int, default=15, help="rows per table (15)")
    parser.add_argument("--out", type=pathlib.Path, help="keep the raw profile in this file")
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="wall",
        help="wall: like python -m cProfile (default; ignore the epoll idle line);"
        " cpu: process-time clock (about 1 us more per event, so it slows the run a lot)",
    )
    add_source_options(parser)
    args = parser.parse_args(argv)

    install_cleanup()
    calls = max(1, round(args.rate * args.seconds))
    root = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-profile-"))
    source = prepare_source(args, root)
    print(f"gossipper source: {source}", flush=True)
    profile = args.out.resolve() if args.out else root / "gossipper.prof"
    summary = root / "summary.json"
    try:
        port = free_udp_port()
        # Both tools get the same socket buffers (SIPp's default is 128 KB, gossipper's 4 MiB).
        buffers = ("-buff_size", str(4 * 1024 * 1024))
        uas_common = [
            "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-nostdin", "-m", str(calls), *buffers,
        ]  # fmt: skip
        if args.role == "uas":
            uas_command = gossipper_command(
                *uas_common,
                "-summary_json",
                str(summary),
                profile_to=profile,
                profile_clock=args.clock,
            )
        else:
            uas_command = [sipp_binary(), *uas_common]
        uas = Child("uas", uas_command, root)
        if not wait_for_udp_listener(port, uas, timeout_s=20.0):
            uas.kill()
            sys.exit(f"uas did not start: {uas.tail()}")
        uac_common = [
            "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-p", str(free_udp_port()),
            "-nostdin", "-m", str(calls), "-r", str(args.rate), *buffers,
        ]  # fmt: skip
        if args.role == "uac":
            uac_command = gossipper_command(
                *uac_common,
                "-summary_json",
                str(summary),
                profile_to=profile,
                profile_clock=args.clock,
            )
        else:
            uac_command = [sipp_binary(), *uac_common]
        uac = Child("uac", uac_command, root)
        uac_result = uac.wait(calls / args.rate * 4 + 60.0)
        uas_result = uas.wait(20.0)
        result = uac_result if args.role == "uac" else uas_result
        print(
            f"gossipper {args.role} at -r {args.rate} -m {calls}: exit {result.returncode},"
            f" CPU {result.cpu_s:.2f} s ({result.cpu_s / calls * 1e6:.0f} us/call under"
            f" cProfile), wall {result.wall_s:.1f} s"
        )
        counts = gossipper_counts(summary)
        if counts is not None:
            print(
                f"calls created {counts.created}, successful {counts.successful},"
                f" failed {counts.failed}, retransmissions {counts.retransmissions},"
                f" achieved {counts.rate_cps:.0f} cps"
            )
        if not profile.exists():
            sys.exit(f"no profile written: {uac.tail()} {uas.tail()}")
        print_profile(profile, args.top, args.clock)
        print_breakdown(profile)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
