"""The engine: sockets, dispatch by Call-ID, call creation, pacing and the quit logic.

One ``Engine`` runs one scenario (client or server) on the transports it is given, with at
most one second scenario for the calls the peer starts (the out-of-call scenario, or the server
scenario of SIPp 3.7's mixed mode: docs/architecture.md section 3c). It owns a
nursery holding the receive loops, the pacing task and one task per call. Everything the outside
world does to a run (keys, the control socket and signals through ``gossipper.control``, the
simulation, later the TUI and the HTTP API) goes through the public methods here: the commands
(``set_rate``, ``pause``, ``set_users``, ``set_call_limit``, ``soft_quit``, ``force_quit``,
``interrupt``, ``reset_stats``) and the readers (``statistics``, ``snapshot`` over a consumer's
own ``open_stats_window``). Everything else is private; calls see the engine as a
``CallHost``. Runs are built by ``gossipper.session.open_run``, not by hand.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import math
import random
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from gossipper.config import RunConfig, is_multi_socket_mode, is_per_ip_mode, is_stream_mode
from gossipper.engine.call import Call, answer_out_of_call
from gossipper.engine.call_ids import CallIdFormat
from gossipper.engine.connections import Link, StreamEndpoints, StreamFlow, first_free_listener
from gossipper.engine.elements import new_run_stats
from gossipper.engine.host import (
    AUTO_ANSWERED_METHODS,
    CallHost,
    ClosedFlow,
    DatagramFlow,
    ScenarioHost,
)
from gossipper.engine.per_ip import PerIpSockets, open_per_ip_sockets
from gossipper.engine.rate import RateState, default_open_call_limit
from gossipper.engine.threepcc import (
    COMMAND_END,
    CommandChannel,
    TwinSetup,
    check_twin_setup,
    command_call_id,
    is_abort_command,
)
from gossipper.engine.timers import (
    READ_AT_ONCE,
    READ_NO_MORE,
    READ_WHEN_READABLE,
    Parker,
    TickSleep,
    TimerQueue,
    run_clock,
)
from gossipper.engine.watchdog import Watchdog
from gossipper.errors import BindError, ConfigError, ExitStatus, TransportError
from gossipper.interfaces import (
    Address,
    ChannelLayer,
    Datagram,
    DatagramTransport,
    DirectDelivery,
    Flow,
    MediaFactory,
    ReadableDescriptor,
    ReceiveBacklog,
    Tracer,
    TransportFactory,
    WallClock,
)
from gossipper.scenario import RunEnv, Scenario, TwinRole
from gossipper.sip import SipMessage, SipParseError, parse_message, trying_response
from gossipper.stats import FailureReason, RunStats, StatsSnapshot
from gossipper.stats.counters import StatsWindow

FIRST_DEFAULT_PORT = 5060
LAST_DEFAULT_PORT = 5119
"""SIPp binds the first free port of 5060..5119 when -p is not given (SIPp docs, -p)."""


_MAX_CACHED_FLOWS = 4096
_PACING_GAP_MAX_S = 0.010
"""The longest gap between two pacing runs taken as the loop's usual pace: after a longer
one (a stall) the calls due meanwhile are overdue, and start a tick's worth per run."""
_SHED_BATCH = 256
"""A receive batch this long (transport.udp's RECEIVE_BATCH_MAX) left more in the socket."""
_SHED_AFTER_S = 0.010
"""Where the socket cannot tell its backlog (_SHED_BACKLOG_SHARE): a server whose receive batches
have all been full for this long is behind, not just catching up on a burst: it drops the
requests of new calls in them (their senders retransmit them) and serves the calls it has
(docs/performance.md, "Overload"). Shedding at the first full batch dropped bursts a server
would have absorbed in milliseconds, among them the synchronized retransmissions of the INVITEs
it had just shed: dropped again, 500 ms later, every time, until their calls timed out. Much
longer, and a 4 MiB socket buffer overflows first at 25,000 calls/s (some 40 ms of datagrams):
the kernel then drops at random what shedding would have chosen (docs/performance.md, "A server
that keeps up")."""
_SHED_BACKLOG_SHARE = 0.5
"""Where the socket tells how full its receive buffer is (``interfaces.ReceiveBacklog``), a
server whose receive batches are full sheds new calls only while half of the buffer or more
is taken: the other half is the margin for the calls it serves. A backlog of a few tens of
milliseconds (a scheduling hiccup on a busy machine) then passes without a call shed; with
_SHED_AFTER_S instead, it shed hundreds of calls at 20,000 calls/s, each of which came back
only with its INVITE's retransmission 500 ms later (docs/performance.md, "Shedding by the
socket's backlog")."""
_SHED_AGAIN_SHARE = 0.75
"""A request shed once starts its call when it comes back unless the receive buffer is this
full or more: past it, the retransmissions alone are more than the server can take."""
_SHED_REMEMBERED_MAX = 100_000
"""Call-IDs of shed requests remembered (some 10 MB at most), oldest forgotten first."""
_DENSE_DATAGRAMS_PER_TICK = 1
"""A client reads its socket at the timer queue's ticks while datagrams arrive at this many per
tick or more (measured over _DENSITY_WINDOW_TICKS); below it, a read a tick after each batch
mostly found the socket empty, a wake-up for nothing, and the socket is waited for instead
(docs/performance.md, "One task step per tick for a client")."""
_DENSITY_WINDOW_TICKS = 32
_DRAIN_DATAGRAMS_MAX = 1024
"""Datagrams the pacing task handles before starting calls; that many waiting at once means
the process is behind, and new calls wait for the next tick (docs/performance.md, "Overload").
(Not "the socket is never empty": a fast peer answers each reply within microseconds.)"""
_DRAIN_AFTER_READ_S = 20e-6
"""The pacing's drain is skipped when the run's socket was emptied this recently: by the timer
queue's task reading it on the tick, just before it ran the pacing in the same wake-up. What
arrives in between waits for the next read, a tick at most, as anything arriving after a drain
does."""


class QuitState(enum.Enum):
    RUNNING = "running"
    SOFT = "soft"
    """No new calls; exit once the running ones end."""
    FORCED = "forced"
    """Abort running calls and exit."""


@dataclass(frozen=True, slots=True)
class EngineStatistics:
    """What a run is doing now (``Engine.statistics()``); reading it changes nothing."""

    quit_state: QuitState
    quit_reason: str
    traffic_paused: bool
    is_server: bool
    rate: float
    """Calls per ``rate_period_s`` (the target; ``-r``/``-rp`` and later changes)."""
    rate_period_s: float
    users: int | None
    """The target number of users in ``-users`` mode, else None."""
    call_limit: int | None
    """``-m``: calls to start in all (None: no limit)."""
    open_call_limit: int
    """``-l`` (or its computed default): calls allowed open at once."""
    open_calls: int
    calls_started: int
    open_call_sockets: int
    """``-t un``: sockets of calls that have their own."""
    malformed_messages: int
    local_address: Address | None
    remote_address: Address | None
    transport_name: str
    timed_out: bool
    fatal_message: str | None
    snapshot: StatsSnapshot
    """The counters now; periodic figures cover the whole run (no window)."""


@dataclass(frozen=True, slots=True)
class EngineResult:
    """How a run ended."""

    exit_status: ExitStatus
    snapshot: StatsSnapshot
    """The counters at the end; periodic figures cover the whole run."""
    timed_out: bool
    fatal_message: str | None
    quit_reason: str


