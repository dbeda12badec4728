"""SIPp's per-call execution model, checked on the in-memory network under virtual time."""

from __future__ import annotations

import pathlib

import pytest

from gossipper.errors import ExitStatus
from gossipper.stats import FailureReason
from tests.engine._harness import builtin, run_pair, scenario_text

UAS_486 = """<?xml version="1.0"?>
<scenario name="busy">
  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]busy[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
]]></send>
  <recv request="ACK"/>
</scenario>
"""

UAC_TIMEOUT = """<?xml version="1.0"?>
<scenario name="recv timeout">
  <send><![CDATA[
OPTIONS sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: a <sip:a@[local_ip]>;tag=[call_number]
To: b <sip:b@[remote_ip]>
Call-ID: [call_id]
CSeq: [cseq] OPTIONS
Content-Length: 0
]]></send>
  <recv response="200" timeout="2000" ontimeout="gave_up"/>
  <label id="gave_up"/>
</scenario>
"""

UAC_RECV_TIMEOUT_FAIL = UAC_TIMEOUT.replace(' ontimeout="gave_up"', "").replace(
    '  <label id="gave_up"/>\n', ""
)


def counts(result_engine: object, index: int) -> tuple[int, int, int, int]:
    element = result_engine.stats.elements[index]  # type: ignore[attr-defined]
    return element.messages, element.retrans, element.timeouts, element.unexpected


def test_uac_against_uas_all_calls_succeed() -> None:
    result = run_pair(builtin("uac"), builtin("uas"), client_options={"max_calls": 10, "rate": 10})
    client = result.client.snapshot.cumulative
    assert result.client.exit_status is ExitStatus.SUCCESS
    assert (client.outgoing_calls, client.successful_calls, client.failed_calls) == (10, 10, 0)
    assert result.server is not None
    server = result.server.snapshot.cumulative
    assert (server.incoming_calls, server.successful_calls, server.failed_calls) == (10, 10, 0)
    engine = result.client_engine
    assert counts(engine, 0) == (10, 0, 0, 0)  # INVITE sent
    assert counts(engine, 2)[0] == 10  # 180 received
    assert counts(engine, 4)[0] == 10  # 200 received
    assert counts(engine, 8)[0] == 10  # 200 to BYE
    assert client.retransmissions == 0
    # 10 calls at 10 cps: the last starts at 0.9 s and each lasts about no time at all.
    assert 0.9 <= result.duration_s < 2.0


def test_invite_to_a_silent_peer_follows_sipp_retransmission_timers() -> None:
    result = run_pair(builtin("uac"), None, client_options={"max_calls": 1, "rate": 1})
    engine = result.client_engine
    # As in SIPp, the first call of -r 1 starts after 1 s; then T1=500 ms doubling,
    # 5 retransmissions, failure at 0.5+1+2+4+8+16 = 31.5 s after the INVITE.
    assert counts(engine, 0) == (1, 5, 1, 0)
    snapshot = result.client.snapshot
    assert snapshot.cumulative.failed_calls == 1
    assert snapshot.cumulative.failure(FailureReason.MAX_UDP_RETRANS) == 1
    assert snapshot.cumulative.retransmissions == 5
    assert result.duration_s == pytest.approx(1.0 + 31.5, abs=0.01)
    assert result.client.exit_status is ExitStatus.CALLS_FAILED


def test_max_invite_retrans_and_nr() -> None:
    limited = run_pair(
        builtin("uac"), None, client_options={"max_calls": 1, "max_invite_retrans": 2, "rate": 1}
    )
    assert counts(limited.client_engine, 0) == (1, 2, 1, 0)
    assert limited.duration_s == pytest.approx(1.0 + 3.5, abs=0.01)
    disabled = run_pair(
        builtin("uac"),
        None,
        client_options={"max_calls": 1, "no_retrans": True, "timeout_s": 5.0},
    )
    assert counts(disabled.client_engine, 0) == (1, 0, 0, 0)


