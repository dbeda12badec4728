"""``gossipper tui`` and ``-interactive`` on the command line: parsing, refusals, and urwid
imported only when the TUI starts."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from gossipper.cli.main import raw_main
from gossipper.cli.options import parse_command_line


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = raw_main(argv, stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_interactive_option_sets_the_setting() -> None:
    assert parse_command_line(["-sn", "uac", "-interactive", "h"]).config.process.interactive
    assert not parse_command_line(["-sn", "uac", "h"]).config.process.interactive


def test_tui_help() -> None:
    status, out, err = _run(["tui", "-h"])
    assert status == 99 and err == ""
    assert out.startswith("Usage: gossipper tui [SIPp options]")
    assert "gossipper tui -sn uac -peer uas -r 20" in out


def test_tui_is_listed_in_the_front_door_help() -> None:
    status, out, _ = _run(["--help"])
    assert status == 99
    assert "tui" in out and "terminal UI" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-bg"], "-bg detaches from it; drop one of them"),
        (["-nostdin"], "-nostdin forbids it; drop one of them"),
        ([], "needs a terminal on standard input and output"),
    ],
)
def test_interactive_refusals_are_one_line(extra: list[str], message: str) -> None:
    # pytest's stdin and a StringIO stdout are not terminals.
    status, out, err = _run(["tui", "-sn", "uac", "-peer", "uas", *extra])
    assert status == 1 and out == ""
    assert err.startswith("gossipper: error: -interactive (gossipper tui) ")
    assert message in err and err.count("\n") == 1


_NO_URWID = """
import sys
from gossipper.cli.main import raw_main
status = raw_main(sys.argv[1:])
assert "urwid" not in sys.modules, "urwid imported"
print("STATUS", status)
"""


@pytest.mark.parametrize(
    "argv",
    [["-v"], ["-sn", "uac", "-peer", "uas", "-m", "3", "-r", "50", "-nostdin"]],
)
def test_a_plain_run_does_not_import_urwid(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _NO_URWID, *argv],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert "urwid imported" not in done.stderr
    expected = "STATUS 99" if argv == ["-v"] else "STATUS 0"
    assert expected in done.stdout, done.stdout + done.stderr
