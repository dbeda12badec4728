"""Media files for rtp_stream: raw G.711/G.722/G.729, WAV, our own ITU-T G.711 encoders, framing.

``load_media`` is pure: it takes the file's bytes and its name (for error messages).
``read_media_file`` reads the file first, once, at load time (never on the packet path). Every
error is a MediaFileError with one line naming the file and the fault.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

from gossipper.errors import GossipperError

FRAME_MS = 20

# codec name -> (static payload type, bytes per 10 ms at 8 kHz, byte of silence or None)
CODECS: dict[str, tuple[int, int, int | None]] = {
    "PCMU": (0, 80, 0xFF),
    "PCMA": (8, 80, 0xD5),
    "G722": (9, 80, None),
    "G729": (18, 10, None),
}

CODEC_BY_PAYLOAD_TYPE: dict[int, str] = {pt: name for name, (pt, _, _) in CODECS.items()}
"""SIPp's rtp_stream needs no codec name for these static payload types."""

_WAVE_PCM = 1
_WAVE_ALAW = 6
_WAVE_MULAW = 7
_WAVE_EXTENSIBLE = 0xFFFE


class MediaFileError(GossipperError):
    """A media file gossipper cannot stream; the message names the file and the fault."""


# --- ITU-T G.711 -------------------------------------------------------------------------------
# Both laws are computed on the 16-bit sample: mu-law on 14 bits with the standard bias of 33
# (132 on the 16-bit scale), A-law on 13 bits; each segment doubles the step size.

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635


def linear_to_ulaw(sample: int) -> int:
    """One 16-bit signed sample -> its G.711 mu-law byte."""
    # Negative samples use the one's complement (-x - 1), as the ITU-T G.191 reference
    # implementation does: -1 is "negative zero" (0x7F). (CPython's audioop negates after a
    # flooring shift instead and disagrees on 381 negative samples at step edges.)
    sign = 0x80 if sample < 0 else 0
    magnitude = min(~sample if sample < 0 else sample, _ULAW_CLIP) + _ULAW_BIAS
    exponent = magnitude.bit_length() - 8  # magnitude >= 0x84 so bit_length is 8..15
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ulaw_to_linear(byte: int) -> int:
    """A G.711 mu-law byte -> its 16-bit signed sample."""
    u = ~byte & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = (((u & 0x0F) << 3) + _ULAW_BIAS) << exponent
    magnitude -= _ULAW_BIAS
    return -magnitude if u & 0x80 else magnitude


def linear_to_alaw(sample: int) -> int:
    """One 16-bit signed sample -> its G.711 A-law byte (even bits inverted, as sent)."""
    pcm = sample >> 3
    if pcm >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        pcm = -pcm - 1
    if pcm > 0xFFF:
        return 0x7F ^ mask
    segment = max(0, pcm.bit_length() - 5)
    if segment < 2:
        value = (segment << 4) | ((pcm >> 1) & 0x0F)
    else:
        value = (segment << 4) | ((pcm >> segment) & 0x0F)
    return value ^ mask


def alaw_to_linear(byte: int) -> int:
    """A G.711 A-law byte -> its 16-bit signed sample."""
    a = byte ^ 0x55
    magnitude = (a & 0x0F) << 4
    segment = (a & 0x70) >> 4
    if segment == 0:
        magnitude += 8
    else:
        magnitude = (magnitude + 0x108) << (segment - 1)
    return magnitude if a & 0x80 else -magnitude


@functools.cache
def _encode_table(codec: str) -> bytes:
    """The encoded byte of every 16-bit sample (index sample + 32768); built on first use."""
    encode = linear_to_ulaw if codec == "PCMU" else linear_to_alaw
    return bytes(encode(s - 32768) for s in range(65536))


def encode_pcm16(samples: bytes, codec: str) -> bytes:
    """Little-endian 16-bit PCM -> G.711 ("PCMU" or "PCMA")."""
    table = _encode_table(codec)
    count = len(samples) // 2
    return bytes(table[s + 32768] for s in struct.unpack(f"<{count}h", samples[: 2 * count]))


def transcode_g711(data: bytes, source: str, target: str) -> bytes:
    """PCMU <-> PCMA through the linear sample."""
    if source == target:
        return data
    decode = ulaw_to_linear if source == "PCMU" else alaw_to_linear
    table = _encode_table(target)
    lookup = bytes(table[decode(b) + 32768] for b in range(256))
    return data.translate(lookup)


