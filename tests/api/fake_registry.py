"""A registry of runs that never start (no engine): enough for routes, roles and errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gossipper.api.seams import HostedRun, RegistryError, RunState

if TYPE_CHECKING:
    from gossipper.control import Controller
    from gossipper.engine import EngineResult
    from gossipper.session import Run


class IdleRun:
    def __init__(self, name: str, spec: Mapping[str, Any]) -> None:
        self._name = name
        self._spec = dict(spec)
        self._state: RunState = "created"

    @property
    def name(self) -> str:
        return self._name

    @property
    def state(self) -> RunState:
        return self._state

    @property
    def spec(self) -> Mapping[str, Any]:
        return self._spec

    @property
    def session(self) -> Run | None:
        return None

    @property
    def controller(self) -> Controller | None:
        return None

    @property
    def result(self) -> EngineResult | None:
        return None

    @property
    def error(self) -> str | None:
        return None


class IdleRegistry:
    """Server mode: create/delete work; start fails with a RegistryError of the test's
    choosing (``start_error``)."""

    def __init__(self) -> None:
        self._runs: dict[str, IdleRun] = {"idle": IdleRun("idle", {"scenario": "uas"})}
        self.start_error: RegistryError | None = RegistryError("conflict", "it is running")
        self.calls: list[tuple[str, str]] = []

    @property
    def manages_runs(self) -> bool:
        return True

    def runs(self) -> Sequence[HostedRun]:
        return list(self._runs.values())

    def get(self, name: str) -> HostedRun | None:
        return self._runs.get(name)

    async def create(self, name: str, spec: Mapping[str, Any], *, start: bool) -> HostedRun:
        self.calls.append(("create", name))
        if name in self._runs:
            raise RegistryError("conflict", f"a run named {name!r} exists")
        if "rate" in spec and not isinstance(spec["rate"], int | float):
            raise RegistryError("bad_config", "rate: must be a number >= 0")
        self._runs[name] = IdleRun(name, spec)
        return self._runs[name]

    async def start(self, name: str) -> None:
        self.calls.append(("start", name))
        if name not in self._runs:
            raise RegistryError("not_found", f"no run named {name!r}")
        if self.start_error is not None:
            raise self.start_error

    async def stop(self, name: str, *, force: bool) -> None:
        self.calls.append(("stop", name))

    async def delete(self, name: str) -> None:
        self.calls.append(("delete", name))
        if self._runs.pop(name, None) is None:
            raise RegistryError("not_found", f"no run named {name!r}")
