"""TEMPORARY stand-in for media-sched's gossipper/media/scheduler.py (contract 1), removed at
the merge. One task, packets due per tick, streams in start order."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import trio

from gossipper.interfaces import Address
from gossipper.media.rtp import dtmf_packets

SendFn = Callable[[bytes, Address], bool]


@dataclass(slots=True)
class StreamCounters:
    packets_sent: int = 0
    octets_sent: int = 0
    late_packets: int = 0
    max_late_ms: float = 0.0
    first_sent_s: float | None = None
    last_sent_s: float | None = None


class StreamHandle:
    def __init__(self, send: SendFn, destination: Address) -> None:
        self.counters = StreamCounters()
        self.destination = destination
        self.done = False
        self._send = send
        self._paused = False
        self._queue: list[tuple[float, bytes]] = []
        self._pos = 0
        self._event = trio.Event()
        self.rtp: tuple[Sequence[bytes], int, int, float, int, int, int, int] | None = None
        self._rtp_index = 0
        self._extra: list[tuple[float, bytes]] = []

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def stop(self) -> None:
        self.done = True
        self._event.set()

    def send_dtmf(
        self, digits: str, *, duration_ms: int = 200, volume: int = 10, payload_type: int = 101
    ) -> None:
        if self.rtp is None:
            return
        payloads, pt, spf, interval, loops, ssrc, seq, ts = self.rtp
        now = trio.current_time()
        at = now
        for digit in digits:
            for p in dtmf_packets(
                digit,
                payload_type=payload_type,
                ssrc=ssrc,
                sequence=seq + self._rtp_index,
                timestamp=ts + self._rtp_index * spf,
                duration_ms=duration_ms,
                volume=volume,
            ):
                self._extra.append((at, p.pack()))
                at += 0.02

    async def wait_done(self) -> None:
        await self._event.wait()

    def _due(self, now: float, start: float) -> list[bytes]:
        out: list[bytes] = []
        if self._extra:
            keep = []
            for when, data in self._extra:
                if when <= now:
                    out.append(data)
                else:
                    keep.append((when, data))
            self._extra = keep
        if self.rtp is not None:
            payloads, pt, spf, interval, loops, ssrc, seq, ts = self.rtp
            total = len(payloads) * max(1, loops) if loops >= 0 else math.inf
            while self._rtp_index < total and start + self._rtp_index * interval / 1000 <= now:
                i = self._rtp_index
                header = struct.pack(
                    "!BBHII", 0x80, pt, (seq + i) & 0xFFFF, (ts + i * spf) & 0xFFFFFFFF, ssrc
                )
                if not self._paused:
                    out.append(header + payloads[i % len(payloads)])
                self._rtp_index += 1
            if self._rtp_index >= total and not self._extra:
                self.done = True
        else:
            while self._pos < len(self._queue) and start + self._queue[self._pos][0] <= now:
                out.append(self._queue[self._pos][1])
                self._pos += 1
            if self._pos >= len(self._queue) and not self._extra:
                self.done = True
        return out


class MediaScheduler:
    def __init__(self, *, tick_ms: float = 10.0) -> None:
        self._tick = tick_ms / 1000
        self._streams: list[tuple[StreamHandle, float]] = []

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
    ) -> StreamHandle:
        h = StreamHandle(send, destination)
        h.rtp = (
            payloads,
            payload_type,
            samples_per_frame,
            frame_interval_ms,
            loops,
            ssrc,
            first_seq,
            first_timestamp,
        )
        self._streams.append((h, trio.current_time()))
        return h

    def start_timed(
        self, *, send: SendFn, destination: Address, packets: Sequence[tuple[float, bytes]]
    ) -> StreamHandle:
        h = StreamHandle(send, destination)
        h._queue = list(packets)
        self._streams.append((h, trio.current_time()))
        return h

    @property
    def active_streams(self) -> int:
        return len(self._streams)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            now = trio.current_time()
            keep = []
            for h, start in self._streams:
                if h.done:
                    h._event.set()
                    continue
                for data in h._due(now, start):
                    try:
                        if h._send(data, h.destination):
                            c = h.counters
                            c.packets_sent += 1
                            c.octets_sent += len(data) - 12
                            if c.first_sent_s is None:
                                c.first_sent_s = now
                            c.last_sent_s = now
                    except Exception:  # noqa: BLE001
                        pass
                if h.done:
                    h._event.set()
                else:
                    keep.append((h, start))
            self._streams = keep
            await trio.sleep(self._tick)
