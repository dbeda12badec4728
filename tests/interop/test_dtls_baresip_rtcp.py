"""DTLS-SRTP against baresip without rtcp-mux (issue 18; RFC 5764 4.1): baresip's dtls_srtp
module runs one association per component when ``rtcp_mux no``, so gossipper must answer (or
start) a second handshake on its RTCP port and protect SRTCP with that association's keys.

Witnesses: gossipper's key log (GOSSIPPER_SRTP_KEYLOG) has an RTP and an RTCP record with
different keys; its media row counts RTCP reports received (authenticated with the RTCP keys,
decrypted and parsed), every packet of baresip's stream received and authenticated (see
_assert_secure_media for the one packet baresip may send in clear first); baresip decoded our tone.
"""

from __future__ import annotations

import base64
import json
import pathlib
import tempfile

import pytest

from tests.interop.baresip import baresip_calls_gossipper, gossipper_calls_baresip, start_baresip
from tests.interop.media import read_media_csv, write_ulaw_tone
from tests.interop.test_dtls_baresip import DATA, TONE_FILE, TONE_PACKETS, _assert_tone
from tests.media.secure import require

pytestmark = pytest.mark.interop

require("pylibsrtp")
require("OpenSSL")


def _without_mux(name: str, directory: pathlib.Path) -> pathlib.Path:
    """The rtcp-mux scenario of test_dtls_baresip.py without its a=rtcp-mux line, and a call
    long enough for RTCP reports both ways (baresip reports every 5 s or so).

    The stream starts 1.5 s after the ACK instead of 0.5: without rtcp-mux two DTLS
    handshakes (RTP and RTCP) must finish before the first packet can be protected, and on a
    loaded CI machine they took longer than 0.5 s (frames due before the keys are dropped,
    175 of 200 sent where the test wants 180)."""
    text = (DATA / name).read_text()
    assert "      a=rtcp-mux\n" in text
    assert text.count('<pause milliseconds="500"/>') == 1
    text = (
        text.replace("      a=rtcp-mux\n", "")
        .replace('<pause milliseconds="4500"/>', '<pause milliseconds="8000"/>')
        .replace('<pause milliseconds="500"/>', '<pause milliseconds="1500"/>')
    )
    path = directory / name
    path.write_text(text)
    return path


def _assert_two_associations(key_log: pathlib.Path, media_base: int) -> None:
    records: dict[str, tuple[bytes, bytes]] = {}
    for line in key_log.read_text().splitlines():
        _label, _call_id, _media, component, local, _remote, _suite, mine, theirs = line.split()
        assert int(local.rsplit(":", 1)[1]) in range(media_base, media_base + 16)
        records[component] = (base64.b64decode(mine), base64.b64decode(theirs))
    assert set(records) == {"rtp", "rtcp"}, key_log.read_text()
    assert records["rtp"] != records["rtcp"]


def _assert_secure_media(directory: pathlib.Path) -> None:
    """No secure failure, no replay, and at most one authentication failure: baresip 1.0
    without rtcp-mux may send its first RTP packet before its SRTP is set up (172 bytes:
    G.711 in clear, no tag; seen in about one call in three). Arriving before our RTP keys it
    counts as a packet before the keys; after them it cannot authenticate and is counted as
    one SRTP authentication failure, rightly. Everything after it must authenticate (the
    callers check that every packet of the stream was received, none lost)."""
    media = json.loads((directory / "summary.json").read_text())["media"]
    assert media["srtp"]["replays"] == 0 and media["srtp"]["auth_failures"] <= 1, media
    assert media["secure_failures"] == {}, media


def _assert_rtcp_both_ways(directory: pathlib.Path, scenario: str) -> None:
    (path,) = directory.glob(f"{scenario}_*_media.csv")
    header, values = path.read_text().splitlines()[:2]
    row = dict(zip(header.split(";"), values.split(";"), strict=True))
    assert int(row["rtcp_received"]) >= 1, row
    assert int(row["rtcp_sent"]) >= 1, row
    assert row["srtp_auth_failures"] in ("0", "1") and row["srtp_replays"] == "0", row
    assert row["packets_lost"] == "0" and row["packets_received"] == row["packets_expected"], row


def test_gossipper_calls_baresip_with_dtls_srtp_without_rtcp_mux(tmp_path: pathlib.Path) -> None:
    write_ulaw_tone(tmp_path / TONE_FILE, 2.0)
    scenario = _without_mux("uac_dtls_srtp.xml", tmp_path)
    key_log = tmp_path / "srtp-keys.log"
    with tempfile.TemporaryDirectory(prefix="baresip-") as directory:
        agent = start_baresip(pathlib.Path(directory), dtls=True, rtcp_mux=False)
        try:
            keys = {"GOSSIPPER_SRTP_KEYLOG": str(key_log)}
            rc, out, err, media = gossipper_calls_baresip(tmp_path, agent, scenario, env=keys)
        finally:
            log = agent.stop()
        # baresip's files go with its directory: read them now.
        calls = agent.call_packets()
        decoded_files = agent.decoded_recordings()
        assert len(decoded_files) == 1, log[-3000:]
        _assert_tone(decoded_files[0], 2.5)
    assert rc == 0, out[-2000:] + err[-2000:] + log[-3000:]
    _assert_secure_media(tmp_path)
    _assert_two_associations(key_log, media)
    _assert_rtcp_both_ways(tmp_path, "uac_dtls_srtp")
    [ours] = read_media_csv(tmp_path, "uac_dtls_srtp")
    [(baresip_sent, baresip_received)] = calls
    assert ours.packets_sent >= 0.9 * 2 * TONE_PACKETS
    assert baresip_received >= ours.packets_sent - 2, log[-3000:]
    assert ours.packets_received >= 0.8 * 8000 / 20 and ours.malformed == 0
    assert baresip_sent >= ours.packets_received


def test_baresip_calls_gossipper_with_dtls_srtp_without_rtcp_mux(tmp_path: pathlib.Path) -> None:
    write_ulaw_tone(tmp_path / TONE_FILE, 2.0)
    scenario = _without_mux("uas_dtls_srtp.xml", tmp_path)
    key_log = tmp_path / "srtp-keys.log"
    keys = {"GOSSIPPER_SRTP_KEYLOG": str(key_log)}
    with baresip_calls_gossipper(tmp_path, scenario, dtls=True, env=keys) as call:
        log = call.log
        assert call.returncode == 0, call.out[-2000:] + call.err[-2000:] + log[-3000:]
        _assert_secure_media(tmp_path)
        _assert_two_associations(key_log, call.media)
        _assert_rtcp_both_ways(tmp_path, "uas_dtls_srtp")
        [ours] = read_media_csv(tmp_path, "uas_dtls_srtp")
        [(baresip_sent, baresip_received)] = call.agent.call_packets()
        assert ours.packets_sent >= 0.9 * 2 * TONE_PACKETS
        assert baresip_received >= ours.packets_sent - 2, log[-3000:]
        [decoded] = call.agent.decoded_recordings()
        _assert_tone(decoded, 2.5)
        assert ours.malformed == 0 and baresip_sent >= ours.packets_received
