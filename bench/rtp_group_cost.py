"""Wall time per packet of the media scheduler's C ``FastGroup`` alone: C and kernel (issue 17
item 6).

N members, each due every 20 ms with anchors spread over the frame, served by ``serve()`` every
10 ms of a simulated clock as the scheduler does; each packet goes to one receiver socket that
is drained between ticks (outside the timing). The process is single-threaded and the kernel
delivers loopback datagrams inside the send, so the wall time spent in ``serve`` is the CPU a
packet costs the sender, receiver-side kernel work included.

  --sockets per-stream   one UDP socket per member (what calls have)
  --sockets shared       every member on one socket (SIPp 3.6.1's one media socket)
  --epoll                each member's socket registered for reading in an epoll set, as a
                         call's receive task keeps it (every send then runs the socket's
                         write-space wake-up through that entry)

Run it with a tree that has the compiled module on the path (a snapshot from
benchlib.snapshot_source, or an install), as bench/media_send_cost.py is run; alternate two
builds for an A/B:

  PYTHONPATH=/tmp/snap-A python bench/rtp_group_cost.py --streams 3000 --epoll
"""

from __future__ import annotations

import argparse
import select
import socket
import time

from gossipper.media import _rtpfast  # the compiled module: absent from pure-Python trees


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=3000)
    parser.add_argument("--sockets", choices=("per-stream", "shared"), default="per-stream")
    parser.add_argument("--epoll", action="store_true")
    parser.add_argument("--ticks", type=int, default=400)
    args = parser.parse_args()
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    host, port = receiver.getsockname()

    def new_socket() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        return sock

    if args.sockets == "shared":
        socks = [new_socket()] * args.streams
    else:
        socks = [new_socket() for _ in range(args.streams)]
    poller = select.epoll()
    if args.epoll:
        for sock in set(socks):
            poller.register(sock.fileno(), select.EPOLLIN)
    payloads = tuple(bytes([n % 256]) * 160 for n in range(50))
    group = _rtpfast.FastGroup(0.010)
    for index, sock in enumerate(socks):
        anchor_s = (index % 2000) * 1e-5
        group.join(sock, host, port, 0, False, index, 1000 + index, payloads, anchor_s, 0.020,
                   0, -1, 0, 160, 0, 0, 0, 1)  # fmt: skip

    def drain() -> None:
        try:
            while True:
                receiver.recv(2048)
        except BlockingIOError:
            pass

    warmup_ticks = 20
    spent_s = 0.0
    for tick in range(1, args.ticks + 1):
        now_s = tick * 0.010
        started = time.perf_counter()
        group.serve(now_s + 0.005, now_s)
        if tick > warmup_ticks:
            spent_s += time.perf_counter() - started
        drain()
    packets = (args.ticks - warmup_ticks) * args.streams // 2
    print(
        f"streams={args.streams} sockets={args.sockets} epoll={args.epoll}: "
        f"{spent_s / packets * 1e6:.3f} us per packet in serve()"
    )


if __name__ == "__main__":
    main()
