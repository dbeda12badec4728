"""A gossipper<->gossipper DTLS-SRTP call whose UAC media is relayed by a real coturn
(issue 18 items 3 and 4): -turn_server/-turn_user/-turn_pass/-turn_realm allocate a relay per
call, the SDP advertises the relayed address ([turn_relay_ip]/[turn_relay_port]), the UAS
sends to the relay and sees the UAC's media come from it; the handshake and the SRTP run
through the relay (permission and channel bound for the UAS). A wrong password fails the call
with turn_auth_failed, before its INVITE."""

from __future__ import annotations

import json
import pathlib

import pytest

from tests.interop.test_turn_coturn import PASSWORD, REALM, USER, coturn  # noqa: F401
from tests.media.calls import media_rows
from tests.media.secure import require
from tests.media.secure.test_dtls_calls import (
    DATA,
    SILENT_PORT,
    TONE_PACKETS,
    prepare,
    run_pair,
    run_uac_alone,
)

pytestmark = pytest.mark.interop

require("pylibsrtp")


def _uac_turn(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    uas_dir, uac_dir = prepare(tmp_path)
    (uac_dir / "uac_dtls.xml").write_text((DATA / "uac_dtls_turn.xml").read_text())
    return uas_dir, uac_dir


def test_dtls_srtp_call_relayed_by_coturn(
    coturn: tuple[str, int],  # noqa: F811
    tmp_path: pathlib.Path,
) -> None:
    host, port = coturn
    uas_dir, uac_dir = _uac_turn(tmp_path)
    uac, uas, base = run_pair(
        uas_dir, uac_dir, "-turn_server", f"{host}:{port}", "-turn_user", USER,
        "-turn_pass", PASSWORD, "-turn_realm", REALM, "-trace_err",
    )  # fmt: skip
    # A failure names its reason: the screens say only "Failed call", the error logs say why.
    errors = "".join(p.read_text() for d in (uac_dir, uas_dir) for p in d.glob("*_errors.log"))
    assert uac.returncode == 0, uac.stdout[-1500:] + uac.stderr + errors[-3000:]
    assert uas.returncode == 0, uas.stdout[-1500:] + uas.stderr + errors[-3000:]
    (client,), (server,) = media_rows(uac_dir), media_rows(uas_dir)
    # The UAS talked to the relay, not to the UAC's own port: coturn carried the media.
    relay_port = int(server["remote"].rsplit(":", 1)[1])
    assert server["remote"].startswith("127.0.0.1:")
    assert relay_port not in range(base + 50, base + 100)
    assert client["remote"] == server["local"]
    for sender, receiver in ((client, server), (server, client)):
        # The UAS's first ClientHello reaches the relay before the UAC, which learns the UAS's
        # address from the 200, has a permission for it: coturn drops it and OpenSSL resends
        # it 1 s later. Frames due before the keys are not sent (never in clear text).
        assert TONE_PACKETS // 2 <= int(sender["packets_sent"]) <= TONE_PACKETS
        assert int(receiver["packets_received"]) >= int(sender["packets_sent"]) - 3
        assert int(receiver["malformed"]) == 0
    for directory in (uac_dir, uas_dir):
        media = json.loads((directory / "summary.json").read_text())["media"]
        assert media["srtp"] == {"auth_failures": 0, "replays": 0}
        assert media["secure_failures"] == {}


def test_wrong_turn_password_fails_the_call_before_its_invite(
    coturn: tuple[str, int],  # noqa: F811
    tmp_path: pathlib.Path,
) -> None:
    host, port = coturn
    uas_dir, uac_dir = _uac_turn(tmp_path)
    uac = run_uac_alone(
        uac_dir, "-turn_server", f"{host}:{port}", "-turn_user", USER,
        "-turn_pass", "not-the-password",
    )  # fmt: skip
    assert uac.returncode == 1, uac.stdout[-2000:] + uac.stderr
    document = json.loads((uac_dir / "summary.json").read_text())
    assert document["calls"]["failed"] == 1
    assert document["media"]["secure_failures"] == {"turn_auth_failed": 1}
    errors = "".join(p.read_text() for p in uac_dir.glob("*_errors.log"))
    assert "turn_auth_failed" in errors
    messages = "".join(p.read_text() for p in uac_dir.glob("*_messages.log"))
    assert f"INVITE sip:service@127.0.0.1:{SILENT_PORT} " not in messages
