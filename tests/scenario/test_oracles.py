"""Byte-for-byte comparisons with messages written by SIPp 3.6.1 (sipp-samples)."""

from __future__ import annotations

import os
import pathlib
import re
import time

import pytest

from gossipper.scenario import compute_route_set, load_scenario, load_scenario_text, run_actions
from gossipper.scenario.injection import parse_injection_text
from gossipper.scenario.model import Scenario
from gossipper.scenario.tdm import TdmMap
from gossipper.sip import parse_message
from tests.scenario._support import context, env, messages_from_log

SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "data" / "sipp-samples"
if not SAMPLES.is_dir():  # pragma: no cover - the repository copy
    SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "shared" / "reference" / "sipp-samples"


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _send(scenario: Scenario, ctx: object, index: int) -> str:
    element = scenario.elements[index]
    assert element.template is not None
    if not element.is_response and element.method not in ("ACK", "CANCEL"):
        ctx.cseq += 1  # type: ignore[attr-defined]
    return element.template.render(ctx, index, index)  # type: ignore[arg-type]


def test_uac_messages_match_sipp() -> None:
    log = messages_from_log((SAMPLES / "uac_messages.log").read_bytes())
    run_env = env(pid=7107, local_port=5071, remote_port=5070, media_port=6004)
    scenario = load_scenario("", builtin_name="uac").bind(run_env)
    ctx = context(scenario, run_env)
    assert _send(scenario, ctx, 0).encode("latin-1") == log[0][1]
    ok = parse_message(log[2][1])
    ctx.last_message = ok
    ctx.peer_tag = ok.to_tag
    assert _send(scenario, ctx, 5).encode("latin-1") == log[3][1]


def test_uas_responses_match_sipp() -> None:
    log = messages_from_log((SAMPLES / "uac_messages.log").read_bytes())
    run_env = env(pid=7057, local_port=5070, remote_port=5071, media_port=6000)
    scenario = load_scenario("", builtin_name="uas").bind(run_env)
    ctx = context(scenario, run_env)
    ctx.last_message = parse_message(log[0][1])
    assert _send(scenario, ctx, 1).encode("latin-1") == log[1][1]  # 180
    assert _send(scenario, ctx, 2).encode("latin-1") == log[2][1]  # 200 with SDP


