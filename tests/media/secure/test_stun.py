"""STUN codec (RFC 8489, checked on RFC 5769's vectors), ChannelData, ICE-lite answers."""

from __future__ import annotations

import random
import socket

import pytest

from gossipper.media.secure import stun
from gossipper.media.secure.stun import (
    IceCredentials,
    IceLiteResponder,
    StunError,
    StunMessage,
    candidate_line,
    decode,
)
from gossipper.media.secure.turn import channel_data, parse_channel_data

# RFC 5769 2.1: a Binding request with SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME (padded
# with spaces), MESSAGE-INTEGRITY (short-term, password below) and FINGERPRINT.
RFC5769_REQUEST = bytes.fromhex(
    "000100582112a442b7e7a701bc34d686fa87dfae"
    "802200105354554e20746573742063"
    "6c69656e74"
    "002400046e0001ff"
    "80290008932ff9b151263b36"
    "000600096576746a3a68367659202020"
    "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
    "80280004e57a3bcf"
)
RFC5769_PASSWORD = b"VOkJxbRl1RmTxUk/WvJxBt"


def test_rfc5769_request_vector_verifies() -> None:
    message = decode(RFC5769_REQUEST)
    assert (message.method, message.cls) == (stun.BINDING, stun.REQUEST)
    assert message.text(stun.USERNAME) == "evtj:h6vY"
    assert message.text(stun.SOFTWARE) == "STUN test client"
    assert message.check_integrity(RFC5769_PASSWORD)
    assert not message.check_integrity(b"wrong")
    assert message.check_fingerprint()
    tampered = bytearray(RFC5769_REQUEST)
    tampered[-40] ^= 1  # inside USERNAME
    assert not decode(bytes(tampered)).check_integrity(RFC5769_PASSWORD)


def test_encode_decode_round_trip_with_integrity_and_fingerprint() -> None:
    tid_source = random.Random(5).randbytes
    key = stun.long_term_key("user", "realm", "pass")
    for address in (("192.0.2.1", 32853), ("2001:db8:1234:5678:11:2233:4455:6677", 32853)):
        message = StunMessage.new(stun.ALLOCATE, stun.SUCCESS, tid_source)
        message.add_address(stun.XOR_RELAYED_ADDRESS, address)
        message.add_address(stun.MAPPED_ADDRESS, address)
        message.add(stun.REALM, b"realm")
        wire = message.encode(integrity_key=key, fingerprint=True)
        again = decode(wire)
        assert (again.method, again.cls) == (stun.ALLOCATE, stun.SUCCESS)
        assert again.address(stun.XOR_RELAYED_ADDRESS) == address
        assert again.address(stun.MAPPED_ADDRESS) == address
        # XOR-ed on the wire: the plain port must not appear in the attribute.
        assert again.get(stun.XOR_RELAYED_ADDRESS) != again.get(stun.MAPPED_ADDRESS)
        assert again.check_integrity(key) and again.check_fingerprint()
        assert stun.is_stun(wire)


def test_message_type_bits() -> None:
    assert stun.message_type(stun.BINDING, stun.REQUEST) == 0x0001
    assert stun.message_type(stun.BINDING, stun.SUCCESS) == 0x0101
    assert stun.message_type(stun.ALLOCATE, stun.ERROR) == 0x0113
    assert stun.message_type(stun.DATA, stun.INDICATION) == 0x0017
    assert stun.split_type(0x0118) == (stun.CREATE_PERMISSION, stun.ERROR)


@pytest.mark.parametrize(
    "datagram",
    [b"", b"\x00\x01\x00\x00", RFC5769_REQUEST[:-1], b"\x00\x01\x00\x08" + bytes(16) + bytes(8),
     RFC5769_REQUEST[:2] + b"\x00\x5c" + RFC5769_REQUEST[4:] + b"\x00\x08\x00\x10"],
)  # fmt: skip
def test_malformed_stun_raises_stun_error_only(datagram: bytes) -> None:
    with pytest.raises(StunError):
        decode(datagram)


