"""The TUI's widgets rendered with urwid's canvas API at 80x24 (and other sizes): the text a
terminal would show."""

from __future__ import annotations

import urwid

from gossipper.engine import QuitState
from gossipper.stats.counters import FailureReason, RunStats
from gossipper.tui.model import History
from gossipper.tui.widgets import (
    KEYS_LINE,
    Chart,
    Dashboard,
    OpenCallsGauge,
    RunState,
    ScrollText,
    header_text,
    help_overlay,
)


def _state(**changes: object) -> RunState:
    values: dict[str, object] = {
        "scenario": "uac",
        "transport_name": "UDP",
        "local_address": ("127.0.0.1", 5060),
        "remote_address": ("127.0.0.1", 5070),
        "rate": 20.0,
        "rate_period_s": 1.0,
        "users": None,
        "open_calls": 12,
        "open_call_limit": 60,
        "calls_started": 100,
        "call_limit": None,
        "open_call_sockets": 0,
        "malformed_messages": 3,
        "paused": False,
        "quit_state": QuitState.RUNNING,
        "is_server": False,
    }
    values.update(changes)
    return RunState(**values)  # type: ignore[arg-type]


def _history(seconds: int = 30) -> History:
    stats = RunStats(
        elements=[],
        rtd_names=["1"],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=1000.0,
        start_mono=0.0,
        target_rate=20.0,
    )
    window = stats.open_window()
    history = History()
    for second in range(1, seconds + 1):
        for _ in range(20):
            stats.call_created(second - 0.5, incoming=False)
            stats.rtd_sample(0, 0.004 if second % 2 else 0.008, second - 0.5)
        for _ in range(18):
            stats.call_ended(second - 0.4, 0.01, None)
        stats.call_ended(second - 0.4, 0.01, FailureReason.TIMEOUT_ON_RECV)
        if second > seconds - 5:
            stats.call_ended(second - 0.4, 0.01, FailureReason.UNEXPECTED_MESSAGE)
        history.add(stats.snapshot(1000.0 + second, float(second), window, restart=True))
    return history


def _text(widget: urwid.Widget, size: tuple[int, ...]) -> list[str]:
    return [line.decode("utf-8") for line in widget.render(size).text]


def _screen(columns: int = 80, rows: int = 24, **state: object) -> list[str]:
    dashboard = Dashboard()
    dashboard.update(_history(), _state(**state))
    frame = urwid.Frame(
        dashboard,
        header=urwid.Text(header_text(_state(**state), 83.0), wrap="clip"),
        footer=urwid.Text(KEYS_LINE, wrap="clip"),
    )
    return _text(frame, (columns, rows))


def test_dashboard_at_80x24_shows_every_panel() -> None:
    lines = _screen()
    assert len(lines) == 24 and all(len(line) == 80 for line in lines)
    screen = "\n".join(lines)
    assert lines[0].startswith("gossipper uac -> 127.0.0.1:5070 UDP  00:01:23  rate 20 cps")
    assert "[RUNNING]" in lines[0]
    assert lines[-1].rstrip() == KEYS_LINE
    assert "Calls/s 20.0  max 20.0  last 30 s" in screen
    assert "Failed/s 2.0  max 2.0  last 30 s" in screen
    assert "p99 ms (1) 8.0" in screen
    assert "open 12 / 60" in screen
    assert "calls 600 " in screen and "ok 540  failed 35" in screen
    assert "Response time 1 (ms)" in screen
    # Half the measures at 4 ms, half at 8 ms: the percentiles show it.
    assert "10 s      4.0    8.0    8.0     200" in screen
    assert "1 min     4.0    8.0    8.0     600" in screen
    assert "run       4.0    8.0    8.0     600" in screen
    assert "Transport UDP" in screen and "127.0.0.1:5060 -> 127.0.0.1:5070" in screen
    assert "malformed 3" in screen
    assert "TimeoutOnRecv             30      30" in screen
    assert "UnexpectedMessage          5       5" in screen
    # The rate chart's bars: a full block in the newest column.
    assert any(line[:44].rstrip().endswith("█") for line in lines[2:7])


def test_dashboard_renders_at_other_sizes() -> None:
    for columns, rows in ((120, 40), (60, 20), (40, 10)):
        lines = _screen(columns, rows)
        assert len(lines) == rows and all(len(line) == columns for line in lines)
    wide = "\n".join(_screen(160, 50))
    assert "Calls/s 20.0" in wide and "open 12 / 60" in wide


