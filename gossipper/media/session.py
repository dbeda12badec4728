"""The media of a run's calls: ``MediaRun`` (the ``interfaces.MediaFactory``) and
``CallMediaSession`` (one call's ``interfaces.CallMedia``).

A call's media is one RTP/RTCP port pair per stream (audio; video at base + 2 when the scenario
has video), bound with the run's ``TransportFactory``: real UDP sockets, or the simulation's
in-memory network under virtual time, with no code of its own here. What is sent goes through
the run's one ``MediaScheduler`` (packets prepared once per stream, sent per tick by one task).
What arrives is read by one task per socket, a wake-up per batch of datagrams (never a task per
packet); each incoming SSRC gets a ``ReceiverStats``. RTCP: a sender or receiver report (with
SDES CNAME) every ``rtcp_interval_s`` per stream, and the peer's reports give the round trip
(RFC 3550 6.4.1: A - LSR - DLSR). At the call's end each stream's ``StreamQuality`` goes to the
run's statistics.

Where media goes: the peer's SDP (offer or answer) names the address; the first RTP packet from
elsewhere retargets the stream there (symmetric RTP, as SBCs and NATs expect).
"""

from __future__ import annotations

import heapq
import math
import os
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from gossipper.errors import BindError, TransportError
from gossipper.interfaces import Address, DatagramTransport, MediaTap, TransportFactory
from gossipper.media.audio import CODEC_BY_PAYLOAD_TYPE, read_media_file
from gossipper.media.pcap import read_rtp_pcap
from gossipper.media.ports import PortAllocator, PortRangeError
from gossipper.media.quality import ReceiverStats, mos
from gossipper.media.rtp import (
    SDES_CNAME,
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    RtpError,
    SdesChunk,
    SenderReport,
    SourceDescription,
    build_compound,
    ntp_from_seconds,
    parse_rtcp,
    parse_rtp,
    round_trip_ms,
)
from gossipper.media.rtpcheck import CheckVerdict, PatternCheck, pattern_payloads
from gossipper.media.scheduler import FastSrtp, MediaScheduler, RtpStream, StreamHandle
from gossipper.media.secure.negotiate import DTLS, NONE, SDES, keying
from gossipper.media.secure.sdes import (
    SUITES,
    CallCryptoState,
    CryptoAttribute,
    SdesError,
    parse_crypto,
    select_answer,
    sipp_crypto_keyword,
)
from gossipper.media.secure.srtp import AUTH_FAILURE, REPLAY, SrtpError, SrtpSession
from gossipper.sdp import SdpError, parse_sdp
from gossipper.sdp.model import MediaDescription
from gossipper.stats.media import RtpCheckReport, StreamQuality

if TYPE_CHECKING:
    from gossipper.media.secure.wiring import SecureCall, SecureSettings

RTCP_INTERVAL_S = 5.0
"""RFC 3550's minimum report interval, as SIPp-era tools and most phones use it."""

_CONTENT_LENGTH = re.compile(r"(?im)^((?:content-length|l)[ \t]*:[ \t]*)\d+")

SRTP_REQUIRED = "srtp_required"
"""A call's named secure-media failure: ``-media_srtp`` and the peer's m= line is plain RTP."""

REKEY_HOLD_S = 1.0
"""After answering a re-key, how long we may keep sending with the old keys while the offerer
has not been seen using the new ones (it switches when our answer reaches it)."""

DTMF_PAYLOAD_TYPE = 101
"""telephone-event's payload type when the peer's SDP does not name one."""

SSRC_BASE = 0xCA110000
"""SIPp's SSRCs without ``-random_base_ssrc``: call n's streams use SSRC_BASE + n - 1 (SIPp
3.6.1 on loopback: 0xCA110000, 0xCA110001, ... for its calls 1, 2, ..., one SSRC per call for
every rtp_stream of the call)."""

_FRAME_MS = 20
_SAMPLES_PER_FRAME = 160  # 20 ms at 8 kHz (G.722's RTP clock is 8 kHz too, RFC 3551 4.5.2)


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """The run's media options (``-mi``, ``-min_rtp_port``/``-max_rtp_port`` or ``-mp``,
    ``-rtp_echo``...)."""

    media_ip: str
    min_port: int = 6000
    max_port: int = 65535
    video: bool = False
    """Each call also binds a video pair at base + 2 (``[rtpstream_video_port]``,
    ``play_pcap_video``)."""
    echo: bool = False
    """``-rtp_echo``: every call echoes the RTP it receives."""
    echo_buffer_bytes: int = 2048
    """``-mb``: longer datagrams are echoed cut to this size, as SIPp's echo buffer does."""
    rtcp_interval_s: float = RTCP_INTERVAL_S
    report_window_s: float = 0.0
    """RTCP reports due within this long of the one being sent go out with it (real runs:
    10 ms). Streams started a few ms apart would each wake the report task once per interval
    (600 wake-ups a second at 3,000 streams, each a cancel scope and an event: 1-3 % of the
    sender's CPU, docs/performance.md); a report a few ms early is still one every interval.
    The simulation keeps 0, every report at its exact time (the goldens pin them)."""
    seed: int = 0
    debug: bool = False
    """``-rtpcheck_debug``: warn about every malformed RTP/RTCP datagram."""
    default_payload_type: int = 8
    """``-rtp_payload``: rtp_stream's payload type when the action names none."""
    socket_buffer_bytes: int | None = None
    """``-rtp_buffsize``: SO_RCVBUF/SO_SNDBUF of every RTP and RTCP socket (None: the
    transport factory's)."""
    srtp: str = "auto"
    """SDES-SRTP policy: ``auto`` (SRTP when both sides' SDP carry a=crypto lines),
    ``require`` (``-media_srtp``) or ``reject`` (``-media_reject_srtp``: a=crypto is
    ignored, media is plain RTP); see docs/media.md."""
    deterministic_keys: bool = False
    """Keys from the seed (the simulation: runs repeat); real runs draw them from the OS."""
    srtp_debug: bool = False
    """``-srtpcheck_debug``: warn about every SRTP/SRTCP packet dropped (authentication,
    replay, malformed) and every packet that could not be protected."""
    audio_tolerance: float = 1.0
    """``-audiotolerance``: the share of an audio pattern's judged packets that must come
    back identical (gossipper.media.rtpcheck)."""
    video_tolerance: float = 1.0
    """``-videotolerance``: the same for video patterns."""
    random_base_ssrc: bool = False
    """``-random_base_ssrc``: SSRCs drawn per call from the seed instead of SIPp's fixed base
    (SSRC_BASE + call number - 1)."""

    @property
    def block(self) -> int:
        return 4 if self.video else 2


@dataclass(slots=True)
class MediaLibrary:
    """Media files read once before traffic: ``(path, codec)`` -> 20 ms payloads, and
    pcap path -> ``(offset_s, RTP packet)`` list."""

    audio: dict[tuple[str, str], tuple[bytes, ...]] = field(default_factory=dict)
    pcaps: dict[str, tuple[tuple[float, bytes], ...]] = field(default_factory=dict)

    def add_audio(self, path: str, codec: str) -> None:
        """Read ``path`` as ``codec``; raises ``MediaFileError`` (one line) when unusable."""
        if (path, codec) not in self.audio:
            self.audio[path, codec] = tuple(read_media_file(path, codec).frames())

    def add_pcap(self, path: str) -> None:
        """Read the RTP of a capture; raises ``PcapMediaError`` (one line) when unusable."""
        if path not in self.pcaps:
            self.pcaps[path] = tuple(read_rtp_pcap(path))


def codec_for(payload_type: int, codec: str) -> str:
    """The codec name ``rtp_stream`` reads its file as: the name given (``PCMA/8000`` ->
    ``PCMA``), else the static payload type's."""
    if codec:
        return codec.split("/", 1)[0].upper()
    return CODEC_BY_PAYLOAD_TYPE.get(payload_type, "")


