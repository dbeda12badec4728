from __future__ import annotations

import datetime
import inspect
import os
import pathlib
import re
from collections.abc import Iterator

import pytest

from gossipper.config import RunConfig
from gossipper.engine.tracing import TraceFiles
from gossipper.errors import ConfigError
from gossipper.sip import parse_message
from gossipper.stats import ElementInfo, ElementKindTag, RunStats
from gossipper.stats.formatting import format_log_time

SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "data" / "sipp-samples"
UTC = datetime.UTC
SEPARATOR = b"-" * 47 + b" "


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
            tracer.message_sent("1-7107@127.0.0.1", raw, wall)
        else:
            tracer.message_received("1-7107@127.0.0.1", parse_message(raw), wall)


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
    tracer.message_sent("x", b"OPTIONS sip:a SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n", 1.0)
    tracer.warning("w", 1.0)
    tracer.log("l", 1.0)
    tracer.close()
    assert list(tmp_path.iterdir()) == []


def test_unwritable_directory_is_a_config_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="cannot create trace file"):
        make_tracer(tmp_path / "missing", trace_msg=True)


def test_gossipper_trace_format_is_refused_until_implemented(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="-trace_format gossipper"):
        make_tracer(tmp_path, trace_msg=True, trace_format="gossipper")


def test_stat_needs_the_layout(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="layout"):
        make_tracer(tmp_path, trace_stat=True)


def test_trace_files_has_the_tracer_methods() -> None:
    from gossipper.engine.engine import Tracer

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
    tracer.message_sent("c", b"BYE sip:a SIP/2.0\r\nCSeq: 2 BYE\r\n\r\n", 1795671783.487751)
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
            tracer.message_sent("1-14406@127.0.0.1", raw, wall)
        else:
            tracer.message_received("1-14406@127.0.0.1", parse_message(raw), wall)
    tracer.close()
    ours = pathlib.Path(tracer.paths["messages"]).read_bytes()
    assert ours == data
    assert len(records) == 6


def test_lost_and_out_of_call_records(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_msg=True, trace_shortmsg=True)
    bye = b"BYE sip:a SIP/2.0\r\nCall-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    tracer.message_lost("c1", bye, 1795671783.1)
    stray = b"SIP/2.0 200 OK\r\nCall-ID: old\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    tracer.out_of_call(stray, 1795671783.2)
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
    tracer.message_sent("1-7107@127.0.0.1", bye, short_walls("uac_shortmessages.log")[4])
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
    tracer.message_received(call_id, parse_message(invite), walls[0])
    tracer.message_sent(call_id, ringing, walls[1])
    tracer.message_sent(call_id, ok, walls[2])
    tracer.message_received(call_id, parse_message(ack), walls[3])
    tracer.message_received(call_id, parse_message(bye), walls[4])
    tracer.close()
    ours = pathlib.Path(tracer.paths["shortmessages"]).read_bytes()
    assert ours == b"".join(sample("uas_shortmessages.log").splitlines(keepends=True)[:5])


def test_shortmessage_cseq_lookup_is_case_insensitive(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_shortmsg=True)
    tracer.message_sent("a", b"OPTIONS sip:x SIP/2.0\r\ncseq :  7 OPTIONS \r\n\r\n", 1.0)
    tracer.message_sent("b", b"OPTIONS sip:x SIP/2.0\r\nVia: x\r\n\r\n", 2.0)
    tracer.message_sent("c", b"OPTIONS sip:x SIP/2.0\nCSeq: 8 OPTIONS\n\n", 3.0)
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
    tracer.message_sent(call, invite, 1795672240.084836)
    tracer.message_received(call, parse_message(busy), 1795672240.088790)
    tracer.message_lost(call, invite, 1795672240.088800)
    tracer.message_sent("ok-call", invite, 1795672240.09)
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
    tracer.message_sent("c", b"BYE sip:a SIP/2.0\r\nCSeq: 2 BYE\r\n\r\n", 1.0)
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
            tracer.message_sent(call_id, data, 1795671783.25)
        tracer.message_sent("a", b"ACK sip:x SIP/2.0\r\nCSeq: 1 ACK\r\n\r\n", 1795671783.5)
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
        tracer.message_sent(str(i), data, wall.now + 0.001 * i)
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
        tracer.message_sent(str(i), invite_bytes(i), 1795671783.0 + i)
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
        tracer.message_sent(str(i), invite_bytes(i), 1795671783.0 + i)
    tracer.close()
    assert foreign.read_bytes() == b"not ours\n"
    assert len(tracer.rotated_files("messages")) == 1


def test_ring_buffer_with_zero_files_restarts_the_file(tmp_path: pathlib.Path) -> None:
    tracer = make_tracer(tmp_path, trace_msg=True, ringbuffer_size=100, ringbuffer_files=0)
    for i in range(3):
        tracer.message_sent(str(i), invite_bytes(i), 1795671783.0 + i)
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
        tracer.message_sent(str(i), invite_bytes(i), 1795671783.0 + i)
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
    tracer.message_sent("c", invite_bytes(1), 1795671783.0)
    tracer.message_sent("c", invite_bytes(2), 1795671784.0)
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
    tracer.write_periodic(stats.snapshot(1795671783.490709, 0.003, reset_periodic=True))
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
    tracer.write_final(stats.snapshot(1795671784.4, 1.0, reset_periodic=True), screens)
    tracer.close()
    assert paths["error_codes"].read_bytes().splitlines()[1].endswith(b";487,486,")
    assert paths["screen"].read_bytes() == sample("uac_screen.log")
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
    tracer.write_periodic(stats.snapshot(1795671783.490709, 0.003, reset_periodic=True))
    tracer.close()
    header, row = pathlib.Path(tracer.paths["stat"]).read_bytes().splitlines()
    assert header.startswith(b"StartTime,LastResetTime,")
    assert header.count(b",") == row.count(b",") == 95
