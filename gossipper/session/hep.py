"""HEP3 mirroring of a run: a ``Tracer`` that turns every SIP message sent or received into a
HEP3 packet (``gossipper.hep``) and a task that sends them to the capture server.

Mirroring never slows or fails a call: a message event only encodes its packet and puts it in
a bounded queue (``-hep_queue``); when the collector is slow, unreachable or reconnecting, new
packets are dropped and counted. The sender uses the run's ``TransportFactory``, so the
simulation mirrors to a collector on its simulated network. Over TCP (``-hep_transport tcp``)
the connection is re-opened after a loss, at most once a second.

Media (issue 17): the mirror is also the run's ``MediaTap`` (every RTCP report sent or
received, HEP protocol type 5) and a ``RunStats.media_sinks`` entry (each stream's quality at
the end of its call as a JSON log, type 100). Both carry the call's SIP Call-ID as correlation id
(chunk 0x0011), which is how Homer links them to the call's SIP messages. As the capture agents
Homer is fed by do (captagent, heplify, Asterisk's res_hep_rtcp), an RTCP report travels as
JSON, not as RTCP bytes: Homer's collectors store a type-5 payload as JSON (Kamailio's
sipcapture puts it in ``rtcp_capture``) and its UI draws the report blocks from it
(:func:`rtcp_json`, docs/hep.md).
"""

from __future__ import annotations

import ipaddress
import json
from collections import deque
from dataclasses import dataclass

import trio

from gossipper.config import RunConfig, split_host_port
from gossipper.errors import ConfigError, TransportError
from gossipper.hep import (
    IPPROTO_TCP,
    IPPROTO_UDP,
    PROTO_JSON_LOG,
    PROTO_RTCP,
    PROTO_SIP,
    HepError,
    HepPacket,
    encode,
)
from gossipper.interfaces import (
    Address,
    DatagramTransport,
    Flow,
    StreamConnection,
    Tracer,
    TransportFactory,
    WallClock,
)
from gossipper.media.rtp import ReceiverReport, RtpError, SenderReport, parse_rtcp
from gossipper.sip import SipMessage
from gossipper.stats.media import StreamQuality
from gossipper.timefmt import epoch_to_us

__all__ = [
    "HepCounts",
    "HepMirror",
    "TeeTracer",
    "hep_target",
    "resolve_hep_target",
    "rtcp_json",
]

RECONNECT_PAUSE_S = 1.0
FIRST_CONNECT_S = 1.0
"""How long the run's start waits for the first TCP connection to the collector."""
FLUSH_AT_END_S = 1.0
"""At the end of a run, how long the queue may take to drain before what is left is dropped."""


@dataclass(frozen=True, slots=True)
class HepCounts:
    """What the mirror did: packets sent, dropped (queue full, collector down) and not
    encodable (an address that is not IP, a message over 64 KiB)."""

    sent: int
    dropped: int
    unencodable: int


def hep_target(config: RunConfig) -> Address | None:
    """``-hep_addr`` as (host, port); None without mirroring."""
    text = config.traces.hep_addr
    if text is None:
        return None
    target = split_host_port(text)
    if target is None:  # pragma: no cover - RunConfig validated it
        raise ConfigError(f"-hep_addr {text}: give host:port")
    return target


async def resolve_hep_target(config: RunConfig) -> Address | None:
    """``-hep_addr`` with its host resolved once (a host name would otherwise be looked up
    for every packet); None without mirroring.

    Raises:
        ConfigError: the host does not resolve.
    """
    target = hep_target(config)
    if target is None:
        return None
    host, port = target
    try:
        ipaddress.ip_address(host)
        return target
    except ValueError:
        pass
    try:
        infos = await trio.socket.getaddrinfo(host, port, type=trio.socket.SOCK_DGRAM)
    except OSError as exc:
        raise ConfigError(
            f"-hep_addr {config.traces.hep_addr}: cannot resolve {host} ({exc}); give the"
            " capture server's address"
        ) from exc
    return (str(infos[0][4][0]), port)


def _wall_parts(wall: float) -> tuple[int, int]:
    # The same rounding as the trace files' times, so a packet and its log entry agree.
    seconds, micros = divmod(epoch_to_us(wall), 1_000_000)
    return seconds, micros


_NTP_FRACTION = 1 << 32


