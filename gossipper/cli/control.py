"""Run-time control, as in SIPp: keys on the terminal, the UDP control socket (-cp/-ci) and
signals. Everything here calls public ``Engine`` methods only. The keys, commands, control
socket and signals are SIPp's: docs/sipp-behaviour.md, "Command line" (sections "Keys and the
control socket" and "Quitting and signals")."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
from collections.abc import Callable, Iterator

import trio

from gossipper.engine import Engine
from gossipper.errors import BindError

FIRST_CONTROL_PORT = 8888
CONTROL_PORT_TRIES = 60
"""Without -cp SIPp tries 8888, 8889, ... (60 ports) and only warns when none is free."""


class Controller:
    """Applies SIPp's keys and commands to an engine."""

    def __init__(
        self,
        engine: Engine,
        *,
        dump_screens: Callable[[], None],
        warn: Callable[[str], None],
    ) -> None:
        self.engine = engine
        self._dump_screens = dump_screens
        self._warn = warn
        self.rate_scale = engine.config.rate_scale

    def key(self, key: str) -> None:
        """One key press (docs/sipp-behaviour.md, "Keys and the control socket")."""
        engine = self.engine
        if key == "q":
            engine.soft_quit()
        elif key == "Q":
            engine.force_quit("forced quit (Q)")
        elif key == "p":
            engine.pause_traffic(not engine.traffic_paused)
        elif key in "+-*/":
            step = self.rate_scale * (10 if key in "*/" else 1)
            delta = step if key in "+*" else -step
            if engine.config.users is not None:
                engine.set_users(max(0, engine.users_target + int(delta)))
            else:
                engine.set_rate(max(0.0, engine.rate_state.rate + delta))
        elif key == "s":
            self._dump_screens()
        # Keys 1-9 switch the live screen; gossipper prints screens at exit only.

    def command(self, text: str) -> None:
        """A command line (key c, or a control datagram starting with 'c')."""
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
                    engine.open_call_limit = max(1, int(value))
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


@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def keyboard_available() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


async def read_keyboard(controller: Controller) -> None:
    """Keys from the terminal (unless -nostdin); 'c' reads a command line."""
    fd = sys.stdin.fileno()
    stream = trio.lowlevel.FdStream(os.dup(fd))
    async with stream:
        with _cbreak(fd):
            await _read_keys(stream, controller)


async def _read_keys(stream: trio.lowlevel.FdStream, controller: Controller) -> None:
    pending_command: list[str] | None = None
    while True:
        data = await stream.receive_some(64)
        if not data:
            return
        for char in data.decode("utf-8", "replace"):
            if pending_command is not None:
                if char in "\r\n":
                    controller.command("".join(pending_command))
                    pending_command = None
                else:
                    pending_command.append(char)
            elif char == "c":
                pending_command = []
            else:
                controller.key(char)


async def watch_signals(engine: Engine, dump_screens: Callable[[], None]) -> None:
    """SIGINT/SIGTERM stop at once. SIGUSR1 writes a screen snapshot, then soft-quits as in
    SIPp (a second SIGUSR1 forces the exit). SIGUSR2 writes the screens and flushes RTT."""
    with trio.open_signal_receiver(
        signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2
    ) as signals:
        async for signum in signals:
            if signum == signal.SIGUSR2:
                dump_screens()
            elif signum == signal.SIGUSR1:
                dump_screens()
                engine.soft_quit()
            else:
                engine.interrupt()
