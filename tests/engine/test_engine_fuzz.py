"""Fuzz beyond the parser: hostile messages through dispatch, matching, actions and templates.

A server engine runs a scenario whose every step reads the incoming message (``ereg`` on the
whole message and on headers, ``assign``/``test``/``strcmp`` on what was captured, ``[last_*]``
and ``[$var]`` in the answers it renders), while a client engine makes real calls to it on the
simulated network. Meanwhile a stray socket sends it generated requests: valid ones mutated at
the byte, line and header level. Whatever arrives:

* nothing escapes: both engines end by themselves, the run raises nothing;
* every real call succeeds (hostile messages carry their own Call-IDs);
* every hostile message is accounted for: it was discarded as malformed, or it started a call of
  its own (which then ends, counted, like any other), or it was counted out of call.

``GOSSIPPER_FUZZ_EXAMPLES`` raises the example count (``nox -s fuzz`` runs many more, with a fresh
random seed each time; a failure prints the reproducing example).
"""

from __future__ import annotations

import os
import random

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gossipper.scenario import load_scenario_text
from gossipper.sim import SimTransportFactory

from ._harness import SERVER, SERVER_PORT, builtin, run_pair

EXAMPLES = settings(
    max_examples=max(1, int(os.environ.get("GOSSIPPER_FUZZ_EXAMPLES", "300")) // 10),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
REAL_CALLS = 3

# A uas that exercises actions and templates on everything it receives.
UAS_READING_EVERYTHING = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas reading everything">
  <recv request="INVITE">
    <action>
      <ereg regexp="sip:([^@;>]*)@([^;>: ]*)" search_in="msg" assign_to="all,user,host"/>
      <ereg regexp="tag=([^;]*)" search_in="hdr" header="From:" assign_to="ftag,tagval"/>
      <ereg regexp="([0-9]+) INVITE" search_in="hdr" header="CSeq:" assign_to="cs,csnum"/>
      <ereg regexp=".*" search_in="body" assign_to="body"/>
      <assignstr assign_to="joined" value="[$user]/[$host]/[$tagval]"/>
      <strcmp assign_to="same" variable="user" variable2="host"/>
      <todouble assign_to="n" variable="csnum"/>
      <test assign_to="big" variable="n" compare="greater_than" value="1000"/>
      <add assign_to="n" value="1"/>
    </action>
  </recv>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      X-Echo: [$joined] [$same] [$n] [$big] [last_User-Agent:] [last_Request_URI]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv request="ACK" rtd="true" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <timewait milliseconds="500"/>
  <Reference variables="all,ftag,cs,body"/>
</scenario>
"""

VALID_LINES = [
    b"INVITE sip:service@10.0.0.2:5060 SIP/2.0",
    b"Via: SIP/2.0/UDP 10.0.0.9:5062;branch=z9hG4bK-fuzz-1;rport",
    b'From: "fuzz" <sip:fuzz@10.0.0.9:5062>;tag=fuzz1',
    b"To: <sip:service@10.0.0.2:5060>",
    b"CSeq: 1 INVITE",
    b"Contact: <sip:fuzz@10.0.0.9:5062>",
    b"Max-Forwards: 70",
    b"User-Agent: fuzzer",
    b"Record-Route: <sip:proxy.example;lr>",
    b"Content-Type: application/sdp",
]
BODY = (
    b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
    b"m=audio 6000 RTP/AVP 0\r\n"
)
SPECIAL = [b"\r\n", b"\n", b"\r", b":", b" ", b";", b"<", b">", b'"', b",", b"\x00", b"\xff", b"%"]

SERVER_SCENARIO = load_scenario_text(
    UAS_READING_EVERYTHING, source_label="fuzz_uas.xml", base_name="fuzz_uas"
)

line_mutation = st.one_of(
    st.tuples(st.just("drop"), st.integers(0, len(VALID_LINES) - 1)),
    st.tuples(st.just("dup"), st.integers(0, len(VALID_LINES) - 1)),
    st.tuples(st.just("value"), st.integers(0, len(VALID_LINES) - 1), st.binary(max_size=80)),
    st.tuples(st.just("long"), st.integers(0, len(VALID_LINES) - 1), st.integers(1, 20_000)),
    st.tuples(st.just("bytes"), st.integers(0, len(VALID_LINES) - 1), st.binary(max_size=8)),
    st.tuples(st.just("special"), st.integers(0, len(VALID_LINES) - 1), st.sampled_from(SPECIAL)),
    st.tuples(st.just("text"), st.integers(0, len(VALID_LINES) - 1), st.text(max_size=40)),
)
message_spec = st.tuples(
    st.lists(line_mutation, max_size=6),
    st.sampled_from(["keep", "compact", "drop", "spaces", "empty"]),
    st.sampled_from(["exact", "short", "long", "missing", "garbage"]),
    st.booleans(),  # with the SDP body
)


def build(spec: tuple[object, ...], number: int) -> bytes:
    """One hostile request; its Call-ID (when it has one) is unique to ``number``."""
    mutations, call_id_form, length_form, with_body = spec
    lines = list(VALID_LINES)
    assert isinstance(mutations, list)
    for mutation in mutations:
        kind, index = mutation[0], mutation[1] % len(lines) if lines else 0
        if not lines:
            break
        if kind == "drop":
            del lines[index]
        elif kind == "dup":
            lines.insert(index, lines[index])
        elif kind == "value":
            name = lines[index].split(b":", 1)[0]
            lines[index] = name + b": " + mutation[2]
        elif kind == "long":
            lines[index] = lines[index] + b"x" * mutation[2]
        elif kind in ("bytes", "special"):
            line = lines[index]
            at = random.Random(number).randrange(len(line) + 1)
            lines[index] = line[:at] + mutation[2] + line[at:]
        elif kind == "text":
            lines[index] = lines[index] + mutation[2].encode("utf-8")
    call_id = f"fuzz-{number:06d}-{random.Random(number).getrandbits(64):016x}@fuzz".encode()
    call_id_line = {
        "keep": b"Call-ID: " + call_id,
        "compact": b"i:" + call_id,
        "spaces": b"Call-ID:   " + call_id + b"  ",
        "drop": None,
        "empty": b"Call-ID:",
    }[str(call_id_form)]
    if call_id_line is not None:
        lines.insert(min(3, len(lines)), call_id_line)
    body = BODY if with_body else b""
    length = {
        "exact": str(len(body)).encode(),
        "short": str(max(0, len(body) - 5)).encode(),
        "long": str(len(body) + 50).encode(),
        "missing": None,
        "garbage": b"abc",
    }[str(length_form)]
    if length is not None:
        lines.append(b"Content-Length: " + length)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@EXAMPLES
@given(st.lists(message_spec, min_size=1, max_size=8))
def test_hostile_requests_never_break_a_server_and_are_all_counted(
    specs: list[tuple[object, ...]],
) -> None:
    messages = [build(spec, number) for number, spec in enumerate(specs)]

    async def inject(network, client, server) -> None:  # type: ignore[no-untyped-def]
        stray = await SimTransportFactory(network, "10.0.0.9").open_datagram("10.0.0.9", 5062)
        await trio.sleep(0.05)
        for data in messages:
            stray.send_nowait(data, (SERVER, SERVER_PORT))
            await trio.sleep(0.01)

    result = run_pair(
        builtin("uac"),
        SERVER_SCENARIO,
        client_options={"max_calls": REAL_CALLS, "rate": 10},
        during=inject,
    )
    client = result.client.snapshot.cumulative
    assert client.successful_calls == REAL_CALLS, client
    assert result.server is not None and result.server_engine is not None
    server = result.server.snapshot.cumulative
    fuzz_calls = server.incoming_calls - REAL_CALLS
    accounted = server.malformed_msgs + fuzz_calls + server.out_of_call_msgs + server.dead_call_msgs
    assert accounted == len(messages), (server, len(messages))
    # Every call the hostile messages started ended with a named outcome.
    assert server.successful_calls + server.failed_calls == server.incoming_calls
