"""Scenarios written by ``gossipper pcap2scenario`` are SIPp XML: the real SIPp 3.6.1 runs them
(its UAC against gossipper's UAS, and SIPp against SIPp), every call successful, the digest
checked by SIPp's own <verifyauth>."""

from __future__ import annotations

import pathlib

import pytest

from gossipper.capture.convert import Selection, convert
from gossipper.capture.scenarios import GenerateOptions
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

CAPTURES = pathlib.Path(__file__).parent.parent / "data" / "captures"

CASES = {
    "auth_udp.pcapng": ("u1", 1),
    "reinvite_tcp.pcapng": ("t1", 1),
    "busy_users_udp.pcap": ("u1", 3),
    "cancel_udp.pcap": ("u1", 1),
    "callee_bye_udp.pcapng": ("u1", 1),
}


def _stat(tmp: pathlib.Path, name: str) -> tuple[str, ...]:
    return ("-trace_stat", "-stf", str(tmp / f"{name}.csv"), "-fd", "1")


@pytest.mark.parametrize("server", ["sipp", "gossipper"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_sipp_runs_the_generated_pair(
    sipp_binary: str, tmp_path: pathlib.Path, name: str, server: str
) -> None:
    mode, calls = CASES[name]
    _, (pair,) = convert(
        str(CAPTURES / name), str(tmp_path / "out"), Selection(), GenerateOptions(password="s3")
    )
    port = free_tcp_port() if mode == "t1" else free_udp_port()
    inject = ("-inf", pair.csv_path) if pair.csv_path else ()
    common = ("-t", mode, "-i", LOOPBACK, "-nostdin", "-m", str(calls), *inject)
    server_args = ("-sf", pair.uas_path, "-p", str(port), *common)
    if server == "sipp":
        uas_command = [sipp_binary, *server_args, "-trace_logs"]
    else:
        uas_command = gossipper_command(*server_args, "-trace_logs")
    uas = start(uas_command, tmp_path)
    (wait_for_tcp_listener if mode == "t1" else wait_for_udp_listener)(port, uas)
    uac = start(
        [
            sipp_binary, f"{LOOPBACK}:{port}", "-sf", pair.uac_path, *common, "-s", "service",
            "-r", "5", "-timeout", "30", *_stat(tmp_path, "uac"),
        ],
        tmp_path,
    )  # fmt: skip
    uac_rc, uac_out, uac_err = finish(uac)
    uas_rc, uas_out, uas_err = finish(uas)
    assert uac_rc == 0, uac_out[-2000:] + uac_err[-2000:]
    assert uas_rc == 0, uas_out[-2000:] + uas_err[-2000:]
    if name.startswith("auth"):
        logs = list(tmp_path.glob("*_logs.log"))
        assert logs and "authentication true" in logs[0].read_text()