class Engine(CallHost):
    """Runs one scenario: construct it, ``await engine.open()``, then ``await engine.run()``.

    ``settle`` (simulation only) returns once nothing else can happen at the current virtual
    instant; timer-driven decisions (pacing, ramps, timeout, dumps) await it so their outcome
    never depends on Trio's scheduling order (docs/architecture.md section 5). ``on_dump`` is
    called at the start, every ``-fd`` and at the end of the run when given (the trace files'
    periodic rows). ``shell_runner`` replaces starting ``<exec command>`` processes. ``stats``
    is made from the scenario when not given (``engine.elements.new_run_stats``).
    """

    def __init__(
        self,
        scenario: Scenario,
        config: RunConfig,
        *,
        env: RunEnv,
        transports: TransportFactory,
        wall_clock: WallClock,
        remote: Address | None,
        bind_host: str,
        seed: int,
        tracer: Tracer | None = None,
        shell_runner: Callable[[str], None] | None = None,
        settle: Callable[[str], Awaitable[None]] | None = None,
        timer_resolution_s: float | None = None,
        on_dump: Callable[[], None] | None = None,
        stats: RunStats | None = None,
        channel_layer: ChannelLayer | None = None,
        server_name: str | None = None,
        ooc_scenario: Scenario | None = None,
        ooc_stats: RunStats | None = None,
        rx_scenario: Scenario | None = None,
        rx_env: RunEnv | None = None,
        rx_stats: RunStats | None = None,
        twin: TwinSetup | None = None,
        media: MediaFactory | None = None,
    ) -> None:
        if timer_resolution_s is None:
            timer_resolution_s = 0.0 if settle is not None else config.process.timer_resol_s
        # The run's clock, bound once: the same value as trio.current_time() without its
        # Python calls (calls read the time several times per message).
        now = run_clock()
        if stats is None:
            stats = new_run_stats(
                scenario, config, start_wall=wall_clock.wall_time(), start_mono=now()
            )
        # Sim runs pass timer_resolution_s=0 (exact virtual deadlines). The queue sleeps on a
        # timerfd, as the receive loop does (see _receive_loop).
        timers = TimerQueue(timer_resolution_s, now, descriptor=True)
        super().__init__(
            scenario,
            config,
            env=env,
            stats=stats,
            timers=timers,
            now=now,
            wall_time=wall_clock.wall_time,
            seed=seed,
            tracer=tracer,
        )
        self._config = config
        self.media = media
        # This engine's environment: keywords read the run's clocks through it.
        env.wall_time = wall_clock.wall_time
        env.clock_ms = self._clock_ms
        self._transports = transports
        self._wall_clock = wall_clock
        self._remote = remote
        self._bind_host = bind_host
        self._shell_runner = shell_runner
        self._settle = settle
        self._on_dump = on_dump
        self._timer_resolution_s = timer_resolution_s
        # Real runs (not the simulation, whose virtual time never lags): the overload guard's
        # tick. The pacing task starts at most two ticks' worth of calls per run (the tick's
        # own plus one tick's worth of overdue ones) and only once the socket is drained; the
        # timer task handles received datagrams before firing overdue timers.
        self._overload_tick_s = timer_resolution_s if settle is None else 0.0
        self._pacing_held_back = False
        self._pacing_ran_at_s = 0.0
        self._shedding = False
        # Since when every receive batch has been full (inf: the last one was not).
        self._full_batches_since_s = math.inf
        # When a read of the run's socket last emptied it, and when the last batch read from a
        # real socket was handled (_read_socket, _handle_batch).
        self._main_read_empty_at_s = -math.inf
        self._batch_handled_at_s = 0.0
        # A client's datagrams per tick (_DENSE_DATAGRAMS_PER_TICK): counted since the window's
        # start, and whether the last full window was dense.
        self._density_since_s = 0.0
        self._density_datagrams = 0
        self._dense = True
        # Call-IDs whose new-call request was shed (oldest first, bounded): a retransmission of
        # one starts its call even while shedding, unless the buffer is nearly full.
        self._shed_call_ids: dict[str, None] = {}
        self._backlog_share = -1.0  # the socket's, as read at the last full batch
        # -overload_queue: new INVITEs held while behind, oldest first, each answered 100
        # Trying (RFC 3261 17.2.1), so the client stops retransmitting and waits; they start
        # as the server catches up, ahead of any newer one.
        self._held_max = config.process.overload_queue
        # An OrderedDict: taking the oldest key of a plain dict whose front was popped walks
        # the dead entries (quadratic over a long queue); popitem(last=False) does not.
        self._held_calls: OrderedDict[str, tuple[SipMessage, Flow]] = OrderedDict()
        if self._overload_tick_s > 0:
            timers.before_late = self._drain_receive
        self._global_variables = scenario.new_global_variables()
        self._call_ids = CallIdFormat(
            config.identity.call_id_type,
            config.identity.call_id_template,
            env,
            seed=seed,
            wall_time=wall_clock.wall_time,
        )
        # The usual template has one %u: then a Call-ID is prefix + number + suffix.
        self._call_id_affixes = self._call_ids.affixes
        self._callid_slash_ign = config.identity.callid_slash_ign
        self._deadcall_wait_s = config.timers.deadcall_wait_s

        self._calls: dict[str, Call] = {}
        self._dead_calls: dict[str, float] = {}
        # (until, Call-ID) in the order calls ended: -deadcall_wait is the same for every call,
        # so expiry is a pop from the left instead of a scan of the whole window every second.
        self._dead_order: deque[tuple[float, str]] = deque()
        self._call_counter = 0
        self._malformed_messages = 0
        self._quit_state = QuitState.RUNNING
        self._quit_reason = ""
        self._timed_out = False
        self._fatal_message: str | None = None
        self._stopped_now = False
        self._traffic_paused = False
        self._main_transport: DatagramTransport | None = None
        self._start_s = 0.0
        # -segment (gossipper.segment): this process runs one slice of a larger test. The
        # pacing stays in the whole test's terms; -m, -l, -users and the call numbers are
        # the slice's.
        segment = config.execution_segment if not scenario.is_server else None
        self._segment = segment
        self._max_calls = config.load.max_calls
        if segment is not None and self._max_calls is not None:
            self._max_calls = segment.scale(self._max_calls)
        self._rate_state = RateState(
            rate=config.load.rate,
            period_s=config.load.rate_period_s,
            changed_at_s=0.0,
            segment=segment,
        )
        if segment is not None:
            self.stats.target_rate = self._shown_rate()
            for source in env.injection.values():
                source.rows_by_call_number = True
        self._call_limit_set = config.load.max_open_calls is not None
        self._open_call_limit = self._compute_open_call_limit()
        self._done = trio.Event()
        self._pacing = Parker(timers)
        self._pacing_waits_for_calls = False
        # The next -rate_increase step (infinite without), and the time between steps.
        self._pacing_next_step_s = math.inf
        self._pacing_ramp_s = 0.0
        # Parked tasks ready for a next call: idle workers, and calls that ended outside
        # their task (see keep_task_for_next_call).
        self._idle_workers: list[Parker] = []
        self._nursery: trio.Nursery | None = None
        self._free_users: list[int] = []
        self._users_target = config.load.users or 0
        mode = config.transport.transport_mode
        self._per_call_sockets = is_multi_socket_mode(mode) and not scenario.is_server
        # Stream transports (t1/tn/l1/ln/w1/wn/ws1/wsn): connections instead of a UDP socket.
        self._streams: StreamEndpoints | None = None
        if is_stream_mode(mode):
            if channel_layer is None:
                raise ValueError(f"-t {mode} needs a channel layer")
            self._streams = StreamEndpoints(
                transports=transports,
                layer=channel_layer,
                server_name=server_name,
                on_message=self._dispatch_stream,
                on_lost=self._link_lost,
                warning=self.warning,
                malformed=self._count_malformed,
            )
        self._main_link: Link | None = None
        self._stream_local: Address | None = None
        self._next_shared_link = 0
        self._reconnects_done = 0
        self._open_call_sockets = 0
        self._pending_socket_calls = 0
        self._next_user_id = 1
        self._final_snapshot: StatsSnapshot | None = None
        self._flows: dict[Address, DatagramFlow] = {}
        # -t ui: the socket of each local IP, and a flow cache per socket.
        self._per_ip: PerIpSockets | None = None
        self._ip_flows: dict[DatagramTransport, dict[Address, DatagramFlow]] = {}
        # Second scenarios of the run (docs/architecture.md section 3c):
        # -oocsf answers requests with unknown Call-IDs in client mode, -rxsf (SIPp 3.7 mixed
        # mode) serves the calls the peer starts. Their calls live in the one call table but
        # are not the main scenario's: -l, -m and the open-call count ignore them.
        self._ooc: ScenarioHost | None = None
        self._rx: ScenarioHost | None = None
        if ooc_scenario is not None:
            self._ooc = ScenarioHost(
                self,
                ooc_scenario,
                config,
                env=env,
                stats=ooc_stats
                or new_run_stats(
                    ooc_scenario, config, start_wall=wall_clock.wall_time(), start_mono=now()
                ),
            )
        if rx_scenario is not None:
            self._rx = ScenarioHost(
                self,
                rx_scenario,
                config,
                env=rx_env if rx_env is not None else env,
                stats=rx_stats
                or new_run_stats(
                    rx_scenario, config, start_wall=wall_clock.wall_time(), start_mono=now()
                ),
            )
            if rx_env is not None:
                rx_env.wall_time = wall_clock.wall_time
                rx_env.clock_ms = self._clock_ms
        for extra in (self._ooc, self._rx):
            if extra is not None:
                extra.media = media  # their calls open media like the main scenario's
        self._extra_calls = 0
        """Open calls of the out-of-call and rx scenarios (in ``_calls`` too)."""
        self._ooc_calls = 0
        """Open calls of the out-of-call scenario: the run does not wait for them (SIPp
        aborts those still open when its main calls are done)."""
        self._rx_counter = 0
        # -watchdog_*: the event-loop lag monitor (gossipper.engine.watchdog), from the start.
        self._watchdog: Watchdog | None = None
        # 3PCC (engine/threepcc.py): controller B creates its calls from commands, so it is
        # a "server" scenario that still connects and sends like a client.
        self._twin_b = scenario.twin_role is TwinRole.CONTROLLER_B
        self._accepts_calls = scenario.is_server and not self._twin_b
        self._commands: CommandChannel | None = None
        self._twin_lost = False
        listens, dests = check_twin_setup(scenario, twin)
        if twin is not None:
            if self._twin_b and remote is None:
                raise ConfigError(
                    f"{scenario.source_label}: 3PCC controller B sends the calls it creates:"
                    " give the remote host (remote_host[:port])"
                )
            self.twin_mode = True
            self._commands = CommandChannel(
                transports,
                twin,
                listens=listens,
                dests=dests,
                bind_host=None,
                on_command=self._command_received,
                on_lost=self._command_link_lost,
            )

    # ------------------------------------------------------------------ settings helpers

    def _compute_open_call_limit(self) -> int:
        config = self._config
        if config.load.max_open_calls is not None:
            return self._segment_share(config.load.max_open_calls)
        if config.load.users is not None:
            return self._segment_share(config.load.users)
        duration_ms = self.scenario.duration_p99_ms(self.pause_default_ms)
        return default_open_call_limit(
            self._shown_rate(), self._rate_state.period_s, duration_ms, self.pause_default_ms
        )

    def _segment_share(self, count: int) -> int:
        """-segment's share of -l or -users (at least 1, so that the slice can run)."""
        segment = self._segment
        return count if segment is None else max(1, segment.scale(count))

    def _shown_rate(self) -> float:
        """The rate this process runs: the whole test's, or -segment's share of it."""
        segment = self._segment
        rate = self._rate_state.rate
        return rate if segment is None else segment.scale_rate(rate)

    def _clock_ms(self) -> int:
        """``[clock_tick]``: milliseconds since the traffic started."""
        return int((self.now() - self._start_s) * 1000)

    @property
    def local_address(self) -> Address:
        """The bound address of the main socket or listener (after ``open``)."""
        if self._main_transport is not None:
            return self._main_transport.local_address
        assert self._stream_local is not None
        return self._stream_local

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        """Bind the main socket or listener (before traffic, so bind errors come first)."""
        config = self._config
        streams = self._streams
        if self._commands is not None:
            await self._commands.open()
        if streams is not None:
            if self._accepts_calls:
                if config.transport.local_port is not None:
                    self._stream_local = await streams.listen(
                        self._bind_host, config.transport.local_port
                    )
                else:
                    self._stream_local = await first_free_listener(
                        streams, self._bind_host, FIRST_DEFAULT_PORT, LAST_DEFAULT_PORT
                    )
            else:
                # A client listens on nothing: requests from the peer come over the client's
                # own connections (docs/compatibility.md). Until the t1 connection is up the
                # local address is the one it will bind.
                self._stream_local = (self._bind_host, config.transport.local_port or 0)
            self._bind_scenario()
            return
        if is_per_ip_mode(config.transport.transport_mode):
            await self._open_per_ip()
        elif config.transport.local_port is not None:
            self._main_transport = await self._transports.open_datagram(
                self._bind_host, config.transport.local_port
            )
        else:
            self._main_transport = await _open_first_free(self._transports, self._bind_host)
        self._bind_scenario()

    async def _open_per_ip(self) -> None:
        """-t ui: one socket per local IP of the first -inf file; the first is the main one."""
        env = self.env
        if env.default_injection is None:
            raise ConfigError(
                "-t ui needs an injection file (-inf FILE) whose field -ip_field N holds the"
                " local IPs"
            )
        per_ip = await open_per_ip_sockets(
            self._transports,
            env.injection[env.default_injection],
            self._config.transport.ip_field,
            self._config.transport.local_port,
            same_port=self.scenario.is_server,
            first_port=FIRST_DEFAULT_PORT,
            last_port=LAST_DEFAULT_PORT,
        )
        self._per_ip = per_ip
        self._main_transport = per_ip.transports[0]
        self._ip_flows = {transport: {} for transport in per_ip.transports}

    def _bind_scenario(self) -> None:
        """Fold the run-static keywords into the templates once the SIP port is known."""
        self.env.local_port = self.local_address[1]
        if self._streams is not None:
            self.env.transport = self._streams.transport_name
        else:
            assert self._main_transport is not None
            self.env.transport = self._main_transport.transport_name
        self.rebind_scenario(self.scenario.bind(self.env))
        for host in (self._ooc, self._rx):
            if host is not None:
                host.env.local_port = self.env.local_port
                host.env.transport = self.env.transport
                host.rebind_scenario(host.scenario.bind(host.env))

    def close_sockets(self) -> None:
        """Close the datagram sockets ``open`` bound (again is harmless). ``run`` calls it at
        its end; ``session.open_run`` calls it too, for a run cancelled before that end (the
        ``-peer`` run, an interrupt), which would otherwise leak them."""
        if self._per_ip is not None:
            self._per_ip.close()
        elif self._main_transport is not None:
            self._main_transport.close()

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> EngineResult:
        """Run the scenario until it ends; returns the result with the final snapshot."""
        if self._main_transport is None and self._stream_local is None:
            await self.open()
        config = self._config
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self.timers.run)
            if self.media is not None:
                nursery.start_soon(self.media.serve)
            if self._per_ip is not None:
                for transport in self._per_ip.transports:
                    nursery.start_soon(self._receive_loop, transport)
            elif self._main_transport is not None:
                nursery.start_soon(self._receive_loop, self._main_transport)
            nursery.start_soon(self._housekeeping_loop)
            streams = self._streams
            if streams is not None:
                streams.start(nursery)
                client_t1 = not self._accepts_calls and not self._per_call_sockets
                if client_t1 and not await self._connect_main_link():
                    nursery.cancel_scope.cancel()
            if self._commands is not None:
                self._commands.start(nursery)
            task_status.started()
            if config.timers.sleep_s > 0:
                await trio.sleep(config.timers.sleep_s)
            self._start_s = trio.current_time()
            self._rate_state.changed_at_s = self._start_s
            self._pacing_ran_at_s = self._start_s
            if config.timers.timeout_s > 0:
                nursery.start_soon(self._global_timeout, config.timers.timeout_s)
            if config.process.watchdog_interval_s > 0:
                self._watchdog = Watchdog(
                    config.process,
                    stats=self.stats,
                    warning=self.warning,
                    fatal=self.fatal_action_error,
                    now_s=self._start_s,
                )
                nursery.start_soon(self._watchdog.run)
            if self._on_dump is not None:
                await self._dump()
                nursery.start_soon(self._dump_loop)
            if not self.scenario.is_server:
                if config.load.users is not None:
                    self.set_users(self._segment_share(config.load.users))
                nursery.start_soon(self._pacing_loop)
            elif config.load.max_calls == 0:
                self.soft_quit("call limit reached")
            await self._done.wait()
            self._abort_out_of_call_calls()
            self._release_idle_workers()
            if self._commands is not None:
                await self._commands.aclose()
            if streams is not None:
                await streams.close()
            nursery.cancel_scope.cancel()
        # Calls cancelled with their tasks were counted as they exited. A call detached in its
        # timewait has no task to exit, and one started outside its task (start_outside) had
        # its task cancelled in another call's wait: the interrupted ones are counted here.
        for call in list(self._calls.values()):
            if call.detached or call.adopted:
                call.engine.call_finished(call)
        self.close_sockets()
        if self._on_dump is not None:
            await self._dump()
        self._final_snapshot = self.snapshot()
        return EngineResult(
            exit_status=self.exit_status(),
            snapshot=self._final_snapshot,
            timed_out=self._timed_out,
            fatal_message=self._fatal_message,
            quit_reason=self._quit_reason,
        )

    def exit_status(self) -> ExitStatus:
        """SIPp's exit code for the run so far (docs/sipp-behaviour.md, exit codes)."""
        if self._fatal_message is not None:
            return ExitStatus.FATAL
        if self._stopped_now:
            return ExitStatus.INTERNAL_COMMAND
        if self.stats.media.rtpcheck_failed:
            # SIPp 3.7: a failed RTP pattern check is the exit status, over failed calls.
            return ExitStatus.RTPCHECK_FAILED
        rx = self._rx
        if self.stats.failed_calls > 0 or (rx is not None and rx.stats.failed_calls > 0):
            # Mixed mode: the rx scenario's calls are the test as much as the client's. The
            # out-of-call scenario's are not (SIPp's exit code reads the main scenario only).
            return ExitStatus.CALLS_FAILED
        if self._timed_out and self.stats.successful_calls == 0:
            return ExitStatus.INTERNAL_COMMAND
        return ExitStatus.SUCCESS

    # ------------------------------------------------------------------ readers

    def statistics(self) -> EngineStatistics:
        """A frozen record of the run's state and counters; changes nothing."""
        main = self._main_transport
        config = self._config
        streams = self._streams
        return EngineStatistics(
            quit_state=self._quit_state,
            quit_reason=self._quit_reason,
            traffic_paused=self._traffic_paused,
            is_server=self.scenario.is_server,
            rate=self._shown_rate(),
            rate_period_s=self._rate_state.period_s,
            users=self._users_target if config.load.users is not None else None,
            call_limit=self._max_calls,
            open_call_limit=self._open_call_limit,
            open_calls=len(self._calls) - self._extra_calls,
            calls_started=self._call_counter,
            open_call_sockets=(
                streams.open_links if streams is not None else self._open_call_sockets
            ),
            malformed_messages=self._malformed_messages,
            local_address=main.local_address if main is not None else self._stream_local,
            remote_address=self._remote,
            transport_name=(
                streams.transport_name
                if streams is not None
                else main.transport_name
                if main is not None
                else self.env.transport
            ),
            timed_out=self._timed_out,
            fatal_message=self._fatal_message,
            # A finished run's counters are those of its end (readable outside Trio too).
            snapshot=self.snapshot() if self._final_snapshot is None else self._final_snapshot,
        )

    def hold_loop_between_ticks(self) -> bool:
        """Let a client's timer queue sleep between its ticks outside Trio's loop
        (``TimerQueue.hold_ticks``), where nothing else of the run waits on a descriptor of
        its own: a real run over the one UDP socket, no media, no 3PCC command link. The run
        must be alone in its Trio loop (``RunPlan.holds_loop``). Returns whether it holds."""
        mode = self._config.transport.transport_mode
        holds = (
            self._settle is None
            and not self.scenario.is_server
            and not is_stream_mode(mode)
            and not is_multi_socket_mode(mode)
            and not is_per_ip_mode(mode)
            and self.media is None
            and self._commands is None
        )
        self.timers.hold_ticks = holds
        return holds

    def open_stats_window(self, *, error_codes: bool = False) -> StatsWindow:
        """A periodic window of one's own (the -fd files, the screen, a poller): its periodic
        figures cover the time since its last restart, whatever other consumers do."""
        return self.stats.open_window(error_codes=error_codes)

    def snapshot(
        self, window: StatsWindow | None = None, *, restart: bool = False
    ) -> StatsSnapshot:
        """Freeze the counters now; periodic figures relative to ``window`` (or the start)."""
        return self.stats.snapshot(
            self._wall_clock.wall_time(), self.now(), window, restart=restart
        )

    def take_rtt_records(self) -> list[tuple[float, float, str, int]]:
        """The response-time samples buffered for ``-trace_rtt`` since the last call."""
        return self.stats.take_rtt_records()

    # ------------------------------------------------------------------ commands

    def soft_quit(self, reason: str = "quit requested") -> None:
        """Stop creating calls; the run ends when the running calls have ended."""
        if self._quit_state is QuitState.RUNNING:
            self._quit_state = QuitState.SOFT
            self._quit_reason = reason
            self._drop_held_calls()
            self._pacing.wake(True)
        elif self._quit_state is QuitState.SOFT and reason == "quit requested":
            # A second q / SIGUSR1 forces the exit, as in SIPp HEAD.
            self.force_quit(reason)
            return
        self._check_done()

    def force_quit(self, reason: str = "forced quit") -> None:
        """Abort every running call (client dialogs get CANCEL/BYE/ACK) and end the run."""
        if self._quit_state is QuitState.FORCED:
            return
        self._quit_state = QuitState.FORCED
        if not self._quit_reason:
            self._quit_reason = reason
        self._drop_held_calls()
        for call in list(self._calls.values()):
            call.abort_now()
        self._done.set()

    def interrupt(self) -> None:
        """SIGINT/SIGTERM: stop at once; the exit code is computed from what happened."""
        self._quit_state = QuitState.FORCED
        self._quit_reason = self._quit_reason or "interrupted"
        self._drop_held_calls()
        self._done.set()

    def stop_now(self) -> None:
        """``exec int_cmd="stop_now"``: exit immediately with code 97."""
        self._stopped_now = True
        self.interrupt()

    def set_rate(self, rate: float) -> None:
        """Change the call rate (calls per rate period) from now on (-segment: this process's
        share; the stripe keeps its place)."""
        segment = self._segment
        if segment is not None:
            rate = rate * segment.period / segment.width
        self._rate_state.change_rate(max(0.0, rate), trio.current_time())
        self.stats.target_rate = self._shown_rate()
        if not self._call_limit_set:
            self._open_call_limit = self._compute_open_call_limit()
        self._pacing.wake(True)

    def pause(self, paused: bool) -> None:
        """Pause or resume call creation (running calls continue)."""
        if self._traffic_paused and not paused:
            self._rate_state.change_rate(self._rate_state.rate, trio.current_time())
        self._traffic_paused = paused
        self._pacing.wake(True)

    def set_users(self, users: int) -> None:
        """-users mode: change the number of users (``set users``, keys + - * /)."""
        if self._config.load.users is None:
            return
        users = max(0, users)
        segment = self._segment
        while self._next_user_id <= users:
            # -segment: the slice's users are the whole test's user ids it owns, so that
            # USER injection rows and per-user variables do not collide across segments.
            user = self._next_user_id if segment is None else segment.nth(self._next_user_id)
            self._free_users.append(user)
            self._next_user_id += 1
        self._users_target = users
        self.stats.target_rate = float(users)
        self._open_call_limit = max(self._open_call_limit, users)
        self._pacing.wake(True)

    def set_call_limit(self, limit: int) -> None:
        """``set limit``: calls allowed open at once (-l) from now on (at least 1)."""
        self._open_call_limit = max(1, limit)
        self._call_limit_set = True
        self._pacing.wake(True)

    def reset_stats(self) -> None:
        """``reset stats``: restart the cumulative counters from now."""
        self.stats.reset_cumulative(self._wall_clock.wall_time(), trio.current_time())

    # ------------------------------------------------------------------ CallHost hooks

    def fatal_action_error(self, text: str) -> None:
        self._fatal_message = text
        self.stats.fatal_errors += 1
        self.interrupt()

    def run_shell_command(self, command: str) -> None:
        if self._shell_runner is not None:
            self._shell_runner(command)
        elif self._nursery is not None:
            self._nursery.start_soon(_run_shell, command)

    def call_ended(self, call: Call, reason: FailureReason | None, *, counted: bool) -> None:
        """Account for a call whose fate is decided."""
        now = self.now()
        key = call.call_id
        flow = call.flow
        if call.tdm_circuit >= 0 and self.env.tdm_map is not None:
            self.env.tdm_map.release(call.tdm_circuit)
            call.tdm_circuit = -1
        if type(flow) is StreamFlow:
            flow.link.calls.discard(call)
        media = call.media
        if media is not None:
            call.media = None
            media.close()
        if self._calls.pop(key, None) is not None:
            until = now + self._deadcall_wait_s
            self._dead_calls[key] = until
            self._dead_order.append((until, key))
            if call.engine is not self:
                self._extra_calls -= 1
                if call.engine is self._ooc:
                    self._ooc_calls -= 1
        # Each scenario counts its own calls (an out-of-call or rx call: its host's stats).
        stats = call.engine.stats
        if counted:
            stats.call_ended(now, now - call.start_s, reason)
        else:
            stats.current_calls -= 1
        tracer = self.tracer
        if tracer is not None:
            tracer.call_ended(
                key,
                reason is not None,
                reason.value if reason is not None else "",
                self.wall_time(),
            )
        if call.user_id:
            self._free_users.append(call.user_id)
        if self._pacing_waits_for_calls:
            # The pacing task replaces users / starts delayed calls (after settling, in sim).
            self._pacing.wake(True)
        self._check_done()

    def call_finished(self, call: Call) -> None:
        """The call's task is exiting (normally after call_ended; else it was cancelled)."""
        if call.call_id in self._calls and not call.ended:
            call.ended = True
            self.call_ended(call, FailureReason.CALL_REJECTED, counted=True)

    def _check_done(self) -> None:
        if (
            self._quit_state is not QuitState.RUNNING
            and len(self._calls) == self._ooc_calls
            and not self._pending_socket_calls
        ):
            self._done.set()

    def _abort_out_of_call_calls(self) -> None:
        """The run is over: out-of-call calls still open (in their timewait) are aborted, as
        SIPp does at exit ("Aborted call with Call-ID ...")."""
        ooc = self._ooc
        if ooc is None or not self._ooc_calls:
            return
        for call in list(self._calls.values()):
            if call.engine is ooc:
                self.warning(f"Aborted call with Call-ID '{call.call_id}'")
                call.abort_now()

    # ------------------------------------------------------------------ receiving

    async def _receive_loop(self, transport: DatagramTransport, *, shared: bool = True) -> None:
        """Receive on ``transport`` until it closes; ``shared``: the run's socket (or one of
        -t ui's), not a call's own (-t un), which gets no timerfd of its own."""
        dispatch = self._dispatch
        step_s = self._timer_resolution_s
        if step_s <= 0:
            # Simulation: exact virtual time, every datagram handled at its delivery instant;
            # by the delivery task itself where the endpoint offers it (no wake-up per datagram).
            if isinstance(transport, DirectDelivery):
                await transport.receive_each(functools.partial(dispatch, transport=transport))
                return
            while True:
                try:
                    batch = await transport.receive_batch()
                except (trio.ClosedResourceError, OSError):
                    return
                for data, source in batch:
                    dispatch(data, source, transport)
        # Real sockets: after a batch, take the next one a tick (-timer_resol) later, straight
        # from the socket. Under load the process then sleeps and wakes once per tick for
        # everything due, not once per datagram: each sleep and wake-up costs the kernel more
        # than handling a datagram. Latency grows by at most one tick; SIPp's -timer_resol
        # trades the same way. (Through Trio's epoll, whose timeout is whole milliseconds, a
        # sleep to the next point of a 1 ms grid also lasted a whole millisecond.)
        # A batch whose handling outlasted a tick (a server starting its new calls in it) is
        # followed at once by the next: the process is behind, and an idle wait after each
        # such batch left a busy server behind its peer, shedding calls.
        now = self.now
        # The loop waits on a timerfd (docs/performance.md, "A server's tick on a timerfd"):
        # cheaper than a cancel scope. A client's socket is read on the timer queue's grid
        # (whole ticks of the run's clock), by the queue's own task, which wakes there for the
        # pacing anyway: one task step and one wait per tick where the loop and the queue took
        # two each ("One task step per tick for a client" there). The loop waits for the
        # socket itself only once the queue found it empty. (Another socket of the run, -t
        # ui's, sleeps to the same grid points on its own timerfd: both expire at the same
        # instant, and one pass of Trio's loop handles them; "A client's tick on the timer
        # queue's grid".) A server's loop keeps its tick after each batch: its queue holds
        # only retransmission and pause timers.
        tick = TickSleep(now, descriptor=shared)
        timers = self.timers
        on_grid = not self.scenario.is_server
        half_step_s = 0.5 * step_s
        read_on_tick = functools.partial(self._read_on_tick, transport)
        # Where the queue holds Trio's loop between ticks, it also watches the socket in its
        # own epoll (TimerQueue.read_when_readable): this task then stays parked for the run,
        # and a sparse datagram costs a wake-up of the queue's, not a pass of Trio's loop.
        watch_fd = (
            transport.fileno()
            if timers.hold_ticks and shared and isinstance(transport, ReadableDescriptor)
            else -1
        )
        found_empty = False
        try:
            while True:
                ready = [] if found_empty else self._read_socket(transport)
                found_empty = False
                if ready is None:
                    return
                if not ready:
                    self._full_batches_since_s = math.inf  # caught up: the socket was empty
                    if self._held_calls:
                        # Calls held while behind start now, a batch's worth per tick; the
                        # socket is read again at the next tick, not waited for.
                        self._start_held_calls(_SHED_BATCH)
                        await tick.until(now() + step_s)
                        continue
                    if watch_fd >= 0 and await timers.read_when_readable(read_on_tick, watch_fd):
                        continue  # handed back: closed, or calls held (the read tells which)
                    try:
                        ready = await transport.receive_batch()
                    except (trio.ClosedResourceError, OSError):
                        return
                if self._handle_batch(ready, transport):
                    await trio.lowlevel.checkpoint()
                    continue
                handled_at_s = self._batch_handled_at_s
                if on_grid:
                    # The grid point nearest a tick on: a tick away on average, as below.
                    # Sparse datagrams are waited for instead, unless the queue wakes there
                    # anyway (the read is then free).
                    next_read_s = handled_at_s + half_step_s
                    if not self._dense_datagrams(handled_at_s) and not (
                        timers.wakes_by(next_read_s)
                    ):
                        found_empty = True  # not read: receive_batch waits for it
                    elif await timers.read_on_ticks(read_on_tick, next_read_s, watch_fd):
                        # Empty, or closed: receive_batch says which. A watching queue hands
                        # back a closed socket or held calls only: the read tells which.
                        found_empty = watch_fd < 0
                    else:
                        await tick.until(timers.wake_time(next_read_s))
                else:
                    await tick.until(handled_at_s + step_s)
        finally:
            tick.close()

    def _read_on_tick(self, transport: DatagramTransport) -> float:
        """A client's socket read by its timer queue's task (``TimerQueue.read_on_ticks``):
        what the socket holds is handled, and the answer says when to read again."""
        batch = self._read_socket(transport)
        if not batch:
            # Closed, or held calls to start: for the receive loop. Empty: wait for it.
            return READ_NO_MORE if batch is None or self._held_calls else READ_WHEN_READABLE
        if self._handle_batch(batch, transport):
            return READ_AT_ONCE
        handled_at_s = self._batch_handled_at_s
        if not self._dense_datagrams(handled_at_s):
            # Sparse: waited for, not read on the ticks.
            return READ_NO_MORE if self._held_calls else READ_WHEN_READABLE
        return handled_at_s + 0.5 * self._timer_resolution_s

    def _read_socket(self, transport: DatagramTransport) -> list[Datagram] | None:
        """What a real socket holds now (empty: caught up with it), or None once it is
        closed."""
        try:
            batch = transport.receive_nowait()
        except (trio.ClosedResourceError, OSError):
            return None
        if not batch:
            self._full_batches_since_s = math.inf
            if transport is self._main_transport:
                self._main_read_empty_at_s = self.now()
        return batch

    def _handle_batch(self, batch: list[Datagram], transport: DatagramTransport) -> bool:
        """Dispatch a batch read from a real socket (its end in ``_batch_handled_at_s``);
        True when that took a tick or more: the process is behind, and reads again at once."""
        now = self.now
        read_at_s = now()
        self._dispatch_batch(batch, transport)
        handled_at_s = now()
        self._batch_handled_at_s = handled_at_s
        if len(batch) < _SHED_BATCH and transport is self._main_transport:
            self._main_read_empty_at_s = read_at_s  # a short batch: the socket was emptied
        return handled_at_s - read_at_s >= self._timer_resolution_s

    def _dense_datagrams(self, now_s: float) -> bool:
        """Whether the last full window of _DENSITY_WINDOW_TICKS had _DENSE_DATAGRAMS_PER_TICK
        or more datagrams per tick (counted by _dispatch_batch, whoever read them)."""
        step_s = self._timer_resolution_s
        elapsed_s = now_s - self._density_since_s
        if elapsed_s >= _DENSITY_WINDOW_TICKS * step_s:
            self._dense = self._density_datagrams * step_s >= _DENSE_DATAGRAMS_PER_TICK * elapsed_s
            self._density_since_s = now_s
            self._density_datagrams = 0
        return self._dense

    def _dispatch_batch(self, batch: list[Datagram], transport: DatagramTransport) -> None:
        """Dispatch a batch from a real socket; once batches have been full for _SHED_AFTER_S
        the server is behind: the requests of new calls in them are dropped and counted."""
        self._density_datagrams += len(batch)
        if len(batch) >= _SHED_BATCH:
            now = self.now()
            if self._full_batches_since_s > now:
                self._full_batches_since_s = now
            if not self._accepts_calls:
                self._shedding = False  # a client: nothing to shed, no gauge to read
            else:
                backlog = (
                    transport.receive_backlog() if isinstance(transport, ReceiveBacklog) else -1.0
                )
                self._backlog_share = backlog
                if backlog >= 0.0:
                    self._shedding = backlog >= _SHED_BACKLOG_SHARE
                else:
                    self._shedding = now - self._full_batches_since_s >= _SHED_AFTER_S
        else:
            self._full_batches_since_s = math.inf
        for data, source in batch:
            # Called on self, not through a local alias: a native call, where a bound method
            # is a generic call through its argument-parsing wrapper in the compiled build.
            self._dispatch(data, source, transport)
        self._shedding = False
        if self._held_calls and len(batch) < _SHED_BATCH:
            # Caught up with the socket: held calls fill the rest of a batch's room.
            self._start_held_calls(_SHED_BATCH - len(batch))

    def _count_malformed(self) -> None:
        self._malformed_messages += 1
        self.stats.malformed_msgs += 1

    def _dispatch_stream(self, data: bytes, flow: StreamFlow) -> None:
        self._dispatch(data, flow.remote_address, None, flow)

    def _dispatch(
        self,
        data: bytes,
        source: Address,
        transport: DatagramTransport | None,
        stream_flow: StreamFlow | None = None,
    ) -> None:
        """Route one message to its call; count everything that is not delivered.

        A datagram comes with its socket (its flow is made only when needed), a stream
        message with the flow of its connection.
        """
        try:
            message = parse_message(data)
        except SipParseError as exc:
            self._count_malformed()
            self.warning(f"Discarding malformed message from {source[0]}:{source[1]}: {exc.reason}")
            return
        call_id = message.call_id
        if not call_id:
            self._count_malformed()
            self.warning("SIP message without Call-ID discarded")
            return
        if not self._callid_slash_ign:
            cut = call_id.find("///")
            if cut >= 0:
                call_id = call_id[cut + 3 :]
        call = self._calls.get(call_id)
        if call is not None:
            if (
                stream_flow is not None
                and call.flow is not stream_flow
                and not stream_flow.link.closing
            ):
                # The call's messages now come over another connection (the peer reconnected):
                # answer on that one (RFC 3261 18.2.2), not on the old, broken one. (Not back
                # to a connection being closed: the one a <setdest> left, or a <closecon>.)
                old = call.flow
                if type(old) is StreamFlow:
                    old.link.calls.discard(call)
                stream_flow.link.calls.add(call)
                call.flow = stream_flow
            call.deliver(message)
            return
        flow: Flow | None = stream_flow
        if flow is None:
            assert transport is not None
            flow = self._flow(transport, source)
        if call_id in self._dead_calls:
            self.dead_call_message(data, flow)
            return
        if self._accepts_calls:
            if (
                self._held_max
                and message.is_request
                and (self._shedding or self._held_calls)
                and self._quit_state is QuitState.RUNNING
                and self._hold_call(call_id, message, flow)
            ):
                return
            if (
                self._shedding
                and message.is_request
                and message.method != "ACK"
                and not self._admit_shed_again(call_id)
            ):
                # Behind (a full receive batch): the calls already running come first; the
                # peer retransmits this request, and the retransmission starts the call.
                self.stats.calls_skipped_overload += 1
                return
            if self._quit_state is QuitState.RUNNING:
                self._start_incoming_call(call_id, flow).deliver(message)
                return
        elif self._rx is not None:
            # Mixed mode: every unknown Call-ID starts a call of the rx scenario, even while
            # the client side quits softly (SIPp 3.7), until the run is over.
            if not self._done.is_set() and self._quit_state is not QuitState.FORCED:
                self._start_extra_call(self._rx, call_id, flow, automatic=False).deliver(message)
                return
        elif self._ooc is not None:
            if message.is_request:
                # SIPp: a request starts a call of the out-of-call scenario, counted as an
                # incoming call of that scenario and as AutoAnswered; a response stays an
                # out-of-call message (below), without a warning.
                if not self._done.is_set() and self._quit_state is not QuitState.FORCED:
                    self.warning(
                        f"Received out-of-call {message.method} message, using the out-of-call"
                        " scenario"
                    )
                    self.stats.auto_answered += 1
                    call = self._start_extra_call(self._ooc, call_id, flow, automatic=True)
                    call.deliver(message)
                    return
            else:
                self.stats.out_of_call_msgs += 1
                if self.tracer is not None:
                    self.tracer.out_of_call(data, flow, self.wall_time())
                return
        elif message.is_request and self.auto_answer and message.method in AUTO_ANSWERED_METHODS:
            # -aa out of a call: the default 200 OK, rendered as in a call.
            if answer_out_of_call(self, flow, message, self._global_variables.for_call(0)):
                self.stats.auto_answered += 1
            return
        self.stats.out_of_call_msgs += 1
        self.warning(
            "Discarding message which can't be mapped to a known SIPp call:\n" + message.text
        )
        if self.tracer is not None:
            self.tracer.out_of_call(data, flow, self.wall_time())

    def _hold_call(self, call_id: str, message: SipMessage, flow: Flow) -> bool:
        """-overload_queue: hold a new INVITE while behind (or behind others held), answered
        100 Trying; True when the message is taken care of (held, or one held already).

        A retransmission of a held INVITE gets its 100 Trying again (it was lost); any other
        request of a held call is dropped and counted out of call. False, to shed, when the
        request is not an INVITE or the queue is full.
        """
        held = self._held_calls
        if call_id in held:
            if message.method == "INVITE":
                self._send_trying(call_id, message, flow)
            else:
                self.stats.out_of_call_msgs += 1
            return True
        if message.method != "INVITE" or len(held) >= self._held_max:
            return False
        held[call_id] = (message, flow)
        self.stats.calls_delayed_overload += 1
        self._send_trying(call_id, message, flow)
        return True

    def _send_trying(self, call_id: str, request: SipMessage, flow: Flow) -> None:
        """100 Trying for ``request``: its Via, From, To (no tag), Call-ID, CSeq and Timestamp
        lines (RFC 3261 8.2.6), no body."""
        data = trying_response(request)
        try:
            flow.send_nowait(data)
        except TransportError as exc:
            self.warning(f"Call-ID '{call_id}': 100 Trying not sent: {exc}")
            return
        if self.tracer is not None:
            self.tracer.message_sent(call_id, data, flow, self.wall_time())

    def _drop_held_calls(self) -> None:
        """The run stops taking calls: the INVITEs still held never start; they are counted
        as skipped (their clients' transactions time out)."""
        if self._held_calls:
            self.stats.calls_skipped_overload += len(self._held_calls)
            self._held_calls.clear()

    def _start_held_calls(self, limit: int) -> None:
        """Start up to ``limit`` held calls, oldest first (-overload_queue)."""
        held = self._held_calls
        while held and limit > 0 and self._quit_state is QuitState.RUNNING:
            call_id, (message, flow) = held.popitem(last=False)
            self._start_incoming_call(call_id, flow).deliver(message)
            limit -= 1

    def _flow(self, transport: DatagramTransport, remote: Address) -> DatagramFlow:
        """The flow to ``remote`` over ``transport``, shared by every call that uses it.

        Flows are immutable, so calls between the same two addresses share one: no object per
        call for the garbage collector (a client has one peer; a server usually a few). The
        cache is per socket and dropped whole when it grows past _MAX_CACHED_FLOWS peers.
        """
        flows = self._flows
        if self._ip_flows:
            # -t ui: every local IP's socket talks to the same peers.
            flows = self._ip_flows.get(transport, flows)
        flow = flows.get(remote)
        if flow is None or flow.transport is not transport:
            if len(flows) >= _MAX_CACHED_FLOWS:
                flows.clear()
            flow = flows[remote] = DatagramFlow(transport, remote)
        return flow

    def dead_call_message(self, data: bytes, flow: Flow) -> None:
        """Count (and trace) a message for a call that has ended (SIPp's dead-call window)."""
        self.stats.dead_call_msgs += 1
        if self.tracer is not None:
            self.tracer.out_of_call(data, flow, self.wall_time())

    # ------------------------------------------------------------------ 3PCC commands

    def send_command(self, call: Call, text: str, dest: str | None) -> bool:
        commands = self._commands
        if commands is None or self._twin_lost:
            return False
        data = text.encode("latin-1") + COMMAND_END
        if not commands.send(data, dest):
            return False
        if self.tracer is not None:
            self.tracer.command_sent(call.call_id, data, self.wall_time())
        return True

    def send_abort_command(self, call: Call, text: str) -> None:
        commands = self._commands
        if commands is None or self._twin_lost:
            return
        data = text.encode("latin-1") + COMMAND_END
        commands.broadcast(data)
        if self.tracer is not None:
            self.tracer.command_sent(call.call_id, data, self.wall_time())

    def commands_connected(self) -> bool:
        commands = self._commands
        return commands is not None and not self._twin_lost and commands.connected

    def _command_received(self, data: bytes) -> None:
        """Route one command by its Call-ID (docs/sipp-behaviour.md, "3PCC"): to its call;
        controller B creates a call for an unknown one; otherwise it is counted."""
        text = data.decode("latin-1")
        call_id = command_call_id(text)
        if self.tracer is not None:
            self.tracer.command_received(call_id or "", data, len(data) + 1, self.wall_time())
        if call_id is None:
            self._malformed_messages += 1
            self.warning("3PCC command without Call-ID discarded:\n" + text)
            return
        call = self._calls.get(call_id)
        if call is not None:
            call.deliver_command(text)
            return
        if is_abort_command(text):
            return  # the call has already ended here: nothing left to abort
        if call_id in self._dead_calls:
            self.stats.dead_call_msgs += 1
            return
        if self._twin_b and self._quit_state is QuitState.RUNNING:
            self._new_call(
                call_id=call_id, flow=self._twin_call_flow(), incoming=False, user_id=0
            ).deliver_command(text)
            return
        self.stats.out_of_call_msgs += 1
        self.warning("Discarding 3PCC command which can't be mapped to a known call:\n" + text)

    def _twin_call_flow(self) -> Flow:
        """Where a call controller B creates sends: the remote host, like a client's call."""
        remote = self._remote
        assert remote is not None
        if self._streams is not None:
            link = self._main_link
            assert link is not None
            return link.flow
        assert self._main_transport is not None
        return self._flow(self._main_transport, remote)

    def _command_link_lost(self, reason: str) -> None:
        """The twin (or a peer) is gone: no command can flow any more. Calls waiting for one
        fail (FailedTcpClosed, dialog aborted); the run ends once the others have ended."""
        if self._twin_lost:
            return
        self._twin_lost = True
        role = self.scenario.twin_role
        if role is TwinRole.CONTROLLER_B:
            self.warning(f"3PCC controller A has ended -> exiting ({reason})")
        else:
            self.warning(f"3PCC twin has ended -> exiting ({reason})")
        for call in list(self._calls.values()):
            if not call.ended and call.waiting_for_command():
                call.fail_outside(FailureReason.TCP_CLOSED, abort=True)
        self.soft_quit("3PCC twin ended")

    # ------------------------------------------------------------------ creating calls

    def _new_call(self, *, call_id: str, flow: Flow, incoming: bool, user_id: int) -> Call:
        self._call_counter += 1
        call = self._make_call(
            number=self._call_number(self._call_counter, incoming),
            call_id=call_id,
            flow=flow,
            incoming=incoming,
            user_id=user_id,
        )
        self.stats.call_created(self.now(), incoming=incoming)
        assert self._nursery is not None
        self._launch(call)
        self._check_call_limit()
        return call

    def _launch(self, call: Call) -> None:
        """Run the call in an idle worker task, or in a new one.

        Spawning a Trio task costs ~10 us; handing the call to a parked worker is a wake-up.
        Each call still runs in exactly one task; workers are bounded by the peak of
        concurrent calls.
        """
        idle = self._idle_workers
        if idle:
            parked = idle.pop()
            if self._may_start_outside(call) and call.start_outside(parked):
                return
            parked.wake(call)
        else:
            assert self._nursery is not None
            self._nursery.start_soon(self._worker, call)

    def _may_start_outside(self, call: Call) -> bool:
        """Whether a new call may run to its first wait in the launching task
        (``Call.start_outside``): in real-time runs, for calls that need nothing of a task
        before then.

        Not in the simulation (its outputs are pinned byte for byte, and with them the order
        of its tasks), not for calls that open media or fail as they are made, not with
        3PCC, and not with ``-t ui`` (the call's socket is chosen after launching)."""
        return (
            not self.timers.exact
            and call.engine is self
            and call.pending_failure is None
            and self.media is None
            and not self.twin_mode
            and self._per_ip is None
        )

    def keep_task_for_next_call(self, call: Call) -> bool:
        """A call ended outside its task (still parked): keep that task for the next call?

        Handing the parked task the next call is one wake-up where ending it and waking an
        idle worker would be two. Only for worker tasks, and not once the run is quitting.
        """
        if not call.in_worker or self._quit_state is not QuitState.RUNNING:
            return False
        self._idle_workers.append(call)
        return True

    def _release_idle_workers(self) -> None:
        """The run is over: let every idle worker return (cheaper than cancelling them)."""
        idle = self._idle_workers
        while idle:
            idle.pop().wake(None)

    async def _worker(self, call: Call | None) -> None:
        parker = Parker(self.timers)
        idle = self._idle_workers
        while call is not None:
            call.in_worker = True
            handed = await call.run()
            if handed is not None:
                call = handed
                handed = None
                continue
            if self._quit_state is not QuitState.RUNNING:
                # No call is launched after a quit: end now. A normal return is much cheaper
                # than being cancelled at the end of the run (a server run can hold one idle
                # worker per call of the last -deadcall/timewait window: 12,000 at 3,000 cps).
                return
            idle.append(parker)
            # Drop the finished call while idle: it would keep its last message alive. (Rebound
            # rather than ``del``: mypyc cannot delete a local; ``woken`` is cleared for the
            # same reason, or it would hold the previous call through the next park.)
            call = None
            woken = await parker.park(math.inf)
            if woken is None:
                return
            assert isinstance(woken, Call)
            call = woken
            woken = None

    def _call_number(self, count: int, incoming: bool) -> int:
        """The number of this process's ``count``-th call: -segment's calls carry the whole
        test's numbers (gossipper.segment), so Call-IDs, rows and draws match it."""
        segment = self._segment
        return count if segment is None or incoming else segment.nth(count)

    def _check_call_limit(self) -> None:
        max_calls = self._max_calls
        if max_calls is not None and self._call_counter >= max_calls:
            self.soft_quit("call limit reached")

    def _make_call(
        self,
        *,
        number: int,
        call_id: str,
        flow: Flow,
        incoming: bool,
        user_id: int,
        host: ScenarioHost | None = None,
    ) -> Call:
        call = Call(
            self if host is None else host,
            call_number=number,
            call_id=call_id,
            flow=flow,
            incoming=incoming,
            user_id=user_id,
            variables=(self._global_variables if host is None else host.global_variables).for_call(
                user_id
            ),
        )
        self._calls[call_id] = call
        if type(flow) is StreamFlow:
            flow.link.calls.add(call)
        if self.tracer is not None:
            self.tracer.call_started(call_id, number)
        if self.env.tdm_map is not None:
            self._take_tdm_circuit(call)
        return call

    def _take_tdm_circuit(self, call: Call) -> None:
        """-tdmmap: the call's circuit, searched from a random one as SIPp does (from the
        call's seeded generator); none free: the call fails at once (SIPp: "all tdm_map
        circuits busy", FailedOutboundCongestion)."""
        tdm_map = self.env.tdm_map
        assert tdm_map is not None
        start = random.Random(f"{self.seed}:tdmmap:{call.call_number}").randrange(tdm_map.size)
        call.tdm_circuit = tdm_map.take(start)
        if call.tdm_circuit < 0:
            self.warning(f"Can't create call {call.call_id}: all tdm_map circuits busy")
            call.pending_failure = FailureReason.OUTBOUND_CONGESTION

    def _start_incoming_call(self, call_id: str, flow: Flow) -> Call:
        return self._new_call(call_id=call_id, flow=flow, incoming=True, user_id=0)

    def _start_extra_call(
        self, host: ScenarioHost, call_id: str, flow: Flow, *, automatic: bool
    ) -> Call:
        """A call of the out-of-call or rx scenario, started by a message from the peer.

        An out-of-call call is SIPp's "automatic" call: call number 0, so it takes no
        injection row and leaves the call numbers alone. An rx call numbers its own calls
        (the client's numbers are -m's) and reads the -rxinf rows.
        """
        number = 0
        if not automatic:
            self._rx_counter += 1
            number = self._rx_counter
        call = self._make_call(
            number=number, call_id=call_id, flow=flow, incoming=True, user_id=0, host=host
        )
        self._extra_calls += 1
        if automatic:
            self._ooc_calls += 1
        host.stats.call_created(self.now(), incoming=True)
        self._launch(call)
        return call

    def format_call_id(self, number: int) -> str:
        """``-cid_type`` / ``-cid_str`` (``engine.call_ids``)."""
        affixes = self._call_id_affixes
        if affixes is not None:
            return f"{affixes[0]}{number}{affixes[1]}"
        return self._call_ids.format(number)

    def _start_outgoing_call(self, user_id: int = 0) -> None:
        remote = self._remote
        assert remote is not None
        count = self._call_counter + 1
        number = self._call_number(count, False)
        if self._streams is not None:
            self._start_outgoing_stream_call(count, number, user_id, remote)
            return
        assert self._main_transport is not None
        if self._per_call_sockets and self._open_call_sockets < self._config.transport.max_socket:
            # -t un: each call sends from its own socket (SIPp docs, -t); the call number
            # and Call-ID are fixed now, the socket is opened by the call's own task.
            self._call_counter = count
            self._open_call_sockets += 1
            assert self._nursery is not None
            self._nursery.start_soon(self._run_call_with_own_socket, number, user_id)
            self.stats.call_created(trio.current_time(), incoming=False)
            self._pending_socket_calls += 1
            self._check_call_limit()
            return
        call = self._new_call(
            call_id=self.format_call_id(number),
            flow=self._flow(self._main_transport, remote),
            incoming=False,
            user_id=user_id,
        )
        per_ip = self._per_ip
        if per_ip is not None:
            # -t ui: send from the socket of the call's injection row, chosen as the call was
            # made. Launching only scheduled the call, so it has sent nothing yet. A row
            # without a bound IP (added at run time) keeps the first IP's socket.
            transport = per_ip.for_line(call.injection_line)
            if transport is not None and transport is not self._main_transport:
                call.use_flow(self._flow(transport, remote))

    async def _run_call_with_own_socket(self, number: int, user_id: int) -> None:
        remote = self._remote
        assert remote is not None and self._nursery is not None
        try:
            transport = await self._transports.open_datagram(self._bind_host, 0)
        except Exception:
            self._open_call_sockets -= 1
            self._pending_socket_calls -= 1
            self.warning(f"call {number}: cannot open its own socket")
            self.stats.call_ended(trio.current_time(), 0.0, FailureReason.CANNOT_SEND_MESSAGE)
            self._check_done()
            raise
        self._pending_socket_calls -= 1
        try:
            async with trio.open_nursery() as own:
                own.start_soon(functools.partial(self._receive_loop, transport, shared=False))
                call = self._make_call(
                    number=number,
                    call_id=self.format_call_id(number),
                    flow=DatagramFlow(transport, remote),
                    incoming=False,
                    user_id=user_id,
                )
                await call.run()
                own.cancel_scope.cancel()
        finally:
            transport.close()
            self._open_call_sockets -= 1

    # ------------------------------------------------------------------ stream connections

    def _start_outgoing_stream_call(
        self, count: int, number: int, user_id: int, remote: Address
    ) -> None:
        streams = self._streams
        assert streams is not None and self._nursery is not None
        if not self._per_call_sockets:
            link = self._main_link
            assert link is not None
            self._new_call(
                call_id=self.format_call_id(number),
                flow=link.flow,
                incoming=False,
                user_id=user_id,
            )
            return
        self._call_counter = count
        self.stats.call_created(trio.current_time(), incoming=False)
        self._pending_socket_calls += 1
        if self._open_call_sockets >= self._config.transport.max_socket:
            # -max_socket reached: the call shares an open connection (round robin).
            shared = list(streams.links)
            if shared:
                self._next_shared_link = (self._next_shared_link + 1) % len(shared)
                link = shared[self._next_shared_link]
                self._nursery.start_soon(self._run_call_on_link, number, user_id, link)
                self._check_call_limit()
                return
        self._open_call_sockets += 1
        self._nursery.start_soon(self._run_call_with_own_connection, number, user_id, remote)
        self._check_call_limit()

    async def _run_call_with_own_connection(
        self, number: int, user_id: int, remote: Address
    ) -> None:
        """-t tn/ln/wn/wsn: connect (and handshake), run the call, close the connection."""
        streams = self._streams
        assert streams is not None
        try:
            try:
                link = await streams.connect(
                    remote, local_host=self._client_bind_host(), local_port=0
                )
            except (TransportError, BindError) as exc:
                self._pending_socket_calls -= 1
                self.warning(f"call {number}: {exc}")
                self.stats.call_ended(trio.current_time(), 0.0, FailureReason.TCP_CONNECT)
                self._check_done()
                return
            await self._run_call_on_link(number, user_id, link)
        finally:
            self._open_call_sockets -= 1

    async def _run_call_on_link(self, number: int, user_id: int, link: Link) -> None:
        self._pending_socket_calls -= 1
        link.users += 1
        call = self._make_call(
            number=number,
            call_id=self.format_call_id(number),
            flow=link.flow,
            incoming=False,
            user_id=user_id,
        )
        try:
            if link.broken is not None:
                call.fail_outside(FailureReason.TCP_CLOSED)
            await call.run()
        finally:
            link.users -= 1
            if link.users == 0:
                link.close_when_drained()
            moved = call.flow
            if type(moved) is StreamFlow and moved.link is not link:
                # The connection <setdest> opened for the call ends with it.
                moved.link.close_when_drained()

    # ------------------------------------------------------------------ setdest / closecon

    def set_destination(self, call: Call, host: str, port: int, protocol: str) -> str | None:
        """``<setdest>`` (sipp-reference 2.5): the call's later messages go to host:port.

        The protocol must be the call's own; a UDP call keeps its socket and sends elsewhere;
        a TCP call needs a connection of its own (``-t tn``), which is closed and replaced by
        one to the new address (messages sent meanwhile wait for it); TLS is refused, as SIPp
        does. Names are not resolved: the host must be a numeric address.
        """
        flow = call.flow
        if type(flow) is ClosedFlow:
            flow = flow.previous
        current = flow.transport_name.lower()
        if protocol != current:
            return (
                f"setdest: cannot switch the call from {flow.transport_name} to "
                f"{protocol.upper()} (protocol= must name the run's transport)"
            )
        address = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return f"setdest: host={host!r} is not a numeric IP address (names are not resolved)"
        if not 0 < port < 65536:
            return f"setdest: port={port} is out of range (1-65535)"
        remote: Address = (address, port)
        if type(flow) is DatagramFlow:
            call.use_flow(DatagramFlow(flow.transport, remote))
            return None
        streams = self._streams
        if protocol != "tcp" or type(flow) is not StreamFlow or streams is None:
            return f"setdest: not supported over {flow.transport_name} (SIPp refuses it too)"
        old = flow.link
        if not self._per_call_sockets or old is self._main_link or old.users > 1:
            return (
                "setdest: a TCP call can change its destination only on a connection of its "
                "own (use -t tn, with -max_socket above the number of open calls)"
            )
        old.calls.discard(call)
        old.close_when_drained()
        link = Link(remote, streams.transport_name, outgoing=True)
        link.calls.add(call)
        call.flow = link.flow
        assert self._nursery is not None
        self._nursery.start_soon(self._connect_for_call, call, link, remote)
        return None

    async def _connect_for_call(self, call: Call, link: Link, remote: Address) -> None:
        """Open the connection ``<setdest>`` asked for; the call fails (FailedTcpConnect) when
        it cannot be made, as a SIPp call whose reconnection fails."""
        streams = self._streams
        assert streams is not None
        try:
            await streams.connect(
                remote, local_host=self._client_bind_host(), local_port=0, link=link
            )
        except (TransportError, BindError) as exc:
            link.mark_broken(str(exc))
            link.calls.discard(call)
            self.warning(f"Call-ID '{call.call_id}': setdest: {exc}")
            call.fail_outside(FailureReason.TCP_CONNECT)
        # A call that ended (or moved on) before the connection was up has already asked the
        # link to close: its writer ends the connection once the queue is sent.

    def close_connection(self, call: Call) -> None:
        """``<closecon/>`` (sipp-reference 2.5): the call lets go of its socket. A connection
        or socket of the call's own (``-t tn``/``un``) is closed once what it queued is sent;
        a shared one (``u1``, ``t1``, a server's accepted connection) stays open for the other
        calls, as SIPp's reference-counted sockets do. Later sends of the call fail."""
        flow = call.flow
        if type(flow) is ClosedFlow:
            return
        if type(flow) is StreamFlow:
            link = flow.link
            link.calls.discard(call)
            if link.outgoing and link is not self._main_link and link.users <= 1:
                link.close_when_drained()
        elif type(flow) is DatagramFlow and self._per_call_sockets:
            transport = flow.transport
            if transport is not self._main_transport:
                transport.close()
        call.flow = ClosedFlow(flow)

    def _client_bind_host(self) -> str | None:
        # SIPp binds the client connection to -i when given (tools expect that source IP).
        return self._config.transport.local_ip

    async def _connect_main_link(self) -> bool:
        """-t t1/l1/w1 client: the run's one connection, before any call (SIPp: fatal when it
        cannot be made, unless -max_reconnect allows retries). False when the run must end.

        -max_reconnect is one budget for the whole run: every retry, at start-up or after the
        connection broke, uses one attempt.
        """
        streams = self._streams
        remote = self._remote
        assert streams is not None and remote is not None
        transport = self._config.transport
        while True:
            try:
                link = await streams.connect(
                    remote,
                    local_host=self._client_bind_host(),
                    local_port=transport.local_port or 0,
                    link=self._main_link,
                )
            except (TransportError, BindError) as exc:
                if not await self._before_reconnect(str(exc)):
                    return False
                continue
            first = self._main_link is None
            self._main_link = link
            link.users = 1
            self._stream_local = link.local_address
            if first:
                self._bind_scenario()
            return True

    async def _before_reconnect(self, reason: str) -> bool:
        """Use one -max_reconnect attempt (sleeping -reconnect_sleep first); False, with the
        run ended as fatal, when none is left."""
        transport = self._config.transport
        if self._reconnects_done >= transport.max_reconnect:
            limit = transport.max_reconnect
            used = f"-max_reconnect {limit} used up" if limit else "-max_reconnect 0: no retry"
            self._fatal_message = f"{reason} ({used})"
            self.stats.fatal_errors += 1
            self.interrupt()
            return False
        self._reconnects_done += 1
        self.warning(f"{reason}; reconnecting in {transport.reconnect_sleep_s:g} s")
        await trio.sleep(transport.reconnect_sleep_s)
        return True

    def _link_lost(self, link: Link, reason: str) -> None:
        """A connection broke: fail the calls that used it; reconnect the shared one.

        A peer's graceful close of a connection none of whose calls it cuts short (a tn client
        closing after its call) is the normal end of a connection: no warning.
        """
        reconnect = link is self._main_link and self._quit_state is QuitState.RUNNING
        keep_calls = reconnect and not self._config.transport.reconnect_close
        cut: list[Call] = []
        if not keep_calls:
            for call in list(link.calls):
                assert isinstance(call, Call)
                if not call.ended and not call.in_timewait():
                    cut.append(call)
        if cut or reconnect or not link.closed_by_peer:
            self.warning(reason)
        for call in cut:
            call.fail_outside(FailureReason.TCP_CLOSED)
        if reconnect and self._nursery is not None:
            self._nursery.start_soon(self._reconnect_main_link, reason)

    async def _reconnect_main_link(self, reason: str) -> None:
        """SIPp's -max_reconnect/-reconnect_sleep for the shared client connection."""
        if await self._before_reconnect(reason) and await self._connect_main_link():
            self.log_action(f"reconnected to {self._remote}")
            # Calls held back while the connection was down are not made up in a burst: the
            # rate restarts from now, as after a pause.
            self._rate_state.change_rate(self._rate_state.rate, trio.current_time())
            self._pacing.wake(True)

    def _can_start_call(self) -> bool:
        if self._quit_state is not QuitState.RUNNING or self._traffic_paused:
            return False
        max_calls = self._max_calls
        if max_calls is not None and self._call_counter >= max_calls:
            return False
        main_link = self._main_link
        if main_link is not None and main_link.broken is not None:
            # t1 reconnecting: no call is started on a connection that is down.
            return False
        return (
            len(self._calls) - self._extra_calls + self._pending_socket_calls
            < self._open_call_limit
        )

    async def _pacing_loop(self) -> None:
        """Start calls so that the count started matches rate x elapsed (SIPp docs, -r/-rp).

        One task decides every call creation and every rate-ramp step, so ramps are exact: a
        step at time t restarts the count from t (not from when this task ran), and calls due
        at the very instant of a step belong to the old rate.
        In -users mode it replaces the users whose calls ended.

        In real runs the timer queue's task runs the pacing (``_pace``) when its deadline
        passes, and the task stays parked: it wakes only when something else wakes it (a call
        ended under -l, a rate change, pause and resume). A task step per tick less, and a
        pass of Trio's loop less: the queue woke this task, which ran in the next pass
        (docs/performance.md, "One task step per tick for a client").
        """
        config = self._config
        users_mode = config.load.users is not None
        ramp_s = 0.0
        if config.load.rate_increase and not users_mode:
            ramp_s = config.load.rate_interval_s or config.traces.dump_period_s
        self._pacing_ramp_s = ramp_s
        self._pacing_next_step_s = self._start_s + ramp_s if ramp_s > 0 else math.inf
        settle = self._settle
        if settle is None and not self.timers.exact:
            self._pacing.on_timer = self._pace
        try:
            while True:
                if settle is not None:
                    await settle("pacing")
                deadline = self._pace()
                if deadline is None:
                    return
                await self._pacing.park(deadline)
        finally:
            self._pacing.on_timer = None

    def _pace(self) -> float | None:
        """One pass of the pacing: the calls and ramp steps due now; the deadline of the next
        pass (infinite: until woken), or None once the run no longer starts calls."""
        if self._quit_state is not QuitState.RUNNING:
            return None
        state = self._rate_state
        now = self.now()
        ramp_s = self._pacing_ramp_s
        while self._pacing_next_step_s <= now and self._quit_state is QuitState.RUNNING:
            # Calls due up to the step (inclusive) belong to the old rate.
            step_s = self._pacing_next_step_s
            if not self._traffic_paused:
                self._start_due_calls(step_s)
            self._apply_ramp_step(step_s)
            self._pacing_next_step_s = step_s + ramp_s
        if self._quit_state is not QuitState.RUNNING:
            return None
        self._pacing_waits_for_calls = False
        deadline = self._pacing_next_step_s
        if self._config.load.users is not None:
            self._replace_user_calls()
            self._pacing_waits_for_calls = True
        elif not self._traffic_paused:
            due = self._start_due_calls(now)
            if self._quit_state is not QuitState.RUNNING:
                return None
            if self._pacing_held_back:
                # Held back by the overload guard: try again at the next tick.
                deadline = min(deadline, now + self._overload_tick_s)
            elif due > 0:
                # Open-call limit hit: the due calls start as soon as a call ends.
                self._pacing_waits_for_calls = True
            else:
                deadline = min(deadline, state.next_due_s())
        return deadline

    def _start_due_calls(self, now: float) -> int:
        """Start the calls due by ``now`` that the limits allow; returns how many are left.

        ``_pacing_held_back`` tells whether the overload guard (not ``-l`` or ``-m``) kept
        some of them for a later tick.
        """
        state = self._rate_state
        due = state.calls_due(now)
        self._pacing_held_back = False
        if due <= 0:
            return 0
        watchdog = self._watchdog
        if watchdog is not None and watchdog.overloaded(self.now()):
            # The event loop lags (gossipper.engine.watchdog): new calls are skipped and
            # counted, not started late in a burst, so the running calls get the CPU first.
            state.started_since_change += due
            # The schedule runs on past -m: only calls that would have existed are counted.
            max_calls = self._config.load.max_calls
            skipped = due if max_calls is None else min(due, max_calls - self._call_counter)
            self.stats.calls_skipped_overload += max(0, skipped)
            return 0
        allowed = due
        tick_s = self._overload_tick_s
        if tick_s > 0:
            # Running calls first: what they were sent is handled before any new call starts,
            # and after a stall the overdue calls come at most a tick's worth per tick.
            if not self._drain_receive():
                allowed = 0
            else:
                # What a loop running at its usual pace (passes up to _PACING_GAP_MAX_S apart)
                # starts now, plus one tick's worth of the overdue calls.
                gap_s = min(max(now - self._pacing_ran_at_s, 0.0), _PACING_GAP_MAX_S)
                allowed = min(due, state.calls_per_tick(gap_s) + state.calls_per_tick(tick_s))
            self._pacing_ran_at_s = now
        while allowed > 0 and self._can_start_call():
            self._start_outgoing_call()
            state.started_since_change += 1
            due -= 1
            allowed -= 1
        if due > 0 and allowed == 0 and self._quit_state is QuitState.RUNNING:
            self._pacing_held_back = True
            # The schedule runs on past -m: only calls that will exist are counted.
            max_calls = self._config.load.max_calls
            late = due if max_calls is None else min(due, max_calls - self._call_counter)
            self.stats.calls_delayed_overload += state.count_late(max(0, late))
        return due

    def _drain_receive(self) -> bool:
        """Handle the datagrams already waiting on the run's sockets, now (real runs).

        False when a socket held _DRAIN_DATAGRAMS_MAX or more: the process is behind its
        peer (what is left waits for the receive loop). Calls with sockets of their own
        (``-t un``) and stream transports are left to their receive loops.
        """
        main = self._main_transport
        if main is None:
            return True
        per_ip = self._per_ip
        if per_ip is None and (
            self.now() - self._main_read_empty_at_s < _DRAIN_AFTER_READ_S
            or self.timers.watched_socket_empty()
        ):
            # The timer queue's task emptied the socket just before it ran the pacing, or its
            # epoll, which watches the socket, found it empty as this wake-up began: a read
            # now would find nothing (a system call per tick, or per call at a low rate).
            return True
        transports = per_ip.transports if per_ip is not None else [main]
        behind = False
        for transport in transports:
            taken = 0
            while taken < _DRAIN_DATAGRAMS_MAX:
                batch = self._read_socket(transport)
                if not batch:
                    break
                taken += len(batch)
                self._handle_batch(batch, transport)
            if taken >= _DRAIN_DATAGRAMS_MAX:
                behind = True
        return not behind

    def _admit_shed_again(self, call_id: str) -> bool:
        """While shedding: whether this new-call request starts its call all the same, being
        the retransmission of one shed before; if not, it is remembered as shed.

        A client that does not slow down (SIPp's uac) sends the calls a server sheds again
        500 ms later, into the same overload: shed again and again, a call came back up to
        six times. A call is shed once, and its retransmission goes ahead of new calls; only
        with the receive buffer nearly full (where the socket tells) is it shed again.
        """
        shed = self._shed_call_ids
        if call_id in shed and self._backlog_share < _SHED_AGAIN_SHARE:
            del shed[call_id]
            return True
        shed[call_id] = None
        if len(shed) > _SHED_REMEMBERED_MAX:
            del shed[next(iter(shed))]
        return False

    def _apply_ramp_step(self, step_time: float) -> None:
        """-rate_increase: one step at ``step_time``; -rate_max ends the ramp (SIPp docs)."""
        config = self._config
        rate = self._rate_state.rate + config.load.rate_increase
        at_max = config.load.rate_max is not None and rate >= config.load.rate_max
        if at_max:
            assert config.load.rate_max is not None
            rate = config.load.rate_max
        self._rate_state.change_rate(rate, step_time)
        self.stats.target_rate = self._shown_rate()
        if not self._call_limit_set:
            self._open_call_limit = self._compute_open_call_limit()
        if at_max and not config.load.no_rate_quit:
            self.soft_quit("maximum rate reached")

    def _replace_user_calls(self) -> None:
        """-users: every free user starts a new call, lowest user id first (SIPp docs)."""
        self._free_users.sort(reverse=True)
        while (
            self._free_users
            and len(self._calls) - self._extra_calls < self._users_target
            and self._can_start_call()
        ):
            self._start_outgoing_call(self._free_users.pop())

    async def _global_timeout(self, timeout_s: float) -> None:
        await trio.sleep(timeout_s)
        if self._settle is not None:
            await self._settle("timeout")
        self._timed_out = True
        if self._config.timers.timeout_error:
            self._fatal_message = (
                f"{self.scenario.base_name} timed out after '{timeout_s:.3f}' seconds"
            )
        # SIPp HEAD: the global timeout forces the exit (3.6.1 only soft-quits).
        self.force_quit("global timeout")

    async def _dump(self) -> None:
        """One -fd dump, after the end of the instant in the simulation."""
        on_dump = self._on_dump
        assert on_dump is not None
        if self._settle is not None:
            await self._settle("dump")
        on_dump()

    async def _dump_loop(self) -> None:
        period_s = self._config.traces.dump_period_s
        next_dump = trio.current_time() + period_s
        while True:
            await trio.sleep_until(next_dump)
            next_dump += period_s
            await self._dump()

    async def _housekeeping_loop(self) -> None:
        """Forget dead Call-IDs once their -deadcall_wait window has passed."""
        dead = self._dead_calls
        order = self._dead_order
        while True:
            await trio.sleep(1.0)
            now = self.now()
            while order and order[0][0] <= now:
                until, key = order.popleft()
                # A Call-ID that ended again later has a newer entry: keep it.
                if dead.get(key) == until:
                    del dead[key]


async def _open_first_free(factory: TransportFactory, host: str) -> DatagramTransport:
    for port in range(FIRST_DEFAULT_PORT, LAST_DEFAULT_PORT + 1):
        try:
            return await factory.open_datagram(host, port)
        except BindError:
            continue
    return await factory.open_datagram(host, 0)


async def _run_shell(command: str) -> None:
    # SIPp runs exec commands through /bin/sh without waiting; failures are ignored.
    try:
        await trio.run_process(["/bin/sh", "-c", command], check=False)
    except OSError:
        pass
