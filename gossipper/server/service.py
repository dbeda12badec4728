"""``Server``: the life of a ``gossipper server`` process, without its signals.

``serve`` hosts the runs of the configuration (starting those with ``autostart``) and, when
the configuration has ``api_addr``, the HTTP API, then waits; ``request_drain`` (SIGTERM,
SIGINT) stops every run letting calls end and makes ``serve`` return; ``reload`` (SIGHUP)
applies a new configuration: new runs are created, removed runs stopped and deleted, changed
runs replaced, unchanged runs left alone. Signals are process-global state, so the CLI
(``cli/server_command.py``) owns them and calls these methods.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Callable
from typing import Any

import trio

from gossipper import __version__
from gossipper.api.seams import RegistryError
from gossipper.server.config import RunSpec, ServerConfig, ServerConfigError
from gossipper.server.host import ServerRegistry

__all__ = ["API_MODULE", "AUTH_MODULE", "ApiEntryPoints", "Server", "api_entry_point"]

API_MODULE = "gossipper.api.serve"
"""Where ``serve_api`` lives (the ``api`` extra; branch ``api`` until merged)."""
AUTH_MODULE = "gossipper.api.auth"
"""Where ``open_authenticator`` lives (branch ``auth`` until merged)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ApiEntryPoints:
    """The two functions the server needs from the API package."""

    serve_api: Callable[..., Any]
    open_authenticator: Callable[..., Any]


def api_entry_point() -> ApiEntryPoints:
    """``serve_api`` and ``open_authenticator``, or a ServerConfigError when this build has
    no API.

    Imported by name so that a plain ``gossipper server`` without ``api_addr`` loads no web
    framework, and so this module type-checks whether or not the API modules exist yet.
    """
    found: list[Callable[..., Any]] = []
    for module_name, function in ((API_MODULE, "serve_api"), (AUTH_MODULE, "open_authenticator")):
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ServerConfigError(
                f"api_addr: the API is not available in this build ({exc}); install"
                " gossipper[api] or drop api_addr"
            ) from None
        entry: Callable[..., Any] | None = getattr(module, function, None)
        if entry is None:
            raise ServerConfigError(
                f"api_addr: the API is not available in this build ({module_name} has no"
                f" {function}); drop api_addr"
            )
        found.append(entry)
    return ApiEntryPoints(serve_api=found[0], open_authenticator=found[1])


class Server:
    """The runs of one configuration and, with ``api_addr``, the API over them."""

    def __init__(self, config: ServerConfig, *, log: Callable[[str], None]) -> None:
        self.config = config
        self._log = log
        self.registry: ServerRegistry | None = None
        self._drain_requested = trio.Event()
        self._draining = False
        self._reload_lock = trio.Lock()
        self._from_config: set[str] = set()
        """Names of the runs the configuration file made (API-made runs survive a reload)."""

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the runs until a drain is requested and done (``task_status`` once the
        configured runs have been started)."""
        config = self.config
        async with trio.open_nursery() as nursery:
            registry = ServerRegistry(
                nursery, base_dir=config.base_dir, output_dir=config.output_dir, log=self._log
            )
            self.registry = registry
            if config.api_addr is not None:
                await self._start_api(nursery, registry)
            for run_spec in config.runs:
                await registry.add(run_spec, start=run_spec.autostart)
                self._from_config.add(run_spec.name)
            self._log(f"server: ready, {len(config.runs)} run(s) from {config.path}")
            task_status.started()
            await self._drain_requested.wait()
            self._draining = True
            async with self._reload_lock:  # a reload in progress finishes first
                self._log(f"server: draining (up to {config.drain_timeout_s:g} s)")
                await registry.drain(config.drain_timeout_s)
            nursery.cancel_scope.cancel()  # the API, if any
        self._log("server: stopped")

    async def _start_api(self, nursery: trio.Nursery, registry: ServerRegistry) -> None:
        config = self.config
        assert config.api_addr is not None
        api = api_entry_point()
        host, port = config.api_addr
        # The users database, the token secret and the audit log: paths left out are the
        # defaults of gossipper auth (docs/api.md); files missing are created with mode 0600.
        authenticator = await trio.to_thread.run_sync(
            api.open_authenticator, config.users_db, config.token_secret_file, config.audit_log
        )
        addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        # The one call site of the API (gossipper.api.serve.serve_api): started on this Trio
        # loop, serving the registry; nursery.start returns the URLs it listens on.
        urls = await nursery.start(
            functools.partial(
                api.serve_api,
                registry,
                authenticator,
                addr=addr,
                tool_version=__version__,
                tls_cert=config.api_tls_cert,
                tls_key=config.api_tls_key,
                metrics_public=config.metrics_public,
            )
        )
        self._log(f"server: API on {' '.join(str(url) for url in urls or [addr])}")

    def request_drain(self) -> None:
        """SIGTERM/SIGINT: stop every run letting its calls end, then return from ``serve``."""
        self._drain_requested.set()

    def force_stop(self) -> None:
        """A second SIGTERM/SIGINT: abort the calls of every live run now."""
        registry = self.registry
        if registry is None:
            return
        for run in registry.runs():
            session = run.session
            if session is not None:
                session.engine.force_quit("forced stop")

    @property
    def draining(self) -> bool:
        return self._draining or self._drain_requested.is_set()

    async def reload(self, new: ServerConfig) -> None:
        """SIGHUP: apply ``new``. Runs removed from the file are stopped (forced) and deleted,
        changed ones replaced, new ones created (and started with autostart); runs the file
        does not mention (made through the API) and unchanged runs are left alone."""
        registry = self.registry
        if registry is None or self.draining:
            self._log("reload: ignored (the server is starting or draining)")
            return
        async with self._reload_lock:
            old = self.config
            self._note_server_changes(old, new)
            registry.output_dir = new.output_dir
            registry.base_dir = new.base_dir
            wanted = {run_spec.name: run_spec for run_spec in new.runs}
            removed = sorted(self._from_config - wanted.keys())
            for name in removed:
                if registry.get(name) is not None:
                    await registry.delete(name)
                self._from_config.discard(name)
            changed: list[RunSpec] = []
            added: list[RunSpec] = []
            for run_spec in new.runs:
                hosted = registry.get(run_spec.name)
                if hosted is None:
                    added.append(run_spec)
                elif run_spec.name not in self._from_config:
                    self._log(
                        f"reload: run {run_spec.name} exists (made through the API); left alone"
                    )
                elif hosted.run_spec.fingerprint != run_spec.fingerprint:
                    changed.append(run_spec)
            for run_spec in changed:
                await registry.replace(run_spec, start=run_spec.autostart)
            for run_spec in added:
                try:
                    await registry.add(run_spec, start=run_spec.autostart)
                except RegistryError as exc:  # e.g. too many runs (API-made ones count)
                    self._log(f"reload: run {run_spec.name} not added: {exc.message}")
                    continue
                self._from_config.add(run_spec.name)
            self.config = dataclasses.replace(new, api_addr=old.api_addr)
            unchanged = len(new.runs) - len(changed) - len(added)
            self._log(
                f"reload applied: {len(added)} added, {len(changed)} changed,"
                f" {len(removed)} removed, {unchanged} unchanged"
            )

    def _note_server_changes(self, old: ServerConfig, new: ServerConfig) -> None:
        fixed = (
            "api_addr",
            "api_tls_cert",
            "api_tls_key",
            "users_db",
            "token_secret_file",
            "audit_log",
            "metrics_public",
        )
        for key in fixed:
            if getattr(old, key) != getattr(new, key):
                self._log(f"reload: {key} changed; restart the server to apply it")
