from __future__ import annotations

import datetime
import inspect
import os
import pathlib
import re
from collections.abc import Iterator

import pytest

from gossipper.config import RunConfig
from gossipper.errors import ConfigError
from gossipper.output import TraceFiles
from gossipper.sip import parse_message
from gossipper.stats import ElementInfo, ElementKindTag, FailureReason, RunStats
from gossipper.stats.formatting import format_log_time
from tests.stats._windows import log_window

SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "data" / "sipp-samples"
UTC = datetime.UTC
SEPARATOR = b"-" * 47 + b" "


class _Flow:
    """The flow of every traced message here (the writers print the addresses nowhere yet)."""

    transport_name = "UDP"
    reliable = False
    local_address = ("127.0.0.1", 5060)
    remote_address = ("127.0.0.1", 5061)

    def send_nowait(self, data: bytes) -> bool:
        return True

    async def send(self, data: bytes) -> None:
        return None


FLOW = _Flow()


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


class FakeWall:
    """A settable wall clock for file start times (rotated names)."""

    def __init__(self, now: float = 1795671783.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_tracer(
    tmp_path: pathlib.Path,
    wall: FakeWall | None = None,
    layout: RunStats | None = None,
    **options: object,
) -> TraceFiles:
    config = RunConfig().replace(**options)
    return TraceFiles(
        config,
        scenario_name="uac",
        pid=7107,
        directory=tmp_path,
        tz=UTC,
        now_wall=wall or FakeWall(),
        layout=layout,
    )


def uac_stats(start_wall: float = 1795671783.487751) -> RunStats:
    kinds = ElementKindTag
    elements = [
        ElementInfo(0, kinds.SEND, "INVITE", has_retrans=True),
        ElementInfo(1, kinds.RECV, "100"),
        ElementInfo(2, kinds.RECV, "180"),
        ElementInfo(3, kinds.RECV, "183"),
        ElementInfo(4, kinds.RECV, "200", rtd="1"),
        ElementInfo(5, kinds.SEND, "ACK"),
        ElementInfo(6, kinds.PAUSE, pause_ms=0),
        ElementInfo(7, kinds.SEND, "BYE", has_retrans=True),
        ElementInfo(8, kinds.RECV, "200"),
    ]
    return RunStats(
        elements=elements,
        rtd_names=["1"],
        counter_names=[],
        response_time_repartition_ms=[10, 20, 30, 40, 50, 100, 150, 200],
        call_length_repartition_ms=[10, 50, 100, 500, 1000, 5000, 10000],
        start_wall=start_wall,
        start_mono=0.0,
        target_rate=10,
    )


def sample_records(data: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(separator time, title line, raw message) of each record of a messages.log sample."""
    starts = [m.start() for m in re.finditer(rb"(?m)^-{47} ", data)]
    for begin, end in zip(starts, starts[1:] + [len(data)], strict=True):
        chunk = data[begin:end]
        time_line, title, rest = chunk.split(b"\n", 2)
        assert rest.startswith(b"\n")
        raw = rest[1:-1] if rest.endswith(b"\n") else rest[1:]
        yield time_line[48:], title, raw


def short_walls(name: str) -> list[float]:
    return [float(line.split(b"\t")[2]) for line in sample(name).splitlines()]


def replay_uac_messages(tracer: TraceFiles, count: int) -> None:
    """Feed the first records of uac_messages.log at the times of uac_shortmessages.log."""
    walls = short_walls("uac_shortmessages.log")
    records = list(sample_records(sample("uac_messages.log")))
    for (_, title, raw), wall in zip(records[:count], walls, strict=False):
        if b"sent" in title:
            tracer.message_sent("1-7107@127.0.0.1", raw, FLOW, wall)
        else:
            tracer.message_received("1-7107@127.0.0.1", parse_message(raw), FLOW, wall)


# ---------------------------------------------------------------------- names and creation


def test_default_file_names_follow_sipp(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(
        tmp_path,
        layout=uac_stats(),
        trace_stat=True,
        trace_rtt=True,
        trace_counts=True,
        trace_error_codes=True,
        trace_msg=True,
        trace_shortmsg=True,
        trace_err=True,
        trace_logs=True,
        trace_calldebug=True,
        trace_screen=True,
    )
    tracer.close()
    names = {kind: os.path.basename(path) for kind, path in tracer.paths.items()}
    assert names == {
        "stat": "uac_7107_.csv",
        "rtt": "uac_7107_rtt.csv",
        "counts": "uac_7107_counts.csv",
        "error_codes": "uac_7107_error_codes.csv",
        "messages": "uac_7107_messages.log",
        "shortmessages": "uac_7107_shortmessages.log",
        "errors": "uac_7107_errors.log",
        "logs": "uac_7107_logs.log",
        "calldebug": "uac_7107_calldebug.log",
        "screen": "uac_7107_screen.log",
    }
    # Everything is created at start-up except errors.log (first warning only).
    created = sorted(p.name for p in tmp_path.iterdir())
    assert created == sorted(n for k, n in names.items() if k != "errors")


def test_explicit_file_names_are_used_verbatim(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(
        tmp_path,
        layout=uac_stats(),
        trace_stat=True,
        stat_file="my stats.txt",
        trace_msg=True,
        message_file="msgs.txt",
        trace_shortmsg=True,
        shortmessage_file="short.txt",
        trace_logs=True,
        log_file="actions.txt",
        trace_screen=True,
        screen_file="screens.txt",
        trace_calldebug=True,
        calldebug_file="debug.txt",
        trace_err=True,
        error_file="errs.txt",
    )
    tracer.warning("boom", 1795671783.5)
    tracer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "actions.txt",
        "debug.txt",
        "errs.txt",
        "msgs.txt",
        "my stats.txt",
        "screens.txt",
        "short.txt",
    ]


def test_no_option_no_file(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path)
    tracer.message_sent("x", b"OPTIONS sip:a SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n", FLOW, 1.0)
    tracer.warning("w", 1.0)
    tracer.log("l", 1.0)
    tracer.close()
    assert list(tmp_path.iterdir()) == []


def test_unwritable_directory_is_a_config_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="cannot create trace file"):
        make_tracer(tmp_path / "missing", trace_msg=True)


def test_unknown_trace_format_is_a_config_error(tmp_path: pathlib.Path) -> None:
    config = RunConfig(trace_msg=True)
    object.__setattr__(config.traces, "trace_format", "xml")  # past RunConfig's own check
    with pytest.raises(ConfigError, match="-trace_format xml"):
        TraceFiles(config, scenario_name="uac", pid=1, directory=tmp_path)


def test_stat_needs_the_layout(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="layout"):
        make_tracer(tmp_path, trace_stat=True)


def test_trace_files_has_the_tracer_methods() -> None:
    from gossipper.interfaces import Tracer

    for name, member in inspect.getmembers(Tracer, inspect.isfunction):
        if name.startswith("_"):
            continue
        ours = inspect.signature(getattr(TraceFiles, name))
        assert list(ours.parameters) == list(inspect.signature(member).parameters), name


# ---------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    "wall",
    [1795671783.487751, 1795671783.0, 1795671783.9999996, 1795671799.4999995, 86400.000001],
)
def test_log_time_matches_the_stats_formatter(tmp_path: pathlib.Path, wall: float) -> None:
    tracer = make_tracer(tmp_path, trace_err=True)
    tracer.warning("x", wall)
    tracer.close()
    line = pathlib.Path(tracer.paths["errors"]).read_bytes().splitlines()[1]
    assert line == f"{format_log_time(wall, UTC)}: x".encode()


def test_time_zone_is_applied(tmp_path: pathlib.Path) -> None:
    config = RunConfig(trace_shortmsg=True)
    plus2 = datetime.timezone(datetime.timedelta(hours=2))
    tracer = TraceFiles(config, scenario_name="s", pid=1, directory=tmp_path, tz=plus2)
    tracer.message_sent("c", b"BYE sip:a SIP/2.0\r\nCSeq: 2 BYE\r\n\r\n", FLOW, 1795671783.487751)
    tracer.close()
    text = pathlib.Path(tracer.paths["shortmessages"]).read_text()
    assert text.startswith("2026-11-26\t07:43:03.487751\t1795671783.487751\tS\t")


# ---------------------------------------------------------------------- messages.log


def test_messages_log_matches_sipp_byte_for_byte(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_msg=True)
    replay_uac_messages(tracer, 4)
    tracer.close()
    ours = pathlib.Path(tracer.paths["messages"]).read_bytes()
    expected = sample("uac_messages.log")
    # The sample is cut after the fifth record's title: the first four are complete.
    assert ours == expected[: len(ours)]
    assert expected[len(ours) :].startswith(SEPARATOR + b"2026-11-26 05:43:03.601308\n")


def test_messages_log_keywords_sample(tmp_path: pathlib.Path) -> None:
    data = sample("keywords_uac_messages.log")
    records = list(sample_records(data))
    tracer = make_tracer(tmp_path, trace_msg=True)
    for stamp, title, raw in records:
        moment = datetime.datetime.strptime(stamp.decode(), "%Y-%m-%d %H:%M:%S.%f")
        wall = moment.replace(tzinfo=UTC).timestamp()
        if b"sent" in title:
            tracer.message_sent("1-14406@127.0.0.1", raw, FLOW, wall)
        else:
            tracer.message_received("1-14406@127.0.0.1", parse_message(raw), FLOW, wall)
    tracer.close()
    ours = pathlib.Path(tracer.paths["messages"]).read_bytes()
    assert ours == data
    assert len(records) == 6


def test_lost_and_out_of_call_records(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_msg=True, trace_shortmsg=True)
    bye = b"BYE sip:a SIP/2.0\r\nCall-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    tracer.message_lost("c1", bye, FLOW, 1795671783.1)
    stray = b"SIP/2.0 200 OK\r\nCall-ID: old\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    tracer.out_of_call(stray, FLOW, 1795671783.2)
    tracer.close()
    text = pathlib.Path(tracer.paths["messages"]).read_bytes()
    assert text == (
        b"UDP message voluntary lost (while sending).\n"
        + SEPARATOR
        + b"2026-11-26 05:43:03.200000\nUDP message received [%d] bytes :\n\n" % len(stray)
        + stray
        + b"\n"
    )
    # SIPp writes neither to shortmessages.
    assert pathlib.Path(tracer.paths["shortmessages"]).read_bytes() == b""


# ---------------------------------------------------------------------- shortmessages.log


def test_shortmessages_match_sipp_uac(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_shortmsg=True)
    replay_uac_messages(tracer, 4)
    records = list(sample_records(sample("uac_messages.log")))
    ack = records[3][2]
    bye = ack.replace(b"ACK sip:", b"BYE sip:").replace(b"CSeq: 1 ACK", b"CSeq: 2 BYE")
    tracer.message_sent("1-7107@127.0.0.1", bye, FLOW, short_walls("uac_shortmessages.log")[4])
    tracer.close()
    ours = pathlib.Path(tracer.paths["shortmessages"]).read_bytes()
    expected = b"".join(sample("uac_shortmessages.log").splitlines(keepends=True)[:5])
    assert ours == expected


def test_shortmessages_match_sipp_uas(tmp_path: pathlib.Path) -> None:
    records = [raw for _, _, raw in sample_records(sample("uac_messages.log"))][:4]
    invite, ringing, ok, ack = records
    bye = ack.replace(b"ACK sip:", b"BYE sip:").replace(b"CSeq: 1 ACK", b"CSeq: 2 BYE")
    walls = short_walls("uas_shortmessages.log")
    tracer = make_tracer(tmp_path, trace_shortmsg=True)
    call_id = "1-7107@127.0.0.1"
    tracer.message_received(call_id, parse_message(invite), FLOW, walls[0])
    tracer.message_sent(call_id, ringing, FLOW, walls[1])
    tracer.message_sent(call_id, ok, FLOW, walls[2])
    tracer.message_received(call_id, parse_message(ack), FLOW, walls[3])
    tracer.message_received(call_id, parse_message(bye), FLOW, walls[4])
    tracer.close()
    ours = pathlib.Path(tracer.paths["shortmessages"]).read_bytes()
    assert ours == b"".join(sample("uas_shortmessages.log").splitlines(keepends=True)[:5])


def test_shortmessage_cseq_lookup_is_case_insensitive(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_shortmsg=True)
    tracer.message_sent("a", b"OPTIONS sip:x SIP/2.0\r\ncseq :  7 OPTIONS \r\n\r\n", FLOW, 1.0)
    tracer.message_sent("b", b"OPTIONS sip:x SIP/2.0\r\nVia: x\r\n\r\n", FLOW, 2.0)
    tracer.message_sent("c", b"OPTIONS sip:x SIP/2.0\nCSeq: 8 OPTIONS\n\n", FLOW, 3.0)
    tracer.close()
    lines = pathlib.Path(tracer.paths["shortmessages"]).read_bytes().splitlines()
    assert [line.split(b"\t")[4:] for line in lines] == [
        [b"a", b"CSeq:7 OPTIONS", b"OPTIONS sip:x SIP/2.0"],
        [b"b", b"CSeq:", b"OPTIONS sip:x SIP/2.0"],
        [b"c", b"CSeq:8 OPTIONS", b"OPTIONS sip:x SIP/2.0"],
    ]


# ---------------------------------------------------------------------- errors, logs


def error_entries(data: bytes) -> list[tuple[float, bytes]]:
    pattern = re.compile(rb"\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d\.\d{6}\t(\d+\.\d{6}): ")
    matches = list(pattern.finditer(data))
    ends = [m.start() for m in matches[1:]] + [len(data)]
    return [(float(m.group(1)), data[m.end() : end]) for m, end in zip(matches, ends, strict=True)]


def test_errors_log_is_sipp_layout_with_newline_terminated_entries(
    tmp_path: pathlib.Path,
) -> None:
    expected = sample("failing_uac_errors.log")
    entries = error_entries(expected)
    assert len(entries) == 3
    tracer = make_tracer(tmp_path, trace_err=True)
    path = pathlib.Path(tracer.paths["errors"])
    assert not path.exists()  # created by the first warning only
    for wall, text in entries:
        tracer.warning(text.decode("latin-1"), wall)
    tracer.close()
    ours = path.read_bytes()
    assert ours.startswith(b"The following events occurred:\n")
    assert ours.endswith(b"'\n")
    # Deliberate difference (SIPp HEAD fix): 3.6.1 runs the entries together.
    assert ours.replace(b"'\n2026-11-26\t", b"'2026-11-26\t")[:-1] == expected


def test_errors_log_append_keeps_previous_content(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "uac_7107_errors.log"
    path.write_bytes(b"earlier run\n")
    tracer = make_tracer(tmp_path, trace_err=True, error_overwrite=False)
    tracer.warning("again", 1795671783.0)
    tracer.close()
    assert path.read_bytes() == (
        b"earlier run\nThe following events occurred:\n"
        b"2026-11-26\t05:43:03.000000\t1795671783.000000: again\n"
    )


@pytest.mark.parametrize("name", ["failing_uac_logs.log", "keywords_uas_logs.log"])
def test_logs_log_matches_sipp(tmp_path: pathlib.Path, name: str) -> None:
    expected = sample(name)
    tracer = make_tracer(tmp_path, trace_logs=True)
    for i, line in enumerate(expected.splitlines()):
        tracer.log(line.decode("latin-1"), 1795671783.0 + i)
    tracer.close()
    assert pathlib.Path(tracer.paths["logs"]).read_bytes() == expected


def test_text_outside_latin1_is_written_as_utf8(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_logs=True)
    tracer.log("caf\u00e9 \u20ac", 1.0)
    tracer.close()
    assert pathlib.Path(tracer.paths["logs"]).read_bytes() == "caf\u00e9 \u20ac\n".encode()


# ---------------------------------------------------------------------- calldebug


def test_calldebug_writes_failed_calls_only(tmp_path: pathlib.Path) -> None:
    invite = (
        b"INVITE sip:service@127.0.0.1:5080 SIP/2.0\r\nCall-ID: 1-14646@127.0.0.1\r\n"
        b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    busy = (
        b"SIP/2.0 486 Busy Here\r\nCall-ID: 1-14646@127.0.0.1\r\n"
        b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    tracer = make_tracer(tmp_path, trace_calldebug=True)
    call = "1-14646@127.0.0.1"
    tracer.message_sent(call, invite, FLOW, 1795672240.084836)
    tracer.message_received(call, parse_message(busy), FLOW, 1795672240.088790)
    tracer.message_lost(call, invite, FLOW, 1795672240.088800)
    tracer.message_sent("ok-call", invite, FLOW, 1795672240.09)
    tracer.call_ended("ok-call", False, "", 1795672240.1)
    tracer.call_ended(call, True, "FailedUnexpectedMessage", 1795672240.088971)
    tracer.close()
    ours = pathlib.Path(tracer.paths["calldebug"]).read_bytes()
    assert ours == (
        b"-" * 79 + b"\n"
        b"Call debugging information for call 1-14646@127.0.0.1:\n"
        b"2026-11-26\t05:50:40.084836\t1795672240.084836 Sending UDP message for call "
        b"1-14646@127.0.0.1:\n" + invite + b"\n\n"
        b"2026-11-26\t05:50:40.088790\t1795672240.088790 Processing %d byte incoming message "
        b"for call-ID 1-14646@127.0.0.1:\n" % len(busy) + busy + b"\n\n"
        b"2026-11-26\t05:50:40.088800\t1795672240.088800 UDP message voluntary lost "
        b"(while sending) for call 1-14646@127.0.0.1.\n"
        b"2026-11-26\t05:50:40.088971\t1795672240.088971 Aborting call 1-14646@127.0.0.1 "
        b"(FailedUnexpectedMessage).\n"
    )
    # Same framing as SIPp's sample: a 79-dash line, then the header line, then log-time lines.
    sipp_lines = sample("failing_uac_calldebug.log").splitlines()
    assert ours.splitlines()[:2] == [sipp_lines[0], sipp_lines[1]]


def test_calldebug_buffers_nothing_when_off(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_msg=True)
    tracer.message_sent("c", b"BYE sip:a SIP/2.0\r\nCSeq: 2 BYE\r\n\r\n", FLOW, 1.0)
    assert tracer._calldebug_calls == {}
    tracer.call_ended("c", True, "x", 2.0)
    tracer.close()


# ---------------------------------------------------------------------- determinism


def test_records_of_one_instant_are_ordered_by_call_then_arrival(
    tmp_path: pathlib.Path,
) -> None:
    def run(directory: pathlib.Path, order: list[tuple[str, bytes]]) -> bytes:
        tracer = make_tracer(directory, trace_msg=True, trace_shortmsg=True)
        for call_id, data in order:
            tracer.message_sent(call_id, data, FLOW, 1795671783.25)
        tracer.message_sent("a", b"ACK sip:x SIP/2.0\r\nCSeq: 1 ACK\r\n\r\n", FLOW, 1795671783.5)
        tracer.close()
        paths = tracer.paths
        return (
            pathlib.Path(paths["messages"]).read_bytes()
            + pathlib.Path(paths["shortmessages"]).read_bytes()
        )

    a1 = b"INVITE sip:x SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n"
    a2 = b"CANCEL sip:x SIP/2.0\r\nCSeq: 1 CANCEL\r\n\r\n"
    b1 = b"BYE sip:y SIP/2.0\r\nCSeq: 3 BYE\r\n\r\n"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = run(tmp_path / "one", [("b", b1), ("a", a1), ("a", a2)])
    second = run(tmp_path / "two", [("a", a1), ("b", b1), ("a", a2)])
    assert first == second
    firsts = [line for line in first.splitlines() if line.endswith(b"SIP/2.0")][:4]
    assert firsts == [b"INVITE sip:x SIP/2.0", b"CANCEL sip:x SIP/2.0", b"BYE sip:y SIP/2.0"] + [
        b"ACK sip:x SIP/2.0"
    ]


def test_warnings_of_one_instant_are_sorted_by_text(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_err=True)
    tracer.warning("zeta", 5.0)
    tracer.warning("alpha", 5.0)
    tracer.warning("later", 6.0)
    tracer.close()
    lines = pathlib.Path(tracer.paths["errors"]).read_bytes().splitlines()
    assert [line.rsplit(b": ", 1)[1] for line in lines[1:]] == [b"alpha", b"zeta", b"later"]


# ---------------------------------------------------------------------- ring buffers, limits


def invite_bytes(n: int) -> bytes:
    body = b"x" * 300
    return (
        f"INVITE sip:s@h SIP/2.0\r\nCall-ID: {n}\r\nCSeq: 1 INVITE\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def test_ring_buffer_rotates_and_keeps_n_files(tmp_path: pathlib.Path) -> None:
    wall = FakeWall(1795671783.0)
    tracer = make_tracer(tmp_path, wall, trace_msg=True, ringbuffer_size=1000, ringbuffer_files=2)
    record_size = 0
    for i in range(12):
        wall.now = 1795671783.0 + i // 4  # several rotations within one second
        data = invite_bytes(i)
        tracer.message_sent(str(i), data, FLOW, wall.now + 0.001 * i)
        record_size = 96 + len(data)
    tracer.flush()
    rotated = tracer.rotated_files("messages")
    tracer.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(rotated) == 2
    assert sorted([os.path.basename(p) for p in rotated] + ["uac_7107_messages.log"]) == names
    for path in rotated:
        size = os.path.getsize(path)
        assert 1000 < size <= 1000 + record_size
        data = pathlib.Path(path).read_bytes()
        assert data.startswith(SEPARATOR)
        assert data.endswith(b"x\n")
    # Each file holds whole records; together they hold the most recent ones in order.
    kept = b"".join(pathlib.Path(p).read_bytes() for p in rotated)
    kept += (tmp_path / "uac_7107_messages.log").read_bytes()
    call_ids = re.findall(rb"Call-ID: (\d+)", kept)
    assert call_ids == [str(i).encode() for i in range(12 - len(call_ids), 12)]
    for path in rotated:
        assert re.fullmatch(r"uac_7107_messages_1795671\d{3}(\.\d+)?\.log", os.path.basename(path))


def test_ring_buffer_names_use_start_second_and_counter(tmp_path: pathlib.Path) -> None:
    wall = FakeWall(1795671783.0)
    tracer = make_tracer(tmp_path, wall, trace_msg=True, ringbuffer_size=100, ringbuffer_files=5)
    for i in range(3):
        tracer.message_sent(str(i), invite_bytes(i), FLOW, 1795671783.0 + i)
    tracer.close()
    assert sorted(os.path.basename(p) for p in tracer.rotated_files("messages")) == [
        "uac_7107_messages_1795671783.1.log",
        "uac_7107_messages_1795671783.2.log",
        "uac_7107_messages_1795671783.log",
    ]


def test_ring_buffer_does_not_clobber_foreign_files(tmp_path: pathlib.Path) -> None:
    foreign = tmp_path / "uac_7107_messages_1795671783.log"
    foreign.write_bytes(b"not ours\n")
    tracer = make_tracer(
        tmp_path, FakeWall(), trace_msg=True, ringbuffer_size=100, ringbuffer_files=1
    )
    for i in range(3):
        tracer.message_sent(str(i), invite_bytes(i), FLOW, 1795671783.0 + i)
    tracer.close()
    assert foreign.read_bytes() == b"not ours\n"
    assert len(tracer.rotated_files("messages")) == 1


def test_ring_buffer_with_zero_files_restarts_the_file(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_msg=True, ringbuffer_size=100, ringbuffer_files=0)
    for i in range(3):
        tracer.message_sent(str(i), invite_bytes(i), FLOW, 1795671783.0 + i)
    tracer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["uac_7107_messages.log"]
    # The last record crossed the size, so the file restarted empty after it.
    assert (tmp_path / "uac_7107_messages.log").read_bytes() == b""


def test_rotated_errors_files_start_with_the_header(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_err=True, ringbuffer_size=120, ringbuffer_files=3)
    for i in range(4):
        tracer.warning(f"warning number {i} " + "w" * 40, 1795671783.0 + i)
    tracer.close()
    rotated = tracer.rotated_files("errors")
    assert rotated
    for path in [*rotated, tracer.paths["errors"]]:
        assert pathlib.Path(path).read_bytes().startswith(b"The following events occurred:\n")


def test_limit_smaller_than_the_header_still_terminates(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_err=True, ringbuffer_size=5, ringbuffer_files=1)
    tracer.warning("one", 1795671783.0)
    tracer.warning("two", 1795671784.0)
    tracer.close()
    (rotated,) = tracer.rotated_files("errors")
    assert pathlib.Path(rotated).read_bytes().endswith(b": two\n")
    assert pathlib.Path(tracer.paths["errors"]).read_bytes() == b"The following events occurred:\n"


def test_max_log_size_stops_writing(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_shortmsg=True, max_log_size=200)
    for i in range(10):
        tracer.message_sent(str(i), invite_bytes(i), FLOW, 1795671783.0 + i)
    tracer.close()
    lines = pathlib.Path(tracer.paths["shortmessages"]).read_bytes().splitlines(keepends=True)
    size = sum(len(line) for line in lines)
    assert size > 200
    assert size - len(lines[-1]) <= 200
    assert len(lines) < 10
    assert [p.name for p in tmp_path.iterdir()] == ["uac_7107_shortmessages.log"]


def test_overwrite_false_appends_and_true_truncates(tmp_path: pathlib.Path) -> None:
    messages = tmp_path / "uac_7107_messages.log"
    logs = tmp_path / "uac_7107_logs.log"
    messages.write_bytes(b"kept\n")
    logs.write_bytes(b"kept too\n")
    tracer = make_tracer(
        tmp_path, trace_msg=True, trace_logs=True, message_overwrite=False, log_overwrite=False
    )
    tracer.log("new", 1795671783.0)
    tracer.close()
    assert messages.read_bytes() == b"kept\n"
    assert logs.read_bytes() == b"kept too\nnew\n"
    tracer = make_tracer(tmp_path, trace_msg=True, trace_logs=True, log_overwrite=False)
    tracer.close()
    assert messages.read_bytes() == b""
    assert logs.read_bytes() == b"kept too\nnew\n"


def test_writes_are_buffered_until_flush(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_msg=True)
    tracer.message_sent("c", invite_bytes(1), FLOW, 1795671783.0)
    tracer.message_sent("c", invite_bytes(2), FLOW, 1795671784.0)
    path = pathlib.Path(tracer.paths["messages"])
    assert path.read_bytes() == b""
    tracer.flush()
    assert path.read_bytes().count(SEPARATOR) == 2
    tracer.close()
    tracer.close()  # idempotent


# ---------------------------------------------------------------------- statistics files


def test_stat_counts_error_codes_and_screen_files(tmp_path: pathlib.Path) -> None:
    stats = uac_stats()
    tracer = make_tracer(
        tmp_path,
        layout=stats,
        trace_stat=True,
        trace_counts=True,
        trace_error_codes=True,
        trace_screen=True,
    )
    paths = {kind: pathlib.Path(p) for kind, p in tracer.paths.items()}
    tracer.write_periodic(stats.snapshot(1795671783.490709, 0.003, log_window(stats), restart=True))
    assert paths["stat"].read_bytes() == b"".join(
        sample("uac_stat.csv").splitlines(keepends=True)[:2]
    )
    counts = paths["counts"].read_bytes().splitlines(keepends=True)
    assert counts[0] == sample("uac_counts.csv").splitlines(keepends=True)[0]
    assert counts[1].startswith(b"2026-11-26\t05:43:03.490709\t1795671783.490709;00:00:00:002000;")
    assert counts[1].count(b";") == counts[0].count(b";")
    assert paths["error_codes"].read_bytes() == (
        b"2026-11-26\t05:43:03.490709\t1795671783.490709;00:00:00:002000;\n"
    )
    assert paths["screen"].read_bytes() == b""  # screens are written at exit (and on demand)

    stats.unexpected_response_code(486)
    stats.unexpected_response_code(487)
    screens = sample("uac_screen.log").decode("latin-1")
    tracer.write_final(stats.snapshot(1795671784.4, 1.0, log_window(stats), restart=True), screens)
    tracer.close()
    assert paths["error_codes"].read_bytes().splitlines()[1].endswith(b";487,486,")
    assert paths["screen"].read_bytes() == sample("uac_screen.log")
    # Header, start-up row, final row (3.6.1 repeats the final row; we don't).
    assert len(paths["stat"].read_bytes().splitlines()) == 3
    assert len(paths["counts"].read_bytes().splitlines()) == 3


def test_rtt_file_matches_sipp(tmp_path: pathlib.Path) -> None:
    expected = sample("uac_rtt.csv").splitlines()
    samples = []
    for line in expected[1:]:
        date_ms, value_ms, name = line.decode().split(";")
        samples.append((float(date_ms), float(value_ms), name))
    tracer = make_tracer(tmp_path, trace_rtt=True)
    tracer.write_rtt(samples[:5])
    tracer.write_rtt([])
    tracer.write_rtt(samples[5:])
    tracer.close()
    assert pathlib.Path(tracer.paths["rtt"]).read_bytes().splitlines() == expected


def test_stat_delimiter_is_used(tmp_path: pathlib.Path) -> None:
    stats = uac_stats()
    tracer = make_tracer(tmp_path, layout=stats, trace_stat=True, stat_delimiter=",")
    tracer.write_periodic(stats.snapshot(1795671783.490709, 0.003, log_window(stats), restart=True))
    tracer.close()
    header, row = pathlib.Path(tracer.paths["stat"]).read_bytes().splitlines()
    assert header.startswith(b"StartTime,LastResetTime,")
    assert header.count(b",") == row.count(b",") == 95


# ---------------------------------------------------------------------- -trace_format gossipper
# The headers below are the contract of docs/trace-schema-contract.md (gossipper-inventory
# 3.2-3.7): a column change is a contract change, and must change these constants too.

G_STAT_HEADER = (
    b"timestamp,elapsed_ms,total_calls,success_calls,failed_calls,active_calls,success_ratio,"
    b"calls_per_second,retransmits,timeouts,avg_call_ms,call_stddev_ms,avg_invite_ms,"
    b"invite_stddev_ms,rtp_packets_sent,rtp_packets_received,rtcp_sender_reports,"
    b"rtcp_receiver_reports,rtcp_packets_received,failure_timeout,failure_unexpected_sip,"
    b"failure_transport_error,failure_parse_error,failure_scenario_error,failure_cancelled,"
    b"interval_ms,interval_calls_per_second,delta_total_calls,delta_success_calls,"
    b"delta_failed_calls,delta_retransmits,delta_timeouts,delta_rtp_packets_sent,"
    b"delta_rtp_packets_received,delta_rtcp_sender_reports,delta_rtcp_receiver_reports,"
    b"delta_rtcp_packets_received,delta_failure_timeout,delta_failure_unexpected_sip,"
    b"delta_failure_transport_error,delta_failure_parse_error,delta_failure_scenario_error,"
    b"delta_failure_cancelled\n"
)
G_SCREEN_HEADER = (
    b"timestamp,total_calls,success_calls,failed_calls,active_calls,success_ratio,"
    b"calls_per_second,interval_ms,interval_calls_per_second,avg_call_ms,avg_invite_ms,"
    b"retransmits,timeouts,failure_timeout,failure_unexpected_sip\n"
)
G_RTT_HEADER = b"timestamp,call,name,value_ms\n"
G_ERROR_CODES_HEADER = b"timestamp,call,code,reason,call_id,expected\n"
G_SHORT_HEADER = b"timestamp,direction,call,proto,summary,call_id\n"
G_COUNTS_HEADER_UAC = (
    b"timestamp,0_INVITE_sent,0_INVITE_recv,0_INVITE_unexp,1_RESP_100_sent,1_RESP_100_recv,"
    b"1_RESP_100_unexp,2_RESP_180_sent,2_RESP_180_recv,2_RESP_180_unexp,3_RESP_183_sent,"
    b"3_RESP_183_recv,3_RESP_183_unexp,4_RESP_200_sent,4_RESP_200_recv,4_RESP_200_unexp,"
    b"5_ACK_sent,5_ACK_recv,5_ACK_unexp,7_BYE_sent,7_BYE_recv,7_BYE_unexp,8_RESP_200_sent,"
    b"8_RESP_200_recv,8_RESP_200_unexp\n"
)
RFC3339_UTC = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z"
ALL_TRACES = {
    "trace_stat": True,
    "trace_rtt": True,
    "trace_counts": True,
    "trace_error_codes": True,
    "trace_msg": True,
    "trace_shortmsg": True,
    "trace_err": True,
    "trace_logs": True,
    "trace_calldebug": True,
    "trace_screen": True,
}


def gossipper_tracer(
    tmp_path: pathlib.Path, stats: RunStats | None = None, /, **options: object
) -> TraceFiles:
    config = RunConfig(trace_format="gossipper").replace(**options)
    return TraceFiles(
        config,
        scenario_name="uac",
        pid=7107,
        directory=tmp_path,
        tz=UTC,
        now_wall=FakeWall(),
        layout=stats if stats is not None else uac_stats(),
    )


def rows(path: str) -> list[str]:
    return pathlib.Path(path).read_text("latin-1").splitlines()


def test_gossipper_file_names_follow_the_go_tool(tmp_path: pathlib.Path) -> None:
    tracer = gossipper_tracer(tmp_path, **ALL_TRACES)
    tracer.warning("x", 1795671783.0)
    tracer.close()
    names = {kind: os.path.basename(path) for kind, path in tracer.paths.items()}
    assert names == {
        "stat": "gossipper_7107_messages_stats.log",
        "rtt": "gossipper_7107_messages_rtt.log",
        "counts": "gossipper_7107_messages_counts.log",
        "error_codes": "gossipper_7107_messages_error_codes.log",
        "messages": "gossipper_7107_messages.log",
        "shortmessages": "gossipper_7107_messages_shortmessages.log",
        "errors": "gossipper_7107_messages_errors.log",
        "logs": "gossipper_7107_messages_logs.log",
        "calldebug": "gossipper_7107_messages_calldebug.log",
        "screen": "gossipper_7107_messages_screen.log",
    }
    assert sorted(os.listdir(tmp_path)) == sorted(names.values())


def test_gossipper_names_derive_from_message_file_and_error_file(
    tmp_path: pathlib.Path,
) -> None:
    tracer = gossipper_tracer(
        tmp_path,
        trace_msg=True,
        message_file="run",
        trace_stat=True,
        trace_rtt=True,
        trace_error_codes=True,
        error_file="problems.txt",
        trace_screen=True,
        screen_file="screen.csv",
    )
    tracer.close()
    names = {kind: os.path.basename(path) for kind, path in tracer.paths.items()}
    assert names == {
        "messages": "run",
        "stat": "run_stats.log",  # no extension on the base: .log is added
        "rtt": "run_rtt.log",
        "error_codes": "problems_error_codes.txt",
        "screen": "screen.csv",
    }
    stf = gossipper_tracer(tmp_path, trace_stat=True, stat_file="mine.csv")
    stf.close()
    assert os.path.basename(stf.paths["stat"]) == "mine.csv"


def test_gossipper_headers_are_the_contract(tmp_path: pathlib.Path) -> None:
    tracer = gossipper_tracer(tmp_path, **ALL_TRACES)
    tracer.close()
    read = {
        kind: pathlib.Path(path).read_bytes()
        for kind, path in tracer.paths.items()
        if kind != "errors"
    }
    assert read["stat"] == G_STAT_HEADER
    assert read["screen"] == G_SCREEN_HEADER
    assert read["rtt"] == G_RTT_HEADER
    assert read["error_codes"] == G_ERROR_CODES_HEADER
    assert read["shortmessages"] == G_SHORT_HEADER
    assert read["counts"] == G_COUNTS_HEADER_UAC
    assert G_STAT_HEADER.count(b",") == 42  # 43 columns
    assert G_SCREEN_HEADER.count(b",") == 14  # 15 columns
    # The text files keep SIPp's layouts.
    assert read["messages"] == read["logs"] == read["calldebug"] == b""
    assert not os.path.exists(tracer.paths["errors"])  # still created on the first warning


def test_gossipper_stat_screen_and_counts_rows(tmp_path: pathlib.Path) -> None:
    stats = uac_stats(start_wall=1795671783.0)
    tracer = gossipper_tracer(
        tmp_path, stats, trace_stat=True, trace_screen=True, trace_counts=True
    )
    tracer.write_periodic(stats.snapshot(1795671783.004, 0.004, log_window(stats), restart=True))
    stats.call_created(0.1, incoming=False)
    stats.elements[0].messages += 1
    stats.rtd_sample(0, 0.0125, 0.2)
    stats.call_ended(0.3, 0.2, None)
    stats.call_created(0.4, incoming=False)
    stats.call_ended(0.5, 0.1, FailureReason.UNEXPECTED_MESSAGE)
    stats.retransmissions += 3
    tracer.write_periodic(stats.snapshot(1795671784.5, 1.5, log_window(stats), restart=True))
    end = stats.snapshot(1795671785.25, 2.25, log_window(stats), restart=True)
    tracer.write_periodic(end)  # the engine's end-of-main-loop dump
    tracer.write_final(stats.snapshot(1795671785.26, 2.26, log_window(stats)), "screens")
    tracer.close()

    stat = rows(tracer.paths["stat"])
    assert len(stat) == 1 + 3  # start-up, one -fd row, the final row; no duplicate at exit
    columns = stat[0].split(",")
    second = dict(zip(columns, stat[2].split(","), strict=True))
    assert re.fullmatch(RFC3339_UTC, second["timestamp"])
    assert second["timestamp"] == "2026-11-26T05:43:04.5Z"
    assert (second["elapsed_ms"], second["interval_ms"]) == ("1500", "1496")
    assert (second["total_calls"], second["success_calls"], second["failed_calls"]) == (
        "2",
        "1",
        "1",
    )
    assert second["success_ratio"] == "0.500000"
    assert second["failure_unexpected_sip"] == second["delta_failure_unexpected_sip"] == "1"
    assert (second["retransmits"], second["avg_call_ms"], second["avg_invite_ms"]) == (
        "3",
        "200",
        "12",
    )
    final = dict(zip(columns, stat[3].split(","), strict=True))
    assert (final["total_calls"], final["delta_total_calls"]) == ("2", "0")
    for line in stat[1:]:
        fields = line.split(",")
        assert len(fields) == 43
        assert all(re.fullmatch(r"\d+(\.\d{6})?", field) for field in fields[1:])

    screen = rows(tracer.paths["screen"])
    assert screen[0].encode() + b"\n" == G_SCREEN_HEADER
    assert len(screen) == 4 and all(len(line.split(",")) == 15 for line in screen)
    assert "screens" not in pathlib.Path(tracer.paths["screen"]).read_text()

    counts = rows(tracer.paths["counts"])
    assert len(counts) == 4
    assert all(len(line.split(",")) == 25 for line in counts)
    assert counts[2].split(",")[1:4] == ["1", "0", "0"]  # 0_INVITE sent, recv, unexp


def test_gossipper_final_row_is_written_when_something_changed(tmp_path: pathlib.Path) -> None:
    stats = uac_stats(start_wall=1795671783.0)
    tracer = gossipper_tracer(tmp_path, stats, trace_stat=True)
    tracer.write_periodic(stats.snapshot(1795671784.0, 1.0, log_window(stats), restart=True))
    stats.call_created(1.1, incoming=False)
    tracer.write_final(stats.snapshot(1795671784.2, 1.2, log_window(stats)), "")
    tracer.close()
    assert len(rows(tracer.paths["stat"])) == 3


def test_gossipper_shortmessages_rows(tmp_path: pathlib.Path) -> None:
    records = [raw for _, _, raw in sample_records(sample("uac_messages.log"))][:4]
    invite, ringing, ok, ack = records
    tracer = gossipper_tracer(tmp_path, trace_shortmsg=True, trace_msg=True)
    call_id = "1-7107@127.0.0.1"
    tracer.call_started(call_id, 17)
    tracer.message_sent(call_id, invite, FLOW, 1795671783.5)
    tracer.message_received(call_id, parse_message(ringing), FLOW, 1795671783.51)
    tracer.message_received(call_id, parse_message(ok), FLOW, 1795671783.52)
    tracer.message_sent(call_id, ack, FLOW, 1795671783.53)
    tracer.call_ended(call_id, False, "", 1795671783.6)
    tracer.close()
    assert rows(tracer.paths["shortmessages"]) == [
        G_SHORT_HEADER.decode().rstrip("\n"),
        f"2026-11-26T05:43:03.5Z,send,17,sip,INVITE,{call_id}",
        f"2026-11-26T05:43:03.51Z,recv,17,sip,180 Ringing,{call_id}",
        f"2026-11-26T05:43:03.52Z,recv,17,sip,200 OK,{call_id}",
        f"2026-11-26T05:43:03.53Z,send,17,sip,ACK,{call_id}",
    ]
    # messages.log keeps SIPp's layout in this format.
    messages = pathlib.Path(tracer.paths["messages"]).read_bytes()
    assert messages.startswith(SEPARATOR + b"2026-11-26 05:43:03.500000\nUDP message sent (")
    assert messages.count(SEPARATOR) == 4


def test_gossipper_call_numbers_without_announcements(tmp_path: pathlib.Path) -> None:
    tracer = gossipper_tracer(tmp_path, trace_shortmsg=True)
    for n, call_id in enumerate(["b", "a", "b", "c"]):
        tracer.message_sent(call_id, b"BYE sip:x SIP/2.0\r\nCSeq: 2 BYE\r\n\r\n", FLOW, 10.0 + n)
    tracer.close()
    calls = [line.split(",")[2] for line in rows(tracer.paths["shortmessages"])[1:]]
    assert calls == ["1", "2", "1", "3"]  # order of first appearance


def test_gossipper_error_codes_one_row_per_unexpected_response(tmp_path: pathlib.Path) -> None:
    stats = uac_stats()
    tracer = gossipper_tracer(tmp_path, stats, trace_error_codes=True)
    tracer.call_started("c-2", 2)
    busy = parse_message(b"SIP/2.0 486 Busy Here\r\nCall-ID: c-2\r\nCSeq: 1 INVITE\r\n\r\n")
    bye = parse_message(b"BYE sip:x SIP/2.0\r\nCall-ID: c-2\r\nCSeq: 2 BYE\r\n\r\n")
    tracer.unexpected_message("c-2", busy, "200", FLOW, 1795671783.25)
    tracer.unexpected_message("c-2", bye, "200", FLOW, 1795671783.26)  # requests add nothing
    stats.unexpected_response_code(486)
    tracer.write_periodic(stats.snapshot(1795671784.0, 1.0, log_window(stats), restart=True))
    tracer.close()
    assert rows(tracer.paths["error_codes"]) == [
        G_ERROR_CODES_HEADER.decode().rstrip("\n"),
        "2026-11-26T05:43:03.25Z,2,486,Busy Here,c-2,200",
    ]


def test_unexpected_message_writes_nothing_in_sipp_format(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_error_codes=True)
    busy = parse_message(b"SIP/2.0 486 Busy Here\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n")
    tracer.unexpected_message("c", busy, "200", FLOW, 1795671783.25)
    tracer.close()
    assert pathlib.Path(tracer.paths["error_codes"]).read_bytes() == b""


def test_gossipper_rtt_rows(tmp_path: pathlib.Path) -> None:
    stats = uac_stats(start_wall=1795671783.0)
    tracer = gossipper_tracer(tmp_path, stats, trace_rtt=True)
    # Two samples of one instant arrive in either order; they are written sorted.
    tracer.write_rtt_records([(104.001, 12.9, "1", 2), (104.001, 1.452, "1", 1)])
    tracer.write_rtt([(2500.0, 3.0, "1")])
    tracer.close()
    assert rows(tracer.paths["rtt"]) == [
        "timestamp,call,name,value_ms",
        "2026-11-26T05:43:03.104001Z,1,1,1",
        "2026-11-26T05:43:03.104001Z,2,1,12",
        "2026-11-26T05:43:05.5Z,0,1,3",  # write_rtt has no call numbers
    ]


def test_sipp_rtt_records_drop_the_call_number(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_rtt=True)
    tracer.write_rtt_records([(1004.0, 0.5, "inv", 3), (104.001, 0.0, "inv", 1)])
    tracer.close()
    assert pathlib.Path(tracer.paths["rtt"]).read_bytes() == (
        b"Date_ms;response_time_ms;rtd_no\n104.001;0;inv\n1004;0.5;inv\n"
    )


def test_gossipper_csv_append_keeps_a_single_header(tmp_path: pathlib.Path) -> None:
    options: dict[str, object] = {"trace_shortmsg": True, "shortmessage_overwrite": False}
    for wall in (1795671783.0, 1795671784.0):
        tracer = gossipper_tracer(tmp_path, **options)
        tracer.message_sent("c", b"BYE sip:x SIP/2.0\r\nCSeq: 2 BYE\r\n\r\n", FLOW, wall)
        tracer.close()
    lines = rows(tracer.paths["shortmessages"])
    assert lines[0] == G_SHORT_HEADER.decode().rstrip("\n")
    assert len(lines) == 3 and lines.count(lines[0]) == 1


def test_gossipper_rotated_csv_files_start_with_the_header(tmp_path: pathlib.Path) -> None:
    wall = FakeWall()
    tracer = make_tracer(
        tmp_path,
        wall=wall,
        trace_format="gossipper",
        trace_shortmsg=True,
        ringbuffer_size=100,
        ringbuffer_files=2,
    )
    for n in range(8):
        wall.now += 1
        tracer.message_sent(f"c{n}", b"BYE sip:x SIP/2.0\r\nCSeq: 2 BYE\r\n\r\n", FLOW, wall.now)
        tracer.flush()
    tracer.close()
    rotated = tracer.rotated_files("shortmessages")
    assert len(rotated) == 2
    assert all(os.path.basename(p).startswith("gossipper_7107_shortmessages_") for p in rotated)
    for path in [*rotated, tracer.paths["shortmessages"]]:
        assert pathlib.Path(path).read_bytes().startswith(G_SHORT_HEADER)


def test_contract_doc_names_every_column() -> None:
    """docs/trace-schema-contract.md documents every fixed column of both formats."""
    from gossipper.stats import gossipper_csv, stat_csv_columns

    doc = (
        pathlib.Path(__file__).resolve().parents[2] / "docs" / "trace-schema-contract.md"
    ).read_text()
    for header in (
        G_STAT_HEADER,
        G_SCREEN_HEADER,
        G_RTT_HEADER,
        G_ERROR_CODES_HEADER,
        G_SHORT_HEADER,
    ):
        assert header.decode().rstrip("\n") in doc  # each header verbatim, or in a code block
    columns = [
        *gossipper_csv.STAT_COLUMNS,
        *gossipper_csv.SCREEN_COLUMNS,
        *gossipper_csv.RTT_COLUMNS,
        *gossipper_csv.ERROR_CODES_COLUMNS,
        *gossipper_csv.SHORTMESSAGE_COLUMNS,
        *stat_csv_columns(uac_stats())[:68],
    ]
    quoted = set(re.findall(r"(?<!`)`([^`\n]+)`(?!`)", doc))
    # The failure columns are documented by reason name, as `<Reason>(P)`, `<Reason>(C)`.
    missing = [c for c in columns if c not in quoted and c.rpartition("(")[0] not in quoted]
    assert not missing, missing
