"""One way to build a run: ``open_run(plan)``.

A ``RunPlan`` is immutable and holds everything a run depends on: the scenario and its
settings, the transports and clocks to run on, where the peer is, the identity (pid, seed) and
the hooks a simulation needs. ``open_run`` builds the run environment, the statistics, the trace
files, the engine and its sockets from it, in that order, and yields a ``Run``; nothing patches
an engine after construction. Opening the same plan twice gives two independent runs, and any
number of runs can live in one process (nothing here touches process-global state: the time
zone travels with the wall clock, the garbage collector and signals belong to ``cli``).

The CLI, ``gossipper sim``, the engine test harness and later hosts (the API server, workers)
all build runs here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from gossipper.config import (
    RunConfig,
    is_multi_socket_mode,
    is_per_ip_mode,
    parse_tdm_map,
    transport_name_for,
)
from gossipper.engine import Engine, EngineResult, EngineStatistics, QuitState
from gossipper.engine.elements import new_run_stats
from gossipper.engine.threepcc import TwinSetup
from gossipper.interfaces import (
    Address,
    ChannelLayer,
    MediaFactory,
    MediaTap,
    Tracer,
    TransportFactory,
    WallClock,
)
from gossipper.output import TraceFiles, exit_screens, screen_dump, summary_document
from gossipper.output.screens import live_screen
from gossipper.scenario import RunEnv, Scenario, TwinRole
from gossipper.scenario.tdm import TdmMap
from gossipper.segment import ExecutionSegment
from gossipper.stats import RunStats, ScreenContext, ScreenState, StatsSnapshot, screen_state
from gossipper.stats.counters import StatsWindow
from gossipper.transport.layers import channel_layer_for

if TYPE_CHECKING:
    from gossipper.scenario import InjectionFile
    from gossipper.session.hep import HepMirror

__all__ = ["Run", "RunPlan", "RunReport", "open_run"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPlan:
    """Everything one run depends on; the same plan opened twice gives two equal runs."""

    scenario: Scenario
    config: RunConfig
    transports: TransportFactory
    wall_clock: WallClock
    local_ip: str
    """The address put in messages (``[local_ip]``) and in ``%s`` of ``-cid_str``."""
    bind_host: str
    """Where the SIP socket binds (a wildcard, or ``local_ip``)."""
    remote: Address | None
    """Where a client sends (resolved); None for a server."""
    remote_host: str | None = None
    """``[remote_host]`` as written by the user; defaults to the remote address."""
    pid: int
    seed: int
    directory: str = "."
    """Where trace files (and a relative ``-summary_json``) go."""
    traces: bool = True
    """Open the trace files the configuration asks for."""
    periodic_screens: bool = False
    """``-trace_screen`` without a terminal: a screen snapshot in the file every ``-fd``."""
    sorted_rtt_samples: bool = False
    """Order the ``-trace_rtt`` samples of one instant by content (simulation determinism)."""
    settle: Callable[[str], Awaitable[None]] | None = None
    """Simulation: returns once nothing else can happen at the current virtual instant."""
    shell_runner: Callable[[str], None] | None = None
    """Replaces starting ``<exec command>`` processes (the simulation starts none)."""
    timer_resolution_s: float | None = None
    live_flush_s: float | None = None
    """Real runs: how often the trace files (RTT samples included) are written out, so ``tail -f``
    and scripts see a running test; None leaves them to the ``-fd`` dumps and the end (the
    simulation's files are read after the run)."""
    channel_layer: ChannelLayer | None = None
    """Stream modes: TLS/WebSocket over the connections; None builds the layer -t asks for
    from the configuration (``gossipper.transport.layers``)."""
    ooc_scenario: Scenario | None = None
    """``-oocsf``/``-oocsn``: the scenario of requests with unknown Call-IDs (client mode)."""
    rx_scenario: Scenario | None = None
    """``-rxsf``/``-rxsn``: the server scenario of SIPp 3.7's mixed mode (with a client
    ``scenario``); its injection file is ``config.identity.rx_injection_file``."""
    twin: TwinSetup | None = None
    """3PCC: the command channel's set-up (``-3pcc`` or ``-master``/``-slave``), else None."""
    holds_loop: bool = False
    """The run is alone in its Trio loop (the command line's run, a worker's; not beside an
    in-process peer or in ``gossipper server``): where the engine allows it
    (``Engine.hold_loop_between_ticks``), a client's timer queue may sleep between ticks
    outside Trio's loop."""


@dataclass(frozen=True, slots=True)
class RunReport:
    """What a finished run leaves: the exit screens and the files it wrote."""

    result: EngineResult
    exit_screens: str
    files: tuple[str, ...]
    """Trace files written (rotated ones included), sorted."""
    problems: tuple[str, ...]
    """Trace files that could not be written (warnings for stderr)."""


class Run:
    """One run built from a plan: its engine, trace files and statistics consumers."""

    def __init__(
        self,
        plan: RunPlan,
        injection: dict[str, InjectionFile],
        rx_injection: dict[str, InjectionFile] | None = None,
        *,
        hep_target: Address | None = None,
    ) -> None:
        """``hep_target``: ``-hep_addr`` resolved; every SIP message is mirrored there."""
        self.plan = plan
        config = plan.config
        scenario = plan.scenario
        self.env = _build_env(plan, injection)
        start_wall = plan.wall_clock.wall_time()
        start_mono = trio.current_time()
        stats = new_run_stats(scenario, config, start_wall=start_wall, start_mono=start_mono)
        self.ooc_stats: RunStats | None = None
        if plan.ooc_scenario is not None:
            self.ooc_stats = new_run_stats(
                plan.ooc_scenario, config, start_wall=start_wall, start_mono=start_mono
            )
        self.rx_stats: RunStats | None = None
        rx_env: RunEnv | None = None
        if plan.rx_scenario is not None:
            self.rx_stats = new_run_stats(
                plan.rx_scenario, config, start_wall=start_wall, start_mono=start_mono
            )
            rx_env = _rx_env(self.env, rx_injection or {})
        self.traces = _open_traces(plan, stats) if plan.traces else None
        if self.traces is not None and config.traces.trace_media:
            stats.media_sinks.append(self.traces.media_stream)
        # Mixed mode: the rx scenario's own -trace_stat/-trace_counts files.
        self.rx_traces = (
            _open_rx_traces(plan, self.rx_stats)
            if plan.traces and self.rx_stats is not None
            else None
        )
        tracer: Tracer | None = self.traces
        self.hep: HepMirror | None = None
        if hep_target is not None:
            # Imported here: HEP (and the RTCP parser it brings) costs a plain run's start-up
            # a few milliseconds for nothing.
            from gossipper.session.hep import HepMirror, TeeTracer

            self.hep = HepMirror(
                config, local_ip=plan.local_ip, target=hep_target, wall_clock=plan.wall_clock
            )
            tracer = self.hep if tracer is None else TeeTracer(tracer, self.hep)
            # Each stream's quality goes to the collector as a JSON log at the end of its call.
            stats.media_sinks.append(self.hep.media_quality)
        media: MediaFactory | None = None
        if (
            config.identity.rtp_echo
            or scenario.has_media
            or any(s is not None and s.has_media for s in (plan.ooc_scenario, plan.rx_scenario))
        ):
            media = self._build_media(plan, stats)
            if rx_env is not None:
                rx_env.per_call_media = True
        self.engine = Engine(
            scenario,
            config,
            env=self.env,
            transports=plan.transports,
            wall_clock=plan.wall_clock,
            remote=plan.remote,
            bind_host=plan.bind_host,
            seed=plan.seed,
            tracer=tracer,
            shell_runner=plan.shell_runner,
            settle=plan.settle,
            timer_resolution_s=plan.timer_resolution_s,
            on_dump=self._dump if self.traces is not None else None,
            stats=stats,
            channel_layer=plan.channel_layer
            or channel_layer_for(config, is_server=scenario.is_server),
            # TLS SNI / WebSocket Host: the host name the user gave (-rsa's when given).
            server_name=config.transport.rsa_host or plan.remote_host,
            ooc_scenario=plan.ooc_scenario,
            ooc_stats=self.ooc_stats,
            rx_scenario=plan.rx_scenario,
            rx_env=rx_env,
            rx_stats=self.rx_stats,
            twin=plan.twin,
            media=media,
        )
        if plan.holds_loop:
            self.engine.hold_loop_between_ticks()
        # The -fd files' own statistics window (error codes belong to it), and the screens'.
        self._log_window: StatsWindow = self.engine.open_stats_window(error_codes=True)
        self._display_window: StatsWindow = self.engine.open_stats_window()
        self._rx_log_window: StatsWindow | None = None
        self._rx_display_window: StatsWindow | None = None
        if self.rx_stats is not None:
            self._rx_log_window = self.rx_stats.open_window(error_codes=True)
            self._rx_display_window = self.rx_stats.open_window()

    # ------------------------------------------------------------------ running

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> EngineResult:
        """Run the scenario to its end (``nursery.start`` returns once traffic may flow)."""
        period_s = self.plan.live_flush_s
        flushing = self.traces is not None and period_s is not None
        hep = self.hep
        if not flushing and hep is None:
            return await self.engine.run(task_status=task_status)
        async with trio.open_nursery() as nursery:
            if flushing:
                assert period_s is not None
                nursery.start_soon(self._flush_loop, period_s)
            if hep is not None:
                await nursery.start(hep.run, self.plan.transports)
            result = await self.engine.run(task_status=task_status)
            if hep is not None:
                # The last messages of the run reach the collector too (bounded wait).
                await hep.flush()
            nursery.cancel_scope.cancel()
        return result

    async def _flush_loop(self, period_s: float) -> None:
        # A few writes per second and file at most: at load the 256 KiB buffers fill faster
        # than this anyway, at low rates every record reaches the file within one period.
        traces = self.traces
        assert traces is not None
        while True:
            await trio.sleep(period_s)
            traces.write_rtt_records(self._rtt_records())
            traces.flush()
            if self.rx_traces is not None:
                self.rx_traces.flush()

    # ------------------------------------------------------------------ screens

    def _build_media(self, plan: RunPlan, stats: RunStats) -> MediaFactory:
        """The run's media (docs/media.md); reads the media files before traffic."""
        from gossipper.session.media import build_media  # noqa: PLC0415 - media runs only

        config = plan.config
        # Keywords such as [media_port] name each call's own RTP port from now on.
        self.env.per_call_media = True
        tap: MediaTap | None = self.hep  # HEP mirrors every RTCP packet (type 5)
        return build_media(
            config,
            [plan.scenario, plan.ooc_scenario, plan.rx_scenario],
            transports=plan.transports,
            media_ip=config.identity.media_ip or plan.local_ip,
            seed=plan.seed,
            open_calls=config.load.max_open_calls or config.load.users,
            wall_time=plan.wall_clock.wall_time,
            on_quality=stats.media_stream_ended,
            warn=self._media_warning,
            tap=tap,
            on_check=self.traces.rtpcheck_report if self.traces is not None else None,
            # The simulation's SRTP keys follow its seed, so a run repeats byte for byte.
            deterministic_keys=plan.settle is not None,
            # Real runs send RTCP reports due within 10 ms together (one wake-up for them);
            # the simulation sends each at its exact time.
            report_window_s=0.0 if plan.settle is not None else 0.010,
        )

    def _media_warning(self, text: str) -> None:
        self.engine.warning(text)

    def screen_context(self, statistics: EngineStatistics | None = None) -> ScreenContext:
        """The non-statistics values of the scenario screen, from the engine's state."""
        state = statistics if statistics is not None else self.engine.statistics()
        config = self.plan.config
        remote = state.remote_address
        local = state.local_address
        return ScreenContext(
            local_port=local[1] if local is not None else 0,
            transport=state.transport_name,
            remote_host=remote[0] if remote else "",
            remote_port=remote[1] if remote else 0,
            rate_cps=state.rate,
            rate_period_ms=int(state.rate_period_s * 1000),
            users=config.load.users,
            duration_ms=int(config.timers.pause_default_s * 1000),
            call_limit=state.call_limit,
            open_calls_allowed=state.open_call_limit,
            open_sockets=0,
        )

    def display_snapshot(self) -> StatsSnapshot:
        """What a screen shows now: SIPp restarts the display window just before printing."""
        window = self._display_window
        self.engine.snapshot(window, restart=True)
        return self.engine.snapshot(window)

    def extra_snapshot(
        self, role: str, window: StatsWindow | None = None, *, restart: bool = False
    ) -> StatsSnapshot | None:
        """The counters of the out-of-call (``"ooc"``) or mixed-mode (``"rx"``) scenario, or
        None when the run has no such scenario."""
        stats = self.ooc_stats if role == "ooc" else self.rx_stats if role == "rx" else None
        if stats is None:
            return None
        return stats.snapshot(
            self.plan.wall_clock.wall_time(), trio.current_time(), window, restart=restart
        )

    def _rx_display_snapshot(self) -> StatsSnapshot | None:
        window = self._rx_display_window
        if window is None:
            return None
        self.extra_snapshot("rx", window, restart=True)
        return self.extra_snapshot("rx", window)

    def screen_dump(self, *, terminated: bool = False) -> str:
        """What -trace_screen, SIGUSR2 and key s write: scenario, statistics, repartitions
        (in mixed mode, then the same for the rx scenario)."""
        statistics = self.engine.statistics()
        state = screen_state(
            terminated=terminated,
            quitting=statistics.quit_state is not QuitState.RUNNING,
            paused=statistics.traffic_paused,
            server=statistics.is_server,
        )
        if state in (ScreenState.RUNNING, ScreenState.SERVER) and self.plan.twin is not None:
            # 3PCC: SIPp's bottom line names the role instead (reference 6.8).
            state = _twin_screen_state(self.plan.scenario.twin_role, self.plan.twin)
        text = screen_dump(
            self.display_snapshot(),
            server=statistics.is_server,
            context=self.screen_context(statistics),
            state=state,
            periodic_rtd=self.plan.config.traces.periodic_rtd,
            tz=self.plan.wall_clock.tz,
            rfc3339=self.plan.config.traces.rfc3339,
        )
        rx = self._rx_display_snapshot()
        if rx is not None:
            text += screen_dump(
                rx,
                server=True,
                context=self.screen_context(statistics),
                state=screen_state(
                    terminated=terminated, quitting=False, paused=False, server=True
                ),
                periodic_rtd=self.plan.config.traces.periodic_rtd,
                tz=self.plan.wall_clock.tz,
            )
        return text

    def live_screen(self, number: int) -> str | None:
        """Screen ``number`` (SIPp's keys 1-9) as the live terminal display shows it now; its
        periodic figures cover the time since the previous screen was drawn. None when the
        run has no such screen (5 without ``-tdmmap``)."""
        statistics = self.engine.statistics()
        state = screen_state(
            quitting=statistics.quit_state is not QuitState.RUNNING,
            paused=statistics.traffic_paused,
            server=statistics.is_server,
        )
        if state in (ScreenState.RUNNING, ScreenState.SERVER) and self.plan.twin is not None:
            state = _twin_screen_state(self.plan.scenario.twin_role, self.plan.twin)
        tdm = self.env.tdm_map
        return live_screen(
            number,
            self.engine.snapshot(self._display_window, restart=True),
            server=statistics.is_server,
            context=self.screen_context(statistics),
            state=state,
            periodic_rtd=self.plan.config.traces.periodic_rtd,
            actions=self._screen_actions,
            variables=self._screen_variables,
            circuits=None
            if tdm is None
            else [(tdm.name(number), tdm.busy(number)) for number in range(tdm.size)],
            tz=self.plan.wall_clock.tz,
            rfc3339=self.plan.config.traces.rfc3339,
        )

    @functools.cached_property
    def _screen_actions(self) -> list[tuple[int, str, list[str]]]:
        return [
            (
                index,
                f"{element.kind.value}, line {element.line}",
                [_action_name(action) for action in element.actions],
            )
            for index, element in enumerate(self.plan.scenario.elements)
            if element.actions
        ]

    @functools.cached_property
    def _screen_variables(self) -> list[tuple[str, str]]:
        scenario = self.plan.scenario
        return (
            [(name, "global") for name in scenario.global_variables]
            + [(name, "user") for name in scenario.user_variables]
            + [(name, "call") for name in scenario.call_variables]
        )

    def exit_screens(self) -> str:
        """SIPp's stdout at exit: scenario screen and statistics screen, "Test Terminated"
        (in mixed mode, then the rx scenario's two screens)."""
        statistics = self.engine.statistics()
        text = exit_screens(
            self.display_snapshot(),
            server=statistics.is_server,
            context=self.screen_context(statistics),
            tz=self.plan.wall_clock.tz,
            rfc3339=self.plan.config.traces.rfc3339,
        )
        rx = self._rx_display_snapshot()
        if rx is not None:
            text += exit_screens(
                rx, server=True, context=self.screen_context(statistics), tz=self.plan.wall_clock.tz
            )
        return text

    def dump_screens(self) -> str | None:
        """SIGUSR2 / key s: the screens into the -trace_screen file (with the RTT samples
        flushed) and None, or, without that file, the text for stdout."""
        traces = self.traces
        text = self.screen_dump()
        if traces is not None:
            traces.write_rtt_records(self._rtt_records())
            if self.plan.config.traces.trace_screen:
                traces.write_screens(text)
                traces.flush()
                return None
        return text

    # ------------------------------------------------------------------ outputs

    def _rtt_records(self) -> list[tuple[float, float, str, int]]:
        records = self.engine.take_rtt_records()
        if self.plan.sorted_rtt_samples:
            # Samples of one instant arrive in the order Trio ran the calls; sorting the
            # tuples keeps the time order and fixes ties by content.
            records.sort()
        return records

    def _dump(self) -> None:
        """One -fd dump: buffered RTT samples, then the periodic rows of the CSV files."""
        traces = self.traces
        assert traces is not None
        traces.write_rtt_records(self._rtt_records())
        screens = self.screen_dump() if self.plan.periodic_screens else None
        traces.write_periodic(
            self.engine.snapshot(self._log_window, restart=True), screens_text=screens
        )
        rx_traces = self.rx_traces
        if rx_traces is not None:
            rx = self.extra_snapshot("rx", self._rx_log_window, restart=True)
            assert rx is not None
            rx_traces.write_periodic(rx)

    def finish(self, result: EngineResult) -> RunReport:
        """After ``run``: the final rows and screens of the trace files, the exit screens."""
        shown_exit = self.exit_screens()
        files: list[str] = []
        problems: tuple[str, ...] = ()
        traces = self.traces
        if traces is not None:
            traces.write_final(self.engine.snapshot(self._log_window), self.screen_dump())
            traces.close()
            problems = tuple(traces.errors)
            files = [path for path in traces.paths.values() if os.path.exists(path)]
            for kind in traces.paths:
                files.extend(traces.rotated_files(kind))
        rx_traces = self.rx_traces
        if rx_traces is not None:
            rx = self.extra_snapshot("rx", self._rx_log_window)
            assert rx is not None
            rx_traces.write_final(rx, "")
            rx_traces.close()
            problems += tuple(rx_traces.errors)
            files.extend(path for path in rx_traces.paths.values() if os.path.exists(path))
        if self.hep is not None:
            counts = self.hep.counts()
            if counts.dropped or counts.unencodable:
                problems += (
                    f"HEP: {counts.dropped} of {counts.sent + counts.dropped} packets dropped"
                    f" (capture server {self.hep.target[0]}:{self.hep.target[1]} slow or down),"
                    f" {counts.unencodable} not encodable",
                )
        return RunReport(
            result=result, exit_screens=shown_exit, files=tuple(sorted(files)), problems=problems
        )

    def live_summary_document(
        self, tool_version: str, snapshot: StatsSnapshot | None = None
    ) -> dict[str, Any]:
        """The ``-summary_json`` document of the run so far (the HTTP API's statistics):
        counters now (or ``snapshot``, taken by a caller that renders several documents from
        one instant), ``exit_code`` the one the run would exit with now; once the run has
        ended, the same numbers as :meth:`summary_document`."""
        engine = self.engine
        if snapshot is None:
            snapshot = engine.statistics().snapshot
        return summary_document(
            snapshot,
            target_rate=snapshot.target_rate,
            scenario_name=self.plan.scenario.base_name,
            exit_code=int(engine.exit_status()),
            tool_version=tool_version,
            tz=self.plan.wall_clock.tz,
            segment=self._segment(),
        )

    def summary_document(self, result: EngineResult, tool_version: str) -> dict[str, Any]:
        """The ``-summary_json`` document of the finished run."""
        snapshot = result.snapshot
        return summary_document(
            snapshot,
            target_rate=snapshot.target_rate,
            scenario_name=self.plan.scenario.base_name,
            exit_code=int(result.exit_status),
            tool_version=tool_version,
            tz=self.plan.wall_clock.tz,
            segment=self._segment(),
        )

    def _segment(self) -> ExecutionSegment | None:
        """-segment's slice for the summary (a server scenario is never a slice)."""
        if self.plan.scenario.is_server:
            return None
        return self.plan.config.execution_segment


@contextlib.asynccontextmanager
async def open_run(plan: RunPlan) -> AsyncIterator[Run]:
    """Build a run from ``plan`` and bind its socket (bind errors come before any traffic).

    Raises:
        ConfigError / InjectionError: an injection file is missing or malformed.
        BindError: the SIP port cannot be bound.
    """
    injection = _load_injection(plan.config)
    rx_injection: dict[str, InjectionFile] = {}
    rx_file = plan.config.identity.rx_injection_file
    if plan.rx_scenario is not None and rx_file is not None:
        from gossipper.scenario.injection import load_injection_file

        rx_injection[os.path.basename(rx_file)] = load_injection_file(rx_file)
    hep_target: Address | None = None
    if plan.config.traces.hep_addr is not None:
        from gossipper.session.hep import resolve_hep_target

        hep_target = await resolve_hep_target(plan.config)
    run = Run(plan, injection, rx_injection, hep_target=hep_target)
    await run.engine.open()
    try:
        yield run
    finally:
        run.engine.close_sockets()
        if run.traces is not None:
            run.traces.close()
        if run.rx_traces is not None:
            run.rx_traces.close()


def _action_name(action: object) -> str:
    """An action as the variables screen names it: its element's name in SIPp's XML."""
    name = type(action).__name__
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name).lstrip("_")


