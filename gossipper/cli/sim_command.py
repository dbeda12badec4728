"""``gossipper sim``: a run of the real engine against a peer on a simulated, faulty network.

The command line is a normal run's (scenario, load, timer and trace options) plus the sim's own
options (seed, epoch, network faults); both are rows of the one option table of
``gossipper.cli.options``, parsed together with ``Scope.SIM``. This module is a composition root
like ``cli.run``: it loads the scenarios, builds the run environments and hands a
``SimulationPlan`` to ``gossipper.sim.run_simulation``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Collection, Mapping, Sequence
from typing import TextIO

from gossipper import __version__
from gossipper.cli.main import load_builtin, load_configured_scenario, load_extra_scenarios
from gossipper.cli.options import (
    DEFAULT_SEED,
    RUN,
    SIM,
    Action,
    format_help,
    option_by_name,
    parse_command_line,
)
from gossipper.config import RunConfig
from gossipper.errors import ConfigError, ExitStatus
from gossipper.scenario import BUILTIN_NAMES, Scenario, load_scenario
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
    "run_sim_command",
]

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

_DIRECTIONS = ("_c2s", "_s2c")


def _link_faults(values: Mapping[str, object]) -> dict[str, dict[str, float]]:
    """The fault options given, as ``LinkFaults`` fields per direction ("" for both)."""
    faults: dict[str, dict[str, float]] = {"": {}, "_c2s": {}, "_s2c": {}}
    for dest, value in values.items():
        if dest in ("seed", "epoch_s"):
            continue
        direction = next((suffix for suffix in _DIRECTIONS if dest.endswith(suffix)), "")
        assert isinstance(value, float), dest
        faults[direction][dest.removesuffix(direction) if direction else dest] = value
    return faults


def _fault_plan(
    faults: dict[str, dict[str, float]], client_host: str, server_host: str
) -> FaultPlan:
    both = faults[""]
    c2s = LinkFaults(**{**both, **faults["_c2s"]})
    s2c = LinkFaults(**{**both, **faults["_s2c"]})
    return FaultPlan(
        rules=(LinkRule(client_host, server_host, c2s), LinkRule(server_host, client_host, s2c))
    )


def _refuse_remote_host(config: RunConfig) -> None:
    # Options with no meaning in a simulation (-bg, -cp, ...) are out of its scope in the
    # option table; the remote host is not an option.
    if config.target.remote_host is not None:
        raise ConfigError(
            f"gossipper sim: drop the remote host {config.target.remote_host}: the peer runs inside"
            " the simulation (choose it with -peer)"
        )


def _default_timeout_s(config: RunConfig) -> float:
    expected_s = 0.0
    if config.load.max_calls and config.load.rate > 0 and config.load.users is None:
        expected_s = config.load.max_calls * config.load.rate_period_s / config.load.rate
    return expected_s + config.timers.sleep_s + DEFAULT_TIMEOUT_MARGIN_S


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
        stdout.write(format_help(scope=SIM))
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
    command = parse_command_line(argv or ["-sn", "uac"], SIM)
    if command.action is not Action.RUN:
        # run_sim_command answers -h itself; here it can only be the value of an option.
        raise ConfigError("gossipper sim: -h is not a value; gossipper sim -h prints the help")
    config = command.config
    if (
        not any(_is_run_option(name) for name in command.given)
        and config.target.remote_host is None
    ):
        # Only sim options: the default scenario, as the run of `gossipper -sn uac`.
        config = parse_command_line(["-sn", "uac"]).config
    _refuse_remote_host(config)
    if "-timeout" not in command.given and "-timeout_global" not in command.given:
        config = config.replace(timeout_s=_default_timeout_s(config))

    scenario = load_configured_scenario(config)
    ooc_scenario, rx_scenario = load_extra_scenarios(config, scenario)
    if rx_scenario is not None:
        return _mixed_plan(
            command.given, command.values, argv, config, scenario, rx_scenario, directory
        )
    peer_name = config.target.peer
    if peer_name is None:
        base = config.effective_scenario_name
        if base is not None and base in NATURAL_PEERS:
            peer_name = NATURAL_PEERS[base]
        else:
            peer_name = "uac" if scenario.is_server else "uas"
    # The peer speaks the same transport (-t family, WebSocket path, TLS version).
    transport = config.transport
    peer_config = RunConfig(
        nostdin=True,
        transport_mode=transport.transport_mode,
        ws_path=transport.ws_path,
        tls_version=transport.tls_version,
    )
    if scenario.is_server:
        # A client peer generates the load: it takes the load options of the command line.
        peer_config = peer_config.replace(
            **{name: config.values()[name] for name in _LOAD_FIELDS},
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
    main_host = config.transport.local_ip or (SERVER_HOST if scenario.is_server else CLIENT_HOST)
    peer_host = CLIENT_HOST if scenario.is_server else SERVER_HOST
    if peer_host == main_host:
        peer_host = SERVER_HOST if peer_host == CLIENT_HOST else CLIENT_HOST
    client_host, server_host = (
        (peer_host, main_host) if scenario.is_server else (main_host, peer_host)
    )
    faults = _fault_plan(_link_faults(command.values), client_host, server_host)
    seed = command.values.get("seed", DEFAULT_SEED)
    epoch_s = command.values.get("epoch_s", DEFAULT_EPOCH_S)
    assert isinstance(seed, int) and isinstance(epoch_s, float)
    args = list(argv)
    if "-seed" not in command.given:
        args += ["-seed", str(seed)]
    return SimulationPlan(
        main=SimSide(scenario, config, main_host, MAIN_PID, ooc_scenario=ooc_scenario),
        peer=SimSide(peer_scenario, peer_config, peer_host, PEER_PID),
        seed=seed,
        faults=faults,
        epoch_s=epoch_s,
        directory=directory,
        tool_version=__version__,
        reproduce_command=shlex.join(["gossipper", "sim", *args]),
    )


def _mixed_plan(
    given: Collection[str],
    values: Mapping[str, object],
    argv: Sequence[str],
    config: RunConfig,
    scenario: Scenario,
    rx_scenario: Scenario,
    directory: str,
) -> SimulationPlan:
    """Mixed mode (-rxsf/-rxsn): the peer is a mixed-mode engine too, with the main side's
    load options. Its client scenario is the partner of the main side's rx scenario (or
    -peer), its rx scenario the partner of the main side's client scenario: with -sn uac
    -rxsn uas, both sides run uac and rx uas and call each other."""
    transport = config.transport
    peer_config = RunConfig(
        nostdin=True,
        transport_mode=transport.transport_mode,
        ws_path=transport.ws_path,
        tls_version=transport.tls_version,
        pause_default_s=config.timers.pause_default_s,
        timeout_s=0.0,
        **{name: config.values()[name] for name in _LOAD_FIELDS},
    )
    peer_client = _peer_scenario(
        config.target.peer or _partner(config.target.rx_scenario_name, server=True), peer_config
    )
    peer_rx = _peer_scenario(_partner(config.effective_scenario_name, server=False), peer_config)
    if peer_client.is_server or not peer_rx.is_server:
        raise ConfigError(
            "gossipper sim: in mixed mode the peer runs a client scenario (-peer, e.g. uac)"
            " beside its rx partner of the main scenario"
        )
    seed = values.get("seed", DEFAULT_SEED)
    epoch_s = values.get("epoch_s", DEFAULT_EPOCH_S)
    assert isinstance(seed, int) and isinstance(epoch_s, float)
    main_host = config.transport.local_ip or CLIENT_HOST
    peer_host = SERVER_HOST if main_host != SERVER_HOST else CLIENT_HOST
    args = list(argv)
    if "-seed" not in given:
        args += ["-seed", str(seed)]
    return SimulationPlan(
        main=SimSide(scenario, config, main_host, MAIN_PID, rx_scenario=rx_scenario),
        peer=SimSide(peer_client, peer_config, peer_host, PEER_PID, rx_scenario=peer_rx),
        seed=seed,
        faults=_fault_plan(_link_faults(values), main_host, peer_host),
        epoch_s=epoch_s,
        directory=directory,
        tool_version=__version__,
        reproduce_command=shlex.join(["gossipper", "sim", *args]),
    )


def _partner(name: str | None, *, server: bool) -> str:
    """The built-in partner of a built-in scenario; for a file, uac (of a server) or uas."""
    if name is not None and name in NATURAL_PEERS:
        return NATURAL_PEERS[name]
    return "uac" if server else "uas"


def _peer_scenario(name: str, config: RunConfig) -> Scenario:
    if name in BUILTIN_NAMES:
        return load_builtin(name, config)
    if os.path.isfile(name):
        return load_scenario(name)
    raise ConfigError(
        f"-peer {name}: not a built-in scenario name or a scenario file (try -peer uac)"
    )


def _is_run_option(name: str) -> bool:
    spec = option_by_name(name)
    return spec is not None and RUN in spec.scope
