"""SimNetwork: an in-memory datagram (and stream) fabric with seeded faults, under virtual time.

Why delivery is deterministic
-----------------------------
Trio runs the tasks that are runnable at one instant in a randomised order, so anything that
depends on *which task ran first* differs between runs. The network therefore never lets that
order leak into what receivers see:

1. ``send_nowait`` does no decision and no delivery. It appends the datagram to an *outbox*
   stamped with the virtual send time and the sending task, and makes the delivery task
   runnable at that same instant (by moving the deadline of the cancel scope it sleeps in to
   ``now``).
2. The single delivery task, once woken at instant ``T``, first awaits
   ``trio.testing.wait_all_tasks_blocked()``. That returns only when every other task is blocked,
   i.e. every task runnable at ``T`` has finished its step and done all of its sends, and
   ``MockClock`` does not autojump while a task waits there. So the outbox now holds, for each
   task, the *sequence* of datagrams it sent at ``T`` (by induction, a function of the seed and
   of what was delivered before), whatever order the tasks ran in.
3. The delivery task then works synchronously (no checkpoint, so no other task can interleave).
   It puts the outbox in its *canonical order*: each task's datagrams stay together and in the
   order that task sent them (a call that sends 180 then 200 must not see them swapped: real UDP
   between two hosts keeps that order when the delay is the same), and the tasks' sequences are
   sorted by their content, datagram by datagram ``(source, destination, kind, blake2b digest)``.
   Tasks are never compared by identity, only grouped by it; two sequences with equal content
   are indistinguishable, so their relative order cannot be observed. In that order it takes
   the fault decisions (each a pure function of seed, purpose and packet identity; see
   ``faults.draw_unit``) and pushes each copy on a heap keyed by ``(deliver_at, n)``, ``n``
   counting pushes since the network started. Finally it pops every entry due at or before
   ``T`` and appends it to the receiving endpoint's queue. So datagrams due at the same instant
   arrive in the order they were decided, and with equal delays every flow is FIFO.
4. Receivers woken by step 3 may send again at ``T`` (zero delay); that starts another round at
   the same instant, again after ``wait_all_tasks_blocked``. Each round's input is fixed, so
   each round's output is fixed. An endpoint whose receiver attached a handler
   (``SimDatagramTransport.receive_each``, the engine's SIP sockets) gets no queue: at the end
   of the round the delivery task itself calls the handler with the endpoint's datagrams of the
   round, endpoint after endpoint in the order of their first delivery, exactly what a receive
   task woken by the round would have done with its batch (in an order Trio could have chosen).
   What a handler sends is grouped in the outbox under its endpoint, as a receive task's sends
   are under that task. If the round woke no task (``_others_may_run``), the next round starts
   at once instead of after a pass of Trio's loop; a round that only decided datagrams for later
   ends the instant's rounds. This halves the passes of Trio's loop per simulated call.
5. ``wait_instant_end(key)`` extends the same argument to work that must see the *end* of an
   instant (statistics dumps, pacing decisions): when a round finds nothing to decide or
   deliver, every task is blocked and nothing more can happen at ``T``; the delivery task then
   releases the waiter with the smallest key, alone, and starts another round after it. So the
   waiters run one at a time, in key order, each seeing the state left by the previous one.

Hence the event log, the order of datagrams in every endpoint's receive queue (and so in every
``receive_batch``) and the statistics depend only on the seed, the fault plan and what the tasks
do with what they receive. Two caveats for callers: endpoints opened with port 0 get ports in the
order ``open_datagram`` is called (open them from one task), and a task that calls
``wait_all_tasks_blocked`` itself and then *sends* at once races this task for its round.
"""

from __future__ import annotations

import enum
import hashlib
import heapq
import itertools
from collections import deque
from collections.abc import AsyncIterator, Callable, Container
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import NoReturn, Protocol

import trio
from trio._core._generated_run import wait_all_tasks_blocked  # see sim/clock.py
from trio._core._run_context import GLOBAL_RUN_CONTEXT

from gossipper.engine.timers import deadline_abort, trio_next_work_at
from gossipper.errors import BindError, ConfigError, GossipperError, TransportError
from gossipper.interfaces import Address, Datagram
from gossipper.sim.faults import (
    SPLIT_STEP_S,
    FaultPlan,
    LinkFaults,
    draw_unit,
    packet_identity,
    split_cuts,
)

