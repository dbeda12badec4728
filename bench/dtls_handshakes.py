"""DTLS-SRTP handshakes per second (issue 18 item 5): both ends in this process, over loopback UDP.

Each handshake is a fresh pair of DtlsSrtpEndpoint (ECDSA P-256 certificates made once per run,
as a run would), two fresh UDP sockets on 127.0.0.1, the full handshake with use_srtp and the
key export. ``--concurrency`` runs that many pairs at once under one trio loop. Both ends
share one CPU budget here, so one gossipper side alone can do roughly twice the figure.

  python bench/dtls_handshakes.py                    # 200 handshakes, 1 and 8 at a time
  python bench/dtls_handshakes.py --count 500 --concurrency 1,4,16 --json dtls.json

The machine may be shared with other jobs: quote the CPU time per handshake next to the rate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import trio

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gossipper.media.secure.dtls import (  # noqa: E402
    DtlsCertificate,
    DtlsSrtpEndpoint,
    generate_certificate,
)


async def _one(alice: DtlsCertificate, bob: DtlsCertificate) -> None:
    a = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    b = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    with a, b:
        await a.bind(("127.0.0.1", 0))
        await b.bind(("127.0.0.1", 0))

        def channel(sock: trio.socket.SocketType, peer: tuple[str, int]):  # type: ignore[no-untyped-def]
            async def send(data: bytes) -> None:
                await sock.sendto(data, peer)

            async def receive() -> bytes:
                return (await sock.recvfrom(65535))[0]

            return send, receive

        client = DtlsSrtpEndpoint(alice, client=True, remote_fingerprint=bob.fingerprint())
        server = DtlsSrtpEndpoint(bob, client=False, remote_fingerprint=alice.fingerprint())
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.handshake, *channel(a, b.getsockname()))
            nursery.start_soon(server.handshake, *channel(b, a.getsockname()))


async def _run(count: int, concurrency: int) -> None:
    alice, bob = generate_certificate(), generate_certificate()
    limiter = trio.CapacityLimiter(concurrency)

    async def guarded() -> None:
        async with limiter:
            await _one(alice, bob)

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(guarded)


def measure(count: int, concurrency: int) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    trio.run(_run, count, concurrency)
    wall_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "concurrency": concurrency,
        "handshakes": count,
        "wall_s": round(wall_s, 3),
        "handshakes_per_s": round(count / wall_s, 1),
        "cpu_ms_per_handshake_both_ends": round(1000 * cpu_s / count, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    results = [measure(args.count, int(c)) for c in args.concurrency.split(",")]
    for row in results:
        print(
            f"concurrency {row['concurrency']:>3}: {row['handshakes_per_s']:>7.1f} handshakes/s, "
            f"{row['cpu_ms_per_handshake_both_ends']:.2f} ms CPU per handshake (both ends)"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
