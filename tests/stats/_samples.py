"""Rebuild the statistics of the SIPp 3.6.1 sample runs (sipp-samples/) as RunStats objects.

The uac/uas runs are the built-in scenarios (``-m 20 -r 10``); the failing run is
failing_uac_scenario.xml (3 of 4 calls rejected with 486). Times are the sample's own (the
samples were written with TZ=UTC); monotonic time is wall time minus the start.
"""

from __future__ import annotations

import datetime
import pathlib

from gossipper.stats import ElementInfo, ElementKindTag, FailureReason, RunStats
from gossipper.stats.screens import ScreenContext

SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "data" / "sipp-samples"
UTC = datetime.UTC

RT_BORDERS = [10, 20, 30, 40, 50, 100, 150, 200]
CL_BORDERS = [10, 50, 100, 500, 1000, 5000, 10000]

S, R, P, N = ElementKindTag.SEND, ElementKindTag.RECV, ElementKindTag.PAUSE, ElementKindTag.NOP

UAC_ELEMENTS = [
    ElementInfo(0, S, "INVITE", has_retrans=True),
    ElementInfo(1, R, "100", is_optional=True),
    ElementInfo(2, R, "180", is_optional=True),
    ElementInfo(3, R, "183", is_optional=True),
    ElementInfo(4, R, "200", rtd="1"),
    ElementInfo(5, S, "ACK"),
    ElementInfo(6, P, pause_ms=0),
    ElementInfo(7, S, "BYE", has_retrans=True),
    ElementInfo(8, R, "200", crlf=True),
]

UAS_ELEMENTS = [
    ElementInfo(0, R, "INVITE", crlf=True),
    ElementInfo(1, S, "180"),
    ElementInfo(2, S, "200", has_retrans=True),
    ElementInfo(3, R, "ACK", rtd="1", crlf=True, is_optional=True),
    ElementInfo(4, R, "BYE"),
    ElementInfo(5, S, "200"),
    ElementInfo(6, P, pause_ms=4000),
]

FAILING_ELEMENTS = [
    ElementInfo(0, S, "INVITE", has_retrans=True, start_rtd="inv"),
    ElementInfo(1, R, "100", is_optional=True),
    ElementInfo(2, R, "180", is_optional=True),
    ElementInfo(3, R, "200", rtd="inv"),
    ElementInfo(4, S, "ACK"),
    ElementInfo(5, N, display="middle nop"),
    ElementInfo(6, P, pause_ms=100),
    ElementInfo(7, S, "BYE", has_retrans=True),
    ElementInfo(8, R, "200", crlf=True),
]

UAC_START = 1795671783.487751
UAS_START = 1795671782.486907
FAILING_START = 1795672239.875135

# uac_rtt.csv: (stop time in ms since start, response ms) of the 20 INVITE->200 RTDs.
UAC_RTT = [(104.001 + 100 * k, 0) for k in range(20)]
UAC_RTT[4] = (508.001, 4)
UAC_RTT[14] = (1512.0, 8)


def sample_text(name: str) -> str:
    return (SAMPLES / name).read_bytes().decode("latin-1")


def sample_lines(name: str) -> list[str]:
    return sample_text(name).splitlines(keepends=True)


def new_uac_stats(*, keep_rtt_samples: bool = False) -> RunStats:
    return RunStats(
        elements=UAC_ELEMENTS,
        rtd_names=["1"],
        counter_names=[],
        response_time_repartition_ms=RT_BORDERS,
        call_length_repartition_ms=CL_BORDERS,
        start_wall=UAC_START,
        start_mono=0.0,
        target_rate=10.0,
        keep_rtt_samples=keep_rtt_samples,
    )


