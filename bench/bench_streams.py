"""Stream transports: clean call rates and CPU per call over TCP and TLS, gossipper against SIPp.

Every pair below runs in ONE run, interleaved: each round runs the next step of every pair that
is still climbing, so SIPp and gossipper see the same machine (it may be shared) and the ratios
compare like with like. Each step is one uas and one uac process on loopback for about
--seconds of calls; a step is clean as in bench_rates.py (both exit 0, every call created and
successful on both sides, none failed, the uac reached 90 % of the rate). A pair's ladder stops at
its first failing step (retried once), then bisects (bench_rates.run_step does the steps).

  part  pairs (uac -> uas)                                     what it answers
  t1    sipp->sipp, gossipper->sipp, sipp->gossipper (-t t1)   highest clean rate, one connection
  tn    the same three (-t tn)                                 highest clean rate, one per call
  cpu   the same three plus gossipper->gossipper over u1       CPU per call of TCP vs UDP at the
        (UDP) and gossipper->gossipper t1, at fixed rates      same rate (t1 from the t1 ladder)
  l1    gossipper->gossipper (-t l1)                           TLS throughput (SIPp has no TLS)
  ln    gossipper->gossipper (-t ln), OPTIONS then 200         new TLS connections per second

Both uas (SIPp's and gossipper's) run gossipper's built-in uas scenario without its final
<timewait>: SIPp's uas fails calls still in <timewait> when a client closes their connection (tn
after each call, t1 at the end of the run), even against SIPp's own uac. The ln OPTIONS server
keeps a 1 s <timewait>.

Every process gets the same -buff_size (4 MiB by default; both tools apply it to every socket,
TCP included: gossipper since 2026-12-03, tests/transport/test_tcp_buffers.py), and
every tn/ln side the same -max_socket. The l1/ln servers get a throwaway certificate from
a lab CA (trustme, ECDSA P-256); TLS version auto (1.3 on both ends).

  python bench/bench_streams.py                      # everything, ~10-15 min on 2 cores
  python bench/bench_streams.py --quick              # 2 steps of 2 s per pair, no retry: ~2.5 min
  python bench/bench_streams.py --parts t1,cpu --json streams.json
  python bench/bench_streams.py --parts ln --rates ln=400,450,500,550
  python bench/bench_streams.py --source DIR [--rev REV]   # run a snapshot (see benchlib)

Children run the gossipper of a snapshot of this checkout (benchlib.prepare_source puts it on
their PYTHONPATH); --live runs the checkout itself.
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

import benchlib
from bench_rates import (
    Ladder,
    Pair,
    Side,
    Step,
    _fmt_ratio,
    _fmt_us,
    _print_step,
    _ratio,
    ladder_plan,
    marginal_us_per_call,
    run_step,
)
from benchlib import (
    REPO,
    add_source_options,
    install_cleanup,
    lab_tls_certificate,
    machine_info,
    prepare_source,
    sipp_binary,
)

PARTS = ("t1", "tn", "cpu", "l1", "ln")
FULL_RATES = {
    "t1": (1000, 2000, 4000, 6000, 8000, 10000),
    "tn": (250, 500, 1000, 2000, 3000),
    "cpu": (1000, 2000, 4000),
    "l1": (1000, 2000, 4000, 6000),
    "ln": (250, 500, 750, 1000, 1500),
}
QUICK_RATES = {
    "t1": (500, 2000),
    "tn": (250, 1000),
    "cpu": (500, 2000),
    "l1": (500, 2000),
    "ln": (250, 500),
}
# Over connections nothing is retransmitted: a step that cannot keep up is over soon after its
# last call was due (bench_rates waits 45 s for UDP's INVITE retransmissions).
UAC_SLACK_S = 10.0
LN_TARGET_CPS = 500

OPTIONS_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="OPTIONS ping (bench_streams ln)">
  <send>
    <![CDATA[
      OPTIONS sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 OPTIONS
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" rtd="true"/>
</scenario>
"""

