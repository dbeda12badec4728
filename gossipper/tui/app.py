"""The TUI of one run: urwid on the run's own Trio loop, sampling the statistics once a second.

A front end like the keyboard and the live screen: it reads ``session.Run`` (its SIPp screens)
and the engine's public statistics from a window of its own, and acts only through
``control.Controller``. It is off the hot path: nothing runs between samples but the key
handling, and the urwid event loop is installed without the per-task-step Trio instrument that
``urwid.TrioEventLoop.run_async`` adds (see :class:`_QuietTrioEventLoop`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any, TextIO

import trio
import urwid

from gossipper.control import Controller
from gossipper.engine import QuitState
from gossipper.session import Run
from gossipper.tui.model import HISTORY_S, History
from gossipper.tui.widgets import (
    KEYS_LINE,
    PALETTE,
    Dashboard,
    RunState,
    ScrollText,
    header_text,
    help_overlay,
)

__all__ = ["SAMPLE_PERIOD_S", "TuiApp"]

SAMPLE_PERIOD_S = 1.0
"""The statistics are sampled (and the views refreshed) this often."""

DASHBOARD = 0
"""The view number of the dashboard; 1-9 are SIPp's screens."""


class _QuietTrioEventLoop(urwid.TrioEventLoop):
    """urwid's Trio event loop without its idle instrument.

    ``TrioEventLoop.run_async`` installs a ``trio.abc.Instrument`` whose hooks run at every
    step of every task of the run (every call is a task) to find idle moments for urwid's
    redraw. That is on the engine's hot path, so this loop runs the idle callbacks (urwid's
    redraw) itself, right after each input, alarm and sample instead. urwid is pinned
    (5.1.0, the ``tui`` extra); ``_main_task`` is its loop body without the instrument.
    """

    def __init__(self) -> None:
        super().__init__()
        self._idle: dict[int, Callable[[], Any]] = {}
        self._idle_next = 0

    def enter_idle(self, callback: Callable[[], Any]) -> int:
        self._idle_next += 1
        self._idle[self._idle_next] = callback
        return self._idle_next

    def remove_enter_idle(self, handle: int) -> bool:
        return self._idle.pop(handle, None) is not None

    def run_idle(self) -> None:
        """What urwid does when the loop goes idle: redraw what changed."""
        for callback in list(self._idle.values()):
            callback()

    def _then_idle(self, callback: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            callback()
            self.run_idle()

        return run

    def alarm(self, seconds: float, callback: Callable[[], Any]) -> trio.CancelScope:
        return super().alarm(seconds, self._then_idle(callback))

    def watch_file(self, fd: Any, callback: Callable[[], Any]) -> trio.CancelScope:
        return super().watch_file(fd, self._then_idle(callback))

    async def run_async(self) -> None:
        await self._main_task()


class TuiApp:
    """The interface of one run; ``await app.run(controller)`` until ``close``."""

    def __init__(
        self,
        run: Run,
        *,
        stdout: TextIO | None = None,
        stdin: TextIO | None = None,
        history_s: int = HISTORY_S,
    ) -> None:
        self._run = run
        self._stdout = stdout if stdout is not None else sys.stdout
        self._stdin = stdin if stdin is not None else sys.stdin
        self.history = History(history_s)
        self._window = run.engine.open_stats_window()
        self._scenario_name = run.plan.scenario.base_name
        self._controller: Controller | None = None
        self.view = DASHBOARD
        self.dashboard = Dashboard()
        self.screen_text = ScrollText()
        self.header = urwid.Text("", wrap="clip")
        self.status = urwid.Text("", wrap="clip")
        self.keys = urwid.Text(KEYS_LINE, wrap="clip")
        self.prompt: urwid.Edit | None = None
        self.footer = urwid.Pile([self.status, self.keys])
        self.body: urwid.WidgetPlaceholder[urwid.Widget] = urwid.WidgetPlaceholder(self.dashboard)
        self.frame = urwid.Frame(
            self.body,
            header=urwid.AttrMap(self.header, "header"),
            footer=urwid.AttrMap(self.footer, "footer"),
        )
        self.root: urwid.WidgetPlaceholder[urwid.Widget] = urwid.WidgetPlaceholder(self.frame)
        self.help_open = False
        self._wake = trio.Event()
        self._cancel = trio.CancelScope()
        self._done = trio.Event()
        self._loop: urwid.MainLoop | None = None
        self._event_loop: _QuietTrioEventLoop | None = None
        self._held_output: list[str] = []
        self._warnings: list[str] = []
        self._notice = ""

    # ------------------------------------------------------------------ hooks of the Controller

    def select_screen(self, number: int) -> None:
        """Keys 1-9 (through the Controller): show SIPp's screen ``number`` (a screen the run
        lacks, 5 without -tdmmap, is ignored as SIPp ignores it)."""
        if self._run.live_screen(number) is not None:
            self.view = number
            self.body.original_widget = self.screen_text
            self.refresh_soon()

    def refresh_soon(self) -> None:
        """Redraw now rather than at the next sample (a key or -cp command changed the run)."""
        self._wake.set()

    def notice(self, warning: str) -> None:
        """A warning of the run (a bad -cp command, ...): on the status line now, and on
        stderr once the terminal is given back."""
        self._warnings.append(warning)
        self._notice = warning
        self.refresh_soon()

    def hold_output(self, text: str) -> None:
        """Text for stdout (key s without -trace_screen): printed once the TUI has closed."""
        self._held_output.append(text)
        self._notice = "screens dumped: printed at the exit"
        self.refresh_soon()

    def write_held(self, stdout: TextIO, stderr: TextIO) -> None:
        """After :meth:`close`: what could not be printed while the TUI owned the terminal."""
        for text in self._held_output:
            stdout.write(text)
        stdout.flush()
        for warning in self._warnings:
            stderr.write(f"gossipper: warning: {warning}\n")
        self._held_output.clear()
        self._warnings.clear()

    # ------------------------------------------------------------------ running

    async def run(
        self,
        controller: Controller,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Draw and take keys until :meth:`close` (the run's end) or cancellation."""
        self._controller = controller
        try:
            screen = urwid.display.raw.Screen(input=self._stdin, output=self._stdout)
            event_loop = _QuietTrioEventLoop()
            loop = urwid.MainLoop(
                self.root,
                PALETTE,
                screen=screen,
                event_loop=event_loop,
                unhandled_input=self.handle_key,
                handle_mouse=False,
            )
            self._loop = loop
            self._event_loop = event_loop
            with self._cancel, loop.start():
                self.sample()
                self.refresh()
                event_loop.run_idle()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(event_loop.run_async)
                    task_status.started()
                    await self._refresh_loop()
        finally:
            self._loop = None
            self._done.set()

    async def close(self) -> None:
        """Stop the interface and give the terminal back (before the final screens print)."""
        self._cancel.cancel()
        await self._done.wait()

    async def _refresh_loop(self) -> None:
        next_sample = trio.current_time() + SAMPLE_PERIOD_S
        while True:
            with trio.move_on_at(next_sample):
                await self._wake.wait()
            self._wake = trio.Event()
            if trio.current_time() >= next_sample:
                self.sample()
                # Sample on a fixed grid, skipping what a stalled loop missed.
                now = trio.current_time()
                next_sample += SAMPLE_PERIOD_S * max(
                    1, math.ceil((now - next_sample) / SAMPLE_PERIOD_S)
                )
            self.refresh()
            if self._event_loop is not None:
                self._event_loop.run_idle()

    def sample(self) -> None:
        """Take one sample of the statistics into the history."""
        self.history.add(self._run.engine.snapshot(self._window, restart=True))

    def refresh(self) -> None:
        """Put the run's state into the widgets of the header and the current view."""
        statistics = self._run.engine.statistics()
        state = RunState.of(self._scenario_name, statistics)
        last = self.history.last
        elapsed = last.elapsed_s if last is not None else 0.0
        self.header.set_text(header_text(state, elapsed))
        if self.prompt is None:
            self.status.set_text(self._status_line(state))
        if self.view == DASHBOARD:
            self.dashboard.update(self.history, state)
        else:
            text = self._run.live_screen(self.view)
            if text is not None:
                self.screen_text.set_text(text)

    def _status_line(self, state: RunState) -> str:
        view = "dashboard" if self.view == DASHBOARD else f"SIPp screen {self.view}"
        if state.quit_state is QuitState.SOFT:
            paused = "  quitting: no new calls, ends when the open ones end (q again: now)"
        else:
            paused = "  traffic paused: p resumes" if state.paused else ""
        notice = f"  {self._notice}" if self._notice else ""
        return f"view: {view}{paused}{notice}"

    # ------------------------------------------------------------------ keys

    def handle_key(self, key: str | tuple[str, int, int, int]) -> bool:
        """Keys no widget took: views, help, the prompt, and SIPp's keys for the Controller."""
        if not isinstance(key, str):
            return False
        controller = self._controller
        if self.prompt is not None:
            if key == "enter":
                text = self.prompt.edit_text
                self._close_prompt()
                if controller is not None and text.strip():
                    controller.command(text)
            elif key == "esc":
                self._close_prompt()
            return True
        if self.help_open:
            if key in ("esc", "?", "h", "q"):
                self.root.original_widget = self.frame
                self.help_open = False
            return True
        if key in ("?", "h"):
            self.root.original_widget = help_overlay(self.frame)
            self.help_open = True
        elif key in ("d", "0"):
            self.view = DASHBOARD
            self.body.original_widget = self.dashboard
            self.refresh()
        elif key == "z":
            self.dashboard.next_span()
            self.refresh()
        elif key == "r":
            self.dashboard.rtd_index += 1
            self.refresh()
        elif key == "c":
            self._open_prompt()
        elif key == "ctrl c":
            # The terminal is in raw mode: Ctrl-C is a key, not SIGINT; it stops at once.
            if controller is not None:
                controller.interrupt()
        elif controller is not None and len(key) == 1 and key in "123456789+-*/pqQs":
            controller.key(key)
            self.refresh()
        else:
            return False
        return True

    def _open_prompt(self) -> None:
        self.prompt = urwid.Edit(("prompt", "command: "))
        self.footer.contents[0] = (self.prompt, self.footer.options())
        self.footer.focus_position = 0
        self.frame.focus_position = "footer"

    def _close_prompt(self) -> None:
        self.prompt = None
        self.footer.contents[0] = (self.status, self.footer.options())
        self.frame.focus_position = "body"
        self.refresh()
