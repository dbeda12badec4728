"""gossipper merge on hand-made inputs: carried rows, rates, pooled latencies, bad input."""

from __future__ import annotations

import copy
import io
import json
import os
import pathlib
from typing import Any

import jsonschema
import pytest

from gossipper.cli.app import run_app
from gossipper.output.merge import (
    MergeError,
    merge_counts_csv,
    merge_error_codes,
    merge_logs,
    merge_result_files,
    merge_rtt_csv,
    merge_stat_csv,
)
from gossipper.stats.summary import load_summary_schema

T0 = "2026-01-01\t00:00:00.000000\t1767225600.000000"
T1 = "2026-01-01\t00:00:01.000000\t1767225601.000000"
T2 = "2026-01-01\t00:00:02.000000\t1767225602.000000"
T2B = "2026-01-01\t00:00:02.500000\t1767225602.500000"
STAT_HEADER = (
    "StartTime;LastResetTime;CurrentTime;ElapsedTime(P);ElapsedTime(C);TargetRate;CallRate(P);"
    "CallRate(C);IncomingCall(P);IncomingCall(C);OutgoingCall(P);OutgoingCall(C);"
    "TotalCallCreated;CurrentCall;SuccessfulCall(P);SuccessfulCall(C);"
    "CallLength(P);CallLength(C);CallLengthStDev(P);CallLengthStDev(C);\n"
)


def _stat_row(*fields: str) -> str:
    return "".join(field + ";" for field in fields) + "\n"


def test_stat_rows_add_and_a_finished_part_keeps_its_cumulative_values() -> None:
    a = STAT_HEADER + _stat_row(
        T0,
        T0,
        T1,
        "00:00:01",
        "00:00:01",
        "2.5",
        "2",
        "2",
        "0",
        "0",
        "2",
        "2",
        "2",
        "1",
        "1",
        "1",
        "00:00:00:100000",
        "00:00:00:100000",
        "00:00:00:000000",
        "00:00:00:000000",
    )
    b = (
        STAT_HEADER
        + _stat_row(
            T0,
            T0,
            T1,
            "00:00:01",
            "00:00:01",
            "2.5",
            "3",
            "3",
            "0",
            "0",
            "3",
            "3",
            "3",
            "0",
            "3",
            "3",
            "00:00:00:200000",
            "00:00:00:200000",
            "00:00:00:010000",
            "00:00:00:010000",
        )
        + _stat_row(
            T0,
            T1,
            T2B,
            "00:00:01",
            "00:00:02",
            "2.5",
            "1",
            "1",
            "0",
            "0",
            "1",
            "4",
            "4",
            "0",
            "1",
            "4",
            "00:00:00:300000",
            "00:00:00:225000",
            "00:00:00:000000",
            "00:00:00:050000",
        )
    )
    merged = merge_stat_csv([a, b], ["a.csv", "b.csv"]).splitlines()
    assert merged[0] + "\n" == STAT_HEADER
    first = merged[1].split(";")
    assert first[5:16] == ["5", "5", "5", "0", "0", "5", "5", "5", "1", "4", "4"]
    # Call length mean weighted by successful calls: (1*100 + 3*200) / 4 = 175 ms.
    assert first[16] == "00:00:00:175000"
    second = merged[2].split(";")
    # b's later row; a keeps its cumulative values and adds nothing to the period.
    assert second[2] == T2B
    assert second[12] == "6"  # TotalCallCreated 2 + 4
    assert second[14:16] == ["1", "5"]
    # CallRate(C) recomputed: 6 calls in 2.5 s.
    assert second[7] == "2.4"
    assert second[16] == "00:00:00:300000"  # the period: b alone


def test_counts_rtt_error_codes_and_logs() -> None:
    counts_a = "CurrentTime;ElapsedTime;0_INVITE_Sent;\n" + f"{T1};00:00:01:000000;2;\n"
    counts_b = (
        "CurrentTime;ElapsedTime;0_INVITE_Sent;\n"
        + f"{T1};00:00:01:000000;3;\n"
        + f"{T2};00:00:02:000000;5;\n"
    )
    assert merge_counts_csv([counts_a, counts_b], ["a", "b"]).splitlines()[1:] == [
        f"{T1};00:00:01:000000;5;",
        f"{T2};00:00:02:000000;7;",
    ]
    rtt_a = "Date_ms;response_time_ms;rtd_no\n5;1;inv\n20;2;inv\n"
    rtt_b = "Date_ms;response_time_ms;rtd_no\n10;3;inv\n"
    assert merge_rtt_csv([rtt_a, rtt_b], ["a", "b"]).splitlines()[1:] == [
        "5;1;inv",
        "10;3;inv",
        "20;2;inv",
    ]
    codes = merge_error_codes(
        [f"{T1};00:00:01:000000;486,\n", f"{T1};00:00:01:000000;503,404,\n"], ["a", "b"]
    )
    assert codes == f"{T1};00:00:01:000000;486,503,404,\n"
    assert merge_logs(["x\n", "y"], ["a/e.log", "b/e.log"]) == (
        "----- gossipper merge: a/e.log -----\nx\n----- gossipper merge: b/e.log -----\ny\n"
    )


