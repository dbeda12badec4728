"""Run counters and their snapshots.

The engine bumps plain int attributes on the per-message path (``stats.retransmissions += 1``,
``stats.elements[i].messages += 1``); nothing else happens there. Periodic "(P)" values of the
SIPp outputs are derived when a snapshot is taken, by subtracting the values recorded at the
previous reset of the same *window* (SIPp keeps one periodic set for the screen, reset every
``-f``, and one for the log files, reset every ``-fd``: two windows, ``"display"`` and ``"log"``).

Durations follow SIPp's arithmetic: response times and call lengths are whole milliseconds
(truncated), means and standard deviations come from integer sums (docs/sipp-behaviour.md,
"Outputs": statistics arithmetic), while the mergeable
:class:`~gossipper.stats.histogram.Histogram` keeps nanosecond precision for the JSON summary.
"""

from __future__ import annotations

import enum
import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gossipper.stats.formatting import elapsed_ms, sipp_call_rate
from gossipper.stats.histogram import Histogram
from gossipper.stats.media import MediaTotals, StreamQuality

MediaSink = Callable[[StreamQuality], None]
"""Takes one stream's quality record when its call's media closes (media CSV, HEP, ...)."""


class FailureReason(enum.Enum):
    """Why a call failed. The value is the SIPp stat CSV column base name; declaration order is
    the CSV's column order (and the index order of :attr:`RunStats.failures`)."""

    CANNOT_SEND_MESSAGE = "FailedCannotSendMessage"
    MAX_UDP_RETRANS = "FailedMaxUDPRetrans"
    TCP_CONNECT = "FailedTcpConnect"
    TCP_CLOSED = "FailedTcpClosed"
    UNEXPECTED_MESSAGE = "FailedUnexpectedMessage"
    CALL_REJECTED = "FailedCallRejected"
    CMD_NOT_SENT = "FailedCmdNotSent"
    REGEXP_DOESNT_MATCH = "FailedRegexpDoesntMatch"
    REGEXP_SHOULDNT_MATCH = "FailedRegexpShouldntMatch"
    REGEXP_HDR_NOT_FOUND = "FailedRegexpHdrNotFound"
    OUTBOUND_CONGESTION = "FailedOutboundCongestion"
    TIMEOUT_ON_RECV = "FailedTimeoutOnRecv"
    TIMEOUT_ON_SEND = "FailedTimeoutOnSend"
    TEST_DOESNT_MATCH = "FailedTestDoesntMatch"
    TEST_SHOULDNT_MATCH = "FailedTestShouldntMatch"
    STRCMP_DOESNT_MATCH = "FailedStrcmpDoesntMatch"
    STRCMP_SHOULDNT_MATCH = "FailedStrcmpShouldntMatch"
    # gossipper's own reasons (SIPp 3.6.1 has no media failures): after SIPp's, so that its
    # reasons keep their indexes; never columns of the SIPp stat CSV.
    MEDIA_PORTS = "FailedMediaPorts"
    """No free RTP/RTCP port pair of ``-min_rtp_port..-max_rtp_port`` could be bound."""
    MEDIA_SDP = "FailedMediaSdp"
    """The peer's SDP had no usable media line (or could not be parsed)."""


FAILURE_REASONS: tuple[FailureReason, ...] = tuple(FailureReason)
"""All reasons in column order."""
OWN_FAILURE_REASONS: tuple[FailureReason, ...] = (
    FailureReason.MEDIA_PORTS,
    FailureReason.MEDIA_SDP,
)
"""gossipper's reasons: in the summary JSON only when some call failed so (runs without media
keep their bytes), never in the SIPp stat CSV."""
SIPP_FAILURE_REASONS: tuple[FailureReason, ...] = tuple(
    reason for reason in FAILURE_REASONS if reason not in OWN_FAILURE_REASONS
)
"""SIPp 3.6.1's reasons: the stat CSV's Failed* columns, in order (the first of the list)."""
FAILURE_INDEX: dict[FailureReason, int] = {reason: i for i, reason in enumerate(FAILURE_REASONS)}
"""Position of each reason in :attr:`RunStats.failures`."""


