"""The engine: sockets, dispatch by Call-ID, call creation, pacing and the quit logic.

One ``Engine`` runs one scenario (client or server) on the transports it is given. It owns a
nursery holding the receive loops, the pacing task and one task per call. Everything the outside
world does to a run (CLI keys and signals, the simulation driver, later the TUI and the HTTP API)
goes through the public methods here: ``run``, ``soft_quit``, ``force_quit``, ``set_rate``,
``pause_traffic`` and ``snapshot``.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import trio

from gossipper.config import RunConfig
from gossipper.engine.call import Call
from gossipper.engine.rate import RateState, default_open_call_limit
from gossipper.engine.screens import describe_elements
from gossipper.engine.timers import Parker, TimerQueue
from gossipper.errors import BindError, ExitStatus
from gossipper.interfaces import Address, DatagramTransport, TransportFactory, WallClock
from gossipper.scenario import RunEnv, Scenario
from gossipper.scenario.distributions import clamp_pause_ms
from gossipper.sip import SipMessage, SipParseError, max_retransmissions, parse_message
from gossipper.stats import FailureReason, RunStats, StatsSnapshot

FIRST_DEFAULT_PORT = 5060
LAST_DEFAULT_PORT = 5119
"""SIPp binds the first free port of 5060..5119 when -p is not given (reference 15.5)."""

_AUTO_ANSWERED_METHODS = frozenset({"INFO", "NOTIFY", "OPTIONS", "UPDATE"})


class QuitState(enum.Enum):
    RUNNING = "running"
    SOFT = "soft"
    """No new calls; exit once the running ones end."""
    FORCED = "forced"
    """Abort running calls and exit."""


class Tracer(Protocol):
    """Receives what the trace files need; implemented by the trace writers."""

    def message_sent(self, call_id: str, data: bytes, wall: float) -> None: ...
    def message_received(self, call_id: str, message: SipMessage, wall: float) -> None: ...
    def message_lost(self, call_id: str, data: bytes, wall: float) -> None: ...
    def warning(self, text: str, wall: float) -> None: ...
    def log(self, text: str, wall: float) -> None: ...
    def out_of_call(self, data: bytes, wall: float) -> None: ...
    def call_started(self, call_id: str, call_number: int) -> None: ...
    def call_ended(self, call_id: str, failed: bool, reason: str, wall: float) -> None: ...
    def unexpected_message(
        self, call_id: str, message: SipMessage, expected: str, wall: float
    ) -> None: ...
    def write_rtt_records(self, records: list[tuple[float, float, str, int]]) -> None: ...
    def write_periodic(
        self, snapshot: StatsSnapshot, *, screens_text: str | None = None
    ) -> None: ...
    def write_final(self, snapshot: StatsSnapshot, screens_text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class EngineResult:
    """How a run ended."""

    exit_status: ExitStatus
    snapshot: StatsSnapshot
    timed_out: bool
    fatal_message: str | None
    quit_reason: str


class Engine:
    """Runs one scenario: construct it, ``await engine.open()``, then ``await engine.run()``."""

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
        periodic_screens: bool = False,
    ) -> None:
        self.scenario = scenario
        self.config = config
        self.env = env
        # The run's clock, bound once: the same value as trio.current_time() with two Python
        # calls fewer (calls read the time several times per message).
        self.now: Callable[[], float] = trio.lowlevel.current_clock().current_time
        self.transports = transports
        self.wall_clock = wall_clock
        self.stats = RunStats(
            elements=describe_elements(scenario, config),
            rtd_names=scenario.rtd_names,
            counter_names=scenario.counter_names,
            response_time_repartition_ms=scenario.response_time_repartition_ms,
            call_length_repartition_ms=scenario.call_length_repartition_ms,
            start_wall=wall_clock.wall_time(),
            start_mono=trio.current_time(),
            target_rate=float(config.users) if config.users is not None else config.rate,
            keep_rtt_samples=config.trace_rtt,
        )
        self.global_variables = scenario.new_global_variables()
        self.needs_bookkeeping = _bookkeeping_flags(scenario)
        self._call_id_pieces = _compile_call_id(config.call_id_template, env)
        # The usual template has one %u: then a Call-ID is prefix + number + suffix.
        self._call_id_affixes: tuple[str, str] | None = None
        if self._call_id_pieces.count(None) == 1:
            cut = self._call_id_pieces.index(None)
            self._call_id_affixes = (
                "".join(p for p in self._call_id_pieces[:cut] if p is not None),
                "".join(p for p in self._call_id_pieces[cut + 1 :] if p is not None),
            )
        self.remote = remote
        self.bind_host = bind_host
        self.seed = seed
        self.tracer = tracer
        self._shell_runner = shell_runner
        # The simulation passes a hook that returns once nothing else can happen at the current
        # virtual instant; timer-driven decisions (pacing, ramps, timeout, dumps) await it so
        # their outcome never depends on Trio's scheduling order (design.md section 5).
        # Real runs pass None: no cost.
        self._settle = settle
        # -trace_screen without a terminal: a screen snapshot every -fd as well (issue 3).
        self.periodic_screens = periodic_screens
        if timer_resolution_s is None:
            timer_resolution_s = 0.0 if settle is not None else config.timer_resol_s

        # Hot-path copies of settings (attribute lookups on a frozen config are slower).
        self.retransmissions_enabled = not config.no_retrans
        self.rtcheck_loose = config.rtcheck_loose
        self.t2_s = config.t2_s
        self.lost_pct = config.lost_pct
        self.pause_msg_ign = config.pause_msg_ign
        self.auto_answer = config.auto_answer
        self.callid_slash_ign = config.callid_slash_ign
        self.default_behaviors = config.default_behaviors
        self.recv_timeout_ms = int(config.recv_timeout_s * 1000)
        self.send_timeout_s = config.send_timeout_s
        self.pause_default_ms = int(config.pause_default_s * 1000)
        self.fixed_pause_ms = _fixed_pauses(scenario, self.pause_default_ms)
        self._max_retrans_invite = max_retransmissions(
            is_invite=True,
            max_invite=config.max_invite_retrans,
            max_non_invite=config.max_non_invite_retrans,
            max_total=config.max_retrans,
        )
        self._max_retrans_non_invite = max_retransmissions(
            is_invite=False,
            max_invite=config.max_invite_retrans,
            max_non_invite=config.max_non_invite_retrans,
            max_total=config.max_retrans,
        )

        self.calls: dict[str, Call] = {}
        self.dead_calls: dict[str, float] = {}
        # (until, Call-ID) in the order calls ended: -deadcall_wait is the same for every call,
        # so expiry is a pop from the left instead of a scan of the whole window every second.
        self._dead_order: deque[tuple[float, str]] = deque()
        self.call_counter = 0
        self.malformed_messages = 0
        self.quit_state = QuitState.RUNNING
        self.quit_reason = ""
        self.timed_out = False
        self.fatal_message: str | None = None
        self.stopped_now = False
        self.traffic_paused = False
        self.main_transport: DatagramTransport | None = None
        self.start_s = 0.0
        self.rate_state = RateState(
            rate=config.rate, period_s=config.rate_period_s, changed_at_s=0.0
        )
        self.open_call_limit = self._compute_open_call_limit()
        self._done = trio.Event()
        # Sim runs pass timer_resolution_s=0 (exact virtual deadlines).
        self.timers = TimerQueue(timer_resolution_s)
        self.timer_resolution_s = timer_resolution_s
        self._pacing = Parker(self.timers)
        self._pacing_waits_for_calls = False
        # Parked tasks ready for a next call: idle workers, and calls that ended outside
        # their task (see keep_task_for_next_call).
        self._idle_workers: list[Parker] = []
        self._nursery: trio.Nursery | None = None
        self._free_users: list[int] = []
        self.users_target = config.users or 0
        self.per_call_sockets = config.transport_mode == "un" and not scenario.is_server
        self._open_call_sockets = 0
        self._pending_socket_calls = 0
        self._next_user_id = 1

    # ------------------------------------------------------------------ settings helpers

    def max_retransmissions(self, is_invite: bool) -> int:
        return self._max_retrans_invite if is_invite else self._max_retrans_non_invite

    def _compute_open_call_limit(self) -> int:
        if self.config.max_open_calls is not None:
            return self.config.max_open_calls
        if self.config.users is not None:
            return self.config.users
        duration_ms = self.scenario.duration_p99_ms(self.pause_default_ms)
        return default_open_call_limit(
            self.rate_state.rate, self.rate_state.period_s, duration_ms, self.pause_default_ms
        )

    @property
    def local_address(self) -> Address:
        assert self.main_transport is not None
        return self.main_transport.local_address

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        """Bind the main socket (before traffic, so bind errors come first)."""
        config = self.config
        if config.local_port is not None:
            self.main_transport = await self.transports.open_datagram(
                self.bind_host, config.local_port
            )
        else:
            self.main_transport = await _open_first_free(self.transports, self.bind_host)

        self._bind_scenario()

    def _bind_scenario(self) -> None:
        """Fold the run-static keywords into the templates once the SIP port is known."""
        assert self.main_transport is not None
        self.env.local_port = self.main_transport.local_address[1]
        self.scenario = self.scenario.bind(self.env)
        self.needs_bookkeeping = _bookkeeping_flags(self.scenario)
        self.fixed_pause_ms = _fixed_pauses(self.scenario, self.pause_default_ms)

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> EngineResult:
        """Run the scenario until it ends; returns the result with the final snapshot."""
        if self.main_transport is None:
            await self.open()
        assert self.main_transport is not None
        config = self.config
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self.timers.run)
            nursery.start_soon(self._receive_loop, self.main_transport)
            nursery.start_soon(self._housekeeping_loop)
            task_status.started()
            if config.sleep_s > 0:
                await trio.sleep(config.sleep_s)
            self.start_s = trio.current_time()
            self.rate_state.changed_at_s = self.start_s
            if config.timeout_s > 0:
                nursery.start_soon(self._global_timeout, config.timeout_s)
            if self.tracer is not None:
                await self._dump_traces()
                nursery.start_soon(self._dump_loop)
            if not self.scenario.is_server:
                if config.users is not None:
                    self.set_users(config.users)
                nursery.start_soon(self._pacing_loop)
            elif config.max_calls == 0:
                self.soft_quit("call limit reached")
            await self._done.wait()
            self._release_idle_workers()
            nursery.cancel_scope.cancel()
        self.main_transport.close()
        if self.tracer is not None:
            await self._dump_traces()
        return EngineResult(
            exit_status=self.exit_status(),
            snapshot=self.snapshot(reset_periodic=False),
            timed_out=self.timed_out,
            fatal_message=self.fatal_message,
            quit_reason=self.quit_reason,
        )

    def exit_status(self) -> ExitStatus:
        """SIPp's exit code for the run so far (reference 8)."""
        if self.fatal_message is not None:
            return ExitStatus.FATAL
        if self.stopped_now:
            return ExitStatus.INTERNAL_COMMAND
        if self.stats.failed_calls > 0:
            return ExitStatus.CALLS_FAILED
        if self.timed_out and self.stats.successful_calls == 0:
            return ExitStatus.INTERNAL_COMMAND
        return ExitStatus.SUCCESS

    def snapshot(self, *, reset_periodic: bool = False, window: str = "log") -> StatsSnapshot:
        """Freeze the statistics now; ``window`` "log" (files, -fd) or "display" (screens, -f)."""
        return self.stats.snapshot(
            self.wall_clock.wall_time(),
            trio.current_time(),
            reset_periodic=reset_periodic,
            window=window,
        )

    # ------------------------------------------------------------------ control (shell API)

    def soft_quit(self, reason: str = "quit requested") -> None:
        """Stop creating calls; the run ends when the running calls have ended."""
        if self.quit_state is QuitState.RUNNING:
            self.quit_state = QuitState.SOFT
            self.quit_reason = reason
            self._pacing.wake(True)
        elif self.quit_state is QuitState.SOFT and reason == "quit requested":
            # A second q / SIGUSR1 forces the exit, as in SIPp HEAD.
            self.force_quit(reason)
            return
        self._check_done()

    def force_quit(self, reason: str = "forced quit") -> None:
        """Abort every running call (client dialogs get CANCEL/BYE/ACK) and end the run."""
        if self.quit_state is QuitState.FORCED:
            return
        self.quit_state = QuitState.FORCED
        if not self.quit_reason:
            self.quit_reason = reason
        for call in list(self.calls.values()):
            call.abort_now()
        self._done.set()

    def interrupt(self) -> None:
        """SIGINT/SIGTERM: stop at once; the exit code is computed from what happened."""
        self.quit_state = QuitState.FORCED
        self.quit_reason = self.quit_reason or "interrupted"
        self._done.set()

    def stop_now(self) -> None:
        """``exec int_cmd="stop_now"``: exit immediately with code 97."""
        self.stopped_now = True
        self.interrupt()

    def set_rate(self, rate: float) -> None:
        """Change the call rate (calls per rate period) from now on."""
        self.rate_state.change_rate(rate, trio.current_time())
        self.stats.target_rate = self.rate_state.rate
        if self.config.max_open_calls is None:
            self.open_call_limit = self._compute_open_call_limit()
        self._pacing.wake(True)

    def pause_traffic(self, paused: bool) -> None:
        """Pause or resume call creation (running calls continue)."""
        if self.traffic_paused and not paused:
            self.rate_state.change_rate(self.rate_state.rate, trio.current_time())
        self.traffic_paused = paused
        self._pacing.wake(True)

    def set_users(self, users: int) -> None:
        """-users mode: change the number of users (``set users``, keys + - * /)."""
        if self.config.users is None:
            return
        users = max(0, users)
        while self._next_user_id <= users:
            self._free_users.append(self._next_user_id)
            self._next_user_id += 1
        self.users_target = users
        self.stats.target_rate = float(users)
        self.open_call_limit = max(self.open_call_limit, users)
        self._pacing.wake(True)

    def reset_stats(self) -> None:
        """``reset stats``: restart the cumulative counters from now."""
        self.stats.reset_cumulative(self.wall_clock.wall_time(), trio.current_time())

    def fatal_action_error(self, text: str) -> None:
        self.fatal_message = text
        self.stats.fatal_errors += 1
        self.interrupt()

    # ------------------------------------------------------------------ hooks used by calls

    def warning(self, text: str) -> None:
        self.stats.warnings += 1
        if self.tracer is not None:
            self.tracer.warning(text, self.wall_clock.wall_time())

    def log_action(self, text: str) -> None:
        if self.tracer is not None:
            self.tracer.log(text, self.wall_clock.wall_time())

    def run_shell_command(self, command: str) -> None:
        if self._shell_runner is not None:
            self._shell_runner(command)
        elif self._nursery is not None:
            self._nursery.start_soon(_run_shell, command)

    def trace_sent(self, call: Call, data: bytes) -> None:
        if self.tracer is not None:
            self.tracer.message_sent(call.call_id, data, self.wall_clock.wall_time())

    def trace_received(self, call: Call, message: SipMessage) -> None:
        if self.tracer is not None:
            self.tracer.message_received(call.call_id, message, self.wall_clock.wall_time())

    def trace_unexpected(self, call: Call, message: SipMessage, expected: str) -> None:
        if self.tracer is not None:
            self.tracer.unexpected_message(
                call.call_id, message, expected, self.wall_clock.wall_time()
            )

    def trace_lost(self, call: Call, data: bytes) -> None:
        if self.tracer is not None:
            self.tracer.message_lost(call.call_id, data, self.wall_clock.wall_time())

    def call_ended(self, call: Call, reason: FailureReason | None, *, counted: bool) -> None:
        """Account for a call whose fate is decided."""
        now = self.now()
        key = call.call_id
        if self.calls.pop(key, None) is not None:
            until = now + self.config.deadcall_wait_s
            self.dead_calls[key] = until
            self._dead_order.append((until, key))
        if counted:
            self.stats.call_ended(now, now - call.start_s, reason)
        else:
            self.stats.current_calls -= 1
        if self.tracer is not None:
            self.tracer.call_ended(
                key,
                reason is not None,
                reason.value if reason is not None else "",
                self.wall_clock.wall_time(),
            )
        if call.user_id:
            self._free_users.append(call.user_id)
        if self._pacing_waits_for_calls:
            # The pacing task replaces users / starts delayed calls (after settling, in sim).
            self._pacing.wake(True)
        self._check_done()

    def call_finished(self, call: Call) -> None:
        """The call's task is exiting (normally after call_ended; else it was cancelled)."""
        if call.call_id in self.calls and not call.ended:
            call.ended = True
            self.call_ended(call, FailureReason.CALL_REJECTED, counted=True)

    def _check_done(self) -> None:
        if (
            self.quit_state is not QuitState.RUNNING
            and not self.calls
            and not self._pending_socket_calls
        ):
            self._done.set()

    # ------------------------------------------------------------------ receiving

    async def _receive_loop(self, transport: DatagramTransport) -> None:
        dispatch = self._dispatch
        step_s = self.timer_resolution_s
        if step_s <= 0:
            # Simulation: exact virtual time, every datagram handled at its delivery instant.
            while True:
                try:
                    batch = await transport.receive_batch()
                except (trio.ClosedResourceError, OSError):
                    return
                for data, source in batch:
                    dispatch(data, source, transport)
        # Real sockets: after a batch, take the next one at the next tick of the -timer_resol
        # grid (where the timer task and the pacing wake too), straight from the socket. Under
        # load the process then sleeps and wakes once per tick for everything due, not once per
        # datagram: each sleep and wake-up costs the kernel more than handling a datagram.
        # Latency grows by at most one tick; SIPp's -timer_resol trades the same way.
        while True:
            try:
                batch = transport.receive_nowait()
                if not batch:
                    batch = await transport.receive_batch()
            except (trio.ClosedResourceError, OSError):
                return
            for data, source in batch:
                dispatch(data, source, transport)
            await trio.sleep_until((math.floor(trio.current_time() / step_s) + 1) * step_s)

    def _dispatch(self, data: bytes, source: Address, transport: DatagramTransport) -> None:
        """Route one datagram to its call; count everything that is not delivered."""
        try:
            message = parse_message(data)
        except SipParseError as exc:
            self.malformed_messages += 1
            self.warning(f"Discarding malformed message from {source[0]}:{source[1]}: {exc.reason}")
            return
        call_id = message.call_id
        if not call_id:
            self.malformed_messages += 1
            self.warning("SIP message without Call-ID discarded")
            return
        if not self.callid_slash_ign:
            cut = call_id.find("///")
            if cut >= 0:
                call_id = call_id[cut + 3 :]
        call = self.calls.get(call_id)
        if call is not None:
            call.deliver(message)
            return
        if call_id in self.dead_calls:
            self.dead_call_message(data)
            return
        if self.scenario.is_server:
            if self.quit_state is QuitState.RUNNING:
                self._start_incoming_call(call_id, source, transport).deliver(message)
                return
        elif message.is_request and self.auto_answer and message.method in _AUTO_ANSWERED_METHODS:
            self._auto_answer_out_of_call(message, source, transport)
            return
        self.stats.out_of_call_msgs += 1
        self.warning(
            "Discarding message which can't be mapped to a known SIPp call:\n" + message.text
        )
        if self.tracer is not None:
            self.tracer.out_of_call(data, self.wall_clock.wall_time())

    def dead_call_message(self, data: bytes) -> None:
        """Count (and trace) a message for a call that has ended (reference 1.12)."""
        self.stats.dead_call_msgs += 1
        if self.tracer is not None:
            self.tracer.out_of_call(data, self.wall_clock.wall_time())

    def _auto_answer_out_of_call(
        self, message: SipMessage, source: Address, transport: DatagramTransport
    ) -> None:
        """-aa: a 200 OK echoing the request's dialog headers (reference 9.3)."""
        lines = ["SIP/2.0 200 OK"]
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            for value in message.header_values(name):
                lines.append(f"{name}: {value}")
        host, port = transport.local_address
        lines.append(f"Contact: <sip:{self.env.local_ip}:{port};transport=UDP>")
        lines.append("Content-Length: 0")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            transport.send_nowait(data, source)
        except Exception as exc:  # noqa: BLE001 - a failed courtesy answer is only a warning
            self.warning(f"automatic answer failed: {exc}")
            return
        self.stats.auto_answered += 1

    # ------------------------------------------------------------------ creating calls

    def _new_call(
        self,
        *,
        call_id: str,
        transport: DatagramTransport,
        remote: Address,
        incoming: bool,
        user_id: int,
    ) -> Call:
        self.call_counter += 1
        call = self._make_call(
            number=self.call_counter,
            call_id=call_id,
            transport=transport,
            remote=remote,
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
            idle.pop().wake(call)
        else:
            assert self._nursery is not None
            self._nursery.start_soon(self._worker, call)

    def keep_task_for_next_call(self, call: Call) -> bool:
        """A call ended outside its task (still parked): keep that task for the next call?

        Handing the parked task the next call is one wake-up where ending it and waking an
        idle worker would be two. Only for worker tasks, and not once the run is quitting.
        """
        if not call.in_worker or self.quit_state is not QuitState.RUNNING:
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
            if self.quit_state is not QuitState.RUNNING:
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

    def _check_call_limit(self) -> None:
        max_calls = self.config.max_calls
        if max_calls is not None and self.call_counter >= max_calls:
            self.soft_quit("call limit reached")

    def _make_call(
        self,
        *,
        number: int,
        call_id: str,
        transport: DatagramTransport,
        remote: Address,
        incoming: bool,
        user_id: int,
    ) -> Call:
        call = Call(
            self,
            call_number=number,
            call_id=call_id,
            transport=transport,
            remote=remote,
            incoming=incoming,
            user_id=user_id,
            variables=self.global_variables.for_call(user_id),
        )
        self.calls[call_id] = call
        if self.tracer is not None:
            self.tracer.call_started(call_id, number)
        return call

    def _start_incoming_call(
        self, call_id: str, source: Address, transport: DatagramTransport
    ) -> Call:
        return self._new_call(
            call_id=call_id, transport=transport, remote=source, incoming=True, user_id=0
        )

    def format_call_id(self, number: int) -> str:
        """``-cid_str``: %u call number, %p pid, %s local IP, %% a percent sign."""
        affixes = self._call_id_affixes
        if affixes is not None:
            return f"{affixes[0]}{number}{affixes[1]}"
        return "".join(str(number) if piece is None else piece for piece in self._call_id_pieces)

    def _start_outgoing_call(self, user_id: int = 0) -> None:
        assert self.main_transport is not None
        remote = self.remote
        assert remote is not None
        number = self.call_counter + 1
        if self.per_call_sockets and self._open_call_sockets < self.config.max_socket:
            # -t un: each call sends from its own socket (reference 9.1); the call number
            # and Call-ID are fixed now, the socket is opened by the call's own task.
            self.call_counter = number
            self._open_call_sockets += 1
            assert self._nursery is not None
            self._nursery.start_soon(self._run_call_with_own_socket, number, user_id)
            self.stats.call_created(trio.current_time(), incoming=False)
            self._pending_socket_calls += 1
            self._check_call_limit()
            return
        self._new_call(
            call_id=self.format_call_id(number),
            transport=self.main_transport,
            remote=remote,
            incoming=False,
            user_id=user_id,
        )

    async def _run_call_with_own_socket(self, number: int, user_id: int) -> None:
        remote = self.remote
        assert remote is not None and self._nursery is not None
        try:
            transport = await self.transports.open_datagram(self.bind_host, 0)
        except Exception:
            self._open_call_sockets -= 1
            self._pending_socket_calls -= 1
            self.warning(f"call {number}: cannot open its UDP socket")
            self.stats.call_ended(trio.current_time(), 0.0, FailureReason.CANNOT_SEND_MESSAGE)
            self._check_done()
            raise
        self._pending_socket_calls -= 1
        try:
            async with trio.open_nursery() as own:
                own.start_soon(self._receive_loop, transport)
                call = self._make_call(
                    number=number,
                    call_id=self.format_call_id(number),
                    transport=transport,
                    remote=remote,
                    incoming=False,
                    user_id=user_id,
                )
                await call.run()
                own.cancel_scope.cancel()
        finally:
            transport.close()
            self._open_call_sockets -= 1

    def _can_start_call(self) -> bool:
        if self.quit_state is not QuitState.RUNNING or self.traffic_paused:
            return False
        max_calls = self.config.max_calls
        if max_calls is not None and self.call_counter >= max_calls:
            return False
        return len(self.calls) + self._pending_socket_calls < self.open_call_limit

    async def _pacing_loop(self) -> None:
        """Start calls so that the count started matches rate x elapsed (reference 11.1).

        One task decides every call creation and every rate-ramp step, so ramps are exact: a
        step at time t restarts the count from t (not from when this task ran), and calls due
        at the very instant of a step belong to the old rate.
        In -users mode it replaces the users whose calls ended.
        """
        config = self.config
        state = self.rate_state
        users_mode = config.users is not None
        ramp_s = 0.0
        if config.rate_increase and not users_mode:
            ramp_s = config.rate_interval_s or config.dump_period_s
        next_step = self.start_s + ramp_s if ramp_s > 0 else math.inf
        while self.quit_state is QuitState.RUNNING:
            if self._settle is not None:
                await self._settle("pacing")
            now = trio.current_time()
            while next_step <= now and self.quit_state is QuitState.RUNNING:
                # Calls due up to the step (inclusive) belong to the old rate.
                if not self.traffic_paused:
                    self._start_due_calls(next_step)
                self._apply_ramp_step(next_step)
                next_step += ramp_s
            if self.quit_state is not QuitState.RUNNING:
                return
            self._pacing_waits_for_calls = False
            deadline = next_step
            if users_mode:
                self._replace_user_calls()
                self._pacing_waits_for_calls = True
            elif not self.traffic_paused:
                due = self._start_due_calls(now)
                if self.quit_state is not QuitState.RUNNING:
                    return
                if due > 0:
                    # Open-call limit hit: the due calls start as soon as a call ends.
                    self._pacing_waits_for_calls = True
                else:
                    deadline = min(deadline, state.next_due_s())
            await self._pacing.park(deadline)

    def _start_due_calls(self, now: float) -> int:
        """Start the calls due by ``now`` that the limits allow; returns how many are left."""
        state = self.rate_state
        due = state.calls_due(now)
        while due > 0 and self._can_start_call():
            self._start_outgoing_call()
            state.started_since_change += 1
            due -= 1
        return due

    def _apply_ramp_step(self, step_time: float) -> None:
        """-rate_increase: one step at ``step_time``; -rate_max ends the ramp (reference 11.1)."""
        config = self.config
        rate = self.rate_state.rate + config.rate_increase
        at_max = config.rate_max is not None and rate >= config.rate_max
        if at_max:
            assert config.rate_max is not None
            rate = config.rate_max
        self.rate_state.change_rate(rate, step_time)
        self.stats.target_rate = self.rate_state.rate
        if config.max_open_calls is None:
            self.open_call_limit = self._compute_open_call_limit()
        if at_max and not config.no_rate_quit:
            self.soft_quit("maximum rate reached")

    def _replace_user_calls(self) -> None:
        """-users: every free user starts a new call, lowest user id first (reference 11.1)."""
        self._free_users.sort(reverse=True)
        while self._free_users and len(self.calls) < self.users_target and self._can_start_call():
            self._start_outgoing_call(self._free_users.pop())

    async def _global_timeout(self, timeout_s: float) -> None:
        await trio.sleep(timeout_s)
        if self._settle is not None:
            await self._settle("timeout")
        self.timed_out = True
        if self.config.timeout_error:
            self.fatal_message = (
                f"{self.scenario.base_name} timed out after '{timeout_s:.3f}' seconds"
            )
        # SIPp HEAD: the global timeout forces the exit (3.6.1 only soft-quits; reference 8).
        self.force_quit("global timeout")

    async def _dump_traces(self) -> None:
        """One -fd dump: buffered RTT samples, then the periodic rows of the CSV files."""
        tracer = self.tracer
        assert tracer is not None
        if self._settle is not None:
            await self._settle("dump")
        tracer.write_rtt_records(self.stats.take_rtt_records())
        screens: str | None = None
        if self.periodic_screens:
            from gossipper.engine.screens import display_snapshot, screen_dump

            screens = screen_dump(self, display_snapshot(self), terminated=False)
        tracer.write_periodic(self.snapshot(reset_periodic=True), screens_text=screens)

    async def _dump_loop(self) -> None:
        period_s = self.config.dump_period_s
        next_dump = trio.current_time() + period_s
        while True:
            await trio.sleep_until(next_dump)
            next_dump += period_s
            await self._dump_traces()

    async def _housekeeping_loop(self) -> None:
        """Forget dead Call-IDs once their -deadcall_wait window has passed."""
        dead = self.dead_calls
        order = self._dead_order
        while True:
            await trio.sleep(1.0)
            now = self.now()
            while order and order[0][0] <= now:
                until, key = order.popleft()
                # A Call-ID that ended again later has a newer entry: keep it.
                if dead.get(key) == until:
                    del dead[key]


def _bookkeeping_flags(scenario: Scenario) -> tuple[bool, ...]:
    """Per element: does it touch a counter or a response-time timer? (hot-path shortcut)"""
    return tuple(
        e.counter is not None or e.start_rtd is not None or e.rtd is not None
        for e in scenario.elements
    )


def _fixed_pauses(scenario: Scenario, default_pause_ms: int) -> tuple[int, ...]:
    """Per element: the pause length in ms when it is the same for every call, else -1.

    Lets a call skip sampling (and creating its seeded generator, ~10 us) for fixed pauses;
    the value is exactly what ``PauseSpec.sample_ms`` would return.
    """
    fixed: list[int] = []
    for element in scenario.elements:
        pause = element.pause
        length = pause.fixed_ms(default_pause_ms) if pause is not None else None
        fixed.append(-1 if length is None else clamp_pause_ms(length))
    return tuple(fixed)


def _compile_call_id(template: str, env: RunEnv) -> tuple[str | None, ...]:
    """Split ``-cid_str`` once: literal pieces, None where the call number goes."""
    pieces: list[str | None] = []
    literal: list[str] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "%" and i + 1 < len(template):
            code = template[i + 1]
            if code == "u":
                pieces.append("".join(literal))
                literal = []
                pieces.append(None)
            elif code == "p":
                literal.append(str(env.pid))
            elif code == "s":
                literal.append(env.local_ip)
            elif code == "%":
                literal.append("%")
            else:
                literal.append("%" + code)
            i += 2
            continue
        literal.append(ch)
        i += 1
    pieces.append("".join(literal))
    return tuple(piece for piece in pieces if piece != "")


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
