"""The parent of ``-workers N``: starts N worker processes together, fans commands out to
them, shows their merged statistics, and ends with one result.

Each worker is an ordinary ``gossipper`` run of its share of the test, with a Unix socketpair
to the parent (``gossipper.workers.wire``) and a private output directory. The parent forks
the workers (``spawn_workers``) before it enters Trio, with its modules already imported: a
worker starts by parsing its own command line, not by starting an interpreter and importing
everything again (0.3-0.5 s of CPU per worker, as much as thousands of calls at low rates).
The parent:

* waits until every worker has bound its socket and said ``ready``, then sends ``go`` to all
  (the start barrier: the calls of one worker never start seconds before another's);
* turns each command (keys, ``-cp`` datagrams, signals, the API) into per-worker commands:
  rates and user counts are split into shares, pause and quit are broadcast;
* polls snapshots at the screen period and merges them (``gossipper.stats.merging``): counts
  add and histograms merge exactly, so screens and the summary show one process's figures;
* watches the processes: a worker that exits without its final report has died; its exit
  status is reported, its open calls are counted failed (``FailedWorkerDied``) and the run
  exits with 255. The workers die with the parent (PR_SET_PDEATHSIG), and the parent kills
  the ones left when it ends.

The front ends (keyboard, control socket, live screen) belong to ``gossipper.cli``, which
passes them in as ``front_ends``.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import math
import os
import signal
import socket
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from gossipper.engine import EngineStatistics, QuitState
from gossipper.errors import ExitStatus
from gossipper.stats import ScreenContext, ScreenState, StatsSnapshot, screen_state
from gossipper.stats.merging import merge_snapshots, snapshot_from_wire, with_failed_calls
from gossipper.workers.wire import ENV_VAR, MessageStream

__all__ = [
    "READY_TIMEOUT_S",
    "WORKER_DIED_REASON",
    "GroupResult",
    "SpawnedWorker",
    "WorkerGroup",
    "WorkerOutcome",
    "WorkerProcess",
    "spawn_workers",
    "split_evenly",
    "supervise",
]

READY_TIMEOUT_S = 60.0
"""How long the workers may take to start (imports, scenario, bind) before the run gives up."""

SNAPSHOT_TIMEOUT_S = 2.0
"""A worker that does not answer a snapshot request in this time keeps its previous one."""

WORKER_DIED_REASON = "FailedWorkerDied"
"""The failure reason of the calls a dead worker had open (summary ``failures``)."""


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` integer shares differing by at most one, larger ones first."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@dataclass(slots=True)
class WorkerOutcome:
    """How one worker ended."""

    index: int
    pid: int
    returncode: int | None
    """The process's exit status (negative: killed by that signal)."""
    exit_code: int | None
    """The exit code it reported in its final message; None when it died without one."""
    fatal_message: str | None
    files: dict[str, str]
    """The trace files it wrote, by kind (``stat``, ``counts``, ``messages``, ...)."""
    open_calls_lost: int

    @property
    def died(self) -> bool:
        return self.exit_code is None

    def describe(self) -> str:
        code = self.returncode
        if code is not None and code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit status {code}"
        return f"worker {self.index} (pid {self.pid}) died ({how})"


@dataclass(slots=True)
class _Worker:
    index: int
    directory: str
    stream: MessageStream
    process: WorkerProcess
    commands: trio.MemorySendChannel[tuple[Any, ...]]
    command_queue: trio.MemoryReceiveChannel[tuple[Any, ...]]
    pid: int = 0
    state: dict[str, Any] = field(default_factory=dict)
    snapshot: StatsSnapshot | None = None
    final: tuple[Any, ...] | None = None
    ready: trio.Event = field(default_factory=trio.Event)
    replied: trio.Event = field(default_factory=trio.Event)
    done: trio.Event = field(default_factory=trio.Event)
    returncode: int | None = None

    @property
    def alive(self) -> bool:
        return not self.done.is_set()


@dataclass(frozen=True, slots=True)
class GroupResult:
    """The end of a ``-workers`` run."""

    exit_status: ExitStatus
    snapshot: StatsSnapshot | None
    """Every worker's final counters merged (a dead worker's last ones, its open calls
    counted failed); None when no worker reported any."""
    state: dict[str, Any]
    outcomes: tuple[WorkerOutcome, ...]
    start_failure: str | None = None
    """A worker ended before the start barrier: its error (the run did not start)."""

    @property
    def lost_calls(self) -> int:
        return sum(outcome.open_calls_lost for outcome in self.outcomes)


