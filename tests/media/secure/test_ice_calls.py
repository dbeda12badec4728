"""ICE-lite on a real call (issue 18 item 3): a gossipper UAS answers with a=ice-lite, its
per-call a=ice-ufrag/a=ice-pwd and a host a=candidate; a full ICE agent (this test, over
loopback sockets) sends connectivity checks to the candidate during the call and gets signed
Binding answers naming its own address; a check signed with the wrong password is refused."""

from __future__ import annotations

import pathlib
import re
import shutil
import socket

import pytest

from gossipper.media.secure import stun
from tests.interop.harness import free_udp_port
from tests.interop.media import free_udp_port_block
from tests.media.calls import gossipper
from tests.media.secure import require
from tests.media.secure.test_dtls_calls import (
    DATA,
    SILENT_PORT,
    SUMMARY,
    TONE,
)

require("OpenSSL")

OUR_UFRAG = "peer"
OUR_PWD = "peerpasswordpeerpassword"


def _sip(sock: socket.socket, text: str, destination: tuple[str, int], body: str = "") -> bytes:
    data = (text.replace("\n", "\r\n") + body).encode()
    sock.sendto(data, destination)
    return data


def _receive(sock: socket.socket, status: str, resend: bytes, target: tuple[str, int]) -> str:
    """The response, resending the request every 500 ms (the UAS may still be starting)."""
    for _ in range(30):
        try:
            data = sock.recv(65535).decode()
        except TimeoutError:
            sock.sendto(resend, target)
            continue
        if data.startswith(f"SIP/2.0 {status}"):
            return data
    raise AssertionError(f"no {status} answer")


def _check(
    sock: socket.socket, target: tuple[str, int], username: str, pwd: str
) -> stun.StunMessage:
    request = stun.StunMessage.new(stun.BINDING, stun.REQUEST)
    request.add(stun.USERNAME, username.encode())
    request.add(stun.PRIORITY, (1853824767).to_bytes(4, "big"))
    request.add(stun.ICE_CONTROLLING, bytes(8))
    request.add(stun.USE_CANDIDATE, b"")
    sock.sendto(request.encode(integrity_key=pwd.encode(), fingerprint=True), target)
    while True:
        data, _ = sock.recvfrom(65535)
        if stun.is_stun(data):
            answer = stun.decode(data)
            assert answer.transaction_id == request.transaction_id
            return answer


@pytest.mark.parametrize("placeholder", [False, True], ids=["sdp-address", "candidates-only"])
def test_ice_lite_answers_connectivity_checks_during_a_call(
    tmp_path: pathlib.Path, placeholder: bool
) -> None:
    """``placeholder``: the offer says c=0.0.0.0 and port 9 (WebRTC style) and names its
    address only in a=candidate lines (a relay one ranked below the host one): the UAS's
    media must reach the host candidate."""
    shutil.copyfile(DATA / "uas_dtls.xml", tmp_path / "uas_dtls.xml")
    shutil.copyfile(TONE, tmp_path / "tone.alaw")
    sip_port = free_udp_port()
    base = free_udp_port_block(100)
    uas = gossipper(
        "-sf", "uas_dtls.xml", "-i", "127.0.0.1", "-p", str(sip_port), "-m", "1",
        "-min_rtp_port", str(base), "-max_rtp_port", str(base + 49), cwd=tmp_path,
        extra=SUMMARY,
    )  # fmt: skip
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sip.bind(("127.0.0.1", 0))
        media.bind(("127.0.0.1", 0))
        sip.settimeout(0.5)
        media.settimeout(5)
        here, media_port = sip.getsockname()[1], media.getsockname()[1]
        target = ("127.0.0.1", sip_port)
        address, port = ("0.0.0.0", 9) if placeholder else ("127.0.0.1", media_port)
        body = (
            f"v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 {address}\nt=0 0\n"
            f"m=audio {port} RTP/AVP 8\na=rtpmap:8 PCMA/8000\n"
            f"a=ice-ufrag:{OUR_UFRAG}\na=ice-pwd:{OUR_PWD}\n"
            f"a=candidate:2 1 UDP 16777215 127.0.0.1 {SILENT_PORT} typ relay\n"
            f"a=candidate:1 1 UDP 2130706431 127.0.0.1 {media_port} typ host\n"
        ).replace("\n", "\r\n")
        headers = (
            f"Via: SIP/2.0/UDP 127.0.0.1:{here};branch=z9hG4bK-ice-1\n"
            f"From: <sip:test@127.0.0.1:{here}>;tag=ice\n"
            f"To: <sip:service@127.0.0.1:{sip_port}>\n"
            "Call-ID: ice-lite-test\n"
        )
        request_line = f"INVITE sip:service@127.0.0.1:{sip_port} SIP/2.0\n"
        invite = _sip(sip, f"{request_line}{headers}CSeq: 1 INVITE\n"
             f"Contact: <sip:test@127.0.0.1:{here}>\nContent-Type: application/sdp\n"
             f"Content-Length: {len(body)}\n\n", target, body)  # fmt: skip
        answer = _receive(sip, "200", invite, target)
        to = re.search(r"^To: (.*)$", answer, re.M | re.I)
        assert to is not None
        ufrag = re.search(r"^a=ice-ufrag:(\S+)", answer, re.M)
        pwd = re.search(r"^a=ice-pwd:(\S+)", answer, re.M)
        candidate = re.search(r"^a=candidate:1 1 UDP (\d+) 127\.0\.0\.1 (\d+) typ host", answer,
                              re.M)  # fmt: skip
        assert "a=ice-lite" in answer
        assert ufrag and pwd and candidate, answer
        assert len(pwd[1]) >= 22 and len(ufrag[1]) >= 4
        rtp_target = ("127.0.0.1", int(candidate[2]))
        m_line = re.search(r"^m=audio (\d+)", answer, re.M)
        assert m_line is not None and int(m_line[1]) == int(candidate[2])
        to_line = to[1].strip()
        _sip(sip, f"ACK sip:service@127.0.0.1:{sip_port} SIP/2.0\n"
             f"Via: SIP/2.0/UDP 127.0.0.1:{here};branch=z9hG4bK-ice-2\n"
             f"From: <sip:test@127.0.0.1:{here}>;tag=ice\nTo: {to_line}\n"
             "Call-ID: ice-lite-test\nCSeq: 1 ACK\nContent-Length: 0\n\n", target)  # fmt: skip
        # The UAS streams its tone from the ACK on: before any check, it reaches us (the host
        # candidate, when the SDP's own address is a placeholder).
        while True:
            data, source = media.recvfrom(65535)
            if data[0] >> 6 == 2 and data[1] & 0x7F == 8:
                break
        assert source == rtp_target
        # A check as a full agent sends it: USERNAME "their ufrag:ours", signed with their pwd.
        good = _check(media, rtp_target, f"{ufrag[1]}:{OUR_UFRAG}", pwd[1])
        assert (good.method, good.cls) == (stun.BINDING, stun.SUCCESS)
        assert good.check_integrity(pwd[1].encode()) and good.check_fingerprint()
        assert good.address(stun.XOR_MAPPED_ADDRESS) == media.getsockname()
        bad = _check(media, rtp_target, f"{ufrag[1]}:{OUR_UFRAG}", "wrong-password-wrong-pwd")
        assert bad.cls == stun.ERROR
        assert bad.error_code() == (401, "Unauthorized")
        # The controlling agent nominates another of its addresses (USE-CANDIDATE): the UAS's
        # media moves there.
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with other:
            other.bind(("127.0.0.1", 0))
            other.settimeout(5)
            moved = _check(other, rtp_target, f"{ufrag[1]}:{OUR_UFRAG}", pwd[1])
            assert moved.address(stun.XOR_MAPPED_ADDRESS) == other.getsockname()
            while True:
                data = other.recv(65535)
                if data[0] >> 6 == 2 and data[1] & 0x7F == 8:
                    break

        bye = _sip(sip, f"BYE sip:service@127.0.0.1:{sip_port} SIP/2.0\n"
             f"Via: SIP/2.0/UDP 127.0.0.1:{here};branch=z9hG4bK-ice-3\n"
             f"From: <sip:test@127.0.0.1:{here}>;tag=ice\nTo: {to_line}\n"
             "Call-ID: ice-lite-test\nCSeq: 2 BYE\nContent-Length: 0\n\n", target)  # fmt: skip
        _receive(sip, "200", bye, target)
        uas.communicate(timeout=20)
    finally:
        sip.close()
        media.close()
        if uas.poll() is None:
            uas.kill()
        uas.wait()


