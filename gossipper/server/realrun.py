"""The parts of a run on real sockets that every host of runs shares: the real wall clock,
the UDP/stream transport factory the options ask for, where the remote is, and the
``RunPlan`` of a real run.

The CLI (``gossipper [options] host``, ``cli/run.py``) and ``gossipper server`` (``host.py``)
both build their runs here, so a run behaves the same whichever of them hosts it. Nothing here
touches process-global state (signals, the garbage collector): those stay with the CLI.
"""

from __future__ import annotations

import datetime
import time

from gossipper.config import RunConfig
from gossipper.engine.threepcc import TwinSetup
from gossipper.interfaces import Address, TransportFactory
from gossipper.scenario import Scenario
from gossipper.session import RunPlan
from gossipper.transport import UdpTransportFactory, check_device, detect_local_ip, resolve_host

__all__ = [
    "LIVE_FLUSH_S",
    "MIN_BUFFER_BYTES",
    "SystemWallClock",
    "real_plan",
    "real_transports",
    "remote_target",
    "resolve_remote",
]

LIVE_FLUSH_S = 0.2
"""Trace files of a real run are written out this often (readable with ``tail -f``)."""

MIN_BUFFER_BYTES = 4 * 1024 * 1024
"""Socket buffers of a real run are at least this big (SIPp's 64 KiB default drops datagrams
at a few thousand calls per second; docs/performance.md)."""


class SystemWallClock:
    """The real wall clock (implements ``interfaces.WallClock``); local times in the
    process's time zone, as SIPp prints them."""

    tz: datetime.tzinfo | None = None

    def wall_time(self) -> float:
        return time.time()


def real_transports(config: RunConfig) -> UdpTransportFactory:
    """The socket factory of a real run (``-buff_size``, ``-bind_to_device``).

    Raises:
        TransportError: ``-bind_to_device`` names no usable interface.
    """
    device = config.transport.bind_to_device
    if device is not None:
        check_device(device)
    given_bytes = config.transport.buff_size
    # Stream sockets get -buff_size only when it is given (else the kernel's autotuning).
    return UdpTransportFactory(
        buffer_bytes=max(given_bytes or 0, MIN_BUFFER_BYTES),
        stream_buffer_bytes=given_bytes,
        device=device,
    )


def remote_target(config: RunConfig) -> tuple[str, int] | None:
    """The host name and port a client sends to (``-rsa`` wins over the remote host), before
    resolving; None without a remote host."""
    if config.target.remote_host is None:
        return None
    if config.transport.rsa_host:
        return config.transport.rsa_host, config.transport.rsa_port or 5060
    return config.target.remote_host, config.target.remote_port


def resolve_remote(config: RunConfig) -> Address | None:
    """The numeric address a client sends to (resolved once, as SIPp does); None without a
    remote host.

    Raises:
        TransportError: the host name does not resolve.
    """
    target = remote_target(config)
    if target is None:
        return None
    host, port = target
    return resolve_host(host), port


def real_plan(
    config: RunConfig,
    scenario: Scenario,
    *,
    transports: TransportFactory,
    wall_clock: SystemWallClock,
    remote: Address | None,
    pid: int,
    seed: int,
    directory: str = ".",
    periodic_screens: bool = False,
    ooc_scenario: Scenario | None = None,
    rx_scenario: Scenario | None = None,
    twin: TwinSetup | None = None,
    holds_loop: bool = False,
) -> RunPlan:
    """The plan of one run on real sockets: ``[local_ip]`` from ``-i`` or the route to the
    remote, a wildcard bind unless ``-i`` is given, trace files flushed live."""
    local_ip = config.transport.local_ip or detect_local_ip(remote[0] if remote else None)
    return RunPlan(
        scenario=scenario,
        config=config,
        transports=transports,
        wall_clock=wall_clock,
        local_ip=local_ip,
        bind_host=config.transport.local_ip or ("::" if ":" in local_ip else "0.0.0.0"),
        remote=remote,
        # [remote_host] is the host as given (with -rsa too), not the resolved address.
        remote_host=config.target.remote_host,
        pid=pid,
        seed=seed,
        directory=directory,
        periodic_screens=periodic_screens,
        live_flush_s=LIVE_FLUSH_S,
        ooc_scenario=ooc_scenario,
        rx_scenario=rx_scenario,
        twin=twin,
        holds_loop=holds_loop,
    )
