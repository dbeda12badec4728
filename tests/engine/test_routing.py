"""Dialog routing in the engine, on the simulated network under virtual time.

SIPp's rules (sipp-reference sections 1.12 and 4): ``rrs="true"`` records the route set from
Record-Route (reversed on the UAC, from a response; in order on the UAS, from a request) and
the remote target from Contact; a strict first hop (no ``;lr``) becomes the Request-URI and the
Contact the last route. ``[next_url]`` falls back to ``[last_Request_URI]`` when nothing was
recorded, and the automatic messages of an aborted call follow the dialog: BYE and the ACK of a
200 go to the remote target along the route set; CANCEL and the ACK of an error response keep
the INVITE's Request-URI. Every path is checked over UDP, and the main ones over TCP.
"""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest
import trio

from gossipper.stats import FailureReason
from tests.engine._harness import run_pair, scenario_text

_INVITE = """
  <send retrans="500"><![CDATA[
INVITE sip:service@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: a <sip:a@[local_ip]:[local_port]>;tag=[call_number]
To: {to}
Call-ID: [call_id]
CSeq: 1 INVITE
{extra}Contact: <sip:uac@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Length: 0

]]></send>
"""

_IN_DIALOG = """
  <send><![CDATA[
{method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: a <sip:a@[local_ip]:[local_port]>;tag=[call_number]
To: <sip:service@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: {cseq} {method}
Content-Length: 0

]]></send>
"""


def uac(body: str, *, to: str = "<sip:service@[remote_ip]:[remote_port]>", extra: str = "") -> str:
    invite = _INVITE.format(to=to, extra=extra)
    return f'<?xml version="1.0"?>\n<scenario name="uac">{invite}{body}</scenario>\n'


def in_dialog(method: str, cseq: int) -> str:
    return _IN_DIALOG.format(method=method, cseq=cseq)


def answer(code: str, extra: str = "") -> str:
    return f"""
  <send><![CDATA[
SIP/2.0 {code}
[last_Via:]
[last_From:]
[last_To:];tag=uas[call_number]
[last_Call-ID:]
[last_CSeq:]
{extra}Content-Length: 0

]]></send>
"""


_REPLY_200 = """
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
"""

LOOSE_RR = (
    "Record-Route: <sip:p1.example:5070;lr>\n"
    "Record-Route: <sip:p2.example:5080;lr>, <sip:p3.example;lr>\n"
    "Contact: <sip:uas@[local_ip]:[local_port];transport=[transport]>\n"
)
"""A 200's routing headers: the UAC's route set is them reversed, its target the Contact."""

LOOSE_ROUTE = "Route: <sip:p3.example;lr>, <sip:p2.example:5080;lr>, <sip:p1.example:5070;lr>"


def uas(body: str) -> str:
    return f'<?xml version="1.0"?>\n<scenario name="uas">{body}</scenario>\n'


def run(
    tmp_path: pathlib.Path,
    client: str,
    server: str,
    *,
    mode: str = "u1",
    client_options: dict[str, Any] | None = None,
    during: Any = None,
) -> tuple[Any, str, str]:
    """Run one call; the client's and the server's message logs."""
    options = {"transport_mode": mode, "trace_msg": True}
    result = run_pair(
        scenario_text(tmp_path, "c.xml", client),
        scenario_text(tmp_path, "s.xml", server),
        client_options={"max_calls": 1, **options, **(client_options or {})},
        server_options=options,
        directory=tmp_path,
        during=during,
    )
    client_log = (tmp_path / "c_100_messages.log").read_text()
    server_log = (tmp_path / "s_200_messages.log").read_text()
    return result, client_log, server_log


def sent(log: str, method: str) -> list[str]:
    """The messages of ``method`` the log shows as sent, each as its header lines."""
    found = []
    for block in log.split("-----------------------------------------------"):
        if " message sent " not in block:
            continue
        text = block.split("\n\n", 1)[1].strip("\n")
        if text.startswith(method + " "):
            found.append(text.replace("\r", ""))
    return found


