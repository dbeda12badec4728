"""SIPp 3.7's RTP check patterns (``rtp_stream="apattern|vpattern,LOOPS,PT[,CODEC]"``) and the
echo check that judges them (``-audiotolerance``/``-videotolerance``, exit status 253).

A pattern stream sends built-in payloads instead of a file. Each payload says which frame of
the pattern it is and its other bytes are a function of that frame number, so an echo that
comes back corrupted, truncated or carrying another packet's payload is told from a clean one.

The check (:class:`PatternCheck`): every pattern packet sent is remembered by its sequence
number (with the frame it carried and when it left); a packet that comes back with the
stream's own SSRC and a remembered sequence number is *echoed*, and it *matches* when its
payload is byte for byte the one sent. At the call's end the stream is judged (docs/media.md,
"RTP check patterns"):

* ``judged`` = packets sent whose echo had time to come back: every packet echoed, plus every
  packet sent at least :data:`ECHO_WINDOW_S` before the end. Packets still in flight when the
  call hung up are not held against the peer (a clean echo passes at tolerance 1.0).
* the stream passes when ``matched >= tolerance * judged`` (tolerance 1.0, the default: every
  judged packet came back identical; 0.9: at least 90 %; 0.0: never fails).

Pure: no trio, no sockets; times are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

PATTERN_FRAMES = 50
"""Frames in one loop of a pattern: 1 s of 20 ms frames (``apattern,3,...`` sends 3 s)."""

AUDIO_PAYLOAD_BYTES = 160
"""Payload size of an audio pattern frame (20 ms of 8 kHz G.711)."""

VIDEO_PAYLOAD_BYTES = 480
"""Payload size of a video pattern frame (one packet per 20 ms)."""

ECHO_WINDOW_S = 0.5
"""A packet unanswered this long before the call's end counts as not echoed; a younger one
is still in flight and is left out of the judgement."""

KEEP_S = 5.0
"""How long a sent packet is remembered waiting for its echo (bounds the memory of a stream
whose peer does not echo: about 250 entries)."""

_MAGIC = 0x47  # "G": the first byte of every pattern payload
_MEDIA_BYTE = {"audio": 0x61, "video": 0x76}  # "a", "v"
MAX_DETAILS = 20
"""Mismatched packets described in the debug files, per stream (the first ones)."""


def pattern_payloads(media: str) -> tuple[bytes, ...]:
    """The :data:`PATTERN_FRAMES` payloads of the ``media`` pattern (``audio``/``video``).

    Frame k: ``G``, ``a``/``v``, k as two bytes (big-endian), then byte j =
    ``(k * 37 + j * 11 + (j * j >> 3)) & 0xFF``: every frame differs from every other in most
    of its bytes, so a shifted or swapped echo does not match by chance.
    """
    size = AUDIO_PAYLOAD_BYTES if media == "audio" else VIDEO_PAYLOAD_BYTES
    kind = _MEDIA_BYTE["audio" if media == "audio" else "video"]
    frames = []
    for k in range(PATTERN_FRAMES):
        head = bytes((_MAGIC, kind, k >> 8, k & 0xFF))
        body = bytes((k * 37 + j * 11 + ((j * j) >> 3)) & 0xFF for j in range(4, size))
        frames.append(head + body)
    return tuple(frames)


def frame_of(payload: bytes) -> int | None:
    """The frame number a pattern payload carries, None when it is not a pattern payload."""
    if len(payload) < 4 or payload[0] != _MAGIC or payload[1] not in (0x61, 0x76):
        return None
    return (payload[2] << 8) | payload[3]


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One echoed packet whose payload was not the one sent (for the debug files)."""

    seq: int
    expected_frame: int
    received_frame: int | None
    """The frame the echoed payload says it is (None: not a pattern payload)."""
    expected_bytes: int
    received_bytes: int
    first_difference: int
    """Offset of the first byte that differs (the shorter length when one is a prefix)."""