def test_channel_data_framing() -> None:
    assert channel_data(0x4001, b"abc") == b"\x40\x01\x00\x03abc"
    assert parse_channel_data(b"\x40\x01\x00\x03abc") == (0x4001, b"abc")
    with pytest.raises(StunError):
        parse_channel_data(b"\x30\x00\x00\x00")
    with pytest.raises(StunError):
        parse_channel_data(b"\x40\x00\x00\x09abc")


def test_candidate_lines_and_credentials() -> None:
    host = candidate_line("1", 1, ("192.0.2.10", 40000))
    assert host == "a=candidate:1 1 UDP 2130706431 192.0.2.10 40000 typ host"
    relay = candidate_line("2", 2, ("198.51.100.3", 50000), "relay", ("192.0.2.10", 40001))
    assert relay == (
        "a=candidate:2 2 UDP 16777214 198.51.100.3 50000 typ relay raddr 192.0.2.10 rport 40001"
    )
    creds = IceCredentials.generate(random.Random(2).randbytes)
    assert creds == IceCredentials.generate(random.Random(2).randbytes)
    assert len(creds.ufrag) >= 4 and len(creds.pwd) >= 22
    assert creds.sdp_lines() == ["a=ice-lite", f"a=ice-ufrag:{creds.ufrag}",
                                 f"a=ice-pwd:{creds.pwd}"]  # fmt: skip


def _check(local: IceCredentials, remote_ufrag: str, pwd: str, *, nominate: bool) -> bytes:
    request = StunMessage.new(stun.BINDING, stun.REQUEST)
    request.add(stun.USERNAME, f"{local.ufrag}:{remote_ufrag}".encode())
    request.add(stun.PRIORITY, (1853824767).to_bytes(4, "big"))
    request.add(stun.ICE_CONTROLLING, bytes(8))
    if nominate:
        request.add(stun.USE_CANDIDATE, b"")
    return request.encode(integrity_key=pwd.encode(), fingerprint=True)


def test_ice_lite_answers_checks_over_loopback_udp() -> None:
    local = IceCredentials("gsp1", "0123456789abcdef012345")
    responder = IceLiteResponder(local)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as agent,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as media,
    ):
        agent.settimeout(5)
        media.settimeout(5)
        agent.bind(("127.0.0.1", 0))
        media.bind(("127.0.0.1", 0))
        agent_address = agent.getsockname()
        cases = [
            (local.ufrag, local.pwd, True, stun.SUCCESS, None),
            (local.ufrag, "not-the-password-at-all", False, stun.ERROR, 401),
            ("zzzz", local.pwd, False, stun.ERROR, 401),
        ]
        for ufrag, pwd, nominate, cls, code in cases:
            check = _check(IceCredentials(ufrag, ""), "peer", pwd, nominate=nominate)
            agent.sendto(check, media.getsockname())
            datagram, source = media.recvfrom(2048)
            answer = responder.handle(datagram, source)
            assert answer is not None
            media.sendto(answer, source)
            reply = decode(agent.recv(2048))
            assert reply.cls == cls
            assert reply.transaction_id == decode(check).transaction_id
            assert reply.check_fingerprint()
            if code is None:
                assert reply.address(stun.XOR_MAPPED_ADDRESS) == agent.getsockname()
                assert reply.check_integrity(local.pwd.encode())
            else:
                assert reply.error_code() is not None
                assert reply.error_code()[0] == code  # type: ignore[index]
    assert responder.nominated == agent_address
    counters = responder.counters
    assert (counters.answered, counters.bad_integrity, counters.bad_username) == (1, 1, 1)
    assert responder.handle(b"\x00\x01junk", ("127.0.0.1", 9)) is None
    assert responder.handle(b"\x80" + bytes(20), ("127.0.0.1", 9)) is None
    assert counters.malformed == 2