OPTIONS_UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="OPTIONS answer (bench_streams ln)">
  <recv request="OPTIONS"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
  <timewait milliseconds="1000"/>
</scenario>
"""


@dataclass
class Track:
    """One pair in the interleaved run: its ladder, and the plan that picks its next rate."""

    part: str
    pair: Pair
    rates: tuple[int, ...]
    bisect: int
    ladder: Ladder = field(init=False)

    def __post_init__(self) -> None:
        self.ladder = Ladder(self.pair.name)


def build_tracks(
    parts: list[str],
    rates: dict[str, tuple[int, ...]],
    work: pathlib.Path,
    buff_size: int,
    max_socket: int,
    bisect: int,
) -> list[Track]:
    """The pairs of the chosen parts, with their scenario files and options."""
    scenarios = work / "scenarios"
    scenarios.mkdir(parents=True, exist_ok=True)
    builtin = benchlib._SOURCE[0] / "gossipper" / "builtin_scenarios" / "uas.xml"
    if not builtin.exists():
        builtin = REPO / "scenarios" / "uas.xml"
    uas_lines = builtin.read_text().splitlines(keepends=True)
    uas_no_timewait = scenarios / "uas_no_timewait.xml"
    uas_no_timewait.write_text("".join(line for line in uas_lines if "<timewait" not in line))
    options_uac = scenarios / "options_uac.xml"
    options_uac.write_text(OPTIONS_UAC)
    options_uas = scenarios / "options_uas.xml"
    options_uas.write_text(OPTIONS_UAS)
    cert, key = lab_tls_certificate(work / "tls")
    buffers = ("-buff_size", str(buff_size))
    sockets = ("-max_socket", str(max_socket))
    tls = ("-tls_cert", str(cert), "-tls_key", str(key))

    def pair(uac: str, uas: str, transport: str, **kwargs: object) -> Pair:
        extra = buffers + (sockets if transport.endswith("n") else ())
        name = f"{uac}->{uas} {transport}"
        if kwargs.get("uac_scenario") == options_uac:
            name += " OPTIONS"
        return Pair(
            name,
            uac,
            uas,
            uac_extra=extra,
            uas_extra=extra + (tls if transport.startswith("l") else ()),
            transport=transport,
            # Both tools' uas run the same scenario (see the module docstring).
            uas_scenario=kwargs.get("uas_scenario", uas_no_timewait),  # type: ignore[arg-type]
            uac_scenario=kwargs.get("uac_scenario"),  # type: ignore[arg-type]
        )

    tracks: list[Track] = []
    sipp_pairs = (("sipp", "sipp"), ("gossipper", "sipp"), ("sipp", "gossipper"))
    for part in parts:
        if part in ("t1", "tn"):
            for uac, uas in sipp_pairs:
                tracks.append(Track(part, pair(uac, uas, part), rates[part], bisect))
        elif part == "cpu":
            for uac, uas in (*sipp_pairs, ("gossipper", "gossipper")):
                tracks.append(Track(part, pair(uac, uas, "u1"), rates["cpu"], 0))
            tracks.append(Track(part, pair("gossipper", "gossipper", "t1"), rates["cpu"], 0))
            if "t1" not in parts:
                for uac, uas in sipp_pairs:
                    tracks.append(Track(part, pair(uac, uas, "t1"), rates["cpu"], 0))
        elif part == "l1":
            tracks.append(Track(part, pair("gossipper", "gossipper", "l1"), rates["l1"], bisect))
        elif part == "ln":
            ln = pair(
                "gossipper",
                "gossipper",
                "ln",
                uac_scenario=options_uac,
                uas_scenario=options_uas,
            )
            tracks.append(Track(part, ln, rates["ln"], bisect))
    return tracks


def run_interleaved(
    tracks: list[Track], seconds: float, confirm: bool, root: pathlib.Path, quiet_wait_s: float
) -> None:
    """Round after round, the next step of every track still running (retry once on failure)."""
    plans = {id(track): ladder_plan(track.ladder, track.rates, track.bisect) for track in tracks}
    pending: dict[int, int] = {}
    for track in tracks:
        pending[id(track)] = next(plans[id(track)])
    print(
        f"\n{'pair':<30}   rate verdict   got  uac crea/  succ/fail/rtx   uas crea/  succ/fail/rtx"
        "  uac us/c  uas us/c other_s  drops uac/uas/all",
        flush=True,
    )
    round_number = 0
    while pending:
        round_number += 1
        print(f"-- round {round_number} ({time.strftime('%H:%M:%S')})", flush=True)
        for track in tracks:
            rate_cps = pending.get(id(track))
            if rate_cps is None:
                continue
            clean = _attempt(track, rate_cps, seconds, confirm, root, quiet_wait_s)
            try:
                pending[id(track)] = plans[id(track)].send(clean)
            except StopIteration:
                del pending[id(track)]


def _attempt(
    track: Track,
    rate_cps: int,
    seconds: float,
    confirm: bool,
    root: pathlib.Path,
    quiet_wait_s: float,
) -> bool:
    for attempt in range(2 if confirm else 1):
        if attempt:
            print(f"{'':<30}   (retrying once to rule out a fluke)", flush=True)
        step = run_step(track.pair, rate_cps, seconds, root, quiet_wait_s, UAC_SLACK_S)
        track.ladder.steps.append(step)
        print(f"{track.pair.name:<30}", end="")
        _print_step(step)
        if step.clean:
            return True
    return False


def _best(ladder: Ladder) -> Step | None:
    return ladder.step_at(ladder.max_clean_cps) if ladder.max_clean_cps else None


def _clean_at(ladder: Ladder | None, rate_cps: int) -> Step | None:
    if ladder is None:
        return None
    step = ladder.step_at(rate_cps)
    return step if step is not None and step.clean else None


def _us(step: Step | None, role: str) -> float | None:
    if step is None:
        return None
    side: Side = step.uac if role == "uac" else step.uas
    return side.cpu_us_per_call


def summarise(tracks: list[Track]) -> dict[str, object]:
    """Print the tables docs/performance.md records; return them for --json."""
    ladders = {track.pair.name: track.ladder for track in tracks}
    summary: dict[str, object] = {}
    print("\nHighest clean rate (CPU per call at it, uac / uas, marginal in brackets)")
    print(
        f"  {'pair':<30} {'max clean':>9} {'first fail':>10}"
        f" {'uac us/call':>16} {'uas us/call':>16}"
    )
    per_pair: dict[str, object] = {}
    for track in tracks:
        if track.part == "cpu":
            continue
        ladder = track.ladder
        step = _best(ladder)
        margins = {
            role: marginal_us_per_call(ladder, step, role) if step else None
            for role in ("uac", "uas")
        }
        uac_text = f"{_fmt_us(_us(step, 'uac'))} [{_fmt_us(margins['uac'])}]"
        uas_text = f"{_fmt_us(_us(step, 'uas'))} [{_fmt_us(margins['uas'])}]"
        failing = ladder.first_failing_cps
        print(
            f"  {ladder.pair:<30} {ladder.max_clean_cps:>9} {failing if failing else 'none':>10}"
            f" {uac_text:>16} {uas_text:>16}"
        )
        per_pair[ladder.pair] = {
            "part": track.part,
            "max_clean_cps": ladder.max_clean_cps,
            "first_failing_cps": failing,
            "uac_cpu_us_per_call": _us(step, "uac"),
            "uas_cpu_us_per_call": _us(step, "uas"),
            "uac_marginal_cpu_us_per_call": margins["uac"],
            "uas_marginal_cpu_us_per_call": margins["uas"],
        }
    summary["pairs"] = per_pair

    ratios: dict[str, object] = {}
    for mode in ("t1", "tn"):
        reference = ladders.get(f"sipp->sipp {mode}")
        if reference is None:
            continue
        print(f"\n{mode}: gossipper / SIPp (target: clean rate >= SIPp's, ratio >= 1)")
        for role, name in (("uac", f"gossipper->sipp {mode}"), ("uas", f"sipp->gossipper {mode}")):
            ours = ladders.get(name)
            if ours is None:
                continue
            rate_ratio = _ratio(ours.max_clean_cps, reference.max_clean_cps)
            capped = " (gossipper never failed)" if ours.first_failing_cps is None else ""
            print(
                f"  {role} {name}: {ours.max_clean_cps} / {reference.max_clean_cps}"
                f" = {_fmt_ratio(rate_ratio)}{capped}"
            )
            cpu: dict[str, float | None] = {}
            for step in ours.steps:
                ref_step = _clean_at(reference, step.rate_cps)
                if not step.clean or ref_step is None:
                    continue
                ratio = _ratio(_us(step, role) or 0.0, _us(ref_step, role) or 0.0)
                cpu[str(step.rate_cps)] = ratio
                print(
                    f"    {role} CPU/call at {step.rate_cps:>5}/s: gossipper"
                    f" {_us(step, role):7.1f} us, SIPp {_us(ref_step, role):6.1f} us,"
                    f" ratio {_fmt_ratio(ratio)}"
                )
            ratios[name] = {
                "clean_rate_ratio": rate_ratio,
                "target_met": rate_ratio is not None and rate_ratio >= 1.0,
                f"{role}_cpu_ratio_by_rate": cpu,
            }
    summary["ratios"] = ratios

    cpu_tracks = [track for track in tracks if track.part == "cpu"]
    if cpu_tracks:
        summary["tcp_vs_udp"] = _summarise_cpu(ladders, cpu_tracks[0].rates)

    ln = ladders.get("gossipper->gossipper ln OPTIONS")
    if ln is not None:
        met = ln.max_clean_cps >= LN_TARGET_CPS
        print(
            f"\nln: new TLS connections/s (one per OPTIONS transaction): {ln.max_clean_cps}"
            f" clean (target >= {LN_TARGET_CPS}: {'met' if met else 'NOT met'})"
        )
        summary["ln_new_tls_connections_per_s"] = {
            "max_clean": ln.max_clean_cps,
            "first_failing": ln.first_failing_cps,
            "target": LN_TARGET_CPS,
            "target_met": met,
        }
    return summary


def _summarise_cpu(ladders: dict[str, Ladder], rates: tuple[int, ...]) -> dict[str, object]:
    """CPU per call over t1 against u1 at the same rates, per process."""
    print("\nCPU per call, t1 (TCP) / u1 (UDP) at the same rate (us of user+system per call)")
    print(f"  {'process':<36} {'rate':>6} {'t1':>8} {'u1':>8} {'t1/u1':>6}")
    rows: list[dict[str, object]] = []
    processes = (
        ("gossipper uac (against SIPp uas)", "gossipper->sipp", "uac"),
        ("gossipper uas (against SIPp uac)", "sipp->gossipper", "uas"),
        ("gossipper uac (against gossipper uas)", "gossipper->gossipper", "uac"),
        ("gossipper uas (against gossipper uac)", "gossipper->gossipper", "uas"),
        ("SIPp uac (against SIPp uas)", "sipp->sipp", "uac"),
        ("SIPp uas (against SIPp uac)", "sipp->sipp", "uas"),
    )
    for label, pair, role in processes:
        for rate_cps in rates:
            tcp = _us(_clean_at(ladders.get(f"{pair} t1"), rate_cps), role)
            udp = _us(_clean_at(ladders.get(f"{pair} u1"), rate_cps), role)
            ratio = _ratio(tcp, udp) if tcp is not None and udp is not None else None
            print(
                f"  {label:<36} {rate_cps:>6} {_fmt_us(tcp):>8} {_fmt_us(udp):>8}"
                f" {_fmt_ratio(ratio):>6}"
            )
            rows.append(
                {
                    "process": label,
                    "rate_cps": rate_cps,
                    "t1_us_per_call": tcp,
                    "u1_us_per_call": udp,
                    "t1_over_u1": ratio,
                }
            )
    return {"rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2 short steps per pair, no retry")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help="comma-separated subset of: " + ", ".join(PARTS)
    )
    parser.add_argument(
        "--rates",
        action="append",
        default=[],
        metavar="PART=R1,R2,...",
        help="the rate ladder of one part, e.g. ln=400,450,500 (repeatable)",
    )
    parser.add_argument("--seconds", type=float, help="length of a step (5; quick: 2)")
    parser.add_argument("--bisect", type=int, help="bisection steps after a ladder (1; quick: 0)")
    parser.add_argument("--no-confirm", action="store_true", help="do not retry a failing step")
    parser.add_argument("--buff-size", type=int, default=4 * 1024 * 1024, help="-buff_size (4 MiB)")
    parser.add_argument("--max-socket", type=int, default=2000, help="-max_socket for tn/ln")
    parser.add_argument("--json", type=pathlib.Path, help="write all results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--quiet-wait-s",
        type=float,
        help="before each step wait up to this long for other processes to go idle"
        " (15; quick: 3; 0: never)",
    )
    add_source_options(parser)
    args = parser.parse_args(argv)

    install_cleanup()
    sipp_binary()
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    ladders = dict(QUICK_RATES if args.quick else FULL_RATES)
    for text in args.rates:
        part, _, values = text.partition("=")
        if part not in PARTS or not values:
            parser.error(f"--rates {text}: expected PART=R1,R2,... with PART one of {PARTS}")
        ladders[part] = tuple(int(value) for value in values.split(",") if value.strip())
    seconds = args.seconds if args.seconds is not None else (2.0 if args.quick else 5.0)
    bisect = args.bisect if args.bisect is not None else (0 if args.quick else 1)
    confirm = not (args.no_confirm or args.quick)
    if args.quiet_wait_s is None:
        args.quiet_wait_s = 3.0 if args.quick else 15.0

    info = machine_info()
    print("machine: " + ", ".join(f"{key}={value}" for key, value in info.items()))
    print(
        f"parts {parts}, {seconds:g} s per step, bisect {bisect}, retry {confirm},"
        f" -buff_size {args.buff_size} for every process, -max_socket {args.max_socket} (tn/ln)"
    )
    started = time.monotonic()
    root = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-streams-"))
    try:
        source = prepare_source(args, root)
        print(f"gossipper source: {source}", flush=True)
        info["gossipper_source"] = source
        tracks = build_tracks(parts, ladders, root, args.buff_size, args.max_socket, bisect)
        run_interleaved(tracks, seconds, confirm, root, args.quiet_wait_s)
        summary = summarise(tracks)
    finally:
        if args.keep:
            print(f"\nwork directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    elapsed_s = time.monotonic() - started
    foreign_s = sum(step.foreign_cpu_s for track in tracks for step in track.ladder.steps)
    print(
        f"\nelapsed {elapsed_s:.0f} s; other processes used {foreign_s:.0f} s of CPU during the"
        " steps (the machine is shared)"
    )
    if args.json:
        doc = {
            "benchmark": "bench_streams",
            "quick": args.quick,
            "machine": info,
            "repo": str(REPO),
            "parts": parts,
            "seconds_per_step": seconds,
            "buff_size": args.buff_size,
            "max_socket": args.max_socket,
            "elapsed_s": elapsed_s,
            "other_processes_cpu_s": foreign_s,
            "summary": summary,
            "ladders": {
                track.pair.name: {"part": track.part, **asdict(track.ladder)} for track in tracks
            },
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
