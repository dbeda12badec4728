from __future__ import annotations

import datetime
import math

import pytest

from gossipper.stats.formatting import (
    c_double,
    c_ulong,
    elapsed_ms,
    epoch_to_us,
    f32,
    format_log_time,
    format_rfc3339,
    ms_to_hhmmss,
    ms_to_hhmmss_us,
    sipp_call_rate,
)

UTC = datetime.UTC


def test_log_time_utc_and_other_zone() -> None:
    assert format_log_time(1795671783.487751, UTC) == (
        "2026-11-26\t05:43:03.487751\t1795671783.487751"
    )
    plus2 = datetime.timezone(datetime.timedelta(hours=2))
    assert format_log_time(1795671783.487751, plus2).startswith("2026-11-26\t07:43:03.487751\t")
    # epoch is zero-padded to ten digits, microseconds never drift from float noise
    assert format_log_time(5.0000006, UTC) == "1970-01-01\t00:00:05.000001\t0000000005.000001"
    assert format_log_time(0.999999999, UTC).endswith("\t0000000001.000000")


def test_log_time_default_is_the_local_zone() -> None:
    local = datetime.datetime.fromtimestamp(1795671783).strftime("%Y-%m-%d\t%H:%M:%S")
    assert format_log_time(1795671783.25).startswith(local + ".250000\t")


def test_rfc3339() -> None:
    assert format_rfc3339(1795671783.487751) == "2026-11-26T05:43:03.487751Z"
    plus2 = datetime.timezone(datetime.timedelta(hours=2))
    assert format_rfc3339(1795671783.0, plus2) == "2026-11-26T07:43:03.000000+02:00"


def test_durations() -> None:
    assert ms_to_hhmmss(1004) == "00:00:01"
    assert ms_to_hhmmss(3600 * 1000 * 123 + 61_999) == "123:01:01"
    assert ms_to_hhmmss_us(2014) == "00:00:02:014000"
    assert ms_to_hhmmss_us(c_ulong(math.nan)) == "2562047788015:12:55:808000"
    assert elapsed_ms(1795671783.487751, 1795671784.492111) == 1004
    assert elapsed_ms(10.0, 9.0) == 0
    assert epoch_to_us(1795671783.487751) == 1795671783487751


def test_c_conversions() -> None:
    assert c_ulong(8.99) == 8
    assert c_ulong(math.inf) == 1 << 63
    assert c_ulong(2.0**63 + 4096) == 2**63 + 4096
    assert c_ulong(-1.5) == 2**64 - 1
    assert [c_double(x) for x in (10.0, 8.964143, 0.0, 1e-5, 1234567.0)] == [
        "10",
        "8.96414",
        "0",
        "1e-05",
        "1.23457e+06",
    ]
    assert f32(0.1) != 0.1 and f32(0.5) == 0.5
    assert f32(1e300) == math.inf


@pytest.mark.parametrize(
    ("calls", "ms", "text"),
    [(9, 1004, "8.96414"), (11, 1003, "10.9671"), (20, 2014, "9.93049"), (1, 1003, "0.997009")],
)
def test_call_rates_match_sipp_output(calls: int, ms: int, text: str) -> None:
    assert c_double(sipp_call_rate(calls, ms)) == text


def test_call_rate_of_an_empty_period_is_zero() -> None:
    assert sipp_call_rate(5, 0) == 0.0
