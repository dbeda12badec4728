"""``gossipper sim``: a run of the real engine against a peer on a simulated, faulty network.

The command line is a normal run's (scenario, load, timer and trace options, parsed by
``gossipper.cli.options``) plus the options of :data:`SIM_OPTIONS` below, which are taken out
first. This module is a composition root like ``cli.run``: it loads the scenarios, builds the run
environments and hands a ``SimulationPlan`` to ``gossipper.sim.run_simulation``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shlex
import textwrap
from collections.abc import Sequence
from typing import TextIO

from gossipper import __version__
from gossipper.cli.main import load_builtin, load_configured_scenario
from gossipper.cli.options import Action, option_by_name, parse_command_line
from gossipper.config import RunConfig
from gossipper.errors import ConfigError, ExitStatus
from gossipper.scenario import BUILTIN_NAMES, load_scenario
from gossipper.sim import (
    CLIENT_HOST,
    DEFAULT_EPOCH_S,
    MAIN_PID,
    PEER_PID,
    SERVER_HOST,
    FaultPlan,
    LinkFaults,
    LinkRule,
    SimSide,
    SimulationPlan,
    run_simulation,
)

__all__ = [
    "DEFAULT_SEED",
    "build_plan",
    "NATURAL_PEERS",
    "SIM_OPTIONS",
    "SimOption",
    "format_sim_help",
    "format_sim_markdown",
    "run_sim_command",
]

DEFAULT_SEED = 1
"""Seed used when ``-seed`` is not given (a fixed one: the same command gives the same bytes)."""

NATURAL_PEERS: dict[str, str] = {
    "uac": "uas",
    "uas": "uac",
    "regexp": "uas",
    "uac_pcap": "uas",
    "branchc": "branchs",
    "branchs": "branchc",
}
"""Built-in partner of each built-in scenario; a ``-sf`` file gets ``uas`` (client) or
``uac`` (server)."""

DEFAULT_TIMEOUT_MARGIN_S = 3600.0
"""Virtual seconds added to the expected duration for the default ``-timeout`` of a sim."""

_FAULTS = ("loss", "dup", "delay", "jitter", "reorder", "reorder_delay")
_FAULT_FIELDS = {
    "loss": "loss_pct",
    "dup": "duplicate_pct",
    "delay": "delay_ms",
    "jitter": "jitter_ms",
    "reorder": "reorder_pct",
    "reorder_delay": "reorder_delay_ms",
}
_DIRECTIONS = ("", "_c2s", "_s2c")


@dataclasses.dataclass(frozen=True, slots=True)
class SimOption:
    """One option that only ``gossipper sim`` knows (all take one value)."""

    name: str
    metavar: str
    default: str
    help: str


def _fault_options() -> list[SimOption]:
    texts = {
        "loss": ("PCT", "0", "drop this percentage of datagrams"),
        "dup": ("PCT", "0", "deliver this percentage of datagrams twice"),
        "delay": ("MS", "0", "fixed one-way delay in milliseconds"),
        "jitter": (
            "MS",
            "0",
            "add a uniform random delay in [0, MS) to each datagram (a flow stays in order)",
        ),
        "reorder": (
            "PCT",
            "0",
            "hold back this percentage of datagrams by -net_reorder_delay so later ones overtake",
        ),
        "reorder_delay": ("MS", "20", "extra delay of a reordered datagram"),
    }
    options: list[SimOption] = []
    for fault in _FAULTS:
        metavar, default, text = texts[fault]
        options.append(SimOption(f"-net_{fault}", metavar, default, f"{text}, both directions"))
        options.append(
            SimOption(
                f"-net_{fault}_c2s", metavar, f"-net_{fault}", f"{text}, client to server only"
            )
        )
        options.append(
            SimOption(
                f"-net_{fault}_s2c", metavar, f"-net_{fault}", f"{text}, server to client only"
            )
        )
    return options


SIM_OPTIONS: tuple[SimOption, ...] = (
    SimOption(
        "-seed",
        "N",
        str(DEFAULT_SEED),
        "simulation seed: network faults, Call-IDs and every random draw follow from it",
    ),
    SimOption(
        "-epoch",
        "SECONDS",
        "1700000000",
        "wall-clock time (Unix seconds, UTC) at virtual time 0; all timestamps are epoch +"
        " virtual time",
    ),
    *_fault_options(),
)
_SIM_BY_NAME = {option.name: option for option in SIM_OPTIONS}

_INTRO = (
    "gossipper sim runs the scenario of a normal command line and its peer (-peer NAME|FILE;"
    " default the natural partner: uas for uac, branchs for branchc, ...) in one process, on a"
    " simulated network under virtual time. Every option of a real run applies to the main"
    " scenario (the remote host is the peer: do not give one); the options below add the seed,"
    " the epoch and network faults. c2s is the direction from the side running the client"
    " scenario to the side running the server scenario. Same arguments and seed, same bytes"
    " in every output file."
)


def format_sim_help(width: int = 100) -> str:
    """``gossipper sim -h``."""
    lines = [
        "Usage: gossipper sim [options of a real run] [-peer NAME|FILE] [sim options]",
        "",
        *textwrap.wrap(_INTRO, width),
        "",
        "Sim options:",
    ]
    column = 30
    for option in SIM_OPTIONS:
        left = f"  {option.name} {option.metavar}"
        text = f"{option.help} (default: {option.default})"
        wrapped = textwrap.wrap(text, width - column)
        if len(left) >= column - 1:
            lines.append(left)
            lines += [" " * column + part for part in wrapped]
        else:
            lines.append(left.ljust(column) + wrapped[0])
            lines += [" " * column + part for part in wrapped[1:]]
    lines += [
        "",
        "-timeout defaults in a sim to the expected duration (-m x -rp / -r; 0 without -m) plus"
        " one hour of virtual time, so that a run without -m, or a stuck one, ends.",
        "See docs/simulation.md.",
    ]
    out: list[str] = []
    for line in lines:
        out += textwrap.wrap(line, width) if len(line) > width else [line]
    return "\n".join(out) + "\n"


def format_sim_markdown() -> str:
    """The "gossipper sim" section of docs/cli.md (hand-placed after the generated table)."""
    lines = [
        "## gossipper sim",
        "",
        "`gossipper sim [options of a real run] [-peer NAME|FILE] [sim options]`",
        "",
        _INTRO,
        "",
        "| Option | Argument | Default | Meaning |",
        "|---|---|---|---|",
    ]
    for option in SIM_OPTIONS:
        default = option.default
        default_cell = f"`{default}`" if default else ""
        if default.startswith("-"):
            default_cell = f"as `{default}`"
        lines.append(f"| `{option.name}` | `{option.metavar}` | {default_cell} | {option.help} |")
    lines += [
        "",
        "`-timeout` defaults in a sim to the expected duration (`-m` x `-rp` / `-r`; 0 without"
        " `-m`) plus one hour of virtual time, so that a run without `-m`, or a stuck one, ends."
        " Regenerate this section with `python -m gossipper.cli.sim_command --markdown`; see"
        " [simulation.md](simulation.md) for examples.",
        "",
    ]
    return "\n".join(lines)


@dataclasses.dataclass(slots=True)
class _SimArgs:
    seed: int = DEFAULT_SEED
    seed_given: bool = False
    epoch_s: float | None = None
    faults: dict[str, dict[str, float]] = dataclasses.field(
        default_factory=lambda: {"": {}, "_c2s": {}, "_s2c": {}}
    )


def _split_arguments(argv: Sequence[str]) -> tuple[_SimArgs, list[str]]:
    """Take the sim options out of ``argv``; the rest is a normal run's command line."""
    sim = _SimArgs()
    rest: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        token = args[i]
        name = token[1:] if token.startswith("--") else token
        option = _SIM_BY_NAME.get(name)
        if option is None:
            rest.append(token)
            spec = option_by_name(name) if token.startswith("-") else None
            # Copy the values of a normal option as they are (a value may start with "-").
            arity = spec.arity if spec is not None else 0
            rest.extend(args[i + 1 : i + 1 + arity])
            i += 1 + arity
            continue
        if i + 1 >= len(args):
            raise ConfigError(f"{option.name} needs a value: {option.metavar.lower()}")
        _apply(sim, option, args[i + 1])
        i += 2
    return sim, rest


