"""Deterministic simulation: an in-memory network with seeded faults, run under virtual time.

The engine never imports this package; the composition root (``cli``, later ``run_simulation``)
passes ``SimTransportFactory`` and ``SimWallClock`` where real sockets and ``time.time`` would go.
"""

from __future__ import annotations

from gossipper.sim.clock import (
    DEFAULT_EPOCH_S,
    SimWallClock,
    new_virtual_clock,
    run_under_virtual_time,
)
from gossipper.sim.faults import NO_FAULTS, FaultPlan, LinkFaults, LinkRule, draw_unit
from gossipper.sim.network import (
    EventKind,
    NetworkEvent,
    NetworkStatistics,
    SimNetwork,
    open_sim_network,
)
from gossipper.sim.stream import SimStream, SimStreamListener
from gossipper.sim.transport import SimDatagramTransport, SimTransportFactory

__all__ = [
    "DEFAULT_EPOCH_S",
    "NO_FAULTS",
    "EventKind",
    "FaultPlan",
    "LinkFaults",
    "LinkRule",
    "NetworkEvent",
    "NetworkStatistics",
    "SimDatagramTransport",
    "SimNetwork",
    "SimStream",
    "SimStreamListener",
    "SimTransportFactory",
    "SimWallClock",
    "draw_unit",
    "new_virtual_clock",
    "open_sim_network",
    "run_under_virtual_time",
]