class ElementKindTag(enum.Enum):
    """What a scenario element is, as far as screens and the counts file care."""

    SEND = "send"
    RECV = "recv"
    PAUSE = "pause"
    NOP = "nop"
    SENDCMD = "sendCmd"
    RECVCMD = "recvCmd"


@dataclass(frozen=True, slots=True)
class ElementInfo:
    """What the scenario screen and the counts file need to know about one scenario element.

    ``label`` is the method (``INVITE``) or status code (``180``) of a send/recv, ``""`` for the
    other kinds. ``start_rtd``/``rtd`` are RTD *names* (``"1"`` for ``true``). ``has_retrans``:
    a send with ``retrans`` (shows and counts the Timeout column). ``has_timeout``: a
    ``recvCmd`` with a timeout (shows its Timeout column). ``pause_ms``: fixed pause length
    (use the ``-d`` value for a bare ``<pause/>``); ``pause_desc`` overrides the screen text for
    distributions/variables (``"100ms/200ms"``, ``"$var"``; see ``sipp_time_string``).
    ``lost_active``: packet-loss simulation is on (``-lost`` or any ``lost`` attribute); SIPp
    treats it as one global switch, so set it alike on every element.
    """

    index: int
    kind: ElementKindTag
    label: str = ""
    has_retrans: bool = False
    has_timeout: bool = False
    start_rtd: str | None = None
    rtd: str | None = None
    crlf: bool = False
    hide: bool = False
    display: str | None = None
    pause_ms: int | None = None
    is_optional: bool = False
    lost_active: bool = False
    pause_desc: str | None = None


class ElementCounters:
    """Cumulative per-element counters, bumped directly by the engine.

    ``messages`` is Sent/Recv for messages, the number of calls that entered a pause (SIPp's
    "Sessions", cumulative in 3.6.1) and the commands sent/received for sendCmd/recvCmd. SIPp
    never counts nop executions, so leave it at 0 for a nop.
    """

    __slots__ = ("messages", "retrans", "timeouts", "unexpected", "lost")

    def __init__(self) -> None:
        self.messages = 0
        self.retrans = 0
        self.timeouts = 0
        self.unexpected = 0
        self.lost = 0

    def freeze(self) -> ElementCounts:
        """A frozen copy."""
        return ElementCounts(self.messages, self.retrans, self.timeouts, self.unexpected, self.lost)

    def __repr__(self) -> str:
        return (
            f"ElementCounters(messages={self.messages}, retrans={self.retrans}, "
            f"timeouts={self.timeouts}, unexpected={self.unexpected}, lost={self.lost})"
        )


@dataclass(frozen=True, slots=True)
class ElementCounts:
    """Frozen copy of :class:`ElementCounters`."""

    messages: int = 0
    retrans: int = 0
    timeouts: int = 0
    unexpected: int = 0
    lost: int = 0


@dataclass(frozen=True, slots=True)
class MeanStat:
    """Count, sum and sum of squares of whole-millisecond samples (SIPp's accumulators)."""

    count: int = 0
    sum_ms: int = 0
    sum_sq_ms2: int = 0

    @property
    def mean_ms(self) -> float:
        """Mean in ms (0.0 without samples); SIPp prints it truncated to whole ms."""
        return self.sum_ms / self.count if self.count else 0.0

    @property
    def sipp_rtd_stddev_ms(self) -> float:
        """Sample standard deviation as SIPp computes it for response times (0 below 2
        samples)."""
        n = self.count
        if n <= 1:
            return 0.0
        return _sipp_sqrt(
            (float(n) * float(self.sum_sq_ms2) - float(self.sum_ms * self.sum_ms))
            / (float(n) * (float(n) - 1.0))
        )

    @property
    def sipp_call_length_stddev_ms(self) -> float:
        """Sample standard deviation as SIPp computes it for call lengths: no guard for a
        single sample, so one call gives 0/0 = NaN (printed as a huge duration by SIPp)."""
        n = self.count
        if n <= 0:
            return 0.0
        numerator = float(n) * float(self.sum_sq_ms2) - float(self.sum_ms * self.sum_ms)
        denominator = float(n) * (float(n) - 1.0)
        if denominator == 0.0:
            return math.nan
        return _sipp_sqrt(numerator / denominator)

    def __sub__(self, other: MeanStat) -> MeanStat:
        return MeanStat(
            self.count - other.count,
            self.sum_ms - other.sum_ms,
            self.sum_sq_ms2 - other.sum_sq_ms2,
        )


