from __future__ import annotations

import re

import pytest

from gossipper.stats import (
    ElementInfo,
    ElementKindTag,
    RunStats,
    format_counts_header,
    format_counts_row,
    format_error_codes_row,
    format_rtt_header,
    format_rtt_lines,
    format_stat_csv_header,
    format_stat_csv_row,
    stat_csv_columns,
)
from tests.stats._windows import log_window

from ._samples import (
    FAILING_ELEMENTS,
    FAILING_START,
    UAC_ELEMENTS,
    UAC_START,
    UAS_ELEMENTS,
    UAS_START,
    UTC,
    failing_final_stats,
    new_uac_stats,
    new_uas_stats,
    sample_lines,
    set_uac_elements,
    uac_call,
)

# ---------------------------------------------------------------------- stat CSV


@pytest.mark.parametrize(
    ("sample", "factory"),
    [
        ("uac_stat.csv", new_uac_stats),
        ("uas_stat.csv", new_uas_stats),
        ("failing_uac_stat_named_rtd_counters.csv", failing_final_stats),
    ],
)
def test_stat_header_is_byte_identical(sample: str, factory: object) -> None:
    stats = factory()  # type: ignore[operator]
    assert format_stat_csv_header(stats) == sample_lines(sample)[0]
    snapshot = stats.snapshot(UAC_START, 0.0, log_window(stats))
    assert format_stat_csv_header(snapshot) == sample_lines(sample)[0]


def test_stat_header_fixed_positions_used_by_tooling() -> None:
    cols = stat_csv_columns(new_uac_stats())
    assert len(cols) == 95
    assert cols[11] == "OutgoingCall(C)" and cols[17] == "FailedCall(C)"
    assert cols[67] == "WatchdogMinor(C)"


def test_stat_header_with_other_delimiter_and_numeric_counter() -> None:
    stats = RunStats(
        elements=[],
        rtd_names=["x"],
        counter_names=["12", "ok"],
        response_time_repartition_ms=None,
        call_length_repartition_ms=[5],
        start_wall=0.0,
        start_mono=0.0,
        target_rate=1.0,
    )
    header = format_stat_csv_header(stats, ",")
    assert header.endswith(
        "ResponseTimexStDev(C),CallLength(P),CallLength(C),CallLengthStDev(P),"
        "CallLengthStDev(C),GenericCounter12(P),GenericCounter12(C),ok(P),ok(C),"
        "CallLengthRepartition,CallLengthRepartition_<5,CallLengthRepartition_>=5,\n"
    )


def _reproduce_uac_stat() -> list[str]:
    """The uac run's stat file: one row at start, every second, and twice at exit."""
    stats = new_uac_stats()
    lines = [format_stat_csv_header(stats)]

    def row(now: float, reset_at: float) -> None:
        snap = stats.snapshot(now, now - UAC_START, log_window(stats))
        lines.append(format_stat_csv_row(snap, tz=UTC))
        # SIPp restarts the period just after writing the row
        stats.snapshot(reset_at, reset_at - UAC_START, log_window(stats), restart=True)

    row(1795671783.490709, 1795671783.491291)
    for k in range(9):
        uac_call(stats, k)
    row(1795671784.492111, 1795671784.492266)
    for k in range(9, 19):
        uac_call(stats, k)
    stats.call_created(2.0035, incoming=False)
    stats.rtd_sample(0, 0.0, 2.004)
    row(1795671785.495821, 1795671785.495907)
    stats.call_ended(2.012, 0.008, None)
    row(1795671785.502060, 1795671785.502143)
    row(1795671785.502362, 1795671785.502400)
    return lines


def test_uac_stat_file_is_byte_identical() -> None:
    # Includes 8.96414-style rates, truncated means, the n-1 standard deviations and the NaN
    # standard deviation of a single call ("2562047788015:12:55:808000").
    assert _reproduce_uac_stat() == sample_lines("uac_stat.csv")


FIELD_PATTERNS = {
    "time": r"\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d\.\d{6}\t\d{10}\.\d{6}",
    "elapsed": r"\d\d+:\d\d:\d\d",
    "double": r"-?\d+(\.\d+)?(e[+-]\d+)?",
    "int": r"\d+",
    "duration": r"\d\d+:\d\d:\d\d:\d{3}000",
    "empty": r"",
}


def column_kind(name: str) -> str:
    if name in ("StartTime", "LastResetTime", "CurrentTime"):
        return "time"
    if name.startswith("ElapsedTime"):
        return "elapsed"
    if name in ("TargetRate", "CallRate(P)", "CallRate(C)"):
        return "double"
    if name.startswith(("ResponseTime", "CallLength")) and "Repartition" not in name:
        return "duration"
    if name in ("CallLengthRepartition",) or re.fullmatch(r"ResponseTimeRepartition[^_]*", name):
        return "empty"
    return "int"


