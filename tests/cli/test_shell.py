"""``gossipper shell``: named runs started, steered, watched and stopped in one process, from a
script and at a real terminal (tmux)."""

from __future__ import annotations

import pathlib
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.tmux_terminal import tmux, wait_for_screen

__all__ = ["tmux"]  # the fixture, for pytest

PROFILES = """\
version = 1

[profiles.client]
sn = "uac"
local_ip = "127.0.0.1"
rate = 40
max_calls = 12
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _script(port: int) -> str:
    return f"""\
# a uas and a uac in one shell, the uac from a profile
create uas sn=uas local_ip=127.0.0.1 local_port={port}
create uac from client remote=127.0.0.1:{port}
start uas
start uac
rate uac 60
wait uac 60
stats uac
stop uas
wait uas 20
runs
"""


def _shell(tmp_path: pathlib.Path, script: str, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "lab.txt").write_text(script)
    (tmp_path / "gossipper-profiles.toml").write_text(PROFILES)
    return subprocess.run(
        [sys.executable, "-m", "gossipper", "shell", "-f", "lab.txt", "-o", "out", *extra],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_script_runs_a_session(tmp_path: pathlib.Path) -> None:
    done = _shell(tmp_path, _script(_free_port()))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "> create uac from client remote=" in out  # commands are echoed
    assert "run uac rate 60 cps" in out
    assert re.search(r"^uac +finished +calls 12 ok 12 failed 0", out, re.MULTILINE)
    assert re.search(r"^uas +finished +calls 12 ok 12 failed 0", out, re.MULTILINE)
    # Each run wrote its own summary under -o DIR/NAME.
    assert (tmp_path / "out" / "uac" / "summary.json").exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("frobnicate", "unknown command 'frobnicate'"),
        ("start nobody", "no run named 'nobody'"),
        ("create x sn=uac ratee=5", "ratee"),
        ("create x from nosuch", "no profile nosuch"),
        ("create x sn=uas\nrate x 5", "run 'x' is created: start it first"),
        ("create x sn=uas\nrate x fast", "must be a number"),
    ],
)
def test_script_stops_at_the_first_error(tmp_path: pathlib.Path, line: str, message: str) -> None:
    done = _shell(tmp_path, f"runs\n{line}\nruns\n")
    assert done.returncode == 255
    error = done.stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("gossipper: error: shell line ")
    assert message in error[0]
    assert done.stdout.count("> runs") == 1  # nothing after the failing line ran


def _wait_for(tmux: Callable[..., str], pattern: str, timeout_s: float = 30.0) -> str:
    return wait_for_screen(tmux, "shell", pattern, timeout_s, history_lines=200)[0]


def test_interactive_prompt_at_a_terminal(tmux: Callable[..., str], tmp_path: pathlib.Path) -> None:
    port = _free_port()
    command = shlex.join([sys.executable, "-m", "gossipper", "shell", "-o", str(tmp_path)])
    tmux(
        "new-session", "-d", "-s", "shell", "-x", "120", "-y", "40",
        "-e", f"HOME={tmp_path}", f"cd {shlex.quote(str(tmp_path))} && {command};"
        " echo EXITED $?; sleep 60",
    )  # fmt: skip
    _wait_for(tmux, r"gossipper>")

    def type_line(text: str) -> None:
        tmux("send-keys", "-t", "shell", "-l", text)
        tmux("send-keys", "-t", "shell", "Enter")

    type_line(f"create uas sn=uas local_ip=127.0.0.1 local_port={port}")
    _wait_for(tmux, r"run uas created")
    # Completion: "cre" + Tab completes the verb.
    tmux("send-keys", "-t", "shell", "-l", "cre")
    tmux("send-keys", "-t", "shell", "Tab")
    _wait_for(tmux, r"gossipper> create")
    tmux("send-keys", "-t", "shell", "C-u")
    type_line(f"create uac sn=uac local_ip=127.0.0.1 remote=127.0.0.1:{port} max_calls=10 rate=50")
    _wait_for(tmux, r"run uac created")
    type_line("start uas")
    _wait_for(tmux, r"run uas running")
    type_line("start uac")
    type_line("wait uac 60")
    _wait_for(tmux, r"uac +finished +calls 10 ok 10 failed 0")
    type_line("bogus")
    _wait_for(tmux, r"error: unknown command 'bogus'")
    # History: Up brings back the last line.
    tmux("send-keys", "-t", "shell", "Up")
    _wait_for(tmux, r"gossipper> bogus\s*$")
    tmux("send-keys", "-t", "shell", "C-u")
    type_line("quit")
    screen = _wait_for(tmux, r"EXITED \d+")
    assert "EXITED 0" in screen
    assert (tmp_path / ".gossipper_shell_history").exists()
