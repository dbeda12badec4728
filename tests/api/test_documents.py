"""The API's run document asks a live engine for its statistics once per frame, so its
control block, summary and scenario table describe one instant (and a live feed frame costs
one snapshot)."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import Any

import trio

from gossipper.api.documents import run_document
from gossipper.engine import EngineStatistics
from gossipper.server.host import ServerRegistry, ServerRun
from gossipper.stats import StatsSnapshot

TIMEOUT_S = 30


class CountingEngine:
    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.statistics_calls = 0

    def statistics(self) -> EngineStatistics:
        self.statistics_calls += 1
        result: EngineStatistics = self._engine.statistics()
        return result


class CountingSession:
    """The run's session, with every engine snapshot counted (the real engine is compiled
    in CI, so it is wrapped rather than patched)."""

    def __init__(self, run: Any) -> None:
        self._run = run
        self.engine = CountingEngine(run.engine)

    def live_summary_document(
        self, tool_version: str, snapshot: StatsSnapshot | None = None
    ) -> dict[str, Any]:
        if snapshot is None:
            snapshot = self.engine.statistics().snapshot
        document: dict[str, Any] = self._run.live_summary_document(tool_version, snapshot)
        return document


class CountedRun:
    def __init__(self, run: ServerRun) -> None:
        self._run = run
        self.session = CountingSession(run.session)
        self.controller = run.controller
        self.result = None
        self.name = run.name
        self.state = run.state
        self.error = run.error
        self.spec: Mapping[str, Any] = run.spec


def test_a_live_run_document_takes_one_engine_snapshot(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        with trio.fail_after(TIMEOUT_S):
            async with trio.open_nursery() as nursery:
                registry = ServerRegistry(
                    nursery, base_dir=str(tmp_path), output_dir=str(tmp_path), log=print
                )
                await registry.create(
                    "uas", {"sn": "uas", "local_ip": "127.0.0.1", "local_port": 0}, start=True
                )
                run = registry.get("uas")
                assert run is not None and run.session is not None
                counted = CountedRun(run)
                document = run_document(counted, "test", statistics=True)  # type: ignore[arg-type]
                assert counted.session.engine.statistics_calls == 1
                assert document["control"]["is_server"] is True
                assert document["statistics"] is not None
                assert document["elements"]
                document = run_document(counted, "test", statistics=False)  # type: ignore[arg-type]
                assert counted.session.engine.statistics_calls == 2
                await registry.delete("uas")

    trio.run(main)
