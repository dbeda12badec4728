"""The subcommands of ``gossipper`` as data: what routes a command line to the typer app.

``gossipper sim ...`` (a first word naming a subcommand), ``gossipper --help`` and the shell
completion options and requests go to the typer app of :mod:`gossipper.cli.app`; any other
command line is SIPp's and goes to the option table of :mod:`gossipper.cli.options`, without
importing typer. This module is cheap to import: ``cli.main`` reads it on every start.

Adding a subcommand: one :class:`Subcommand` entry here, and its handler, a function
``handler(args, stdout, stderr) -> ExitStatus`` that receives the raw arguments after the
subcommand name (so that SIPp-style options with one dash, negative numbers and ``-key NAME
VALUE`` keep going through the option table's parser).
"""

from __future__ import annotations

import dataclasses

__all__ = [
    "COMPLETE_VAR",
    "FRONT_DOOR_OPTIONS",
    "SUBCOMMANDS",
    "Subcommand",
    "close_subcommand",
    "subcommand",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Subcommand:
    """One ``gossipper NAME ...`` command.

    ``handler`` is ``"module:function"``, imported only when the subcommand runs.
    ``summary`` is its line in ``gossipper --help``.
    """

    name: str
    summary: str
    handler: str


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "sim",
        "A run against its peer on a simulated network (gossipper sim -h).",
        "gossipper.cli.sim_command:run_sim_command",
    ),
    Subcommand(
        "profile",
        "Named run definitions kept in a file: list, show, run (gossipper profile -h).",
        "gossipper.cli.profiles:run_profile_command",
    ),
    Subcommand(
        "auth",
        "Users and passwords of the HTTP API (gossipper auth -h).",
        "gossipper.cli.auth_command:run_auth_command",
    ),
    Subcommand(
        "tui",
        "A load run with the terminal UI: charts, percentiles, failures, keys (gossipper tui -h).",
        "gossipper.cli.tui_command:run_tui_command",
    ),
    Subcommand(
        "report",
        "HTML report, gates and JUnit of summaries (gossipper report -h).",
        "gossipper.cli.report_command:run_report_command",
    ),
    Subcommand(
        "shell",
        "Start, watch, change and stop named runs at a prompt or from a script"
        " (gossipper shell -h).",
        "gossipper.cli.shell:run_shell_command",
    ),
    Subcommand(
        "server",
        "Host several runs from a JSON configuration (gossipper server -config FILE.json).",
        "gossipper.cli.server_command:run_server_command",
    ),
    Subcommand(
        "pcap2scenario",
        "The SIP dialogs of a pcap/pcapng capture as SIPp scenarios (gossipper pcap2scenario -h).",
        "gossipper.cli.pcap2scenario_command:run_pcap2scenario_command",
    ),
    Subcommand(
        "merge",
        "The summaries and CSV files of N segments or processes as one result"
        " (gossipper merge -h).",
        "gossipper.cli.merge_command:run_merge_command",
    ),
)

FRONT_DOOR_OPTIONS = frozenset({"--help", "--install-completion", "--show-completion"})
"""First arguments that belong to the typer app rather than to SIPp's command line."""

COMPLETE_VAR = "_GOSSIPPER_COMPLETE"
"""Environment variable of a shell completion request (typer's ``_{PROG}_COMPLETE``)."""


def subcommand(name: str) -> Subcommand | None:
    """The subcommand called ``name``, or None."""
    for entry in SUBCOMMANDS:
        if entry.name == name:
            return entry
    return None


def close_subcommand(word: str) -> str | None:
    """The subcommand ``word`` is probably a misspelling of, or None.

    A first word that names no subcommand is SIPp's remote host (``sipp HOST``), so a typo
    such as ``gossipper smi`` is only noticed when that host does not resolve.
    """
    import difflib  # only for this error message

    close = difflib.get_close_matches(word, [entry.name for entry in SUBCOMMANDS], n=1)
    return close[0] if close else None
