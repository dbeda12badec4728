"""3PCC: the command channel (framing, parsing, checks) and whole runs of controllers and
servers on the simulated network (classic twins, a twin that disconnects, extended mode)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import pathlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.testing

from gossipper.cli.sim_command import build_plan
from gossipper.config import RunConfig
from gossipper.engine import EngineResult
from gossipper.engine.threepcc import (
    CommandFramer,
    CommandFramingError,
    TwinSetup,
    check_twin_setup,
    command_call_id,
    command_sender,
    is_abort_command,
    parse_slave_cfg,
)
from gossipper.errors import ConfigError
from gossipper.scenario import Scenario
from gossipper.session import Run, open_run
from gossipper.sim import SimNetwork, run_simulation
from gossipper.stats import FailureReason, ScreenState
from tests.engine._harness import builtin, make_plan, scenario_text

# --------------------------------------------------------------------------- pure helpers


def test_framer_cuts_at_each_esc_and_keeps_the_rest() -> None:
    framer = CommandFramer()
    assert framer.feed(b"Call-ID: 1\r\n\x1bCall-") == [b"Call-ID: 1\r\n"]
    assert framer.feed(b"ID: 2\r\n") == []
    assert framer.feed(b"\x1b\x1b") == [b"Call-ID: 2\r\n", b""]


def test_framer_refuses_an_endless_command() -> None:
    framer = CommandFramer()
    with pytest.raises(CommandFramingError):
        framer.feed(b"x" * 70000)


def test_command_headers_are_found_in_any_case_and_compact_form() -> None:
    assert command_call_id("Call-ID: 1-2@h\r\nX: y\r\n") == "1-2@h"
    assert command_call_id("call-id: abc\r\ninternal-cmd: abort_call\r\n") == "abc"
    assert command_call_id("i: compact\r\n") == "compact"
    assert command_call_id("From: m\r\n") is None
    assert is_abort_command("call-id: abc\r\ninternal-cmd: abort_call\r\n")
    assert not is_abort_command("Call-ID: abc\r\n")
    assert command_sender("Call-ID: 1\r\nFrom: s1 extra\r\n") == "s1"
    assert command_sender("Call-ID: 1\r\n") is None


def test_slave_cfg_is_parsed_and_comments_skipped() -> None:
    text = "# peers\nm;127.0.0.1:9000\n\ns1; 127.0.0.1:9001\ns2;[::1]:9002\n"
    assert parse_slave_cfg(text, "p.cfg") == {
        "m": ("127.0.0.1", 9000),
        "s1": ("127.0.0.1", 9001),
        "s2": ("::1", 9002),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("m 127.0.0.1:9000\n", "-slave_cfg p.cfg:1: expected 'name;host:port'"),
        ("m;127.0.0.1:9000\ns1;127.0.0.1\n", "-slave_cfg p.cfg:2: '127.0.0.1' has no port"),
        ("m;127.0.0.1:99999\n", "-slave_cfg p.cfg:1: port '99999' is not a number 1-65535"),
        ("m;h:1\nm;h:2\n", "-slave_cfg p.cfg:2: peer 'm' is defined twice; keep one line"),
    ],
)
def test_slave_cfg_errors_name_the_file_line_and_fix(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_slave_cfg(text, "p.cfg")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_commands_without_a_channel_are_refused_before_traffic() -> None:
    with pytest.raises(ConfigError, match=r"3pcc-C-A>:\d+: <sendCmd> needs a 3PCC command"):
        check_twin_setup(builtin("3pcc-C-A"), None)


def test_a_channel_without_commands_is_refused() -> None:
    with pytest.raises(ConfigError, match="-3pcc: <builtin:uac> has no sendCmd/recvCmd"):
        check_twin_setup(builtin("uac"), TwinSetup(twin=("127.0.0.1", 6060)))


def test_classic_roles_decide_who_listens() -> None:
    twin = TwinSetup(twin=("127.0.0.1", 6060))
    assert check_twin_setup(builtin("3pcc-C-B"), twin) == (True, ())
    assert check_twin_setup(builtin("3pcc-C-A"), twin) == (False, ())


def test_extended_mode_needs_dest_and_known_peers() -> None:
    setup = TwinSetup(name="m", master=True, peers={"m": ("h", 1)}, peers_file="p.cfg")
    with pytest.raises(ConfigError, match="<sendCmd> needs dest=NAME in extended 3PCC mode"):
        check_twin_setup(builtin("3pcc-C-A"), setup)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"master_name": "m", "slave_name": "s"}, "-master and -slave cannot be combined"),
        ({"master_name": "m"}, "-master/-slave need -slave_cfg FILE"),
        ({"slave_cfg": "p.cfg"}, "-slave_cfg needs -master NAME or -slave NAME"),
        (
            {"master_name": "m", "slave_cfg": "p.cfg", "twin_host": "127.0.0.1"},
            "-3pcc cannot be combined with -master/-slave",
        ),
    ],
)
def test_option_combinations_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RunConfig(**options)


# --------------------------------------------------------------------------- classic twins


def _simulate(args: list[str], tmp_path: pathlib.Path) -> tuple[Any, str]:
    plan = build_plan(args, directory=str(tmp_path))
    out = io.StringIO()
    result = run_simulation(plan, out, io.StringIO())
    return result, out.getvalue()


def test_builtin_controllers_and_servers_complete_every_call(tmp_path: pathlib.Path) -> None:
    result, out = _simulate(
        ["-sn", "3pcc-C-A", "-m", "6", "-r", "5", "-trace_msg", "-trace_counts"], tmp_path
    )
    main = result.main.snapshot.cumulative
    assert (main.total_calls, main.successful_calls, main.failed_calls) == (6, 6, 0)
    labels = dict(result.others)
    assert set(labels) == {"Twin 3pcc-C-B", "Twin's peer 3pcc-B"}
    for _, other in result.others:
        counts = other.snapshot.cumulative
        assert (counts.successful_calls, counts.failed_calls) == (6, 0)
    assert "Twin 3pcc-C-B: 6 calls, 6 successful, 0 failed" in out
    messages = (tmp_path / "3pcc-C-A_4242_messages.log").read_bytes().decode("latin-1")
    assert messages.count("TCP control message sent (") == 6
    assert messages.count("TCP control message received [") == 6
    # The wire format: CRLF lines, one ESC at the end, the 200's SDP passed on.
    sent = messages.split("TCP control message sent (")[1]
    assert "Call-ID: 1-4242@10.0.0.1\r\nContent-Type: application/sdp\r\n" in sent
    assert "a=rtpmap:0 PCMU/8000\r\n\x1b\n" in sent
    counts = (tmp_path / "3pcc-C-A_4242_counts.csv").read_text().splitlines()
    header = counts[0].split(";")
    last = dict(zip(header, counts[-1].split(";"), strict=False))
    assert last["5_SendCmd"] == "6"
    assert last["6_RecvCmd"] == "6"


def test_controller_b_as_main_side_gets_its_calls_from_the_twin(tmp_path: pathlib.Path) -> None:
    result, _ = _simulate(["-sn", "3pcc-C-B", "-m", "4", "-r", "4"], tmp_path)
    main = result.main.snapshot.cumulative
    assert (main.total_calls, main.successful_calls, main.failed_calls) == (4, 4, 0)
    # Controller B creates outgoing calls (SIPp counts them so).
    assert (main.outgoing_calls, main.incoming_calls) == (4, 0)
    assert result.exit_status == 0


def _sim_runs(
    sides: list[tuple[Scenario, str, int, TwinSetup | None, tuple[str, int] | None]],
    during: Callable[[dict[str, Run]], Awaitable[None]] | None = None,
    **main_options: Any,
) -> dict[str, EngineResult]:
    """Open the runs in order (servers, listeners, connectors), run them all; the last one is
    the main side: when it ends the others get a soft quit, then an interrupt."""

    async def main() -> dict[str, EngineResult]:
        network = SimNetwork(1)
        results: dict[str, EngineResult] = {}
        async with trio.open_nursery() as nursery, contextlib.AsyncExitStack() as stack:
            await nursery.start(network.run)
            runs: dict[str, Run] = {}
            for index, (scenario, host, port, twin, remote) in enumerate(sides):
                options = main_options if index == len(sides) - 1 else {}
                plan = make_plan(
                    network,
                    scenario,
                    host=host,
                    role=host,
                    remote=remote,
                    pid=100 + index,
                    local_port=port,
                    **options,
                )
                plan = dataclasses.replace(plan, twin=twin)
                runs[host] = await stack.enter_async_context(open_run(plan))
            done = {host: trio.Event() for host in runs}

            async def run_one(host: str) -> None:
                results[host] = await runs[host].run()
                done[host].set()

            *others, main_host = list(runs)
            for host in others:
                nursery.start_soon(run_one, host)
            if during is not None:
                nursery.start_soon(during, runs)
            await run_one(main_host)
            for host in others:
                runs[host].engine.soft_quit()
                with trio.move_on_after(30):
                    await done[host].wait()
                runs[host].engine.interrupt()
                await done[host].wait()
            nursery.cancel_scope.cancel()
        return results

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


_SLOW_B = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="slow B party">
  <recv request="INVITE"/>
  <pause milliseconds="3000"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [local_ip]
      t=0 0
      m=audio 6000 RTP/AVP 0
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
</scenario>
"""

