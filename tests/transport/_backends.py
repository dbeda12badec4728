"""The implementations the transport conformance suite runs over, as one table.

Each backend runs a test coroutine with a ``Hosts`` pair: the factories of a server host and a
client host on one network (real loopback, or a ``SimNetwork`` under virtual time) and the
addresses to bind. A new transport (TLS, WebSocket) joins the suite by adding a backend to
``DATAGRAM_BACKENDS`` or ``STREAM_BACKENDS``.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
import trio

from gossipper.interfaces import TransportFactory
from gossipper.sim import FaultPlan, SimTransportFactory, open_sim_network, run_under_virtual_time
from gossipper.transport import UdpTransportFactory

REAL_DEADLINE_S = 10.0
"""Every real test stops by itself within this (loopback operations take microseconds)."""
SIM_DEADLINE_S = 60.0
"""Virtual seconds; a hang under the sim shows as Cancelled/TooSlowError, not a stuck run."""

SIM_SERVER = "10.0.0.2"
SIM_CLIENT = "10.0.0.1"


@dataclass(frozen=True)
class Hosts:
    """Two hosts of one network, seen through ``TransportFactory`` only."""

    server: TransportFactory
    server_host: str
    client: TransportFactory
    client_host: str


TestBody = Callable[[Hosts], Awaitable[None]]


@dataclass(frozen=True)
class Backend:
    """One implementation of the transport seam."""

    name: str
    run: Callable[[TestBody], None]
    max_datagram_bytes: int = 65507
    """A payload this large must arrive whole (65,507 is the IPv4 UDP limit)."""

    def __str__(self) -> str:
        return self.name


def _real(host: str) -> Callable[[TestBody], None]:
    def run(body: TestBody) -> None:
        async def main() -> None:
            factory = UdpTransportFactory()
            with trio.fail_after(REAL_DEADLINE_S):
                await body(Hosts(factory, host, factory, host))

        trio.run(main)

    return run


def _sim(plan: FaultPlan) -> Callable[[TestBody], None]:
    def run(body: TestBody) -> None:
        async def main() -> None:
            async with open_sim_network(7, plan) as network:
                hosts = Hosts(
                    SimTransportFactory(network, SIM_SERVER),
                    SIM_SERVER,
                    SimTransportFactory(network, SIM_CLIENT),
                    SIM_CLIENT,
                )
                with trio.fail_after(SIM_DEADLINE_S):
                    await body(hosts)

        run_under_virtual_time(main)

    return run


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


_NO_IPV6 = pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")

DATAGRAM_BACKENDS = [
    pytest.param(Backend("udp-ipv4", _real("127.0.0.1")), id="udp-ipv4"),
    pytest.param(Backend("udp-ipv6", _real("::1")), id="udp-ipv6", marks=_NO_IPV6),
    pytest.param(Backend("sim", _sim(FaultPlan.uniform(delay_ms=1))), id="sim"),
]

STREAM_BACKENDS = [
    pytest.param(Backend("tcp-ipv4", _real("127.0.0.1")), id="tcp-ipv4"),
    pytest.param(Backend("tcp-ipv6", _real("::1")), id="tcp-ipv6", marks=_NO_IPV6),
    pytest.param(Backend("sim", _sim(FaultPlan.uniform(delay_ms=1))), id="sim"),
    pytest.param(
        Backend("sim-jitter", _sim(FaultPlan.uniform(delay_ms=2, jitter_ms=20))), id="sim-jitter"
    ),
]
