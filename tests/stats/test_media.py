from __future__ import annotations

import json
import random

import pytest

from gossipper.errors import GossipperError
from gossipper.stats.counters import RunStats
from gossipper.stats.media import MediaTotals, StreamQuality, format_media_csv_row
from tests.stats._media_samples import stream


def totals(*streams: StreamQuality) -> MediaTotals:
    t = MediaTotals()
    for q in streams:
        t.add(q)
    return t


def test_stream_loss_pct_floors_negative_loss_and_empty_streams() -> None:
    assert stream().loss_pct == pytest.approx(1.0)
    assert stream(packets_lost=-3).loss_pct == 0.0
    assert stream(packets_expected=0, packets_lost=0).loss_pct == 0.0


def test_totals_of_two_streams() -> None:
    a = stream()
    b = stream(
        call_id="2-1234@127.0.0.1",
        call_number=2,
        packets_expected=400,
        packets_lost=40,
        packets_received=360,
        jitter_ms=2.75,
        max_jitter_ms=9.0,
        rtt_ms=1.25,
        mos=3.5,
        late_packets=0,
    )
    t = totals(a, b)
    assert t.streams == 2 and t.streams_received == 2
    assert t.packets_expected == 900 and t.packets_lost == 45
    assert t.loss_pct == pytest.approx(5.0)
    assert t.loss_pct_max == pytest.approx(10.0)
    assert t.late_pct == pytest.approx(0.2)
    assert t.jitter_mean_ms == pytest.approx(2.0)
    assert t.jitter_max_ms == 9.0
    assert t.mos_mean == pytest.approx(3.905)
    assert t.mos_min == 3.5 and t.mos_max == 4.31
    assert t.mos_quantile(0.0) == 3.5 and t.mos_quantile(1.0) == 4.31
    assert t.rtt_mean_ms == pytest.approx(1.0)
    d = t.to_dict()
    assert d["packets"]["lost"] == 45
    assert d["mos"]["distribution"] == [[350, 1], [431, 1]]
    assert d["rtt_ms"] == {"count": 2, "mean": 1.0, "min": 0.75, "max": 1.25}
    assert d["by_media"] == {"audio": 2}


def test_silent_stream_counts_sent_but_not_quality() -> None:
    silent = stream(
        packets_received=0,
        octets_received=0,
        packets_expected=0,
        packets_lost=0,
        jitter_ms=0.0,
        max_jitter_ms=0.0,
        rtt_ms=None,
        mos=None,
    )
    t = totals(silent)
    assert t.streams == 1 and t.streams_received == 0 and t.packets_sent == 500
    assert t.jitter_mean_ms is None and t.mos_mean is None and t.mos_min is None
    assert t.rtt_mean_ms is None
    d = t.to_dict()
    assert d["mos"]["mean"] is None and d["rtt_ms"]["min"] is None
    assert d["jitter_ms"]["mean"] is None


def test_duplicates_on_one_stream_do_not_hide_loss_on_another() -> None:
    t = totals(stream(packets_lost=-10), stream(packets_lost=10))
    assert t.packets_lost == 10
    assert t.loss_pct == pytest.approx(1.0)


