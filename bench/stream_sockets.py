"""Sockets released: N calls with a connection each, then count this process's sockets.

One process runs a gossipper uac against a gossipper uas on loopback through the session API
(``gossipper.session.open_run`` with a ``RunPlan``, as ``gossipper/cli/run.py`` builds a real
run; both engines in one ``trio.run``), with ``-t tn`` by default: every call opens its own
connection and closes it when it ends. The sockets among ``/proc/self/fd`` are counted before
``trio.run`` and after it; the exit status is 1 when more are open after than before (a leak),
or when a call failed (then it still prints both counts). Both engines share one core, so the
default rate is 400 calls/s; above about 450 the run is overloaded (still a valid socket test).

  python bench/stream_sockets.py                    # 100,000 tn calls at 400 calls/s
  python bench/stream_sockets.py --quick            # 2,000 calls, a few seconds
  python bench/stream_sockets.py --calls 20000 --transport ln --rate 400 --json out.json

Run it with gossipper importable: PYTHONPATH=. from the checkout (or an installed gossipper).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import sys
import tempfile
import time
from typing import Any

import trio
from benchlib import LOOPBACK, count_socket_fds, lab_tls_certificate

UAS_GRACE_S = 15.0


def _plan(argv: list[str], remote: tuple[str, int] | None, seed: int) -> Any:
    from gossipper.cli.main import load_configured_scenario
    from gossipper.cli.options import parse_command_line
    from gossipper.cli.run import SystemWallClock
    from gossipper.session import RunPlan
    from gossipper.transport import UdpTransportFactory

    config = parse_command_line(argv).config
    return RunPlan(
        scenario=load_configured_scenario(config),
        config=config,
        transports=UdpTransportFactory(buffer_bytes=max(config.transport.buff_size or 0, 4 << 20)),
        wall_clock=SystemWallClock(),
        local_ip=LOOPBACK,
        bind_host=LOOPBACK,
        remote=remote,
        remote_host=remote[0] if remote else None,
        pid=os.getpid(),
        seed=seed,
    )


async def _both(
    transport: str, calls: int, rate: int, tls: list[str], peak: list[int]
) -> dict[str, Any]:
    from gossipper import __version__
    from gossipper.session import open_run

    seed = random.SystemRandom().randrange(2**63)
    common = ["-t", transport, "-i", LOOPBACK, "-m", str(calls), "-nostdin"]
    uas_argv = ["-sn", "uas", "-p", "0", *common, "-max_socket", "20000", *tls]
    results: dict[str, Any] = {}
    async with open_run(_plan(uas_argv, None, seed)) as uas:
        port = uas.engine.local_address[1]
        uac_argv = ["-sn", "uac", f"{LOOPBACK}:{port}", "-r", str(rate), *common]
        async with open_run(_plan(uac_argv, (LOOPBACK, port), seed ^ 1)) as uac:

            async def play(name: str, run: Any) -> None:
                result = await run.run()
                document = run.summary_document(result, __version__)
                results[name] = dict(document["calls"])
                results[name]["exit_status"] = int(result.exit_status)
                results[name]["failures"] = {
                    reason: count for reason, count in document["failures"].items() if count
                }

            async def sample() -> None:
                while True:
                    peak[0] = max(peak[0], count_socket_fds())
                    await trio.sleep(0.5)

            uas_done = trio.Event()

            async def serve() -> None:
                await play("uas", uas)
                uas_done.set()

            async def drive() -> None:
                await play("uac", uac)
                # The uas ends on its own after -m calls and its 4 s timewait; when the uac
                # ended with fewer calls delivered, it would wait forever: stop it (as -peer).
                with trio.move_on_after(UAS_GRACE_S):
                    await uas_done.wait()
                if not uas_done.is_set():
                    print(f"uas still running {UAS_GRACE_S:g} s after the uac ended: stopped")
                    uas.engine.interrupt()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(sample)
                async with trio.open_nursery() as runs:
                    runs.start_soon(serve)
                    runs.start_soon(drive)
                nursery.cancel_scope.cancel()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=100_000, help="calls (100,000)")
    parser.add_argument("--quick", action="store_true", help="2,000 calls")
    parser.add_argument(
        "--rate", type=int, default=400, help="calls/s (400: both engines share one core)"
    )
    parser.add_argument("--transport", default="tn", help="tn (default), ln, wn or wsn")
    parser.add_argument("--json", type=pathlib.Path, help="write the counts to this file")
    args = parser.parse_args(argv)
    calls = 2000 if args.quick else args.calls

    from gossipper.cli.run import tune_garbage_collector

    tls: list[str] = []
    if args.transport in ("ln", "wsn"):
        cert, key = lab_tls_certificate(pathlib.Path(tempfile.mkdtemp(prefix="gossipper-tls-")))
        tls = ["-tls_cert", str(cert), "-tls_key", str(key)]
    tune_garbage_collector()
    peak = [0]
    before = count_socket_fds()
    started = time.monotonic()
    results = trio.run(_both, args.transport, calls, args.rate, tls, peak)
    elapsed_s = time.monotonic() - started
    after = count_socket_fds()
    print(f"{calls} {args.transport} calls at {args.rate}/s in {elapsed_s:.1f} s")
    for name in ("uac", "uas"):
        counts = results.get(name, {})
        print(
            f"  {name}: total {counts.get('total')}, successful {counts.get('successful')},"
            f" failed {counts.get('failed')}, exit status {counts.get('exit_status')}"
            + (f", {counts['failures']}" if counts.get("failures") else "")
        )
    print(f"sockets before: {before}")
    print(f"sockets after:  {after}")
    print(f"(most sockets seen during the run: {peak[0]})")
    leaked = after > before
    failed = any(
        results.get(name, {}).get("successful") != calls
        or results.get(name, {}).get("failed", 1) != 0
        for name in ("uac", "uas")
    )
    if args.json:
        doc = {
            "benchmark": "stream_sockets",
            "transport": args.transport,
            "calls": calls,
            "rate_cps": args.rate,
            "elapsed_s": elapsed_s,
            "sockets_before": before,
            "sockets_after": after,
            "sockets_peak_sampled": peak[0],
            "results": results,
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    if leaked:
        print(f"LEAK: {after - before} more sockets after the run than before")
    if failed:
        print("some calls were not successful")
    return 1 if leaked or failed else 0


if __name__ == "__main__":
    sys.exit(main())
