"""The media scheduler under trio's MockClock: exact send times, headers, stalls, DTMF, pcap."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from gossipper.errors import TransportError
from gossipper.interfaces import Address
from gossipper.media.rtp import RtpPacket, parse_rtp, parse_telephone_event
from gossipper.media.scheduler import TICK_PHASE_S, MediaScheduler, RtpStream, StreamHandle
from tests.sim._scheduling import hooks_available, shuffled_scheduling

Sent = tuple[float, Address, bytes]


class Recorder:
    """A SendFn that records (time, destination, bytes) and can refuse or raise on demand."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.refuse: set[int] = set()  # call numbers (0-based) answered False
        self.raise_on: set[int] = set()
        self.calls = 0

    def __call__(self, data: bytes, address: Address) -> bool:
        n = self.calls
        self.calls += 1
        if n in self.raise_on:
            raise TransportError("no route")
        if n in self.refuse:
            return False
        self.sent.append((trio.current_time(), address, bytes(data)))
        return True

    def packets(self) -> list[RtpPacket]:
        return [parse_rtp(data) for _, _, data in self.sent]

    def times_ms(self) -> list[float]:
        """Send times in ms from the tick grid's phase (ticks then fall on whole 10 ms)."""
        return [round((t - TICK_PHASE_S) * 1000.0, 6) for t, _, _ in self.sent]


DEST: Address = ("127.0.0.1", 40000)


def run_with(body: Callable[[MediaScheduler, trio.testing.MockClock], Awaitable[None]]) -> None:
    clock = trio.testing.MockClock(autojump_threshold=0)

    async def main() -> None:
        scheduler = MediaScheduler()
        async with trio.open_nursery() as nursery:
            await nursery.start(scheduler.run)
            await body(scheduler, clock)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=clock)


def start(scheduler: MediaScheduler, send: Recorder, **overrides: object) -> StreamHandle:
    args: dict[str, object] = {
        "send": send,
        "destination": DEST,
        "payloads": [b"\x01" * 160, b"\x02" * 160, b"\x03" * 160],
        "payload_type": 0,
        "samples_per_frame": 160,
        "frame_interval_ms": 20.0,
        "loops": 1,
        "ssrc": 0x11223344,
        "first_seq": 100,
        "first_timestamp": 1000,
    }
    args.update(overrides)
    return scheduler.start_rtp(**args)  # type: ignore[arg-type]


def test_file_stream_sends_every_frame_with_rtp_headers_on_a_20ms_schedule() -> None:
    send = Recorder()

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        await trio.sleep(0.001)  # start between two ticks: the stream begins on the next one
        handle = start(scheduler, send, loops=2, first_seq=65534, first_timestamp=2**32 - 160)
        assert scheduler.active_streams == 1
        await handle.wait_done()
        assert handle.done and scheduler.active_streams == 0

    run_with(body)
    packets = send.packets()
    assert [p.sequence for p in packets] == [65534, 65535, 0, 1, 2, 3]
    assert [p.timestamp for p in packets] == [2**32 - 160, 0, 160, 320, 480, 640]
    assert {p.ssrc for p in packets} == {0x11223344}
    assert {p.payload_type for p in packets} == {0}
    assert [p.marker for p in packets] == [True] + [False] * 5
    assert [p.payload[0] for p in packets] == [1, 2, 3, 1, 2, 3]
    assert send.times_ms() == [10.0, 30.0, 50.0, 70.0, 90.0, 110.0]
    assert {address for _, address, _ in send.sent} == {DEST}


def test_counters_count_payload_octets_and_no_lateness_on_schedule() -> None:
    send = Recorder()
    handles: list[StreamHandle] = []

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        handles.append(start(scheduler, send))
        await handles[0].wait_done()

    run_with(body)
    c = handles[0].counters
    assert (c.packets_sent, c.octets_sent, c.late_packets, c.max_late_ms) == (3, 480, 0, 0.0)
    assert (c.first_sent_s, c.last_sent_s) == (TICK_PHASE_S, 0.04 + TICK_PHASE_S)
    assert (c.skipped_packets, c.dropped_packets, c.send_errors) == (0, 0, 0)


