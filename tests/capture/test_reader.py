"""The capture reader: every link type, IPv4/IPv6, TCP reassembly, and bad input skipped and
counted (packets crafted with dpkt, fixtures cut short)."""

from __future__ import annotations

import io
import pathlib
import socket
import struct

import dpkt
import pytest

from gossipper.capture import CaptureError
from gossipper.capture.reader import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    read_capture,
    read_capture_bytes,
)
from gossipper.cli.main import raw_main

CAPTURES = pathlib.Path(__file__).parent.parent / "data" / "captures"

SIP = (
    b"OPTIONS sip:bob@192.0.2.2:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-1\r\n"
    b"From: <sip:alice@192.0.2.1:5061>;tag=a1\r\n"
    b"To: <sip:bob@192.0.2.2:5060>\r\n"
    b"Call-ID: reader-test-1\r\n"
    b"CSeq: 1 OPTIONS\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"body"
)


def _ip(
    payload: dpkt.Packet, *, v6: bool = False, proto: int = dpkt.ip.IP_PROTO_UDP
) -> dpkt.Packet:
    if v6:
        packet = dpkt.ip6.IP6(
            src=socket.inet_pton(socket.AF_INET6, "2001:db8::1"),
            dst=socket.inet_pton(socket.AF_INET6, "2001:db8::2"),
            nxt=proto,
            hlim=64,
            data=payload,
        )
        packet.plen = len(bytes(payload))
        return packet
    return dpkt.ip.IP(
        src=socket.inet_aton("192.0.2.1"), dst=socket.inet_aton("192.0.2.2"), p=proto, data=payload
    )


def _udp(payload: bytes) -> dpkt.udp.UDP:
    udp = dpkt.udp.UDP(sport=5061, dport=5060, data=payload)
    udp.ulen = len(bytes(udp))
    return udp


def _pcap(frames: list[bytes], linktype: int = LINKTYPE_ETHERNET, *, ng: bool = False) -> bytes:
    out = io.BytesIO()
    writer = (dpkt.pcapng.Writer if ng else dpkt.pcap.Writer)(out, linktype=linktype, snaplen=65535)
    for number, frame in enumerate(frames):
        writer.writepkt(frame, ts=1_700_000_000 + number / 10)
    return out.getvalue()


def _ethernet(ip: dpkt.Packet, *, v6: bool = False) -> bytes:
    return bytes(
        dpkt.ethernet.Ethernet(
            src=b"\x02" * 6,
            dst=b"\x04" * 6,
            type=dpkt.ethernet.ETH_TYPE_IP6 if v6 else dpkt.ethernet.ETH_TYPE_IP,
            data=ip,
        )
    )


LINK_FRAMES = {
    "ethernet": (LINKTYPE_ETHERNET, lambda ip: _ethernet(ip)),
    "sll": (
        LINKTYPE_LINUX_SLL,
        lambda ip: bytes(dpkt.sll.SLL(hdr=b"\x02" * 6 + b"\0\0", ethtype=0x0800, data=ip)),
    ),
    "sll2": (
        LINKTYPE_LINUX_SLL2,
        lambda ip: bytes(dpkt.sll2.SLL2(hdr=b"\x02" * 6 + b"\0\0", ethtype=0x0800, data=ip)),
    ),
    "raw": (LINKTYPE_RAW, lambda ip: bytes(ip)),
    "ipv4": (LINKTYPE_IPV4, lambda ip: bytes(ip)),
    "null": (LINKTYPE_NULL, lambda ip: struct.pack("<I", 2) + bytes(ip)),
    "loop": (LINKTYPE_LOOP, lambda ip: struct.pack(">I", 2) + bytes(ip)),
}


