"""What the HTTP API costs a load run: the same gossipper UAC against SIPp's UAS, interleaved,
(a) without -api_addr, (b) with -api_addr and nobody connected, (c) with -api_addr and 10
WebSocket clients connected to the live feed (each receiving a snapshot a second).

Prints each step (clean or not, achieved rate, gossipper's CPU per call), then the medians and
the ratios b/a and c/a of CPU per call and of the clean rate (achieved calls/s of a step with
no failed call). The WebSocket clients run in a separate process, so their CPU is not charged
to gossipper.

  python bench/api_cost.py                       # 1,000 calls/s, 8 s steps, 3 rounds
  python bench/api_cost.py --rate 1000 --seconds 20 --rounds 5 --json api_cost.json
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import textwrap
import time
import urllib.request

import benchlib
from benchlib import (
    LOOPBACK,
    Child,
    gossipper_command,
    gossipper_counts,
    install_cleanup,
    machine_info,
    sipp_binary,
    wait_for_quiet,
    wait_for_udp_listener,
)

PASSWORD = "bench-password-1"
WS_CLIENTS = 10
VARIANTS = ("no api", "api idle", f"api + {WS_CLIENTS} ws")

_WS_CLIENT = textwrap.dedent(
    """
    import sys, trio, trio_websocket

    async def client(url, counts, i):
        async with trio_websocket.open_websocket_url(url) as ws:
            while True:
                await ws.get_message()
                counts[i] += 1

    async def main(url, n):
        counts = [0] * n
        with trio.move_on_after(float(sys.argv[3])):
            async with trio.open_nursery() as nursery:
                for i in range(n):
                    nursery.start_soon(client, url, counts, i)
        print(sum(counts), min(counts))

    trio.run(main, sys.argv[1], int(sys.argv[2]))
    """
)


def _users(directory: pathlib.Path) -> list[str]:
    """A users database with one viewer; the -api_* options that use it."""
    sys.path.insert(0, str(benchlib.REPO))
    from gossipper.api.auth import UserStore

    store = UserStore(directory / "users.sqlite")
    if store.get("bench") is None:
        store.add("bench", PASSWORD, "viewer")
    return [
        "-api_users", str(directory / "users.sqlite"),
        "-api_secret", str(directory / "token-secret"),
        "-api_audit", str(directory / "audit.log"),
    ]  # fmt: skip


def _token(base: str, deadline: float) -> str:
    body = json.dumps({"user": "bench", "password": PASSWORD}).encode()
    while True:
        try:
            request = urllib.request.Request(
                f"{base}/api/v1/login", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=2) as response:
                token: str = json.load(response)["token"]
                return token
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def run_step(
    variant: str, rate: int, seconds: float, root: pathlib.Path, quiet_wait_s: float
) -> dict[str, object]:
    if quiet_wait_s > 0:
        wait_for_quiet(quiet_wait_s)
    calls = round(rate * seconds)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix=variant.replace(" ", "_") + "-", dir=root))
    port = benchlib.free_udp_port()
    uas = Child(
        "uas",
        [
            sipp_binary(), "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-nostdin",
            "-m", str(calls), "-buff_size", "4194304",
        ],
        workdir,
    )  # fmt: skip
    if not wait_for_udp_listener(port, uas):
        uas.kill()
        return {"variant": variant, "clean": False, "reason": "uas did not start"}
    extra: list[str] = []
    base = ""
    if variant != "no api":
        api_port = benchlib.free_port()
        base = f"http://{LOOPBACK}:{api_port}"
        extra = ["-api_addr", f"{LOOPBACK}:{api_port}", *_users(root)]
    summary = workdir / "uac_summary.json"
    uac = Child(
        "uac",
        gossipper_command(
            "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-p",
            str(benchlib.free_udp_port()), "-nostdin", "-m", str(calls), "-r", str(rate),
            "-buff_size", "4194304", "-summary_json", str(summary), *extra,
        ),
        workdir,
    )  # fmt: skip
    ws: Child | None = None
    frames = ""
    if variant.endswith("ws"):
        token = _token(base, time.monotonic() + 10)
        url = base.replace("http://", "ws://") + f"/api/v1/live?token={token}"
        ws = Child(
            "ws", [sys.executable, "-c", _WS_CLIENT, url, str(WS_CLIENTS), str(seconds)], workdir
        )
    uac_result = uac.wait(seconds + 40)
    uas.wait(10)
    if ws is not None:
        ws.wait(5)
        frames = ws.stdout_path.read_text().strip()
    counts = gossipper_counts(summary)
    clean = (
        not uac_result.killed
        and uac_result.returncode == 0
        and counts is not None
        and counts.failed == 0
        and counts.successful == calls
    )
    return {
        "variant": variant,
        "clean": clean,
        "achieved_cps": counts.rate_cps if counts else 0.0,
        "cpu_us_per_call": uac_result.cpu_s / calls * 1e6,
        "failed": counts.failed if counts else None,
        "ws_frames_total_min": frames,
        "returncode": uac_result.returncode,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=int, default=1000, help="calls/s (1000)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of a step (8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument("--quiet-wait-s", type=float, default=30.0)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args(argv)

    install_cleanup()
    sipp_binary()
    root = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-api-cost-"))
    info = machine_info()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    print(f"{args.rate} calls/s, {args.seconds:g} s steps, {args.rounds} rounds; gossipper uac")
    steps: list[dict[str, object]] = []
    for round_number in range(args.rounds):
        order = VARIANTS if round_number % 2 == 0 else tuple(reversed(VARIANTS))
        for variant in order:
            step = run_step(variant, args.rate, args.seconds, root, args.quiet_wait_s)
            steps.append(step)
            print(
                f"  round {round_number + 1} {variant:>12}: "
                f"{'clean' if step['clean'] else 'NOT CLEAN'}, "
                f"{float(step.get('achieved_cps', 0.0)):7.1f} calls/s, "  # type: ignore[arg-type]
                f"{float(step.get('cpu_us_per_call', 0.0)):6.1f} us CPU/call"  # type: ignore[arg-type]
                + (
                    f", ws frames (total min) {step['ws_frames_total_min']}"
                    if step.get("ws_frames_total_min")
                    else ""
                )
            )
    medians: dict[str, dict[str, float]] = {}
    for variant in VARIANTS:
        mine = [step for step in steps if step["variant"] == variant]
        cpu = [float(step["cpu_us_per_call"]) for step in mine]  # type: ignore[arg-type]
        clean = [
            float(step["achieved_cps"]) if step["clean"] else 0.0  # type: ignore[arg-type]
            for step in mine
        ]
        medians[variant] = {
            "cpu_us_per_call": statistics.median(cpu),
            "clean_rate_cps": statistics.median(clean),
        }
    base = medians["no api"]
    print("medians:")
    for variant in VARIANTS:
        m = medians[variant]
        cpu_ratio = m["cpu_us_per_call"] / base["cpu_us_per_call"]
        rate_ratio = m["clean_rate_cps"] / base["clean_rate_cps"] if base["clean_rate_cps"] else 0
        print(
            f"  {variant:>12}: {m['cpu_us_per_call']:6.1f} us CPU/call (x{cpu_ratio:.3f}), "
            f"clean rate {m['clean_rate_cps']:7.1f} calls/s (x{rate_ratio:.3f})"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"machine": info, "steps": steps, "medians": medians}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
