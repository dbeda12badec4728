"""Graceful overload: gossipper driven past its own clean ceiling, against SIPp.

``--direction uac`` (the default): gossipper's uac against SIPp's uas. ``--direction uas``:
SIPp's uac against gossipper's uas (a server cannot pace what it is sent: it sheds, and SIPp
retransmits what was shed).

First a short ladder finds gossipper's highest clean rate against SIPp's uas (or --ceiling gives
it); a ladder whose top step is clean climbs on by its last increment until a step fails (16
steps at most), since a top that was merely the last rate given is not a ceiling and would make
the overload factors too low (on a slower machine, 1.5 x such a top was still below the real
ceiling: 1.21 x its rate, not overload at all). Then the uac runs at --factors x that rate
(1.5 and 2 by default) for the same number of seconds. Every process gets the same socket
buffers (-buff_size, 4 MiB by default). An overload run passes when:

- both processes finish by themselves (no kill), gossipper with every call accounted for: the
  -m calls all created, each successful or failed, none left open;
- the successful call rate (successful calls / the uac's wall time, start-up included) is at
  least 90 % of the one the clean ceiling step achieved;
- there is no retransmission storm: retransmissions on both sides under 1 % of the calls
  (uas direction: gossipper's own under 1 %, and SIPp's no more than one per shed INVITE plus
  1 % of the calls: a shed request comes back once, and nothing a running call sent is lost).

On a 2-core machine gossipper's clean ceilings lie beyond what SIPp can absorb or offer on
the other core, so 1.5 x and 2 x of them cannot be driven; ``--cpu-share F`` runs gossipper in
a CFS-quota cgroup with F of one core (a slower core: its ceiling is measured under the same
share). The peak receive queue of gossipper's socket (rx_queue, sampled every 100 ms) is
reported against its buffer: what the buffer size must absorb at the ceiling and past it.

``--repeat N`` runs the overload steps N times, each round after a ceiling step of its own
(one that is not clean leaves the round with the last clean one's rate), and judges the median
ratio: on a shared VM the speed of one step drifts by more than the 10 % being checked.

The summary's ``delayed_overload`` (calls started later than due because the process was
behind) and ``skipped_overload`` (calls dropped from the schedule while the watchdog saw the
event loop lag) say what the overload guard did (uas direction: ``held`` is the INVITEs
gossipper's -overload_queue answered 100 Trying and held, ``shed`` those it dropped).

  python bench/overload.py                       # ladder, then 1.5x and 2x
  python bench/overload.py --ceiling 4000        # skip the ladder
  python bench/overload.py --nice -5 --pin       # uac on CPU 0 and uas on CPU 1, nice -5
  python bench/overload.py --cpu-share 0.3 --rates 6000,8000,10000,12000,14000
  python bench/overload.py --direction uas --cpu-share 0.3 --rates 4000,6000,8000,10000
  python bench/overload.py --direction uas --cpu-share 0.3 --rates 9000,10000,11000 \
      --gossipper-args "-overload_queue 100000" --repeat 5
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass

from benchlib import (
    LOOPBACK,
    Child,
    ChildResult,
    CpuShare,
    add_source_options,
    free_udp_port,
    gossipper_command,
    install_cleanup,
    machine_busy_s,
    machine_info,
    niced_command,
    prepare_source,
    sipp_binary,
    sipp_counts,
    start_sipp_uas,
    udp_socket_drops,
    udp_socket_queues,
    wait_for_listener,
    wait_for_quiet,
)

LADDER = (2000, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12000)


@dataclass
class Run:
    rate_cps: int
    calls: int
    uac_wall_s: float
    uac_cpu_s: float
    uas_cpu_s: float
    uac_exit: int
    uas_exit: int
    killed: bool
    total: int
    successful: int
    failed: int
    current: int
    retransmissions_uac: int
    retransmissions_uas: int
    delayed_overload: int
    skipped_overload: int
    achieved_cps: float
    successful_cps: float
    uas_successful: int
    drops_uac: int
    drops_uas: int
    other_s: float
    direction: str = "uac"
    peak_queue_bytes: int = 0
    """gossipper's socket: the largest rx_queue sampled."""

    @property
    def gossipper_cpu_s(self) -> float:
        return self.uac_cpu_s if self.direction == "uac" else self.uas_cpu_s

    @property
    def clean(self) -> bool:
        return (
            not self.killed
            and self.uac_exit == 0
            and self.successful == self.calls
            and self.uas_successful == self.calls
            and (self.achieved_cps if self.direction == "uac" else self.successful_cps)
            >= 0.9 * self.rate_cps
        )


