"""``gossipper tui`` driven as a person uses it: the real program in a real terminal (tmux),
keys sent with ``send-keys``, the screen read back with ``capture-pane``.

In CI (``CI`` set) a missing tmux is a failure, never a skip (the ``tmux`` fixture).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import time
from collections.abc import Callable

from gossipper.tui.widgets import KEYS_LINE
from tests.tmux_terminal import wait_for_screen

Tmux = Callable[..., str]


def _start(tmux: Tmux, *args: str, columns: int = 80, rows: int = 24) -> None:
    command = shlex.join(["env", "LANG=C.UTF-8", sys.executable, "-m", "gossipper", *args])
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
    # The window keeps the size it is given (resize-window below), whatever the clients.
    tmux("set-option", "-t", "run", "window-size", "manual")


def _pane(tmux: Tmux) -> str:
    return tmux("capture-pane", "-p", "-t", "run")


def _wait_for(tmux: Tmux, pattern: str, timeout_s: float = 20.0) -> tuple[str, re.Match[str]]:
    return wait_for_screen(tmux, "run", pattern, timeout_s)


def _wait_gone(tmux: Tmux, text: str, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    screen = _pane(tmux)
    while text in screen and time.monotonic() < deadline:
        time.sleep(0.1)
        screen = _pane(tmux)
    assert text not in screen, f"{text!r} is still shown:\n{screen}"
    return screen


def _assert_clean(screen: str, columns: int, rows: int) -> None:
    """One dashboard drawn at exactly this size: the header on top, the keys at the bottom,
    each panel once, nothing left over from an earlier size."""
    lines = screen.split("\n")
    # capture-pane prints every row of the pane (trailing blanks trimmed) and a final newline.
    while len(lines) > rows and lines[-1] == "":
        lines.pop()
    assert len(lines) == rows, screen
    assert all(len(line) <= columns for line in lines), screen
    assert lines[0].startswith("gossipper uac -> 127.0.0.1:"), screen
    assert lines[-1].rstrip() == KEYS_LINE[:columns].rstrip(), screen
    for panel in ("Calls/s", "p99 ms", "Failed/s", "Open calls", "Transport UDP", "Failures"):
        assert screen.count(panel) == 1, (panel, screen)


def _calls(tmux: Tmux) -> int:
    _, match = _wait_for(tmux, r"calls (\d+)\s")
    return int(match.group(1))


def test_tui_draws_follows_keys_resizes_and_quits(tmux: Tmux) -> None:
    _start(tmux, "tui", "-sn", "uac", "-peer", "uas", "-r", "20")
    screen, _ = _wait_for(tmux, r"Calls/s \d+\.\d")
    _wait_for(tmux, r"\[RUNNING\]")
    screen, _ = _wait_for(tmux, r"rate 20 cps")
    _assert_clean(_pane(tmux), 80, 24)

    # The numbers move.
    before = _calls(tmux)
    deadline = time.monotonic() + 10
    after = before
    while after <= before and time.monotonic() < deadline:
        time.sleep(0.3)
        after = _calls(tmux)
    assert after > before
    _wait_for(tmux, r"10 s +\d+\.\d +\d+\.\d +\d+\.\d +\d+")  # percentiles of measures

    # Rate keys act through the Controller and show in the header.
    tmux("send-keys", "-t", "run", "+")
    _wait_for(tmux, r"rate 21 cps")
    tmux("send-keys", "-t", "run", "*")
    _wait_for(tmux, r"rate 31 cps")
    tmux("send-keys", "-t", "run", "/")
    _wait_for(tmux, r"rate 21 cps")

    tmux("send-keys", "-t", "run", "p")
    _wait_for(tmux, r"\[PAUSED\]")
    _wait_for(tmux, r"traffic paused: p resumes")
    tmux("send-keys", "-t", "run", "p")
    _wait_for(tmux, r"\[RUNNING\]")

    # The help overlay opens over the dashboard and closes again.
    tmux("send-keys", "-t", "run", "?")
    screen, _ = _wait_for(tmux, r"soft quit: no new calls")
    assert "Calls/s" not in screen
    tmux("send-keys", "-t", "run", "Escape")
    _wait_gone(tmux, "soft quit: no new calls")
    _wait_for(tmux, r"Calls/s")

    # SIPp's screens, and back.
    tmux("send-keys", "-t", "run", "2")
    screen, _ = _wait_for(tmux, r"Statistics Screen")
    assert "Calls/s" not in screen
    tmux("send-keys", "-t", "run", "d")
    _wait_for(tmux, r"Calls/s")

    # A command typed at the prompt.
    tmux("send-keys", "-t", "run", "c")
    _wait_for(tmux, r"command:")
    tmux("send-keys", "-t", "run", "-l", "set rate 7")
    tmux("send-keys", "-t", "run", "Enter")
    _wait_for(tmux, r"rate 7 cps")

    # Resized: redrawn at the new size, nothing left of the old one.
    tmux("resize-window", "-t", "run", "-x", "120", "-y", "40")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        screen = _pane(tmux)
        if len(screen.rstrip("\n").split("\n")) == 40 and KEYS_LINE in screen.split("\n")[39]:
            break
        time.sleep(0.2)
    time.sleep(1.2)  # one more sample drawn at the new size
    _assert_clean(_pane(tmux), 120, 40)
    tmux("resize-window", "-t", "run", "-x", "80", "-y", "24")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        screen = _pane(tmux)
        if len(screen.rstrip("\n").split("\n")) == 24:
            break
        time.sleep(0.2)
    time.sleep(1.2)
    _assert_clean(_pane(tmux), 80, 24)

    # q: soft quit; the terminal is given back and SIPp's final screens are printed.
    tmux("send-keys", "-t", "run", "q")
    screen, code = _wait_for(tmux, r"EXITED (\d+)")
    assert code.group(1) == "0", screen
    assert "Test Terminated" in screen
    assert "Successful call" in screen
    assert "Calls/s" not in screen


def test_interactive_option_on_a_load_run(tmux: Tmux) -> None:
    _start(tmux, "-sn", "uac", "-peer", "uas", "-r", "10", "-m", "20", "-interactive")
    _wait_for(tmux, r"calls \d+/20\s")
    # The run ends by itself (-m 20): the TUI closes and the final screens follow.
    screen, code = _wait_for(tmux, r"EXITED (\d+)", timeout_s=30)
    assert code.group(1) == "0", screen
    assert "Test Terminated" in screen


def test_no_terminal_is_one_line_error() -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "gossipper", "tui", "-sn", "uac", "-peer", "uas"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 1
    assert done.stderr == (
        "gossipper: error: -interactive (gossipper tui) needs a terminal on standard input"
        " and output; run it in a terminal (or tmux), or drop -interactive for a plain run\n"
    )
