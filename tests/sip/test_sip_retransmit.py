from __future__ import annotations

import pytest

from gossipper.sip import max_retransmissions, next_retransmit_interval_s, retransmit_intervals_s

# SIPp defaults: -max_invite_retrans 5, -max_non_invite_retrans 9, -max_retrans 9, -T2 4000 ms.
DEFAULTS = {"max_invite": 5, "max_non_invite": 9, "max_total": 9}


def test_invite_t1_500ms_gives_up_after_31_5_s() -> None:
    # Observed with SIPp 3.6.1: INVITE sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5 s; aborted at 31.5 s.
    limit = max_retransmissions(is_invite=True, **DEFAULTS)
    assert limit == 5
    intervals = retransmit_intervals_s(0.5, is_invite=True, t2_s=4.0, max_retrans=limit)
    assert intervals == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    assert sum(intervals) == 31.5
    send_times = [sum(intervals[:i]) for i in range(limit + 1)]
    assert send_times == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5]


def test_non_invite_capped_at_t2() -> None:
    limit = max_retransmissions(is_invite=False, **DEFAULTS)
    assert limit == 9
    intervals = retransmit_intervals_s(0.5, is_invite=False, t2_s=4.0, max_retrans=limit)
    assert intervals == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert sum(intervals) == 31.5


@pytest.mark.parametrize(
    ("current", "is_invite", "t2", "expected"),
    [
        (0.5, True, 4.0, 1.0),
        (16.0, True, 4.0, 32.0),  # INVITE is never capped
        (0.5, False, 4.0, 1.0),
        (2.0, False, 4.0, 4.0),
        (4.0, False, 4.0, 4.0),
        (3.0, False, 4.0, 4.0),
        (5.0, False, 4.0, 4.0),  # T1 above T2: the first doubling already lands on T2
        (1.0, False, 10.0, 2.0),
    ],
)
def test_next_interval(current: float, is_invite: bool, t2: float, expected: float) -> None:
    assert next_retransmit_interval_s(current, is_invite=is_invite, t2_s=t2) == expected


@pytest.mark.parametrize(
    ("is_invite", "max_invite", "max_non_invite", "max_total", "expected"),
    [
        (True, 5, 9, 9, 5),
        (False, 5, 9, 9, 9),
        (True, 5, 9, 3, 3),
        (False, 5, 7, 3, 3),
        (False, 5, 7, 20, 7),
        (True, 0, 9, 9, 0),
    ],
)
def test_max_retransmissions(
    is_invite: bool, max_invite: int, max_non_invite: int, max_total: int, expected: int
) -> None:
    got = max_retransmissions(
        is_invite=is_invite,
        max_invite=max_invite,
        max_non_invite=max_non_invite,
        max_total=max_total,
    )
    assert got == expected


def test_zero_retransmissions_is_one_wait() -> None:
    assert retransmit_intervals_s(0.5, is_invite=True, t2_s=4.0, max_retrans=0) == [0.5]
