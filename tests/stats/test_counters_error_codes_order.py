"""Error codes of one instant are ordered by value, whatever order the calls reported them."""

from __future__ import annotations

from gossipper.stats import RunStats


def _stats() -> RunStats:
    return RunStats(
        elements=(),
        rtd_names=(),
        counter_names=(),
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=1000.0,
        start_mono=0.0,
        target_rate=10.0,
    )


def _codes(order: list[tuple[int, float]]) -> tuple[int, ...]:
    stats = _stats()
    window = stats.open_window(error_codes=True)
    for code, now in order:
        stats.unexpected_response_code(code, now)
    return stats.snapshot(1001.0, 1.0, window).error_codes


def test_same_instant_codes_do_not_depend_on_report_order() -> None:
    one = _codes([(486, 1.0), (503, 2.0), (404, 2.0), (486, 2.0), (500, 3.0)])
    two = _codes([(486, 1.0), (486, 2.0), (404, 2.0), (503, 2.0), (500, 3.0)])
    assert one == two == (486, 404, 486, 503, 500)


def test_codes_without_time_keep_arrival_order() -> None:
    stats = _stats()
    window = stats.open_window(error_codes=True)
    for code in (503, 404):
        stats.unexpected_response_code(code)
    assert stats.snapshot(1001.0, 1.0, window).error_codes == (503, 404)