def test_files_of_different_runs_are_refused() -> None:
    other = STAT_HEADER.replace("CurrentCall;", "CurrentCall;Extra(P);")
    with pytest.raises(MergeError, match="b.csv: its columns differ from a.csv"):
        merge_stat_csv([STAT_HEADER, other], ["a.csv", "b.csv"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["merge"], "give the result folders"),
        (["merge", "nowhere", "-o", "out"], "nowhere: no such file or directory"),
        (["merge", "-x"], "unknown option -x"),
        (["merge", ".", "-o", "out"], "no summary JSON or SIPp trace file found"),
    ],
)
def test_bad_merge_command_lines_exit_255_with_one_line(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert int(run_app(argv, out, err)) == 255
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and message in lines[0], err.getvalue()


@pytest.fixture(scope="module")
def segment_summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("segment")
    old = os.getcwd()
    os.chdir(folder)
    try:
        argv = ["sim", "-sn", "uac", "-m", "8", "-segment", "1/4", "-summary_json", "s.json"]
        assert int(run_app(argv, io.StringIO(), io.StringIO())) == 0
    finally:
        os.chdir(old)
    document: dict[str, Any] = json.loads((folder / "s.json").read_text())
    return document


def test_a_segments_summary_names_its_slice_and_follows_the_schema(
    segment_summary: dict[str, Any],
) -> None:
    jsonschema.validate(segment_summary, load_summary_schema())
    assert segment_summary["segment"] == {"range": "1/4:1/2", "first": 1, "end": 2, "period": 4}
    assert segment_summary["calls"]["total"] == 2


def _write_parts(
    folder: pathlib.Path, template: dict[str, Any], ranges: list[tuple[int, int, int]]
) -> list[str]:
    paths = []
    for index, (first, end, period) in enumerate(ranges):
        document = copy.deepcopy(template)
        document["segment"] = {
            "range": f"{first}/{period}:{end}/{period}",
            "first": first,
            "end": end,
            "period": period,
        }
        part = folder / f"part-{index}"
        part.mkdir(parents=True)
        (part / "summary.json").write_text(json.dumps(document))
        paths.append(str(part))
    return paths


def test_merge_refuses_overlapping_segments_and_warns_about_missing_ones(
    tmp_path: pathlib.Path, segment_summary: dict[str, Any]
) -> None:
    parts = _write_parts(tmp_path / "overlap", segment_summary, [(0, 2, 4), (1, 2, 4)])
    with pytest.raises(MergeError, match="part-1/summary.json: segment .* overlaps"):
        merge_result_files(parts, str(tmp_path / "out1"))
    parts = _write_parts(tmp_path / "periods", segment_summary, [(0, 1, 2), (1, 2, 4)])
    with pytest.raises(MergeError, match="different periods .*-segment_sequence"):
        merge_result_files(parts, str(tmp_path / "out2"))
    warnings: list[str] = []
    parts = _write_parts(tmp_path / "partial", segment_summary, [(0, 1, 4), (1, 2, 4)])
    merge_result_files(parts, str(tmp_path / "out3"), warn=warnings.append)
    assert warnings == ["the merged segments are not the whole test: 1/2:3/4, 3/4:1 missing"]
    merged = json.loads((tmp_path / "out3" / "summary.json").read_text())
    assert merged["segment"] == {"range": "0:1/2", "first": 0, "end": 2, "period": 4}
    assert merged["calls"]["total"] == 4
    parts = _write_parts(tmp_path / "whole", segment_summary, [(0, 3, 4), (3, 4, 4)])
    merge_result_files(parts, str(tmp_path / "out4"), warn=warnings.append)
    assert len(warnings) == 1
    assert "segment" not in json.loads((tmp_path / "out4" / "summary.json").read_text())


def test_merge_help_and_the_front_door_list() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert int(run_app(["merge", "-h"], out, err)) == 99
    assert out.getvalue().startswith("usage: gossipper merge DIR_OR_FILE")
    out = io.StringIO()
    run_app(["--help"], out, io.StringIO())
    assert "merge" in out.getvalue()