TWIN = TwinSetup(twin=("10.0.0.3", 6060))


def test_twin_that_disconnects_fails_the_waiting_calls_and_the_run_ends(
    tmp_path: pathlib.Path,
) -> None:
    async def kill_twin(runs: dict[str, Run]) -> None:
        await trio.sleep(2.5)
        runs["10.0.0.3"].engine.interrupt()

    results = _sim_runs(
        [
            (builtin("3pcc-A"), "10.0.0.2", 5060, None, None),
            (scenario_text(tmp_path, "slow_b.xml", _SLOW_B), "10.0.0.4", 5060, None, None),
            (builtin("3pcc-C-B"), "10.0.0.3", 5060, TWIN, ("10.0.0.4", 5060)),
            (builtin("3pcc-C-A"), "10.0.0.1", 5060, TWIN, ("10.0.0.2", 5060)),
        ],
        during=kill_twin,
        rate=4.0,
        max_calls=40,
    )
    main = results["10.0.0.1"]
    counts = main.snapshot.cumulative
    # Calls waiting for the twin's answer failed (FailedTcpClosed); no call started after.
    assert counts.failed_calls > 0
    assert counts.failure(FailureReason.TCP_CLOSED) == counts.failed_calls
    assert counts.total_calls < 40
    assert counts.total_calls == counts.successful_calls + counts.failed_calls
    assert main.exit_status == 1
    assert main.quit_reason == "3PCC twin ended"
    # Their dialogs were tidied up: the A party got ACK and BYE and ended its calls cleanly.
    party_a = results["10.0.0.2"].snapshot.cumulative
    assert party_a.successful_calls == counts.total_calls


