"""``run_simulation``: two unmodified engines talking over a ``SimNetwork`` under virtual time.

One ``trio.run`` under ``MockClock(autojump_threshold=0)`` holds the delivery task of the
network, the main engine (the scenario of the command line, whose outputs are written) and the
peer engine (its partner: ``uas`` for ``uac`` and so on). Each engine gets its own simulated host,
fixed pid and a seed derived from the simulation seed, so that Call-IDs, addresses, branches and
every random draw are functions of the arguments alone. Timestamps read ``epoch + virtual time``
and every local-time field is printed in UTC.

Why the output is byte-identical from run to run (design.md section 5):

* the network delivers in an order computed from content (``gossipper.sim.network``);
* the client's call numbers come from its single pacing task, the server's from delivery order;
* trace records of one instant are written sorted by Call-ID (``TraceFiles``), RTD samples of one
  instant sorted by value;
* statistics dumps wait for the end of their instant (``SimNetwork.wait_instant_end``), so they
  never see half of an instant;
* nothing iterates a set of strings into output, floats are printed by fixed formats, the
  summary JSON is written with ``repr`` floats (the same on every platform).

What the engine itself still leaves to Trio's scheduling is listed in docs/simulation.md
("Known limits").
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
from dataclasses import dataclass, field
from typing import TextIO

import trio

from gossipper.config import RunConfig, split_host_port
from gossipper.engine import EngineResult
from gossipper.engine.engine import FIRST_DEFAULT_PORT
from gossipper.engine.threepcc import DEFAULT_TWIN_PORT, TwinSetup
from gossipper.errors import ConfigError, ExitStatus, first_gossipper_error
from gossipper.hep import HepError, decode, describe, split_stream
from gossipper.interfaces import Address, StreamConnection
from gossipper.output import write_json_atomic
from gossipper.scenario import Scenario, TwinRole
from gossipper.session import Run, RunPlan, open_run
from gossipper.sim.clock import DEFAULT_EPOCH_S, SimWallClock, new_virtual_clock
from gossipper.sim.faults import FaultPlan
from gossipper.sim.network import (
    DEFAULT_MAX_EVENTS,
    MAX_ROUNDS_PER_INSTANT,
    NetworkEvent,
    NetworkStatistics,
    SimNetwork,
)
from gossipper.sim.transport import SimTransportFactory
from gossipper.transport.layers import channel_layer_for

__all__ = [
    "CLIENT_HOST",
    "MAIN_PID",
    "PEER_DRAIN_S",
    "PEER_PID",
    "SERVER_HOST",
    "TWIN_HOST",
    "TWIN_PEER_HOST",
    "TWIN_PEER_PID",
    "TWIN_PID",
    "SimSide",
    "SimulationPlan",
    "ThreePccSides",
    "SimulationResult",
    "derive_seed",
    "run_simulation",
]

CLIENT_HOST = "10.0.0.1"
"""Simulated address of the client side (the side running a client scenario)."""
SERVER_HOST = "10.0.0.2"
"""Simulated address of the server side."""
MAIN_PID = 4242
"""pid of the main side (``[pid]``, Call-IDs, trace file names)."""
PEER_PID = 4343
"""pid of the peer side."""
TWIN_HOST = "10.0.0.3"
"""3PCC: simulated address of the main side's twin controller."""
TWIN_PEER_HOST = "10.0.0.4"
"""3PCC: simulated address of the twin's server."""
TWIN_PID = 4444
"""3PCC: pid of the twin controller."""
TWIN_PEER_PID = 4545
"""3PCC: pid of the twin's server."""
PEER_DRAIN_S = 64.0
"""Virtual seconds the peer may take to finish its calls after the main side ended (64 x T1,
the longest SIPp transaction timer with default settings)."""


_SETTLE_ORDER = {"timeout": 0, "pacing": 1, "dump": 2}
"""Order of an engine's end-of-instant decisions: a global timeout at t wins over the calls due
at t (none is started, as the run ends), and a statistics dump at t sees the calls started at
t. The main side decides before the peer."""


