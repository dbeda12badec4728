"""Hostile input against a running gossipper UAS while SIPp drives real calls through it.

SIPp 3.6.1 (`-sn uac`, --rate calls/s) calls a gossipper `-sn uas` on loopback for --seconds.
Meanwhile this script attacks the same UAS:

  -t u1  random datagrams, and valid requests mutated at the byte, line and header level (each
         with a Call-ID of its own), --junk-rate datagrams/s.
  -t t1  --idle connections opened and left idle, connections that send garbage, connections
         that send a message larger than any SIP message may be (65,535 bytes) without its end,
         and connections that send a valid INVITE one byte every few milliseconds.

Verdict (exit status 0 only when all hold):
  * gossipper is still running when the calls end (no crash), and exits cleanly on SIGTERM;
  * every one of SIPp's calls succeeded (SIPp's exit status 0 and its stat CSV);
  * every bad input is counted in gossipper's -summary_json: over UDP exactly
    (malformed + calls the junk started + out-of-call + dead-call == datagrams sent); over TCP
    each garbage and oversized connection is counted malformed and dropped, each slow INVITE
    started a call, and the idle connections were all still open at the end.

  python bench/flood.py --transport u1 --seconds 60 --json flood-udp.json
  python bench/flood.py --transport t1 --seconds 60 --idle 2000 --json flood-tcp.json
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import signal
import socket
import sys
import tempfile
import threading
import time
from typing import Any

from benchlib import (
    LOOPBACK,
    Child,
    count_socket_fds,
    free_port,
    free_udp_port,
    gossipper_command,
    install_cleanup,
    sipp_binary,
    sipp_counts,
    wait_for_listener,
)

VALID_LINES = [
    b"INVITE sip:service@127.0.0.1 SIP/2.0",
    b"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-flood;rport",
    b'From: "flood" <sip:flood@127.0.0.1>;tag=flood',
    b"To: <sip:service@127.0.0.1>",
    b"CSeq: 1 INVITE",
    b"Contact: <sip:flood@127.0.0.1:5999>",
    b"Max-Forwards: 70",
    b"Content-Type: application/sdp",
]
SPECIAL = [b"\r\n", b"\n", b"\r", b":", b" ", b";", b"<", b">", b'"', b"\x00", b"\xff"]


def mutated_request(rng: random.Random, number: int, transport: bytes = b"UDP") -> bytes:
    """A request damaged at random; its Call-ID (if it keeps one) belongs to it alone."""
    lines = [line.replace(b"UDP", transport) for line in VALID_LINES]
    for _ in range(rng.randrange(4)):
        index = rng.randrange(len(lines))
        kind = rng.randrange(5)
        if kind == 0:
            del lines[index]
        elif kind == 1:
            lines.insert(index, lines[index])
        elif kind == 2:
            at = rng.randrange(len(lines[index]) + 1)
            lines[index] = lines[index][:at] + rng.choice(SPECIAL) + lines[index][at:]
        elif kind == 3:
            lines[index] += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        else:
            lines[index] += b"x" * rng.randrange(100, 20_000)
        if not lines:
            break
    if rng.random() < 0.9:
        call_id = f"flood-{number}-{rng.getrandbits(64):016x}".encode()
        lines.insert(min(3, len(lines)), b"Call-ID: " + call_id)
    lines.append(b"Content-Length: " + rng.choice([b"0", b"12", b"abc", b"-1", b"99999999"]))
    return b"\r\n".join(lines) + b"\r\n\r\n"


def udp_flood(port: int, rate: float, stop: threading.Event, seed: int) -> int:
    """Send junk datagrams at ``rate`` until ``stop``; returns how many were sent."""
    rng = random.Random(seed)
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        started = time.monotonic()
        while not stop.is_set():
            due = int((time.monotonic() - started) * rate)
            while sent < due:
                if rng.random() < 0.3:
                    data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1400)))
                else:
                    data = mutated_request(rng, sent)[:65000]
                sock.sendto(data, (LOOPBACK, port))
                sent += 1
            time.sleep(0.005)
    return sent


def slow_invite(number: int) -> bytes:
    return (
        f"INVITE sip:service@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-slow-{number}\r\n"
        f"From: <sip:slow@127.0.0.1>;tag=slow{number}\r\nTo: <sip:service@127.0.0.1>\r\n"
        f"Call-ID: slow-{number}@flood\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:slow@127.0.0.1:5999;transport=tcp>\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def tcp_attacks(port: int, args: argparse.Namespace, report: dict[str, Any]) -> list[socket.socket]:
    """Idle, garbage, oversized and slow connections; returns the sockets kept open."""
    rng = random.Random(args.seed)
    kept: list[socket.socket] = []
    for _ in range(args.idle):
        sock = socket.create_connection((LOOPBACK, port))
        kept.append(sock)
    report["idle_connections"] = args.idle
    for _ in range(args.garbage):
        with socket.create_connection((LOOPBACK, port)) as sock:
            # Header bytes that never end: the framer gives up at the size limit.
            junk = bytes(rng.choice(b"abcdefgh: \x01\xfe") for _ in range(70_000))
            try:
                sock.sendall(junk)
                sock.settimeout(5.0)
                while sock.recv(4096):
                    pass
            except OSError:
                pass
    report["garbage_connections"] = args.garbage
    for _ in range(args.oversized):
        with socket.create_connection((LOOPBACK, port)) as sock:
            head = slow_invite(10_000 + len(kept)).replace(
                b"Content-Length: 0", b"Content-Length: 5000000"
            )
            try:
                sock.sendall(head + b"x" * 70_000)
                sock.settimeout(5.0)
                while sock.recv(4096):
                    pass
            except OSError:
                pass
    report["oversized_connections"] = args.oversized
    slow: list[socket.socket] = [
        socket.create_connection((LOOPBACK, port)) for _ in range(args.slow)
    ]
    messages = [slow_invite(n) for n in range(args.slow)]
    for offset in range(max(len(m) for m in messages)):
        for sock, message in zip(slow, messages, strict=True):
            if offset < len(message):
                sock.sendall(message[offset : offset + 1])
        time.sleep(0.002)
    kept.extend(slow)
    report["slow_invites"] = args.slow
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=("u1", "t1"), default="u1")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=100, help="SIPp's calls/s")
    parser.add_argument("--junk-rate", type=float, default=500.0, help="UDP junk datagrams/s")
    parser.add_argument("--idle", type=int, default=2000, help="idle TCP connections")
    parser.add_argument("--garbage", type=int, default=20, help="TCP connections sending junk")
    parser.add_argument("--oversized", type=int, default=20, help="TCP oversized messages")
    parser.add_argument("--slow", type=int, default=20, help="TCP INVITEs sent byte by byte")
    parser.add_argument("--seed", type=int, default=random.SystemRandom().randrange(2**32))
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args(argv)
    install_cleanup()
    work = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-flood-"))
    stream = args.transport == "t1"
    port = free_port() if stream else free_udp_port()
    calls = int(args.seconds * args.rate)
    report: dict[str, Any] = {"transport": args.transport, "seed": args.seed, "calls": calls}
    print(f"flood: seed {args.seed}, work {work}", flush=True)
    uas = Child(
        "uas",
        gossipper_command(
            "-sn", "uas", "-t", args.transport, "-i", LOOPBACK, "-p", str(port), "-nostdin",
            "-buff_size", str(4 * 1024 * 1024), "-summary_json", str(work / "uas.json"),
            "-max_socket", str(args.idle + 1000),
        ),
        work,
    )  # fmt: skip
    if not wait_for_listener(port, uas, args.transport):
        print(f"flood: the gossipper uas did not start: {uas.tail(500)}", file=sys.stderr)
        return 1
    sipp = Child(
        "sipp",
        [
            sipp_binary(), "-sn", "uac", f"{LOOPBACK}:{port}", "-t", args.transport,
            "-i", LOOPBACK, "-p", str(free_port()), "-r", str(args.rate), "-m", str(calls),
            "-nostdin", "-buff_size", str(4 * 1024 * 1024), "-trace_stat", "-stf",
            str(work / "sipp.csv"), "-fd", "1", "-max_socket", "100",
        ],
        work,
    )  # fmt: skip
    stop = threading.Event()
    junk_sent: list[int] = []
    kept: list[socket.socket] = []
    if stream:
        kept = tcp_attacks(port, args, report)
    else:
        flooder = threading.Thread(
            target=lambda: junk_sent.append(udp_flood(port, args.junk_rate, stop, args.seed))
        )
        flooder.start()
    sipp_result = sipp.wait(args.seconds + 120.0)
    stop.set()
    if not stream:
        flooder.join()
        report["junk_datagrams"] = junk_sent[0]
    time.sleep(2.0)  # let the uas take in the last junk before counting
    alive = uas.poll() is None
    report["uas_alive_after_calls"] = alive
    if alive:
        report["uas_socket_fds"] = count_socket_fds(uas.pid)
        os.kill(uas.pid, signal.SIGTERM)
    uas_result = uas.wait(30.0)
    for sock in kept:
        sock.close()
    counts = sipp_counts(work / "sipp.csv")
    report["sipp_exit"] = sipp_result.returncode
    report["sipp_successful"] = counts.successful if counts else None
    report["uas_exit"] = uas_result.returncode
    try:
        summary = json.loads((work / "uas.json").read_text())
    except (OSError, ValueError):
        summary = None
    checks: dict[str, bool] = {
        "uas alive until the end": alive,
        "uas ended cleanly on SIGTERM": uas_result.returncode in (0, 1, 97)
        and "Traceback" not in uas.tail(100_000),
        "every real call succeeded": sipp_result.returncode == 0
        and counts is not None
        and counts.successful == calls,
        "summary written": summary is not None,
    }
    if summary is not None:
        messages, total = summary["messages"], summary["calls"]["total"]
        report["uas_messages"] = messages
        report["uas_calls"] = summary["calls"]
        started_by_junk = total - calls
        if stream:
            dropped = args.garbage + args.oversized
            checks["garbage and oversized each counted malformed"] = (
                messages["malformed"] >= dropped
            )
            checks["each slow INVITE started a call"] = started_by_junk == args.slow
            checks["idle connections kept"] = report.get("uas_socket_fds", 0) >= args.idle
        else:
            accounted = (
                messages["malformed"] + started_by_junk + messages["out_of_call"]
                + messages["dead_call"]
            )  # fmt: skip
            report["junk_accounted"] = accounted
            checks["every junk datagram counted"] = accounted == junk_sent[0]
    report["checks"] = checks
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(json.dumps({k: v for k, v in report.items() if k != "checks"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
