"""One call: a Trio task walking the scenario with SIPp's per-call execution model.

Theory of operation (docs/sipp-behaviour.md, "Processing an incoming message"). A call is a cursor
(``index``) over the scenario's message elements. The task runs every element it can run at once
(sends, nops, actions), then parks until the next event: a message routed to it by the engine's
receive loop, or the earliest of its timers (UDP retransmission, receive timeout, pause end). Each
event is handled exactly as SIPp handles it: retransmission detection by hash first, then matching
forward from the cursor over optional receives, then backward through the contiguous optional block
(or ``optional="global"`` elements), then the automatic answers and the unexpected-message rules.

Events are handled where they arrive. A parked call's messages are processed by the receive loop
that routed them (``deliver``), and its timers by the engine's timer task (``timer_fired``): the
handling is synchronous from the event to the next wait, so waking the call's own task for it
would only add two task switches per message. The task is woken only when the call must really
wait in Trio (a send blocked by a full socket buffer) or has ended, and it owns the call's lifetime
(cancellation, the end of the run). In real-time runs even the first elements run outside it: a
new call given a parked worker is run to its first wait by the task that launched it
(``start_outside``), and the worker is resumed only if the call needs it. Messages that arrive
while the task runs queue in ``mailbox`` and are handled, in order, before it parks again.

The call never reads a clock other than the engine's ``now`` (the Trio clock: the same value as
``trio.current_time()``, one call cheaper) and never owns a socket: sends go
through the engine's transport, so the same code runs on real sockets and in the simulation.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, NoReturn

import trio

from gossipper.engine.host import AUTO_ANSWERED_METHODS, CallHost
from gossipper.engine.threepcc import command_sender, is_abort_command
from gossipper.engine.timers import Parker
from gossipper.errors import BindError, SendBufferError, TransportError
from gossipper.interfaces import CallMedia, Flow
from gossipper.scenario import (
    ElementKind,
    Optional,
    compute_route_set,
    run_actions,
)
from gossipper.scenario.actions import MediaAction, MediaOp
from gossipper.sip import SipMessage, header_param, message_hash, next_retransmit_interval_s
from gossipper.stats import FailureReason

if TYPE_CHECKING:
    from gossipper.scenario import ActionOutcome, Element, RunEnv, SipMessageLike, Variables

_TIMER_CANCELLING_REQUESTS: Final = frozenset({"ACK", "CANCEL", "BYE", "PRACK"})
_INF: Final = math.inf
# What _settle returns for a call that reached the end of its scenario: the usual end needs no
# exception (raising _CallEnd through four compiled frames costs a traceback entry in each).
_ENDED: Final = -math.inf
_NO_LINES: Mapping[str, int] = {}


class _CallEnd(Exception):
    """Internal: unwinds the call's handling once its fate is decided."""


# Values the call's parked task is woken with.
_WAKE_END: Final = object()  # the call ended while an event was handled outside the task
_WAKE_FLUSH: Final = object()  # sends are queued behind a full socket buffer


