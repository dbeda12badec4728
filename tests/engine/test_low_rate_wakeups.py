"""Cost of a call at low rates (docs/performance.md, "CPU per call at low rates"): at a few
hundred calls/s almost every call starts after a sleep of the whole process, and each pass of
Trio's loop after a sleep runs on cold caches. In real runs the pacing task is woken by a Trio
deadline of its own (``SelfTimedParker``), not through the timer queue's task: one task step
per start instead of two. Real-run engine (1 ms ticks, no settling) under Trio's MockClock,
against the scripted in-memory peer of test_overload."""

from __future__ import annotations

import collections

import trio
import trio.testing

from gossipper.config import RunConfig
from gossipper.session import RunPlan, open_run
from gossipper.sim import SimWallClock
from tests.engine._harness import builtin
from tests.engine.test_overload import LOCAL, PEER, Peer, PeerFactory


class StepCounter(trio.abc.Instrument):
    def __init__(self) -> None:
        self.steps: collections.Counter[str] = collections.Counter()

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps[task.name.rsplit(".", 1)[-1]] += 1


def test_pacing_at_a_low_rate_starts_calls_on_time_without_the_timer_queue_task() -> None:
    peer = Peer(latency_s=0.0005)
    counter = StepCounter()

    async def main() -> int:
        plan = RunPlan(
            scenario=builtin("uac"),
            config=RunConfig(
                local_ip=LOCAL[0], local_port=LOCAL[1], nostdin=True, rate=250, max_calls=200
            ),
            transports=PeerFactory(peer),  # type: ignore[arg-type]
            wall_clock=SimWallClock(1_800_000_000.0),
            local_ip=LOCAL[0],
            bind_host=LOCAL[0],
            remote=PEER,
            pid=1,
            seed=1,
            traces=False,
            timer_resolution_s=0.001,
        )
        async with open_run(plan) as run:
            result = await run.run()
        return result.snapshot.cumulative.successful_calls

    assert (
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0), instruments=[counter])
        == 200
    )
    # One call every 4 ms, each on time (on the 1 ms grid, never late).
    gaps = {round(b - a, 6) for a, b in zip(peer.new_calls_at, peer.new_calls_at[1:], strict=False)}
    assert gaps == {0.004}
    # The pacing task ran about once per call; the timer queue's task did not run per call
    # (through the queue it ran once per call too: 200 more steps and passes of the loop).
    assert 200 <= counter.steps["_pacing_loop"] <= 210
    assert counter.steps["run"] < 20
