"""Actions (sipp-reference 2) run against a call context."""

from __future__ import annotations

import pytest

from gossipper.scenario import ActionOutcome, run_actions
from gossipper.scenario.actions import NO_OUTCOME, c_strcmp
from gossipper.scenario.injection import parse_injection_text
from gossipper.scenario.variables import RegexpMatch
from tests.scenario._support import context, env, load

MESSAGE = (
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK-1\r\n"
    'From: "Tom" <sip:tom@a>;tag=SIPpTag0042\r\n'
    "To: <sip:bob@b>;tag=t2\r\n"
    "Contact: <sip:bob@10.0.0.1:5070>\r\n"
    "contact: <sip:second@h>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 20\r\n"
    "\r\n"
    "o=user1 5365 2353 IN\r\n"
)


def run(actions_xml: str, message: str | None = MESSAGE, refs: str = "", **env_kw: object):  # type: ignore[no-untyped-def]
    scenario = load(
        f"<nop><action>\n{actions_xml}\n</action></nop>"
        + (f'<Reference variables="{refs}"/>' if refs else "")
    )
    ctx = context(scenario, env(**env_kw) if env_kw else None)
    outcome = run_actions(scenario.elements[0].actions, ctx, message)
    return outcome, ctx


def test_empty_action_list() -> None:
    scenario = load("<nop/>")
    assert run_actions(scenario.elements[0].actions, context(scenario), None) is NO_OUTCOME
    assert NO_OUTCOME.is_empty


def test_ereg_msg_with_captures_and_posix_class() -> None:
    outcome, ctx = run(
        '<ereg regexp="o=([[:alnum:]]*) ([[:digit:]]+) ([0-9]*)" search_in="msg" check_it="true"'
        ' assign_to="all,user,sess,ver"/>',
        refs="all,user,sess,ver",
    )
    assert outcome.failure is None
    v = ctx.variables
    assert (v.string("all"), v.string("user"), v.string("sess"), v.string("ver")) == (
        "o=user1 5365 2353",
        "user1",
        "5365",
        "2353",
    )
    assert isinstance(v.get("user"), RegexpMatch)


def test_ereg_dot_matches_newlines_greedy() -> None:
    _, ctx = run('<ereg regexp="Content-Type:.*" assign_to="rest"/>', refs="rest")
    assert ctx.variables.string("rest") == MESSAGE[MESSAGE.index("Content-Type:") :]


def test_ereg_dollar_anchors_only_at_the_end() -> None:
    _, ctx = run(
        '<ereg regexp="SIPpTag00([0-9]*)$" search_in="hdr" header="From:" assign_to="x,num"/>',
        refs="x,num",
    )
    assert ctx.variables.string("num") == "42"


def test_ereg_hdr_extraction_rules() -> None:
    _, ctx = run(
        """
<ereg regexp=".*" search_in="hdr" header="Contact:" assign_to="c1"/>
<ereg regexp=".*" search_in="hdr" header="contact:" case_indep="true" occurrence="2"
      assign_to="c2"/>
<ereg regexp=".*" search_in="hdr" header="To" assign_to="to"/>
<ereg regexp=".*" search_in="hdr" header="To" start_line="true" assign_to="to2"/>
<ereg regexp=".*" search_in="hdr" header="contact:" occurence="1" assign_to="c3"/>
""",
        refs="c1,c2,to,to2,c3",
    )
    v = ctx.variables
    assert v.string("c1") == " <sip:bob@10.0.0.1:5070>"
    assert v.string("c2") == " <sip:second@h>"
    # Without start_line the name is a plain substring ("To" inside "Tom" in From).
    assert v.string("to") == 'm" <sip:tom@a>;tag=SIPpTag0042'
    assert v.string("to2") == ": <sip:bob@b>;tag=t2"
    assert v.string("c3") == " <sip:second@h>"


