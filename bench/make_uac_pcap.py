"""Write the captures the built-in ``uac_pcap`` scenario plays (scenarios/pcap/).

Our own recordings, not SIPp's files: ``g711a.pcap`` is 8 s of a 440 Hz tone as G.711 A-law RTP
(payload type 8, 20 ms packets, 400 packets), ``dtmf_2833_1.pcap`` the RFC 4733 event for digit 1
(250 ms). Ethernet/IPv4/UDP frames from 127.0.0.1:6000 to 127.0.0.1:6002 (the replay keeps only
the RTP packets and their timing). Deterministic: the same bytes on every run.

    python bench/make_uac_pcap.py [DIRECTORY]     # default: scenarios/pcap
"""

from __future__ import annotations

import math
import os
import struct
import sys

from gossipper.media.audio import linear_to_alaw
from gossipper.media.rtp import RtpPacket, dtmf_packets

_START_S = 1_700_000_000  # a fixed capture time: the files never change


def _frame(payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", 6000, 6002, 8 + len(payload), 0) + payload
    total = 20 + len(udp)
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        total,
        0,
        0x4000,
        64,
        17,
        0,
        bytes([127, 0, 0, 1]),
        bytes([127, 0, 0, 1]),
    )
    checksum = _ip_checksum(header)
    header = header[:10] + struct.pack("!H", checksum) + header[12:]
    ethernet = b"\x00" * 12 + b"\x08\x00"
    return ethernet + header + udp


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _write_pcap(path: str, packets: list[tuple[float, bytes]]) -> None:
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for offset_s, payload in packets:
            frame = _frame(payload)
            micros = round(offset_s * 1_000_000)
            out.write(
                struct.pack(
                    "<IIII",
                    _START_S + micros // 1_000_000,
                    micros % 1_000_000,
                    len(frame),
                    len(frame),
                )
            )
            out.write(frame)


def tone_packets(seconds: float = 8.0) -> list[tuple[float, bytes]]:
    samples = [
        linear_to_alaw(round(8000 * math.sin(2 * math.pi * 440 * n / 8000)))
        for n in range(int(seconds * 8000))
    ]
    packets = []
    for index in range(len(samples) // 160):
        payload = bytes(samples[index * 160 : (index + 1) * 160])
        packet = RtpPacket(
            8, (1000 + index) & 0xFFFF, 160 * index, 0x47535052, payload, marker=index == 0
        )
        packets.append((index * 0.02, packet.pack()))
    return packets


def dtmf_1_packets() -> list[tuple[float, bytes]]:
    events = dtmf_packets(
        "1", payload_type=101, ssrc=0x47535052, sequence=1400, timestamp=64000, duration_ms=250
    )
    return [(index * 0.02, packet.pack()) for index, packet in enumerate(events)]


def main(argv: list[str]) -> int:
    directory = argv[1] if len(argv) > 1 else os.path.join("scenarios", "pcap")
    os.makedirs(directory, exist_ok=True)
    _write_pcap(os.path.join(directory, "g711a.pcap"), tone_packets())
    _write_pcap(os.path.join(directory, "dtmf_2833_1.pcap"), dtmf_1_packets())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
