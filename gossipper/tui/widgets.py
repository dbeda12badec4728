"""The TUI's widgets: the dashboard (charts, percentiles, failures, gauge, transport), the
scrollable SIPp screen, the key footer and the help overlay.

Widgets only render what they are given: a :class:`RunState` (from
``EngineStatistics``) and the :class:`~gossipper.tui.model.History`. They never read the engine,
so they render the same at 80x24 in a test as in a terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import urwid

from gossipper.engine import EngineStatistics, QuitState
from gossipper.interfaces import Address
from gossipper.stats.media import MediaTotals
from gossipper.tui.model import (
    GLYPHS_ASCII,
    GLYPHS_UNICODE,
    History,
    Percentiles,
    Sample,
    chart_lines,
    columns_of,
    percentiles_of,
)

__all__ = [
    "HELP_TEXT",
    "KEYS_LINE",
    "PALETTE",
    "Chart",
    "Dashboard",
    "OpenCallsGauge",
    "RunState",
    "ScrollText",
    "header_text",
]

PALETTE: list[tuple[str, str, str]] = [
    ("header", "black", "light gray"),
    ("footer", "black", "light gray"),
    ("title", "bold", ""),
    ("rate", "light green", ""),
    ("latency", "light cyan", ""),
    ("failure", "light red", ""),
    ("gauge empty", "black", "dark gray"),
    ("gauge full", "black", "dark green"),
    ("help", "black", "light gray"),
    ("prompt", "bold", ""),
]

KEYS_LINE = "d:dashboard 1-9:SIPp screens +-*/:rate p:pause q:quit Q:abort c:command ?:help"
"""The footer: every key a user needs, in one line at 80 columns."""

HELP_TEXT = """\
Views
  d or 0        the dashboard: charts, percentiles, failures, open calls, transport
  1 ... 9       SIPp's screens (1 scenario, 2 statistics, 3 repartition,
                4 variables, 5 TDM map with -tdmmap, 6-9 more repartitions)
  up/down, page up/page down, home/end   scroll a SIPp screen
  z             chart span: 1, 5 or 10 seconds per column
  r             next response-time measure (rtd) in the charts and tables

