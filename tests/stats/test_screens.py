"""Screens against real SIPp 3.6.1 output: the sample files byte for byte, plus layouts observed
in black-box runs of the installed binary (quoted below as expected text)."""

from __future__ import annotations

import pytest

from gossipper.stats import (
    ElementInfo,
    ElementKindTag,
    RunStats,
    ScreenContext,
    ScreenState,
    StatsSnapshot,
    format_exit_stdout,
    format_repartition_screens,
    format_scenario_screen,
    format_screen_dump,
    format_statistics_screen,
    pause_description,
    screen_state,
    sipp_time_string,
)

from ._samples import (
    FAILING_LAST_ERROR,
    FAILING_START,
    UAC_START,
    UAS_START,
    UTC,
    failing_context,
    failing_final_stats,
    sample_text,
    uac_context,
    uac_final_stats,
    uas_context,
    uas_final_stats,
)

S, R, P, N = ElementKindTag.SEND, ElementKindTag.RECV, ElementKindTag.PAUSE, ElementKindTag.NOP


def display_snapshot(
    stats: RunStats, start: float, reset_at: float, now: float, skew: float = 0.0
) -> StatsSnapshot:
    """SIPp resets the display window just before printing at exit."""
    window = stats.open_window()
    stats.snapshot(reset_at, reset_at - start - skew, window, restart=True)
    return stats.snapshot(now, now - start - skew, window)


def test_uac_stdout_at_exit_is_byte_identical() -> None:
    snap = display_snapshot(uac_final_stats(), UAC_START, 1795671785.502060, 1795671785.502331)
    out = format_exit_stdout(snap, server=False, context=uac_context(woken=0), tz=UTC)
    assert out == sample_text("uac_stdout_at_exit.txt")


def test_uas_stdout_at_exit_is_byte_identical() -> None:
    snap = display_snapshot(uas_final_stats(), UAS_START, 1795671789.509498, 1795671789.509761)
    out = format_exit_stdout(snap, server=True, context=uas_context(woken=0), tz=UTC)
    assert out == sample_text("uas_stdout_at_exit.txt")


def test_uac_screen_file_is_byte_identical() -> None:
    snap = display_snapshot(uac_final_stats(), UAC_START, 1795671785.502060, 1795671785.502196)
    out = format_screen_dump(
        snap, server=False, context=uac_context(woken=48), state=ScreenState.QUITTING, tz=UTC
    )
    assert out == sample_text("uac_screen.log")


def test_uas_screen_file_is_byte_identical() -> None:
    snap = display_snapshot(uas_final_stats(), UAS_START, 1795671789.509498, 1795671789.509649)
    out = format_screen_dump(
        snap, server=True, context=uas_context(woken=49), state=ScreenState.QUITTING, tz=UTC
    )
    assert out == sample_text("uas_screen.log")


def test_failing_screen_file_with_counters_nop_and_last_error_is_byte_identical() -> None:
    # SIPp's screen clock started ~12 ms after its statistics clock: "0.91 s" total time.
    snap = display_snapshot(
        failing_final_stats(), FAILING_START, 1795672240.797415, 1795672240.797554, skew=0.012
    )
    out = format_screen_dump(
        snap,
        server=False,
        context=failing_context(),
        state=ScreenState.QUITTING,
        tz=UTC,
        last_error=FAILING_LAST_ERROR,
    )
    assert out == sample_text("failing_uac_screen.log")


