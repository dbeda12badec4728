"""Concurrent RTP streams: how many 20 ms G.711 streams each tool keeps on time (issue 17 item 6).

For a rising number N of concurrent PCMU streams (160-byte payloads every 20 ms, 50 packets/s
each), every step starts a receiver process and one sender, and measures on the receiver:

  * late packets: each packet's arrival (kernel timestamp, SO_TIMESTAMPNS) against its stream's
    own 20 ms schedule. A packet's slot comes from its RTP timestamp (160 per frame); the
    schedule's phase is the stream's median (arrival - slot x 20 ms), its typical transit; a
    packet more than 10 ms behind its slot is late, one more than 10 ms ahead is early (counted,
    not a failure). Slots never received between a stream's first and last packet in the
    window (frames skipped or lost) count as late too. A sender that drifts from 20 ms falls
    behind that phase and its packets turn late. (The median, not the earliest packet: SIPp
    3.6.1 sends one packet about 20 ms ahead of its stream every half second, back to back with
    the one before; anchored there, nearly all its other packets would count as late.)
    `late_vs_earliest_percent` gives that stricter figure too.
  * stopped streams: fewer than N streams seen in the window, or a stream whose last packet
    arrived more than 1 s before the window's end.
  * CPU per stream: the sender's user+system CPU over the window (from /proc/PID/stat; with
    SIPp the uac only: its uas handles the 3 SIP messages of each call), divided by N and by
    the window: ms of CPU per stream per second (10 = 1 % of a core); and the same CPU per
    packet received in the window (a sender that skips frames sends fewer packets).

A step passes with under 1 % late packets and no stream stopped. Each tool climbs the --counts
ladder until its first failing step (retried once); the largest passing N is reported with its
CPU per stream, and the ratio of the two tools.

The senders:
  gossipper  `gossipper -rtp_send -rtp_streams N -rtp_file tone.ulaw` (the standalone sender:
             one socket per stream, every stream sent by the one media scheduler task).
  sipp       SIPp 3.6.1 as uac: N calls (-l N, -r --call-rate) whose scenario runs
             `<exec rtp_stream="tone.ulaw,-1,0"/>` after the ACK and holds the call; a SIPp uas
             answers with an SDP whose m=audio port is the receiver's. (3.6.1 sends every
             stream from its one media socket, with its rtp_stream threads, -rtp_threadtasks
             streams each.)
  gossipper-sip  (optional) gossipper as that uac, with the same scenario and SIPp uas: its
             rtp_stream action on the media scheduler (needs the per-call media of issue 17).
  gossipper-srtp (optional) gossipper-sip with -media_srtp: the offer becomes RTP/SAVP with
             a=crypto, the SIPp uas answers with a fixed AES_CM_128_HMAC_SHA1_80 line, and every
             packet is SRTP-protected by libsrtp (issue 18). The receiver reads the RTP header,
             which SRTP leaves in the clear, so lateness is measured the same way.

Both uacs in calls get the same socket buffers: -buff_size 4194304 for SIP, -rtp_buffsize 65536
for every RTP/RTCP socket (SIPp's default). The standalone sender's sockets have 256 KiB.

Both send the same raw PCMU file (a 425 Hz tone), looped. Streams are keyed by SSRC (SIPp's
streams share one source port).

  python bench/media_streams.py                       # full ladder, 10 s windows (~10-20 min)
  python bench/media_streams.py --quick               # 4 s windows, short ladder (~3 min)
  python bench/media_streams.py --tools gossipper --counts 500,1000,2000 --json out.json
  python bench/media_streams.py --source DIR [--rev REV]   # run a snapshot (see benchlib)

The machine may be shared: the report includes how busy the machine was outside our processes
during each step. Run it on a quiet machine for numbers to record.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import socket
import struct
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import benchlib

FRAME_S = 0.020
SAMPLES_PER_FRAME = 160
LATE_S = 0.010
STOPPED_GAP_S = 1.0
POLL_S = 0.002
"""The receiver drains its socket every POLL_S (see receive)."""
MEDIA_PORT_LOW = 10000
"""The uac's -mp when a free port leaves too few ports above it (see _uac_media_port)."""
DEFAULT_COUNTS = (100, 250, 500, 750, 1000, 1500, 2000, 3000, 4000)
QUICK_COUNTS = (100, 500, 1000, 2000)

