"""-workers: aggregate highest clean rate and CPU per call with 1, 2, ... N worker processes.

gossipper's uac runs against SIPp's uas (4 MiB socket buffers on both sides) at rising rates,
once per configuration:

  single process     gossipper uac without -workers (today's code path)
  1 worker           -workers 1: the parent plus one worker (the cost of the supervision)
  2 workers          -workers 2 (and so on with --workers 1,2,4,8)

A step is clean as in bench_rates.py (both sides exit 0, every call created and successful,
none failed, the uac reached 90 % of the target rate). A configuration's ladder stops at its
first failing step (retried once). CPU per call is the uac's user + system time divided by
its calls, from os.wait4, which includes the worker processes the parent has reaped; the
"marginal" CPU per call, (CPU at this rate - CPU at the lowest rate) / extra calls, removes
start-up (N workers start N interpreters) and idle time. The summary prints, for each
configuration, its highest clean rate and its CPU per call at the highest rate every
configuration ran cleanly, with the ratios to one worker.

  python bench/workers.py                          # 1 and 2 workers + single process
  python bench/workers.py --workers 1,2,4,8 --rates 1000,2000,4000,8000,16000
  python bench/workers.py --quick                  # 3 short steps (a smoke test)
  python bench/workers.py --json out.json
  python bench/workers.py --handoff                # the server side's hand-off cost only

Run it on a quiet machine: other processes steal CPU from the workers and from SIPp (each
step line shows other_s, the CPU others used meanwhile).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

from bench_rates import (
    UAC_SLACK_S,
    Pair,
    Side,
    Step,
    _fill,
    _uac_command,
    run_step,
)
from benchlib import (
    LOOPBACK,
    Child,
    add_source_options,
    free_udp_port,
    gossipper_counts,
    install_cleanup,
    machine_busy_s,
    machine_info,
    new_step_dir,
    prepare_source,
    sipp_binary,
    sipp_counts,
    source_version,
    wait_for_listener,
)

FULL_RATES = (250, 500, 1000, 1500, 2000, 3000, 4000, 5000, 6000)
QUICK_RATES = (100, 200, 400)
BUFFERS = ("-buff_size", "4194304")


@dataclass
class Config:
    """One way of running the uac and what its ladder found."""

    name: str
    workers: int | None
    steps: list[Step] = field(default_factory=list)
    max_clean_cps: int = 0

    def clean_step(self, rate_cps: int) -> Step | None:
        found = None
        for step in self.steps:
            if step.rate_cps == rate_cps and step.clean:
                found = step
        return found


def _pair(config: Config) -> Pair:
    extra = BUFFERS if config.workers is None else (*BUFFERS, "-workers", str(config.workers))
    return Pair(config.name, "gossipper", "sipp", uac_extra=extra, uas_extra=BUFFERS)


def _core_share(step: Step) -> float:
    """The share of one core the uas used while the calls came (its CPU per call, start-up
    included, times the rate the uac reached): near 1.0, a single-threaded peer (SIPp) is
    saturated and the step measures the peer, not gossipper."""
    rate_cps = step.uac.counts.rate_cps if step.uac.counts else step.rate_cps
    return step.uas.cpu_us_per_call * rate_cps / 1e6


def _print_step(step: Step) -> None:
    counts = step.uac.counts
    achieved = f"{counts.rate_cps:7.0f}" if counts else f"{'-':>7}"
    verdict = "clean" if step.clean else "FAIL"
    print(
        f"  {step.pair:<15} {step.rate_cps:>6} {verdict:<5} {achieved}"
        f" {step.uac.cpu_us_per_call:9.1f} {step.uas.cpu_us_per_call:9.1f}"
        f" {_core_share(step):8.2f} {step.foreign_cpu_s:7.2f}",
        flush=True,
    )
    for reason in step.reasons:
        print(f"           ! {reason[:300]}", flush=True)


@dataclass
class Fanout:
    """Several SIPp uas processes on one port (bench/reuseport_shim.c steers each uac worker's
    datagrams to one of them): one SIPp uas saturates a core before 8 workers do."""

    count: int
    shim: pathlib.Path


def run_fanout_step(
    config: Config, rate_cps: int, seconds: float, root: pathlib.Path, slack_s: float,
    fanout: Fanout,
) -> Step:  # fmt: skip
    """One step against fanout.count SIPp uas processes; judged on the uac's counts (the
    uas processes run without -m and are stopped once the uac is done; their successful calls
    must add up to the uac's)."""
    calls = max(1, round(rate_cps * seconds))
    workdir = new_step_dir(root, f"fanout_{config.workers}_{rate_cps}")
    port = free_udp_port()
    busy_before_s = machine_busy_s()
    reasons: list[str] = []
    peers: list[Child] = []
    for index in range(fanout.count):
        peer_dir = workdir / f"uas{index}"
        peer_dir.mkdir()
        command = [
            "env", f"LD_PRELOAD={fanout.shim}", f"REUSEPORT_GROUP={fanout.count}",
            sipp_binary(), "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-nostdin",
            "-trace_stat", "-stf", str(peer_dir / "uas_stat.csv"), "-fd", "1", *BUFFERS,
        ]  # fmt: skip
        peer = Child("uas", command, peer_dir)
        peers.append(peer)
        # Bound in order: the shim's index (source port mod count) is the order of binding.
        started = wait_for_listener(port, peer) if index == 0 else _settles(peer)
        if not started:
            reasons.append(f"uas {index} did not start: {peer.tail(300)}")
            break
    uac_side = Side("gossipper", "uac")
    uas_side = Side("sipp", f"uas x{fanout.count}")
    if not reasons:
        uac = Child(
            "uac",
            _uac_command(
                "gossipper", port, free_udp_port(), calls, rate_cps, workdir,
                (*BUFFERS, "-workers", str(config.workers)), ["-sn", "uac"],
            ),
            workdir,
        )  # fmt: skip
        uac_result = uac.wait(calls / rate_cps + slack_s)
        _fill(uac_side, uac_result, calls, workdir)
        if uac_result.killed:
            reasons.append("uac did not finish in time (killed)")
        elif uac_result.returncode != 0:
            reasons.append(f"uac exit {uac_result.returncode}: {uac.tail(300)!r}")
    # SIPp's uas keeps each call 4 s after the BYE (its timewait) before counting it
    # successful; the uac's counts already say every call succeeded, so from the uas
    # processes: every call arrived at one of them, and none failed.
    arrived = failed = 0
    peer_cpu_s = []
    for peer in peers:
        result = peer.kill()
        peer_cpu_s.append(result.cpu_s)
        peer_counts = sipp_counts(peer.cwd / "uas_stat.csv")
        arrived += peer_counts.created if peer_counts else 0
        failed += peer_counts.failed if peer_counts else 0
    uas_side.cpu_s = sum(peer_cpu_s)
    uas_side.cpu_us_per_call = uas_side.cpu_s / calls * 1e6
    counts = uac_side.counts = gossipper_counts(workdir / "uac_summary.json")
    if counts is None:
        reasons.append("uac: no counters written")
    else:
        if counts.failed:
            reasons.append(f"uac: {counts.failed} failed calls")
        if counts.created != calls or counts.successful != calls:
            reasons.append(
                f"uac: created {counts.created}, successful {counts.successful} of {calls}"
            )
        if counts.rate_cps < 0.9 * rate_cps:
            reasons.append(f"uac reached only {counts.rate_cps:.0f} cps")
    if arrived != calls or failed:
        reasons.append(f"the uas processes received {arrived} calls of {calls}, {failed} failed")
    busiest = max(peer_cpu_s, default=0.0) / (calls / rate_cps)
    spread = ", ".join(f"{cpu:.1f}" for cpu in peer_cpu_s)
    print(f"           uas CPU s each: {spread} (busiest {busiest:.2f} core)", flush=True)
    step = Step(config.name, rate_cps, calls, not reasons, reasons, uac_side, uas_side)
    others_s = machine_busy_s() - busy_before_s - uac_side.cpu_s - uas_side.cpu_s
    step.foreign_cpu_s = max(0.0, others_s)
    return step


