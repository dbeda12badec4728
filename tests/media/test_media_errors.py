"""Bad media input (issue 17 item 7): one-line errors before traffic, naming the scenario file
and line (or the option), the exit status of every scenario error."""

from __future__ import annotations

import io
import os
import pathlib
import shutil
import struct

from gossipper.cli.main import raw_main
from gossipper.errors import ExitStatus
from gossipper.media.ports import PortAllocator, PortRangeError

SCENARIOS = pathlib.Path(__file__).resolve().parents[1] / "golden_csv" / "scenarios"

_UAC_PLAYING = """<?xml version="1.0"?>
<scenario name="plays">
  <send>
<![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Call-ID: [call_id]
CSeq: 1 INVITE
Content-Length: 0

]]>
  </send>
  <nop>
    <action>
      <exec {action}/>
    </action>
  </nop>
</scenario>
"""


def _run(tmp_path: pathlib.Path, *args: str) -> tuple[int, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        status = raw_main(["sim", *args], stdout=stdout, stderr=stderr)
    finally:
        os.chdir(previous)
    return status, stderr.getvalue()


def _scenario(tmp_path: pathlib.Path, action: str) -> None:
    (tmp_path / "plays.xml").write_text(_UAC_PLAYING.format(action=action))


def _pcap_of_sip(path: pathlib.Path) -> None:
    """A valid capture whose only UDP datagram is SIP text (no RTP)."""
    payload = b"OPTIONS sip:a SIP/2.0\r\n\r\n"
    udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     b"\x7f\x00\x00\x01", b"\x7f\x00\x00\x01") + udp  # fmt: skip
    frame = b"\x00" * 12 + b"\x08\x00" + ip
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        out.write(struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame)


def test_pcap_without_rtp_is_refused_before_traffic(tmp_path: pathlib.Path) -> None:
    _pcap_of_sip(tmp_path / "sip_only.pcap")
    _scenario(tmp_path, 'play_pcap_audio="sip_only.pcap"')
    status, err = _run(tmp_path, "-sf", "plays.xml", "-m", "1")
    assert status == ExitStatus.CALLS_FAILED
    assert err.count("\n") == 1
    assert err.startswith("gossipper: error: plays.xml:15: ")
    assert "sip_only.pcap: the capture holds no RTP packet" in err


def test_not_a_pcap_is_refused(tmp_path: pathlib.Path) -> None:
    (tmp_path / "junk.pcap").write_bytes(b"this is no capture")
    _scenario(tmp_path, 'play_pcap_video="junk.pcap"')
    status, err = _run(tmp_path, "-sf", "plays.xml", "-m", "1")
    assert status == ExitStatus.CALLS_FAILED
    assert err.startswith("gossipper: error: plays.xml:15: ") and "not a pcap" in err


def test_unusable_wav_is_refused(tmp_path: pathlib.Path) -> None:
    header = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16
    ) + b"data" + struct.pack("<I", 0)  # fmt: skip
    (tmp_path / "wide.wav").write_bytes(header)
    _scenario(tmp_path, 'rtp_stream="wide.wav,1,0"')
    status, err = _run(tmp_path, "-sf", "plays.xml", "-m", "1")
    assert status == ExitStatus.CALLS_FAILED
    assert err.count("\n") == 1
    assert err.startswith("gossipper: error: plays.xml:15: ") and "wide.wav" in err


def test_missing_media_file_names_the_line(tmp_path: pathlib.Path) -> None:
    _scenario(tmp_path, 'rtp_stream="nowhere.wav"')
    status, err = _run(tmp_path, "-sf", "plays.xml", "-m", "1")
    assert status == ExitStatus.CALLS_FAILED
    assert err == (
        "gossipper: error: plays.xml:15: rtp_stream: media file 'nowhere.wav' not found"
        " (next to the scenario and in the working directory)\n"
    )


def test_port_range_too_small_for_l(tmp_path: pathlib.Path) -> None:
    for name in ("uac_rtp.xml", "uas_rtp.xml", "tone.alaw"):
        shutil.copyfile(SCENARIOS / name, tmp_path / name)
    args = ["-sf", "uac_rtp.xml", "-peer", "uas_rtp.xml", "-m", "1", "-l", "10"]
    status, err = _run(tmp_path, *args, "-min_rtp_port", "7000", "-max_rtp_port", "7009")
    assert status == ExitStatus.CALLS_FAILED
    assert err.count("\n") == 1
    assert "7000-7009 holds 5 calls' media" in err and "-l" in err


def test_port_allocator_pairs_round_robin_and_exhaustion() -> None:
    ports = PortAllocator(6001, 6009)  # even base: 6002, 6004, 6006, 6008
    assert ports.capacity == 4
    assert [ports.take() for _ in range(3)] == [6002, 6004, 6006]
    ports.give_back(6004)
    assert ports.take() == 6008  # a released pair is not reused at once
    assert ports.take() == 6004
    try:
        ports.take()
    except PortRangeError as exc:
        assert "all 4 RTP port pairs of 6002-6009 are in use" in str(exc)
    else:
        raise AssertionError("a full range must refuse")
    video = PortAllocator(6000, 6011, block=4)
    assert [video.take() for _ in range(3)] == [6000, 6004, 6008]