# A mid-run SIGUSR2 dump of a client scenario with two named RTDs, hidden/crlf elements, nops,
# several pause kinds and generic counters (SIPp 3.6.1, run on loopback).
X_SCENARIO_SCREEN = """\
------------------------------ Scenario Screen -------- [1-9]: Change Screen --
  Call rate (length)   Port   Total-time  Total-calls  Remote-host
  2.0(0 ms)/1.000s   5071       2.80 s            3  127.0.0.1:5070(UDP)

  Call limit 3 hit, 0.8 s period          1 ms scheduler resolution            
  3 calls (limit 74084)                   Peak was 3 calls, after 1 s
  0 Running, 6 Paused, 19 Woken up
  0 dead call msg (discarded)             0 out-of-call msg (discarded)
  3 open sockets                          0/0/0 UDP errors (send/recv/cong)
  0 Total RTP pckts sent                  0.000 last period RTP rate (kB/s)

                                 Messages  Retrans   Timeout   Unexpected-Msg
      INVITE ---------->  B-RTD1 3         0         0                         
         180 <----------  B-RTD2 3         0         0         0               

         200 <----------  E-RTD1 3         0         0         0               
         ACK ---------->  E-RTD2 3         0                                   
              [ NOP ]              
 shown nop
              [ NOP ]              

       Pause [100ms/200ms]       3                             0        
       Pause [   1500ms]         3                             0        
       Pause [  3:25:45]         2                             0        
       Pause [      0ms]         0                             0        
        INFO <----------         0         0         0         0               
       Pause [      1ms]         0                             0        
         200 ---------->         0         0                                   
------- Waiting for active calls to end. Press [q] again to force exit. -------
"""
# (SIPp printed "8.0 s period" in the "Call limit" line: an uninitialised float; we print the
# real period.)

X_STATISTICS_SCREEN = """\
----------------------------- Statistics Screen ------- [1-9]: Change Screen --
  Start Time             | 2026-11-26\t06:34:32.644257\t1795674872.644257         
  Last Reset Time        | 2026-11-26\t06:34:34.653110\t1795674874.653110         
  Current Time           | 2026-11-26\t06:34:35.451971\t1795674875.451971         
-------------------------+---------------------------+--------------------------
  Counter Name           | Periodic value            | Cumulative value
-------------------------+---------------------------+--------------------------
  Elapsed Time           | 00:00:00:798000           | 00:00:00:798000          
  Call Rate              |    0.000 cps              |    1.069 cps             
-------------------------+---------------------------+--------------------------
  Incoming calls created |        0                  |        0                 
  Outgoing calls created |        0                  |        3                 
  Total Calls created    |                           |        3                 
  Current Calls          |        3                  |                          
-------------------------+---------------------------+--------------------------
  Counter 7              |        0                  |        3                 
  Counter ctr            |        0                  |        3                 
-------------------------+---------------------------+--------------------------
  Successful call        |        0                  |        0                 
  Failed call            |        0                  |        0                 
-------------------------+---------------------------+--------------------------
  Response Time a        | 00:00:00:000000           | 00:00:00:000000          
  Response Time b        | 00:00:00:000000           | 00:00:00:000000          
  Call Length            | 00:00:00:000000           | 00:00:00:000000          
------- Waiting for active calls to end. Press [q] again to force exit. -------
"""

X_REPARTITION_SCREENS = """\
---------------------------- Repartition Screen ------- [1-9]: Change Screen --
  Average Response Time Repartition a                                          
    <No repartion defined>                                                     
  Average Call Length Repartition                                              
    <No repartion defined>                                                     
------- Waiting for active calls to end. Press [q] again to force exit. -------
--------------------------- Repartition 2 Screen ------ [1-9]: Change Screen --
  Average Response Time Repartition b                                          
    <No repartion defined>                                                     
------- Waiting for active calls to end. Press [q] again to force exit. -------
"""

X_START = 1795674872.644257

X_ELEMENTS = [
    ElementInfo(0, S, "INVITE", has_retrans=True, start_rtd="a"),
    ElementInfo(1, R, "100", is_optional=True, hide=True),
    ElementInfo(2, R, "180", is_optional=True, crlf=True, start_rtd="b", display="ignored"),
    ElementInfo(3, R, "200", rtd="a"),
    ElementInfo(4, S, "ACK", rtd="b"),
    ElementInfo(5, N),
    ElementInfo(6, N, display="shown nop"),
    ElementInfo(7, N, crlf=True),
    ElementInfo(8, P, pause_desc=sipp_time_string(100) + "/" + sipp_time_string(200)),
    ElementInfo(9, P, pause_ms=1500),
    ElementInfo(10, P, pause_ms=12345678),
    ElementInfo(11, P),
    ElementInfo(12, R, "INFO"),
    ElementInfo(13, P, pause_ms=1),
    ElementInfo(14, S, "200"),
]


