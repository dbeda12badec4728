"""N segments of a `gossipper sim` run, merged with `gossipper merge`, give the whole run's
counts: calls, failure reasons, per-element message counts, response-time samples and
histograms (docs/compatibility.md, "-segment" and "gossipper merge")."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import re
from collections.abc import Iterator

import pytest

from gossipper.cli.app import run_app

DATA = pathlib.Path(__file__).resolve().parent / "data"
# Per-call random pauses, SEQUENTIAL and RANDOM injection rows, a fixed network delay: every
# call's messages and timing depend only on its call number and the seed, so a segment's calls
# are exactly the whole run's calls with the same numbers.
ARGS = [
    "-sf",
    str(DATA / "segment_uac.xml"),
    "-inf",
    str(DATA / "seq.csv"),
    "-inf",
    str(DATA / "rnd.csv"),
    "-m",
    "31",
    "-r",
    "20",
    "-net_delay",
    "7",
    "-seed",
    "5",
    "-fd",
    "1",
    "-trace_stat",
    "-trace_counts",
    "-trace_rtt",
    "-rtt_freq",
    "1",
    "-trace_msg",
    "-summary_json",
    "summary.json",
]
STAT = "segment_uac_4242_.csv"
COUNTS = "segment_uac_4242_counts.csv"
RTT = "segment_uac_4242_rtt.csv"
LATENCY_MEANS = re.compile(r"^(ResponseTime|CallLength).*\((P|C)\)$")


@contextlib.contextmanager
def _cwd(path: pathlib.Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _run(folder: pathlib.Path, *extra: str) -> None:
    folder.mkdir()
    out, err = io.StringIO(), io.StringIO()
    with _cwd(folder):
        status = run_app(["sim", *ARGS, *extra], out, err)
    assert int(status) == 0, err.getvalue()


def _stat_rows(path: pathlib.Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text().splitlines()
    header = lines[0].split(";")[:-1]
    return header, [line.split(";")[:-1] for line in lines[1:]]


def _ms(text: str) -> float:
    h, m, s, us = (int(part) for part in text.split(":"))
    return ((h * 60 + m) * 60 + s) * 1000 + us / 1000


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("whole") / "run"
    _run(folder)
    return folder


@pytest.mark.parametrize("parts", [2, 3, 4])
def test_merged_segments_equal_the_whole_run(
    whole: pathlib.Path, tmp_path: pathlib.Path, parts: int
) -> None:
    for index in range(parts):
        _run(tmp_path / f"segment-{index}", "-segment", f"{index}/{parts}")
    out, err = io.StringIO(), io.StringIO()
    inputs = [str(tmp_path / f"segment-{index}") for index in range(parts)]
    status = run_app(["merge", *inputs, "-o", str(tmp_path / "merged")], out, err)
    assert int(status) == 0, err.getvalue()
    merged = tmp_path / "merged"

    # Every segment ran its own calls: disjoint Call-IDs, together the whole run's.
    def call_ids(folder: pathlib.Path) -> list[str]:
        text = (folder / "segment_uac_4242_messages.log").read_text()
        return sorted(set(re.findall(r"Call-ID: (\S+)", text)))

    per_segment = [call_ids(tmp_path / f"segment-{index}") for index in range(parts)]
    assert sum(len(ids) for ids in per_segment) == 31
    assert sorted(i for ids in per_segment for i in ids) == call_ids(whole)

    # ... with the whole run's injection rows (SEQUENTIAL and RANDOM).
    def froms(folder: pathlib.Path) -> list[str]:
        text = (folder / "segment_uac_4242_messages.log").read_text()
        return re.findall(r"^From: .*$", text, re.MULTILINE)

    assert sorted(f for i in range(parts) for f in froms(tmp_path / f"segment-{i}")) == sorted(
        froms(whole)
    )

    # Summary: everything equal but the peak of open calls (the parts' largest, a lower bound).
    expected = json.loads((whole / "summary.json").read_text())
    got = json.loads((merged / "summary.json").read_text())
    assert got["calls"].pop("peak") <= expected["calls"].pop("peak")
    assert got == expected

    # Counts CSV: identical (times included: the merged row takes the latest part's time).
    assert (merged / COUNTS).read_text() == (whole / COUNTS).read_text()

    # rtt CSV: the same samples (merged in Date_ms order; ties may come in another order).
    assert sorted((merged / RTT).read_text().splitlines()) == sorted(
        (whole / RTT).read_text().splitlines()
    )

    # Stat CSV: every column equal, latency means within the CSV's whole milliseconds.
    header, expected_rows = _stat_rows(whole / STAT)
    merged_header, got_rows = _stat_rows(merged / STAT)
    assert merged_header == header
    assert len(got_rows) == len(expected_rows)
    for expected_row, got_row in zip(expected_rows, got_rows, strict=True):
        for name, want, have in zip(header, expected_row, got_row, strict=True):
            if LATENCY_MEANS.match(name) and "Repartition" not in name:
                assert abs(_ms(have) - _ms(want)) <= 1.0, (name, want, have)
            else:
                assert have == want, (name, want, have)


def test_a_rate_ramp_split_in_three_merges_to_the_whole_ramp(tmp_path: pathlib.Path) -> None:
    """-rate_increase steps restart the count in every segment at the whole test's instant:
    the merged stat and counts files equal the whole run's, byte for byte after the dates."""
    ramp = ["-sn", "uac", "-m", "61", "-r", "10", "-rate_increase", "7", "-rate_interval", "1s"]
    traces = ["-net_delay", "3", "-fd", "1", "-trace_stat", "-trace_counts"]

    def run(folder: pathlib.Path, *extra: str) -> None:
        folder.mkdir()
        with _cwd(folder):
            status = run_app(["sim", *ramp, *traces, *extra], io.StringIO(), io.StringIO())
        assert int(status) == 0

    run(tmp_path / "whole")
    for index in range(3):
        run(tmp_path / f"segment-{index}", "-segment", f"{index}/3")
    inputs = [str(tmp_path / f"segment-{index}") for index in range(3)]
    status = run_app(
        ["merge", *inputs, "-o", str(tmp_path / "merged")], io.StringIO(), io.StringIO()
    )
    assert int(status) == 0
    for name in ("uac_4242_.csv", "uac_4242_counts.csv"):
        assert (tmp_path / "merged" / name).read_text() == (tmp_path / "whole" / name).read_text()
