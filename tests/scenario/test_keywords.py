"""Every message keyword of sipp-reference 4 and the template rules around them."""

from __future__ import annotations

import pathlib
import random
import time

import pytest

from gossipper.errors import ScenarioError
from gossipper.scenario import (
    BasicCallContext,
    RenderError,
    RunEnv,
    Scenario,
    compile_template,
    load_scenario,
    run_actions,
)
from gossipper.scenario.injection import parse_injection_text
from gossipper.scenario.keywords import (
    SUPPRESS,
    CallNumberKeyword,
    CompileEnv,
    Keyword,
    VariableKeyword,
    keyword_param,
    split_offset,
)
from gossipper.scenario.templates import Template
from gossipper.scenario.variables import RegexpMatch
from tests.scenario._support import context, env, load, sip

INVITE_WITH_TAGS = """INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-a
v: SIP/2.0/UDP 10.0.0.8:5060;branch=z9hG4bK-b
From: <sip:alice@a>;tag=fr
To: "Bob" <sip:bob@example.com>
Call-ID: abc
CSeq: 7 INVITE
Content-Length: 0

"""

RESPONSE = """SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1
From: <sip:alice@a>;tag=fr
To: <sip:bob@example.com>;tag=peer1
Call-ID: abc
CSeq: 3 REGISTER
Contact: <sip:bob@10.0.0.1:5070>
Content-Length: 0

"""


def one(message: str, **kwargs: object) -> tuple[Scenario, BasicCallContext]:
    """Load a one-send scenario (CDATA = ``message``)."""
    scenario = load(f"<send><![CDATA[\n{message}\n]]></send>", **kwargs)
    return scenario, context(scenario)


def render(scenario: Scenario, ctx: BasicCallContext, index: int = 0) -> str:
    template = scenario.elements[index].template
    assert template is not None
    return template.render(ctx, index, index)


def header_line(text: str, name: str) -> str:
    for line in text.split("\r\n"):
        if line.startswith(name + ":"):
            return line[len(name) + 1 :].strip()
    raise AssertionError(f"{name} not in {text!r}")


def test_run_static_keywords() -> None:
    scenario, ctx = one(
        "OPTIONS sip:x SIP/2.0\nX: [service]|[remote_ip]|[remote_host]|[remote_port]|"
        "[remote_port+3]|[local_ip]|[local_ip_type]|[local_port]|[local_port-1]|[transport]|"
        "[media_ip]|[media_ip_type]|[media_port]|[media_port+2]|[pid]|[sipp_version]|[users]|"
        "[server_ip]|[rtpstream_audio_port]"
    )
    ctx.env = env(remote_host="host.example", users=3)
    expected = (
        "service|127.0.0.1|host.example|5082|5085|127.0.0.1|4|5083|5082|UDP|127.0.0.1|4|6004|"
        "6006|14406|3.6.1|3|127.0.0.1|6004"
    )
    assert header_line(render(scenario, ctx), "X") == expected
    bound = scenario.bind(ctx.env)
    template = bound.elements[0].template
    assert template is not None and template.is_static
    assert header_line(render(bound, ctx), "X") == expected


def test_ipv6_addresses_get_brackets() -> None:
    scenario, ctx = one(
        "OPTIONS sip:x SIP/2.0\n"
        "X: [remote_ip] [local_ip] [media_ip] [local_ip_type] [media_ip_type]"
    )
    ctx.env = env(remote_ip="::1", local_ip="fe80::2", media_ip="::3")
    assert header_line(render(scenario, ctx), "X") == "[::1] [fe80::2] ::3 6 6"


def test_local_port_per_call() -> None:
    scenario, ctx = one("OPTIONS sip:x SIP/2.0\nX: [local_port] [local_port+1]")
    run_env = env(per_call_local_port=True)
    bound = scenario.bind(run_env)
    ctx.env = run_env
    ctx.local_port = 40000
    assert header_line(render(bound, ctx), "X") == "40000 40001"
    template = bound.elements[0].template
    assert template is not None and not template.is_static


def test_call_identity_keywords() -> None:
    scenario, ctx = one(
        "OPTIONS sip:x SIP/2.0\nX: [call_number] [call_id] [cseq] [cseq+5] [cseq-1] [userid] "
        "[msg_index]"
    )
    ctx.cseq = 3
    ctx.user_id = 2
    ctx.call_number = 9
    ctx.call_id = "9-1@h"
    assert header_line(render(scenario, ctx), "X") == "9 9-1@h 3 8 2 2 0"