def assert_row_shape(header: str, row: str) -> None:
    cols = header.rstrip("\n").split(";")
    fields = row.rstrip("\n").split(";")
    assert cols[-1] == "" and fields[-1] == ""
    assert len(fields) == len(cols)
    for name, value in zip(cols[:-1], fields[:-1], strict=True):
        assert re.fullmatch(FIELD_PATTERNS[column_kind(name)], value), (name, value)


@pytest.mark.parametrize(
    "sample", ["uac_stat.csv", "uas_stat.csv", "failing_uac_stat_named_rtd_counters.csv"]
)
def test_sample_rows_have_the_expected_field_shapes(sample: str) -> None:
    header, *rows = sample_lines(sample)
    for row in rows:
        assert_row_shape(header, row)


def test_generated_uas_and_failing_rows_have_the_sample_shapes() -> None:
    stats = new_uas_stats()
    for k in range(10):
        stats.call_created(1.5 + k / 10, incoming=True)
        stats.rtd_sample(0, 0.004 * (k % 2), 1.6 + k / 10)
    snap = stats.snapshot(UAS_START + 2.5, 2.5, log_window(stats), restart=True)
    row = format_stat_csv_row(snap, tz=UTC)
    assert_row_shape(sample_lines("uas_stat.csv")[0], row)
    fields = row.split(";")
    # incoming P/C, outgoing P/C, total, current
    assert fields[8:14] == ["10", "10", "0", "0", "10", "10"]
    failing = failing_final_stats()
    snap = failing.snapshot(FAILING_START + 0.9, 0.9, log_window(failing))
    row = format_stat_csv_row(snap, tz=UTC)
    assert_row_shape(sample_lines("failing_uac_stat_named_rtd_counters.csv")[0], row)
    fields = row.split(";")
    assert fields[26:28] == ["3", "3"]  # FailedUnexpectedMessage(P), (C)
    assert fields[-5:-1] == ["1", "1", "1", "1"]  # got200, mid


def test_failing_first_row_is_byte_identical() -> None:
    fresh = RunStats(
        elements=FAILING_ELEMENTS,
        rtd_names=["inv"],
        counter_names=["got200", "mid"],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=FAILING_START,
        start_mono=0.0,
        target_rate=5.0,
    )
    snap = fresh.snapshot(1795672239.879901, 0.0048, log_window(fresh), restart=True)
    assert (
        format_stat_csv_row(snap, tz=UTC)
        == sample_lines("failing_uac_stat_named_rtd_counters.csv")[1]
    )


def test_periodic_repartition_option() -> None:
    stats = new_uac_stats()
    stats.rtd_sample(0, 0.015, 0.1)
    stats.snapshot(UAC_START + 1, 1.0, log_window(stats), restart=True)
    stats.rtd_sample(0, 0.025, 1.1)
    snap = stats.snapshot(UAC_START + 2, 2.0, log_window(stats))
    cumulative = format_stat_csv_row(snap, tz=UTC).split(";")
    periodic = format_stat_csv_row(snap, tz=UTC, periodic_rtd=True).split(";")
    assert cumulative[76:86] == ["", "0", "1", "1", "0", "0", "0", "0", "0", "0"]
    assert periodic[76:86] == ["", "0", "0", "1", "0", "0", "0", "0", "0", "0"]


# ---------------------------------------------------------------------- counts file


@pytest.mark.parametrize(
    ("sample", "elements"),
    [
        ("uac_counts.csv", UAC_ELEMENTS),
        ("uas_counts.csv", UAS_ELEMENTS),
        ("failing_uac_counts.csv", FAILING_ELEMENTS),
    ],
)
def test_counts_header_is_byte_identical(sample: str, elements: list[ElementInfo]) -> None:
    assert format_counts_header(elements) == sample_lines(sample)[0]


def test_uac_counts_file_is_byte_identical() -> None:
    stats = new_uac_stats()
    lines = [format_counts_header(UAC_ELEMENTS)]
    for now, (invites, byes, done) in [
        (1795671783.491217, (0, 0, 0)),
        (1795671784.492237, (9, 9, 9)),
        (1795671785.495878, (20, 19, 19)),
        (1795671785.502116, (20, 20, 20)),
        (1795671785.502419, (20, 20, 20)),
    ]:
        set_uac_elements(stats, invites, byes, done)
        snap = stats.snapshot(now, now - UAC_START, log_window(stats), restart=True)
        lines.append(format_counts_row(snap, tz=UTC))
    assert lines == sample_lines("uac_counts.csv")


