"""-rtp_buffsize: each call's RTP and RTCP sockets get SO_RCVBUF/SO_SNDBUF of that size (SIPp
sets its RTP sockets' buffers the same way), whatever the run's SIP sockets use."""

from __future__ import annotations

import socket
import sys

import pytest
import trio

from gossipper.media.session import MediaLibrary, MediaRun, MediaSettings
from gossipper.transport import UdpTransportFactory
from tests.interop.media import free_udp_port_block


def _buffers(transport: object) -> tuple[int, int]:
    sock = transport._sock  # type: ignore[attr-defined]
    return (
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's buffer accounting")
def test_rtp_buffsize_sizes_every_media_socket() -> None:
    base = free_udp_port_block(4)

    async def main() -> None:
        with trio.fail_after(10):
            factory = UdpTransportFactory()  # SIP sockets: 4 MiB asked
            settings = MediaSettings(
                media_ip="127.0.0.1",
                min_port=base,
                max_port=base + 3,
                socket_buffer_bytes=40000,
            )
            run = MediaRun(
                factory,
                settings,
                MediaLibrary(),
                wall_time=lambda: 0.0,
                on_quality=lambda _q: None,
                warn=lambda _t: None,
            )
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run.serve)
                call = await run.open_call("c1", 1)
                sip = await factory.open_datagram("127.0.0.1", 0)
                # Linux doubles what is asked (its bookkeeping overhead): socket(7).
                assert _buffers(call.audio.rtp) == (80000, 80000)
                assert _buffers(call.audio.rtcp) == (80000, 80000)
                assert _buffers(sip) != (80000, 80000)
                sip.close()
                call.close()
                nursery.cancel_scope.cancel()

    trio.run(main)
