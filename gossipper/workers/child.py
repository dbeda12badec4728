"""The worker end of ``-workers``: one ordinary run that reports to its parent.

``gossipper.cli`` starts this instead of the keyboard, the control socket and the live screen
when the process was started as a worker (``wire.ENV_VAR`` set): the parent owns those and
fans their commands out here. The run opens (binds) as usual, says ``ready``, and starts
traffic only on ``go``, so that all workers start together.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
from typing import Any

import trio

from gossipper.engine import EngineResult, EngineStatistics
from gossipper.errors import GossipperError
from gossipper.session import Run
from gossipper.stats.merging import snapshot_to_wire
from gossipper.workers.wire import ENV_VAR, UDP_ENV_VAR, MessageStream

__all__ = ["WorkerLink", "engine_state", "worker_link_from_environment"]

_PR_SET_PDEATHSIG = 1


class WorkerLink:
    """This process's place in a ``-workers`` run and its channel to the parent."""

    def __init__(
        self,
        fd: int,
        index: int,
        count: int,
        directory: str,
        udp_fds: tuple[int, int] | None = None,
    ) -> None:
        self.fd = fd
        self.udp_fds = udp_fds
        """Server workers: the shared SIP socket and this worker's hand-off socket."""
        self.index = index
        self.count = count
        self.directory = directory
        self._stream: MessageStream | None = None

    def _messages(self) -> MessageStream:
        if self._stream is None:
            sock = socket.socket(fileno=self.fd)
            self._stream = MessageStream(trio.SocketStream(trio.socket.from_stdlib_socket(sock)))
        return self._stream

    async def serve(self, run: Run, *, task_status: trio.TaskStatus[None]) -> None:
        """Say ready, wait for go (then ``task_status.started``), then apply the parent's
        commands until cancelled. A parent that goes away interrupts the run."""
        stream = self._messages()
        engine = run.engine
        await stream.send(
            (
                "ready",
                os.getpid(),
                engine_state(engine.statistics()),
                snapshot_to_wire(engine.snapshot()),
            )
        )
        window = engine.open_stats_window()
        started = False
        while True:
            message = await stream.receive()
            if message is None:
                # The parent is gone (its death signal may not have reached us yet).
                if not started:
                    raise GossipperError("the -workers parent ended before the start")
                engine.interrupt()
                return
            verb = message[0]
            if verb == "go" and not started:
                # The test starts now, not when this worker was ready: the cumulative clock
                # (rates, the summary's start) restarts, as "reset stats" does; no call
                # exists yet.
                engine.reset_stats()
                started = True
                task_status.started()
            elif verb == "snap":
                # Answered before "go" too: the parent's first poll may overtake it.
                snapshot = engine.snapshot(window, restart=True)
                await stream.send(
                    ("snapshot", snapshot_to_wire(snapshot), engine_state(engine.statistics()))
                )
            else:
                _apply(run, message)

    async def send_final(self, run: Run, result: EngineResult, files: dict[str, str]) -> None:
        """``files``: the trace files it wrote, by kind (``stat``, ``counts``, ...)."""
        stream = self._messages()
        await stream.send(
            (
                "final",
                snapshot_to_wire(result.snapshot),
                engine_state(run.engine.statistics()),
                int(result.exit_status),
                result.fatal_message,
                dict(files),
            )
        )
        await stream.aclose()


def _apply(run: Run, message: tuple[Any, ...]) -> None:
    engine = run.engine
    verb = message[0]
    if verb == "rate":
        engine.set_rate(float(message[1]))
    elif verb == "users":
        engine.set_users(int(message[1]))
    elif verb == "limit":
        engine.set_call_limit(int(message[1]))
    elif verb == "pause":
        engine.pause(bool(message[1]))
    elif verb == "reset":
        engine.reset_stats()
    elif verb == "soft_quit":
        engine.soft_quit()
    elif verb == "force_quit":
        engine.force_quit(str(message[1]))
    elif verb == "interrupt":
        engine.interrupt()


def engine_state(statistics: EngineStatistics) -> dict[str, Any]:
    """What the parent's screens need besides the counters, as builtins."""
    return {
        "quit_state": statistics.quit_state.name,
        "quit_reason": statistics.quit_reason,
        "paused": statistics.traffic_paused,
        "is_server": statistics.is_server,
        "rate": statistics.rate,
        "rate_period_s": statistics.rate_period_s,
        "users": statistics.users,
        "call_limit": statistics.call_limit,
        "open_call_limit": statistics.open_call_limit,
        "local_address": statistics.local_address,
        "remote_address": statistics.remote_address,
        "transport_name": statistics.transport_name,
        "fatal_message": statistics.fatal_message,
    }


def worker_link_from_environment() -> WorkerLink | None:
    """This process's worker link when the parent started it as a worker, else None.

    Called once at start-up by the composition root: it also makes the kernel kill this
    process when the parent dies (PR_SET_PDEATHSIG; no orphans even after SIGKILL of the
    parent) and leaves SIGINT to the parent (a terminal's Ctrl-C reaches the whole process
    group; the parent fans the interrupt out once).
    """
    value = os.environ.pop(ENV_VAR, None)
    if value is None:
        return None
    fd_text, index_text, count_text, directory = value.split(":", 3)
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent or parent == 1:  # pragma: no cover - the parent died already
        os._exit(255)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    udp = os.environ.pop(UDP_ENV_VAR, None)
    udp_fds = None
    if udp is not None:
        send_text, receive_text = udp.split(":")
        udp_fds = (int(send_text), int(receive_text))
    return WorkerLink(int(fd_text), int(index_text), int(count_text), directory, udp_fds)
