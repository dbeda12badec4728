"""``GET /metrics``: the runs' counters in the Prometheus text format (prometheus_client).

A custom collector reads every run of the registry at scrape time (nothing is counted twice
and nothing runs between scrapes, so an idle API costs the engine nothing). Families:

* ``gossipper_calls_total{run,result}``: ended calls, ``result`` = ``successful`` | ``failed``
* ``gossipper_calls_created_total{run}``: calls created (incoming + outgoing)
* ``gossipper_call_failures_total{run,reason}``: failed calls by reason (the stat CSV's)
* ``gossipper_calls_active{run}``: calls open now
* ``gossipper_sip_messages_total{run,direction,method,code}``: SIP messages sent (``out``) and
  received (``in``) by the scenario's send/recv elements, retransmissions excluded; a request
  has its ``method`` and ``code=""``, a response its ``code`` and the method of the request it
  answers (the scenario's last request element before it)
* ``gossipper_retransmissions_total{run}``
* ``gossipper_unexpected_messages_total{run}``, ``gossipper_malformed_messages_total{run}``
* ``gossipper_response_time_seconds{run,rtd}``: histogram of each response-time measure
  (``rtd``, the scenario's RTD names), from the run's mergeable histograms
* ``gossipper_call_length_seconds{run}``: histogram of call lengths
* ``gossipper_rate_target{run}`` (calls per ``rate_period_s``), ``gossipper_run_up{run,state}``

Media (issue 17), only when at least one run has ended a media stream (so media-free runs
scrape as before), per run with media; every figure covers the streams whose call ended:

* ``gossipper_rtp_streams_total{run}``
* ``gossipper_rtp_packets_total{run,direction}``: RTP packets ``sent`` and ``received``
* ``gossipper_rtp_packets_lost_total{run}``, ``gossipper_rtp_packets_late_total{run}``
* ``gossipper_rtcp_packets_total{run,direction}``
* ``gossipper_media_loss_ratio{run}``: lost / expected packets (0..1)
* ``gossipper_media_jitter_seconds{run,stat}``: ``mean`` and ``max`` interarrival jitter
* ``gossipper_media_mos{run}``: histogram of the streams' MOS estimates (``le`` in MOS)
* ``gossipper_media_rtt_seconds{run}``: mean RTCP round-trip time (runs that measured one)
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from gossipper.api.documents import run_snapshot
from gossipper.api.seams import RunRegistry
from gossipper.stats.counters import FAILURE_REASONS, ElementKindTag, StatsSnapshot
from gossipper.stats.histogram import Histogram, bucket_bounds
from gossipper.stats.media import MediaTotals

__all__ = [
    "LATENCY_BUCKETS_S",
    "MOS_BUCKETS",
    "RunCollector",
    "metrics_registry",
    "mos_buckets",
    "prometheus_buckets",
]

LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
"""Upper bounds of the Prometheus buckets: SIP response times run from a millisecond on
loopback to T1-retransmitted seconds; call lengths of load scenarios fit too."""

_NS_PER_S = 1_000_000_000

MOS_BUCKETS: tuple[float, ...] = (1.0, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.2, 4.4)
"""Upper bounds of the MOS histogram: the ITU-T G.107 user-satisfaction bands (4.34 and up
very satisfied, 4.03 satisfied, 3.6 some dissatisfied, 3.1 many, 2.58 nearly all), finer
where calls usually are."""


def mos_buckets(media: MediaTotals) -> list[tuple[str, float]]:
    """Cumulative ``(le, count)`` pairs (``+Inf`` last) from the exact MOS distribution."""
    pairs: list[tuple[str, float]] = []
    for bound in MOS_BUCKETS:
        limit = round(bound * 100)
        below = sum(n for mos, n in media.mos_buckets.items() if mos <= limit)
        pairs.append((repr(bound), float(below)))
    pairs.append(("+Inf", float(media.mos_count)))
    return pairs


def prometheus_buckets(histogram: Histogram) -> list[tuple[str, float]]:
    """Cumulative ``(le, count)`` pairs (``+Inf`` last) from our histogram.

    Each of our buckets is at most 0.8 % wide; one that straddles a bound counts below it
    when its midpoint does (the same midpoint our quantiles use).
    """
    bounds_ns = [round(bound * _NS_PER_S) for bound in LATENCY_BUCKETS_S]
    counts = [0] * len(bounds_ns)
    for index, n in histogram.buckets.items():
        low, high = bucket_bounds(index)
        mid_ns = low if high - low == 1 else (low + high) // 2
        for i, bound in enumerate(bounds_ns):
            if mid_ns <= bound:
                counts[i] += n
                break
    pairs: list[tuple[str, float]] = []
    total = 0
    for bound_s, n in zip(LATENCY_BUCKETS_S, counts, strict=True):
        total += n
        pairs.append((repr(bound_s), float(total)))
    pairs.append(("+Inf", float(histogram.count)))
    return pairs


def _histogram(family: HistogramMetricFamily, labels: list[str], histogram: Histogram) -> None:
    family.add_metric(labels, prometheus_buckets(histogram), histogram.sum_ns / _NS_PER_S)


class RunCollector(Collector):
    """Collects the families above from every run of a registry at scrape time."""

    def __init__(self, registry: RunRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "gossipper_calls", "Calls ended, by result", labels=["run", "result"]
        )
        created = CounterMetricFamily(
            "gossipper_calls_created", "Calls created (incoming and outgoing)", labels=["run"]
        )
        failures = CounterMetricFamily(
            "gossipper_call_failures", "Failed calls by reason", labels=["run", "reason"]
        )
        active = GaugeMetricFamily("gossipper_calls_active", "Calls open now", labels=["run"])
        messages = CounterMetricFamily(
            "gossipper_sip_messages",
            "SIP messages of the scenario's send/recv elements (retransmissions excluded)",
            labels=["run", "direction", "method", "code"],
        )
        retrans = CounterMetricFamily(
            "gossipper_retransmissions", "SIP retransmissions", labels=["run"]
        )
        unexpected = CounterMetricFamily(
            "gossipper_unexpected_messages", "Unexpected SIP messages", labels=["run"]
        )
        malformed = CounterMetricFamily(
            "gossipper_malformed_messages", "Malformed SIP messages received", labels=["run"]
        )
        response_time = HistogramMetricFamily(
            "gossipper_response_time_seconds",
            "Response times (the scenario's rtd measures)",
            labels=["run", "rtd"],
        )
        call_length = HistogramMetricFamily(
            "gossipper_call_length_seconds", "Call lengths", labels=["run"]
        )
        rate = GaugeMetricFamily(
            "gossipper_rate_target", "Target call rate (calls per rate period)", labels=["run"]
        )
        up = GaugeMetricFamily(
            "gossipper_run_up", "1 for the state the run is in", labels=["run", "state"]
        )
        media: list[tuple[str, MediaTotals]] = []
        for hosted in self._registry.runs():
            name = hosted.name
            up.add_metric([name, hosted.state], 1.0)
            snapshot = run_snapshot(hosted)
            if snapshot is None:
                continue
            if snapshot.media is not None:
                media.append((name, snapshot.media))
            self._add_run(
                name,
                snapshot,
                calls=calls,
                created=created,
                failures=failures,
                active=active,
                messages=messages,
                retrans=retrans,
                unexpected=unexpected,
                malformed=malformed,
                response_time=response_time,
                call_length=call_length,
                rate=rate,
            )
        yield from (calls, created, failures, active, messages, retrans, unexpected, malformed)
        yield from (response_time, call_length, rate, up)
        if media:
            yield from _media_families(media)

    @staticmethod
    def _add_run(
        name: str,
        snapshot: StatsSnapshot,
        *,
        calls: CounterMetricFamily,
        created: CounterMetricFamily,
        failures: CounterMetricFamily,
        active: GaugeMetricFamily,
        messages: CounterMetricFamily,
        retrans: CounterMetricFamily,
        unexpected: CounterMetricFamily,
        malformed: CounterMetricFamily,
        response_time: HistogramMetricFamily,
        call_length: HistogramMetricFamily,
        rate: GaugeMetricFamily,
    ) -> None:
        c = snapshot.cumulative
        calls.add_metric([name, "successful"], float(c.successful_calls))
        calls.add_metric([name, "failed"], float(c.failed_calls))
        created.add_metric([name], float(c.total_calls))
        for i, reason in enumerate(FAILURE_REASONS):
            failures.add_metric([name, reason.value], float(c.failures[i]))
        active.add_metric([name], float(snapshot.current_calls))
        retrans.add_metric([name], float(c.retransmissions))
        malformed.add_metric([name], float(c.malformed_msgs))
        # Several elements can send the same method or receive the same code: add them up.
        per_message: dict[tuple[str, str, str], int] = {}
        unexpected_count = 0
        request = ""
        for info, counts in zip(snapshot.element_infos, snapshot.elements, strict=True):
            unexpected_count += counts.unexpected
            if info.kind is ElementKindTag.SEND:
                direction = "out"
            elif info.kind is ElementKindTag.RECV:
                direction = "in"
            else:
                continue
            label = info.label
            if label.isdigit():
                # A response answers the scenario's last request before it (SIPp scenarios
                # are written in dialog order).
                key = (direction, request, label)
            else:
                request = label
                key = (direction, label, "")
            per_message[key] = per_message.get(key, 0) + counts.messages
        for (direction, method, code), n in per_message.items():
            messages.add_metric([name, direction, method, code], float(n))
        unexpected.add_metric([name], float(unexpected_count))
        for rtd_name, histogram in zip(snapshot.rtd_names, snapshot.rtd_histograms, strict=True):
            _histogram(response_time, [name, rtd_name], histogram)
        _histogram(call_length, [name], snapshot.call_length_histogram)
        rate.add_metric([name], snapshot.target_rate)


def _media_families(runs: list[tuple[str, MediaTotals]]) -> list[Metric]:
    streams = CounterMetricFamily(
        "gossipper_rtp_streams", "RTP streams whose call ended", labels=["run"]
    )
    packets = CounterMetricFamily(
        "gossipper_rtp_packets", "RTP packets sent and received", labels=["run", "direction"]
    )
    lost = CounterMetricFamily(
        "gossipper_rtp_packets_lost", "RTP packets lost (expected - received)", labels=["run"]
    )
    late = CounterMetricFamily(
        "gossipper_rtp_packets_late", "RTP packets sent over 10 ms after due", labels=["run"]
    )
    rtcp = CounterMetricFamily(
        "gossipper_rtcp_packets", "RTCP packets sent and received", labels=["run", "direction"]
    )
    loss = GaugeMetricFamily(
        "gossipper_media_loss_ratio", "Lost / expected RTP packets", labels=["run"]
    )
    jitter = GaugeMetricFamily(
        "gossipper_media_jitter_seconds",
        "Interarrival jitter (RFC 3550): mean of the streams' final value, and the largest",
        labels=["run", "stat"],
    )
    mos = HistogramMetricFamily(
        "gossipper_media_mos", "E-model MOS estimate per stream", labels=["run"]
    )
    rtt = GaugeMetricFamily(
        "gossipper_media_rtt_seconds", "Mean RTCP round-trip time", labels=["run"]
    )
    for name, totals in runs:
        streams.add_metric([name], float(totals.streams))
        packets.add_metric([name, "sent"], float(totals.packets_sent))
        packets.add_metric([name, "received"], float(totals.packets_received))
        lost.add_metric([name], float(totals.packets_lost))
        late.add_metric([name], float(totals.late_packets))
        rtcp.add_metric([name, "sent"], float(totals.rtcp_sent))
        rtcp.add_metric([name, "received"], float(totals.rtcp_received))
        loss.add_metric([name], totals.loss_pct / 100.0)
        if totals.jitter_mean_ms is not None:
            jitter.add_metric([name, "mean"], totals.jitter_mean_ms / 1000.0)
        jitter.add_metric([name, "max"], totals.jitter_max_ms / 1000.0)
        mos.add_metric([name], mos_buckets(totals), totals.mos_sum_centi / 100.0)
        if totals.rtt_mean_ms is not None:
            rtt.add_metric([name], totals.rtt_mean_ms / 1000.0)
    return [streams, packets, lost, late, rtcp, loss, jitter, mos, rtt]


def metrics_registry(registry: RunRegistry) -> CollectorRegistry:
    """A Prometheus registry of its own (not the process-global one) over ``registry``."""
    collector_registry = CollectorRegistry(auto_describe=False)
    collector_registry.register(RunCollector(registry))
    return collector_registry
