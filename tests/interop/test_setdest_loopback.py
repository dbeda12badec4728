"""``<setdest>`` with real processes and sockets on loopback, over UDP and TCP.

A gossipper UAC sets up a call with one gossipper UAS, then ``<setdest>`` sends its BYE to a
second gossipper UAS (a scenario that starts with the BYE): over UDP from the same socket, over
TCP (``-t tn``) on a new connection. The first UAS never sees the BYE (its call times out), the
second answers it, and the UAC's call succeeds.
"""

from __future__ import annotations

import pathlib

import pytest

from tests.engine.test_setdest_closecon import uac
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

BYE_ONLY_UAS = """<?xml version="1.0"?>
<scenario name="bye_only">
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
</scenario>
"""


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_setdest_moves_the_bye_to_another_uas(tmp_path: pathlib.Path, protocol: str) -> None:
    action = f'<setdest host="{LOOPBACK}" port="[other_port]" protocol="{protocol}"/>'
    (tmp_path / "uac.xml").write_text(uac(f"  <nop><action>{action}</action></nop>\n"))
    (tmp_path / "bye_only.xml").write_text(BYE_ONLY_UAS)
    free_port = free_udp_port if protocol == "udp" else free_tcp_port
    wait = wait_for_udp_listener if protocol == "udp" else wait_for_tcp_listener
    server_mode = "u1" if protocol == "udp" else "t1"
    first_port, other_port = free_port(), free_port()
    while other_port == first_port:
        other_port = free_port()
    first = start(
        gossipper_command(
            "-sn", "uas", "-t", server_mode, "-i", LOOPBACK, "-p", str(first_port), "-m", "1",
            "-recv_timeout", "3s", "-nostdin",
        ),
        tmp_path,
    )  # fmt: skip
    other = start(
        gossipper_command(
            "-sf", "bye_only.xml", "-t", server_mode, "-i", LOOPBACK, "-p", str(other_port),
            "-m", "1", "-nostdin",
        ),
        tmp_path,
    )  # fmt: skip
    wait(first_port, first)
    wait(other_port, other)
    client = start(
        gossipper_command(
            "-sf", "uac.xml", f"{LOOPBACK}:{first_port}", "-t",
            "u1" if protocol == "udp" else "tn", "-i", LOOPBACK, "-m", "1", "-nostdin",
            "-key", "other_port", str(other_port), "-recv_timeout", "5s",
        ),
        tmp_path,
    )  # fmt: skip
    client_rc, client_out, client_err = finish(client, 60)
    other_rc, other_out, other_err = finish(other, 60)
    first_rc, first_out, first_err = finish(first, 60)
    assert client_rc == 0, client_out[-2000:] + client_err[-2000:]
    assert other_rc == 0, other_out[-2000:] + other_err[-2000:]
    # The first UAS got the INVITE and the ACK, never the BYE: its call timed out (exit 1).
    assert first_rc == 1, first_out[-2000:] + first_err[-2000:]
