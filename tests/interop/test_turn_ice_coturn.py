"""TURN chosen by ICE (issue 18): a gossipper ICE-lite UAS with -turn_server (a real coturn)
offers a host and a relay candidate, its default (c=/m=) the relay; this test is the full,
controlling ICE agent. Media starts on the relay; a USE-CANDIDATE check to the host candidate
is answered from the host port and moves the media there (off the relay); one sent through the
relay is answered through it and moves the media back."""

from __future__ import annotations

import pathlib
import re
import shutil
import socket
import time

import pytest

from gossipper.media.secure import stun
from tests.interop.harness import LOOPBACK, free_udp_port, gossipper_command, start
from tests.interop.media import free_udp_port_block
from tests.interop.test_turn_coturn import PASSWORD, USER, coturn  # noqa: F401
from tests.media.secure import require
from tests.media.secure.test_dtls_calls import TONE
from tests.media.secure.test_ice_calls import OUR_PWD, OUR_UFRAG, _receive, _sip

pytestmark = pytest.mark.interop

require("OpenSSL")  # the secure-media wiring (ICE, TURN) comes with the media-secure extra

DATA = pathlib.Path(__file__).parent / "data"
Address = tuple[str, int]


def _check(sock: socket.socket, target: Address, username: str, pwd: str) -> Address:
    """A nominating check (USE-CANDIDATE) from ``sock`` to ``target``; returns where the
    success answer came from (RTP arriving meanwhile is skipped)."""
    request = stun.StunMessage.new(stun.BINDING, stun.REQUEST)
    request.add(stun.USERNAME, username.encode())
    request.add(stun.PRIORITY, (1853824767).to_bytes(4, "big"))
    request.add(stun.ICE_CONTROLLING, bytes(8))
    request.add(stun.USE_CANDIDATE, b"")
    wire = request.encode(integrity_key=pwd.encode(), fingerprint=True)
    sock.sendto(wire, target)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            data, source = sock.recvfrom(65535)
        except TimeoutError:
            sock.sendto(wire, target)  # lost on the way (the relay's permission may be new)
            continue
        if stun.is_stun(data):
            answer = stun.decode(data)
            if answer.transaction_id == request.transaction_id:
                assert (answer.method, answer.cls) == (stun.BINDING, stun.SUCCESS)
                assert answer.check_integrity(pwd.encode())
                return source[0], source[1]
    raise AssertionError(f"no answer to the check sent to {target}")


