"""SIPp 3.7's RTP check patterns against SIPp 3.6.1's ``-rtp_echo`` (docs/media.md, "RTP check
patterns"): gossipper's UAC streams ``apattern`` to ``sipp -sn uas -rtp_echo`` and judges the
echo; without ``-rtp_echo`` nothing comes back and the run exits with 253."""

from __future__ import annotations

import csv
import pathlib
import shutil

import pytest

from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_udp_port,
    gossipper_command,
    start,
    wait_for_udp_listener,
)
from tests.interop.media import free_udp_port_block

pytestmark = pytest.mark.interop

SCENARIO = pathlib.Path(__file__).resolve().parents[1] / "media" / "rtpcheck" / "uac_apattern.xml"
CALLS = 2
PATTERN_PACKETS = 125  # 1.5 s + 1 s of 20 ms frames (a 400 ms pause between)


def _run(
    sipp_binary: str, tmp_path: pathlib.Path, *sipp_args: str
) -> tuple[int, list[dict[str, str]]]:
    shutil.copyfile(SCENARIO, tmp_path / SCENARIO.name)
    sipp_sip, uac_sip = free_udp_port(), free_udp_port()
    sipp_media = free_udp_port_block(4)
    our_media = free_udp_port_block(2 * CALLS + 2, low=sipp_media + 100)
    uas = start(
        [sipp_binary, "-sn", "uas", "-i", LOOPBACK, "-p", str(sipp_sip), "-mp", str(sipp_media),
         "-m", str(CALLS), "-nostdin", *sipp_args],
        tmp_path,
    )  # fmt: skip
    try:
        wait_for_udp_listener(sipp_sip, uas)
        uac = start(
            gossipper_command(
                "-sf", SCENARIO.name, f"{LOOPBACK}:{sipp_sip}", "-i", LOOPBACK,
                "-p", str(uac_sip), "-m", str(CALLS), "-r", "10", "-nostdin",
                "-min_rtp_port", str(our_media), "-max_rtp_port", str(our_media + 2 * CALLS + 1),
                "-trace_media", "-rtpcheck_debug",
            ),
            tmp_path,
        )  # fmt: skip
        code, out, err = finish(uac)
    finally:
        if uas.poll() is None:
            uas.kill()
        uas.communicate()
    (path,) = tmp_path.glob("uac_apattern_*_media.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert len(rows) == CALLS, out[-2000:] + err[-2000:]
    return code, rows


def test_apattern_echoed_by_sipp_rtp_echo_passes(sipp_binary: str, tmp_path: pathlib.Path) -> None:
    code, rows = _run(sipp_binary, tmp_path, "-rtp_echo")
    assert code == 0
    for row in rows:
        assert row["rtpcheck"] == "passed"
        sent = int(row["rtpcheck_sent"])
        # A loaded machine may skip a few overdue frames (never a burst, docs/media.md).
        assert PATTERN_PACKETS - 15 <= sent <= PATTERN_PACKETS + 5  # + the BYE's round trip
        # Packets still on their way back at the BYE are not judged; every other came back.
        judged = int(row["rtpcheck_judged"])
        assert int(row["rtpcheck_matched"]) == judged >= sent - 25
        assert row["rtpcheck_mismatched"] == "0"
    log = next(tmp_path.glob("uac_apattern_*_rtpcheck.log")).read_text()
    assert log.count("PASSED") == CALLS
    # SIPp's fixed base: calls 1 and 2 stream as 0xCA110000 and 0xCA110001.
    assert "ssrc=0xCA110000" in log and "ssrc=0xCA110001" in log


def test_apattern_against_sipp_without_echo_exits_253(
    sipp_binary: str, tmp_path: pathlib.Path
) -> None:
    code, rows = _run(sipp_binary, tmp_path)
    assert code == 253
    for row in rows:
        assert row["rtpcheck"] == "failed" and row["rtpcheck_matched"] == "0"
        assert int(row["rtpcheck_judged"]) >= 90
