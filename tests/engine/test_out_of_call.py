"""Second scenarios of a run on the in-memory network: the out-of-call scenario (-oocsf/-oocsn)
and SIPp 3.7's mixed mode (-rxsf/-rxsn/-rxinf)."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
from typing import Any

import trio
import trio.testing

from gossipper.engine import EngineResult
from gossipper.errors import ExitStatus
from gossipper.scenario import Scenario
from gossipper.session import Run, open_run
from gossipper.sim import SimNetwork, SimTransportFactory
from gossipper.stats import FailureReason, StatsSnapshot
from tests.engine._harness import CLIENT, SERVER, SERVER_PORT, builtin, make_plan, scenario_text

STRAY = "10.0.0.9"
CLIENT_PORT = 5061


def _request(method: str, call_id: str, cseq: int = 7) -> bytes:
    return (
        f"{method} sip:x@{CLIENT} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {STRAY}:40000;branch=z9hG4bK-{cseq}\r\n"
        f"From: <sip:s@{STRAY}>;tag=9\r\nTo: <sip:x@{CLIENT}>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _response(call_id: str) -> bytes:
    return (
        f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {STRAY};branch=z9hG4bK-x\r\n"
        "From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>;tag=2\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    ).encode()


@dataclasses.dataclass
class OocOutcome:
    result: EngineResult
    ooc: StatsSnapshot
    answers: list[bytes]
    run: Run


def _run_uac_with_ooc(
    sends: list[tuple[float, bytes]],
    *,
    ooc: Scenario | None = None,
    directory: pathlib.Path | None = None,
    **client_options: Any,
) -> OocOutcome:
    """uac (+ out-of-call scenario) against uas; a stray host sends ``sends`` (at their
    virtual times) to the uac and collects what comes back."""

    async def main() -> OocOutcome:
        network = SimNetwork(3)
        answers: list[bytes] = []
        async with trio.open_nursery() as nursery, contextlib.AsyncExitStack() as stack:
            await nursery.start(network.run)
            server = await stack.enter_async_context(
                open_run(
                    make_plan(
                        network,
                        builtin("uas"),
                        host=SERVER,
                        role="server",
                        remote=None,
                        pid=200,
                        local_port=SERVER_PORT,
                    )
                )
            )
            plan = make_plan(
                network,
                builtin("uac"),
                host=CLIENT,
                role="client",
                remote=(SERVER, SERVER_PORT),
                pid=100,
                local_port=CLIENT_PORT,
                directory=directory,
                **client_options,
            )
            plan = dataclasses.replace(plan, ooc_scenario=ooc or builtin("ooc_default"))
            client = await stack.enter_async_context(open_run(plan))
            nursery.start_soon(server.run)
            stray = await SimTransportFactory(network, STRAY).open_datagram(STRAY, 40000)

            async def inject() -> None:
                started = trio.current_time()
                for at_s, data in sends:
                    await trio.sleep_until(started + at_s)
                    stray.send_nowait(data, (CLIENT, CLIENT_PORT))

            async def collect() -> None:
                while True:
                    for data, _ in await stray.receive_batch():
                        answers.append(data)

            nursery.start_soon(inject)
            nursery.start_soon(collect)
            result = await client.run()
            ooc_snapshot = client.extra_snapshot("ooc")
            assert ooc_snapshot is not None
            client.finish(result)
            nursery.cancel_scope.cancel()
        return OocOutcome(result, ooc_snapshot, answers, client)

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_out_of_call_requests_run_the_ooc_scenario_and_count_as_auto_answered() -> None:
    outcome = _run_uac_with_ooc(
        [
            (1.0, _request("OPTIONS", "ping-1@stray")),
            # The same request again (a retransmission): the ooc call sends its 200 again.
            (1.5, _request("OPTIONS", "ping-1@stray")),
            (2.0, _request("MESSAGE", "im-1@stray", cseq=3)),
            # A response for an unknown Call-ID is never an ooc call (SIPp: OutOfCallMsgs).
            (2.5, _response("lost@stray")),
        ],
        max_calls=2,
        rate=1,
        pause_default_s=8.0,
    )
    main = outcome.result.snapshot.cumulative
    assert (main.outgoing_calls, main.incoming_calls) == (2, 0)
    assert (main.successful_calls, main.failed_calls) == (2, 0)
    assert main.auto_answered == 2
    assert main.out_of_call_msgs == 1
    assert outcome.result.exit_status is ExitStatus.SUCCESS
    ooc = outcome.ooc.cumulative
    # Both ooc calls ended inside their 4 s timewait window, before the uac's 8 s calls.
    assert (ooc.incoming_calls, ooc.outgoing_calls) == (2, 0)
    assert (ooc.successful_calls, ooc.failed_calls) == (2, 0)
    assert ooc.retransmissions == 1
    assert [a.split(b"\r\n", 1)[0] for a in outcome.answers] == [b"SIP/2.0 200 OK"] * 3
    assert b"CSeq: 7 OPTIONS" in outcome.answers[0]
    assert b"CSeq: 3 MESSAGE" in outcome.answers[2]
    assert b"Call-ID: im-1@stray" in outcome.answers[2]
    # The 200 of ooc_default names the uac's own address and transport.
    assert b"Contact: <sip:10.0.0.1:5061;transport=UDP>" in outcome.answers[0]


def test_ooc_calls_still_open_at_the_end_are_aborted_and_do_not_fail_the_run(
    tmp_path: pathlib.Path,
) -> None:
    outcome = _run_uac_with_ooc(
        [(0.5, _request("OPTIONS", "late@stray"))],
        directory=tmp_path,
        max_calls=1,
        rate=1,
        pause_default_s=1.0,
        trace_err=True,
    )
    # The uac's one call ended after about 1 s; the ooc call was still in its 4 s timewait.
    assert outcome.result.snapshot.cumulative.successful_calls == 1
    assert outcome.ooc.cumulative.failed_calls == 1
    assert outcome.ooc.cumulative.failure(FailureReason.CALL_REJECTED) == 1
    assert outcome.result.exit_status is ExitStatus.SUCCESS
    (errors,) = tmp_path.glob("uac_*_errors.log")
    text = errors.read_text()
    assert "Received out-of-call OPTIONS message, using the out-of-call scenario" in text
    assert "Aborted call with Call-ID 'late@stray'" in text
    # The run ended with the uac's call, not 4 s later.
    assert outcome.result.snapshot.elapsed_s < 3.0


OOC_BUSY = """<?xml version="1.0"?>
<scenario name="ooc busy">
  <recv request="OPTIONS|MESSAGE" regexp_match="true"/>
  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]ooc
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
]]></send>
</scenario>
"""


def test_an_ooc_scenario_file_takes_precedence_over_auto_answer(tmp_path: pathlib.Path) -> None:
    outcome = _run_uac_with_ooc(
        [(0.5, _request("OPTIONS", "busy@stray"))],
        ooc=scenario_text(tmp_path, "busy.xml", OOC_BUSY),
        max_calls=1,
        rate=1,
        pause_default_s=1.0,
        auto_answer=True,
    )
    assert [a.split(b"\r\n", 1)[0] for a in outcome.answers] == [b"SIP/2.0 486 Busy Here"]
    assert outcome.ooc.cumulative.successful_calls == 1
    assert outcome.result.snapshot.cumulative.auto_answered == 1


# ---------------------------------------------------------------------------- mixed mode

RX_UAS = """<?xml version="1.0"?>
<scenario name="rx uas">
  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]rx[call_number]
