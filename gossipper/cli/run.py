"""A real run: real UDP sockets, the real clock, signals, screens and the summary at exit."""

from __future__ import annotations

import gc
import os
import random
from typing import TYPE_CHECKING, TextIO

import trio

from gossipper import __version__
from gossipper.cli.commands import close_subcommand
from gossipper.cli.report_command import (
    check_run_gates,
    judge_run_gates,
    watch_gates,
    write_run_reports,
)
from gossipper.config import RunConfig
from gossipper.engine import EngineResult
from gossipper.engine.threepcc import TwinSetup, check_twin_setup, parse_slave_cfg
from gossipper.errors import ConfigError, ExitStatus, TransportError
from gossipper.interfaces import Address, TransportFactory
from gossipper.output import write_json_atomic
from gossipper.scenario import BUILTIN_NAMES, Scenario
from gossipper.server.realrun import (
    LIVE_FLUSH_S,
    MIN_BUFFER_BYTES,
    SystemWallClock,
    real_plan,
    real_transports,
    remote_target,
)
from gossipper.session import Run, RunPlan, open_run
from gossipper.transport import UdpTransportFactory, resolve_host

if TYPE_CHECKING:
    from gossipper.api.single import SingleRun
    from gossipper.control import Controller
    from gossipper.tui.app import TuiApp
    from gossipper.workers.child import WorkerLink

__all__ = ["LIVE_FLUSH_S", "SystemWallClock", "run_real", "tune_garbage_collector", "twin_setup"]


def run_real(
    config: RunConfig,
    scenario: Scenario,
    stdout: TextIO,
    stderr: TextIO,
    *,
    ooc_scenario: Scenario | None = None,
    rx_scenario: Scenario | None = None,
) -> ExitStatus:
    """Run one scenario on real sockets (with its out-of-call or mixed-mode rx scenario);
    prints the final screens and returns the exit status."""
    peer_scenario = _load_peer(config) if config.target.peer else None
    if not scenario.is_server and config.target.remote_host is None and peer_scenario is None:
        stderr.write(
            "gossipper: error: no remote host: give remote_host[:port] after the options "
            "(or -peer uas to run against a built-in peer)\n"
        )
        return ExitStatus.FATAL
    _check_api_options(config)
    if config.process.api_addr is not None:
        # Import the API (about a second of CPU: Quart, Hypercorn, ...) before the run's
        # clock starts, so that it delays neither the first call nor the rate.
        _import_api()
    # The 3PCC address book and the gates are read (errors reported) before anything is printed.
    check_run_gates(config)
    twin = twin_setup(config)
    check_twin_setup(scenario, twin)
    worker: WorkerLink | None = None
    if "GOSSIPPER_WORKER" in os.environ:
        # Started by a -workers parent (gossipper.workers): report to it, take its commands.
        from gossipper.workers.child import worker_link_from_environment

        worker = worker_link_from_environment()
    tune_garbage_collector()
    result = trio.run(
        _run,
        config,
        scenario,
        peer_scenario,
        twin,
        stdout,
        stderr,
        ooc_scenario,
        rx_scenario,
        worker,
    )
    return result.exit_status


def tune_garbage_collector() -> None:
    """Make the cyclic GC cheap for a load run.

    Thousands of live calls are thousands of objects; with CPython's default thresholds the
    collector keeps re-scanning them and cost about a third of the CPU per call in the UAS
    benchmark. Everything loaded so far (modules, the scenario) is frozen out of the scans and
    young collections run 14x less often, middle ones 700x. Reference cycles are still
    collected.

    A young collection stops the whole process while it scans what it holds: with 100,000
    objects (the threshold until 2026-12-05) that was 35-75 ms on this machine, during which
    no RTP packet left, so every stream of a run skipped two or three frames at each one (the
    calls' tasks being created fill it every few seconds of a ramp). 10,000 keeps each under
    about 5 ms. The young objects of a load run are nearly all new calls' state that lives on,
    each scanned once either way, and the middle generation is still collected once per
    5,000,000 allocations (500 x 10,000, as 50 x 100,000 was), so the total work stays the
    same (docs/performance.md, "Collector pauses").

    ``main`` turns the collector off for start-up; then the few hundred kB of start-up garbage
    are frozen with the rest rather than found by a full collection (about 8 ms of CPU). When
    the collector is on (in-process callers such as tests) it collects first, as before.
    """
    if gc.isenabled():
        gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 500, 1000)
    gc.enable()