def header(message: str, name: str) -> str | None:
    for line in message.split("\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line
    return None


def branch(message: str) -> str:
    via = header(message, "Via") or ""
    match = re.search(r"branch=([^;\s]+)", via)
    assert match is not None, via
    return match.group(1)


@pytest.mark.parametrize("mode", ["u1", "t1"])
def test_uac_route_set_is_reversed_and_the_target_is_the_contact(
    tmp_path: pathlib.Path, mode: str
) -> None:
    client = uac(
        '<recv response="200" rrs="true"/>'
        + in_dialog("ACK", 1)
        + in_dialog("BYE", 2)
        + '<recv response="200"/>'
    )
    server = uas(
        '<recv request="INVITE"/>'
        + answer("200 OK", LOOSE_RR)
        + '<recv request="ACK"/><recv request="BYE"/>'
        + _REPLY_200
    )
    result, log, _ = run(tmp_path, client, server, mode=mode)
    assert result.client.snapshot.cumulative.successful_calls == 1
    transport = "UDP" if mode == "u1" else "TCP"
    for method in ("ACK", "BYE"):
        (message,) = sent(log, method)
        first = message.split("\n")[0]
        assert first == f"{method} sip:uas@10.0.0.2:5060;transport={transport} SIP/2.0"
        assert header(message, "Route") == LOOSE_ROUTE


@pytest.mark.parametrize("mode", ["u1", "t1"])
def test_uas_route_set_keeps_the_order_of_the_request(tmp_path: pathlib.Path, mode: str) -> None:
    record_route = "Record-Route: <sip:r1.example;lr>, <sip:r2.example;lr>\n"
    client = uac(
        '<recv response="200"/>' + in_dialog("ACK", 1) + '<recv request="BYE"/>' + _REPLY_200,
        extra=record_route,
    )
    server = uas(
        '<recv request="INVITE" rrs="true"/>'
        + answer("200 OK", "Contact: <sip:uas@[local_ip]:[local_port]>\n")
        + '<recv request="ACK"/>'
        + """
  <send><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
[last_To:]
[last_From:]
Call-ID: [call_id]
CSeq: 7 BYE
Content-Length: 0

]]></send>
  <recv response="200"/>
"""
    )
    result, _, server_log = run(tmp_path, client, server, mode=mode)
    assert result.client.snapshot.cumulative.successful_calls == 1
    (bye,) = sent(server_log, "BYE")
    transport = "UDP" if mode == "u1" else "TCP"
    assert bye.split("\n")[0] == f"BYE sip:uac@10.0.0.1:5061;transport={transport} SIP/2.0"
    assert header(bye, "Route") == "Route: <sip:r1.example;lr>, <sip:r2.example;lr>"


def test_strict_first_hop_becomes_the_request_uri(tmp_path: pathlib.Path) -> None:
    # Reversed, the route set starts with the strict router (no ;lr): it is the Request-URI,
    # and the remote target (the Contact) goes last in the Route header.
    strict = (
        "Record-Route: <sip:p1.example;lr>, <sip:strict.example:5090>\n"
        "Contact: <sip:uas@[local_ip]:[local_port]>\n"
    )
    client = uac('<recv response="200" rrs="true"/>' + in_dialog("ACK", 1))
    server = uas('<recv request="INVITE"/>' + answer("200 OK", strict) + '<recv request="ACK"/>')
    result, log, _ = run(tmp_path, client, server)
    assert result.client.snapshot.cumulative.successful_calls == 1
    (ack,) = sent(log, "ACK")
    assert ack.split("\n")[0] == "ACK sip:strict.example:5090 SIP/2.0"
    assert header(ack, "Route") == "Route: <sip:p1.example;lr>, <sip:uas@10.0.0.2:5060>"


def test_next_url_without_a_route_set_falls_back_to_the_last_request_uri(
    tmp_path: pathlib.Path,
) -> None:
    # Issue 10: SIPp 3.6.1 sent "ACK  SIP/2.0" here.
    client = uac('<recv response="404"/>' + in_dialog("ACK", 1))
    server = uas('<recv request="INVITE"/>' + answer("404 Not Found") + '<recv request="ACK"/>')
    result, log, _ = run(tmp_path, client, server)
    assert result.client.snapshot.cumulative.successful_calls == 1
    (ack,) = sent(log, "ACK")
    assert ack.split("\n")[0] == "ACK sip:service@10.0.0.2:5060 SIP/2.0"
    assert header(ack, "Route") is None


def test_next_url_uses_the_sent_request_uri_when_to_has_no_brackets(
    tmp_path: pathlib.Path,
) -> None:
    client = uac(
        '<recv response="404"/>' + in_dialog("ACK", 1), to="sip:service@[remote_ip]:[remote_port]"
    )
    server = uas('<recv request="INVITE"/>' + answer("404 Not Found") + '<recv request="ACK"/>')
    _, log, _ = run(tmp_path, client, server)
    (ack,) = sent(log, "ACK")
    assert ack.split("\n")[0] == "ACK sip:service@10.0.0.2:5060 SIP/2.0"


_WAIT_FOR_INFO = '<recv request="INFO" timeout="1000"/>'


async def _press_q(network: Any, client: Any, server: Any) -> None:
    await trio.sleep(1.0)
    client.force_quit("Q")  # what key Q (and a second q) does


@pytest.mark.parametrize("how", ["recv_timeout", "global_timeout", "key_q"])
@pytest.mark.parametrize("mode", ["u1", "t1"])
def test_automatic_bye_follows_the_dialog(tmp_path: pathlib.Path, how: str, mode: str) -> None:
    # Issue 10: after an rrs dialog the automatic BYE (recv timeout, or -timeout / key Q:
    # abort_now) went out as "BYE  SIP/2.0" with branch -1--1 and no Route.
    wait = _WAIT_FOR_INFO if how == "recv_timeout" else '<pause milliseconds="60000"/>'
    client = uac('<recv response="200" rrs="true"/>' + in_dialog("ACK", 1) + wait)
    server = uas(
        '<recv request="INVITE"/>'
        + answer("200 OK", LOOSE_RR)
        + '<recv request="ACK"/><recv request="BYE"/>'
        + _REPLY_200
    )
    options = {"timeout_s": 2.0} if how == "global_timeout" else {}
    during = _press_q if how == "key_q" else None
    result, log, _ = run(tmp_path, client, server, mode=mode, client_options=options, during=during)
    client_stats = result.client.snapshot.cumulative
    assert client_stats.failed_calls == 1
    if how == "recv_timeout":
        assert client_stats.failure(FailureReason.TIMEOUT_ON_RECV) == 1
    (bye,) = sent(log, "BYE")
    transport = "UDP" if mode == "u1" else "TCP"
    assert bye.split("\n")[0] == f"BYE sip:uas@10.0.0.2:5060;transport={transport} SIP/2.0"
    assert header(bye, "Route") == LOOSE_ROUTE
    assert re.fullmatch(r"z9hG4bK-100-1-\d+", branch(bye)), branch(bye)
    assert header(bye, "CSeq") == "CSeq: 2 BYE"
    # The UAS got the BYE and completed its scenario.
    assert result.server is not None
    assert result.server.snapshot.cumulative.successful_calls == 1


def test_automatic_bye_without_route_set_uses_the_last_request_uri(
    tmp_path: pathlib.Path,
) -> None:
    client = uac(
        '<recv response="200"/>' + in_dialog("ACK", 1) + _WAIT_FOR_INFO,
        to="sip:service@[remote_ip]:[remote_port]",
    )
    server = uas(
        '<recv request="INVITE"/>'
        + answer("200 OK", "Contact: <sip:uas@[local_ip]:[local_port]>\n")
        + '<recv request="ACK"/><recv request="BYE"/>'
        + _REPLY_200
    )
    _, log, _ = run(tmp_path, client, server)
    (bye,) = sent(log, "BYE")
    # No route set recorded: the INVITE's Request-URI (the To has no <...>), and no Route.
    assert bye.split("\n")[0] == "BYE sip:service@10.0.0.2:5060 SIP/2.0"
    assert header(bye, "Route") is None


def test_automatic_ack_of_a_200_and_bye_follow_the_dialog(tmp_path: pathlib.Path) -> None:
    # The call fails after the 200 and before its ACK: SIPp's abort sends ACK then BYE.
    client = uac('<recv response="200" rrs="true"/>' + _WAIT_FOR_INFO + in_dialog("ACK", 1))
    server = uas(
        '<recv request="INVITE"/>'
        + answer("200 OK", LOOSE_RR)
        + '<recv request="ACK"/><recv request="BYE"/>'
        + _REPLY_200
    )
    result, log, _ = run(tmp_path, client, server)
    (ack,) = sent(log, "ACK")
    (bye,) = sent(log, "BYE")
    for message in (ack, bye):
        assert message.split("\n")[0].split(" ")[1] == "sip:uas@10.0.0.2:5060;transport=UDP"
        assert header(message, "Route") == LOOSE_ROUTE
    invite_branch = "z9hG4bK-100-1-0"
    # The ACK of a 200 is a transaction of its own: a branch unlike the INVITE's and the BYE's.
    assert len({invite_branch, branch(ack), branch(bye)}) == 3
    assert result.server is not None
    assert result.server.snapshot.cumulative.successful_calls == 1


def test_automatic_cancel_keeps_the_invite_request_uri(tmp_path: pathlib.Path) -> None:
    # Even with a route set recorded from the 180: CANCEL belongs to the INVITE transaction
    # (RFC 3261 section 9.1), same Request-URI and Via branch, no dialog route.
    client = uac('<recv response="180" rrs="true"/><recv response="200" timeout="500"/>')
    server = uas(
        '<recv request="INVITE"/>'
        + answer("180 Ringing", LOOSE_RR)
        + '<recv request="CANCEL"/>'
        + _REPLY_200
    )
    result, log, _ = run(tmp_path, client, server)
    (cancel,) = sent(log, "CANCEL")
    assert cancel.split("\n")[0] == "CANCEL sip:service@10.0.0.2:5060 SIP/2.0"
    assert header(cancel, "Route") is None
    assert branch(cancel) == "z9hG4bK-100-1-0"
    assert result.client.snapshot.cumulative.failure(FailureReason.TIMEOUT_ON_RECV) == 1


def test_automatic_ack_of_an_error_keeps_the_invite_request_uri(tmp_path: pathlib.Path) -> None:
    client = uac('<recv response="200"/>')
    server = uas(
        '<recv request="INVITE"/>'
        + answer("486 Busy Here", "Contact: <sip:uas@[local_ip]:[local_port]>\n")
        + '<recv request="ACK"/>'
    )
    result, log, _ = run(tmp_path, client, server)
    (ack,) = sent(log, "ACK")
    assert ack.split("\n")[0] == "ACK sip:service@10.0.0.2:5060 SIP/2.0"
    assert header(ack, "Route") is None
    assert branch(ack) == "z9hG4bK-100-1-0"
    assert result.client.snapshot.cumulative.failure(FailureReason.UNEXPECTED_MESSAGE) == 1