def x_snapshot() -> StatsSnapshot:
    stats = RunStats(
        elements=X_ELEMENTS,
        rtd_names=["a", "b"],
        counter_names=["7", "ctr"],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=X_START,
        start_mono=0.0,
        target_rate=2.0,
    )
    for k in range(3):
        stats.call_created(0.2 + 0.5 * k, incoming=False)
        stats.generic_counters[0] += 1
        stats.generic_counters[1] += 1
    for i, n in {0: 3, 2: 3, 3: 3, 4: 3, 8: 3, 9: 3, 10: 2}.items():
        stats.elements[i].messages = n
    return display_snapshot(stats, X_START, 1795674874.653110, 1795674875.451971)


X_CONTEXT = ScreenContext(
    local_port=5071,
    remote_host="127.0.0.1",
    remote_port=5070,
    call_limit=3,
    open_calls_allowed=74084,
    scheduler_resolution_ms=1,
    paused_calls=6,
    woken_calls=19,
    open_sockets=3,
)


def test_mid_run_scenario_screen_with_every_client_element_kind() -> None:
    out = format_scenario_screen(
        x_snapshot(), server=False, context=X_CONTEXT, state=ScreenState.QUITTING
    )
    assert out == X_SCENARIO_SCREEN


def test_mid_run_statistics_screen_shows_the_sipp_static_buffer_quirk() -> None:
    out = format_statistics_screen(x_snapshot(), state=ScreenState.QUITTING, tz=UTC)
    assert out == X_STATISTICS_SCREEN


def test_statistics_screen_without_quirks_shows_cumulative_times() -> None:
    out = format_statistics_screen(x_snapshot(), tz=UTC, sipp_quirks=False)
    row = "  Elapsed Time           | 00:00:00:798000           | 00:00:02:807000          \n"
    assert row in out


def test_repartition_screens_include_one_secondary_screen_per_extra_rtd() -> None:
    out = format_repartition_screens(x_snapshot(), state=ScreenState.QUITTING)
    assert out == X_REPARTITION_SCREENS


def test_screen_without_rtd() -> None:
    stats = RunStats(
        elements=[],
        rtd_names=[],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=[10],
        start_wall=0.0,
        start_mono=0.0,
        target_rate=1.0,
    )
    stats.call_created(0.1, incoming=False)
    stats.call_ended(0.2, 0.1, None)
    out = format_repartition_screens(stats.snapshot(1.0, 1.0))
    assert out.splitlines()[1:6] == [
        "    <No repartion defined>" + " " * 53,
        "  Average Call Length Repartition" + " " * 46,
        "             0 ms <= n <         10 ms :          0",
        "                   n >=         10 ms :          1",
        ScreenState.TERMINATED.value,
    ]


def test_running_client_screen_header_lines() -> None:
    # From a -r 7 -rp 2000 run, screen dumped 0.508 s after the last refresh.
    stats = RunStats(
        elements=[],
        rtd_names=[],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=0.0,
        start_mono=0.0,
        target_rate=7.0,
    )
    window = stats.open_window()
    for k in range(8):
        if k == 7:
            stats.snapshot(2.002, 2.002, window, restart=True)
        stats.call_created(0.1 + k * 0.28, incoming=False)
        stats.call_ended(0.106 + k * 0.28, 0.006, None)
    snap = stats.snapshot(2.510, 2.510, window)
    context = ScreenContext(
        local_port=5071,
        remote_host="127.0.0.1",
        remote_port=5070,
        rate_period_ms=2000,
        call_limit=30,
        open_calls_allowed=10,
        scheduler_resolution_ms=1,
        paused_calls=12,
        woken_calls=26,
        open_sockets=3,
    )
    lines = format_scenario_screen(
        snap, server=False, context=context, state=ScreenState.RUNNING
    ).splitlines()
    assert lines[:11] == [
        "------------------------------ Scenario Screen -------- [1-9]: Change Screen --",
        "  Call rate (length)   Port   Total-time  Total-calls  Remote-host",
        "  7.0(0 ms)/2.000s   5071       2.51 s            8  127.0.0.1:5070(UDP)",
        "",
        "  1 new calls during 0.508 s period       1 ms scheduler resolution            ",
        "  0 calls (limit 10)                      Peak was 1 calls, after 0 s",
        "  0 Running, 12 Paused, 26 Woken up",
        "  0 dead call msg (discarded)             0 out-of-call msg (discarded)",
        "  3 open sockets                          0/0/0 UDP errors (send/recv/cong)",
        "  0 Total RTP pckts sent                  0.000 last period RTP rate (kB/s)",
        "",
    ]
    assert lines[-1] == (
        "------ [+|-|*|/]: Adjust rate ---- [q]: Soft exit ---- [p]: Pause traffic -----"
    )