def _random_stream(rng: random.Random, n: int) -> StreamQuality:
    expected = rng.randint(0, 2000)
    lost = rng.randint(-5, expected // 3)
    return stream(
        call_number=n,
        media=rng.choice(("audio", "video", "image")),
        packets_sent=rng.randint(0, 2000),
        packets_received=max(expected - lost, 0),
        packets_expected=expected,
        packets_lost=lost,
        jitter_ms=rng.random() * 40,
        max_jitter_ms=rng.random() * 80,
        rtt_ms=None if rng.random() < 0.3 else rng.random() * 200,
        mos=None if rng.random() < 0.2 else 1 + rng.random() * 3.5,
        late_packets=rng.randint(0, 30),
    )


@pytest.mark.parametrize("seed", range(5))
def test_merge_equals_adding_everything_in_one(seed: int) -> None:
    rng = random.Random(seed)
    records = [_random_stream(rng, n) for n in range(40)]
    whole = totals(*records)
    cut = rng.randint(0, len(records))
    left, right = totals(*records[:cut]), totals(*records[cut:])
    left.merge(right)
    assert left == whole
    assert left.to_dict() == whole.to_dict()
    # Merging in the other order gives the same bytes too.
    right2, left2 = totals(*records[cut:]), totals(*records[:cut])
    right2.merge(left2)
    assert json.dumps(right2.to_dict()) == json.dumps(whole.to_dict())


@pytest.mark.parametrize("seed", range(3))
def test_to_dict_round_trips_through_json(seed: int) -> None:
    rng = random.Random(seed)
    t = totals(*(_random_stream(rng, n) for n in range(25)))
    again = MediaTotals.from_dict(json.loads(json.dumps(t.to_dict())))
    assert again == t
    assert again.to_dict() == t.to_dict()


def test_empty_totals_round_trip() -> None:
    t = MediaTotals()
    assert MediaTotals.from_dict(t.to_dict()) == t
    assert t.loss_pct == 0.0 and t.late_pct == 0.0


def test_copy_is_independent() -> None:
    t = totals(stream())
    c = t.copy()
    c.add(stream(mos=1.5))
    assert t.streams == 1 and t.mos_buckets == {431: 1}
    assert c.streams == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.pop("sums"),
        lambda d: d["sums"].__setitem__("packets_lost", -1),
        lambda d: d["sums"].__setitem__("streams", True),
        lambda d: d["mos"].__setitem__("distribution", [[400, 7]]),
        lambda d: d["mos"].__setitem__("step", 0.1),
        lambda d: d.__setitem__("by_media", {"audio": 99}),
    ],
)
def test_from_dict_rejects_damaged_sections(damage: object) -> None:
    d = totals(stream(), stream(mos=2.0)).to_dict()
    damage(d)  # type: ignore[operator]
    with pytest.raises(GossipperError, match="media summary"):
        MediaTotals.from_dict(d)


def test_mos_quantile_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        totals(stream()).mos_quantile(1.5)


def _run_stats() -> RunStats:
    return RunStats(
        elements=[],
        rtd_names=[],
        counter_names=[],
        response_time_repartition_ms=None,
        call_length_repartition_ms=None,
        start_wall=1000.0,
        start_mono=5.0,
        target_rate=10.0,
    )


def test_run_stats_feeds_totals_and_every_sink_in_order() -> None:
    stats = _run_stats()
    seen: list[tuple[str, int]] = []
    stats.media_sinks.append(lambda q: seen.append(("csv", q.call_number)))
    stats.media_sinks.append(lambda q: seen.append(("hep", q.call_number)))
    assert stats.snapshot(1001.0, 6.0).media is None
    stats.media_stream_ended(stream(call_number=7))
    stats.media_stream_ended(stream(call_number=8))
    assert seen == [("csv", 7), ("hep", 7), ("csv", 8), ("hep", 8)]
    snap = stats.snapshot(1002.0, 7.0)
    assert snap.media is not None and snap.media.streams == 2
    # The snapshot holds a private copy.
    stats.media.add(stream())
    assert snap.media.streams == 2
    # reset stats keeps the media totals (quality is judged over the run).
    stats.reset_cumulative(1003.0, 8.0)
    assert stats.media.streams == 3