[last_Call-ID:]
[last_CSeq:]
X-Rx-Row: [field0]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0
]]></send>
  <recv request="ACK"/>
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
  <timewait milliseconds="500"/>
</scenario>
"""


@dataclasses.dataclass
class MixedSide:
    result: EngineResult
    rx: StatsSnapshot


def _run_mixed_pair(tmp_path: pathlib.Path) -> tuple[MixedSide, MixedSide, pathlib.Path]:
    rows = tmp_path / "rows.csv"
    rows.write_text("SEQUENTIAL\nalpha;\nbeta;\ngamma;\n")
    rx = scenario_text(tmp_path, "rx_uas.xml", RX_UAS)
    side_a = tmp_path / "a"
    side_a.mkdir()

    async def main() -> tuple[MixedSide, MixedSide]:
        network = SimNetwork(5)
        async with trio.open_nursery() as nursery, contextlib.AsyncExitStack() as stack:
            await nursery.start(network.run)
            common: dict[str, Any] = {
                # Every call of both sides starts before the first one ends (2 s pauses):
                # neither side can run out of calls while the other still sends.
                "max_calls": 3,
                "rate": 2,
                "pause_default_s": 2.0,
                "rx_scenario_file": str(tmp_path / "rx_uas.xml"),
                "rx_injection_file": str(rows),
            }
            plan_a = make_plan(
                network,
                builtin("uac"),
                host=CLIENT,
                role="a",
                remote=(SERVER, SERVER_PORT),
                pid=100,
                local_port=SERVER_PORT,
                directory=side_a,
                trace_stat=True,
                trace_msg=True,
                **common,
            )
            plan_b = make_plan(
                network,
                builtin("uac"),
                host=SERVER,
                role="b",
                remote=(CLIENT, SERVER_PORT),
                pid=200,
                local_port=SERVER_PORT,
                **common,
            )
            run_a = await stack.enter_async_context(
                open_run(dataclasses.replace(plan_a, rx_scenario=rx))
            )
            run_b = await stack.enter_async_context(
                open_run(dataclasses.replace(plan_b, rx_scenario=rx))
            )
            results: dict[str, EngineResult] = {}

            async def run_side(name: str, run: Run) -> None:
                results[name] = await run.run()

            async with trio.open_nursery() as sides:
                sides.start_soon(run_side, "a", run_a)
                sides.start_soon(run_side, "b", run_b)
            rx_a = run_a.extra_snapshot("rx")
            rx_b = run_b.extra_snapshot("rx")
            assert rx_a is not None and rx_b is not None
            run_a.finish(results["a"])
            run_b.finish(results["b"])
            nursery.cancel_scope.cancel()
        return MixedSide(results["a"], rx_a), MixedSide(results["b"], rx_b)

    a, b = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return a, b, side_a


def test_mixed_mode_runs_a_client_and_an_rx_server_scenario_per_engine(
    tmp_path: pathlib.Path,
) -> None:
    a, b, side_a = _run_mixed_pair(tmp_path)
    for side in (a, b):
        main = side.result.snapshot.cumulative
        assert (main.outgoing_calls, main.incoming_calls) == (3, 0)
        assert (main.successful_calls, main.failed_calls) == (3, 0)
        rx = side.rx.cumulative
        assert (rx.incoming_calls, rx.outgoing_calls) == (3, 0)
        assert (rx.successful_calls, rx.failed_calls) == (3, 0)
        assert side.result.exit_status is ExitStatus.SUCCESS
    # Each side's rx calls read the -rxinf rows in order; its client calls read none.
    (messages,) = side_a.glob("uac_*_messages.log")
    sent_rows = [line for line in messages.read_text().splitlines() if line.startswith("X-Rx-Row:")]
    # A's own 200s (sent) and B's 200s (received) each carry alpha, beta, gamma.
    assert sorted(sent_rows) == sorted(["X-Rx-Row: alpha", "X-Rx-Row: beta", "X-Rx-Row: gamma"] * 2)
    # The rx scenario has its own statistics file, named after it.
    main_stat = list(side_a.glob("uac_100_.csv"))
    rx_stat = list(side_a.glob("rx_uas_100_.csv"))
    assert main_stat and rx_stat
    header, *rows_written = rx_stat[0].read_text().splitlines()
    columns = header.split(";")
    last = rows_written[-1].split(";")
    assert last[columns.index("IncomingCall(C)")] == "3"
    assert last[columns.index("SuccessfulCall(C)")] == "3"
