"""Front ends of the command API that belong to the process: the terminal's keys and the
signals (process-global state, so they live in the composition root)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator

import trio

from gossipper.control import Controller


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


async def watch_signals(controller: Controller) -> None:
    """SIGINT/SIGTERM stop at once. SIGUSR1 writes a screen snapshot, then soft-quits as in
    SIPp (a second SIGUSR1 forces the exit). SIGUSR2 writes the screens and flushes RTT."""
    with trio.open_signal_receiver(
        signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2
    ) as signals:
        async for signum in signals:
            if signum == signal.SIGUSR2:
                controller.dump_screens()
            elif signum == signal.SIGUSR1:
                controller.dump_screens()
                controller.soft_quit()
            else:
                controller.interrupt()