def test_branch_in_sends_actions_and_default_messages() -> None:
    scenario = load(
        """
<pause/>
<send><![CDATA[
OPTIONS sip:x SIP/2.0
X: [branch] [branch-1] [branch+2] [msg_index]
]]></send>
<nop><action><log message="[branch] [branch-1] [msg_index]"/></action></nop>
"""
    )
    ctx = context(scenario)
    ctx.call_number = 4
    assert header_line(render(scenario, ctx, 1), "X") == (
        "z9hG4bK-14406-4-1 z9hG4bK-14406-4-0 z9hG4bK-14406-4-3 1"
    )
    # In actions SIPp passes index -2: [msg_index] prints -2 and [branch] uses index - 1.
    outcome = run_actions(scenario.elements[2].actions, ctx, None)
    assert outcome.log_lines == ("z9hG4bK-14406-4-1 z9hG4bK-14406-4-0 -2",)
    bye = scenario.default_messages["bye"].render(ctx, -1, 2)
    assert "branch=z9hG4bK-14406-4--1\r\n" in bye


def test_dynamic_id_wraps() -> None:
    scenario, ctx = one("OPTIONS sip:x SIP/2.0\nX: [dynamic_id] [dynamic_id] [dynamic_id]")
    ctx.env = env(dynamic_id_start=10, dynamic_id_next=10, dynamic_id_step=4, dynamic_id_max=16)
    assert header_line(render(scenario, ctx), "X") == "10 14 10"
    assert header_line(render(scenario, ctx), "X") == "14 10 14"


@pytest.mark.parametrize(
    ("message", "content_length"),
    [
        ("OPTIONS sip:x SIP/2.0\nContent-Length: [len]\n\nabc", "    5"),
        ("OPTIONS sip:x SIP/2.0\nContent-Length: [len+10]\n\nabc", "   15"),
        ("OPTIONS sip:x SIP/2.0\nContent-Length: [len]\n\n[$v]", "   14"),
    ],
)
def test_len(message: str, content_length: str) -> None:
    scenario = load(
        '<nop><action><assignstr assign_to="v" value="twelve chars"/></action></nop>'
        f"<send><![CDATA[\n{message}\n]]></send>"
        '<Reference variables="v"/>'
    )
    ctx = context(scenario)
    run_actions(scenario.elements[0].actions, ctx, None)
    text = render(scenario, ctx, 1)
    assert f"Content-Length: {content_length}\r\n" in text


def test_len_without_body_ends_the_message() -> None:
    scenario, ctx = one("OPTIONS sip:x SIP/2.0\nContent-Length: [len]\nX-After: 1")
    # No body: SIPp writes "    0" and a blank line over the marker, ending the message there.
    assert render(scenario, ctx) == "OPTIONS sip:x SIP/2.0\r\nContent-Length:     0\r\n\r\n"


def test_peer_tag_param_routes_and_next_url() -> None:
    scenario, ctx = one("MESSAGE [next_url] SIP/2.0\n[routes]\nTo: <sip:b>[peer_tag_param]\nX: end")
    assert render(scenario, ctx) == "MESSAGE  SIP/2.0\r\nTo: <sip:b>\r\nX: end\r\n\r\n"
    ctx.peer_tag = "t1"
    ctx.route_set = "<sip:p1;lr>, <sip:p2;lr>"
    ctx.next_url = "sip:bob@10.0.0.1"
    assert render(scenario, ctx) == (
        "MESSAGE sip:bob@10.0.0.1 SIP/2.0\r\nRoute: <sip:p1;lr>, <sip:p2;lr>\r\n"
        "To: <sip:b>;tag=t1\r\nX: end\r\n\r\n"
    )


