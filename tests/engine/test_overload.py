"""Graceful overload (docs/performance.md, "Overload"): a real-run engine (1 ms ticks, no
simulation settling) under Trio's MockClock, against a scripted peer on an in-memory socket.
A stall of the process is ``clock.jump`` inside a running task: virtual time moves on while no
other task runs, exactly what a busy or starved process sees when it gets the CPU back.

What must hold after a stall, whatever order Trio runs the woken tasks in:
- the pacing task starts per run what a loop at its usual pace would (calls due over the gap
  since its last run, up to 10 ms) plus one tick's worth of overdue ones; the calls held back
  are counted (``calls_delayed_overload``,
  summary ``calls.delayed_overload``) and all start later: ``-m`` is reached, nothing fails;
- no new call starts while received datagrams wait in the socket;
- a retransmission timer whose answer waits in the socket does not fire: no retransmission.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
import trio
import trio.testing

from gossipper.config import RunConfig
from gossipper.engine import Engine, EngineResult
from gossipper.interfaces import Address, Datagram
from gossipper.scenario import Scenario
from gossipper.session import RunPlan, open_run
from gossipper.sim import SimWallClock
from gossipper.stats.summary import build_summary_json
from tests.engine._harness import builtin

LOCAL: Address = ("127.0.0.1", 5061)
PEER: Address = ("127.0.0.1", 5060)


def _answer(request: bytes, status: str) -> bytes:
    """A response to ``request`` carrying its Via, From, To (tagged), Call-ID and CSeq."""
    head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    kept = []
    for line in head[1:]:
        name = line.split(":", 1)[0].strip().lower()
        if name == "to" and "tag=" not in line:
            line += ";tag=peer"
        if name in ("via", "from", "to", "call-id", "cseq"):
            kept.append(line)
    text = "\r\n".join([f"SIP/2.0 {status}", *kept, "Content-Length: 0", "", ""])
    return text.encode("latin-1")


@dataclass
class Peer:
    """A UAS that answers INVITE with 180 and 200 and BYE with 200, ``latency_s`` later;
    ``junk`` datagrams can be queued too. Records what the engine did."""

    latency_s: float
    inbox: collections.deque[tuple[float, bytes]] = field(default_factory=collections.deque)
    arrived: trio.Event = field(default_factory=trio.Event)
    invites: collections.Counter[str] = field(default_factory=collections.Counter)
    new_calls_at: list[float] = field(default_factory=list)
    waiting_at_new_call: list[int] = field(default_factory=list)
    stall_at_s: float = math.inf

    def waiting(self, now: float) -> int:
        """Datagrams that have reached the socket and were not read yet."""
        return sum(1 for when, _ in self.inbox if when <= now)

    def queue(self, when: float, data: bytes) -> None:
        self.inbox.append((when, data))
        self.arrived.set()

    def sent(self, data: bytes) -> None:
        now = trio.current_time()
        first = data.split(b"\r\n", 1)[0]
        call_id = next(
            line.split(b":", 1)[1].strip().decode()
            for line in data.split(b"\r\n")
            if line.lower().startswith(b"call-id:")
        )
        if first.startswith(b"INVITE "):
            self.invites[call_id] += 1
            if self.invites[call_id] == 1:
                self.new_calls_at.append(now)
                if now >= self.stall_at_s:
                    self.waiting_at_new_call.append(self.waiting(now))
            self.queue(now + self.latency_s, _answer(data, "180 Ringing"))
            self.queue(now + self.latency_s, _answer(data, "200 OK"))
        elif first.startswith(b"BYE "):
            self.queue(now + self.latency_s, _answer(data, "200 OK"))


class PeerSocket:
    """The engine's UDP socket, in memory (``interfaces.DatagramTransport``)."""

    transport_name = "UDP"

    def __init__(self, peer: Peer) -> None:
        self._peer = peer
        self.local_address = LOCAL

    def send_nowait(self, data: bytes, address: Address) -> bool:
        self._peer.sent(data)
        return True

    async def send(self, data: bytes, address: Address) -> None:
        self.send_nowait(data, address)

    def receive_nowait(self) -> list[Datagram]:
        now = trio.current_time()
        inbox = self._peer.inbox
        batch: list[Datagram] = []
        # Arrival order is send order plus a constant latency: the head is the earliest.
        while inbox and inbox[0][0] <= now and len(batch) < 256:
            batch.append((inbox.popleft()[1], PEER))
        return batch

    async def receive_batch(self) -> list[Datagram]:
        while True:
            batch = self.receive_nowait()
            if batch:
                return batch
            inbox = self._peer.inbox
            if inbox:
                await trio.sleep_until(inbox[0][0])
            else:
                self._peer.arrived = trio.Event()
                await self._peer.arrived.wait()

    def close(self) -> None:
        pass


