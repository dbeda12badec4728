"""Hostile input against a running gossipper UAS while the real SIPp calls through it.

Runs ``bench/flood.py`` (the harness itself, shortened): junk and mutated datagrams over UDP;
thousands of idle connections plus garbage, oversized and byte-by-byte connections over TCP.
It exits 0 only when gossipper stayed up, every SIPp call succeeded and every bad input was
counted (see the script's docstring); the JSON report is checked here as well.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.interop

FLOOD = pathlib.Path(__file__).resolve().parents[2] / "bench" / "flood.py"


@pytest.mark.parametrize(
    "options",
    [
        ("--transport", "u1", "--seconds", "8", "--junk-rate", "400"),
        (
            "--transport",
            "t1",
            "--seconds",
            "8",
            "--idle",
            "2000",
            "--garbage",
            "10",
            "--oversized",
            "10",
            "--slow",
            "10",
        ),
    ],  # fmt: skip
    ids=["udp", "tcp"],
)
def test_hostile_input_breaks_nothing_and_is_counted(
    sipp_binary: str, tmp_path: pathlib.Path, options: tuple[str, ...]
) -> None:
    report_path = tmp_path / "flood.json"
    result = subprocess.run(
        [sys.executable, str(FLOOD), *options, "--json", str(report_path)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert all(report["checks"].values()), report["checks"]
    assert report["sipp_successful"] == report["calls"] == 800
    if options[1] == "u1":
        assert report["junk_datagrams"] > 1000
        assert report["junk_accounted"] == report["junk_datagrams"]
    else:
        assert report["uas_socket_fds"] >= 2000
        assert report["uas_messages"]["malformed"] >= 20
