"""SIPp's live screen: on a terminal, the selected screen redrawn in place every ``-f``
seconds and at once when a key changes something (keys 1-9 pick the screen).

A front end of the run like the keyboard: it only reads ``session.Run.live_screen``. Without
a terminal (CI, pipes, ``-bg``) it is not started and the output is what it always was.
"""

from __future__ import annotations

import os
from typing import Protocol, TextIO

import trio

__all__ = ["CLEAR_SCREEN", "LiveScreen", "ScreenSource", "fit_screen"]


class ScreenSource(Protocol):
    """What the live screen draws: a run (``session.Run``), or the merged statistics of
    ``-workers`` processes (``workers.WorkerGroup``)."""

    def live_screen(self, number: int) -> str | None: ...


CLEAR_SCREEN = "\x1b[H\x1b[2J"
"""Cursor home, then erase the display: one redraw without scrolling the terminal."""


def fit_screen(text: str, rows: int) -> str:
    """``text`` cut to a terminal of ``rows`` lines: the top of the screen and its bottom line
    (the keys), with no newline after the last line, so that drawing never scrolls the title
    away (SIPp's curses screen shows the top too)."""
    lines = text.rstrip("\n").split("\n")
    if len(lines) > rows:
        lines = [*lines[: max(0, rows - 1)], lines[-1]][-max(rows, 1) :]
    return "\n".join(lines)


def _terminal_rows(stream: TextIO) -> int:
    # Asked at every draw: a resized terminal gets the right cut at the next one.
    try:
        return os.get_terminal_size(stream.fileno()).lines
    except (OSError, ValueError, AttributeError):
        return 24


class LiveScreen:
    """The screen a terminal shows while a run goes on."""

    def __init__(self, run: ScreenSource, stdout: TextIO, period_s: float) -> None:
        self._run = run
        self._stdout = stdout
        self._period_s = period_s
        self.selected = 1
        self._wake = trio.Event()

    def select(self, number: int) -> None:
        """Key 1-9: show screen ``number`` from now on (a screen the run lacks is ignored,
        as SIPp ignores 5 without -tdmmap)."""
        if self._run.live_screen(number) is not None:
            self.selected = number
            self.redraw_soon()

    def redraw_soon(self) -> None:
        """Redraw before the next period (a key changed the rate, paused, ...)."""
        self._wake.set()

    def draw(self) -> None:
        text = self._run.live_screen(self.selected)
        if text is None:  # pragma: no cover - select() only keeps screens that exist
            return
        rows = _terminal_rows(self._stdout)
        self._stdout.write(CLEAR_SCREEN + fit_screen(text, rows))
        self._stdout.flush()

    async def run(self) -> None:
        """Redraw every period until cancelled (the run's end)."""
        while True:
            self.draw()
            with trio.move_on_after(self._period_s):
                await self._wake.wait()
            self._wake = trio.Event()