def rtcp_json(data: bytes) -> bytes | None:
    """An RTCP compound packet as the JSON report Homer reads from a HEP type-5 payload, or
    None when it holds no sender or receiver report (or is not RTCP).

    The first SR or RR of the compound: ``type`` (200 SR, 201 RR), ``ssrc``, ``report_count``,
    ``report_blocks`` (``source_ssrc``, ``fraction_lost`` in 1/256, cumulative
    ``packets_lost``, ``highest_seq_no``, ``ia_jitter`` in timestamp units, ``lsr``, ``dlsr``
    in 1/65536 s) and ``sender_information`` (``ntp_timestamp_sec``, ``ntp_timestamp_usec``,
    ``rtp_timestamp``, ``packets``, ``octets``; zeros in an RR, as heplify sends them).
    """
    try:
        packets = parse_rtcp(data)
    except RtpError:
        return None
    report = next((p for p in packets if isinstance(p, SenderReport | ReceiverReport)), None)
    if report is None:
        return None
    sender = {
        "ntp_timestamp_sec": 0,
        "ntp_timestamp_usec": 0,
        "rtp_timestamp": 0,
        "packets": 0,
        "octets": 0,
    }
    if isinstance(report, SenderReport):
        seconds, fraction = divmod(report.ntp_timestamp, _NTP_FRACTION)
        sender = {
            "ntp_timestamp_sec": seconds,
            "ntp_timestamp_usec": fraction * 1_000_000 // _NTP_FRACTION,
            "rtp_timestamp": report.rtp_timestamp,
            "packets": report.packet_count,
            "octets": report.octet_count,
        }
    document = {
        "type": 200 if isinstance(report, SenderReport) else 201,
        "ssrc": report.ssrc,
        "report_count": len(report.reports),
        "report_blocks": [
            {
                "source_ssrc": block.ssrc,
                "fraction_lost": block.fraction_lost,
                "packets_lost": block.cumulative_lost,
                "highest_seq_no": block.highest_sequence,
                "ia_jitter": block.jitter,
                "lsr": block.last_sr,
                "dlsr": block.delay_since_last_sr,
            }
            for block in report.reports
        ],
        "sender_information": sender,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _ip_protocol(flow: Flow) -> int:
    return IPPROTO_UDP if flow.transport_name == "UDP" else IPPROTO_TCP


class HepMirror:
    """The ``Tracer`` that mirrors messages, the ``MediaTap`` that mirrors RTCP, the media sink
    that mirrors each stream's quality, and the task that sends them.

    ``wall_clock`` dates the media packets (tracer events carry their own time); it is the
    run's clock, virtual in the simulation.
    """

    def __init__(
        self,
        config: RunConfig,
        *,
        local_ip: str,
        target: Address,
        wall_clock: WallClock,
    ) -> None:
        traces = config.traces
        self._capture_id = traces.hep_capture_id
        self._auth_key = traces.hep_password
        self._node_name = traces.hep_node_name
        self._tcp = traces.hep_transport == "tcp"
        self._limit = traces.hep_queue
        self._local_ip = local_ip
        self._wall_clock = wall_clock
        self.target = target
        self._queue: deque[bytes] = deque()
        self._wake = trio.Event()
        self._busy = False
        """The sender holds a batch it has not finished sending."""
        self._drained = trio.Event()
        self._sent = 0
        self._dropped = 0
        self._unencodable = 0

    def counts(self) -> HepCounts:
        return HepCounts(sent=self._sent, dropped=self._dropped, unencodable=self._unencodable)

    # ------------------------------------------------------------------ packets

    def _host(self, address: Address) -> Address:
        # A socket bound to the wildcard reports 0.0.0.0/::; the collector wants the address
        # the messages carry.
        host = address[0]
        try:
            if ipaddress.ip_address(host).is_unspecified:
                return (self._local_ip, address[1])
        except ValueError:
            pass
        return address

    def _put(
        self,
        src: Address,
        dst: Address,
        wall: float,
        payload: bytes,
        *,
        ip_protocol: int,
        proto_type: int = PROTO_SIP,
        correlation_id: str | None = None,
    ) -> None:
        if len(self._queue) >= self._limit:
            self._dropped += 1
            return
        seconds, micros = _wall_parts(wall)
        try:
            data = encode(
                HepPacket(
                    src=self._host(src),
                    dst=self._host(dst),
                    time_s=seconds,
                    time_us=micros,
                    payload=payload,
                    ip_protocol=ip_protocol,
                    proto_type=proto_type,
                    capture_id=self._capture_id,
                    auth_key=self._auth_key,
                    correlation_id=correlation_id,
                    node_name=self._node_name,
                )
            )
        except HepError:
            self._unencodable += 1
            return
        self._queue.append(data)
        self._wake.set()

    # ------------------------------------------------------------------ Tracer

    def message_sent(self, call_id: str, data: bytes, flow: Flow, wall: float) -> None:
        self._put(
            flow.local_address, flow.remote_address, wall, data, ip_protocol=_ip_protocol(flow)
        )

    def message_received(self, call_id: str, message: SipMessage, flow: Flow, wall: float) -> None:
        self._put(
            flow.remote_address,
            flow.local_address,
            wall,
            message.raw,
            ip_protocol=_ip_protocol(flow),
        )

    def message_lost(self, call_id: str, data: bytes, flow: Flow, wall: float) -> None:
        pass  # never on the wire

    def command_sent(self, call_id: str, data: bytes, wall: float) -> None:
        pass  # 3PCC commands are not SIP

    def command_received(self, call_id: str, text: bytes, size: int, wall: float) -> None:
        pass

    def out_of_call(self, data: bytes, flow: Flow, wall: float) -> None:
        self._put(
            flow.remote_address, flow.local_address, wall, data, ip_protocol=_ip_protocol(flow)
        )

    def unexpected_message(
        self, call_id: str, message: SipMessage, expected: str, flow: Flow, wall: float
    ) -> None:
        pass  # message_received mirrored it already

    def call_started(self, call_id: str, call_number: int) -> None:
        pass

    def call_ended(self, call_id: str, failed: bool, reason: str, wall: float) -> None:
        """The per-call summary as a JSON log (HEP type 100) correlated by Call-ID, as Homer
        links it to the call's messages."""
        document = {"call_id": call_id, "result": "failed" if failed else "success"}
        if failed:
            document["reason"] = reason
        payload = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        local = (self._local_ip, 0)
        self._put(
            local,
            local,
            wall,
            payload,
            ip_protocol=IPPROTO_UDP,
            proto_type=PROTO_JSON_LOG,
            correlation_id=call_id,
        )

    def warning(self, text: str, wall: float) -> None:
        pass

    def log(self, text: str, wall: float) -> None:
        pass

    # ------------------------------------------------------------------ media

    def _media_wall(self) -> float:
        return self._wall_clock.wall_time()

    def rtcp(
        self, call_id: str, data: bytes, source: Address, destination: Address, sent: bool
    ) -> None:
        """``MediaTap``: one RTCP packet sent or received by a call's media, as HEP protocol
        type 5 with its report in Homer's JSON (:func:`rtcp_json`) and the Call-ID as
        correlation id. ``source`` and ``destination`` already say the direction, so ``sent``
        adds nothing to the packet. A packet without SR/RR (a lone BYE, or not RTCP) counts as
        not encodable."""
        payload = rtcp_json(data)
        if payload is None:
            self._unencodable += 1
            return
        self._put(
            source,
            destination,
            self._media_wall(),
            payload,
            ip_protocol=IPPROTO_UDP,
            proto_type=PROTO_RTCP,
            correlation_id=call_id,
        )

    def media_quality(self, quality: StreamQuality) -> None:
        """A ``RunStats.media_sinks`` entry: one stream's quality at the end of its call as a
        JSON log (type 100, ``{"type": "media_quality", ...}`` with every field of
        ``StreamQuality`` and ``loss_pct``), from our RTP address to the peer's, correlated by
        Call-ID."""
        document: dict[str, object] = {"type": "media_quality", **quality.to_dict()}
        payload = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        local = split_host_port(quality.local) or (self._local_ip, 0)
        remote = split_host_port(quality.remote) or local
        self._put(
            local,
            remote,
            self._media_wall(),
            payload,
            ip_protocol=IPPROTO_UDP,
            proto_type=PROTO_JSON_LOG,
            correlation_id=quality.call_id,
        )

    # ------------------------------------------------------------------ sending

    async def run(
        self,
        factory: TransportFactory,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Send queued packets until cancelled (the run's end, after ``flush``).

        ``nursery.start`` returns once the first socket is open (or the first TCP attempt
        failed or took longer than ``FIRST_CONNECT_S``): the mirror's ephemeral port is then
        taken before the run's own connections draw theirs, the same on every run.
        """
        if self._tcp:
            await self._run_tcp(factory, task_status)
        else:
            await self._run_udp(factory, task_status)

    async def _next_batch(self) -> list[bytes]:
        while not self._queue:
            self._busy = False
            self._drained.set()
            self._wake = trio.Event()
            await self._wake.wait()
        self._busy = True
        batch = list(self._queue)
        self._queue.clear()
        return batch

    async def _run_udp(self, factory: TransportFactory, task_status: trio.TaskStatus[None]) -> None:
        family_any = "::" if ":" in self.target[0] else "0.0.0.0"
        bind = self._local_ip if (":" in self._local_ip) == (":" in self.target[0]) else family_any
        endpoint: DatagramTransport = await factory.open_datagram(bind, 0)
        task_status.started()
        try:
            while True:
                for data in await self._next_batch():
                    try:
                        await endpoint.send(data, self.target)
                        self._sent += 1
                    except TransportError:
                        self._dropped += 1
        finally:
            endpoint.close()

    async def _connect(self, factory: TransportFactory) -> StreamConnection | None:
        try:
            return await factory.connect_stream(self.target)
        except (TransportError, OSError):
            return None

    async def _run_tcp(self, factory: TransportFactory, task_status: trio.TaskStatus[None]) -> None:
        connection: StreamConnection | None = None
        with trio.move_on_after(FIRST_CONNECT_S):
            connection = await self._connect(factory)
        task_status.started()
        while True:
            if connection is None:
                # Collector down: what arrives meanwhile fills the queue, then is dropped.
                await trio.sleep(RECONNECT_PAUSE_S)
                connection = await self._connect(factory)
                continue
            try:
                while True:
                    batch = await self._next_batch()
                    try:
                        await connection.send_all(b"".join(batch))
                        self._sent += len(batch)
                    except TransportError:
                        self._dropped += len(batch)
                        self._busy = False
                        break
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(0.5):
                    try:
                        await connection.aclose()
                    except (TransportError, trio.ClosedResourceError):
                        pass
            connection = None

    async def flush(self, timeout_s: float = FLUSH_AT_END_S) -> None:
        """Wait (bounded) until the queue is empty; what is left after that counts as dropped."""
        with trio.move_on_after(timeout_s):
            while self._queue or self._busy:
                self._drained = trio.Event()
                await self._drained.wait()
        self._dropped += len(self._queue)
        self._queue.clear()


class TeeTracer:
    """Several tracers as one (the trace files and the HEP mirror), called in order."""

    def __init__(self, *tracers: Tracer) -> None:
        self._tracers = tracers

    def message_sent(self, call_id: str, data: bytes, flow: Flow, wall: float) -> None:
        for tracer in self._tracers:
            tracer.message_sent(call_id, data, flow, wall)

    def message_received(self, call_id: str, message: SipMessage, flow: Flow, wall: float) -> None:
        for tracer in self._tracers:
            tracer.message_received(call_id, message, flow, wall)

    def message_lost(self, call_id: str, data: bytes, flow: Flow, wall: float) -> None:
        for tracer in self._tracers:
            tracer.message_lost(call_id, data, flow, wall)

    def command_sent(self, call_id: str, data: bytes, wall: float) -> None:
        for tracer in self._tracers:
            tracer.command_sent(call_id, data, wall)

    def command_received(self, call_id: str, text: bytes, size: int, wall: float) -> None:
        for tracer in self._tracers:
            tracer.command_received(call_id, text, size, wall)

    def out_of_call(self, data: bytes, flow: Flow, wall: float) -> None:
        for tracer in self._tracers:
            tracer.out_of_call(data, flow, wall)

    def unexpected_message(
        self, call_id: str, message: SipMessage, expected: str, flow: Flow, wall: float
    ) -> None:
        for tracer in self._tracers:
            tracer.unexpected_message(call_id, message, expected, flow, wall)

    def call_started(self, call_id: str, call_number: int) -> None:
        for tracer in self._tracers:
            tracer.call_started(call_id, call_number)

    def call_ended(self, call_id: str, failed: bool, reason: str, wall: float) -> None:
        for tracer in self._tracers:
            tracer.call_ended(call_id, failed, reason, wall)

    def warning(self, text: str, wall: float) -> None:
        for tracer in self._tracers:
            tracer.warning(text, wall)

    def log(self, text: str, wall: float) -> None:
        for tracer in self._tracers:
            tracer.log(text, wall)