# --- the receiver process ----------------------------------------------------------------------

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")


def receive(port: int, warmup_s: float, window_s: float, out: pathlib.Path) -> None:
    """Record RTP arrivals on 127.0.0.1:port; write the window's per-stream figures to out.

    Prints "ready" once bound. The window is [first packet + warmup_s, + window_s]; packets are
    kept as (kernel arrival time, SSRC, RTP timestamp) only.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:  # beyond rmem_max when allowed (root): a lagging receiver must not lose packets
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 256 << 20)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind((benchlib.LOOPBACK, port))
    # The receiver polls (drains the socket, then sleeps POLL_S) instead of blocking in recv:
    # a receiver asleep on its socket is woken by every datagram, and on loopback that wake-up
    # runs inside the sender's sendto (sock_def_readable: ~1.4 us, 12 % of a gossipper packet
    # by perf), charged to whichever sender keeps the receiver idle between packets. Arrival
    # times are the kernel's (SO_TIMESTAMPNS), so reading late does not move them.
    sock.setblocking(False)
    print("ready", flush=True)
    arrivals: list[tuple[float, int, int]] = []
    append = arrivals.append
    unpack_header = struct.Struct("!4xII").unpack_from
    cmsg_space = socket.CMSG_SPACE(_TIMESPEC.size)
    first: float | None = None
    start = end = math.inf
    drops_at_start: int | None = None
    while True:
        try:
            data, ancillary, _, _ = sock.recvmsg(2048, cmsg_space)
        except BlockingIOError:
            if first is not None and time.time() > end:
                break
            time.sleep(POLL_S)
            continue
        arrived = time.time()
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = _TIMESPEC.unpack_from(payload)
                arrived = seconds + nanoseconds * 1e-9
        if len(data) < 12:
            continue
        timestamp, ssrc = unpack_header(data)
        append((arrived, ssrc, timestamp))
        if first is None:
            first = arrived
            start = first + warmup_s
            end = start + window_s
            print("first", flush=True)
        elif arrived > end:
            break
        elif drops_at_start is None and arrived >= start:
            drops_at_start = benchlib.udp_socket_drops({port}).get(port, 0)
    # Datagrams the kernel dropped at our socket during the window were sent: they must not
    # count against the sender; a step with receiver drops is reported as unmeasured.
    drops = benchlib.udp_socket_drops({port}).get(port, 0) - (drops_at_start or 0)
    assert first is not None
    figures = analyse(arrivals, start, end)
    figures["receiver_drops"] = drops
    out.write_text(json.dumps(figures))


def analyse(arrivals: list[tuple[float, int, int]], start: float, end: float) -> dict[str, object]:
    """Per-stream lateness against each stream's own 20 ms schedule, over [start, end]."""
    streams: dict[int, list[tuple[float, int]]] = {}
    for arrived, ssrc, timestamp in arrivals:
        if start <= arrived <= end:
            streams.setdefault(ssrc, []).append((arrived, timestamp))
    packets = late = early = late_vs_earliest = missing = stopped = 0
    worst_ms = 0.0
    intervals: list[float] = []
    for points in streams.values():
        base_ts = points[0][1]
        slots: dict[int, float] = {}
        for arrived, timestamp in points:
            # Unwrap the 32-bit timestamp around the stream's first one in the window.
            delta = (timestamp - base_ts) % (1 << 32)
            if delta >= 1 << 31:
                delta -= 1 << 32
            slot = round(delta / SAMPLES_PER_FRAME)
            slots.setdefault(slot, arrived)  # duplicates: the first arrival counts
        offsets = sorted(arrived - slot * FRAME_S for slot, arrived in slots.items())
        phase, earliest = offsets[len(offsets) // 2], offsets[0]
        for offset in offsets:
            behind = offset - phase
            worst_ms = max(worst_ms, behind * 1000.0)
            if behind > LATE_S:
                late += 1
            elif behind < -LATE_S:
                early += 1
            if offset - earliest > LATE_S:
                late_vs_earliest += 1
        packets += len(slots)
        missing += max(slots) - min(slots) + 1 - len(slots)
        if max(slots) > min(slots):
            intervals.append(
                (slots[max(slots)] - slots[min(slots)]) / (max(slots) - min(slots)) * 1000.0
            )
        if end - max(slots.values()) > STOPPED_GAP_S:
            stopped += 1
    due = packets + missing
    median = sorted(intervals)[len(intervals) // 2] if intervals else 0.0
    return {
        "streams_seen": len(streams),
        "packets": packets,
        "late": late,
        "missing": missing,
        "late_percent": 100.0 * (late + missing) / due if due else 100.0,
        "early": early,
        "late_vs_earliest_percent": 100.0 * (late_vs_earliest + missing) / due if due else 100.0,
        "worst_late_ms": round(worst_ms, 3),
        "stopped_streams": stopped,
        "window_s": end - start,
        # The streams' actual packet interval (median over streams): a sender whose clock
        # drifts from 20 ms falls behind its own schedule and its packets count as late.
        "median_interval_ms": round(median, 4),
    }


# --- the senders ---------------------------------------------------------------------------------

SIPP_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="media streams uac">
  <send retrans="500"><![CDATA[
INVITE sip:bench@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:uac@[local_ip]:[local_port]>;tag=[pid]m[call_number]
To: <sip:bench@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:uac@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=- 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]></send>
  <recv response="100" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:uac@[local_ip]:[local_port]>;tag=[pid]m[call_number]
To: <sip:bench@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:uac@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <nop><action><exec rtp_stream="MEDIA_FILE,-1,0"/></action></nop>
  <pause milliseconds="HOLD_MS"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:uac@[local_ip]:[local_port]>;tag=[pid]m[call_number]
To: <sip:bench@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: <sip:uac@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
</scenario>
"""

# The uas's answer line for gossipper-srtp: a fixed key (the bench measures cost, not secrecy).
SRTP_ANSWER = "AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk"

SIPP_UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="media streams uas">
  <recv request="INVITE" rrs="true"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]s[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:uas@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio RECEIVER_PORT RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
</scenario>
"""


def write_tone(path: pathlib.Path, seconds: float = 2.0) -> None:
    """A raw PCMU 425 Hz tone (2 s = 100 frames, a whole number of tone periods)."""
    sys.path.insert(0, str(benchlib.REPO))
    from gossipper.media.audio import encode_pcm16

    count = int(8000 * seconds)
    samples = [round(0.35 * 32767 * math.sin(2 * math.pi * 425 * n / 8000)) for n in range(count)]
    path.write_bytes(encode_pcm16(struct.pack(f"<{count}h", *samples), "PCMU"))


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a live process (all its threads) and of its live
    descendants (gossipper's -workers) from /proc/PID/stat."""
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for child in _children(pid):
        total += proc_cpu_s(child) or 0.0
    return total


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in pathlib.Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return children


@dataclass
class Step:
    tool: str
    streams: int
    passed: bool
    streams_seen: int
    packets: int
    late: int
    missing: int
    late_percent: float
    early: int
    late_vs_earliest_percent: float
    worst_late_ms: float
    median_interval_ms: float
    stopped_streams: int
    cpu_ms_per_stream_s: float | None
    cpu_us_per_packet: float | None
    other_busy_cores: float
    receiver_drops: int = 0
    note: str = ""


def _uac_media_port(streams: int) -> int:
    """The uac's -mp: a free port when the range from there to 65535 holds two ports per
    stream (gossipper checks that before traffic), else 10,000, below the kernel's ephemeral
    range (ports other programs hold in it are skipped: gossipper binds each call's pair and
    moves to the next pair on a failure)."""
    port = benchlib.free_udp_port()
    return port if port + 2 * streams + 64 <= 65535 else MEDIA_PORT_LOW


def run_step(
    tool: str, streams: int, args: argparse.Namespace, work: pathlib.Path, tone: pathlib.Path
) -> Step:
    step_dir = work / f"{tool}-{streams}-{time.monotonic_ns()}"
    step_dir.mkdir()
    port = benchlib.free_udp_port()
    # Every stream is running this long after the first packet (SIPp: N calls at --call-rate).
    ramp_s = FRAME_S if tool == "gossipper" else streams / args.call_rate
    warmup_s = ramp_s + args.warmup
    total_s = warmup_s + args.window + 3.0
    result_file = step_dir / "receiver.json"
    receiver = benchlib.Child(
        "receiver",
        [
            sys.executable,
            str(pathlib.Path(__file__).resolve()),
            "receive",
            "--port",
            str(port),
            "--warmup",
            str(warmup_s),
            "--window",
            str(args.window),
            "--out",
            str(result_file),
        ],
        step_dir,
    )
    deadline = time.monotonic() + 10
    while "ready" not in receiver.stdout_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    senders: list[benchlib.Child] = []
    if tool == "gossipper":
        sender = benchlib.Child(
            "gossipper",
            benchlib.gossipper_command(
                "-rtp_send",
                "-rtp_addr",
                f"{benchlib.LOOPBACK}:{port}",
                "-rtp_streams",
                str(streams),
                "-rtp_file",
                str(tone),
                "-rtp_dur",
                str(int(total_s * 1000)),
                "-rtp_local",
                benchlib.LOOPBACK,
                *args.gossipper_args.split(),
            ),
            step_dir,
        )
        senders.append(sender)
    else:
        sipp = benchlib.sipp_binary()
        uas_port = benchlib.free_udp_port()
        uas_text = SIPP_UAS.replace("RECEIVER_PORT", str(port))
        if tool == "gossipper-srtp":
            uas_text = uas_text.replace(
                "RTP/AVP 0\na=rtpmap:0 PCMU/8000\n",
                f"RTP/SAVP 0\na=rtpmap:0 PCMU/8000\na=crypto:1 {SRTP_ANSWER}\n",
            )
        (step_dir / "uas.xml").write_text(uas_text)
        hold_ms = int((total_s + 5) * 1000)
        (step_dir / "uac.xml").write_text(
            SIPP_UAC.replace("MEDIA_FILE", str(tone)).replace("HOLD_MS", str(hold_ms))
        )
        common = ["-i", benchlib.LOOPBACK, "-mi", benchlib.LOOPBACK]
        uas = benchlib.Child(
            "sipp-uas",
            [
                sipp,
                "-sf",
                "uas.xml",
                "-p",
                str(uas_port),
                "-mp",
                str(benchlib.free_udp_port()),
                *common,
                "-buff_size",
                "4194304",
                "-trace_err",
                "-max_socket",
                "100000",
            ],
            step_dir,
        )
        benchlib.wait_for_udp_listener(uas_port, uas)
        uac_args = [
            f"{benchlib.LOOPBACK}:{uas_port}",
            "-sf",
            "uac.xml",
            "-p",
            str(benchlib.free_udp_port()),
            "-mp",
            str(_uac_media_port(streams)),
            *common,
            "-m",
            str(streams),
            "-l",
            str(streams),
            "-r",
            str(args.call_rate),
            "-buff_size",
            "4194304",
            # Equal RTP socket buffers for both uacs (SIPp's default, and gossipper's).
            "-rtp_buffsize",
            "65536",
            "-trace_err",
        ]
        if tool == "sipp":
            sender = benchlib.Child("sipp-uac", [sipp, *uac_args], step_dir)
        else:  # gossipper-sip(-srtp): the same scenario, rtp_stream run by gossipper's media
            if tool == "gossipper-srtp":
                uac_args.append("-media_srtp")
            uac_args += args.gossipper_args.split()
            sender = benchlib.Child(
                "gossipper-uac", benchlib.gossipper_command(*uac_args), step_dir
            )
        senders = [uas, sender]
    # CPU of the sender over the receiver's window (it starts at the first packet + warmup).
    deadline = time.monotonic() + 30
    while "first" not in receiver.stdout_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(warmup_s)
    cpu_before = proc_cpu_s(sender.pid)
    busy_before = benchlib.machine_busy_s()
    ours_before = sum(proc_cpu_s(c.pid) or 0.0 for c in (*senders, receiver))
    time.sleep(args.window)
    cpu_after = proc_cpu_s(sender.pid)
    busy_after = benchlib.machine_busy_s()
    ours_after = sum(proc_cpu_s(c.pid) or 0.0 for c in (*senders, receiver))
    receiver.wait(total_s + 10)
    for child in reversed(senders):
        child.kill()
    note = ""
    try:
        figures = json.loads(result_file.read_text())
    except (OSError, ValueError):
        figures = {
            "streams_seen": 0,
            "packets": 0,
            "late": 0,
            "missing": 0,
            "late_percent": 100.0,
            "worst_late_ms": 0.0,
            "stopped_streams": streams,
            "median_interval_ms": 0.0,
        }
        note = "receiver wrote nothing: " + receiver.tail(300) + sender.tail(300)
    cpu_ms = cpu_us = None
    if cpu_before is not None and cpu_after is not None:
        cpu_ms = 1000.0 * (cpu_after - cpu_before) / streams / args.window
        # Per packet received in the window: a sender that skips frames sends fewer packets.
        if figures["packets"]:
            cpu_us = 1e6 * (cpu_after - cpu_before) / int(figures["packets"])
    stopped = int(figures["stopped_streams"]) + max(0, streams - int(figures["streams_seen"]))
    late_percent = float(figures["late_percent"])
    receiver_drops = int(figures.get("receiver_drops", 0))
    if receiver_drops:
        note += f" the receiver's socket dropped {receiver_drops} packets: step not measured"
    other = max(0.0, (busy_after - busy_before) - (ours_after - ours_before)) / args.window
    return Step(
        tool=tool,
        streams=streams,
        passed=late_percent < 1.0 and stopped == 0,
        streams_seen=int(figures["streams_seen"]),
        packets=int(figures["packets"]),
        late=int(figures["late"]),
        missing=int(figures["missing"]),
        late_percent=round(late_percent, 3),
        early=int(figures.get("early", 0)),
        late_vs_earliest_percent=round(float(figures.get("late_vs_earliest_percent", 100.0)), 3),
        worst_late_ms=float(figures["worst_late_ms"]),
        median_interval_ms=float(figures["median_interval_ms"]),
        stopped_streams=stopped,
        cpu_ms_per_stream_s=None if cpu_ms is None else round(cpu_ms, 4),
        cpu_us_per_packet=None if cpu_us is None else round(cpu_us, 2),
        other_busy_cores=round(other, 2),
        receiver_drops=receiver_drops,
        note=note,
    )


def climb(
    tool: str, args: argparse.Namespace, work: pathlib.Path, tone: pathlib.Path
) -> list[Step]:
    steps: list[Step] = []
    for count in args.counts:
        step = run_step(tool, count, args, work, tone)
        print(_line(step), flush=True)
        steps.append(step)
        if not step.passed and args.retry:
            step = run_step(tool, count, args, work, tone)
            print(_line(step) + " (retry)", flush=True)
            steps.append(step)
        if not step.passed and not args.all_counts:
            break
    return steps


def _line(step: Step) -> str:
    cpu = "?" if step.cpu_ms_per_stream_s is None else f"{step.cpu_ms_per_stream_s:.3f}"
    verdict = "ok" if step.passed else "FAIL"
    return (
        f"{step.tool:9} N={step.streams:5} {verdict:4} seen={step.streams_seen:5}"
        f" packets={step.packets:7} late={step.late_percent:6.2f}% (worst {step.worst_late_ms:.1f}"
        f" ms, missing {step.missing}, early {step.early},"
        f" vs earliest {step.late_vs_earliest_percent:.1f}%)"
        f" interval={step.median_interval_ms:.3f} ms"
        f" stopped={step.stopped_streams}"
        f" cpu={cpu} ms/stream/s ({step.cpu_us_per_packet} us/packet)"
        f" other_busy={step.other_busy_cores} cores {step.note}"
    )


def summarise(results: dict[str, list[Step]]) -> dict[str, object]:
    best: dict[str, object] = {}
    for tool, steps in results.items():
        # The largest N such that every count up to it passed (a retry that passed counts).
        top: Step | None = None
        for count in sorted({s.streams for s in steps}):
            passed = [s for s in steps if s.streams == count and s.passed]
            if not passed:
                break
            top = passed[-1]
        best[tool] = {
            "max_streams": top.streams if top else 0,
            "cpu_ms_per_stream_s": top.cpu_ms_per_stream_s if top else None,
            "ladder_exhausted": top is not None and top.streams == max(s.streams for s in steps),
        }
    if "gossipper" in best and "sipp" in best:
        g, s = best["gossipper"], best["sipp"]
        assert isinstance(g, dict) and isinstance(s, dict)
        if s["max_streams"]:
            best["streams_ratio"] = round(g["max_streams"] / s["max_streams"], 2)
        if g["cpu_ms_per_stream_s"] and s["cpu_ms_per_stream_s"]:
            best["cpu_ratio_gossipper_over_sipp"] = round(
                g["cpu_ms_per_stream_s"] / s["cpu_ms_per_stream_s"], 2
            )
    return best


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["receive"]:
        parser = argparse.ArgumentParser(prog="media_streams.py receive")
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--warmup", type=float, required=True)
        parser.add_argument("--window", type=float, required=True)
        parser.add_argument("--out", type=pathlib.Path, required=True)
        ns = parser.parse_args(argv[1:])
        receive(ns.port, ns.warmup, ns.window, ns.out)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tools",
        default="gossipper,sipp",
        help="comma list: gossipper, gossipper-sip, gossipper-srtp, sipp",
    )
    parser.add_argument("--counts", help="comma list of stream counts to climb")
    parser.add_argument("--window", type=float, help="measured seconds per step (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds after all started")
    parser.add_argument("--call-rate", type=float, default=200.0, help="SIPp calls/s to ramp")
    parser.add_argument(
        "--gossipper-args",
        default="",
        help="extra options for every gossipper sender, e.g. '-workers 2' (CPU then counts"
        " the worker processes too)",
    )
    parser.add_argument("--quick", action="store_true", help="4 s windows, short ladder")
    parser.add_argument("--no-retry", dest="retry", action="store_false")
    parser.add_argument(
        "--all-counts",
        action="store_true",
        help="run every count even after a failing step (a noisy machine fails early)",
    )
    parser.add_argument("--json", type=pathlib.Path, help="write the results here")
    benchlib.add_source_options(parser)
    args = parser.parse_args(argv)
    counts = args.counts or ",".join(map(str, QUICK_COUNTS if args.quick else DEFAULT_COUNTS))
    args.counts = [int(c) for c in counts.split(",")]
    args.window = args.window or (4.0 if args.quick else 10.0)
    if args.quick:
        args.retry = False
    benchlib.install_cleanup()
    with tempfile.TemporaryDirectory(prefix="media-streams-") as tmp:
        work = pathlib.Path(tmp)
        version = benchlib.prepare_source(args, work)
        tone = work / "tone.ulaw"
        write_tone(tone)
        machine = benchlib.machine_info()
        print(f"gossipper {version}; {machine}", flush=True)
        results = {tool: climb(tool, args, work, tone) for tool in args.tools.split(",")}
    best = summarise(results)
    print(json.dumps(best, indent=2))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "version": version,
                    "machine": machine,
                    "window_s": args.window,
                    "steps": {tool: [asdict(s) for s in steps] for tool, steps in results.items()},
                    "best": best,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
