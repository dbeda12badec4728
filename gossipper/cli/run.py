"""A real run: real UDP sockets, the real clock, signals, screens and the summary at exit."""

from __future__ import annotations

import gc
import os
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

import trio

from gossipper import __version__
from gossipper.cli.commands import close_subcommand
from gossipper.config import RunConfig
from gossipper.engine import Engine, EngineResult
from gossipper.engine.tracing import TraceFiles, trace_files_wanted
from gossipper.errors import ConfigError, ExitStatus, TransportError
from gossipper.interfaces import Address
from gossipper.scenario import BUILTIN_NAMES, RunEnv, Scenario
from gossipper.transport import UdpTransportFactory, detect_local_ip, resolve_host

if TYPE_CHECKING:
    from gossipper.scenario import InjectionFile


class SystemWallClock:
    """The real wall clock (implements ``interfaces.WallClock``)."""

    def wall_time(self) -> float:
        return time.time()


def run_real(config: RunConfig, scenario: Scenario, stdout: TextIO, stderr: TextIO) -> ExitStatus:
    """Run one scenario on real sockets; prints the final screens and returns the exit status."""
    peer_scenario = _load_peer(config) if config.peer else None
    if not scenario.is_server and config.remote_host is None and peer_scenario is None:
        stderr.write(
            "gossipper: error: no remote host: give remote_host[:port] after the options "
            "(or -peer uas to run against a built-in peer)\n"
        )
        return ExitStatus.FATAL
    tune_garbage_collector()
    result = trio.run(_run, config, scenario, peer_scenario, stdout, stderr)
    return result.exit_status


def tune_garbage_collector() -> None:
    """Make the cyclic GC cheap for a load run.

    Thousands of live calls are thousands of objects; with CPython's default thresholds the
    collector keeps re-scanning them and cost about a third of the CPU per call in the UAS
    benchmark. Everything loaded so far (modules, the scenario) is frozen out of the scans and
    young collections run 140x less often. Reference cycles are still collected.

    ``main`` turns the collector off for start-up; then the few hundred kB of start-up garbage
    are frozen with the rest rather than found by a full collection (about 8 ms of CPU). When
    the collector is on (in-process callers such as tests) it collects first, as before.
    """
    if gc.isenabled():
        gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    gc.enable()


def _load_peer(config: RunConfig) -> Scenario:
    from gossipper.cli.main import load_builtin
    from gossipper.scenario import load_scenario

    assert config.peer is not None
    if config.peer in BUILTIN_NAMES:
        peer = load_builtin(config.peer, config)
    elif os.path.isfile(config.peer):
        peer = load_scenario(config.peer)
    else:
        raise ConfigError(
            f"-peer {config.peer}: not a built-in scenario name or a scenario file (try -peer uas)"
        )
    if not peer.is_server:
        raise ConfigError(f"-peer {config.peer}: the peer must be a server scenario (e.g. uas)")
    return peer


def make_env(config: RunConfig, *, local_ip: str, remote: Address | None, pid: int) -> RunEnv:
    env = RunEnv(
        service=config.service,
        remote_host=config.remote_host or (remote[0] if remote else ""),
        remote_ip=remote[0] if remote else "",
        remote_port=remote[1] if remote else config.remote_port,
        local_ip=local_ip,
        transport="UDP",
        media_ip=config.media_ip or local_ip,
        media_port=config.media_port,
        pid=pid,
        users=config.users or 0,
        keys=dict(config.keys),
        auth_username=config.auth_username or config.service,
        auth_password=config.auth_password,
        auth_uri=config.auth_uri,
        wall_time=time.time,
        dynamic_id_start=config.dynamic_start,
        dynamic_id_step=config.dynamic_step,
        dynamic_id_max=config.dynamic_max,
        dynamic_id_next=config.dynamic_start,
        per_call_local_port=config.transport_mode == "un",
    )
    _load_injection(env, config)
    return env


def _load_injection(env: RunEnv, config: RunConfig) -> None:
    """-inf files by basename; the first is the default for [fieldN] (docs/sipp-behaviour.md,
    "Injection files given with -inf")."""
    files: dict[str, InjectionFile] = {}
    if config.injection_files:
        from gossipper.scenario.injection import load_injection_file

        for path in config.injection_files:
            files[os.path.basename(path)] = load_injection_file(path)
    for name, field_index in config.injection_indexes:
        files[name].build_index(field_index)
    if config.users is not None:
        for injection in files.values():
            injection.check_users(config.users)
    env.injection = files
    env.default_injection = os.path.basename(config.injection_files[0]) if files else None