def test_users_mode_header() -> None:
    snap = uac_final_stats().snapshot(UAC_START + 1.5, 1.504)
    context = ScreenContext(
        local_port=5071, remote_host="127.0.0.1", remote_port=5070, users=3, call_limit=40
    )
    lines = format_scenario_screen(
        snap, server=False, context=context, state=ScreenState.QUITTING
    ).splitlines()
    assert lines[1:3] == [
        "  Users (length)   Port   Total-time  Total-calls  Remote-host",
        "  3 (0 ms)   5071       1.50 s           20  127.0.0.1:5070(UDP)",
    ]


def test_lost_columns() -> None:
    # From a "-lost 20" uac run.
    elements = [
        ElementInfo(0, S, "INVITE", has_retrans=True, lost_active=True),
        ElementInfo(1, R, "100", lost_active=True),
        ElementInfo(2, R, "180", lost_active=True),
        ElementInfo(3, S, "ACK", lost_active=True),
        ElementInfo(4, P, pause_ms=0, lost_active=True),
    ]
    stats = RunStats(
        elements=elements,
        rtd_names=[],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=0.0,
        start_mono=0.0,
        target_rate=50.0,
    )
    e = stats.elements
    e[0].messages, e[0].retrans, e[0].lost = 30, 12, 9
    e[2].messages, e[2].lost = 23, 7
    e[3].messages, e[3].lost = 29, 7
    e[4].messages = 29
    snap = stats.snapshot(20.0, 20.0)
    lines = format_scenario_screen(
        snap, server=False, context=ScreenContext(), state=ScreenState.TERMINATED
    ).splitlines()
    assert lines[11:17] == [
        "                                 Messages  Retrans   Timeout   Unexp.    Lost",
        "      INVITE ---------->         30        12        0                   9     ",
        "         100 <----------         0         0         0         0               ",
        "         180 <----------         23        0         0         0         7     ",
        "         ACK ---------->         29        0                             7     ",
        "       Pause [      0ms]         29                            0        ",
    ]


def test_three_pcc_command_lines_and_server_arrows() -> None:
    # From the built-in 3pcc-C-B scenario (server side).
    elements = [
        ElementInfo(0, ElementKindTag.RECVCMD),
        ElementInfo(1, S, "INVITE"),
        ElementInfo(2, R, "100"),
        ElementInfo(3, R, "200", crlf=True),
        ElementInfo(4, S, "ACK", start_rtd="1"),
        ElementInfo(5, ElementKindTag.SENDCMD),
        ElementInfo(6, P, pause_ms=1000),
        ElementInfo(7, S, "BYE", has_retrans=True, rtd="1"),
        ElementInfo(8, ElementKindTag.RECVCMD, has_timeout=True),
    ]
    stats = RunStats(
        elements=elements,
        rtd_names=["1"],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=0.0,
        start_mono=0.0,
        target_rate=10.0,
    )
    for i in (0, 1, 3, 4, 5, 6):
        stats.elements[i].messages = 2
    stats.elements[7].messages = 1
    stats.elements[8].timeouts = 4
    snap = stats.snapshot(4.64, 4.64)
    lines = format_scenario_screen(
        snap,
        server=True,
        context=ScreenContext(local_port=5064),
        state=ScreenState.THREE_PCC_CONTROLLER_B,
    ).splitlines()
    assert lines[1:3] == [
        "  Port   Total-time  Total-calls  Transport",
        "  5064       4.64 s            0  UDP",
    ]
    assert lines[7] == "  0 dead call msg (discarded)           "
    assert lines[12:] == [
        "    [ Received Command ]         2                                      ",
        "  <---------- INVITE             2         0                                   ",
        "  ----------> 100                0         0         0         0               ",
        "  ----------> 200                2         0         0         0               ",
        "",
        "  <---------- ACK         B-RTD1 2         0                                   ",
        "        [ Sent Command ]         2                                      ",
        "  [   1000ms] Pause              2                             0        ",
        "  <---------- BYE         E-RTD1 1         0         0                         ",
        "    [ Received Command ]         0                   4                  ",
        "----------------------- 3PCC Mode - Controller B side -------------------------",
    ]


