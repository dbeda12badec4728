"""DTLS-SRTP on the wire, as tshark sees it (issue 18 item 4): a gossipper UAC and UAS on
loopback (real sockets, two processes, no rtcp-mux) captured on ``lo`` with dumpcap.

What the capture must show:

* tshark dissects the handshakes as DTLS: ClientHellos with the use_srtp extension (type 14)
  on both components (RTP and RTCP ports: RFC 5764 4.1), from the DTLS client's side;
* after them the media is not cleartext: decoded as RTP on the ports, no payload is a frame of
  the tone both sides stream;
* with the keys the run wrote to its key log (GOSSIPPER_SRTP_KEYLOG: the DTLS-exported keys are
  in no SIP message), libsrtp decrypts every RTP packet on the wire, ours to exactly the tone's
  frames, and every SRTCP packet on the RTCP ports to an RTCP sender or receiver report
  (tshark 4.0 cannot decrypt SRTP itself: test_srtp_tshark.py).
"""

from __future__ import annotations

import base64
import pathlib
import shutil
import subprocess

import pytest

from gossipper.media.secure.srtp import SrtpSession
from tests.interop.harness import LOOPBACK, finish, free_udp_port, gossipper_command, start
from tests.interop.media import LoopbackCapture, free_udp_port_block, read_media_csv
from tests.interop.srtp_wire import decrypt_capture, frames
from tests.media.secure import require

pytestmark = pytest.mark.interop

require("pylibsrtp")
require("OpenSSL")

SECURE_DATA = pathlib.Path(__file__).resolve().parents[1] / "media" / "secure" / "data"
TONE = pathlib.Path(__file__).resolve().parents[1] / "golden_csv" / "scenarios" / "tone.alaw"
USE_SRTP = "14"  # the use_srtp TLS extension (RFC 5764 4.1.1)
RTCP_REPORTS = (200, 201)  # SR, RR: what a compound RTCP packet starts with


def _key_log(path: pathlib.Path) -> dict[tuple[int, str], tuple[str, bytes, bytes]]:
    """(local port, rtp|rtcp) -> (suite, local key||salt, remote key||salt)."""
    found: dict[tuple[int, str], tuple[str, bytes, bytes]] = {}
    for line in path.read_text().splitlines():
        _label, _call, _media, component, local, _remote, suite, mine, theirs = line.split()
        found[(int(local.rsplit(":", 1)[1]), component)] = (
            suite, base64.b64decode(mine), base64.b64decode(theirs),
        )  # fmt: skip
    return found


