"""``gossipper tui [SIPp options...]``: a load run with the terminal UI (``-interactive``).

The arguments are SIPp's command line, parsed by the one option table; the run is a normal
real run (``cli.run``) whose terminal belongs to the TUI (``gossipper.tui``) instead of SIPp's
live screen. urwid is imported only when the TUI starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from gossipper.config import RunConfig
from gossipper.errors import ConfigError, ExitStatus

__all__ = ["check_interactive", "run_tui_command"]

_USAGE = """\
Usage: gossipper tui [SIPp options] [remote_host[:remote_port]]

A load run with gossipper's terminal UI instead of SIPp's live screen: live charts of the
call rate, response-time percentiles and failures, the failure reasons, the open calls against
-l and the transport; SIPp's screens 1-9; the keys + - * / p q Q s c act as in SIPp.
The same as adding -interactive to a run. Press ? in the UI for every key.
Example: gossipper tui -sn uac -peer uas -r 20
SIPp's options: gossipper -h
"""


def run_tui_command(args: Sequence[str], stdout: TextIO, stderr: TextIO) -> ExitStatus | int:
    """``gossipper tui ...``: the run the arguments describe, with ``-interactive``."""
    if not args or args[0] in ("-h", "--help", "help"):
        stdout.write(_USAGE)
        return ExitStatus.NO_CALLS
    from gossipper.cli.main import program

    return program([*args, "-interactive"], stdout, stderr)


def check_interactive(config: RunConfig, stdin: TextIO, stdout: TextIO) -> None:
    """Refuse -interactive where the TUI cannot work, before anything starts.

    Raises:
        ConfigError: with -bg or -nostdin, or without a terminal on stdin and stdout.
    """
    if config.process.background:
        raise ConfigError(
            "-interactive (gossipper tui) needs the terminal and -bg detaches from it;"
            " drop one of them"
        )
    if config.process.nostdin:
        raise ConfigError(
            "-interactive (gossipper tui) reads the keyboard and -nostdin forbids it;"
            " drop one of them"
        )
    import importlib.util

    if importlib.util.find_spec("urwid") is None:
        raise ConfigError("-interactive (gossipper tui) needs urwid: pip install 'gossipper[tui]'")
    if not (_is_terminal(stdin) and _is_terminal(stdout)):
        raise ConfigError(
            "-interactive (gossipper tui) needs a terminal on standard input and output;"
            " run it in a terminal (or tmux), or drop -interactive for a plain run"
        )
    # Loaded now, before the run is built: its start-up is not charged to the run's clock.
    import gossipper.tui.app  # noqa: F401


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False