HEP_CAPTURE_FILE = "hep_capture.log"
"""What the simulated capture server of ``-hep_addr`` received, one packet per entry."""


def derive_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for one purpose (``"network"``, ``"main"``, ``"peer"``) of a simulation.

    blake2b of ``"{seed}:{purpose}"``: independent of PYTHONHASHSEED and the platform.
    """
    digest = hashlib.blake2b(f"{seed}:{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass(frozen=True, slots=True)
class SimSide:
    """One engine of a simulation: its scenario, settings and identity. ``host`` is a name
    inside the simulation only; the run environment is built by ``session.open_run``."""

    scenario: Scenario
    config: RunConfig
    host: str
    pid: int
    ooc_scenario: Scenario | None = None
    """``-oocsf``/``-oocsn`` of this side (client scenarios)."""
    rx_scenario: Scenario | None = None
    """``-rxsf``/``-rxsn``: SIPp 3.7's mixed mode; two mixed sides call each other."""


@dataclass(frozen=True, slots=True)
class ThreePccSides:
    """A 3PCC simulation's other half: the main controller's twin (its command partner) and
    the twin's own SIP server. The main side's ``peer`` is the main controller's server."""

    twin: SimSide
    twin_peer: SimSide
    command_port: int = DEFAULT_TWIN_PORT
    """Where controller B listens for commands (on its host)."""


@dataclass(frozen=True, slots=True)
class SimulationPlan:
    """Everything a simulation depends on; the same plan gives the same bytes.

    ``reproduce_command`` is printed at the end of stdout when calls failed. ``directory`` is
    where trace files and a relative ``-summary_json`` go.
    """

    main: SimSide
    peer: SimSide
    seed: int
    faults: FaultPlan = field(default_factory=FaultPlan)
    epoch_s: float = DEFAULT_EPOCH_S
    directory: str = "."
    tool_version: str = ""
    reproduce_command: str | None = None
    record_payloads: bool = False
    """Keep the bytes of every distinct datagram (``SimulationResult.payloads``)."""
    record_events: bool = True
    """Keep the network's event log (``SimulationResult.events``, up to 250,000 events).
    ``gossipper sim`` writes no event log and turns it off: two records per datagram."""
    max_rounds_per_instant: int = MAX_ROUNDS_PER_INSTANT
    """Rounds at one virtual instant after which the run stops as stalled (SimulationStalled)."""
    three_pcc: ThreePccSides | None = None
    """3PCC: four engines (two controllers, two servers) instead of two."""


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """How a simulation ended (``events`` is the network's fault and delivery log)."""

    exit_status: ExitStatus
    main: EngineResult
    peer: EngineResult
    network: NetworkStatistics
    events: tuple[NetworkEvent, ...]
    end_time_s: float
    files: tuple[str, ...]
    """Every file written for the main side (trace files, summary JSON), sorted."""
    skipped_commands: int
    """``<exec command>`` actions not run (the simulation starts no process)."""
    payloads: dict[str, bytes]
    """Datagram bytes by event-log digest, when the plan asked for them (else empty)."""
    others: tuple[tuple[str, EngineResult], ...] = ()
    """3PCC: (scenario base name, result) of the twin and the twin's server."""


def run_simulation(plan: SimulationPlan, stdout: TextIO, stderr: TextIO) -> SimulationResult:
    """Run ``plan`` under virtual time; print the screens, write the files; never blocks on I/O.

    stdout gets the main side's exit screens (as a real run), a simulation block (seed,
    network counters, the peer's fate) and, when calls failed, the command that reproduces
    the run.
    """
    _check_plan(plan)
    runner = _Runner(plan)
    try:
        result = trio.run(runner.simulate, clock=new_virtual_clock())
    except BaseExceptionGroup as group:
        # Our own errors (a stalled simulation) leave as themselves, with their message.
        own_error = first_gossipper_error(group)
        if own_error is None:
            raise
        raise own_error from group
    stdout.write(runner.screens)
    stdout.write(simulation_report(plan, result))
    stdout.flush()
    if result.main.fatal_message:
        stderr.write(f"gossipper: error: {result.main.fatal_message}\n")
    for error in runner.trace_errors:
        stderr.write(f"gossipper: warning: {error}\n")
    if result.skipped_commands:
        stderr.write(
            f"gossipper sim: note: {result.skipped_commands} <exec command> action(s) not"
            " run: the simulation starts no process\n"
        )
    return result


