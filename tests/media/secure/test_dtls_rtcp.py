"""DTLS-SRTP without rtcp-mux (RFC 5764 4.1): each component has its own association, so the
RTCP port runs a second handshake (same certificate, same a=setup role) and its keys, not the
RTP component's, protect SRTCP. Two gossippers on loopback (real sockets, two processes), in
both DTLS roles; the key log (GOSSIPPER_SRTP_KEYLOG) shows which associations ran and with
which keys, the media rows that RTCP reports were received (decrypted and parsed) both ways."""

from __future__ import annotations

import base64
import pathlib

import pytest

from tests.media.calls import media_rows
from tests.media.secure import require
from tests.media.secure.test_dtls_calls import prepare, run_pair, summary

require("pylibsrtp")
require("OpenSSL")

# Long enough for each side's first RTCP report (due 2.5..5 s after the call's media opened,
# RFC 3550 6.2's randomised half interval) to arrive while the other side still listens.
LONG_PAUSE = '<pause milliseconds="6500"/>'


def _scenarios(
    tmp_path: pathlib.Path, *, uac_setup: str = "[dtls_setup]", mux: bool = False
) -> tuple[pathlib.Path, pathlib.Path]:
    uas_dir, uac_dir = prepare(tmp_path)
    for path in (uac_dir / "uac_dtls.xml", uas_dir / "uas_dtls.xml"):
        text = path.read_text().replace('<pause milliseconds="3000"/>', LONG_PAUSE)
        if mux:
            text = text.replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:8 PCMA/8000\n      a=rtcp-mux")
        if path.name == "uac_dtls.xml":
            text = text.replace("a=setup:[dtls_setup]", f"a=setup:{uac_setup}")
        path.write_text(text)
    return uas_dir, uac_dir


def _key_log(path: pathlib.Path) -> dict[tuple[int, str], tuple[str, bytes, bytes]]:
    """(local port, component) -> (suite, local key||salt, remote key||salt)."""
    found: dict[tuple[int, str], tuple[str, bytes, bytes]] = {}
    for line in path.read_text().splitlines():
        label, _call_id, media, component, local, _remote, suite, mine, theirs = line.split()
        assert label == "DTLS-SRTP" and media == "audio"
        key = (int(local.rsplit(":", 1)[1]), component)
        assert key not in found, f"two records for {key}"
        found[key] = (suite, base64.b64decode(mine), base64.b64decode(theirs))
    return found


@pytest.mark.parametrize("uac_setup", ["[dtls_setup]", "active"])
def test_rtcp_port_runs_its_own_association_without_rtcp_mux(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, uac_setup: str
) -> None:
    """``[dtls_setup]``: the UAC offers actpass and the UAS (active) is the DTLS client of
    both associations; ``active``: the UAC is the client and the UAS answers passive."""
    key_log = tmp_path / "srtp-keys.log"
    monkeypatch.setenv("GOSSIPPER_SRTP_KEYLOG", str(key_log))
    uas_dir, uac_dir = _scenarios(tmp_path, uac_setup=uac_setup)
    uac, uas, base = run_pair(uas_dir, uac_dir, "-trace_err")
    assert uac.returncode == 0, uac.stdout[-2000:] + uac.stderr
    assert uas.returncode == 0, uas.stdout[-2000:] + uas.stderr
    keys = _key_log(key_log)
    uas_rtp, uac_rtp = base, base + 50  # each side's first port pair of its range
    assert set(keys) == {
        (uas_rtp, "rtp"), (uas_rtp + 1, "rtcp"), (uac_rtp, "rtp"), (uac_rtp + 1, "rtcp"),
    }  # fmt: skip
    for component, offset in (("rtp", 0), ("rtcp", 1)):
        suite, uas_local, uas_remote = keys[(uas_rtp + offset, component)]
        suite_uac, uac_local, uac_remote = keys[(uac_rtp + offset, component)]
        # Both ends of an association exported the same keys, each sending with its own.
        assert suite == suite_uac
        assert (uas_local, uas_remote) == (uac_remote, uac_local)
    # Two associations, two handshakes: the RTCP component's keys are its own.
    assert keys[(uac_rtp, "rtp")][1:] != keys[(uac_rtp + 1, "rtcp")][1:]
    (client,), (server,) = media_rows(uac_dir), media_rows(uas_dir)
    for row in (client, server):
        # SRTCP under the RTCP association's keys arrived, authenticated and parsed.
        assert int(row["rtcp_sent"]) >= 1 and int(row["rtcp_received"]) >= 1, row
        assert row["srtp_auth_failures"] == row["srtp_replays"] == "0"
        assert int(row["packets_received"]) > 0 and row["secure_failure"] == ""
    for directory in (uac_dir, uas_dir):
        media = summary(directory)["media"]
        assert isinstance(media, dict)
        assert media["srtp"] == {"auth_failures": 0, "replays": 0}
        assert media.get("secure_failures", {}) == {}