def test_next_url_falls_back_to_last_request_uri_then_to_the_sent_request_uri() -> None:
    scenario, ctx = one("ACK [next_url] SIP/2.0\n[routes]\nX: [last_Request_URI]")
    # Nothing known: empty (SIPp 3.6.1 prints nothing for both).
    assert render(scenario, ctx) == "ACK  SIP/2.0\r\nX: \r\n\r\n"
    # The Request-URI of the call's last sent request (other than ACK/CANCEL).
    ctx.request_uri = "sip:service@10.0.0.2:5060"
    assert render(scenario, ctx) == (
        "ACK sip:service@10.0.0.2:5060 SIP/2.0\r\nX: sip:service@10.0.0.2:5060\r\n\r\n"
    )
    # A last message whose To has <...>: its URI, as [last_Request_URI] (SIPp after 3.6.1).
    ctx.last_message = sip(RESPONSE)  # type: ignore[assignment]
    assert render(scenario, ctx) == (
        "ACK sip:bob@example.com SIP/2.0\r\nX: sip:bob@example.com\r\n\r\n"
    )
    # A To without <...> falls back to the sent Request-URI again.
    ctx.last_message = sip(RESPONSE.replace("To: <sip:bob@example.com>", "To: sip:bob@x"))  # type: ignore[assignment]
    assert render(scenario, ctx).startswith("ACK sip:service@10.0.0.2:5060 SIP/2.0\r\n")
    # A recorded remote target wins.
    ctx.next_url = "sip:bob@10.0.0.1:5070"
    assert render(scenario, ctx).startswith("ACK sip:bob@10.0.0.1:5070 SIP/2.0\r\n")


def test_last_headers_join_and_line_removal() -> None:
    scenario, ctx = one(
        "SIP/2.0 200 OK\n[last_Via:]\n[last_From]\n[last_To:];tag=x\n[last_X-Missing:]\n"
        "X-Inline: [last_X-Missing:] tail\n[last_Call-ID:]\n[last_CSeq:]\nContent-Length: 0"
    )
    ctx.last_message = sip(INVITE_WITH_TAGS)  # type: ignore[assignment]
    assert render(scenario, ctx) == (
        "SIP/2.0 200 OK\r\n"
        "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-a, "
        "SIP/2.0/UDP 10.0.0.8:5060;branch=z9hG4bK-b\r\n"
        "From: <sip:alice@a>;tag=fr\r\n"
        'To: "Bob" <sip:bob@example.com>;tag=x\r\n'
        "X-Inline:  tail\r\n"
        "Call-ID: abc\r\n"
        "CSeq: 7 INVITE\r\n"
        "Content-Length: 0\r\n\r\n"
    )


def test_missing_last_header_before_blank_line_swallows_it_like_sipp() -> None:
    # Observed with SIPp 3.6.1: the whitespace after the vanished line, including the blank
    # line, is swallowed, so the message ends at the length marker.
    scenario, ctx = one("SIP/2.0 200 OK\nContent-Length: [len]\n[last_Nope:]\n\nbody")
    ctx.last_message = sip(INVITE_WITH_TAGS)  # type: ignore[assignment]
    assert render(scenario, ctx) == "SIP/2.0 200 OK\r\nContent-Length:     0\r\n\r\n"


def test_last_header_without_message_and_compact_forms() -> None:
    scenario, ctx = one("SIP/2.0 200 OK\n[last_Via:]\n[last_Call-ID]\nX: 1")
    assert render(scenario, ctx) == "SIP/2.0 200 OK\r\nX: 1\r\n\r\n"
    ctx.last_message = sip("INVITE sip:x SIP/2.0\nv: SIP/2.0/UDP h\ni: cid\nContent-Length: 0\n\n")  # type: ignore[assignment]
    assert render(scenario, ctx) == "SIP/2.0 200 OK\r\nv: SIP/2.0/UDP h\r\ni: cid\r\nX: 1\r\n\r\n"


def test_last_request_uri_cseq_number_and_message() -> None:
    scenario, ctx = one(
        "OPTIONS sip:x SIP/2.0\nX: [last_Request_URI]|[last_cseq_number]|[last_cseq_number+1]"
    )
    assert header_line(render(scenario, ctx), "X") == "|0|1"
    ctx.last_message = sip(RESPONSE)  # type: ignore[assignment]
    assert header_line(render(scenario, ctx), "X") == "sip:bob@example.com|3|4"
    whole, wctx = one("OPTIONS sip:x SIP/2.0\n\n[last_message]")
    wctx.last_message = sip(RESPONSE)  # type: ignore[assignment]
    # [last_message] is inserted as received; the CRLF after it in the CDATA stays.
    assert render(whole, wctx) == (
        "OPTIONS sip:x SIP/2.0\r\n\r\n" + RESPONSE.replace("\n", "\r\n") + "\r\n"
    )