def _is_mixed(plan: SimulationPlan) -> bool:
    """Both sides in mixed mode: each one's client calls the other one's rx scenario."""
    return plan.main.rx_scenario is not None and plan.peer.rx_scenario is not None


def _check_plan(plan: SimulationPlan) -> None:
    if plan.three_pcc is not None:
        _check_3pcc_plan(plan, plan.three_pcc)
        return
    if _is_mixed(plan):
        if plan.main.scenario.is_server or plan.peer.scenario.is_server:
            raise ConfigError("gossipper sim: mixed mode (-rxsf/-rxsn) needs client scenarios")
    elif plan.main.scenario.is_server == plan.peer.scenario.is_server:
        role = "server" if plan.main.scenario.is_server else "client"
        raise ConfigError(
            f"gossipper sim: both sides run {role} scenarios; the peer must be the other role"
            " (e.g. -sn uac with -peer uas)"
        )
    if plan.main.host == plan.peer.host:
        raise ConfigError("gossipper sim: the two sides need different simulated hosts")


def _controller_role(side: SimSide) -> TwinRole:
    role = side.scenario.twin_role
    if role not in (TwinRole.CONTROLLER_A, TwinRole.CONTROLLER_B):
        raise ConfigError(
            f"gossipper sim: {side.scenario.source_label} is not a 3PCC controller (a client"
            " scenario with sendCmd first, or a scenario with recvCmd first)"
        )
    return role


def _check_3pcc_plan(plan: SimulationPlan, sides: ThreePccSides) -> None:
    if _controller_role(plan.main) == _controller_role(sides.twin):
        raise ConfigError(
            "gossipper sim: the 3PCC twin must be the other controller (3pcc-C-A with"
            " 3pcc-C-B; try -twin 3pcc-C-B or -twin 3pcc-C-A)"
        )
    for server in (plan.peer, sides.twin_peer):
        if not server.scenario.is_server or server.scenario.twin_role is not TwinRole.NONE:
            raise ConfigError(
                f"gossipper sim: {server.scenario.source_label} must be a plain server scenario"
                " (the SIP party of a 3PCC controller, e.g. 3pcc-A or 3pcc-B)"
            )
    hosts = [plan.main.host, plan.peer.host, sides.twin.host, sides.twin_peer.host]
    if len(set(hosts)) != len(hosts):
        raise ConfigError("gossipper sim: the four 3PCC sides need different simulated hosts")


