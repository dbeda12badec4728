"""CPU per RTP packet of gossipper's media send path, in isolation (issue 17 item 6).

N streams on one ``MediaScheduler`` (20 ms PCMU frames, the packets of ``rtp_stream``), each
from its own UDP socket on loopback to one receiver socket nobody reads (the kernel drops what
does not fit: the same work for every build), for ``--seconds``; prints the process's CPU time
(user + system) per packet sent. ``--null`` sends through a function that does nothing: the
scheduler's own share. Run it under two trees for an A/B:

    PYTHONPATH=. python bench/media_send_cost.py --streams 1000
    git archive REV | tar -x -C /tmp/base && PYTHONPATH=/tmp/base python bench/media_send_cost.py

Both on the same (preferably quiet) machine, alternating, several times: CPU per packet is the
steady figure; lateness is not measured here (bench/media_streams.py does).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time

import trio

from gossipper.interfaces import Address
from gossipper.media.scheduler import MediaScheduler
from gossipper.transport import UdpTransportFactory


async def _measure(streams: int, seconds: float, null: bool) -> dict[str, float]:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    target: Address = ("127.0.0.1", sink.getsockname()[1])
    factory = UdpTransportFactory()
    scheduler = MediaScheduler()
    payloads = tuple(bytes([n]) * 160 for n in range(100))

    def nothing(data: bytes, address: Address) -> bool:
        return True

    handles = []
    sockets = []
    async with trio.open_nursery() as nursery:
        await nursery.start(scheduler.run)
        for n in range(streams):
            transport = await factory.open_datagram("127.0.0.1", 0)
            sockets.append(transport)
            handles.append(
                scheduler.start_rtp(
                    send=nothing if null else transport.send_nowait,
                    destination=target,
                    payloads=payloads,
                    payload_type=0,
                    samples_per_frame=160,
                    frame_interval_ms=20.0,
                    loops=-1,
                    ssrc=n,
                    first_seq=0,
                    first_timestamp=0,
                )
            )
        await trio.sleep(1.0)  # every stream started, steady state
        sent_before = sum(h.counters.packets_sent for h in handles)
        cpu_before = time.process_time()
        wall_before = time.perf_counter()
        await trio.sleep(seconds)
        cpu = time.process_time() - cpu_before
        wall = time.perf_counter() - wall_before
        sent = sum(h.counters.packets_sent for h in handles) - sent_before
        late = sum(h.counters.late_packets for h in handles)
        nursery.cancel_scope.cancel()
    for transport in sockets:
        transport.close()
    sink.close()
    return {
        "streams": streams,
        "packets": sent,
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "cpu_us_per_packet": round(cpu / sent * 1e6, 2) if sent else float("nan"),
        "packets_per_s": round(sent / wall, 1),
        "late_packets_total": late,
        "loadavg_1m": float(os.getloadavg()[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--null", action="store_true", help="send nothing: scheduler only")
    args = parser.parse_args()
    print(json.dumps(trio.run(_measure, args.streams, args.seconds, args.null)))


if __name__ == "__main__":
    main()