def test_ereg_body_and_var() -> None:
    _, ctx = run(
        '<ereg regexp="[0-9]+" search_in="body" assign_to="b"/>'
        '<assignstr assign_to="src" value="abc-123"/>'
        '<ereg regexp="-(.*)" search_in="var" variable="src" assign_to="m,g"/>',
        refs="b,m,g",
    )
    assert ctx.variables.string("b") == "1"  # first digits of the body: "user1"
    assert ctx.variables.string("g") == "123"


def test_ereg_check_it_failures_stop_following_actions() -> None:
    outcome, ctx = run(
        '<ereg regexp="nomatch" check_it="true" assign_to="x"/>'
        '<assign assign_to="after" value="1"/>',
        refs="x,after",
    )
    assert outcome.failure == "FailedRegexpDoesntMatch"
    assert outcome.warnings and "Failed regexp match" in outcome.warnings[0]
    assert not ctx.variables.is_set("after")
    outcome, _ = run('<ereg regexp="200" check_it_inverse="true" assign_to="x"/>', refs="x")
    assert outcome.failure == "FailedRegexpShouldntMatch"
    outcome, _ = run(
        '<ereg regexp="." search_in="hdr" header="X-Nope:" check_it="true" assign_to="x"/>',
        refs="x",
    )
    assert outcome.failure == "FailedRegexpHdrNotFound"
    outcome, _ = run(
        '<ereg regexp="." search_in="body" check_it="true" assign_to="x"/>',
        message="OPTIONS sip:x SIP/2.0\r\nA: b\r\n",
        refs="x",
    )
    assert outcome.failure == "FailedRegexpHdrNotFound"


def test_ereg_no_match_keeps_previous_values_and_unmatched_groups() -> None:
    _, ctx = run(
        '<assignstr assign_to="g" value="old"/>'
        '<ereg regexp="(zzz)?(200)" assign_to="m,g,h"/>'
        '<ereg regexp="nothing(x)" assign_to="m,h"/>',
        refs="m",
    )
    assert ctx.variables.string("g") == "old"  # group 1 did not participate
    assert ctx.variables.string("h") == "200"
    assert ctx.variables.string("m") == "200"


def test_check_it_uses_is_set_of_first_variable_like_sipp() -> None:
    outcome, _ = run(
        '<assignstr assign_to="x" value="set before"/>'
        '<ereg regexp="nomatch" check_it="true" assign_to="x"/>'
    )
    assert outcome.failure is None


def test_arithmetic() -> None:
    outcome, ctx = run(
        """
<assign assign_to="a" value="10"/>
<add assign_to="a" value="5"/>
<subtract assign_to="a" value="3"/>
<multiply assign_to="a" value="2"/>
<divide assign_to="a" value="4"/>
<assign assign_to="zero" value="0"/>
<divide assign_to="a" variable="zero"/>
<assign assign_to="b" variable="a"/>
<add assign_to="s" value="1.5"/>
""",
        refs="b,s",
    )
    assert ctx.variables.double("a") == 6.0 and ctx.variables.double("b") == 6.0
    assert ctx.variables.double("s") == 1.5
    assert outcome.warnings == ("Action failure: can not divide by zero ($a/$zero)",)


def test_assignstr_trim_todouble_strcmp() -> None:
    outcome, ctx = run(
        """
<assignstr assign_to="s" value="  [service] x  "/>
<trim assign_to="s"/>
<assignstr assign_to="n" value=" 42.5 "/>
<todouble assign_to="d" variable="n"/>
<todouble assign_to="bad" variable="s"/>
<strcmp assign_to="c0" variable="s" value="service x"/>
<strcmp assign_to="c1" variable="s" variable2="n"/>
""",
        refs="d,bad,c0,c1",
    )
    v = ctx.variables
    assert v.string("s") == "service x"
    assert v.double("d") == 42.5
    assert v.get("bad") is None
    assert outcome.warnings == ("Invalid double conversion from $s to $bad",)
    assert v.get("c0") == 0.0 and v.double("c1") == ord("s") - ord(" ")
    assert c_strcmp("ab", "abc") == -ord("c") and c_strcmp("b", "a") == 1


