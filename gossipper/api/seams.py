"""What the API serves, as protocols: the runs it can see and steer, and who may do what.

The API never reaches into an engine: it reads a run through ``HostedRun`` (its session
``Run``, whose ``engine.statistics()`` and screens are public, and the ``Controller`` that
every front end uses) and manages runs through ``RunRegistry``. A single run with
``-api_addr`` is a registry of one run that cannot create others; ``gossipper server`` is a
registry that can. Users and tokens come through ``Authenticator``.

This module imports no web framework, so the implementers (``gossipper.server``, the CLI)
can name these types without loading Quart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from gossipper.control import Controller
    from gossipper.engine import EngineResult, EngineStatistics
    from gossipper.stats import StatsSnapshot

__all__ = [
    "ROLES",
    "RUN_STATES",
    "Authenticator",
    "HostedRun",
    "Principal",
    "RegistryError",
    "SessionView",
    "StatisticsSource",
    "Role",
    "RunRegistry",
    "RunState",
]

RunState = Literal["created", "starting", "running", "stopping", "finished", "failed"]
RUN_STATES: tuple[RunState, ...] = (
    "created",
    "starting",
    "running",
    "stopping",
    "finished",
    "failed",
)

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
"""In order of power: a viewer reads; an operator also steers runs (rate, pause, users,
limits, stop, reset); an admin also creates and deletes runs and manages users."""


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid token speaks for."""

    user: str
    role: Role

    def may(self, needed: Role) -> bool:
        """Whether this role is at least ``needed``."""
        return ROLES.index(self.role) >= ROLES.index(needed)


class RegistryError(Exception):
    """A run-management request that cannot be done; ``code`` is stable (the API's error
    code), the message says why and what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class StatisticsSource(Protocol):
    """What the API reads of a live run's engine (``Engine``, or the merged workers of a
    ``-workers`` run)."""

    def statistics(self) -> EngineStatistics: ...


class SessionView(Protocol):
    """What the API reads of a live run (``session.Run``, or a ``-workers`` group)."""

    @property
    def engine(self) -> StatisticsSource: ...

    def live_summary_document(
        self, tool_version: str, snapshot: StatsSnapshot | None = None
    ) -> dict[str, Any]: ...


class HostedRun(Protocol):
    """One run the API can see: a UAC or UAS engine with its session."""

    @property
    def name(self) -> str: ...

    @property
    def state(self) -> RunState: ...

    @property
    def spec(self) -> Mapping[str, Any]:
        """The JSON configuration it was made from (no secrets)."""
        ...

    @property
    def session(self) -> SessionView | None:
        """The live session run while it is starting, running or stopping; else None."""
        ...

    @property
    def controller(self) -> Controller | None:
        """The command API of the live run; None when it is not running."""
        ...

    @property
    def result(self) -> EngineResult | None:
        """How the last run of it ended (state finished); else None."""
        ...

    @property
    def error(self) -> str | None:
        """Why it failed to start or stopped with an error (state failed); else None."""
        ...


class RunRegistry(Protocol):
    """The runs of this process."""

    @property
    def manages_runs(self) -> bool:
        """True in server mode: create/start/stop/delete work. A single run says False and
        its ``create``/``start``/``delete`` raise ``RegistryError("not_server_mode", ...)``."""
        ...

    def runs(self) -> Sequence[HostedRun]: ...

    def get(self, name: str) -> HostedRun | None: ...

    async def create(self, name: str, spec: Mapping[str, Any], *, start: bool) -> HostedRun:
        """A new run from a JSON configuration (the server config's per-run object).

        Raises RegistryError: ``conflict`` (name taken), ``bad_config`` (the message names the
        key and the fix), ``not_server_mode``.
        """
        ...

    async def start(self, name: str) -> None:
        """Start a created or finished run (``not_found``, ``conflict`` if running)."""
        ...

    async def stop(self, name: str, *, force: bool) -> None:
        """Soft stop (no new calls; returns at once) or forced (abort calls)."""
        ...

    async def delete(self, name: str) -> None:
        """Forget a run, stopping it first (forced) if it is live."""
        ...


class Authenticator(Protocol):
    """Users, passwords and tokens (``gossipper.api.auth``)."""

    async def login(self, user: str, password: str, client: str) -> str:
        """A signed short-lived token for a valid user and password.

        ``client`` is the caller's address, for slowing down repeated failures. Raises
        ``gossipper.api.auth.LoginError`` (wrong user or password, same message for both).
        """
        ...

    def verify(self, token: str) -> Principal:
        """The principal of a valid token. Raises ``gossipper.api.auth.TokenError`` with a
        reason (missing, malformed, expired, bad signature, wrong audience/issuer, unknown
        role)."""
        ...

    def audit(
        self, principal: Principal, action: str, target: str, detail: str, outcome: str = "ok"
    ) -> None:
        """Append one line to the audit log: who did what to which run, and the outcome
        (``ok``, ``refused``: the role was too weak, ``failed``: the command was refused
        for another reason, the code in ``detail``)."""
        ...
