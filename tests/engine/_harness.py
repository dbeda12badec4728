"""Run engines under virtual time on the in-memory network (no real socket, no wall clock)."""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio
import trio.testing

from gossipper.config import RunConfig
from gossipper.engine import Engine, EngineResult
from gossipper.interfaces import Address
from gossipper.scenario import Scenario, builtin_path, load_scenario
from gossipper.session import Run, RunPlan, open_run
from gossipper.sim import SimNetwork, SimTransportFactory, SimWallClock

CLIENT = "10.0.0.1"
SERVER = "10.0.0.2"
SERVER_PORT = 5060
EPOCH_S = 1_800_000_000.0


def builtin(name: str) -> Scenario:
    return load_scenario(str(builtin_path(name)), builtin_name=name)


def scenario_text(tmp_path: pathlib.Path, name: str, text: str) -> Scenario:
    path = tmp_path / name
    path.write_text(text)
    return load_scenario(str(path))


def make_plan(
    network: SimNetwork,
    scenario: Scenario,
    *,
    host: str,
    role: str,
    remote: Address | None,
    pid: int,
    transports: Any = None,
    directory: pathlib.Path | None = None,
    **options: Any,
) -> RunPlan:
    """A simulated run's plan, as ``gossipper sim`` builds them; trace files (sorted as the
    sim writes them) only when given a ``directory``."""
    config = RunConfig(**{"local_ip": host, "nostdin": True, **options})
    return RunPlan(
        scenario=scenario,
        config=config,
        transports=transports or SimTransportFactory(network, host),
        wall_clock=SimWallClock(EPOCH_S),
        local_ip=host,
        bind_host=host,
        remote=remote,
        pid=pid,
        seed=pid,
        directory=str(directory or "."),
        traces=directory is not None,
        sorted_rtt_samples=True,
        settle=lambda purpose: network.wait_instant_end(f"{role}:{purpose}"),
    )


@dataclass
class PairResult:
    client: EngineResult
    server: EngineResult | None
    client_engine: Engine
    server_engine: Engine | None
    duration_s: float
    extra: dict[str, Any] = field(default_factory=dict)


def run_pair(
    client_scenario: Scenario,
    server_scenario: Scenario | None,
    *,
    client_options: dict[str, Any] | None = None,
    server_options: dict[str, Any] | None = None,
    seed: int = 1,
    during: Callable[[SimNetwork, Engine, Engine | None], Awaitable[None]] | None = None,
    client_transports: Callable[[Any], Any] | None = None,
    directory: pathlib.Path | None = None,
    network_max_events: int | None = None,
) -> PairResult:
    """Client engine against a server engine (or none) under MockClock; both stop by themselves.

    With a ``directory`` both sides write the trace files their options ask for there (the
    client as pid 100, the server as pid 200).
    """

    async def main() -> PairResult:
        network = (
            SimNetwork(seed)
            if network_max_events is None
            else SimNetwork(seed, max_events=network_max_events)
        )
        async with trio.open_nursery() as nursery, contextlib.AsyncExitStack() as stack:
            await nursery.start(network.run)
            server_run: Run | None = None
            if server_scenario is not None:
                server_plan = make_plan(
                    network,
                    server_scenario,
                    host=SERVER,
                    role="server",
                    remote=None,
                    pid=200,
                    directory=directory,
                    local_port=SERVER_PORT,
                    **(server_options or {}),
                )
                server_run = await stack.enter_async_context(open_run(server_plan))
            client_factory: Any = SimTransportFactory(network, CLIENT)
            if client_transports is not None:
                # Wrap the client's transport factory (e.g. to simulate a full socket buffer).
                client_factory = client_transports(client_factory)
            client_plan = make_plan(
                network,
                client_scenario,
                host=CLIENT,
                role="client",
                remote=(SERVER, SERVER_PORT),
                pid=100,
                transports=client_factory,
                directory=directory,
                local_port=5061,
                **(client_options or {}),
            )
            client_run = await stack.enter_async_context(open_run(client_plan))
            client_engine = client_run.engine
            server_engine = server_run.engine if server_run is not None else None
            server_result: list[EngineResult] = []
            server_done = trio.Event()

            async def run_server() -> None:
                assert server_run is not None
                server_result.append(await server_run.run())
                server_done.set()

            if server_run is not None:
                nursery.start_soon(run_server)
            if during is not None:
                nursery.start_soon(during, network, client_engine, server_engine)
            started = trio.current_time()
            client_result = await client_run.run()
            duration = trio.current_time() - started
            if server_engine is not None:
                # Let the server finish its timewaits, then stop it.
                with trio.move_on_after(60):
                    while server_engine.statistics().open_calls:  # noqa: ASYNC110 - virtual time
                        await trio.sleep(0.5)
                server_engine.interrupt()
                await server_done.wait()
            nursery.cancel_scope.cancel()
        return PairResult(
            client=client_result,
            server=server_result[0] if server_result else None,
            client_engine=client_engine,
            server_engine=server_engine,
            duration_s=duration,
        )

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