def test_test_action_and_checks() -> None:
    outcome, ctx = run(
        """
<assign assign_to="x" value="3"/>
<test assign_to="eq" variable="x" compare="equal" value="3"/>
<test assign_to="ne" variable="x" compare="not_equal" value="3"/>
<test assign_to="gt" variable="x" compare="greater_than" variable2="x"/>
<test assign_to="ge" variable="x" compare="greater_than_equal" variable2="x"/>
<test assign_to="lt" variable="x" compare="less_than" value="4"/>
<test assign_to="le" variable="x" compare="less_than_equal" value="2"/>
""",
        refs="eq,ne,gt,ge,lt,le",
    )
    v = ctx.variables
    assert [v.get(n) for n in ("eq", "ne", "gt", "ge", "lt", "le")] == [
        True,
        False,
        False,
        True,
        True,
        False,
    ]
    outcome, _ = run(
        '<assign assign_to="x" value="1"/>'
        '<test variable="x" compare="equal" value="2" check_it="true"/>'
    )
    assert outcome.failure == "FailedTestDoesntMatch"
    outcome, _ = run(
        '<assign assign_to="x" value="1"/>'
        '<test variable="x" compare="equal" value="1" check_it_inverse="true"/>'
    )
    assert outcome.failure == "FailedTestShouldntMatch"
    outcome, _ = run(
        '<assignstr assign_to="x" value="a"/><strcmp variable="x" value="b" check_it="true"/>'
    )
    assert outcome.failure == "FailedStrcmpDoesntMatch"
    outcome, _ = run(
        '<assignstr assign_to="x" value="a"/><strcmp variable="x" value="a" check_it_inverse="1"/>'
    )
    assert outcome.failure == "FailedStrcmpShouldntMatch"


def test_urlencode_urldecode() -> None:
    _, ctx = run(
        '<assignstr assign_to="u" value="this: is a string"/><urlencode variable="u"/>'
        '<assignstr assign_to="w" value="a%20b%3A"/><urldecode variable="w"/>',
        refs="u,w",
    )
    assert ctx.variables.string("u") == "this%3A%20is%20a%20string"
    assert ctx.variables.string("w") == "a b:"


def test_gettimeofday_index_sample() -> None:
    _, ctx = run(
        '<gettimeofday assign_to="sec,usec"/><index assign_to="i"/>'
        '<sample assign_to="u" distribution="uniform" min="1" max="2"/>'
        '<sample assign_to="f" distribution="fixed" value="7"/>',
        refs="sec,usec,i,u,f",
        wall_time=lambda: 1700000000.25,
    )
    v = ctx.variables
    assert (v.double("sec"), v.double("usec"), v.double("i")) == (1700000000.0, 250000.0, 0.0)
    assert 1.0 <= v.double("u") <= 2.0 and v.double("f") == 7.0


def test_logging_exec_and_control() -> None:
    outcome, _ = run(
        '<log message="call [call_number]"/><warning message="w [call_id]"/>'
        '<exec command="echo [call_number]"/><exec int_cmd="stop_gracefully"/>'
    )
    assert outcome.log_lines == ("call 1",)
    assert outcome.warnings == ("w 1-14406@127.0.0.1",)
    assert outcome.commands == ("echo 1",)
    assert outcome.stop_gracefully and not outcome.stop_call
    outcome, ctx = run('<exec int_cmd="stop_call"/><assign assign_to="x" value="1"/>', refs="x")
    assert outcome.stop_call and not ctx.variables.is_set("x")
    outcome, _ = run('<exec int_cmd="whatever"/>')
    assert outcome.stop_call
    outcome, _ = run('<exec int_cmd="stop_now"/>')
    assert outcome.stop_now
    outcome, _ = run('<error message="boom [service]"/>')
    assert outcome.fatal_error == "boom service"


