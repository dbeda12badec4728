"""The summary JSON's "media" section: present only with media, valid, merged exactly."""

from __future__ import annotations

import json
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from gossipper.errors import GossipperError
from gossipper.stats import RunStats, build_summary_json, load_summary_schema, merge_summaries
from gossipper.stats.media import MediaTotals
from tests.stats._media_samples import stream
from tests.stats._windows import log_window

from ._samples import UAC_START, uac_final_stats

VALIDATOR = jsonschema.Draft202012Validator(
    load_summary_schema(), format_checker=jsonschema.FormatChecker()
)


def summary(stats: RunStats, finish: float) -> dict[str, Any]:
    snap = stats.snapshot(finish, finish - stats.start_wall, log_window(stats))
    return build_summary_json(
        snap,
        tool_version="gossipper 0.1.0",
        start_wall=stats.start_wall,
        finish_wall=finish,
        target_rate=stats.target_rate,
        scenario_name="uac",
        exit_code=0,
    )


def test_no_media_no_section() -> None:
    doc = summary(uac_final_stats(), UAC_START + 2.0)
    assert "media" not in doc
    VALIDATOR.validate(doc)


def test_media_section_validates_and_is_last_before_gates() -> None:
    stats = uac_final_stats()
    stats.media_stream_ended(stream())
    stats.media_stream_ended(stream(call_number=2, mos=None, rtt_ms=None))
    doc = summary(stats, UAC_START + 2.0)
    VALIDATOR.validate(doc)
    assert list(doc)[-1] == "media"
    media = doc["media"]
    assert media["streams"] == 2 and media["packets"]["sent"] == 1000
    assert media["mos"]["count"] == 1 and media["mos"]["min"] == 4.31
    assert media["rtt_ms"]["count"] == 1
    json.dumps(doc)


def test_schema_rejects_a_damaged_media_section() -> None:
    stats = uac_final_stats()
    stats.media_stream_ended(stream())
    doc = summary(stats, UAC_START + 2.0)
    doc["media"]["packets"]["lost"] = -1
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(doc)


def test_merge_adds_media_exactly_and_keeps_media_free_documents_free() -> None:
    a_stats, b_stats = uac_final_stats(), uac_final_stats()
    a_streams = [stream(call_number=n, mos=3.0 + n / 10, jitter_ms=n / 3) for n in range(5)]
    b_streams = [stream(call_number=n, packets_lost=n * 7, rtt_ms=n * 1.1) for n in range(6)]
    for q in a_streams:
        a_stats.media_stream_ended(q)
    for q in b_streams:
        b_stats.media_stream_ended(q)
    a = summary(a_stats, UAC_START + 2.0)
    b = summary(b_stats, UAC_START + 3.0)
    merged = merge_summaries(a, b)
    VALIDATOR.validate(merged)
    expected = MediaTotals()
    for q in a_streams + b_streams:
        expected.add(q)
    assert merged["media"] == expected.to_dict()
    assert merge_summaries(b, a)["media"] == merged["media"]
    # One side without media: the other's section carries over unchanged.
    plain = summary(uac_final_stats(), UAC_START + 2.0)
    assert merge_summaries(plain, a)["media"] == a["media"]
    assert "media" not in merge_summaries(plain, plain)


def test_merge_refuses_a_malformed_media_section() -> None:
    stats = uac_final_stats()
    stats.media_stream_ended(stream())
    a = summary(stats, UAC_START + 2.0)
    del a["media"]["sums"]
    with pytest.raises(GossipperError, match="media summary"):
        merge_summaries(a, a)
