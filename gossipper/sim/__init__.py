"""Deterministic simulation: an in-memory network with seeded faults, run under virtual time.

The engine never imports this package. ``run_simulation`` (driven by ``gossipper sim``, see
``gossipper.cli.sim_command``) runs two unmodified engines on a ``SimNetwork``, passing
``SimTransportFactory`` and ``SimWallClock`` where real sockets and ``time.time`` would go.
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
    SimulationStalled,
    open_sim_network,
)
from gossipper.sim.run import (
    CLIENT_HOST,
    MAIN_PID,
    PEER_PID,
    SERVER_HOST,
    TWIN_HOST,
    TWIN_PEER_HOST,
    TWIN_PEER_PID,
    TWIN_PID,
    SimSide,
    SimulationPlan,
    SimulationResult,
    ThreePccSides,
    derive_seed,
    run_simulation,
)
from gossipper.sim.stream import SimStream, SimStreamListener
from gossipper.sim.transport import SimDatagramTransport, SimTransportFactory

__all__ = [
    "CLIENT_HOST",
    "DEFAULT_EPOCH_S",
    "MAIN_PID",
    "PEER_PID",
    "SERVER_HOST",
    "TWIN_HOST",
    "TWIN_PEER_HOST",
    "TWIN_PEER_PID",
    "TWIN_PID",
    "NO_FAULTS",
    "EventKind",
    "FaultPlan",
    "LinkFaults",
    "LinkRule",
    "NetworkEvent",
    "NetworkStatistics",
    "SimDatagramTransport",
    "SimNetwork",
    "SimSide",
    "SimulationPlan",
    "SimulationResult",
    "SimulationStalled",
    "ThreePccSides",
    "SimStream",
    "SimStreamListener",
    "SimTransportFactory",
    "SimWallClock",
    "derive_seed",
    "draw_unit",
    "new_virtual_clock",
    "open_sim_network",
    "run_simulation",
    "run_under_virtual_time",
]
