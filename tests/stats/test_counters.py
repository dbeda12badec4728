from __future__ import annotations

import math

import pytest

from gossipper.stats import (
    FAILURE_REASONS,
    ElementInfo,
    ElementKindTag,
    FailureReason,
    MeanStat,
    RunStats,
)
from gossipper.stats.counters import OWN_FAILURE_REASONS, SIPP_FAILURE_REASONS


def new_stats(**overrides: object) -> RunStats:
    kwargs: dict[str, object] = {
        "elements": [ElementInfo(0, ElementKindTag.SEND, "INVITE")],
        "rtd_names": ["a", "b"],
        "counter_names": ["c1", "7"],
        "response_time_repartition_ms": [50, 10, 20],
        "call_length_repartition_ms": [100],
        "start_wall": 1000.0,
        "start_mono": 50.0,
        "target_rate": 10.0,
    }
    kwargs.update(overrides)
    return RunStats(**kwargs)  # type: ignore[arg-type]


def test_failure_reason_values_are_stat_csv_columns_in_order() -> None:
    assert [r.value for r in FAILURE_REASONS][:3] == [
        "FailedCannotSendMessage",
        "FailedMaxUDPRetrans",
        "FailedTcpConnect",
    ]
    # SIPp 3.6.1's 17 reasons are the stat CSV's columns; gossipper's own come after them.
    assert FAILURE_REASONS[:17] == SIPP_FAILURE_REASONS
    assert SIPP_FAILURE_REASONS[-1] is FailureReason.STRCMP_SHOULDNT_MATCH
    assert FAILURE_REASONS[17:] == OWN_FAILURE_REASONS
    assert [r.value for r in OWN_FAILURE_REASONS] == ["FailedMediaPorts", "FailedMediaSdp"]
    assert FailureReason("FailedRegexpHdrNotFound") is FailureReason.REGEXP_HDR_NOT_FOUND


def test_plain_int_attributes_are_bumped_directly() -> None:
    stats = new_stats()
    stats.retransmissions += 2
    stats.elements[0].messages += 1
    stats.elements[0].retrans += 1
    stats.generic_counters[1] += 3
    stats.failures[0] += 1
    snap = stats.snapshot(1001.0, 51.0)
    assert snap.cumulative.retransmissions == 2
    assert snap.elements[0].messages == 1 and snap.elements[0].retrans == 1
    assert snap.cumulative.generic_counters == (0, 3)
    assert snap.cumulative.failure(FailureReason.CANNOT_SEND_MESSAGE) == 1


def test_calls_current_and_peak() -> None:
    stats = new_stats()
    stats.call_created(51.0, incoming=False)
    stats.call_created(52.5, incoming=True)
    stats.call_ended(53.0, 2.0, None)
    stats.call_created(54.0, incoming=False)
    snap = stats.snapshot(1005.0, 55.0)
    assert (snap.cumulative.outgoing_calls, snap.cumulative.incoming_calls) == (2, 1)
    assert snap.cumulative.total_calls == 3
    assert snap.current_calls == 2
    assert (snap.peak_calls, snap.peak_calls_mono) == (2, 52.5)


def test_failed_calls_count_their_reason_and_not_the_call_length() -> None:
    stats = new_stats()
    for _ in range(3):
        stats.call_created(51.0, incoming=False)
    stats.call_ended(52.0, 1.0, FailureReason.TIMEOUT_ON_RECV)
    stats.call_ended(52.0, 1.0, None, failed=True)
    stats.call_ended(52.0, 0.25, None)
    c = stats.snapshot(1002.0, 52.0).cumulative
    assert (c.successful_calls, c.failed_calls) == (1, 2)
    assert c.failure(FailureReason.TIMEOUT_ON_RECV) == 1
    assert sum(c.failures) == 1
    assert c.call_length == MeanStat(1, 250, 62500)
    assert c.call_length_repartition == (0, 1)


