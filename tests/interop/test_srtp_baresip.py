"""SDES-SRTP with a real peer (issue 18 item 6): baresip with its ``srtp`` module and
``;mediaenc=srtp-mand`` calling gossipper and called by it, encrypted audio both ways.

Three witnesses per call: gossipper's -trace_media figures (packets received, no SRTP
authentication failure), baresip's own counters and the audio it decoded (our tone: it
decrypted what we sent), and the loopback capture: every RTP packet on the wire is SRTP (the
clear tone is nowhere in it), and decrypted here with pylibsrtp and the keys of the two
a=crypto lines from gossipper's -trace_msg, our packets carry exactly the tone's frames and
baresip's decrypt too (tshark 4.0 cannot decrypt SRTP itself: see test_srtp_tshark.py).
"""

from __future__ import annotations

import pathlib
import re
import tempfile
import time
from collections.abc import Iterator

import pytest

from gossipper.media.secure.sdes import CryptoAttribute, parse_crypto
from tests.interop.baresip import Baresip, start_baresip, wav_stats
from tests.interop.harness import LOOPBACK, finish, free_udp_port, gossipper_command, start
from tests.interop.media import (
    LoopbackCapture,
    free_udp_port_block,
    read_media_csv,
    write_ulaw_tone,
)
from tests.interop.srtp_wire import decrypt_capture, frames
from tests.media.secure import require

pytestmark = pytest.mark.interop
require("pylibsrtp")  # a failure in CI, a skip elsewhere

DATA = pathlib.Path(__file__).parent / "data"
TONE_FILE = "media_tone.ulaw"
TONE_SECONDS = 2.0
TONE_RMS = 16000 / 2**0.5  # the WAV tone baresip sends and the u-law tone we send: half scale


def _banner_split(messages_log: str) -> list[tuple[str, str]]:
    """(banner, message) pairs of a -trace_msg log."""
    parts = re.split(r"^(-+ .*)$", messages_log, flags=re.MULTILINE)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def _keys(directory: pathlib.Path, scenario: str) -> tuple[CryptoAttribute, CryptoAttribute]:
    """(our line, the peer's line) that keyed the call: the answer's line and the offered
    line of the same tag."""
    (log,) = directory.glob(f"{scenario}_*_messages.log")
    ours: list[CryptoAttribute] = []
    theirs: list[CryptoAttribute] = []
    for _, message in _banner_split(log.read_text()):
        lines = [parse_crypto(v) for v in re.findall(r"^\s*a=crypto:(.+?)\s*$", message, re.M)]
        if not lines:
            continue
        # Each message starts "UDP message sent (N bytes):" or "... received ...".
        target = ours if "message sent" in message[:80] else theirs
        if not target:
            target.extend(lines)
    assert ours and theirs, "no a=crypto exchange in the message trace"
    for line in theirs:
        for mine in ours:
            if (mine.tag, mine.suite.name) == (line.tag, line.suite.name):
                return mine, line
    raise AssertionError(f"no common a=crypto tag: ours {ours}, theirs {theirs}")


def _check_wire(
    capture: pathlib.Path, ours: CryptoAttribute, theirs: CryptoAttribute, tone: set[bytes]
) -> tuple[int, int]:
    """Decrypt the capture's RTP both ways; returns (our packets, baresip's packets)."""
    return decrypt_capture(capture, ours.suite, ours.key_salt, theirs.key_salt, tone)


def _assert_tone(path: pathlib.Path, min_seconds: float) -> None:
    rate, frames, rms = wav_stats(path)
    assert rate == 8000
    assert frames >= min_seconds * rate, f"{path.name}: {frames} frames"
    assert rms == pytest.approx(TONE_RMS, rel=0.15), f"{path.name}: RMS {rms}"


@pytest.fixture
def srtp_directory() -> Iterator[pathlib.Path]:
    # Short: baresip's sndfile cuts recording paths at 128 bytes (see tests/interop/baresip.py).
    with tempfile.TemporaryDirectory(prefix="baresip-") as directory:
        yield pathlib.Path(directory)


