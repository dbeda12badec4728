from __future__ import annotations

import pathlib
import struct
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossipper.media.audio import (
    CODEC_BY_PAYLOAD_TYPE,
    MediaFileError,
    alaw_to_linear,
    encode_pcm16,
    linear_to_alaw,
    linear_to_ulaw,
    load_media,
    read_media_file,
    transcode_g711,
    ulaw_to_linear,
)


def _wav(
    samples: bytes, *, tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16
) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    # A LIST chunk of odd size before data: chunks are word-aligned, so a pad byte follows.
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\x00"
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
    body += b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("sample", "ulaw", "alaw"),
    [
        (0, 0xFF, 0xD5),
        (-1, 0x7F, 0x55),
        (32767, 0x80, 0xAA),
        (-32768, 0x00, 0x2A),
        (1000, 0xCE, 0xFA),
        (-1000, 0x4E, 0x7A),
    ],
)
def test_g711_known_values(sample: int, ulaw: int, alaw: int) -> None:
    assert linear_to_ulaw(sample) == ulaw
    assert linear_to_alaw(sample) == alaw


def test_g711_decoder_known_values() -> None:
    assert ulaw_to_linear(0x80) == 32124 and ulaw_to_linear(0x00) == -32124
    assert ulaw_to_linear(0xFF) == 0
    assert alaw_to_linear(0xD5) == 8 and alaw_to_linear(0xAA) == 32256
    assert alaw_to_linear(0x2A) == -32256


def test_g711_round_trip_tables() -> None:
    for byte in range(256):
        assert linear_to_alaw(alaw_to_linear(byte)) == byte
        # mu-law has two zeros; negative zero (0x7F) decodes to 0, which encodes as 0xFF.
        assert linear_to_ulaw(ulaw_to_linear(byte)) == (0xFF if byte == 0x7F else byte)


def test_g711_encoders_agree_with_audioop_on_every_sample() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")  # Python 3.11/3.12 only: an independent check
    pcm = struct.pack("<65536h", *range(-32768, 32768))
    assert encode_pcm16(pcm, "PCMA") == audioop.lin2alaw(pcm, 2)
    # audioop's mu-law floors negative samples before negating (Sun's code); we follow the
    # ITU-T G.191 reference (one's complement), so only non-negative samples must agree.
    positive = struct.pack("<32768h", *range(32768))
    assert encode_pcm16(positive, "PCMU") == audioop.lin2ulaw(positive, 2)


def test_ulaw_negative_samples_mirror_their_ones_complement() -> None:
    # G.191: the code of x < 0 is the code of ~x (= -x - 1) with the sign bit cleared.
    for sample in range(-32768, 0):
        assert linear_to_ulaw(sample) == linear_to_ulaw(~sample) & 0x7F


def test_g711_encoding_is_monotonic() -> None:
    decoded = [ulaw_to_linear(linear_to_ulaw(s)) for s in range(-32768, 32768, 7)]
    assert decoded == sorted(decoded)
    decoded = [alaw_to_linear(linear_to_alaw(s)) for s in range(-32768, 32768, 7)]
    assert decoded == sorted(decoded)


def test_raw_ulaw_is_framed_in_20ms_with_silence_padding() -> None:
    media = load_media("hello.ulaw", bytes(range(200)), "PCMU/8000")
    assert (media.codec, media.payload_type, media.frame_bytes) == ("PCMU", 0, 160)
    assert media.samples_per_frame == 160
    frames = media.frames()
    assert [len(f) for f in frames] == [160, 160]
    assert frames[1] == bytes(range(160, 200)) + b"\xff" * 120
    alaw = load_media("hello.alaw", b"\x01", "pcma").frames()
    assert alaw == [b"\x01" + b"\xd5" * 159]


def test_g729_passthrough_in_10_byte_frames() -> None:
    media = load_media("a.g729", bytes(50), "G729")
    assert (media.payload_type, media.frame_bytes) == (18, 20)
    assert [len(f) for f in media.frames()] == [20, 20, 10]
    with pytest.raises(MediaFileError, match=r"^a\.g729: 55 bytes is not a whole number"):
        load_media("a.g729", bytes(55), "G729")