@pytest.mark.parametrize("ng", [False, True], ids=["pcap", "pcapng"])
@pytest.mark.parametrize("link", sorted(LINK_FRAMES))
def test_each_link_type(link: str, ng: bool) -> None:
    linktype, frame = LINK_FRAMES[link]
    read = read_capture_bytes(_pcap([frame(_ip(_udp(SIP)))], linktype, ng=ng))
    assert read.skipped.total() == 0, read.skipped.summary()
    (captured,) = read.messages
    assert captured.message.call_id == "reader-test-1"
    assert (captured.src, captured.dst, captured.transport) == (
        ("192.0.2.1", 5061),
        ("192.0.2.2", 5060),
        "UDP",
    )
    assert captured.message.body == b"body"


def test_ipv6() -> None:
    read = read_capture_bytes(_pcap([_ethernet(_ip(_udp(SIP), v6=True), v6=True)]))
    (captured,) = read.messages
    assert captured.src == ("2001:db8::1", 5061)
    assert captured.dst == ("2001:db8::2", 5060)


def _tcp(seq: int, payload: bytes, flags: int = dpkt.tcp.TH_ACK) -> bytes:
    segment = dpkt.tcp.TCP(sport=5061, dport=5060, seq=seq, flags=flags, data=payload)
    return _ethernet(_ip(segment, proto=dpkt.ip.IP_PROTO_TCP))


def test_tcp_reassembled_out_of_order_with_retransmission() -> None:
    second = SIP.replace(b"reader-test-1", b"reader-test-2")
    stream = SIP + second
    cut = 50
    frames = [
        _tcp(1000, b"", dpkt.tcp.TH_SYN),
        _tcp(1001 + cut, stream[cut:]),  # ahead of a gap: held
        _tcp(1001, stream[:cut]),
        _tcp(1001, stream[:cut]),  # a retransmission: already had
    ]
    read = read_capture_bytes(_pcap(frames))
    assert [m.message.call_id for m in read.messages] == ["reader-test-1", "reader-test-2"]
    assert {m.transport for m in read.messages} == {"TCP"}
    assert read.skipped.total() == 0


def test_bad_packets_are_skipped_and_counted() -> None:
    fragment = _ip(_udp(SIP))
    fragment.mf = 1
    frames = [
        _ethernet(_ip(_udp(b"\x80\x00 RTP-ish bytes"))),  # not SIP
        _ethernet(fragment),
        _ethernet(_ip(_udp(b"INVITE nonsense\r\n\r\n"))),  # malformed SIP
        bytes(dpkt.ethernet.Ethernet(type=dpkt.ethernet.ETH_TYPE_ARP, data=b"\0" * 28)),
        _ethernet(_ip(b"\0" * 8, proto=dpkt.ip.IP_PROTO_ICMP)),
        _ethernet(_ip(_udp(SIP))),
    ]
    read = read_capture_bytes(_pcap(frames))
    assert len(read.messages) == 1
    skipped = read.skipped
    assert (skipped.not_sip, skipped.fragments, skipped.malformed_sip) == (1, 1, 1)
    assert skipped.not_ip == 1 and skipped.other_protocols == 1
    assert skipped.summary() == (
        "1 IP fragments, 1 not IP, 1 neither UDP nor TCP, 1 not SIP, 1 malformed SIP"
    )


def test_unknown_link_type_is_counted() -> None:
    read = read_capture_bytes(_pcap([b"\0" * 40, b"\0" * 40], linktype=147))
    assert read.messages == ()
    assert read.skipped.unknown_link == 2


