"""The media scheduler: one task sends every RTP stream's packets, a tick's batch at a time.

Issue 17 item 6: thousands of concurrent streams on one core. So there is no task, timer or
queue item per packet. Each stream is a small object that knows its next due time; streams
wait in a timing wheel (a dict from tick index to the streams due on that tick), and one task
(``MediaScheduler.run``) sleeps until the next non-empty tick, sends what is due on it and puts
each stream back in the bucket of its next packet.

Ticks sit on a fixed grid of ``tick_ms`` over trio's clock (tick k at ``k * tick_s +
TICK_PHASE_S``). A stream starts on the first grid tick after its start, so a 20 ms stream on
a 10 ms grid always sends on the grid and its packets leave evenly spaced. A packet due between
two ticks (pcap replay, or a frame interval that is not a multiple of the tick) is sent on the
nearest tick, at most half a tick early or late.

Packets are prepared once per stream: the header fields that never change (version, payload
type, SSRC) are fixed when the stream starts and the payloads are the caller's shared list, so
a packet is one ``struct.pack`` of the header plus the payload; only the sequence number and
timestamp differ between packets.

Time is ``trio.current_time()``: virtual in the simulation and under ``MockClock``, so the
scheduler is deterministic there (streams are served in start order each tick).

Stalls (the process was descheduled, or the event loop was busy): a stream never bursts more
than one tick's worth of overdue packets. Older overdue frames are skipped: the media timeline
(RTP timestamp and file position) jumps ahead to real time while sequence numbers stay
contiguous, as a sender whose audio clock ran on would do; they are counted in
``skipped_packets``. A packet sent more than ``LATE_AFTER_S`` after its due time counts in
``late_packets``.

Sockets are not imported here (the media layer sits beside transport): a stream sends through
a ``SendFn`` such as ``DatagramTransport.send_nowait``, whose False return (the socket buffer
is full) counts as a dropped packet.

The C accelerator (``_rtpfast.send_rtp``, built with the compiled modules): a plain audio
frame of an ``RtpStream`` given a ``fast_socket`` (the transport's own socket object, opaque
here) is built and sent by one C call, with no Python object per packet. The send function is
then not called for those frames; DTMF events, timed replays, streams without a fast socket
(the simulation) and installs without the accelerator take the Python path, which makes
the same bytes (tests/media/test_rtpfast.py). A stream also given a ``FastSrtp`` (the call's
SDES keys, while they are the only thing its send function adds) has the frame protected by
libsrtp in the same C call (``_rtpfast.send_srtp``, issue 18 item 5).
"""

from __future__ import annotations

import math
import operator
import struct
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import trio

from gossipper.errors import GossipperError
from gossipper.interfaces import Address
from gossipper.media.rtp import SEQ_MOD, TS_MOD, dtmf_event_code, dtmf_packets, parse_rtp

SendFn = Callable[[bytes, Address], bool]
"""Send one datagram without blocking; False when the buffer is full (nothing was sent)."""

LATE_AFTER_S: Final = 0.010
"""A packet sent more than this after its due time counts as late (issue 17 item 6)."""

TICK_PHASE_S: Final = 1e-6
"""The tick grid sits this far after whole multiples of the tick, so that in the simulation
(virtual time, timers on whole milliseconds) no other task wakes at a tick's instant: a pause,
stop or retarget at t=20 ms always takes effect before the tick at 20.001 ms, whatever order
trio runs the tasks of one instant in."""

_RTP_HEADER = struct.Struct("!BBHII")
_EPS: Final = 1e-9  # Final: compiled code reads these three as constants, not globals

_FastSend = Callable[[object, str, int, int, int, int, int, bytes], int]
_FastSendSrtp = Callable[[object, str, int, int, int, int, int, bytes, int, int], int]


class _Group(Protocol):
    """``_rtpfast.FastGroup``: steady plain streams served in C (see its comment)."""

    def join(
        self,
        sock: object,
        host: str,
        port: int,
        b1: int,
        marker: bool,
        seq: int,
        ssrc: int,
        payloads: tuple[bytes, ...],
        anchor_s: float,
        interval_s: float,
        slot: int,
        total_slots: int,
        ts0: int,
        spf: int,
        ts_extra: int,
        srtp_protect: int,
        srtp_t: int,
        burst: int,
        /,
    ) -> int: ...
    def serve(self, horizon_s: float, now_s: float, /) -> tuple[float, list[int] | None]: ...
    def take(
        self, member: int, leave: bool, /
    ) -> tuple[
        int, int, bool, int, int, int, float, float | None, float | None, int, int, int, int
    ]: ...
    def retarget(self, member: int, host: str, port: int, /) -> None: ...
    def __len__(self) -> int: ...