def _load_peer(config: RunConfig) -> Scenario:
    from gossipper.cli.main import load_builtin
    from gossipper.scenario import load_scenario

    assert config.target.peer is not None
    if config.target.peer in BUILTIN_NAMES:
        peer = load_builtin(config.target.peer, config)
    elif os.path.isfile(config.target.peer):
        peer = load_scenario(config.target.peer)
    else:
        raise ConfigError(
            f"-peer {config.target.peer}: not a built-in scenario name or a scenario file"
            " (try -peer uas)"
        )
    if not peer.is_server:
        raise ConfigError(
            f"-peer {config.target.peer}: the peer must be a server scenario (e.g. uas)"
        )
    return peer


async def _run(
    config: RunConfig,
    scenario: Scenario,
    peer_scenario: Scenario | None,
    twin: TwinSetup | None,
    stdout: TextIO,
    stderr: TextIO,
    ooc_scenario: Scenario | None = None,
    rx_scenario: Scenario | None = None,
    worker: WorkerLink | None = None,
) -> EngineResult:
    factory: TransportFactory = real_transports(config)
    if worker is not None and worker.udp_fds is not None:
        from gossipper.transport.handoff import HandoffUdpTransportFactory

        factory = HandoffUdpTransportFactory(real_transports(config), *worker.udp_fds)
    wall = SystemWallClock()
    pid = os.getpid()
    seed = random.SystemRandom().randrange(2**63)
    async with trio.open_nursery() as nursery:
        peer_run: Run | None = None
        remote: Address | None = None
        target = remote_target(config)
        if peer_scenario is not None and target is None:
            # The in-process peer is on loopback whatever -bind_to_device says.
            peer_factory = UdpTransportFactory(
                buffer_bytes=max(config.transport.buff_size or 0, MIN_BUFFER_BYTES)
            )
            peer_run = await nursery.start(
                _run_peer, peer_scenario, config, peer_factory, wall, pid, seed
            )
            remote = peer_run.engine.local_address
            if remote[0] in ("0.0.0.0", "::"):
                remote = ("127.0.0.1", remote[1])
        elif target is not None:
            assert config.target.remote_host is not None
            stderr.write(f"Resolving remote host '{config.target.remote_host}'... ")
            try:
                remote = (resolve_host(target[0]), target[1])
            except TransportError as exc:
                stderr.write("\n")
                hint = close_subcommand(config.target.remote_host)
                also = f", or did you mean gossipper {hint} ...?" if hint else ""
                raise ConfigError(f"{exc}; check the remote host argument{also}") from exc
            stderr.write("Done.\n")
        plan = real_plan(
            config,
            scenario,
            transports=factory,
            wall_clock=wall,
            remote=remote,
            pid=pid,
            seed=seed,
            periodic_screens=config.traces.trace_screen and not _is_terminal(stdout),
            ooc_scenario=ooc_scenario,
            rx_scenario=rx_scenario,
            twin=twin,
            directory="." if worker is None else worker.directory,
            # Alone in its Trio loop (no in-process peer): see RunPlan.holds_loop.
            holds_loop=peer_run is None,
        )
        async with open_run(plan) as run:
            if worker is not None:
                # The parent owns the keys, the control socket, the screen and the API; the
                # traffic starts when every worker is ready (its start barrier).
                await nursery.start(worker.serve, run)
                result = await run.run()
                nursery.cancel_scope.cancel()
                report = _report(config, run, result, stdout, stderr)
                with trio.CancelScope(shield=True):
                    await worker.send_final(run, report, _worker_files(run))
                return report
            tui, api = await _start_controls(nursery, config, run, stdout, stderr)
            if config.traces.gate_abort:
                nursery.start_soon(watch_gates, config, run, stderr)
            result = await run.run()
            if tui is not None:
                # The terminal is given back before the final screens are printed.
                await tui.close()
                tui.write_held(stdout, stderr)
            if peer_run is not None:
                peer_run.engine.interrupt()
            if api is None:
                nursery.cancel_scope.cancel()
                result = _report(config, run, result, stdout, stderr)
            else:
                api.finished(result)
                result = _report(config, run, result, stdout, stderr)
                await _linger(config.process.api_linger_s)
                nursery.cancel_scope.cancel()
    return result


def _worker_files(run: Run) -> dict[str, str]:
    traces = run.traces
    if traces is None:
        return {}
    return {kind: path for kind, path in traces.paths.items() if os.path.exists(path)}


