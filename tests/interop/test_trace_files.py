"""Trace files of gossipper and of the real SIPp 3.6.1, run with the same command line.

One scenario with a named RTD, a generic counter, both repartition tables and a ``<log>`` action
(data/uac_trace_files.xml) is run by ``sipp`` and by ``gossipper`` with identical arguments (only
the ports differ), each against its own ``sipp -sn uas`` and in its own working directory. Every
file either writes is then compared: the same set of files, CSV headers byte for byte, the
shape of every row (field counts, and each field's format with its digits masked), the message
traces record by record with digits masked, and the screen file line by line with numbers
masked. Values (times, rates, ports, pids) are free to differ; formats are not.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
from typing import TypeVar

import pytest

from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_udp_port,
    gossipper_command,
    start,
    wait_for_udp_listener,
)

pytestmark = pytest.mark.interop

K = TypeVar("K")
V = TypeVar("V")

SCENARIO = pathlib.Path(__file__).parent / "data" / "uac_trace_files.xml"
CALLS = 10
TRACE_OPTIONS = (
    "-trace_stat", "-trace_counts", "-trace_rtt", "-rtt_freq", "1", "-trace_error_codes",
    "-trace_msg", "-trace_shortmsg", "-trace_err", "-trace_logs", "-trace_screen", "-fd", "1",
)  # fmt: skip
# What both programs must write (SIPp names, reference 6.1); errors.log only on a first error.
EXPECTED_FILES = {
    ".csv",
    "counts.csv",
    "rtt.csv",
    "error_codes.csv",
    "messages.log",
    "shortmessages.log",
    "logs.log",
    "screen.log",
}
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?")
_SEPARATOR = re.compile(rb"^-{47} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
_TITLE = re.compile(rb"^UDP message (?:sent \(\d+ bytes\):|received \[\d+\] bytes :)$")
_LOG_TIME = r"\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d\.\d{6}\t\d{10}\.\d{6}"


def uac_arguments(remote_port: int) -> list[str]:
    """The command line both programs get (after the program name)."""
    return [
        "-sf", str(SCENARIO), f"{LOOPBACK}:{remote_port}", "-i", LOOPBACK,
        "-p", str(free_udp_port()), "-m", str(CALLS), "-r", "10", "-nostdin", *TRACE_OPTIONS,
    ]  # fmt: skip


def sipp_uas(sipp: str, port: int, cwd: pathlib.Path) -> subprocess.Popen[str]:
    command = [sipp, "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-nostdin", "-m", str(CALLS)]
    return start(command, cwd)


def trace_files(directory: pathlib.Path, pid: int) -> dict[str, pathlib.Path]:
    """suffix (``counts.csv``, ``.csv``, ...) -> file, for ``uac_trace_files_<pid>_<suffix>``."""
    prefix = f"uac_trace_files_{pid}_"
    found: dict[str, pathlib.Path] = {}
    for path in directory.iterdir():
        if path.name.startswith("uac_trace_files_"):
            assert path.name.startswith(prefix), f"{path.name}: not named after pid {pid}"
            found[path.name[len(prefix) :]] = path
    return found


def shape(field: str) -> str:
    """A field with every number masked: ``2026-11-26\\t05:43:03.48`` -> ``N-N-N\\tN:N:N``."""
    return _NUMBER.sub("N", field)


def csv_lines(path: pathlib.Path) -> list[str]:
    data = path.read_bytes()
    assert data.endswith(b"\n") and b"\r" not in data, f"{path.name}: LF line ends expected"
    return data.decode("latin-1").splitlines()


def row_shapes(lines: list[str], width: int) -> set[tuple[str, ...]]:
    """The distinct shapes of semicolon-separated rows, each checked to have ``width`` fields
    (SIPp ends every field, the last one too, with the delimiter)."""
    shapes = set()
    for line in lines:
        fields = line.split(";")
        assert len(fields) == width, line
        shapes.add(tuple(shape(field) for field in fields))
    return shapes


def message_records(path: pathlib.Path) -> list[tuple[bytes, bytes]]:
    """messages.log records as (record without its time line, record with digits masked);
    each record's layout is checked on the way: separator line, title, empty line, the raw
    message, then an empty line."""
    data = path.read_bytes()
    starts = [m.start() for m in re.finditer(rb"(?m)^-{47} ", data)]
    assert starts and starts[0] == 0, f"{path.name}: does not start with a separator"
    records = []
    for begin, end in zip(starts, starts[1:] + [len(data)], strict=True):
        chunk = data[begin:end]
        separator, title, rest = chunk.split(b"\n", 2)
        assert _SEPARATOR.match(separator), separator
        assert _TITLE.match(title), title
        assert rest.startswith(b"\n") and rest.endswith(b"\r\n\n"), rest[-20:]
        records.append((title + b"\n" + rest, re.sub(rb"\d+", b"N", chunk)))
    return records


def first_transmissions(records: list[tuple[K, V]]) -> tuple[list[V], list[K]]:
    """Records in order with repeats of an earlier record's key (a retransmission, sent or
    received: the same bytes again) set apart: (the first of each, the repeats' keys)."""
    seen: set[K] = set()
    first: list[V] = []
    repeats: list[K] = []
    for key, value in records:
        if key in seen:
            repeats.append(key)
        else:
            seen.add(key)
            first.append(value)
    return first, repeats


def short_records(path: pathlib.Path) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """shortmessages.log lines as ((direction, Call-ID, CSeq, first line), the same with
    numbers masked)."""
    records = []
    for line in csv_lines(path):
        fields = line.split("\t")
        assert len(fields) == 7, line
        assert re.fullmatch(_LOG_TIME, "\t".join(fields[:3])), line
        assert fields[3] in ("S", "R") and fields[5].startswith("CSeq:"), line
        records.append((tuple(fields[3:]), tuple(shape(field) for field in fields[3:])))
    return records


SCENARIO_SCREEN_TITLE = "------------------------------ Scenario Screen"


def screen_lines(path: pathlib.Path) -> list[str]:
    """The exit dump of a screen file (its last one), numbers masked, column padding collapsed.

    Without a terminal gossipper also writes a snapshot every -fd (issue 3); SIPp 3.6.1 writes
    the exit dump only.
    """
    text = path.read_bytes().decode("latin-1")
    text = text[text.rindex(SCENARIO_SCREEN_TITLE) :]
    return [re.sub(" +", " ", shape(line)).rstrip() for line in text.splitlines()]


def retransmissions(stat_file: pathlib.Path) -> int:
    header, *rows = csv_lines(stat_file)
    return int(rows[-1].split(";")[header.split(";").index("Retransmissions(C)")])


def test_trace_files_match_sipp(sipp_binary: str, tmp_path: pathlib.Path) -> None:
    theirs_dir, ours_dir = tmp_path / "sipp", tmp_path / "gossipper"
    theirs_dir.mkdir()
    ours_dir.mkdir()
    theirs_port, ours_port = free_udp_port(), free_udp_port()
    servers = [
        sipp_uas(sipp_binary, theirs_port, tmp_path),
        sipp_uas(sipp_binary, ours_port, tmp_path),
    ]
    wait_for_udp_listener(theirs_port)
    wait_for_udp_listener(ours_port)
    theirs = start([sipp_binary, *uac_arguments(theirs_port)], theirs_dir)
    ours = start(gossipper_command(*uac_arguments(ours_port)), ours_dir)
    theirs_rc, _, theirs_err = finish(theirs, timeout_s=30)
    ours_rc, ours_out, ours_err = finish(ours, timeout_s=30)
    for server in servers:
        finish(server, timeout_s=30)
    assert theirs_rc == 0, theirs_err[-2000:]
    assert ours_rc == 0, ours_out[-2000:] + ours_err[-2000:]

    sipp_files = trace_files(theirs_dir, theirs.pid)
    our_files = trace_files(ours_dir, ours.pid)
    assert set(sipp_files) == EXPECTED_FILES  # the reference itself: no errors.log
    assert set(our_files) == EXPECTED_FILES

    # Statistics CSV: header byte for byte, then every row of the same shape.
    sipp_stat, our_stat = csv_lines(sipp_files[".csv"]), csv_lines(our_files[".csv"])
    assert our_stat[0] == sipp_stat[0]
    assert "ResponseTimeinv(C)" in sipp_stat[0] and "got200(C)" in sipp_stat[0]
    assert "ResponseTimeRepartitioninv_<10" in sipp_stat[0]
    assert "CallLengthRepartition_>=500" in sipp_stat[0]
    width = sipp_stat[0].count(";") + 1
    assert len(sipp_stat) >= 3 and len(our_stat) >= 3  # header, start-up row, final rows
    assert row_shapes(our_stat[1:], width) == row_shapes(sipp_stat[1:], width)

    # Counts: same.
    sipp_counts, our_counts = (
        csv_lines(sipp_files["counts.csv"]),
        csv_lines(our_files["counts.csv"]),
    )
    assert our_counts[0] == sipp_counts[0]
    width = sipp_counts[0].count(";") + 1
    assert row_shapes(our_counts[1:], width) == row_shapes(sipp_counts[1:], width)

    # Error codes: no header; time and elapsed time, and no codes in this clean run.
    sipp_codes = csv_lines(sipp_files["error_codes.csv"])
    our_codes = csv_lines(our_files["error_codes.csv"])
    assert (
        row_shapes(our_codes, 3)
        == row_shapes(sipp_codes, 3)
        == {("N-N-N\tN:N:N\tN", "N:N:N:N", "")}
    )

    # RTT: header byte for byte; with -rtt_freq 1 one line per call, named after the RTD.
    sipp_rtt, our_rtt = csv_lines(sipp_files["rtt.csv"]), csv_lines(our_files["rtt.csv"])
    assert our_rtt[0] == sipp_rtt[0] == "Date_ms;response_time_ms;rtd_no"
    assert len(our_rtt) == len(sipp_rtt) == 1 + CALLS
    assert row_shapes(our_rtt[1:], 3) == row_shapes(sipp_rtt[1:], 3) == {("N", "N", "inv")}

    # Short messages and messages: a retransmission (on a busy machine, either side) repeats
    # an earlier record's bytes; set those apart and the first transmissions of both programs
    # are the same records, six per call (INVITE, 180, 200, ACK, BYE, 200), once digits are
    # masked.
    sipp_short, sipp_short_repeats = first_transmissions(
        short_records(sipp_files["shortmessages.log"])
    )
    our_short, our_short_repeats = first_transmissions(
        short_records(our_files["shortmessages.log"])
    )
    assert sorted(our_short) == sorted(sipp_short)
    assert len(our_short) == 6 * CALLS
    sipp_messages, _ = first_transmissions(message_records(sipp_files["messages.log"]))
    our_messages, our_repeats = first_transmissions(message_records(our_files["messages.log"]))
    assert sorted(our_messages) == sorted(sipp_messages)
    assert len(our_messages) == 6 * CALLS
    # Every retransmission gossipper counted is in its traces, and nothing else repeats but
    # the ACK re-sent for each repeated 200 (which no counter counts).
    our_sent_repeats = sum(1 for key in our_repeats if key.startswith(b"UDP message sent"))
    our_received_repeats = len(our_repeats) - our_sent_repeats
    our_retransmissions = retransmissions(our_files[".csv"])
    assert our_retransmissions <= our_sent_repeats
    assert our_sent_repeats <= our_retransmissions + our_received_repeats
    assert len(our_short_repeats) == len(our_repeats)
    assert len(sipp_short_repeats) == len(message_records(sipp_files["messages.log"])) - len(
        sipp_messages
    )

    # <log> lines: the same texts (call numbers and CSeqs are the same in both runs).
    sipp_logs = sorted(csv_lines(sipp_files["logs.log"]))
    assert sorted(csv_lines(our_files["logs.log"])) == sipp_logs
    assert sipp_logs[0] == "call 1 answered, cseq 1"

    # Screens at exit: the same lines once numbers and column padding are masked.
    assert screen_lines(our_files["screen.log"]) == screen_lines(sipp_files["screen.log"])