def _twin_screen_state(role: TwinRole, twin: TwinSetup) -> ScreenState:
    if twin.extended:
        if role is TwinRole.CONTROLLER_B:
            return ScreenState.SLAVE
        return ScreenState.MASTER_PASSIVE if role is TwinRole.A_PASSIVE else ScreenState.MASTER
    if role is TwinRole.CONTROLLER_B:
        return ScreenState.THREE_PCC_CONTROLLER_B
    if role is TwinRole.A_PASSIVE:
        return ScreenState.THREE_PCC_A_PASSIVE
    return ScreenState.THREE_PCC_CONTROLLER_A


def _build_env(plan: RunPlan, injection: dict[str, InjectionFile]) -> RunEnv:
    config = plan.config
    injection_files = config.identity.injection_files
    remote = plan.remote
    return RunEnv(
        service=config.identity.service,
        remote_host=plan.remote_host or (remote[0] if remote else ""),
        remote_ip=remote[0] if remote else "",
        remote_port=remote[1] if remote else config.target.remote_port,
        local_ip=plan.local_ip,
        media_ip=config.identity.media_ip or plan.local_ip,
        media_port=config.identity.media_port,
        pid=plan.pid,
        users=config.load.users or 0,
        keys=dict(config.identity.keys),
        auth_username=config.identity.auth_username or config.identity.service,
        auth_password=config.identity.auth_password,
        auth_uri=config.identity.auth_uri,
        aka_k=config.identity.aka_k,
        aka_op=config.identity.aka_op,
        aka_amf=config.identity.aka_amf,
        tz=plan.wall_clock.tz,
        rfc3339=config.traces.rfc3339,
        tdm_map=_tdm_map(config),
        dynamic_id_start=config.identity.dynamic_start,
        dynamic_id_step=config.identity.dynamic_step,
        dynamic_id_max=config.identity.dynamic_max,
        dynamic_id_next=config.identity.dynamic_start,
        per_call_local_port=is_multi_socket_mode(config.transport.transport_mode)
        or is_per_ip_mode(config.transport.transport_mode),
        per_call_local_ip=is_per_ip_mode(config.transport.transport_mode),
        transport=transport_name_for(config.transport.transport_mode),
        injection=injection,
        default_injection=os.path.basename(injection_files[0]) if injection_files else None,
    )


