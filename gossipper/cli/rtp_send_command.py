"""``gossipper -rtp_send``: stream RTP to an address without SIP (issue 17 item 2).

The flags are the Go gossipper's ``-rtp_send`` family (``-rtp_addr``, ``-rtp_codec``,
``-rtp_pt``, ``-rtp_freq``, ``-rtp_dur``, ``-rtp_ch``, ``-rtp_streams``) plus gossipper's
``-rtp_file``, ``-rtp_pattern``, ``-rtp_loops`` and ``-rtp_local``. Each stream has its own
UDP socket (from ``transport``; local ports step by 2 when a base port is given) and every
stream is sent by one ``MediaScheduler``: this module only composes them, like ``cli.run``
composes a SIP run.
"""

from __future__ import annotations

import dataclasses
import math
import random
import resource
import struct
from collections.abc import Sequence
from typing import TextIO

import trio

from gossipper.errors import ConfigError, ExitStatus
from gossipper.interfaces import Address, TransportFactory
from gossipper.media.audio import CODECS, encode_pcm16, read_media_file
from gossipper.media.scheduler import MediaScheduler, StreamCounters

TONE_HZ = 425
"""The pattern's tone: the common European ringback frequency, easy to recognise by ear."""
TONE_AMPLITUDE = 0.35
SAMPLE_RATE = 8000
_SYNTHETIC_CODECS = ("PCMU", "PCMA")
_SOCKET_BUFFER_BYTES = 256 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class RtpSendConfig:
    """A validated ``-rtp_send`` command line."""

    destination: Address
    codec: str  # PCMU, PCMA, G722, G729
    payload_type: int
    interval_ms: int
    duration_ms: int  # 0: until interrupted (or until a finite file ends)
    channels: int = 1
    streams: int = 1
    file: str | None = None
    pattern: str = "tone"
    loops: int = -1
    local_host: str = ""  # "": the wildcard address of the destination's family
    local_port: int = 0

    @property
    def codec_text(self) -> str:
        return f"{self.codec}/{SAMPLE_RATE}"


@dataclasses.dataclass(frozen=True, slots=True)
class RtpSendResult:
    """What the sender did, summed over its streams."""

    streams: int
    packets_sent: int
    octets_sent: int
    late_packets: int
    skipped_packets: int
    dropped_packets: int
    send_errors: int
    cpu_s: float
    elapsed_s: float
    local_addresses: tuple[Address, ...]
    ssrcs: tuple[int, ...]
    first_timestamps: tuple[int, ...] = ()

    @property
    def late_percent(self) -> float:
        """Late and skipped frames over all frames due (sent + skipped)."""
        due = self.packets_sent + self.skipped_packets
        return 100.0 * (self.late_packets + self.skipped_packets) / due if due else 0.0

    def summary_line(self) -> str:
        per_stream_ms = 1000.0 * self.cpu_s / self.streams if self.streams else 0.0
        return (
            f"rtp_send: done streams={self.streams} sent={self.packets_sent}"
            f" octets={self.octets_sent} late={self.late_packets + self.skipped_packets}"
            f" ({self.late_percent:.2f} %) skipped={self.skipped_packets}"
            f" dropped={self.dropped_packets} errors={self.send_errors}"
            f" elapsed={self.elapsed_s:.3f}s cpu={self.cpu_s:.3f}s"
            f" ({per_stream_ms:.1f} ms per stream)"
        )


