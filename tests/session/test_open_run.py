"""One way to build a run: plans are immutable, runs independent, several share a process."""

from __future__ import annotations

import contextlib
import pathlib
from typing import Any

import trio
import trio.testing

from gossipper.engine import EngineResult
from gossipper.session import Run, RunPlan, open_run
from gossipper.sim import SimNetwork
from tests.engine._harness import builtin, make_plan

EPOCH_S = 1_800_000_000.0


def _plan(
    network: SimNetwork,
    scenario_name: str,
    *,
    host: str,
    port: int,
    remote: tuple[str, int] | None,
    directory: pathlib.Path,
    **options: Any,
) -> RunPlan:
    return make_plan(
        network,
        builtin(scenario_name),
        host=host,
        role=host,
        remote=remote,
        pid=4000 + port,
        directory=directory,
        local_port=port,
        **options,
    )


def _pairs(
    directory: pathlib.Path, which: tuple[str, ...]
) -> tuple[dict[str, EngineResult], dict[str, str]]:
    """Run the named client/server pairs in ONE trio.run, all at once; results by client."""
    pairs = {
        # client scenario, server scenario, client host, server host, client options
        "uac": ("uac", "uas", "10.0.0.1", "10.0.0.2", {"max_calls": 20, "rate": 10}),
        "branch": (
            "branchc",
            "branchs",
            "10.0.1.1",
            "10.0.1.2",
            {"max_calls": 15, "rate": 5, "trace_stat": True, "trace_counts": True},
        ),
    }
    results: dict[str, EngineResult] = {}
    screens: dict[str, str] = {}

    async def main() -> None:
        network = SimNetwork(7)
        async with trio.open_nursery() as nursery, contextlib.AsyncExitStack() as stack:
            await nursery.start(network.run)
            servers: list[Run] = []

            async def one(name: str) -> None:
                client_name, server_name, client_host, server_host, options = pairs[name]
                server = await stack.enter_async_context(
                    open_run(
                        _plan(
                            network,
                            server_name,
                            host=server_host,
                            port=5060,
                            remote=None,
                            directory=directory,
                        )
                    )
                )
                servers.append(server)
                nursery.start_soon(server.run)
                client = await stack.enter_async_context(
                    open_run(
                        _plan(
                            network,
                            client_name,
                            host=client_host,
                            port=5061,
                            remote=(server_host, 5060),
                            directory=directory,
                            **options,
                        )
                    )
                )
                result = await client.run()
                results[name] = result
                screens[name] = client.finish(result).exit_screens

            async with trio.open_nursery() as clients:
                for name in which:
                    clients.start_soon(one, name)
            for server in servers:
                server.engine.interrupt()
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return results, screens


def test_two_runs_in_one_process_write_what_separate_runs_write(tmp_path: pathlib.Path) -> None:
    together, together_dir = tmp_path / "together", tmp_path / "alone"
    together.mkdir()
    together_dir.mkdir()
    both, both_screens = _pairs(together, ("uac", "branch"))
    alone: dict[str, EngineResult] = {}
    alone_screens: dict[str, str] = {}
    for name in ("uac", "branch"):
        result, screens = _pairs(together_dir, (name,))
        alone.update(result)
        alone_screens.update(screens)
    for name in ("uac", "branch"):
        assert both[name].snapshot.cumulative == alone[name].snapshot.cumulative
        assert both[name].exit_status == alone[name].exit_status
        assert both_screens[name] == alone_screens[name]
    assert both["uac"].snapshot.cumulative.successful_calls == 20
    assert both["branch"].snapshot.cumulative.successful_calls == 15
    # The trace files of the branch run are byte for byte those of the run alone.
    files = sorted(p.name for p in together.iterdir())
    assert files and files == sorted(p.name for p in together_dir.iterdir())
    for name in files:
        assert (together / name).read_bytes() == (together_dir / name).read_bytes(), name


def test_a_plan_opened_twice_gives_the_same_run(tmp_path: pathlib.Path) -> None:
    first, _ = _pairs(tmp_path, ("uac",))
    second, _ = _pairs(tmp_path, ("uac",))
    assert first["uac"].snapshot.cumulative == second["uac"].snapshot.cumulative