# --------------------------------------------------------------------------- extended mode

_MASTER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="master">
  <sendCmd dest="s1"><![CDATA[
      Call-ID: [call_id]
      From: m
      Hop: one
  ]]></sendCmd>
  <recvCmd src="s1">
    <action><ereg regexp="Answer: (.*)" search_in="msg" assign_to="all,a1"/></action>
  </recvCmd>
  <sendCmd dest="s2"><![CDATA[
      Call-ID: [call_id]
      From: [$sender]
      Hop: two [$a1]
  ]]></sendCmd>
  <recvCmd src="s2">
    <action><ereg regexp="Answer: (.*)" search_in="msg" assign_to="all2,a2"/>
      <log message="[$a1] [$a2] [$all] [$all2]"/></action>
  </recvCmd>
</scenario>
"""

_SLAVE = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="slave NAME">
  <recvCmd src="m">
    <action><ereg regexp="Hop: (.*)" search_in="msg" assign_to="hop,what"/></action>
  </recvCmd>
  <sendCmd dest="m"><![CDATA[
      Call-ID: [call_id]
      From: NAME
      Answer: NAME-[$what]-[$hop]
  ]]></sendCmd>
</scenario>
"""

PEERS = {"m": ("10.0.0.1", 7000), "s1": ("10.0.0.3", 7001), "s2": ("10.0.0.4", 7002)}


def _extended(tmp_path: pathlib.Path, sender: str, **options: Any) -> dict[str, EngineResult]:
    master = _MASTER.replace("[$sender]", sender)
    sides: list[tuple[Scenario, str, int, TwinSetup | None, tuple[str, int] | None]] = []
    for name in ("s1", "s2"):
        slave = scenario_text(tmp_path, f"{name}.xml", _SLAVE.replace("NAME", name))
        setup = TwinSetup(name=name, peers=PEERS, peers_file="p.cfg")
        sides.append((slave, PEERS[name][0], 5060, setup, ("10.0.0.9", 5060)))
    setup = TwinSetup(name="m", master=True, peers=PEERS, peers_file="p.cfg")
    sides.append(
        (scenario_text(tmp_path, "m.xml", master), "10.0.0.1", 5060, setup, ("10.0.0.9", 5060))
    )
    return _sim_runs(sides, rate=2.0, max_calls=3, **options)


