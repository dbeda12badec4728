"""-rfc3339: the run's date format flows from its configuration, no process-global state."""

from __future__ import annotations

import datetime

from gossipper.output.files import Stamper
from gossipper.scenario import RunEnv
from gossipper.scenario.context import BasicCallContext
from gossipper.scenario.keywords import TimestampKeyword
from gossipper.scenario.variables import Variables
from gossipper.stats.sipp_csv import (
    format_counts_row,
    format_error_codes_row,
    format_stat_csv_row,
)
from gossipper.timefmt import format_log_time, format_log_time_rfc3339
from tests.stats._samples import UAC_START, new_uac_stats
from tests.stats._windows import log_window

PLUS_2 = datetime.timezone(datetime.timedelta(hours=2))
MINUS_530 = datetime.timezone(-datetime.timedelta(hours=5, minutes=30))
WALL = 1795671783.487751  # 2026-11-26 05:43:03.487751 UTC


def test_rfc3339_log_time_in_zones() -> None:
    assert format_log_time_rfc3339(WALL, datetime.UTC) == "2026-11-26T05:43:03.487751Z"
    assert format_log_time_rfc3339(WALL, PLUS_2) == "2026-11-26T07:43:03.487751+02:00"
    assert format_log_time_rfc3339(WALL, MINUS_530) == "2026-11-26T00:13:03.487751-05:30"


def test_stamper_writes_rfc3339_only_when_asked() -> None:
    plain = Stamper(PLUS_2)
    rfc = Stamper(PLUS_2, rfc3339=True)
    assert plain.log_time(WALL) == format_log_time(WALL, PLUS_2)
    assert plain.message_time(WALL) == "2026-11-26 07:43:03.487751"
    assert rfc.log_time(WALL) == "2026-11-26T07:43:03.487751+02:00"
    assert rfc.message_time(WALL) == "2026-11-26T07:43:03.487751+02:00"
    # The cached second is reused; the next second is computed afresh.
    assert rfc.log_time(WALL + 0.5) == "2026-11-26T07:43:03.987751+02:00"
    assert rfc.log_time(WALL + 1) == "2026-11-26T07:43:04.487751+02:00"


def test_two_runs_in_one_process_keep_their_own_format() -> None:
    plain = Stamper(datetime.UTC)
    rfc = Stamper(datetime.UTC, rfc3339=True)
    assert rfc.log_time(WALL) == "2026-11-26T05:43:03.487751Z"
    assert plain.log_time(WALL) == "2026-11-26\t05:43:03.487751\t1795671783.487751"


def test_timestamp_keyword_follows_the_run_env() -> None:
    def render(rfc3339: bool) -> str:
        env = RunEnv(wall_time=lambda: WALL, tz=PLUS_2, rfc3339=rfc3339)
        variables = Variables({}, {})
        ctx = BasicCallContext(env=env, variables=variables)
        return TimestampKeyword().render(ctx, 0, 0)

    assert render(False) == "2026-11-26\t07:43:03.487751\t1795671783.487751"
    assert render(True) == "2026-11-26T07:43:03.487751+02:00"


def test_stat_counts_and_error_codes_rows_use_rfc3339_dates() -> None:
    stats = new_uac_stats()
    snap = stats.snapshot(UAC_START + 1, 1.0, log_window(stats))
    start = format_log_time_rfc3339(UAC_START, PLUS_2)
    now = format_log_time_rfc3339(UAC_START + 1, PLUS_2)
    stat = format_stat_csv_row(snap, tz=PLUS_2, rfc3339=True).split(";")
    assert stat[:3] == [start, start, now]
    assert format_counts_row(snap, tz=PLUS_2, rfc3339=True).startswith(f"{now};")
    assert format_error_codes_row(snap, tz=PLUS_2, rfc3339=True).startswith(f"{now};")
    # Without the option the rows keep SIPp's log time.
    plain = format_stat_csv_row(snap, tz=PLUS_2).split(";")
    assert plain[0] == format_log_time(UAC_START, PLUS_2)