class PeerFactory:
    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    async def open_datagram(self, host: str, port: int) -> PeerSocket:
        await trio.lowlevel.checkpoint()
        return PeerSocket(self.peer)

    async def open_stream_listener(self, host: str, port: int) -> Any:
        raise NotImplementedError

    async def connect_stream(self, remote: Address, **kwargs: Any) -> Any:
        raise NotImplementedError


def peer_plan(
    scenario: Scenario, factory: PeerFactory, *, server: bool = False, **options: Any
) -> RunPlan:
    """A real-run plan (1 ms ticks) on ``factory``'s in-memory socket: a client at LOCAL
    calling PEER, or (``server``) a server at PEER."""
    local = PEER if server else LOCAL
    return RunPlan(
        scenario=scenario,
        config=RunConfig(local_ip=local[0], local_port=local[1], nostdin=True, **options),
        transports=factory,  # type: ignore[arg-type]
        wall_clock=SimWallClock(1_800_000_000.0),
        local_ip=local[0],
        bind_host=local[0],
        remote=None if server else PEER,
        pid=2 if server else 1,
        seed=2 if server else 1,
        traces=False,
        timer_resolution_s=0.001,
    )


def run_with_stall(
    peer: Peer, *, stall_at_s: float, stall_s: float, junk: int = 0, **options: Any
) -> EngineResult:
    """The built-in uac against ``peer``; at ``stall_at_s`` the process stalls for
    ``stall_s`` (and ``junk`` stray responses reach its socket meanwhile)."""
    peer.stall_at_s = stall_at_s + stall_s

    async def main() -> EngineResult:
        clock = trio.lowlevel.current_clock()
        assert isinstance(clock, trio.testing.MockClock)
        plan = peer_plan(builtin("uac"), PeerFactory(peer), **options)

        async def stall() -> None:
            await trio.sleep_until(stall_at_s)
            for n in range(junk):
                # A stray response (unknown Call-ID): work for the receive path, nothing else.
                stray = f"SIP/2.0 200 OK\r\nCall-ID: stray-{n}\r\nCSeq: 1 OPTIONS\r\n"
                peer.queue(trio.current_time() + stall_s / 2, (stray + "\r\n").encode())
            clock.jump(stall_s)  # the whole process stops: no other task runs meanwhile

        async with open_run(plan) as run, trio.open_nursery() as nursery:
            nursery.start_soon(stall)
            result = await run.run()
            nursery.cancel_scope.cancel()
        return result

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def _largest_burst(times: list[float]) -> int:
    return max(collections.Counter(times).values())


# Stalls start just after a watchdog check (every 400 ms from 0) and last less than its
# 500 ms minor threshold: the calls are delayed. A longer lag trips the watchdog, which skips
# the overdue calls instead (tests/engine/test_watchdog.py).


def test_after_a_stall_overdue_calls_start_a_tick_at_a_time_and_are_counted() -> None:
    peer = Peer(latency_s=0.1)
    # 1,000 calls/s = one call per 1 ms tick; the 0.3 s stall leaves ~300 calls overdue.
    result = run_with_stall(peer, stall_at_s=0.81, stall_s=0.3, rate=1000, max_calls=1500)
    c = result.snapshot.cumulative
    assert (c.outgoing_calls, c.successful_calls, c.failed_calls) == (1500, 1500, 0)
    # The first run after the stall starts what a loop at its usual pace (runs up to 10 ms
    # apart) would, plus a tick's worth: 11 calls. Every later run: the tick's own call and one
    # overdue one. (Without the guard: all ~300 overdue calls at once.)
    bursts = collections.Counter(peer.new_calls_at)
    after = min(when for when in bursts if when >= 1.11)
    # 12: Trio runs each batch of ready tasks in a random order (reversed half the time), so
    # the receive path and the pacing task may swap once around the stall: one call either way.
    assert bursts[after] <= 12
    assert max(count for when, count in bursts.items() if when != after) <= 2
    # Every call that started late was counted once as delayed, and none was dropped: the
    # ~300 that fell due during the stall and the ~300 that fell due behind them while the
    # backlog was made up (one extra call per tick).
    assert 570 <= c.calls_delayed_overload <= 601
    assert c.calls_skipped_overload == 0
    doc = build_summary_json(
        result.snapshot, tool_version="t", start_wall=0.0, finish_wall=2.0, target_rate=1000,
        scenario_name="uac", exit_code=0,
    )  # fmt: skip
    assert doc["calls"]["delayed_overload"] == c.calls_delayed_overload
    assert "skipped_overload" not in doc["calls"]
    # The backlog was made up at twice the rate within about 0.3 s: the 1,500th call, due at
    # 1.5 s, started on time.
    assert peer.new_calls_at[-1] < 1.5 + 0.01