EPHEMERAL_PORT_FIRST = 40000
"""First port handed out for port 0, per host and protocol, then counting up (wrapping)."""
EPHEMERAL_PORT_LAST = 65535
MAX_DATAGRAM_BYTES = 65507
"""Largest UDP payload over IPv4; larger sends raise TransportError like a real socket."""

DIGEST_BYTES = 16
"""blake2b digest size used to identify a datagram's content."""

_KIND_DATAGRAM = 0
_KIND_STREAM = 1


MAX_ROUNDS_PER_INSTANT = 20_000
"""Delivery rounds allowed at one virtual instant before the run counts as stalled."""


class SimulationStalled(GossipperError):
    """Virtual time stopped passing: the tasks keep exchanging datagrams at one instant.

    Typical cause: calls that take no time at all (zero network delay, no pause) started again
    and again at the same instant, e.g. ``-users`` without ``-m``. Under a real clock such a
    run would simply go as fast as the CPU allows; under virtual time it would never end.
    """


class EventKind(enum.Enum):
    """What happened to a datagram (or stream segment) in the network."""

    SCHEDULED = "scheduled"
    """A copy was put in flight (``copy`` > 0 is a duplicate; ``reordered`` got extra delay)."""
    LOST = "lost"
    """Dropped by the loss fault."""
    DELIVERED = "delivered"
    """Appended to the destination endpoint's receive queue."""
    DROPPED_UNBOUND = "dropped_unbound"
    """Nobody was bound at the destination when it arrived."""
    DROPPED_OVERFLOW = "dropped_overflow"
    """The destination's receive queue was full (like a full kernel buffer)."""
    STREAM_RESET = "stream_reset"
    """A stream connection was reset by the reset fault."""
    STREAM_REFUSED = "stream_refused"
    """A connection attempt (SYN) was refused by the refuse fault."""
    STREAM_SPLIT = "stream_split"
    """A stream chunk left as several data segments (split fault; ``copy`` = number of pieces)."""
    STREAM_HELD = "stream_held"
    """A stream chunk was held back to leave with the next one (coalesce fault)."""


@dataclass(frozen=True, slots=True)
class NetworkEvent:
    """One entry of the network's event log.

    ``time_s`` is the virtual time of the event: the send time for SCHEDULED, LOST and the
    ``STREAM_*`` faults (for STREAM_SPLIT the time the chunk left, later than ``send_time_s``
    for a held chunk), the arrival time otherwise. ``digest`` is the blake2b-128 hex digest of a
    datagram's bytes, or ``"seq:N"`` for a stream segment. ``occurrence`` numbers identical
    datagrams sent at the same instant; with ``send_time_s`` they complete the identity used to
    seed fault draws.
    """

    time_s: float
    kind: EventKind
    src: Address
    dst: Address
    digest: str
    occurrence: int = 0
    copy: int = 0
    send_time_s: float = 0.0
    deliver_at_s: float | None = None
    reordered: bool = False


@dataclass(frozen=True, slots=True)
class NetworkStatistics:
    """Counters of a ``SimNetwork`` (datagrams unless named otherwise)."""

    sent: int
    delivered: int
    lost: int
    duplicated: int
    reordered: int
    dropped_unbound: int
    dropped_overflow: int
    in_flight: int
    stream_resets: int
    events_dropped: int
    stream_refusals: int = 0
    stream_splits: int = 0
    stream_coalesced: int = 0
    """Chunks held back by the coalesce fault."""
    stream_connections: int = 0
    """Stream connection attempts (SYNs), refused ones included."""
    stream_bytes: int = 0
    """Stream payload bytes written (each write counted once, whatever its fate)."""


class _DatagramPort:
    """Network-side state of one bound datagram endpoint."""

    __slots__ = (
        "address",
        "closed",
        "handler",
        "in_flight",
        "queue",
        "receive_lot",
        "send_lot",
    )

    def __init__(self, address: Address) -> None:
        self.address = address
        self.queue: deque[Datagram] = deque()
        self.receive_lot = trio.lowlevel.ParkingLot()
        self.send_lot = trio.lowlevel.ParkingLot()
        self.in_flight = 0
        self.closed = False
        self.handler: Callable[[bytes, Address], None] | None = None
        """Set by ``receive_each``: datagrams go to it at landing instead of the queue."""


@dataclass(slots=True)
class _OutDatagram:
    time_s: float
    src: Address
    dst: Address
    digest: bytes
    data: bytes
    sender: _DatagramPort
    task: object
    """The sending trio task: grouped by, never ordered by (module docstring, point 3)."""