def test_periodic_values_are_differences_since_the_last_reset() -> None:
    stats = new_stats()
    stats.call_created(51.0, incoming=False)
    log = stats.open_window()
    first = stats.snapshot(1001.0, 51.0, log, restart=True)
    assert first.periodic.outgoing_calls == 1
    assert first.period_start_wall == 1000.0 and first.period_start_mono == 50.0
    stats.call_created(51.5, incoming=False)
    stats.warnings += 1
    second = stats.snapshot(1002.0, 52.0, log)
    assert second.periodic.outgoing_calls == 1
    assert second.cumulative.outgoing_calls == 2
    assert second.periodic.warnings == 1
    assert second.period_start_wall == 1001.0
    # no reset: the same window again
    third = stats.snapshot(1003.0, 53.0, log, restart=True)
    assert third.periodic.outgoing_calls == 1
    fourth = stats.snapshot(1004.0, 54.0, log)
    assert fourth.periodic.outgoing_calls == 0
    assert fourth.periodic.warnings == 0
    assert fourth.cumulative.warnings == 1


def test_windows_of_different_consumers_are_independent() -> None:
    stats = new_stats()
    display_window, log_window = stats.open_window(), stats.open_window()
    stats.call_created(51.0, incoming=False)
    stats.snapshot(1001.0, 51.0, display_window, restart=True)
    stats.call_created(51.5, incoming=False)
    display = stats.snapshot(1002.0, 52.0, display_window)
    log = stats.snapshot(1002.0, 52.0, log_window)
    assert display.periodic.outgoing_calls == 1
    assert log.periodic.outgoing_calls == 2
    assert log.period_start_wall == 1000.0


def test_a_snapshot_without_restart_changes_nothing() -> None:
    stats = new_stats()
    window = stats.open_window(error_codes=True)
    stats.call_created(51.0, incoming=False)
    stats.unexpected_response_code(486)
    first = stats.snapshot(1001.0, 51.0, window)
    stats.snapshot(1001.5, 51.5)  # a poller without a window
    again = stats.snapshot(1002.0, 52.0, window)
    assert first.periodic == again.periodic
    assert first.error_codes == again.error_codes == (486,)


def test_rtd_statistics_use_whole_milliseconds() -> None:
    stats = new_stats()
    stats.rtd_sample(0, 0.0049, 51.0)
    stats.rtd_sample(0, 0.001, 51.0)  # 1.0 ms after float noise
    stats.rtd_sample(1, 1.001, 51.0)  # 1000.9999999999999 -> 1001, not 1000
    c = stats.snapshot(1001.0, 51.0).cumulative
    assert c.rtd[0] == MeanStat(2, 5, 17)
    assert c.rtd[1] == MeanStat(1, 1001, 1001 * 1001)
    # borders are sorted: 10, 20, 50; 4 ms and 1 ms go in "< 10", 1001 in ">= 50"
    assert c.rtd_repartition == ((2, 0, 0, 0), (0, 0, 0, 1))


def test_repartition_bucket_borders_are_half_open() -> None:
    stats = new_stats()
    for ms in (9, 10, 19, 20, 49, 50, 51):
        stats.rtd_sample(0, ms / 1000, 51.0)
    c = stats.snapshot(1001.0, 51.0).cumulative
    assert c.rtd_repartition[0] == (1, 2, 2, 2)


def test_no_repartition_when_not_configured() -> None:
    stats = new_stats(response_time_repartition_ms=None, call_length_repartition_ms=[])
    stats.rtd_sample(0, 0.002, 51.0)
    stats.call_created(51.0, incoming=False)
    stats.call_ended(52.0, 1.0, None)
    snap = stats.snapshot(1001.0, 52.0)
    assert snap.response_time_repartition_ms is None
    assert snap.call_length_repartition_ms is None
    assert snap.cumulative.rtd_repartition == ((), ())
    assert snap.cumulative.call_length_repartition == ()


def test_sipp_standard_deviations() -> None:
    assert MeanStat(0, 0, 0).sipp_rtd_stddev_ms == 0.0
    assert MeanStat(1, 8, 64).sipp_rtd_stddev_ms == 0.0
    assert MeanStat(0, 0, 0).sipp_call_length_stddev_ms == 0.0
    # one call: 0/0 in SIPp, which prints 2562047788015:12:55:808000
    assert math.isnan(MeanStat(1, 8, 64).sipp_call_length_stddev_ms)
    assert MeanStat(9, 4, 16).sipp_rtd_stddev_ms == pytest.approx(math.sqrt(128 / 72))
    assert MeanStat(2, 4, 10).sipp_call_length_stddev_ms == pytest.approx(math.sqrt(2))
    assert MeanStat(4, 10, 30).mean_ms == 2.5
    assert MeanStat(0, 0, 0).mean_ms == 0.0