@pytest.mark.parametrize(("loops", "expected"), [(0, 3), (1, 3), (3, 9)])
def test_loops_follow_sipp_semantics(loops: int, expected: int) -> None:
    send = Recorder()

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        await start(scheduler, send, loops=loops).wait_done()

    run_with(body)
    assert len(send.sent) == expected


def test_forever_stream_runs_until_stopped() -> None:
    send = Recorder()

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        handle = start(scheduler, send, loops=-1)
        await trio.sleep(1.0 - 0.001)
        handle.stop()
        assert handle.done and scheduler.active_streams == 0
        await handle.wait_done()
        await trio.sleep(0.1)

    run_with(body)
    assert len(send.sent) == 50  # 0, 20, ..., 980 ms


def test_thousands_of_streams_one_task_batches_per_tick_in_start_order() -> None:
    send = Recorder()
    ticks: list[int] = []

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        handles = []
        for i in range(2000):
            handles.append(start(scheduler, send, loops=-1, ssrc=i, payloads=[b"\xff" * 160]))
            if i % 500 == 499:
                await trio.sleep(0.005)  # four start groups, two tick phases
        await trio.sleep(1.0)
        for handle in handles:
            handle.stop()
        ticks.append(scheduler.ticks_served)
        assert sum(h.counters.late_packets for h in handles) == 0

    run_with(body)
    by_time: dict[float, list[int]] = {}
    for t, _, data in send.sent:
        by_time.setdefault(t, []).append(parse_rtp(data).ssrc)
    for ssrcs in by_time.values():
        assert ssrcs == sorted(ssrcs)  # start order within each tick
    # Each stream sends every 20 ms; the scheduler woke once per 10 ms tick, not per packet.
    assert len(send.sent) > 2000 * 49
    assert ticks[0] <= 103
    per_stream: dict[int, list[float]] = {}
    for t, _, data in send.sent:
        per_stream.setdefault(parse_rtp(data).ssrc, []).append(t)
    for times in per_stream.values():
        gaps = {round(b - a, 9) for a, b in zip(times, times[1:], strict=False)}
        assert gaps == {0.02}


def test_a_stall_sends_one_ticks_worth_then_skips_ahead_keeping_seq_contiguous() -> None:
    send = Recorder()
    handles: list[StreamHandle] = []

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        frames = [bytes([i]) * 160 for i in range(50)]
        handles.append(start(scheduler, send, loops=-1, payloads=frames))
        await trio.sleep(0.045)  # packets at 0, 20, 40 ms
        clock.jump(0.1)  # the process was descheduled for 100 ms: time moves, nobody runs
        await trio.sleep(0.05)
        handles[0].stop()

    run_with(body)
    packets = send.packets()
    times = send.times_ms()
    c = handles[0].counters
    # Slots due at 60..140 ms are overdue at 145 ms; only the newest (140 ms) goes, late by
    # 5 ms (under the 10 ms bar); the four older ones are skipped, not burst.
    assert times[:5] == [0.0, 20.0, 40.0, 144.999, 160.0]
    assert c.skipped_packets == 4
    assert [p.sequence for p in packets] == list(range(100, 100 + len(packets)))
    assert [p.timestamp for p in packets[:5]] == [1000, 1160, 1320, 1000 + 7 * 160, 1000 + 8 * 160]
    assert packets[3].payload[0] == 7  # the file position jumped with the timeline


def test_lateness_over_10ms_is_counted() -> None:
    send = Recorder()
    handles: list[StreamHandle] = []

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        handles.append(start(scheduler, send, loops=-1))
        await trio.sleep(0.015)  # packet at 0 sent; next due 20 ms
        clock.jump(0.0165)  # the loop wakes at 31.5 ms: 11.5 ms late
        await trio.sleep(0.03)
        handles[0].stop()

    run_with(body)
    c = handles[0].counters
    assert send.times_ms()[:3] == [0.0, 31.499, 40.0]
    assert c.late_packets == 1 and c.skipped_packets == 0
    assert c.max_late_ms == pytest.approx(11.499)


