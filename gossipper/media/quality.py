"""Receiver statistics for one RTP stream (RFC 3550 appendix A) and an E-model MOS estimate.

Receiver statistics
    ``ReceiverStats.receive(arrival_s, packet)`` follows RFC 3550:

    * A.1 sequence tracking: the extended highest sequence number (cycles << 16 | seq), with
      MAX_DROPOUT = 3000 and MAX_MISORDER = 100; a jump outside those windows is discarded
      unless the next packet confirms it, which restarts the count (a new sender). There is no
      probation (MIN_SEQUENTIAL = 0): a media tester wants the first packet counted.
    * A.3 loss: expected = extended_max - base_seq + 1; lost = expected - received, where
      received counts every accepted packet, duplicates included, so lost may be negative (as
      RFC 3550 says); the fraction lost is per reporting interval, in 1/256 units.
    * A.8 interarrival jitter: with arrival time converted to timestamp units,
      D = (R_j - S_j) - (R_i - S_i) and J += (|D| - J) / 16, computed for every packet in
      arrival order; reported in timestamp units and in milliseconds (J / clock rate).

    Duplicates (an extended sequence number already seen in the last 2**15 numbers) and
    out-of-order packets (older than the highest seen, not duplicates) are counted apart.

E-model
    The simplified ITU-T G.107 E-model as commonly used for VoIP monitoring (for example Cole and
    Rosenbluth, "Voice over IP performance monitoring", ACM CCR 2001):

    * R = 93.2 - Id - Ie_eff (default values for every other G.107 parameter: Ro - Is = 93.2,
      A = 0).
    * Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3), d the one-way mouth-to-ear delay in ms and
      H the unit step: the usual linear fit of G.107's Id for echo-free paths.
    * Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl) (G.107 section 7.6), Ppl the packet
      loss in percent, BurstR = 1 for random loss.
    * MOS from R per G.107 Annex B: 1 for R < 0, 4.5 for R > 100, else
      1 + 0.035 R + R (R - 60) (100 - R) 7e-6, floored at 1 (the polynomial dips
      to 0.99 near R = 3).

    Codec impairments (Ie, Bpl) come from ITU-T G.113 Appendix I (as cited by G.107 Appendix I):
    G.711 Ie = 0 with Bpl = 4.3 without packet loss concealment and 25.1 with it; G.729(A)
    Ie = 11, Bpl = 19.0.
"""

from __future__ import annotations

from dataclasses import dataclass

from gossipper.media.rtp import SEQ_MOD, ReportBlock, RtpPacket

MAX_DROPOUT = 3000
MAX_MISORDER = 100
_DUPLICATE_WINDOW = 1 << 15


@dataclass(frozen=True, slots=True)
class CodecImpairment:
    """E-model equipment impairment factor Ie and packet-loss robustness Bpl of a codec."""

    ie: float
    bpl: float


CODEC_IMPAIRMENTS: dict[str, CodecImpairment] = {
    "PCMU": CodecImpairment(0.0, 4.3),
    "PCMA": CodecImpairment(0.0, 4.3),
    "PCMU+PLC": CodecImpairment(0.0, 25.1),
    "PCMA+PLC": CodecImpairment(0.0, 25.1),
    "G729": CodecImpairment(11.0, 19.0),
}
"""G.113 Appendix I values; "+PLC" names G.711 with packet loss concealment."""


def delay_impairment(one_way_delay_ms: float) -> float:
    """Id for a one-way delay in ms (the linear fit of G.107 described in the module doc)."""
    d = max(0.0, one_way_delay_ms)
    return 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)


def effective_equipment_impairment(
    impairment: CodecImpairment, loss_percent: float, burst_ratio: float = 1.0
) -> float:
    """Ie_eff of G.107 section 7.6."""
    ppl = min(100.0, max(0.0, loss_percent))
    return impairment.ie + (95.0 - impairment.ie) * ppl / (ppl / burst_ratio + impairment.bpl)


def r_factor(
    impairment: CodecImpairment,
    loss_percent: float,
    one_way_delay_ms: float = 0.0,
    burst_ratio: float = 1.0,
) -> float:
    """The transmission rating R = 93.2 - Id - Ie_eff."""
    return (
        93.2
        - delay_impairment(one_way_delay_ms)
        - effective_equipment_impairment(impairment, loss_percent, burst_ratio)
    )


def mos_from_r(r: float) -> float:
    """G.107 Annex B: the estimated conversational MOS for a rating R."""
    if r < 0:
        return 1.0
    if r > 100:
        return 4.5
    # The polynomial dips below 1 for R under about 6.5; MOS has no value under 1.
    return max(1.0, 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6)


def mos(
    codec: str, loss_percent: float, one_way_delay_ms: float = 0.0, burst_ratio: float = 1.0
) -> float:
    """MOS for a codec name from CODEC_IMPAIRMENTS; KeyError for an unknown codec."""
    return mos_from_r(
        r_factor(CODEC_IMPAIRMENTS[codec], loss_percent, one_way_delay_ms, burst_ratio)
    )


