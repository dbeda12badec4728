"""The RTP packets of a pcap file, for ``play_pcap_audio``/``_video``/``_image`` (SIPp's pcap
play): every UDP payload that is an RTP packet, with its capture time relative to the first.

Read once per file before traffic (the packets are replayed as captured, headers included).
dpkt parses the file: it is the ``capture`` extra, imported only when a scenario plays a pcap.
"""

from __future__ import annotations

import struct

from gossipper.errors import GossipperError

CAPTURE_EXTRA_HINT = "pcap playback needs the capture extra: pip install 'gossipper[capture]'"

_LINKTYPE_NULL = 0
_LINKTYPE_ETHERNET = 1
_LINKTYPE_RAW = (12, 14, 101, 228, 229)
_LINKTYPE_LOOP = 108
_LINKTYPE_LINUX_SLL = 113
_LINKTYPE_LINUX_SLL2 = 276


class PcapMediaError(GossipperError):
    """The file cannot be read, is not a capture, or holds no RTP packet (one line)."""


def read_rtp_pcap(path: str) -> list[tuple[float, bytes]]:
    """``(offset_s, RTP packet)`` for each RTP-looking UDP payload of the capture, in file order.

    An RTP packet here is a UDP payload of at least 12 bytes with version 2 whose second byte
    is not an RTCP packet type (200-204 with the marker bit folded in, RFC 5761 4).

    Raises:
        PcapMediaError: unreadable or not a pcap/pcapng file, or no RTP packet in it; also when
            dpkt (the ``capture`` extra) is not installed.
    """
    try:
        import dpkt  # noqa: PLC0415 - optional dependency, only for pcap playback
    except ImportError:
        raise PcapMediaError(f"{path}: {CAPTURE_EXTRA_HINT}") from None
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        raise PcapMediaError(f"{path}: cannot read the pcap file: {exc.strerror}") from None
    import io  # noqa: PLC0415

    reader: dpkt.pcap.Reader | dpkt.pcapng.Reader
    try:
        if data[:4] == b"\x0a\x0d\x0d\x0a":
            reader = dpkt.pcapng.Reader(io.BytesIO(data))
        else:
            reader = dpkt.pcap.Reader(io.BytesIO(data))
        linktype = reader.datalink()
    except (ValueError, dpkt.Error, struct.error) as exc:
        raise PcapMediaError(f"{path}: not a pcap or pcapng file ({exc})") from None
    packets: list[tuple[float, bytes]] = []
    first: float | None = None
    try:
        for time_s, frame in reader:
            payload = _udp_payload(dpkt, linktype, bytes(frame))
            if payload is None or not _looks_like_rtp(payload):
                continue
            if first is None:
                first = float(time_s)
            packets.append((max(0.0, round(float(time_s) - first, 6)), payload))
    except (ValueError, dpkt.Error, struct.error) as exc:
        if not packets:
            raise PcapMediaError(f"{path}: cannot read the capture ({exc})") from None
        # A capture cut short: replay what was complete, as SIPp does.
    if not packets:
        raise PcapMediaError(f"{path}: the capture holds no RTP packet (UDP, RTP version 2)")
    return packets


def _looks_like_rtp(payload: bytes) -> bool:
    return len(payload) >= 12 and payload[0] >> 6 == 2 and not 72 <= (payload[1] & 0x7F) <= 76


def _udp_payload(dpkt: object, linktype: int, frame: bytes) -> bytes | None:
    mod = dpkt
    ip: object
    try:
        if linktype == _LINKTYPE_ETHERNET:
            ip = mod.ethernet.Ethernet(frame).data  # type: ignore[attr-defined]
        elif linktype in _LINKTYPE_RAW:
            ip = _raw_ip(mod, frame)
        elif linktype in (_LINKTYPE_NULL, _LINKTYPE_LOOP):
            ip = _raw_ip(mod, frame[4:])
        elif linktype == _LINKTYPE_LINUX_SLL:
            ip = mod.sll.SLL(frame).data  # type: ignore[attr-defined]
        elif linktype == _LINKTYPE_LINUX_SLL2:
            ip = mod.sll2.SLL2(frame).data  # type: ignore[attr-defined]
        else:
            return None
    except (ValueError, IndexError, struct.error):
        return None
    udp = getattr(ip, "data", None)
    if not isinstance(udp, mod.udp.UDP):  # type: ignore[attr-defined]
        return None
    return bytes(udp.data)


def _raw_ip(mod: object, data: bytes) -> object:
    if not data:
        return None
    version = data[0] >> 4
    if version == 4:
        return mod.ip.IP(data)  # type: ignore[attr-defined]
    if version == 6:
        return mod.ip6.IP6(data)  # type: ignore[attr-defined]
    return None