@dataclass(slots=True)
class _OutSegment:
    time_s: float
    segment: StreamSegment
    task: object


@dataclass(slots=True)
class _DatagramFlight:
    send_time_s: float
    src: Address
    dst: Address
    digest: bytes
    data: bytes
    sender: _DatagramPort
    occurrence: int
    copy: int


class StreamSegment(Protocol):
    """What the stream layer hands the network: one ordered unit of one connection direction."""

    @property
    def direction(self) -> object:
        """The sending end (one per connection direction), or None for a connectionless reply."""
        ...

    @property
    def data(self) -> bytes:
        """The bytes carried (empty except for data segments)."""
        ...

    @property
    def refusable(self) -> bool:
        """Whether the refuse fault may hit this segment (connection attempts only)."""
        ...

    @property
    def aborts(self) -> bool:
        """Whether this segment is an abortive close (RST): unsent held bytes are discarded."""
        ...

    @property
    def src(self) -> Address: ...

    @property
    def dst(self) -> Address: ...

    @property
    def seq(self) -> int: ...

    @property
    def resettable(self) -> bool:
        """Whether the reset fault may hit this segment (data segments only)."""
        ...

    def arrival_after(self, earliest_s: float) -> float:
        """Return the delivery time, never before an earlier segment of the same direction."""
        ...

    def land(self, now: float) -> None:
        """Arrive at the destination."""
        ...

    def reset(self, now: float) -> None:
        """The reset fault hit this segment: reset the whole connection."""
        ...

    def refuse(self) -> None:
        """The refuse fault hit this connection attempt: refuse it on arrival."""
        ...

    def absorb(self, earlier: StreamSegment) -> None:
        """Carry ``earlier``'s (held) bytes before this segment's own (coalesce fault)."""
        ...

    def discard(self) -> None:
        """Drop this segment's (held) bytes: they never leave."""
        ...

    def split(self, cuts: tuple[int, ...]) -> list[StreamSegment]:
        """This data segment cut at the byte offsets ``cuts`` (ascending), in order."""
        ...


class _HeldChunk:
    """A stream chunk held back by the coalesce fault; on the heap, its release deadline."""

    __slots__ = ("network", "release_at_s", "segment", "send_time_s")

    def __init__(
        self, network: SimNetwork, segment: StreamSegment, send_time_s: float, release_at_s: float
    ) -> None:
        self.network = network
        self.segment = segment
        self.send_time_s = send_time_s
        """When the chunk (the last one merged into it) was written: its identity's time."""
        self.release_at_s = release_at_s

    def land(self, now: float) -> None:
        # Nothing followed in time: the chunk leaves alone, unless a later segment of its
        # direction already took it (then this deadline is stale).
        network = self.network
        direction = self.segment.direction
        if network._held.get(direction) is not self:
            return
        del network._held[direction]
        segment = self.segment
        faults = network.faults.for_link(segment.src, segment.dst)
        network._send_segment(segment, self.send_time_s, faults, now)


_Flight = _DatagramFlight | StreamSegment | _HeldChunk
_HeapItem = tuple[float, int, _Flight]
_Out = _OutDatagram | _OutSegment
_OutKey = tuple[float, Address, Address, int, bytes]


def _outbox_key(out: _Out) -> _OutKey:
    if isinstance(out, _OutDatagram):
        return (out.time_s, out.src, out.dst, _KIND_DATAGRAM, out.digest)
    segment = out.segment
    return (out.time_s, segment.src, segment.dst, _KIND_STREAM, segment.seq.to_bytes(8, "big"))


def canonical_order(outbox: list[_Out]) -> list[_Out]:
    """The outbox of one round in canonical order (module docstring, point 3)."""
    if len(outbox) < 2:
        return outbox
    by_task: dict[object, list[_Out]] = {}
    for out in outbox:
        by_task.setdefault(out.task, []).append(out)
    if len(by_task) == 1:
        return outbox
    sequences = [([_outbox_key(out) for out in outs], outs) for outs in by_task.values()]
    sequences.sort(key=lambda item: item[0])
    return [out for _, outs in sequences for out in outs]


DEFAULT_MAX_EVENTS = 250_000
"""Events a network keeps in its log by default; later ones are only counted."""


