"""gossipper against the real SIPp 3.6.1 on loopback UDP.

Each test runs both programs as separate processes with SIPp's own command line, and compares
what both sides counted (SIPp's statistics CSV, gossipper's summary JSON). In CI these run; a
missing sipp fails the run (see conftest.py).
"""

from __future__ import annotations

import pathlib

import pytest

from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_udp_port,
    gossipper_command,
    gossipper_counts,
    sipp_counts,
    start,
    wait_for_udp_listener,
)

pytestmark = pytest.mark.interop

DATA = pathlib.Path(__file__).parent / "data"
CALLS = 500
RATE = "100"


def _sipp_uas(sipp: str, port: int, tmp: pathlib.Path, *extra: str) -> list[str]:
    return [
        sipp, "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-nostdin", "-m", str(CALLS),
        "-trace_stat", "-stf", str(tmp / "sipp_uas.csv"), "-fd", "1", *extra,
    ]  # fmt: skip


def test_gossipper_uac_against_sipp_uas(sipp_binary: str, tmp_path: pathlib.Path) -> None:
    port = free_udp_port()
    uas = start(_sipp_uas(sipp_binary, port, tmp_path), tmp_path)
    wait_for_udp_listener(port, uas)
    uac = start(
        gossipper_command(
            "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-p", str(free_udp_port()),
            "-m", str(CALLS), "-r", RATE, "-nostdin", "-summary_json", str(tmp_path / "uac.json"),
        ),
        tmp_path,
    )  # fmt: skip
    uac_rc, uac_out, uac_err = finish(uac)
    uas_rc, _, uas_err = finish(uas)
    assert uac_rc == 0, uac_out[-2000:] + uac_err[-2000:]
    assert uas_rc == 0, uas_err[-2000:]
    ours = gossipper_counts(tmp_path / "uac.json")
    theirs = sipp_counts(tmp_path / "sipp_uas.csv")
    assert ours.created == ours.successful == CALLS
    assert theirs.created == theirs.successful == CALLS
    assert ours.failed == theirs.failed == 0


def test_sipp_uac_against_gossipper_uas(sipp_binary: str, tmp_path: pathlib.Path) -> None:
    port = free_udp_port()
    uas = start(
        gossipper_command(
            "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-m", str(CALLS), "-nostdin",
            "-summary_json", str(tmp_path / "uas.json"),
        ),
        tmp_path,
    )  # fmt: skip
    wait_for_udp_listener(port, uas)
    uac = start(
        [
            sipp_binary, "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK,
            "-p", str(free_udp_port()), "-m", str(CALLS), "-r", RATE, "-nostdin",
            "-trace_stat", "-stf", str(tmp_path / "sipp_uac.csv"), "-fd", "1",
        ],
        tmp_path,
    )  # fmt: skip
    uac_rc, _, uac_err = finish(uac)
    uas_rc, uas_out, uas_err = finish(uas)
    assert uac_rc == 0, uac_err[-2000:]
    assert uas_rc == 0, uas_out[-2000:] + uas_err[-2000:]
    ours = gossipper_counts(tmp_path / "uas.json")
    theirs = sipp_counts(tmp_path / "sipp_uac.csv")
    assert theirs.created == theirs.successful == CALLS
    assert ours.created == ours.successful == CALLS
    assert ours.failed == theirs.failed == 0


def test_gossipper_uac_against_gossipper_uas(tmp_path: pathlib.Path) -> None:
    port = free_udp_port()
    uas = start(
        gossipper_command(
            "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-m", str(CALLS), "-nostdin",
            "-summary_json", str(tmp_path / "uas.json"),
        ),
        tmp_path,
    )  # fmt: skip
    wait_for_udp_listener(port, uas)
    uac = start(
        gossipper_command(
            "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-p", str(free_udp_port()),
            "-m", str(CALLS), "-r", RATE, "-nostdin", "-summary_json", str(tmp_path / "uac.json"),
        ),
        tmp_path,
    )  # fmt: skip
    uac_rc, uac_out, uac_err = finish(uac)
    uas_rc, uas_out, uas_err = finish(uas)
    assert uac_rc == 0, uac_out[-2000:] + uac_err[-2000:]
    assert uas_rc == 0, uas_out[-2000:] + uas_err[-2000:]
    client = gossipper_counts(tmp_path / "uac.json")
    server = gossipper_counts(tmp_path / "uas.json")
    assert client.created == client.successful == CALLS
    assert server.created == server.successful == CALLS


