"""A new call runs up to its first wait in the task that launches it (``Call.start_outside``).

In a real-time run a worker task whose call ended is kept, suspended, for the next call; the
next call is now run to its first wait by the pacing task (or the receive loop) on that
worker's behalf, and the worker is resumed only when the call needs a task of its own: to
wait for room in the socket buffer, or to run a call handed to it. These tests drive the
real-run engine (1 ms ticks) under Trio's MockClock against the scripted peer of
``test_overload`` and check the three places where the borrowed task matters: the steps it
saves, a call started outside whose sends are blocked, and an interrupted run.
"""

from __future__ import annotations

import math
import pathlib
from typing import Any

import pytest
import trio
import trio.testing

from gossipper.engine import Engine, EngineResult
from gossipper.interfaces import Address, Datagram
from gossipper.scenario import Scenario, builtin_path
from gossipper.session import open_run
from tests.engine._harness import builtin, scenario_text
from tests.engine.test_overload import (
    Peer,
    PeerFactory,
    PeerSocket,
    _invite,
    _run_server,
    peer_plan,
    socket_factory,
)


class _WorkerSteps(trio.abc.Instrument):
    """Counts the steps of the engine's call worker tasks."""

    def __init__(self) -> None:
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task.name.endswith("._worker"):
            self.steps += 1


class _FullSocket(PeerSocket):
    """The peer's socket with a send buffer that is full from ``full_from_s`` to
    ``full_until_s``: a non-blocking send fails there, a blocking one waits."""

    def __init__(self, peer: Peer, full_from_s: float, full_until_s: float) -> None:
        super().__init__(peer)
        self.full_from_s = full_from_s
        self.full_until_s = full_until_s
        self.refused = 0

    def _full(self) -> bool:
        return self.full_from_s <= trio.current_time() < self.full_until_s

    def send_nowait(self, data: bytes, address: Address) -> bool:
        if self._full():
            self.refused += 1
            return False
        return super().send_nowait(data, address)

    async def send(self, data: bytes, address: Address) -> None:
        if self._full():
            await trio.sleep_until(self.full_until_s)
        self.send_nowait(data, address)


class _FullFactory(PeerFactory):
    def __init__(self, peer: Peer, full_from_s: float, full_until_s: float) -> None:
        super().__init__(peer)
        self.socket = _FullSocket(peer, full_from_s, full_until_s)

    async def open_datagram(self, host: str, port: int) -> PeerSocket:
        await trio.lowlevel.checkpoint()
        return self.socket


def _run(
    factory: PeerFactory,
    *,
    instrument: trio.abc.Instrument | None = None,
    interrupt_at_s: float = math.inf,
    **options: Any,
) -> EngineResult:
    """The built-in uac against ``factory``'s peer; interrupted (SIGINT) at
    ``interrupt_at_s``."""

    async def main() -> EngineResult:
        plan = peer_plan(builtin("uac"), factory, **options)
        async with open_run(plan) as run, trio.open_nursery() as nursery:

            async def interrupt() -> None:
                await trio.sleep_until(interrupt_at_s)
                run.engine.interrupt()

            nursery.start_soon(interrupt)
            result = await run.run()
            nursery.cancel_scope.cancel()
        return result

    instruments = [instrument] if instrument is not None else []
    return trio.run(
        main, clock=trio.testing.MockClock(autojump_threshold=0), instruments=instruments
    )


def test_calls_start_on_parked_workers_without_waking_them() -> None:
    # 1,000 calls/s, answers 20 ms later: about 20 calls at a time, each ending in the
    # receive loop, so a worker is always parked when the next call is due.
    steps = _WorkerSteps()
    peer = Peer(latency_s=0.02)
    result = _run(PeerFactory(peer), instrument=steps, rate=1000, max_calls=600)
    c = result.snapshot.cumulative
    assert (c.outgoing_calls, c.successful_calls, c.failed_calls) == (600, 600, 0)
    assert max(peer.invites.values()) == 1
    # Waking a parked worker for each call took a step per call (600 and more); now the
    # workers step when they are created and when the run ends.
    assert steps.steps < 600 / 5