class WorkerGroup:
    """The running workers, seen as one run: commands fan out, statistics merge."""

    def __init__(
        self,
        workers: Sequence[_Worker],
        *,
        screen: Callable[..., str | None],
        scenario_name: str = "",
        tz: datetime.tzinfo | None = None,
    ) -> None:
        self._workers = list(workers)
        self._screen = screen
        self.scenario_name = scenario_name
        self.tz = tz

    # ------------------------------------------------------------------ commands

    def _alive(self) -> list[_Worker]:
        return [worker for worker in self._workers if worker.alive]

    def _send(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        with contextlib.suppress(
            trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError
        ):
            worker.commands.send_nowait(message)

    def _broadcast(self, message: tuple[Any, ...]) -> None:
        for worker in self._alive():
            self._send(worker, message)

    @property
    def engine(self) -> WorkerGroup:
        """The group is its own engine for readers of ``session.engine`` (the API)."""
        return self

    def statistics(self) -> EngineStatistics:
        """The workers' states and latest counters as one engine's (periodic figures of the
        snapshot: since the previous poll)."""
        state = self.merged_state()
        snapshot = self.merged()
        assert snapshot is not None, "statistics() before every worker was ready"
        quit_name = str(state.get("quit_state", "RUNNING"))
        local = state.get("local_address")
        remote = state.get("remote_address")
        return EngineStatistics(
            quit_state=QuitState[quit_name],
            quit_reason=str(state.get("quit_reason", "")),
            traffic_paused=bool(state.get("paused", False)),
            is_server=bool(state.get("is_server", False)),
            rate=float(state.get("rate", 0.0)),
            rate_period_s=float(state.get("rate_period_s", 1.0)),
            users=state.get("users"),
            call_limit=state.get("call_limit"),
            open_call_limit=int(state.get("open_call_limit", 0)),
            open_calls=snapshot.current_calls,
            calls_started=snapshot.cumulative.total_calls,
            open_call_sockets=0,
            malformed_messages=snapshot.cumulative.malformed_msgs,
            local_address=(str(local[0]), int(local[1])) if local else None,
            remote_address=(str(remote[0]), int(remote[1])) if remote else None,
            transport_name=str(state.get("transport_name", "UDP")),
            timed_out=False,
            fatal_message=state.get("fatal_message"),
            snapshot=snapshot,
        )

    def live_summary_document(
        self, tool_version: str, snapshot: StatsSnapshot | None = None
    ) -> dict[str, Any]:
        """The ``-summary_json`` document of the group so far (the API's statistics), from
        ``snapshot`` when the caller took one."""
        from gossipper.output import summary_document

        if snapshot is None:
            snapshot = self.merged()
        assert snapshot is not None
        failed = snapshot.cumulative.failed_calls
        return summary_document(
            snapshot,
            target_rate=snapshot.target_rate,
            scenario_name=self.scenario_name,
            exit_code=int(ExitStatus.CALLS_FAILED if failed else ExitStatus.SUCCESS),
            tool_version=tool_version,
            tz=self.tz,
        )

    def set_rate(self, rate: float) -> None:
        alive = self._alive()
        for worker in alive:
            self._send(worker, ("rate", rate / len(alive)))
            worker.state["rate"] = rate / len(alive)

    def set_users(self, users: int) -> None:
        alive = self._alive()
        for worker, share in zip(alive, split_evenly(users, len(alive)), strict=True):
            self._send(worker, ("users", share))
            worker.state["users"] = share

    def set_call_limit(self, limit: int) -> None:
        alive = self._alive()
        for worker, share in zip(alive, split_evenly(limit, len(alive)), strict=True):
            self._send(worker, ("limit", max(1, share)))
            worker.state["open_call_limit"] = max(1, share)

    def pause(self, paused: bool) -> None:
        for worker in self._alive():
            self._send(worker, ("pause", paused))
            worker.state["paused"] = paused

    def reset_stats(self) -> None:
        self._broadcast(("reset",))

    def soft_quit(self, reason: str = "quit requested") -> None:
        self._broadcast(("soft_quit",))

    def force_quit(self, reason: str = "forced quit") -> None:
        self._broadcast(("force_quit", reason))

    def interrupt(self) -> None:
        self._broadcast(("interrupt",))

    # ------------------------------------------------------------------ statistics

    async def poll(self) -> None:
        """Ask every live worker for a snapshot (its parent window restarted) and wait a
        bounded time for the answers."""
        alive = self._alive()
        for worker in alive:
            worker.replied = trio.Event()
            self._send(worker, ("snap",))
        with trio.move_on_after(SNAPSHOT_TIMEOUT_S):
            for worker in alive:
                await worker.replied.wait()

    def merged(self) -> StatsSnapshot | None:
        parts = [worker.snapshot for worker in self._workers if worker.snapshot is not None]
        return merge_snapshots(parts) if parts else None

    def merged_state(self) -> dict[str, Any]:
        return merged_state([worker.state for worker in self._workers if worker.state])

    def live_screen(self, number: int) -> str | None:
        """Screen ``number`` of the merged statistics (``cli.live_screen.ScreenSource``)."""
        snapshot = self.merged()
        if snapshot is None:
            return None
        return self._screen(number, snapshot, self.merged_state())

    @property
    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self._workers]


