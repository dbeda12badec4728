"""Highest clean call rate and CPU per call: gossipper against SIPp, side by side on loopback.

Runs three pairs at rising rates, each step about --seconds of calls (-m = rate x seconds):

  sipp -> sipp            the reference: SIPp uac against SIPp uas
  gossipper -> sipp       gossipper uac against SIPp uas
  sipp -> gossipper       SIPp uac against gossipper uas

Every process gets the same socket buffers, -buff_size 4194304 (--buff-size): SIPp's default is
128 KB against gossipper's 4 MiB, which made earlier side-by-side figures unfair.

A step is clean when both processes exit 0, both count every call created and successful, none
failed, and the uac reached at least 90% of the target rate. A pair's ladder stops at its first
failing step (retried once to rule out a fluke), then bisects between the last clean and the first
failing rate. CPU per call is (user + system time) / calls of each process, from os.wait4;
"marginal" CPU per call is (CPU at this rate - CPU at the lowest clean rate) / extra calls, which
removes start-up and the uas's idle tail. Each step line also shows other_s, the CPU other
processes used meanwhile (the machine may be shared), and the UDP datagrams the kernel dropped
for a full receive buffer on the uac's / uas's socket / system-wide.

  python bench/bench_rates.py                 # full ladder, all three pairs
  python bench/bench_rates.py --quick         # 4 steps, no bisection
  python bench/bench_rates.py --trace         # gossipper uac with -trace_msg/_stat/_rtt on vs off
  python bench/bench_rates.py --json out.json
  python bench/bench_rates.py --source DIR [--rev REV]   # run a snapshot (see benchlib)
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys
import tempfile
from collections.abc import Generator
from dataclasses import asdict, dataclass, field

from benchlib import (
    LOOPBACK,
    REPO,
    Child,
    ChildResult,
    Counts,
    add_source_options,
    free_port,
    free_udp_port,
    gossipper_command,
    gossipper_counts,
    install_cleanup,
    is_stream_mode,
    machine_busy_s,
    machine_info,
    new_step_dir,
    prepare_source,
    sipp_binary,
    sipp_counts,
    udp_receive_buffer_drops,
    udp_socket_drops,
    wait_for_listener,
    wait_for_quiet,
)

# Up to where SIPp itself fails on this kind of machine (about 25,000 calls/s with 4 MiB
# buffers, issue 11): each pair climbs until its own first failing step.
FULL_RATES = (
    250, 500, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12000, 14000,
    16000, 20000, 25000, 30000, 35000,
)  # fmt: skip
BUFF_SIZE = 4 * 1024 * 1024
"""-buff_size of every process (both tools, both roles): equal socket buffers."""
QUICK_RATES = (500, 1000, 2000, 4000)
TRACE_FLAGS = ("-trace_msg", "-trace_stat", "-trace_rtt")
# The uac must have created calls at >= this share of the target rate for a clean step.
MIN_RATE_SHARE = 0.9
# SIPp's built-in uas (and ours) keeps each call for 4 s after the BYE; then it exits.
UAS_GRACE_S = 15.0
# An INVITE that is never answered fails after 0.5+1+2+4+8+16 = 31.5 s of retransmissions.
UAC_SLACK_S = 45.0


@dataclass
class Side:
    """One process of a step: which program, what it counted, what it cost."""

    program: str
    role: str
    returncode: int | None = None
    killed: bool = False
    cpu_s: float = 0.0
    wall_s: float = 0.0
    max_rss_kb: int = 0
    counts: Counts | None = None
    cpu_us_per_call: float = 0.0
    socket_drops: int = 0


@dataclass
class Step:
    """One rate step of one pair."""

    pair: str
    rate_cps: int
    calls: int
    clean: bool
    reasons: list[str]
    uac: Side
    uas: Side
    foreign_cpu_s: float = 0.0
    udp_drops: int = 0


@dataclass
class Ladder:
    """All steps of one pair and its highest clean rate."""

    pair: str
    steps: list[Step] = field(default_factory=list)
    max_clean_cps: int = 0
    first_failing_cps: int | None = None

    def step_at(self, rate_cps: int) -> Step | None:
        """The last step run at this rate (after a retry, the retry)."""
        found = None
        for step in self.steps:
            if step.rate_cps == rate_cps:
                found = step
        return found


@dataclass
class Pair:
    """Which program plays uac and uas, plus extra uac options.

    transport is the -t mode of both sides (u1: UDP, the default; t1/tn/l1/ln: over
    connections); uac_scenario / uas_scenario replace -sn uac / -sn uas by -sf FILE.
    """

    name: str
    uac: str
    uas: str
    uac_extra: tuple[str, ...] = ()
    uas_extra: tuple[str, ...] = ()
    transport: str = "u1"
    uac_scenario: pathlib.Path | None = None
    uas_scenario: pathlib.Path | None = None


def _scenario_options(role: str, scenario: pathlib.Path | None, transport: str) -> list[str]:
    options = ["-sn", role] if scenario is None else ["-sf", str(scenario)]
    if transport != "u1":
        options += ["-t", transport]
    return options


PAIRS = {
    "sipp->sipp": Pair("sipp->sipp", "sipp", "sipp"),
    "gossipper->sipp": Pair("gossipper->sipp", "gossipper", "sipp"),
    "sipp->gossipper": Pair("sipp->gossipper", "sipp", "gossipper"),
}
TRACE_PAIRS = {
    "gossipper->sipp trace off": Pair("gossipper->sipp trace off", "gossipper", "sipp"),
    "gossipper->sipp trace on": Pair(
        "gossipper->sipp trace on", "gossipper", "sipp", uac_extra=TRACE_FLAGS
    ),
}


def _buffers(extra: tuple[str, ...]) -> tuple[str, ...]:
    """-buff_size for a process, unless its extra options already size the buffers (the
    stream and A/B benchmarks pass their own)."""
    return () if "-buff_size" in extra else ("-buff_size", str(BUFF_SIZE))


def _uas_command(
    program: str,
    port: int,
    calls: int,
    workdir: pathlib.Path,
    extra: tuple[str, ...] = (),
    scenario: list[str] | None = None,
) -> list[str]:
    scenario = scenario or ["-sn", "uas"]
    if program == "sipp":
        return [
            sipp_binary(), *scenario, "-i", LOOPBACK, "-p", str(port), "-nostdin",
            "-m", str(calls), "-trace_stat", "-stf", str(workdir / "uas_stat.csv"), "-fd", "1",
            *_buffers(extra), *extra,
        ]  # fmt: skip
    return gossipper_command(
        *scenario, "-i", LOOPBACK, "-p", str(port), "-m", str(calls), "-nostdin",
        *_buffers(extra), "-summary_json", str(workdir / "uas_summary.json"), *extra,
    )  # fmt: skip


def _uac_command(
    program: str,
    remote_port: int,
    local_port: int,
    calls: int,
    rate_cps: int,
    workdir: pathlib.Path,
    extra: tuple[str, ...],
    scenario: list[str] | None = None,
) -> list[str]:
    scenario = scenario or ["-sn", "uac"]
    if program == "sipp":
        return [
            sipp_binary(), *scenario, f"{LOOPBACK}:{remote_port}", "-i", LOOPBACK,
            "-p", str(local_port), "-nostdin", "-m", str(calls), "-r", str(rate_cps),
            "-trace_stat", "-stf", str(workdir / "uac_stat.csv"), "-fd", "1",
            *_buffers(extra), *extra,
        ]  # fmt: skip
    return gossipper_command(
        *scenario, f"{LOOPBACK}:{remote_port}", "-i", LOOPBACK, "-p", str(local_port),
        "-nostdin", "-m", str(calls), "-r", str(rate_cps), *_buffers(extra),
        "-summary_json", str(workdir / "uac_summary.json"), *extra,
    )  # fmt: skip


def _read_counts(program: str, role: str, workdir: pathlib.Path) -> Counts | None:
    if program == "sipp":
        return sipp_counts(workdir / f"{role}_stat.csv")
    return gossipper_counts(workdir / f"{role}_summary.json")


def _fill(side: Side, result: ChildResult, calls: int, workdir: pathlib.Path) -> None:
    side.returncode = result.returncode
    side.killed = result.killed
    side.cpu_s = result.cpu_s
    side.wall_s = result.wall_s
    side.max_rss_kb = result.max_rss_kb
    side.counts = _read_counts(side.program, side.role, workdir)
    side.cpu_us_per_call = result.cpu_s / calls * 1e6 if calls else 0.0


def run_step(
    pair: Pair,
    rate_cps: int,
    seconds: float,
    root: pathlib.Path,
    quiet_wait_s: float,
    uac_slack_s: float = UAC_SLACK_S,
) -> Step:
    """Run one step: start the uas, then the uac, wait for both, judge the counts.

    The uac is stopped uac_slack_s after its last call was due (the default covers UDP's
    31.5 s of INVITE retransmissions; over connections nothing is retransmitted).
    """
    # Other test runs on this 2-core machine would steal CPU from the step: wait them out.
    waited_s = wait_for_quiet(quiet_wait_s) if quiet_wait_s > 0 else 0.0
    if waited_s > 1.5:
        print(f"           (waited {waited_s:.0f} s for other processes to calm down)")
    calls = max(1, round(rate_cps * seconds))
    slug = pair.name.replace(" ", "_").replace("->", "_to_")
    workdir = new_step_dir(root, f"{slug}_{rate_cps}")
    uac_side = Side(pair.uac, "uac")
    uas_side = Side(pair.uas, "uas")
    reasons: list[str] = []
    stream = is_stream_mode(pair.transport)
    port = free_port() if stream else free_udp_port()
    busy_before_s = machine_busy_s()
    drops_before = udp_receive_buffer_drops()
    uas_scenario = _scenario_options("uas", pair.uas_scenario, pair.transport)
    uas = Child(
        "uas",
        _uas_command(pair.uas, port, calls, workdir, pair.uas_extra, uas_scenario),
        workdir,
    )
    if not wait_for_listener(port, uas, pair.transport):
        _fill(uas_side, uas.kill(), calls, workdir)
        kind = "TCP" if stream else "UDP"
        reasons.append(f"uas did not bind {kind} {port}: {uas.tail(300)}")
        return Step(pair.name, rate_cps, calls, False, reasons, uac_side, uas_side)
    uac_port = free_port() if stream else free_udp_port()
    uac_scenario = _scenario_options("uac", pair.uac_scenario, pair.transport)
    uac = Child(
        "uac",
        _uac_command(
            pair.uac, port, uac_port, calls, rate_cps, workdir, pair.uac_extra, uac_scenario
        ),
        workdir,
    )
    socket_drops: dict[int, int] = {}

    def sample_drops() -> None:
        for sampled_port, drops in udp_socket_drops({port, uac_port}).items():
            socket_drops[sampled_port] = max(socket_drops.get(sampled_port, 0), drops)

    uac_result = uac.wait(calls / rate_cps + uac_slack_s, every_poll=sample_drops)
    uas_result = uas.wait(
        UAS_GRACE_S if uac_result.returncode == 0 else 6.0, every_poll=sample_drops
    )
    uac_side.socket_drops = socket_drops.get(uac_port, 0)
    uas_side.socket_drops = socket_drops.get(port, 0)
    _fill(uac_side, uac_result, calls, workdir)
    _fill(uas_side, uas_result, calls, workdir)
    for side, result, child in ((uac_side, uac_result, uac), (uas_side, uas_result, uas)):
        if result.killed:
            reasons.append(f"{side.role} did not finish in time (killed)")
        elif result.returncode != 0:
            reasons.append(f"{side.role} exit {result.returncode}: {child.tail(300)!r}")
        counts = side.counts
        if counts is None:
            reasons.append(f"{side.role}: no counters written")
            continue
        if counts.failed:
            reasons.append(f"{side.role}: {counts.failed} failed calls")
        if counts.created != calls or counts.successful != calls:
            reasons.append(
                f"{side.role}: created {counts.created}, successful {counts.successful} of {calls}"
            )
    uac_counts = uac_side.counts
    if uac_counts is not None and uac_counts.rate_cps < MIN_RATE_SHARE * rate_cps:
        reasons.append(f"uac reached only {uac_counts.rate_cps:.0f} cps")
    # CPU other processes used meanwhile (the machine has 2 cores: it skews the result).
    foreign_cpu_s = max(0.0, machine_busy_s() - busy_before_s - uac_side.cpu_s - uas_side.cpu_s)
    step = Step(pair.name, rate_cps, calls, not reasons, reasons, uac_side, uas_side)
    step.foreign_cpu_s = foreign_cpu_s
    step.udp_drops = udp_receive_buffer_drops() - drops_before
    return step


def _print_step(step: Step) -> None:
    def counts_text(counts: Counts | None) -> str:
        if counts is None:
            return f"{'-':>21}"
        return (
            f"{counts.created:>6}/{counts.successful:>6}/{counts.failed:>4}"
            f"/{counts.retransmissions:>3}"
        )

    rate = f"{step.uac.counts.rate_cps:7.0f}" if step.uac.counts else f"{'-':>7}"
    verdict = "clean" if step.clean else "FAIL"
    print(
        f"  {step.rate_cps:>6} {verdict:<5} {rate} {counts_text(step.uac.counts)}"
        f" {counts_text(step.uas.counts)} {step.uac.cpu_us_per_call:8.1f}"
        f" {step.uas.cpu_us_per_call:8.1f} {step.foreign_cpu_s:7.2f}"
        f" {step.uac.socket_drops:>6}/{step.uas.socket_drops:<6}/{step.udp_drops}",
        flush=True,
    )
    for reason in step.reasons:
        print(f"           ! {reason[:300]}", flush=True)


def _header(pair: Pair) -> None:
    print(f"\n{pair.name}  (uac = {pair.uac}, uas = {pair.uas}) {' '.join(pair.uac_extra)}")
    print(
        "    rate verdict   got  uac crea/  succ/fail/rtx   uas crea/  succ/fail/rtx"
        "  uac us/c  uas us/c other_s  drops uac/uas/all",
        flush=True,
    )


def ladder_plan(ladder: Ladder, rates: tuple[int, ...], bisect: int) -> Generator[int, bool, None]:
    """The climb and bisection of a ladder as a generator: yields the next rate and is
    sent whether that step was clean (after its retry), so several ladders can interleave."""
    for rate_cps in rates:
        if (yield rate_cps):
            ladder.max_clean_cps = rate_cps
        else:
            ladder.first_failing_cps = rate_cps
            break
    low, high = ladder.max_clean_cps, ladder.first_failing_cps
    for _ in range(bisect):
        if high is None:
            break
        middle = int(round((low + high) / 2 / 50) * 50)
        if middle <= low or middle >= high:
            break
        if (yield middle):
            low = ladder.max_clean_cps = middle
        else:
            high = ladder.first_failing_cps = middle


def run_ladder(
    pair: Pair,
    rates: list[int],
    seconds: float,
    bisect: int,
    confirm: bool,
    root: pathlib.Path,
    quiet_wait_s: float,
) -> Ladder:
    """Climb the rates until the first failing step, then bisect the gap."""
    ladder = Ladder(pair.name)
    _header(pair)

    def attempt(rate_cps: int) -> bool:
        step = run_step(pair, rate_cps, seconds, root, quiet_wait_s)
        ladder.steps.append(step)
        _print_step(step)
        if not step.clean and confirm:
            print("           (retrying once to rule out a fluke)", flush=True)
            step = run_step(pair, rate_cps, seconds, root, quiet_wait_s)
            ladder.steps.append(step)
            _print_step(step)
        return step.clean

    plan = ladder_plan(ladder, tuple(rates), bisect)
    try:
        rate_cps = next(plan)
        while True:
            rate_cps = plan.send(attempt(rate_cps))
    except StopIteration:
        pass
    return ladder


def _side(step: Step, role: str) -> Side:
    return step.uac if role == "uac" else step.uas


def marginal_us_per_call(ladder: Ladder, step: Step, role: str) -> float | None:
    """CPU per extra call between the ladder's lowest clean step and `step`.

    Both steps last the same time, so start-up (Python imports: ~0.2 s) and time-driven work
    (timers, the uas's final 4 s pause) cancel out; what remains is the cost of the calls.
    """
    clean = [other for other in ladder.steps if other.clean]
    if not clean:
        return None
    base = min(clean, key=lambda other: other.rate_cps)
    if step.calls <= base.calls:
        return None
    extra_cpu_s = _side(step, role).cpu_s - _side(base, role).cpu_s
    return extra_cpu_s / (step.calls - base.calls) * 1e6


def _fmt_us(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def summarise(ladders: dict[str, Ladder]) -> dict[str, object]:
    """Print the per-pair summary and the gossipper/SIPp ratios; return them for --json."""
    print("\nSummary (CPU per call at the pair's highest clean rate; marginal in brackets)")
    print(f"  {'pair':<28} {'max clean cps':>13} {'uac us/call':>20} {'uas us/call':>20}")
    summary: dict[str, object] = {}
    for name, ladder in ladders.items():
        step = ladder.step_at(ladder.max_clean_cps) if ladder.max_clean_cps else None
        uac_us = step.uac.cpu_us_per_call if step else 0.0
        uas_us = step.uas.cpu_us_per_call if step else 0.0
        uac_marginal = marginal_us_per_call(ladder, step, "uac") if step else None
        uas_marginal = marginal_us_per_call(ladder, step, "uas") if step else None
        uac_text = f"{uac_us:.1f} [{_fmt_us(uac_marginal)}]"
        uas_text = f"{uas_us:.1f} [{_fmt_us(uas_marginal)}]"
        limit = "" if ladder.first_failing_cps is not None else " (never failed)"
        print(f"  {name:<28} {ladder.max_clean_cps:>13} {uac_text:>20} {uas_text:>20}{limit}")
        summary[name] = {
            "max_clean_cps": ladder.max_clean_cps,
            "first_failing_cps": ladder.first_failing_cps,
            "uac_cpu_us_per_call": uac_us,
            "uas_cpu_us_per_call": uas_us,
            "uac_marginal_cpu_us_per_call": uac_marginal,
            "uas_marginal_cpu_us_per_call": uas_marginal,
        }
    reference = ladders.get("sipp->sipp")
    if reference is None:
        return summary
    ratios: dict[str, object] = {}
    print("\nRatios gossipper / SIPp (targets: clean rate >= 0.33, CPU per call <= 3)")
    for name, role in (("gossipper->sipp", "uac"), ("sipp->gossipper", "uas")):
        ours = ladders.get(name)
        if ours is None:
            continue
        rate_ratio = _ratio(ours.max_clean_cps, reference.max_clean_cps)
        print(
            f"  {name}: clean rate {ours.max_clean_cps} / {reference.max_clean_cps}"
            f" = {_fmt_ratio(rate_ratio)}"
        )
        per_rate: dict[str, float | None] = {}
        marginal: dict[str, float | None] = {}
        for step in ours.steps:
            ref_step = reference.step_at(step.rate_cps)
            if not step.clean or ref_step is None or not ref_step.clean:
                continue
            our_us = _side(step, role).cpu_us_per_call
            ref_us = _side(ref_step, role).cpu_us_per_call
            cpu_ratio = _ratio(our_us, ref_us)
            per_rate[str(step.rate_cps)] = cpu_ratio
            our_marginal = marginal_us_per_call(ours, step, role)
            ref_marginal = marginal_us_per_call(reference, ref_step, role)
            marginal_ratio = (
                _ratio(our_marginal, ref_marginal)
                if our_marginal is not None and ref_marginal is not None
                else None
            )
            marginal[str(step.rate_cps)] = marginal_ratio
            print(
                f"    {role} CPU/call at {step.rate_cps:>5} cps: gossipper {our_us:7.1f} us,"
                f" SIPp {ref_us:6.1f} us, ratio {_fmt_ratio(cpu_ratio)};"
                f" marginal {_fmt_us(our_marginal)} / {_fmt_us(ref_marginal)} us,"
                f" ratio {_fmt_ratio(marginal_ratio)}"
            )
        ratios[name] = {
            "clean_rate_ratio": rate_ratio,
            f"{role}_cpu_ratio_by_rate": per_rate,
            f"{role}_marginal_cpu_ratio_by_rate": marginal,
        }
    summary["ratios"] = ratios
    return summary


def summarise_trace(ladders: dict[str, Ladder]) -> dict[str, object]:
    """Print trace-on vs trace-off clean rates and their ratio (target >= 0.5)."""
    off = ladders["gossipper->sipp trace off"]
    on = ladders["gossipper->sipp trace on"]
    ratio = _ratio(on.max_clean_cps, off.max_clean_cps)
    print("\nTrace cost (gossipper uac with -trace_msg -trace_stat -trace_rtt; target >= 0.5)")
    print(f"  trace off: {off.max_clean_cps} cps   trace on: {on.max_clean_cps} cps")
    print(f"  ratio on/off = {_fmt_ratio(ratio)}")
    cpu: dict[str, float | None] = {}
    for step in on.steps:
        off_step = off.step_at(step.rate_cps)
        if step.clean and off_step is not None and off_step.clean:
            cpu[str(step.rate_cps)] = _ratio(step.uac.cpu_us_per_call, off_step.uac.cpu_us_per_call)
            print(
                f"    uac CPU/call at {step.rate_cps:>5} cps: on {step.uac.cpu_us_per_call:7.1f}"
                f" us, off {off_step.uac.cpu_us_per_call:7.1f} us,"
                f" ratio {_fmt_ratio(cpu[str(step.rate_cps)])}"
            )
    return {
        "trace_off_max_clean_cps": off.max_clean_cps,
        "trace_on_max_clean_cps": on.max_clean_cps,
        "rate_ratio_on_off": ratio,
        "uac_cpu_ratio_on_off_by_rate": cpu,
    }


def main(argv: list[str] | None = None) -> int:
    global BUFF_SIZE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer steps, no bisection")
    parser.add_argument("--rates", help="comma-separated rates in calls/s")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of a step (5)")
    parser.add_argument("--bisect", type=int, help="bisection steps after the ladder (2)")
    parser.add_argument("--no-confirm", action="store_true", help="do not retry a failing step")
    parser.add_argument(
        "--buff-size", type=int, default=BUFF_SIZE, help="-buff_size of every process (4 MiB)"
    )
    parser.add_argument("--pairs", help="comma-separated subset of: " + ", ".join(PAIRS))
    parser.add_argument("--trace", action="store_true", help="trace on vs off instead")
    parser.add_argument("--json", type=pathlib.Path, help="write all results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--quiet-wait-s",
        type=float,
        default=120.0,
        help="before each step wait up to this long for other processes to go idle (0: never)",
    )
    add_source_options(parser)
    args = parser.parse_args(argv)

    install_cleanup()
    sipp_binary()
    BUFF_SIZE = args.buff_size
    if args.rates:
        rates = [int(rate) for rate in args.rates.split(",") if rate.strip()]
    else:
        rates = list(QUICK_RATES if args.quick else FULL_RATES)
    bisect = args.bisect if args.bisect is not None else (0 if args.quick else 2)
    confirm = not (args.no_confirm or args.quick)
    if args.trace:
        pairs = list(TRACE_PAIRS.values())
    elif args.pairs:
        pairs = [PAIRS[name.strip()] for name in args.pairs.split(",")]
    else:
        pairs = list(PAIRS.values())

    info = machine_info()
    print("machine: " + ", ".join(f"{key}={value}" for key, value in info.items()))
    print(f"rates: {rates}, {args.seconds:g} s per step, bisect {bisect}, confirm {confirm}")
    print(f"socket buffers: -buff_size {BUFF_SIZE} for every process (both tools)")
    root = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-bench-"))
    try:
        source = prepare_source(args, root)
        print(f"gossipper source: {source}", flush=True)
        info["gossipper_source"] = source
        ladders = {
            pair.name: run_ladder(
                pair, rates, args.seconds, bisect, confirm, root, args.quiet_wait_s
            )
            for pair in pairs
        }
        summary = summarise_trace(ladders) if args.trace else summarise(ladders)
    finally:
        if args.keep:
            print(f"\nwork directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        doc = {
            "benchmark": "bench_rates",
            "mode": "trace" if args.trace else "rates",
            "machine": info,
            "repo": str(REPO),
            "rates": rates,
            "seconds_per_step": args.seconds,
            "buff_size": BUFF_SIZE,
            "summary": summary,
            "ladders": {name: asdict(ladder) for name, ladder in ladders.items()},
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
