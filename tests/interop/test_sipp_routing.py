"""Dialog routing through ``rrs`` against the real SIPp 3.6.1, both ways, over UDP and TCP.

The scenarios are the golden case ``routing_rrs``'s (tests/golden_csv/scenarios): the UAS
answers the INVITE with two Record-Route headers (three entries, the last on its own address
so the in-dialog requests still reach it) and a Contact, and checks with ``ereg check_it`` that
the ACK and the BYE go to its Contact with the route set reversed; the UAC records the route
set (``rrs="true"``) and sends its ACK and BYE to ``[next_url]`` with ``[routes]``. A failed
check fails the call, so each side's exit code says whether the other routed right.
"""

from __future__ import annotations

import pathlib
import re

import pytest

from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_tcp_port,
    free_udp_port,
    gossipper_command,
    start,
    wait_for_tcp_listener,
    wait_for_udp_listener,
)

pytestmark = pytest.mark.interop

SCENARIOS = pathlib.Path(__file__).parent.parent / "golden_csv" / "scenarios"
CALLS = 5


def _pair(uac: list[str], uas: list[str], port: int, cwd: pathlib.Path, mode: str = "u1") -> None:
    server = start(uas, cwd)
    if mode == "u1":
        wait_for_udp_listener(port, server)
    else:
        wait_for_tcp_listener(port, server)
    client = start(uac, cwd)
    uac_rc, uac_out, uac_err = finish(client, 60)
    uas_rc, uas_out, uas_err = finish(server, 60)
    assert uac_rc == 0, uac_out[-3000:] + uac_err[-3000:]
    assert uas_rc == 0, uas_out[-3000:] + uas_err[-3000:]


@pytest.mark.parametrize("mode", ["u1", "t1"])
def test_gossipper_uac_routes_through_the_sipp_uas_route_set(
    sipp_binary: str, tmp_path: pathlib.Path, mode: str
) -> None:
    port = free_udp_port() if mode == "u1" else free_tcp_port()
    # SIPp fails a call still in its final 1 s <timewait> when the TCP connection closes; the
    # uac lingers longer, so its last call does not end the connection under SIPp's.
    lingering = tmp_path / "uac_rrs.xml"
    lingering.write_text(
        (SCENARIOS / "uac_rrs.xml")
        .read_text()
        .replace("</scenario>", '  <timewait milliseconds="1500"/>\n</scenario>')
    )
    _pair(
        gossipper_command(
            "-sf", str(lingering), f"{LOOPBACK}:{port}", "-i", LOOPBACK,
            "-p", str(free_udp_port()), "-m", str(CALLS), "-r", "10", "-nostdin", "-t", mode,
        ),
        [
            sipp_binary, "-sf", str(SCENARIOS / "uas_rrs.xml"), "-i", LOOPBACK, "-p", str(port),
            "-m", str(CALLS), "-nostdin", "-t", mode,
        ],
        port,
        tmp_path,
        mode,
    )  # fmt: skip


@pytest.mark.parametrize("mode", ["u1", "t1"])
def test_sipp_uac_routes_through_the_gossipper_uas_route_set(
    sipp_binary: str, tmp_path: pathlib.Path, mode: str
) -> None:
    port = free_udp_port() if mode == "u1" else free_tcp_port()
    _pair(
        [
            sipp_binary, "-sf", str(SCENARIOS / "uac_rrs.xml"), f"{LOOPBACK}:{port}",
            "-i", LOOPBACK, "-p", str(free_udp_port()), "-m", str(CALLS), "-r", "10",
            "-nostdin", "-t", mode,
        ],
        gossipper_command(
            "-sf", str(SCENARIOS / "uas_rrs.xml"), "-i", LOOPBACK, "-p", str(port),
            "-m", str(CALLS), "-nostdin", "-t", mode,
        ),
        port,
        tmp_path,
        mode,
    )  # fmt: skip


def test_gossipper_automatic_bye_follows_the_route_set_to_sipp(
    sipp_binary: str, tmp_path: pathlib.Path
) -> None:
    # The gossipper call is cut by -timeout in the middle of its dialog: the automatic BYE
    # must reach SIPp's UAS at its Contact along the route set, or its check fails the call.
    uac = (SCENARIOS / "uac_rrs.xml").read_text()
    cut = uac.index('<pause milliseconds="100"/>')
    uac = uac[:cut] + '<pause milliseconds="60000"/>\n</scenario>\n'
    (tmp_path / "uac_abort.xml").write_text(uac)
    port = free_udp_port()
    server = start(
        [
            sipp_binary, "-sf", str(SCENARIOS / "uas_rrs.xml"), "-i", LOOPBACK, "-p", str(port),
            "-m", "1", "-nostdin", "-trace_msg", "-message_file", str(tmp_path / "uas_msg.log"),
        ],
        tmp_path,
    )  # fmt: skip
    wait_for_udp_listener(port, server)
    client = start(
        gossipper_command(
            "-sf", "uac_abort.xml", f"{LOOPBACK}:{port}", "-i", LOOPBACK,
            "-p", str(free_udp_port()), "-m", "1", "-timeout", "2s", "-nostdin",
        ),
        tmp_path,
    )  # fmt: skip
    uac_rc, uac_out, uac_err = finish(client, 60)
    uas_rc, uas_out, uas_err = finish(server, 60)
    # -timeout cut the gossipper call (counted failed: exit 1); the SIPp UAS's call got a BYE
    # that passed its routing checks and ended successfully.
    assert uac_rc == 1, uac_out[-3000:] + uac_err[-3000:]
    assert uas_rc == 0, uas_out[-3000:] + uas_err[-3000:]
    log = (tmp_path / "uas_msg.log").read_text()
    assert re.search(r"^BYE sip:uas@127\.0\.0\.1:\d+;transport=UDP SIP/2\.0", log, re.M), log
    assert "branch=z9hG4bK-" in log and "--1" not in log