class ReceiverStats:
    """Statistics of one received RTP stream (one SSRC); see the module doc for definitions."""

    __slots__ = (
        "clock_rate",
        "ssrc",
        "received",
        "duplicates",
        "out_of_order",
        "discarded",
        "octets",
        "_started",
        "_max_seq",
        "_cycles",
        "_base_seq",
        "_bad_seq",
        "_seen",
        "_transit",
        "_have_transit",
        "_jitter",
        "_expected_prior",
        "_received_prior",
    )

    def __init__(self, clock_rate: int = 8000) -> None:
        self.clock_rate = clock_rate
        self.ssrc: int | None = None
        self.received = 0
        """Accepted packets, duplicates included (RFC 3550 A.3)."""
        self.duplicates = 0
        self.out_of_order = 0
        self.discarded = 0
        """Packets dropped by the A.1 jump check (a jump not yet confirmed)."""
        self.octets = 0
        self._started = False
        self._max_seq = 0
        self._cycles = 0
        self._base_seq = 0
        self._bad_seq = SEQ_MOD + 1
        self._seen: set[int] = set()
        self._transit = 0.0
        self._have_transit = False
        self._jitter = 0.0
        self._expected_prior = 0
        self._received_prior = 0

    def _init_seq(self, seq: int) -> None:
        self._base_seq = seq
        self._max_seq = seq
        self._bad_seq = SEQ_MOD + 1
        self._cycles = 0
        # A restarted sender (RFC 3550 A.1) starts the counts over: duplicates and reordered
        # packets are counted among ``received``, so they restart with it.
        self.received = 0
        self.duplicates = 0
        self.out_of_order = 0
        self._received_prior = 0
        self._expected_prior = 0
        self._seen.clear()

    def receive(self, arrival_s: float, packet: RtpPacket, *, timed: bool = True) -> bool:
        """Account one packet that arrived at ``arrival_s``; False when A.1 discarded it.

        ``timed=False`` (RFC 4733 events): counted, but kept out of the jitter. An event's
        packets all carry the event's start timestamp, so their transit times are not the
        stream's; Wireshark's stream analysis leaves them out as well."""
        seq = packet.sequence
        if not self._started:
            self._started = True
            self.ssrc = packet.ssrc
            self._init_seq(seq)
            extended = seq
        else:
            udelta = (seq - self._max_seq) % SEQ_MOD
            if 0 < udelta < MAX_DROPOUT:
                if seq < self._max_seq:
                    self._cycles += SEQ_MOD
                self._max_seq = seq
                extended = self._cycles + seq
            elif udelta == 0 or udelta > SEQ_MOD - MAX_MISORDER:
                # A duplicate of the highest, or a late (reordered) packet.
                extended = self._cycles + self._max_seq - ((self._max_seq - seq) % SEQ_MOD)
            elif seq == self._bad_seq:
                # Two sequential packets after a big jump: the sender restarted.
                self._init_seq(seq)
                extended = seq
            else:
                self._bad_seq = (seq + 1) % SEQ_MOD
                self.discarded += 1
                return False
        highest = self._cycles + self._max_seq
        if extended in self._seen:
            self.duplicates += 1
        else:
            if extended < highest:
                self.out_of_order += 1
            self._seen.add(extended)
            if len(self._seen) > 2 * _DUPLICATE_WINDOW:
                floor = highest - _DUPLICATE_WINDOW
                self._seen = {s for s in self._seen if s >= floor}
        self.received += 1
        self.octets += len(packet.payload)
        if not timed:
            return True
        transit = arrival_s * self.clock_rate - packet.timestamp
        if self._have_transit:
            d = transit - self._transit
            # The RTP timestamp wraps at 2**32; the transit difference must not see the wrap.
            if d > 2**31:
                d -= 2**32
            elif d < -(2**31):
                d += 2**32
            self._jitter += (abs(d) - self._jitter) / 16.0
        self._transit = transit
        self._have_transit = True
        return True

    @property
    def extended_max_seq(self) -> int:
        return self._cycles + self._max_seq

    @property
    def expected(self) -> int:
        return self.extended_max_seq - self._base_seq + 1 if self._started else 0

    @property
    def lost(self) -> int:
        """Cumulative lost packets, expected - received (negative when duplicates outnumber)."""
        return self.expected - self.received

    @property
    def loss_fraction(self) -> float:
        """Cumulative lost / expected in 0..1 (0 when nothing is expected or lost)."""
        expected = self.expected
        return max(0, self.lost) / expected if expected else 0.0

    @property
    def jitter(self) -> float:
        """Interarrival jitter in timestamp units."""
        return self._jitter

    @property
    def jitter_ms(self) -> float:
        return self._jitter * 1000.0 / self.clock_rate

    def report_block(self, last_sr: int = 0, delay_since_last_sr: int = 0) -> ReportBlock:
        """The RFC 3550 report block for this source; starts a new reporting interval."""
        expected = self.expected
        expected_interval = expected - self._expected_prior
        received_interval = self.received - self._received_prior
        lost_interval = expected_interval - received_interval
        self._expected_prior = expected
        self._received_prior = self.received
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = (lost_interval << 8) // expected_interval
        return ReportBlock(
            ssrc=self.ssrc or 0,
            fraction_lost=min(fraction, 255),
            cumulative_lost=self.lost,
            highest_sequence=self.extended_max_seq & 0xFFFFFFFF,
            jitter=int(self._jitter),
            last_sr=last_sr,
            delay_since_last_sr=delay_since_last_sr,
        )

    def mos(self, codec: str, one_way_delay_ms: float = 0.0) -> float:
        """The E-model MOS for this stream's cumulative loss."""
        return mos(codec, 100.0 * self.loss_fraction, one_way_delay_ms)