_GroupFactory = Callable[[float], _Group]


def _load_fast_send() -> tuple[_FastSend | None, _FastSendSrtp | None, int, _GroupFactory | None]:
    try:
        from gossipper.media._rtpfast import SRTP_FAILED, FastGroup, send_rtp, send_srtp
    except ImportError:  # a pure-Python install: every packet takes the Python path
        return None, None, 0, None
    return send_rtp, send_srtp, SRTP_FAILED, FastGroup


_send_rtp, _send_srtp, _SRTP_FAILED, _FastGroup = _load_fast_send()

FAST_PATH_AVAILABLE = _send_rtp is not None
"""Whether the C accelerator is importable (docs/performance.md, tests)."""


class ProtectCounts(Protocol):
    protected: int


class FastSrtp:
    """An SRTP session as the C accelerator protects with: libsrtp's ``srtp_protect`` and the
    sending ``srtp_t``, as addresses (gossipper.media.secure.srtp.SrtpSession.fast_protect).
    ``counters.protected`` counts each packet protected; ``failed(status)`` is told of each
    packet libsrtp refused (its error status, or ``_rtpfast.SRTP_TOO_LONG``)."""

    __slots__ = ("context_address", "counters", "failed", "protect_address")

    def __init__(
        self,
        protect_address: int,
        context_address: int,
        counters: ProtectCounts,
        failed: Callable[[int], None],
    ) -> None:
        self.protect_address = protect_address
        self.context_address = context_address
        self.counters = counters
        self.failed = failed


@dataclass(slots=True)
class StreamCounters:
    """What one stream has sent so far. Octets are payload octets (RTCP SR's sender count)."""

    packets_sent: int = 0
    octets_sent: int = 0
    late_packets: int = 0
    """Sent more than LATE_AFTER_S after their due time."""
    max_late_ms: float = 0.0
    first_sent_s: float | None = None
    last_sent_s: float | None = None
    skipped_packets: int = 0
    """Frames not sent because they were more than a tick overdue after a stall."""
    dropped_packets: int = 0
    """The send function returned False (socket buffer full)."""
    send_errors: int = 0
    """The send function raised (no route, message too long, ...)."""
    dtmf_packets: int = 0
    """RFC 4733 event packets among packets_sent."""


