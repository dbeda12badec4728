"""Media quality of a run: one record per RTP stream, and the per-run totals.

:class:`StreamQuality` is what the media layer reports for one RTP stream of one call (both
directions) when the call's media closes. :class:`MediaTotals` adds those records up for the run
and is the ``"media"`` section of the summary JSON.

Everything in the totals is kept as integers (jitter and RTT in microseconds, MOS in hundredths,
loss in hundredths of a percent) so that two totals - two workers, two segments of a run, two
summary documents - merge exactly: integer addition is associative, float sums are not. The
figures shown (means, percentages) are derived from those integers when asked for.

Pure stats layer: no trio, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gossipper.errors import GossipperError


@dataclass(frozen=True, slots=True)
class StreamQuality:
    """One RTP stream of one call, both directions, at call end.

    ``packets_lost`` is RFC 3550's cumulative loss (expected minus received, duplicates
    counted as received, so it can be negative); ``jitter_ms`` is the interarrival jitter
    estimate at the end of the stream and ``max_jitter_ms`` the largest value it reached.
    ``rtt_ms`` comes from RTCP LSR/DLSR when a report came back; ``mos`` is the E-model
    estimate, None when nothing was received.
    """

    call_id: str
    call_number: int
    media: str
    """``"audio"``, ``"video"`` or ``"image"``."""
    codec: str
    """``"PCMU"``, ``"PCMA"``, ``"telephone-event"``, ... or ``"unknown"``."""
    local: str
    """``ip:port`` of our RTP socket (``[v6]:port`` for IPv6: :func:`endpoint_text`)."""
    remote: str
    """``ip:port`` of the peer's RTP socket (where we sent, or where packets came from)."""
    packets_sent: int
    octets_sent: int
    late_packets: int
    packets_received: int
    octets_received: int
    packets_expected: int
    packets_lost: int
    out_of_order: int
    duplicated: int
    malformed: int
    jitter_ms: float
    max_jitter_ms: float
    rtt_ms: float | None
    mos: float | None
    rtcp_sent: int
    rtcp_received: int
    srtp_auth_failures: int = 0
    """SRTP/SRTCP packets dropped because their authentication tag did not verify."""
    srtp_replays: int = 0
    """SRTP/SRTCP packets dropped as replayed (index already seen or too old)."""
    secure_failure: str = ""
    """Why the call's secure media failed (``dtls_fingerprint_mismatch``, ``turn_timeout``,
    ...: gossipper.media.secure), empty when it did not."""
    rtpcheck: str = ""
    """SIPp 3.7's RTP check of a pattern stream (``apattern``/``vpattern``): ``passed``,
    ``failed``, or empty when the stream sent no pattern (gossipper.media.rtpcheck)."""
    rtpcheck_sent: int = 0
    """Pattern packets sent."""
    rtpcheck_judged: int = 0
    """Pattern packets whose echo had time to come back (sent minus those in flight at the
    call's end)."""
    rtpcheck_matched: int = 0
    """Pattern packets echoed back byte for byte."""
    rtpcheck_mismatched: int = 0
    """Pattern packets echoed back with another payload."""

    @property
    def loss_pct(self) -> float:
        """Lost packets in percent of the expected ones (negative loss counts as 0)."""
        if self.packets_expected <= 0:
            return 0.0
        return max(self.packets_lost, 0) * 100.0 / self.packets_expected

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every field in declaration order, then ``loss_pct`` (the per-call
        quality document mirrored to HEP)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in STREAM_FIELDS}
        out["loss_pct"] = round(self.loss_pct, 4)
        return out