def test_header_says_paused_users_and_quitting() -> None:
    assert "[PAUSED]" in header_text(_state(paused=True), 1.0)
    assert "users 30" in header_text(_state(users=30), 1.0)
    assert "[QUITTING]" in header_text(_state(quit_state=QuitState.SOFT), 1.0)
    server = header_text(_state(is_server=True), 1.0)
    assert server == "gossipper uac serving UDP  00:00:01  [RUNNING]"
    assert "-> [::1]:5070" in header_text(_state(remote_address=("::1", 5070)), 1.0)


def test_span_key_groups_seconds_per_column() -> None:
    dashboard = Dashboard()
    history = _history(30)
    dashboard.next_span()
    dashboard.update(history, _state())
    screen = "\n".join(_text(dashboard, (80, 22)))
    assert dashboard.seconds_per_column == 5
    assert "last 30 s" in screen  # six columns of five seconds
    dashboard.next_span()
    dashboard.next_span()
    assert dashboard.seconds_per_column == 1


def test_no_rtd_and_no_failure() -> None:
    stats = RunStats(
        elements=[],
        rtd_names=[],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=0.0,
        start_mono=0.0,
        target_rate=1.0,
    )
    history = History()
    history.add(stats.snapshot(1.0, 1.0, stats.open_window(), restart=True))
    dashboard = Dashboard()
    dashboard.update(history, _state())
    screen = "\n".join(_text(dashboard, (80, 22)))
    assert "no start_rtd/rtd in the scenario" in screen
    assert "no failed call" in screen


def test_gauge_shows_open_calls_against_the_limit() -> None:
    gauge = OpenCallsGauge()
    gauge.set_calls(30, 60)
    assert "open 30 / 60" in _text(gauge, (30,))[0]
    gauge.set_calls(90, 60)  # above -l after a 'set limit': the bar is full, the text true
    assert "open 90 / 60" in _text(gauge, (30,))[0]


def test_chart_widget_has_a_title_and_bars() -> None:
    chart = Chart(3, "rate")
    chart.set_data("title here", [1.0, 2.0, 3.0])
    lines = _text(chart, (10,))
    assert lines[0].startswith("title here") and len(lines) == 4
    assert [line[-3:] for line in lines[1:]] == ["  █", " ██", "███"]


def test_scroll_text_scrolls_and_clips() -> None:
    view = ScrollText()
    view.set_text("\n".join(f"line {i:02d} " + "x" * 90 for i in range(45)))
    lines = _text(view, (80, 10))
    assert lines[0].startswith("line 00") and len(lines) == 10 and len(lines[0]) == 80
    assert view.keypress((80, 10), "page down") is None
    assert _text(view, (80, 10))[0].startswith("line 09")
    view.keypress((80, 10), "end")
    lines = _text(view, (80, 10))
    assert lines[-1].startswith("line 44")
    view.keypress((80, 10), "home")
    assert _text(view, (80, 10))[0].startswith("line 00")
    assert view.keypress((80, 10), "x") == "x"
    # A shorter screen afterwards (another key) is shown from its top, padded.
    view.set_text("only\ntwo")
    lines = _text(view, (80, 5))
    assert [line.rstrip() for line in lines] == ["only", "two", "", "", ""]


def test_help_overlay_lists_the_keys_at_80x24() -> None:
    dashboard = Dashboard()
    dashboard.update(_history(), _state())
    lines = _text(help_overlay(dashboard), (80, 24))
    screen = "\n".join(lines)
    assert len(lines) == 24
    assert "Keys" in lines[0]
    for expected in ("soft quit", "pause / resume", "rate up/down", "SIPp's screens", "? or h"):
        assert expected in screen
    # The help covers the charts entirely.
    assert "Calls/s" not in screen


def test_dashboard_media_block_appears_with_the_first_stream() -> None:
    from tests.stats._media_samples import stream

    history = _history()
    dashboard = Dashboard()
    dashboard.update(history, _state())
    plain = "\n".join(_text(dashboard, (120, 40)))
    assert "Media" not in plain
    stats = RunStats(
        elements=[],
        rtd_names=["1"],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=1000.0,
        start_mono=0.0,
        target_rate=20.0,
    )
    stats.media_stream_ended(stream(mos=4.2, jitter_ms=2.0, max_jitter_ms=6.5))
    stats.media_stream_ended(stream(call_number=2, mos=3.6, jitter_ms=4.0))
    history.add(stats.snapshot(1031.0, 31.0, stats.open_window(), restart=True))
    dashboard.update(history, _state())
    screen = "\n".join(_text(dashboard, (120, 40)))
    assert "Media  2 streams" in screen
    assert "loss 1.00%  late 0.40%" in screen
    assert "jitter 3.0/6.5 ms (mean/max)" in screen
    assert "MOS 3.90 mean  3.60 min" in screen