class StreamHandle:
    """One stream in the scheduler; what the caller keeps to steer and read it."""

    __slots__ = (
        "_anchor_s",
        "_counters",
        "_destination",
        "_done_event",
        "_fast_socket",
        "_fast_srtp",
        "_in_wheel",
        "_member",
        "_order",
        "_paused",
        "_scheduler",
        "_send",
        "done",
    )

    def __init__(
        self, scheduler: MediaScheduler, send: SendFn, destination: Address, order: int
    ) -> None:
        self._counters = StreamCounters()
        self._destination: Address = destination
        self.done = False
        """All loops sent, or stopped."""
        self._scheduler = scheduler
        self._send = send
        self._order = order
        self._paused = False
        self._in_wheel = False
        self._anchor_s = 0.0
        self._done_event = trio.Event()
        self._fast_socket: object | None = None
        self._fast_srtp: FastSrtp | None = None
        self._member = -1
        """This stream's id in the scheduler's FastGroup while C serves it, else -1."""

    @property
    def counters(self) -> StreamCounters:
        """What the stream has sent so far (up to date also while C serves it)."""
        self._sync(False)
        return self._counters

    @property
    def destination(self) -> Address:
        """Where packets go; assignable at any time (symmetric RTP retargets it)."""
        return self._destination

    @destination.setter
    def destination(self, address: Address) -> None:
        self._destination = address
        if self._member >= 0:
            group = self._scheduler._group
            assert group is not None
            try:
                group.retarget(self._member, address[0], address[1])
            except (ValueError, TypeError, OverflowError):
                self._leave_group()  # not a numeric address: the send function resolves it

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        """Stop sending until ``resume``; the media timeline keeps running meanwhile."""
        self._paused = True
        if self._member >= 0:
            self._sync(True)

    def resume(self) -> None:
        """Continue after ``pause``: the next frame goes on the next tick; the RTP timestamp
        jumps by the time spent paused and that packet carries the marker bit."""
        if not self._paused or self.done:
            return
        self._paused = False
        self._reanchor()
        self._scheduler._schedule(self)

    def stop(self) -> None:
        """Send nothing more; ``done`` becomes True and ``wait_done`` returns."""
        self._finish()

    @property
    def send_function(self) -> SendFn:
        """What the stream sends each packet with (``send`` of ``start_rtp``/``start_timed``)."""
        return self._send

    @send_function.setter
    def send_function(self, send: SendFn) -> None:
        # A call's plain stream sends straight to its socket; SRTP keys installed later (a
        # re-INVITE) put the call's protecting send back in between. Every packet then goes
        # through ``send``: the C accelerator, which would bypass it, is off for good.
        self._leave_group()
        self._send = send
        self._fast_socket = None
        self._fast_srtp = None

    def accelerate(self, fast_socket: object | None, fast_srtp: FastSrtp | None = None) -> None:
        """Let the C accelerator send this stream's audio frames on ``fast_socket`` (None: not
        any more), protected with ``fast_srtp`` if given. The caller vouches that this sends
        what the stream's send function would (the same socket, and the same keys as the only
        thing it adds)."""
        if (
            fast_socket is None
            or _send_rtp is None
            or (fast_srtp is not None and _send_srtp is None)
        ):
            fast_socket = fast_srtp = None
        self._leave_group()
        self._fast_socket = fast_socket
        self._fast_srtp = fast_srtp

    def send_dtmf(
        self,
        digits: str,
        *,
        duration_ms: int = 200,
        volume: int = 10,
        payload_type: int = 101,
        gap_ms: int = 0,
    ) -> None:
        """Queue RFC 4733 events, sent in this stream's sequence and timestamp space."""
        raise ValueError("DTMF events need an RTP stream (start_rtp), not a timed replay")

    async def wait_done(self) -> None:
        await self._done_event.wait()

    # --- scheduler side ---------------------------------------------------------------------

    def _next_due_s(self) -> float | None:
        raise NotImplementedError

    def _serve(self, horizon_s: float, now: float) -> None:
        raise NotImplementedError

    def _reanchor(self) -> None:
        raise NotImplementedError

    def _sync(self, leave: bool) -> None:
        """Take back from the FastGroup what C sent (``leave``: and serve this stream in
        Python from now on). Only RtpStream joins a group."""

    def _join_group(self, group: _Group) -> bool:
        """Let ``group`` serve this stream's frames from now on, if it can (True)."""
        return False

    def _leave_group(self) -> None:
        """Serve this stream in Python again (back in the wheel unless paused or done)."""
        if self._member >= 0:
            self._sync(True)
            if not self._paused and not self.done:
                self._scheduler._schedule(self)

    def _finish(self) -> None:
        if self._member >= 0:
            self._sync(True)
        if not self.done:
            self.done = True
            self._scheduler._active -= 1
            self._done_event.set()

    def _transmit(self, packet: bytes, payload_octets: int, due_s: float, now: float) -> None:
        try:
            status = 1 if self._send(packet, self._destination) else 0
        except (GossipperError, OSError):
            status = -1
        except trio.ClosedResourceError:
            status = 0  # the call closed its socket before the stream was stopped
        self._count(status, payload_octets, due_s, now)

    def _count(self, status: int, payload_octets: int, due_s: float, now: float) -> None:
        """Count one send: 1 sent, 0 dropped (buffer full or socket closed), < 0 failed."""
        counters = self._counters
        if status <= 0:
            if status < 0:
                counters.send_errors += 1
            else:
                counters.dropped_packets += 1
            return
        counters.packets_sent += 1
        counters.octets_sent += payload_octets
        late_s = now - due_s
        if late_s > LATE_AFTER_S:
            counters.late_packets += 1
        if late_s * 1000.0 > counters.max_late_ms:
            counters.max_late_ms = late_s * 1000.0
        if counters.first_sent_s is None:
            counters.first_sent_s = now
        counters.last_sent_s = now


