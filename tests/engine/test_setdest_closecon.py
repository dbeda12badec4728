"""``<setdest>`` and ``<closecon/>`` in the engine (sipp-reference 2.5), on the simulated network.

setdest: the call's later messages go to the new address: over UDP from the same socket, over
TCP (``-t tn``) on a new connection to it, the old one closed; a protocol other than the run's,
a name instead of an address, or a shared connection end the run (exit 255) as SIPp's ERROR
does. closecon: the call lets go of its socket, closing it when it is the call's own; a later
send of the call fails it (FailedCannotSendMessage).
"""

from __future__ import annotations

import pathlib
from typing import Any

import trio

from gossipper.errors import ExitStatus
from gossipper.interfaces import Address
from gossipper.sim import SimNetwork, SimTransportFactory
from gossipper.sip import parse_message
from gossipper.stats import FailureReason
from tests.engine._harness import builtin, run_pair, scenario_text

OTHER: Address = ("10.0.0.3", 5070)

_UAC_HEAD = """<?xml version="1.0"?>
<scenario name="uac">
  <send><![CDATA[
INVITE sip:service@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: a <sip:a@[local_ip]:[local_port]>;tag=[call_number]
To: <sip:service@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:a@[local_ip]:[local_port]>
Content-Length: 0

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200"/>
  <send><![CDATA[
ACK sip:service@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: a <sip:a@[local_ip]:[local_port]>;tag=[call_number]
To: <sip:service@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Content-Length: 0

]]></send>
"""

_BYE = """
  <send><![CDATA[
BYE sip:service@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: a <sip:a@[local_ip]:[local_port]>;tag=[call_number]
To: <sip:service@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Content-Length: 0

]]></send>
  <recv response="200"/>
"""


def uac(middle: str, *, bye: bool = True) -> str:
    return _UAC_HEAD + middle + (_BYE if bye else "") + "</scenario>\n"


def nop(action: str) -> str:
    return f"  <nop><action>{action}</action></nop>\n"


def setdest(host: str, port: int, protocol: str) -> str:
    return nop(f'<setdest host="{host}" port="{port}" protocol="{protocol}"/>')


def ok_for(request: bytes) -> bytes:
    """A 200 OK answering ``request`` (Via, From, To, Call-ID and CSeq copied)."""
    message = parse_message(request)
    lines = ["SIP/2.0 200 OK"]
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        value = message.header(name)
        assert value is not None
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


def test_udp_setdest_sends_the_rest_of_the_call_to_the_new_address(
    tmp_path: pathlib.Path,
) -> None:
    other_received: list[bytes] = []

    async def other_peer(network: SimNetwork, client: Any, server: Any) -> None:
        endpoint = await SimTransportFactory(network, OTHER[0]).open_datagram(*OTHER)
        for data, source in await endpoint.receive_batch():
            other_received.append(data)
            endpoint.send_nowait(ok_for(data), source)

    result = run_pair(
        scenario_text(tmp_path, "c.xml", uac(setdest(*OTHER, "udp"))),
        builtin("uas"),
        client_options={"max_calls": 1},
        server_options={"recv_timeout_s": 2.0},
        during=other_peer,
    )
    client = result.client.snapshot.cumulative
    assert (client.successful_calls, client.failed_calls) == (1, 0)
    assert [data.split(b" ", 1)[0] for data in other_received] == [b"BYE"]
    # The usual peer saw the INVITE and the ACK, then nothing: its call timed out.
    assert result.server is not None
    assert result.server.snapshot.cumulative.failure(FailureReason.TIMEOUT_ON_RECV) == 1


def test_tcp_setdest_opens_a_connection_to_the_new_address_and_closes_the_old(
    tmp_path: pathlib.Path,
) -> None:
    other_received: list[bytes] = []
    links_seen: list[int] = []

    async def other_peer(network: SimNetwork, client: Any, server: Any) -> None:
        listener = await SimTransportFactory(network, OTHER[0]).open_stream_listener(*OTHER)
        connection = await listener.accept()
        data = await connection.receive_some(65536)
        other_received.append(data)
        # The old connection is closed: the server side sees its link go.
        links_seen.append(server.statistics().open_call_sockets)
        await connection.send_all(ok_for(data))
        with trio.move_on_after(1.0):
            while await connection.receive_some(65536):
                pass

    result = run_pair(
        scenario_text(tmp_path, "c.xml", uac(setdest(*OTHER, "tcp"))),
        builtin("uas"),
        client_options={"max_calls": 1, "transport_mode": "tn"},
        server_options={"transport_mode": "t1", "recv_timeout_s": 2.0},
        during=other_peer,
    )
    client = result.client.snapshot.cumulative
    assert (client.successful_calls, client.failed_calls) == (1, 0)
    assert len(other_received) == 1 and other_received[0].startswith(b"BYE ")
    assert links_seen == [0]