def _rx_env(env: RunEnv, injection: dict[str, InjectionFile]) -> RunEnv:
    """The mixed-mode rx scenario's environment: the run's, with the -rxinf file as its only
    (and default) injection file and its own [dynamic_id] counter."""
    return dataclasses.replace(
        env,
        injection=injection,
        default_injection=next(iter(injection), None),
        file_cache={},
    )


def _tdm_map(config: RunConfig) -> TdmMap | None:
    """``-tdmmap``: a fresh circuit table per run (two runs of one plan share nothing)."""
    text = config.identity.tdm_map
    if text is None:
        return None
    ranges = parse_tdm_map(text)
    assert ranges is not None  # the configuration validated it
    return TdmMap(*ranges)


def _load_injection(config: RunConfig) -> dict[str, InjectionFile]:
    """-inf files by basename; the first is the default for [fieldN] (SIPp docs, -inf)."""
    files: dict[str, InjectionFile] = {}
    if config.identity.injection_files:
        from gossipper.scenario.injection import load_injection_file

        for path in config.identity.injection_files:
            files[os.path.basename(path)] = load_injection_file(path)
    for name, field_index in config.identity.injection_indexes:
        files[name].build_index(field_index)
    if config.load.users is not None:
        for injection in files.values():
            injection.check_users(config.load.users)
    return files


