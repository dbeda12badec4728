from __future__ import annotations

import json
import os
import pathlib

import pytest

from gossipper.output import exit_screens, screen_dump, summary_document, write_json_atomic
from gossipper.stats import ScreenState, StatsSnapshot, format_exit_stdout, format_screen_dump
from gossipper.stats.summary import build_summary_json
from tests.stats._samples import UAC_START, uac_context, uac_final_stats


def uac_snapshot() -> StatsSnapshot:
    stats = uac_final_stats()
    now = 1795671785.502331
    return stats.snapshot(now, now - UAC_START)


def test_exit_screens_are_the_stats_exit_stdout() -> None:
    snap = uac_snapshot()
    context = uac_context(woken=0)
    assert exit_screens(snap, server=False, context=context) == format_exit_stdout(
        snap, server=False, context=context
    )


def test_screen_dump_passes_state_and_periodic_rtd() -> None:
    snap = uac_snapshot()
    context = uac_context(woken=48)
    for periodic_rtd in (False, True):
        ours = screen_dump(
            snap,
            server=False,
            context=context,
            state=ScreenState.QUITTING,
            periodic_rtd=periodic_rtd,
        )
        expected = format_screen_dump(
            snap,
            server=False,
            context=context,
            state=ScreenState.QUITTING,
            periodic_rtd=periodic_rtd,
        )
        assert ours == expected
        assert "Waiting for active calls to end" in ours


def test_summary_document_spans_the_snapshot() -> None:
    snap = uac_snapshot()
    document = summary_document(
        snap, target_rate=10.0, scenario_name="uac", exit_code=0, tool_version="1.2.3"
    )
    assert document == build_summary_json(
        snap,
        tool_version="1.2.3",
        start_wall=snap.start_wall,
        finish_wall=snap.now_wall,
        target_rate=10.0,
        scenario_name="uac",
        exit_code=0,
    )


def test_write_json_atomic_writes_indented_newline_terminated_utf8(
    tmp_path: pathlib.Path,
) -> None:
    target = tmp_path / "summary.json"
    target.write_text("old")
    document = {"b": [1, 2], "a": "é"}
    write_json_atomic(str(target), document)
    assert target.read_bytes() == b'{\n  "b": [\n    1,\n    2\n  ],\n  "a": "\\u00e9"\n}\n'
    assert json.loads(target.read_text()) == document
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_write_json_atomic_leaves_no_temporary_file_on_failure(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "summary.json"
    with pytest.raises(TypeError):
        write_json_atomic(target, {"not json": object()})
    assert list(tmp_path.iterdir()) == []


def test_write_json_atomic_respects_the_umask(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "summary.json"
    write_json_atomic(target, {})
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