def test_gossipper_calls_baresip_with_sdes_srtp(
    dumpcap_binary: str, srtp_directory: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    write_ulaw_tone(tmp_path / TONE_FILE, TONE_SECONDS)
    agent: Baresip = start_baresip(srtp_directory, srtp=True)
    try:
        sip_port, media = free_udp_port(), free_udp_port_block(16)
        ports = [sip_port, agent.sip_port, *range(media, media + 16), *agent.rtp_ports]
        with LoopbackCapture(dumpcap_binary, tmp_path / "run.pcap", ports) as capture:
            uac = start(
                gossipper_command(
                    f"{LOOPBACK}:{agent.sip_port}", "-s", agent.user, "-i", LOOPBACK,
                    "-p", str(sip_port), "-m", "1", "-nostdin",
                    "-min_rtp_port", str(media), "-max_rtp_port", str(media + 15),
                    "-sf", str(DATA / "uac_srtp_stream.xml"), "-trace_media", "-trace_msg",
                    "-rtpcheck_debug", "-trace_err",
                ),
                tmp_path,
            )  # fmt: skip
            rc, out, err = finish(uac, timeout_s=40)
            log = agent.stop()
    finally:
        agent.stop()
    assert rc == 0, out[-2000:] + err[-2000:] + log[-3000:]
    assert "srtp" in log.lower()
    [ours] = read_media_csv(tmp_path, "uac_srtp_stream")
    assert ours.remote_port in agent.rtp_ports
    assert ours.packets_sent >= 0.95 * 3 * TONE_SECONDS * 50
    assert ours.packets_received >= 0.8 * 6.0 * 50  # baresip talks back, encrypted
    errors = "".join(path.read_text() for path in tmp_path.glob("*_errors.log"))
    assert ours.packets_lost == 0 and ours.malformed == 0, errors
    row = next((tmp_path).glob("uac_srtp_stream_*_media.csv")).read_text().splitlines()
    header, values = row[0].split(";"), row[1].split(";")
    fields = dict(zip(header, values, strict=True))
    assert fields["srtp_auth_failures"] == fields["srtp_replays"] == "0"
    # baresip received every packet and decoded our tone (it decrypted them).
    [(baresip_sent, baresip_received)] = agent.call_packets()
    assert baresip_received == ours.packets_sent
    [decoded] = agent.decoded_recordings()
    _assert_tone(decoded, 4.0)
    mine, theirs = _keys(tmp_path, "uac_srtp_stream")
    ours_on_wire, theirs_on_wire = _check_wire(
        capture.path, mine, theirs, frames(tmp_path / TONE_FILE)
    )
    assert ours_on_wire == ours.packets_sent
    assert theirs_on_wire == baresip_sent


def test_baresip_calls_gossipper_with_sdes_srtp(
    dumpcap_binary: str, srtp_directory: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    write_ulaw_tone(tmp_path / TONE_FILE, TONE_SECONDS)
    sip_port, media = free_udp_port(), free_udp_port_block(16)
    uas = start(
        gossipper_command(
            "-sf", str(DATA / "uas_srtp_stream.xml"), "-i", LOOPBACK, "-p", str(sip_port),
            "-m", "1", "-nostdin", "-min_rtp_port", str(media), "-max_rtp_port", str(media + 15),
            "-trace_media", "-trace_msg",
        ),
        tmp_path,
    )  # fmt: skip
    agent: Baresip | None = None
    try:
        ports = [sip_port, *range(media, media + 16)]
        with LoopbackCapture(dumpcap_binary, tmp_path / "run.pcap", ports) as capture:
            agent = start_baresip(
                srtp_directory, srtp=True, dial=f"sip:service@{LOOPBACK}:{sip_port}"
            )
            # Let the call run (our 6 s of tone), then baresip hangs up (SIGTERM: BYE).
            deadline = time.monotonic() + 30
            while "Call established" not in agent.log() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(6.5)
            log = agent.stop()
            rc, out, err = finish(uas, timeout_s=20)
    finally:
        if agent is not None:
            agent.stop()
        if uas.poll() is None:
            uas.kill()
            uas.communicate()
    assert rc == 0, out[-2000:] + err[-2000:] + log[-3000:]
    [ours] = read_media_csv(tmp_path, "uas_srtp_stream")
    assert ours.packets_sent >= 0.95 * 3 * TONE_SECONDS * 50
    assert ours.packets_received >= 0.8 * 6.0 * 50
    assert ours.packets_lost == 0 and ours.malformed == 0
    [(baresip_sent, baresip_received)] = agent.call_packets()
    assert baresip_received == ours.packets_sent
    [decoded] = agent.decoded_recordings()
    _assert_tone(decoded, 4.0)
    mine, theirs = _keys(tmp_path, "uas_srtp_stream")
    ours_on_wire, theirs_on_wire = _check_wire(
        capture.path, mine, theirs, frames(tmp_path / TONE_FILE)
    )
    assert ours_on_wire == ours.packets_sent
    assert theirs_on_wire == baresip_sent