def _check_api_options(config: RunConfig) -> None:
    process = config.process
    if process.api_addr is None:
        given = [
            option
            for option, value in (
                ("-api_tls_cert", process.api_tls_cert),
                ("-api_tls_key", process.api_tls_key),
                ("-api_users", process.api_users),
                ("-api_secret", process.api_secret),
                ("-api_audit", process.api_audit),
                ("-api_metrics_public", process.api_metrics_public or None),
                ("-api_linger", process.api_linger_s or None),
            )
            if value is not None
        ]
        if given:
            raise ConfigError(f"{given[0]} needs -api_addr HOST:PORT (the API is off without it)")
    elif (process.api_tls_cert is None) != (process.api_tls_key is None):
        raise ConfigError("-api_tls_cert and -api_tls_key go together: give both or neither")


async def _linger(seconds: float) -> None:
    """-api_linger: the API serves the final statistics a while longer; SIGINT/SIGTERM end
    the wait (this receiver replaces the run's signal handling, which has nothing left to
    stop)."""
    if seconds <= 0:
        return
    import signal

    with (
        trio.move_on_after(seconds),
        trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals,
    ):
        async for _ in signals:
            return


def twin_setup(config: RunConfig) -> TwinSetup | None:
    """The 3PCC command channel the options ask for (-3pcc, or -master/-slave with
    -slave_cfg), with its addresses resolved; None without 3PCC options."""
    transport = config.transport
    if transport.twin_host is not None:
        return TwinSetup(twin=(_resolve("-3pcc", transport.twin_host), transport.twin_port))
    name = transport.master_name or transport.slave_name
    if name is None:
        return None
    path = transport.slave_cfg
    assert path is not None  # RunConfig checks -master/-slave come with -slave_cfg
    try:
        with open(path, encoding="latin-1") as cfg:
            text = cfg.read()
    except OSError as exc:
        raise ConfigError(
            f"-slave_cfg {path}: cannot read it ({exc.strerror}); give a file of"
            " name;host:port lines"
        ) from exc
    peers = {
        peer: (_resolve(f"-slave_cfg {path}: peer {peer}", host), port)
        for peer, (host, port) in parse_slave_cfg(text, path).items()
    }
    return TwinSetup(
        name=name, master=transport.master_name is not None, peers=peers, peers_file=path
    )


def _resolve(what: str, host: str) -> str:
    try:
        return resolve_host(host)
    except TransportError as exc:
        raise ConfigError(f"{what}: {exc}; check the host name") from exc


async def _run_peer(
    scenario: Scenario,
    main_config: RunConfig,
    factory: UdpTransportFactory,
    wall: SystemWallClock,
    pid: int,
    seed: int,
    *,
    task_status: trio.TaskStatus[Run],
) -> None:
    """The built-in in-process peer (-peer): a server run on an ephemeral loopback port, on
    the main run's transport (a TLS peer gets a throwaway certificate)."""
    from gossipper.transport.layers import channel_layer_for

    transport = main_config.transport
    config = RunConfig(
        nostdin=True,
        local_port=0,
        local_ip="127.0.0.1",
        transport_mode=transport.transport_mode,
        ws_path=transport.ws_path,
        tls_version=transport.tls_version,
    )
    plan = RunPlan(
        scenario=scenario,
        config=config,
        channel_layer=channel_layer_for(config, is_server=True, ephemeral_certificate=True),
        transports=factory,
        wall_clock=wall,
        local_ip="127.0.0.1",
        bind_host="127.0.0.1",
        remote=None,
        pid=pid,
        seed=seed ^ 1,
    )
    async with open_run(plan) as run:
        task_status.started(run)
        await run.run()


async def _start_controls(
    nursery: trio.Nursery, config: RunConfig, run: Run, stdout: TextIO, stderr: TextIO
) -> tuple[TuiApp | None, SingleRun | None]:
    """Signals, the UDP control socket, (on a terminal, without -nostdin) the keyboard and
    (with -api_addr) the HTTP API: front ends of the one command API,
    ``gossipper.control.Controller``. With -interactive the TUI takes the terminal (keys and
    screen) instead. Returns the TUI (to be closed) and the API's view of the run, or Nones."""
    from gossipper.cli.keyboard import keyboard_available, read_keyboard, watch_signals
    from gossipper.control import Controller, open_control_socket, serve_control_socket

    engine = run.engine

    tui: TuiApp | None = None
    if config.process.interactive:
        from gossipper.tui.app import TuiApp

        tui = TuiApp(run, stdout=stdout)

    def warn(text: str) -> None:
        engine.warning(text)
        if tui is not None:
            tui.notice(text)
        else:
            stderr.write(f"gossipper: warning: {text}\n")

    def dump_screens() -> None:
        text = run.dump_screens()
        if text is not None:
            if tui is not None:
                # The TUI owns the terminal: the dump is printed when it has given it back.
                tui.hold_output(text)
                return
            stdout.write(text)
            stdout.flush()

    live = None
    if tui is not None:
        pass
    elif _is_terminal(stdout) and not config.process.background:
        from gossipper.cli.live_screen import LiveScreen

        live = LiveScreen(run, stdout, config.traces.screen_refresh_s)
        nursery.start_soon(live.run)
    controller = Controller(
        engine,
        rate_scale=config.load.rate_scale,
        dump_screens=dump_screens,
        warn=warn,
        select_screen=tui.select_screen
        if tui is not None
        else live.select
        if live is not None
        else None,
        changed=tui.refresh_soon
        if tui is not None
        else live.redraw_soon
        if live is not None
        else None,
    )
    nursery.start_soon(watch_signals, controller)
    control = await open_control_socket(
        config.transport.control_ip, config.transport.control_port, warn
    )
    if control is not None:
        nursery.start_soon(serve_control_socket, control, controller)
    if tui is not None:
        await nursery.start(tui.run, controller)
    elif not config.process.nostdin and keyboard_available():
        nursery.start_soon(read_keyboard, controller)
    if config.process.api_addr is None:
        return tui, None
    return tui, await _start_api(nursery, config, run, controller, stderr)