def _sipp_sqrt(value: float) -> float:
    # C sqrt of a negative number is NaN (only reachable through float rounding).
    return math.sqrt(value) if value >= 0.0 else math.nan


COUNTER_SCALARS: tuple[str, ...] = (
    "incoming_calls",
    "outgoing_calls",
    "successful_calls",
    "failed_calls",
    "out_of_call_msgs",
    "dead_call_msgs",
    "retransmissions",
    "auto_answered",
    "warnings",
    "fatal_errors",
    "watchdog_major",
    "watchdog_minor",
    "malformed_msgs",
    "calls_skipped_overload",
    "calls_delayed_overload",
)


@dataclass(frozen=True, slots=True)
class CounterValues:
    """Additive counters over some interval: the whole run (cumulative) or a period."""

    incoming_calls: int
    outgoing_calls: int
    successful_calls: int
    failed_calls: int
    out_of_call_msgs: int
    dead_call_msgs: int
    retransmissions: int
    auto_answered: int
    warnings: int
    fatal_errors: int
    watchdog_major: int
    watchdog_minor: int
    malformed_msgs: int
    """Messages from the network that could not be parsed (or had no Call-ID), discarded."""
    failures: tuple[int, ...]
    """Indexed like ``list(FailureReason)``."""
    generic_counters: tuple[int, ...]
    rtd: tuple[MeanStat, ...]
    call_length: MeanStat
    rtd_repartition: tuple[tuple[int, ...], ...]
    """Per RTD, bucket counts (``len(borders) + 1`` each); empty tuples without borders."""
    call_length_repartition: tuple[int, ...]
    calls_skipped_overload: int = 0
    """Calls that fell due while the event loop lagged and were not started (the pacing
    task holds back new calls before running ones suffer; gossipper.engine.watchdog)."""
    calls_delayed_overload: int = 0
    """Calls the pacing task started later than due because the process was behind: more
    than a tick's worth overdue at once, or received messages still waiting in the socket
    (engine ``_start_due_calls``). They are started later, not dropped."""

    @property
    def total_calls(self) -> int:
        """Incoming plus outgoing calls created."""
        return self.incoming_calls + self.outgoing_calls

    def failure(self, reason: FailureReason) -> int:
        """Failed calls counted under ``reason``."""
        return self.failures[FAILURE_INDEX[reason]]


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """Everything the formatters need, frozen at one instant.

    ``periodic`` covers ``[period_start, now]`` of the window the snapshot was taken on;
    ``cumulative`` covers ``[start, now]``. Histograms are private copies: do not mutate them.
    """

    start_wall: float
    start_mono: float
    period_start_wall: float
    period_start_mono: float
    now_wall: float
    now_mono: float
    target_rate: float
    rtd_names: tuple[str, ...]
    counter_names: tuple[str, ...]
    response_time_repartition_ms: tuple[int, ...] | None
    call_length_repartition_ms: tuple[int, ...] | None
    cumulative: CounterValues
    periodic: CounterValues
    current_calls: int
    peak_calls: int
    peak_calls_mono: float
    element_infos: tuple[ElementInfo, ...]
    elements: tuple[ElementCounts, ...]
    error_codes: tuple[int, ...]
    """Status codes of unexpected responses received in the period, oldest first."""
    rtd_histograms: tuple[Histogram, ...]
    call_length_histogram: Histogram
    run_start_mono: float = 0.0
    """Monotonic start of the run; unlike ``start_mono`` not moved by ``reset_cumulative``
    (SIPp's screen clock: Total-time, peak time)."""
    media: MediaTotals | None = None
    """The run's media totals (a private copy), None while no media stream has ended: every
    media output (summary section, screen block, gates) appears only when this is set."""

    @property
    def elapsed_ms_c(self) -> int:
        """Whole ms since the start (SIPp's ElapsedTime(C), from wall microseconds)."""
        return elapsed_ms(self.start_wall, self.now_wall)

    @property
    def elapsed_ms_p(self) -> int:
        """Whole ms since the period start (ElapsedTime(P))."""
        return elapsed_ms(self.period_start_wall, self.now_wall)

    @property
    def call_rate_c(self) -> float:
        """Calls created per second over the run, SIPp-style single precision."""
        return sipp_call_rate(self.cumulative.total_calls, self.elapsed_ms_c)

    @property
    def call_rate_p(self) -> float:
        """Calls created per second over the period."""
        return sipp_call_rate(self.periodic.total_calls, self.elapsed_ms_p)

    @property
    def elapsed_s(self) -> float:
        """Monotonic seconds since the run started (not moved by ``reset_cumulative``)."""
        return self.now_mono - self.run_start_mono

    def rtd_index(self, name: str) -> int | None:
        """0-based index of an RTD name, None if unknown."""
        try:
            return self.rtd_names.index(name)
        except ValueError:
            return None