async def _run(
    config: RunConfig,
    scenario: Scenario,
    peer_scenario: Scenario | None,
    stdout: TextIO,
    stderr: TextIO,
) -> EngineResult:
    factory = UdpTransportFactory(buffer_bytes=max(config.buff_size, 4 * 1024 * 1024))
    wall = SystemWallClock()
    pid = os.getpid()
    seed = random.SystemRandom().randrange(2**63)
    async with trio.open_nursery() as nursery:
        peer_engine: Engine | None = None
        remote: Address | None = None
        if peer_scenario is not None and config.remote_host is None:
            peer_engine = await _start_peer(config, peer_scenario, factory, wall, pid, seed)
            nursery.start_soon(peer_engine.run)
            remote = peer_engine.local_address
            if remote[0] in ("0.0.0.0", "::"):
                remote = ("127.0.0.1", remote[1])
        elif config.remote_host is not None:
            host = config.rsa_host or config.remote_host
            port = (config.rsa_port or 5060) if config.rsa_host else config.remote_port
            stderr.write(f"Resolving remote host '{config.remote_host}'... ")
            try:
                remote = (resolve_host(host), port)
            except TransportError as exc:
                stderr.write("\n")
                hint = close_subcommand(config.remote_host)
                also = f", or did you mean gossipper {hint} ...?" if hint else ""
                raise ConfigError(f"{exc}; check the remote host argument{also}") from exc
            stderr.write("Done.\n")
        local_ip = config.local_ip or detect_local_ip(remote[0] if remote else None)
        bind_host = config.local_ip or ("::" if ":" in local_ip else "0.0.0.0")
        env = make_env(config, local_ip=local_ip, remote=remote, pid=pid)
        if config.remote_host is not None and remote is not None and config.rsa_host is None:
            env.remote_ip = remote[0]
        engine = Engine(
            scenario,
            config,
            env=env,
            transports=factory,
            wall_clock=wall,
            remote=remote,
            bind_host=bind_host,
            seed=seed,
        )
        tracer = open_trace_files(config, engine, pid=pid, now_wall=wall.wall_time)
        engine.tracer = tracer
        engine.periodic_screens = config.trace_screen and not _is_terminal(stdout)
        env.clock_ms = lambda: int((trio.current_time() - engine.start_s) * 1000)
        await engine.open()
        await _start_controls(nursery, config, engine, stdout, stderr)
        result = await engine.run()
        if peer_engine is not None:
            peer_engine.interrupt()
        nursery.cancel_scope.cancel()
        _report(config, engine, result, stdout, stderr)
    return result


async def _start_peer(
    config: RunConfig,
    scenario: Scenario,
    factory: UdpTransportFactory,
    wall: SystemWallClock,
    pid: int,
    seed: int,
) -> Engine:
    """The built-in in-process peer (-peer): a server engine on an ephemeral loopback port."""
    peer_config = RunConfig(nostdin=True, local_port=0, local_ip="127.0.0.1")
    env = make_env(peer_config, local_ip="127.0.0.1", remote=None, pid=pid)
    engine = Engine(
        scenario,
        peer_config,
        env=env,
        transports=factory,
        wall_clock=wall,
        remote=None,
        bind_host="127.0.0.1",
        seed=seed ^ 1,
    )
    await engine.open()
    return engine


async def _start_controls(
    nursery: trio.Nursery, config: RunConfig, engine: Engine, stdout: TextIO, stderr: TextIO
) -> None:
    """Signals, the UDP control socket and (on a terminal, without -nostdin) the keyboard."""
    from gossipper.cli.control import (
        Controller,
        keyboard_available,
        open_control_socket,
        read_keyboard,
        serve_control_socket,
        watch_signals,
    )
    from gossipper.engine.screens import display_snapshot, screen_dump

    def warn(text: str) -> None:
        engine.warning(text)
        stderr.write(f"gossipper: warning: {text}\n")

    def dump_screens() -> None:
        text = screen_dump(engine, display_snapshot(engine), terminated=False)
        tracer = engine.tracer
        if isinstance(tracer, TraceFiles):
            tracer.write_rtt_records(engine.stats.take_rtt_records())
            if config.trace_screen:
                tracer.write_screens(text)
                tracer.flush()
                return
        stdout.write(text)
        stdout.flush()

    controller = Controller(engine, dump_screens=dump_screens, warn=warn)
    nursery.start_soon(watch_signals, engine, dump_screens)
    control = await open_control_socket(config.control_ip, config.control_port, warn)
    if control is not None:
        nursery.start_soon(serve_control_socket, control, controller)
    if not config.nostdin and keyboard_available():
        nursery.start_soon(read_keyboard, controller)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def open_trace_files(
    config: RunConfig, engine: Engine, *, pid: int, now_wall: Callable[[], float]
) -> TraceFiles | None:
    """The SIPp trace files asked for on the command line, or None when none is."""
    if not trace_files_wanted(config):
        return None
    return TraceFiles(
        config,
        scenario_name=engine.scenario.base_name,
        pid=pid,
        transport_name="UDP",
        now_wall=now_wall,
        layout=engine.stats,
    )


def _report(
    config: RunConfig, engine: Engine, result: EngineResult, stdout: TextIO, stderr: TextIO
) -> None:
    from gossipper.engine.screens import (
        display_snapshot,
        exit_screens,
        screen_dump,
        summary_document,
    )

    shown = display_snapshot(engine)
    tracer = engine.tracer
    if isinstance(tracer, TraceFiles):
        tracer.write_final(result.snapshot, screen_dump(engine, shown, terminated=False))
        tracer.close()
        for problem in tracer.errors:
            stderr.write(f"gossipper: warning: {problem}\n")
    stdout.write(exit_screens(engine, shown))
    stdout.flush()
    if result.fatal_message:
        stderr.write(f"gossipper: error: {result.fatal_message}\n")
    if config.summary_json:
        write_json_atomic(config.summary_json, summary_document(engine, result, __version__))


def write_json_atomic(path: str, document: object) -> None:
    """Write to a temporary file in the same directory, then rename over the target."""
    import json
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".summary-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=False)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