def test_486_is_unexpected_and_acknowledged(tmp_path: pathlib.Path) -> None:
    result = run_pair(
        builtin("uac"),
        scenario_text(tmp_path, "busy.xml", UAS_486),
        client_options={"max_calls": 3, "rate": 10},
    )
    client = result.client.snapshot.cumulative
    assert client.failed_calls == 3
    assert client.failure(FailureReason.UNEXPECTED_MESSAGE) == 3
    # As in sipp-samples/failing_uac_screen.log: charged to the 200, not the optional 100.
    assert counts(result.client_engine, 4)[3] == 3
    assert counts(result.client_engine, 1)[3] == 0
    assert result.server is not None
    server = result.server.snapshot.cumulative
    # The abort logic ACKed every 486, so the UAS completed its scenario.
    assert (server.successful_calls, server.failed_calls) == (3, 0)
    assert result.client.exit_status is ExitStatus.CALLS_FAILED


def test_recv_timeout_with_ontimeout_label_at_end_fails(tmp_path: pathlib.Path) -> None:
    result = run_pair(
        scenario_text(tmp_path, "t.xml", UAC_TIMEOUT),
        None,
        client_options={"max_calls": 1, "no_retrans": True, "rate": 1},
    )
    engine = result.client_engine
    assert counts(engine, 1)[2] == 1  # Timeout column of the recv
    assert result.client.snapshot.cumulative.failed_calls == 1
    assert result.duration_s == pytest.approx(1.0 + 2.0, abs=0.01)


def test_recv_timeout_without_label_is_timeout_on_recv(tmp_path: pathlib.Path) -> None:
    result = run_pair(
        scenario_text(tmp_path, "t.xml", UAC_RECV_TIMEOUT_FAIL),
        None,
        client_options={"max_calls": 1, "no_retrans": True, "rate": 1},
    )
    snapshot = result.client.snapshot.cumulative
    assert snapshot.failure(FailureReason.TIMEOUT_ON_RECV) == 1


def test_default_recv_timeout_option_applies(tmp_path: pathlib.Path) -> None:
    result = run_pair(
        builtin("uac"),
        None,
        client_options={"max_calls": 1, "no_retrans": True, "recv_timeout_s": 3.0, "rate": 1},
    )
    assert result.client.snapshot.cumulative.failure(FailureReason.TIMEOUT_ON_RECV) == 1
    assert result.duration_s == pytest.approx(1.0 + 3.0, abs=0.01)


def test_users_mode_keeps_n_calls_running() -> None:
    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={"users": 5, "max_calls": 25, "pause_default_s": 1.0},
    )
    client = result.client.snapshot
    assert client.cumulative.successful_calls == 25
    assert client.peak_calls == 5
    # Five waves of one-second calls.
    assert 5.0 <= result.duration_s < 6.0


def test_open_call_limit_delays_calls_without_dropping_them() -> None:
    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={
            "max_calls": 20,
            "rate": 100,
            "max_open_calls": 2,
            "pause_default_s": 1.0,
        },
    )
    client = result.client.snapshot
    assert client.cumulative.successful_calls == 20
    assert client.peak_calls == 2
    assert result.duration_s >= 10.0


def test_pause_uses_dash_d() -> None:
    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={"max_calls": 1, "pause_default_s": 2.5, "rate": 1},
    )
    assert result.duration_s == pytest.approx(1.0 + 2.5, abs=0.05)


def test_per_call_sockets_mode_un() -> None:
    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={"max_calls": 5, "rate": 10, "transport_mode": "un"},
    )
    assert result.client.snapshot.cumulative.successful_calls == 5
    assert result.server is not None
    assert result.server.snapshot.cumulative.successful_calls == 5
    # Every per-call socket was closed again.
    assert result.client_engine.statistics().open_call_sockets == 0


