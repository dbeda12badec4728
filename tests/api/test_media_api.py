"""Media in the API: the run document's statistics carry the summary's media section (compacted
in the live feed), and /metrics has the media families only when a run has media."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gossipper.api.documents import compact_statistics, run_document
from gossipper.api.metrics import metrics_registry, mos_buckets
from gossipper.errors import ExitStatus
from gossipper.stats.counters import RunStats, StatsSnapshot
from gossipper.stats.media import MediaTotals
from tests.stats._media_samples import stream
from tests.stats._samples import uac_final_stats


@dataclass
class FinishedResult:
    snapshot: StatsSnapshot
    exit_status: ExitStatus = ExitStatus.SUCCESS


class FinishedRun:
    def __init__(self, name: str, stats: RunStats) -> None:
        self.name = name
        self.state = "finished"
        self.spec: Mapping[str, Any] = {"scenario": "uac"}
        self.session = None
        self.controller = None
        self.error = None
        self.result = FinishedResult(stats.snapshot(stats.start_wall + 2.0, 2.0))


class Registry:
    manages_runs = False

    def __init__(self, *runs: FinishedRun) -> None:
        self._runs = list(runs)

    def runs(self) -> Sequence[FinishedRun]:
        return self._runs


def media_stats() -> RunStats:
    stats = uac_final_stats()
    stats.media_stream_ended(stream(mos=4.3, jitter_ms=2.0, max_jitter_ms=5.0))
    stats.media_stream_ended(stream(call_number=2, mos=3.4, jitter_ms=4.0, rtt_ms=None))
    return stats


def scrape(registry: Registry) -> dict[str, Any]:
    text = generate_latest(metrics_registry(registry)).decode()  # type: ignore[arg-type]
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_metrics_have_media_families_only_with_media() -> None:
    plain = scrape(Registry(FinishedRun("plain", uac_final_stats())))
    assert not any("rtp" in name or "media" in name for name in plain)
    families = scrape(
        Registry(FinishedRun("plain", uac_final_stats()), FinishedRun("voice", media_stats()))
    )
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families.values()
        for sample in family.samples
    }
    assert samples[("gossipper_rtp_streams_total", (("run", "voice"),))] == 2
    assert samples[("gossipper_rtp_packets_total", (("direction", "sent"), ("run", "voice")))] == (
        1000
    )
    assert samples[("gossipper_rtp_packets_lost_total", (("run", "voice"),))] == 10
    assert samples[("gossipper_media_loss_ratio", (("run", "voice"),))] == 0.01
    jitter = ("gossipper_media_jitter_seconds", (("run", "voice"), ("stat", "max")))
    assert samples[jitter] == 0.005
    assert samples[("gossipper_media_mos_bucket", (("le", "3.5"), ("run", "voice")))] == 1
    assert samples[("gossipper_media_mos_bucket", (("le", "+Inf"), ("run", "voice")))] == 2
    assert samples[("gossipper_media_mos_sum", (("run", "voice"),))] == 7.7
    assert samples[("gossipper_media_rtt_seconds", (("run", "voice"),))] == 0.00075
    # The media-free run has no media samples.
    assert not any(labels == (("run", "plain"),) for name, labels in samples if "rtp" in name)


def test_mos_buckets_are_cumulative() -> None:
    totals = MediaTotals()
    for mos in (1.0, 3.5, 3.51, 4.4, 4.5):
        totals.add(stream(mos=mos))
    counts = dict(mos_buckets(totals))
    assert counts["1.0"] == 1 and counts["3.5"] == 2 and counts["3.8"] == 3
    assert counts["4.4"] == 4 and counts["+Inf"] == 5


def test_run_document_statistics_carry_media_and_the_compact_feed_trims_it() -> None:
    document = run_document(FinishedRun("voice", media_stats()), "0.1.0", statistics=True)  # type: ignore[arg-type]
    media = document["statistics"]["media"]
    assert media["streams"] == 2 and media["mos"]["min"] == 3.4
    assert media["mos"]["distribution"] == [[340, 1], [430, 1]]
    compact = compact_statistics(document["statistics"])
    assert "sums" not in compact["media"] and "distribution" not in compact["media"]["mos"]
    assert compact["media"]["mos"]["mean"] == media["mos"]["mean"]
    # The full document is untouched.
    assert "sums" in document["statistics"]["media"]
    plain = run_document(FinishedRun("plain", uac_final_stats()), "0.1.0", statistics=True)  # type: ignore[arg-type]
    assert "media" not in plain["statistics"]
    assert "media" not in compact_statistics(plain["statistics"])