def test_variable_insertion_rules() -> None:
    scenario = load(
        """
<nop><action>
  <assign assign_to="d" value="3.5"/>
  <assign assign_to="z" value="0"/>
  <assignstr assign_to="s" value="text"/>
  <test assign_to="bt" variable="d" compare="greater_than" value="1"/>
  <test assign_to="bf" variable="d" compare="less_than" value="1"/>
</action></nop>
<send><![CDATA[
OPTIONS sip:x SIP/2.0
X: [$d]|[$z]|[$s]|[$bt]|[$bf]|[$undefined]|[$r]
]]></send>
<Reference variables="undefined,r"/>
"""
    )
    ctx = context(scenario)
    run_actions(scenario.elements[0].actions, ctx, None)
    ctx.variables.set("r", RegexpMatch(""))
    assert header_line(render(scenario, ctx, 1), "X") == "3.500000||text|true|false||"


def test_variable_value_ending_with_newline_eats_following_whitespace() -> None:
    # SIPp "supresscrlf": a value ending a line is not followed by a second line break.
    scenario = load(
        '<nop><action><assignstr assign_to="v" value="A: 1&#10;"/></action></nop>'
        "<send><![CDATA[\nOPTIONS sip:x SIP/2.0\n[$v]\nB: 2\n]]></send>"
    )
    ctx = context(scenario)
    run_actions(scenario.elements[0].actions, ctx, None)
    assert render(scenario, ctx, 1) == "OPTIONS sip:x SIP/2.0\r\nA: 1\nB: 2\r\n\r\n"


def test_fill() -> None:
    scenario = load(
        '<nop><action><assign assign_to="n" value="5"/></action></nop>'
        '<send><![CDATA[\nOPTIONS sip:x SIP/2.0\nX: [fill variable=n]|[fill text="ab" variable=n]|'
        "[fill variable=m text=z]\n]]></send>"
        '<Reference variables="m,m"/>'
    )
    ctx = context(scenario)
    run_actions(scenario.elements[0].actions, ctx, None)
    assert header_line(render(scenario, ctx, 1), "X") == "XXXXX|ababa|"


def test_file_keyword(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "part.txt").write_bytes(b"raw\nbytes\xff")
    monkeypatch.chdir(tmp_path)
    scenario = load(
        '<nop><action><assignstr assign_to="f" value="part"/></action></nop>'
        '<send><![CDATA[\nOPTIONS sip:x SIP/2.0\n\n[file name="[$f].txt"]\n]]></send>'
        '<Reference variables="f"/>'
    )
    ctx = context(scenario)
    run_actions(scenario.elements[0].actions, ctx, None)
    assert render(scenario, ctx, 1) == "OPTIONS sip:x SIP/2.0\r\n\r\nraw\nbytes\xff\r\n"
    missing, mctx = one('OPTIONS sip:x SIP/2.0\n\n[file name="nope.txt"]')
    with pytest.raises(RenderError, match="could not open 'nope.txt'"):
        render(missing, mctx)


def test_fields() -> None:
    users = parse_injection_text("dir/users.csv", "SEQUENTIAL\n#c\nalice;a1\nbob;b1\n")
    other = parse_injection_text("other.csv", "RANDOM\nx;y;z\n")
    scenario, ctx = one(
        'OPTIONS sip:x SIP/2.0\nX: [field0]|[field1]|[field1 line=1]|[field2 file="other.csv"]'
        '|[field0 file=users.csv line="[$l]"]|[field5]|[field0 line=9]\nY: [$l]',
        injection_files=["dir/users.csv", "other.csv"],
    )
    ctx.env = env(injection={"users.csv": users, "other.csv": other}, default_injection="users.csv")
    ctx.injection_line = 0
    ctx.injection_lines = {"users.csv": 0, "other.csv": 0}
    ctx.variables.set("l", 1.0)
    assert header_line(render(scenario, ctx), "X") == "alice|a1|b1|z|bob||"