def test_gossipper_retransmissions_recover_sipp_losses(
    sipp_binary: str, tmp_path: pathlib.Path
) -> None:
    calls = 100
    port = free_udp_port()
    uas = start(
        [
            sipp_binary, "-sf", str(DATA / "uas_lossy.xml"), "-i", LOOPBACK, "-p", str(port),
            "-nostdin", "-m", str(calls), "-trace_stat", "-stf", str(tmp_path / "sipp_uas.csv"),
            "-fd", "1",
        ],
        tmp_path,
    )  # fmt: skip
    wait_for_udp_listener(port, uas)
    uac = start(
        gossipper_command(
            "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-p", str(free_udp_port()),
            "-m", str(calls), "-r", "50", "-nostdin", "-summary_json", str(tmp_path / "uac.json"),
        ),
        tmp_path,
    )  # fmt: skip
    uac_rc, uac_out, uac_err = finish(uac, timeout_s=180)
    uas_rc, _, uas_err = finish(uas, timeout_s=180)
    ours = gossipper_counts(tmp_path / "uac.json")
    theirs = sipp_counts(tmp_path / "sipp_uas.csv")
    # SIPp dropped about 10% of the INVITEs and BYEs; our timers must have re-sent them.
    assert ours.retransmissions > 0
    assert uac_rc == 0, uac_out[-2000:] + uac_err[-2000:]
    assert ours.successful == calls and ours.failed == 0
    assert theirs.created == calls
    assert uas_rc == 0, uas_err[-2000:]


def _run_uac_pair(
    uac_command: list[str], uas_command: list[str], port: int, tmp_path: pathlib.Path
) -> tuple[int, int]:
    uas = start(uas_command, tmp_path)
    wait_for_udp_listener(port, uas)
    uac = start(uac_command, tmp_path)
    uac_rc, uac_out, uac_err = finish(uac)
    uas_rc, uas_out, uas_err = finish(uas)
    return uac_rc, uas_rc


