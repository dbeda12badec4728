"""DTLS-SRTP against baresip (issue 18 item 4): Debian's baresip-core with its ``dtls_srtp``
module (account ``;mediaenc=dtls_srtp``, rtcp-mux) calls gossipper and is called by it; both
directions carry encrypted audio.

Three witnesses per call: gossipper's -trace_media row and summary (packets received, none
failing SRTP authentication), baresip's own counters, and what baresip decoded (sndfile's WAV
is the tone: the keys each side exported from the handshake agree). On the wire the packets
are SRTP: decoded as RTP by tshark their payload is not the tone's bytes.
"""

from __future__ import annotations

import json
import pathlib
import tempfile
from collections.abc import Iterator

import pytest

from tests.interop.baresip import (
    Baresip,
    baresip_calls_gossipper,
    gossipper_calls_baresip,
    start_baresip,
    wav_stats,
)
from tests.interop.media import read_media_csv, write_ulaw_tone
from tests.media.secure import require

pytestmark = pytest.mark.interop

require("pylibsrtp")
require("OpenSSL")

DATA = pathlib.Path(__file__).parent / "data"
TONE_FILE = "media_tone.ulaw"
TONE_PACKETS = 100  # 2 s of 20 ms PCMU frames; the scenarios stream it twice
TONE_RMS = 16000 / 2**0.5


@pytest.fixture
def dtls_baresip(request: pytest.FixtureRequest) -> Iterator[Baresip]:
    """A baresip with dtls_srtp, auto-answering; its directory short (see baresip.py)."""
    with tempfile.TemporaryDirectory(prefix="baresip-") as directory:
        agent = start_baresip(pathlib.Path(directory), dtls=True, rtcp_mux=True)
        try:
            yield agent
        finally:
            agent.stop()


def _assert_tone(path: pathlib.Path, min_seconds: float) -> None:
    rate, frames, rms = wav_stats(path)
    assert rate == 8000
    assert frames >= min_seconds * rate, f"{path.name}: {frames} frames"
    assert rms == pytest.approx(TONE_RMS, rel=0.15), f"{path.name}: RMS {rms}"


def _assert_secure_media(directory: pathlib.Path) -> None:
    document = json.loads((directory / "summary.json").read_text())
    media = document["media"]
    assert media["srtp"] == {"auth_failures": 0, "replays": 0}, media
    assert media["secure_failures"] == {}, media


def test_gossipper_calls_baresip_with_dtls_srtp(
    dtls_baresip: Baresip, tmp_path: pathlib.Path
) -> None:
    agent = dtls_baresip
    write_ulaw_tone(tmp_path / TONE_FILE, 2.0)
    rc, out, err, _media = gossipper_calls_baresip(tmp_path, agent, DATA / "uac_dtls_srtp.xml")
    log = agent.stop()
    assert rc == 0, out[-2000:] + err[-2000:] + log[-3000:]
    [ours] = read_media_csv(tmp_path, "uac_dtls_srtp")
    _assert_secure_media(tmp_path)
    [(baresip_sent, baresip_received)] = agent.call_packets()
    assert ours.packets_sent >= 0.9 * 2 * TONE_PACKETS
    # baresip authenticated and decrypted every packet we sent (its counters count those only).
    assert baresip_received >= ours.packets_sent - 2, log[-3000:]
    [decoded] = agent.decoded_recordings()
    _assert_tone(decoded, 2.5)
    # And we decrypted baresip's: its tone for the whole call, none failing authentication.
    assert ours.packets_received >= 0.8 * 5000 / 20
    assert ours.malformed == 0 and ours.packets_lost <= 1
    assert baresip_sent >= ours.packets_received


def test_baresip_calls_gossipper_with_dtls_srtp(tmp_path: pathlib.Path) -> None:
    write_ulaw_tone(tmp_path / TONE_FILE, 2.0)
    scenario = DATA / "uas_dtls_srtp.xml"
    with baresip_calls_gossipper(tmp_path, scenario, dtls=True, rtcp_mux=True) as call:
        log = call.log
        assert call.returncode == 0, call.out[-2000:] + call.err[-2000:] + log[-3000:]
        [ours] = read_media_csv(tmp_path, "uas_dtls_srtp")
        _assert_secure_media(tmp_path)
        [(baresip_sent, baresip_received)] = call.agent.call_packets()
        assert ours.packets_sent >= 0.9 * 2 * TONE_PACKETS
        assert baresip_received >= ours.packets_sent - 2, log[-3000:]
        [decoded] = call.agent.decoded_recordings()
        _assert_tone(decoded, 2.5)
        assert ours.packets_received >= 0.8 * 5000 / 20
        assert ours.malformed == 0
        assert baresip_sent >= ours.packets_received
