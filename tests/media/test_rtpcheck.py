"""SIPp 3.7's RTP check patterns (apattern/vpattern): the check itself, and calls that stream a
pattern to a peer that echoes it (or does not), in the simulation and on real loopback sockets;
SIPp's fixed SSRC base and -random_base_ssrc."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import sys
import threading

import pytest

from gossipper.cli.sim_command import build_plan
from gossipper.media.rtpcheck import (
    AUDIO_PAYLOAD_BYTES,
    ECHO_WINDOW_S,
    PATTERN_FRAMES,
    VIDEO_PAYLOAD_BYTES,
    PatternCheck,
    frame_of,
    passes,
    pattern_payloads,
)
from gossipper.sim.network import EventKind
from gossipper.sim.run import SimulationResult, run_simulation
from tests.media.calls import REPO, media_rows, run_call_pair

DATA = pathlib.Path(__file__).resolve().parent / "rtpcheck"
AUDIO = pattern_payloads("audio")


def _packet(seq: int, frame: int, payload_type: int = 8, ssrc: int = 0xCA110000) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type, seq, seq * 160, ssrc) + AUDIO[frame]


def _check(tolerance: float = 1.0) -> PatternCheck:
    return PatternCheck("audio", AUDIO, 8, tolerance)


# -- the pattern and the check ----------------------------------------------------------------


def test_pattern_frames_differ_and_say_which_frame_they_are() -> None:
    video = pattern_payloads("video")
    assert len(AUDIO) == len(video) == PATTERN_FRAMES
    assert {len(p) for p in AUDIO} == {AUDIO_PAYLOAD_BYTES}
    assert {len(p) for p in video} == {VIDEO_PAYLOAD_BYTES}
    assert [frame_of(p) for p in AUDIO] == list(range(PATTERN_FRAMES))
    assert AUDIO[0][:2] == b"Ga" and video[0][:2] == b"Gv"
    # Any two frames differ in most bytes: a shifted echo cannot match by chance.
    for k in range(1, PATTERN_FRAMES):
        same = sum(a == b for a, b in zip(AUDIO[0], AUDIO[k], strict=True))
        assert same < AUDIO_PAYLOAD_BYTES // 4
    assert frame_of(b"\xff" * 160) is None and frame_of(b"G") is None


def test_a_clean_echo_passes_at_the_default_tolerance() -> None:
    check = _check()
    for seq in range(100):
        check.sent_packet(_packet(seq, seq % PATTERN_FRAMES), now=seq * 0.02)
    for seq in range(100):
        check.echoed(seq, AUDIO[seq % PATTERN_FRAMES])
    verdict = check.verdict(now=2.0)
    assert (verdict.sent, verdict.judged, verdict.matched, verdict.mismatched) == (100, 100, 100, 0)
    assert verdict.passed


def test_packets_in_flight_at_the_end_are_not_held_against_the_peer() -> None:
    check = _check()
    for seq in range(100):
        check.sent_packet(_packet(seq, seq % PATTERN_FRAMES), now=seq * 0.02)
    for seq in range(90):  # the last ten were still on their way back at the hang-up
        check.echoed(seq, AUDIO[seq % PATTERN_FRAMES])
    end = 99 * 0.02 + 0.01
    verdict = check.verdict(now=end)
    assert verdict.in_flight == 10 and verdict.judged == 90 and verdict.passed
    # Once the echo window has passed, the same ten count as not echoed.
    late = check.verdict(now=end + ECHO_WINDOW_S)
    assert late.in_flight == 0 and late.judged == 100 and not late.passed


def test_a_corrupted_truncated_or_shifted_echo_is_a_mismatch() -> None:
    check = _check()
    for seq in range(10):
        check.sent_packet(_packet(seq, seq), now=0.0)
    flipped = bytearray(AUDIO[0])
    flipped[100] ^= 0x01
    check.echoed(0, bytes(flipped))  # one bit flipped
    check.echoed(1, AUDIO[1][:80])  # cut short
    check.echoed(2, AUDIO[3])  # the next packet's payload under this one's header
    for seq in range(3, 10):
        check.echoed(seq, AUDIO[seq])
    verdict = check.verdict(now=10.0)
    assert (verdict.matched, verdict.mismatched, verdict.judged) == (7, 3, 10)
    assert not verdict.passed
    first, cut, shifted = check.mismatches
    assert (first.seq, first.first_difference, first.received_frame) == (0, 100, 0)
    assert (cut.received_bytes, cut.first_difference) == (80, 80)
    assert (shifted.expected_frame, shifted.received_frame) == (2, 3)


def test_tolerance_is_the_share_that_must_match() -> None:
    assert passes(9, 10, 0.9) and not passes(8, 10, 0.9)
    assert passes(0, 10, 0.0)
    assert passes(0, 0, 1.0)  # nothing judged: nothing failed
    check = _check(tolerance=0.5)
    for seq in range(10):
        check.sent_packet(_packet(seq, seq), now=0.0)
    for seq in range(5):
        check.echoed(seq, AUDIO[seq])
    assert check.verdict(now=10.0).passed
    check.tolerance = 0.6
    assert not check.verdict(now=10.0).passed


def test_duplicates_events_and_the_peers_own_media_stay_out_of_the_check() -> None:
    check = _check()
    check.sent_packet(_packet(0, 0), now=0.0)
    check.sent_packet(_packet(1, 0, payload_type=101)[:16] + b"\x01\x0a\x00\xa0", now=0.0)
    check.echoed(0, AUDIO[0])
    check.echoed(0, AUDIO[0])  # a duplicate echo
    check.echoed(7, b"\xd5" * 160)  # the peer's own stream under the same SSRC (not a pattern)
    verdict = check.verdict(now=10.0)
    assert (verdict.sent, verdict.matched, verdict.unexpected) == (1, 1, 1)
    assert verdict.passed


# -- calls in the simulation ------------------------------------------------------------------


def _simulate(
    tmp_path: pathlib.Path, args: list[str], uac: str = "uac_apattern.xml"
) -> SimulationResult:
    for path in DATA.glob("*.xml"):
        shutil.copyfile(path, tmp_path / path.name)
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        plan = build_plan(
            ["-sf", uac, *args, "-trace_media", "-summary_json", "summary.json"], directory="."
        )
        plan = dataclasses.replace(plan, record_payloads=True)
        return run_simulation(plan, io.StringIO(), io.StringIO())
    finally:
        os.chdir(previous)


def _sent_rtp(result: SimulationResult, local: str) -> list[bytes]:
    host, _, port = local.rpartition(":")
    return [
        result.payloads[e.digest]
        for e in result.events
        if e.kind is EventKind.SCHEDULED
        and e.src == (host, int(port))
        and not 72 <= result.payloads[e.digest][1] & 0x7F <= 76  # RTP, not RTCP
    ]


def test_uac_apattern_echoed_by_gossipper_uas_passes(tmp_path: pathlib.Path) -> None:
    result = _simulate(tmp_path, ["-peer", "uas_echo.xml", "-m", "3", "-r", "2"])
    assert int(result.exit_status) == 0
    rows = media_rows(tmp_path)
    assert [row["rtpcheck"] for row in rows] == ["passed"] * 3
    for number, row in enumerate(rows, start=1):
        # 1.5 s, a 400 ms pause, 1 s: 125 frames of 20 ms, every one echoed identical.
        assert row["rtpcheck_sent"] == row["rtpcheck_matched"] == row["packets_sent"] == "125"
        assert row["rtpcheck_judged"] == "125" and row["rtpcheck_mismatched"] == "0"
        sent = _sent_rtp(result, row["local"])
        # SIPp's fixed SSRC base: call n streams as 0xCA110000 + n - 1.
        assert {struct.unpack_from("!I", p, 8)[0] for p in sent} == {0xCA110000 + number - 1}
        assert [p[12:] for p in sent[:50]] == list(AUDIO)
        assert {p[1] & 0x7F for p in sent} == {8}
        # The pause: one gap of 400 ms in the timestamps (3200 samples more than a frame).
        stamps = [struct.unpack_from("!I", p, 4)[0] for p in sent]
        steps = [(b - a) & 0xFFFFFFFF for a, b in zip(stamps, stamps[1:], strict=False)]
        assert sorted(set(steps)) == [160, 160 + 3200]
        assert sum(p[1] & 0x80 != 0 for p in sent) == 2  # marker: start and resume
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["media"]["rtpcheck"] == {
        "streams": 3,
        "failed": 0,
        "sent": 375,
        "judged": 375,
        "matched": 375,
        "mismatched": 0,
    }


def test_random_base_ssrc_draws_ssrcs_from_the_seed(tmp_path: pathlib.Path) -> None:
    args = ["-peer", "uas_echo.xml", "-m", "2", "-r", "2", "-random_base_ssrc", "-seed", "9"]
    result = _simulate(tmp_path, args)
    assert int(result.exit_status) == 0
    ssrcs = set()
    for row in media_rows(tmp_path):
        sent = {struct.unpack_from("!I", p, 8)[0] for p in _sent_rtp(result, row["local"])}
        assert len(sent) == 1
        ssrcs |= sent
    assert len(ssrcs) == 2 and not ssrcs & {0xCA110000, 0xCA110001}
    again = tmp_path / "again"
    again.mkdir()
    result = _simulate(again, args)
    assert ssrcs == {
        struct.unpack_from("!I", p, 8)[0]
        for row in media_rows(again)
        for p in _sent_rtp(result, row["local"])
    }


def test_no_echo_fails_the_run_with_253_and_the_calls_still_succeed(
    tmp_path: pathlib.Path,
) -> None:
    result = _simulate(tmp_path, ["-peer", "uas_no_echo.xml", "-m", "2", "-r", "2"])
    assert int(result.exit_status) == 253
    rows = media_rows(tmp_path)
    assert [row["rtpcheck"] for row in rows] == ["failed"] * 2
    # The last 0.5 s of packets were in flight at the BYE: not judged.
    assert [row["rtpcheck_judged"] for row in rows] == ["100", "100"]
    assert [row["rtpcheck_matched"] for row in rows] == ["0", "0"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["calls"]["successful"] == 2 and summary["calls"]["failed"] == 0
    assert summary["media"]["rtpcheck"]["failed"] == 2
    assert summary["exit_code"] == 253


def test_loss_fails_at_tolerance_one_and_passes_below_it(tmp_path: pathlib.Path) -> None:
    lossy = ["-peer", "uas_echo.xml", "-m", "2", "-r", "2", "-net_loss", "5", "-seed", "3"]
    strict, lenient = tmp_path / "strict", tmp_path / "lenient"
    strict.mkdir()
    lenient.mkdir()
    assert int(_simulate(strict, lossy).exit_status) == 253
    assert int(_simulate(lenient, [*lossy, "-audiotolerance", "0.8"]).exit_status) == 0
    for row in media_rows(lenient):
        matched, judged = int(row["rtpcheck_matched"]), int(row["rtpcheck_judged"])
        assert 0.8 * judged <= matched < judged  # some lost each way, none corrupted
        assert row["rtpcheck_mismatched"] == "0"


def test_the_same_check_over_sdes_srtp(tmp_path: pathlib.Path) -> None:
    result = _simulate(
        tmp_path,
        ["-peer", "uas_echo_srtp.xml", "-m", "2", "-r", "2", "-srtpcheck_debug"],
        uac="uac_apattern_srtp.xml",
    )
    assert int(result.exit_status) == 0
    rows = media_rows(tmp_path)
    for row in rows:
        assert row["rtpcheck"] == "passed" and row["rtpcheck_matched"] == "125"
        assert row["srtp_auth_failures"] == "0"
        sent = _sent_rtp(result, row["local"])
        # SRTP on the wire: no packet carries the clear pattern payload.
        assert sent and not any(AUDIO[0][4:40] in p for p in sent)
    (log,) = tmp_path.glob("*_srtpcheck.log")
    text = log.read_text()
    assert text.count("==== SRTP check audio call") == 2 and "PASSED" in text
    assert "----PACKET COUNTS----" in text and "srtp_auth_failures=0" in text


def test_rtpcheck_debug_file_records_each_stream(tmp_path: pathlib.Path) -> None:
    result = _simulate(
        tmp_path, ["-peer", "uas_no_echo.xml", "-m", "2", "-r", "2", "-rtpcheck_debug"]
    )
    assert int(result.exit_status) == 253
    (log,) = tmp_path.glob("*_rtpcheck.log")
    assert log.name == "uac_apattern_4242_rtpcheck.log"
    text = log.read_text()
    assert text.startswith("==== RTP check audio call 1 Call-ID 1-4242@10.0.0.1: FAILED\n")
    assert "ssrc=0xCA110000 payload_type=8" in text and "ssrc=0xCA110001" in text
    assert text.count("----PACKET COUNTS----") == 2
    assert "sent=125\njudged=100\nmatched=0\nmismatched=0\nin_flight=25\nnot_echoed=100\n" in text
    assert not list(tmp_path.glob("*_srtpcheck.log"))  # -srtpcheck_debug not given


def test_vpattern_on_the_video_stream(tmp_path: pathlib.Path) -> None:
    uac = (DATA / "uac_apattern.xml").read_text()
    uac = uac.replace(
        "      a=rtpmap:8 PCMA/8000\n",
        "      a=rtpmap:8 PCMA/8000\n      m=video [rtpstream_video_port] RTP/AVP 96\n"
        "      a=rtpmap:96 H264/90000\n",
        1,
    )
    uac = uac.replace('rtp_stream="apattern,-1,8,PCMA/8000"', 'rtp_stream="vpattern,-1,96"')
    uac = uac.replace("pauseapattern", "pausevpattern").replace("resumeapattern", "resumevpattern")
    uas = (DATA / "uas_echo.xml").read_text()
    uas = uas.replace(
        "      a=rtpmap:8 PCMA/8000\n",
        "      a=rtpmap:8 PCMA/8000\n      m=video [rtpstream_video_port] RTP/AVP 96\n"
        "      a=rtpmap:96 H264/90000\n",
        1,
    )
    uas = uas.replace('"startaudio,8,PCMA/8000"', '"startvideo,96,H264/90000"')
    uas = uas.replace('"stopaudio"', '"stopvideo"')
    (tmp_path / "uac_video.xml").write_text(uac)
    (tmp_path / "uas_video.xml").write_text(uas)
    result = _simulate(tmp_path, ["-peer", "uas_video.xml", "-m", "1"], uac="uac_video.xml")
    assert int(result.exit_status) == 0
    (row,) = [row for row in media_rows(tmp_path) if row["media"] == "video"]
    assert row["rtpcheck"] == "passed" and row["rtpcheck_matched"] == "125"
    sent = _sent_rtp(result, row["local"])
    assert {len(p) - 12 for p in sent} == {VIDEO_PAYLOAD_BYTES}
    stamps = [struct.unpack_from("!I", p, 4)[0] for p in sent]
    assert (stamps[1] - stamps[0]) & 0xFFFFFFFF == 1800  # 20 ms at 90 kHz
    # -videotolerance is the video stream's, not -audiotolerance.
    strict = tmp_path / "strict"
    strict.mkdir()
    shutil.copyfile(tmp_path / "uac_video.xml", strict / "uac_video.xml")
    (strict / "uas_video.xml").write_text(uas.replace('"startvideo,96,H264/90000"', '"stopvideo"'))
    args = ["-peer", "uas_video.xml", "-m", "1", "-audiotolerance", "0"]
    assert int(_simulate(strict, args, uac="uac_video.xml").exit_status) == 253
    args = ["-peer", "uas_video.xml", "-m", "1", "-videotolerance", "0"]
    assert int(_simulate(strict, args, uac="uac_video.xml").exit_status) == 0


# -- real sockets -----------------------------------------------------------------------------


class _CorruptingEcho:
    """A UDP echo on loopback that flips one payload byte of every ``corrupt_every``-th RTP
    packet it echoes (0: none)."""

    def __init__(self, corrupt_every: int = 5) -> None:
        self.corrupt_every = corrupt_every
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.echoed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            if len(data) > 40 and data[1] & 0x7F == 8:
                if self.corrupt_every and self.echoed % self.corrupt_every == 0:
                    data = data[:40] + bytes([data[40] ^ 0xFF]) + data[41:]
                self.echoed += 1
                self.sock.sendto(data, source)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def test_real_sockets_clean_echo_passes_and_corrupting_echo_fails(tmp_path: pathlib.Path) -> None:
    uas_dir, uac_dir, bad_dir = tmp_path / "uas", tmp_path / "uac", tmp_path / "bad"
    for directory in (uas_dir, uac_dir, bad_dir):
        directory.mkdir()
    shutil.copyfile(DATA / "uas_echo.xml", uas_dir / "uas_echo.xml")
    shutil.copyfile(DATA / "uac_apattern.xml", uac_dir / "uac_apattern.xml")
    uac, uas, _base = run_call_pair(
        "uas_echo.xml", "uac_apattern.xml", uas_dir=uas_dir, uac_dir=uac_dir,
        uac_args=("-rtpcheck_debug",), rtp_ports=40, uac_status=0,
    )  # fmt: skip
    assert uac.returncode == 0, uac.stdout[-2000:] + uac.stderr
    assert uas.returncode == 0
    (row,) = media_rows(uac_dir)
    assert row["rtpcheck"] == "passed"
    # A loaded machine may skip a few overdue frames; every judged one came back identical
    # (the last ones may still have been on their way back at the BYE: not judged).
    sent, judged = int(row["rtpcheck_sent"]), int(row["rtpcheck_judged"])
    assert 110 <= int(row["rtpcheck_matched"]) == judged <= sent <= 130
    assert sent - judged <= 25
    assert "PASSED" in next(uac_dir.glob("*_rtpcheck.log")).read_text()

    # The same call against a peer whose SDP points at an echo that corrupts every fifth packet.
    echo = _CorruptingEcho()
    uas_bad = (
        (DATA / "uas_echo.xml")
        .read_text()
        .replace("m=audio [media_port] RTP/AVP 8", f"m=audio {echo.port} RTP/AVP 8")
    )
    (bad_dir / "uas_bad.xml").write_text(uas_bad)
    shutil.copyfile(DATA / "uac_apattern.xml", bad_dir / "uac_apattern.xml")
    try:
        uac, _uas, _base = run_call_pair(
            "uas_bad.xml", "uac_apattern.xml", uas_dir=bad_dir, uac_dir=bad_dir,
            uac_args=("-audiotolerance", "0.9", "-trace_err", "-rtpcheck_debug"),
            rtp_ports=40, uac_status=253,
        )  # fmt: skip
        assert uac.returncode == 253, uac.stdout[-2000:] + uac.stderr
    finally:
        echo.close()
    (row,) = media_rows(bad_dir, "uac_apattern_*_media.csv")
    assert row["rtpcheck"] == "failed"
    mismatched, judged = int(row["rtpcheck_mismatched"]), int(row["rtpcheck_judged"])
    assert judged >= 100 and abs(mismatched - judged / 5) <= 2
    log = next(bad_dir.glob("uac_apattern_*_rtpcheck.log")).read_text()
    assert "FAILED" in log and "----MISMATCHES----" in log and "first_difference_at=28" in log
    errors = next(bad_dir.glob("uac_apattern_*_errors.log")).read_text()
    assert "RTP check of the audio pattern failed" in errors


@pytest.mark.parametrize("value", ["1.5", "-0.1"])
def test_tolerance_outside_zero_to_one_is_refused(value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gossipper", "-sn", "uac", "127.0.0.1:5060", "-audiotolerance",
         value, "-m", "1", "-nostdin"],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "-audiotolerance" in result.stderr and "0.0 to 1.0" in result.stderr
    assert "Traceback" not in result.stderr


# -- loading ----------------------------------------------------------------------------------


def test_pattern_actions_load_as_sipp_3_7_writes_them() -> None:
    from gossipper.scenario import load_scenario_text
    from gossipper.scenario.actions import MediaAction, MediaOp

    values = [
        "apattern,1,8",
        "apattern,-1,0,PCMU/8000",
        "vpattern,2,96,H264/90000",
        "pauseapattern",
        "resumeapattern",
        "pausevpattern",
        "resumevpattern",
    ]
    body = "".join(f'<exec rtp_stream="{value}"/>' for value in values)
    xml = f'<?xml version="1.0"?><scenario><nop><action>{body}</action></nop></scenario>'
    scenario = load_scenario_text(xml.encode(), source_label="p.xml")
    assert scenario.has_media
    actions = [a for a in scenario.elements[0].actions if isinstance(a, MediaAction)]
    got = [(a.op, a.media, a.loops, a.payload_type, a.codec) for a in actions]
    assert got == [
        (MediaOp.RTP_PATTERN, "audio", 1, 8, ""),
        (MediaOp.RTP_PATTERN, "audio", -1, 0, "PCMU/8000"),
        (MediaOp.RTP_PATTERN, "video", 2, 96, "H264/90000"),
        (MediaOp.PAUSE_STREAM, "audio", 1, -1, ""),
        (MediaOp.RESUME_STREAM, "audio", 1, -1, ""),
        (MediaOp.PAUSE_STREAM, "video", 1, -1, ""),
        (MediaOp.RESUME_STREAM, "video", 1, -1, ""),
    ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("apattern,x,8", "loops 'x' is not a number"),
        ("apattern,1,300", "payload type '300' is not 0-127"),
        ("apattern,1,8,PCMA/8000,extra", 'expected "apattern,loops,payload_type[,codec]"'),
    ],
)
def test_bad_pattern_values_name_the_problem(value: str, problem: str) -> None:
    from gossipper.errors import ScenarioError
    from gossipper.scenario import load_scenario_text

    xml = (
        '<?xml version="1.0"?><scenario><nop><action>\n'
        f'<exec rtp_stream="{value}"/></action></nop></scenario>'
    )
    with pytest.raises(ScenarioError, match="p.xml:2") as caught:
        load_scenario_text(xml.encode(), source_label="p.xml")
    assert problem in str(caught.value)


def test_srtp_pattern_without_echo_exits_253(tmp_path: pathlib.Path) -> None:
    uas = (DATA / "uas_echo_srtp.xml").read_text()
    uas = uas.replace('<exec rtp_echo="startaudio,8,PCMA/8000"/>', "").replace(
        '<exec rtp_echo="stopaudio"/>', ""
    )
    (tmp_path / "uas_silent_srtp.xml").write_text(uas)
    result = _simulate(
        tmp_path,
        ["-peer", "uas_silent_srtp.xml", "-m", "1", "-srtpcheck_debug"],
        uac="uac_apattern_srtp.xml",
    )
    assert int(result.exit_status) == 253
    (row,) = media_rows(tmp_path)
    assert row["rtpcheck"] == "failed" and row["rtpcheck_matched"] == "0"
    (log,) = tmp_path.glob("*_srtpcheck.log")
    assert log.read_text().startswith("==== SRTP check audio call 1 ")


def test_srtp_pattern_echoed_by_a_plain_udp_echo_fails_authentication(
    tmp_path: pathlib.Path,
) -> None:
    """An echo that returns our SRTP packets unchanged (not re-protected with the keys of its
    answer) is not a valid SRTP echo: nothing authenticates, the check fails with 253."""
    echo = _CorruptingEcho(corrupt_every=0)
    uas = (DATA / "uas_echo_srtp.xml").read_text()
    uas = uas.replace("m=audio [media_port] RTP/SAVP 8", f"m=audio {echo.port} RTP/SAVP 8")
    (tmp_path / "uas_bad_srtp.xml").write_text(uas)
    shutil.copyfile(DATA / "uac_apattern_srtp.xml", tmp_path / "uac_apattern_srtp.xml")
    try:
        uac, _uas, _base = run_call_pair(
            "uas_bad_srtp.xml", "uac_apattern_srtp.xml", uas_dir=tmp_path, uac_dir=tmp_path,
            uac_args=("-srtpcheck_debug",), rtp_ports=40, uac_status=253,
        )  # fmt: skip
        assert uac.returncode == 253, uac.stdout[-2000:] + uac.stderr
    finally:
        echo.close()
    (row,) = media_rows(tmp_path, "uac_apattern_srtp_*_media.csv")
    assert row["rtpcheck"] == "failed" and row["rtpcheck_matched"] == "0"
    # A loaded machine skips some overdue frames and may drop an echo; what was judged is
    # still most of the ~120 sent, and nearly every echo that came back failed authentication.
    judged = int(row["rtpcheck_judged"])
    assert judged >= 80, row
    assert int(row["srtp_auth_failures"]) >= 0.9 * judged, row
    log = next(tmp_path.glob("uac_apattern_srtp_*_srtpcheck.log")).read_text()
    assert "FAILED" in log and "srtp_auth_failures=" in log


def test_debug_file_follows_the_gossipper_trace_format_names(tmp_path: pathlib.Path) -> None:
    args = ["-peer", "uas_echo.xml", "-m", "1", "-rtpcheck_debug", "-trace_format", "gossipper"]
    assert int(_simulate(tmp_path, args).exit_status) == 0
    (log,) = tmp_path.glob("*rtpcheck*")
    assert log.name == "gossipper_4242_messages_rtpcheck.log"
    assert "==== RTP check audio call 1 " in log.read_text()