def parse_rtp_send(argv: Sequence[str]) -> RtpSendConfig:
    """Validate a ``-rtp_send`` command line; ConfigError names the option and the fix."""
    from gossipper.cli.options import RTP_SEND, parse_command_line, parse_host_port

    values = parse_command_line(argv, RTP_SEND).values

    def integer(name: str, default: int) -> int:
        value = values.get(name, default)
        assert isinstance(value, int)
        return value

    addr = values.get("rtp_addr")
    if not isinstance(addr, str) or not addr:
        raise ConfigError("-rtp_send needs -rtp_addr HOST:PORT (where to send the RTP)")
    host, port = parse_host_port(addr, "-rtp_addr")
    if port is None:
        raise ConfigError(f"-rtp_addr: {addr!r} has no port; write HOST:PORT")
    codec_text = str(values.get("rtp_codec", "PCMU/8000"))
    codec = _codec(codec_text, with_file="rtp_file" in values)
    payload_type = integer("rtp_pt", CODECS[codec][0])
    if not 0 <= payload_type <= 127:
        raise ConfigError(f"-rtp_pt must be a payload type 0-127, got {payload_type}")
    interval_ms = integer("rtp_freq", 20)
    if interval_ms <= 0:
        raise ConfigError(f"-rtp_freq must be a packet interval in ms > 0, got {interval_ms}")
    if codec == "G729" and interval_ms % 10:
        raise ConfigError(
            f"-rtp_freq: {codec} frames are 10 ms; use a multiple of 10 ms, got {interval_ms}"
        )
    duration_ms = integer("rtp_dur", 0)
    if duration_ms < 0:
        raise ConfigError(f"-rtp_dur must be >= 0 ms (0: until interrupted), got {duration_ms}")
    channels = integer("rtp_ch", 1)
    if channels <= 0:
        raise ConfigError(f"-rtp_ch must be > 0, got {channels}")
    streams = integer("rtp_streams", 1)
    if streams < 1:
        raise ConfigError(f"-rtp_streams must be >= 1, got {streams}")
    file = values.get("rtp_file")
    if file is not None and channels != 1:
        raise ConfigError("-rtp_ch > 1 applies to the pattern only; drop it with -rtp_file")
    loops = integer("rtp_loops", -1)
    if "rtp_loops" in values and file is None:
        raise ConfigError("-rtp_loops counts plays of -rtp_file; give -rtp_file or drop it")
    local = str(values.get("rtp_local", ""))
    local_host, local_port = "", 0
    if local:
        parsed_host, parsed_port = parse_host_port(local, "-rtp_local")
        local_host, local_port = parsed_host, parsed_port or 0
    if local_port and local_port + 2 * (streams - 1) > 65535:
        raise ConfigError(
            f"-rtp_local: {streams} streams from port {local_port} in steps of 2 run past 65535;"
            " use a lower port or port 0"
        )
    return RtpSendConfig(
        destination=(host, port),
        codec=codec,
        payload_type=payload_type,
        interval_ms=interval_ms,
        duration_ms=duration_ms,
        channels=channels,
        streams=streams,
        file=str(file) if file is not None else None,
        pattern=str(values.get("rtp_pattern", "tone")),
        loops=loops,
        local_host=local_host,
        local_port=local_port,
    )


def _codec(text: str, *, with_file: bool) -> str:
    name, _, rate = text.partition("/")
    name = name.upper()
    if name not in CODECS or rate not in ("", str(SAMPLE_RATE)):
        raise ConfigError(
            f"-rtp_codec: {text!r} is not supported; use PCMU/8000 or PCMA/8000"
            " (G722/8000 and G729/8000 with -rtp_file)"
        )
    if name not in _SYNTHETIC_CODECS and not with_file:
        raise ConfigError(
            f"-rtp_codec: {text} needs -rtp_file (the pattern is made for PCMU and PCMA only)"
        )
    return name


