"""Property tests: whatever the XML, the loader raises nothing but ScenarioError/ConfigError."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gossipper.errors import ConfigError, ScenarioError
from gossipper.scenario import BUILTIN_NAMES, builtin_path, load_scenario_text

SEEDS = [builtin_path(n).read_bytes() for n in BUILTIN_NAMES]

TOP = [
    "send",
    "recv",
    "pause",
    "nop",
    "timewait",
    "label",
    "sendCmd",
    "recvCmd",
    "Global",
    "User",
    "Reference",
    "ResponseTimeRepartition",
    "DefaultMessage",
    "init",
    "bogus",
]
ACTIONS = [
    "ereg",
    "assign",
    "assignstr",
    "jump",
    "test",
    "strcmp",
    "log",
    "sample",
    "exec",
    "lookup",
    "todouble",
    "gettimeofday",
    "bogus",
]
ATTRIBUTES = [
    "request",
    "response",
    "optional",
    "next",
    "test",
    "chance",
    "rtd",
    "start_rtd",
    "repeat_rtd",
    "counter",
    "milliseconds",
    "distribution",
    "min",
    "max",
    "mean",
    "variable",
    "variables",
    "id",
    "value",
    "assign_to",
    "regexp",
    "search_in",
    "header",
    "retrans",
    "timeout",
    "ontimeout",
    "regexp_match",
    "crlf",
    "lost",
    "compare",
    "check_it",
    "start_txn",
    "response_txn",
    "ack_txn",
    "message",
    "command",
    "int_cmd",
    "file",
    "key",
]
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=12,
)
VALUES = st.one_of(
    st.sampled_from(
        [
            "true",
            "false",
            "global",
            "1",
            "0",
            "-3",
            "0x10",
            "200",
            "INVITE",
            "a",
            "a,b",
            "",
            "1e400",
            "nan",
            "[$x]",
            ".*(",
            "fixed",
            "uniform",
            "hdr",
            "x",
            "[field0]",
            "[last_Via:]",
            "stop_call",
        ]
    ),
    TEXT,
)
CDATA = st.one_of(
    st.sampled_from(["INVITE sip:[service]@[remote_ip] SIP/2.0\nContent-Length: [len]\n\nx",
                     "SIP/2.0 200 OK\n[last_Via:]\n", "[cseq", "x", "", "SIP/2.0 999 X\n",
                     "OPTIONS a SIP/2.0\n[field0 line=[$l]]\n[$v]\n[$x]\n[$x]",
                     "OPTIONS a SIP/2.0\n[authentication username=[$x]]\n[fill variable=x]"]),
    TEXT.map(lambda t: t.replace("]]>", "")),
)  # fmt: skip


def _attributes(draw: st.DrawFn) -> str:
    attrs = draw(st.dictionaries(st.sampled_from(ATTRIBUTES), VALUES, max_size=4))
    return "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())


@st.composite
def action(draw: st.DrawFn) -> str:
    tag = draw(st.sampled_from(ACTIONS))
    return f"<{tag}{_attributes(draw)}/>"


@st.composite
def element(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(TOP))
    inner = ""
    if draw(st.booleans()):
        inner = f"<![CDATA[{draw(CDATA)}]]>"
    if draw(st.booleans()):
        inner += "<action>" + "".join(draw(st.lists(action(), max_size=3))) + "</action>"
    if depth < 1 and tag == "init":
        inner += "".join(draw(st.lists(element(depth + 1), max_size=2)))
    return f"<{tag}{_attributes(draw)}>{inner}</{tag}>"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(element(), max_size=6))
def test_generated_scenarios(children: list[str]) -> None:
    xml = "<?xml version='1.0'?>\n<scenario name='f'>" + "".join(children) + "</scenario>"
    try:
        load_scenario_text(xml.encode("utf-8"), source_label="fuzz.xml")
    except (ScenarioError, ConfigError):
        pass


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=3)), min_size=1, max_size=4),
)
def test_mutated_builtins(seed: bytes, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(seed)
    for position, replacement in edits:
        at = position % (len(data) + 1)
        data[at : at + len(replacement)] = replacement
    try:
        load_scenario_text(bytes(data), source_label="mutant.xml")
    except (ScenarioError, ConfigError):
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data: bytes) -> None:
    try:
        load_scenario_text(data, source_label="bytes.xml")
    except (ScenarioError, ConfigError):
        pass