def test_refused_sends_are_drops_and_errors_do_not_stop_the_stream() -> None:
    send = Recorder()
    send.refuse = {1}
    send.raise_on = {2}
    handles: list[StreamHandle] = []

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        handles.append(start(scheduler, send, loops=2))
        await handles[0].wait_done()

    run_with(body)
    c = handles[0].counters
    assert (c.packets_sent, c.dropped_packets, c.send_errors) == (4, 1, 1)
    # A dropped packet still used its sequence number: the receiver sees it as lost.
    assert [p.sequence for p in send.packets()] == [100, 103, 104, 105]
    handle = handles[0]
    assert isinstance(handle, RtpStream)
    assert handle.next_sequence == 106
    # The media clock: slot 0 (timestamp 1000) was due at the first tick, 20 ms per 160.
    assert handle.rtp_timestamp_at(TICK_PHASE_S + 0.2) == 1000 + 1600
    assert (handle.ssrc, handle.payload_type, handle.clock_rate) == (0x11223344, 0, 8000.0)


def test_pause_resume_jumps_the_timestamp_by_the_paused_time_and_sets_the_marker() -> None:
    send = Recorder()

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        handle = start(scheduler, send, loops=-1)
        await trio.sleep(0.025)  # sent at 0, 20
        handle.pause()
        assert handle.paused and not handle.done
        await trio.sleep(0.2)
        handle.resume()  # at 225 ms: next tick 230 ms
        await trio.sleep(0.03)
        handle.stop()

    run_with(body)
    packets = send.packets()
    assert send.times_ms() == [0.0, 20.0, 230.0, 250.0]
    assert [p.sequence for p in packets] == [100, 101, 102, 103]
    # Slot 2 was due at 40 ms and went at 230 ms: 190 ms = 1520 samples later.
    assert [p.timestamp for p in packets] == [1000, 1160, 1320 + 1520, 1480 + 1520]
    assert [p.marker for p in packets] == [True, False, True, False]
    assert [p.payload[0] for p in packets] == [1, 2, 3, 1]


def test_dtmf_events_share_the_streams_sequence_and_timestamp_space() -> None:
    send = Recorder()

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        handle = start(scheduler, send, loops=-1)
        await trio.sleep(0.015)  # audio at 0
        handle.send_dtmf("5", duration_ms=60, volume=7)
        await trio.sleep(0.12)
        handle.stop()

    run_with(body)
    packets = send.packets()
    assert [p.sequence for p in packets] == list(range(100, 100 + len(packets)))
    kinds = [p.payload_type for p in packets]
    assert kinds[:7] == [0, 101, 101, 101, 101, 101, 0]
    events = [parse_telephone_event(p.payload) for p in packets[1:6]]
    assert [e.event for e in events] == [5] * 5
    assert [e.duration for e in events] == [160, 320, 480, 480, 480]
    assert [e.end for e in events] == [False, False, True, True, True]
    assert {e.volume for e in events} == {7}
    assert {p.timestamp for p in packets[1:6]} == {1160}  # the slot the event started on
    assert [p.marker for p in packets[1:7]] == [True, False, False, False, False, True]
    assert packets[6].timestamp == 1000 + 6 * 160
    assert {p.ssrc for p in packets} == {0x11223344}