class StatsWindow:
    """One consumer's periodic window over a run's counters.

    Each consumer of periodic figures (the ``-fd`` CSV files, the screen, an API poller) owns
    a window: its periodic values cover the time since *its* last restart, so one consumer
    restarting its window never changes what another sees. Made by ``RunStats.open_window``.
    """

    __slots__ = ("wall", "mono", "values", "error_codes_from")

    def __init__(
        self, wall: float, mono: float, values: tuple[int, ...], error_codes_from: int | None
    ) -> None:
        self.wall = wall
        self.mono = mono
        self.values = values
        # Absolute position in the run's error-code log where this window's codes start; None
        # for windows that carry no error codes.
        self.error_codes_from = error_codes_from


class RunStats:
    """All counters of one run. Attributes named in ``COUNTER_SCALARS`` plus ``current_calls``,
    ``failures``, ``elements`` and ``generic_counters`` are bumped directly by the engine."""

    def __init__(
        self,
        *,
        elements: Sequence[ElementInfo],
        rtd_names: Sequence[str],
        counter_names: Sequence[str],
        response_time_repartition_ms: Sequence[int] | None,
        call_length_repartition_ms: Sequence[int] | None,
        start_wall: float,
        start_mono: float,
        target_rate: float,
        keep_rtt_samples: bool = False,
    ) -> None:
        self.element_infos: tuple[ElementInfo, ...] = tuple(elements)
        self.rtd_names: tuple[str, ...] = tuple(rtd_names)
        self.counter_names: tuple[str, ...] = tuple(counter_names)
        # SIPp sorts the borders it was given (stat.cpp initRepartition).
        self.response_time_repartition_ms: tuple[int, ...] | None = (
            tuple(sorted(response_time_repartition_ms)) if response_time_repartition_ms else None
        )
        self.call_length_repartition_ms: tuple[int, ...] | None = (
            tuple(sorted(call_length_repartition_ms)) if call_length_repartition_ms else None
        )
        self.start_wall = start_wall
        self.start_mono = start_mono
        self.run_start_mono = start_mono
        self.target_rate = target_rate
        self.keep_rtt_samples = keep_rtt_samples

        self.incoming_calls = 0
        self.outgoing_calls = 0
        self.current_calls = 0
        self.successful_calls = 0
        self.failed_calls = 0
        self.out_of_call_msgs = 0
        self.dead_call_msgs = 0
        self.retransmissions = 0
        self.auto_answered = 0
        self.warnings = 0
        self.fatal_errors = 0
        self.watchdog_major = 0
        self.watchdog_minor = 0
        self.malformed_msgs = 0
        self.calls_skipped_overload = 0
        self.calls_delayed_overload = 0
        self.peak_calls = 0
        self.peak_calls_mono = start_mono

        self.failures: list[int] = [0] * len(FAILURE_REASONS)
        self.elements: list[ElementCounters] = [ElementCounters() for _ in self.element_infos]
        self.generic_counters: list[int] = [0] * len(self.counter_names)

        n_rtd = len(self.rtd_names)
        self.rtd_count: list[int] = [0] * n_rtd
        self.rtd_sum_ms: list[int] = [0] * n_rtd
        self.rtd_sum_sq_ms2: list[int] = [0] * n_rtd
        self.rtd_histograms: list[Histogram] = [Histogram() for _ in range(n_rtd)]
        rt_borders = self.response_time_repartition_ms
        self.rtd_repartition: list[list[int]] = [
            [0] * (len(rt_borders) + 1) if rt_borders else [] for _ in range(n_rtd)
        ]
        self.call_length_count = 0
        self.call_length_sum_ms = 0
        self.call_length_sum_sq_ms2 = 0
        self.call_length_histogram = Histogram()
        cl_borders = self.call_length_repartition_ms
        self.call_length_repartition: list[int] = [0] * (len(cl_borders) + 1) if cl_borders else []

        self._rtt_samples: list[tuple[float, float, str, int]] = []
        self._error_codes: list[int] = []
        # Codes trimmed from the front of _error_codes (positions are absolute).
        self._error_codes_trimmed = 0
        self._error_code_last_mono: float | None = None
        self._error_codes_same_instant = 0
        self._windows: list[StatsWindow] = []

        # Media quality: whole-run totals (reset_cumulative leaves them: call quality is
        # judged over the run) and the per-stream sinks (media CSV, HEP).
        self.media = MediaTotals()
        self.media_sinks: list[MediaSink] = []

    # ------------------------------------------------------------------ events

    def media_stream_ended(self, quality: StreamQuality) -> None:
        """One RTP stream's media closed: count it and hand it to every sink, in
        registration order (the same as ``media.add(q)`` and each sink once)."""
        self.media.add(quality)
        for sink in self.media_sinks:
            sink(quality)

    def call_created(self, now_mono: float, *, incoming: bool) -> None:
        """A call was created (by an incoming message, or by the rate generator/3PCC)."""
        if incoming:
            self.incoming_calls += 1
        else:
            self.outgoing_calls += 1
        self.current_calls += 1
        if self.current_calls > self.peak_calls:
            self.peak_calls = self.current_calls
            self.peak_calls_mono = now_mono

    def call_ended(
        self,
        now_mono: float,
        length_s: float,
        reason: FailureReason | None,
        *,
        failed: bool | None = None,
    ) -> None:
        """A counted call ended: successful when ``reason`` is None (unless ``failed=True``,
        a failure without a specific reason). As SIPp does, only successful calls feed the
        call-length statistics."""
        self.current_calls -= 1
        if failed is None:
            failed = reason is not None
        if failed:
            self.failed_calls += 1
            if reason is not None:
                self.failures[FAILURE_INDEX[reason]] += 1
            return
        self.successful_calls += 1
        value_ms = _whole_ms(length_s)
        self.call_length_count += 1
        self.call_length_sum_ms += value_ms
        self.call_length_sum_sq_ms2 += value_ms * value_ms
        borders = self.call_length_repartition_ms
        if borders is not None:
            self.call_length_repartition[bisect_right(borders, value_ms)] += 1
        self.call_length_histogram.add(length_s)

    def rtd_sample(
        self, rtd_index: int, value_s: float, now_mono: float, *, call_number: int = 0
    ) -> None:
        """A response-time measurement for RTD ``rtd_index`` (0-based, ``rtd_names`` order).
        ``call_number`` only appears in the gossipper-schema rtt file."""
        value_ms = _whole_ms(value_s)
        self.rtd_count[rtd_index] += 1
        self.rtd_sum_ms[rtd_index] += value_ms
        self.rtd_sum_sq_ms2[rtd_index] += value_ms * value_ms
        borders = self.response_time_repartition_ms
        if borders is not None:
            # SIPp: first bucket whose border is > value, else the last (>= last border).
            self.rtd_repartition[rtd_index][bisect_right(borders, value_ms)] += 1
        self.rtd_histograms[rtd_index].add(value_s)
        if self.keep_rtt_samples:
            self._rtt_samples.append(
                (
                    (now_mono - self.run_start_mono) * 1000.0,
                    value_s * 1000.0 if value_s > 0 else 0.0,
                    self.rtd_names[rtd_index],
                    call_number,
                )
            )

    def take_rtt_samples(self) -> list[tuple[float, float, str]]:
        """Buffered RTD samples as (ms since start, response ms, RTD name), oldest first; the
        buffer is emptied. Only filled when constructed with ``keep_rtt_samples=True``."""
        return [(date, value, name) for date, value, name, _ in self.take_rtt_records()]

    def take_rtt_records(self) -> list[tuple[float, float, str, int]]:
        """Like :meth:`take_rtt_samples` with the call number as a fourth item."""
        samples = self._rtt_samples
        self._rtt_samples = []
        return samples

    def unexpected_response_code(self, code: int, now_mono: float | None = None) -> None:
        """An unexpected *response* was received (for the error-codes file).

        Codes recorded at the same ``now_mono`` are kept in numeric order, so the file does not
        depend on which of several calls handled its response first (simulation determinism).
        """
        codes = self._error_codes
        if now_mono is not None and now_mono == self._error_code_last_mono:
            # Insert among the codes of this instant (the tail of the list), sorted.
            position = len(codes)
            start = len(codes) - self._error_codes_same_instant
            while position > start and codes[position - 1] > code:
                position -= 1
            codes.insert(position, code)
            self._error_codes_same_instant += 1
        else:
            codes.append(code)
            self._error_code_last_mono = now_mono
            self._error_codes_same_instant = 1
        if len(codes) > 2 * _MAX_ERROR_CODES:
            # Bounded even when no error-codes file consumes them.
            trimmed = len(codes) - _MAX_ERROR_CODES
            del codes[:trimmed]
            self._error_codes_trimmed += trimmed
            self._error_codes_same_instant = min(self._error_codes_same_instant, len(codes))

    def reset_cumulative(self, now_wall: float, now_mono: float) -> None:
        """SIPp's ``reset stats`` command: cumulative counters restart from zero and the start
        time moves to now; periodic values carry on. Per-element counters, the current calls,
        the peak and ``run_start_mono`` (screen clock) are kept."""
        before = self._values()
        for window in self._windows:
            window.values = tuple(b - v for b, v in zip(window.values, before, strict=True))
        for name in COUNTER_SCALARS:
            setattr(self, name, 0)
        self.failures[:] = [0] * len(self.failures)
        self.generic_counters[:] = [0] * len(self.generic_counters)
        n_rtd = len(self.rtd_names)
        self.rtd_count[:] = [0] * n_rtd
        self.rtd_sum_ms[:] = [0] * n_rtd
        self.rtd_sum_sq_ms2[:] = [0] * n_rtd
        for buckets in self.rtd_repartition:
            buckets[:] = [0] * len(buckets)
        for histogram in self.rtd_histograms:
            histogram.clear()
        self.call_length_count = self.call_length_sum_ms = self.call_length_sum_sq_ms2 = 0
        self.call_length_repartition[:] = [0] * len(self.call_length_repartition)
        self.call_length_histogram.clear()
        self.start_wall = now_wall
        self.start_mono = now_mono

    # ------------------------------------------------------------------ snapshots

    def open_window(self, *, error_codes: bool = False) -> StatsWindow:
        """A new periodic window starting at the beginning of the run (see ``StatsWindow``).

        With ``error_codes`` its snapshots carry the unexpected response codes received since
        its last restart (the ``-trace_error_codes`` file's window).
        """
        window = StatsWindow(
            self.start_wall,
            self.start_mono,
            (0,) * len(self._values()),
            self._error_codes_trimmed if error_codes else None,
        )
        self._windows.append(window)
        return window

    def snapshot(
        self,
        now_wall: float,
        now_mono: float,
        window: StatsWindow | None = None,
        *,
        restart: bool = False,
    ) -> StatsSnapshot:
        """Freeze the counters. Periodic values are relative to the last restart of
        ``window`` (without one: the start of the run); with ``restart`` that window restarts
        now. Nothing else changes, so any number of readers can take snapshots.
        """
        values = self._values()
        if window is None:
            window = StatsWindow(self.start_wall, self.start_mono, (0,) * len(values), None)
        periodic_values = tuple(v - b for v, b in zip(values, window.values, strict=True))
        error_codes: tuple[int, ...] = ()
        if window.error_codes_from is not None:
            first = max(0, window.error_codes_from - self._error_codes_trimmed)
            error_codes = tuple(self._error_codes[first:])
        snap = StatsSnapshot(
            start_wall=self.start_wall,
            start_mono=self.start_mono,
            period_start_wall=window.wall,
            period_start_mono=window.mono,
            now_wall=now_wall,
            now_mono=now_mono,
            target_rate=self.target_rate,
            rtd_names=self.rtd_names,
            counter_names=self.counter_names,
            response_time_repartition_ms=self.response_time_repartition_ms,
            call_length_repartition_ms=self.call_length_repartition_ms,
            cumulative=self._unpack(values),
            periodic=self._unpack(periodic_values),
            current_calls=self.current_calls,
            peak_calls=self.peak_calls,
            peak_calls_mono=self.peak_calls_mono,
            element_infos=self.element_infos,
            elements=tuple(counters.freeze() for counters in self.elements),
            error_codes=error_codes,
            rtd_histograms=tuple(h.copy() for h in self.rtd_histograms),
            call_length_histogram=self.call_length_histogram.copy(),
            run_start_mono=self.run_start_mono,
            media=self.media.copy() if self.media.streams else None,
        )
        if restart:
            window.wall = now_wall
            window.mono = now_mono
            window.values = values
            if window.error_codes_from is not None:
                window.error_codes_from = self._error_codes_trimmed + len(self._error_codes)
                self._trim_consumed_error_codes()
        return snap

    def _trim_consumed_error_codes(self) -> None:
        """Forget codes every error-code window has seen (keeps the log short)."""
        starts = [w.error_codes_from for w in self._windows if w.error_codes_from is not None]
        consumed = min(starts) - self._error_codes_trimmed if starts else 0
        if consumed > 0:
            del self._error_codes[:consumed]
            self._error_codes_trimmed += consumed
            self._error_codes_same_instant = min(
                self._error_codes_same_instant, len(self._error_codes)
            )

    def _values(self) -> tuple[int, ...]:
        """Every additive counter, flattened in a fixed order (see ``_unpack``)."""
        flat = [getattr(self, name) for name in COUNTER_SCALARS]
        flat.extend(self.failures)
        flat.extend(self.generic_counters)
        for i in range(len(self.rtd_names)):
            flat.extend((self.rtd_count[i], self.rtd_sum_ms[i], self.rtd_sum_sq_ms2[i]))
        flat.extend((self.call_length_count, self.call_length_sum_ms, self.call_length_sum_sq_ms2))
        for buckets in self.rtd_repartition:
            flat.extend(buckets)
        flat.extend(self.call_length_repartition)
        return tuple(flat)

    def _unpack(self, flat: tuple[int, ...]) -> CounterValues:
        pos = len(COUNTER_SCALARS)
        scalars = flat[:pos]
        n_fail = len(FAILURE_REASONS)
        failures = flat[pos : pos + n_fail]
        pos += n_fail
        n_gen = len(self.counter_names)
        generic = flat[pos : pos + n_gen]
        pos += n_gen
        rtd: list[MeanStat] = []
        for _ in self.rtd_names:
            rtd.append(MeanStat(flat[pos], flat[pos + 1], flat[pos + 2]))
            pos += 3
        call_length = MeanStat(flat[pos], flat[pos + 1], flat[pos + 2])
        pos += 3
        rtd_rep: list[tuple[int, ...]] = []
        for buckets in self.rtd_repartition:
            rtd_rep.append(flat[pos : pos + len(buckets)])
            pos += len(buckets)
        cl_rep = flat[pos : pos + len(self.call_length_repartition)]
        return CounterValues(
            incoming_calls=scalars[0],
            outgoing_calls=scalars[1],
            successful_calls=scalars[2],
            failed_calls=scalars[3],
            out_of_call_msgs=scalars[4],
            dead_call_msgs=scalars[5],
            retransmissions=scalars[6],
            auto_answered=scalars[7],
            warnings=scalars[8],
            fatal_errors=scalars[9],
            watchdog_major=scalars[10],
            watchdog_minor=scalars[11],
            malformed_msgs=scalars[12],
            failures=failures,
            generic_counters=generic,
            rtd=tuple(rtd),
            call_length=call_length,
            rtd_repartition=tuple(rtd_rep),
            call_length_repartition=cl_rep,
            calls_skipped_overload=scalars[13],
            calls_delayed_overload=scalars[14],
        )


_MAX_ERROR_CODES = 100_000


def _whole_ms(value_s: float) -> int:
    """Seconds to whole milliseconds, truncated as SIPp's millisecond clock does; the small
    epsilon keeps float noise (1.001 s * 1000 = 1000.9999999999999) from losing a millisecond."""
    if value_s <= 0.0:
        return 0
    return int(value_s * 1000.0 + 1e-6)
