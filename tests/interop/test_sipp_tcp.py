"""gossipper against the real SIPp 3.6.1 over TCP (-t t1 and tn), both directions.

SIPp's Debian build has no TLS, so TLS and WebSocket interop is tested against Kamailio
(test_kamailio_*.py). Each case runs 500 calls and compares what both sides counted.

SIPp's uas fails calls still in their closing ``<timewait>`` when a ``tn`` client closes the
connection at the end of its call (SIPp's own uac does that too: SIPp against SIPp fails about
half of its uas calls). gossipper does not (docs/compatibility.md); so SIPp's uas runs here
with gossipper's uas scenario minus the ``<timewait>``.
"""

from __future__ import annotations

import pathlib

import pytest

from gossipper.scenario import builtin_path
from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_tcp_port,
    gossipper_command,
    gossipper_counts,
    sipp_counts,
    start,
    wait_for_tcp_listener,
)

pytestmark = pytest.mark.interop

CALLS = 500
RATE = "200"
# SIPp refuses to start when -max_socket (default 50,000) exceeds the open-file limit.
SIPP_MAX_SOCKET = ("-max_socket", "2000")


def _gossipper_uas(port: int, mode: str, tmp: pathlib.Path) -> list[str]:
    return gossipper_command(
        "-sn", "uas", "-t", mode, "-i", LOOPBACK, "-p", str(port), "-m", str(CALLS),
        "-nostdin", "-summary_json", str(tmp / "uas.json"),
    )  # fmt: skip


def _gossipper_uac(port: int, mode: str, tmp: pathlib.Path) -> list[str]:
    return gossipper_command(
        "-sn", "uac", "-t", mode, f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-m", str(CALLS),
        "-r", RATE, "-nostdin", "-summary_json", str(tmp / "uac.json"),
    )  # fmt: skip


def _sipp(sipp: str, role: str, mode: str, tmp: pathlib.Path, *args: str) -> list[str]:
    return [
        sipp, *(() if "-sf" in args else ("-sn", role)), "-t", mode, "-i", LOOPBACK, "-nostdin",
        "-m", str(CALLS),
        *SIPP_MAX_SOCKET, "-trace_stat", "-stf", str(tmp / f"sipp_{role}.csv"), "-fd", "1",
        *args,
    ]  # fmt: skip


@pytest.mark.parametrize("mode", ["t1", "tn"])
def test_gossipper_uac_against_sipp_uas_over_tcp(
    sipp_binary: str, tmp_path: pathlib.Path, mode: str
) -> None:
    port = free_tcp_port()
    scenario = tmp_path / "uas_no_timewait.xml"
    text = builtin_path("uas").read_text()
    scenario.write_text("".join(line for line in text.splitlines(True) if "<timewait" not in line))
    uas = start(
        _sipp(sipp_binary, "uas", mode, tmp_path, "-p", str(port), "-sf", str(scenario)),
        tmp_path,
    )
    wait_for_tcp_listener(port, uas)
    uac = start(_gossipper_uac(port, mode, tmp_path), tmp_path)
    uac_rc, uac_out, uac_err = finish(uac)
    uas_rc, uas_out, uas_err = finish(uas)
    assert uac_rc == 0, uac_out[-2000:] + uac_err[-2000:]
    assert uas_rc == 0, uas_out[-2000:] + uas_err[-2000:]
    ours = gossipper_counts(tmp_path / "uac.json")
    theirs = sipp_counts(tmp_path / "sipp_uas.csv")
    assert ours.created == ours.successful == CALLS
    assert theirs.created == theirs.successful == CALLS
    assert ours.failed == theirs.failed == 0
    assert ours.retransmissions == theirs.retransmissions == 0


@pytest.mark.parametrize("mode", ["t1", "tn"])
def test_sipp_uac_against_gossipper_uas_over_tcp(
    sipp_binary: str, tmp_path: pathlib.Path, mode: str
) -> None:
    port = free_tcp_port()
    uas = start(_gossipper_uas(port, mode, tmp_path), tmp_path)
    wait_for_tcp_listener(port, uas)
    uac = start(
        _sipp(sipp_binary, "uac", mode, tmp_path, f"{LOOPBACK}:{port}", "-r", RATE), tmp_path
    )
    uac_rc, uac_out, uac_err = finish(uac)
    uas_rc, uas_out, uas_err = finish(uas)
    assert uac_rc == 0, uac_out[-2000:] + uac_err[-2000:]
    assert uas_rc == 0, uas_out[-2000:] + uas_err[-2000:]
    ours = gossipper_counts(tmp_path / "uas.json")
    theirs = sipp_counts(tmp_path / "sipp_uac.csv")
    assert theirs.created == theirs.successful == CALLS
    assert ours.created == ours.successful == CALLS
    assert ours.failed == theirs.failed == 0


@pytest.mark.parametrize("mode", ["t1", "tn"])
def test_gossipper_uac_against_gossipper_uas_over_tcp(tmp_path: pathlib.Path, mode: str) -> None:
    port = free_tcp_port()
    uas = start(_gossipper_uas(port, mode, tmp_path), tmp_path)
    wait_for_tcp_listener(port, uas)
    uac = start(_gossipper_uac(port, mode, tmp_path), tmp_path)
    uac_rc, uac_out, uac_err = finish(uac)
    uas_rc, uas_out, uas_err = finish(uas)
    assert uac_rc == 0, uac_out[-2000:] + uac_err[-2000:]
    assert uas_rc == 0, uas_out[-2000:] + uas_err[-2000:]
    client = gossipper_counts(tmp_path / "uac.json")
    server = gossipper_counts(tmp_path / "uas.json")
    assert client.created == client.successful == CALLS
    assert server.created == server.successful == CALLS
