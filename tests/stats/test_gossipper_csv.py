from __future__ import annotations

import csv
import datetime
import io

import pytest

from gossipper.stats import (
    ElementInfo,
    ElementKindTag,
    FailureReason,
    RunStats,
    TraceFormat,
    format_counts_file_header,
    format_counts_file_row,
    format_gossipper_counts_header,
    format_gossipper_counts_row,
    format_gossipper_error_code_row,
    format_gossipper_error_codes_header,
    format_gossipper_rtt_header,
    format_gossipper_rtt_lines,
    format_gossipper_screen_header,
    format_gossipper_screen_row,
    format_gossipper_shortmessage_header,
    format_gossipper_shortmessage_row,
    format_gossipper_stat_header,
    format_gossipper_stat_row,
    format_stat_header,
    format_stat_row,
)
from gossipper.stats.gossipper_csv import counts_label, csv_field, format_timestamp
from tests.stats._windows import log_window

from ._samples import FAILING_START, UAC_ELEMENTS, UTC, failing_final_stats, sample_lines

STAT_HEADER = (
    "timestamp,elapsed_ms,total_calls,success_calls,failed_calls,active_calls,success_ratio,"
    "calls_per_second,retransmits,timeouts,avg_call_ms,call_stddev_ms,avg_invite_ms,"
    "invite_stddev_ms,rtp_packets_sent,rtp_packets_received,rtcp_sender_reports,"
    "rtcp_receiver_reports,rtcp_packets_received,failure_timeout,failure_unexpected_sip,"
    "failure_transport_error,failure_parse_error,failure_scenario_error,failure_cancelled,"
    "interval_ms,interval_calls_per_second,delta_total_calls,delta_success_calls,"
    "delta_failed_calls,delta_retransmits,delta_timeouts,delta_rtp_packets_sent,"
    "delta_rtp_packets_received,delta_rtcp_sender_reports,delta_rtcp_receiver_reports,"
    "delta_rtcp_packets_received,delta_failure_timeout,delta_failure_unexpected_sip,"
    "delta_failure_transport_error,delta_failure_parse_error,delta_failure_scenario_error,"
    "delta_failure_cancelled\n"
)
SCREEN_HEADER = (
    "timestamp,total_calls,success_calls,failed_calls,active_calls,success_ratio,"
    "calls_per_second,interval_ms,interval_calls_per_second,avg_call_ms,avg_invite_ms,"
    "retransmits,timeouts,failure_timeout,failure_unexpected_sip\n"
)


def parse(line: str) -> dict[str, str]:
    return dict(zip(*csv.reader(io.StringIO(line)), strict=True))


def test_headers_match_the_contract() -> None:
    assert format_gossipper_stat_header() == STAT_HEADER
    assert len(STAT_HEADER.split(",")) == 43
    assert format_gossipper_screen_header() == SCREEN_HEADER
    assert format_gossipper_rtt_header() == "timestamp,call,name,value_ms\n"
    assert format_gossipper_error_codes_header() == "timestamp,call,code,reason,call_id,expected\n"
    assert format_gossipper_shortmessage_header() == (
        "timestamp,direction,call,proto,summary,call_id\n"
    )


def test_stat_row_first_row_deltas_equal_cumulative() -> None:
    stats = failing_final_stats()
    stats.retransmissions = 2
    stats.current_calls += 1
    stats.failed_calls += 1  # a failure without a reason: cancelled
    snap = stats.snapshot(FAILING_START + 0.92, 0.92, log_window(stats), restart=True)
    row = format_gossipper_stat_row(snap, tz=UTC, media={"rtp_packets_sent": 7})
    fields = parse(STAT_HEADER + row)
    assert fields["timestamp"] == "2026-11-26T05:50:40.795135Z"
    assert fields["elapsed_ms"] == fields["interval_ms"] == "920"
    assert (fields["total_calls"], fields["success_calls"], fields["failed_calls"]) == (
        "4",
        "1",
        "4",
    )
    assert fields["active_calls"] == "1"
    assert fields["success_ratio"] == "0.250000"
    assert fields["calls_per_second"] == "4.347826"
    assert fields["avg_call_ms"] == "109" and fields["call_stddev_ms"] == "0"
    assert fields["avg_invite_ms"] == "4"
    assert fields["failure_unexpected_sip"] == "3" and fields["failure_cancelled"] == "1"
    assert fields["rtp_packets_sent"] == fields["delta_rtp_packets_sent"] == "7"
    for name in ("total_calls", "success_calls", "failed_calls", "retransmits", "timeouts"):
        assert fields[f"delta_{name}"] == fields[name]
    assert fields["delta_failure_unexpected_sip"] == "3"


def test_stat_and_screen_rows_after_a_period() -> None:
    stats = failing_final_stats()
    stats.snapshot(FAILING_START + 1.0, 1.0, log_window(stats), restart=True)
    stats.call_created(1.1, incoming=False)
    stats.call_ended(1.2, 0.1, FailureReason.TIMEOUT_ON_RECV)
    snap = stats.snapshot(FAILING_START + 1.5, 1.5, log_window(stats), restart=True)
    fields = parse(STAT_HEADER + format_gossipper_stat_row(snap, tz=UTC))
    assert (fields["interval_ms"], fields["delta_total_calls"]) == ("500", "1")
    assert fields["interval_calls_per_second"] == "2.000000"
    assert (fields["timeouts"], fields["delta_failure_timeout"]) == ("1", "1")
    assert fields["delta_failure_unexpected_sip"] == "0"
    screen = parse(SCREEN_HEADER + format_gossipper_screen_row(snap, tz=UTC))
    assert screen["total_calls"] == "5" and screen["failure_timeout"] == "1"
    assert screen["timeouts"] == "1" and screen["failure_unexpected_sip"] == "3"
    assert len(screen) == 15