def test_answers_waiting_in_the_socket_cancel_their_retransmissions_after_a_stall() -> None:
    # Answers take 100 ms: at the stall ~100 INVITEs are unanswered; their 500 ms timers are
    # all overdue when the process runs again, and all their answers wait in the socket.
    # (The 1 s stall trips the watchdog: the calls due meanwhile are skipped, not delayed.)
    peer = Peer(latency_s=0.1)
    result = run_with_stall(peer, stall_at_s=0.7, stall_s=1.0, rate=1000, max_calls=900)
    c = result.snapshot.cumulative
    assert c.retransmissions == 0
    assert max(peer.invites.values()) == 1
    assert (c.successful_calls, c.failed_calls) == (900, 0)
    assert c.calls_skipped_overload > 0
    assert _largest_burst(peer.new_calls_at) <= 11


def test_no_new_call_starts_while_received_datagrams_wait() -> None:
    # 3,000 stray datagrams land during the stall: more than the pacing task reads before
    # starting calls (1,024), so it holds back until the receive path has caught up.
    peer = Peer(latency_s=0.01)
    result = run_with_stall(peer, stall_at_s=0.41, stall_s=0.3, junk=3000, rate=1000, max_calls=600)
    c = result.snapshot.cumulative
    assert (c.successful_calls, c.failed_calls) == (600, 0)
    assert c.out_of_call_msgs == 3000
    assert peer.waiting_at_new_call and set(peer.waiting_at_new_call) == {0}
    assert c.calls_delayed_overload > 0


def _invite(n: int) -> bytes:
    return (
        f"INVITE sip:service@{PEER[0]}:{PEER[1]} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {LOCAL[0]}:{LOCAL[1]};branch=z9hG4bK-{n}\r\n"
        f"From: sipp <sip:sipp@{LOCAL[0]}:{LOCAL[1]}>;tag={n}\r\n"
        f"To: <sip:service@{PEER[0]}:{PEER[1]}>\r\n"
        f"Call-ID: call-{n}\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:sipp@{LOCAL[0]}:{LOCAL[1]}>\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _run_server(
    drive: Callable[[Engine, Peer], Awaitable[None]],
    *,
    scenario: Scenario | None = None,
    factory: Callable[[Peer], PeerFactory] = PeerFactory,
    **options: Any,
) -> None:
    """A uas (the built-in one unless ``scenario``) on the test's peer socket (1 ms ticks,
    made by ``factory``, run with ``options``); ``drive`` plays the client."""
    peer = Peer(latency_s=0.0)  # records what the server sends; the test plays the client

    async def main() -> None:
        plan = peer_plan(scenario or builtin("uas"), factory(peer), server=True, **options)
        async with open_run(plan) as run, trio.open_nursery() as nursery:
            nursery.start_soon(run.run)
            await trio.sleep(0.01)
            await drive(run.engine, peer)
            run.engine.interrupt()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_burst_of_new_calls_is_served_not_shed() -> None:
    """600 INVITEs at once fill the first two receive batches, but the server is only
    catching up: every call starts. (Shedding at the first full batch dropped such bursts,
    among them the retransmissions of INVITEs just shed, which come back together.)"""
    seen: dict[str, int] = {}

    async def drive(engine: Engine, peer: Peer) -> None:
        for n in range(600):
            peer.queue(trio.current_time(), _invite(n))
        await trio.sleep(0.1)
        # Exactly one batch's worth (the socket is empty after it), then a burst 50 ms later:
        # the empty socket in between ended the backlog, so the second burst is not shed.
        for n in range(600, 856):
            peer.queue(trio.current_time(), _invite(n))
        await trio.sleep(0.05)
        for n in range(856, 1156):
            peer.queue(trio.current_time(), _invite(n))
        await trio.sleep(0.1)
        stats = engine.statistics()
        seen["created"] = stats.calls_started
        seen["shed"] = stats.snapshot.cumulative.calls_skipped_overload

    _run_server(drive)
    assert seen == {"created": 1156, "shed": 0}