def test_authentication_keyword() -> None:
    scenario, ctx = one(
        "REGISTER sip:r SIP/2.0\nCSeq: 2 REGISTER\n"
        "[authentication username=alice password=secret]\n"
        "Content-Length: 0"
    )
    with pytest.raises(RenderError, match="without a stored challenge"):
        render(scenario, ctx)
    ctx.auth_challenge = 'Digest realm="sipp.test", nonce="abc123nonce", qop="auth", opaque="op42"'
    ctx.last_message = sip(RESPONSE)  # type: ignore[assignment]
    text = render(scenario, ctx)
    line = next(x for x in text.split("\r\n") if x.startswith("Authorization: "))
    assert line.startswith('Authorization: Digest username="alice",realm="sipp.test",cnonce="')
    assert ',nc=00000001,qop=auth,uri="sip:127.0.0.1:5082",nonce="abc123nonce",response="' in line
    assert line.endswith('",algorithm=MD5,opaque="op42"')
    ctx.auth_challenge_is_proxy = True
    text = render(scenario, ctx)
    assert "\r\nProxy-Authorization: Digest " in text and ",nc=00000002," in text


def test_authentication_defaults_from_env() -> None:
    scenario, ctx = one("REGISTER sip:r SIP/2.0\n[authentication]\nContent-Length: 0")
    ctx.auth_challenge = 'Digest realm="r", nonce="n"'
    ctx.env = env(auth_username=None, service="svc", auth_password="pw", auth_uri="auth.example")
    text = render(scenario, ctx)
    assert 'username="svc"' in text and 'uri="sip:auth.example"' in text
    assert "cnonce" not in text


def test_authentication_from_injected_field() -> None:
    users = parse_injection_text(
        "u.csv", "SEQUENTIAL\nalice;[authentication username=alice password=secret]\n"
    )
    scenario, ctx = one("REGISTER sip:r SIP/2.0\n[field1]\nContent-Length: 0")
    ctx.env = env(injection={"u.csv": users}, default_injection="u.csv")
    ctx.injection_line = 0
    ctx.auth_challenge = 'Digest realm="r", nonce="n"'
    text = render(scenario, ctx)
    assert '\r\nAuthorization: Digest username="alice",realm="r",uri=' in text


def test_key_values_and_escapes() -> None:
    scenario, ctx = one(
        "OPTIONS sip:x SIP/2.0\nX: -[empty]- [k] \\x5bnot_a_keyword] \\x41\\x4a2 \\xZ",
        keys={"empty": "", "k": "v"},
    )
    assert header_line(render(scenario, ctx), "X") == "-- v [not_a_keyword] AJ2 \\xZ"


def test_second_bracket_restarts_keyword() -> None:
    scenario, ctx = one("OPTIONS sip:x SIP/2.0\nX: [abc [service]")
    assert header_line(render(scenario, ctx), "X") == "[abc service"


def test_time_keywords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        scenario, ctx = one("OPTIONS sip:x SIP/2.0\nX: [clock_tick]|[timestamp]|[date]")
        ctx.env = env(clock_ms=lambda: 1234, wall_time=lambda: 1795672219.065256)
        assert header_line(render(scenario, ctx), "X") == (
            "1234|2026-11-26\t05:50:19.065256\t1795672219.065256|Thu, 26 Nov 2026 05:50:19 GMT"
        )
    finally:
        monkeypatch.undo()
        time.tzset()


def test_auto_media_port() -> None:
    scenario, ctx = one("OPTIONS sip:x SIP/2.0\nm=audio [auto_media_port] [auto_media_port+1]")
    ctx.call_number = 3
    assert "m=audio 6012 6013" in render(scenario, ctx)


def test_offsets_and_params_parsing() -> None:
    assert split_offset("cseq+1") == ("cseq", 1)
    assert split_offset("branch-2") == ("branch", -2)
    assert split_offset("last_Max-Forwards") == ("last_Max-Forwards", 0)
    assert split_offset('field0 file="a-1.csv"') == ('field0 file="a-1.csv"', 0)
    assert keyword_param('field0 file="a b.csv" line=3', "file") == "a b.csv"
    assert keyword_param("field0 line=3]", "line") == "3"
    assert keyword_param("authentication username=0x414243", "username") == "ABC"
    assert keyword_param('x text="a\\"b"', "text") == 'a"b'
    assert keyword_param("x", "text") is None