def _tshark(tshark: str, capture: pathlib.Path, *args: str) -> list[list[str]]:
    command = [tshark, "-r", str(capture), *args, "-T", "fields", "-E", "separator=;"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return [line.split(";") for line in result.stdout.splitlines()]


def test_dtls_srtp_on_the_wire(
    tshark_binary: str, dumpcap_binary: str, tmp_path: pathlib.Path
) -> None:
    uas_dir, uac_dir = tmp_path / "uas", tmp_path / "uac"
    for directory, name in ((uas_dir, "uas_dtls.xml"), (uac_dir, "uac_dtls.xml")):
        directory.mkdir()
        shutil.copyfile(SECURE_DATA / name, directory / name)
        shutil.copyfile(TONE, directory / "tone.alaw")
    key_log = tmp_path / "srtp-keys.log"
    env = {"GOSSIPPER_SRTP_KEYLOG": str(key_log)}
    uas_sip, uac_sip = free_udp_port(), free_udp_port()
    uas_media = free_udp_port_block(8)
    uac_media = uas_media + 4
    ports = [uas_sip, uac_sip, *range(uas_media, uas_media + 8)]
    with LoopbackCapture(dumpcap_binary, tmp_path / "dtls.pcap", ports) as capture:
        uas = start(
            gossipper_command(
                "-sf", "uas_dtls.xml", "-i", LOOPBACK, "-p", str(uas_sip), "-m", "1",
                "-nostdin", "-min_rtp_port", str(uas_media), "-max_rtp_port",
                str(uas_media + 3), "-trace_media",
            ),
            uas_dir, env,
        )  # fmt: skip
        try:
            uac = start(
                gossipper_command(
                    "-sf", "uac_dtls.xml", "-i", LOOPBACK, f"{LOOPBACK}:{uas_sip}",
                    "-p", str(uac_sip), "-m", "1", "-nostdin", "-min_rtp_port",
                    str(uac_media), "-max_rtp_port", str(uac_media + 3), "-trace_media",
                ),
                uac_dir, env,
            )  # fmt: skip
            rc_uac, out, err = finish(uac, timeout_s=60)
            assert rc_uac == 0, out[-2000:] + err[-2000:]
            rc_uas, out, err = finish(uas, timeout_s=30)
            assert rc_uas == 0, out[-2000:] + err[-2000:]
        finally:
            if uas.poll() is None:
                uas.kill()
                uas.wait()
    pcap = capture.path
    [ours] = read_media_csv(uac_dir, "uac_dtls")
    [theirs] = read_media_csv(uas_dir, "uas_dtls")
    uac_rtp, uas_rtp = uac_media, uas_media  # each side's first (only) port pair
    assert ours.remote_port == uas_rtp

    # 1. The handshakes are DTLS to tshark: ClientHellos offering use_srtp, one association per
    # component. The UAS answers the UAC's actpass as active: it is the DTLS client of both.
    hellos = _tshark(
        tshark_binary, pcap, "-Y", "dtls.handshake.type == 1",
        "-e", "udp.srcport", "-e", "udp.dstport", "-e", "dtls.handshake.extension.type",
        "-e", "dtls.use_srtp.protection_profile",
    )  # fmt: skip
    assert hellos, "tshark found no DTLS ClientHello"
    pairs = {(int(row[0]), int(row[1])) for row in hellos}
    assert pairs == {(uas_rtp, uac_rtp), (uas_rtp + 1, uac_rtp + 1)}, pairs
    for row in hellos:
        assert USE_SRTP in row[2].split(","), row
        assert row[3], row  # the SRTP protection profiles offered
    server_hellos = _tshark(tshark_binary, pcap, "-Y", "dtls.handshake.type == 2",
                            "-e", "udp.srcport")  # fmt: skip
    assert {int(row[0]) for row in server_hellos} == {uac_rtp, uac_rtp + 1}

    # 2. Decoded as RTP on the RTP ports, the media is not the clear tone.
    tone = frames(TONE)
    decode = ["-d", f"udp.port=={uac_rtp},rtp", "-d", f"udp.port=={uas_rtp},rtp"]
    rows = _tshark(
        tshark_binary, pcap, *decode, "-Y", "rtp.version == 2 && rtp.p_type == 8",
        "-e", "udp.srcport", "-e", "rtp.payload",
    )  # fmt: skip
    by_sender = {uac_rtp: 0, uas_rtp: 0}
    for sender, payload in rows:
        by_sender[int(sender)] += 1
        data = bytes.fromhex(payload.replace(":", ""))
        assert not any(frame in data for frame in tone)
    assert by_sender == {uac_rtp: ours.packets_sent, uas_rtp: theirs.packets_sent}

    # 3. The key log's keys decrypt it: the two ends of each association agree, every RTP
    # packet is SRTP under the RTP association's keys, ours exactly the tone's frames.
    keys = _key_log(key_log)
    assert set(keys) == {
        (uac_rtp, "rtp"), (uac_rtp + 1, "rtcp"), (uas_rtp, "rtp"), (uas_rtp + 1, "rtcp"),
    }  # fmt: skip
    for port_offset, component in ((0, "rtp"), (1, "rtcp")):
        suite, mine, peer = keys[(uac_rtp + port_offset, component)]
        assert keys[(uas_rtp + port_offset, component)] == (suite, peer, mine)
    suite, mine, peer = keys[(uac_rtp, "rtp")]
    sent_by_us, sent_by_peer = decrypt_capture(pcap, suite, mine, peer, tone)
    assert (sent_by_us, sent_by_peer) == (ours.packets_sent, theirs.packets_sent)

    # 4. SRTCP on the RTCP ports decrypts under the RTCP association's keys (not the RTP
    # one's) to RTCP reports.
    suite, mine, peer = keys[(uac_rtp + 1, "rtcp")]
    from_us = SrtpSession(suite, peer, mine)  # unprotects what the UAC sent
    from_peer = SrtpSession(suite, mine, peer)
    rtp_keys = SrtpSession(keys[(uac_rtp, "rtp")][0], peer, keys[(uac_rtp, "rtp")][1])
    rows = _tshark(
        tshark_binary, pcap, "-Y",
        f"udp.port == {uac_rtp + 1} && udp.port == {uas_rtp + 1} && !dtls",
        "-e", "udp.srcport", "-e", "udp.payload",
    )  # fmt: skip
    reports = {uac_rtp + 1: 0, uas_rtp + 1: 0}
    for sender, payload in rows:
        data = bytes.fromhex(payload.replace(":", ""))
        if not 128 <= data[0] <= 191:
            continue  # a DTLS record tshark did not label (a retransmitted flight)
        session = from_us if int(sender) == uac_rtp + 1 else from_peer
        clear = session.unprotect_rtcp(data)
        assert clear is not None, f"SRTCP from {sender} does not decrypt with the RTCP keys"
        assert clear[1] in RTCP_REPORTS
        if int(sender) == uac_rtp + 1:
            assert rtp_keys.unprotect_rtcp(data) is None  # not the RTP association's keys
        reports[int(sender)] += 1
    assert reports[uac_rtp + 1] == ours.rtcp_sent and reports[uas_rtp + 1] == theirs.rtcp_sent
