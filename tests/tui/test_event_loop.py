"""The TUI's urwid event loop stays off the engine's hot path: no Trio instrument (whose hooks
would run at every step of every call's task); urwid's redraw runs after input and alarms."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import trio

from gossipper.tui.app import _QuietTrioEventLoop


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for ``condition``: a fixed sleep could end first on a loaded machine (the main
    task and the loop's woken in the same step, in either order)."""
    with trio.fail_after(10):
        while not condition():  # noqa: ASYNC110 - the callbacks set no event
            await trio.sleep(0.01)


def test_no_instrument_and_idle_callbacks_after_alarms_and_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(instrument: object) -> None:
        raise AssertionError("an instrument would run at every task step of the run")

    monkeypatch.setattr(trio.lowlevel, "add_instrument", refuse)
    events: list[str] = []

    async def main() -> None:
        loop = _QuietTrioEventLoop()
        handle = loop.enter_idle(lambda: events.append("idle"))
        read_fd, write_fd = os.pipe()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(loop.run_async)
                loop.alarm(0.01, lambda: events.append("alarm"))
                await _until(lambda: len(events) >= 2)
                assert events == ["alarm", "idle"]

                def readable() -> None:
                    os.read(read_fd, 10)
                    events.append("input")

                loop.watch_file(read_fd, readable)
                os.write(write_fd, b"x")
                await _until(lambda: len(events) >= 4)
                assert events == ["alarm", "idle", "input", "idle"]
                assert loop.remove_enter_idle(handle)
                assert not loop.remove_enter_idle(handle)
                loop.alarm(0.01, lambda: events.append("alarm"))
                await _until(lambda: len(events) >= 5)
                await trio.sleep(0.05)  # an idle callback, were it still called, would be here
                assert events[4:] == ["alarm"]
                nursery.cancel_scope.cancel()
        finally:
            os.close(read_fd)
            os.close(write_fd)

    trio.run(main)