@pytest.mark.parametrize("keyword", ["[]", "[" + "a" * 257 + "]"])
def test_keyword_syntax_errors(keyword: str) -> None:
    with pytest.raises(ScenarioError, match="syntax error or invalid"):
        compile_template(f"OPTIONS sip:x SIP/2.0\nX: {keyword}", CompileEnv("k"), 1)


def test_static_message_renders_without_context_work() -> None:
    template = compile_template("OPTIONS sip:x SIP/2.0\n\n", CompileEnv("s"))
    assert template.text_if_static() == "OPTIONS sip:x SIP/2.0\r\n\r\n"
    ctx = BasicCallContext(
        env=RunEnv(), variables=load("<pause/>").new_global_variables().for_call()
    )
    assert template.render(ctx) == "OPTIONS sip:x SIP/2.0\r\n\r\n"


def test_uac_invite_renders_fast_enough_to_measure() -> None:
    # Not a timing assertion (see bench/): just exercise the bound fast path.
    scenario = load_scenario("", builtin_name="uac")
    run_env = env()
    bound = scenario.bind(run_env)
    ctx = context(bound, run_env)
    text = render(bound, ctx)
    assert text.startswith("INVITE sip:service@127.0.0.1:5082 SIP/2.0\r\n")
    assert "Content-Length:   129\r\n" in text


def test_media_port_keywords_are_the_calls_own_ports_with_media() -> None:
    text = (
        "OPTIONS sip:x SIP/2.0\nm=audio [media_port] [media_port+1] [rtpstream_audio_port]"
        " [auto_media_port]\nm=video [rtpstream_video_port]"
    )
    scenario, ctx = one(text)
    # Without media: -mp, folded into the text when the scenario is bound.
    bound = scenario.bind(env())
    template = bound.elements[0].template
    assert template is not None
    assert template.segments[0] == "OPTIONS sip:x SIP/2.0\r\nm=audio 6004 6005 6004 "
    assert "m=video 6004" in render(bound, ctx)
    # With media: the ports the call's media bound (kept per call through bind).
    media_env = env(per_call_media=True)
    bound = scenario.bind(media_env)
    ctx = context(bound, media_env, media_port=31000, video_port=31002)
    ctx.call_number = 7
    out = render(bound, ctx)
    assert "m=audio 31000 31001 31000 31000\r\nm=video 31002" in out


def _render_one_by_one(template: Template, ctx: BasicCallContext) -> str:
    """The rule as the renderer once applied it, segment by segment while composing (kept
    here as the reference): after a keyword that may vanish, if the character just written
    (or, when it wrote nothing, the last one before it) ends a line, the next literal loses
    its leading whitespace."""
    parts: list[str] = []
    suppress = False
    for segment in template.segments:
        if isinstance(segment, str):
            parts.append(segment.lstrip(" \t\r\n") if suppress else segment)
            suppress = False
            continue
        out = segment.render(ctx, 1, 1)
        parts.append(out)
        if segment.kind == SUPPRESS:
            last = next((part[-1] for part in reversed(parts) if part), "")
            if last == "\n":
                suppress = True
    return "".join(parts)


def test_lines_of_vanishing_keywords_go_as_when_rendered_one_by_one() -> None:
    # Keywords are rendered first and the vanished lines removed after; 3,000 random
    # templates of literals, keywords that may vanish ([$v], with values that are empty, end a
    # line or not) and ones that never do ([call_number]) must come out as the one-by-one rule.
    rng = random.Random(27)
    literals = ["\n", "\r\n", "  \n", "A: 1", "\tB", " ", "x\n y", ";p", "\n\n"]
    values = ["", "v", "v\n", "  ", "w\r\n", "\n"]
    for _ in range(3000):
        segments: list[str | Keyword] = []
        variables: dict[str, str] = {}
        for i in range(rng.randint(1, 9)):
            pick = rng.random()
            if pick < 0.45:
                segments.append(rng.choice(literals))
            elif pick < 0.85:
                name = f"v{i}"
                variables[name] = rng.choice(values)
                segments.append(VariableKeyword(name))
            else:
                segments.append(CallNumberKeyword())
        template = Template(segments)
        scenario = load("<nop/>")
        ctx = context(scenario)
        for name, value in variables.items():
            ctx.variables.set(name, value)
        assert template.render(ctx, 1, 1) == _render_one_by_one(template, ctx), segments
