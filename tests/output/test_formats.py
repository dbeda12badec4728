from __future__ import annotations

from gossipper.config import RunConfig
from gossipper.output.formats import (
    GossipperTraceFormat,
    SippTraceFormat,
    cseq_and_first_line,
    trace_format_for,
)
from gossipper.sip import parse_message

INVITE = b"INVITE sip:b@h SIP/2.0\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\r\n"


def make_format(**options: object) -> SippTraceFormat | GossipperTraceFormat:
    fmt = trace_format_for(
        RunConfig().replace(**options), scenario_name="uac", pid=7, now_wall=lambda: 100.0
    )
    assert isinstance(fmt, SippTraceFormat | GossipperTraceFormat)
    return fmt


def test_the_format_is_chosen_once_from_the_config() -> None:
    assert type(make_format()) is SippTraceFormat
    assert type(make_format(trace_format="gossipper")) is GossipperTraceFormat


def test_each_format_names_its_files() -> None:
    options = {"trace_msg": True, "trace_rtt": True, "trace_err": True}
    assert {
        k: v.name for k, v in make_format(**options).files(RunConfig().replace(**options)).items()
    } == {
        "rtt": "uac_7_rtt.csv",
        "messages": "uac_7_messages.log",
        "errors": "uac_7_errors.log",
    }
    config = RunConfig().replace(trace_format="gossipper", **options)
    gossipper = make_format(trace_format="gossipper", **options)
    assert {k: v.name for k, v in gossipper.files(config).items()} == {
        "rtt": "gossipper_7_messages_rtt.log",
        "messages": "gossipper_7_messages.log",
        "errors": "gossipper_7_messages_errors.log",
    }
    assert gossipper.rotated_stem == "gossipper_7"


def test_shared_layouts_are_the_same_in_both_formats() -> None:
    sipp, gossipper = make_format(), make_format(trace_format="gossipper")
    for method in ("sent_record", "received_record"):
        assert getattr(sipp, method)(INVITE, "UDP", 1.5) == getattr(gossipper, method)(
            INVITE, "UDP", 1.5
        )
    assert sipp.warning_record("w", 1.5) == gossipper.warning_record("w", 1.5)
    assert (
        sipp.lost_record("UDP")
        == gossipper.lost_record("UDP")
        == b"UDP message voluntary lost (while sending).\n"
    )


def test_only_the_gossipper_format_has_error_code_rows_and_call_numbers() -> None:
    response = parse_message(b"SIP/2.0 486 Busy Here\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\r\n")
    sipp = make_format(trace_error_codes=True)
    assert sipp.unexpected_row("c1", response, "200", 1.0) is None
    gossipper = make_format(trace_format="gossipper", trace_error_codes=True)
    assert gossipper.tracks_calls
    gossipper.call_started("c1", 42)
    row = gossipper.unexpected_row("c1", response, "200", 1.0)
    assert row is not None and b",42,486," in row


def test_cseq_and_first_line_reads_unusual_spellings() -> None:
    assert cseq_and_first_line(INVITE) == (b"1 INVITE", b"INVITE sip:b@h SIP/2.0")
    odd = b"BYE sip:b@h SIP/2.0\r\ncseq : 2 BYE\r\n\r\n"
    assert cseq_and_first_line(odd) == (b"2 BYE", b"BYE sip:b@h SIP/2.0")
    assert cseq_and_first_line(b"PING") == (b"", b"PING")