class RtpStream(StreamHandle):
    """Frames of a payload list (looped), RTP headers made here, DTMF events interleaved.

    The stream's time is a sequence of slots, one per frame interval: slot n is due at
    ``anchor + n * interval`` and carries RTP timestamp ``first_ts + n * spf + ts_extra``.
    A slot sends the DTMF packet in progress if there is one, else audio frame ``n % F``.
    """

    __slots__ = (
        "_burst",
        "_b0",
        "_b1",
        "_clock_rate",
        "_dtmf",
        "_dtmf_digits",
        "_interval_s",
        "_marker_next",
        "_payloads",
        "_seq",
        "_slot",
        "_spf",
        "_ssrc",
        "_total_slots",
        "_ts0",
        "_ts_extra",
        "payload_type",
        "ssrc",
    )

    def __init__(
        self,
        scheduler: MediaScheduler,
        send: SendFn,
        destination: Address,
        order: int,
        *,
        payloads: Sequence[bytes],
        payload_type: int,
        samples_per_frame: int,
        interval_s: float,
        loops: int,
        ssrc: int,
        first_seq: int,
        first_timestamp: int,
        fast_socket: object | None = None,
        fast_srtp: FastSrtp | None = None,
    ) -> None:
        super().__init__(scheduler, send, destination, order)
        # Audio frames go through the C accelerator when there is one and a socket for it.
        self.accelerate(fast_socket, fast_srtp)
        self._payloads: tuple[bytes, ...] = tuple(payloads)
        self.payload_type = payload_type
        self.ssrc = ssrc
        self._ssrc = ssrc
        self._b0 = 0x80
        self._b1 = payload_type
        self._spf = samples_per_frame
        self._interval_s = interval_s
        self._clock_rate = samples_per_frame / interval_s
        self._seq = first_seq % SEQ_MOD
        self._ts0 = first_timestamp % TS_MOD
        self._ts_extra = 0
        self._slot = 0
        # -1 = forever; 0 and 1 = once (SIPp); an empty payload list sends only DTMF.
        self._total_slots = -1 if loops < 0 or not payloads else len(payloads) * max(loops, 1)
        self._burst = int((scheduler.tick_s - _EPS) / interval_s) + 1
        self._marker_next = True
        # (payload, marker, timestamp, is_end) of the event being sent; digits still to start.
        self._dtmf: deque[tuple[bytes, bool, int, bool, int]] = deque()
        self._dtmf_digits: deque[tuple[str, int, int, int, int]] = deque()

    def rtp_timestamp_at(self, time_s: float) -> int:
        """The RTP timestamp of this stream's media clock at trio time ``time_s`` (RTCP SR)."""
        self._sync(False)
        slot_ts = self._ts0 + self._slot * self._spf + self._ts_extra
        due = self._anchor_s + self._slot * self._interval_s
        return (slot_ts + round((time_s - due) * self._clock_rate)) % TS_MOD

    @property
    def clock_rate(self) -> float:
        return self._clock_rate

    @property
    def next_sequence(self) -> int:
        """The sequence number of the next packet (dropped and refused sends used theirs): a
        stream that takes over from this one continues here."""
        self._sync(False)
        return self._seq

    def send_dtmf(
        self,
        digits: str,
        *,
        duration_ms: int = 200,
        volume: int = 10,
        payload_type: int = 101,
        gap_ms: int = 0,
    ) -> None:
        """Queue RFC 4733 events for ``digits``; they replace audio frames while they play.

        Each digit's packets (``dtmf_packets``) go one per frame interval with the timestamp of
        the slot it starts on; ``gap_ms`` of audio (or silence) separate digits. Digits are
        checked here (ValueError names a bad one). A finished stream ignores the call.
        """
        for digit in digits:
            dtmf_event_code(digit)
        if duration_ms <= 0 or gap_ms < 0 or not 0 <= payload_type <= 127:
            raise ValueError("DTMF needs duration_ms > 0, gap_ms >= 0 and payload_type 0..127")
        if self.done:
            return
        self._leave_group()  # events are the Python path's
        gap_slots = math.ceil(gap_ms / 1000.0 / self._interval_s - _EPS) if gap_ms else 0
        idle = not self._dtmf and not self._dtmf_digits and not self._payloads
        for digit in digits:
            self._dtmf_digits.append((digit, duration_ms, volume, payload_type, gap_slots))
        if idle and not self._paused:
            self._reanchor()
            self._scheduler._schedule(self)

    def _next_due_s(self) -> float | None:
        if self._paused or self.done:
            return None
        if not self._payloads and not self._dtmf and not self._dtmf_digits:
            return None  # DTMF-only stream with nothing queued: idle until send_dtmf
        return self._anchor_s + self._slot * self._interval_s

    def _reanchor(self) -> None:
        """After pause or idleness: the next slot goes on the next tick, timestamp follows."""
        new_due = self._scheduler._first_tick_time(trio.current_time())
        old_due = self._anchor_s + self._slot * self._interval_s
        shift = new_due - old_due
        if shift > 0:
            self._anchor_s += shift
            self._ts_extra += round(shift * self._clock_rate)
            self._marker_next = True

    def _serve(self, horizon_s: float, now: float) -> None:
        interval = self._interval_s
        slot = self._slot
        due = self._anchor_s + slot * interval
        if due >= horizon_s:
            return
        if (
            due + interval >= horizon_s
            and not self._dtmf
            and not self._dtmf_digits
            and (self._total_slots < 0 or slot + 1 < self._total_slots)
        ):
            # The hot path, nearly every packet of every stream: one audio frame due now.
            payloads = self._payloads
            b1 = self._b1
            if self._marker_next:
                b1 |= 0x80
                self._marker_next = False
            payload = payloads[slot % len(payloads)]
            timestamp = (self._ts0 + slot * self._spf + self._ts_extra) & 0xFFFFFFFF
            seq = self._seq
            self._seq = (seq + 1) & 0xFFFF
            self._slot = slot + 1
            fast_socket = self._fast_socket
            if fast_socket is not None and _send_rtp is not None:
                destination = self._destination
                fast_srtp = self._fast_srtp
                try:
                    if fast_srtp is None:
                        status = _send_rtp(
                            fast_socket, destination[0], destination[1], b1, seq, timestamp,
                            self._ssrc, payload,
                        )  # fmt: skip
                    else:
                        assert _send_srtp is not None  # accelerate() pairs them
                        status = _send_srtp(
                            fast_socket, destination[0], destination[1], b1, seq, timestamp,
                            self._ssrc, payload, fast_srtp.protect_address,
                            fast_srtp.context_address,
                        )  # fmt: skip
                        if status >= _SRTP_FAILED:
                            fast_srtp.failed(status - _SRTP_FAILED)
                            status = 0  # not protected, not sent: as the send function's False
                        else:
                            fast_srtp.counters.protected += 1
                except (ValueError, TypeError, OverflowError):
                    # Not a numeric address (an SDP may name a host): the send function
                    # resolves it; this stream takes the Python path from now on.
                    self._fast_socket = None
                    self._fast_srtp = None
                else:
                    self._count(status, len(payload), due, now)
                    return
            packet = _RTP_HEADER.pack(0x80, b1, seq, timestamp, self._ssrc) + payload
            self._transmit(packet, len(payload), due, now)
            return
        overdue = int((horizon_s - due) / interval)
        if due + overdue * interval < horizon_s:
            overdue += 1
        if self._total_slots >= 0 and not self._dtmf and not self._dtmf_digits:
            overdue = min(overdue, self._total_slots - self._slot)
        skip = overdue - self._burst
        if skip > 0:
            self._skip(skip)
            overdue -= skip
            due = self._anchor_s + self._slot * interval
        for _ in range(overdue):
            self._send_slot(due, now)
            self._slot += 1
            due += interval
            if 0 <= self._total_slots <= self._slot and not self._dtmf and not self._dtmf_digits:
                self._finish()
                return

    def _sync(self, leave: bool) -> None:
        member = self._member
        if member < 0:
            return
        group = self._scheduler._group
        assert group is not None
        (slot, seq, marker, sent, octets, late, max_late_ms, first_s, last_s, dropped, errors,
         protected, skipped) = group.take(member, leave)  # fmt: skip
        self._slot = slot
        self._seq = seq
        self._marker_next = marker
        counters = self._counters
        counters.packets_sent += sent
        counters.octets_sent += octets
        counters.late_packets += late
        if max_late_ms > counters.max_late_ms:
            counters.max_late_ms = max_late_ms
        if first_s is not None and counters.first_sent_s is None:
            counters.first_sent_s = first_s
        if last_s is not None:
            counters.last_sent_s = last_s
        counters.dropped_packets += dropped
        counters.send_errors += errors
        counters.skipped_packets += skipped
        if protected and self._fast_srtp is not None:
            self._fast_srtp.counters.protected += protected
        if leave:
            self._member = -1
            self._in_wheel = False
            del self._scheduler._members[member]

    def _join_group(self, group: _Group) -> bool:
        # Only the straight audio frames: what RtpStream._serve's hot path sends through
        # _send_rtp or _send_srtp, for at least one more frame before the last.
        if (
            self._fast_socket is None
            or _send_rtp is None
            or self._dtmf
            or self._dtmf_digits
            or not self._payloads
            or self._paused
            or self.done
            or 0 <= self._total_slots <= self._slot + 1
        ):
            return False
        destination = self._destination
        fast_srtp = self._fast_srtp
        protect, context = (0, 0) if fast_srtp is None else (
            fast_srtp.protect_address, fast_srtp.context_address
        )  # fmt: skip
        try:
            self._member = group.join(
                self._fast_socket, destination[0], destination[1], self._b1,
                self._marker_next, self._seq, self._ssrc, self._payloads, self._anchor_s,
                self._interval_s, self._slot, self._total_slots, self._ts0, self._spf,
                self._ts_extra, protect, context, self._burst,
            )  # fmt: skip
        except (ValueError, TypeError, OverflowError):
            return False
        return True

    def _skip(self, slots: int) -> None:
        self._counters.skipped_packets += slots
        self._slot += slots
        # A stall eats event updates but never an event's end packets (the receiver must see
        # the digit end); a digit not started yet stays queued.
        while slots and self._dtmf and not self._dtmf[0][3]:
            self._dtmf.popleft()
            slots -= 1

    def _send_slot(self, due: float, now: float) -> None:
        if not self._dtmf and self._dtmf_digits:
            self._start_digit()
        ts = (self._ts0 + self._slot * self._spf + self._ts_extra) % TS_MOD
        if self._dtmf:
            event, marker, event_ts, _, pt = self._dtmf.popleft()
            if pt >= 0:  # (a negative type marks a gap slot between digits: audio as usual)
                packet = _RTP_HEADER.pack(
                    0x80, pt | (0x80 if marker else 0), self._seq, event_ts, self._ssrc
                )
                self._transmit(packet + event, len(event), due, now)
                self._seq = (self._seq + 1) % SEQ_MOD
                self._counters.dtmf_packets += 1
                self._marker_next = True  # audio after an event starts a new talkspurt
                return
        payloads = self._payloads
        if not payloads or 0 <= self._total_slots <= self._slot:
            return
        payload = payloads[self._slot % len(payloads)]
        b1 = self._b1
        if self._marker_next:
            b1 |= 0x80
            self._marker_next = False
        packet = _RTP_HEADER.pack(0x80, b1, self._seq, ts, self._ssrc) + payload
        self._transmit(packet, len(payload), due, now)
        self._seq = (self._seq + 1) % SEQ_MOD

    def _start_digit(self) -> None:
        digit, duration_ms, volume, pt, gap_slots = self._dtmf_digits.popleft()
        ts = (self._ts0 + self._slot * self._spf + self._ts_extra) % TS_MOD
        interval_ms = max(1, round(self._interval_s * 1000.0))
        for p in dtmf_packets(
            digit,
            payload_type=pt,
            ssrc=self._ssrc,
            sequence=0,
            timestamp=ts,
            duration_ms=duration_ms,
            clock_rate=round(self._clock_rate),
            interval_ms=interval_ms,
            volume=volume,
        ):
            end = p.payload[1] & 0x80 != 0
            self._dtmf.append((p.payload, p.marker, ts, end, pt))
        for _ in range(gap_slots):
            self._dtmf.append((b"", False, ts, False, -1))