def _settles(child: Child, wait_s: float = 0.3) -> bool:
    """The child is still running wait_s after its start (a SIPp that cannot bind exits)."""
    time.sleep(wait_s)
    return child.poll() is None


def run_ladder(
    config: Config,
    rates: tuple[int, ...],
    seconds: float,
    root: pathlib.Path,
    quiet_s: float,
    slack_s: float = UAC_SLACK_S,
    fanout: Fanout | None = None,
) -> None:
    pair = _pair(config)

    def step_at(rate: int) -> Step:
        if fanout is not None and config.workers is not None:
            return run_fanout_step(config, rate, seconds, root, slack_s, fanout)
        return run_step(pair, rate, seconds, root, quiet_s, slack_s)

    for rate in rates:
        step = step_at(rate)
        config.steps.append(step)
        _print_step(step)
        if not step.clean:
            retry = step_at(rate)
            config.steps.append(retry)
            _print_step(retry)
            if not retry.clean:
                return
        config.max_clean_cps = rate


def _marginal_us(config: Config, rate: int, base_rate: int) -> float | None:
    high, low = config.clean_step(rate), config.clean_step(base_rate)
    if high is None or low is None or high.calls == low.calls:
        return None
    return (high.uac.cpu_s - low.uac.cpu_s) / (high.calls - low.calls) * 1e6


