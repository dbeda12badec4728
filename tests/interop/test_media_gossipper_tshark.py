"""A live gossipper UAC <-> gossipper UAS call with ``rtp_stream`` both ways, captured on
loopback by dumpcap: Wireshark's RTP stream analysis (``tshark -z rtp,streams``) reports each
stream's packets, loss and largest interarrival jitter as gossipper's per-stream figures (its
``-trace_media`` CSV) do (issue 17 item 5).

No real-time scheduling here (test_media_sipp.py runs gossipper under ``chrt``): gossipper
stamps every received datagram with the kernel's receive time (SO_TIMESTAMPNS), the moment the
capture sees it too, so a receive task that wakes late on this loaded machine no longer makes
a batch look like a burst. Jitter: within 5 %, or ``JITTER_FLOOR_MS`` for the sub-millisecond
figures of loopback, where 5 % is a few microseconds and the two stamps (the capture's at the
loopback transmit tap, the socket's on receive) are taken at different points of the kernel.
"""

from __future__ import annotations

import pathlib
import shutil

import pytest

from tests.interop.harness import LOOPBACK, finish, free_udp_port, gossipper_command, start
from tests.interop.media import (
    JITTER_FLOOR_MS,
    LoopbackCapture,
    assert_agrees_with_tshark,
    free_udp_port_block,
    read_media_csv,
    rtp_flows,
    rtp_streams,
)

pytestmark = pytest.mark.interop

SCENARIOS = pathlib.Path(__file__).resolve().parents[1] / "golden_csv" / "scenarios"
CALLS = 2


def test_gossipper_to_gossipper_figures_agree_with_tshark(
    tshark_binary: str, dumpcap_binary: str, tmp_path: pathlib.Path
) -> None:
    # Counts and loss must agree exactly in every run. Jitter is measured by two observers
    # whose stamps are taken at different points of the kernel (module docstring): when the
    # loopback's receive softirq is deferred for a packet (a loaded CI machine), that one
    # packet shifts the largest jitter by 0.1 ms or more on one side only. Such a run is
    # repeated once, with its figures printed; a second disagreement fails.
    first = _run_and_compare(tshark_binary, dumpcap_binary, tmp_path / "first")
    if first:
        print("jitter disagreed in the first run, repeating:", *first, sep="\n  ")
        second = _run_and_compare(tshark_binary, dumpcap_binary, tmp_path / "second")
        assert not second, "\n".join(["jitter disagreed twice:", *first, *second])


def _run_and_compare(tshark_binary: str, dumpcap_binary: str, tmp_path: pathlib.Path) -> list[str]:
    """One captured run; counts asserted exactly; returns the jitter disagreements."""
    uas_dir, uac_dir = tmp_path / "uas", tmp_path / "uac"
    for directory, name in ((uas_dir, "uas_rtp.xml"), (uac_dir, "uac_rtp.xml")):
        directory.mkdir(parents=True)
        shutil.copyfile(SCENARIOS / name, directory / name)
        shutil.copyfile(SCENARIOS / "tone.alaw", directory / "tone.alaw")
    # Audio only: Wireshark computes no jitter on RFC 4733 event packets (their timestamp is
    # the event's start) and compares the next audio packet with the last event's arrival,
    # while gossipper's RFC 3550 estimate takes every packet of the SSRC: with DTMF in a
    # stream the two figures measure different things (reported; see docs/media.md).
    uac_xml = uac_dir / "uac_rtp.xml"
    text = uac_xml.read_text()
    dtmf = text.index('<exec play_dtmf="15,100"/>')
    cut_from, cut_to = text.rindex("<nop>", 0, dtmf), text.index("</nop>", dtmf) + len("</nop>")
    uac_xml.write_text(text[:cut_from] + text[cut_to:])
    block = free_udp_port_block(8 * CALLS)
    uas_media, uac_media = block, block + 4 * CALLS
    uas_sip, uac_sip = free_udp_port(), free_udp_port()
    media_ports = list(range(block, block + 8 * CALLS))
    common = ["-i", LOOPBACK, "-m", str(CALLS), "-nostdin", "-trace_media"]
    with LoopbackCapture(
        dumpcap_binary, tmp_path / "run.pcap", [uas_sip, uac_sip, *media_ports]
    ) as capture:
        uas = start(
            gossipper_command(
                "-sf", "uas_rtp.xml", "-p", str(uas_sip), *common,
                "-min_rtp_port", str(uas_media), "-max_rtp_port", str(uas_media + 4 * CALLS - 1),
            ),
            uas_dir,
        )  # fmt: skip
        uac = start(
            gossipper_command(
                "-sf", "uac_rtp.xml", "-p", str(uac_sip), f"{LOOPBACK}:{uas_sip}", *common,
                "-r", "10", "-l", str(CALLS),
                "-min_rtp_port", str(uac_media), "-max_rtp_port", str(uac_media + 4 * CALLS - 1),
            ),
            uac_dir,
        )  # fmt: skip
        uac_rc, uac_out, uac_err = finish(uac, timeout_s=90)
        uas_rc, uas_out, uas_err = finish(uas, timeout_s=30)
    assert uac_rc == 0, uac_out[-2000:] + uac_err[-2000:]
    assert uas_rc == 0, uas_out[-2000:] + uas_err[-2000:]
    streams = rtp_streams(tshark_binary, capture.path, media_ports)
    flows = rtp_flows(tshark_binary, capture.path, media_ports)
    records = read_media_csv(uac_dir, "uac_rtp") + read_media_csv(uas_dir, "uas_rtp")
    assert len(records) == 2 * CALLS
    compared = 0
    disagreements: list[str] = []
    for record in records:
        assert record.packets_received > 400 and record.packets_sent > 400, record
        # The UAS may still stream for a moment after the UAC closed its call's media.
        unread = 3 if record.local_port >= uac_media else 0
        _, received = assert_agrees_with_tshark(
            record, streams, flows, unread_at_close=unread, compare_jitter=False
        )
        assert received is not None
        if record.max_jitter_ms != pytest.approx(
            received.max_jitter_ms, rel=0.05, abs=JITTER_FLOOR_MS
        ):
            disagreements.append(f"{record} / {received}")
        compared += 1
    assert compared == 2 * CALLS
    return disagreements