def test_a_server_behind_for_long_drops_new_calls_until_it_caught_up() -> None:
    """300 INVITEs a millisecond for 200 ms, more than a 256-datagram batch per 1 ms tick:
    the backlog grows, and once every batch has been full for 10 ms the INVITEs of new calls
    in them are dropped and counted, the calls already started served. Their retransmissions,
    which arrive spread out, start the dropped calls: nothing is lost, only delayed."""
    seen: dict[str, int] = {}
    total = 300 * 200

    async def drive(engine: Engine, peer: Peer) -> None:
        start = trio.current_time()
        for tick in range(200):
            for n in range(300):
                peer.queue(start + tick * 0.001, _invite(tick * 300 + n))
        await trio.sleep(0.009)
        seen["shed_before_10ms"] = engine.statistics().snapshot.cumulative.calls_skipped_overload
        # Until the backlog is gone (60,000 datagrams at 256 per tick).
        await trio.sleep(0.4)
        stats = engine.statistics()
        shed = stats.snapshot.cumulative.calls_skipped_overload
        seen["created_and_shed"] = stats.calls_started + shed
        seen["shed_some"] = int(shed > 0)
        # The client retransmits every INVITE 500 ms later, 10 per millisecond; those of calls
        # that started are absorbed, the others start their calls.
        later = trio.current_time()
        for n in range(total):
            peer.queue(later + n // 10 * 0.001, _invite(n))
        await trio.sleep(total / 10 * 0.001 + 0.5)
        seen["created_in_all"] = engine.statistics().calls_started

    _run_server(drive)
    assert seen == {
        "shed_before_10ms": 0,
        "created_and_shed": total,
        "shed_some": 1,
        "created_in_all": total,
    }


_S = TypeVar("_S", bound=PeerSocket)


def socket_factory(
    make: Callable[[Peer], _S], opened: list[_S] | None = None
) -> Callable[[Peer], PeerFactory]:
    """A factory for ``_run_server`` whose socket ``make`` builds (appended to ``opened``)."""

    class _Factory(PeerFactory):
        async def open_datagram(self, host: str, port: int) -> PeerSocket:
            await trio.lowlevel.checkpoint()
            socket = make(self.peer)
            if opened is not None:
                opened.append(socket)
            return socket

    return _Factory


class _GaugedSocket(PeerSocket):
    """A socket whose receive buffer holds ``capacity`` datagrams and tells how full it is
    (``interfaces.ReceiveBacklog``, as a Linux UDP socket does through SO_MEMINFO)."""

    def __init__(self, peer: Peer, capacity: int) -> None:
        super().__init__(peer)
        self.capacity = capacity
        self.most_read = 0.0  # the fullest the engine has seen it

    def receive_backlog(self) -> float:
        share = self._peer.waiting(trio.current_time()) / self.capacity
        self.most_read = max(self.most_read, share)
        return share


def test_a_server_that_can_see_its_backlog_sheds_only_with_half_its_buffer_taken() -> None:
    """Full receive batches for 40 ms with the buffer never a third full: no call is shed
    (the rule without the gauge sheds after 10 ms of full batches). Then a backlog that grows
    by some 750 datagrams a millisecond: new calls are shed once half of the 6,000-datagram
    buffer is taken (from about the fourth millisecond), not before."""
    seen: dict[str, Any] = {}
    sockets: list[_GaugedSocket] = []

    async def drive(engine: Engine, peer: Peer) -> None:
        def shed() -> int:
            return engine.statistics().snapshot.cumulative.calls_skipped_overload

        # 300 a millisecond against 256 read per tick: 44 more waiting each millisecond.
        start = trio.current_time()
        for tick in range(40):
            for n in range(300):
                peer.queue(start + tick * 0.001, _invite(tick * 300 + n))
        await trio.sleep(0.040)
        seen["most_waiting"] = peer.waiting(trio.current_time())
        await trio.sleep(0.2)  # caught up
        seen["shed_at_300_per_ms"] = shed()
        seen["started"] = engine.statistics().calls_started
        start = trio.current_time()
        for tick in range(20):
            for n in range(1000):
                peer.queue(start + tick * 0.001, _invite(100_000 + tick * 1000 + n))
        # Each millisecond: the fullest the engine had read its buffer, and the calls shed.
        samples = []
        for _ in range(20):
            await trio.sleep(0.001)
            samples.append((sockets[0].most_read, shed()))
        seen["samples"] = samples

    _run_server(
        drive,
        factory=socket_factory(lambda peer: _GaugedSocket(peer, capacity=6000), sockets),
    )
    assert 1000 < seen["most_waiting"] < 2000  # batches full the whole time
    assert seen["shed_at_300_per_ms"] == 0
    assert seen["started"] == 12_000
    samples = seen["samples"]
    # No call shed before the engine had read its buffer half full, and calls shed within two
    # milliseconds of it.
    assert all(most_read >= 0.5 for most_read, shed in samples if shed > 0)
    half = next(n for n, (most_read, _) in enumerate(samples) if most_read >= 0.5)
    assert 2 <= half <= 6  # some 750 more waiting each millisecond
    assert samples[min(half + 2, len(samples) - 1)][1] > 0


class _AnsweringGaugedSocket(_GaugedSocket):
    """``_GaugedSocket`` that records the Call-IDs the server answered with 180 Ringing, and
    whose gauge can be pinned (``pinned_share``)."""

    def __init__(self, peer: Peer, capacity: int) -> None:
        super().__init__(peer, capacity)
        self.pinned_share: float | None = None
        self.ringing: set[str] = set()

    def receive_backlog(self) -> float:
        if self.pinned_share is not None:
            return self.pinned_share
        return super().receive_backlog()

    def send_nowait(self, data: bytes, address: Address) -> bool:
        if data.startswith(b"SIP/2.0 180"):
            start = data.index(b"Call-ID: ") + len(b"Call-ID: ")
            self.ringing.add(data[start : data.index(b"\r\n", start)].decode())
        return super().send_nowait(data, address)


@pytest.mark.parametrize(("share", "shed_come_back"), [(0.6, True), (0.8, False)])
def test_a_call_shed_once_starts_with_its_retransmission_unless_the_buffer_is_nearly_full(
    share: float, shed_come_back: bool
) -> None:
    """10,000 INVITEs in 10 ms into a 6,000-datagram buffer: thousands are shed. 500 ms later
    every one of them is retransmitted, among 10,000 new ones, while the server still sheds
    (the buffer pinned above half full): the retransmissions of the shed calls start them,
    ahead of the new ones, which are shed in their turn. With the buffer three quarters full
    or more the retransmissions are shed again."""
    sockets: list[_AnsweringGaugedSocket] = []
    seen: dict[str, Any] = {}

    async def drive(engine: Engine, peer: Peer) -> None:
        def shed() -> int:
            return engine.statistics().snapshot.cumulative.calls_skipped_overload

        socket = sockets[0]
        start = trio.current_time()
        for tick in range(10):
            for n in range(1000):
                peer.queue(start + tick * 0.001, _invite(tick * 1000 + n))
        await trio.sleep(0.2)
        first = {f"call-{n}" for n in range(10_000)}
        seen["shed_first"] = shed()
        seen["not_started_first"] = len(first - socket.ringing)
        socket.pinned_share = share
        later = trio.current_time()
        for n in range(10_000):
            peer.queue(later, _invite(n))  # the retransmission
            peer.queue(later, _invite(20_000 + n))  # a new call
        await trio.sleep(0.2)
        seen["not_started_after"] = len(first - socket.ringing)
        seen["shed_after"] = shed()
        seen["new_started"] = len({f"call-{20_000 + n}" for n in range(10_000)} & socket.ringing)

    _run_server(
        drive,
        factory=socket_factory(lambda peer: _AnsweringGaugedSocket(peer, capacity=6000), sockets),
    )
    assert seen["shed_first"] > 3000
    assert seen["not_started_first"] == seen["shed_first"]
    if shed_come_back:
        assert seen["not_started_after"] == 0
        # Counted once each: the calls shed the first time, then the new ones not started.
        assert seen["shed_after"] == seen["shed_first"] + 10_000 - seen["new_started"]
    else:
        assert seen["not_started_after"] == seen["shed_first"]


class _TryingSocket(PeerSocket):
    """Records, in order, the Call-IDs the server answered 100 Trying (with the message) and
    180 Ringing."""

    def __init__(self, peer: Peer) -> None:
        super().__init__(peer)
        self.trying: list[tuple[str, bytes]] = []
        self.ringing: list[str] = []

    def send_nowait(self, data: bytes, address: Address) -> bool:
        start = data.index(b"Call-ID: ") + len(b"Call-ID: ")
        call_id = data[start : data.index(b"\r\n", start)].decode()
        if data.startswith(b"SIP/2.0 100"):
            self.trying.append((call_id, data))
        elif data.startswith(b"SIP/2.0 180"):
            self.ringing.append(call_id)
        return super().send_nowait(data, address)


def _held_calls_run(overload_queue: int) -> dict[str, Any]:
    """300 INVITEs a millisecond for 200 ms (the run of
    ``test_a_server_behind_for_long_drops_new_calls_until_it_caught_up``) into a server with
    ``-overload_queue``; then one retransmission of the first INVITE that got a 100 Trying,
    and no other: the client waits once it has one."""
    seen: dict[str, Any] = {}
    sockets: list[_TryingSocket] = []

    async def drive(engine: Engine, peer: Peer) -> None:
        start = trio.current_time()
        for tick in range(200):
            for n in range(300):
                peer.queue(start + tick * 0.001, _invite(tick * 300 + n))
        most_held = 0
        retransmitted = False
        socket = sockets[0]
        for _ in range(600):
            await trio.sleep(0.001)
            most_held = max(most_held, len(engine._held_calls))
            if socket.trying and not retransmitted:
                # The first held INVITE again, while it is held (its 100 Trying was lost).
                retransmitted = True
                peer.queue(trio.current_time(), _invite(int(socket.trying[0][0][5:])))
                seen["held_when_retransmitted"] = socket.trying[0][0] in engine._held_calls
        seen["most_held"] = most_held
        await trio.sleep(0.05)
        stats = engine.statistics()
        seen["started"] = stats.calls_started
        seen["shed"] = stats.snapshot.cumulative.calls_skipped_overload
        seen["delayed"] = stats.snapshot.cumulative.calls_delayed_overload
        seen["trying"] = socket.trying
        seen["ringing"] = socket.ringing

    _run_server(
        drive,
        factory=socket_factory(_TryingSocket, sockets),
        overload_queue=overload_queue,
    )
    return seen


def test_a_server_behind_holds_new_invites_with_100_trying_and_starts_them_in_order() -> None:
    """-overload_queue large enough: where the server would shed (every batch full for 10 ms)
    it answers each new INVITE 100 Trying and holds it; held calls start as it catches up,
    in arrival order, and the INVITEs that come meanwhile queue behind them. Every call
    starts without a retransmission from the client, none is shed, each held one is counted
    as delayed once; a retransmitted INVITE of a held call gets its 100 Trying again."""
    total = 300 * 200
    seen = _held_calls_run(overload_queue=100_000)
    held = seen["delayed"]
    assert held > 1000  # the server was behind for long
    assert seen["shed"] == 0
    assert seen["started"] == total
    assert len(seen["ringing"]) == len(set(seen["ringing"])) == total
    trying = seen["trying"]
    assert seen["held_when_retransmitted"]
    assert len(trying) == held + 1  # the retransmission's 100 Trying again
    assert [data for call_id, data in trying if call_id == trying[0][0]] == [trying[0][1]] * 2
    assert len({call_id for call_id, _ in trying}) == held
    # Calls ring in the order their INVITEs came, held or not: no call rings more than one
    # receive batch (256 calls started together, answered in any order) behind one that
    # came after it. A held call never waits behind a newer one.
    numbers = [int(call_id.removeprefix("call-")) for call_id in seen["ringing"]]
    highest = list(itertools.accumulate(numbers, max))
    assert max(high - n for high, n in zip(highest, numbers, strict=True)) < 256
    # The 100 Trying copies what it must from its INVITE, in order, with no To tag added.
    call_id, data = trying[0]
    n = int(call_id.removeprefix("call-"))
    expected = (
        "SIP/2.0 100 Trying\r\n"
        f"Via: SIP/2.0/UDP {LOCAL[0]}:{LOCAL[1]};branch=z9hG4bK-{n}\r\n"
        f"From: sipp <sip:sipp@{LOCAL[0]}:{LOCAL[1]}>;tag={n}\r\n"
        f"To: <sip:service@{PEER[0]}:{PEER[1]}>\r\n"
        f"Call-ID: call-{n}\r\nCSeq: 1 INVITE\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    assert data == expected.encode()


def test_a_full_overload_queue_sheds_what_it_cannot_hold() -> None:
    """-overload_queue 500: never more than 500 held; the rest is shed as without it, and
    every call is either started or shed."""
    seen = _held_calls_run(overload_queue=500)
    assert 0 < seen["most_held"] <= 500
    assert seen["shed"] > 0
    assert seen["delayed"] == len({call_id for call_id, _ in seen["trying"]})
    assert seen["started"] + seen["shed"] == 300 * 200


def test_without_an_overload_queue_nothing_is_held() -> None:
    seen = _held_calls_run(overload_queue=0)
    assert seen["trying"] == []
    assert seen["most_held"] == 0
    assert seen["delayed"] == 0
    assert seen["shed"] > 0


def test_invites_still_held_when_the_run_stops_are_counted_as_skipped() -> None:
    seen: dict[str, int] = {}

    async def drive(engine: Engine, peer: Peer) -> None:
        start = trio.current_time()
        for tick in range(200):
            for n in range(300):
                peer.queue(start + tick * 0.001, _invite(tick * 300 + n))
        for _ in range(100):
            await trio.sleep(0.001)
            if len(engine._held_calls) >= 1000:
                break
        seen["skipped_before"] = engine.statistics().snapshot.cumulative.calls_skipped_overload
        seen["held"] = len(engine._held_calls)
        engine.soft_quit()
        seen["held_after"] = len(engine._held_calls)
        seen["skipped_after"] = engine.statistics().snapshot.cumulative.calls_skipped_overload
        # The flood goes on; nothing new is held once the run stops taking calls.
        await trio.sleep(0.02)
        seen["held_later"] = len(engine._held_calls)

    _run_server(drive, overload_queue=100_000)
    assert seen["skipped_before"] == 0
    assert seen["held_after"] == seen["held_later"] == 0
    assert seen["skipped_after"] == seen["held"] >= 1000


_Read = tuple[float, trio.lowlevel.Task, int]
"""A read of the socket: (virtual) time, the reading task, datagrams got."""


class _GridSocket(PeerSocket):
    """Records the engine's reads of its socket after a sleep of its own, not those inside
    receive_batch's wait for the next datagram."""

    def __init__(self, peer: Peer, reads: list[_Read]) -> None:
        super().__init__(peer)
        self._reads = reads
        self._in_wait = False

    def receive_nowait(self) -> list[Datagram]:
        batch = super().receive_nowait()
        if not self._in_wait:
            self._reads.append((trio.current_time(), trio.lowlevel.current_task(), len(batch)))
        return batch

    async def receive_batch(self) -> list[Datagram]:
        self._in_wait = True
        try:
            return await super().receive_batch()
        finally:
            self._in_wait = False


def _client_reads(rate: float, max_calls: int) -> tuple[Engine, Peer, list[_Read]]:
    """A uac run under MockClock against a peer answering 0.37 ms after each send; every call
    succeeds. Returns the engine, the peer and the reads of the socket (_GridSocket)."""
    reads: list[_Read] = []
    peer = Peer(latency_s=0.00037)
    engines: list[Engine] = []

    class Factory(PeerFactory):
        async def open_datagram(self, host: str, port: int) -> PeerSocket:
            await trio.lowlevel.checkpoint()
            return _GridSocket(self.peer, reads)

    async def main() -> EngineResult:
        plan = peer_plan(builtin("uac"), Factory(peer), rate=rate, max_calls=max_calls)
        async with open_run(plan) as run:
            engines.append(run.engine)
            return await run.run()

    result = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    c = result.snapshot.cumulative
    assert (c.outgoing_calls, c.successful_calls, c.failed_calls) == (max_calls, max_calls, 0)
    return engines[0], peer, reads


def test_a_clients_receive_loop_reads_on_the_timer_queues_grid() -> None:
    """A client's socket is read at points of the 1 ms grid its timer queue (which wakes the
    pacing) wakes on, so that on timerfds one wake-up serves both; answers arriving 0.37 ms
    after each send would put reads a tick after each batch off the grid. The queue is on a
    timerfd wherever the clock allows."""
    engine, peer, reads = _client_reads(1000.0, 60)
    assert len(peer.invites) == 60
    assert engine.timers._descriptor  # a timerfd under Trio's own clock (not this one)
    assert len(reads) > 55  # a read a tick over a run of some 60 ticks
    off_grid = [t for t, _, _ in reads if abs(t / 0.001 - round(t / 0.001)) > 1e-6]
    assert off_grid == []


def test_a_clients_socket_is_read_by_its_timer_queues_task_between_waits() -> None:
    """Under steady load a client's socket is read at the timer queue's wake-ups by the queue's
    own task (which wakes there for the pacing anyway): one task step per tick, not one for the
    queue and one for the receive loop. The loop waits for the socket only when the queue found
    it empty, so its own reads outside that wait are a handful. (The pacing reads the socket
    too before it starts calls: running calls first.)"""
    engine, _, reads = _client_reads(2000.0, 400)
    queue_task = engine.timers._task
    assert queue_task is not None
    by_queue = sum(1 for _, task, _ in reads if task is queue_task)
    assert by_queue > 150
    assert len(reads) - by_queue <= 3  # the receive loop's own (tasks compared, not named:
    # a compiled build's tasks are named by the repr of their method)


def test_the_pacing_does_not_read_the_socket_the_timer_queue_just_emptied() -> None:
    """Before starting calls the pacing handles what waits on the socket (running calls
    first); where the timer queue's task read the socket on the tick just before running the
    pacing, in the same wake-up, that second read would find it empty: it is skipped. Only a
    read that filled its batch is followed by another at the same instant."""
    _, _, reads = _client_reads(2000.0, 400)
    again = [
        (t, count)
        for (t, task, count), (t_next, task_next, _) in itertools.pairwise(reads)
        if t_next == t and task_next is task
    ]
    assert again == []
    assert len(reads) > 150


def test_a_clients_pacing_runs_in_its_timer_queues_task_under_steady_load() -> None:
    """The pacing's deadlines are handled by the timer queue's task, which runs the pacing
    itself (``Parker.on_timer``) while the pacing's task stays parked: under steady load that
    task takes a handful of steps in a run of 400 calls, not one per tick."""
    steps: collections.Counter[trio.lowlevel.Task] = collections.Counter()
    pacing_tasks: set[trio.lowlevel.Task] = set()
    engines: list[Engine] = []

    class Steps(trio.abc.Instrument):
        def before_task_step(self, task: trio.lowlevel.Task) -> None:
            steps[task] += 1
            if engines and engines[0]._pacing._task is not None:
                pacing_tasks.add(engines[0]._pacing._task)  # parked: the pacing's own task

    peer = Peer(latency_s=0.00037)

    async def main() -> EngineResult:
        trio.lowlevel.add_instrument(Steps())
        plan = peer_plan(builtin("uac"), PeerFactory(peer), rate=2000.0, max_calls=400)
        async with open_run(plan) as run:
            engines.append(run.engine)
            return await run.run()

    result = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    c = result.snapshot.cumulative
    assert (c.outgoing_calls, c.successful_calls, c.failed_calls) == (400, 400, 0)
    queue_task = engines[0].timers._task
    assert queue_task is not None
    assert steps[queue_task] > 150  # a step per tick of the 200 ms run
    assert len(pacing_tasks) == 1
    assert steps[pacing_tasks.pop()] <= 5


def test_a_client_waits_for_sparse_datagrams_instead_of_reading_a_tick_later() -> None:
    """Below one datagram per tick a read a tick after each batch mostly finds the socket
    empty: a wake-up for nothing. There the receive loop waits for the socket itself, and the
    socket is read at the queue's tick only where the queue wakes anyway (the pacing's)."""
    _, _, reads = _client_reads(100.0, 60)
    # Reads at a tick that found the socket empty (reads while the loop waits for the socket,
    # the pacing's among them, are not counted): a few in the first window of ticks, which
    # counts as dense; reading a tick after every batch, 60 (one per call).
    empty = [at for at, _, count in reads if count == 0]
    assert len(empty) <= 10


@pytest.mark.parametrize(
    ("scenario", "options", "alone", "holds"),
    [
        ("uac", {}, True, True),
        ("uac", {}, False, False),  # beside an in-process peer, or in gossipper server
        ("uas", {}, True, False),  # a server reads its socket on its own loop's ticks
        ("uac", {"transport_mode": "un"}, True, False),  # a socket per call
        ("uac_pcap", {}, True, False),  # media: the streams' own descriptors and ticks
    ],
)
def test_only_a_client_alone_on_one_udp_socket_may_hold_trios_loop_between_ticks(
    scenario: str, options: dict[str, Any], alone: bool, holds: bool
) -> None:
    """``RunPlan.holds_loop`` (the command line's run, a worker's) lets the engine decide;
    it allows the timer queue to sleep outside Trio's loop only where nothing else of the
    run waits on a descriptor of its own."""
    seen: list[bool] = []

    async def main() -> None:
        plan = peer_plan(
            builtin(scenario),
            PeerFactory(Peer(latency_s=0.001)),
            server=scenario == "uas",
            **options,
        )
        plan = dataclasses.replace(plan, holds_loop=alone)
        async with open_run(plan) as run:
            seen.append(run.engine.timers.hold_ticks)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert seen == [holds]