def merged_state(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The workers' engine states as one (first worker's addresses; rates and limits add)."""
    if not states:
        return {}
    first = states[0]
    users = [state["users"] for state in states if state.get("users") is not None]
    limits = [state["call_limit"] for state in states if state.get("call_limit") is not None]
    return {
        **first,
        "quit_state": next(
            (state["quit_state"] for state in states if state["quit_state"] != "RUNNING"),
            "RUNNING",
        ),
        "paused": all(state["paused"] for state in states),
        "rate": sum(float(state["rate"]) for state in states),
        "users": sum(users) if users else None,
        "call_limit": sum(limits) if limits else None,
        "open_call_limit": sum(int(state["open_call_limit"]) for state in states),
        "fatal_message": next(
            (state["fatal_message"] for state in states if state.get("fatal_message")), None
        ),
    }


def screen_context(state: dict[str, Any], *, duration_ms: int) -> ScreenContext:
    """The scenario screen's non-statistics values from a merged worker state."""
    local = state.get("local_address")
    remote = state.get("remote_address")
    return ScreenContext(
        local_port=local[1] if local else 0,
        transport=str(state.get("transport_name", "UDP")),
        remote_host=remote[0] if remote else "",
        remote_port=remote[1] if remote else 0,
        rate_cps=float(state.get("rate", 0.0)),
        rate_period_ms=int(float(state.get("rate_period_s", 1.0)) * 1000),
        users=state.get("users"),
        duration_ms=duration_ms,
        call_limit=state.get("call_limit"),
        open_calls_allowed=int(state.get("open_call_limit", 0)),
        open_sockets=0,
    )


def group_screen_state(state: dict[str, Any], *, terminated: bool = False) -> ScreenState:
    return screen_state(
        terminated=terminated,
        quitting=state.get("quit_state", "RUNNING") != "RUNNING",
        paused=bool(state.get("paused", False)),
        server=bool(state.get("is_server", False)),
    )


def combined_exit_status(outcomes: Sequence[WorkerOutcome], failed_calls: int) -> ExitStatus:
    """One exit status for the group: a dead worker is fatal (255); else the most severe
    non-ordinary code (97, 254, 255) any worker reported; else SIPp's rule on the merged
    counts (1 when a call failed, 99 when no worker processed a call, 0)."""
    if any(outcome.died for outcome in outcomes):
        return ExitStatus.FATAL
    ordinary = {int(ExitStatus.SUCCESS), int(ExitStatus.CALLS_FAILED), int(ExitStatus.NO_CALLS)}
    codes = [int(outcome.exit_code or 0) for outcome in outcomes]
    unusual = [code for code in codes if code not in ordinary]
    if unusual:
        return ExitStatus(max(unusual))
    if failed_calls > 0:
        return ExitStatus.CALLS_FAILED
    if codes and all(code == ExitStatus.NO_CALLS for code in codes):
        return ExitStatus.NO_CALLS
    return ExitStatus.SUCCESS


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """How to start the workers: ``arguments(i)`` is worker ``i``'s command line (after
    ``gossipper``), ``directories[i]`` its output directory."""

    count: int
    arguments: Callable[[int], list[str]]
    directories: Sequence[str]
    screen_period_s: float
    scenario_name: str = ""
    tz: datetime.tzinfo | None = None
    inherited: Callable[[int], tuple[tuple[int, ...], dict[str, str]]] | None = None
    """Descriptors worker ``i`` inherits and the environment that names them (the server
    side's shared SIP socket and hand-off pair)."""


