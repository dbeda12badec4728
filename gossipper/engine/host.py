"""What a call sees of its engine: ``CallHost``, and the flows calls send through.

A ``Call`` is typed against ``CallHost`` only, so ``mypy --strict`` keeps calls from reaching
into the rest of the engine's state (pacing, quit logic, the call table). ``Engine`` is the one
implementation: it subclasses ``CallHost`` (a native base class in the compiled build, so the
attribute reads on the per-message path stay direct slot reads) and fills in the hooks.

The attributes are the run's settings as calls need them, copied once from the configuration
(attribute reads on a frozen config are slower), plus the shared objects calls update: the
statistics, the timer queue and the trace sink.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gossipper.config import RunConfig
from gossipper.engine.timers import TimerQueue
from gossipper.errors import TransportError
from gossipper.interfaces import Address, DatagramTransport, Flow, MediaFactory, Tracer
from gossipper.scenario import GlobalVariables, RunEnv, Scenario
from gossipper.scenario.distributions import clamp_pause_ms
from gossipper.sip import SipMessage, max_retransmissions
from gossipper.stats import FailureReason, RunStats

if TYPE_CHECKING:
    from gossipper.engine.call import Call

AUTO_ANSWERED_METHODS = frozenset({"INFO", "NOTIFY", "OPTIONS", "UPDATE"})
"""Requests -aa answers with 200 OK, in a call or out of one (SIPp's -aa documentation)."""


class DatagramFlow:
    """A call's flow over a datagram transport: the socket and the remote address."""

    __slots__ = ("transport", "remote_address", "local_address", "transport_name", "reliable")

    def __init__(self, transport: DatagramTransport, remote_address: Address) -> None:
        self.transport = transport
        self.remote_address = remote_address
        self.local_address = transport.local_address
        self.transport_name = transport.transport_name
        self.reliable = False

    def send_nowait(self, data: bytes) -> bool:
        return self.transport.send_nowait(data, self.remote_address)

    async def send(self, data: bytes) -> None:
        await self.transport.send(data, self.remote_address)


class ClosedFlow:
    """A call's flow after ``<closecon/>``: SIPp drops the call's socket, so a later send of
    the call has nowhere to go (SIPp 3.6.1 asserts; here the call fails, counted
    FailedCannotSendMessage). The addresses stay for traces; ``<setdest>`` on UDP reopens it."""

    __slots__ = ("previous", "transport_name", "reliable", "local_address", "remote_address")

    def __init__(self, previous: Flow) -> None:
        self.previous = previous
        self.transport_name = previous.transport_name
        self.reliable = previous.reliable
        self.local_address = previous.local_address
        self.remote_address = previous.remote_address

    def send_nowait(self, data: bytes) -> bool:
        raise TransportError("the call's connection was closed by <closecon>")

    async def send(self, data: bytes) -> None:
        raise TransportError("the call's connection was closed by <closecon>")


class CallHost:
    """The narrow interface between calls and their engine (see the module docstring)."""

    def __init__(
        self,
        scenario: Scenario,
        config: RunConfig,
        *,
        env: RunEnv,
        stats: RunStats,
        timers: TimerQueue,
        now: Callable[[], float],
        wall_time: Callable[[], float],
        seed: int,
        tracer: Tracer | None,
    ) -> None:
        self.scenario = scenario
        self.env = env
        self.stats = stats
        self.timers = timers
        self.now = now
        self.wall_time = wall_time
        self.seed = seed
        self.tracer = tracer
        self.base_cseq = config.identity.base_cseq
        self.retransmissions_enabled = not config.timers.no_retrans
        self.rtcheck_loose = config.timers.rtcheck_loose
        self.t2_s = config.timers.t2_s
        self.lost_pct = config.identity.lost_pct
        self.pause_msg_ign = config.identity.pause_msg_ign
        self.auto_answer = config.identity.auto_answer
        self.default_behaviors = config.identity.default_behaviors
        self.recv_timeout_ms = int(config.timers.recv_timeout_s * 1000)
        self.send_timeout_s = config.timers.send_timeout_s
        self.sendbuffer_warn = config.transport.sendbuffer_warn
        self.pause_default_ms = int(config.timers.pause_default_s * 1000)
        self.needs_bookkeeping = bookkeeping_flags(scenario)
        self.fixed_pause_ms = fixed_pauses(scenario, self.pause_default_ms)
        self.media: MediaFactory | None = None
        """The run's media (set by the engine when the scenario has media, or -rtp_echo)."""
        self.twin_mode = False
        """3PCC: a command channel exists (``send_command`` and friends work)."""
        self._max_retrans_invite = max_retransmissions(
            is_invite=True,
            max_invite=config.timers.max_invite_retrans,
            max_non_invite=config.timers.max_non_invite_retrans,
            max_total=config.timers.max_retrans,
        )
        self._max_retrans_non_invite = max_retransmissions(
            is_invite=False,
            max_invite=config.timers.max_invite_retrans,
            max_non_invite=config.timers.max_non_invite_retrans,
            max_total=config.timers.max_retrans,
        )

    def rebind_scenario(self, scenario: Scenario) -> None:
        """The scenario with the run-static keywords folded in (once the SIP port is known)."""
        self.scenario = scenario
        self.needs_bookkeeping = bookkeeping_flags(scenario)
        self.fixed_pause_ms = fixed_pauses(scenario, self.pause_default_ms)

    def max_retransmissions(self, is_invite: bool) -> int:
        return self._max_retrans_invite if is_invite else self._max_retrans_non_invite

    # Trace hooks: checked for a tracer here so calls stay one attribute test when tracing
    # is off.

    def trace_sent(self, call: Call, data: bytes) -> None:
        tracer = self.tracer
        if tracer is not None:
            tracer.message_sent(call.call_id, data, call.flow, self.wall_time())

    def trace_received(self, call: Call, message: SipMessage) -> None:
        tracer = self.tracer
        if tracer is not None:
            tracer.message_received(call.call_id, message, call.flow, self.wall_time())

    def trace_unexpected(self, call: Call, message: SipMessage, expected: str) -> None:
        tracer = self.tracer
        if tracer is not None:
            tracer.unexpected_message(call.call_id, message, expected, call.flow, self.wall_time())

    def trace_lost(self, call: Call, data: bytes) -> None:
        tracer = self.tracer
        if tracer is not None:
            tracer.message_lost(call.call_id, data, call.flow, self.wall_time())

    def log_action(self, text: str) -> None:
        tracer = self.tracer
        if tracer is not None:
            tracer.log(text, self.wall_time())

    def warning(self, text: str) -> None:
        self.stats.warnings += 1
        tracer = self.tracer
        if tracer is not None:
            tracer.warning(text, self.wall_time())

    # Hooks the engine implements.

    def call_ended(self, call: Call, reason: FailureReason | None, *, counted: bool) -> None:
        """Account for a call whose fate is decided."""
        raise NotImplementedError

    def call_finished(self, call: Call) -> None:
        """The call's task is exiting (normally after call_ended; else it was cancelled)."""
        raise NotImplementedError

    def keep_task_for_next_call(self, call: Call) -> bool:
        """A call ended outside its task: may its parked task take the next call?"""
        raise NotImplementedError

    def dead_call_message(self, data: bytes, flow: Flow) -> None:
        """Count (and trace) a message for a call that has ended."""
        raise NotImplementedError

    def run_shell_command(self, command: str) -> None:
        """``<exec command>``: start it without waiting."""
        raise NotImplementedError

    def fatal_action_error(self, text: str) -> None:
        """An action failed in a way that ends the run (exit code 255)."""
        raise NotImplementedError

    def soft_quit(self, reason: str = "quit requested") -> None:
        """``exec int_cmd="stop_gracefully"`` (and the control API): no new calls."""
        raise NotImplementedError

    def set_destination(self, call: Call, host: str, port: int, protocol: str) -> str | None:
        """``<setdest>``: the call's later messages go to ``host:port``; the error that ends
        the run (exit 255, as SIPp's ERROR) or None."""
        raise NotImplementedError

    def close_connection(self, call: Call) -> None:
        """``<closecon/>``: drop the call's socket (closed when it is the call's own)."""
        raise NotImplementedError

    def stop_now(self) -> None:
        """``exec int_cmd="stop_now"``: exit at once with code 97."""
        raise NotImplementedError

    # 3PCC (engine/threepcc.py): commands go through the engine's command channel.

    def send_command(self, call: Call, text: str, dest: str | None) -> bool:
        """``<sendCmd>``: send ``text`` to the twin (``dest``: the extended-mode peer);
        False when there is no connection to send it on."""
        raise NotImplementedError

    def send_abort_command(self, call: Call, text: str) -> None:
        """An aborted call tells the twin (SIPp's ``3pcc_abort`` message); best effort."""
        raise NotImplementedError

    def commands_connected(self) -> bool:
        """Whether a command can still arrive (the twin's connection is up)."""
        raise NotImplementedError


class ScenarioHost(CallHost):
    """The host of the calls of a second scenario of the run: the out-of-call scenario
    (``-oocsf``/``-oocsn``) or the server scenario of SIPp 3.7's mixed mode (``-rxsf``).

    Its calls walk their own scenario and count into their own statistics (SIPp keeps one
    statistics object per scenario), read their own run environment (``-rxinf`` injection
    files) and global variables; the timer queue, tracer, warnings and every engine hook are
    the engine's, so a call never knows which scenario of the run it belongs to.
    """

    def __init__(
        self, main: CallHost, scenario: Scenario, config: RunConfig, *, env: RunEnv, stats: RunStats
    ) -> None:
        super().__init__(
            scenario,
            config,
            env=env,
            stats=stats,
            timers=main.timers,
            now=main.now,
            wall_time=main.wall_time,
            seed=main.seed,
            tracer=main.tracer,
        )
        self.main = main
        self.global_variables: GlobalVariables = scenario.new_global_variables()

    def warning(self, text: str) -> None:
        # Warnings are one count of the run (SIPp's are global, not per scenario).
        self.main.warning(text)

    def call_ended(self, call: Call, reason: FailureReason | None, *, counted: bool) -> None:
        self.main.call_ended(call, reason, counted=counted)

    def call_finished(self, call: Call) -> None:
        self.main.call_finished(call)

    def keep_task_for_next_call(self, call: Call) -> bool:
        return self.main.keep_task_for_next_call(call)

    def dead_call_message(self, data: bytes, flow: Flow) -> None:
        self.main.dead_call_message(data, flow)

    def run_shell_command(self, command: str) -> None:
        self.main.run_shell_command(command)

    def fatal_action_error(self, text: str) -> None:
        self.main.fatal_action_error(text)

    def soft_quit(self, reason: str = "quit requested") -> None:
        self.main.soft_quit(reason)

    def stop_now(self) -> None:
        self.main.stop_now()


def bookkeeping_flags(scenario: Scenario) -> tuple[bool, ...]:
    """Per element: does it touch a counter or a response-time timer? (hot-path shortcut)"""
    return tuple(
        e.counter is not None or e.start_rtd is not None or e.rtd is not None
        for e in scenario.elements
    )


def fixed_pauses(scenario: Scenario, default_pause_ms: int) -> tuple[int, ...]:
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