# --- files -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaPayload:
    """A whole media file ready to packetize: encoded bytes of ``codec`` at 8 kHz."""

    codec: str
    data: bytes

    @property
    def payload_type(self) -> int:
        return CODECS[self.codec][0]

    @property
    def frame_bytes(self) -> int:
        """Bytes per FRAME_MS packet."""
        return CODECS[self.codec][1] * FRAME_MS // 10

    @property
    def samples_per_frame(self) -> int:
        """RTP timestamp increment per packet (8 kHz RTP clock for all, G.722 included)."""
        return 8 * FRAME_MS

    def frames(self) -> list[bytes]:
        """The payload split into FRAME_MS packets; a short G.711 tail is padded with silence.

        A short G.729 tail (one 10 ms frame) is sent as it is: a valid G.729 packet.
        """
        size = self.frame_bytes
        frames = [self.data[i : i + size] for i in range(0, len(self.data), size)]
        silence = CODECS[self.codec][2]
        if frames and len(frames[-1]) < size and silence is not None:
            frames[-1] += bytes((silence,)) * (size - len(frames[-1]))
        return frames


def _codec_name(name: str, codec: str) -> str:
    key = codec.upper().split("/", 1)[0]
    if key not in CODECS:
        raise MediaFileError(
            f"{name}: codec {codec!r} is not supported for files (use PCMU, PCMA, G722 or G729)"
        )
    return key


def read_media_file(path: str, codec: str) -> MediaPayload:
    """Read and prepare the file at ``path``; an unreadable file is a one-line MediaFileError.

    Called once per file at load time (never on the packet path), so the blocking read is fine.
    """
    try:
        with open(path, "rb") as f:
            content = f.read()
    except OSError as exc:
        raise MediaFileError(f"{path}: cannot read the media file: {exc.strerror}") from None
    return load_media(path, content, codec)


def load_media(name: str, content: bytes, codec: str) -> MediaPayload:
    """Prepare ``content`` (the file called ``name``) for streaming as ``codec``.

    A RIFF/WAVE file is read from its header: 16-bit mono 8 kHz PCM is encoded with our G.711
    encoders, G.711 WAV (format 6/7) is passed through (transcoded between the two laws when
    needed). Anything else is raw data already in ``codec`` (.ulaw/.alaw/.raw/.g729).
    """
    target = _codec_name(name, codec)
    if content[:4] == b"RIFF" and content[8:12] == b"WAVE":
        return _load_wav(name, content, target)
    if not content:
        raise MediaFileError(f"{name}: the file is empty")
    if target == "G729" and len(content) % 10:
        raise MediaFileError(
            f"{name}: {len(content)} bytes is not a whole number of 10-byte G.729 frames"
        )
    return MediaPayload(target, content)


def _load_wav(name: str, content: bytes, target: str) -> MediaPayload:
    offset = 12
    fmt: tuple[int, int, int, int] | None = None
    while offset + 8 <= len(content):
        chunk_id = content[offset : offset + 4]
        (size,) = struct.unpack_from("<I", content, offset + 4)
        body = content[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise MediaFileError(f"{name}: WAV fmt chunk of {len(body)} bytes is too short")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _WAVE_EXTENSIBLE and len(body) >= 26:
                # The real format is the first two bytes of the SubFormat GUID.
                (tag,) = struct.unpack_from("<H", body, 24)
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise MediaFileError(f"{name}: WAV data chunk comes before any fmt chunk")
            return _wav_payload(name, fmt, body, target)
        # Chunks are padded to an even size.
        offset += 8 + size + (size & 1)
    raise MediaFileError(f"{name}: WAV file has no data chunk")


def _wav_payload(
    name: str, fmt: tuple[int, int, int, int], body: bytes, target: str
) -> MediaPayload:
    tag, channels, rate, bits = fmt
    if channels != 1 or rate != 8000:
        raise MediaFileError(
            f"{name}: WAV is {channels} channel(s) at {rate} Hz; convert it to mono 8000 Hz"
        )
    if not body:
        raise MediaFileError(f"{name}: WAV data chunk is empty")
    if target not in ("PCMU", "PCMA"):
        raise MediaFileError(
            f"{name}: cannot encode a WAV file to {target}; use a raw file already in {target}"
        )
    if tag == _WAVE_PCM:
        if bits != 16:
            raise MediaFileError(f"{name}: WAV PCM is {bits}-bit; only 16-bit PCM is supported")
        return MediaPayload(target, encode_pcm16(body, target))
    if tag in (_WAVE_ALAW, _WAVE_MULAW):
        source = "PCMA" if tag == _WAVE_ALAW else "PCMU"
        return MediaPayload(target, transcode_g711(body, source, target))
    raise MediaFileError(
        f"{name}: WAV format tag {tag} is not supported (use 16-bit PCM, A-law or mu-law)"
    )
