"""``ServerRegistry``: the runs of one ``gossipper server`` process, on one Trio loop.

Each run is built like a CLI run (``realrun``: real sockets, the real clock, ``session.open_run``)
and hosted in a task of its own under the registry's nursery, inside its own cancel scope, so
runs start, stop, get replaced and deleted while the process lives on. Whatever goes wrong in a
run (a port taken, a bad scenario, an unresolvable host) leaves that run in state ``failed``
with a one-line message; it never reaches the server's nursery. A finished run keeps its
result (final statistics, exit status) and its summary document until it is started again or
deleted.

It implements :class:`gossipper.api.seams.RunRegistry` (and its runs ``HostedRun``), the API's
view of the server.
"""

from __future__ import annotations

import os
import random
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import trio

from gossipper import __version__
from gossipper.api.seams import RegistryError, RunState
from gossipper.config import RunConfig
from gossipper.control import Controller
from gossipper.engine import EngineResult
from gossipper.errors import GossipperError, first_gossipper_error
from gossipper.interfaces import Address
from gossipper.output import write_json_atomic
from gossipper.scenario import Scenario, builtin_path, load_scenario
from gossipper.server.config import MAX_RUNS, RunSpec, ServerConfigError, parse_run
from gossipper.server.realrun import (
    SystemWallClock,
    real_plan,
    real_transports,
    remote_target,
)
from gossipper.session import Run, open_run
from gossipper.transport import resolve_host

__all__ = ["FORCE_GRACE_S", "SUMMARY_FILE", "ServerRegistry", "ServerRun"]

FORCE_GRACE_S = 5.0
"""After a forced stop, how long a run may take to send its CANCEL/BYE and close before its
task is cancelled outright."""
SUMMARY_FILE = "summary.json"
"""Each finished run writes its summary document here, in its output directory (unless the
run names its own ``summary_json``)."""
PID_FACTOR = 100
"""More than ``config.MAX_RUNS``: every live run gets its own ``[pid]`` (``_run_pid``)."""
SCREENS_FILE = "screens.log"
"""SIPp's final screens of the last run, beside the summary."""

_LIVE_STATES: tuple[RunState, ...] = ("starting", "running", "stopping")


class ServerRun:
    """One hosted run (``HostedRun``): its checked specification and its current state."""

    def __init__(self, run_spec: RunSpec) -> None:
        self.run_spec = run_spec
        self._state: RunState = "created"
        self._session: Run | None = None
        self._controller: Controller | None = None
        self._result: EngineResult | None = None
        self._error: str | None = None
        self._scope: trio.CancelScope | None = None
        self._ended = trio.Event()
        self._ended.set()  # not running: nothing to wait for
        self._is_server = False
        self._slot: int | None = None
        self.summary: dict[str, Any] | None = None
        """The summary document of the last finished run of it (the ``-summary_json`` one)."""
        self.directory: str | None = None
        """Where its files go (``OUTPUT_DIR/NAME``), once started."""

    # HostedRun ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.run_spec.name

    @property
    def state(self) -> RunState:
        return self._state

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.run_spec.spec

    @property
    def session(self) -> Run | None:
        return self._session

    @property
    def controller(self) -> Controller | None:
        return self._controller

    @property
    def result(self) -> EngineResult | None:
        return self._result

    @property
    def error(self) -> str | None:
        return self._error

    # ----------------------------------------------------------------------------------

    @property
    def is_live(self) -> bool:
        return self._state in _LIVE_STATES

    @property
    def is_server(self) -> bool:
        """Waits for calls (a UAS); known once the scenario is loaded."""
        return self._is_server

    async def wait_ended(self) -> None:
        """Return once the run is no longer live."""
        await self._ended.wait()