def simulation_report(plan: SimulationPlan, result: SimulationResult) -> str:
    """The block printed after the screens: deterministic text only (no wall-clock time)."""
    net = result.network
    peer = result.peer.snapshot.cumulative
    epoch = datetime.datetime.fromtimestamp(plan.epoch_s, datetime.UTC)
    lines = [
        "------------------------------ Simulation -------------------------------------",
        f"  Seed {plan.seed}, virtual time {result.end_time_s:.6f} s from epoch"
        f" {epoch:%Y-%m-%dT%H:%M:%S}Z",
        f"  Network: {net.sent} datagrams sent, {net.delivered} delivered, {net.lost} lost,"
        f" {net.duplicated} duplicated, {net.reordered} reordered,"
        f" {net.dropped_unbound + net.dropped_overflow} dropped",
    ]
    if net.stream_connections:
        lines.append(
            # No byte count: TLS handshakes differ by a byte or two from run to run (ECDSA
            # signatures), and this block must be the same bytes for the same seed.
            f"  Streams: {net.stream_connections} connections ({net.stream_refusals} refused),"
            f" {net.stream_resets} reset, {net.stream_splits} split,"
            f" {net.stream_coalesced} coalesced writes"
        )
    lines += [
        f"  Peer {plan.peer.scenario.base_name}: {peer.total_calls} calls,"
        f" {peer.successful_calls} successful, {peer.failed_calls} failed,"
        f" {peer.retransmissions} retransmissions",
    ]
    for label, other in result.others:
        counts = other.snapshot.cumulative
        lines.append(
            f"  {label}: {counts.total_calls} calls, {counts.successful_calls} successful,"
            f" {counts.failed_calls} failed, {counts.retransmissions} retransmissions"
        )
    failed = result.main.snapshot.cumulative.failed_calls
    if plan.reproduce_command is not None and (
        failed or result.exit_status not in (ExitStatus.SUCCESS, ExitStatus.NO_CALLS)
    ):
        lines.append(f"Reproduce with: {plan.reproduce_command}")
    return "\n".join(lines) + "\n"