def test_malformed_and_stray_datagrams_are_counted_not_fatal() -> None:
    from gossipper.sim import SimTransportFactory

    async def inject(network, client, server) -> None:  # type: ignore[no-untyped-def]
        import trio

        stray = await SimTransportFactory(network, "10.0.0.9").open_datagram("10.0.0.9", 0)
        await trio.sleep(0.25)
        for junk in (b"", b"\x00\xff garbage", b"INVITE\r\n\r\n", b"SIP/2.0 999\r\n\r\n" * 3):
            stray.send_nowait(junk, ("10.0.0.2", 5060))
        # A well-formed response for a Call-ID nobody knows: out of call on the client.
        response = (
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.9\r\nFrom: <sip:a@b>;tag=1\r\n"
            b"To: <sip:b@c>;tag=2\r\nCall-ID: nobody@here\r\nCSeq: 1 INVITE\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        stray.send_nowait(response, ("10.0.0.1", 5061))

    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={"max_calls": 10, "rate": 10},
        during=inject,
    )
    assert result.client.snapshot.cumulative.successful_calls == 10
    assert result.client.snapshot.cumulative.out_of_call_msgs == 1
    assert result.server_engine is not None and result.server is not None
    assert result.server_engine.statistics().malformed_messages == 4
    assert result.server.snapshot.cumulative.successful_calls == 10
    assert result.server.snapshot.cumulative.warnings >= 4


UAC_UNEXP_MAIN = """<?xml version="1.0"?>
<scenario name="unexp main">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: a <sip:a@[local_ip]>;tag=[call_number]
To: b <sip:b@[remote_ip]>
Call-ID: [call_id]
CSeq: [cseq] INVITE
Content-Length: 0
]]></send>
  <recv response="200" next="done"/>
  <label id="_unexp.main"/>
  <recv response="486"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-2]
From: a <sip:a@[local_ip]>;tag=[call_number]
To: b <sip:b@[remote_ip]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Content-Length: 0
]]></send>
  <label id="done"/>
</scenario>
"""


def test_unexp_main_label_takes_unexpected_messages(tmp_path: pathlib.Path) -> None:
    result = run_pair(
        scenario_text(tmp_path, "unexp.xml", UAC_UNEXP_MAIN),
        scenario_text(tmp_path, "busy.xml", UAS_486),
        client_options={"max_calls": 3, "rate": 10},
    )
    client = result.client.snapshot.cumulative
    # The 486 went to _unexp.main, which acknowledged it: no unexpected-message failure.
    assert (client.successful_calls, client.failed_calls) == (3, 0)
    assert counts(result.client_engine, 2)[0] == 3  # recv 486 under _unexp.main
    assert counts(result.client_engine, 1)[3] == 0
    assert result.server is not None
    assert result.server.snapshot.cumulative.successful_calls == 3


def _options(call_id: str) -> bytes:
    return (
        "OPTIONS sip:x@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:40000;branch=z9hG4bK-1\r\n"
        "From: <sip:s@10.0.0.9>;tag=9\r\nTo: <sip:x@10.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def test_auto_answer_and_dead_call_messages() -> None:
    from gossipper.sim import SimTransportFactory

    answers: list[bytes] = []

    async def inject(network, client, server) -> None:  # type: ignore[no-untyped-def]
        import trio

        stray = await SimTransportFactory(network, "10.0.0.9").open_datagram("10.0.0.9", 0)
        await trio.sleep(1.0)
        stray.send_nowait(_options("unknown@10.0.0.9"), ("10.0.0.1", 5061))
        await trio.sleep(2.5)
        # Call 1 (Call-ID "1-100@10.0.0.1") ended at about 2 s: a late message is a dead-call msg.
        stray.send_nowait(_options("1-100@10.0.0.1"), ("10.0.0.1", 5061))
        with trio.move_on_after(1.0):
            for data, _ in await stray.receive_batch():
                answers.append(data)

    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={"max_calls": 2, "rate": 0.5, "auto_answer": True},
        during=inject,
    )
    client = result.client.snapshot.cumulative
    assert client.successful_calls == 2
    assert client.auto_answered == 1
    assert client.dead_call_msgs == 1
    assert answers and answers[0].startswith(b"SIP/2.0 200 OK\r\n")
    assert b"CSeq: 7 OPTIONS" in answers[0]
    # Rendered from the scenario's default 200 (the same template as in a call): the transport
    # name comes from the transport, the address through [local_ip] (bracketed for IPv6).
    assert b"Contact: <sip:10.0.0.1:5061;transport=UDP>\r\n" in answers[0]


