"""A private tmux server for tests that drive the real program in a terminal (the live screen,
the TUI, the shell): ``send-keys`` to type, ``capture-pane`` to read the screen back.

In CI (``CI`` set) a missing tmux is a failure, never a skip (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

Tmux = Callable[..., str]

__all__ = ["Tmux", "tmux", "wait_for_screen"]


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    """A private tmux server (its own socket); yields a ``tmux(*args)`` runner."""
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is required in CI (apt-get install -y tmux)")
        pytest.skip("tmux not installed (apt-get install -y tmux); required in CI")
    socket_name = f"gossipper-test-{uuid.uuid4().hex[:8]}"

    def run(*args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", socket_name, *args], capture_output=True, text=True, timeout=10
        )
        return done.stdout

    try:
        yield run
    finally:
        subprocess.run(["tmux", "-L", socket_name, "kill-server"], capture_output=True)


def wait_for_screen(
    tmux: Tmux,
    target: str,
    pattern: str,
    timeout_s: float = 15.0,
    *,
    history_lines: int = 0,
) -> tuple[str, re.Match[str]]:
    """Until ``pattern`` (multi-line regex) is on ``target``'s pane (with that many lines of
    scroll-back); the screen and the match. Fails showing the screen."""
    args = ["capture-pane", "-p", "-t", target]
    if history_lines:
        args += ["-S", f"-{history_lines}"]
    deadline = time.monotonic() + timeout_s
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux(*args)
        match = re.search(pattern, screen, re.MULTILINE)
        if match:
            return screen, match
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} never appeared; the terminal shows:\n{screen}")