def prepare_payloads(config: RtpSendConfig) -> tuple[list[bytes], int]:
    """The frames every stream sends (shared by all streams) and the timestamp step per frame.

    A file is read once and cut into ``-rtp_freq`` frames (a short G.711 tail padded with
    silence). The tone pattern is the shortest whole number of frames holding a whole number
    of tone periods, so looping it is seamless.
    """
    samples_per_frame = SAMPLE_RATE * config.interval_ms // 1000
    silence = CODECS[config.codec][2]
    if config.file is not None:
        media = read_media_file(config.file, config.codec)
        size = CODECS[config.codec][1] * config.interval_ms // 10
        frames = [media.data[i : i + size] for i in range(0, len(media.data), size)]
        if frames and len(frames[-1]) < size and silence is not None:
            frames[-1] += bytes((silence,)) * (size - len(frames[-1]))
        return frames, samples_per_frame
    assert silence is not None  # the pattern codecs are G.711
    if config.pattern == "silence":
        return [bytes((silence,)) * (samples_per_frame * config.channels)], samples_per_frame
    period = SAMPLE_RATE // math.gcd(SAMPLE_RATE, TONE_HZ)  # samples holding whole periods
    total = samples_per_frame * period // math.gcd(samples_per_frame, period)
    peak = TONE_AMPLITUDE * 32767
    step = 2 * math.pi * TONE_HZ / SAMPLE_RATE
    samples = [round(peak * math.sin(step * n)) for n in range(total)]
    encoded = encode_pcm16(struct.pack(f"<{total}h", *samples), config.codec)
    if config.channels > 1:
        encoded = bytes(b for b in encoded for _ in range(config.channels))
    size = samples_per_frame * config.channels
    return [encoded[i : i + size] for i in range(0, len(encoded), size)], samples_per_frame


async def send_rtp(
    config: RtpSendConfig,
    factory: TransportFactory,
    *,
    stdout: TextIO | None = None,
    rng: random.Random | None = None,
    tick_ms: float = 10.0,
    stop: trio.Event | None = None,
) -> RtpSendResult:
    """Open the sockets, stream until ``-rtp_dur`` (or the files) end, close, and sum up.

    Setting ``stop`` (Ctrl-C in the command) ends the streams early; the result still counts
    what was sent.
    """
    rng = rng or random.Random()
    payloads, samples_per_frame = prepare_payloads(config)
    local_host = config.local_host or ("::" if ":" in config.destination[0] else "0.0.0.0")
    transports = []
    try:
        for index in range(config.streams):
            port = config.local_port + 2 * index if config.local_port else 0
            transports.append(await factory.open_datagram(local_host, port))
        if stdout is not None:
            duration = f"{config.duration_ms}ms" if config.duration_ms else "until interrupted"
            source = config.file if config.file is not None else config.pattern
            host, port = config.destination
            stdout.write(
                f"rtp_send: streaming to {host}:{port} codec={config.codec_text}"
                f" pt={config.payload_type} freq={config.interval_ms}ms duration={duration}"
                f" channels={config.channels} streams={config.streams} source={source}\n"
            )
            stdout.flush()
        scheduler = MediaScheduler(tick_ms=tick_ms)
        ssrcs = tuple(rng.getrandbits(32) for _ in transports)
        first_timestamps = tuple(rng.getrandbits(32) for _ in transports)
        usage_before = resource.getrusage(resource.RUSAGE_SELF)
        started = trio.current_time()
        deadline = started + config.duration_ms / 1000.0 if config.duration_ms else math.inf
        handles = []
        async with trio.open_nursery() as nursery:
            await nursery.start(scheduler.run)
            # Spread the streams' phases over one frame interval so that each tick carries an
            # even share of the packets instead of all of them every interval.
            interval_s = config.interval_ms / 1000.0
            for index, transport in enumerate(transports):
                handles.append(
                    scheduler.start_rtp(
                        send=transport.send_nowait,
                        destination=config.destination,
                        payloads=payloads,
                        payload_type=config.payload_type,
                        samples_per_frame=samples_per_frame,
                        frame_interval_ms=float(config.interval_ms),
                        loops=config.loops if config.file is not None else -1,
                        ssrc=ssrcs[index],
                        first_seq=rng.randrange(1 << 16),
                        first_timestamp=first_timestamps[index],
                        start_delay_s=interval_s * index / len(transports),
                        until_s=deadline,
                        fast_socket=getattr(transport, "fast_socket", None),
                    )
                )
            with trio.move_on_at(deadline):
                async with trio.open_nursery() as waiters:

                    async def all_done() -> None:
                        for handle in handles:
                            await handle.wait_done()
                        waiters.cancel_scope.cancel()

                    async def stopped(event: trio.Event) -> None:
                        await event.wait()
                        waiters.cancel_scope.cancel()

                    waiters.start_soon(all_done)
                    if stop is not None:
                        waiters.start_soon(stopped, stop)
            for handle in handles:
                handle.stop()
            nursery.cancel_scope.cancel()
        elapsed = trio.current_time() - started
        usage_after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        for transport in transports:
            transport.close()
    cpu = (usage_after.ru_utime - usage_before.ru_utime) + (
        usage_after.ru_stime - usage_before.ru_stime
    )
    return dataclasses.replace(
        _sum(
            [handle.counters for handle in handles],
            cpu_s=cpu,
            elapsed_s=elapsed,
            local_addresses=tuple(t.local_address for t in transports),
            ssrcs=ssrcs,
        ),
        first_timestamps=first_timestamps,
    )