def test_silent_dtls_peer_fails_the_call_with_handshake_timeout(tmp_path: pathlib.Path) -> None:
    """An offer with a=setup:active (the peer would start the handshake) whose sender never
    does: the UAS waits -dtls_timeout (1 s here) and fails the call with
    dtls_handshake_timeout, counted in its summary; nothing hangs."""
    import json

    shutil.copyfile(DATA / "uas_dtls.xml", tmp_path / "uas_dtls.xml")
    shutil.copyfile(TONE, tmp_path / "tone.alaw")
    sip_port = free_udp_port()
    base = free_udp_port_block(100)
    uas = gossipper(
        "-sf", "uas_dtls.xml", "-i", "127.0.0.1", "-p", str(sip_port), "-m", "1",
        "-min_rtp_port", str(base), "-max_rtp_port", str(base + 49), "-dtls_timeout", "1000",
        "-trace_err", cwd=tmp_path, extra=SUMMARY,
    )  # fmt: skip
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sip.bind(("127.0.0.1", 0))
        media.bind(("127.0.0.1", 0))
        sip.settimeout(0.5)
        here, media_port = sip.getsockname()[1], media.getsockname()[1]
        target = ("127.0.0.1", sip_port)
        body = (
            "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
            f"m=audio {media_port} UDP/TLS/RTP/SAVP 8\na=rtpmap:8 PCMA/8000\n"
            f"a=fingerprint:sha-256 {':'.join(['AB'] * 32)}\na=setup:active\n"
        ).replace("\n", "\r\n")
        invite = _sip(
            sip,
            f"INVITE sip:service@127.0.0.1:{sip_port} SIP/2.0\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{here};branch=z9hG4bK-dtls-1\n"
            f"From: <sip:test@127.0.0.1:{here}>;tag=dtls\n"
            f"To: <sip:service@127.0.0.1:{sip_port}>\nCall-ID: dtls-silent-test\n"
            f"CSeq: 1 INVITE\nContact: <sip:test@127.0.0.1:{here}>\n"
            f"Content-Type: application/sdp\nContent-Length: {len(body)}\n\n",
            target,
            body,
        )
        answer = _receive(sip, "200", invite, target)
        assert "a=setup:passive" in answer  # it waits for our ClientHello
        out, err = uas.communicate(timeout=20)
        assert uas.returncode == 1, out[-2000:] + err
    finally:
        sip.close()
        media.close()
        if uas.poll() is None:
            uas.kill()
        uas.wait()
    document = json.loads((tmp_path / "summary.json").read_text())
    assert document["calls"]["failed"] == 1
    assert document["media"]["secure_failures"] == {"dtls_handshake_timeout": 1}
    errors = "".join(p.read_text() for p in tmp_path.glob("*_errors.log"))
    assert "dtls_handshake_timeout: no DTLS handshake as server in 1 s" in errors
