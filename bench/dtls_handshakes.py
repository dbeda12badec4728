"""DTLS-SRTP handshakes per second (issue 18 item 5): both ends in this process, over loopback UDP.

Each handshake is a fresh pair of DtlsSrtpEndpoint (ECDSA P-256 certificates made once per run,
as a run would), two fresh UDP sockets on 127.0.0.1, the full handshake with use_srtp and the
key export. ``--concurrency`` runs that many pairs at once under one trio loop. Both ends
share one CPU budget here, so one gossipper side alone can do roughly twice the figure.

  python bench/dtls_handshakes.py                    # 200 handshakes, 1 and 8 at a time
  python bench/dtls_handshakes.py --count 500 --concurrency 1,4,16 --json dtls.json

``--calls N``: the same in real calls, gossipper at both ends: a gossipper UAC places N short
calls (-r RATE) to a gossipper UAS on loopback, each offering DTLS-SRTP ([dtls_fingerprint],
[dtls_setup]); once answered, the UAC sends one DTMF digit, which only leaves (SRTP) once the
handshake gave keys (1 s after the ACK), so the UAS's streams that received media count
completed handshakes. The
same calls with plain RTP give the baseline; the CPU difference per call is the handshake's
cost in a run (wiring, demultiplexing and key installation included).

  python bench/dtls_handshakes.py --calls 300 --rate 50

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


_HEADERS = """
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]Tag[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>{to_tag}
      Call-ID: [call_id]
      CSeq: {cseq}
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70"""

_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="bench uac">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0{invite_headers}
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [media_port] {proto} 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=rtcp-mux{dtls}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="200"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0{ack_headers}
      Content-Length: 0
  ]]></send>
  <pause milliseconds="1000"/>
  <nop><action><exec play_dtmf="1,60"/></action></nop>
  <pause milliseconds="300"/>
  <send retrans="500"><![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0{bye_headers}
      Content-Length: 0
  ]]></send>
  <recv response="200"/>
</scenario>
"""

_UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="bench uas">
  <recv request="INVITE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]Uas[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [media_port] {proto} 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=rtcp-mux{dtls}
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


def _scenarios(directory: str, dtls: bool) -> None:
    proto = "UDP/TLS/RTP/SAVP" if dtls else "RTP/AVP"
    lines = "\n      a=fingerprint:[dtls_fingerprint]\n      a=setup:[dtls_setup]" if dtls else ""

    def headers(cseq: str, to_tag: str) -> str:
        return _HEADERS.format(cseq=cseq, to_tag=to_tag)

    uac = _UAC.format(
        proto=proto, dtls=lines, invite_headers=headers("1 INVITE", ""),
        ack_headers=headers("1 ACK", "[peer_tag_param]"),
        bye_headers=headers("2 BYE", "[peer_tag_param]"),
    )  # fmt: skip
    with open(os.path.join(directory, "uac.xml"), "w", encoding="utf-8") as out:
        out.write(uac)
    with open(os.path.join(directory, "uas.xml"), "w", encoding="utf-8") as out:
        out.write(_UAS.format(proto=proto, dtls=lines))


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def measure_calls(calls: int, rate: float, dtls: bool) -> dict[str, object]:
    """N calls UAC -> UAS, both gossipper processes; wall time and both processes' CPU."""
    import subprocess
    import tempfile

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=repo)
    with tempfile.TemporaryDirectory(prefix="dtls-bench-") as directory:
        _scenarios(directory, dtls)
        sip_port = _free_port()
        common = ["-i", "127.0.0.1", "-m", str(calls), "-nostdin", "-summary_json"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        uas = subprocess.Popen(
            [sys.executable, "-m", "gossipper", "-sf", "uas.xml", "-p", str(sip_port),
             *common, "uas.json", "-min_rtp_port", "40000", "-max_rtp_port", "44999",
             "-rtp_echo"],  # media on in both variants: the baseline's UAS counts the DTMF too
            cwd=directory, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(1.0)  # the UAS binds before the first INVITE
        start = time.perf_counter()
        uac = subprocess.run(
            [sys.executable, "-m", "gossipper", "-sf", "uac.xml", f"127.0.0.1:{sip_port}",
             "-r", str(rate), "-l", str(max(10, int(rate * 2))), *common, "uac.json",
             "-min_rtp_port", "45000", "-max_rtp_port", "49999"],
            cwd=directory, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            check=False,
        )  # fmt: skip
        wall_s = time.perf_counter() - start
        uas.wait(timeout=60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(os.path.join(directory, "uac.json"), encoding="utf-8") as handle:
            uac_summary = json.load(handle)
        with open(os.path.join(directory, "uas.json"), encoding="utf-8") as handle:
            uas_summary = json.load(handle)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    media = uas_summary.get("media", {})
    return {
        "variant": "DTLS-SRTP" if dtls else "plain RTP",
        "calls": calls,
        "rate": rate,
        "successful": uac_summary["calls"]["successful"],
        "uac_exit": uac.returncode,
        # Streams that received the DTMF: with DTLS, the handshake had given keys.
        "streams_with_media": media.get("streams_received", 0),
        "secure_failures": media.get("secure_failures", {}),
        "wall_s": round(wall_s, 2),
        "calls_per_s": round(calls / wall_s, 1),
        "cpu_ms_per_call_both_ends": round(1000 * cpu_s / calls, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--calls", type=int, help="measure in real calls (gossipper both ends)")
    parser.add_argument("--rate", type=float, default=50.0, help="calls per second (--calls)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    if args.calls:
        rows = [measure_calls(args.calls, args.rate, dtls) for dtls in (False, True)]
        for row in rows:
            print(json.dumps(row))
        plain, dtls = rows
        extra = float(dtls["cpu_ms_per_call_both_ends"]) - float(  # type: ignore[arg-type]
            plain["cpu_ms_per_call_both_ends"]  # type: ignore[arg-type]
        )
        print(f"DTLS-SRTP adds {extra:.2f} ms CPU per call (both ends, handshake and wiring)")
        if args.json:
            with open(args.json, "w", encoding="utf-8") as out:
                json.dump(rows, out, indent=2)
        return
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