def _uac_arguments(
    port: int, uac_port: int, calls: int, rate_cps: int, buffers: list[str]
) -> list[str]:
    """The built-in uac's command line, the same for SIPp and gossipper."""
    return [
        *("-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-p", str(uac_port), "-nostdin"),
        *("-m", str(calls), "-r", str(rate_cps), *buffers),
    ]


def _in_share(command: list[str], args: argparse.Namespace) -> list[str]:
    """gossipper's command with the --gossipper-args, in the --cpu-share cgroup if any."""
    command = command + args.gossipper_args.split()
    share: CpuShare | None = args.share
    return share.wrap(command) if share is not None else command


def _wait_both(
    uac: Child, uas: Child, seconds: float, ports: set[int], gossipper_port: int, busy_from: float
) -> tuple[ChildResult, ChildResult, dict[int, int], int, float]:
    """Wait for the uac, then the uas, sampling the sockets on `ports` every 100 ms: (the
    two results, the drops per port, gossipper's peak receive queue, other processes' CPU)."""
    drops: dict[int, int] = {}
    peak_queue = [0]

    def sample() -> None:
        for sampled, count in udp_socket_drops(ports).items():
            drops[sampled] = max(drops.get(sampled, 0), count)
        queued = udp_socket_queues({gossipper_port}).get(gossipper_port, 0)
        peak_queue[0] = max(peak_queue[0], queued)

    # Past the ceiling the run takes longer than calls / rate: allow for 3x, plus the
    # 31.5 s an unanswered INVITE may retransmit.
    uac_result = uac.wait(3 * seconds + 45, every_poll=sample)
    uas_result = uas.wait(15.0 if uac_result.returncode == 0 else 6.0, every_poll=sample)
    other_s = max(0.0, machine_busy_s() - busy_from - uac_result.cpu_s - uas_result.cpu_s)
    return uac_result, uas_result, drops, peak_queue[0], other_s


def _new_step(
    rate_cps: int, seconds: float, root: pathlib.Path, args: argparse.Namespace, label: str
) -> tuple[int, pathlib.Path, list[str], int, float]:
    """A quiet machine, then (calls, the step's folder, the -buff_size arguments, the
    server's port, the machine's busy time before the step)."""
    if args.quiet_wait_s > 0:
        wait_for_quiet(args.quiet_wait_s)
    work = root / f"{label}_{rate_cps}"
    work.mkdir(parents=True)
    buffers = ["-buff_size", str(args.buff_size)]
    return round(rate_cps * seconds), work, buffers, free_udp_port(), machine_busy_s()


def run_once(
    rate_cps: int, seconds: float, root: pathlib.Path, args: argparse.Namespace, label: str
) -> Run:
    if args.direction == "uas":
        return run_uas_once(rate_cps, seconds, root, args, label)
    calls, work, buffers, port, busy_before = _new_step(rate_cps, seconds, root, args, label)
    uas = start_sipp_uas(
        port,
        calls,
        work / "uas_stat.csv",
        args.buff_size,
        work,
        nice=args.nice,
        cpu=1 if args.pin else None,
    )
    uac_port = free_udp_port()
    uac = Child(
        "uac",
        niced_command(
            _in_share(
                gossipper_command(
                    *_uac_arguments(port, uac_port, calls, rate_cps, buffers),
                    "-summary_json",
                    str(work / "uac.json"),
                ),
                args,
            ),
            args.nice,
            0 if args.pin else None,
        ),
        work,
    )
    uac_result, uas_result, drops, peak_queue, other_s = _wait_both(
        uac, uas, seconds, {port, uac_port}, uac_port, busy_before
    )
    try:
        doc = json.loads((work / "uac.json").read_text())
    except (OSError, ValueError):
        doc = {"calls": {}, "messages": {}, "rate": {}}
    c = doc["calls"]
    uas_counts = sipp_counts(work / "uas_stat.csv")
    successful = int(c.get("successful", 0))
    return Run(
        rate_cps=rate_cps,
        calls=calls,
        uac_wall_s=uac_result.wall_s,
        uac_cpu_s=uac_result.cpu_s,
        uas_cpu_s=uas_result.cpu_s,
        uac_exit=uac_result.returncode,
        uas_exit=uas_result.returncode,
        killed=uac_result.killed,
        total=int(c.get("total", 0)),
        successful=successful,
        failed=int(c.get("failed", 0)),
        current=int(c.get("current", 0)),
        retransmissions_uac=int(doc["messages"].get("retransmissions", 0)),
        retransmissions_uas=uas_counts.retransmissions if uas_counts else -1,
        delayed_overload=int(c.get("delayed_overload", 0)),
        skipped_overload=int(c.get("skipped_overload", 0)),
        achieved_cps=float(doc["rate"].get("achieved_cps", 0.0)),
        successful_cps=successful / uac_result.wall_s if uac_result.wall_s else 0.0,
        uas_successful=uas_counts.successful if uas_counts else -1,
        drops_uac=drops.get(uac_port, 0),
        drops_uas=drops.get(port, 0),
        other_s=other_s,
        peak_queue_bytes=peak_queue,
    )


