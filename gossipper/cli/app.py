"""The typer front door: ``gossipper --help``, shell completion, and the subcommands.

``cli.main`` imports this module only for a command line that starts with a subcommand name or
one of :data:`~gossipper.cli.commands.FRONT_DOOR_OPTIONS`, or for a shell completion request,
so a SIPp-style run and ``gossipper -v`` never import typer. typer resolves the subcommand and
answers ``--help`` and completion; the subcommand's handler then runs outside typer with the
raw arguments that follow the subcommand name, so SIPp's single-dash options, negative numbers
and ``-key NAME VALUE`` keep going through the one option table (``cli.options``), and errors
and exit statuses stay those of ``cli.main``. typer's usage errors become the same one-line
``gossipper: error: ...`` (a ``ConfigError``, SIPp's exit status 1 for a bad command line).
"""

from __future__ import annotations

import contextlib
import importlib
import io
from collections.abc import Callable, Sequence
from typing import TextIO, cast

import typer

from gossipper.cli.commands import SUBCOMMANDS, Subcommand
from gossipper.errors import ConfigError, ExitStatus

__all__ = ["build_app", "run_app"]

Handler = Callable[[Sequence[str], TextIO, TextIO], ExitStatus]

_CHOSEN = "gossipper.subcommand"
"""Key of ``ctx.obj`` under which a subcommand's typer callback leaves its entry."""

_HELP = "gossipper: a SIP traffic generator with SIPp's command line."
_EPILOG = (
    "Without a subcommand gossipper takes SIPp's command line: gossipper [options]"
    " [remote_host[:remote_port]]; gossipper -h lists its options."
)


def build_app() -> typer.Typer:
    """The typer application: one command per entry of ``cli.commands.SUBCOMMANDS``."""
    app = typer.Typer(
        name="gossipper",
        help=_HELP,
        epilog=_EPILOG,
        # Plain help and errors: rich's panels are slow to import and several lines tall.
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def root() -> None:
        # A callback keeps the subcommands as subcommands even while there is only one.
        pass

    for entry in SUBCOMMANDS:
        _add_subcommand(app, entry)
    return app


def _add_subcommand(app: typer.Typer, entry: Subcommand) -> None:
    def choose(ctx: typer.Context) -> None:
        cast(dict[str, object], ctx.obj)[_CHOSEN] = entry

    app.command(
        entry.name,
        help=entry.summary,
        # Every argument, -h and --help included, belongs to the handler's own parser.
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(choose)


def run_app(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> ExitStatus | int:
    """Run the front door on ``argv`` (without the program name); returns the exit status.

    Raises:
        ConfigError: a usage error of the front door (unknown option, extra argument, ...).
    """
    command = typer.main.get_command(build_app())
    state: dict[str, object] = {}
    errors = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(errors):
            result = command.main(
                args=list(argv), prog_name="gossipper", standalone_mode=False, obj=state
            )
    except typer.TyperException as exc:  # click's UsageError and the like
        raise ConfigError(_one_line(exc.format_message())) from None
    except typer.Abort:
        raise KeyboardInterrupt from None
    except SystemExit as exc:
        # Completion (--install-completion, --show-completion, a completion request) ends
        # with sys.exit in typer.
        result = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    status = result if isinstance(result, int) else 0
    chosen = state.get(_CHOSEN)
    if isinstance(chosen, Subcommand):
        return _handler(chosen)(list(argv[1:]), stdout, stderr)
    if status != 0 and errors.getvalue().strip():
        raise ConfigError(_one_line(errors.getvalue()))
    stderr.write(errors.getvalue())
    if status == 0 and "--help" in argv:
        return ExitStatus.NO_CALLS  # help printed, nothing run: SIPp's -h status
    return status


def _handler(entry: Subcommand) -> Handler:
    module_name, _, function = entry.handler.partition(":")
    return cast(Handler, getattr(importlib.import_module(module_name), function))


def _one_line(text: str) -> str:
    return " ".join(text.split())