def _others_may_run() -> bool:
    """After ``wait_all_tasks_blocked`` and synchronous work since: can another task run now?

    Only valid when the caller has not yielded since every other task was blocked (right after
    a wake-up, tasks of the same batch of Trio's loop are neither queued nor blocked). Then the
    only tasks that can run at this instant are those the caller woke (queued), those whose
    deadline it moved to now or earlier (under MockClock such a deadline expires on the next
    pass of the loop) and callbacks from threads. If there are none, ``wait_all_tasks_blocked``
    would return at once after a whole pass of Trio's loop: the delivery task skips it.

    ``trio_next_work_at`` reads it from the run's runner: ``current_statistics()`` was about
    4 % of a simulated call's time when it was called here.
    """
    return trio_next_work_at() <= GLOBAL_RUN_CONTEXT.runner.clock.current_time()


def _check_limit(name: str, value: int) -> None:
    if not (isinstance(value, int) and value > 0):
        raise ConfigError(f"sim network: {name} must be a positive integer, got {value!r}")


def _check_destination(address: Address) -> Address:
    try:
        host, port = address
    except (TypeError, ValueError):
        raise TransportError(f"bad destination address {address!r}") from None
    if not isinstance(host, str) or not isinstance(port, int) or not 0 < port <= 65535:
        raise TransportError(f"bad destination address {address!r}")
    return (host, port)


