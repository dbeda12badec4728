"""Loader: good scenarios produce the right model; bad ones give the exact line and reason."""

from __future__ import annotations

import pathlib

import pytest

from gossipper.errors import ScenarioError
from gossipper.scenario import (
    ElementKind,
    Optional,
    TwinRole,
    load_scenario,
    load_scenario_text,
)
from gossipper.scenario.loader import c_bool, c_strtod, c_strtol
from tests.scenario._support import load, scenario_xml

INVITE = """<send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Call-ID: [call_id]
CSeq: [cseq] INVITE
Content-Length: 0
]]></send>"""

RESPONSE_200 = """<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
Content-Length: 0
]]></send>"""

# Body lines start at line 3 of the document built by scenario_xml().
BAD_CASES: list[tuple[str, str, int | None, str]] = [
    ("unknown element", "<foo/>", 3, "unknown element <foo>"),
    (
        "unknown attribute with hint",
        '<pause milisecond="5"/>',
        3,
        "unknown attribute 'milisecond' on <pause>: did you mean 'milliseconds'?",
    ),
    ("unknown attribute lists valid ones", '<nop bogus="1"/>', 3, "(valid: chance, condexec"),
    ("label without id", "<label/>", 3, "<label> is missing the required 'id' attribute"),
    ("undefined label", '<pause next="nowhere"/>', 3, "next='nowhere': no <label id=...>"),
    (
        "undefined ontimeout label",
        '<recv request="INVITE" ontimeout="x"/>',
        3,
        "ontimeout='x': no <label",
    ),
    (
        "duplicate label",
        '<label id="a"/>\n<pause/>\n<label id="a"/>',
        5,
        "label 'a' is defined twice",
    ),
    (
        "unknown keyword",
        "<send><![CDATA[\nOPTIONS sip:x SIP/2.0\nX-A: [foo]\n]]></send>",
        5,
        "unknown keyword [foo]: define it with -key foo VALUE",
    ),
    (
        "response code out of range in send",
        "<send><![CDATA[\nSIP/2.0 99 Weird\n]]></send>",
        4,
        "response codes must be in the range 100-699, got 99",
    ),
    (
        "send starting with a keyword",
        "<send><![CDATA[\n[service] sip:x SIP/2.0\n]]></send>",
        4,
        "a <send> must start with literal text",
    ),
    (
        "send without a space in the first line",
        "<send><![CDATA[\nINVITE\nX: y\n]]></send>",
        4,
        "must start with the method or SIP/2.0 followed by a space",
    ),
    (
        "optional recv before send",
        '<recv request="INVITE" optional="true"/>\n' + RESPONSE_200,
        4,
        "<send> directly after an optional <recv>",
    ),
    (
        "optional recv before pause",
        '<recv request="INVITE" optional="true"/>\n<pause/>',
        4,
        "<pause> directly after an optional <recv>",
    ),
    (
        "variable referenced once",
        '<nop>\n<action>\n<assign assign_to="x" value="1"/>\n</action>\n</nop>',
        5,
        "variable $x is referenced only once",
    ),
    ("repeat_rtd without rtd", '<pause repeat_rtd="true"/>', 3, "repeat_rtd needs an rtd"),
    (
        "chance out of range",
        '<pause next="a" chance="1.5"/>\n<label id="a"/>',
        3,
        "chance='1.5' is not in the range [0, 1]",
    ),
    ("recv without request or response", "<recv/>", 3, "<recv> needs response= or request="),
    (
        "recv with both",
        '<recv request="BYE" response="200"/>',
        3,
        "either response= or request=, not both",
    ),
    ("response not an integer", '<recv response="2x0"/>', 3, "'2x0' is not a valid integer"),
    ("response out of range", '<recv response="42"/>', 3, "out of the range 100-699"),
    (
        "timewait not last",
        '<recv request="INVITE"/>\n<timewait milliseconds="1"/>\n<pause/>',
        5,
        "<timewait> must be the last message element",
    ),
    (
        "next on timewait",
        '<label id="a"/><timewait next="a"/>',
        3,
        "next= is not allowed on <timewait>",
    ),
    ("start_rtd never stopped", '<pause start_rtd="x"/>', 3, 'start_rtd="x" is never stopped'),
    (
        "transaction without response",
        INVITE.replace('retrans="500"', 'start_txn="t"'),
        3,
        "transaction 't' has no responses",
    ),
    (
        "divide by constant zero",
        '<nop>\n<action>\n<divide assign_to="x" value="0"/>\n</action>\n</nop>',
        5,
        "<divide> by the constant 0",
    ),
    ("duplicate action", "<nop>\n<action/>\n<action/>\n</nop>", 5, "duplicate <action> in <nop>"),
    (
        "unknown action",
        "<nop><action>\n<frobnicate/>\n</action></nop>",
        4,
        "unknown action <frobnicate>",
    ),
    (
        "ereg hdr without header",
        '<nop><action>\n<ereg regexp="a" search_in="hdr" assign_to="x,x"/>\n</action></nop>',
        4,
        'search_in="hdr" needs a header= attribute',
    ),
    (
        "invalid compare",
        '<nop><action>\n<test assign_to="b" variable="b" value="1" compare="bigger"/>\n'
        "</action></nop>",
        4,
        "invalid compare='bigger'",
    ),
    (
        "jump to itself",
        '<nop><action>\n<jump value="0"/>\n</action></nop>',
        4,
        "<jump> to index 0 jumps to itself",
    ),
    (
        "reference to a missing variable",
        '<Reference variables="ghost"/>\n<pause/>',
        3,
        "<Reference> of variable 'ghost', which does not exist",
    ),
    ("empty CDATA", "<send><![CDATA[   \n  ]]></send>", 3, "empty CDATA in <send>"),
    ("send without CDATA", "<send/>", 3, "<send> needs a <![CDATA[ ... ]]> message"),
    (
        "invalid regexp",
        '<nop><action>\n<ereg regexp="(a" assign_to="x,x"/>\n</action></nop>',
        4,
        "invalid regular expression '(a'",
    ),
    (
        "99th percentile above INT_MAX",
        '<pause distribution="exponential" mean="1e12"/>',
        3,
        "has a 99th percentile of",
    ),
    ("unknown distribution", '<pause distribution="zipf"/>', 3, "unknown distribution 'zipf'"),
    ("bad optional value", '<recv request="A" optional="maybe"/>', 3, "optional='maybe'"),
    (
        "advance_state on a mandatory recv",
        '<recv request="A" advance_state="false"/>',
        3,
        'advance_state="false" is only allowed on an optional <recv>',
    ),
    (
        "media file missing",
        '<nop><action>\n<exec play_pcap_audio="x.pcap"/>\n</action></nop>',
        4,
        "play_pcap_audio: media file 'x.pcap' not found",
    ),
    (
        "rtp_stream without a codec for a dynamic payload type",
        '<nop><action>\n<exec rtp_stream="x.wav,1,96"/>\n</action></nop>',
        4,
        "payload type 96 needs a codec name",
    ),
    (
        "bad DTMF digit",
        '<nop><action>\n<exec play_dtmf="12x"/>\n</action></nop>',
        4,
        "digits are 0-9, *, # and A-D",
    ),
    (
        "unknown rtp_echo operation",
        '<nop><action>\n<exec rtp_echo="startsomething"/>\n</action></nop>',
        4,
        "rtp_echo='startsomething': use one of startaudio",
    ),
    (
        "unknown RTP check pattern",
        '<nop><action>\n<exec rtp_stream="xpattern,1,8"/>\n</action></nop>',
        4,
        "unknown pattern 'xpattern'",
    ),
    (
        "vpattern without a payload type",
        '<nop><action>\n<exec rtp_stream="vpattern,1"/>\n</action></nop>',
        4,
        "vpattern needs a payload type",
    ),
    (
        "init with a send",
        "<init>\n" + RESPONSE_200 + "\n</init><pause/>",
        4,
        "<init> can only contain",
    ),
    (
        "unterminated keyword",
        "<send><![CDATA[\nOPTIONS sip:x SIP/2.0\nX: [service\n]]></send>",
        5,
        "syntax error or invalid [keyword]",
    ),
    ("bad boolean", '<recv request="A" rrs="maybe"/>', 3, "rrs='maybe' is not a valid boolean"),
    ("bad integer", '<recv request="A" timeout="soon"/>', 3, "'soon' is not a valid integer"),
    ("no message elements", '<label id="x"/>', None, "no message elements"),
    ("text in the scenario", "hello <pause/>", 2, "unexpected text 'hello'"),
    (
        "ack_txn on a non-ACK",
        INVITE.replace('retrans="500"', 'ack_txn="t"'),
        3,
        "ack_txn is only valid on an ACK",
    ),
    (
        "start_txn on a response",
        RESPONSE_200.replace("<send>", '<send start_txn="t">'),
        3,
        "a response can not start a transaction",
    ),
    (
        "setting a counter with a comma",
        '<pause counter="a,b"/>',
        3,
        "counter name 'a,b' may not be empty or contain $ or ,",
    ),
    (
        "variable name with a dollar",
        '<nop><action>\n<assign assign_to="a$" value="1"/>\n</action></nop>',
        4,
        "may not contain '$' or ','",
    ),
    (
        "unknown DefaultMessage id",
        '<DefaultMessage id="nope"><![CDATA[\nX\n]]></DefaultMessage><pause/>',
        3,
        "unknown <DefaultMessage id='nope'>",
    ),
    (
        "value and variable together",
        '<nop><action>\n<assign assign_to="x" value="1" variable="x"/>\n</action></nop>',
        4,
        "value= and variable= are mutually exclusive",
    ),
    (
        "check_it and check_it_inverse",
        '<nop><action>\n<strcmp variable="x" value="a" check_it="true" check_it_inverse="true"/>'
        "\n</action></nop>",
        4,
        "both check_it and check_it_inverse",
    ),
]


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [case[1:] for case in BAD_CASES],
    ids=[case[0] for case in BAD_CASES],
)
def test_bad_scenarios(body: str, line: int | None, reason: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load(body)
    assert info.value.file == "t.xml"
    assert info.value.line == line, str(info.value)
    assert reason in info.value.reason, str(info.value)


def test_xml_syntax_error_has_lxml_line_and_column() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(
            b'<?xml version="1.0"?>\n<scenario>\n<send>\n</scenario>\n', source_label="x"
        )
    assert info.value.line == 4
    assert info.value.col is not None
    assert info.value.reason.startswith("invalid XML:")


def test_root_must_be_scenario() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(b"<?xml version='1.0'?>\n\n<scenarios/>", source_label="x")
    assert (info.value.line, info.value.reason) == (
        3,
        "the root element must be <scenario>, not <scenarios>",
    )


def test_unknown_set_variable_is_rejected() -> None:
    with pytest.raises(ScenarioError, match="-set nope: the scenario declares no such global"):
        load("<pause/>", global_vars={"nope": "1"})


def test_missing_file() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("/nonexistent/dir/s.xml")
    assert info.value.file == "/nonexistent/dir/s.xml" and info.value.line is None


def test_field_needs_an_injection_file_when_known() -> None:
    body = "<send><![CDATA[\nOPTIONS sip:[field0] SIP/2.0\n]]></send>"
    with pytest.raises(ScenarioError) as info:
        load(body, injection_files=[])
    assert info.value.line == 4
    assert "needs an injection file: give one with -inf FILE" in info.value.reason
    with pytest.raises(ScenarioError, match="unknown injection file 'b.csv'"):
        load(body.replace("[field0]", '[field0 file="b.csv"]'), injection_files=["dir/a.csv"])
    assert load(body, injection_files=["dir/a.csv"]).uses_injection
    assert load(body).uses_injection  # unknown -inf list: checked at run time


def test_keyword_line_points_into_cdata() -> None:
    body = (
        "<send>\n  <![CDATA[\n\n    OPTIONS sip:x SIP/2.0\n    A: b\n    C: [nope]\n  ]]>\n</send>"
    )
    with pytest.raises(ScenarioError) as info:
        load(body)
    assert info.value.line == 8


def test_uac_model() -> None:
    scenario = load_scenario("", builtin_name="uac")
    assert scenario.name == "Basic Sipstone UAC"
    assert scenario.base_name == "uac"
    assert scenario.source_label == "<builtin:uac>"
    assert not scenario.is_server and scenario.twin_role is TwinRole.NONE
    kinds = [e.kind for e in scenario.elements]
    assert kinds == [
        ElementKind.SEND,
        ElementKind.RECV,
        ElementKind.RECV,
        ElementKind.RECV,
        ElementKind.RECV,
        ElementKind.SEND,
        ElementKind.PAUSE,
        ElementKind.SEND,
        ElementKind.RECV,
    ]
    invite, r100, _, _, r200, ack, pause, bye, bye200 = scenario.elements
    assert (invite.method, invite.retrans_ms, invite.is_response) == ("INVITE", 500, False)
    assert r100.optional is Optional.YES and r100.response_code == 100
    assert r100.allowed_cseq_methods == frozenset({"INVITE"})
    assert r200.rtd == 0 and scenario.rtd_names == ("1",)
    assert ack.method == "ACK" and ack.retrans_ms == 0
    assert pause.pause is not None and pause.pause.uses_default
    assert bye.method == "BYE" and bye.index == 7
    assert bye200.crlf and bye200.cseq_method_list == "INVITEACKBYE"
    assert bye200.matches_response(200, "BYE") and not bye200.matches_response(180, "BYE")
    assert scenario.response_time_repartition_ms == (10, 20, 30, 40, 50, 100, 150, 200)
    assert scenario.call_length_repartition_ms == (10, 50, 100, 500, 1000, 5000, 10000)
    assert scenario.duration_p99_ms(1234) == 1234
    assert set(scenario.default_messages) == {"3pcc_abort", "ack", "ack2", "bye", "cancel", "200"}


def test_uas_model() -> None:
    scenario = load_scenario("", builtin_name="uas")
    assert scenario.is_server
    first = scenario.elements[0]
    assert first.request == "INVITE" and first.crlf and first.matches_request("INVITE")
    assert not first.matches_request("invite")
    ack = scenario.elements[3]
    assert ack.optional is Optional.YES and ack.rtd == 0 and ack.crlf
    last = scenario.elements[-1]
    assert last.is_timewait and last.pause is not None and last.pause.fixed_ms(0) == 4000
    assert scenario.duration_p99_ms(0) == 4000


def test_first_recv_matches_any_cseq_method() -> None:
    scenario = load('<recv response="200"/>\n<recv response="180"/>')
    assert scenario.elements[0].matches_response(200, "ANYTHING")
    # A later element only matches methods sent before it; none were sent.
    assert not scenario.elements[1].matches_response(180, "INVITE")


def test_labels_branching_and_common_attributes() -> None:
    scenario = load(
        """
<Global variables="g"/>
<User variables="u"/>
<nop hiderest="true" display="start" counter="c1" condexec="u" condexec_inverse="1"/>
<pause milliseconds="10" next="end" test="g" chance="0.5" hide="false" crlf="false" lost="2.5"/>
<nop counter="c2" start_rtd="r" ignoresdp="true"/>
<nop counter="c1" rtd="r" repeat_rtd="true"/>
<label id="end"/>
""",
        global_vars={"g": "x"},
    )
    nop, pause, nop2, nop3 = scenario.elements
    assert nop.hide and nop.display == "start" and nop.condexec == "u" and nop.condexec_inverse
    assert pause.next_index == 4 and pause.test == "g" and pause.chance == 0.5
    assert not pause.hide and pause.crlf and pause.lost_pct == 2.5
    assert nop2.hide and nop2.ignoresdp and nop2.start_rtd == 0
    assert nop3.rtd == 0 and nop3.repeat_rtd
    assert scenario.counter_names == ("c1", "c2")
    assert (nop.counter, nop2.counter, nop3.counter) == (0, 1, 0)
    assert scenario.labels == {"end": 4}
    assert scenario.global_variables == ("g",) and scenario.user_variables == ("u",)
    assert dict(scenario.global_initial_values) == {"g": "x"}
    assert scenario.new_global_variables().store == {"g": "x"}


def test_test_without_next_is_ignored_like_sipp() -> None:
    # SIPp reads test= and chance= only together with next=.
    scenario = load('<pause test="whatever" chance="7"/>')
    assert scenario.elements[0].test is None and scenario.elements[0].chance is None


def test_rtd_true_is_1_and_order_of_first_appearance() -> None:
    scenario = load(
        '<pause start_rtd="b"/><pause start_rtd="true"/><pause rtd="b"/><pause rtd="1"/>'
    )
    assert scenario.rtd_names == ("b", "1")


def test_unexp_main_and_special_variables() -> None:
    scenario = load(
        """
<recv request="INVITE"/>
<label id="_unexp.main"/>
<nop><action><assign assign_to="_unexp.retaddr" value="0"/>
<jump variable="_unexp.retaddr"/></action></nop>
"""
    )
    assert scenario.unexp_main_index == 1
    assert scenario.has_retaddr and not scenario.has_pausedaddr


def test_init_block() -> None:
    scenario = load(
        """
<Global variables="g"/>
<init>
  <nop><action><assign assign_to="g" value="3"/></action></nop>
  <label id="x"/>
  <nop next="x"/>
</init>
<pause/>
"""
    )
    assert len(scenario.init_elements) == 2
    assert scenario.init_elements[1].next_index == 1


def test_transactions() -> None:
    scenario = load(
        INVITE.replace('retrans="500"', 'start_txn="inv"')
        + '\n<recv response="200" response_txn="inv"/>\n'
        + '<send ack_txn="inv"><![CDATA[\nACK sip:x SIP/2.0\n]]></send>'
    )
    assert scenario.transactions == {"inv": True}
    assert scenario.elements[0].start_txn == "inv"
    assert scenario.elements[1].response_txn == "inv"
    assert scenario.elements[1].allowed_cseq_methods is None
    assert scenario.elements[2].ack_txn == "inv"
    with pytest.raises(ScenarioError, match="INVITE transaction 'inv' has no ACK"):
        load(
            INVITE.replace('retrans="500"', 'start_txn="inv"')
            + '\n<recv response="200" response_txn="inv"/>'
        )


def test_regexp_match_recv() -> None:
    scenario = load(
        '<recv request="INV|BYE" regexp_match="true"/>\n'
        + INVITE
        + '\n<recv response="^18." regexp_match="true"/>'
    )
    first, _, third = scenario.elements
    assert first.matches_request("INVITE") and first.matches_request("BYE")
    assert not first.matches_request("ACK")
    assert third.matches_response(183, "INVITE") and not third.matches_response(200, "INVITE")
    assert not third.matches_response(183, "OPTIONS")  # CSeq rule of sipp-reference 1.5


def test_pause_variants() -> None:
    scenario = load(
        """
<nop><action><assign assign_to="v" value="250"/></action></nop>
<pause milliseconds="0x10"/>
<pause variable="v"/>
<pause distribution="uniform" min="10" max="20"/>
<pause min="1" max="3"/>
<pause normal="x" mean="100" stdev="10"/>
<pause distribution="exponential" mean="1e12" sanity_check="false"/>
"""
    )
    specs = [e.pause for e in scenario.elements[1:]]
    assert all(s is not None for s in specs)
    assert specs[0] is not None and specs[0].fixed_ms(0) == 16
    assert specs[1] is not None and specs[1].variable == "v"
    assert specs[2] is not None and specs[2].describe(0) == "uniform(10,20)"
    assert specs[3] is not None and specs[3].describe(0) == "uniform(1,3)"
    assert specs[4] is not None and specs[4].describe(0) == "normal(100,10)"


def test_send_and_recv_details() -> None:
    scenario = load(
        INVITE.replace('retrans="500"', 'retrans="500" timeout="2000"')
        + '\n<recv response="200" timeout="3000" ontimeout="l" rrs="true" auth="1"/>'
        + '\n<label id="l"/>'
    )
    invite, ok = scenario.elements
    assert invite.send_timeout_ms == 2000 and invite.retrans_ms == 500
    assert ok.recv_timeout_ms == 3000 and ok.ontimeout_index == 2 and ok.rrs and ok.auth


def test_send_command_modes() -> None:
    controller_b = load("<recvCmd/>\n<sendCmd><![CDATA[\nCall-ID: [call_id]\n]]></sendCmd>")
    assert controller_b.is_server and controller_b.twin_role is TwinRole.CONTROLLER_B
    passive = load(
        '<recv request="INVITE"/>\n<sendCmd><![CDATA[\nCall-ID: [call_id]\n]]></sendCmd>'
    )
    assert passive.is_server and passive.twin_role is TwinRole.A_PASSIVE


def test_default_message_override() -> None:
    scenario = load(
        '<DefaultMessage id="bye"><![CDATA[\n  BYE sip:custom SIP/2.0\n  X: [call_id]\n]]>'
        "</DefaultMessage><pause/>"
    )
    assert scenario.default_messages["bye"].segments[0] == "BYE sip:custom SIP/2.0\r\nX: "


def test_keys_fold_at_load_time_and_media_key_check() -> None:
    scenario = load("<send><![CDATA[\nOPTIONS sip:[who] SIP/2.0\n]]></send>", keys={"who": "bob"})
    assert scenario.elements[0].template is not None
    assert scenario.elements[0].template.text_if_static() == "OPTIONS sip:bob SIP/2.0\r\n\r\n"
    with pytest.raises(ScenarioError, match="-key media was not given"):
        load('<nop><action><exec play_pcap_audio="[media]"/></action></nop>')


def test_base_name_rules(tmp_path: pathlib.Path) -> None:
    for file_name, base in (("foo.xml", "foo"), ("foo.sipp", "foo.sipp")):
        path = tmp_path / file_name
        path.write_text(scenario_xml("<pause/>"))
        scenario = load_scenario(path)
        assert scenario.base_name == base
        assert scenario.source_label == str(path)


def test_utf8_text_becomes_wire_bytes() -> None:
    scenario = load_scenario_text(
        scenario_xml("<send><![CDATA[\nOPTIONS sip:h\u00e9 SIP/2.0\n]]></send>")
        .encode("utf-8")
        .replace(b"ISO-8859-1", b"UTF-8"),
        source_label="u.xml",
    )
    template = scenario.elements[0].template
    assert template is not None
    assert template.text_if_static() == "OPTIONS sip:h\u00c3\u00a9 SIP/2.0\r\n\r\n"


def test_iso_8859_1_document() -> None:
    data = scenario_xml("<send><![CDATA[\nOPTIONS sip:h\u00e9 SIP/2.0\n]]></send>").encode(
        "latin-1"
    )
    template = load_scenario_text(data, source_label="l.xml").elements[0].template
    assert template is not None
    assert template.text_if_static() == "OPTIONS sip:h\u00c3\u00a9 SIP/2.0\r\n\r\n"


def test_text_input_with_encoding_declaration() -> None:
    scenario = load_scenario_text(scenario_xml("<pause/>"), source_label="s")
    assert scenario.elements[0].kind is ElementKind.PAUSE


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10),
        ("0x10", 16),
        ("010", 8),
        (" -5", -5),
        ("+3", 3),
        ("0", 0),
        ("1x", None),
        ("", None),
        ("0x", None),
    ],
)
def test_c_strtol(text: str, value: int | None) -> None:
    assert c_strtol(text) == value


def test_c_strtod_and_bool() -> None:
    assert c_strtod("1.5") == 1.5 and c_strtod("1e3") == 1000.0 and c_strtod("x") is None
    assert c_bool("TRUE") is True and c_bool("False") is False and c_bool("2") is True
    assert c_bool("0") is False and c_bool("yes") is None


def test_cdata_mentioned_in_a_comment() -> None:
    scenario = load(
        "<!-- write messages in <![CDATA[ sections -->\n"
        "<send><![CDATA[\nOPTIONS sip:x SIP/2.0\n]]></send>"
    )
    template = scenario.elements[0].template
    assert template is not None and template.text_if_static() == "OPTIONS sip:x SIP/2.0\r\n\r\n"


def test_repartition_with_non_ascii_digits_is_a_scenario_error(tmp_path: pathlib.Path) -> None:
    # Found by hypothesis: "¹0" passes str.isdigit() but int() rejects it.
    path = tmp_path / "rep.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<scenario name="r">\n  <nop/>\n'
        '  <ResponseTimeRepartition value="\u00b90, 20"/>\n</scenario>\n',
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match="comma-separated list of integers"):
        load_scenario(str(path))
