"""bench/media_streams.py's receiver arithmetic: what counts as late, missing and stopped."""

from __future__ import annotations

import importlib
import pathlib
import sys
from types import ModuleType

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def media_streams() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("media_streams")
    finally:
        sys.path.remove(str(BENCH))


def stream(ssrc: int, times: list[float], first_ts: int = 1000) -> list[tuple[float, int, int]]:
    """Arrivals of consecutive 20 ms frames at the given times."""
    return [(t, ssrc, (first_ts + 160 * i) % 2**32) for i, t in enumerate(times)]


def test_a_stream_on_schedule_with_constant_transit_is_never_late(
    media_streams: ModuleType,
) -> None:
    arrivals = stream(1, [100.003 + 0.02 * i for i in range(100)])
    arrivals += stream(2, [100.011 + 0.02 * i for i in range(100)], first_ts=2**32 - 320)
    figures = media_streams.analyse(arrivals, 100.0, 102.0)
    assert figures["streams_seen"] == 2
    assert (figures["packets"], figures["late"], figures["missing"]) == (200, 0, 0)
    assert figures["late_percent"] == 0.0
    assert figures["stopped_streams"] == 0
    assert figures["median_interval_ms"] == pytest.approx(20.0)


def test_packets_behind_their_slot_by_over_10ms_are_late(media_streams: ModuleType) -> None:
    times = [100.0 + 0.02 * i for i in range(100)]
    times[10] += 0.0101  # late
    times[11] += 0.0099  # not quite
    # From frame 70 on the sender shifted its phase by 15 ms: every later packet is late against
    # the schedule its RTP timestamps promise.
    times[70:] = [t + 0.015 for t in times[70:]]
    figures = media_streams.analyse(stream(7, times), 99.0, 102.0)
    assert figures["late"] == 1 + 30
    assert figures["late_percent"] == pytest.approx(31.0)
    assert figures["worst_late_ms"] == pytest.approx(15.0)
    assert figures["early"] == 0


def test_a_packet_sent_ahead_is_early_not_a_reason_to_call_the_others_late(
    media_streams: ModuleType,
) -> None:
    # SIPp 3.6.1's pattern: every 26th packet leaves back to back with the one before.
    times = [100.0 + 0.02 * i for i in range(104)]
    for i in range(25, 104, 26):
        times[i] = times[i - 1] + 0.0001
    figures = media_streams.analyse(stream(8, times), 99.0, 103.0)
    assert (figures["late"], figures["early"], figures["late_percent"]) == (0, 4, 0.0)
    # Anchored at the earliest packet instead, all the others would be 20 ms late.
    assert figures["late_vs_earliest_percent"] == pytest.approx(100.0 * 100 / 104)


def test_frames_never_received_count_as_late(media_streams: ModuleType) -> None:
    arrivals = [
        a
        for a in stream(3, [100.0 + 0.02 * i for i in range(100)])
        if not 20 <= (a[2] - 1000) // 160 < 25
    ]
    figures = media_streams.analyse(arrivals, 99.0, 102.0)
    assert (figures["packets"], figures["missing"], figures["late"]) == (95, 5, 0)
    assert figures["late_percent"] == pytest.approx(5.0)


def test_a_stream_silent_for_over_a_second_before_the_end_is_stopped(
    media_streams: ModuleType,
) -> None:
    arrivals = stream(4, [100.0 + 0.02 * i for i in range(20)])  # ends at 100.38
    arrivals += stream(5, [100.0 + 0.02 * i for i in range(100)])
    figures = media_streams.analyse(arrivals, 100.0, 102.0)
    assert figures["stopped_streams"] == 1
    assert figures["streams_seen"] == 2


def test_only_the_window_counts(media_streams: ModuleType) -> None:
    times = [100.0 + 0.02 * i for i in range(100)]
    times[0] += 0.05  # a late packet before the window opens does not count
    figures = media_streams.analyse(stream(6, times), 100.1, 101.5)
    assert figures["late"] == 0
    assert figures["packets"] == sum(1 for t in times if 100.1 <= t <= 101.5)