def summarize(configs: list[Config], rates: tuple[int, ...]) -> dict[str, object]:
    common = [rate for rate in rates if all(c.clean_step(rate) for c in configs)]
    at = common[-1] if common else None
    base = common[0] if common else None
    reference = next((c for c in configs if c.workers == 1), configs[0])
    print()
    print(f"highest rate every configuration ran cleanly: {at} cps")
    print(
        f"  {'configuration':<15} {'max clean':>10} {'x 1 worker':>10}"
        f" {'CPU us/call':>12} {'x 1 worker':>10} {'marginal':>9} {'x 1 worker':>10}"
    )
    rows: dict[str, object] = {}
    ref_step = reference.clean_step(at) if at is not None else None
    ref_marginal = (
        _marginal_us(reference, at, base) if at is not None and base is not None else None
    )
    for config in configs:
        step = config.clean_step(at) if at is not None else None
        cpu = step.uac.cpu_us_per_call if step else None
        marginal = _marginal_us(config, at, base) if at is not None and base is not None else None
        rate_ratio = (
            config.max_clean_cps / reference.max_clean_cps if reference.max_clean_cps else None
        )
        cpu_ratio = cpu / ref_step.uac.cpu_us_per_call if cpu and ref_step else None
        marginal_ratio = marginal / ref_marginal if marginal and ref_marginal else None

        def text(value: float | None, digits: int = 2) -> str:
            return "-" if value is None else f"{value:.{digits}f}"

        print(
            f"  {config.name:<15} {config.max_clean_cps:>10} {text(rate_ratio):>10}"
            f" {text(cpu, 1):>12} {text(cpu_ratio):>10} {text(marginal, 1):>9}"
            f" {text(marginal_ratio):>10}"
        )
        rows[config.name] = {
            "workers": config.workers,
            "max_clean_cps": config.max_clean_cps,
            "max_clean_ratio_to_1_worker": rate_ratio,
            "cpu_us_per_call": cpu,
            "cpu_ratio_to_1_worker": cpu_ratio,
            "marginal_cpu_us_per_call": marginal,
            "marginal_ratio_to_1_worker": marginal_ratio,
        }
    # CPU per call falls with the rate one process handles (more datagrams per wake-up of
    # the event loop): N workers at N x r calls/s do what one does at r. Compared that way:
    matched: dict[str, dict[str, float]] = {}
    print()
    print("at equal rate per worker (N workers at N x r against 1 worker at r):")
    for config in configs:
        if config.workers is None or config.workers == 1:
            continue
        for step in config.steps:
            if not step.clean or step.rate_cps % config.workers:
                continue
            ref = reference.clean_step(step.rate_cps // config.workers)
            if ref is None:
                continue
            ratio = step.uac.cpu_us_per_call / ref.uac.cpu_us_per_call
            matched.setdefault(config.name, {})[str(step.rate_cps)] = ratio
            print(
                f"  {config.name} at {step.rate_cps}: {step.uac.cpu_us_per_call:.1f} us/call,"
                f" 1 worker at {ref.rate_cps}: {ref.uac.cpu_us_per_call:.1f} -> x{ratio:.2f}"
            )
    return {
        "compared_at_cps": at,
        "base_cps": base,
        "configurations": rows,
        "equal_rate_per_worker": matched,
    }


def handoff_cost(datagrams: int = 100_000, workers: int = 2) -> dict[str, float]:
    """CPU of the server side's receiver per datagram: receive on the SIP socket, find the
    Call-ID, send over the worker's SEQPACKET pair (gossipper.transport.handoff), against a
    plain receive of the same datagrams (what one process does anyway). Synchronous loops
    over non-blocking sockets, batches of 200 so no buffer fills."""
    import socket
    import time

    from gossipper.transport.handoff import open_handoff_pairs, pack, steer

    message = (
        b"INVITE sip:service@127.0.0.1:5060 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-0\r\n"
        b"From: sipp <sip:sipp@127.0.0.1:5061>;tag=1\r\nTo: service <sip:service@127.0.0.1>\r\n"
        b"Call-ID: %d-4242@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
        b"Contact: sip:sipp@127.0.0.1:5061\r\nMax-Forwards: 70\r\n"
        b"Content-Type: application/sdp\r\nContent-Length: 129\r\n\r\n" + b"v" * 129
    )
    shared = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    shared.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    shared.bind(("127.0.0.1", 0))
    shared.setblocking(False)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pairs = open_handoff_pairs(workers, 4 << 20)
    for _, child in pairs:
        child.setblocking(False)
    buffer = bytearray(65536)
    address = shared.getsockname()
    batch = 200
    results: dict[str, float] = {}
    for mode in ("receive only", "receive + hand-off"):
        spent = 0.0
        for start in range(0, datagrams, batch):
            for n in range(start, start + batch):
                client.sendto(message % n, address)
            began = time.process_time()
            got = 0
            while got < batch:
                try:
                    size, source = shared.recvfrom_into(buffer)
                except BlockingIOError:
                    continue
                got += 1
                data = bytes(buffer[:size])
                if mode != "receive only":
                    pairs[steer(data, workers)][0].send(pack(data, source))
            spent += time.process_time() - began
            for _, child in pairs:
                try:
                    while True:
                        child.recv(70000)
                except BlockingIOError:
                    pass
        results[mode] = spent / datagrams * 1e6
    results["hand-off extra"] = results["receive + hand-off"] - results["receive only"]
    for name, value in results.items():
        print(f"  {name:<20} {value:6.2f} us of CPU per datagram")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2", help="worker counts, e.g. 1,2,4,8")
    parser.add_argument("--no-single", action="store_true", help="skip the no -workers run")
    parser.add_argument("--rates", help="comma list of rates (cps)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of calls a step")
    parser.add_argument("--quick", action="store_true", help="3 short steps")
    parser.add_argument("--quiet-wait", type=float, default=20.0, help="max s to wait for calm")
    parser.add_argument("--json", type=pathlib.Path, help="write the results here")
    parser.add_argument("--handoff", action="store_true", help="the hand-off's cost only")
    parser.add_argument(
        "--slack",
        type=float,
        default=UAC_SLACK_S,
        help="s the uac may run past its last call's due time (less: failing steps end sooner)",
    )
    parser.add_argument(
        "--uas-count",
        type=int,
        default=1,
        help="K SIPp uas processes on one port, one per worker (needs --uas-shim)",
    )
    parser.add_argument(
        "--uas-shim", type=pathlib.Path, help="bench/reuseport_shim.c built as a .so"
    )
    parser.add_argument(
        "--scale-rates",
        action="store_true",
        help="--rates are per worker: N workers climb N x each rate (a machine with many cores)",
    )
    add_source_options(parser)
    args = parser.parse_args()
    install_cleanup()
    if args.handoff:
        print(f"gossipper {source_version()}; {machine_info()}")
        handoff_cost()
        return 0
    rates = (
        tuple(int(r) for r in args.rates.split(","))
        if args.rates
        else QUICK_RATES
        if args.quick
        else FULL_RATES
    )
    seconds = 3.0 if args.quick else args.seconds
    configs = [] if args.no_single else [Config("single process", None)]
    for count in (int(n) for n in args.workers.split(",")):
        configs.append(Config(f"{count} worker{'s' if count > 1 else ''}", count))
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        root = pathlib.Path(tmp)
        version = prepare_source(args, root)
        print(f"gossipper {version}; {machine_info()}")
        fanout = None
        if args.uas_count > 1:
            if args.uas_shim is None or not args.uas_shim.is_file():
                parser.error(
                    "--uas-count needs --uas-shim (gcc -shared -fPIC ... reuseport_shim.c)"
                )
            fanout = Fanout(args.uas_count, args.uas_shim.resolve())
        result = _run_all(
            configs, rates, seconds, root, args.quiet_wait, args.scale_rates, args.slack, fanout
        )
    if args.json is not None:
        document = {
            "machine": machine_info(),
            "version": version,
            "seconds_per_step": seconds,
            "summary": result,
            "steps": {c.name: [asdict(step) for step in c.steps] for c in configs},
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


def _run_all(
    configs: list[Config], rates: tuple[int, ...], seconds: float, root: pathlib.Path,
    quiet_s: float, scale: bool = False, slack_s: float = UAC_SLACK_S,
    fanout: Fanout | None = None,
) -> dict[str, object]:  # fmt: skip
    print(
        f"  {'configuration':<15} {'rate':>6} {'step':<5} {'reached':>7}"
        f" {'uac us/c':>9} {'uas us/c':>9} {'uas core':>8} {'other_s':>7}"
    )
    # Interleave the configurations rate by rate would be fairer to a drifting machine,
    # but a ladder stops at its first failure; run them one after the other.
    all_rates: set[int] = set()
    for config in configs:
        factor = (config.workers or 1) if scale else 1
        ladder = tuple(rate * factor for rate in rates)
        all_rates.update(ladder)
        run_ladder(config, ladder, seconds, root, quiet_s, slack_s, fanout)
    result = summarize(configs, tuple(sorted(all_rates)))
    result["scaling"] = scaling(configs)
    return result


def scaling(configs: list[Config]) -> dict[str, float | None]:
    """Each configuration's highest clean rate against N x one worker's (issue 19: >= 0.8)."""
    reference = next((c for c in configs if c.workers == 1), None)
    if reference is None or not reference.max_clean_cps:
        return {}
    print()
    print(f"scaling (highest clean rate / (N x 1 worker's {reference.max_clean_cps})):")
    found: dict[str, float | None] = {}
    for config in configs:
        if config.workers is None:
            continue
        ratio = config.max_clean_cps / (config.workers * reference.max_clean_cps)
        top = config.clean_step(config.max_clean_cps) if config.max_clean_cps else None
        share = f", uas core {_core_share(top):.2f} at the top" if top else ""
        print(f"  {config.name:<15} {config.max_clean_cps:>7} cps  x{ratio:.2f}{share}")
        found[config.name] = ratio
    return found


if __name__ == "__main__":
    sys.exit(main())