Run (the same commands as SIPp's keys and -cp)
  + -           rate up/down by -rate_scale (with -users: users)
  * /           rate up/down by ten times -rate_scale
  p             pause / resume new calls
  q             soft quit: no new calls, end when the open ones end (q again: now)
  Q             abort every call now
  s             dump the screens (-trace_screen file, else after the exit)
  c             a command: set rate 50, set users 20, set limit 100, reset stats

  ? or h        this help (Esc, ? or h closes it)"""


@dataclass(frozen=True, slots=True)
class RunState:
    """What the header, gauge and transport panel show, read from ``EngineStatistics``."""

    scenario: str
    transport_name: str
    local_address: Address | None
    remote_address: Address | None
    rate: float
    rate_period_s: float
    users: int | None
    open_calls: int
    open_call_limit: int
    calls_started: int
    call_limit: int | None
    open_call_sockets: int
    malformed_messages: int
    paused: bool
    quit_state: QuitState
    is_server: bool

    @classmethod
    def of(cls, scenario: str, statistics: EngineStatistics) -> RunState:
        """The state shown for a run of ``scenario`` whose statistics are ``statistics``."""
        return cls(
            scenario=scenario,
            transport_name=statistics.transport_name,
            local_address=statistics.local_address,
            remote_address=statistics.remote_address,
            rate=statistics.rate,
            rate_period_s=statistics.rate_period_s,
            users=statistics.users,
            open_calls=statistics.open_calls,
            open_call_limit=statistics.open_call_limit,
            calls_started=statistics.calls_started,
            call_limit=statistics.call_limit,
            open_call_sockets=statistics.open_call_sockets,
            malformed_messages=statistics.malformed_messages,
            paused=statistics.traffic_paused,
            quit_state=statistics.quit_state,
            is_server=statistics.is_server,
        )

    @property
    def rate_cps(self) -> float:
        """The target rate in calls per second."""
        return self.rate / self.rate_period_s if self.rate_period_s > 0 else 0.0

    @property
    def state_word(self) -> str:
        if self.quit_state is QuitState.FORCED:
            return "STOPPING"
        if self.quit_state is QuitState.SOFT:
            return "QUITTING"
        return "PAUSED" if self.paused else "RUNNING"


def _address(address: Address | None) -> str:
    if address is None:
        return "-"
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _clock(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def header_text(state: RunState, elapsed_s: float) -> str:
    """The top line: scenario, peer, time, target rate (or users), run state."""
    peer = "serving" if state.is_server else f"-> {_address(state.remote_address)}"
    if state.users is not None:
        target = f"  users {state.users}"
    elif state.is_server:
        target = ""  # a server answers the calls it gets: it has no rate of its own
    else:
        target = f"  rate {state.rate_cps:g} cps"
    return (
        f"gossipper {state.scenario} {peer} {state.transport_name}  {_clock(elapsed_s)}"
        f"{target}  [{state.state_word}]"
    )


def _glyphs() -> str:
    # The block elements need a UTF-8 terminal; urwid knows what the locale says.
    return GLYPHS_UNICODE if urwid.util.get_encoding() in ("utf-8", "utf8") else GLYPHS_ASCII


class Chart(urwid.Widget):
    """A bar chart in character cells: a title line, then ``height`` lines of bars, one
    column per value (newest at the right). Flow widget: as wide as it is given."""

    _sizing = frozenset([urwid.Sizing.FLOW, urwid.Sizing.BOX])
    ignore_focus = True

    def __init__(self, height: int, attribute: str) -> None:
        super().__init__()
        self.height = height
        self.attribute = attribute
        self.title = ""
        self.values: list[float] = []
        self._source: Callable[[int], tuple[str, list[float]]] | None = None

    def set_data(self, title: str, values: Sequence[float]) -> None:
        self.title = title
        self.values = list(values)
        self._source = None
        self._invalidate()

    def set_source(self, source: Callable[[int], tuple[str, list[float]]]) -> None:
        """Title and values computed when drawn, for the columns that fit: ``source(width)``
        (only what is shown is computed, however long the history)."""
        self._source = source
        self._invalidate()

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        return 1 + self.height

    def render(
        self, size: tuple[()] | tuple[int] | tuple[int, int], focus: bool = False
    ) -> urwid.Canvas:
        maxcol = size[0] if size else 80
        if self._source is not None:
            self.title, self.values = self._source(maxcol)
        # In a box (the dashboard's left column) the bars take every row but the title's.
        height = size[1] - 1 if len(size) == 2 else self.height
        if height < 1:
            return urwid.Text(("title", self.title), wrap="clip").render((maxcol,))
        bars = chart_lines(self.values, maxcol, height, glyphs=_glyphs())
        text = urwid.Text(
            [("title", self.title + "\n"), (self.attribute, "\n".join(bars))], wrap="clip"
        )
        return text.render((maxcol,))


class OpenCallsGauge(urwid.ProgressBar):
    """Open calls against the limit (-l): the bar, with ``open / limit`` written in it."""

    def __init__(self) -> None:
        super().__init__("gauge empty", "gauge full", 0, 1)
        self.limit = 1

    def set_calls(self, open_calls: int, limit: int) -> None:
        self.limit = max(1, limit)
        self.done = self.limit
        self.current = min(open_calls, self.limit)
        self.open_calls = open_calls

    def get_text(self) -> str:
        return f"open {getattr(self, 'open_calls', 0)} / {self.limit}"


RIGHT_COLUMN_WIDTH = 36
"""The tables' column; the charts take the rest of the width (42 columns at 80)."""


def _percentile_row(label: str, figures: Percentiles | None) -> str:
    if figures is None:
        return f"{label:<6}{'-':>7}{'-':>7}{'-':>7}{'-':>8}"
    return (
        f"{label:<6}{figures.p50_ms:>7.1f}{figures.p90_ms:>7.1f}{figures.p99_ms:>7.1f}"
        f"{figures.count:>8d}"
    )


class Dashboard(urwid.WidgetWrap[urwid.Columns]):
    """What SIPp cannot show: rate, response times and failures over the last minutes, the
    percentiles, the failure reasons, the open-calls gauge and the transport."""

    SPANS_S = (1, 5, 10)
    """Seconds per chart column the ``z`` key cycles through."""

    def __init__(self) -> None:
        self.rate_chart = Chart(5, "rate")
        self.latency_chart = Chart(4, "latency")
        self.failure_chart = Chart(3, "failure")
        self.gauge = OpenCallsGauge()
        self.counters = urwid.Text("")
        self.percentiles = urwid.Text("")
        self.transport = urwid.Text("")
        self.failures = urwid.Text("")
        self.media = urwid.Text("")
        """Media quality; joins the right column once the run has a media stream."""
        self._media_shown = False
        self.seconds_per_column = 1
        self.rtd_index = 0
        # The charts share the height in these proportions (5, 4 and 3 rows of bars at 80x24).
        left = urwid.Pile(
            [
                ("weight", 6, self.rate_chart),
                ("weight", 5, self.latency_chart),
                ("weight", 4, self.failure_chart),
            ]
        )
        right = urwid.Pile(
            [
                urwid.Text(("title", "Open calls (-l)")),
                self.gauge,
                self.counters,
                self.percentiles,
                self.transport,
                self.failures,
            ]
        )
        self._right = right
        columns = urwid.Columns(
            [
                ("weight", 1, left),
                (RIGHT_COLUMN_WIDTH, urwid.Filler(right, valign="top")),
            ],
            dividechars=2,
        )
        super().__init__(columns)

    def next_span(self) -> None:
        spans = self.SPANS_S
        self.seconds_per_column = spans[(spans.index(self.seconds_per_column) + 1) % len(spans)]

    def update(self, history: History, state: RunState) -> None:
        """Show the history and the state (called once per sample and after a command)."""
        last = history.last
        rtd_names = last.rtd_names if last is not None else ()
        if rtd_names:
            self.rtd_index %= len(rtd_names)
        step = self.seconds_per_column
        samples = list(history.samples)

        def groups_for(width: int) -> list[list[Sample]]:
            # Only the columns that fit are computed (ten minutes of history, 40-200 shown).
            return columns_of(samples[-width * step :], step)

        def rates(width: int) -> tuple[str, list[float]]:
            groups = groups_for(width)
            values = [_per_second(g, "calls_created") for g in groups]
            span = _span_text(len(groups) * step)
            title = f"Calls/s {_latest(values):.1f}  max {max(values, default=0.0):.1f}  {span}"
            return title, values

        def failed(width: int) -> tuple[str, list[float]]:
            groups = groups_for(width)
            values = [_per_second(g, "failed") for g in groups]
            span = _span_text(len(groups) * step)
            title = f"Failed/s {_latest(values):.1f}  max {max(values, default=0.0):.1f}  {span}"
            return title, values

        self.rate_chart.set_source(rates)
        self.failure_chart.set_source(failed)
        if rtd_names:
            index = self.rtd_index
            name = rtd_names[index]

            def latency(width: int) -> tuple[str, list[float]]:
                groups = groups_for(width)
                values = []
                for group in groups:
                    figures = (
                        group[0].percentiles(index)
                        if len(group) == 1
                        else _group_percentiles(group, index)
                    )
                    values.append(figures.p99_ms if figures is not None else 0.0)
                span = _span_text(len(groups) * step)
                top = max(values, default=0.0)
                return f"p99 ms ({name}) {_latest(values):.1f}  max {top:.1f}  {span}", values

            self.latency_chart.set_source(latency)
            self.percentiles.set_text(
                [
                    ("title", f"Response time {rtd_names[index]} (ms)\n"),
                    f"{'':<6}{'p50':>7}{'p90':>7}{'p99':>7}{'count':>8}\n",
                    _percentile_row("10 s", history.percentiles(index, 10)) + "\n",
                    _percentile_row("1 min", history.percentiles(index, 60)) + "\n",
                    _percentile_row("run", history.run_percentiles(index)),
                ]
            )
        else:
            self.latency_chart.set_data("Response time: no rtd in this scenario", [])
            self.percentiles.set_text(
                [("title", "Response time\n"), "no start_rtd/rtd in the scenario"]
            )
        self.gauge.set_calls(state.open_calls, state.open_call_limit)
        cumulative = last.cumulative if last is not None else None
        if cumulative is not None:
            limit = f"/{state.call_limit}" if state.call_limit else ""
            # Three short lines: they stay unwrapped in 36 columns with million-call counts.
            self.counters.set_text(
                f"calls {cumulative.total_calls}{limit}\n"
                f"ok {cumulative.successful_calls}  failed {cumulative.failed_calls}\n"
                f"retrans {cumulative.retransmissions}  out-of-call"
                f" {cumulative.out_of_call_msgs}  dead {cumulative.dead_call_msgs}"
            )
        self.transport.set_text(
            [
                ("title", f"Transport {state.transport_name}\n"),
                f"{_address(state.local_address)} -> {_address(state.remote_address)}\n"
                f"call sockets {state.open_call_sockets}  malformed {state.malformed_messages}",
            ]
        )
        if last is not None and last.media is not None:
            self._show_media(last.media)
        rows = history.failure_table(60)
        if rows:
            lines: list[Any] = [("title", f"{'Failures':<22}{'1 min':>6}{'run':>8}")]
            for reason, recent, total in rows:
                lines.append(("failure", f"\n{reason[:22]:<22}{recent:>6d}{total:>8d}"))
            self.failures.set_text(lines)
        else:
            self.failures.set_text([("title", "Failures"), "\nno failed call"])

    def _show_media(self, media: MediaTotals) -> None:
        if not self._media_shown:
            # Runs without media keep their layout: the block appears with the first stream.
            self._right.contents.append((self.media, self._right.options()))
            self._media_shown = True
        jitter = "-" if media.jitter_mean_ms is None else f"{media.jitter_mean_ms:.1f}"
        mos_mean = "-" if media.mos_mean is None else f"{media.mos_mean:.2f}"
        mos_min = "-" if media.mos_min is None else f"{media.mos_min:.2f}"
        self.media.set_text(
            [
                ("title", f"Media  {media.streams} streams\n"),
                f"loss {media.loss_pct:.2f}%  late {media.late_pct:.2f}%\n"
                f"jitter {jitter}/{media.jitter_max_ms:.1f} ms (mean/max)\n"
                f"MOS {mos_mean} mean  {mos_min} min",
            ]
        )


def _group_percentiles(group: Sequence[Sample], index: int) -> Percentiles | None:
    return percentiles_of(
        sample.rtd_buckets[index] for sample in group if index < len(sample.rtd_buckets)
    )


def _per_second(group: Sequence[Sample], counter: str) -> float:
    seconds = sum(sample.period_s for sample in group)
    total = sum(getattr(sample, counter) for sample in group)
    return float(total) / seconds if seconds > 0 else 0.0


def _latest(values: Sequence[float]) -> float:
    return values[-1] if values else 0.0


def _span_text(seconds: int) -> str:
    if seconds < 120:
        return f"last {seconds} s"
    return f"last {seconds // 60} min"


class ScrollText(urwid.Widget):
    """A box showing lines of text from ``offset`` on, cut at the box's width: a SIPp screen
    (80 columns, up to about 45 lines) in any terminal. Arrow and page keys scroll."""

    _sizing = frozenset([urwid.Sizing.BOX])
    _selectable = True

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.offset = 0
        self._rows = 24

    def set_text(self, text: str) -> None:
        self.lines = text.rstrip("\n").split("\n")
        self.offset = min(self.offset, max(0, len(self.lines) - 1))
        self._invalidate()

    def render(
        self, size: tuple[()] | tuple[int] | tuple[int, int], focus: bool = False
    ) -> urwid.Canvas:
        assert len(size) == 2, "a box widget"
        maxcol, maxrow = size
        self._rows = maxrow
        self.offset = max(0, min(self.offset, len(self.lines) - maxrow))
        shown = self.lines[self.offset : self.offset + maxrow]
        shown += [""] * (maxrow - len(shown))
        return urwid.Text("\n".join(shown), wrap="clip").render((maxcol,))

    def keypress(self, size: tuple[()] | tuple[int] | tuple[int, int], key: str) -> str | None:
        rows = size[1] if len(size) == 2 else self._rows
        moves = {
            "up": -1,
            "down": 1,
            "page up": -max(1, rows - 1),
            "page down": max(1, rows - 1),
            "home": -len(self.lines),
            "end": len(self.lines),
        }
        if key not in moves:
            return key
        self.offset = max(0, min(self.offset + moves[key], len(self.lines) - rows))
        self._invalidate()
        return None


def help_overlay(base: urwid.Widget) -> urwid.Overlay[Any, Any]:
    """The help box over ``base``."""
    box = urwid.AttrMap(
        urwid.LineBox(urwid.Filler(urwid.Text(HELP_TEXT), valign="top"), title="Keys"), "help"
    )
    return urwid.Overlay(
        box,
        base,
        align="center",
        width=("relative", 100),
        valign="middle",
        height=("relative", 100),
        min_width=20,
        min_height=5,
        left=1,
        right=1,
        top=0,
        bottom=0,
    )
