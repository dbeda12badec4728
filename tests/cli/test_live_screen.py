"""SIPp's live screen, driven as a person uses it: the real program in a real terminal (tmux),
keys sent with ``send-keys``, the screen read back with ``capture-pane``.

In CI (``CI`` set) a missing tmux is a failure, never a skip (``.ci/run`` installs it).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable

from gossipper.cli.live_screen import CLEAR_SCREEN, fit_screen
from tests.tmux_terminal import tmux, wait_for_screen

__all__ = ["tmux"]  # the fixture, for pytest


def _wait_for(
    tmux: Callable[..., str], pattern: str, timeout_s: float = 15.0
) -> tuple[str, re.Match[str]]:
    return wait_for_screen(tmux, "run", pattern, timeout_s)


def _start(tmux: Callable[..., str], *args: str, columns: int = 100, rows: int = 50) -> None:
    command = shlex.join([sys.executable, "-m", "gossipper", *args])
    # The shell stays after the program ends so its last screen and exit code can be read.
    tmux(
        "new-session",
        "-d",
        "-s",
        "run",
        "-x",
        str(columns),
        "-y",
        str(rows),
        f"{command}; echo EXITED $?; sleep 60",
    )


_TOTAL_CALLS = r"(\d+\.\d)\(0 ms\)/1\.000s +\d+ +[\d.]+ s +(\d+)"


def _wait_for_redraw(tmux: Callable[..., str]) -> None:
    """Until the screen has been drawn twice (total time moved): by then the keyboard is in
    cbreak mode, so a key is read at once rather than held for a line."""
    _, first = _wait_for(tmux, r"Total-time")
    _, first = _wait_for(tmux, r" (\d+\.\d\d) s ")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, again = _wait_for(tmux, r" (\d+\.\d\d) s ")
        if again.group(1) != first.group(1):
            return
        time.sleep(0.1)
    raise AssertionError("the live screen was not redrawn")


def test_live_screen_redraws_and_follows_keys(tmux: Callable[..., str]) -> None:
    _start(tmux, "-sn", "uac", "-peer", "uas", "-r", "10", "-f", "0.5")
    screen, first = _wait_for(tmux, _TOTAL_CALLS)
    assert screen.startswith("------------------------------ Scenario Screen")
    assert "[q]: Soft exit" in screen
    calls_before = int(first.group(2))
    # Redrawn in place: the counts move, and the screen still starts at the top line.
    deadline = time.monotonic() + 10
    calls_after = calls_before
    while calls_after <= calls_before and time.monotonic() < deadline:
        time.sleep(0.3)
        screen, match = _wait_for(tmux, _TOTAL_CALLS)
        calls_after = int(match.group(2))
    assert calls_after > calls_before
    assert screen.count("Scenario Screen") == 1

    _wait_for_redraw(tmux)
    tmux("send-keys", "-t", "run", "2")
    screen, _ = _wait_for(tmux, r"Statistics Screen")
    assert "Outgoing calls created" in screen and "Scenario Screen" not in screen

    tmux("send-keys", "-t", "run", "3")
    _wait_for(tmux, r"Repartition Screen")
    tmux("send-keys", "-t", "run", "4")
    _wait_for(tmux, r"Variables Screen")
    # No -tdmmap: key 5 has no screen and the variables screen stays.
    tmux("send-keys", "-t", "run", "5")
    time.sleep(0.8)
    assert "Variables Screen" in tmux("capture-pane", "-p", "-t", "run")

    tmux("send-keys", "-t", "run", "1")
    tmux("send-keys", "-t", "run", "+")
    _, rate = _wait_for(tmux, r"11\.0\(0 ms\)/1\.000s")
    tmux("send-keys", "-t", "run", "*")
    _wait_for(tmux, r"21\.0\(0 ms\)/1\.000s")

    tmux("send-keys", "-t", "run", "p")
    _wait_for(tmux, r"Traffic Paused - Press \[p\] again to resume")
    tmux("send-keys", "-t", "run", "p")
    _wait_for(tmux, r"\[p\]: Pause traffic")

    tmux("send-keys", "-t", "run", "q")
    screen, code = _wait_for(tmux, r"EXITED (\d+)")
    assert code.group(1) == "0"
    assert "Test Terminated" in screen


def test_tdm_screen_with_tdmmap(tmux: Callable[..., str]) -> None:
    _start(tmux, "-sn", "uac", "-peer", "uas", "-r", "5", "-tdmmap", "{0-1}{7}{1-2}{1-4}")
    _wait_for_redraw(tmux)
    tmux("send-keys", "-t", "run", "5")
    screen, _ = _wait_for(tmux, r"TDM map Screen")
    assert "16 circuits" in screen
    assert "0.7.1/1" in screen and "1.7.2/4" in screen
    tmux("send-keys", "-t", "run", "Q")
    _wait_for(tmux, r"EXITED \d+")


def test_small_terminal_keeps_the_top_line(tmux: Callable[..., str]) -> None:
    # 80x24: the screen is taller than the terminal; its top (the title) must stay visible
    # rather than scroll away with each redraw.
    _start(tmux, "-sn", "uac", "-peer", "uas", "-r", "5", columns=80, rows=24)
    _wait_for_redraw(tmux)
    screen, _ = _wait_for(tmux, _TOTAL_CALLS)
    assert screen.splitlines()[0].startswith("------------------------------ Scenario Screen")
    # The statistics screen is twice the terminal's height: its top and the keys' line show.
    tmux("send-keys", "-t", "run", "2")
    screen, _ = _wait_for(tmux, r"Statistics Screen")
    lines = screen.splitlines()
    assert lines[0].startswith("----------------------------- Statistics Screen")
    assert "[q]: Soft exit" in lines[23] and len(lines) == 24
    # A larger terminal after a resize shows more of it at the next redraw.
    tmux("resize-window", "-t", "run", "-x", "100", "-y", "60")
    screen, _ = _wait_for(tmux, r"\A-+ Statistics Screen[^\n]*\n[\s\S]*Call Length")
    assert len(screen.splitlines()) > 24
    tmux("send-keys", "-t", "run", "q")
    _wait_for(tmux, r"EXITED \d+")


def test_no_terminal_no_live_screen() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gossipper", "-sn", "uac", "-peer", "uas", "-r", "50", "-m", "20"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert CLEAR_SCREEN not in done.stdout
    assert done.stdout.count("Scenario Screen") == 1


def test_fit_screen_keeps_top_and_bottom_line() -> None:
    text = "".join(f"line {n}\n" for n in range(10))
    assert fit_screen(text, 20) == "\n".join(f"line {n}" for n in range(10))
    assert fit_screen(text, 4).split("\n") == ["line 0", "line 1", "line 2", "line 9"]
    assert fit_screen(text, 1).split("\n") == ["line 9"]
