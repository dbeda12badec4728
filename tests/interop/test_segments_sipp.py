"""Three -segment processes against one real SIPp 3.6.1 UAS on loopback UDP: together they are
the whole test (docs/compatibility.md, "Execution segments").

The Call-IDs depend on the call number only (``-cid_str %u-segments@host``), so a number run by
two segments would reach SIPp as one call twice; SIPp counts exactly ``-m`` calls, and
``gossipper merge`` adds the segments' files up to the same figures.
"""

from __future__ import annotations

import csv
import io
import json
import pathlib

import pytest

from gossipper.cli.app import run_app
from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_udp_port,
    gossipper_command,
    sipp_counts,
    start,
    wait_for_udp_listener,
)

pytestmark = pytest.mark.interop

CALLS = 301
RATE = "150"
SEGMENTS = 3


def test_three_segments_are_one_test_for_a_sipp_uas(
    sipp_binary: str, tmp_path: pathlib.Path
) -> None:
    port = free_udp_port()
    uas = start(
        [
            sipp_binary, "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-nostdin",
            "-m", str(CALLS), "-trace_stat", "-stf", str(tmp_path / "sipp_uas.csv"), "-fd", "1",
        ],
        tmp_path,
    )  # fmt: skip
    wait_for_udp_listener(port, uas)
    segments = []
    for index in range(SEGMENTS):
        folder = tmp_path / f"segment-{index}"
        folder.mkdir()
        segments.append(
            start(
                gossipper_command(
                    "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK,
                    "-cid_str", "%u-segments@%s", "-segment", f"{index}/{SEGMENTS}",
                    "-m", str(CALLS), "-r", RATE, "-nostdin", "-timeout", "60s",
                    "-fd", "1", "-trace_stat", "-summary_json", "summary.json",
                ),
                folder,
            )
        )  # fmt: skip
    for index, process in enumerate(segments):
        rc, out, err = finish(process)
        assert rc == 0, f"segment {index}: {out[-2000:]}{err[-2000:]}"
    uas_rc, _, uas_err = finish(uas)
    assert uas_rc == 0, uas_err[-2000:]

    theirs = sipp_counts(tmp_path / "sipp_uas.csv")
    assert theirs.created == theirs.successful == CALLS
    assert theirs.failed == theirs.retransmissions == 0

    shares = [
        json.loads((tmp_path / f"segment-{i}" / "summary.json").read_text())["calls"]["total"]
        for i in range(SEGMENTS)
    ]
    assert shares == [101, 100, 100]
    out, err = io.StringIO(), io.StringIO()
    inputs = [str(tmp_path / f"segment-{i}") for i in range(SEGMENTS)]
    assert int(run_app(["merge", *inputs, "-o", str(tmp_path / "merged")], out, err)) == 0
    merged = json.loads((tmp_path / "merged" / "summary.json").read_text())
    assert merged["calls"]["total"] == merged["calls"]["successful"] == CALLS
    assert merged["rate"]["target_cps"] == pytest.approx(float(RATE))
    (stat,) = (tmp_path / "merged").glob("uac_*_.csv")
    rows = list(csv.reader(stat.read_text().splitlines(), delimiter=";"))
    assert rows[-1][rows[0].index("SuccessfulCall(C)")] == str(CALLS)
