"""The API's commands, shared by the HTTP routes and the WebSocket: one table of what each
command needs (role, arguments) and one function that applies it.

Run commands go through the run's ``Controller`` (its engine's public commands) or the
``RunRegistry``; nothing here reaches inside an engine. Every command, refused or done, is
written to the audit log with the principal.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from gossipper.api.documents import control_document, run_document
from gossipper.api.seams import (
    Authenticator,
    HostedRun,
    Principal,
    RegistryError,
    Role,
    RunRegistry,
)

__all__ = [
    "COMMANDS",
    "REGISTRY_STATUS",
    "ApiError",
    "Command",
    "apply_command",
    "execute_command",
]


class ApiError(Exception):
    """A request the API answers with an error document: HTTP status, stable code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def document(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


REGISTRY_STATUS: dict[str, int] = {
    "not_found": 404,
    "conflict": 409,
    "bad_config": 400,
    "not_server_mode": 409,
}
"""HTTP status of each ``RegistryError`` code (another code answers 409)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Command:
    """One command: who may run it and what it does."""

    name: str
    role: Role
    summary: str
    value: str | None
    """The kind of ``value`` it needs (``"number"``, ``"integer"``), or None."""
    apply: Callable[[RunRegistry, str, Mapping[str, Any]], Awaitable[None]]
    needs_run: bool = True
    """Whether the named run must exist (every command but ``create``)."""


def _live(registry: RunRegistry, name: str) -> HostedRun:
    hosted = registry.get(name)
    if hosted is None:
        raise ApiError(404, "not_found", f"no run named {name!r} (GET /api/v1/runs lists them)")
    if hosted.controller is None or hosted.session is None:
        raise ApiError(409, "run_not_running", f"run {name!r} is {hosted.state}: start it first")
    return hosted


def _number(params: Mapping[str, Any], *, minimum: float) -> float:
    value = params.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiError(400, "bad_value", f"'value' must be a number >= {minimum:g}")
    if value < minimum:
        raise ApiError(400, "bad_value", f"'value' must be a number >= {minimum:g}, got {value}")
    return float(value)


def _integer(params: Mapping[str, Any], *, minimum: int) -> int:
    value = params.get("value")
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ApiError(400, "bad_value", f"'value' must be an integer >= {minimum}")
    return value


def _flag(params: Mapping[str, Any], key: str) -> bool:
    value = params.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", ""):
        return True
    if isinstance(value, str) and value.lower() in ("0", "false", "no"):
        return False
    raise ApiError(400, "bad_value", f"'{key}' must be true or false")


async def _rate(registry: RunRegistry, name: str, params: Mapping[str, Any]) -> None:
    value = _number(params, minimum=0.0)
    controller = _live(registry, name).controller
    assert controller is not None
    controller.engine.set_rate(value)


async def _pause(registry: RunRegistry, name: str, params: Mapping[str, Any]) -> None:
    controller = _live(registry, name).controller
    assert controller is not None
    controller.engine.pause(True)


async def _resume(registry: RunRegistry, name: str, params: Mapping[str, Any]) -> None:
    controller = _live(registry, name).controller
    assert controller is not None
    controller.engine.pause(False)


async def _users(registry: RunRegistry, name: str, params: Mapping[str, Any]) -> None:
    value = _integer(params, minimum=0)
    controller = _live(registry, name).controller
    assert controller is not None
    if controller.engine.statistics().users is None:
        raise ApiError(
            409, "not_users_mode", f"run {name!r} has no -users: change its rate instead"
        )
    controller.engine.set_users(value)


async def _limit(registry: RunRegistry, name: str, params: Mapping[str, Any]) -> None:
    value = _integer(params, minimum=1)
    controller = _live(registry, name).controller
    assert controller is not None
    controller.engine.set_call_limit(value)


async def _reset(registry: RunRegistry, name: str, params: Mapping[str, Any]) -> None:
    controller = _live(registry, name).controller
    assert controller is not None
    controller.engine.reset_stats()


async def _stop(registry: RunRegistry, name: str, params: Mapping[str, Any]) -> None:
    force = _flag(params, "force")
    _live(registry, name)
    await registry.stop(name, force=force)


async def _kill(registry: RunRegistry, name: str, params: Mapping[str, Any]) -> None:
    _live(registry, name)
    await registry.stop(name, force=True)


async def _start(registry: RunRegistry, name: str, params: Mapping[str, Any]) -> None:
    await registry.start(name)


async def _delete(registry: RunRegistry, name: str, params: Mapping[str, Any]) -> None:
    await registry.delete(name)


async def _create(registry: RunRegistry, name: str, params: Mapping[str, Any]) -> None:
    spec = params.get("spec")
    if not isinstance(spec, dict):
        raise ApiError(400, "bad_value", "'spec' must be a JSON object (the run's configuration)")
    await registry.create(name, spec, start=_flag(params, "start"))


COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        Command("rate", "operator", "set the call rate (calls per rate period)", "number", _rate),
        Command("pause", "operator", "stop creating new calls (running calls go on)", None, _pause),
        Command("resume", "operator", "create calls again after a pause", None, _resume),
        Command("users", "operator", "set the number of users (-users runs)", "integer", _users),
        Command("limit", "operator", "set the most calls open at once (-l)", "integer", _limit),
        Command("reset", "operator", "restart the cumulative statistics", None, _reset),
        Command(
            "stop",
            "operator",
            "soft stop: no new calls, the run ends when its calls end (force: abort them)",
            None,
            _stop,
        ),
        Command("kill", "operator", "forced stop: abort every call and end the run", None, _kill),
        Command("start", "operator", "start a created or finished run (server mode)", None, _start),
        Command("delete", "admin", "forget a run, stopping it first (server mode)", None, _delete),
        Command(
            "create",
            "admin",
            "a new run from a JSON configuration (server mode)",
            None,
            _create,
            needs_run=False,
        ),
    )
}


def _command(command_name: str) -> Command:
    command = COMMANDS.get(command_name)
    if command is None:
        known = ", ".join(sorted(COMMANDS))
        raise ApiError(400, "unknown_command", f"unknown command {command_name!r} ({known})")
    return command


async def execute_command(
    registry: RunRegistry, command_name: str, run_name: str, params: Mapping[str, Any]
) -> None:
    """Apply one command with no role check and no audit: the caller has decided that whoever
    asks may (``gossipper shell``, whose user owns the process). Raises ApiError, with a
    ``RegistryError`` turned into its API status."""
    command = _command(command_name)
    try:
        await command.apply(registry, run_name, params)
    except RegistryError as exc:
        raise ApiError(REGISTRY_STATUS.get(exc.code, 409), exc.code, exc.message) from None


async def apply_command(
    registry: RunRegistry,
    authenticator: Authenticator,
    principal: Principal,
    command_name: str,
    run_name: str,
    params: Mapping[str, Any],
    tool_version: str,
) -> dict[str, Any]:
    """Check the role, apply one command, audit it; the answer document or ApiError."""
    command = _command(command_name)
    detail = ""
    if command.value is not None and "value" in params:
        detail = f"value={params['value']!r}"
    if not principal.may(command.role):
        authenticator.audit(
            principal, command_name, run_name, f"needs {command.role}", outcome="refused"
        )
        raise ApiError(
            403,
            "forbidden",
            f"{command_name} needs the {command.role} role; {principal.user} is {principal.role}",
        )
    try:
        await execute_command(registry, command_name, run_name, params)
    except ApiError as exc:
        authenticator.audit(
            principal, command_name, run_name, f"{detail} {exc.code}".strip(), outcome="failed"
        )
        raise
    authenticator.audit(principal, command_name, run_name, detail)
    answer: dict[str, Any] = {"ok": True, "command": command_name, "run": run_name}
    hosted = registry.get(run_name)
    if hosted is not None:
        answer["state"] = hosted.state
        answer["control"] = control_document(hosted)
        if command_name == "create":
            answer["run_info"] = run_document(hosted, tool_version, statistics=False)
    return answer