def test_tcp_setdest_to_an_address_without_listener_fails_the_call(
    tmp_path: pathlib.Path,
) -> None:
    result = run_pair(
        scenario_text(tmp_path, "c.xml", uac(setdest(*OTHER, "tcp"))),
        builtin("uas"),
        client_options={"max_calls": 1, "transport_mode": "tn"},
        server_options={"transport_mode": "t1", "recv_timeout_s": 2.0},
    )
    client = result.client.snapshot.cumulative
    assert client.failed_calls == 1
    assert client.failure(FailureReason.TCP_CONNECT) == 1


def _fatal(tmp_path: pathlib.Path, action: str, mode: str = "u1") -> Any:
    return run_pair(
        scenario_text(tmp_path, "c.xml", uac(action)),
        builtin("uas"),
        client_options={"max_calls": 1, "transport_mode": mode},
        server_options={"transport_mode": "t1" if mode != "u1" else "u1"},
    )


def test_setdest_errors_end_the_run_like_sipp(tmp_path: pathlib.Path) -> None:
    cases = [
        (setdest(*OTHER, "tcp"), "u1", "cannot switch the call from UDP to TCP"),
        (setdest("proxy.example", 5070, "udp"), "u1", "is not a numeric IP address"),
        (setdest(*OTHER, "tcp"), "t1", "a connection of its own"),
    ]
    for action, mode, text in cases:
        result = _fatal(tmp_path, action, mode)
        assert result.client.exit_status is ExitStatus.FATAL, text
        assert text in (result.client.fatal_message or ""), result.client.fatal_message


def test_udp_setdest_accepts_an_ipv6_address(tmp_path: pathlib.Path) -> None:
    # Nobody listens there: the BYE is sent (no error), the call waits for its 200 in vain.
    result = run_pair(
        scenario_text(
            tmp_path,
            "c.xml",
            uac(setdest("fd00::5", 5070, "udp")).replace(
                '<recv response="200"/>\n</scenario>',
                '<recv response="200" timeout="500"/>\n</scenario>',
            ),
        ),
        builtin("uas"),
        client_options={"max_calls": 1},
        server_options={"recv_timeout_s": 1.0},
    )
    assert result.client.exit_status is ExitStatus.CALLS_FAILED
    assert result.client.snapshot.cumulative.failure(FailureReason.TIMEOUT_ON_RECV) == 1


def test_tn_closecon_closes_the_call_connection(tmp_path: pathlib.Path) -> None:
    links: list[int] = []

    async def watch(network: SimNetwork, client: Any, server: Any) -> None:
        await trio.sleep(0.5)
        links.append(client.statistics().open_call_sockets)
        await trio.sleep(1.0)
        links.append(client.statistics().open_call_sockets)

    scenario = uac(
        '  <pause milliseconds="1000"/>\n'
        + nop("<closecon/>")
        + '  <pause milliseconds="1000"/>\n',
        bye=False,
    )
    result = run_pair(
        scenario_text(tmp_path, "c.xml", scenario),
        builtin("uas"),
        client_options={"max_calls": 1, "transport_mode": "tn"},
        server_options={"transport_mode": "t1", "recv_timeout_s": 3.0},
        during=watch,
    )
    # Open during the first pause, closed during the second, while the call still runs.
    assert links == [1, 0]
    client = result.client.snapshot.cumulative
    assert (client.successful_calls, client.failed_calls) == (1, 0)


def test_a_send_after_closecon_fails_the_call(tmp_path: pathlib.Path) -> None:
    for mode in ("u1", "un", "tn"):
        result = run_pair(
            scenario_text(tmp_path, "c.xml", uac(nop("<closecon/>"))),
            builtin("uas"),
            client_options={"max_calls": 2, "rate": 10, "transport_mode": mode},
            server_options={
                "transport_mode": "t1" if mode == "tn" else "u1",
                "recv_timeout_s": 2.0,
            },
        )
        client = result.client.snapshot.cumulative
        assert client.failed_calls == 2, mode
        assert client.failure(FailureReason.CANNOT_SEND_MESSAGE) == 2, mode