@dataclass(frozen=True, slots=True)
class CheckVerdict:
    """A stream's judgement at its call's end."""

    sent: int
    judged: int
    matched: int
    mismatched: int
    in_flight: int
    """Sent less than ECHO_WINDOW_S before the end and not echoed: left out."""
    unexpected: int
    """Packets with the stream's SSRC whose sequence number was not (or no longer) waiting:
    duplicates, echoes later than KEEP_S, packets the peer made up."""
    tolerance: float
    passed: bool


def passes(matched: int, judged: int, tolerance: float) -> bool:
    """``matched >= tolerance * judged`` in integers (millionths: no float rounding)."""
    return matched * 1_000_000 >= round(tolerance * 1_000_000) * judged


class PatternCheck:
    """The echo check of one pattern stream (see the module docstring)."""

    __slots__ = (
        "media",
        "payloads",
        "payload_type",
        "tolerance",
        "sent",
        "matched",
        "mismatched",
        "unexpected",
        "mismatches",
        "_waiting",
    )

    def __init__(
        self, media: str, payloads: tuple[bytes, ...], payload_type: int, tolerance: float
    ) -> None:
        self.media = media
        self.payloads = payloads
        self.payload_type = payload_type
        self.tolerance = tolerance
        self.sent = 0
        self.matched = 0
        self.mismatched = 0
        self.unexpected = 0
        self.mismatches: list[Mismatch] = []
        # sequence number -> (frame sent, when). Insertion order is send order.
        self._waiting: dict[int, tuple[int, float]] = {}

    def sent_packet(self, packet: bytes, now: float) -> None:
        """An RTP packet of the stream left (the socket took it; before SRTP protection).
        Packets of another payload type (DTMF events in the same stream) are not checked."""
        if len(packet) < 16 or packet[1] & 0x7F != self.payload_type:
            return
        frame = frame_of(packet[12:16])
        if frame is None or frame >= len(self.payloads):
            return
        seq = (packet[2] << 8) | packet[3]
        self.sent += 1
        waiting = self._waiting
        if seq in waiting:
            del waiting[seq]  # 65,536 packets ago: never echoed (keeps send order)
        waiting[seq] = (frame, now)
        if len(waiting) > 512:
            cutoff = now - KEEP_S
            self._waiting = {s: v for s, v in waiting.items() if v[1] >= cutoff}

    def echoed(self, seq: int, payload: bytes) -> None:
        """A packet with the stream's own SSRC came back."""
        entry = self._waiting.pop(seq, None)
        if entry is None:
            # Not waiting: a duplicate or very late echo (counted), or the peer's own media
            # under the same SSRC (SIPp's fixed base gives both sides 0xCA110000 + n): ignored.
            if frame_of(payload) is not None:
                self.unexpected += 1
            return
        frame = entry[0]
        expected = self.payloads[frame]
        if payload == expected:
            self.matched += 1
            return
        self.mismatched += 1
        if len(self.mismatches) < MAX_DETAILS:
            limit = min(len(payload), len(expected))
            first = next((i for i in range(limit) if payload[i] != expected[i]), limit)
            self.mismatches.append(
                Mismatch(seq, frame, frame_of(payload), len(expected), len(payload), first)
            )

    def verdict(self, now: float) -> CheckVerdict:
        """The judgement at ``now`` (the call's end)."""
        cutoff = now - ECHO_WINDOW_S
        in_flight = 0
        for _, sent_at in reversed(self._waiting.values()):
            if sent_at <= cutoff:
                break
            in_flight += 1
        judged = self.sent - in_flight
        return CheckVerdict(
            sent=self.sent,
            judged=judged,
            matched=self.matched,
            mismatched=self.mismatched,
            in_flight=in_flight,
            unexpected=self.unexpected,
            tolerance=self.tolerance,
            passed=passes(self.matched, judged, self.tolerance),
        )
