"""The source address of client TCP connections (``-t t1/tn/l1/ln``): bound to ``-i`` and,
with ``-p``, to that port (SIPp's [local_port]); with no port, connect() chooses it
(IP_BIND_ADDRESS_NO_PORT on Linux), not bind(): bind's search for a port no socket holds counts
TIME_WAIT ones and cost about 2 ms of CPU per ``tn`` call with thousands of them
(docs/performance.md, "tn: the port search")."""

from __future__ import annotations

import socket
import sys

import pytest
import trio

from gossipper.interfaces import Address
from gossipper.transport.tcp import IP_BIND_ADDRESS_NO_PORT, TcpConnection, connect_tcp
from tests.interop.harness import free_tcp_port


async def _connect(local_host: str, local_port: int) -> tuple[Address, int]:
    """Connect from (local_host, local_port) to a listener on 127.0.0.1; returns the client's
    local address and its IP_BIND_ADDRESS_NO_PORT setting."""
    listener = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    await listener.bind(("127.0.0.1", 0))
    listener.listen()
    with listener:
        connection = await connect_tcp(
            listener.getsockname(), local_host=local_host, local_port=local_port
        )
        assert isinstance(connection, TcpConnection)
        no_port = connection._socket.getsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT)
        local = connection.local_address
        await connection.aclose()
    return local, no_port


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a Linux socket option")
def test_bound_address_without_port_leaves_the_port_to_connect() -> None:
    (host, port), no_port = trio.run(_connect, "127.0.0.2", 0)
    assert host == "127.0.0.2"  # still bound to -i
    assert port != 0
    assert no_port == 1


def test_given_port_is_the_source_port() -> None:
    wanted = free_tcp_port()
    (host, port), no_port = trio.run(_connect, "127.0.0.1", wanted)
    assert (host, port) == ("127.0.0.1", wanted)
    assert no_port == 0
