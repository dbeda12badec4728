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
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

import trio

from gossipper.config import RunConfig
from gossipper.engine import Engine, EngineResult
from gossipper.engine.screens import display_snapshot, screen_context, screen_dump
from gossipper.errors import ConfigError, ExitStatus, GossipperError
from gossipper.interfaces import Address
from gossipper.output import (
    TraceFiles,
    exit_screens,
    summary_document,
    trace_files_wanted,
    write_json_atomic,
)
from gossipper.scenario import RunEnv, Scenario
from gossipper.sim.clock import DEFAULT_EPOCH_S, SimWallClock, new_virtual_clock
from gossipper.sim.faults import FaultPlan
from gossipper.sim.network import (
    MAX_ROUNDS_PER_INSTANT,
    NetworkEvent,
    NetworkStatistics,
    SimNetwork,
)
from gossipper.sim.transport import SimTransportFactory

__all__ = [
    "CLIENT_HOST",
    "MAIN_PID",
    "PEER_DRAIN_S",
    "PEER_PID",
    "SERVER_HOST",
    "SimSide",
    "SimulationPlan",
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
PEER_DRAIN_S = 64.0
"""Virtual seconds the peer may take to finish its calls after the main side ended (64 x T1,
the longest SIPp transaction timer with default settings)."""


_SETTLE_ORDER = {"timeout": 0, "pacing": 1, "dump": 2}
"""Order of an engine's end-of-instant decisions: a global timeout at t wins over the calls due
at t (none is started, as the run ends), and a statistics dump at t sees the calls started at
t. The main side decides before the peer."""


def derive_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for one purpose (``"network"``, ``"main"``, ``"peer"``) of a simulation.

    blake2b of ``"{seed}:{purpose}"``: independent of PYTHONHASHSEED and the platform.
    """
    digest = hashlib.blake2b(f"{seed}:{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass(frozen=True, slots=True)
class SimSide:
    """One engine of a simulation: its scenario, settings, run environment and identity.

    ``env`` is built by the caller as for a real run (injection files loaded); its
    ``wall_time`` and ``clock_ms`` are replaced by virtual ones. ``host`` is a name inside the
    simulation only.
    """

    scenario: Scenario
    config: RunConfig
    env: RunEnv
    host: str
    pid: int


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
    max_rounds_per_instant: int = MAX_ROUNDS_PER_INSTANT
    """Rounds at one virtual instant after which the run stops as stalled (SimulationStalled)."""


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


@contextlib.contextmanager
def utc_local_time() -> Iterator[None]:
    """Make the process's local time zone UTC for the block (keywords such as ``[timestamp]``
    and the screens print local time); restored afterwards."""
    if not hasattr(time, "tzset"):  # pragma: no cover - Windows: tz-explicit formatters only
        yield
        return
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


def run_simulation(plan: SimulationPlan, stdout: TextIO, stderr: TextIO) -> SimulationResult:
    """Run ``plan`` under virtual time; print the screens, write the files; never blocks on I/O.

    stdout gets the main side's exit screens (as a real run), a simulation block (seed,
    network counters, the peer's fate) and, when calls failed, the command that reproduces
    the run.
    """
    _check_plan(plan)
    with utc_local_time():
        runner = _Runner(plan)
        try:
            result = trio.run(runner.simulate, clock=new_virtual_clock())
        except BaseExceptionGroup as group:
            # Our own errors (a stalled simulation) leave as themselves, with their message.
            matched, _ = group.split(GossipperError)
            if matched is None:
                raise
            raise _first_leaf(matched) from group
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


def _first_leaf(group: BaseExceptionGroup[GossipperError]) -> GossipperError:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


def _check_plan(plan: SimulationPlan) -> None:
    if plan.main.scenario.is_server == plan.peer.scenario.is_server:
        role = "server" if plan.main.scenario.is_server else "client"
        raise ConfigError(
            f"gossipper sim: both sides run {role} scenarios; the peer must be the other role"
            " (e.g. -sn uac with -peer uas)"
        )
    if plan.main.host == plan.peer.host:
        raise ConfigError("gossipper sim: the two sides need different simulated hosts")


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
        f"  Peer {plan.peer.scenario.base_name}: {peer.total_calls} calls,"
        f" {peer.successful_calls} successful, {peer.failed_calls} failed,"
        f" {peer.retransmissions} retransmissions",
    ]
    failed = result.main.snapshot.cumulative.failed_calls
    if plan.reproduce_command is not None and (
        failed or result.exit_status not in (ExitStatus.SUCCESS, ExitStatus.NO_CALLS)
    ):
        lines.append(f"Reproduce with: {plan.reproduce_command}")
    return "\n".join(lines) + "\n"


class _SimTraceFiles(TraceFiles):
    """``TraceFiles`` with RTD samples of one instant in a stable order.

    Samples arrive in time order, but calls finishing at the same instant add theirs in the
    order Trio ran them. Sorting the tuples keeps the time order and fixes the ties by content
    (equal tuples are indistinguishable). Every other record of one instant is already written
    sorted by Call-ID (calls) or text (warnings, logs) by ``TraceFiles`` itself.
    """

    def write_rtt(self, samples: Iterable[tuple[float, float, str]]) -> None:
        super().write_rtt(sorted(samples))


class _Runner:
    """State of one simulation (inside and just after ``trio.run``)."""

    def __init__(self, plan: SimulationPlan) -> None:
        self.plan = plan
        self.wall = SimWallClock(plan.epoch_s)
        self.commands: list[str] = []
        self.trace_errors: list[str] = []
        self.files: list[str] = []
        self.screens = ""

    def _engine(
        self, side: SimSide, network: SimNetwork, remote: Address | None, role: str
    ) -> Engine:
        env = side.env
        env.wall_time = self.wall.wall_time
        env.pid = side.pid
        env.local_ip = side.host
        if remote is not None:
            env.remote_host = env.remote_host or remote[0]
            env.remote_ip, env.remote_port = remote
        commands = self.commands

        def skip_command(command: str) -> None:
            commands.append(command)

        async def settle(purpose: str) -> None:
            # Timer-driven decisions (pacing, ramp steps, timeout, dumps) see the whole of
            # their instant, one at a time in key order (network docstring, point 5).
            rank = _SETTLE_ORDER.get(purpose, len(_SETTLE_ORDER))
            await network.wait_instant_end(f"{role}:{rank}:{purpose}")

        engine = Engine(
            side.scenario,
            side.config,
            env=env,
            transports=SimTransportFactory(network, side.host),
            wall_clock=self.wall,
            remote=remote,
            bind_host=side.host,
            seed=derive_seed(self.plan.seed, role),
            shell_runner=skip_command,
            settle=settle,
        )

        def clock_ms() -> int:
            return int((trio.current_time() - engine.start_s) * 1000)

        env.clock_ms = clock_ms
        return engine

    def _open_traces(self, side: SimSide, engine: Engine) -> _SimTraceFiles | None:
        config = side.config
        if not trace_files_wanted(config):
            return None
        return _SimTraceFiles(
            config,
            scenario_name=side.scenario.base_name,
            pid=side.pid,
            directory=self.plan.directory,
            tz=datetime.UTC,
            now_wall=self.wall.wall_time,
            layout=engine.stats,
        )

    async def simulate(self) -> SimulationResult:
        plan = self.plan
        main, peer = plan.main, plan.peer
        network = SimNetwork(
            derive_seed(plan.seed, "network"),
            plan.faults,
            record_payloads=plan.record_payloads,
            max_rounds_per_instant=plan.max_rounds_per_instant,
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(network.run)
            # The server side opens first: the client needs its address (host:5060 by default).
            server, client = (main, peer) if main.scenario.is_server else (peer, main)
            server_engine = self._engine(
                server, network, None, "main" if server is main else "peer"
            )
            await server_engine.open()
            client_engine = self._engine(
                client, network, server_engine.local_address, "main" if client is main else "peer"
            )
            await client_engine.open()
            if server is main:
                main_engine, peer_engine = server_engine, client_engine
            else:
                main_engine, peer_engine = client_engine, server_engine
            traces = self._open_traces(main, main_engine)
            main_engine.tracer = traces
            peer_done = trio.Event()
            peer_results: list[EngineResult] = []

            async def run_peer() -> None:
                peer_results.append(await peer_engine.run())
                peer_done.set()

            nursery.start_soon(run_peer)
            # The run is the main side's. Its outputs are final when it ends; then the peer
            # gets a soft quit and some virtual time to finish its calls (the uas ends each
            # call with a 4 s pause), so that its line in the report tells what happened.
            main_result = await main_engine.run()
            end_time_s = trio.current_time()
            self._report(main_engine, main_result, traces)
            peer_engine.soft_quit("main side ended")
            with trio.move_on_after(PEER_DRAIN_S):
                await peer_done.wait()
            peer_engine.interrupt()
            await peer_done.wait()
            nursery.cancel_scope.cancel()
        if main.config.summary_json:
            path = os.path.join(plan.directory, main.config.summary_json)
            document = summary_document(
                main_result.snapshot,
                target_rate=main_engine.stats.target_rate,
                scenario_name=main_engine.scenario.base_name,
                exit_code=int(main_result.exit_status),
                tool_version=plan.tool_version,
            )
            write_json_atomic(path, document)
            self.files.append(path)
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

    def _report(self, engine: Engine, result: EngineResult, traces: TraceFiles | None) -> None:
        """The exit screens and the exit dump of the trace files, as a real run (cli.run)."""
        shown = display_snapshot(engine)
        if traces is not None:
            traces.write_final(result.snapshot, screen_dump(engine, shown, terminated=False))
            traces.close()
            self.trace_errors.extend(traces.errors)
            self.files.extend(_existing(traces))
        self.screens = exit_screens(
            shown, server=engine.scenario.is_server, context=screen_context(engine)
        )


def _existing(traces: TraceFiles) -> list[str]:
    paths = [path for path in traces.paths.values() if os.path.exists(path)]
    for kind in traces.paths:
        paths.extend(traces.rotated_files(kind))
    return paths