def endpoint_text(host: str, port: int) -> str:
    """``ip:port`` as :class:`StreamQuality` writes addresses (``[v6]:port`` for IPv6)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


STREAM_FIELDS: tuple[str, ...] = tuple(StreamQuality.__dataclass_fields__)
"""The fields of :class:`StreamQuality`, in declaration order (the media CSV's columns)."""

MEDIA_CSV_COLUMNS: tuple[str, ...] = (
    "end_epoch_s",
    *STREAM_FIELDS[: STREAM_FIELDS.index("packets_lost") + 1],
    "loss_pct",
    *STREAM_FIELDS[STREAM_FIELDS.index("packets_lost") + 1 :],
)
"""Columns of the ``-trace_media`` CSV (docs/media.md): when the stream's call ended, then the
record's fields with ``loss_pct`` after ``packets_lost``."""


def format_media_csv_header(delimiter: str) -> str:
    """The ``-trace_media`` header line (newline-terminated)."""
    return delimiter.join(MEDIA_CSV_COLUMNS) + "\n"


def _csv_text(value: str, delimiter: str) -> str:
    # Call-IDs are free text: quote (RFC 4180) when one holds the delimiter, a quote or a newline.
    if delimiter in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_ms(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def format_media_csv_row(quality: StreamQuality, end_wall: float, delimiter: str) -> str:
    """One ``-trace_media`` row (newline-terminated): times in ms with 3 decimals, MOS with 2,
    an empty field for an unknown RTT or MOS."""
    q = quality
    fields = (
        f"{end_wall:.6f}",
        _csv_text(q.call_id, delimiter),
        str(q.call_number),
        _csv_text(q.media, delimiter),
        _csv_text(q.codec, delimiter),
        _csv_text(q.local, delimiter),
        _csv_text(q.remote, delimiter),
        str(q.packets_sent),
        str(q.octets_sent),
        str(q.late_packets),
        str(q.packets_received),
        str(q.octets_received),
        str(q.packets_expected),
        str(q.packets_lost),
        f"{q.loss_pct:.3f}",
        str(q.out_of_order),
        str(q.duplicated),
        str(q.malformed),
        _csv_ms(q.jitter_ms),
        _csv_ms(q.max_jitter_ms),
        _csv_ms(q.rtt_ms),
        "" if q.mos is None else f"{q.mos:.2f}",
        str(q.rtcp_sent),
        str(q.rtcp_received),
        str(q.srtp_auth_failures),
        str(q.srtp_replays),
        _csv_text(q.secure_failure, delimiter),
        q.rtpcheck,
        str(q.rtpcheck_sent),
        str(q.rtpcheck_judged),
        str(q.rtpcheck_matched),
        str(q.rtpcheck_mismatched),
    )
    return delimiter.join(fields) + "\n"


@dataclass(frozen=True, slots=True)
class RtpCheckReport:
    """One pattern stream's echo check at its call's end, for the ``-rtpcheck_debug`` and
    ``-srtpcheck_debug`` files (docs/media.md, "RTP check patterns")."""

    call_id: str
    call_number: int
    media: str
    srtp: bool
    """The stream was SRTP-protected (its record goes to the ``-srtpcheck_debug`` file)."""
    ssrc: int
    payload_type: int
    local: str
    remote: str
    tolerance: float
    sent: int
    judged: int
    matched: int
    mismatched: int
    in_flight: int
    unexpected: int
    packets_received: int
    """Every RTP packet the stream received (any SSRC)."""
    srtp_auth_failures: int
    srtp_replays: int
    passed: bool
    mismatches: tuple[str, ...] = ()
    """One line per mismatched echo (the first ones)."""


def format_rtpcheck_report(r: RtpCheckReport) -> str:
    """The debug file's record of one stream (newline-terminated; docs/media.md)."""
    kind = "SRTP" if r.srtp else "RTP"
    verdict = "PASSED" if r.passed else "FAILED"
    lines = [
        f"==== {kind} check {r.media} call {r.call_number} Call-ID {r.call_id}: {verdict}",
        f"ssrc=0x{r.ssrc:08X} payload_type={r.payload_type} local={r.local} remote={r.remote}",
        "----PACKET COUNTS----",
        f"sent={r.sent}",
        f"judged={r.judged}",
        f"matched={r.matched}",
        f"mismatched={r.mismatched}",
        f"in_flight={r.in_flight}",
        f"not_echoed={max(0, r.judged - r.matched - r.mismatched)}",
        f"unexpected={r.unexpected}",
        f"received={r.packets_received}",
    ]
    if r.srtp:
        lines.append(f"srtp_auth_failures={r.srtp_auth_failures}")
        lines.append(f"srtp_replays={r.srtp_replays}")
    ratio = f"{r.matched / r.judged:.6f}" if r.judged else "none judged"
    lines.append(f"matched/judged={ratio} tolerance={r.tolerance:g}")
    if r.mismatches:
        lines.append("----MISMATCHES----")
        lines.extend(r.mismatches)
    return "\n".join(lines) + "\n\n"


MOS_STEP = 0.01
"""Resolution of the MOS distribution: one bucket per hundredth."""


def _us(value_ms: float) -> int:
    """Milliseconds to whole microseconds (rounded; negative values count as 0)."""
    return round(value_ms * 1000.0) if value_ms > 0.0 else 0


def _centi(value: float) -> int:
    """A value in hundredths (rounded; negative values count as 0)."""
    return round(value * 100.0) if value > 0.0 else 0


def _ms(value_us: int) -> float:
    return round(value_us / 1000.0, 3)


_COUNTS: tuple[str, ...] = (
    "streams",
    "streams_received",
    "packets_sent",
    "octets_sent",
    "late_packets",
    "packets_received",
    "octets_received",
    "packets_expected",
    "packets_lost",
    "out_of_order",
    "duplicated",
    "malformed",
    "rtcp_sent",
    "rtcp_received",
    "jitter_count",
    "jitter_sum_us",
    "rtt_count",
    "rtt_sum_us",
    "mos_count",
    "mos_sum_centi",
    "srtp_auth_failures",
    "srtp_replays",
    "rtpcheck_streams",
    "rtpcheck_failed",
    "rtpcheck_sent",
    "rtpcheck_judged",
    "rtpcheck_matched",
    "rtpcheck_mismatched",
)
"""Additive integer accumulators, in to_dict's ``"sums"`` order."""

_SINCE_SRTP: frozenset[str] = frozenset(_COUNTS[_COUNTS.index("srtp_auth_failures") :])
"""Sums a document of an older version lacks (read as 0)."""

_MAXIMA: tuple[str, ...] = ("jitter_max_us", "loss_max_centi_pct", "rtt_max_us")
"""Accumulators merged by taking the larger value."""


class MediaTotals:
    """Media figures of a run (or of several merged runs/workers); see the module docstring.

    Streams that received nothing count in ``streams`` and in the sent figures, but not in
    the jitter mean or the MOS figures (there is nothing to measure).
    """

    __slots__ = (*_COUNTS, *_MAXIMA, "rtt_min_us", "by_media", "mos_buckets", "secure_failures")

    def __init__(self) -> None:
        self.streams = 0
        self.streams_received = 0
        self.packets_sent = 0
        self.octets_sent = 0
        self.late_packets = 0
        self.packets_received = 0
        self.octets_received = 0
        self.packets_expected = 0
        # Sum of each stream's loss floored at 0: one stream's duplicates must not hide
        # another stream's loss.
        self.packets_lost = 0
        self.out_of_order = 0
        self.duplicated = 0
        self.malformed = 0
        self.rtcp_sent = 0
        self.rtcp_received = 0
        self.jitter_count = 0
        self.jitter_sum_us = 0
        self.jitter_max_us = 0
        self.loss_max_centi_pct = 0
        self.rtt_count = 0
        self.rtt_sum_us = 0
        self.rtt_min_us = 0
        self.rtt_max_us = 0
        self.mos_count = 0
        self.mos_sum_centi = 0
        self.srtp_auth_failures = 0
        self.srtp_replays = 0
        self.rtpcheck_streams = 0
        self.rtpcheck_failed = 0
        """Pattern streams whose echo check failed: the run exits with 253 (SIPp 3.7)."""
        self.rtpcheck_sent = 0
        self.rtpcheck_judged = 0
        self.rtpcheck_matched = 0
        self.rtpcheck_mismatched = 0
        self.by_media: dict[str, int] = {}
        self.secure_failures: dict[str, int] = {}
        """Named secure-media failure (DTLS, TURN) -> streams that failed with it."""
        self.mos_buckets: dict[int, int] = {}
        """MOS in hundredths -> number of streams."""

    # ------------------------------------------------------------------ recording

    def add(self, q: StreamQuality) -> None:
        """Count one stream."""
        self.streams += 1
        self.by_media[q.media] = self.by_media.get(q.media, 0) + 1
        self.packets_sent += q.packets_sent
        self.octets_sent += q.octets_sent
        self.late_packets += q.late_packets
        self.packets_received += q.packets_received
        self.octets_received += q.octets_received
        self.packets_expected += q.packets_expected
        self.packets_lost += max(q.packets_lost, 0)
        self.out_of_order += q.out_of_order
        self.duplicated += q.duplicated
        self.malformed += q.malformed
        self.rtcp_sent += q.rtcp_sent
        self.rtcp_received += q.rtcp_received
        self.srtp_auth_failures += q.srtp_auth_failures
        self.srtp_replays += q.srtp_replays
        if q.rtpcheck:
            self.rtpcheck_streams += 1
            self.rtpcheck_failed += q.rtpcheck == "failed"
            self.rtpcheck_sent += q.rtpcheck_sent
            self.rtpcheck_judged += q.rtpcheck_judged
            self.rtpcheck_matched += q.rtpcheck_matched
            self.rtpcheck_mismatched += q.rtpcheck_mismatched
        if q.secure_failure:
            reason = q.secure_failure
            self.secure_failures[reason] = self.secure_failures.get(reason, 0) + 1
        if q.packets_received > 0:
            self.streams_received += 1
            self.jitter_count += 1
            self.jitter_sum_us += _us(q.jitter_ms)
        self.jitter_max_us = max(self.jitter_max_us, _us(q.max_jitter_ms), _us(q.jitter_ms))
        self.loss_max_centi_pct = max(self.loss_max_centi_pct, _centi(q.loss_pct))
        if q.rtt_ms is not None:
            rtt_us = _us(q.rtt_ms)
            if self.rtt_count == 0 or rtt_us < self.rtt_min_us:
                self.rtt_min_us = rtt_us
            self.rtt_max_us = max(self.rtt_max_us, rtt_us)
            self.rtt_count += 1
            self.rtt_sum_us += rtt_us
        if q.mos is not None:
            mos = _centi(q.mos)
            self.mos_count += 1
            self.mos_sum_centi += mos
            self.mos_buckets[mos] = self.mos_buckets.get(mos, 0) + 1

    def merge(self, other: MediaTotals) -> None:
        """Add every stream of ``other`` (exact)."""
        if other.rtt_count and (self.rtt_count == 0 or other.rtt_min_us < self.rtt_min_us):
            self.rtt_min_us = other.rtt_min_us
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in _MAXIMA:
            setattr(self, name, max(getattr(self, name), getattr(other, name)))
        for media, n in other.by_media.items():
            self.by_media[media] = self.by_media.get(media, 0) + n
        for reason, n in other.secure_failures.items():
            self.secure_failures[reason] = self.secure_failures.get(reason, 0) + n
        for mos, n in other.mos_buckets.items():
            self.mos_buckets[mos] = self.mos_buckets.get(mos, 0) + n

    def copy(self) -> MediaTotals:
        """An independent copy."""
        new = MediaTotals()
        new.merge(self)
        return new

    # ------------------------------------------------------------------ reading

    @property
    def loss_pct(self) -> float:
        """Lost packets in percent of the expected ones, over every stream."""
        if self.packets_expected <= 0:
            return 0.0
        return self.packets_lost * 100.0 / self.packets_expected

    @property
    def loss_pct_max(self) -> float:
        """The worst stream's loss in percent (to a hundredth)."""
        return self.loss_max_centi_pct / 100.0

    @property
    def late_pct(self) -> float:
        """Packets sent more than 10 ms after due, in percent of the packets sent."""
        return self.late_packets * 100.0 / self.packets_sent if self.packets_sent else 0.0

    @property
    def jitter_mean_ms(self) -> float | None:
        """Mean of the streams' final jitter (streams that received something), None if none."""
        if not self.jitter_count:
            return None
        return round(self.jitter_sum_us / self.jitter_count / 1000.0, 3)

    @property
    def jitter_max_ms(self) -> float:
        """Largest jitter any stream reached."""
        return _ms(self.jitter_max_us)

    @property
    def mos_mean(self) -> float | None:
        """Mean MOS over the streams with an estimate; None without one."""
        return round(self.mos_sum_centi / self.mos_count / 100.0, 3) if self.mos_count else None

    @property
    def mos_min(self) -> float | None:
        """Worst stream's MOS; None without an estimate."""
        return min(self.mos_buckets) / 100.0 if self.mos_buckets else None

    @property
    def mos_max(self) -> float | None:
        """Best stream's MOS; None without an estimate."""
        return max(self.mos_buckets) / 100.0 if self.mos_buckets else None

    def mos_quantile(self, q: float) -> float | None:
        """MOS at quantile ``q`` in [0, 1] (the ``ceil(q * count)``-th smallest); None if none."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be within [0, 1], got {q!r}")
        if not self.mos_count:
            return None
        rank = max(1, math.ceil(q * self.mos_count))
        seen = 0
        for mos in sorted(self.mos_buckets):
            seen += self.mos_buckets[mos]
            if seen >= rank:
                return mos / 100.0
        return max(self.mos_buckets) / 100.0  # unreachable when the buckets add up

    @property
    def rtt_mean_ms(self) -> float | None:
        """Mean RTCP round-trip time over the streams that measured one; None if none."""
        return round(self.rtt_sum_us / self.rtt_count / 1000.0, 3) if self.rtt_count else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MediaTotals):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"MediaTotals(streams={self.streams}, loss_pct={self.loss_pct:.3f}, "
            f"mos_mean={self.mos_mean})"
        )

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """The summary JSON ``"media"`` section; ``from_dict(t.to_dict())`` equals ``t``.

        The derived figures come first; ``"sums"`` holds the exact integer accumulators that
        :meth:`from_dict` rebuilds the totals from (so documents merge exactly).
        """
        return {
            "streams": self.streams,
            "streams_received": self.streams_received,
            "by_media": {media: self.by_media[media] for media in sorted(self.by_media)},
            "packets": {
                "sent": self.packets_sent,
                "received": self.packets_received,
                "expected": self.packets_expected,
                "lost": self.packets_lost,
                "out_of_order": self.out_of_order,
                "duplicated": self.duplicated,
                "malformed": self.malformed,
                "late": self.late_packets,
            },
            "octets": {"sent": self.octets_sent, "received": self.octets_received},
            "rtcp": {"sent": self.rtcp_sent, "received": self.rtcp_received},
            "srtp": {"auth_failures": self.srtp_auth_failures, "replays": self.srtp_replays},
            "secure_failures": {
                reason: self.secure_failures[reason] for reason in sorted(self.secure_failures)
            },
            "rtpcheck": {
                "streams": self.rtpcheck_streams,
                "failed": self.rtpcheck_failed,
                "sent": self.rtpcheck_sent,
                "judged": self.rtpcheck_judged,
                "matched": self.rtpcheck_matched,
                "mismatched": self.rtpcheck_mismatched,
            },
            "loss_pct": round(self.loss_pct, 4),
            "loss_pct_max": self.loss_pct_max,
            "late_pct": round(self.late_pct, 4),
            "jitter_ms": {
                "mean": self.jitter_mean_ms,
                "max": self.jitter_max_ms,
            },
            "mos": {
                "count": self.mos_count,
                "mean": self.mos_mean,
                "min": self.mos_min,
                "p05": self.mos_quantile(0.05),
                "p50": self.mos_quantile(0.5),
                "max": self.mos_max,
                "step": MOS_STEP,
                "distribution": [[mos, self.mos_buckets[mos]] for mos in sorted(self.mos_buckets)],
            },
            "rtt_ms": {
                "count": self.rtt_count,
                "mean": self.rtt_mean_ms,
                "min": _ms(self.rtt_min_us) if self.rtt_count else None,
                "max": _ms(self.rtt_max_us) if self.rtt_count else None,
            },
            "sums": {
                **{name: getattr(self, name) for name in _COUNTS},
                **{name: getattr(self, name) for name in _MAXIMA},
                "rtt_min_us": self.rtt_min_us,
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MediaTotals:
        """Rebuild totals from :meth:`to_dict` output (only ``sums``, ``by_media`` and the MOS
        distribution are read: everything else derives from them).

        Raises:
            GossipperError: the mapping is not a media section of this layout.
        """
        new = cls()
        try:
            sums: Mapping[str, Any] = data["sums"]
            for name in (*_COUNTS, *_MAXIMA, "rtt_min_us"):
                if name in _SINCE_SRTP and name not in sums:
                    continue  # a document written before SRTP was counted: none failed
                setattr(new, name, _non_negative_int(sums[name]))
            by_media: Mapping[str, Any] = data["by_media"]
            for media, n in by_media.items():
                new.by_media[str(media)] = _non_negative_int(n)
            # Absent from documents written before secure media was counted.
            failures: Mapping[str, Any] = data.get("secure_failures", {})
            for reason, n in failures.items():
                new.secure_failures[str(reason)] = _non_negative_int(n)
            if data["mos"]["step"] != MOS_STEP:
                raise ValueError(f"MOS step {data['mos']['step']!r}, expected {MOS_STEP}")
            pairs: Iterable[Any] = data["mos"]["distribution"]
            for pair in pairs:
                mos, n = pair
                new.mos_buckets[_non_negative_int(mos)] = _non_negative_int(n)
        except (KeyError, TypeError, ValueError) as exc:
            raise GossipperError(f"media summary: malformed data ({exc})") from exc
        if sum(new.mos_buckets.values()) != new.mos_count:
            raise GossipperError("media summary: MOS distribution does not add up to its count")
        if sum(new.by_media.values()) != new.streams:
            raise GossipperError("media summary: streams by media do not add up to streams")
        return new


def _non_negative_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value