@pytest.mark.parametrize(
    ("info", "server_line"),
    [
        (ElementInfo(0, P, pause_ms=0), "  [      0ms] Pause              0"),
        (ElementInfo(0, P, pause_ms=9999), "  [   9999ms] Pause              0"),
        (ElementInfo(0, P, pause_ms=10049), "  [    10.0s] Pause              0"),
        (ElementInfo(0, P, pause_ms=60000), "  [     1:00] Pause              0"),
        (ElementInfo(0, P, pause_ms=360000000), "  [100:00:00] Pause              0"),
        (
            ElementInfo(0, P, pause_desc=f"{sipp_time_string(0.5)}/{sipp_time_string(1234.5)}"),
            "  [0.50ms/1234.5ms] Pause        0",
        ),
        (
            ElementInfo(0, P, pause_desc=f"{sipp_time_string(10.25)}/{sipp_time_string(99999)}"),
            "  [10.25ms/1:39] Pause           0",
        ),
        (ElementInfo(0, P, pause_desc="$xyz"), "  [     $xyz] Pause              0"),
    ],
)
def test_server_pause_lines(info: ElementInfo, server_line: str) -> None:
    stats = RunStats(
        elements=[info],
        rtd_names=[],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=0.0,
        start_mono=0.0,
        target_rate=10.0,
    )
    snap = stats.snapshot(1.0, 1.0)
    lines = format_scenario_screen(
        snap, server=True, context=ScreenContext(), state=ScreenState.SERVER
    ).splitlines()
    assert lines[-2] == server_line + " " * 29 + "0        "
    assert len(pause_description(ElementInfo(0, P, pause_desc="x" * 40))) == 23


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0ms"),
        (1, "1ms"),
        (999, "999ms"),
        (9999, "9999ms"),
        (10000, "10.0s"),
        (10050, "10.1s"),
        (12345, "12.3s"),
        (59999, "60.0s"),
        (60000, "1:00"),
        (599999, "9:59"),
        (3599999, "59:59"),
        (3600000, "1:00:00"),
        (12345678, "3:25:45"),
        (2.5, "2.50ms"),
        (1002.25, "1002.2ms"),
        (999.999, "1000.00ms"),
        (0.00001, "0ms"),
    ],
)
def test_sipp_time_string(ms: float, text: str) -> None:
    assert sipp_time_string(ms) == text


def test_bottom_lines() -> None:
    assert screen_state(terminated=True, quitting=True) is ScreenState.TERMINATED
    assert screen_state(quitting=True, paused=True) is ScreenState.QUITTING
    assert screen_state(paused=True) is ScreenState.PAUSED
    assert screen_state(server=True) is ScreenState.SERVER
    assert screen_state() is ScreenState.RUNNING
    assert ScreenState.PAUSED.value == (
        "----------------- Traffic Paused - Press [p] again to resume ------------------"
    )
    for state in (ScreenState.RUNNING, ScreenState.SERVER, ScreenState.QUITTING):
        assert len(state.value) == 79


def test_short_last_error_is_not_cut() -> None:
    snap = uac_final_stats().snapshot(UAC_START + 3, 3.0)
    out = format_statistics_screen(snap, last_error="  boom", tz=UTC)
    assert out.splitlines()[-2:] == ["Last Error: boom", ScreenState.TERMINATED.value]


def test_overload_guard_line_appears_only_once_it_has_acted() -> None:
    context = ScreenContext(local_port=5071, remote_host="127.0.0.1", remote_port=5070)
    stats = uac_final_stats()
    quiet = format_scenario_screen(
        stats.snapshot(UAC_START + 1.5, 1.504), server=False, context=context,
        state=ScreenState.RUNNING,
    )  # fmt: skip
    assert "overload" not in quiet  # SIPp's screen, byte for byte
    stats.calls_delayed_overload = 37
    stats.calls_skipped_overload = 5
    lines = format_scenario_screen(
        stats.snapshot(UAC_START + 1.5, 1.504), server=False, context=context,
        state=ScreenState.RUNNING,
    ).splitlines()  # fmt: skip
    assert lines[7] == "  37 calls delayed by overload, 5 skipped"
    assert len(lines) == len(quiet.splitlines()) + 1
