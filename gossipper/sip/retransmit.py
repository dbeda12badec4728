"""UDP retransmission timer arithmetic, SIPp style
(docs/sipp-behaviour.md#retransmissions), pure.

The timer of a sent message starts at T1 (the ``retrans`` attribute of the ``<send>``). On each
expiry: if the message has already been retransmitted ``max_retransmissions(...)`` times the send
times out (FailedMaxUDPRetrans); otherwise it is re-sent and the interval doubles, capped at T2
for non-INVITE (RFC 3261 17.1.2.2) and uncapped for INVITE (17.1.1.2). Observed with SIPp 3.6.1
and T1=500 ms: an unanswered INVITE is sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5 s and the call is
aborted at 31.5 s.
"""

from __future__ import annotations

__all__ = [
    "max_retransmissions",
    "next_retransmit_interval_s",
    "retransmit_intervals_s",
]


def next_retransmit_interval_s(current_s: float, *, is_invite: bool, t2_s: float) -> float:
    """Interval after ``current_s``: doubled; capped at ``t2_s`` unless INVITE."""
    doubled = current_s * 2.0
    if is_invite:
        return doubled
    return min(doubled, t2_s)


def max_retransmissions(
    *, is_invite: bool, max_invite: int, max_non_invite: int, max_total: int
) -> int:
    """Retransmissions allowed before giving up.

    ``-max_invite_retrans`` (default 5) or ``-max_non_invite_retrans`` (default 9), each also
    bounded by ``-max_retrans`` (default 9).
    """
    return min(max_invite if is_invite else max_non_invite, max_total)


def retransmit_intervals_s(
    t1_s: float, *, is_invite: bool, t2_s: float, max_retrans: int
) -> list[float]:
    """Every timer interval of an unanswered send, in order.

    The first ``max_retrans`` expiries re-send the message; the last one (element
    ``max_retrans``) is the wait after the final retransmission, whose expiry is the timeout.
    The sum is the time from the original send to the failure.
    """
    intervals = [t1_s]
    for _ in range(max(max_retrans, 0)):
        intervals.append(next_retransmit_interval_s(intervals[-1], is_invite=is_invite, t2_s=t2_s))
    return intervals