def test_486_rejections_are_counted_alike(sipp_binary: str, tmp_path: pathlib.Path) -> None:
    calls = 20
    uas_xml = str(DATA / "uas_486.xml")

    def sipp_uas(port: int, stat: str) -> list[str]:
        return [
            sipp_binary, "-sf", uas_xml, "-i", LOOPBACK, "-p", str(port), "-nostdin",
            "-m", str(calls), "-trace_stat", "-stf", str(tmp_path / stat), "-fd", "1",
        ]  # fmt: skip

    # Reference: SIPp uac against SIPp's 486 UAS.
    port = free_udp_port()
    rc_uac_ref, rc_uas_ref = _run_uac_pair(
        [
            sipp_binary, "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-nostdin",
            "-p", str(free_udp_port()), "-m", str(calls), "-r", "20",
            "-trace_stat", "-stf", str(tmp_path / "ref_uac.csv"), "-fd", "1",
        ],
        sipp_uas(port, "ref_uas.csv"),
        port,
        tmp_path,
    )  # fmt: skip
    # gossipper uac against the same SIPp UAS.
    port = free_udp_port()
    rc_uac_ours, rc_sipp_uas = _run_uac_pair(
        gossipper_command(
            "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-nostdin",
            "-p", str(free_udp_port()), "-m", str(calls), "-r", "20",
            "-summary_json", str(tmp_path / "ours_uac.json"),
        ),
        sipp_uas(port, "sipp_uas_2.csv"),
        port,
        tmp_path,
    )  # fmt: skip
    # SIPp uac against the gossipper 486 UAS.
    port = free_udp_port()
    rc_sipp_uac, rc_uas_ours = _run_uac_pair(
        [
            sipp_binary, "-sn", "uac", f"{LOOPBACK}:{port}", "-i", LOOPBACK, "-nostdin",
            "-p", str(free_udp_port()), "-m", str(calls), "-r", "20",
            "-trace_stat", "-stf", str(tmp_path / "sipp_uac_3.csv"), "-fd", "1",
        ],
        gossipper_command(
            "-sf", uas_xml, "-i", LOOPBACK, "-p", str(port), "-nostdin", "-m", str(calls),
            "-summary_json", str(tmp_path / "ours_uas.json"),
        ),
        port,
        tmp_path,
    )  # fmt: skip

    ref_uac = sipp_counts(tmp_path / "ref_uac.csv")
    ref_uas = sipp_counts(tmp_path / "ref_uas.csv")
    ours_uac = gossipper_counts(tmp_path / "ours_uac.json")
    ours_uas = gossipper_counts(tmp_path / "ours_uas.json")
    assert ref_uac.failed == ref_uac.failed_unexpected == calls
    assert (ours_uac.failed, ours_uac.failed_unexpected, ours_uac.successful) == (
        ref_uac.failed,
        ref_uac.failed_unexpected,
        ref_uac.successful,
    )
    assert (ours_uas.created, ours_uas.successful, ours_uas.failed) == (
        ref_uas.created,
        ref_uas.successful,
        ref_uas.failed,
    )
    assert rc_uac_ref == rc_uac_ours == 1
    assert rc_uas_ref == rc_uas_ours == 0
    # SIPp's side of the mixed runs: its UAS saw every ACK of gossipper's uac (a missing or
    # wrong ACK fails its call), and its uac counted gossipper's 486s as it counts SIPp's.
    sipp_uas = sipp_counts(tmp_path / "sipp_uas_2.csv")
    assert rc_sipp_uas == 0
    assert (sipp_uas.created, sipp_uas.successful, sipp_uas.failed) == (
        ref_uas.created,
        ref_uas.successful,
        ref_uas.failed,
    )
    assert sipp_uas.retransmissions == ref_uas.retransmissions == 0
    sipp_uac = sipp_counts(tmp_path / "sipp_uac_3.csv")
    assert rc_sipp_uac == 1
    assert (sipp_uac.created, sipp_uac.failed, sipp_uac.failed_unexpected, sipp_uac.successful) == (
        ref_uac.created,
        ref_uac.failed,
        ref_uac.failed_unexpected,
        ref_uac.successful,
    )
    assert ref_uas.created == ref_uac.created == calls


@pytest.mark.parametrize(("password", "accepted"), [("secret", True), ("not-the-secret", False)])
def test_digest_answer_checked_by_sipp_verifyauth(
    sipp_binary: str, tmp_path: pathlib.Path, password: str, accepted: bool
) -> None:
    """SIPp challenges every REGISTER with a 401 (its own nonce per call) and checks
    gossipper's [authentication] answer with verifyauth: 200 when right, 403 when not. The
    wrong password must be refused, or the check proves nothing."""
    calls = 5
    port = free_udp_port()
    rc_uac, rc_uas = _run_uac_pair(
        gossipper_command(
            "-sf", str(DATA / "uac_register_auth.xml"), f"{LOOPBACK}:{port}", "-i", LOOPBACK,
            "-p", str(free_udp_port()), "-m", str(calls), "-r", "10", "-nostdin",
            "-au", "alice", "-ap", password, "-summary_json", str(tmp_path / "uac.json"),
            # A refused REGISTER is aborted; SIPp's abort logic (and gossipper's) would send a
            # BYE after it, which SIPp's UAS would count as an unexpected message.
            "-default_behaviors", "all,-bye",
        ),
        [
            sipp_binary, "-sf", str(DATA / "uas_verifyauth.xml"), "-i", LOOPBACK,
            "-p", str(port), "-nostdin", "-m", str(calls),
            "-trace_stat", "-stf", str(tmp_path / "sipp_uas.csv"), "-fd", "1",
        ],
        port,
        tmp_path,
    )  # fmt: skip
    ours = gossipper_counts(tmp_path / "uac.json")
    theirs = sipp_counts(tmp_path / "sipp_uas.csv")
    assert rc_uas == 0
    assert theirs.created == theirs.successful == calls  # SIPp's scenario ends either way
    if accepted:
        assert rc_uac == 0
        assert ours.created == ours.successful == calls
    else:
        assert rc_uac == 1
        assert ours.failed == ours.failed_unexpected == calls  # a 403 where a 200 was expected
