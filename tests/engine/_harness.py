"""Run engines under virtual time on the in-memory network (no real socket, no wall clock)."""

from __future__ import annotations

import pathlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio
import trio.testing

from gossipper.config import RunConfig
from gossipper.engine import Engine, EngineResult
from gossipper.interfaces import Address
from gossipper.scenario import RunEnv, Scenario, builtin_path, load_scenario
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


def make_engine(
    network: SimNetwork,
    scenario: Scenario,
    *,
    host: str,
    role: str,
    remote: Address | None,
    pid: int,
    **options: Any,
) -> Engine:
    config = RunConfig(**{"local_ip": host, "nostdin": True, **options})
    env = RunEnv(
        service=config.service,
        remote_host=remote[0] if remote else "",
        remote_ip=remote[0] if remote else "",
        remote_port=remote[1] if remote else 5060,
        local_ip=host,
        media_ip=host,
        pid=pid,
        users=config.users or 0,
    )
    return Engine(
        scenario,
        config,
        env=env,
        transports=SimTransportFactory(network, host),
        wall_clock=SimWallClock(EPOCH_S),
        remote=remote,
        bind_host=host,
        seed=pid,
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
) -> PairResult:
    """Client engine against a server engine (or none) under MockClock; both stop by themselves."""

    async def main() -> PairResult:
        network = SimNetwork(seed)
        async with trio.open_nursery() as nursery:
            await nursery.start(network.run)
            server_engine: Engine | None = None
            if server_scenario is not None:
                server_engine = make_engine(
                    network,
                    server_scenario,
                    host=SERVER,
                    role="server",
                    remote=None,
                    pid=200,
                    local_port=SERVER_PORT,
                    **(server_options or {}),
                )
                await server_engine.open()
            client_engine = make_engine(
                network,
                client_scenario,
                host=CLIENT,
                role="client",
                remote=(SERVER, SERVER_PORT),
                pid=100,
                local_port=5061,
                **(client_options or {}),
            )
            if client_transports is not None:
                # Wrap the client's transport factory (e.g. to simulate a full socket buffer).
                client_engine.transports = client_transports(client_engine.transports)
            await client_engine.open()
            server_result: list[EngineResult] = []
            server_done = trio.Event()

            async def run_server() -> None:
                assert server_engine is not None
                server_result.append(await server_engine.run())
                server_done.set()

            if server_engine is not None:
                nursery.start_soon(run_server)
            if during is not None:
                nursery.start_soon(during, network, client_engine, server_engine)
            started = trio.current_time()
            client_result = await client_engine.run()
            duration = trio.current_time() - started
            if server_engine is not None:
                # Let the server finish its timewaits, then stop it.
                with trio.move_on_after(60):
                    while server_engine.calls:  # noqa: ASYNC110 - polling virtual time is free
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
