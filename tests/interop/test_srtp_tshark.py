"""tshark sees our SRTP as SRTP on the wire (issue 18 item 4), as far as tshark 4.0 can tell.

tshark 4.0 (Debian 12) has no SRTP decryption: no ``srtp.*`` preference takes a key (checked
below with ``-G defaultprefs``), so "given the keys, decrypt" cannot be asked of it. What it can
do, and what this test checks on a live loopback capture:

* from the SIP/SDP offer and answer (RTP/SAVP with ``a=crypto``) it sets the media up as SRTP
  and splits each packet into ``srtp.enc_payload`` and a 10-byte ``srtp.auth_tag``
  (AES_CM_128_HMAC_SHA1_80);
* decoded as plain RTP the header is intact (seq, SSRC, PT) but the payload is not the
  plaintext; our own unprotect on the receiving socket restores the plaintext exactly.
"""

from __future__ import annotations

import pathlib
import random
import signal
import socket
import subprocess
import time

import pytest

from gossipper.media.rtp import RtpPacket
from gossipper.media.secure.sdes import generate
from gossipper.media.secure.srtp import SrtpSession

pytestmark = pytest.mark.interop

PACKETS = 20
PLAIN = bytes(range(160))


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _sip(first_line: str, cseq: str, rtp_port: int, crypto: str, sip_port: int) -> bytes:
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {rtp_port} RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        f"a=crypto:{crypto}\r\n"
    )
    return (
        f"{first_line}\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{sip_port};branch=z9hG4bK-srtp-1\r\n"
        "From: <sip:a@127.0.0.1>;tag=a\r\nTo: <sip:b@127.0.0.1>"
        + (";tag=b" if first_line.startswith("SIP/") else "")
        + "\r\nCall-ID: srtp-tshark@127.0.0.1\r\n"
        f"CSeq: {cseq}\r\nContact: <sip:a@127.0.0.1:{sip_port}>\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
    ).encode()


def _start_capture(tshark: str, ports: list[int], capture: pathlib.Path) -> subprocess.Popen[str]:
    bpf = " or ".join(f"udp port {port}" for port in ports)
    process = subprocess.Popen(
        [tshark, "-i", "lo", "-f", bpf, "-w", str(capture)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not capture.exists() or capture.stat().st_size == 0:
        if process.poll() is not None:
            raise AssertionError(f"tshark cannot capture on lo: {process.communicate()[1]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("tshark did not start capturing within 30 s")
        time.sleep(0.05)
    return process


def _fields(tshark: str, capture: pathlib.Path, fields: list[str], *extra: str) -> list[list[str]]:
    command = [tshark, "-r", str(capture), *extra, "-Y", "rtp", "-T", "fields"]
    command += ["-E", "separator=;"]
    for name in fields:
        command += ["-e", name]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return [line.split(";") for line in result.stdout.splitlines()]


def test_tshark_4_has_no_srtp_key_preference(tshark_binary: str) -> None:
    # If a later tshark gains one, this fails and the test below should decrypt with it.
    prefs = subprocess.run([tshark_binary, "-G", "defaultprefs"], capture_output=True,
                           text=True, timeout=60, check=True).stdout  # fmt: skip
    assert "srtp." not in prefs.lower()


def test_srtp_on_the_wire_is_srtp_to_tshark(tshark_binary: str, tmp_path: pathlib.Path) -> None:
    rng = random.Random(18).randbytes
    offer = generate(1, "AES_CM_128_HMAC_SHA1_80", rng)
    answer = generate(1, "AES_CM_128_HMAC_SHA1_80", rng)
    sender = SrtpSession(offer.suite, offer.key_salt, answer.key_salt)
    receiver = SrtpSession(answer.suite, answer.key_salt, offer.key_salt)
    sip_a, sip_b, rtp_a, rtp_b = (_free_udp_port() for _ in range(4))
    capture = tmp_path / "srtp.pcap"
    tshark = _start_capture(tshark_binary, [sip_a, sip_b, rtp_a, rtp_b], capture)
    restored: list[bytes] = []
    try:
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a_sip,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b_sip,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a_rtp,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b_rtp,
        ):
            for sock, port in ((a_sip, sip_a), (b_sip, sip_b), (a_rtp, rtp_a), (b_rtp, rtp_b)):
                sock.bind(("127.0.0.1", port))
                sock.settimeout(5)
            a_sip.sendto(_sip("INVITE sip:b@127.0.0.1 SIP/2.0", "1 INVITE", rtp_a,
                              offer.render(), sip_a), ("127.0.0.1", sip_b))  # fmt: skip
            b_sip.recv(4096)
            b_sip.sendto(_sip("SIP/2.0 200 OK", "1 INVITE", rtp_b, answer.render(), sip_b),
                         ("127.0.0.1", sip_a))  # fmt: skip
            a_sip.recv(4096)
            for seq in range(1, PACKETS + 1):
                plain = RtpPacket(0, seq, seq * 160, 0x5EC0E, PLAIN).pack()
                wire = sender.protect(plain)
                assert wire is not None
                a_rtp.sendto(wire, ("127.0.0.1", rtp_b))
                got = receiver.unprotect(b_rtp.recv(2048))
                assert got is not None
                restored.append(got)
                time.sleep(0.005)
            time.sleep(0.5)
    finally:
        tshark.send_signal(signal.SIGINT)
        tshark.communicate(timeout=30)

    assert all(r[12:] == PLAIN for r in restored)
    assert len(restored) == PACKETS and receiver.counters.failures == {}

    # 1. From the SDP (RTP/SAVP, a=crypto) tshark treats the stream as SRTP.
    rows = _fields(tshark_binary, capture, ["rtp.seq", "srtp.enc_payload", "srtp.auth_tag"])
    assert [int(r[0]) for r in rows] == list(range(1, PACKETS + 1))
    for _, encrypted, tag in rows:
        assert len(bytes.fromhex(encrypted.replace(":", ""))) == len(PLAIN)
        assert bytes.fromhex(encrypted.replace(":", "")) != PLAIN
        assert len(bytes.fromhex(tag.replace(":", ""))) == 10

    # 2. Forced to plain RTP: the header is RTP's, the payload is not the plaintext.
    rows = _fields(tshark_binary, capture, ["rtp.seq", "rtp.ssrc", "rtp.p_type", "rtp.payload"],
                   "-d", f"udp.port=={rtp_b},rtp")  # fmt: skip
    assert [int(r[0]) for r in rows] == list(range(1, PACKETS + 1))
    assert {r[1] for r in rows} == {"0x0005ec0e"} and {r[2] for r in rows} == {"0"}
    for row in rows:
        payload = bytes.fromhex(row[3].replace(":", ""))
        assert PLAIN not in payload