class MediaRun:
    """The run's media: port allocator, scheduler and the tasks of every call's sockets."""

    def __init__(
        self,
        transports: TransportFactory,
        settings: MediaSettings,
        library: MediaLibrary,
        *,
        wall_time: Callable[[], float],
        on_quality: Callable[[StreamQuality], None],
        warn: Callable[[str], None],
        tap: MediaTap | None = None,
        secure: SecureSettings | None = None,
        on_check: Callable[[RtpCheckReport], None] | None = None,
    ) -> None:
        self.transports = transports
        self.on_check = on_check
        """Takes each pattern stream's check at its call's end (``-rtpcheck_debug`` files)."""
        self._patterns: dict[str, tuple[bytes, ...]] = {}
        self.secure = secure
        """DTLS-SRTP/ICE/TURN for every call (gossipper.media.secure.wiring), or None."""
        self.settings = settings
        self.library = library
        self.wall_time = wall_time
        self.on_quality = on_quality
        self.warn = warn
        self.tap = tap
        self.ports = PortAllocator(settings.min_port, settings.max_port, block=settings.block)
        self.scheduler = MediaScheduler()
        self.echo = settings.echo
        self.open_calls = 0
        self.srtp_failures = 0
        """Calls whose SDP crypto failed them (bad, unknown or unacceptable a=crypto)."""
        self._nursery: trio.Nursery | None = None
        self._ready = trio.Event()
        # Every stream's next RTCP report: (due, order, stream), a heap served by one task
        # (_serve_reports). A task per stream with a deadline around its RTCP receive cost a
        # wake-up, a cancel scope and two epoll changes per report (docs/performance.md).
        self._reports: list[tuple[float, int, _Stream]] = []
        self._report_order = 0
        self._reports_wakeup = trio.Event()
        self._reports_sleeping_until = math.inf

    async def serve(self) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.scheduler.run)
            nursery.start_soon(self._serve_reports)
            self._ready.set()
            await trio.sleep_forever()

    def schedule_report(self, stream: _Stream, due_s: float) -> None:
        self._report_order += 1
        heapq.heappush(self._reports, (due_s, self._report_order, stream))
        if due_s < self._reports_sleeping_until:
            self._reports_wakeup.set()

    async def _serve_reports(self) -> None:
        """Send each stream's RTCP report when due, then queue its next one an interval on."""
        reports = self._reports
        interval = self.settings.rtcp_interval_s
        window = self.settings.report_window_s
        while True:
            if reports and reports[0][0] <= trio.current_time() + window:
                due, _, stream = heapq.heappop(reports)
                if not stream.closed:
                    stream.send_report()
                    self.schedule_report(stream, due + interval)
                continue
            self._reports_wakeup = trio.Event()
            self._reports_sleeping_until = reports[0][0] if reports else math.inf
            with trio.move_on_at(self._reports_sleeping_until):
                await self._reports_wakeup.wait()
            self._reports_sleeping_until = math.inf

    def set_echo(self, on: bool) -> None:
        self.echo = on

    def pattern(self, media: str) -> tuple[bytes, ...]:
        """The payloads of the ``media`` check pattern (made once per run, shared)."""
        payloads = self._patterns.get(media)
        if payloads is None:
            payloads = self._patterns[media] = pattern_payloads(media)
        return payloads

    def start_task(self, function: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run a call's media task (DTLS handshake, TURN refreshes) in the run's nursery."""
        assert self._nursery is not None
        self._nursery.start_soon(function, *args)

    async def open_call(self, call_id: str, call_number: int) -> CallMediaSession:
        await self._ready.wait()
        assert self._nursery is not None
        settings = self.settings
        host = settings.media_ip
        last_error = ""
        for _ in range(max(1, self.ports.capacity)):
            try:
                base = self.ports.take()
            except PortRangeError as exc:
                raise BindError(str(exc)) from None
            try:
                sockets = [await self._open(host, base)]
                sockets.append(await self._open_next(sockets, host, base + 1))
                if settings.video:
                    sockets.append(await self._open_next(sockets, host, base + 2))
                    sockets.append(await self._open_next(sockets, host, base + 3))
            except BindError as exc:
                # Another program holds a port of this block: leave the block out of use.
                last_error = str(exc)
                continue
            session = CallMediaSession(self, call_id, call_number, base, sockets)
            self.open_calls += 1
            for stream in session.streams:
                self._nursery.start_soon(stream.receive_rtp)
                self._nursery.start_soon(stream.receive_rtcp)
                self.schedule_report(stream, stream.first_report_s)
            if session.secure is not None:
                # TURN allocations (bounded by the TURN timeout; a failure is session.failure).
                await session.secure.open()
            return session
        raise BindError(
            f"no RTP port pair of {settings.min_port}-{settings.max_port} could be "
            f"bound on {host}: {last_error}"
        )

    async def _open(self, host: str, port: int) -> DatagramTransport:
        return await self.transports.open_datagram(
            host, port, buffer_bytes=self.settings.socket_buffer_bytes
        )

    async def _open_next(
        self, opened: list[DatagramTransport], host: str, port: int
    ) -> DatagramTransport:
        try:
            return await self._open(host, port)
        except BindError:
            for transport in opened:
                transport.close()
            raise

    def release(self, base: int) -> None:
        self.open_calls -= 1
        self.ports.give_back(base)


def _address_text(address: Address | None) -> str:
    if address is None:
        return ""
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Stream:
    """One RTP/RTCP socket pair of a call (audio, or video) and everything it sends and
    receives."""

    def __init__(
        self,
        session: CallMediaSession,
        media: str,
        rtp: DatagramTransport,
        rtcp: DatagramTransport,
        rng: random.Random,
    ) -> None:
        self.session = session
        self.run = session.run
        self.media = media
        self.rtp = rtp
        self.rtcp = rtcp
        self.remote: Address | None = None
        self.remote_rtcp: Address | None = None
        self.codec = "unknown"
        self.clock_rate = 8000 if media == "audio" else 90000
        self.dtmf_payload_type = DTMF_PAYLOAD_TYPE
        self.ssrc = rng.getrandbits(32)  # drawn either way: the draws after it stay the same
        if not self.run.settings.random_base_ssrc:
            self.ssrc = (SSRC_BASE + session.call_number - 1) & 0xFFFFFFFF
        self.next_seq = rng.getrandbits(16)
        self.next_timestamp = rng.getrandbits(32)
        self.sent_ssrcs = {self.ssrc}
        self.handles: list[StreamHandle] = []
        self.current: RtpStream | None = None
        self.events: RtpStream | None = None  # DTMF-only stream while no audio plays
        self.pcap: StreamHandle | None = None
        self.echo: bool | None = None  # None: the run's -rtp_echo setting
        self.echoed_packets = 0
        self.echoed_octets = 0
        self.check: PatternCheck | None = None  # an apattern/vpattern was streamed
        self.verdict: CheckVerdict | None = None  # the check's judgement at close
        self.receivers: dict[int, ReceiverStats] = {}
        self.max_jitter_ms = 0.0
        self.malformed = 0
        self.rtcp_sent = 0
        self.rtcp_received = 0
        self.rtt_ms: float | None = None
        # SSRC -> (middle 32 bits of its last SR's NTP time, our monotonic arrival time).
        self.last_sr: dict[int, tuple[int, float]] = {}
        self.active = False  # anything started or received: worth a quality record
        # RFC 3550 6.2: the first report after half the interval, then randomised so that the
        # calls of a run do not all report at the same instant.
        self.first_report_s = trio.current_time() + self.run.settings.rtcp_interval_s * (
            0.5 + 0.5 * rng.random()
        )
        # SRTP (issue 18): None is plain RTP. ``_guarded`` is True while either hook is set, so
        # that the plain path costs one attribute test per packet.
        self._srtp: SrtpSession | None = None
        # Re-keying (RFC 4568 7.1.4): packets protected with the replaced keys may still be
        # in flight, so they are tried with those when the new ones refuse them; as answerer
        # we keep sending with the old keys until the offerer is seen using the new ones (it
        # has our answer) or ``_tx_switch_s`` passes.
        self._srtp_previous: SrtpSession | None = None
        self._srtp_tx: SrtpSession | None = None
        self._tx_switch_s = 0.0
        # SRTP was offered, keys not agreed yet: what arrives meanwhile (a peer that answered
        # and talks before its answer reached us) cannot be read; dropped and counted here.
        self._awaiting_keys = False
        self.unkeyed = 0
        self._other_datagram: Callable[[bytes, Address], None] | None = None
        # DTLS-SRTP without rtcp-mux (RFC 5764 4.1): the RTCP port runs its own association,
        # whose keys protect SRTCP (None: SRTCP uses ``_srtp``'s) and whose records arrive
        # through ``_other_rtcp_datagram`` (None: ``_other_datagram`` takes both ports').
        self._srtcp: SrtpSession | None = None
        self._other_rtcp_datagram: Callable[[bytes, Address], None] | None = None
        self._guarded = False
        # Failures counted by the SRTP sessions a re-key replaced (the current one counts on).
        self._srtp_auth_failures_before = 0
        self._srtp_replays_before = 0
        self.closed = False

    # -- secure media hooks --------------------------------------------------------------

    @property
    def srtp(self) -> SrtpSession | None:
        """The stream's SRTP keys (None: plain RTP); set with :meth:`use_srtp`."""
        return self._srtp

    @srtp.setter
    def srtp(self, session: SrtpSession | None) -> None:
        self.use_srtp(session)

    @property
    def other_datagram(self) -> Callable[[bytes, Address], None] | None:
        """Receives the datagrams on the stream's ports that are not RTP/RTCP (first byte
        outside 128..191, RFC 7983: STUN, DTLS, TURN channel data) instead of their being
        counted malformed. Set by the ICE/DTLS wiring; None otherwise."""
        return self._other_datagram

    @other_datagram.setter
    def other_datagram(self, handler: Callable[[bytes, Address], None] | None) -> None:
        self._other_datagram = handler
        self._guarded = self._srtp is not None or handler is not None or self._awaiting_keys
        self._protect_streams()
        self._reaccelerate()

    def use_rtcp_component(
        self, session: SrtpSession | None, handler: Callable[[bytes, Address], None] | None
    ) -> None:
        """The RTCP port's own keys and non-RTCP hook (DTLS-SRTP without rtcp-mux: a second
        association there, RFC 5764 4.1); ``session`` replaces the previous one."""
        previous = self._srtcp
        if previous is not None and previous is not session:
            failures = previous.counters.failures
            self._srtp_auth_failures_before += failures.get(AUTH_FAILURE, 0)
            self._srtp_replays_before += failures.get(REPLAY, 0)
        self._srtcp = session
        self._other_rtcp_datagram = handler

    def await_srtp(self) -> None:
        """SRTP is being negotiated: until :meth:`use_srtp` installs keys, drop what
        arrives (it is SRTP we cannot read yet) instead of parsing it as plain RTP."""
        if self._srtp is None:
            self._awaiting_keys = True
            self._guarded = True
            self._protect_streams()
            self._reaccelerate()

    def use_srtp(self, session: SrtpSession | None, *, hold_send_s: float = 0.0) -> None:
        """Protect what the stream sends and unprotect what it receives with ``session``
        (a re-key replaces the previous keys; None goes back to plain RTP). ``hold_send_s``
        (a re-key we answered): keep protecting with the previous keys until the peer's
        packets arrive under the new ones, or for that long at most."""
        previous = self._srtp
        if previous is session and session is not None:
            return
        self._protect_streams()
        if previous is not None:
            failures = previous.counters.failures
            self._srtp_auth_failures_before += failures.get(AUTH_FAILURE, 0)
            self._srtp_replays_before += failures.get(REPLAY, 0)
        self._srtp = session
        self._srtp_previous = previous if session is not None else None
        if session is not None and previous is not None and hold_send_s > 0.0:
            self._srtp_tx = previous
            self._tx_switch_s = trio.current_time() + hold_send_s
        else:
            self._srtp_tx = session
        self._awaiting_keys = False
        self._guarded = session is not None or self._other_datagram is not None
        self._reaccelerate()

    def _sending_keys(self) -> SrtpSession | None:
        """The keys to protect with now (the new ones once the hold of a re-key is over)."""
        if trio.current_time() >= self._tx_switch_s:
            self._srtp_tx = self._srtp
            self._reaccelerate()
        return self._srtp_tx

    def _unprotect(self, srtp: SrtpSession, data: bytes, *, rtcp: bool) -> bytes | None:
        clear = srtp.unprotect_rtcp(data) if rtcp else srtp.unprotect(data)
        previous = self._srtp_previous
        if clear is not None:
            if self._srtp_tx is not srtp:
                self._srtp_tx = srtp  # the peer uses the new keys: it has our answer
                self._reaccelerate()
            if previous is not None and srtp.counters.unprotected >= 16:
                self._srtp_previous = None  # nothing protected with the old keys is left
            return clear
        if previous is None:
            return None
        clear = previous.unprotect_rtcp(data) if rtcp else previous.unprotect(data)
        if clear is not None:
            srtp.counters.undo_last_failure()
        return clear

    def _srtp_failures(self) -> tuple[int, int]:
        auth = self._srtp_auth_failures_before
        replays = self._srtp_replays_before
        for session in (self._srtp, self._srtcp):
            if session is not None:
                failures = session.counters.failures
                auth += failures.get(AUTH_FAILURE, 0)
                replays += failures.get(REPLAY, 0)
        return auth, replays

    def _unkeyed(self, source: Address) -> None:
        self.unkeyed += 1
        if self.run.settings.srtp_debug:
            self.run.warn(
                f"call {self.session.call_id}: a packet from {_address_text(source)} came "
                "before the SRTP keys were agreed: dropped"
            )

    def _srtp_dropped(self, what: str, source: Address, srtp: SrtpSession) -> None:
        self.active = True  # packets came, even if none authenticated: worth a record
        if self.run.settings.srtp_debug:
            reasons = ", ".join(f"{k}={v}" for k, v in sorted(srtp.counters.failures.items()))
            self.run.warn(
                f"call {self.session.call_id}: {what} from {_address_text(source)} dropped "
                f"(SRTP failures so far: {reasons})"
            )

    # -- sending -------------------------------------------------------------------------

    def _stream_send(self) -> Callable[[bytes, Address], bool]:
        """What an rtp_stream sends with: straight to the RTP socket for plain RTP on a run
        without DTLS/ICE/TURN (about a third of a packet's CPU in calls is the Python call
        through :meth:`send`, docs/performance.md), else :meth:`send`; :meth:`_protect_streams`
        switches the streams already running when keys arrive later."""
        plain = (
            self._srtp_tx is None
            and self._srtp is None
            and not self._guarded
            and not self._awaiting_keys
            and self.run.secure is None
        )
        return self.rtp.send_nowait if plain else self.send

    def _accelerator(
        self, send: Callable[[bytes, Address], bool]
    ) -> tuple[object | None, FastSrtp | None]:
        """The socket the C accelerator may send ``send``'s packets on, and the SRTP keys it
        protects them with: for the straight send of :meth:`_stream_send` on a real socket
        (the simulation's endpoints and a TURN relay have none), and for :meth:`send` while
        all it adds is the keys in use (SDES or DTLS-SRTP; not during a re-key's hold, not
        before keys). Receive-side hooks (ICE, DTLS records) do not touch what send sends."""
        fast: object | None = getattr(self.rtp, "fast_socket", None)
        if fast is None:
            return None, None
        if send == self.rtp.send_nowait:
            return fast, None
        srtp = self._srtp
        if send != self.send or srtp is None or self._srtp_tx is not srtp or self._awaiting_keys:
            return None, None
        addresses = srtp.fast_protect()
        if addresses is None:
            return None, None
        return fast, FastSrtp(*addresses, srtp.counters, srtp.count_protect_failure)

    def use_transports(self, rtp: DatagramTransport, rtcp: DatagramTransport) -> None:
        """Send (and receive) through other transports from now on (ICE chose the TURN relay
        or the host ports); streams sending through :meth:`send` follow."""
        self.rtp = rtp
        self.rtcp = rtcp
        self._reaccelerate()

    def _reaccelerate(self) -> None:
        """The keys or hooks changed: the streams sending through :meth:`send` protect in C
        with the keys now in use, or go back to the Python path (a re-key's hold, a hook)."""
        send = self.send
        fast_socket, fast_srtp = self._accelerator(send)
        for handle in self.handles:
            if handle.send_function == send:
                handle.accelerate(fast_socket, fast_srtp)

    def _protect_streams(self) -> None:
        """Route the streams sending straight to the socket through :meth:`send` (SRTP keys
        or a hook from now on)."""
        direct = self.rtp.send_nowait
        for handle in self.handles:
            if handle.send_function == direct:
                handle.send_function = self.send

    def send(self, data: bytes, address: Address) -> bool:
        srtp = self._srtp_tx
        if srtp is not None:
            if srtp is not self._srtp:
                srtp = self._sending_keys()
                if srtp is None:
                    return False
            protected = srtp.protect(data)
            if protected is None:
                if self.run.settings.srtp_debug:
                    self.run.warn(
                        f"call {self.session.call_id}: an RTP packet of {len(data)} bytes "
                        "could not be SRTP-protected"
                    )
                return False
            data = protected
        try:
            return self.rtp.send_nowait(data, address)
        except (TransportError, trio.ClosedResourceError):
            return False

    def _take_over(self, handle: RtpStream | None) -> None:
        """Stop ``handle``; the next stream continues its sequence numbers and timestamps."""
        if handle is None:
            return
        handle.stop()
        self.next_seq = handle.next_sequence
        self.next_timestamp = handle.rtp_timestamp_at(trio.current_time())

    def _start_stream(
        self,
        send: Callable[[bytes, Address], bool],
        payloads: Sequence[bytes],
        payload_type: int,
        samples_per_frame: int,
        loops: int,
    ) -> None:
        """Replace the running stream (and DTMF-only events) with a new one that continues
        their sequence numbers and timestamps."""
        assert self.remote is not None
        self._take_over(self.current)
        self._take_over(self.events)
        self.current = self.events = None
        self.active = True
        fast_socket, fast_srtp = self._accelerator(send)
        self.current = self.run.scheduler.start_rtp(
            send=send,
            destination=self.remote,
            payloads=payloads,
            payload_type=payload_type,
            samples_per_frame=samples_per_frame,
            frame_interval_ms=float(_FRAME_MS),
            loops=loops,
            ssrc=self.ssrc,
            first_seq=self.next_seq,
            first_timestamp=self.next_timestamp,
            fast_socket=fast_socket,
            fast_srtp=fast_srtp,
        )
        self.handles.append(self.current)

    def stream(self, payloads: Sequence[bytes], payload_type: int, loops: int) -> None:
        assert self.remote is not None
        self._start_stream(self._stream_send(), payloads, payload_type, _SAMPLES_PER_FRAME, loops)

    def pattern(self, payload_type: int, loops: int, samples_per_frame: int) -> None:
        """SIPp 3.7's ``apattern``/``vpattern``: stream the check pattern; what the peer echoes
        is compared with it (gossipper.media.rtpcheck)."""
        assert self.remote is not None
        settings = self.run.settings
        payloads = self.run.pattern(self.media)
        check = self.check
        if check is None:
            video = self.media == "video"
            tolerance = settings.video_tolerance if video else settings.audio_tolerance
            check = self.check = PatternCheck(self.media, payloads, payload_type, tolerance)
        check.payload_type = payload_type  # packets sent before stay judged by sequence number
        self._start_stream(self._send_pattern, payloads, payload_type, samples_per_frame, loops)

    def _send_pattern(self, data: bytes, address: Address) -> bool:
        sent = self.send(data, address)
        check = self.check
        if sent and check is not None:
            check.sent_packet(data, trio.current_time())
        return sent

    def replay(self, packets: Sequence[tuple[float, bytes]]) -> None:
        assert self.remote is not None
        if self.pcap is not None:
            self.pcap.stop()
        self.active = True
        first = packets[0][1]
        self.sent_ssrcs.add(int.from_bytes(first[8:12], "big"))
        self.pcap = self.run.scheduler.start_timed(
            send=self.send, destination=self.remote, packets=packets
        )
        self.handles.append(self.pcap)

    def dtmf(self, digits: str, duration_ms: int) -> None:
        assert self.remote is not None
        self.active = True
        stream = self.current
        if stream is None or stream.done:
            # No audio running: a stream of events only, in the same SSRC and sequence space.
            stream = self.events
            if stream is None or stream.done:
                self._take_over(self.current)
                self._take_over(stream)
                self.current = None
                stream = self.events = self.run.scheduler.start_rtp(
                    send=self.send,
                    destination=self.remote,
                    payloads=(),
                    payload_type=self.dtmf_payload_type,
                    samples_per_frame=_SAMPLES_PER_FRAME,
                    frame_interval_ms=float(_FRAME_MS),
                    loops=1,
                    ssrc=self.ssrc,
                    first_seq=self.next_seq,
                    first_timestamp=self.next_timestamp,
                )
                self.handles.append(stream)
        stream.send_dtmf(
            digits, duration_ms=duration_ms, payload_type=self.dtmf_payload_type, gap_ms=40
        )

    def retarget(self, address: Address) -> None:
        self.remote = address
        for handle in self.handles:
            if not handle.done:
                handle.destination = address

    # -- receiving -----------------------------------------------------------------------

    async def receive_rtp(self) -> None:
        rtp = self.rtp
        try:
            while True:
                # Per-datagram arrival times (kernel timestamps on real sockets): a batch
                # read late must not look like a burst to the jitter estimate.
                for data, source, arrived in await rtp.receive_batch_timed():
                    self._rtp_arrived(arrived, data, source)
        except trio.ClosedResourceError:
            return

    def _rtp_arrived(self, now: float, data: bytes, source: Address) -> None:
        if self._guarded:
            self._guarded_rtp(now, data, source)
            return
        if len(data) >= 2 and 72 <= (data[1] & 0x7F) <= 76:
            self._rtcp_arrived(data, source)  # RTCP multiplexed on the RTP port (RFC 5761)
            return
        self._rtp_clear(now, data, source)

    def _guarded_rtp(self, now: float, data: bytes, source: Address) -> None:
        """A datagram on the RTP port while SRTP or the non-RTP hook is set."""
        if data and not 128 <= data[0] <= 191:
            other = self._other_datagram
            if other is not None:
                other(data, source)
                return
        srtp = self._srtp
        mux = len(data) >= 2 and 72 <= (data[1] & 0x7F) <= 76
        if srtp is None:
            if self._awaiting_keys:
                self._unkeyed(source)
                return
            if mux:
                self._rtcp_clear(data, source)
            else:
                self._rtp_clear(now, data, source)
            return
        if mux:
            clear = self._unprotect(srtp, data, rtcp=True)
            if clear is None:
                self._srtp_dropped("an SRTCP packet", source, srtp)
                return
            self._rtcp_clear(clear, source)
            return
        clear = self._unprotect(srtp, data, rtcp=False)
        if clear is None:
            self._srtp_dropped("an SRTP packet", source, srtp)
            return
        self._rtp_clear(now, clear, source)

    def _rtp_clear(self, now: float, data: bytes, source: Address) -> None:
        try:
            packet = parse_rtp(data)
        except RtpError as exc:
            self.malformed += 1
            if self.run.settings.debug:
                self.run.warn(
                    f"call {self.session.call_id}: malformed RTP from "
                    f"{_address_text(source)}: {exc}"
                )
            return
        self.active = True
        stats = self.receivers.get(packet.ssrc)
        if stats is None:
            stats = self.receivers[packet.ssrc] = ReceiverStats(self.clock_rate)
        stats.receive(now, packet, timed=packet.payload_type != self.dtmf_payload_type)
        check = self.check
        if check is not None and packet.ssrc == self.ssrc:
            check.echoed(packet.sequence, packet.payload)
        jitter_ms = stats.jitter_ms
        if jitter_ms > self.max_jitter_ms:
            self.max_jitter_ms = jitter_ms
        if source != self.remote:
            self.retarget(source)  # symmetric RTP: answer where the peer really is
            if self.remote_rtcp is None or self.remote_rtcp[0] != source[0]:
                self.remote_rtcp = (source[0], source[1] + 1)
        echo = self.echo if self.echo is not None else self.run.echo
        if echo:
            out = data[: self.run.settings.echo_buffer_bytes]
            if self.send(out, source):
                self.echoed_packets += 1
                self.echoed_octets += max(0, len(out) - 12)

    async def receive_rtcp(self) -> None:
        """Receive the peer's RTCP (ours is sent by the run's report clock)."""
        rtcp = self.rtcp
        try:
            while True:
                for data, source in await rtcp.receive_batch():
                    self._rtcp_arrived(data, source)
        except trio.ClosedResourceError:
            return

    def _rtcp_arrived(self, data: bytes, source: Address) -> None:
        if self._guarded:
            if data and not 128 <= data[0] <= 191:
                other = self._other_rtcp_datagram
                if other is None:
                    other = self._other_datagram
                if other is not None:
                    other(data, source)
                    return
            srtcp = self._srtcp
            if srtcp is not None:
                clear = srtcp.unprotect_rtcp(data)
                if clear is None:
                    self._srtp_dropped("an SRTCP packet", source, srtcp)
                    return
                self._rtcp_clear(clear, source)
                return
            srtp = self._srtp
            if srtp is None and self._awaiting_keys:
                self._unkeyed(source)
                return
            if srtp is not None:
                clear = self._unprotect(srtp, data, rtcp=True)
                if clear is None:
                    self._srtp_dropped("an SRTCP packet", source, srtp)
                    return
                data = clear
        self._rtcp_clear(data, source)

    def _rtcp_clear(self, data: bytes, source: Address) -> None:
        run = self.run
        if run.tap is not None:
            run.tap.rtcp(self.session.call_id, data, source, self.rtcp.local_address, False)
        try:
            packets = parse_rtcp(data)
        except RtpError as exc:
            self.malformed += 1
            if run.settings.debug:
                run.warn(
                    f"call {self.session.call_id}: malformed RTCP from "
                    f"{_address_text(source)}: {exc}"
                )
            return
        self.rtcp_received += 1
        if self.remote_rtcp is None:
            self.remote_rtcp = source
        now = trio.current_time()
        for packet in packets:
            if isinstance(packet, SenderReport):
                self.last_sr[packet.ssrc] = ((packet.ntp_timestamp >> 16) & 0xFFFFFFFF, now)
                self._round_trip(packet.reports)
            elif isinstance(packet, ReceiverReport):
                self._round_trip(packet.reports)

    def _round_trip(self, blocks: tuple[ReportBlock, ...]) -> None:
        for block in blocks:
            if block.ssrc in self.sent_ssrcs and block.last_sr:
                arrival = (ntp_from_seconds(self.run.wall_time()) >> 16) & 0xFFFFFFFF
                rtt_ms = round_trip_ms(arrival, block.last_sr, block.delay_since_last_sr)
                if rtt_ms is not None:
                    self.rtt_ms = rtt_ms

    def _sent_totals(self) -> tuple[int, int]:
        packets = self.echoed_packets
        octets = self.echoed_octets
        for handle in self.handles:
            packets += handle.counters.packets_sent
            octets += handle.counters.octets_sent
        return packets, octets

    def send_report(self) -> None:
        """One compound RTCP packet: SR (we have sent) or RR, then SDES CNAME."""
        if self.closed:
            return
        destination = self.remote_rtcp
        if destination is None:
            return
        now = trio.current_time()
        blocks = []
        for ssrc, stats in list(self.receivers.items())[:31]:
            last = self.last_sr.get(ssrc)
            if last is None:
                blocks.append(stats.report_block())
            else:
                lsr, arrived = last
                blocks.append(stats.report_block(lsr, int((now - arrived) * 65536)))
        packets, octets = self._sent_totals()
        head: RtcpPacket
        if packets:
            wall = self.run.wall_time()
            current = self.current or self.events
            if current is not None:
                rtp_timestamp = current.rtp_timestamp_at(now)
            else:
                rtp_timestamp = self.next_timestamp
            head = SenderReport(
                ssrc=self.ssrc,
                ntp_timestamp=ntp_from_seconds(wall),
                rtp_timestamp=rtp_timestamp,
                packet_count=packets & 0xFFFFFFFF,
                octet_count=octets & 0xFFFFFFFF,
                reports=tuple(blocks),
            )
        elif blocks:
            head = ReceiverReport(ssrc=self.ssrc, reports=tuple(blocks))
        else:
            return  # nothing sent or received yet: nothing to report
        cname = f"gossipper@{self.run.settings.media_ip}".encode()
        data = build_compound(
            [head, SourceDescription((SdesChunk(self.ssrc, ((SDES_CNAME, cname),)),))]
        )
        wire = data
        srtp = self._srtcp
        if srtp is None:
            srtp = self._srtp_tx
            if srtp is not None and srtp is not self._srtp:
                srtp = self._sending_keys()
        if srtp is not None:
            protected = srtp.protect_rtcp(data)
            if protected is None:
                return
            wire = protected
        try:
            sent = self.rtcp.send_nowait(wire, destination)
        except (TransportError, trio.ClosedResourceError):
            sent = False
        if sent:
            self.rtcp_sent += 1
            if self.run.tap is not None:
                self.run.tap.rtcp(
                    self.session.call_id, data, self.rtcp.local_address, destination, True
                )

    # -- the end -------------------------------------------------------------------------

    def quality(self) -> StreamQuality:
        packets_sent, octets_sent = self._sent_totals()
        late = sum(handle.counters.late_packets for handle in self.handles)
        # The main incoming source: the one with the most packets (a restarted or second
        # SSRC, e.g. a pcap's events, adds its packets to the counts below).
        received = expected = lost = out_of_order = duplicated = octets = 0
        main: ReceiverStats | None = None
        for stats in self.receivers.values():
            received += stats.received
            expected += stats.expected
            lost += stats.lost
            out_of_order += stats.out_of_order
            duplicated += stats.duplicates
            octets += stats.octets
            if main is None or stats.received > main.received:
                main = stats
        score: float | None = None
        if main is not None and received:
            loss_pct = 100.0 * max(0, lost) / expected if expected else 0.0
            delay_ms = self.rtt_ms / 2.0 if self.rtt_ms is not None else 0.0
            codec = self.codec if self.codec != "unknown" else "PCMU"
            try:
                score = mos(codec, loss_pct, delay_ms)
            except (KeyError, ValueError):
                score = mos("PCMU", loss_pct, delay_ms)
        local = self.rtp.local_address
        auth_failures, replays = self._srtp_failures()
        verdict = self.verdict
        return StreamQuality(
            call_id=self.session.call_id,
            call_number=self.session.call_number,
            media=self.media,
            codec=self.codec,
            local=_address_text((self.run.settings.media_ip, local[1])),
            remote=_address_text(self.remote),
            packets_sent=packets_sent,
            octets_sent=octets_sent,
            late_packets=late,
            packets_received=received,
            octets_received=octets,
            packets_expected=expected,
            packets_lost=lost,
            out_of_order=out_of_order,
            duplicated=duplicated,
            malformed=self.malformed,
            jitter_ms=main.jitter_ms if main is not None else 0.0,
            max_jitter_ms=self.max_jitter_ms,
            rtt_ms=self.rtt_ms,
            mos=score,
            rtcp_sent=self.rtcp_sent,
            rtcp_received=self.rtcp_received,
            srtp_auth_failures=auth_failures,
            srtp_replays=replays,
            secure_failure=self.session.secure_failure_reason,
            rtpcheck="" if verdict is None else "passed" if verdict.passed else "failed",
            rtpcheck_sent=0 if verdict is None else verdict.sent,
            rtpcheck_judged=0 if verdict is None else verdict.judged,
            rtpcheck_matched=0 if verdict is None else verdict.matched,
            rtpcheck_mismatched=0 if verdict is None else verdict.mismatched,
        )

    def check_report(self, verdict: CheckVerdict) -> RtpCheckReport:
        """The pattern check's record for the ``-rtpcheck_debug`` files."""
        check = self.check
        assert check is not None
        auth_failures, replays = self._srtp_failures()
        local = self.rtp.local_address
        return RtpCheckReport(
            call_id=self.session.call_id,
            call_number=self.session.call_number,
            media=self.media,
            srtp=self._srtp is not None,
            ssrc=self.ssrc,
            payload_type=check.payload_type,
            local=_address_text((self.run.settings.media_ip, local[1])),
            remote=_address_text(self.remote),
            tolerance=verdict.tolerance,
            sent=verdict.sent,
            judged=verdict.judged,
            matched=verdict.matched,
            mismatched=verdict.mismatched,
            in_flight=verdict.in_flight,
            unexpected=verdict.unexpected,
            packets_received=sum(stats.received for stats in self.receivers.values()),
            srtp_auth_failures=auth_failures,
            srtp_replays=replays,
            passed=verdict.passed,
            mismatches=tuple(
                f"seq={m.seq} sent_frame={m.expected_frame} "
                f"echoed_frame={'-' if m.received_frame is None else m.received_frame} "
                f"sent_bytes={m.expected_bytes} echoed_bytes={m.received_bytes} "
                f"first_difference_at={m.first_difference}"
                for m in check.mismatches
            ),
        )

    def close(self) -> None:
        if self.closed:
            return
        if self.check is not None:
            # Judged before the last report and the sockets close: what arrives later is
            # too late anyway.
            self.verdict = self.check.verdict(trio.current_time())
        self.send_report()  # a last report: the peer sees our final counts
        self.closed = True
        for handle in self.handles:
            handle.stop()
        self.rtp.close()
        self.rtcp.close()


class CallMediaSession:
    """One call's media (``interfaces.CallMedia``)."""

    def __init__(
        self,
        run: MediaRun,
        call_id: str,
        call_number: int,
        base: int,
        sockets: list[DatagramTransport],
    ) -> None:
        self.run = run
        self.call_id = call_id
        self.call_number = call_number
        self.base = base
        rng = random.Random(f"{run.settings.seed}:media:{call_number}")
        self.audio = _Stream(self, "audio", sockets[0], sockets[1], rng)
        self.video: _Stream | None = None
        self.streams = [self.audio]
        if len(sockets) == 4:
            self.video = _Stream(self, "video", sockets[2], sockets[3], rng)
            self.streams.append(self.video)
        self.image_remote: Address | None = None
        # SDES-SRTP (issue 18, docs/media.md): our a=crypto lines as last sent, the peer's as
        # last received, per medium; a stream is keyed once a line of each agrees on tag and
        # suite. ``crypto`` holds the keys the SIPp 3.7 keywords render.
        self.crypto: CallCryptoState | None = None
        self._local_crypto: dict[str, list[CryptoAttribute]] = {}
        self._remote_crypto: dict[str, list[CryptoAttribute]] = {}
        self._remote_srtp: set[str] = set()  # media whose peer m= line asks for SRTP
        self._remote_dtls: set[str] = set()  # media whose peer m= line is DTLS-SRTP
        self.failure_reason = ""  # the named reason of ``failure``, when it has one
        self._offerer = ""  # who made the latest SDP offer: "us", "peer" ("" none yet)
        self._keys: dict[str, tuple[str, bytes, bytes]] = {}  # media -> installed keys
        self.failure: str | None = None
        """Why the call's media cannot go on (bad or unacceptable SDP crypto): the call
        fails (FailedCallRejected, as SIPp 3.7 counts bad SDP crypto)."""
        self.closed = False
        self.secure: SecureCall | None = None
        if run.secure is not None:
            from gossipper.media.secure.wiring import SecureCall  # noqa: PLC0415 - secure runs

            # A random source of its own: the plain streams' draws stay as they were.
            secure_rng = random.Random(f"{run.settings.seed}:secure:{call_number}")
            self.secure = SecureCall(self, run.secure, secure_rng)

    def keyword(self, name: str) -> str:
        return self.secure.keyword(name) if self.secure is not None else ""

    @property
    def secure_failure_reason(self) -> str:
        """The named reason the call's secure media failed with (``""``: it did not)."""
        secure = self.secure
        if secure is not None and secure.failure_reason:
            return secure.failure_reason
        return self.failure_reason

    def on_failure(self, handler: Callable[[str], None]) -> None:
        if self.secure is not None:
            self.secure.on_failure(handler)

    @property
    def audio_port(self) -> int:
        return self.audio.rtp.local_address[1]

    @property
    def video_port(self) -> int:
        return (self.video or self.audio).rtp.local_address[1]

    # -- SDES-SRTP ------------------------------------------------------------------------

    def crypto_keyword(self, name: str) -> str:
        """A SIPp 3.7 crypto keyword (``cryptokeyparams1audio``...) for this call."""
        state = self.crypto
        if state is None:
            if self.run.settings.deterministic_keys:
                rng = random.Random(f"{self.run.settings.seed}:sdes:{self.call_number}")
                state = CallCryptoState(random_bytes=rng.randbytes)
            else:
                state = CallCryptoState(random_bytes=os.urandom)
            self.crypto = state
        return sipp_crypto_keyword(name, state)

    def _fail(self, reason: str, *, named: str = "") -> None:
        """``named``: a reason for the summary's ``media.secure_failures`` (the streams'
        quality records carry it, so they are written even when nothing flowed)."""
        if self.failure is None:
            self.failure = reason
            self.run.srtp_failures += 1
            if named:
                self.failure_reason = named
                for stream in self.streams:
                    stream.active = True

    def _crypto_lines(self, media: MediaDescription, whose: str) -> list[CryptoAttribute]:
        """The m= line's a=crypto lines; a line we cannot use (unknown suite, bad key) is
        skipped when another is usable (RFC 4568 6.1: ignore what is not understood), else
        a peer's fails the call naming the problem. Ours never do: a scenario may send bad
        crypto on purpose (to test the peer); it is warned about and keys nothing."""
        lines: list[CryptoAttribute] = []
        problem = ""
        for index, value in enumerate(media.attribute_values("crypto"), start=1):
            try:
                line = parse_crypto(
                    value, attribute=f"a=crypto #{index} of m={media.media} in {whose} SDP"
                )
            except SdesError as exc:
                problem = problem or str(exc)
                continue
            lines.append(line)
        if problem and not lines:
            if whose == "our":
                self._warn(problem)
            else:
                self._fail(problem)
        return lines

    def _warn(self, problem: str) -> None:
        self.run.warn(f"call {self.call_id}: {problem}")

    def _role(self, sender: str, method: str) -> bool:
        """Whether an SDP ``sender`` (``us``/``peer``) sends in a message is an answer
        (RFC 3264): in ACK yes, in another request no (an offer), in a response when the
        other side made the last offer (else a late offer, as in a 200 to a bodiless
        INVITE). A repeated answer (183 then 200) is an answer again."""
        if method:
            return method == "ACK"
        return self._offerer not in ("", sender)

    def outgoing(self, data: bytes) -> bytes:
        """A message the call sends: when its SDP carries a=crypto lines (or an earlier one
        did) they are our keys, paired with the peer's once one side's answer is known.
        Returns the message to send."""
        policy = self.run.settings.srtp
        if policy == "reject":
            return data
        body_at = data.find(b"\r\n\r\n")
        if body_at < 0:
            return data
        method = "" if data.startswith(b"SIP/2.0 ") else data[: data.find(b" ")].decode("latin-1")
        if policy == "require" and data.find(b"m=", body_at) >= 0:
            data = self._require_srtp(data, body_at, self._role("us", method))
        if not self._local_crypto and data.find(b"a=crypto:", body_at) < 0:
            return data
        try:
            sdp = parse_sdp(data[body_at + 4 :])
        except SdpError:
            return data  # not SDP, or not ours to judge
        answer = self._role("us", method)
        if not answer:
            self._offerer = "us"
        for stream in self.streams:
            media = sdp.first_media(stream.media)
            if media is None or keying(media) == DTLS:
                continue
            lines = self._local_crypto[stream.media] = self._crypto_lines(media, "our")
            if answer:
                self._pair(stream, ours_answer=True)
            elif lines:
                stream.await_srtp()
        return data

    def _state(self) -> CallCryptoState:
        self.crypto_keyword("cryptotag1audio")  # creates the call's key state
        assert self.crypto is not None
        return self.crypto

    def _require_srtp(self, data: bytes, body_at: int, answer: bool) -> bytes:
        """``-media_srtp``: every plain RTP/AVP(F) audio or video m= line of the SDP we send
        becomes RTP/SAVP(F) with a=crypto lines: as offer, tag 1 AES_CM_128_HMAC_SHA1_80 and
        tag 2 _32 (the keys the SIPp 3.7 keywords give); as answer, the first offered line
        libsrtp can run, with a key of ours (RFC 4568 5.1.1). Content-Length follows."""
        body = data[body_at + 4 :].decode("latin-1")
        newline = "\r\n" if "\r\n" in body else "\n"
        lines = body.split(newline)
        starts = [i for i, line in enumerate(lines) if line.startswith("m=")]
        changed = False
        for index in reversed(starts):
            end = next((i for i in starts if i > index), len(lines))
            while end > index + 1 and not lines[end - 1].strip():
                end -= 1  # keep trailing empty lines after what we add
            parts = lines[index][2:].split()
            if len(parts) < 3 or parts[0] not in ("audio", "video") or parts[1] == "0":
                continue
            proto = parts[2].upper()
            if proto not in ("RTP/AVP", "RTP/AVPF"):
                continue
            if any(line.startswith("a=crypto:") for line in lines[index:end]):
                continue
            if answer and parts[0] in self._remote_dtls and self.secure is not None:
                # The peer offered DTLS-SRTP: answer it in kind (RFC 5763 5), with the run's
                # certificate and the role taken against its a=setup.
                parts[2] = "UDP/TLS/" + ("RTP/SAVPF" if proto == "RTP/AVPF" else "RTP/SAVP")
                lines[index] = "m=" + " ".join(parts)
                lines[end:end] = self.secure.dtls_answer_lines(parts[0])
                changed = True
                continue
            added = self._required_lines(parts[0], answer)
            if not added:
                continue
            parts[2] = "RTP/SAVPF" if proto == "RTP/AVPF" else "RTP/SAVP"
            lines[index] = "m=" + " ".join(parts)
            lines[end:end] = ["a=crypto:" + line.render() for line in added]
            changed = True
        if not changed:
            return data
        new_body = newline.join(lines).encode("latin-1")
        head = data[: body_at + 4].decode("latin-1")
        head = _CONTENT_LENGTH.sub(lambda m: f"{m.group(1)}{len(new_body)}", head, count=1)
        return head.encode("latin-1") + new_body

    def _required_lines(self, media: str, answer: bool) -> list[CryptoAttribute]:
        state = self._state()
        if not answer:
            sipp_crypto_keyword(f"cryptosuiteaescm128sha1801{media}", state)
            sipp_crypto_keyword(f"cryptosuiteaescm128sha1322{media}", state)
            return [state.line(media, 1), state.line(media, 2)]
        offered = self._remote_crypto.get(media, [])
        runnable = tuple(name for name, s in SUITES.items() if s.libsrtp_profile is not None)
        chosen = select_answer(offered, runnable, state.random_bytes)
        if chosen is None:
            names = ", ".join(f"{line.tag} {line.suite.name}" for line in offered) or "none"
            self._fail(
                f"-media_srtp: the peer's offer for m={media} has no a=crypto line we can run "
                f"(offered: {names})"
            )
            return []
        return [chosen[1]]

    def _peer_crypto(self, stream: _Stream, media: MediaDescription, answer: bool) -> None:
        kind = keying(media)
        if kind == DTLS:
            self._remote_dtls.add(stream.media)
        else:
            self._remote_dtls.discard(stream.media)
        if kind == NONE and self.run.settings.srtp == "require":
            self._fail(
                f"-media_srtp: the peer's m={media.media} line is {media.proto}, plain RTP "
                "(SRTP required: RTP/SAVP with a=crypto, or UDP/TLS/RTP/SAVP with "
                "a=fingerprint)",
                named=SRTP_REQUIRED,
            )
            return
        if self.run.settings.srtp == "reject" or kind == DTLS:
            return
        lines = self._crypto_lines(media, "the peer's")
        if keying(media) == SDES:
            self._remote_srtp.add(stream.media)
            if not lines and self.failure is None:
                self._fail(
                    f"the peer's m={media.media} is {media.proto} but has no usable a=crypto "
                    "line (SDES keys)"
                )
        else:
            self._remote_srtp.discard(stream.media)
        self._remote_crypto[stream.media] = lines
        if answer:
            self._pair(stream, ours_answer=False)
        elif lines:
            stream.await_srtp()

    def _pair(self, stream: _Stream, *, ours_answer: bool) -> None:
        """An answer is known: key ``stream`` with its line and the offered line of the same
        tag and suite (RFC 4568 5.1.2). Keys already installed stay (key reuse keeps
        libsrtp's rollover and replay state)."""
        m = stream.media
        local = self._local_crypto.get(m, [])
        remote = self._remote_crypto.get(m, [])
        answer, offer = (local, remote) if ours_answer else (remote, local)
        if not answer or not offer:
            if offer and not ours_answer:
                offered = ", ".join(f"{line.tag} {line.suite.name}" for line in offer)
                self._fail(f"m={m}: no a=crypto in the peer's answer (offered: {offered})")
            else:
                stream.use_srtp(None)  # plain RTP (again): no line on one side
                self._keys.pop(m, None)
            return
        for line in answer:
            for offered_line in offer:
                if line.tag == offered_line.tag and line.suite.name == offered_line.suite.name:
                    ours, theirs = (line, offered_line) if ours_answer else (offered_line, line)
                    self._key(stream, ours, theirs, answering=ours_answer)
                    return
        offered = ", ".join(f"{line.tag} {line.suite.name}" for line in offer)
        answered = ", ".join(f"{line.tag} {line.suite.name}" for line in answer)
        whose = "our" if ours_answer else "the peer's"
        problem = (
            f"m={m}: no acceptable a=crypto: {whose} answer ({answered}) matches no offered "
            f"line ({offered})"
        )
        if ours_answer:
            self._warn(problem)  # the scenario's choice: the peer will judge it
        else:
            self._fail(problem)

    def _key(
        self, stream: _Stream, ours: CryptoAttribute, theirs: CryptoAttribute, *, answering: bool
    ) -> None:
        suite = ours.suite
        if ours.unencrypted_srtp or theirs.unencrypted_srtp:
            # RFC 4568 6.3.2 UNENCRYPTED_SRTP: authenticated, not encrypted; libsrtp's NULL
            # cipher profile with the same keys and HMAC-SHA1 tag length.
            null = SUITES.get(suite.name.replace("AES_CM_128", "NULL"))
            if null is None or null.libsrtp_profile is None:
                self._fail(
                    f"m={stream.media}: UNENCRYPTED_SRTP with {suite.name} cannot run on "
                    "libsrtp (only AES_CM_128_HMAC_SHA1_80 has a NULL-cipher profile)"
                )
                return
            suite = null
        keys = (suite.name, ours.key_salt, theirs.key_salt)
        if self._keys.get(stream.media) == keys:
            return
        try:
            session = SrtpSession(suite, ours.key_salt, theirs.key_salt,
                                  attribute=f"a=crypto:{ours.tag}")  # fmt: skip
        except SrtpError as exc:
            self._fail(str(exc))
            return
        stream.use_srtp(session, hold_send_s=REKEY_HOLD_S if answering else 0.0)
        self._keys[stream.media] = keys

    def _plain_refused(self, what: str, stream: _Stream) -> str | None:
        """Sending plain RTP to a peer that asked for SRTP would be dropped there: say so."""
        if stream.srtp is None and stream.media in self._remote_srtp:
            return (
                f"{what}: the peer's SDP asks for SRTP (RTP/SAVP) but no keys were agreed: "
                "render a=crypto in the scenario ([cryptokeyparams1audio]) or give "
                "-media_srtp, or -media_reject_srtp for plain RTP"
            )
        return None

    # -- the peer's SDP ------------------------------------------------------------------

    def peer_sdp(self, body: bytes, *, method: str = "") -> str | None:
        """``method``: the request's method when the SDP came in a request, "" in a response
        (tells an SDP offer from an answer)."""
        try:
            sdp = parse_sdp(body)
        except SdpError as exc:
            return f"unusable SDP from the peer: {exc}"
        answer = self._role("peer", method)
        if not answer:
            self._offerer = "peer"
        found = False
        for stream in self.streams:
            media = sdp.first_media(stream.media)
            if media is None:
                continue
            if media.port != 0:
                self._peer_crypto(stream, media, answer)
            connection = sdp.connection_for(media)
            if connection is None:
                continue
            found = True
            address = (connection.host, media.port)
            if address != stream.remote:
                stream.retarget(address)
            rtcp_port = media.rtcp_port
            if media.rtcp_mux:
                stream.remote_rtcp = address
            else:
                stream.remote_rtcp = (connection.host, rtcp_port or media.port + 1)
            codecs = media.codecs()
            for codec in codecs:
                if codec.name.lower() != "telephone-event":
                    stream.codec = codec.name
                    stream.clock_rate = codec.clock_rate or stream.clock_rate
                    break
            events = media.telephone_event_payload_type
            if events is not None:
                stream.dtmf_payload_type = events
            if self.secure is not None:
                self.secure.peer_media(stream, media, sdp)  # DTLS role, keys; TURN permission
        image = sdp.first_media("image")
        if image is not None:
            connection = sdp.connection_for(image)
            if connection is not None:
                self.image_remote = (connection.host, image.port)
                found = True
        if not found:
            return "the peer's SDP has no usable media line (m= with a port and a c= address)"
        return None

    def _no_remote(self, what: str, media: str) -> str:
        return f"{what}: no {media} address known yet (no SDP from the peer, and no RTP received)"

    def rtp_stream(self, file: str, loops: int, payload_type: int, codec: str) -> str | None:
        if payload_type < 0:
            payload_type = self.run.settings.default_payload_type
        payloads = self.run.library.audio.get((file, codec_for(payload_type, codec)))
        if payloads is None:
            return f"rtp_stream: {file} was not read before the run"
        if self.audio.remote is None:
            return self._no_remote("rtp_stream", "audio")
        refused = self._plain_refused("rtp_stream", self.audio)
        if refused is not None:
            return refused
        self.audio.stream(payloads, payload_type, loops)
        return None

    def rtp_pattern(self, media: str, loops: int, payload_type: int, codec: str) -> str | None:
        what = f"rtp_stream {'v' if media == 'video' else 'a'}pattern"
        stream = self.video if media == "video" else self.audio
        if stream is None:
            return f"{what}: the call has no video ports"
        if payload_type < 0:
            payload_type = self.run.settings.default_payload_type
        if stream.remote is None:
            return self._no_remote(what, media)
        refused = self._plain_refused(what, stream)
        if refused is not None:
            return refused
        clock_rate = 90000 if media == "video" else 8000
        _, _, rate_text = codec.partition("/")
        rate_text = rate_text.split("/", 1)[0]
        if rate_text.isdigit() and int(rate_text) > 0:
            clock_rate = int(rate_text)
        stream.pattern(payload_type, loops, max(1, clock_rate * _FRAME_MS // 1000))
        return None

    def _media_stream(self, media: str) -> _Stream:
        return self.video if media == "video" and self.video is not None else self.audio

    def pause_stream(self, media: str = "audio") -> None:
        current = self._media_stream(media).current
        if current is not None:
            current.pause()

    def resume_stream(self, media: str = "audio") -> None:
        current = self._media_stream(media).current
        if current is not None:
            current.resume()

    def play_pcap(self, media: str, file: str) -> str | None:
        packets = self.run.library.pcaps.get(file)
        if packets is None:
            return f"play_pcap_{media}: {file} was not read before the run"
        stream = self.video if media == "video" and self.video is not None else self.audio
        if media == "image" and self.image_remote is not None:
            stream.retarget(self.image_remote)
        if stream.remote is None:
            return self._no_remote(f"play_pcap_{media}", media)
        refused = self._plain_refused(f"play_pcap_{media}", stream)
        if refused is not None:
            return refused
        stream.replay(packets)
        return None

    def play_dtmf(self, digits: str, duration_ms: int) -> str | None:
        if self.audio.remote is None:
            return self._no_remote("play_dtmf", "audio")
        refused = self._plain_refused("play_dtmf", self.audio)
        if refused is not None:
            return refused
        self.audio.dtmf(digits, duration_ms)
        return None

    def set_echo(self, media: str, on: bool) -> None:
        stream = self.video if media == "video" and self.video is not None else self.audio
        stream.echo = on

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.secure is not None:
            self.secure.close()  # before the sockets: the TURN allocation is released
        for stream in self.streams:
            stream.close()
            if stream.active:
                self.run.on_quality(stream.quality())
            verdict = stream.verdict
            if verdict is not None:
                if not verdict.passed:
                    self._warn(
                        f"RTP check of the {stream.media} pattern failed: {verdict.matched} of "
                        f"{verdict.judged} packets echoed identical ({verdict.mismatched} "
                        f"mismatched), tolerance {verdict.tolerance:g} (exit status 253)"
                    )
                if self.run.on_check is not None:
                    self.run.on_check(stream.check_report(verdict))
        self.run.release(self.base)
