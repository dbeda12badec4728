"""The registry of a single CLI run (``gossipper ... -api_addr HOST:PORT``): one run, named
``main``, that the API can read and steer but not replace (``manages_runs`` is False)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gossipper.api.seams import HostedRun, RegistryError, RunState, SessionView
from gossipper.control import Controller
from gossipper.engine import EngineResult, QuitState

__all__ = ["SINGLE_RUN_NAME", "SingleRun", "SingleRunRegistry"]

SINGLE_RUN_NAME = "main"
"""The name of a CLI run in the API (``/api/v1/runs/main``) and in metrics (``run="main"``)."""


class SingleRun:
    """The CLI's run as a ``HostedRun`` (a ``session.Run``, or a ``-workers`` group)."""

    def __init__(
        self, session: SessionView, controller: Controller, spec: Mapping[str, Any]
    ) -> None:
        self._session = session
        self._controller = controller
        self._spec = dict(spec)
        self._result: EngineResult | None = None

    def finished(self, result: EngineResult) -> None:
        """The run has ended: statistics stay readable, commands are refused."""
        self._result = result

    @property
    def name(self) -> str:
        return SINGLE_RUN_NAME

    @property
    def state(self) -> RunState:
        if self._result is not None:
            return "failed" if self._result.fatal_message else "finished"
        if self._session.engine.statistics().quit_state is not QuitState.RUNNING:
            return "stopping"
        return "running"

    @property
    def spec(self) -> Mapping[str, Any]:
        return self._spec

    @property
    def session(self) -> SessionView | None:
        # A finished CLI run keeps its session: its final statistics are read from it.
        return self._session

    @property
    def controller(self) -> Controller | None:
        return self._controller if self._result is None else None

    @property
    def result(self) -> EngineResult | None:
        return self._result

    @property
    def error(self) -> str | None:
        return self._result.fatal_message if self._result is not None else None


class SingleRunRegistry:
    """A ``RunRegistry`` of one run that cannot create, start or delete others."""

    def __init__(self, run: SingleRun) -> None:
        self.run = run

    @property
    def manages_runs(self) -> bool:
        return False

    def runs(self) -> Sequence[HostedRun]:
        return (self.run,)

    def get(self, name: str) -> HostedRun | None:
        return self.run if name == SINGLE_RUN_NAME else None

    def _refuse(self, what: str) -> RegistryError:
        return RegistryError(
            "not_server_mode",
            f"{what} needs gossipper server; this process runs one run ({SINGLE_RUN_NAME!r})",
        )

    async def create(self, name: str, spec: Mapping[str, Any], *, start: bool) -> HostedRun:
        raise self._refuse("creating a run")

    async def start(self, name: str) -> None:
        raise self._refuse("starting a run")

    async def stop(self, name: str, *, force: bool) -> None:
        if name != SINGLE_RUN_NAME:
            raise RegistryError("not_found", f"no run named {name!r}")
        controller = self.run.controller
        if controller is None:
            raise RegistryError("conflict", f"run {name!r} has already ended")
        if force:
            controller.engine.force_quit("stopped through the API (force)")
        else:
            controller.engine.soft_quit("stopped through the API")

    async def delete(self, name: str) -> None:
        raise self._refuse("deleting a run")
