"""SRTP cost per packet (issue 18 item 5, the part that does not need the media scheduler).

Times SrtpSession.protect and .unprotect of 20 ms G.711 packets (12-byte header + 160 bytes) for
every suite libsrtp runs, and turns the protect cost into an upper bound of 50-packet/s streams
one core could protect if it did nothing else. The real figure (concurrent SRTP streams under 1 %
late packets, next to plain RTP) needs bench/media_streams.py with SRTP in the send path.

  python bench/srtp_protect.py [--packets 20000] [--json srtp.json]

The machine may be shared: CPU time (process time) is reported, not wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gossipper.media.rtp import RtpPacket  # noqa: E402
from gossipper.media.secure.sdes import SUITES, generate  # noqa: E402
from gossipper.media.secure.srtp import SrtpSession  # noqa: E402


def measure(suite: str, packets: int) -> dict[str, float | str]:
    a = generate(1, suite).key_salt
    b = generate(1, suite).key_salt
    sender, receiver = SrtpSession(suite, a, b), SrtpSession(suite, b, a)
    plain = [RtpPacket(0, i & 0xFFFF, i * 160, 7, b"\xd5" * 160).pack() for i in range(packets)]
    start = time.process_time()
    wire = [sender.protect(p) for p in plain]
    protect_s = time.process_time() - start
    start = time.process_time()
    back = [receiver.unprotect(w) for w in wire if w is not None]
    unprotect_s = time.process_time() - start
    assert back == plain, suite
    protect_us = 1e6 * protect_s / packets
    return {
        "suite": suite,
        "protect_us": round(protect_us, 2),
        "unprotect_us": round(1e6 * unprotect_s / packets, 2),
        "streams_per_core_protect_only": int(1e6 / (protect_us * 50)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20000)
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = [measure(name, args.packets) for name, s in SUITES.items() if s.libsrtp_profile]
    for row in rows:
        print(
            f"{row['suite']:<26} protect {row['protect_us']:>6.2f} µs  "
            f"unprotect {row['unprotect_us']:>6.2f} µs  "
            f"<= {row['streams_per_core_protect_only']} streams/core (protect only)"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