def _sum(
    counters: list[StreamCounters],
    *,
    cpu_s: float,
    elapsed_s: float,
    local_addresses: tuple[Address, ...],
    ssrcs: tuple[int, ...],
) -> RtpSendResult:
    return RtpSendResult(
        streams=len(counters),
        packets_sent=sum(c.packets_sent for c in counters),
        octets_sent=sum(c.octets_sent for c in counters),
        late_packets=sum(c.late_packets for c in counters),
        skipped_packets=sum(c.skipped_packets for c in counters),
        dropped_packets=sum(c.dropped_packets for c in counters),
        send_errors=sum(c.send_errors for c in counters),
        cpu_s=cpu_s,
        elapsed_s=elapsed_s,
        local_addresses=local_addresses,
        ssrcs=ssrcs,
    )


def run_rtp_send_command(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """``gossipper -rtp_send ...``: parse, send until done or Ctrl-C/SIGTERM, print the sum."""
    if any(arg in ("-h", "--h", "-help", "--help") for arg in argv):
        from gossipper.cli.options import RTP_SEND, format_help

        stdout.write(format_help(scope=RTP_SEND))
        return ExitStatus.NO_CALLS
    config = parse_rtp_send(argv)
    if config.file is not None:
        prepare_payloads(config)  # a bad file is a one-line error before any socket opens
    from gossipper.transport.udp import UdpTransportFactory, resolve_host

    host = resolve_host(config.destination[0])
    config = dataclasses.replace(config, destination=(host, config.destination[1]))
    _raise_file_limit(config.streams + 64)

    async def main() -> RtpSendResult:
        import signal

        factory = UdpTransportFactory(buffer_bytes=_SOCKET_BUFFER_BYTES)
        stop = trio.Event()
        async with trio.open_nursery() as nursery:

            async def on_signal() -> None:
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        stop.set()
                        return

            nursery.start_soon(on_signal)
            result = await send_rtp(config, factory, stdout=stdout, stop=stop)
            nursery.cancel_scope.cancel()
        return result

    result = trio.run(main)
    stdout.write(result.summary_line() + "\n")
    stdout.flush()
    attempted = result.packets_sent + result.dropped_packets + result.send_errors
    if attempted and not result.packets_sent:
        stderr.write("gossipper: error: -rtp_send: no packet could be sent\n")
        return ExitStatus.CALLS_FAILED
    return ExitStatus.SUCCESS


def _raise_file_limit(needed: int) -> None:
    """One socket per stream: lift the soft descriptor limit toward the hard one if needed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            raise ConfigError(
                f"-rtp_streams: {needed - 64} streams need {needed} file descriptors; the"
                f" limit is {hard} (raise ulimit -n)"
            )