def test_keyword_sample_matches_sipp(
    utc: None, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SIPp ran with -tdmmap {0-3}{99}{5-8}{1-31} and gave the call circuit 3.99.6/30: circuit
    # 432 of that map (3 * 4 * 31 + 1 * 31 + 29).
    xml = (SAMPLES / "keywords_uac_scenario.xml").read_text("latin-1")
    injection = parse_injection_text(
        "users.csv", (SAMPLES / "keywords_users.csv").read_bytes().decode("latin-1")
    )
    scenario = load_scenario_text(
        xml.encode("latin-1"),
        source_label="kw.xml",
        keys={"mykey": "myvalue"},
        global_vars={"gvar": "hello"},
        injection_files=["users.csv"],
    )
    log = messages_from_log((SAMPLES / "keywords_uac_messages.log").read_bytes())
    (tmp_path / "inc.txt").write_bytes(b"FILE-CONTENT-LINE\r\n")
    monkeypatch.chdir(tmp_path)
    run_env = env(
        users=1,
        injection={"users.csv": injection},
        default_injection="users.csv",
        clock_ms=lambda: 4,
        wall_time=lambda: 1795672219.065256,
        tdm_map=TdmMap(0, 3, 99, 5, 8, 1, 31),
    )
    scenario = scenario.bind(run_env)
    ctx = context(scenario, run_env, user_id=1, injection_line=0, injection_lines={"users.csv": 0})
    ctx.tdm_circuit = 432
    assert _send(scenario, ctx, 0).encode("latin-1") == log[0][1]

    challenge = parse_message(log[1][1])
    ctx.last_message = challenge
    ctx.auth_challenge = challenge.header("WWW-Authenticate")
    register = _send(scenario, ctx, 2)
    expected = log[2][1].decode("latin-1")
    # cnonce is random: compare everything else, and the response is checked in test_auth.
    strip = re.compile(r'cnonce="[^"]*"|response="[^"]*"')
    assert strip.sub("", register) == strip.sub("", expected)
    assert ctx.auth_nonce_count == 2

    ok = parse_message(log[3][1])
    ctx.last_message = ok
    ctx.peer_tag = ok.to_tag
    ctx.route_set, ctx.next_url = compute_route_set(ok, from_response=True)
    outcome = run_actions(scenario.elements[4].actions, ctx, None)
    assert outcome.failure is None and outcome.fatal_error is None
    assert _send(scenario, ctx, 5) == log[4][1].decode("latin-1")


def test_keyword_sample_timestamp_format(utc: None) -> None:
    from gossipper.timefmt import format_log_time

    assert format_log_time(1795672219.065256) == "2026-11-26\t05:50:19.065256\t1795672219.065256"


def test_samples_directory_is_there() -> None:
    assert (SAMPLES / "uac_messages.log").is_file(), os.fspath(SAMPLES)


def test_default_bye_matches_sipp() -> None:
    # Captured from SIPp 3.6.1 aborting an established call on a receive timeout: the
    # automatic BYE is built from the last received message (the 200) with P_index -1.
    ok = parse_message(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5091;branch=z9hG4bK-2312-1-0\r\n"
        b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>;tag=abc\r\n"
        b"Call-ID: 1-2312@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:127.0.0.1:5090>\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    expected = (
        "BYE sip:x@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5091;branch=z9hG4bK-2312-1--1\r\n"
        "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>;tag=abc\r\n"
        "Call-ID: 1-2312@127.0.0.1\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\n"
        "Contact: <sip:sipp@127.0.0.1:5091;transport=UDP>\r\nContent-Length: 0\r\n\r\n"
    )
    run_env = env(pid=2312, local_port=5091, remote_port=5090)
    scenario = load_scenario("", builtin_name="uac").bind(run_env)
    ctx = context(scenario, run_env)
    ctx.last_message = ok
    assert scenario.default_messages["bye"].render(ctx, -1, 4) == expected


def test_uac_and_uas_messages_parse_and_chain() -> None:
    """uac and uas templates rendered against each other give well-formed SIP."""
    client_env = env(pid=100, local_port=5061, remote_port=5060)
    server_env = env(pid=200, local_port=5060, remote_port=5061)
    uac = load_scenario("", builtin_name="uac").bind(client_env)
    uas = load_scenario("", builtin_name="uas").bind(server_env)
    client = context(uac, client_env)
    server = context(uas, server_env)

    invite = parse_message(_send(uac, client, 0).encode("latin-1"))
    assert invite.method == "INVITE" and invite.via_branch == "z9hG4bK-100-1-0"
    server.last_message = invite
    ringing = parse_message(_send(uas, server, 1).encode("latin-1"))
    ok = parse_message(_send(uas, server, 2).encode("latin-1"))
    assert ringing.status_code == 180 and ok.status_code == 200
    assert ok.to_tag == "200SIPpTag011" and ok.call_id == invite.call_id
    assert ok.body.startswith(b"v=0\r\n") and int(ok.header("Content-Length") or 0) == len(ok.body)
    client.last_message = ok
    client.peer_tag = ok.to_tag
    ack = parse_message(_send(uac, client, 5).encode("latin-1"))
    assert ack.method == "ACK" and ack.to_tag == "200SIPpTag011"
    bye = parse_message(_send(uac, client, 7).encode("latin-1"))
    assert bye.cseq_method == "BYE" and bye.via_branch == "z9hG4bK-100-1-7"
    server.last_message = bye
    bye_ok = parse_message(_send(uas, server, 5).encode("latin-1"))
    assert bye_ok.status_code == 200 and bye_ok.cseq_method == "BYE"
    assert bye_ok.via_branch == "z9hG4bK-100-1-7"