def test_dtmf_only_stream_is_idle_until_digits_are_queued() -> None:
    send = Recorder()

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        handle = start(scheduler, send, payloads=[], payload_type=0, loops=-1)
        await trio.sleep(0.5)
        assert send.sent == [] and not handle.done
        handle.send_dtmf("#1", duration_ms=40, gap_ms=40)
        await trio.sleep(0.5)
        handle.stop()
        with pytest.raises(ValueError, match="'x' is not a DTMF digit"):
            handle.send_dtmf("x")

    run_with(body)
    packets = send.packets()
    assert [parse_telephone_event(p.payload).event for p in packets] == [11] * 4 + [1] * 4
    assert [p.sequence for p in packets] == list(range(100, 108))
    # "#" starts on the tick at 500 ms: 500 ms of media clock = 4000 samples after slot 0.
    assert packets[0].timestamp == 1000 + 4000
    assert packets[4].timestamp == 1000 + 4000 + 6 * 160  # 4 event slots + 2 gap slots
    assert send.times_ms()[4] == 620.0


def test_destination_is_retargetable_mid_stream() -> None:
    send = Recorder()

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        handle = start(scheduler, send, loops=2)
        await trio.sleep(0.03)
        handle.destination = ("127.0.0.1", 50000)
        await handle.wait_done()

    run_with(body)
    ports = [address[1] for _, address, _ in send.sent]
    assert ports == [40000, 40000, 50000, 50000, 50000, 50000]


def test_timed_replay_sends_captured_packets_on_the_nearest_tick() -> None:
    send = Recorder()
    raw = [RtpPacket(8, i, i * 160, 7, bytes([i]) * 160).pack() for i in range(4)]
    handles: list[StreamHandle] = []

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        handle = scheduler.start_timed(
            send=send,
            destination=DEST,
            packets=[(0.0, raw[0]), (0.004, raw[1]), (0.0262, raw[2]), (0.5, raw[3])],
        )
        handles.append(handle)
        await handle.wait_done()
        with pytest.raises(ValueError, match="DTMF"):
            handle.send_dtmf("1")

    run_with(body)
    assert [data for _, _, data in send.sent] == raw
    assert send.times_ms() == [0.0, 0.0, 30.0, 500.0]
    c = handles[0].counters
    assert (c.packets_sent, c.octets_sent, c.late_packets) == (4, 640, 0)


def test_timed_replay_rejects_decreasing_offsets() -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match="must not decrease"):
            MediaScheduler().start_timed(
                send=Recorder(), destination=DEST, packets=[(1.0, b"a"), (0.5, b"b")]
            )

    trio.run(main)


@pytest.mark.skipif(not hooks_available(), reason="trio changed its private scheduling hooks")
def test_output_does_not_depend_on_the_order_trio_runs_tasks_of_one_instant_in() -> None:
    def once(seed: int) -> list[Sent]:
        send = Recorder()

        async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
            handles = [start(scheduler, send, ssrc=i, loops=-1) for i in range(20)]
            await trio.sleep(0.01)  # actions on whole milliseconds, like the engine's timers
            handles[3].send_dtmf("12")
            handles[4].pause()
            handles.append(start(scheduler, send, ssrc=99, loops=-1))
            await trio.sleep(0.3)
            handles[4].resume()
            handles[5].destination = ("127.0.0.1", 1)
            await trio.sleep(0.2)
            for handle in handles:
                handle.stop()

        with shuffled_scheduling(seed):
            run_with(body)
        return send.sent

    first = once(1)
    assert len(first) > 20 * 20
    for seed in (2, 3, 4):
        assert once(seed) == first


def test_dtmf_queued_at_the_end_of_a_file_is_sent_before_the_stream_is_done() -> None:
    send = Recorder()

    async def body(scheduler: MediaScheduler, clock: trio.testing.MockClock) -> None:
        handle = start(scheduler, send, loops=1)  # frames at 0, 20, 40 ms
        await trio.sleep(0.035)
        handle.send_dtmf("9", duration_ms=40)
        await handle.wait_done()
        assert scheduler.active_streams == 0

    run_with(body)
    packets = send.packets()
    # Audio slots 0 and 1, then the event takes slots 2..5 (no audio after the file's end).
    assert [p.payload_type for p in packets] == [0, 0, 101, 101, 101, 101]
    assert [p.sequence for p in packets] == list(range(100, 106))
    assert parse_telephone_event(packets[-1].payload).end