def run_uas_once(
    rate_cps: int, seconds: float, root: pathlib.Path, args: argparse.Namespace, label: str
) -> Run:
    """SIPp's uac at rate_cps against gossipper's uas for rate x seconds calls."""
    calls, work, buffers, port, busy_before = _new_step(rate_cps, seconds, root, args, label)
    uas = Child(
        "uas",
        niced_command(
            _in_share(
                gossipper_command(
                    "-sn",
                    "uas",
                    "-i",
                    LOOPBACK,
                    "-p",
                    str(port),
                    "-nostdin",
                    "-m",
                    str(calls),
                    *buffers,
                    "-summary_json",
                    str(work / "uas.json"),
                ),
                args,
            ),
            args.nice,
            1 if args.pin else None,
        ),
        work,
    )
    if not wait_for_listener(port, uas):
        raise SystemExit(f"gossipper's uas did not start: {uas.tail(300)}")
    uac_port = free_udp_port()
    uac = Child(
        "uac",
        niced_command(
            [
                sipp_binary(),
                *_uac_arguments(port, uac_port, calls, rate_cps, buffers),
                "-trace_stat",
                "-stf",
                str(work / "uac_stat.csv"),
                "-fd",
                "1",
            ],  # fmt: skip
            args.nice,
            0 if args.pin else None,
        ),
        work,
    )
    # The uas ends by itself once -m calls are over (the last BYE's answer has left).
    uac_result, uas_result, drops, peak_queue, other_s = _wait_both(
        uac, uas, seconds, {port, uac_port}, port, busy_before
    )
    sipp = sipp_counts(work / "uac_stat.csv")
    try:
        doc = json.loads((work / "uas.json").read_text())
    except (OSError, ValueError):
        doc = {"calls": {}, "messages": {}, "rate": {}}
    c = doc["calls"]
    successful = sipp.successful if sipp else 0
    return Run(
        rate_cps=rate_cps,
        calls=calls,
        uac_wall_s=uac_result.wall_s,
        uac_cpu_s=uac_result.cpu_s,
        uas_cpu_s=uas_result.cpu_s,
        uac_exit=uac_result.returncode,
        uas_exit=uas_result.returncode,
        killed=uac_result.killed or uas_result.killed,
        total=sipp.created if sipp else 0,
        successful=successful,
        failed=sipp.failed if sipp else 0,
        current=sipp.current if sipp else 0,
        retransmissions_uac=sipp.retransmissions if sipp else -1,
        retransmissions_uas=int(doc["messages"].get("retransmissions", -1)),
        delayed_overload=int(c.get("delayed_overload", 0)),
        skipped_overload=int(c.get("skipped_overload", 0)),
        achieved_cps=sipp.rate_cps if sipp else 0.0,
        successful_cps=successful / uac_result.wall_s if uac_result.wall_s else 0.0,
        uas_successful=int(c.get("successful", 0)),
        drops_uac=drops.get(uac_port, 0),
        drops_uas=drops.get(port, 0),
        other_s=other_s,
        direction="uas",
        peak_queue_bytes=peak_queue,
    )