def uac_call(stats: RunStats, k: int) -> None:
    """Call k (0-based) of the uac run: created, answered after its RTD, ended successfully.

    Call lengths are 8 ms except call 14 (13 ms): that reproduces the sample's means,
    standard deviations and call-length repartition.
    """
    stop_ms, rtd_ms = UAC_RTT[k]
    created_s = (stop_ms - rtd_ms - 0.5) / 1000
    stats.call_created(created_s, incoming=False)
    stats.rtd_sample(0, rtd_ms / 1000, stop_ms / 1000)
    length_ms = 13 if k == 14 else 8
    stats.call_ended(created_s + length_ms / 1000, length_ms / 1000, None)


def set_uac_elements(stats: RunStats, invites: int, byes: int, calls_done: int) -> None:
    e = stats.elements
    e[0].messages = invites
    e[2].messages = invites
    e[4].messages = invites
    e[5].messages = invites
    e[6].messages = invites
    e[7].messages = byes
    e[8].messages = calls_done


def uac_context(*, woken: int) -> ScreenContext:
    return ScreenContext(
        local_port=5071,
        remote_host="127.0.0.1",
        remote_port=5070,
        call_limit=20,
        open_calls_allowed=30,
        paused_calls=23,
        woken_calls=woken,
    )


def uac_final_stats() -> RunStats:
    """The uac run after its 20 calls."""
    stats = new_uac_stats()
    for k in range(20):
        uac_call(stats, k)
    set_uac_elements(stats, 20, 20, 20)
    return stats


def new_uas_stats() -> RunStats:
    return RunStats(
        elements=UAS_ELEMENTS,
        rtd_names=["1"],
        counter_names=[],
        response_time_repartition_ms=RT_BORDERS,
        call_length_repartition_ms=CL_BORDERS,
        start_wall=UAS_START,
        start_mono=0.0,
        target_rate=10.0,
    )


def uas_final_stats() -> RunStats:
    """The uas run after 20 calls: all alive at 3.x s (peak 20), each about 4 s long."""
    stats = new_uas_stats()
    for k in range(20):
        created = 1.11 + 0.1 * k
        stats.call_created(created, incoming=True)
        stats.rtd_sample(0, 0.0, created + 0.001)
    for k in range(20):
        created = 1.11 + 0.1 * k
        stats.call_ended(created + 4.003, 4.003, None)
    for i in range(6):
        stats.elements[i].messages = 20
    stats.elements[6].messages = 20
    return stats


def uas_context(*, woken: int) -> ScreenContext:
    return ScreenContext(
        local_port=5070, call_limit=20, paused_calls=22, woken_calls=woken, show_rtp_line=True
    )


def failing_final_stats() -> RunStats:
    stats = RunStats(
        elements=FAILING_ELEMENTS,
        rtd_names=["inv"],
        counter_names=["got200", "mid"],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=FAILING_START,
        start_mono=0.0,
        target_rate=5.0,
    )
    for k in range(4):
        created = 0.004 + 0.2 * k
        stats.call_created(created, incoming=False)
        if k == 0:
            stats.rtd_sample(0, 0.004, created + 0.004)
            stats.generic_counters[0] += 1
            stats.generic_counters[1] += 1
            stats.call_ended(created + 0.109, 0.109, None)
        else:
            stats.unexpected_response_code(486)
            stats.call_ended(created + 0.001, 0.001, FailureReason.UNEXPECTED_MESSAGE)
    e = stats.elements
    e[0].messages = 4
    e[2].messages = 4
    e[3].messages = 1
    e[3].unexpected = 3
    e[4].messages = 1
    e[6].messages = 1
    e[7].messages = 1
    e[8].messages = 1
    return stats


def failing_context() -> ScreenContext:
    return ScreenContext(
        local_port=5081,
        remote_host="127.0.0.1",
        remote_port=5080,
        call_limit=4,
        open_calls_allowed=15,
        paused_calls=7,
        woken_calls=7,
    )


FAILING_LAST_ERROR = (
    "Aborting call on unexpected message for Call-Id '3-14646@127.0.0.1': while expecting "
    "'200' (index 3), received 'SIP/2.0 486 Busy Here"
)