class Call(Parker):
    """Per-call state; also the ``CallContext`` that message templates render against."""

    __slots__ = (
        "engine",
        "env",
        "call_number",
        "call_id",
        "cseq",
        "user_id",
        "local_port",
        "local_ip",
        "last_message",
        "peer_tag",
        "_tag_source",
        "route_set",
        "next_url",
        "request_uri",
        "variables",
        "_rng",
        "injection_line",
        "injection_lines",
        "auth_challenge",
        "auth_challenge_is_proxy",
        "auth_nonce_count",
        "tdm_circuit",
        "flow",
        "reliable",
        "incoming",
        "index",
        "start_s",
        "mailbox",
        "last_sent",
        "last_send_index",
        "last_send_is_invite",
        "last_recv_hash",
        "last_recv_index",
        "recv_retrans_hash",
        "recv_retrans_bytes",
        "recv_retrans_recv_index",
        "recv_retrans_send_index",
        "retrans_deadline",
        "retrans_interval_s",
        "retrans_count",
        "retrans_index",
        "recv_deadline",
        "recv_deadline_index",
        "pause_end",
        "pause_index",
        "rtd_starts",
        "rtd_done",
        "established",
        "ack_pending",
        "action_failure",
        "received_anything",
        "_rrs_done",
        "ended",
        "pending_failure",
        "in_worker",
        "detached",
        "adopted",
        "_adopted_wake",
        "blocked_sends",
        "_armed_deadline",
        "commands",
        "twin_aborted",
        "media",
        "media_port",
        "video_port",
    )

    def __init__(
        self,
        engine: CallHost,
        *,
        call_number: int,
        call_id: str,
        flow: Flow,
        incoming: bool,
        user_id: int,
        variables: Variables,
    ) -> None:
        injection_lines: Mapping[str, int] = _NO_LINES
        self.engine = engine
        self.env: RunEnv = engine.env
        self.call_number = call_number
        self.call_id = call_id
        self.cseq = engine.base_cseq - 1
        self.user_id = user_id
        self.local_port = flow.local_address[1]
        self.local_ip = flow.local_address[0]
        self.last_message: SipMessageLike | None = None
        self.peer_tag: str | None = None
        # The To value of the last response whose tag was looked up: a dialog's responses
        # repeat it, and the same value gives the same tag.
        self._tag_source = ""
        self.route_set: str | None = None
        self.next_url: str | None = None
        self.request_uri: str | None = None
        self.variables = variables
        self._rng: random.Random | None = None
        env = engine.env
        if env.injection and call_number:
            # (Call number 0 is answer_out_of_call's stand-in: it must not take a row.)
            injection_lines = {
                name: source.next_line(user_id, self.rng, call_number)
                for name, source in env.injection.items()
            }
        self.injection_lines = injection_lines
        default = env.default_injection
        self.injection_line = injection_lines.get(default, -1) if default else -1
        self.auth_challenge: str | None = None
        self.auth_challenge_is_proxy = False
        self.auth_nonce_count = 1
        self.tdm_circuit = -1
        self.flow = flow
        # Reliable transports never retransmit (RFC 3261 section 17.1.1.2).
        self.reliable = flow.reliable
        self.incoming = incoming
        self.index = 0
        self.start_s = engine.now()
        # Created by the first message that has to wait: an empty deque is 760 bytes, more
        # than the rest of the call, and most calls never queue a message.
        self.mailbox: deque[SipMessage] | None = None
        # Parker.__init__ inlined (one call fewer per call created).
        self._queue = engine.timers
        self._task = None
        self._seq = 0
        self.last_sent: bytes | None = None
        self.last_send_index = -1
        self.last_send_is_invite = False
        self.last_recv_hash = 0
        self.last_recv_index = -1
        self.recv_retrans_hash = 0
        self.recv_retrans_bytes: bytes | None = None
        self.recv_retrans_recv_index = -1
        self.recv_retrans_send_index = -1
        self.retrans_deadline = _INF
        self.retrans_interval_s = 0.0
        self.retrans_count = 0
        self.retrans_index = -1
        self.recv_deadline = _INF
        self.recv_deadline_index = -1
        self.pause_end = _INF
        self.pause_index = -1
        # Created on first use: most scenarios time one RTD per call, many none.
        self.rtd_starts: dict[int, float] | None = None
        # Bit n set: RTD n already measured. An int, not a set: a container per live call
        # costs the garbage collector (thousands of calls sit in timewait).
        self.rtd_done = 0
        self.established = False
        self.ack_pending = False
        self.action_failure: FailureReason | None = None
        self.received_anything = False
        self._rrs_done = False
        self.ended = False
        # Set from outside while the call's task runs (its connection broke): the task ends
        # the call with this reason before it next parks.
        self.pending_failure: FailureReason | None = None
        self.in_worker = False  # runs in an engine worker task (reusable for a next call)
        # In its <timewait> without a task: the worker went back to the engine's pool, and
        # what still comes (a retransmission to answer, the end) is handled from outside.
        self.detached = False
        # Started outside any task (``start_outside``) on a worker task that is still
        # suspended in the wait of an earlier call (or of the idle pool): the first wake-up
        # resumes it there with this call, and ``run`` acts on the value kept here.
        self.adopted = False
        self._adopted_wake: object | None = None
        # Sends waiting for room in the socket buffer, in order, each with whether a failure
        # fails the call (scenario messages) or is only a warning (retransmissions).
        self.blocked_sends: list[tuple[bytes, bool]] | None = None
        # The deadline of this call's live entry in the timer queue (inf: none).
        self._armed_deadline = _INF
        # 3PCC commands that arrived while the task ran (created on first use).
        self.commands: deque[str] | None = None
        self.twin_aborted = False  # the twin aborted this call: no abort_call goes back
        # The call's media (RTP ports and streams), opened by its task when the run has media.
        self.media: CallMedia | None = None
        self.media_port = 0
        self.video_port = 0

    @property
    def rng(self) -> random.Random:
        """This call's generator, ``Random(f"{seed}:call:{n}")`` (design.md section 5).

        Created on first use: seeding from a string costs ~10 us, and most calls of most
        scenarios never draw a random number.
        """
        rng = self._rng
        if rng is None:
            rng = self._rng = random.Random(f"{self.engine.seed}:call:{self.call_number}")
        return rng

    @rng.setter
    def rng(self, value: random.Random) -> None:
        self._rng = value

    def use_flow(self, flow: Flow) -> None:
        """Send from another socket before the call runs (``-t ui``: the one of the call's
        injection row, known only once the row is chosen here in ``__init__``)."""
        self.flow = flow
        self.local_port = flow.local_address[1]
        self.local_ip = flow.local_address[0]
        self.reliable = flow.reliable

    # ------------------------------------------------------------------ delivery (engine side)

    def deliver(self, message: SipMessage) -> None:
        """Hand a message to this call: handled now if the call is parked, else queued."""
        mailbox = self.mailbox
        if (self._task is not None or self.detached) and not mailbox:
            self._react(message)
        elif mailbox is None:
            self.mailbox = deque((message,))
        else:
            mailbox.append(message)

    def deliver_command(self, text: str) -> None:
        """Hand a 3PCC command to this call: handled now if the call is parked, else queued
        behind what the task has not handled yet."""
        if self._task is not None and not self.mailbox and not self.commands:
            try:
                self._process_command(text)
                deadline = self._settle()
            except _CallEnd:
                deadline = _ENDED
            if deadline == _ENDED:
                self._ended_outside_task()
                return
            self._rearm_outside(deadline)
            return
        if self.commands is None:
            self.commands = deque()
        self.commands.append(text)

    def waiting_for_command(self) -> bool:
        """Parked at a ``<recvCmd>`` (the twin's loss fails such a call)."""
        elements = self.engine.scenario.elements
        return self.index < len(elements) and elements[self.index].kind is ElementKind.RECVCMD

    def start_outside(self, parked: Parker) -> bool:
        """Run the new call up to its first wait now, in the caller's task (the pacing task,
        or the receive loop for an incoming call), on the task of ``parked``, an idle worker.

        Waking the worker to do it would cost a step of Trio's scheduler per call; the worker
        stays suspended until the call needs a task (to wait for room in the socket buffer,
        or to run a next call handed to it). False if ``parked`` holds no task."""
        task = parked.give_task(self)
        if task is None:
            return False
        self._task = task
        self.adopted = True
        self.in_worker = True
        try:
            deadline = self._settle()
        except _CallEnd:
            deadline = _ENDED
        if deadline == _ENDED:
            self._ended_outside_task()
            return True
        self._rearm_outside(deadline)
        return True

    def wake(self, value: object) -> bool:
        """Resume the call's task with ``value`` (see ``Parker.wake``). An adopted task
        resumes in another wait, which returns this call: ``run`` then takes ``value``;
        False if that wait was cancelled meanwhile (see ``Parker.give_task``)."""
        if self.adopted:
            task = self._task
            if task is not None and task.custom_sleep_data is not self:
                # Cancelled meanwhile in the wait it is suspended in (the end of the run).
                self._task = None
                return False
            self._adopted_wake = value
            value = self
        return Parker.wake(self, value)

    def timer_fired(self, seq: int) -> None:
        """Called by the engine's timer task: handle the expired deadline now."""
        if seq == self._seq and (self._task is not None or self.detached):
            self._armed_deadline = _INF  # the queue has just consumed the entry
            self._react(None)

    def _react(self, event: SipMessage | None) -> None:
        """Handle an event of the parked call outside its task, up to its next wait."""
        try:
            deadline = self._handle(event)
        except _CallEnd:
            deadline = _ENDED
        if deadline == _ENDED:
            self._ended_outside_task()
            return
        if not self._rearm_outside(deadline):
            return
        if not self.detached and self._may_detach():
            # Hand the parked task to the engine's pool now rather than when the timewait
            # ends: a server at 10,000 calls/s with SIPp's 4 s timewait would otherwise hold
            # 40,000 parked tasks (docs/performance.md, "A timewait without a task").
            self.detached = self.engine.keep_task_for_next_call(self)
            if self.detached:
                # Nothing renders from it in a timewait (an in-call request that comes is
                # taken in as the new last message first): let it go while the call waits.
                self.last_message = None

    def _rearm_outside(self, deadline: float) -> bool:
        """After handling an event outside the task: wake the task to flush the sends a full
        socket buffer blocked (False: it takes over), or move the call's timer to
        ``deadline``. A detached call has no task: its blocked sends are dropped."""
        if self._sends_blocked():
            if not self.detached:
                self.wake(_WAKE_FLUSH)
                return False
            self._drop_blocked_sends()
        if deadline != self._armed_deadline:
            self._disarm()
            self._arm(deadline)
        return True

    def _may_detach(self) -> bool:
        """In a ``<timewait>`` of a real-time run, with nothing that needs a task later.

        Not in the simulation: there every deadline is exact and the outputs are pinned
        byte for byte, so its tasks are left as they are."""
        return (
            self.in_worker
            and self.media is None
            and self.commands is None
            and not self.mailbox
            and not self._queue.exact
            and not self.engine.twin_mode
            and self.in_timewait()
        )

    def _drop_blocked_sends(self) -> None:
        """A detached call has no task to wait for room in the socket buffer: what did not
        fit (a retransmitted answer) is lost, as on the wire, and the peer retransmits."""
        queued = self.blocked_sends
        self.blocked_sends = None
        if queued:
            self.engine.warning(
                f"Call-ID '{self.call_id}': {len(queued)} message(s) not sent in its timewait"
                " (socket buffer full)"
            )

    def _ended_outside_task(self) -> None:
        """The parked call has just ended: release its timer and hand back its task."""
        self._disarm()
        # The task may wait a while for its next call: drop what the call no longer needs.
        self.last_message = None
        self.last_sent = self.recv_retrans_bytes = None
        if self.detached:
            return  # its task is in the engine's pool already
        if not self.engine.keep_task_for_next_call(self):
            self.wake(_WAKE_END)

    def in_timewait(self) -> bool:
        """Waiting in a ``<timewait>``: the call's exchange is over (a lost connection no
        longer fails it, as in SIPp)."""
        elements = self.engine.scenario.elements
        return self.index < len(elements) and elements[self.index].is_timewait

    def fail_outside(self, reason: FailureReason, *, abort: bool = False) -> None:
        """Fail the call from outside its handling: the connection under it broke.

        A parked call ends now; a call whose task is running (flushing sends, or not yet
        started) ends when its task next would park. No dialog tidy-up unless ``abort`` (the
        3PCC command connection broke; the SIP path still works): the connection that
        would carry it is gone.
        """
        if self.ended:
            return
        if self._task is None and not self.detached:
            self.pending_failure = reason
            return
        try:
            if abort:
                self._fail(reason, abort=True)
            self._end(reason)
        except _CallEnd:
            self._ended_outside_task()

    def _arm(self, deadline: float) -> None:
        """Put this wait's deadline (inf: none) in the engine's timer queue."""
        self._armed_deadline = deadline
        if deadline != _INF:
            self._queue.schedule(self, self._seq, deadline)

    def _disarm(self) -> None:
        """Void this call's entry in the timer queue (see TimerQueue.dropped)."""
        self._seq += 1
        armed = self._armed_deadline
        if armed != _INF:
            self._armed_deadline = _INF
            self._queue.dropped(armed)

    # ------------------------------------------------------------------ the task

    async def run(self) -> Call | None:
        """The call's task body: run the scenario until the call ends.

        Returns the next call this task should run when the engine handed it one (a call that
        ended outside its task waits, parked, to be reused: see
        ``Engine.keep_task_for_next_call``), else None.
        """
        engine = self.engine
        try:
            if self.adopted:
                # Started outside (start_outside); the first wake-up brought the task here.
                self.adopted = False
                woken: object | None = self._adopted_wake
                self._adopted_wake = None
                if woken is not _WAKE_FLUSH:
                    if woken is _WAKE_END and self._sends_blocked():
                        await self._flush_blocked()
                    return woken if type(woken) is Call else None
                deadline = _INF  # the loop flushes, then settles
            else:
                if self.pending_failure is not None:
                    # Failed as it was created (no -tdmmap circuit free): nothing is sent.
                    self._end(self.pending_failure)
                if engine.media is not None and self.call_number:
                    await self._open_media()
                deadline = self._settle()
            while True:
                if deadline == _ENDED:
                    return None
                if self._sends_blocked():
                    await self._flush_blocked()
                    deadline = self._settle()
                    continue
                if self.pending_failure is not None:
                    self._end(self.pending_failure)
                # Park until an event needs the task. Inlined Parker.park: one coroutine
                # level less per parked call is also less for the garbage collector to walk.
                self._disarm()
                self._arm(deadline)
                self._task = trio.lowlevel.current_task()
                woken = await trio.lowlevel.wait_task_rescheduled(self._abort)
                if woken is _WAKE_FLUSH:
                    deadline = _INF  # the loop flushes, then settles
                    continue
                if woken is _WAKE_END and self._sends_blocked():
                    await self._flush_blocked()
                # _WAKE_END, a next call for this task, or None (the run is over).
                return woken if type(woken) is Call else None
        except _CallEnd:
            return None
        finally:
            if not self.detached:
                # (A detached call's task has moved on to a next call: the timewait goes on.)
                self._disarm()
                engine.call_finished(self)
            # Messages that arrived for the call after its end are dead-call messages, as
            # they would have been had they arrived a moment later.
            mailbox = self.mailbox
            while mailbox:
                engine.dead_call_message(mailbox.popleft().raw, self.flow)

    async def _open_media(self) -> None:
        """Bind the call's RTP/RTCP ports before its first element (``[media_port]`` names
        them). Events arriving meanwhile queue in the mailbox (the task is not parked)."""
        factory = self.engine.media
        assert factory is not None
        try:
            media = await factory.open_call(self.call_id, self.call_number)
        except BindError as exc:
            # The call cannot do what its scenario asks (its SDP would name no port): it
            # fails before sending anything, counted, and the error log says why.
            self.engine.warning(f"call {self.call_id}: no media: {exc}")
            self._end(FailureReason.MEDIA_PORTS)
        if self.ended:
            media.close()
            return
        self.media = media
        self.media_port = media.audio_port
        self.video_port = media.video_port
        failure = media.failure
        if failure is not None:
            # The media could not be set up (TURN server unreachable): nothing is sent.
            self.engine.warning(f"call {self.call_id}: media: {failure}")
            self._end(FailureReason.CALL_REJECTED)
        media.on_failure(self._media_failed_outside)

    def _media_failed_outside(self, text: str) -> None:
        """The call's secure media failed (DTLS handshake, TURN): the call fails, the dialog
        is ended (BYE/CANCEL), and the warning names the reason."""
        if self.ended:
            return
        self.engine.warning(f"call {self.call_id}: media: {text}")
        self.fail_outside(FailureReason.CALL_REJECTED, abort=True)

    def media_keyword(self, name: str) -> str:
        """``[dtls_fingerprint]``, ``[ice_ufrag]``, ...: asked of the call's media."""
        media = self.media
        return media.keyword(name) if media is not None else ""

    def _handle(self, event: SipMessage | None) -> float:
        """Handle a message (or, for None, the due timers), then run on to the next wait
        (see _settle)."""
        if event is None:
            self._handle_timers(self.engine.now())
        else:
            self._process_incoming(event)
        return self._settle()

    def _settle(self) -> float:
        """Run elements and queued events until the call must wait; its next deadline.

        Returns early (inf) when sends are blocked: the task must flush them first; _ENDED
        when the call reached the end of its scenario (other ends raise _CallEnd).
        """
        engine = self.engine
        elements = engine.scenario.elements
        count = len(elements)
        while not self._sends_blocked():
            if self._run_ready_elements(elements, count):
                return _ENDED
            if self._sends_blocked():
                break
            # Read again each time: handling a message can create the mailbox (below).
            mailbox = self.mailbox
            if mailbox:
                self._process_incoming(mailbox.popleft())
                continue
            if self.commands:
                self._process_command(self.commands.popleft())
                continue
            deadline = min(self.retrans_deadline, self.recv_deadline, self.pause_end)
            if deadline != _INF:
                now = engine.now()
                if deadline <= now:
                    self._handle_timers(now)
                    continue
            return deadline
        return _INF

    async def _flush_blocked(self) -> None:
        """Send what waited for room in the socket buffer, in order (``-send_timeout`` bounds
        each wait: FailedTimeoutOnSend); a failed scenario send ends the call
        (FailedCannotSendMessage), a failed retransmission is only a warning.
        """
        engine = self.engine
        queued = self.blocked_sends
        assert queued is not None
        timeout_s = engine.send_timeout_s
        while queued:
            data, fatal = queued.pop(0)
            try:
                if timeout_s > 0:
                    with trio.move_on_after(timeout_s) as scope:
                        await self.flow.send(data)
                    if scope.cancelled_caught:
                        if fatal:
                            self.blocked_sends = None
                            self._fail(FailureReason.TIMEOUT_ON_SEND, abort=False)
                        continue
                else:
                    await self.flow.send(data)
            except TransportError as exc:
                engine.warning(f"Call-ID '{self.call_id}': {exc}")
                if fatal and self._send_error_fails_call(exc):
                    self.blocked_sends = None
                    self._fail(
                        self.pending_failure or FailureReason.CANNOT_SEND_MESSAGE, abort=False
                    )
                continue
            engine.trace_sent(self, data)
        self.blocked_sends = None

    def _sends_blocked(self) -> bool:
        # A method, not an inline test: mypy keeps an attribute narrowed by `is None` across
        # the calls that may set it, and the mypyc build would then reject the list it finds.
        return self.blocked_sends is not None

    def _transmit(self, data: bytes, *, fatal: bool) -> bool:
        """Send now if the socket takes it (True); else queue it for the task (False).

        Once a send is queued, later ones queue behind it so the peer sees them in order.
        A transport error fails the call for ``fatal`` (scenario) sends, else it is a warning
        and the data counts as sent.
        """
        queued = self.blocked_sends
        if queued is not None:
            queued.append((data, fatal))
            return False
        try:
            if self.flow.send_nowait(data):
                return True
        except TransportError as exc:
            self.engine.warning(f"Call-ID '{self.call_id}': {exc}")
            if fatal and self._send_error_fails_call(exc):
                self._fail(FailureReason.CANNOT_SEND_MESSAGE, abort=False)
            return True
        self.blocked_sends = [(data, fatal)]
        return False

    def _send_error_fails_call(self, exc: TransportError) -> bool:
        """A scenario message could not be sent: FailedCannotSendMessage, unless the kernel
        only lacked buffer space and ``-sendbuffer_warn`` is on; then the warning is all and
        the call goes on as if the message had left (a UDP retransmission may recover it)."""
        return not (self.engine.sendbuffer_warn and isinstance(exc, SendBufferError))

    def _run_ready_elements(self, elements: tuple[Element, ...], count: int) -> bool:
        """Execute elements until the call must wait (recv, pause, blocked send) or ends;
        True when it has just ended at the end of its scenario or timewait."""
        while True:
            index = self.index
            if index >= count:
                self._finish(None)
                return True
            element = elements[index]
            if element.condexec is not None and not self._condexec_ok(element):
                # SIPp still honours next/test/chance of a skipped element
                # (docs/sipp-behaviour.md, "Call flow").
                self._advance(element)
                continue
            kind = element.kind
            if kind is ElementKind.SEND:
                if self.retrans_deadline != _INF:
                    # Previous message not answered yet: wait (docs/sipp-behaviour.md,
                    # "Processing an incoming message").
                    return False
                self._send_element(element)
                if self.index == index:
                    self._advance(element)
                if self._sends_blocked():
                    return False  # the task waits for the socket, then carries on from here
                continue
            if kind is ElementKind.RECV:
                if self.recv_deadline_index != index:
                    self._arm_recv_timeout(element, index)
                return False
            if kind is ElementKind.PAUSE:
                if self.pause_index != index:
                    self._start_pause(element, index)
                if self.engine.now() < self.pause_end:
                    return False
                self.pause_end = _INF
                self.pause_index = -1
                if element.is_timewait:
                    self._finish(None)
                    return True
                self._advance(element)
                continue
            if kind is ElementKind.NOP:
                # SIPp never counts nop executions (its counts file shows 0 for them).
                self._bookkeeping(element)
                if element.actions:
                    self._apply_actions(element, None)
                    if self.index != index:
                        continue
                self._advance(element)
                continue
            if kind is ElementKind.SENDCMD:
                self._send_command(element)
                if self.index == index:
                    self._advance(element)
                continue
            # ElementKind.RECVCMD: wait for the twin's command.
            if not self.engine.commands_connected():
                # The twin is gone: no command can come (the run is ending).
                self._fail(FailureReason.TCP_CLOSED, abort=True)
            if self.recv_deadline_index != index:
                self._arm_recv_timeout(element, index)
            return False

    # ------------------------------------------------------------------ element helpers

    def _condexec_ok(self, element: Element) -> bool:
        assert element.condexec is not None
        is_set = self.variables.is_set(element.condexec)
        return (not is_set) if element.condexec_inverse else is_set

    def _advance(self, element: Element) -> None:
        """SIPp's next(): follow ``next`` when the test and chance allow it, else step by one."""
        target = element.next_index
        if target is not None and (element.test is None or self.variables.is_set(element.test)):
            chance = element.chance
            if chance is None or self.rng.random() < chance:
                self.index = target
                return
        self.index = element.index + 1

    def _bookkeeping(self, element: Element) -> None:
        """Counters and response-time timers (docs/sipp-behaviour.md, "Element bookkeeping")."""
        engine = self.engine
        if element.counter is not None:
            engine.stats.generic_counters[element.counter] += 1
        if element.start_rtd is not None:
            if self.rtd_starts is None:
                self.rtd_starts = {}
            self.rtd_starts[element.start_rtd] = engine.now()
        rtd = element.rtd
        if rtd is not None:
            bit = 1 << rtd
            if self.rtd_done & bit and not element.repeat_rtd:
                return
            now = engine.now()
            starts = self.rtd_starts
            started = self.start_s if starts is None else starts.get(rtd, self.start_s)
            engine.stats.rtd_sample(rtd, now - started, now, call_number=self.call_number)
            self.rtd_done |= bit

    def _arm_recv_timeout(self, element: Element, index: int) -> None:
        timeout_ms = element.recv_timeout_ms
        if timeout_ms is None:
            timeout_ms = self.engine.recv_timeout_ms
        self.recv_deadline_index = index
        if timeout_ms and timeout_ms > 0:
            self.recv_deadline = self.engine.now() + timeout_ms / 1000.0
        else:
            self.recv_deadline = _INF

    def _start_pause(self, element: Element, index: int) -> None:
        assert element.pause is not None
        engine = self.engine
        engine.stats.elements[index].messages += 1
        self._bookkeeping(element)
        duration_ms = engine.fixed_pause_ms[index]
        if duration_ms < 0:
            duration_ms = element.pause.sample_ms(self.rng, self.variables, engine.pause_default_ms)
        self.pause_index = index
        self.pause_end = engine.now() + duration_ms / 1000.0

    # ------------------------------------------------------------------ sending

    def _send_element(self, element: Element) -> None:
        engine = self.engine
        index = element.index
        counters = engine.stats.elements[index]
        is_request = not element.is_response
        if is_request and element.method not in ("ACK", "CANCEL"):
            self.cseq += 1
        if engine.needs_bookkeeping[index]:
            self._bookkeeping(element)
        assert element.template is not None
        text = element.template.render(self, index)
        data = text.encode("latin-1")
        media = self.media
        if media is not None:
            data = media.outgoing(data)  # our SDP's a=crypto keys (issue 18)
            if media.failure is not None:
                self._media_failed(media.failure)
        lost_pct = element.lost_pct if element.lost_pct is not None else engine.lost_pct
        if lost_pct and self.rng.random() * 100.0 < lost_pct:
            counters.lost += 1
            engine.trace_lost(self, data)
        elif self._transmit(data, fatal=True) and engine.tracer is not None:
            engine.trace_sent(self, data)
        self.last_sent = data
        self.last_send_index = index
        self.last_send_is_invite = is_request and element.method == "INVITE"
        if is_request and element.method not in ("ACK", "CANCEL"):
            # The fallback Request-URI of [next_url], [last_Request_URI] and the automatic
            # BYE/CANCEL/ACK when nothing better is known (see keywords.last_request_uri).
            line_end = text.find("\r\n")
            parts = text[: line_end if line_end >= 0 else len(text)].split(" ")
            if len(parts) >= 3:
                self.request_uri = parts[1]
        if self.last_recv_hash:
            # A retransmission of the message that triggered this send gets this send again.
            self.recv_retrans_hash = self.last_recv_hash
            self.recv_retrans_bytes = data
            self.recv_retrans_recv_index = self.last_recv_index
            self.recv_retrans_send_index = index
            self.last_recv_hash = 0
        if element.retrans_ms and engine.retransmissions_enabled and not self.reliable:
            self.retrans_interval_s = element.retrans_ms / 1000.0
            self.retrans_deadline = engine.now() + self.retrans_interval_s
            self.retrans_count = 0
            self.retrans_index = index
        if is_request and element.method == "ACK":
            self.established = True
            self.ack_pending = False
        counters.messages += 1
        if element.actions:
            self._apply_actions(element, text)

    def _send_command(self, element: Element) -> None:
        """``<sendCmd>``: render the command and hand it to the twin's connection
        (docs/sipp-behaviour.md, "3PCC"); no connection to send it on: FailedCmdNotSent."""
        engine = self.engine
        index = element.index
        if engine.needs_bookkeeping[index]:
            self._bookkeeping(element)
        assert element.template is not None
        text = element.template.render(self, index)
        if not engine.send_command(self, text, element.peer):
            engine.warning(
                f"Call-ID '{self.call_id}': 3PCC command not sent (no connection to"
                f" {element.peer or 'the twin'})"
            )
            self._fail(FailureReason.CMD_NOT_SENT, abort=True)
        engine.stats.elements[index].messages += 1
        if element.actions:
            self._apply_actions(element, None)

    def _process_command(self, text: str) -> None:
        """A 3PCC command for this call: ``abort_call``, or the next ``<recvCmd>`` (searched
        forward over optional elements and nops; anything else first rejects the call)."""
        engine = self.engine
        if is_abort_command(text):
            self.twin_aborted = True
            engine.warning(f"Call-ID '{self.call_id}': aborted by the 3PCC twin (abort_call)")
            self._fail(FailureReason.CALL_REJECTED, abort=True)
        elements = engine.scenario.elements
        count = len(elements)
        found = self.index
        while found < count:
            element = elements[found]
            if element.kind is ElementKind.RECVCMD:
                break
            if element.kind is not ElementKind.NOP and element.optional is Optional.NO:
                found = count
                break
            found += 1
        if found >= count:
            engine.warning(
                f"Call-ID '{self.call_id}': 3PCC command received while expecting"
                f" '{self._describe_expected(min(self.index, count - 1))}'"
                f" (index {self.index}): rejecting the call"
            )
            self._fail(FailureReason.CALL_REJECTED, abort=True)
        element = elements[found]
        if element.peer is not None:
            sender = command_sender(text)
            if sender != element.peer:
                engine.warning(
                    f"Call-ID '{self.call_id}': Unexpected sender '{sender or ''}' for"
                    f' <recvCmd src="{element.peer}"> (index {found}): rejecting the call'
                )
                self._fail(FailureReason.CALL_REJECTED, abort=True)
        if engine.needs_bookkeeping[found]:
            self._bookkeeping(element)
        engine.stats.elements[found].messages += 1
        # SIPp strips the command's trailing CRLFs before the actions see it.
        command = text.rstrip("\r\n")
        self.index = found
        if element.actions:
            before = self.index
            self._apply_actions(element, command)
            if self.index != before:
                return  # an action jumped
        self.recv_deadline = _INF
        self.recv_deadline_index = -1
        self.pause_end = _INF
        self.pause_index = -1
        self._advance(element)

    def _send_default(self, name: str, msg_index: int | None = None) -> bool:
        """Send one of the automatic messages: ack, bye, cancel, 200 (docs/sipp-behaviour.md,
        "Default messages").

        These are small and rare; if the socket buffer is full the message is dropped with a
        warning rather than holding up the abort path.
        """
        scenario = self.engine.scenario
        template = scenario.default_messages[name]
        if name == "bye":
            self.cseq += 1
        if msg_index is None:
            # SIPp renders these with message index -1, so its BYE's branch ends "-<n>--1".
            # One past the last element keeps the branch well-formed and still unlike every
            # branch the scenario's own messages carry. (The ACK of an error response is
            # rendered with -2, SIPp's "current index minus one"; its template has no [branch].)
            msg_index = len(scenario.elements)
        text = template.render(self, msg_index, self.index)
        data = text.encode("latin-1")
        try:
            if not self.flow.send_nowait(data):
                self.engine.warning(f"Call-ID '{self.call_id}': send buffer full, {name} dropped")
                return False
        except TransportError as exc:
            self.engine.warning(f"Call-ID '{self.call_id}': {exc}")
            return False
        self.engine.trace_sent(self, data)
        return True

    # ------------------------------------------------------------------ timers

    def _handle_timers(self, now: float) -> None:
        if now >= self.retrans_deadline:
            self._retransmit_timer_expired(now)
        if now >= self.recv_deadline:
            if self.recv_deadline_index == self.index:
                self._recv_timed_out()
            else:
                # Left behind by a jump away from its receive: re-armed if that is reached again.
                self.recv_deadline = _INF
                self.recv_deadline_index = -1
        # An expired pause is picked up by _run_ready_elements.

    def _retransmit_timer_expired(self, now: float) -> None:
        engine = self.engine
        index = self.retrans_index
        if self.retrans_count >= engine.max_retransmissions(self.last_send_is_invite):
            self.retrans_deadline = _INF
            engine.stats.elements[index].timeouts += 1
            element = engine.scenario.elements[index]
            engine.warning(
                f"Aborting call on UDP retransmission timeout for Call-ID '{self.call_id}'"
            )
            if element.ontimeout_index is not None:
                self._jump_on_timeout(element.ontimeout_index)
                return
            self._fail(FailureReason.MAX_UDP_RETRANS, abort=True)
        assert self.last_sent is not None
        self.retrans_count += 1
        engine.stats.retransmissions += 1
        engine.stats.elements[index].retrans += 1
        if self._transmit(self.last_sent, fatal=False):
            engine.trace_sent(self, self.last_sent)
        self.retrans_interval_s = next_retransmit_interval_s(
            self.retrans_interval_s, is_invite=self.last_send_is_invite, t2_s=engine.t2_s
        )
        self.retrans_deadline = now + self.retrans_interval_s

    def _recv_timed_out(self) -> None:
        engine = self.engine
        index = self.index
        element = engine.scenario.elements[index]
        self.recv_deadline = _INF
        self.recv_deadline_index = -1
        engine.stats.elements[index].timeouts += 1
        if element.ontimeout_index is not None:
            self._jump_on_timeout(element.ontimeout_index)
            return
        engine.warning(
            f"Call-Id: {self.call_id}, receive timeout on message "
            f"{engine.scenario.name}:{index} without label to jump to (ontimeout attribute): "
            "aborting call"
        )
        self._fail(FailureReason.TIMEOUT_ON_RECV, abort=True)

    def _jump_on_timeout(self, target: int) -> None:
        # A label at the very end reached through ontimeout counts as a failure
        # (docs/sipp-behaviour.md, "Element bookkeeping").
        self.index = target
        self.pause_end = _INF
        self.pause_index = -1
        self.recv_deadline = _INF
        self.recv_deadline_index = -1
        if target >= len(self.engine.scenario.elements):
            self.action_failure = self.action_failure or FailureReason.TIMEOUT_ON_RECV

    # ------------------------------------------------------------------ receiving

    def _process_incoming(self, message: SipMessage) -> None:
        """SIPp's process_incoming (docs/sipp-behaviour.md, "Processing an incoming message")."""
        engine = self.engine
        elements = engine.scenario.elements
        index = self.index
        current = elements[index] if index < len(elements) else None

        if engine.pause_msg_ign and current is not None and current.kind is ElementKind.PAUSE:
            return
        to_value = message.header("To")
        if to_value is None:
            self._unexpected(message)
            return

        if engine.retransmissions_enabled:
            digest = message_hash(message, loose=engine.rtcheck_loose)
            if digest == self.recv_retrans_hash and self.recv_retrans_bytes is not None:
                engine.stats.elements[self.recv_retrans_recv_index].retrans += 1
                engine.stats.elements[self.recv_retrans_send_index].retrans += 1
                engine.stats.retransmissions += 1
                engine.trace_received(self, message)
                if self._transmit(self.recv_retrans_bytes, fatal=False):
                    engine.trace_sent(self, self.recv_retrans_bytes)
                return
            if digest == self.last_recv_hash and self.last_recv_index >= 0:
                engine.stats.elements[self.last_recv_index].retrans += 1
                engine.trace_received(self, message)
                return
        else:
            digest = 0

        if engine.tracer is not None:
            engine.trace_received(self, message)
        is_response = not message.is_request
        if is_response and to_value != self._tag_source:
            self._tag_source = to_value
            tag = header_param(to_value, "tag")
            if tag is not None:
                self.peer_tag = tag

        found = self._match_forward(message, elements, index)
        if found < 0:
            found = self._match_backward(message, elements, index)
            if found == -2:
                return  # handled as a retransmitted final response (ACK re-sent)
        if found < 0:
            self._not_matched(message, index)
            return

        element = elements[found]
        counters = engine.stats.elements[found]
        lost_pct = element.lost_pct if element.lost_pct is not None else engine.lost_pct
        if lost_pct and self.rng.random() * 100.0 < lost_pct:
            counters.lost += 1
            return
        self.received_anything = True
        sdp_problem: str | None = None
        media_failure: str | None = None
        if self.media is not None and message.body and not element.ignoresdp:
            sdp_problem = self._peer_sdp(message)
            media_failure = self.media.failure
        if engine.needs_bookkeeping[found]:
            self._bookkeeping(element)
        counters.messages += 1

        if not is_response:
            if message.cseq_number > self.cseq:
                self.cseq = message.cseq_number
            if message.method == "ACK":
                self.established = True

        # Retransmission timer of the last send (docs/sipp-behaviour.md, "Processing an
        # incoming message").
        if self.retrans_deadline != _INF:
            if is_response:
                if message.status_code < 200 and not self.last_send_is_invite:
                    self.retrans_interval_s = engine.t2_s
                    self.retrans_deadline = engine.now() + engine.t2_s
                else:
                    self.retrans_deadline = _INF
            elif message.method in _TIMER_CANCELLING_REQUESTS and found > self.last_send_index:
                self.retrans_deadline = _INF
        if is_response and message.status_code == 200 and self.last_send_is_invite:
            self.ack_pending = True
        if element.rrs and not self._rrs_done:
            self._rrs_done = True
            self.route_set, self.next_url = compute_route_set(message, from_response=is_response)
        if element.auth and is_response and message.status_code in (401, 407):
            challenge = message.header("Proxy-Authenticate")
            self.auth_challenge_is_proxy = challenge is not None
            if challenge is None:
                challenge = message.header("WWW-Authenticate")
            self.auth_challenge = challenge
            self.auth_nonce_count = 1
        if element.advance_state:
            self.last_message = message
            self.last_recv_hash = digest
            self.last_recv_index = found
        if sdp_problem is not None:
            # Once the message is taken in (so the dialog tidy-up ACKs a 200 and says BYE),
            # and before its actions: no media action runs against an unusable peer.
            engine.warning(f"call {self.call_id}: {sdp_problem}")
            self._fail(FailureReason.MEDIA_SDP, abort=True)
        if media_failure is not None:
            # Counted received first: the abort then ACKs a 200 and sends BYE, as for any
            # call failed after its answer.
            self._media_failed(media_failure)

        moved = False
        if (
            element.optional is Optional.NO
            or element.next_index is not None
            and (element.test is None or self.variables.is_set(element.test))
        ):
            self.index = found
            moved = True
        if element.actions:
            before = self.index
            self._apply_actions(element, message.text)
            if self.index != before:
                return  # an action jumped
        if moved:
            self.recv_deadline = _INF
            self.recv_deadline_index = -1
            self.pause_end = _INF
            self.pause_index = -1
            self._advance(element)

    @staticmethod
    def _matches(element: Element, message: SipMessage) -> bool:
        if message.is_request:
            return element.matches_request(message.method)
        return element.matches_response(message.status_code, message.cseq_method)

    def _match_forward(self, message: SipMessage, elements: tuple[Element, ...], index: int) -> int:
        count = len(elements)
        while index < count:
            element = elements[index]
            if self._matches(element, message):
                return index
            if element.kind is ElementKind.RECV and element.optional is not Optional.NO:
                index += 1
                continue
            break
        return -1

    def _match_backward(
        self, message: SipMessage, elements: tuple[Element, ...], index: int
    ) -> int:
        contiguous = True
        search = index - 1
        while search >= 0:
            element = elements[search]
            if element.optional is Optional.NO:
                contiguous = False
            if self._matches(element, message):
                if contiguous or element.optional is Optional.GLOBAL:
                    return search
                if (
                    not message.is_request
                    and message.status_code < 200
                    and self.established
                    and message.cseq_method == "INVITE"
                ):
                    # A provisional response to an INVITE this call has already acknowledged:
                    # a peer answering a retransmitted INVITE late (RFC 3261 17.1.1.2 discards
                    # it). Counted as a retransmission of that element, not an unexpected one.
                    self.engine.stats.elements[search].retrans += 1
                    return -2
                if (
                    not message.is_request
                    and message.status_code >= 200
                    and search + 1 < len(elements)
                ):
                    following = elements[search + 1]
                    if (
                        following.kind is ElementKind.SEND
                        and following.method == "ACK"
                        and self.last_sent is not None
                        and self.last_send_index == search + 1
                    ):
                        # A retransmitted final response already acknowledged: ACK again.
                        self._resend_nowait(self.last_sent)
                        return -2
            search -= 1
        return -1

    def _resend_nowait(self, data: bytes) -> None:
        engine = self.engine
        try:
            self.flow.send_nowait(data)
        except TransportError as exc:
            engine.warning(f"Call-ID '{self.call_id}': {exc}")
            return
        engine.stats.retransmissions += 1
        engine.trace_sent(self, data)

    def _not_matched(self, message: SipMessage, index: int) -> None:
        """No element matched: _unexp.main, automatic answers, unexpected message (the end of
        docs/sipp-behaviour.md, "Processing an incoming message")."""
        engine = self.engine
        scenario = engine.scenario
        unexp = scenario.unexp_main_index
        if unexp is not None and index < unexp:
            if scenario.has_retaddr:
                self.variables.set("_unexp.retaddr", float(index))
            if scenario.has_pausedaddr:
                paused = 0.0 if self.pause_end == _INF else self.pause_end * 1000.0
                self.variables.set("_unexp.pausedaddr", paused)
            self.index = unexp
            self.pause_end = _INF
            self.pause_index = -1
            self.recv_deadline = _INF
            self.recv_deadline_index = -1
            mailbox = self.mailbox
            if mailbox is None:
                self.mailbox = deque((message,))
            else:
                mailbox.appendleft(message)
            return
        behaviors = engine.default_behaviors
        if message.is_request:
            method = message.method
            if method in ("BYE", "CANCEL") and "abortunexp" in behaviors:
                if "bye" in behaviors:
                    self._answer_200(message)
                self._count_unexpected(message, index)
                self._end(FailureReason.UNEXPECTED_MESSAGE)
            if method == "PING" and "pingreply" in behaviors:
                self._answer_200(message)
                engine.stats.auto_answered += 1
                self._end(None, counted=False)
            if method in AUTO_ANSWERED_METHODS and engine.auto_answer:
                self._answer_200(message)
                engine.stats.auto_answered += 1
                return
        self._count_unexpected(message, index)
        if "abortunexp" in behaviors:
            self._fail(FailureReason.UNEXPECTED_MESSAGE, abort=True)

    def _unexpected(self, message: SipMessage) -> None:
        engine = self.engine
        engine.trace_received(self, message)
        self._count_unexpected(message, self.index)
        if "abortunexp" in engine.default_behaviors:
            self._fail(FailureReason.UNEXPECTED_MESSAGE, abort=True)

    def _count_unexpected(self, message: SipMessage, index: int) -> None:
        # The abort logic answers what was actually received (e.g. ACK a 486 with its To tag).
        self.last_message = message
        self.received_anything = True
        engine = self.engine
        elements = engine.scenario.elements
        last = len(elements) - 1
        counter_index = min(index, last)
        # SIPp charges the first mandatory element the forward search stopped at (the cursor
        # waits "on" the optional receives before it), e.g. the 200 after optional 100/180.
        while (
            counter_index < last
            and elements[counter_index].kind is ElementKind.RECV
            and elements[counter_index].optional is not Optional.NO
        ):
            counter_index += 1
        engine.stats.elements[counter_index].unexpected += 1
        if not message.is_request:
            engine.stats.unexpected_response_code(message.status_code, engine.now())
        expecting = self._describe_expected(counter_index)
        engine.trace_unexpected(self, message, expecting)
        engine.warning(
            f"Aborting call on unexpected message for Call-Id '{self.call_id}': while expecting "
            f"'{expecting}' (index {counter_index}), received '{message.text}'"
        )

    def _describe_expected(self, index: int) -> str:
        element = self.engine.scenario.elements[index]
        if element.kind is ElementKind.RECV:
            return element.response or element.request or ""
        if element.kind is ElementKind.SEND:
            return str(element.status_code) if element.is_response else element.method
        return ""

    def _answer_200(self, request: SipMessage) -> bool:
        """Answer an in-call request with the default 200, built from that request."""
        previous = self.last_message
        self.last_message = request
        try:
            return self._send_default("200")
        finally:
            self.last_message = previous

    # ------------------------------------------------------------------ actions

    def _apply_actions(self, element: Element, message_text: str | None) -> None:
        engine = self.engine
        outcome: ActionOutcome = run_actions(element.actions, self, message_text)
        for line in outcome.log_lines:
            engine.log_action(line)
        for line in outcome.warnings:
            engine.warning(line)
        for command in outcome.commands:
            engine.run_shell_command(command)
        if outcome.fatal_error is not None:
            engine.fatal_action_error(outcome.fatal_error)
        destination = outcome.set_destination
        if destination is not None:
            error = engine.set_destination(self, destination[0], destination[1], destination[2])
            if error is not None:
                engine.fatal_action_error(error)
        if outcome.close_connection:
            engine.close_connection(self)
        if outcome.failure is not None and self.action_failure is None:
            self.action_failure = FailureReason(outcome.failure)
        if outcome.media:
            self._run_media(outcome.media)
        if outcome.stop_now:
            engine.stop_now()
        if outcome.stop_gracefully:
            engine.soft_quit()
        if outcome.jump_index is not None:
            self.index = outcome.jump_index
            self.pause_end = _INF
            self.pause_index = -1
        if outcome.pause_restore_ms is not None:
            self.pause_end = outcome.pause_restore_ms / 1000.0
        if outcome.stop_call:
            reason = FailureReason.CALL_REJECTED if element.kind is ElementKind.RECV else None
            self._end(reason if reason is not None else self.action_failure)

    # ------------------------------------------------------------------ media

    def _peer_sdp(self, message: SipMessage) -> str | None:
        """Where the peer wants media: the SDP of an offer or answer it sent. Returns the
        problem of an unusable SDP (the call fails: FailedMediaSdp), else None; bad SDP
        crypto is left in ``self.media.failure`` (the call fails: FailedCallRejected)."""
        content_type = message.header("Content-Type") or message.header("c")
        if content_type is None or "application/sdp" not in content_type.lower():
            return None
        assert self.media is not None
        problem = self.media.peer_sdp(
            message.body, method=message.method if message.is_request else ""
        )
        return problem

    def _media_failed(self, reason: str) -> NoReturn:
        """Bad or unacceptable SDP crypto: SIPp 3.7 counts the call FailedCallRejected."""
        self.engine.warning(f"call {self.call_id}: {reason}")
        self._fail(FailureReason.CALL_REJECTED, abort=True)

    def crypto_keyword(self, name: str) -> str:
        """``[cryptokeyparams1audio]``...: the call's media keeps the keys it renders."""
        media = self.media
        if media is None:
            # The call's RTP ports could not be bound (warned then): there is nothing to key.
            self.engine.warning(f"call {self.call_id}: [{name}]: the call has no media ports")
            return ""
        return media.crypto_keyword(name)

    def _run_media(self, actions: tuple[MediaAction, ...]) -> None:
        engine = self.engine
        media = self.media
        for action in actions:
            op = action.op
            if op is MediaOp.ECHO_SWITCH:
                if engine.media is not None:
                    engine.media.set_echo(action.on)
                continue
            if media is None:
                engine.warning(f"call {self.call_id}: {op.value}: the call has no media ports")
                continue
            problem: str | None = None
            if op is MediaOp.RTP_STREAM:
                problem = media.rtp_stream(
                    action.file, action.loops, action.payload_type, action.codec
                )
            elif op is MediaOp.RTP_PATTERN:
                problem = media.rtp_pattern(
                    action.media, action.loops, action.payload_type, action.codec
                )
            elif op is MediaOp.PAUSE_STREAM:
                media.pause_stream(action.media)
            elif op is MediaOp.RESUME_STREAM:
                media.resume_stream(action.media)
            elif op is MediaOp.PLAY_PCAP:
                problem = media.play_pcap(action.media, action.file)
            elif op is MediaOp.PLAY_DTMF:
                problem = media.play_dtmf(action.digits, action.duration_ms)
            else:
                media.set_echo(action.media, action.on)
            if problem is not None:
                engine.warning(f"call {self.call_id}: {problem}")

    # ------------------------------------------------------------------ ending

    def _fail(self, reason: FailureReason, *, abort: bool) -> NoReturn:
        """Count the call failed; in client mode, tidy up the dialog first
        (docs/sipp-behaviour.md, "Default messages")."""
        if abort:
            self._abort_dialog()
        self._end(reason)

    def _abort_dialog(self) -> None:
        """SIPp's abort logic, for the calls this side created (server calls are just
        dropped); in 3PCC the twin is told first (``abort_call``)."""
        engine = self.engine
        if engine.twin_mode and not self.twin_aborted and self.index > 0:
            text = engine.scenario.default_messages["3pcc_abort"].render(self, -1, self.index)
            engine.send_abort_command(self, text)
        if self.incoming or "bye" not in engine.default_behaviors:
            return
        last = self.last_message
        if self.last_send_is_invite and not self.established:
            if last is not None and not last.is_request and last.status_code >= 400:
                self._send_default("ack", -2)
            elif self.ack_pending:
                # The ACK of a 200 is a request of the new dialog (RFC 3261 section 13.2.2.4):
                # ack2 goes to the remote target along the route set, with a branch of its own.
                # (A branch unlike the BYE's: the two are different transactions.)
                self._send_default("ack2", len(self.engine.scenario.elements) + 1)
                self._send_default("bye")
            elif self.received_anything:
                self._send_default("cancel")
        elif self.received_anything:
            self._send_default("bye")

    def abort_now(self) -> None:
        """Forced quit: tidy up the dialog and count the call failed (SIPp >= 3.7.5).

        Called from the engine, outside the call's task; the task is cancelled afterwards.
        """
        if self.ended:
            return
        self._abort_dialog()
        self.ended = True
        self.engine.call_ended(self, FailureReason.CALL_REJECTED, counted=True)

    def _end(self, reason: FailureReason | None, *, counted: bool = True) -> NoReturn:
        """Finish the call. Raises _CallEnd to unwind its handling."""
        self._finish(reason, counted=counted)
        raise _CallEnd

    def _finish(self, reason: FailureReason | None, *, counted: bool = True) -> None:
        """Account for the call's end (once); None: a success, unless an action failed."""
        if not self.ended:
            self.ended = True
            if reason is None:
                reason = self.action_failure
            self.engine.call_ended(self, reason, counted=counted)


def answer_out_of_call(
    host: CallHost, flow: Flow, request: SipMessage, variables: Variables
) -> bool:
    """-aa for a request outside any call: the scenario's default 200 OK (the same template as
    in a call, so ``[transport]`` and IPv6 brackets are right), sent through ``flow``.

    A call object stands in for the missing call: it is never registered, counted or run.
    Returns whether the answer was sent.
    """
    stand_in = Call(
        host,
        call_number=0,
        call_id=request.call_id,
        flow=flow,
        incoming=True,
        user_id=0,
        variables=variables,
    )
    return stand_in._answer_200(request)