def test_uas_counts_rows_are_byte_identical() -> None:
    stats = new_uas_stats()
    expected = sample_lines("uas_counts.csv")
    progress = [(0, 0), (0, 0), (10, 9), (20, 19), (20, 20), (20, 20), (20, 20), (20, 20), (20, 20)]
    for row, (calls, byes) in zip(expected[1:], progress, strict=True):
        now = float(row.split("\t")[2].split(";")[0])
        for i in (0, 1, 2, 3):
            stats.elements[i].messages = calls
        for i in (4, 5, 6):
            stats.elements[i].messages = byes
        snap = stats.snapshot(now, now - UAS_START, log_window(stats))
        assert format_counts_row(snap, tz=UTC) == row


def test_failing_counts_row_with_unexpected_and_nop_as_pause() -> None:
    stats = failing_final_stats()
    snap = stats.snapshot(1795672240.797478, 0.92, log_window(stats))
    assert format_counts_row(snap, tz=UTC) == sample_lines("failing_uac_counts.csv")[2]


def test_counts_columns_for_hidden_lost_and_3pcc_elements() -> None:
    elements = [
        ElementInfo(0, ElementKindTag.SENDCMD, lost_active=True),
        ElementInfo(1, ElementKindTag.RECV, "100", hide=True, lost_active=True),
        ElementInfo(2, ElementKindTag.RECVCMD, lost_active=True),
        ElementInfo(3, ElementKindTag.SEND, "ACK", lost_active=True),
        ElementInfo(4, ElementKindTag.SEND, "BYE", has_retrans=True, lost_active=True),
        ElementInfo(5, ElementKindTag.RECV, "200", lost_active=True),
    ]
    assert format_counts_header(elements) == (
        "CurrentTime;ElapsedTime;0_SendCmd;2_RecvCmd;2_RecvCmd_Timeout;3_ACK_Sent;3_ACK_Retrans;"
        "3_ACK_Lost;4_BYE_Sent;4_BYE_Retrans;4_BYE_Timeout;4_BYE_Lost;5_200_Recv;5_200_Retrans;"
        "5_200_Timeout;5_200_Unexp;5_200_Lost;\n"
    )
    stats = RunStats(
        elements=elements,
        rtd_names=[],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=100.0,
        start_mono=0.0,
        target_rate=1.0,
    )
    for i, counters in enumerate(stats.elements):
        counters.messages, counters.retrans = 10 + i, 20 + i
        counters.timeouts, counters.unexpected, counters.lost = 30 + i, 40 + i, 50 + i
    row = format_counts_row(stats.snapshot(101.5, 1.5, log_window(stats)), ",", tz=UTC)
    assert row == (
        "1970-01-01\t00:01:41.500000\t0000000101.500000,00:00:01:500000,"
        "10,12,32,13,23,53,14,24,34,54,15,25,35,45,55,\n"
    )


# ---------------------------------------------------------------------- rtt and error codes


def test_rtt_file_is_byte_identical() -> None:
    stats = new_uac_stats(keep_rtt_samples=True)
    lines = format_rtt_header()
    for k in range(20):
        uac_call(stats, k)
        if k % 5 == 4:  # -rtt_freq 5
            lines += format_rtt_lines(stats.take_rtt_samples())
    assert lines == "".join(sample_lines("uac_rtt.csv"))


def test_named_rtd_rtt_line() -> None:
    stats = failing_final_stats()
    stats.keep_rtt_samples = True
    stats.rtd_sample(0, 0.004, 0.808001)
    text = format_rtt_header() + format_rtt_lines(stats.take_rtt_samples())
    assert text == "".join(sample_lines("failing_uac_rtt_named_rtd.csv"))


def test_error_codes_files_are_byte_identical() -> None:
    stats = RunStats(
        elements=FAILING_ELEMENTS,
        rtd_names=["inv"],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=FAILING_START,
        start_mono=0.0,
        target_rate=5.0,
    )
    lines = []
    for now, codes in [(1795672239.880096, 0), (1795672240.797496, 3), (1795672240.797734, 0)]:
        for _ in range(codes):
            stats.unexpected_response_code(486)
        snap = stats.snapshot(now, now - FAILING_START, log_window(stats), restart=True)
        lines.append(format_error_codes_row(snap, tz=UTC))
    assert lines == sample_lines("failing_uac_error_codes.csv")

    uac = new_uac_stats()
    expected = sample_lines("uac_error_codes_nocodes.csv")
    for row in expected:
        now = float(row.split("\t")[2].split(";")[0])
        snap = uac.snapshot(now, now - UAC_START, log_window(uac), restart=True)
        assert format_error_codes_row(snap, tz=UTC) == row


def test_error_codes_are_most_recent_first() -> None:
    stats = new_uac_stats()
    for code in (486, 500, 403):
        stats.unexpected_response_code(code)
    row = format_error_codes_row(
        stats.snapshot(UAC_START + 1, 1.0, log_window(stats), restart=True), tz=UTC
    )
    assert row.endswith(";00:00:01:000000;403,500,486,\n")
