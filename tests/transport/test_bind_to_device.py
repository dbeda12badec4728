"""-bind_to_device: SO_BINDTODEVICE on every socket a run opens; bad interfaces exit 254.

Binding an unbound socket to ``lo`` needs no privilege on Linux >= 5.7; a missing interface
answers ENODEV whether the test runs as root or not.
"""

from __future__ import annotations

import errno
import io
import socket
import sys
from typing import Any

import pytest
import trio

from gossipper.cli.main import raw_main
from gossipper.errors import BindError, ExitStatus
from gossipper.transport import UdpTransportFactory, check_device
from gossipper.transport.tcp import bind_to_device

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="SO_BINDTODEVICE is Linux-only"
)


def _device_of(sock: socket.socket | trio.socket.SocketType) -> bytes:
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16)
    return bytes(raw).rstrip(b"\0")


def test_every_socket_of_the_factory_is_bound_to_the_device() -> None:
    async def main() -> None:
        factory = UdpTransportFactory(device="lo")
        udp = await factory.open_datagram("127.0.0.1", 0)
        listener = await factory.open_stream_listener("127.0.0.1", 0)
        async with trio.open_nursery() as nursery:
            accepted: list[Any] = []

            async def accept() -> None:
                accepted.append(await listener.accept())

            nursery.start_soon(accept)
            client = await factory.connect_stream(listener.local_address)
        assert _device_of(udp._sock) == b"lo"
        assert _device_of(listener._listener.socket) == b"lo"
        assert _device_of(client._socket) == b"lo"
        # Traffic still flows over the interface.
        udp.send_nowait(b"ping", udp.local_address)
        assert (await udp.receive_batch())[0][0] == b"ping"
        udp.close()
        await client.aclose()
        for connection in accepted:
            await connection.aclose()
        await listener.aclose()

    trio.run(main)


def test_without_a_device_sockets_are_not_bound() -> None:
    async def main() -> None:
        udp = await UdpTransportFactory().open_datagram("127.0.0.1", 0)
        assert _device_of(udp._sock) == b""
        udp.close()

    trio.run(main)


def test_a_missing_interface_is_a_bind_error() -> None:
    with pytest.raises(BindError) as info:
        check_device("nosuchif0")
    assert info.value.exit_status is ExitStatus.BIND_ERROR
    assert str(info.value) == (
        "-bind_to_device nosuchif0: cannot bind a socket to the interface: No such device"
        " (ENODEV); no network interface has that name (see `ip link`)"
    )


def test_missing_permission_says_what_is_needed() -> None:
    class Refusing:
        def setsockopt(self, *args: object) -> None:
            raise PermissionError(errno.EPERM, "Operation not permitted")

    with pytest.raises(BindError, match=r"\(EPERM\); binding to an interface needs root"):
        bind_to_device(Refusing(), "eth0")  # type: ignore[arg-type]


def test_cli_exits_254_with_one_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    status = raw_main(
        ["-sn", "uac", "-m", "1", "-nostdin", "-bind_to_device", "nosuchif0", "127.0.0.1"],
        stdout=out,
        stderr=err,
    )
    assert status == ExitStatus.BIND_ERROR
    assert err.getvalue().count("\n") == 1
    assert err.getvalue().startswith("gossipper: error: -bind_to_device nosuchif0: ")


def test_cli_run_bound_to_lo_completes() -> None:
    out, err = io.StringIO(), io.StringIO()
    status = raw_main(
        ["-sn", "uac", "-m", "3", "-r", "50", "-nostdin", "-peer", "uas", "-bind_to_device", "lo"],
        stdout=out,
        stderr=err,
    )
    assert (status, err.getvalue()) == (ExitStatus.SUCCESS, "")