def _storm(run: Run) -> bool:
    """More retransmissions than an orderly overload explains (see the module's docstring)."""
    if run.direction == "uac":
        return max(run.retransmissions_uac, run.retransmissions_uas) > 0.01 * run.calls
    return (
        run.retransmissions_uas > 0.01 * run.calls
        or run.retransmissions_uac > run.skipped_overload + 0.01 * run.calls
    )


def _print(run: Run, verdict: str) -> None:
    if run.direction == "uac":
        guard = f" delayed {run.delayed_overload} skipped {run.skipped_overload}"
    else:
        guard = (
            f" held {run.delayed_overload} shed {run.skipped_overload}"
            f" uas successful {run.uas_successful}"
            f" exits {run.uac_exit}/{run.uas_exit}{' killed' * run.killed}"
        )
    print(
        f"  {run.rate_cps:>6} {verdict:<6} got {run.achieved_cps:7.0f}/s"
        f" succ {run.successful_cps:7.0f}/s"
        f" calls {run.total}/{run.successful}/{run.failed}/{run.current}"
        f" rtx {run.retransmissions_uac}/{run.retransmissions_uas}{guard}"
        f" cpu/call {run.uac_cpu_s / run.calls * 1e6:6.1f}"
        f"/{run.uas_cpu_s / run.calls * 1e6:5.1f} us"
        f" drops {run.drops_uac}/{run.drops_uas}"
        f" peak queue {run.peak_queue_bytes / 1024:.0f} KiB other_s {run.other_s:.1f}",
        flush=True,
    )


_MAX_LADDER_STEPS = 16
"""Ladder steps (retries included) before the climb past a clean top gives up."""


def _next_rate(ladder: list[Run]) -> int:
    """The step after a clean top of the ladder: the last increment again (a tenth of the rate
    where the ladder had one step), so the ceiling found is a failing step's neighbour, not
    the top the ladder happened to be given (which would make the overload factors too low)."""
    tops = sorted({run.rate_cps for run in ladder})
    top = tops[-1]
    step = tops[-1] - tops[-2] if len(tops) > 1 else 0
    return top + max(step, round(top / 10), 1)