def test_a_call_started_outside_with_a_full_buffer_is_sent_by_its_task() -> None:
    # The send buffer is full for 50 ms: the calls started then have their INVITE refused by
    # the non-blocking send, their borrowed task is resumed and waits for room, and every
    # call completes, its INVITE sent once.
    peer = Peer(latency_s=0.02)
    factory = _FullFactory(peer, full_from_s=0.3, full_until_s=0.35)
    result = _run(factory, rate=1000, max_calls=600)
    c = result.snapshot.cumulative
    assert factory.socket.refused > 0
    assert (c.outgoing_calls, c.successful_calls, c.failed_calls) == (600, 600, 0)
    assert max(peer.invites.values()) == 1


def test_calls_started_outside_are_counted_when_the_run_is_interrupted() -> None:
    # Answers take 200 ms, and a call lasts 400 ms: at the interrupt 400 calls are open, most
    # of them started on a borrowed worker. Each is counted as failed, as a call with its own
    # task is.
    peer = Peer(latency_s=0.2)
    result = _run(PeerFactory(peer), rate=1000, interrupt_at_s=0.6005)
    c = result.snapshot.cumulative
    assert c.successful_calls >= 150
    assert c.failed_calls >= 300
    assert c.outgoing_calls == c.successful_calls + c.failed_calls


class _SlowSendSocket(PeerSocket):
    """The server's socket, where every send costs ``send_cost_s`` of (mock) time, as if
    handling a message took that long: what a server starting its calls in the receive
    loop spends there."""

    def __init__(self, peer: Peer, send_cost_s: float) -> None:
        super().__init__(peer)
        self.send_cost_s = send_cost_s
        self.reads_at: list[float] = []
        self.last_send_at = 0.0

    def send_nowait(self, data: bytes, address: Address) -> bool:
        clock = trio.lowlevel.current_clock()
        assert isinstance(clock, trio.testing.MockClock)
        clock.jump(self.send_cost_s)
        self.last_send_at = trio.current_time()
        return super().send_nowait(data, address)

    def receive_nowait(self) -> list[Datagram]:
        batch = super().receive_nowait()
        if batch:
            self.reads_at.append(trio.current_time())
        return batch


def _answering_uas(tmp_path: pathlib.Path) -> Scenario:
    """The built-in uas up to its 200 OK: each call ends once it has answered the INVITE."""
    text = builtin_path("uas").read_text(encoding="iso-8859-1")
    cut = text.index('<recv request="ACK"')
    return scenario_text(tmp_path, "answer.xml", text[:cut] + "</scenario>\n")


def test_a_batch_handled_for_longer_than_a_tick_is_followed_at_once(
    tmp_path: pathlib.Path,
) -> None:
    # 100 calls first, to leave 100 workers parked. Then 100 INVITEs, and 100 more 0.5 ms
    # later. Answering the first 100 (a 180 and a 200 each, 7.5 us a send) takes the receive
    # loop 1.5 ms, since their calls start in it: the second batch, waiting since, is read as
    # soon as that ends, not at the next 1 ms grid point after it (an idle wait that, batch
    # after batch, left a busy server behind its peer and shedding calls).
    # (Under 2 ticks: a longer stall makes the timer task read the socket first.)
    sockets: list[_SlowSendSocket] = []
    answered_at: list[float] = []

    async def drive(engine: Engine, peer: Peer) -> None:
        socket = sockets[0]
        for n in range(100):
            peer.queue(trio.current_time(), _invite(n))
        await trio.sleep(0.0502 - trio.current_time())
        socket.send_cost_s = 0.0000075
        socket.reads_at.clear()
        start = trio.current_time()
        for n in range(100, 200):
            peer.queue(start, _invite(n))
        for n in range(200, 300):
            peer.queue(start + 0.0005, _invite(n))
        await trio.sleep(0.05)
        answered_at.append(socket.last_send_at)
        assert engine.statistics().calls_started == 300

    _run_server(
        drive,
        scenario=_answering_uas(tmp_path),
        factory=socket_factory(lambda peer: _SlowSendSocket(peer, send_cost_s=0.0), sockets),
    )
    first, second = sockets[0].reads_at[:2]
    # Read the instant the first batch's 200 answers had gone (1.5 ms), not at the next grid
    # point (1.8 ms here); and the second batch was answered too.
    assert second - first == pytest.approx(200 * 0.0000075, abs=1e-9)
    assert answered_at[0] == pytest.approx(second + 200 * 0.0000075, abs=1e-9)