class SimNetwork:
    """An in-memory network with seeded faults; see the module docstring for the ordering rule.

    Start it with ``await nursery.start(network.run)`` (or ``open_sim_network``) before traffic
    must move; endpoints are opened through ``SimTransportFactory(network, host)``.
    """

    def __init__(
        self,
        seed: int,
        faults: FaultPlan | None = None,
        *,
        receive_queue_limit: int = 65536,
        send_queue_limit: int = 65536,
        max_events: int = DEFAULT_MAX_EVENTS,
        record_payloads: bool = False,
        max_rounds_per_instant: int = MAX_ROUNDS_PER_INSTANT,
    ) -> None:
        if not isinstance(seed, int):
            raise ConfigError(f"sim network: seed must be an integer, got {seed!r}")
        _check_limit("receive_queue_limit", receive_queue_limit)
        _check_limit("send_queue_limit", send_queue_limit)
        _check_limit("max_rounds_per_instant", max_rounds_per_instant)
        if not (isinstance(max_events, int) and max_events >= 0):
            raise ConfigError(f"sim network: max_events must be >= 0, got {max_events!r}")
        self.seed = seed
        self.faults = faults if faults is not None else FaultPlan()
        self.receive_queue_limit = receive_queue_limit
        self.send_queue_limit = send_queue_limit
        self._max_events = max_events
        self._payloads: dict[str, bytes] | None = {} if record_payloads else None
        self._max_rounds = max_rounds_per_instant
        self._events: list[NetworkEvent] = []
        self._outbox: list[_Out] = []
        self._heap: list[_HeapItem] = []
        self._decided = itertools.count()
        self._flow_last_s: dict[tuple[Address, Address], float] = {}
        self._udp: dict[Address, _DatagramPort] = {}
        self._stream_ports: dict[Address, object] = {}
        self._next_port: dict[tuple[str, str], int] = {}
        self._occurrence_time_s = float("nan")  # matches no time: first use resets
        self._occurrences: dict[tuple[Address, Address, bytes], int] = {}
        self._sleep_scope: trio.CancelScope | None = None
        self._direct: dict[_DatagramPort, list[Datagram]] = {}
        """Datagrams of this round for endpoints with a handler (``_hand_over``)."""
        self._receiver: object | None = None
        """While a datagram is handed to an endpoint's handler: that endpoint. What the handler
        sends is grouped under it in the outbox, as a receive task's sends would be."""
        self._instant_waiters: dict[str, trio.lowlevel.Task] = {}
        self._running = False
        self._sent = 0
        self._delivered = 0
        self._lost = 0
        self._duplicated = 0
        self._reordered = 0
        self._dropped_unbound = 0
        self._dropped_overflow = 0
        self._in_flight = 0
        self._stream_resets = 0
        self._events_dropped = 0
        self._stream_refusals = 0
        self._stream_splits = 0
        self._stream_coalesced = 0
        self._stream_connections = 0
        self._stream_bytes = 0
        self._held: dict[object, _HeldChunk] = {}
        """The chunk held back by the coalesce fault, per stream direction (sending end)."""

    # ----------------------------------------------------------------- public surface

    def statistics(self) -> NetworkStatistics:
        """A frozen snapshot of the counters."""
        return NetworkStatistics(
            sent=self._sent,
            delivered=self._delivered,
            lost=self._lost,
            duplicated=self._duplicated,
            reordered=self._reordered,
            dropped_unbound=self._dropped_unbound,
            dropped_overflow=self._dropped_overflow,
            in_flight=self._in_flight,
            stream_resets=self._stream_resets,
            events_dropped=self._events_dropped,
            stream_refusals=self._stream_refusals,
            stream_splits=self._stream_splits,
            stream_coalesced=self._stream_coalesced,
            stream_connections=self._stream_connections,
            stream_bytes=self._stream_bytes,
        )

    def events(self) -> list[NetworkEvent]:
        """A copy of the event log, in the deterministic order the events happened."""
        return list(self._events)

    def payloads(self) -> dict[str, bytes]:
        """The bytes of every distinct datagram sent, by the hex digest used in the event log.

        Empty unless the network was created with ``record_payloads=True`` (for tests and
        debugging: which message was that lost datagram?).
        """
        return dict(self._payloads) if self._payloads is not None else {}

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """The delivery task. Runs until cancelled; only one may run per network."""
        if self._running:
            raise RuntimeError("SimNetwork.run is already running")
        self._running = True
        task = trio.lowlevel.current_task()
        task_status.started()
        try:
            busy = False
            instant_s, rounds = -1.0, 0
            while True:
                # Let every task runnable at this instant finish its sends (module docstring).
                # After a busy round the receivers it woke are likely to answer at this same
                # instant: wait for them directly instead of sleeping until they send.
                if not busy:
                    with trio.CancelScope(deadline=self._next_wake_s()) as scope:
                        self._sleep_scope = scope
                        # Woken by the deadline without a Cancelled raised into the task
                        # and caught by the scope (as much again as the rest of a wake-up).
                        await trio.lowlevel.wait_task_rescheduled(deadline_abort(scope, task))
                    self._sleep_scope = None
                    await wait_all_tasks_blocked()
                elif _others_may_run():
                    await wait_all_tasks_blocked()
                now = trio.current_time()
                if now != instant_s:
                    instant_s, rounds = now, 0
                rounds += 1
                if rounds > self._max_rounds:
                    raise SimulationStalled(
                        f"simulation stalled at virtual time {now:.6f} s: {rounds - 1} rounds of"
                        " datagrams without time passing (calls that take no time, started"
                        " again and again, e.g. -users without -m on a network without delay);"
                        " give the network a delay (-net_delay), the calls a pause (-d) or a"
                        " limit (-m)"
                    )
                busy = self._settle(now)
                if not busy and self._instant_waiters:
                    self._release_instant_waiter()
                    busy = True  # the released task may act at this instant: another round
        finally:
            self._sleep_scope = None
            self._running = False

    async def wait_instant_end(self, key: str) -> None:
        """Wait until nothing more can happen at the current virtual instant, then return.

        Tasks waiting at the same instant are released one at a time in ``key`` order, each
        after everything the previous one set off at this instant has played out (module
        docstring, point 5). Keys must be unique among concurrent waiters. Needs ``run``.

        Raises:
            RuntimeError: another task is waiting with the same key.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if key in self._instant_waiters:
            raise RuntimeError(f"wait_instant_end: key {key!r} is already waiting")
        self._instant_waiters[key] = trio.lowlevel.current_task()
        self._wake_at(trio.current_time())
        waiters = self._instant_waiters

        def abort(_raise_cancel: object) -> trio.lowlevel.Abort:
            waiters.pop(key, None)
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def _release_instant_waiter(self) -> None:
        key = min(self._instant_waiters)
        task = self._instant_waiters.pop(key)
        trio.lowlevel.reschedule(task)

    # ----------------------------------------------------------------- endpoints (package use)

    def _allocate_port(self, host: str, protocol: str, bound: Container[Address]) -> int:
        """Next free ephemeral port of ``host`` for ``protocol``, counting up from 40000."""
        span = EPHEMERAL_PORT_LAST - EPHEMERAL_PORT_FIRST + 1
        start = self._next_port.get((host, protocol), EPHEMERAL_PORT_FIRST)
        for step in range(span):
            port = EPHEMERAL_PORT_FIRST + (start - EPHEMERAL_PORT_FIRST + step) % span
            if (host, port) not in bound:
                nxt = port + 1 if port < EPHEMERAL_PORT_LAST else EPHEMERAL_PORT_FIRST
                self._next_port[(host, protocol)] = nxt
                return port
        raise BindError(f"cannot bind {protocol.upper()} {host}:0: no free ephemeral port")

    def _bind_datagram(self, host: str, port: int) -> _DatagramPort:
        if port == 0:
            port = self._allocate_port(host, "udp", self._udp)
        elif (host, port) in self._udp:
            raise BindError(f"cannot bind UDP {host}:{port}: address already in use")
        endpoint = _DatagramPort((host, port))
        self._udp[(host, port)] = endpoint
        return endpoint

    def _unbind_datagram(self, endpoint: _DatagramPort) -> None:
        if self._udp.get(endpoint.address) is endpoint:
            del self._udp[endpoint.address]

    def _submit_datagram(self, sender: _DatagramPort, data: bytes, dst: Address) -> bool:
        """Accept a datagram for sending at the current instant (see the module docstring)."""
        if sender.in_flight >= self.send_queue_limit:
            return False
        digest = hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()
        if self._payloads is not None:
            self._payloads.setdefault(digest.hex(), data)
        now = trio.current_time()
        group = self._receiver
        if group is None:
            group = trio.lowlevel.current_task()
        self._outbox.append(_OutDatagram(now, sender.address, dst, digest, data, sender, group))
        sender.in_flight += 1
        self._in_flight += 1
        self._sent += 1
        self._wake_at(now)
        return True

    def _submit_segment(self, segment: StreamSegment) -> None:
        """Queue a stream segment sent at the current instant."""
        now = trio.current_time()
        group = self._receiver
        if group is None:
            group = trio.lowlevel.current_task()
        self._outbox.append(_OutSegment(now, segment, group))
        self._wake_at(now)

    # ----------------------------------------------------------------- delivery machinery

    def _wake_at(self, when_s: float) -> None:
        scope = self._sleep_scope
        if scope is not None and when_s < scope.deadline:
            scope.deadline = when_s

    def _next_wake_s(self) -> float:
        if self._outbox or self._instant_waiters:
            return trio.current_time()
        if self._heap:
            return self._heap[0][0]
        return float("inf")

    def _record(self, event: NetworkEvent) -> None:
        if len(self._events) < self._max_events:
            self._events.append(event)
        else:
            self._events_dropped += 1

    def _settle(self, now: float) -> bool:
        """One round at ``now``: decide the outbox in key order, then deliver what is due.

        Returns whether the round may have made a task runnable: a delivery, a sender whose
        send queue a loss released, any stream event. Only then can more happen at ``now``;
        datagrams decided for later wake nobody, so they need no further round (a round costs
        the delivery task a ``wait_all_tasks_blocked``)."""
        woke = False
        if self._outbox:
            outbox, self._outbox = self._outbox, []
            lost_before = self._lost
            for out in canonical_order(outbox):
                if isinstance(out, _OutDatagram):
                    self._schedule_datagram(out)
                else:
                    woke = True
                    self._schedule_segment(out.segment, out.time_s)
            if self._lost != lost_before:
                woke = True
        heap = self._heap
        while heap and heap[0][0] <= now:
            woke = True
            flight = heapq.heappop(heap)[-1]
            if isinstance(flight, _DatagramFlight):
                self._land_datagram(flight, now)
            else:
                flight.land(now)
        if self._direct:
            self._hand_over()
        return woke

    def _hand_over(self) -> None:
        """Give each endpoint with a handler the datagrams it got this round, as its receive
        task would have after the round: the whole batch at once, endpoints in the order of
        their first delivery (receive tasks ran in any order; each endpoint's sends stay one
        group in the outbox, as theirs did)."""
        direct, self._direct = self._direct, {}
        try:
            for port, batch in direct.items():
                handler = port.handler
                if handler is None or port.closed:
                    continue  # closed during the round: a queue would have been cleared
                self._receiver = port
                for data, source in batch:
                    handler(data, source)
        finally:
            self._receiver = None

    def _next_occurrence(self, time_s: float, key: tuple[Address, Address, bytes]) -> int:
        if time_s != self._occurrence_time_s:
            self._occurrence_time_s = time_s
            self._occurrences.clear()
        occurrence = self._occurrences.get(key, 0)
        self._occurrences[key] = occurrence + 1
        return occurrence

    def _schedule_datagram(self, out: _OutDatagram) -> None:
        src, dst, time_s = out.src, out.dst, out.time_s
        faults = self.faults.for_link(src, dst)
        digest_hex = out.digest.hex()
        occurrence = self._next_occurrence(time_s, (src, dst, out.digest))
        # The identity only seeds the fault draws: a link without faults makes none.
        identity = (
            packet_identity(time_s, src, dst, digest_hex, occurrence, 0)
            if faults.datagram_draws
            else ""
        )
        seed = self.seed
        if faults.loss_pct > 0 and draw_unit(seed, "loss", identity) < faults.loss_pct / 100:
            self._lost += 1
            self._release(out.sender)
            self._record(
                NetworkEvent(time_s, EventKind.LOST, src, dst, digest_hex, occurrence, 0, time_s)
            )
            return
        copies = 1
        if (
            faults.duplicate_pct > 0
            and draw_unit(seed, "duplicate", identity) < faults.duplicate_pct / 100
        ):
            copies = 2
            self._duplicated += 1
            out.sender.in_flight += 1
            self._in_flight += 1
        for copy in range(copies):
            if copy:
                identity = packet_identity(time_s, src, dst, digest_hex, occurrence, copy)
            delay_ms = faults.delay_ms
            if faults.jitter_ms > 0:
                delay_ms += draw_unit(seed, "jitter", identity) * faults.jitter_ms
            reordered = (
                faults.reorder_pct > 0
                and draw_unit(seed, "reorder", identity) < faults.reorder_pct / 100
            )
            if reordered:
                self._reordered += 1
                delay_ms += faults.reorder_delay_ms
            deliver_at = time_s + delay_ms / 1000.0
            if not reordered:
                # Jitter varies the delay but a path keeps its packets in order: never arrive
                # before the previous packet of this flow. Overtaking is the reorder fault's
                # job (a reordered packet neither waits for nor holds back the others).
                flow = (src, dst)
                previous_s = self._flow_last_s.get(flow, deliver_at)
                if previous_s > deliver_at:
                    deliver_at = previous_s
                self._flow_last_s[flow] = deliver_at
            flight = _DatagramFlight(
                time_s, src, dst, out.digest, out.data, out.sender, occurrence, copy
            )
            heapq.heappush(self._heap, (deliver_at, next(self._decided), flight))
            # (_record inlined: no event object is made when the log is full or off.)
            if len(self._events) < self._max_events:
                self._events.append(
                    NetworkEvent(
                        time_s,
                        EventKind.SCHEDULED,
                        src,
                        dst,
                        digest_hex,
                        occurrence,
                        copy,
                        time_s,
                        deliver_at,
                        reordered,
                    )
                )
            else:
                self._events_dropped += 1

    def _release(self, sender: _DatagramPort) -> None:
        sender.in_flight -= 1
        self._in_flight -= 1
        if sender.in_flight < self.send_queue_limit and sender.send_lot:
            sender.send_lot.unpark_all()

    def _land_datagram(self, flight: _DatagramFlight, now: float) -> None:
        self._release(flight.sender)
        target = self._udp.get(flight.dst)
        if target is None:
            self._dropped_unbound += 1
            kind = EventKind.DROPPED_UNBOUND
        elif target.handler is not None:
            # The round's batch stands for the queue a receive task would drain after the
            # round: the same limit applies to it.
            batch = self._direct.setdefault(target, [])
            if len(batch) >= self.receive_queue_limit:
                self._dropped_overflow += 1
                kind = EventKind.DROPPED_OVERFLOW
            else:
                batch.append((flight.data, flight.src))
                self._delivered += 1
                kind = EventKind.DELIVERED
        elif len(target.queue) >= self.receive_queue_limit:
            self._dropped_overflow += 1
            kind = EventKind.DROPPED_OVERFLOW
        else:
            target.queue.append((flight.data, flight.src))
            if target.receive_lot:
                target.receive_lot.unpark_all()
            self._delivered += 1
            kind = EventKind.DELIVERED
        if len(self._events) < self._max_events:
            self._events.append(
                NetworkEvent(
                    now,
                    kind,
                    flight.src,
                    flight.dst,
                    flight.digest.hex(),
                    flight.occurrence,
                    flight.copy,
                    flight.send_time_s,
                )
            )
        else:
            self._events_dropped += 1

    # ----------------------------------------------------------------- streams (package use)

    def _schedule_segment(self, segment: StreamSegment, time_s: float) -> None:
        """Decide a stream segment's fate now (also used for replies made while landing).

        The faults apply in the order given in ``LinkFaults``' docstring; each is drawn only
        when its percentage is above 0, so a plan without stream faults draws nothing more.
        """
        src, dst = segment.src, segment.dst
        faults = self.faults.for_link(src, dst)
        tag = f"seq:{segment.seq}"
        identity = packet_identity(time_s, src, dst, tag, 0, 0)
        seed = self.seed
        if segment.refusable:
            self._stream_connections += 1
        self._stream_bytes += len(segment.data)
        if (
            segment.resettable
            and faults.reset_pct > 0
            and draw_unit(seed, "reset", identity) < faults.reset_pct / 100
        ):
            self._stream_resets += 1
            self._record(NetworkEvent(time_s, EventKind.STREAM_RESET, src, dst, tag, 0, 0, time_s))
            segment.reset(time_s)  # also discards bytes held in either direction
            return
        held = self._held.pop(segment.direction, None) if self._held else None
        if held is not None:
            if segment.data:
                segment.absorb(held.segment)
            elif segment.aborts:
                held.segment.discard()
            else:
                # A FIN: the held bytes leave first, so that they still precede the EOF.
                self._send_segment(held.segment, held.send_time_s, faults, time_s)
        if (
            segment.refusable
            and faults.refuse_pct > 0
            and draw_unit(seed, "refuse", identity) < faults.refuse_pct / 100
        ):
            self._stream_refusals += 1
            self._record(
                NetworkEvent(time_s, EventKind.STREAM_REFUSED, src, dst, tag, 0, 0, time_s)
            )
            segment.refuse()
        if (
            segment.data
            and faults.coalesce_pct > 0
            and draw_unit(seed, "coalesce", identity) < faults.coalesce_pct / 100
        ):
            # Bounded from the first held byte: merging does not push the deadline back.
            if held is not None:
                release_at_s = held.release_at_s
            else:
                release_at_s = time_s + faults.coalesce_hold_ms / 1000.0
            chunk = _HeldChunk(self, segment, time_s, release_at_s)
            self._held[segment.direction] = chunk
            self._stream_coalesced += 1
            self._record(NetworkEvent(time_s, EventKind.STREAM_HELD, src, dst, tag, 0, 0, time_s))
            heapq.heappush(self._heap, (release_at_s, next(self._decided), chunk))
            self._wake_at(release_at_s)
            return
        self._send_segment(segment, time_s, faults, time_s)

    def _send_segment(
        self, segment: StreamSegment, send_time_s: float, faults: LinkFaults, leave_s: float
    ) -> None:
        """Put a segment leaving at ``leave_s`` in flight: split fault, then delay and jitter.

        ``send_time_s`` is when it was written (earlier for a held chunk): the draws use the
        identity it had then."""
        seed = self.seed
        src, dst = segment.src, segment.dst
        tag = f"seq:{segment.seq}"
        identity = packet_identity(send_time_s, src, dst, tag, 0, 0)
        delay_ms = faults.delay_ms
        if faults.jitter_ms > 0:
            delay_ms += draw_unit(seed, "jitter", identity) * faults.jitter_ms
        pieces = [segment]
        size = len(segment.data)
        if (
            size >= 2
            and faults.split_pct > 0
            and draw_unit(seed, "split", identity) < faults.split_pct / 100
        ):
            pieces = segment.split(split_cuts(seed, identity, size))
            self._stream_splits += 1
            self._record(
                NetworkEvent(
                    leave_s, EventKind.STREAM_SPLIT, src, dst, tag, 0, len(pieces), send_time_s
                )
            )
        earliest_s = leave_s + delay_ms / 1000.0
        first_s = float("inf")
        for piece in pieces:
            deliver_at = piece.arrival_after(earliest_s)
            first_s = min(first_s, deliver_at)
            heapq.heappush(self._heap, (deliver_at, next(self._decided), piece))
            # Each piece in its own delivery round (SPLIT_STEP_S in faults).
            earliest_s = deliver_at + SPLIT_STEP_S
        self._wake_at(first_s)

    def _drop_held(self, direction: object) -> None:
        """Discard the bytes held in ``direction`` (the connection was reset)."""
        held = self._held.pop(direction, None) if self._held else None
        if held is not None:
            held.segment.discard()


@asynccontextmanager
async def open_sim_network(
    seed: int, faults: FaultPlan | None = None, *, record_payloads: bool = False, **limits: int
) -> AsyncIterator[SimNetwork]:
    """Create a ``SimNetwork``, run its delivery task for the block, and stop it afterwards."""
    network = SimNetwork(seed, faults, record_payloads=record_payloads, **limits)
    async with trio.open_nursery() as nursery:
        await nursery.start(network.run)
        yield network
        nursery.cancel_scope.cancel()