BRANCHES = """<?xml version="1.0"?>
<scenario name="branches">
  <nop counter="init">
    <action><assign assign_to="flag" value="{flag}"/></action>
  </nop>
  <nop condexec="flag" next="end" test="flag" counter="first"/>
  <nop condexec="flag" condexec_inverse="true" next="end" chance="0" counter="second"/>
  <nop next="end" chance="1" counter="third"/>
  <nop counter="fourth"/>
  <label id="end"/>
</scenario>
"""


@pytest.mark.parametrize(
    ("flag", "executed"),
    [
        # flag unset: the first nop is skipped and, its test variable being unset, the call
        # steps to the next one; chance 0 never branches, chance 1 always does.
        ("0", ["init", "second", "third"]),
        # flag set: the first nop runs and branches to the end label.
        ("1", ["init", "first"]),
    ],
)
def test_condexec_test_and_chance_choose_the_next_element(
    tmp_path: pathlib.Path, flag: str, executed: list[str]
) -> None:
    scenario = scenario_text(tmp_path, "branches.xml", BRANCHES.format(flag=flag))
    result = run_pair(scenario, None, client_options={"max_calls": 1, "rate": 1})
    assert result.client.snapshot.cumulative.successful_calls == 1
    stats = result.client_engine.stats
    ran = [
        name
        for name, count in zip(stats.counter_names, stats.generic_counters, strict=True)
        if count
    ]
    assert ran == executed


def _response(status: str, tag: str) -> str:
    return f"""  <send><![CDATA[
SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:];tag={tag}
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
]]></send>
"""


UAC_TAGS = """<?xml version="1.0"?>
<scenario name="tags">
  <send><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: a <sip:a@[local_ip]>;tag=[call_number]
To: b <sip:b@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 INVITE
Content-Length: 0
]]></send>
  <recv response="180"/>
  <recv response="183"/>
  <recv response="180"/>
  <recv response="183"/>
  <recv response="200"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: a <sip:a@[local_ip]>;tag=[call_number]
To: b <sip:b@[remote_ip]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Content-Length: 0
]]></send>
</scenario>
"""


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (("one", "two", "two", "one", "one"), "one"),  # back to an earlier To value
        (("one", "one", "two", "two", "three"), "three"),
    ],
)
def test_peer_tag_follows_every_response(
    tmp_path: pathlib.Path, tags: tuple[str, ...], expected: str
) -> None:
    # [peer_tag_param] carries the To tag of the last response, however the To values of
    # the responses before it repeat or change.
    statuses = ("180 Ringing", "183 Progress", "180 Ringing", "183 Progress", "200 OK")
    responses = "".join(_response(s, t) for s, t in zip(statuses, tags, strict=True))
    uas = f"""<?xml version="1.0"?>
<scenario name="tagger">
  <recv request="INVITE"/>
{responses}  <recv request="ACK">
    <action>
      <ereg regexp="tag={expected}$" search_in="hdr" header="To:" check_it="true"
            assign_to="dummy"/>
    </action>
  </recv>
  <Reference variables="dummy"/>
</scenario>
"""
    result = run_pair(
        scenario_text(tmp_path, "uac_tags.xml", UAC_TAGS),
        scenario_text(tmp_path, "uas_tags.xml", uas),
        client_options={"max_calls": 2, "rate": 10},
    )
    assert result.client.snapshot.cumulative.successful_calls == 2
    assert result.server is not None
    server = result.server.snapshot.cumulative
    assert (server.successful_calls, server.failed_calls) == (2, 0)