class _Runner:
    """State of one simulation (inside and just after ``trio.run``)."""

    def __init__(self, plan: SimulationPlan) -> None:
        self.plan = plan
        self.wall = SimWallClock(plan.epoch_s)
        self.commands: list[str] = []
        self.trace_errors: list[str] = []
        self.files: list[str] = []
        self.screens = ""
        self.hep_packets: list[bytes] = []

    def _plan(
        self,
        side: SimSide,
        network: SimNetwork,
        remote: Address | None,
        role: str,
        twin: TwinSetup | None = None,
    ) -> RunPlan:
        commands = self.commands

        def skip_command(command: str) -> None:
            commands.append(command)

        async def settle(purpose: str) -> None:
            # Timer-driven decisions (pacing, ramp steps, timeout, dumps) see the whole of
            # their instant, one at a time in key order (network docstring, point 5).
            rank = _SETTLE_ORDER.get(purpose, len(_SETTLE_ORDER))
            await network.wait_instant_end(f"{role}:{rank}:{purpose}")

        return RunPlan(
            scenario=side.scenario,
            config=side.config,
            transports=SimTransportFactory(network, side.host),
            wall_clock=self.wall,
            local_ip=side.host,
            bind_host=side.host,
            remote=remote,
            pid=side.pid,
            seed=derive_seed(self.plan.seed, role),
            directory=self.plan.directory,
            traces=role == "main",
            sorted_rtt_samples=True,
            settle=settle,
            shell_runner=skip_command,
            channel_layer=channel_layer_for(
                side.config, is_server=side.scenario.is_server, ephemeral_certificate=True
            ),
            ooc_scenario=side.ooc_scenario,
            rx_scenario=side.rx_scenario,
            twin=twin,
        )

    async def _open_mixed(
        self, stack: contextlib.AsyncExitStack, network: SimNetwork
    ) -> tuple[Run, Run]:
        """Two mixed-mode sides: each needs the other's address. The peer binds the first
        free port of its fresh simulated host (5060 unless -p), known before it opens."""
        main, peer = self.plan.main, self.plan.peer
        peer_address = (peer.host, peer.config.transport.local_port or FIRST_DEFAULT_PORT)
        main_run = await stack.enter_async_context(
            open_run(self._plan(main, network, peer_address, "main"))
        )
        peer_run = await stack.enter_async_context(
            open_run(self._plan(peer, network, main_run.engine.local_address, "peer"))
        )
        if peer_run.engine.local_address != peer_address:
            raise ConfigError(
                f"gossipper sim: the mixed-mode peer bound {peer_run.engine.local_address},"
                f" not {peer_address}"
            )
        return main_run, peer_run

    async def simulate(self) -> SimulationResult:
        plan = self.plan
        main, peer = plan.main, plan.peer
        network = SimNetwork(
            derive_seed(plan.seed, "network"),
            plan.faults,
            record_payloads=plan.record_payloads,
            max_rounds_per_instant=plan.max_rounds_per_instant,
            max_events=DEFAULT_MAX_EVENTS if plan.record_events else 0,
        )
        if plan.three_pcc is not None:
            return await self._simulate_3pcc(network, plan.three_pcc)
        async with trio.open_nursery() as nursery:
            await nursery.start(network.run)
            if main.config.traces.hep_addr is not None:
                await nursery.start(self._collect_hep, network, main.config)
            # The server side opens first: the client needs its address (host:5060 by default).
            server, client = (main, peer) if main.scenario.is_server else (peer, main)
            server_role = "main" if server is main else "peer"
            client_role = "main" if client is main else "peer"
            async with contextlib.AsyncExitStack() as stack:
                if _is_mixed(plan):
                    main_run, peer_run = await self._open_mixed(stack, network)
                else:
                    server_run = await stack.enter_async_context(
                        open_run(self._plan(server, network, None, server_role))
                    )
                    client_run = await stack.enter_async_context(
                        open_run(
                            self._plan(
                                client, network, server_run.engine.local_address, client_role
                            )
                        )
                    )
                    main_run, peer_run = (
                        (server_run, client_run) if server is main else (client_run, server_run)
                    )
                peer_done = trio.Event()
                peer_results: list[EngineResult] = []

                async def run_peer() -> None:
                    peer_results.append(await peer_run.run())
                    peer_done.set()

                nursery.start_soon(run_peer)
                # The run is the main side's. Its outputs are final when it ends; then the peer
                # gets a soft quit and some virtual time to finish its calls (the uas ends each
                # call with a 4 s pause), so that its line in the report tells what happened.
                main_result = await main_run.run()
                end_time_s = trio.current_time()
                report = main_run.finish(main_result)
                self.screens = report.exit_screens
                self.trace_errors.extend(report.problems)
                self.files.extend(report.files)
                peer_run.engine.soft_quit("main side ended")
                with trio.move_on_after(PEER_DRAIN_S):
                    await peer_done.wait()
                peer_run.engine.interrupt()
                await peer_done.wait()
            nursery.cancel_scope.cancel()
        if main.config.traces.summary_json:
            path = os.path.join(plan.directory, main.config.traces.summary_json)
            write_json_atomic(path, main_run.summary_document(main_result, plan.tool_version))
            self.files.append(path)
        if main.config.traces.hep_addr is not None:
            self._write_hep_capture()
        return SimulationResult(
            exit_status=main_result.exit_status,
            main=main_result,
            peer=peer_results[0],
            network=network.statistics(),
            events=tuple(network.events()),
            end_time_s=end_time_s,
            files=tuple(sorted(self.files)),
            skipped_commands=len(self.commands),
            payloads=network.payloads(),
        )

    async def _collect_hep(
        self,
        network: SimNetwork,
        config: RunConfig,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """The capture server of ``-hep_addr`` on the simulated network: it keeps every HEP3
        packet it receives, in arrival order, for ``hep_capture.log``."""
        target = split_host_port(config.traces.hep_addr)
        assert target is not None  # RunConfig validated it
        factory = SimTransportFactory(network, target[0])
        if config.traces.hep_transport == "tcp":
            listener = await factory.open_stream_listener(*target)
            task_status.started()
            async with trio.open_nursery() as readers:
                while True:
                    connection = await listener.accept()
                    readers.start_soon(self._read_hep_stream, connection)
        endpoint = await factory.open_datagram(*target)
        task_status.started()
        while True:
            for data, _ in await endpoint.receive_batch():
                self.hep_packets.append(data)

    async def _read_hep_stream(self, connection: StreamConnection) -> None:
        buffer = bytearray()
        while data := await connection.receive_some(65536):
            buffer += data
            self.hep_packets.extend(split_stream(buffer))

    def _write_hep_capture(self) -> None:
        path = os.path.join(self.plan.directory, HEP_CAPTURE_FILE)
        with open(path, "w", encoding="latin-1", newline="") as capture:
            for data in self.hep_packets:
                try:
                    capture.write(describe(decode(data)) + "\n")
                except HepError as exc:
                    capture.write(f"not HEP3: {exc}\n\n")
        self.files.append(path)

    async def _simulate_3pcc(self, network: SimNetwork, sides: ThreePccSides) -> SimulationResult:
        """Four engines: each controller with its SIP server, the controllers linked by the
        command channel. Servers open first, then controller B (it listens for commands),
        then controller A (it connects at start-up). The run is the main side's; when it
        ends the others get a soft quit and PEER_DRAIN_S of virtual time, as the peer of a
        two-sided run."""
        plan = self.plan
        main = plan.main
        main_is_a = main.scenario.twin_role is TwinRole.CONTROLLER_A
        controller_a, controller_b = (main, sides.twin) if main_is_a else (sides.twin, main)
        server_a, server_b = (
            (plan.peer, sides.twin_peer) if main_is_a else (sides.twin_peer, plan.peer)
        )
        roles = {
            id(main): "main",
            id(plan.peer): "peer",
            id(sides.twin): "twin",
            id(sides.twin_peer): "twin_peer",
        }
        command_address = TwinSetup(twin=(controller_b.host, sides.command_port))
        async with trio.open_nursery() as nursery:
            await nursery.start(network.run)
            async with contextlib.AsyncExitStack() as stack:
                runs = {}
                for server in (server_a, server_b):
                    runs[id(server)] = await stack.enter_async_context(
                        open_run(self._plan(server, network, None, roles[id(server)]))
                    )
                for controller, server in ((controller_b, server_b), (controller_a, server_a)):
                    remote = runs[id(server)].engine.local_address
                    runs[id(controller)] = await stack.enter_async_context(
                        open_run(
                            self._plan(
                                controller, network, remote, roles[id(controller)], command_address
                            )
                        )
                    )
                main_run = runs[id(main)]
                others = [plan.peer, sides.twin, sides.twin_peer]
                results: dict[int, EngineResult] = {}
                done = {id(side): trio.Event() for side in others}

                async def run_other(side: SimSide) -> None:
                    results[id(side)] = await runs[id(side)].run()
                    done[id(side)].set()

                for side in others:
                    nursery.start_soon(run_other, side)
                main_result = await main_run.run()
                end_time_s = trio.current_time()
                report = main_run.finish(main_result)
                self.screens = report.exit_screens
                self.trace_errors.extend(report.problems)
                self.files.extend(report.files)
                # The twin first (its calls still talk to its server), then the servers.
                for side in (sides.twin, plan.peer, sides.twin_peer):
                    runs[id(side)].engine.soft_quit("main side ended")
                    with trio.move_on_after(PEER_DRAIN_S):
                        await done[id(side)].wait()
                for side in others:
                    runs[id(side)].engine.interrupt()
                    await done[id(side)].wait()
            nursery.cancel_scope.cancel()
        if main.config.traces.summary_json:
            path = os.path.join(plan.directory, main.config.traces.summary_json)
            write_json_atomic(path, main_run.summary_document(main_result, plan.tool_version))
            self.files.append(path)
        if main.config.traces.hep_addr is not None:
            self._write_hep_capture()
        return SimulationResult(
            exit_status=main_result.exit_status,
            main=main_result,
            peer=results[id(plan.peer)],
            network=network.statistics(),
            events=tuple(network.events()),
            end_time_s=end_time_s,
            files=tuple(sorted(self.files)),
            skipped_commands=len(self.commands),
            payloads=network.payloads(),
            others=(
                (f"Twin {sides.twin.scenario.base_name}", results[id(sides.twin)]),
                (f"Twin's peer {sides.twin_peer.scenario.base_name}", results[id(sides.twin_peer)]),
            ),
        )
