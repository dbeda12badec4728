"""-segment arithmetic (gossipper.segment), its option and its pacing."""

from __future__ import annotations

import io
import json
import math
import os
import pathlib
import re
import subprocess
import sys
from fractions import Fraction

import pytest

from gossipper.cli.app import run_app
from gossipper.config import RunConfig
from gossipper.engine.rate import RateState
from gossipper.errors import ConfigError
from gossipper.segment import ExecutionSegment, parse_segment

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEQUENCES = {
    2: ["0/2", "1/2"],
    3: ["0:1/3", "1/3:2/3", "2/3:1"],
    4: ["0:1/4", "1/4:1/2", "1/2:3/4", "3/4:1"],
}


def _segments(texts: list[str], sequence: str | None = None) -> list[ExecutionSegment]:
    return [parse_segment(text, sequence) for text in texts]


@pytest.mark.parametrize("texts", SEQUENCES.values())
def test_segments_of_a_sequence_partition_every_prefix_of_the_calls(texts: list[str]) -> None:
    segments = _segments(texts)
    for count in range(0, 50):
        owners = [[n for n in range(1, count + 1) if seg.owns(n)] for seg in segments]
        assert sorted(n for owned in owners for n in owned) == list(range(1, count + 1))
        assert sum(seg.scale(count) for seg in segments) == count
        for seg, owned in zip(segments, owners, strict=True):
            assert seg.count_upto(count) == len(owned)
            assert [seg.nth(k) for k in range(1, len(owned) + 1)] == owned


def test_uneven_fractions_need_one_sequence_to_be_disjoint() -> None:
    sequence = "0,1/4,1/2,1"
    segments = _segments(["0:1/4", "1/4:1/2", "1/2:1"], sequence)
    assert {seg.period for seg in segments} == {4}
    owners = [{n for n in range(1, 41) if seg.owns(n)} for seg in segments]
    assert set().union(*owners) == set(range(1, 41))
    assert sum(len(o) for o in owners) == 40
    assert [seg.share for seg in segments] == [Fraction(1, 4), Fraction(1, 4), Fraction(1, 2)]


@pytest.mark.parametrize(
    ("text", "label", "first", "end", "period"),
    [
        ("0/1", "0:1", 0, 1, 1),
        ("2/3", "2/3:1", 2, 3, 3),
        ("1/4:1/2", "1/4:1/2", 1, 2, 4),
        ("0.5:1", "1/2:1", 1, 2, 2),
        ("0:1", "0:1", 0, 1, 1),
    ],
)
def test_parse_forms(text: str, label: str, first: int, end: int, period: int) -> None:
    seg = parse_segment(text)
    assert (seg.first, seg.end, seg.period, seg.label()) == (first, end, period, label)


@pytest.mark.parametrize(
    "text",
    ["", "3", "4/4", "-1/4", "1/0", "1/2:1/4", "0:2", "a:b", "1/4:", "1/2/3", "0:1:1"],
)
def test_bad_segments_are_refused_with_the_option_named(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^-segment: .*(write|needs)"):
        RunConfig(segment=text)


def test_sequence_must_contain_the_segment_and_needs_a_segment() -> None:
    with pytest.raises(ConfigError, match="-segment_sequence"):
        RunConfig(segment="0:1/3", segment_sequence="0,1/4,1/2,1")
    with pytest.raises(ConfigError, match="-segment_sequence: .* must increase"):
        RunConfig(segment="0:1/4", segment_sequence="0,1/2,1/4,1")
    with pytest.raises(ConfigError, match="needs -segment"):
        RunConfig(segment_sequence="0,1/2,1")
    assert RunConfig(segment="0:1").execution_segment is None


@pytest.mark.parametrize("command", [[], ["sim"]])
def test_cli_refuses_a_bad_segment_in_one_line_as_every_option_error(
    tmp_path: pathlib.Path, command: list[str]
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gossipper",
            *command,
            "-sn",
            "uac",
            "-m",
            "1",
            "-segment",
            "4/4",
            "127.0.0.1:5",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    # The project's exit status of every command-line error (gossipper.errors.ConfigError).
    assert done.returncode == int(ConfigError.exit_status)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "-segment" in lines[0] and "0 <= I < N" in lines[0], done.stderr


@pytest.mark.parametrize("texts", SEQUENCES.values())
@pytest.mark.parametrize("rate", [5.0, 7.0, 10.0 / 3.0])
def test_paced_segments_start_each_call_when_the_whole_test_would(
    texts: list[str], rate: float
) -> None:
    """The union of the segments' start times is the whole test's schedule, also across a
    rate change (a -rate_increase step)."""

    def schedule(segment: ExecutionSegment | None) -> list[tuple[float, int]]:
        state = RateState(rate=rate, period_s=1.0, changed_at_s=0.0, segment=segment)
        starts: list[tuple[float, int]] = []
        started = 0
        now = 0.0
        changed = False
        while now < 6.0:
            if not changed and now >= 2.5:
                due = state.calls_due(2.5)
                for _ in range(due):
                    started += 1
                    starts.append((2.5, started if segment is None else segment.nth(started)))
                state.started_since_change += due
                state.change_rate(rate + 2.0, 2.5)
                changed = True
                continue
            due = state.calls_due(now)
            for _ in range(due):
                started += 1
                starts.append((round(now, 9), started if segment is None else segment.nth(started)))
            state.started_since_change += due
            now = min(state.next_due_s(), 2.5 if not changed else math.inf)
        return starts

    whole = schedule(None)
    parts = sorted(start for seg in _segments(texts) for start in schedule(seg))
    assert parts == sorted(whole)


def test_sim_segment_runs_its_share_with_the_whole_tests_call_ids(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    argv = ["sim", "-sn", "uac", "-m", "10", "-r", "5", "-segment", "1/3"]
    status = run_app(
        [*argv, "-summary_json", "s.json", "-trace_msg", "-message_file", "m"], out, err
    )
    assert int(status) == 0, err.getvalue()
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["calls"]["total"] == 3
    assert summary["rate"]["target_cps"] == pytest.approx(5 / 3)
    call_ids = sorted(set(re.findall(r"Call-ID: (\d+)-", (tmp_path / "m").read_text())), key=int)
    assert call_ids == ["2", "5", "8"]