def _open_rx_traces(plan: RunPlan, layout: RunStats) -> TraceFiles | None:
    """Mixed mode: the rx scenario's statistics files (-trace_stat, -trace_counts), named
    after the rx scenario; every other trace file is the run's one."""
    config = plan.config
    assert plan.rx_scenario is not None
    if not (config.traces.trace_stat or config.traces.trace_counts):
        return None
    only_stats = config.replace(
        trace_msg=False,
        trace_shortmsg=False,
        trace_err=False,
        trace_logs=False,
        trace_calldebug=False,
        trace_screen=False,
        trace_rtt=False,
        trace_error_codes=False,
        trace_media=False,
    )
    name = plan.rx_scenario.base_name
    if name == plan.scenario.base_name:
        name += "_rx"
    return TraceFiles(
        only_stats,
        scenario_name=name,
        pid=plan.pid,
        directory=plan.directory,
        tz=plan.wall_clock.tz,
        now_wall=plan.wall_clock.wall_time,
        layout=layout,
    )


def _open_traces(plan: RunPlan, layout: RunStats) -> TraceFiles | None:
    from gossipper.output import trace_files_wanted

    config = plan.config
    if not trace_files_wanted(config):
        return None
    return TraceFiles(
        config,
        scenario_name=plan.scenario.base_name,
        pid=plan.pid,
        directory=plan.directory,
        tz=plan.wall_clock.tz,
        now_wall=plan.wall_clock.wall_time,
        layout=layout,
    )