def test_extended_master_talks_to_two_named_slaves(tmp_path: pathlib.Path) -> None:
    results = _extended(tmp_path, "m")
    master = results["10.0.0.1"].snapshot.cumulative
    assert (master.total_calls, master.successful_calls, master.failed_calls) == (3, 3, 0)
    for host in ("10.0.0.3", "10.0.0.4"):
        slave = results[host].snapshot.cumulative
        assert (slave.total_calls, slave.successful_calls, slave.failed_calls) == (3, 3, 0)


def test_extended_slave_rejects_an_unexpected_sender(tmp_path: pathlib.Path) -> None:
    results = _extended(tmp_path, "intruder", recv_timeout_s=2.0)
    s2 = results["10.0.0.4"]
    assert s2.snapshot.cumulative.failed_calls == 3
    assert s2.snapshot.cumulative.failure(FailureReason.CALL_REJECTED) == 3
    # Rejected at its first element, the slave's call sends no abort_call (SIPp: only past
    # the first element): the master's calls wait for an answer until -recv_timeout.
    master = results["10.0.0.1"].snapshot.cumulative
    assert master.failed_calls == master.failure(FailureReason.TIMEOUT_ON_RECV) == 3


def test_an_aborted_call_tells_its_twin_which_aborts_its_call_too(
    tmp_path: pathlib.Path,
) -> None:
    """Controller A gives up waiting for B's answer (-recv_timeout 1 s; the B party answers
    after 3 s): A's calls fail on the timeout and send ``abort_call``; B aborts the same
    calls (FailedCallRejected) instead of completing them."""
    results = _sim_runs(
        [
            (builtin("3pcc-A"), "10.0.0.2", 5060, None, None),
            (scenario_text(tmp_path, "slow_b.xml", _SLOW_B), "10.0.0.4", 5060, None, None),
            (builtin("3pcc-C-B"), "10.0.0.3", 5060, TWIN, ("10.0.0.4", 5060)),
            (builtin("3pcc-C-A"), "10.0.0.1", 5060, TWIN, ("10.0.0.2", 5060)),
        ],
        rate=2.0,
        max_calls=3,
        recv_timeout_s=1.0,
    )
    a = results["10.0.0.1"].snapshot.cumulative
    b = results["10.0.0.3"].snapshot.cumulative
    assert a.failed_calls == a.failure(FailureReason.TIMEOUT_ON_RECV) == 3
    assert b.failed_calls == b.failure(FailureReason.CALL_REJECTED) == 3
    assert b.successful_calls == 0


def test_screens_of_running_controllers_name_their_3pcc_role(tmp_path: pathlib.Path) -> None:
    screens: dict[str, str] = {}

    async def look(runs: dict[str, Run]) -> None:
        await trio.sleep(0.5)
        for host in ("10.0.0.1", "10.0.0.3"):
            screens[host] = runs[host].screen_dump().splitlines()[-1]

    _sim_runs(
        [
            (builtin("3pcc-A"), "10.0.0.2", 5060, None, None),
            (builtin("3pcc-B"), "10.0.0.4", 5060, None, None),
            (builtin("3pcc-C-B"), "10.0.0.3", 5060, TWIN, ("10.0.0.4", 5060)),
            (builtin("3pcc-C-A"), "10.0.0.1", 5060, TWIN, ("10.0.0.2", 5060)),
        ],
        during=look,
        rate=2.0,
        max_calls=2,
    )
    assert screens["10.0.0.1"] == ScreenState.THREE_PCC_CONTROLLER_A.value
    assert screens["10.0.0.3"] == ScreenState.THREE_PCC_CONTROLLER_B.value


def test_controllers_run_over_tcp_too(tmp_path: pathlib.Path) -> None:
    # -t t1: controller B (a "server" scenario) still connects to its party like a client.
    result, out = _simulate(["-sn", "3pcc-C-B", "-t", "t1", "-m", "3", "-r", "5"], tmp_path)
    main = result.main.snapshot.cumulative
    assert (main.total_calls, main.successful_calls, main.failed_calls) == (3, 3, 0)
    assert "Streams: 3 connections (0 refused)" in out
    assert "Twin 3pcc-C-A: 3 calls, 3 successful, 0 failed" in out