def test_rtt_samples_are_kept_only_on_request_and_taken_once() -> None:
    quiet = new_stats()
    quiet.rtd_sample(0, 0.004, 51.0)
    assert quiet.take_rtt_samples() == []
    stats = new_stats(keep_rtt_samples=True)
    stats.rtd_sample(1, 0.004, 50.808001)
    stats.rtd_sample(0, 0.0, 51.0)
    samples = stats.take_rtt_samples()
    assert [(round(d, 3), v, n) for d, v, n in samples] == [(808.001, 4.0, "b"), (1000.0, 0.0, "a")]
    assert stats.take_rtt_samples() == []


def test_error_codes_belong_to_windows_that_ask_for_them() -> None:
    stats = new_stats()
    log_window = stats.open_window(error_codes=True)
    display_window = stats.open_window()
    other_log = stats.open_window(error_codes=True)
    stats.unexpected_response_code(486)
    stats.unexpected_response_code(500)
    display = stats.snapshot(1001.0, 51.0, display_window, restart=True)
    assert display.error_codes == ()
    stats.unexpected_response_code(403)
    log = stats.snapshot(1002.0, 52.0, log_window, restart=True)
    assert log.error_codes == (486, 500, 403)
    assert stats.snapshot(1003.0, 53.0, log_window).error_codes == ()
    stats.unexpected_response_code(404)
    assert stats.snapshot(1003.0, 53.0, log_window).error_codes == (404,)
    # Another consumer's window still sees every code since its own start.
    assert stats.snapshot(1003.0, 53.0, other_log).error_codes == (486, 500, 403, 404)


def test_error_codes_stay_bounded_without_a_consumer() -> None:
    stats = new_stats()
    for _ in range(250_001):
        stats.unexpected_response_code(500)
    assert len(stats._error_codes) <= 200_000


def test_snapshot_is_frozen_and_detached() -> None:
    stats = new_stats()
    stats.rtd_sample(0, 0.002, 51.0)
    snap = stats.snapshot(1001.0, 51.0)
    stats.rtd_sample(0, 0.003, 51.0)
    stats.elements[0].messages += 5
    assert snap.rtd_histograms[0].count == 1
    assert snap.elements[0].messages == 0
    with pytest.raises(AttributeError):
        snap.current_calls = 3  # type: ignore[misc]


def test_elapsed_and_rates_follow_sipp_arithmetic() -> None:
    stats = new_stats(start_wall=1795671783.487751)
    for _ in range(9):
        stats.call_created(51.0, incoming=False)
    window = stats.open_window()
    stats.snapshot(1795671783.491291, 50.1, window, restart=True)
    snap = stats.snapshot(1795671784.492111, 51.0, window)
    assert snap.elapsed_ms_c == 1004
    assert snap.elapsed_ms_p == 1000
    assert f"{snap.call_rate_c:g}" == "8.96414"
    assert snap.call_rate_p == 0.0  # all calls were created before the reset
    assert snap.elapsed_s == 1.0


def test_reset_cumulative_keeps_periodic_values_running() -> None:
    stats = new_stats()
    stats.call_created(51.0, incoming=False)
    stats.call_created(51.0, incoming=False)
    window = stats.open_window()
    stats.snapshot(1001.0, 51.0, window, restart=True)
    stats.call_created(52.0, incoming=False)
    stats.rtd_sample(0, 0.005, 52.0)
    stats.reset_cumulative(1002.0, 52.0)
    stats.call_created(53.0, incoming=False)
    snap = stats.snapshot(1003.0, 53.0, window)
    assert snap.cumulative.outgoing_calls == 1
    assert snap.periodic.outgoing_calls == 2
    assert snap.periodic.rtd[0] == MeanStat(1, 5, 25)
    assert snap.cumulative.rtd[0] == MeanStat(0, 0, 0)
    assert snap.start_wall == 1002.0 and snap.start_mono == 52.0
    assert snap.run_start_mono == 50.0 and snap.elapsed_s == 3.0
    assert snap.current_calls == 4 and snap.peak_calls == 4
    assert snap.rtd_histograms[0].count == 0


def test_target_rate_is_mutable() -> None:
    stats = new_stats()
    stats.target_rate = 25.5
    assert stats.snapshot(1001.0, 51.0).target_rate == 25.5