def _overload_step(
    ceiling: int,
    factor: float,
    achieved_ceiling: float,
    root: pathlib.Path,
    args: argparse.Namespace,
    repeat: int,
) -> tuple[dict[str, object], float, bool]:
    """One run at factor x the ceiling, judged against the ceiling step's successful rate: its
    JSON record, that ratio, and whether the run was sound (finished, accounted, no storm)."""
    rate = round(ceiling * factor)
    run = run_once(rate, args.seconds, root, args, f"x{factor:g}-{repeat}")
    finished = not run.killed and run.uac_exit in (0, 1)
    accounted = run.total == run.calls and run.successful + run.failed == run.calls
    storm = _storm(run)
    share = run.successful_cps / achieved_ceiling if achieved_ceiling else 0.0
    sound = finished and accounted and not storm
    ok = sound and share >= 0.9
    _print(run, "PASS" if ok else "FAIL")
    print(
        f"         {factor:g} x ceiling: successful rate {share:.2f} x the ceiling step's,"
        f" finished {finished}, accounted {accounted}, storm {storm}"
    )
    record = {
        "factor": factor,
        "pass": ok,
        "share": share,
        "round": repeat,
        "ceiling_step_successful_cps": achieved_ceiling,
        **asdict(run),
    }
    return record, share, sound


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--ceiling", type=int, help="gossipper's clean ceiling (skip the ladder)")
    parser.add_argument("--rates", help="ladder rates, comma-separated")
    parser.add_argument(
        "--factors", default="1.5,2", help="overload factors (1.5,2; empty: the ladder only)"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of a step (5)")
    parser.add_argument("--buff-size", type=int, default=4 * 1024 * 1024, help="-buff_size")
    parser.add_argument("--nice", type=int, default=0, help="run both programs at this nice")
    parser.add_argument("--pin", action="store_true", help="uac on CPU 0, uas on CPU 1")
    parser.add_argument(
        "--direction",
        choices=("uac", "uas"),
        default="uac",
        help="uac: gossipper's uac against SIPp's uas; uas: SIPp's uac against gossipper's uas",
    )
    parser.add_argument(
        "--cpu-share", type=float, help="run gossipper with this share of one core (a cgroup)"
    )
    parser.add_argument(
        "--gossipper-args",
        default="",
        help="more options for gossipper, e.g. '-overload_queue 100000'",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of the overload steps, each after a ceiling step of its own; medians",
    )
    parser.add_argument("--quiet-wait-s", type=float, default=30.0)
    parser.add_argument("--json", type=pathlib.Path)
    add_source_options(parser)
    args = parser.parse_args(argv)
    install_cleanup()
    args.share = CpuShare(args.cpu_share) if args.cpu_share is not None else None
    info = machine_info()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    root = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-overload-"))
    results: dict[str, object] = {"machine": info}
    try:
        source = prepare_source(args, root)
        share = f"{args.share.share:g} of a core" if args.share else "unlimited"
        print(f"gossipper source: {source} {args.gossipper_args};"
              f" gossipper's {args.direction} against SIPp;"
              f" -buff_size {args.buff_size} for both; gossipper's CPU {share};"
              f" nice {args.nice}; pinned {args.pin}", flush=True)  # fmt: skip
        ceiling = args.ceiling
        # The successful call rate the clean ceiling step achieved (start-up included): what
        # an overload run is compared with. With --ceiling, the nominal rate.
        achieved_ceiling = float(ceiling or 0)
        ladder: list[Run] = []
        if ceiling is None:
            print("ladder (a failing step is retried once)")
            rates = [int(r) for r in args.rates.split(",")] if args.rates else list(LADDER)
            ceiling = 0
            failed = False
            while rates:
                rate = rates.pop(0)
                run = run_once(rate, args.seconds, root, args, "ladder")
                _print(run, "clean" if run.clean else "FAIL")
                ladder.append(run)
                if not run.clean:
                    run = run_once(rate, args.seconds, root, args, "retry")
                    _print(run, "clean" if run.clean else "FAIL")
                    ladder.append(run)
                if not run.clean:
                    failed = True
                    break
                ceiling = rate
                achieved_ceiling = run.successful_cps
                if not rates and len(ladder) < _MAX_LADDER_STEPS:
                    rates = [_next_rate(ladder)]
                    print(f"  the ladder's top was clean: climbing on to {rates[0]} calls/s")
            if not failed and ceiling:
                print(
                    f"  no failing step in {_MAX_LADDER_STEPS} steps: the ceiling is at least"
                    f" {ceiling} calls/s, and the overload factors below are of that"
                )
        print(
            f"clean ceiling: {ceiling} calls/s"
            f" (its step: {achieved_ceiling:.0f} successful calls per second of wall time)"
        )
        overload: list[dict[str, object]] = []
        judged: dict[float, list[tuple[float, bool]]] = {}
        factors = [float(f) for f in args.factors.split(",") if f.strip()]
        if not ceiling:
            print("no clean ladder step: start the ladder lower (--rates)")
            factors = []
        for repeat in range(args.repeat if factors else 0):
            if repeat:
                # The machine's speed drifts by more than the margin being checked (a
                # co-tenant, the CPU placement): each round compares its overload steps with
                # a ceiling step measured just before them.
                run = run_once(ceiling, args.seconds, root, args, f"ceiling{repeat}")
                _print(run, "clean" if run.clean else "FAIL")
                ladder.append(run)
                # A ceiling step that was not clean measured the overload path itself: the
                # round keeps the last clean one's rate.
                if run.clean:
                    achieved_ceiling = run.successful_cps
            for factor in factors:
                record, ratio, sound = _overload_step(
                    ceiling, factor, achieved_ceiling, root, args, repeat
                )
                overload.append(record)
                judged.setdefault(factor, []).append((ratio, sound))
        if args.repeat > 1 and factors:
            for factor, runs in judged.items():
                shares = [ratio for ratio, _ in runs]
                passes = all(sound for _, sound in runs)
                median = statistics.median(shares)
                print(
                    f"  {factor:g} x ceiling over {len(shares)} rounds: median successful rate"
                    f" {median:.2f} x (each {', '.join(f'{x:.2f}' for x in shares)}),"
                    f" every run finished, accounted, no storm: {passes};"
                    f" {'PASS' if passes and median >= 0.9 else 'FAIL'}"
                )
        results.update(
            direction=args.direction,
            gossipper_args=args.gossipper_args,
            cpu_share=args.share.share if args.share else None,
            ceiling_cps=ceiling,
            ceiling_successful_cps=achieved_ceiling,
            ladder=[asdict(r) for r in ladder],
            overload=overload,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if args.share is not None:
            args.share.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
