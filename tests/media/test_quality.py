from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossipper.media.quality import (
    CODEC_IMPAIRMENTS,
    ReceiverStats,
    delay_impairment,
    effective_equipment_impairment,
    mos,
    mos_from_r,
    r_factor,
)
from gossipper.media.rtp import RtpPacket


def _pkt(seq: int, ts: int = 0) -> RtpPacket:
    return RtpPacket(0, seq % 65536, ts % 2**32, 0x1234, b"\xff" * 160)


def test_jitter_matches_a_hand_computed_rfc3550_sequence() -> None:
    stats = ReceiverStats(clock_rate=8000)
    # 20 ms packets (160 units); the third arrives 10 ms late, the fourth on time.
    # transit (units): 0, 0, 80, 0, 0 -> D: 0, 80, -80, 0
    # J: 0 -> 0 -> 80/16 = 5 -> 5 + (80 - 5)/16 = 9.6875 -> 9.6875 - 9.6875/16 = 9.08203125
    for arrival_s, ts in [(0.0, 0), (0.020, 160), (0.050, 320), (0.060, 480), (0.080, 640)]:
        stats.receive(arrival_s, _pkt(ts // 160, ts))
    assert stats.jitter == pytest.approx(9.08203125, abs=1e-9)
    assert stats.jitter_ms == pytest.approx(9.08203125 / 8, abs=1e-12)
    assert stats.report_block().jitter == 9


def test_jitter_ignores_the_rtp_timestamp_wrap() -> None:
    stats = ReceiverStats()
    stats.receive(0.0, _pkt(0, 2**32 - 160))
    stats.receive(0.020, _pkt(1, 0))
    stats.receive(0.040, _pkt(2, 160))
    assert stats.jitter == pytest.approx(0.0, abs=1e-6)


def test_loss_duplicates_and_reordering() -> None:
    stats = ReceiverStats()
    for seq in (0, 1, 2, 4, 5):
        stats.receive(0.0, _pkt(seq))
    assert (stats.expected, stats.received, stats.lost) == (6, 5, 1)
    block = stats.report_block()
    assert block.fraction_lost == 256 // 6  # one lost of six expected, in 1/256 units
    assert block.cumulative_lost == 1
    assert block.highest_sequence == 5
    stats.receive(0.0, _pkt(3))  # late: fills the gap
    stats.receive(0.0, _pkt(5))  # duplicate of the highest
    stats.receive(0.0, _pkt(3))  # duplicate of a late one
    assert stats.out_of_order == 1
    assert stats.duplicates == 2
    # RFC 3550 A.3: received counts duplicates, so cumulative lost goes negative.
    assert (stats.expected, stats.received, stats.lost) == (6, 8, -2)
    assert stats.loss_fraction == 0.0
    second = stats.report_block()
    assert second.fraction_lost == 0 and second.cumulative_lost == -2


def test_sequence_wrap_extends_the_highest_sequence() -> None:
    stats = ReceiverStats()
    for seq in (65534, 65535, 0, 1):
        stats.receive(0.0, _pkt(seq))
    assert stats.extended_max_seq == 65536 + 1
    assert (stats.expected, stats.lost, stats.out_of_order) == (4, 0, 0)
    stats.receive(0.0, _pkt(65535))  # a duplicate from before the wrap
    assert stats.duplicates == 1


def test_big_jump_is_discarded_until_confirmed() -> None:
    stats = ReceiverStats()
    stats.receive(0.0, _pkt(10))
    assert stats.receive(0.0, _pkt(20000)) is False
    assert stats.discarded == 1 and stats.expected == 1
    # The next packet in sequence after the jump confirms a restarted sender.
    assert stats.receive(0.0, _pkt(20001)) is True
    assert (stats.expected, stats.received, stats.lost) == (1, 1, 0)


@given(st.lists(st.integers(0, 65535), max_size=60), st.lists(st.floats(0, 1e6), max_size=60))
def test_stats_never_crash_and_stay_consistent(seqs: list[int], times: list[float]) -> None:
    stats = ReceiverStats()
    for i, seq in enumerate(seqs):
        stats.receive(times[i] if i < len(times) else 0.0, _pkt(seq, seq * 160))
    assert stats.jitter >= 0
    assert stats.duplicates + stats.out_of_order <= stats.received
    block = stats.report_block()
    assert 0 <= block.fraction_lost <= 255


@pytest.mark.parametrize(("r", "expected"), [(93.2, 4.41), (50.0, 2.58), (-3.0, 1.0), (101.0, 4.5)])
def test_mos_from_r_matches_published_pairs(r: float, expected: float) -> None:
    assert mos_from_r(r) == pytest.approx(expected, abs=0.005)


def test_mos_is_monotonic_in_r() -> None:
    values = [mos_from_r(r / 10) for r in range(0, 1001)]
    assert values == sorted(values)


def test_codec_impairments_and_loss() -> None:
    g711 = CODEC_IMPAIRMENTS["PCMU"]
    assert r_factor(g711, 0.0) == pytest.approx(93.2)
    # 1 % random loss: Ie_eff = 95 * 1 / (1 + Bpl)
    assert effective_equipment_impairment(g711, 1.0) == pytest.approx(95 / 5.3)
    assert effective_equipment_impairment(CODEC_IMPAIRMENTS["PCMU+PLC"], 1.0) == pytest.approx(
        95 / 26.1
    )
    g729 = CODEC_IMPAIRMENTS["G729"]
    assert r_factor(g729, 0.0) == pytest.approx(82.2)
    assert mos("G729", 0.0) == pytest.approx(4.10, abs=0.01)
    assert effective_equipment_impairment(g729, 2.0) == pytest.approx(11 + 84 * 2 / 21)
    assert mos("PCMA", 100.0) < 1.6
    with pytest.raises(KeyError):
        mos("opus", 0.0)


def test_delay_impairment_knee_at_177_ms() -> None:
    assert delay_impairment(0) == 0
    assert delay_impairment(150) == pytest.approx(3.6)
    assert delay_impairment(177.3) == pytest.approx(0.024 * 177.3)
    assert delay_impairment(200) == pytest.approx(4.8 + 0.11 * 22.7)


def test_stream_mos_uses_cumulative_loss() -> None:
    stats = ReceiverStats()
    for seq in range(100):
        if seq % 50 != 7:  # 2 of 100 lost
            stats.receive(seq * 0.02, _pkt(seq, seq * 160))
    assert stats.loss_fraction == pytest.approx(0.02)
    assert stats.mos("PCMU") == pytest.approx(mos_from_r(93.2 - 95 * 2 / 6.3))


def test_a_restarted_sender_starts_the_counts_over() -> None:
    """Hypothesis found it: a reordered packet and a duplicate, then the sender restarts (two
    sequential packets after a big jump); its counts must stay within ``received``."""
    stats = ReceiverStats()
    for seq in (100, 1, 1, 65535, 0):
        stats.receive(0.0, _pkt(seq, seq * 160))
    assert (stats.received, stats.duplicates, stats.out_of_order, stats.discarded) == (1, 0, 0, 1)
