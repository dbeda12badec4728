"""Out-of-call scenarios (-oocsf/-oocsn) against the real SIPp 3.6.1 on loopback UDP.

A UAC under test calls SIPp's uas with long calls while a second SIPp sends it out-of-dialog
requests with fresh Call-IDs; the UAC's out-of-call scenario must answer each. The same test
runs with SIPp 3.6.1 itself as the UAC under test, so the counters gossipper writes are
compared with the ones SIPp writes for the same exchange.
"""

from __future__ import annotations

import pathlib

import pytest

from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_udp_port,
    gossipper_command,
    start,
    wait_for_udp_listener,
)

pytestmark = pytest.mark.interop

DATA = pathlib.Path(__file__).parent / "data"
CALLS = 3
REQUESTS = 4


def _last_row(stat_file: pathlib.Path) -> dict[str, str]:
    lines = stat_file.read_text().splitlines()
    return dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))


def _counters(stat_file: pathlib.Path) -> dict[str, int]:
    row = _last_row(stat_file)
    names = (
        "IncomingCall(C)",
        "OutgoingCall(C)",
        "SuccessfulCall(C)",
        "FailedCall(C)",
        "AutoAnswered(C)",
        "OutOfCallMsgs(C)",
    )
    return {name: int(row[name]) for name in names}


@pytest.mark.parametrize("uac_tool", ["gossipper", "sipp"])
@pytest.mark.parametrize(
    ("ooc_option", "requester"),
    [
        (("-oocsn", "ooc_default"), "ooc_options_uac.xml"),
        (("-oocsf", str(DATA / "ooc_accept_message.xml")), "ooc_message_uac.xml"),
    ],
    ids=["oocsn-options", "oocsf-message"],
)
def test_uac_answers_out_of_call_requests_with_its_ooc_scenario(
    sipp_binary: str,
    tmp_path: pathlib.Path,
    uac_tool: str,
    ooc_option: tuple[str, str],
    requester: str,
) -> None:
    uas_port = free_udp_port()
    uac_port = free_udp_port()
    uas = start(
        [
            sipp_binary, "-sn", "uas", "-i", LOOPBACK, "-p", str(uas_port), "-nostdin",
            "-m", str(CALLS),
        ],
        tmp_path,
    )  # fmt: skip
    wait_for_udp_listener(uas_port, uas)
    uac_args = [
        "-sn", "uac", f"{LOOPBACK}:{uas_port}", "-i", LOOPBACK, "-p", str(uac_port),
        "-m", str(CALLS), "-r", "1", "-d", "4000", "-nostdin", *ooc_option,
        "-trace_stat", "-stf", str(tmp_path / "uac.csv"), "-fd", "1",
    ]  # fmt: skip
    command = gossipper_command(*uac_args) if uac_tool == "gossipper" else [sipp_binary, *uac_args]
    uac = start(command, tmp_path)
    wait_for_udp_listener(uac_port, uac)
    requests = start(
        [
            sipp_binary, "-sf", str(DATA / requester), f"{LOOPBACK}:{uac_port}", "-i", LOOPBACK,
            "-p", str(free_udp_port()), "-nostdin", "-m", str(REQUESTS), "-r", "4",
            "-trace_stat", "-stf", str(tmp_path / "requests.csv"), "-fd", "1",
        ],
        tmp_path,
    )  # fmt: skip
    req_rc, req_out, req_err = finish(requests)
    uac_rc, uac_out, uac_err = finish(uac)
    uas_rc, _, uas_err = finish(uas)
    assert req_rc == 0, req_out[-2000:] + req_err[-2000:]
    assert uac_rc == 0, uac_out[-2000:] + uac_err[-2000:]
    assert uas_rc == 0, uas_err[-2000:]
    answered = _counters(tmp_path / "requests.csv")
    assert (answered["SuccessfulCall(C)"], answered["FailedCall(C)"]) == (REQUESTS, 0)
    # What the UAC under test counted, whichever tool it is: the out-of-call calls are not
    # its calls (no incoming call), each is one AutoAnswered.
    assert _counters(tmp_path / "uac.csv") == {
        "IncomingCall(C)": 0,
        "OutgoingCall(C)": CALLS,
        "SuccessfulCall(C)": CALLS,
        "FailedCall(C)": 0,
        "AutoAnswered(C)": REQUESTS,
        "OutOfCallMsgs(C)": 0,
    }


def test_mixed_mode_gossipper_against_sipp_uac_and_uas(
    sipp_binary: str, tmp_path: pathlib.Path
) -> None:
    """SIPp 3.6.1 has no mixed mode, but one gossipper in mixed mode can face two SIPps: its
    client calls SIPp's uas, its rx scenario answers SIPp's uac."""
    uas_port = free_udp_port()
    mixed_port = free_udp_port()
    uas = start(
        [
            sipp_binary, "-sn", "uas", "-i", LOOPBACK, "-p", str(uas_port), "-nostdin",
            "-m", str(CALLS),
        ],
        tmp_path,
    )  # fmt: skip
    wait_for_udp_listener(uas_port, uas)
    mixed = start(
        gossipper_command(
            "-sn", "uac", "-rxsn", "uas", f"{LOOPBACK}:{uas_port}", "-i", LOOPBACK,
            "-p", str(mixed_port), "-m", str(CALLS), "-r", "1", "-d", "3000", "-nostdin",
            "-trace_stat", "-fd", "1",
        ),
        tmp_path,
    )  # fmt: skip
    wait_for_udp_listener(mixed_port, mixed)
    uac = start(
        [
            sipp_binary, "-sn", "uac", f"{LOOPBACK}:{mixed_port}", "-i", LOOPBACK,
            "-p", str(free_udp_port()), "-nostdin", "-m", str(CALLS), "-r", "2", "-d", "500",
            "-trace_stat", "-stf", str(tmp_path / "sipp_uac.csv"), "-fd", "1",
        ],
        tmp_path,
    )  # fmt: skip
    uac_rc, uac_out, uac_err = finish(uac)
    mixed_rc, mixed_out, mixed_err = finish(mixed)
    uas_rc, _, uas_err = finish(uas)
    assert uac_rc == 0, uac_out[-2000:] + uac_err[-2000:]
    assert mixed_rc == 0, mixed_out[-2000:] + mixed_err[-2000:]
    assert uas_rc == 0, uas_err[-2000:]
    assert _counters(tmp_path / "sipp_uac.csv")["SuccessfulCall(C)"] == CALLS
    (client_stat,) = tmp_path.glob("uac_*_.csv")
    (rx_stat,) = tmp_path.glob("uas_*_.csv")
    client = _counters(client_stat)
    rx = _counters(rx_stat)
    assert (client["OutgoingCall(C)"], client["IncomingCall(C)"]) == (CALLS, 0)
    assert (client["SuccessfulCall(C)"], client["FailedCall(C)"]) == (CALLS, 0)
    assert (rx["IncomingCall(C)"], rx["OutgoingCall(C)"]) == (CALLS, 0)
    assert (rx["SuccessfulCall(C)"], rx["FailedCall(C)"]) == (CALLS, 0)