def _is_loopback(addr: str) -> bool:
    import ipaddress

    from gossipper.api.serve import parse_api_addr

    host, _ = parse_api_addr(addr)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _import_api() -> None:
    try:
        import gossipper.api.app
        import gossipper.api.auth
        import gossipper.api.serve  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"-api_addr needs the api extra ({exc.name} is missing): pip install 'gossipper[api]'"
        ) from exc


async def _start_api(
    nursery: trio.Nursery, config: RunConfig, run: Run, controller: Controller, stderr: TextIO
) -> SingleRun:
    """-api_addr: the API (and its imports: quart, hypercorn, jwt, prometheus_client) on
    this run's Trio loop."""
    from gossipper.api.single import SingleRun

    target = config.target
    remote = run.engine.statistics().remote_address
    hosted = SingleRun(
        run,
        controller,
        {
            "scenario": run.plan.scenario.base_name,
            "remote": f"{remote[0]}:{remote[1]}" if remote else target.remote_host,
            "transport": config.transport.transport_mode,
            "rate": config.load.rate,
        },
    )
    await serve_single_run(nursery, config, hosted, stderr)
    return hosted


async def serve_single_run(
    nursery: trio.Nursery, config: RunConfig, hosted: SingleRun, stderr: TextIO
) -> None:
    """Serve the API of one hosted run (a run, or a group of workers seen as one) on
    -api_addr, in ``nursery``; says where on stderr, and warns when that is reachable from
    other hosts without TLS."""
    import functools

    from gossipper.api.auth import open_authenticator
    from gossipper.api.serve import serve_api
    from gossipper.api.single import SingleRunRegistry

    process = config.process
    assert process.api_addr is not None
    authenticator = open_authenticator(process.api_users, process.api_secret, process.api_audit)
    binds: list[str] = await nursery.start(
        functools.partial(
            serve_api,
            SingleRunRegistry(hosted),
            authenticator,
            addr=process.api_addr,
            tool_version=__version__,
            tls_cert=process.api_tls_cert,
            tls_key=process.api_tls_key,
            metrics_public=process.api_metrics_public,
        )
    )
    stderr.write(f"gossipper: API on {', '.join(binds)} (run 'main')\n")
    if process.api_tls_cert is None and not _is_loopback(process.api_addr):
        stderr.write(
            f"gossipper: warning: -api_addr {process.api_addr} is reachable from other hosts"
            " without TLS: passwords and tokens cross the network in clear (give"
            " -api_tls_cert and -api_tls_key)\n"
        )
    stderr.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _report(
    config: RunConfig, run: Run, result: EngineResult, stdout: TextIO, stderr: TextIO
) -> EngineResult:
    report = run.finish(result)
    for problem in report.problems:
        stderr.write(f"gossipper: warning: {problem}\n")
    stdout.write(report.exit_screens)
    stdout.flush()
    if result.fatal_message:
        stderr.write(f"gossipper: error: {result.fatal_message}\n")
    traces = config.traces
    if traces.summary_json or traces.gates or traces.report_html or traces.junit:
        doc = run.summary_document(result, __version__)
        # Gates, -junit and -report_html (docs/reports.md); a failed gate turns 0 into 1.
        result = judge_run_gates(config, result, doc, stderr)
        if traces.summary_json:
            write_json_atomic(traces.summary_json, doc)
        write_run_reports(config, run, doc, stderr)
    return result
