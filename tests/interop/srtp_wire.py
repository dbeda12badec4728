"""Checking SRTP on a capture with the keys (shared by the SDES and DTLS-SRTP wire tests).

tshark 4.0 cannot decrypt SRTP (test_srtp_tshark.py), so the capture's RTP packets are
unprotected here with libsrtp (pylibsrtp) and the keys the run used: SDES keys from the
a=crypto lines of its -trace_msg, DTLS-SRTP keys from its GOSSIPPER_SRTP_KEYLOG.
"""

from __future__ import annotations

import pathlib

from gossipper.media.pcap import read_rtp_pcap
from gossipper.media.secure.sdes import CryptoSuite
from gossipper.media.secure.srtp import SrtpSession


def frames(path: pathlib.Path, size: int = 160) -> set[bytes]:
    """The 20 ms G.711 frames of a raw tone file, as rtp_stream sends them."""
    data = path.read_bytes()
    return {data[i : i + size] for i in range(0, len(data) - size + 1, size)}


def decrypt_capture(
    capture: pathlib.Path,
    suite: CryptoSuite | str,
    our_key_salt: bytes,
    their_key_salt: bytes,
    tone: set[bytes],
) -> tuple[int, int]:
    """Decrypt the capture's RTP both ways; returns (our packets, the peer's packets).

    Every RTP packet on the wire must be SRTP under one of the two keys, no clear frame of our
    tone may be on the wire, and ours must decrypt to exactly the tone's frames.
    """
    packets = [packet for _, packet in read_rtp_pcap(str(capture))]
    assert packets
    # Nothing on the wire carries a clear frame of our tone.
    assert not any(frame in packet for packet in packets for frame in tone)
    # What we sent: unprotected with our key (as the peer does).
    as_peer = SrtpSession(suite, their_key_salt, our_key_salt)
    # What the peer sent: unprotected with its key (as we do).
    as_us = SrtpSession(suite, our_key_salt, their_key_salt)
    ours_clear: list[bytes] = []
    theirs_clear: list[bytes] = []
    for packet in packets:
        clear = as_peer.unprotect(packet)
        if clear is not None:
            ours_clear.append(clear)
            continue
        clear = as_us.unprotect(packet)
        assert clear is not None, f"an RTP packet on the wire decrypts with neither key: {packet!r}"
        theirs_clear.append(clear)
    # Our payloads are the tone file's frames, byte for byte.
    assert ours_clear and all(clear[12:] in tone for clear in ours_clear)
    assert theirs_clear and all(clear[1] & 0x7F in (0, 8) for clear in theirs_clear)
    return len(ours_clear), len(theirs_clear)
