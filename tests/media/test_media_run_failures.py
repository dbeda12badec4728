"""Bad media input at run time (issue 17 item 7): a call that cannot bind an RTP port pair, or
whose peer answers with SDP that has no usable media line, fails under a named reason
(``FailedMediaPorts``, ``FailedMediaSdp``) counted in the summary JSON, the gossipper stat CSV
classes and the screens; the SIPp stat CSV keeps SIPp's columns. Real sockets on loopback."""

from __future__ import annotations

import json
import pathlib
import shutil
import socket

from tests.interop.harness import free_udp_port
from tests.interop.media import free_udp_port_block
from tests.media.calls import gossipper
from tests.media.test_media_udp import SCENARIOS


def _summary(directory: pathlib.Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((directory / "summary.json").read_text())
    return document


def test_no_free_port_pair_fails_the_call_before_it_sends(tmp_path: pathlib.Path) -> None:
    shutil.copyfile(SCENARIOS / "uac_rtp.xml", tmp_path / "uac_rtp.xml")
    shutil.copyfile(SCENARIOS / "tone.alaw", tmp_path / "tone.alaw")
    base = free_udp_port_block(4)
    # Another program holds the range's only pair: the call has no media ports.
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", base))
    # Where the INVITE would go: it must never arrive.
    sip_peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip_peer.bind(("127.0.0.1", free_udp_port()))
    sip_peer.settimeout(0.0)
    try:
        uac = gossipper(
            "-sf", "uac_rtp.xml", "-i", "127.0.0.1",
            f"127.0.0.1:{sip_peer.getsockname()[1]}", "-m", "1",
            "-min_rtp_port", str(base), "-max_rtp_port", str(base + 1),
            "-summary_json", "summary.json", "-trace_err", cwd=tmp_path,
        )  # fmt: skip
        out, err = uac.communicate(timeout=60)
        try:
            leaked = sip_peer.recv(65535)
        except BlockingIOError:
            leaked = b""
    finally:
        holder.close()
        sip_peer.close()
    assert uac.returncode == 1, out[-2000:] + err
    assert leaked == b""
    summary = _summary(tmp_path)
    assert summary["calls"] == summary["calls"] | {"failed": 1, "successful": 0}  # type: ignore[operator]
    failures = summary["failures"]
    assert isinstance(failures, dict)
    assert failures["FailedMediaPorts"] == 1
    assert "FailedMediaSdp" not in failures  # gossipper's reasons only when counted
    errors = "".join(path.read_text() for path in tmp_path.glob("*_errors.log"))
    assert f"no media: no RTP port pair of {base}-{base + 1} could be bound" in errors


_UAS_NO_MEDIA = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas answering with a rejected stream">
  <recv request="INVITE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio 0 RTP/AVP 8
    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
</scenario>
"""


def test_answer_without_usable_media_fails_the_call_and_ends_the_dialog(
    tmp_path: pathlib.Path,
) -> None:
    uas_dir, uac_dir = tmp_path / "uas", tmp_path / "uac"
    uas_dir.mkdir()
    uac_dir.mkdir()
    (uas_dir / "uas.xml").write_text(_UAS_NO_MEDIA)
    shutil.copyfile(SCENARIOS / "uac_rtp.xml", uac_dir / "uac_rtp.xml")
    shutil.copyfile(SCENARIOS / "tone.alaw", uac_dir / "tone.alaw")
    sip_port = free_udp_port()
    base = free_udp_port_block(100)
    uas = gossipper(
        "-sf", "uas.xml", "-i", "127.0.0.1", "-p", str(sip_port), "-m", "1",
        "-summary_json", "summary.json", cwd=uas_dir,
    )  # fmt: skip
    try:
        uac = gossipper(
            "-sf", "uac_rtp.xml", "-i", "127.0.0.1", f"127.0.0.1:{sip_port}", "-m", "1",
            "-min_rtp_port", str(base), "-max_rtp_port", str(base + 9),
            "-summary_json", "summary.json", "-trace_stat", "-trace_format", "gossipper",
            cwd=uac_dir,
        )  # fmt: skip
        uac_out, uac_err = uac.communicate(timeout=60)
        # The UAC's tidy-up (ACK, then BYE) lets the UAS finish its scenario.
        uas_out, uas_err = uas.communicate(timeout=30)
    finally:
        uas.kill()
        uas.wait()
    assert uac.returncode == 1, uac_out[-2000:] + uac_err
    assert uas.returncode == 0, uas_out[-2000:] + uas_err
    failures = _summary(uac_dir)["failures"]
    assert isinstance(failures, dict)
    assert failures["FailedMediaSdp"] == 1
    assert "FailedMediaPorts" not in failures
    # Nothing was streamed to the rejected stream.
    media = _summary(uac_dir).get("media")
    assert not media or media["packets"]["sent"] == 0  # type: ignore[index]
    # The gossipper stat schema files it under parse_error (a bad body from the peer).
    stat_csv = next(uac_dir.glob("*_stats.log")).read_text().splitlines()
    header, last = stat_csv[0].split(","), stat_csv[-1].split(",")
    assert last[header.index("failure_parse_error")] == "1"
    assert last[header.index("failure_cancelled")] == "0"