class TimedStream(StreamHandle):
    """Whole packets sent at captured offsets from the stream start (pcap replay)."""

    __slots__ = ("_index", "_octets", "_offsets", "_packets")

    def __init__(
        self,
        scheduler: MediaScheduler,
        send: SendFn,
        destination: Address,
        order: int,
        packets: Sequence[tuple[float, bytes]],
    ) -> None:
        super().__init__(scheduler, send, destination, order)
        self._offsets = [offset for offset, _ in packets]
        self._packets = [data for _, data in packets]
        self._octets = [_payload_octets(data) for data in self._packets]
        self._index = 0

    def _next_due_s(self) -> float | None:
        if self._paused or self.done or self._index >= len(self._packets):
            return None
        return self._anchor_s + self._offsets[self._index]

    def _reanchor(self) -> None:
        if self._index >= len(self._packets):
            return
        new_due = self._scheduler._first_tick_time(trio.current_time())
        shift = new_due - (self._anchor_s + self._offsets[self._index])
        if shift > 0:
            self._anchor_s += shift

    def _serve(self, horizon_s: float, now: float) -> None:
        anchor = self._anchor_s
        offsets = self._offsets
        count = len(offsets)
        i = self._index
        last = i
        while last < count and anchor + offsets[last] < horizon_s:
            last += 1
        if last == i:
            return
        # Only packets within one tick of the newest overdue one go out; older ones are skipped.
        oldest_allowed = anchor + offsets[last - 1] - self._scheduler.tick_s
        while anchor + offsets[i] <= oldest_allowed:
            self._counters.skipped_packets += 1
            i += 1
        for j in range(i, last):
            self._transmit(self._packets[j], self._octets[j], anchor + offsets[j], now)
        self._index = last
        if last >= count:
            self._finish()