async def supervise(
    spec: WorkerSpec,
    spawned: Sequence[SpawnedWorker],
    *,
    screen: Callable[[int, StatsSnapshot, dict[str, Any]], str | None],
    front_ends: Callable[[trio.Nursery, WorkerGroup], Awaitable[None]],
    started: Callable[[WorkerGroup], None] | None = None,
) -> GroupResult:
    """Run the workers ``spawn_workers`` started to their end, return the merged result."""
    workers: list[_Worker] = []
    try:
        for index, one in enumerate(spawned):
            workers.append(_adopt(spec, index, one))
        async with trio.open_nursery() as nursery:
            group = WorkerGroup(
                workers, screen=screen, scenario_name=spec.scenario_name, tz=spec.tz
            )
            for worker in workers:
                nursery.start_soon(_read_worker, worker)
                nursery.start_soon(_write_worker, worker)
            failure = await _wait_ready(workers)
            if failure is not None:
                for worker in workers:
                    _kill_process(worker.process)
                nursery.cancel_scope.cancel()
                return _result(workers, start_failure=failure)
            async with trio.open_nursery() as front:
                # The front ends (control socket bound) first, so that a command sent as
                # soon as "started" is announced reaches the workers.
                await front_ends(front, group)
                for worker in workers:
                    group._send(worker, ("go",))
                if started is not None:
                    started(group)
                for worker in workers:
                    await worker.done.wait()
                front.cancel_scope.cancel()
            nursery.cancel_scope.cancel()
    finally:
        # No orphans whatever happened to the parent's own run (an exception, a cancel).
        for one in spawned:
            _kill_process(one.process)
    return _result(workers)


def _kill_process(process: WorkerProcess) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()


async def _wait_exit(process: WorkerProcess) -> int:
    """The process's exit status, without blocking the parent's loop (a pidfd where the
    kernel has them, else a waiting thread)."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except (OSError, AttributeError):  # pragma: no cover - Linux before 5.3
        return await trio.to_thread.run_sync(process.wait, abandon_on_cancel=True)
    try:
        await trio.lowlevel.wait_readable(pidfd)
    finally:
        os.close(pidfd)
    return process.wait()


class WorkerProcess:
    """A forked worker: what the supervisor needs of ``subprocess.Popen`` (``pid``,
    ``returncode``, ``poll``, ``wait``, ``kill``), for a child that was never exec'd."""

    __slots__ = ("pid", "returncode")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        """The exit status once reaped; negative: killed by that signal (as Popen's)."""

    def poll(self) -> int | None:
        if self.returncode is None:
            self._reap(os.WNOHANG)
        return self.returncode

    def wait(self) -> int:
        while self.returncode is None:
            self._reap(0)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)

    def _reap(self, options: int) -> None:
        try:
            pid, status = os.waitpid(self.pid, options)
        except ChildProcessError:
            # Reaped elsewhere (a waiting thread and a poll at once): its status is lost.
            if self.returncode is None:
                self.returncode = int(ExitStatus.FATAL)
            return
        if pid == self.pid:
            self.returncode = os.waitstatus_to_exitcode(status)


@dataclass(slots=True)
class SpawnedWorker:
    """A worker process just forked, and the parent's end of its socketpair."""

    process: WorkerProcess
    parent_end: socket.socket


def spawn_workers(spec: WorkerSpec, program: Callable[[list[str]], int]) -> list[SpawnedWorker]:
    """Fork the workers. Call it before the parent enters Trio: a fork inside a running
    event loop (or with its helper threads alive) would copy the loop's state into the
    child. Each child runs ``program`` (the CLI's ``raw_main``: this layer does not import
    the CLI) on its command line, with what this process has imported, and never returns
    here."""
    sys.stdout.flush()
    sys.stderr.flush()
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(spec.count)]
    spawned: list[SpawnedWorker] = []
    try:
        for index in range(spec.count):
            directory = spec.directories[index]
            os.makedirs(directory, exist_ok=True)
            env = {ENV_VAR: f"{pairs[index][1].fileno()}:{index}:{spec.count}:{directory}"}
            keep = [pairs[index][1].fileno()]
            if spec.inherited is not None:
                more_fds, more_env = spec.inherited(index)
                keep.extend(more_fds)
                env.update(more_env)
            arguments = spec.arguments(index)
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child (coverage does not follow forks)
                _run_worker_child(program, arguments, env, keep, directory)
            spawned.append(SpawnedWorker(WorkerProcess(pid), pairs[index][0]))
    except BaseException:
        for one in spawned:
            _kill_process(one.process)
        for parent_end, _ in pairs:
            parent_end.close()
        raise
    finally:
        for _, child_end in pairs:
            child_end.close()
    return spawned