@pytest.mark.parametrize("name", ["busy_users_udp.pcap", "auth_udp.pcapng"])
def test_truncated_capture_keeps_what_came_before(name: str) -> None:
    data = (CAPTURES / name).read_bytes()
    whole = read_capture_bytes(data)
    cut = read_capture_bytes(data[: len(data) * 2 // 3])
    assert 0 < len(cut.messages) < len(whole.messages)
    assert cut.skipped.truncated_file == 1
    assert [m.message.raw for m in cut.messages] == [
        m.message.raw for m in whole.messages[: len(cut.messages)]
    ]


def _run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = raw_main(["pcap2scenario", *args], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_cli_skipped_summary_line(tmp_path: pathlib.Path) -> None:
    capture = tmp_path / "mixed.pcap"
    capture.write_bytes(_pcap([_ethernet(_ip(_udp(b"not sip at all"))), _ethernet(_ip(_udp(SIP)))]))
    status, _, err = _run([str(capture), "-o", str(tmp_path / "out")])
    assert status == 0, err
    assert err == "gossipper pcap2scenario: skipped 1 not SIP\n"


def test_cli_no_sip_is_a_one_line_error(tmp_path: pathlib.Path) -> None:
    capture = tmp_path / "rtp.pcap"
    capture.write_bytes(_pcap([_ethernet(_ip(_udp(b"\x80\x00 rtp")))]))
    status, _, err = _run([str(capture), "-o", str(tmp_path / "out")])
    assert status == 255
    (line,) = err.splitlines()
    assert "no SIP message" in line and str(capture) in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", [b"", b"hello, not a capture\n", b"\xa1\xb2\xc3"])
def test_cli_not_a_capture(tmp_path: pathlib.Path, content: bytes) -> None:
    capture = tmp_path / "notes.txt"
    capture.write_bytes(content)
    status, _, err = _run([str(capture), "-o", str(tmp_path / "out")])
    assert status == 255
    (line,) = err.splitlines()
    assert str(capture) in line and "not a pcap or pcapng capture" in line


def test_cli_missing_file(tmp_path: pathlib.Path) -> None:
    status, _, err = _run([str(tmp_path / "none.pcap"), "-o", str(tmp_path)])
    assert status == 255
    (line,) = err.splitlines()
    assert "none.pcap" in line and "Traceback" not in err


def test_cli_usage_errors(tmp_path: pathlib.Path) -> None:
    status, _, err = _run([str(CAPTURES / "auth_udp.pcapng")])
    assert status == 1 and "-o" in err and len(err.splitlines()) == 1
    status, out, _ = _run(["-h"])
    assert "--time-scale" in out and "--call-id" in out


def test_read_capture_of_fixture_path() -> None:
    with pytest.raises(CaptureError):
        read_capture(CAPTURES / "scenarios")


def test_other_legs_and_retransmissions_are_left_out() -> None:
    from gossipper.capture.dialogs import group_dialogs

    def udp_from(src: str, dst: str, payload: bytes) -> bytes:
        ip = dpkt.ip.IP(
            src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=17, data=_udp(payload)
        )
        return _ethernet(ip)

    proxied = SIP.replace(b"z9hG4bK-1", b"z9hG4bK-2")
    frames = [
        udp_from("192.0.2.1", "192.0.2.2", SIP),
        udp_from("192.0.2.1", "192.0.2.2", SIP),  # retransmission
        udp_from("192.0.2.2", "192.0.2.3", proxied),  # the proxy's other leg
    ]
    (dialog,) = group_dialogs(read_capture_bytes(_pcap(frames)).messages)
    assert (dialog.uac, dialog.uas) == (("192.0.2.1", 5061), ("192.0.2.2", 5060))
    assert len(dialog.messages) == 1
    assert (dialog.retransmissions, dialog.other_legs) == (1, 1)


def test_ipv6_fragment_is_counted() -> None:
    fragment = dpkt.ip6.IP6FragmentHeader(nxt=dpkt.ip.IP_PROTO_UDP, frag_off_resv_m=1, id=5)
    payload = bytes(fragment) + bytes(_udp(SIP))
    header = dpkt.ip6.IP6(
        src=socket.inet_pton(socket.AF_INET6, "::1"),
        dst=socket.inet_pton(socket.AF_INET6, "::1"),
        nxt=dpkt.ip.IP_PROTO_FRAGMENT,
        hlim=64,
        plen=len(payload),
    )
    read = read_capture_bytes(_pcap([bytes(header)[:40] + payload], LINKTYPE_RAW))
    assert read.messages == ()
    assert read.skipped.fragments == 1