class ServerRegistry:
    """The runs of a ``gossipper server`` (``RunRegistry``), hosted under ``nursery``.

    ``log`` receives one line per event (``run uac: started ...``); ``base_dir`` anchors the
    relative paths of runs created later (the config file's directory); each run writes into
    ``output_dir/NAME/``.
    """

    def __init__(
        self,
        nursery: trio.Nursery,
        *,
        base_dir: str,
        output_dir: str,
        log: Callable[[str], None],
    ) -> None:
        self._nursery = nursery
        self.base_dir = base_dir
        self.output_dir = output_dir
        self._log = log
        self._runs: dict[str, ServerRun] = {}
        self._slots: dict[int, ServerRun] = {}
        self._last_slot = -1
        """Live runs by their slot: ``[pid]`` of a run is ``PID_FACTOR * pid + slot``."""

    # RunRegistry ----------------------------------------------------------------------

    @property
    def manages_runs(self) -> bool:
        return True

    def runs(self) -> Sequence[ServerRun]:
        return list(self._runs.values())

    def get(self, name: str) -> ServerRun | None:
        return self._runs.get(name)

    async def create(self, name: str, spec: Mapping[str, Any], *, start: bool) -> ServerRun:
        if name in self._runs:
            raise RegistryError("conflict", f"a run named {name!r} exists; delete it first")
        try:
            run_spec = parse_run(name, spec, self.base_dir)
        except ServerConfigError as exc:
            raise RegistryError("bad_config", str(exc)) from None
        return await self.add(run_spec, start=start)

    async def start(self, name: str) -> None:
        run = self._get(name)
        if run.is_live:
            raise RegistryError("conflict", f"run {name!r} is {run.state}; stop it first")
        await self._nursery.start(self._host, run)

    async def stop(self, name: str, *, force: bool) -> None:
        run = self._get(name)
        session = run.session
        if not run.is_live or session is None:
            raise RegistryError(
                "conflict", f"run {name!r} is {run.state}, not running; start it first"
            )
        engine = session.engine
        if force:
            self._log(f"run {name}: forced stop")
            engine.force_quit("forced stop")
        else:
            # Not the keys' "quit requested": a second soft stop must not turn into a forced one.
            self._log(f"run {name}: stopping (no new calls; running calls end normally)")
            engine.soft_quit("stop requested")
        if run.is_live:
            run._state = "stopping"

    async def delete(self, name: str) -> None:
        run = self._get(name)
        if run.is_live:
            await self._force_and_wait(run)
        del self._runs[name]
        self._log(f"run {name}: deleted")

    # The server's own operations --------------------------------------------------------

    async def add(self, run_spec: RunSpec, *, start: bool) -> ServerRun:
        """Host a checked run (``create`` from a config document's run)."""
        if run_spec.name in self._runs:
            raise RegistryError("conflict", f"a run named {run_spec.name!r} exists")
        if len(self._runs) >= MAX_RUNS:
            raise RegistryError(
                "conflict", f"this server hosts {MAX_RUNS} runs already; delete one first"
            )
        run = ServerRun(run_spec)
        self._runs[run_spec.name] = run
        self._log(f"run {run_spec.name}: created ({run_spec.scenario_label})")
        if start:
            await self.start(run_spec.name)
        return run

    async def replace(self, run_spec: RunSpec, *, start: bool) -> ServerRun:
        """Stop (forced) and forget the run of that name, then host ``run_spec`` instead."""
        old = self._runs.get(run_spec.name)
        if old is not None:
            if old.is_live:
                await self._force_and_wait(old)
            del self._runs[run_spec.name]
            self._log(f"run {run_spec.name}: replaced")
        return await self.add(run_spec, start=start)

    async def drain(self, timeout_s: float) -> None:
        """Stop every run, letting calls end: clients first (no new calls; the servers keep
        answering theirs), then servers; what is still live after ``timeout_s`` is forced."""
        deadline = trio.current_time() + timeout_s
        live = [run for run in self._runs.values() if run.is_live]
        clients = [run for run in live if not run.is_server]
        servers = [run for run in live if run.is_server]
        for group in (clients, servers):
            for run in group:
                # A run still starting has no engine to stop yet: the deadline forces it.
                if run.session is not None and run.state == "running":
                    await self.stop(run.name, force=False)
            with trio.move_on_at(deadline):
                for run in group:
                    await run.wait_ended()
        late = [run for run in live if run.is_live]
        if late:
            self._log(
                f"drain: {len(late)} run(s) still busy after {timeout_s:g} s; forcing"
                f" {', '.join(run.name for run in late)}"
            )
            async with trio.open_nursery() as nursery:
                for run in late:
                    nursery.start_soon(self._force_and_wait, run)

    # ----------------------------------------------------------------------------------

    def _get(self, name: str) -> ServerRun:
        run = self._runs.get(name)
        if run is None:
            raise RegistryError("not_found", f"no run named {name!r}")
        return run

    async def _force_and_wait(self, run: ServerRun) -> None:
        session = run.session
        if session is not None:
            session.engine.force_quit("forced stop")
        with trio.move_on_after(FORCE_GRACE_S):
            await run.wait_ended()
            return
        scope = run._scope
        if scope is not None:
            scope.cancel()
        await run.wait_ended()

    async def _host(self, run: ServerRun, *, task_status: trio.TaskStatus[None]) -> None:
        """The task of one run, from start to its end; never raises (but Cancelled)."""
        run._ended = trio.Event()
        run._state = "starting"
        run._error = None
        run._result = None
        started = False

        def announce() -> None:
            nonlocal started
            if not started:
                started = True
                task_status.started()

        try:
            with trio.CancelScope() as scope:
                run._scope = scope
                await self._run_once(run, announce)
            if scope.cancelled_caught:
                run._state = "failed"
                run._error = "cancelled: it did not stop within the forced-stop grace"
                self._log(f"run {run.name}: failed: {run._error}")
        except Exception as exc:  # noqa: BLE001 - any failure of one run stays in that run
            run._state = "failed"
            run._error = _describe(exc)
            self._log(f"run {run.name}: failed: {run._error}")
            if not isinstance(exc, GossipperError | OSError | ExceptionGroup) or (
                isinstance(exc, ExceptionGroup) and first_gossipper_error(exc) is None
            ):
                # A bug, not an operating outcome: keep the traceback for the report.
                self._log("".join(traceback.format_exception(exc)).rstrip())
        finally:
            if run._slot is not None:
                del self._slots[run._slot]
                run._slot = None
            run._session = None
            run._controller = None
            run._scope = None
            run._ended.set()
            announce()

    async def _run_once(self, run: ServerRun, announce: Callable[[], None]) -> None:
        spec = run.run_spec
        config = spec.config
        scenario = _load_scenario(spec)
        run._is_server = scenario.is_server
        if spec.role is not None and (spec.role == "server") != scenario.is_server:
            kind = "waits for calls" if scenario.is_server else "makes calls"
            raise ServerConfigError(
                f"role is {spec.role} but {scenario.source_label} {kind}; fix role or the scenario"
            )
        remote = await _resolve(config, scenario)
        directory = os.path.join(self.output_dir, spec.name)
        os.makedirs(directory, exist_ok=True)
        run.directory = directory
        plan = real_plan(
            config,
            scenario,
            transports=real_transports(config),
            wall_clock=SystemWallClock(),
            remote=remote,
            pid=self._run_pid(run),
            seed=random.SystemRandom().randrange(2**63),
            directory=directory,
        )
        async with open_run(plan) as session:
            run._session = session
            run._controller = self._controller(run, session)
            outcome: list[EngineResult] = []

            async def engine_task(*, task_status: trio.TaskStatus[None]) -> None:
                outcome.append(await session.run(task_status=task_status))

            async with trio.open_nursery() as nursery:
                await nursery.start(engine_task)
                if run._state == "starting":
                    run._state = "running"
                local = session.engine.local_address
                where = f"on {local[0]}:{local[1]}"
                if remote is not None:
                    where += f", calling {remote[0]}:{remote[1]}"
                self._log(
                    f"run {run.name}: started ({'server' if scenario.is_server else 'client'},"
                    f" {spec.scenario_label}, {where})"
                )
                announce()
            result = outcome[0]
            self._finish(run, session, result, directory)

    def _run_pid(self, run: ServerRun) -> int:
        """The ``[pid]`` of a live run: distinct per live run, because the default Call-ID
        (``%u-%p@%s``) of two clients of one process would otherwise be the same and a UAS
        both call would take their calls for one another's."""
        # Round robin over the free slots: a run started again (or the next run) gets a new
        # [pid], so its Call-IDs differ from those a UAS may still hold in its dead-call window.
        slot = next(
            candidate % PID_FACTOR
            for candidate in range(self._last_slot + 1, self._last_slot + 1 + PID_FACTOR)
            if candidate % PID_FACTOR not in self._slots
        )
        self._last_slot = slot
        self._slots[slot] = run
        run._slot = slot
        return os.getpid() * PID_FACTOR + slot

    def _finish(self, run: ServerRun, session: Run, result: EngineResult, directory: str) -> None:
        report = session.finish(result)
        for problem in report.problems:
            self._log(f"run {run.name}: warning: {problem}")
        summary = session.summary_document(result, __version__)
        run.summary = summary
        target = session.plan.config.traces.summary_json or SUMMARY_FILE
        write_json_atomic(os.path.join(directory, target), summary)
        with open(os.path.join(directory, SCREENS_FILE), "w", encoding="utf-8") as screens:
            screens.write(report.exit_screens)
        run._result = result
        run._state = "finished"
        counts = result.snapshot.cumulative
        text = (
            f"run {run.name}: finished: exit {int(result.exit_status)},"
            f" {counts.successful_calls} successful, {counts.failed_calls} failed"
        )
        if result.fatal_message:
            text += f" ({result.fatal_message})"
        self._log(text)

    def _controller(self, run: ServerRun, session: Run) -> Controller:
        def warn(text: str) -> None:
            session.engine.warning(text)
            self._log(f"run {run.name}: warning: {text}")

        def dump_screens() -> None:
            # No terminal: the screens go to the -trace_screen file, else beside the summary.
            text = session.dump_screens()
            if text is not None and run.directory is not None:
                path = os.path.join(run.directory, SCREENS_FILE)
                with open(path, "w", encoding="utf-8") as screens:
                    screens.write(text)

        return Controller(
            session.engine,
            rate_scale=session.plan.config.load.rate_scale,
            dump_screens=dump_screens,
            warn=warn,
        )


def _load_scenario(spec: RunSpec) -> Scenario:
    identity = spec.config.identity
    if spec.scenario_file is not None:
        return load_scenario(
            spec.scenario_file, keys=identity.keys, global_vars=identity.globals_set
        )
    name = spec.config.effective_scenario_name or "uac"
    return load_scenario(
        str(builtin_path(name)),
        builtin_name=name,
        keys=identity.keys,
        global_vars=identity.globals_set,
    )


async def _resolve(config: RunConfig, scenario: Scenario) -> Address | None:
    target = remote_target(config)
    if target is None:
        if not scenario.is_server:
            raise ServerConfigError(
                f'{scenario.source_label} makes calls: give the run "remote": "HOST:PORT"'
            )
        return None
    host, port = target
    # getaddrinfo blocks: off the loop, so one slow DNS answer does not stall other runs.
    address = await trio.to_thread.run_sync(resolve_host, host)
    return address, port


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        error = first_gossipper_error(exc)
        if error is not None:
            return str(error)
        leaf: BaseException = exc
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        exc = leaf
    if isinstance(exc, GossipperError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return f"internal error: {type(exc).__name__}: {exc}"
