"""``gossipper sim``: a run of the real engine against a peer on a simulated, faulty network.

The command line is a normal run's (scenario, load, timer and trace options) plus the sim's own
options (seed, epoch, network faults); both are rows of the one option table of
``gossipper.cli.options``, parsed together with ``Scope.SIM``. This module is a composition root
like ``cli.run``: it loads the scenarios, builds the run environments and hands a
``SimulationPlan`` to ``gossipper.sim.run_simulation``.
"""

from __future__ import annotations

import dataclasses
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
from gossipper.scenario import BUILTIN_NAMES, Scenario, TwinRole, load_scenario
from gossipper.sim import (
    CLIENT_HOST,
    DEFAULT_EPOCH_S,
    MAIN_PID,
    PEER_PID,
    SERVER_HOST,
    TWIN_HOST,
    TWIN_PEER_HOST,
    TWIN_PEER_PID,
    TWIN_PID,
    FaultPlan,
    LinkFaults,
    LinkRule,
    SimSide,
    SimulationPlan,
    ThreePccSides,
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
    "3pcc-C-A": "3pcc-A",
    "3pcc-C-B": "3pcc-B",
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
        if dest in ("seed", "epoch_s", "twin", "twin_peer"):
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

    # Nothing on the command line reads the network's event log: don't keep one.
    plan = dataclasses.replace(build_plan(argv), record_events=False)
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
    if scenario.twin_role is not TwinRole.NONE:
        return _build_3pcc_plan(command.values, command.given, argv, config, scenario, directory)
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
    seed, epoch_s, reproduce = _run_identity(command.values, command.given, argv)
    return SimulationPlan(
        main=SimSide(scenario, config, main_host, MAIN_PID, ooc_scenario=ooc_scenario),
        peer=SimSide(peer_scenario, peer_config, peer_host, PEER_PID),
        seed=seed,
        faults=faults,
        epoch_s=epoch_s,
        directory=directory,
        tool_version=__version__,
        reproduce_command=reproduce,
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
    peer_client = _load_side(
        config.target.peer or _partner(config.target.rx_scenario_name, server=True),
        peer_config,
        "-peer",
    )
    peer_rx = _load_side(
        _partner(config.effective_scenario_name, server=False), peer_config, "-peer"
    )
    if peer_client.is_server or not peer_rx.is_server:
        raise ConfigError(
            "gossipper sim: in mixed mode the peer runs a client scenario (-peer, e.g. uac)"
            " beside its rx partner of the main scenario"
        )
    seed, epoch_s, reproduce = _run_identity(values, given, argv)
    main_host = config.transport.local_ip or CLIENT_HOST
    peer_host = SERVER_HOST if main_host != SERVER_HOST else CLIENT_HOST
    return SimulationPlan(
        main=SimSide(scenario, config, main_host, MAIN_PID, rx_scenario=rx_scenario),
        peer=SimSide(peer_client, peer_config, peer_host, PEER_PID, rx_scenario=peer_rx),
        seed=seed,
        faults=_fault_plan(_link_faults(values), main_host, peer_host),
        epoch_s=epoch_s,
        directory=directory,
        tool_version=__version__,
        reproduce_command=reproduce,
    )


def _partner(name: str | None, *, server: bool) -> str:
    """The built-in partner of a built-in scenario; for a file, uac (of a server) or uas."""
    if name is not None and name in NATURAL_PEERS:
        return NATURAL_PEERS[name]
    return "uac" if server else "uas"


_NATURAL_TWINS = {"3pcc-C-A": "3pcc-C-B", "3pcc-C-B": "3pcc-C-A"}


def _load_side(name: str, config: RunConfig, option: str) -> Scenario:
    if name in BUILTIN_NAMES:
        return load_builtin(name, config)
    if os.path.isfile(name):
        return load_scenario(name)
    raise ConfigError(f"{option} {name}: not a built-in scenario name or a scenario file")


def _build_3pcc_plan(
    values: Mapping[str, object],
    given: frozenset[str],
    argv: Sequence[str],
    config: RunConfig,
    scenario: Scenario,
    directory: str,
) -> SimulationPlan:
    """A 3PCC simulation (docs/simulation.md, "3PCC"): the main controller, its twin, and a
    SIP server for each; controller A at 10.0.0.1 (server 10.0.0.2), controller B at 10.0.0.3
    (server 10.0.0.4)."""
    main_is_a = scenario.twin_role is TwinRole.CONTROLLER_A
    if scenario.twin_role not in (TwinRole.CONTROLLER_A, TwinRole.CONTROLLER_B):
        raise ConfigError(
            f"gossipper sim: {scenario.source_label} is a 3PCC 'A passive' scenario (sendCmd"
            " first in a server scenario); the simulation runs controllers A and B only"
        )
    base = config.effective_scenario_name or ""
    twin_name = values.get("twin") or _NATURAL_TWINS.get(base)
    if not isinstance(twin_name, str):
        raise ConfigError(
            f"gossipper sim: {scenario.source_label} needs its 3PCC twin: add -twin NAME|FILE"
            f" (the controller {'B' if main_is_a else 'A'} scenario)"
        )
    transport = config.transport
    side_config = RunConfig(
        nostdin=True,
        transport_mode=transport.transport_mode,
        ws_path=transport.ws_path,
        tls_version=transport.tls_version,
    )
    twin_config = side_config
    if not main_is_a:
        # Controller A creates the calls: it takes the load options of the command line.
        twin_config = side_config.replace(
            **{name: config.values()[name] for name in _LOAD_FIELDS}, timeout_s=0.0
        )
    twin = _load_side(twin_name, twin_config, "-twin")
    twin_is_b = twin.twin_role is TwinRole.CONTROLLER_B
    peer_name = config.target.peer or ("3pcc-A" if main_is_a else "3pcc-B")
    twin_peer_name = values.get("twin_peer") or ("3pcc-B" if twin_is_b else "3pcc-A")
    assert isinstance(twin_peer_name, str)
    peer = _load_side(peer_name, side_config, "-peer")
    twin_peer = _load_side(twin_peer_name, side_config, "-twin_peer")
    main_host, peer_host, twin_host, twin_peer_host = (
        (CLIENT_HOST, SERVER_HOST, TWIN_HOST, TWIN_PEER_HOST)
        if main_is_a
        else (TWIN_HOST, TWIN_PEER_HOST, CLIENT_HOST, SERVER_HOST)
    )
    faults = _link_faults(values)
    both = faults[""]
    c2s = LinkFaults(**{**both, **faults["_c2s"]})
    s2c = LinkFaults(**{**both, **faults["_s2c"]})
    rules: list[LinkRule] = []
    # c2s: from each controller to its server, and from controller A to controller B.
    for client, server in (
        (CLIENT_HOST, SERVER_HOST),
        (TWIN_HOST, TWIN_PEER_HOST),
        (CLIENT_HOST, TWIN_HOST),
    ):
        rules += [LinkRule(client, server, c2s), LinkRule(server, client, s2c)]
    seed, epoch_s, reproduce = _run_identity(values, given, argv)
    return SimulationPlan(
        main=SimSide(scenario, config, main_host, MAIN_PID),
        peer=SimSide(peer, side_config, peer_host, PEER_PID),
        seed=seed,
        faults=FaultPlan(rules=tuple(rules)),
        epoch_s=epoch_s,
        directory=directory,
        tool_version=__version__,
        reproduce_command=reproduce,
        three_pcc=ThreePccSides(
            twin=SimSide(twin, twin_config, twin_host, TWIN_PID),
            twin_peer=SimSide(twin_peer, side_config, twin_peer_host, TWIN_PEER_PID),
        ),
    )


def _is_run_option(name: str) -> bool:
    spec = option_by_name(name)
    return spec is not None and RUN in spec.scope


def _run_identity(
    values: Mapping[str, object], given: Collection[str], argv: Sequence[str]
) -> tuple[int, float, str]:
    """Seed, epoch and the command that reproduces the run (the seed made explicit)."""
    seed = values.get("seed", DEFAULT_SEED)
    epoch_s = values.get("epoch_s", DEFAULT_EPOCH_S)
    assert isinstance(seed, int) and isinstance(epoch_s, float)
    args = list(argv)
    if "-seed" not in given:
        args += ["-seed", str(seed)]
    return seed, epoch_s, shlex.join(["gossipper", "sim", *args])
