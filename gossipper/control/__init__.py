"""The one command API of a run: SIPp's keys and control commands applied to an engine.

The terminal keys, the UDP control socket (-cp/-ci) and signals (``gossipper.cli``) all go
through ``Controller``, which uses only the engine's public commands and ``statistics()``; the
TUI and the HTTP API will too. The command vocabulary is SIPp's (its documentation, "Online
commands" and "Remote control").
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Protocol

import trio

from gossipper.errors import BindError

__all__ = [
    "CONTROL_PORT_TRIES",
    "CommandTarget",
    "TargetState",
    "FIRST_CONTROL_PORT",
    "Controller",
    "open_control_socket",
    "serve_control_socket",
]

FIRST_CONTROL_PORT = 8888
CONTROL_PORT_TRIES = 60
"""Without -cp SIPp tries 8888, 8889, ... (60 ports) and only warns when none is free."""


class TargetState(Protocol):
    """What the commands read back (``Engine.statistics()`` has it)."""

    @property
    def traffic_paused(self) -> bool: ...
    @property
    def users(self) -> int | None: ...
    @property
    def rate(self) -> float: ...


class CommandTarget(Protocol):
    """What the commands drive: an ``Engine``, or the parent of ``-workers`` processes
    (``gossipper.workers``), which fans every command out to its workers."""

    def statistics(self) -> TargetState: ...
    def pause(self, paused: bool) -> None: ...
    def set_rate(self, rate: float) -> None: ...
    def set_users(self, users: int) -> None: ...
    def set_call_limit(self, limit: int) -> None: ...
    def reset_stats(self) -> None: ...
    def soft_quit(self, reason: str = ...) -> None: ...
    def force_quit(self, reason: str = ...) -> None: ...
    def interrupt(self) -> None: ...


class Controller:
    """Applies SIPp's keys and commands to an engine (or a group of worker processes)."""

    def __init__(
        self,
        engine: CommandTarget,
        *,
        rate_scale: float = 1.0,
        dump_screens: Callable[[], None],
        warn: Callable[[str], None],
        select_screen: Callable[[int], None] | None = None,
        changed: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self._dump_screens = dump_screens
        self._warn = warn
        self._select_screen = select_screen
        # Told after a key or command that changes what the live screen shows.
        self._changed = changed
        self.rate_scale = rate_scale

    def key(self, key: str) -> None:
        """One key press (docs/sipp-behaviour.md, "Keys and the control socket")."""
        self._key(key)
        if self._changed is not None and key and key in "qQp+-*/":
            self._changed()

    def _key(self, key: str) -> None:
        engine = self.engine
        if key == "q":
            self.soft_quit()
        elif key == "Q":
            engine.force_quit("forced quit (Q)")
        elif key == "p":
            engine.pause(not engine.statistics().traffic_paused)
        elif key in "+-*/":
            step = self.rate_scale * (10 if key in "*/" else 1)
            delta = step if key in "+*" else -step
            state = engine.statistics()
            if state.users is not None:
                engine.set_users(max(0, state.users + int(delta)))
            else:
                engine.set_rate(max(0.0, state.rate + delta))
        elif key == "s":
            self.dump_screens()
        elif key in "123456789" and key and self._select_screen is not None:
            # Keys 1-9 switch the live screen (a terminal's; nothing without one).
            self._select_screen(int(key))

    def command(self, text: str) -> None:
        """A command line (key c, or a control datagram starting with 'c')."""
        self._command(text)
        if self._changed is not None:
            self._changed()

    def _command(self, text: str) -> None:
        words = text.split()
        engine = self.engine
        if len(words) < 2:
            self._warn(f"Command '{text}' needs at least one argument")
            return
        verb, *rest = words
        try:
            if verb == "set" and len(rest) == 2:
                name, value = rest
                if name == "rate":
                    engine.set_rate(float(value))
                elif name == "rate-scale":
                    self.rate_scale = float(value)
                elif name == "users":
                    engine.set_users(int(value))
                elif name == "limit":
                    engine.set_call_limit(int(value))
                elif name in ("hide", "display"):
                    pass  # screen settings: no live screen yet
                else:
                    self._warn(f"Unknown set command '{text}'")
            elif verb == "reset" and rest == ["stats"]:
                engine.reset_stats()
            elif verb in ("trace", "dump"):
                self._warn(f"Command '{text}' is not supported yet")
            else:
                self._warn(f"Unrecognized command '{text}'")
        except ValueError:
            self._warn(f"Invalid value in command '{text}'")

    def dump_screens(self) -> None:
        """SIGUSR2, key s: write the screens (to the -trace_screen file, else stdout)."""
        self._dump_screens()

    def soft_quit(self) -> None:
        """SIGUSR1 (after a dump), key q: no new calls; a second one forces the exit."""
        self.engine.soft_quit()

    def interrupt(self) -> None:
        """SIGINT/SIGTERM: stop at once."""
        self.engine.interrupt()

    def datagram(self, data: bytes) -> None:
        """A control datagram: 'c<command>' or a single key."""
        if not data:
            return
        text = data.decode("utf-8", "replace").strip("\r\n")
        if text.startswith("c") and len(text) > 1:
            self.command(text[1:])
        else:
            self.key(text[:1])


async def open_control_socket(
    host: str, port: int | None, warn: Callable[[str], None]
) -> trio.socket.SocketType | None:
    """Bind SIPp's UDP control socket. An explicit -cp that cannot be bound is fatal (254)."""
    family = trio.socket.AF_INET6 if ":" in host else trio.socket.AF_INET
    ports = (
        [port]
        if port is not None
        else range(FIRST_CONTROL_PORT, FIRST_CONTROL_PORT + CONTROL_PORT_TRIES)
    )
    for candidate in ports:
        sock = trio.socket.socket(family, trio.socket.SOCK_DGRAM)
        try:
            await sock.bind((host, candidate))
        except OSError as exc:
            sock.close()
            if port is not None:
                raise BindError(
                    f"-cp {port}: cannot bind the control socket: {exc.strerror}"
                ) from exc
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                warn(f"control socket: {exc}")
                return None
            continue
        return sock
    warn("Unable to bind remote control socket (tried UDP ports 8888-8947)")
    return None


async def serve_control_socket(sock: trio.socket.SocketType, controller: Controller) -> None:
    with sock:
        while True:
            data, _ = await sock.recvfrom(4096)
            controller.datagram(data)
