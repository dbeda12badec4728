"""The command line: ``gossipper [SIPp options] [remote_host[:port]]`` and ``gossipper SUBCOMMAND``.

Three layers, as in httpie: ``main`` (process exit) -> ``raw_main`` (error policy: one line on
stderr, a SIPp exit code, no traceback) -> ``program`` (the work). This module is also the
composition root: it alone picks real sockets and the real clock for the engine.

``program`` routes a command line whose first word is a subcommand (``sim``), ``--help`` or a
shell completion option to the typer app of ``cli.app``; everything else is SIPp's command line,
parsed by the option table of ``cli.options``. Heavy imports (typer, trio, lxml, the engine)
happen inside ``program`` so that ``gossipper -v`` and ``-h`` return quickly.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from gossipper.errors import ConfigError, ExitStatus, GossipperError, first_gossipper_error

if TYPE_CHECKING:
    from gossipper.config import RunConfig
    from gossipper.scenario import Scenario


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    # Start-up (imports, scenario load) allocates tens of thousands of long-lived objects; the
    # cyclic collector would scan them again and again for nothing. It stays off until
    # ``run.tune_garbage_collector`` freezes them and turns it back on.
    gc.disable()
    status = raw_main(sys.argv[1:] if argv is None else argv)
    if _run_outputs_closed and sys.getprofile() is None:
        # A finished run has closed its trace and summary files and restored the terminal;
        # skip the interpreter's teardown, which frees every object one by one (about 7 ms
        # of CPU, charged to the run). Other paths exit normally, and so does a run under
        # cProfile (bench/profile_gossipper.py), whose profile is written at exit.
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)
    sys.exit(status)


_run_outputs_closed = False
"""Set once ``run_real`` has returned: everything it wrote is flushed and closed."""


def raw_main(
    argv: Sequence[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the program; turn expected errors into one stderr line and an exit status."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        try:
            return int(program(list(argv), out, err))
        except BaseExceptionGroup as group:
            # An error raised inside a Trio nursery (e.g. an unresolvable remote host) arrives
            # wrapped; report it like the same error raised outside one.
            error = first_gossipper_error(group, alone=True)
            if error is None:
                raise
            raise error from group
    except GossipperError as exc:
        err.write(f"gossipper: error: {exc}\n")
        err.flush()
        return int(exc.exit_status)
    except KeyboardInterrupt:
        err.write("gossipper: interrupted\n")
        return int(ExitStatus.CALLS_FAILED)


def program(argv: list[str], stdout: TextIO, stderr: TextIO) -> ExitStatus | int:
    """Parse, load, run; returns the exit status."""
    from gossipper.cli.commands import COMPLETE_VAR, FRONT_DOOR_OPTIONS, subcommand

    if (
        argv
        and (argv[0] in FRONT_DOOR_OPTIONS or subcommand(argv[0]) is not None)
        or (COMPLETE_VAR in os.environ)
    ):
        # Subcommands, --help and shell completion: the typer app (imported only here).
        from gossipper.cli.app import run_app

        return run_app(argv, stdout, stderr)
    if "-rtp_send" in argv or "--rtp_send" in argv:
        # The Go gossipper's standalone RTP sender: no SIP, its own small set of options.
        from gossipper.cli.rtp_send_command import run_rtp_send_command

        return run_rtp_send_command(argv, stdout, stderr)
    from gossipper.cli.options import Action, parse_command_line

    command = parse_command_line(argv)
    if command.action is Action.HELP:
        if command.help_topic == "stat":
            # SIPp's -h stat: what each column of the -trace_stat file means.
            from gossipper.stats.sipp_csv import format_stat_help

            stdout.write(format_stat_help())
            return ExitStatus.NO_CALLS
        from gossipper.cli.options import format_help

        stdout.write(format_help())
        return ExitStatus.NO_CALLS
    if command.action is Action.VERSION:
        from gossipper import __version__

        stdout.write(f"gossipper {__version__} (SIPp 3.6.1 compatible command line)\n")
        return ExitStatus.NO_CALLS
    if command.action is Action.DUMP_SCENARIO:
        from gossipper.scenario import BUILTIN_NAMES, builtin_text

        name = command.dump_scenario or ""
        if name not in BUILTIN_NAMES:
            raise ConfigError(
                f"-sd: invalid default scenario name '{name}'; "
                f"choose one of {', '.join(BUILTIN_NAMES)}"
            )
        stdout.write(builtin_text(name))
        return ExitStatus.NO_CALLS

    if command.config.process.workers is not None and "GOSSIPPER_WORKER" not in os.environ:
        from gossipper.cli.workers_run import run_with_workers

        return run_with_workers(argv, command.config, stdout, stderr)
    return run_configured(command.config, stdout, stderr)


def run_configured(config: RunConfig, stdout: TextIO, stderr: TextIO) -> ExitStatus | int:
    """Load the scenarios a configuration names and run it (a command line's run, a
    profile's)."""
    if config.process.workers is not None:
        # A command line's -workers never gets here (``program`` hands it to the workers'
        # parent, which rebuilds the command line of each worker).
        raise ConfigError("-workers is supported on the command line only; give -workers N there")
    scenario = load_configured_scenario(config)
    ooc_scenario, rx_scenario = load_extra_scenarios(config, scenario)
    if config.process.interactive:
        from gossipper.cli.tui_command import check_interactive

        check_interactive(config, sys.stdin, stdout)
    if config.process.background:
        daemonize(stdout)
    from gossipper.cli.run import run_real

    global _run_outputs_closed
    status = run_real(
        config, scenario, stdout, stderr, ooc_scenario=ooc_scenario, rx_scenario=rx_scenario
    )
    _run_outputs_closed = True
    return status


def load_configured_scenario(config: RunConfig) -> Scenario:
    """Load ``-sf FILE`` or ``-sn NAME`` (default ``uac``); errors name the file and line."""
    from gossipper.scenario import load_scenario

    path = config.target.scenario_file
    if path is not None:
        if not os.path.isfile(path):
            raise ConfigError(f"-sf {path}: no such file; give the path of a SIPp XML scenario")
        identity = config.identity
        return load_scenario(path, keys=identity.keys, global_vars=identity.globals_set)
    return load_builtin(config.effective_scenario_name or "uac", config)


def load_extra_scenarios(
    config: RunConfig, scenario: Scenario
) -> tuple[Scenario | None, Scenario | None]:
    """The out-of-call scenario (``-oocsf``/``-oocsn``) and the mixed-mode server scenario
    (``-rxsf``/``-rxsn``) of a run whose main scenario is ``scenario``; None when not given.

    Both serve requests from the peer, so both must begin with a ``<recv>``; both only make
    sense beside a client main scenario (SIPp refuses -oocsf in server mode).
    """
    target = config.target
    ooc: Scenario | None = None
    rx: Scenario | None = None
    if config.has_ooc_scenario:
        option = "-oocsf" if target.ooc_scenario_file is not None else "-oocsn"
        if scenario.is_server:
            raise ConfigError(
                f"{option}: out-of-call scenarios cannot be used when running in server mode"
                f" ({scenario.source_label} starts with a <recv>); drop {option}"
            )
        if config.has_rx_scenario:
            raise ConfigError(
                f"{option} has no effect in mixed mode: every unknown Call-ID starts a call of"
                " the -rxsf/-rxsn scenario; drop one of them"
            )
        ooc = _load_extra(option, target.ooc_scenario_file, target.ooc_scenario_name, config)
    if config.has_rx_scenario:
        option = "-rxsf" if target.rx_scenario_file is not None else "-rxsn"
        if scenario.is_server:
            raise ConfigError(
                f"{option} (mixed mode) runs a server scenario beside a client one, but"
                f" {scenario.source_label} is a server scenario: give a client scenario with"
                " -sf/-sn, or drop " + option
            )
        rx = _load_extra(option, target.rx_scenario_file, target.rx_scenario_name, config)
        rx_rows = config.identity.rx_injection_file
        if rx_rows is not None and not os.path.isfile(rx_rows):
            raise ConfigError(f"-rxinf {rx_rows}: no such file; give a CSV injection file")
    return ooc, rx


def _load_extra(option: str, path: str | None, name: str | None, config: RunConfig) -> Scenario:
    from gossipper.scenario import BUILTIN_NAMES, builtin_path, load_scenario

    identity = config.identity
    if path is not None:
        if not os.path.isfile(path):
            raise ConfigError(
                f"{option} {path}: no such file; give the path of a SIPp XML scenario"
            )
        loaded = load_scenario(path, keys=identity.keys, global_vars=identity.globals_set)
    else:
        assert name is not None
        if name not in BUILTIN_NAMES:
            raise ConfigError(
                f"{option}: invalid default scenario name '{name}'; choose one of"
                f" {', '.join(BUILTIN_NAMES)}"
            )
        loaded = load_scenario(
            str(builtin_path(name)),
            builtin_name=name,
            keys=identity.keys,
            global_vars=identity.globals_set,
        )
    if not loaded.is_server:
        raise ConfigError(
            f"{option}: {loaded.source_label} must begin with a <recv> (it answers requests"
            " from the peer); its first message element is a <send>"
        )
    return loaded


def load_builtin(name: str, config: RunConfig) -> Scenario:
    from gossipper.scenario import BUILTIN_NAMES, builtin_path, load_scenario

    if name not in BUILTIN_NAMES:
        raise ConfigError(
            f"-sn: invalid default scenario name '{name}'; choose one of {', '.join(BUILTIN_NAMES)}"
        )
    return load_scenario(
        str(builtin_path(name)),
        builtin_name=name,
        keys=config.identity.keys,
        global_vars=config.identity.globals_set,
    )


def daemonize(stdout: TextIO) -> None:
    """-bg: the parent prints the child's pid and exits 99, as SIPp does."""
    stdout.flush()
    child = os.fork()
    if child:
        stdout.write(f"Background mode - PID=[{child}]\n")
        stdout.flush()
        os._exit(int(ExitStatus.NO_CALLS))
    os.setsid()
    # Like SIPp's daemon: no terminal I/O; results go to the trace and summary files.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)


if __name__ == "__main__":
    main()
