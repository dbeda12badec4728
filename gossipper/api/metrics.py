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

__all__ = ["LATENCY_BUCKETS_S", "RunCollector", "metrics_registry", "prometheus_buckets"]

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
        for hosted in self._registry.runs():
            name = hosted.name
            up.add_metric([name, hosted.state], 1.0)
            snapshot = run_snapshot(hosted)
            if snapshot is None:
                continue
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


def metrics_registry(registry: RunRegistry) -> CollectorRegistry:
    """A Prometheus registry of its own (not the process-global one) over ``registry``."""
    collector_registry = CollectorRegistry(auto_describe=False)
    collector_registry.register(RunCollector(registry))
    return collector_registry
