"""Pacing: calls started follow rate x elapsed time, exactly, including ramps."""

from __future__ import annotations

import math

from gossipper.engine.rate import RateState, default_open_call_limit
from tests.engine._harness import builtin, run_pair


def test_calls_due_is_floor_of_rate_times_elapsed() -> None:
    state = RateState(rate=200.0, period_s=1.0, changed_at_s=10.0)
    assert state.calls_due(10.0) == 0
    assert state.calls_due(10.004) == 0
    assert state.calls_due(10.005) == 1
    assert state.calls_due(11.0) == 200
    state.started_since_change = 150
    assert state.calls_due(11.0) == 50
    assert math.isclose(state.next_due_s(), 10.0 + 151 / 200)


def test_rate_period_divides_the_rate() -> None:
    state = RateState(rate=7.0, period_s=2.0, changed_at_s=0.0)
    assert state.calls_due(2.0) == 7
    assert state.calls_due(1.0) == 3


def test_rate_change_restarts_the_count() -> None:
    state = RateState(rate=10.0, period_s=1.0, changed_at_s=0.0)
    state.started_since_change = 10
    state.change_rate(100.0, 1.0)
    assert state.calls_due(1.5) == 50
    assert state.calls_due(0.5) == 0


def test_default_open_call_limit_matches_sipp() -> None:
    # sipp -sn uac -r 10: "calls (limit 30)".
    assert default_open_call_limit(10.0, 1.0, 0, 0) == 30
    assert default_open_call_limit(10.0, 1.0, 4000, 0) == 120
    assert default_open_call_limit(0.1, 1.0, 0, 0) == 1


def test_ten_seconds_at_200_cps_start_2000_calls() -> None:
    result = run_pair(
        builtin("uac"), builtin("uas"), client_options={"rate": 200.0, "timeout_s": 10.0}
    )
    created = result.client.snapshot.cumulative.outgoing_calls
    assert abs(created - 2000) <= 20  # within 1 %
    assert created == 2000  # and in fact exact under virtual time


def test_rate_ramp_steps_at_their_own_time_and_stops_at_max() -> None:
    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={
            "rate": 10.0,
            "rate_increase": 10.0,
            "rate_interval_s": 1.0,
            "rate_max": 30.0,
        },
    )
    # 1 s at 10 cps, 1 s at 20 cps, then 30 is the maximum: soft quit at t=2.
    created = result.client.snapshot.cumulative.outgoing_calls
    assert created == 10 + 20
    assert result.client.quit_reason == "maximum rate reached"