def test_rtcp_mux_keeps_one_association(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_log = tmp_path / "srtp-keys.log"
    monkeypatch.setenv("GOSSIPPER_SRTP_KEYLOG", str(key_log))
    uas_dir, uac_dir = _scenarios(tmp_path, mux=True)
    uac, uas, base = run_pair(uas_dir, uac_dir, "-trace_err")
    assert uac.returncode == 0, uac.stdout[-2000:] + uac.stderr
    assert uas.returncode == 0, uas.stdout[-2000:] + uas.stderr
    assert set(_key_log(key_log)) == {(base, "rtp"), (base + 50, "rtp")}
    for (row,) in (media_rows(uac_dir), media_rows(uas_dir)):
        # RTCP on the RTP port, protected with the one association's keys.
        assert int(row["rtcp_received"]) >= 1, row
        assert row["srtp_auth_failures"] == "0"


def test_key_log_that_cannot_be_written_is_a_one_line_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.media.secure.test_dtls_calls import run_uac_alone

    monkeypatch.setenv("GOSSIPPER_SRTP_KEYLOG", str(tmp_path / "missing" / "keys.log"))
    _uas_dir, uac_dir = prepare(tmp_path)
    uac = run_uac_alone(uac_dir)
    assert uac.returncode != 0
    assert "GOSSIPPER_SRTP_KEYLOG" in uac.stderr and "cannot write" in uac.stderr
    assert "Traceback" not in uac.stderr


def test_silent_rtcp_port_falls_back_to_the_rtp_keys(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UAS answers a=rtcp-mux to an offer without it: the UAC then runs one association,
    the UAS (which sees no rtcp-mux from the UAC) two, and nobody answers its RTCP-port
    handshake. After -dtls_timeout the UAS warns and protects SRTCP with the RTP
    association's keys, which is what a one-association peer expects: RTCP flows both ways
    and the call succeeds."""
    key_log = tmp_path / "srtp-keys.log"
    monkeypatch.setenv("GOSSIPPER_SRTP_KEYLOG", str(key_log))
    uas_dir, uac_dir = _scenarios(tmp_path)
    path = uas_dir / "uas_dtls.xml"
    path.write_text(
        path.read_text().replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:8 PCMA/8000\n      a=rtcp-mux")
    )
    uac, uas, base = run_pair(uas_dir, uac_dir, uas_args=("-dtls_timeout", "2000", "-trace_err"))
    assert uac.returncode == 0, uac.stdout[-2000:] + uac.stderr
    assert uas.returncode == 0, uas.stdout[-2000:] + uas.stderr
    assert set(_key_log(key_log)) == {(base, "rtp"), (base + 50, "rtp")}
    errors = "".join(p.read_text() for p in uas_dir.glob("*_errors.log"))
    assert "dtls_handshake_timeout" in errors and "SRTCP uses the RTP association's keys" in errors
    for (row,) in (media_rows(uac_dir), media_rows(uas_dir)):
        assert int(row["rtcp_received"]) >= 1, row
        assert row["srtp_auth_failures"] == "0" and row["secure_failure"] == ""