def _payload_octets(data: bytes) -> int:
    try:
        return len(parse_rtp(data).payload)
    except GossipperError:
        return len(data)


_order_key = operator.attrgetter("_order")


class MediaScheduler:
    """Sends the packets of every stream from one task (``run``)."""

    def __init__(self, *, tick_ms: float = 10.0) -> None:
        if not tick_ms > 0:
            raise ValueError("tick_ms must be positive")
        self.tick_s = tick_ms / 1000.0
        self._wheel: dict[int, list[StreamHandle]] = {}
        self._next_tick = 0
        self._order = 0
        self._active = 0
        self._wakeup = trio.Event()
        self._sleeping_until: int | None = None
        # Steady plain streams served in C (_rtpfast.FastGroup), with the tick of the
        # earliest frame due among them (None: no member).
        self._group: _Group | None = None if _FastGroup is None else _FastGroup(LATE_AFTER_S)
        self._members: dict[int, RtpStream] = {}
        self._group_tick: int | None = None
        self.ticks_served = 0
        """Ticks on which at least one stream was served (for benchmarks and tests)."""

    @property
    def active_streams(self) -> int:
        """Streams started and not done (paused ones included)."""
        return self._active

    @property
    def streams_in_c(self) -> int:
        """Streams whose frames C serves now (the FastGroup; for benchmarks and tests)."""
        return len(self._members)

    def start_rtp(
        self,
        *,
        send: SendFn,
        destination: Address,
        payloads: Sequence[bytes],
        payload_type: int,
        samples_per_frame: int,
        frame_interval_ms: float,
        loops: int,
        ssrc: int,
        first_seq: int,
        first_timestamp: int,
        start_delay_s: float = 0.0,
        until_s: float = math.inf,
        fast_socket: object | None = None,
        fast_srtp: FastSrtp | None = None,
    ) -> RtpStream:
        """Stream ``payloads`` (one per frame) ``loops`` times (SIPp: -1 forever, 0/1 once).

        ``until_s`` (a time of the run's clock): no frame due at or after it is sent, however
        late the scheduler wakes (``-rtp_dur``: a stop that lands after a tick must not add
        the frame due at the end).

        The first packet goes on the first tick after ``start_delay_s`` from now and has the
        marker bit (a sender of many streams spreads their phases with the delay). An empty
        payload list makes a stream that sends only the DTMF events queued with ``send_dtmf``.

        ``fast_socket``: the socket ``send`` writes to (an object with ``fileno()``), for the C
        accelerator to send audio frames on directly; only when ``send`` adds nothing to the
        packet (no hook) but, with ``fast_srtp``, SRTP protection with those keys, and the
        destination is a numeric address.
        """
        if not 0 <= payload_type <= 127:
            raise ValueError(f"payload type {payload_type} is outside 0..127")
        if samples_per_frame <= 0 or not frame_interval_ms > 0:
            raise ValueError("samples_per_frame and frame_interval_ms must be positive")
        stream = RtpStream(
            self,
            send,
            destination,
            self._next_order(),
            payloads=payloads,
            payload_type=payload_type,
            samples_per_frame=samples_per_frame,
            interval_s=frame_interval_ms / 1000.0,
            loops=loops,
            ssrc=ssrc & 0xFFFFFFFF,
            first_seq=first_seq,
            first_timestamp=first_timestamp,
            fast_socket=fast_socket,
            fast_srtp=fast_srtp,
        )
        stream._anchor_s = self._first_tick_time(trio.current_time() + max(start_delay_s, 0.0))
        if until_s != math.inf and payloads:
            slots = max(0, math.ceil((until_s - stream._anchor_s) / stream._interval_s - 1e-9))
            if stream._total_slots < 0 or slots < stream._total_slots:
                stream._total_slots = slots
        self._active += 1
        if stream._total_slots == 0:
            stream._finish()
        else:
            self._schedule(stream)
        return stream

    def start_timed(
        self, *, send: SendFn, destination: Address, packets: Sequence[tuple[float, bytes]]
    ) -> StreamHandle:
        """Replay whole packets at ``offset_s`` from the stream start (pcap replay, as captured).

        Offsets must not decrease (ValueError otherwise).
        """
        previous = 0.0
        for offset, _ in packets:
            if offset < previous or offset < 0:
                raise ValueError("timed packet offsets must be >= 0 and must not decrease")
            previous = offset
        stream = TimedStream(self, send, destination, self._next_order(), packets)
        stream._anchor_s = self._first_tick_time(trio.current_time())
        self._active += 1
        if not packets:
            stream._finish()
        else:
            self._schedule(stream)
        return stream

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The one task that sends every stream's packets; runs until cancelled."""
        task_status.started()
        tick_s = self.tick_s
        while True:
            target = self._next_target()
            if target is None:
                self._wakeup = trio.Event()
                await self._wakeup.wait()
                continue
            deadline = target * tick_s + TICK_PHASE_S
            if trio.current_time() < deadline:
                self._wakeup = trio.Event()
                self._sleeping_until = target
                with trio.move_on_at(deadline):
                    await self._wakeup.wait()
                self._sleeping_until = None
                continue
            now = trio.current_time()
            current = math.floor((now - TICK_PHASE_S) / tick_s + _EPS)
            self._serve_until(current, now)
            # When sending takes longer than a tick the loop would never sleep; let the rest
            # of the program (signalling!) run between batches. Otherwise the sleep until the
            # next tick yields anyway: one wake-up per tick, not two.
            target = self._next_target()
            if target is not None and trio.current_time() >= target * tick_s + TICK_PHASE_S:
                await trio.lowlevel.checkpoint()

    # --- internals ----------------------------------------------------------------------------

    def _next_target(self) -> int | None:
        """The next tick on which anything is due (the wheel's or the group's), or None."""
        group_tick = self._group_tick
        wheel = self._wheel
        if not wheel:
            return group_tick
        target = min(wheel)
        if group_tick is not None and group_tick < target:
            return group_tick
        return target

    def _next_order(self) -> int:
        self._order += 1
        return self._order

    def _first_tick_time(self, now: float) -> float:
        """The time of the first grid tick after ``now``.

        Strictly after: a stream started at a tick's instant begins on the next tick whether
        or not the scheduler task has already served this one (the order of tasks runnable at
        one instant must not change the output, design.md section 5).
        """
        tick = math.floor((now - TICK_PHASE_S) / self.tick_s + _EPS) + 1
        return tick * self.tick_s + TICK_PHASE_S

    def _serve_until(self, current: int, now: float) -> None:
        wheel = self._wheel
        keys = [k for k in wheel if k <= current]
        if len(keys) == 1:
            batch = wheel.pop(keys[0])
        else:
            keys.sort()
            batch = []
            for k in keys:
                batch.extend(wheel.pop(k))
        batch.sort(key=_order_key)
        self._next_tick = current + 1
        self.ticks_served += 1
        tick_s = self.tick_s
        horizon = current * tick_s + TICK_PHASE_S + tick_s / 2
        for stream in batch:
            stream._in_wheel = False
            if stream.done or stream._paused:
                continue
            stream._serve(horizon, now)
            self._requeue(stream, current + 1)
        group = self._group
        group_tick = self._group_tick
        if group is None or group_tick is None or group_tick > current:
            return
        next_due, given_back = group.serve(horizon, now)
        if next_due == math.inf:
            self._group_tick = None
        else:
            tick = math.floor((next_due - TICK_PHASE_S) / tick_s + 0.5)
            self._group_tick = tick if tick > current else current + 1
        if given_back is not None:
            # At their last frame (or refused by libsrtp): the Python path finishes them as
            # it does any stream. (Stalls are caught up in C: skips and bursts as _serve.)
            members = self._members
            for member in given_back:
                stream = members[member]
                stream._sync(True)
                stream._serve(horizon, now)
                self._requeue(stream, current + 1)  # (may join again: the tick follows)
        if not self._members:
            self._group_tick = None

    def _requeue(self, stream: StreamHandle, next_tick: int) -> None:
        """Put a stream just served back: into the group when C can serve it from now on,
        else into the wheel's bucket of its next due time. (The run loop is awake, so there
        is nobody to wake.)"""
        due = stream._next_due_s()
        if due is None:
            return
        group = self._group
        if group is not None and stream._join_group(group):
            assert isinstance(stream, RtpStream)
            self._members[stream._member] = stream
            stream._in_wheel = True
            tick = math.floor((due - TICK_PHASE_S) / self.tick_s + 0.5)
            if tick < next_tick:
                tick = next_tick
            group_tick = self._group_tick
            if group_tick is None or tick < group_tick:
                self._group_tick = tick
            return
        tick = math.floor((due - TICK_PHASE_S) / self.tick_s + 0.5)
        if tick < next_tick:
            tick = next_tick
        wheel = self._wheel
        bucket = wheel.get(tick)
        if bucket is None:
            wheel[tick] = [stream]
        else:
            bucket.append(stream)
        stream._in_wheel = True

    def _schedule(self, stream: StreamHandle) -> None:
        if stream._in_wheel:
            return  # still waiting in a bucket; it is re-bucketed when that bucket comes up
        due = stream._next_due_s()
        if due is None:
            return
        tick = max(math.floor((due - TICK_PHASE_S) / self.tick_s + 0.5), self._next_tick)
        bucket = self._wheel.get(tick)
        if bucket is None:
            self._wheel[tick] = [stream]
        else:
            bucket.append(stream)
        stream._in_wheel = True
        if self._sleeping_until is None or tick < self._sleeping_until:
            self._wakeup.set()