def test_g722_raw_passthrough_and_static_payload_types() -> None:
    media = load_media("a.g722", bytes(170), "G722/8000")
    assert (media.payload_type, media.frame_bytes, media.samples_per_frame) == (9, 160, 160)
    assert [len(f) for f in media.frames()] == [160, 10]  # no silence byte for G.722
    assert CODEC_BY_PAYLOAD_TYPE == {0: "PCMU", 8: "PCMA", 9: "G722", 18: "G729"}


def test_wav_pcm16_is_encoded_with_our_g711() -> None:
    samples = [0, 1000, -1000, 32767, -32768]
    wav = _wav(struct.pack("<5h", *samples))
    assert load_media("x.wav", wav, "PCMU").data == bytes([0xFF, 0xCE, 0x4E, 0x80, 0x00])
    assert load_media("x.wav", wav, "PCMA").data == bytes([0xD5, 0xFA, 0x7A, 0xAA, 0x2A])


def test_wav_g711_is_passed_through_or_transcoded() -> None:
    ulaw = bytes([0xFF, 0xCE, 0x4E])
    wav = _wav(ulaw, tag=7, bits=8)
    assert load_media("u.wav", wav, "PCMU").data == ulaw
    via_linear = bytes(linear_to_alaw(ulaw_to_linear(b)) for b in ulaw)
    assert load_media("u.wav", wav, "PCMA").data == via_linear == bytes([0xD5, 0xFB, 0x7B])
    alaw_wav = _wav(bytes([0xD5, 0xFA]), tag=6, bits=8)
    assert load_media("a.wav", alaw_wav, "PCMA").data == bytes([0xD5, 0xFA])
    # A-law 0xD5 is +8, which mu-law codes one step above its zero.
    assert transcode_g711(bytes([0xD5, 0xFA]), "PCMA", "PCMU") == bytes([0xFE, 0xCE])


@pytest.mark.parametrize(
    ("name", "content", "codec", "fragment"),
    [
        ("s.wav", _wav(bytes(4), channels=2), "PCMU", "2 channel(s) at 8000 Hz"),
        ("r.wav", _wav(bytes(4), rate=44100), "PCMU", "at 44100 Hz"),
        ("b.wav", _wav(bytes(4), bits=8), "PCMU", "8-bit"),
        ("g.wav", _wav(bytes(4)), "G729", "cannot encode a WAV file to G729"),
        ("f.wav", _wav(bytes(4), tag=85), "PCMU", "format tag 85"),
        ("e.wav", _wav(b""), "PCMU", "data chunk is empty"),
        ("n.wav", b"RIFF\x04\x00\x00\x00WAVE", "PCMU", "no data chunk"),
        ("o.wav", b"RIFF\x0c\x00\x00\x00WAVEdata\x00\x00\x00\x00", "PCMU", "before any fmt"),
        ("t.wav", b"RIFF\x0c\x00\x00\x00WAVEfmt \x02\x00\x00\x00ab", "PCMU", "too short"),
        ("empty.raw", b"", "PCMU", "the file is empty"),
        ("x.raw", b"\x00", "opus/48000", "codec 'opus/48000' is not supported"),
    ],
)
def test_errors_are_one_line_naming_the_file(
    name: str, content: bytes, codec: str, fragment: str
) -> None:
    with pytest.raises(MediaFileError) as info:
        load_media(name, content, codec)
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    assert fragment in message
    assert "\n" not in message


@given(st.binary(max_size=120), st.sampled_from(["PCMU", "PCMA", "G722", "G729"]))
def test_loader_raises_only_media_file_error(content: bytes, codec: str) -> None:
    for data in (content, b"RIFF\x00\x00\x00\x00WAVE" + content):
        try:
            media = load_media("f", data, codec)
        except MediaFileError:
            continue
        assert b"".join(media.frames())[: len(media.data)] == media.data


def test_read_media_file_reads_and_names_unreadable_files(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "hello.wav"
    path.write_bytes(_wav(struct.pack("<2h", 0, 1000)))
    assert read_media_file(str(path), "PCMU/8000").data == bytes([0xFF, 0xCE])
    missing = tmp_path / "nope.ulaw"
    with pytest.raises(MediaFileError) as info:
        read_media_file(str(missing), "PCMU")
    assert str(info.value) == f"{missing}: cannot read the media file: No such file or directory"
    with pytest.raises(MediaFileError, match="cannot read the media file: Is a directory"):
        read_media_file(str(tmp_path), "PCMU")