def _run_worker_child(  # pragma: no cover - runs in the forked child
    program: Callable[[list[str]], int],
    arguments: list[str],
    env: dict[str, str],
    keep: list[int],
    directory: str,
) -> None:
    """The forked child: stdio to the worker's files, only its own descriptors, then the
    worker's run; it leaves by ``os._exit`` whatever happens (never back into the parent's
    code). The parent's other descriptors are pointed at /dev/null, not closed, so that a
    parent object still holding one can never close a number this process reuses."""
    status = int(ExitStatus.FATAL)
    try:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
            opened = os.open(os.path.join(directory, name), flags, 0o666)
            os.dup2(opened, fd)
            os.close(opened)
        kept = {0, 1, 2, null, *keep}
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd not in kept:
                with contextlib.suppress(OSError):
                    os.dup2(null, fd)
        os.environ.update(env)
        sys.argv = [sys.argv[0], *arguments]
        gc.disable()  # as gossipper.cli.main.main: start-up objects are frozen later
        status = program(arguments)
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            # What an exiting interpreter would flush (os._exit skips it).
            if "logging" in sys.modules:
                sys.modules["logging"].shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def _adopt(spec: WorkerSpec, index: int, spawned: SpawnedWorker) -> _Worker:
    stream = MessageStream(trio.SocketStream(trio.socket.from_stdlib_socket(spawned.parent_end)))
    send, receive = trio.open_memory_channel[tuple[Any, ...]](math.inf)
    return _Worker(
        index=index,
        directory=spec.directories[index],
        stream=stream,
        process=spawned.process,
        commands=send,
        command_queue=receive,
    )


async def _write_worker(worker: _Worker) -> None:
    async for message in worker.command_queue:
        try:
            await worker.stream.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return


async def _read_worker(worker: _Worker) -> None:
    stream = worker.stream
    try:
        while True:
            try:
                message = await stream.receive()
            except (ValueError, OSError):
                message = None
            if message is None:
                break
            verb = message[0]
            if verb == "ready":
                worker.pid = int(message[1])
                worker.state = dict(message[2])
                worker.snapshot = snapshot_from_wire(message[3])
                worker.ready.set()
            elif verb == "snapshot":
                worker.snapshot = snapshot_from_wire(message[1])
                worker.state.update(message[2])
                worker.replied.set()
            elif verb == "final":
                worker.final = message
                worker.snapshot = snapshot_from_wire(message[1])
                worker.state.update(message[2])
                worker.replied.set()
        worker.returncode = await _wait_exit(worker.process)
    finally:
        worker.ready.set()
        worker.replied.set()
        worker.done.set()
        worker.commands.close()


async def _wait_ready(workers: Sequence[_Worker]) -> str | None:
    """None once every worker is ready; else why the run cannot start."""
    with trio.move_on_after(READY_TIMEOUT_S):
        for worker in workers:
            await worker.ready.wait()
            if worker.done.is_set() and not worker.state:
                return _start_error(worker)
        return None
    return f"the workers did not all start within {READY_TIMEOUT_S:g} s"


def _start_error(worker: _Worker) -> str:
    try:
        with open(os.path.join(worker.directory, "stderr.txt"), encoding="utf-8") as err:
            lines = [line.strip() for line in err if line.strip()]
    except OSError:
        lines = []
    text = lines[-1] if lines else f"exit status {worker.returncode}"
    prefix = "gossipper: error: "
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return f"worker {worker.index} did not start: {text}"


def _result(workers: Sequence[_Worker], *, start_failure: str | None = None) -> GroupResult:
    outcomes: list[WorkerOutcome] = []
    parts: list[StatsSnapshot] = []
    for worker in workers:
        final = worker.final
        lost = 0
        if final is None and worker.snapshot is not None:
            lost = worker.snapshot.current_calls
        if worker.snapshot is not None:
            parts.append(worker.snapshot)
        outcomes.append(
            WorkerOutcome(
                index=worker.index,
                pid=worker.pid or worker.process.pid,
                returncode=worker.returncode
                if worker.returncode is not None
                else worker.process.returncode,
                exit_code=None if final is None else int(final[3]),
                fatal_message=None if final is None else final[4],
                files={} if final is None else {str(k): str(v) for k, v in final[5].items()},
                open_calls_lost=lost,
            )
        )
    snapshot = merge_snapshots(parts) if parts else None
    lost_total = sum(outcome.open_calls_lost for outcome in outcomes)
    if snapshot is not None and lost_total:
        snapshot = with_failed_calls(snapshot, lost_total)
    failed = snapshot.cumulative.failed_calls if snapshot is not None else 0
    status = (
        ExitStatus.FATAL if start_failure is not None else combined_exit_status(outcomes, failed)
    )
    return GroupResult(
        exit_status=status,
        snapshot=snapshot,
        state=merged_state([worker.state for worker in workers if worker.state]),
        outcomes=tuple(outcomes),
        start_failure=start_failure,
    )