def _media_from(sock: socket.socket, expected: Address, *, settle: int = 10) -> None:
    """RTP (PCMA) arrives from ``expected``: the first such packet within 10 s, then the next
    ``settle`` packets all from there (a few sent by the old path may still be in flight)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        data, source = sock.recvfrom(65535)
        if data[0] >> 6 == 2 and data[1] & 0x7F == 8 and source == expected:
            break
    else:
        raise AssertionError(f"no RTP from {expected}")
    seen = 0
    while seen < settle:
        data, source = sock.recvfrom(65535)
        if data[0] >> 6 == 2 and data[1] & 0x7F == 8:
            assert source == expected, f"RTP from {source}, expected {expected}"
            seen += 1


def test_ice_nomination_chooses_between_relay_and_host(
    coturn: tuple[str, int],  # noqa: F811
    tmp_path: pathlib.Path,
) -> None:
    host_turn, port_turn = coturn
    shutil.copyfile(DATA / "uas_ice_turn.xml", tmp_path / "uas_ice_turn.xml")
    shutil.copyfile(TONE, tmp_path / "tone.alaw")
    sip_port = free_udp_port()
    base = free_udp_port_block(4)
    uas = start(
        gossipper_command(
            "-sf", "uas_ice_turn.xml", "-i", LOOPBACK, "-p", str(sip_port), "-m", "1",
            "-nostdin", "-min_rtp_port", str(base), "-max_rtp_port", str(base + 3),
            "-turn_server", f"{host_turn}:{port_turn}", "-turn_user", USER,
            "-turn_pass", PASSWORD,
        ),
        tmp_path,
    )  # fmt: skip
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sip.bind((LOOPBACK, 0))
        media.bind((LOOPBACK, 0))
        sip.settimeout(0.5)
        media.settimeout(2)
        here, media_port = sip.getsockname()[1], media.getsockname()[1]
        target = (LOOPBACK, sip_port)
        body = (
            f"v=0\no=- 1 1 IN IP4 {LOOPBACK}\ns=-\nc=IN IP4 {LOOPBACK}\nt=0 0\n"
            f"m=audio {media_port} RTP/AVP 8\na=rtpmap:8 PCMA/8000\na=rtcp-mux\n"
            f"a=ice-ufrag:{OUR_UFRAG}\na=ice-pwd:{OUR_PWD}\n"
            f"a=candidate:1 1 UDP 2130706431 {LOOPBACK} {media_port} typ host\n"
        ).replace("\n", "\r\n")
        headers = (
            f"Via: SIP/2.0/UDP {LOOPBACK}:{here};branch=z9hG4bK-iceturn-1\n"
            f"From: <sip:test@{LOOPBACK}:{here}>;tag=iceturn\n"
            f"To: <sip:service@{LOOPBACK}:{sip_port}>\nCall-ID: ice-turn-test\n"
        )
        invite = _sip(sip, f"INVITE sip:service@{LOOPBACK}:{sip_port} SIP/2.0\n{headers}"
                      f"CSeq: 1 INVITE\nContact: <sip:test@{LOOPBACK}:{here}>\n"
                      f"Content-Type: application/sdp\nContent-Length: {len(body)}\n\n",
                      target, body)  # fmt: skip
        answer = _receive(sip, "200", invite, target)
        ufrag = re.search(r"^a=ice-ufrag:(\S+)", answer, re.M)
        pwd = re.search(r"^a=ice-pwd:(\S+)", answer, re.M)
        host = re.search(r"^a=candidate:\S+ 1 UDP \d+ (\S+) (\d+) typ host", answer, re.M)
        relay = re.search(r"^a=candidate:\S+ 1 UDP \d+ (\S+) (\d+) typ relay", answer, re.M)
        default = re.search(r"^c=IN IP4 (\S+)\s.*^m=audio (\d+)", answer, re.M | re.S)
        to = re.search(r"^To: (.*)$", answer, re.M | re.I)
        assert ufrag and pwd and host and relay and default and to, answer
        host_address = (host[1], int(host[2]))
        relay_address = (relay[1], int(relay[2]))
        assert (default[1], int(default[2])) == relay_address != host_address
        assert host_address[1] == base  # the call's own RTP port
        _sip(sip, f"ACK sip:service@{LOOPBACK}:{sip_port} SIP/2.0\n"
             f"Via: SIP/2.0/UDP {LOOPBACK}:{here};branch=z9hG4bK-iceturn-2\n"
             f"From: <sip:test@{LOOPBACK}:{here}>;tag=iceturn\nTo: {to[1].strip()}\n"
             "Call-ID: ice-turn-test\nCSeq: 1 ACK\nContent-Length: 0\n\n", target)  # fmt: skip
        username = f"{ufrag[1]}:{OUR_UFRAG}"
        # 1. Before any nomination: the default candidate, the relay.
        _media_from(media, relay_address)
        # 2. ICE nominates the host pair: answered from the host port, media moves there.
        assert _check(media, host_address, username, pwd[1]) == host_address
        _media_from(media, host_address)
        # 3. ICE nominates the relay pair: answered through the relay, media goes back.
        assert _check(media, relay_address, username, pwd[1]) == relay_address
        _media_from(media, relay_address)
        bye = _sip(sip, f"BYE sip:service@{LOOPBACK}:{sip_port} SIP/2.0\n"
                   f"Via: SIP/2.0/UDP {LOOPBACK}:{here};branch=z9hG4bK-iceturn-3\n"
                   f"From: <sip:test@{LOOPBACK}:{here}>;tag=iceturn\nTo: {to[1].strip()}\n"
                   "Call-ID: ice-turn-test\nCSeq: 2 BYE\nContent-Length: 0\n\n",
                   target)  # fmt: skip
        _receive(sip, "200", bye, target)
        out, err = uas.communicate(timeout=20)
        assert uas.returncode == 0, out[-2000:] + err[-2000:]
    finally:
        sip.close()
        media.close()
        if uas.poll() is None:
            uas.kill()
        uas.wait()