def test_jump_and_pauserestore() -> None:
    scenario = load(
        """
<nop><action><jump value="2"/></action></nop>
<nop><action><assign assign_to="t" value="2"/><jump variable="t"/>
  <pauserestore value="1500"/></action></nop>
<nop><action><jump value="9"/></action></nop>
"""
    )
    ctx = context(scenario)
    assert run_actions(scenario.elements[0].actions, ctx, None).jump_index == 2
    outcome = run_actions(scenario.elements[1].actions, ctx, None)
    assert outcome.jump_index == 2 and outcome.pause_restore_ms == 1500
    outcome = run_actions(scenario.elements[2].actions, ctx, None)
    assert outcome.fatal_error == "<jump> to index 9 is out of range"


def test_injection_database_actions() -> None:
    users = parse_injection_text("users.csv", "SEQUENTIAL\nalice;1\nbob;2\n")
    users.build_index(0)
    plain = parse_injection_text("plain.csv", "SEQUENTIAL\nx\n")
    outcome, ctx = run(
        """
<lookup assign_to="l" file="users.csv" key="bob"/>
<lookup assign_to="m" file="users.csv" key="nobody"/>
<insert file="users.csv" value="carol;3"/>
<lookup assign_to="n" file="users.csv" key="carol"/>
<replace file="users.csv" line="0" value="dave;4"/>
<lookup assign_to="o" file="users.csv" key="dave"/>
""",
        refs="l,m,n,o",
        injection={"users.csv": users, "plain.csv": plain},
    )
    v = ctx.variables
    assert (v.double("l"), v.get("m"), v.double("n"), v.get("o")) == (1.0, -1.0, 2.0, 0.0)
    assert users.lines == ["dave;4", "bob;2", "carol;3"]
    outcome, _ = run(
        '<lookup assign_to="l" file="plain.csv" key="x"/>',
        refs="l",
        injection={"plain.csv": plain},
    )
    assert outcome.fatal_error == "injection file plain.csv has no index (use -infindex)"
    outcome, _ = run('<insert file="nope.csv" value="x"/>')
    assert outcome.fatal_error == "Invalid injection file for insert: nope.csv"


def test_setdest_closecon() -> None:
    outcome, _ = run('<setdest host="10.0.0.2" port="5070" protocol="UDP"/><closecon/>')
    assert outcome.set_destination == ("10.0.0.2", 5070, "udp") and outcome.close_connection
    outcome, _ = run('<setdest host="h" port="x" protocol="udp"/>')
    assert outcome.fatal_error == "Invalid port for setdest: x"
    outcome, _ = run('<setdest host="h" port="1" protocol="sctp"/>')
    assert outcome.fatal_error == "Unknown transport for setdest: 'sctp'"


def test_verifyauth() -> None:
    from gossipper.scenario.auth import build_credentials

    credentials = build_credentials(
        'Digest realm="r", nonce="n", qop="auth"',
        username="alice",
        password="secret",
        method="REGISTER",
        uri="sip:127.0.0.1:5060",
        body="",
        nonce_count=1,
        cnonce="0a1b2c3d",
    )
    request = f"REGISTER sip:r SIP/2.0\r\nAuthorization: {credentials}\r\nContent-Length: 0\r\n\r\n"
    outcome, ctx = run(
        '<verifyauth assign_to="ok" username="alice" password="secret"/>'
        '<verifyauth assign_to="bad" username="alice" password="wrong"/>',
        message=request,
        refs="ok,bad",
    )
    assert ctx.variables.get("ok") is True and ctx.variables.get("bad") is False
    _, ctx = run(
        '<verifyauth assign_to="ok" username="alice" password="secret"/>',
        message="SIP/2.0 200 OK\r\nA: b\r\n\r\n",
        refs="ok",
    )
    assert ctx.variables.get("ok") is False


def test_outcome_is_frozen() -> None:
    with pytest.raises(AttributeError):
        ActionOutcome().stop_call = True  # type: ignore[misc]