def test_media_csv_header_and_row() -> None:
    from gossipper.stats.media import (
        MEDIA_CSV_COLUMNS,
        endpoint_text,
        format_media_csv_header,
        format_media_csv_row,
    )

    assert format_media_csv_header(";").rstrip("\n").split(";") == list(MEDIA_CSV_COLUMNS)
    assert len(MEDIA_CSV_COLUMNS) == 32
    assert MEDIA_CSV_COLUMNS[-5:] == (
        "rtpcheck",
        "rtpcheck_sent",
        "rtpcheck_judged",
        "rtpcheck_matched",
        "rtpcheck_mismatched",
    )
    row = format_media_csv_row(stream(), 1_800_000_000.25, ";")
    assert row == (
        "1800000000.250000;1-1234@127.0.0.1;1;audio;PCMU;127.0.0.1:6000;127.0.0.1:6002;"
        "500;86000;2;495;85140;500;5;1.000;1;0;0;1.250;3.500;0.750;4.31;2;2;0;0;;;0;0;0;0\n"
    )
    checked = format_media_csv_row(
        stream(
            rtpcheck="failed",
            rtpcheck_sent=100,
            rtpcheck_judged=90,
            rtpcheck_matched=80,
            rtpcheck_mismatched=3,
        ),
        0.0,
        ";",
    )
    assert checked.endswith(";0;0;;failed;100;90;80;3\n")
    odd = format_media_csv_row(
        stream(call_id='a,"b"', rtt_ms=None, mos=None, local=endpoint_text("::1", 6000)),
        0.0,
        ",",
    )
    fields = odd.rstrip("\n")
    assert fields.startswith('0.000000,"a,""b""",1,audio,PCMU,[::1]:6000,')
    assert fields.endswith(",1.250,3.500,,,2,2,0,0,,,0,0,0,0")
    assert endpoint_text("10.0.0.1", 4000) == "10.0.0.1:4000"


def test_stream_to_dict_has_every_field_and_loss() -> None:
    from gossipper.stats.media import STREAM_FIELDS

    d = stream().to_dict()
    assert list(d) == [*STREAM_FIELDS, "loss_pct"]
    assert d["loss_pct"] == 1.0 and d["mos"] == 4.31
    json.dumps(d)


def test_srtp_drops_add_up_and_older_documents_read_as_none() -> None:
    totals = MediaTotals()
    totals.add(stream(srtp_auth_failures=3, srtp_replays=1))
    totals.add(stream(srtp_auth_failures=2))
    document = totals.to_dict()
    assert document["srtp"] == {"auth_failures": 5, "replays": 1}
    assert MediaTotals.from_dict(document) == totals
    older = totals.to_dict()
    del older["sums"]["srtp_auth_failures"], older["sums"]["srtp_replays"]
    assert MediaTotals.from_dict(older).to_dict()["srtp"] == {"auth_failures": 0, "replays": 0}


def test_rtpcheck_streams_add_up_merge_and_older_documents_read_as_none() -> None:
    totals = MediaTotals()
    totals.add(stream())  # no pattern: not a checked stream
    totals.add(stream(rtpcheck="passed", rtpcheck_sent=50, rtpcheck_judged=45, rtpcheck_matched=45))
    totals.add(
        stream(
            rtpcheck="failed",
            rtpcheck_sent=50,
            rtpcheck_judged=50,
            rtpcheck_matched=40,
            rtpcheck_mismatched=2,
        )
    )
    document = totals.to_dict()
    assert document["rtpcheck"] == {
        "streams": 2,
        "failed": 1,
        "sent": 100,
        "judged": 95,
        "matched": 85,
        "mismatched": 2,
    }
    assert MediaTotals.from_dict(document) == totals
    merged = totals.copy()
    merged.merge(totals)
    assert merged.rtpcheck_failed == 2 and merged.rtpcheck_matched == 170
    older = totals.to_dict()
    for name in [n for n in older["sums"] if n.startswith("rtpcheck")]:
        del older["sums"][name]
    assert MediaTotals.from_dict(older).to_dict()["rtpcheck"]["streams"] == 0


def test_secure_failures_count_by_reason_and_merge() -> None:
    totals = MediaTotals()
    totals.add(stream(secure_failure="dtls_fingerprint_mismatch"))
    totals.add(stream(secure_failure="turn_timeout"))
    totals.add(stream())
    other = MediaTotals()
    other.add(stream(secure_failure="turn_timeout"))
    totals.merge(other)
    document = totals.to_dict()
    assert document["secure_failures"] == {"dtls_fingerprint_mismatch": 1, "turn_timeout": 2}
    assert MediaTotals.from_dict(document) == totals
    older = dict(document)
    del older["secure_failures"]  # written before secure failures were counted
    assert MediaTotals.from_dict(older).secure_failures == {}
    row = format_media_csv_row(stream(secure_failure="turn_timeout"), 0.0, ";")
    assert row.endswith(";turn_timeout;;0;0;0;0\n")