def test_counts_labels_and_rows() -> None:
    assert format_gossipper_counts_header(UAC_ELEMENTS) == (
        "timestamp,0_INVITE_sent,0_INVITE_recv,0_INVITE_unexp,1_RESP_100_sent,1_RESP_100_recv,"
        "1_RESP_100_unexp,2_RESP_180_sent,2_RESP_180_recv,2_RESP_180_unexp,3_RESP_183_sent,"
        "3_RESP_183_recv,3_RESP_183_unexp,4_RESP_200_sent,4_RESP_200_recv,4_RESP_200_unexp,"
        "5_ACK_sent,5_ACK_recv,5_ACK_unexp,7_BYE_sent,7_BYE_recv,7_BYE_unexp,8_RESP_200_sent,"
        "8_RESP_200_recv,8_RESP_200_unexp\n"
    )
    assert counts_label(ElementInfo(0, ElementKindTag.SEND, "200")) == "SIP_2_0"
    assert counts_label(ElementInfo(0, ElementKindTag.RECV, "my-Req")) == "MY_REQ"
    assert counts_label(ElementInfo(0, ElementKindTag.RECV, "..")) == "CMD"
    stats = failing_final_stats()
    row = format_gossipper_counts_row(
        stats.snapshot(FAILING_START + 1, 1.0, log_window(stats)), tz=UTC
    )
    assert row == "2026-11-26T05:50:40.875135Z,4,0,0,0,0,0,0,4,0,0,1,3,1,0,0,1,0,0,0,1,0\n"


def test_rtt_records_carry_call_numbers() -> None:
    stats = RunStats(
        elements=[],
        rtd_names=["inv"],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=100.0,
        start_mono=10.0,
        target_rate=1.0,
        keep_rtt_samples=True,
    )
    stats.rtd_sample(0, 0.0127, 10.5, call_number=42)
    text = format_gossipper_rtt_lines(stats.take_rtt_records(), start_wall=100.0, tz=UTC)
    assert text == "1970-01-01T00:01:40.5Z,42,inv,12\n"
    assert stats.take_rtt_samples() == []


def test_error_code_and_shortmessage_rows() -> None:
    row = format_gossipper_error_code_row(
        100.25,
        call_number=3,
        code=486,
        reason="Busy Here, really",
        call_id="3-1@h",
        expected="200",
        tz=UTC,
    )
    assert row == '1970-01-01T00:01:40.25Z,3,486,"Busy Here, really",3-1@h,200\n'
    invite = "INVITE sip:x@h SIP/2.0\r\nVia: a\r\ni: abc@h \r\n\r\n"
    assert format_gossipper_shortmessage_row(
        100.0, direction="send", call_number=1, text=invite, tz=UTC
    ) == ("1970-01-01T00:01:40Z,send,1,sip,INVITE,abc@h\n")
    ok = "SIP/2.0 200 OK\r\nCall-ID: z\r\n\r\n"
    assert format_gossipper_shortmessage_row(
        100.0, direction="recv", call_number=1, text=ok, tz=UTC
    ) == ("1970-01-01T00:01:40Z,recv,1,sip,200 OK,z\n")
    command = "Call-ID: 5-1@h\nFrom: s1\n"
    assert format_gossipper_shortmessage_row(
        100.0, direction="recv", call_number=5, text=command, call_id="given", tz=UTC
    ) == ("1970-01-01T00:01:40Z,recv,5,cmd,Call-ID: 5-1@h,given\n")


def test_timestamps_and_quoting() -> None:
    plus = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    minus = datetime.timezone(-datetime.timedelta(hours=3))
    assert format_timestamp(1795671783.4877, UTC) == "2026-11-26T05:43:03.4877Z"
    assert format_timestamp(1795671783.0, plus) == "2026-11-26T11:13:03+05:30"
    assert format_timestamp(1795671783.000001, minus) == "2026-11-26T02:43:03.000001-03:00"
    assert format_timestamp(1795671783.5).count(".5") == 1  # local zone works
    assert csv_field("") == "" and csv_field("a b") == "a b"
    assert csv_field(" lead") == '" lead"' and csv_field('q"x') == '"q""x"'
    assert csv_field("l1\nl2") == '"l1\nl2"'


def test_trace_format_selection() -> None:
    stats = failing_final_stats()
    snap = stats.snapshot(1795672239.879901, 0.0048, log_window(stats))
    assert (
        format_stat_header(TraceFormat.SIPP, stats)
        == sample_lines("failing_uac_stat_named_rtd_counters.csv")[0]
    )
    assert format_stat_header(TraceFormat.GOSSIPPER, stats) == STAT_HEADER
    assert format_stat_row(TraceFormat.SIPP, snap, tz=UTC).count(";") == 80
    assert format_stat_row(TraceFormat.GOSSIPPER, snap, tz=UTC).count(",") == 42
    elements = stats.element_infos
    assert format_counts_file_header(TraceFormat.SIPP, elements).startswith("CurrentTime;")
    assert format_counts_file_header(TraceFormat.GOSSIPPER, elements).startswith("timestamp,")
    assert format_counts_file_row(TraceFormat.SIPP, snap, tz=UTC).count(";") == 30
    assert format_counts_file_row(TraceFormat.GOSSIPPER, snap, tz=UTC).count(",") == 21
    assert TraceFormat("gossipper") is TraceFormat.GOSSIPPER
    with pytest.raises(ValueError):
        TraceFormat("csv")