def _number(option: SimOption, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{option.name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{option.name} must be a finite number >= 0, got {raw!r}")
    return value


def _apply(sim: _SimArgs, option: SimOption, raw: str) -> None:
    if option.name == "-seed":
        try:
            sim.seed = int(raw, 0)
        except ValueError:
            raise ConfigError(f"-seed must be an integer, got {raw!r}") from None
        sim.seed_given = True
        return
    if option.name == "-epoch":
        sim.epoch_s = _number(option, raw)
        return
    stem = option.name.removeprefix("-net_")
    direction = ""
    for suffix in _DIRECTIONS[1:]:
        if stem.endswith(suffix):
            stem, direction = stem.removesuffix(suffix), suffix
    value = _number(option, raw)
    if _FAULT_FIELDS[stem].endswith("_pct") and value > 100:
        raise ConfigError(f"{option.name} must be a percentage in [0, 100], got {raw!r}")
    sim.faults[direction][_FAULT_FIELDS[stem]] = value


def _fault_plan(sim: _SimArgs, client_host: str, server_host: str) -> FaultPlan:
    both = sim.faults[""]
    c2s = LinkFaults(**{**both, **sim.faults["_c2s"]})
    s2c = LinkFaults(**{**both, **sim.faults["_s2c"]})
    return FaultPlan(
        rules=(LinkRule(client_host, server_host, c2s), LinkRule(server_host, client_host, s2c))
    )


def _refuse_real_only(config: RunConfig, given: frozenset[str]) -> None:
    if config.remote_host is not None:
        raise ConfigError(
            f"gossipper sim: drop the remote host {config.remote_host}: the peer runs inside"
            " the simulation (choose it with -peer)"
        )
    for option in ("-bg", "-rsa", "-cp"):
        if option in given:
            raise ConfigError(f"gossipper sim: {option} has no meaning in a simulation; drop it")


def _default_timeout_s(config: RunConfig) -> float:
    expected_s = 0.0
    if config.max_calls and config.rate > 0 and config.users is None:
        expected_s = config.max_calls * config.rate_period_s / config.rate
    return expected_s + config.sleep_s + DEFAULT_TIMEOUT_MARGIN_S


_LOAD_FIELDS = (
    "rate",
    "rate_period_s",
    "rate_increase",
    "rate_interval_s",
    "rate_max",
    "no_rate_quit",
    "max_calls",
    "max_open_calls",
    "users",
)
"""Load options that drive a client peer when the main scenario is a server."""


def run_sim_command(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> ExitStatus:
    """``gossipper sim ARGS``: parse, load both scenarios, simulate; returns the exit status."""
    if not argv or any(token in ("-h", "--h", "-help", "--help") for token in argv):
        stdout.write(format_sim_help())
        return ExitStatus.NO_CALLS
    from gossipper.cli.run import tune_garbage_collector

    plan = build_plan(argv)
    tune_garbage_collector()
    return run_simulation(plan, stdout, stderr).exit_status


def build_plan(argv: Sequence[str], *, directory: str = ".") -> SimulationPlan:
    """Parse ``gossipper sim`` arguments and load both scenarios into a ``SimulationPlan``.

    Raises:
        ConfigError: bad arguments or scenarios (the message names the option or file).
    """
    sim, rest = _split_arguments(argv)
    command = parse_command_line(rest or ["-sn", "uac"])
    if command.action is not Action.RUN:
        raise ConfigError("gossipper sim: -v and -sd are not sim options; use gossipper -v/-sd")
    config = command.config
    _refuse_real_only(config, command.given)
    if "-timeout" not in command.given and "-timeout_global" not in command.given:
        config = config.replace(timeout_s=_default_timeout_s(config))

    scenario = load_configured_scenario(config)
    peer_name = config.peer
    if peer_name is None:
        base = config.effective_scenario_name
        if base is not None and base in NATURAL_PEERS:
            peer_name = NATURAL_PEERS[base]
        else:
            peer_name = "uac" if scenario.is_server else "uas"
    peer_config = RunConfig(nostdin=True)
    if scenario.is_server:
        # A client peer generates the load: it takes the load options of the command line.
        peer_config = peer_config.replace(
            **{name: getattr(config, name) for name in _LOAD_FIELDS},
            timeout_s=0.0,
        )
    if peer_name in BUILTIN_NAMES:
        peer_scenario = load_builtin(peer_name, peer_config)
    elif os.path.isfile(peer_name):
        peer_scenario = load_scenario(peer_name)
    else:
        raise ConfigError(
            f"-peer {peer_name}: not a built-in scenario name or a scenario file (try -peer uas)"
        )
    if peer_scenario.is_server == scenario.is_server:
        role = "server" if scenario.is_server else "client"
        raise ConfigError(
            f"-peer {peer_name}: the peer must not be a {role} scenario like the main one"
            f" (try -peer {'uac' if scenario.is_server else 'uas'})"
        )
    main_host = config.local_ip or (SERVER_HOST if scenario.is_server else CLIENT_HOST)
    peer_host = CLIENT_HOST if scenario.is_server else SERVER_HOST
    if peer_host == main_host:
        peer_host = SERVER_HOST if peer_host == CLIENT_HOST else CLIENT_HOST
    client_host, server_host = (
        (peer_host, main_host) if scenario.is_server else (main_host, peer_host)
    )
    faults = _fault_plan(sim, client_host, server_host)
    args = list(argv)
    if not sim.seed_given:
        args += ["-seed", str(sim.seed)]
    return SimulationPlan(
        main=SimSide(scenario, config, main_host, MAIN_PID),
        peer=SimSide(peer_scenario, peer_config, peer_host, PEER_PID),
        seed=sim.seed,
        faults=faults,
        epoch_s=DEFAULT_EPOCH_S if sim.epoch_s is None else sim.epoch_s,
        directory=directory,
        tool_version=__version__,
        reproduce_command=shlex.join(["gossipper", "sim", *args]),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gossipper.cli.sim_command --markdown``: the docs/cli.md sim section."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["--markdown"]:
        sys.stderr.write("usage: python -m gossipper.cli.sim_command --markdown\n")
        return 2
    sys.stdout.write(format_sim_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
