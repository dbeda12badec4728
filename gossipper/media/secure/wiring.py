"""DTLS-SRTP, ICE-lite and TURN on a call's media streams (issue 18 items 2 and 3).

One ``SecureCall`` per call (made by ``CallMediaSession`` when the run has secure media), one
``SecureStream`` per stream (audio, video). What it adds to a stream:

- **Keywords** for the call's SDP: ``[dtls_fingerprint]`` (the run's certificate),
  ``[dtls_setup]`` (``actpass`` in an offer; in an answer the role taken against the offer),
  ``[ice_ufrag]``, ``[ice_pwd]``, ``[ice_candidates]`` (host, and relay with TURN: whole
  ``a=candidate`` lines), ``[turn_relay_ip]``, ``[turn_relay_port]``.
- **Demultiplexing** (RFC 7983) of what is not RTP/RTCP on the RTP port, through the stream's
  ``other_datagram`` hook: STUN Binding requests go to the ``IceLiteResponder``, DTLS records
  to the handshake (or, once it is done, to the endpoint that answers a lost last flight),
  TURN responses, Data indications and ChannelData from the TURN server to the relay.
- **The DTLS handshake**, started when the peer's SDP has a ``UDP/TLS/RTP/SAVP(F)`` m= line with
  an ``a=fingerprint``: its role from ``a=setup`` (RFC 5763 5), its keys exported into the
  stream's ``SrtpSession`` (``_Stream.use_srtp``). Until then the stream holds
  ``KeysPending``: nothing leaves in clear text, nothing arriving is taken as RTP.
- **A TURN relay** per stream (``-turn_server``): allocated when the call's media opens,
  permission and channel for the peer once its address is known, refreshed before the
  lifetimes run out, released at the end. What the stream sends leaves through the relay
  (``RelayedTransport``) until ICE nominates the host candidate (a USE-CANDIDATE check that
  came straight to it), and again once a nominating check comes through the relay; each ICE
  answer leaves by the path its check came.

Failures (fingerprint mismatch, handshake timeout, TURN server unreachable...) carry the
named ``reason`` of ``DtlsError``/``TurnError``; ``SecureCall.fail`` hands it to the call,
which fails (counted) and says why.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from gossipper.errors import TransportError
from gossipper.interfaces import Address, Datagram, DatagramTransport, TimedDatagram
from gossipper.media.secure import stun
from gossipper.media.secure.dtls import (
    HANDSHAKE_TIMEOUT,
    DtlsCertificate,
    DtlsError,
    DtlsSrtpEndpoint,
    DtlsSrtpKeys,
    answer_setup,
    is_dtls_client,
)
from gossipper.media.secure.negotiate import (
    DTLS,
    DTLS_RECORD,
    STUN,
    TURN_CHANNEL,
    classify,
    keying,
    peer_dtls,
)
from gossipper.media.secure.srtp import SrtpCounters, SrtpSession
from gossipper.media.secure.stun import IceCredentials, IceLiteResponder, StunError
from gossipper.media.secure.turn import TurnClient, TurnError, channel_data, parse_channel_data
from gossipper.scenario.keywords import SECURE_MEDIA_KEYWORDS

if TYPE_CHECKING:
    from gossipper.media.session import CallMediaSession, _Stream
    from gossipper.sdp.model import MediaDescription, SessionDescription

KEYWORDS = SECURE_MEDIA_KEYWORDS
"""Scenario keywords rendered from a call's secure media (``[dtls_fingerprint]`` ...)."""

TURN_UNREACHABLE = "turn_unreachable"
"""A call's failure reason: sending to the TURN server failed (the kernel refused it)."""

KEYS_PENDING = "keys_pending"
"""SrtpCounters failure reason: a packet dropped while the DTLS handshake has not given keys."""

# A handshake's early datagrams wait here; a peer flooding DTLS before we start is cut off.
_INBOX_DATAGRAMS = 64
# Refresh TURN state this long before it runs out (RFC 8656: permissions 300 s, channels 600 s).
_REFRESH_MARGIN_S = 60.0
_PERMISSION_LIFETIME_S = 300.0
_CHANNEL_LIFETIME_S = 600.0


@dataclass(frozen=True, slots=True)
class TurnSettings:
    """``-turn_server``, ``-turn_user``, ``-turn_pass``, ``-turn_realm``."""

    server: Address
    username: str
    password: str
    realm: str | None = None
    timeout_s: float = 5.0
    lifetime_s: int = 600


@dataclass(frozen=True, slots=True)
class SecureSettings:
    """The run's secure media: one certificate for every call (RFC 8827 5.5), TURN or not."""

    certificate: DtlsCertificate
    turn: TurnSettings | None = None
    handshake_timeout_s: float = 10.0
    key_log: str | None = None
    """``GOSSIPPER_SRTP_KEYLOG``: a file each DTLS-SRTP handshake appends its exported SRTP
    keys to (``key_log_line``), as ``SSLKEYLOGFILE`` does for TLS: what a capture of the
    run needs to be decrypted (the keys are in no SIP message)."""


def key_log_line(call_id: str, media: str, component: str, local: Address, remote: Address,
                 keys: DtlsSrtpKeys) -> str:  # fmt: skip
    """One key-log record: ``DTLS-SRTP <call-id> <media> <rtp|rtcp> <local ip:port> <remote
    ip:port> <suite> <local key||salt> <remote key||salt>`` (keys base64, as a=crypto's
    ``inline:``); the local key protects what leaves ``local``."""
    from base64 import b64encode

    def address(value: Address) -> str:
        host = f"[{value[0]}]" if ":" in value[0] else value[0]
        return f"{host}:{value[1]}"

    return " ".join((
        "DTLS-SRTP", call_id, media, component, address(local), address(remote), keys.suite,
        b64encode(keys.local_key_salt).decode("ascii"),
        b64encode(keys.remote_key_salt).decode("ascii"),
    ))  # fmt: skip


class KeysPending(SrtpSession):
    """The SRTP session of a DTLS stream whose handshake has not finished: it protects and
    unprotects nothing (counted as ``keys_pending``), so no RTP leaves in clear text."""

    def __init__(self) -> None:  # no libsrtp session: nothing is keyed yet
        self.counters = SrtpCounters()

    def fast_protect(self) -> tuple[int, int] | None:
        return None  # nothing to protect with: every packet goes to protect() and is refused

    def protect(self, rtp: bytes) -> bytes | None:
        self.counters.fail(KEYS_PENDING)
        return None

    def protect_rtcp(self, rtcp: bytes) -> bytes | None:
        self.counters.fail(KEYS_PENDING)
        return None

    def unprotect(self, srtp: bytes) -> bytes | None:
        self.counters.fail(KEYS_PENDING)
        return None

    def unprotect_rtcp(self, srtcp: bytes) -> bytes | None:
        self.counters.fail(KEYS_PENDING)
        return None


class RelayedTransport:
    """A stream's socket seen through its TURN allocation: ``send_nowait(data, peer)`` sends
    ``data`` from the allocation's socket (``sender``, the RTP one) to the server as
    ChannelData (once the channel is bound) or a Send indication; receiving and closing are
    ``raw``'s (the RTP or the RTCP socket; the stream's demultiplexer unwraps)."""

    def __init__(self, raw: DatagramTransport, client: TurnClient, server: Address,
                 random_bytes: Callable[[int], bytes],
                 sender: DatagramTransport | None = None) -> None:  # fmt: skip
        self.raw = raw
        self.sender = sender or raw
        self.client = client
        self.server = server
        self._random_bytes = random_bytes

    @property
    def transport_name(self) -> str:
        return self.raw.transport_name

    @property
    def local_address(self) -> Address:
        return self.raw.local_address

    def wrap(self, data: bytes, peer: Address) -> bytes:
        channel = self.client.channels.get(peer)
        if channel is not None:
            return channel_data(channel, data)
        indication = stun.StunMessage.new(stun.SEND, stun.INDICATION, self._random_bytes)
        indication.add_address(stun.XOR_PEER_ADDRESS, peer).add(stun.DATA_ATTR, data)
        return indication.encode()

    def send_nowait(self, data: bytes, address: Address) -> bool:
        self.client.counters.data_out += 1
        return self.sender.send_nowait(self.wrap(data, address), self.server)

    async def send(self, data: bytes, address: Address) -> None:
        self.client.counters.data_out += 1
        await self.sender.send(self.wrap(data, address), self.server)

    async def receive_batch(self) -> list[Datagram]:
        return await self.raw.receive_batch()

    async def receive_batch_timed(self) -> list[TimedDatagram]:
        return await self.raw.receive_batch_timed()

    def receive_nowait(self) -> list[Datagram]:
        return self.raw.receive_nowait()

    def close(self) -> None:
        self.raw.close()


# RFC 8445 5.1.2.2 type preferences, as the Go tool picks: host, then srflx, prflx, relay.
_CANDIDATE_ORDER = {"host": 0, "srflx": 1, "prflx": 2, "relay": 3}


def candidate_target(media: MediaDescription, remote: Address | None) -> Address | None:
    """Where to send when the SDP's own address is a placeholder (``c=`` 0.0.0.0 or ``::``, or
    port 9, RFC 8839 4.2.1.1): the best UDP component-1 candidate (host, srflx, prflx, relay;
    then priority); None when the address is usable or no candidate fits."""
    if remote is not None and remote[0] not in ("0.0.0.0", "::") and remote[1] != 9:
        return None
    best: tuple[int, int, Address] | None = None
    for value in media.attribute_values("candidate"):
        fields = value.split()
        # foundation component transport priority address port "typ" type ...
        if len(fields) < 8 or fields[1] != "1" or fields[2].upper() != "UDP":
            continue
        if fields[6] != "typ" or not fields[3].isdigit() or not fields[5].isdigit():
            continue
        order = _CANDIDATE_ORDER.get(fields[7], 9)
        rank = (order, -int(fields[3]), (fields[4], int(fields[5])))
        if best is None or rank[:2] < best[:2]:
            best = rank
    return best[2] if best is not None else None


class SecureCall:
    """The secure media of one call (see the module docstring)."""

    def __init__(self, session: CallMediaSession, settings: SecureSettings,
                 rng: random.Random) -> None:  # fmt: skip
        self.session = session
        self.settings = settings
        self.rng = rng
        # Per call, from the call's seeded random source: the same in every simulated run.
        self.ice = IceCredentials.generate(rng.randbytes)
        self.offerer = False  # our attributes went out before the peer's SDP arrived
        self.peer_seen = False
        self.failure: str | None = None
        self.failure_reason: str | None = None
        self._on_failure: Callable[[str], None] | None = None
        self._scopes: list[trio.CancelScope] = []
        self.closed = False
        self.streams = [SecureStream(self, stream) for stream in session.streams]
        self.audio = self.streams[0]

    # -- what the call sees ----------------------------------------------------------------

    def keyword(self, name: str) -> str:
        if not self.peer_seen:
            self.offerer = True
        audio = self.audio
        if name == "dtls_fingerprint":
            return self.settings.certificate.fingerprint()
        if name == "dtls_setup":
            return audio.local_setup or "actpass"
        if name == "ice_ufrag":
            return self.ice.ufrag
        if name == "ice_pwd":
            return self.ice.pwd
        if name == "ice_candidates":
            return "\r\n".join(audio.candidate_lines())
        if name == "turn_relay_ip":
            return audio.relayed[0] if audio.relayed else self.session.run.settings.media_ip
        if name == "turn_relay_port":
            return str(audio.relayed[1] if audio.relayed else self.session.audio_port)
        return ""

    def on_failure(self, handler: Callable[[str], None]) -> None:
        self._on_failure = handler

    def dtls_answer_lines(self, media: str) -> list[str]:
        """``-media_srtp`` answering a DTLS-SRTP offer with a plain m= line: the attributes
        that make it a DTLS-SRTP answer (our fingerprint, the role taken against the offer)."""
        setup = "active"
        for secure in self.streams:
            if secure.stream.media == media and secure.local_setup is not None:
                setup = secure.local_setup
        return [f"a=fingerprint:{self.settings.certificate.fingerprint()}", f"a=setup:{setup}"]

    def log_keys(self, secure: SecureStream, keys: DtlsSrtpKeys, *, rtcp: bool) -> None:
        """Append a handshake's SRTP keys to the key log (``SecureSettings.key_log``)."""
        path = self.settings.key_log
        if path is None:
            return
        stream = secure.stream
        socket = stream.rtcp if rtcp else stream.rtp
        remote = (stream.remote_rtcp if rtcp else stream.remote) or ("0.0.0.0", 0)
        local = (self.session.run.settings.media_ip, socket.local_address[1])
        line = key_log_line(self.session.call_id, stream.media, "rtcp" if rtcp else "rtp",
                            local, remote, keys)  # fmt: skip
        try:
            with open(path, "a", encoding="ascii") as log:
                log.write(line + "\n")
        except OSError as error:  # checked writable at start; a full disk is only warned
            self.session.run.warn(f"GOSSIPPER_SRTP_KEYLOG {path}: {error}")

    def fail(self, reason: str, detail: str, *, outside: bool = False) -> None:
        """The call's secure media failed: the first failure is the call's (named) reason.

        ``outside``: found by a media task (handshake, TURN refresh), not while the call
        handles a message: the call is told through its ``on_failure`` handler. Otherwise it
        reads ``CallMediaSession.failure`` when ``peer_sdp``/``open_call`` return."""
        if self.failure is not None or self.session.closed:
            return
        self.failure_reason = reason
        self.failure = detail if detail.startswith(reason) else f"{reason}: {detail}"
        for stream in self.streams:
            stream.stream.active = True  # the call's quality record carries the reason
        if self.session.failure is None:
            self.session.failure = self.failure
        if outside and self._on_failure is not None:
            self._on_failure(self.failure)

    async def open(self) -> None:
        """Allocate a TURN relay per stream (when -turn_server is given)."""
        if self.settings.turn is None:
            return
        with self.scope():
            for stream in self.streams:
                try:
                    await stream.allocate(self.settings.turn)
                except TurnError as error:
                    self.fail(error.reason, str(error))
                    return
                except (TransportError, OSError) as error:  # the kernel refused the send
                    self.fail(TURN_UNREACHABLE, f"{self.settings.turn.server}: {error}")
                    return
                self.session.run.start_task(stream.keep_relay)

    def peer_media(self, stream: _Stream, media: MediaDescription,
                   sdp: SessionDescription) -> None:  # fmt: skip
        """The peer's m= line for ``stream`` (offer or answer): DTLS when its proto says so."""
        self.peer_seen = True
        secure = self._stream_of(stream)
        if secure is None:
            return
        target = candidate_target(media, stream.remote)
        if target is not None:
            # A WebRTC-style SDP (c=0.0.0.0, port 9): the media goes to its best candidate.
            stream.retarget(target)
            stream.remote_rtcp = target if media.rtcp_mux else (target[0], target[1] + 1)
        if secure.relay is not None:
            secure.peer_known.set()
        if keying(media) != DTLS:
            return
        found = peer_dtls(media, sdp)
        if found is None:
            self.fail(
                "dtls_bad_fingerprint",
                f"the peer's m={media.media} line is {media.proto} without a=fingerprint",
            )
            return  # fmt: skip
        secure.start_dtls(*found, offerer=self.offerer, rtcp_mux=media.rtcp_mux)

    def _stream_of(self, stream: _Stream) -> SecureStream | None:
        for secure in self.streams:
            if secure.stream is stream:
                return secure
        return None

    def scope(self) -> trio.CancelScope:
        """A cancel scope for one of the call's tasks (handshake, relay): cancelled at close."""
        scope = trio.CancelScope()
        if self.closed:
            scope.cancel()
        self._scopes.append(scope)
        return scope

    def close(self) -> None:
        self.closed = True
        for scope in self._scopes:
            scope.cancel()
        for stream in self.streams:
            stream.close()


class SecureStream:
    """One stream's ICE responder, DTLS handshake and TURN relay."""

    def __init__(self, call: SecureCall, stream: _Stream) -> None:
        self.call = call
        self.stream = stream
        self.raw = stream.rtp
        self.responder = IceLiteResponder(call.ice)
        self.inbox_send, self.inbox = trio.open_memory_channel[tuple[bytes, Address]](
            _INBOX_DATAGRAMS
        )
        self.dropped_early = 0
        self.malformed = 0
        self.local_setup: str | None = None
        self.remote_fingerprint: str | None = None
        self.endpoint: DtlsSrtpEndpoint | None = None
        self.handshake_done = False
        # Without rtcp-mux, the RTCP component's own association (RFC 5764 4.1): same
        # certificate and role, its own handshake on the RTCP port, its keys protect SRTCP.
        self.rtcp_endpoint: DtlsSrtpEndpoint | None = None
        self.rtcp_handshake_done = False
        self.rtcp_fallback = False  # its handshake timed out: SRTCP uses the RTP keys
        self.rtcp_inbox_send, self.rtcp_inbox = trio.open_memory_channel[tuple[bytes, Address]](
            _INBOX_DATAGRAMS
        )
        self.relay: RelayedTransport | None = None
        self.relayed: Address | None = None
        # With TURN, the two paths ICE can nominate (RFC 8445 8.1.1: the controlling agent's
        # USE-CANDIDATE): through the relay (the default, what our SDP's c=/m= name) or
        # straight from the host ports; ``_via_relay``: the datagram being handled came
        # through the relay (its answer goes back that way).
        self.raw_rtcp: DatagramTransport = stream.rtcp
        self.relay_rtcp: RelayedTransport | None = None
        self.on_relay = False
        self._via_relay = False
        self.peer_known = trio.Event()
        self._turn_inbox_send, self._turn_inbox = trio.open_memory_channel[bytes](16)
        stream.other_datagram = self.datagram
        # From the start: a peer's RTCP-port handshake may come before its SDP tells us there
        # is no rtcp-mux; it waits in its own inbox, apart from the RTP port's.
        stream.use_rtcp_component(None, self.rtcp_datagram)

    # -- SDP -------------------------------------------------------------------------------

    def candidate_lines(self) -> list[str]:
        settings = self.call.session.run.settings
        host = (settings.media_ip, self.raw.local_address[1])
        lines = [stun.candidate_line("1", 1, host)]
        if self.relayed is not None:
            lines.append(stun.candidate_line("2", 1, self.relayed, "relay", related=host))
        return lines

    # -- demultiplexing ----------------------------------------------------------------------

    def datagram(self, data: bytes, source: Address) -> None:
        """A datagram on the RTP port that is not RTP/RTCP (RFC 7983)."""
        self._demultiplex(data, source, rtcp=False)

    def rtcp_datagram(self, data: bytes, source: Address) -> None:
        """A datagram on the RTCP port that is not RTCP (a separate DTLS association there)."""
        self._demultiplex(data, source, rtcp=True)

    def _demultiplex(self, data: bytes, source: Address, *, rtcp: bool) -> None:
        relay = self.relay
        if relay is not None and source == relay.server:
            self._from_server(data)
            return
        kind = classify(data)
        if kind == STUN:
            # Every nomination counts, also one of the same remote address through the
            # other local candidate (host or relay).
            nominations = self.responder.counters.nominated
            via_relay = self._via_relay
            answer = self.responder.handle(data, source)
            if answer is not None:
                self._send_on_path(answer, source, via_relay=via_relay)
            if self.responder.counters.nominated != nominations:
                # The controlling agent nominated this pair (USE-CANDIDATE): media goes there,
                # from the local candidate the check came to (host, or the TURN relay).
                self._use_path(via_relay=via_relay)
                if source != self.stream.remote:
                    self.stream.retarget(source)
        elif kind == DTLS_RECORD:
            endpoint = self.rtcp_endpoint if rtcp else self.endpoint
            done = self.rtcp_handshake_done if rtcp else self.handshake_done
            if done and endpoint is not None:
                for out in endpoint.handle_record(data):
                    self._send(out, source, rtcp=rtcp)
                return
            inbox = self.rtcp_inbox_send if rtcp else self.inbox_send
            try:
                inbox.send_nowait((data, source))
            except (trio.WouldBlock, trio.ClosedResourceError):
                # Full (a flood before our handshake starts), or the call's media has closed
                # while the rest of a received batch is handed out.
                self.dropped_early += 1
        else:
            self.malformed += 1
            self.stream.malformed += 1

    def _from_server(self, data: bytes) -> None:
        """From the TURN server: relayed data (unwrapped and demultiplexed again), or an answer
        to one of the relay's requests."""
        assert self.relay is not None
        client = self.relay.client
        if classify(data) == TURN_CHANNEL:
            try:
                number, payload = parse_channel_data(data)
            except StunError:
                client.counters.malformed += 1
                return
            peer = client._peers_of.get(number)
            if peer is None:
                client.counters.malformed += 1
                return
            client.counters.data_in += 1
            self._relayed_in(payload, peer)
            return
        try:
            message = stun.decode(data)
        except StunError:
            client.counters.malformed += 1
            return
        if (message.method, message.cls) == (stun.DATA, stun.INDICATION):
            try:
                peer = message.address(stun.XOR_PEER_ADDRESS)
            except StunError:
                peer = None
            relayed = message.get(stun.DATA_ATTR)
            if peer is None or relayed is None:
                client.counters.malformed += 1
                return
            client.counters.data_in += 1
            self._relayed_in(relayed, peer)
            return
        try:
            self._turn_inbox_send.send_nowait(data)
        except (trio.WouldBlock, trio.ClosedResourceError):
            client.counters.malformed += 1  # no transaction waits for it

    def _relayed_in(self, data: bytes, peer: Address) -> None:
        """What the relay forwarded from ``peer``: handled as if it had come directly."""
        self._via_relay = True
        try:
            self.stream._rtp_arrived(trio.current_time(), data, peer)
        finally:
            self._via_relay = False

    def _send_on_path(self, data: bytes, destination: Address, *, via_relay: bool) -> None:
        """An ICE answer leaves by the path its check came (else the peer's check of that
        pair fails: the answer's source must be the candidate it checked)."""
        relay = self.relay
        if relay is None or self.stream.closed:
            self._send(data, destination)
            return
        try:
            (relay if via_relay else self.raw).send_nowait(data, destination)
        except (TransportError, trio.ClosedResourceError):
            pass

    def _use_path(self, *, via_relay: bool) -> None:
        """With TURN: send through the relay or straight from the host ports, as ICE chose."""
        if self.relay is None or self.relay_rtcp is None or via_relay == self.on_relay:
            return
        self.on_relay = via_relay
        self.stream.use_transports(
            self.relay if via_relay else self.raw, self.relay_rtcp if via_relay else self.raw_rtcp
        )

    def _send(self, data: bytes, destination: Address, *, rtcp: bool = False) -> None:
        if self.stream.closed:
            return
        try:
            (self.stream.rtcp if rtcp else self.stream.rtp).send_nowait(data, destination)
        except (TransportError, trio.ClosedResourceError):
            pass

    # -- DTLS --------------------------------------------------------------------------------

    def start_dtls(self, fingerprint: str, peer_setup: str, *, offerer: bool,
                   rtcp_mux: bool = True) -> None:  # fmt: skip
        """The handshake on the RTP port and, without ``rtcp_mux``, a second one on the RTCP
        port (RFC 5764 4.1: one association per component; not with TURN, whose relay
        carries the peer's RTCP only with rtcp-mux)."""
        if self.endpoint is not None:
            if fingerprint == self.remote_fingerprint:
                return  # a re-INVITE keeping the association
            self.call.fail(
                "dtls_fingerprint_mismatch", "the peer changed a=fingerprint within the call"
            )
            return
        peer_setup = peer_setup.strip().lower()
        try:
            if offerer:
                # We offered actpass; the answer's role decides ours (an answer's actpass is
                # taken as passive, as the Go tool does).
                if peer_setup not in ("active", "passive", "actpass"):
                    answer_setup(peer_setup)  # raises dtls_bad_setup
                self.local_setup = "passive" if peer_setup == "active" else "active"
            else:
                self.local_setup = answer_setup(peer_setup, prefer="active")
            endpoints = [
                DtlsSrtpEndpoint(
                    self.call.settings.certificate,
                    client=is_dtls_client(self.local_setup),
                    remote_fingerprint=fingerprint,
                )
                for _ in range(1 if rtcp_mux or self.relay is not None else 2)
            ]
        except DtlsError as error:
            self.call.fail(error.reason, str(error))
            return
        self.remote_fingerprint = fingerprint
        self.endpoint = endpoints[0]
        self.stream.use_srtp(KeysPending())
        run = self.call.session.run
        run.start_task(self._handshake, endpoints[0], False)
        if len(endpoints) == 2:
            self.rtcp_endpoint = endpoints[1]
            # Nothing leaves the RTCP port in clear text before its own keys are there.
            self.stream.use_rtcp_component(KeysPending(), self.rtcp_datagram)
            run.start_task(self._handshake, endpoints[1], True)

    async def _handshake(self, endpoint: DtlsSrtpEndpoint, rtcp: bool) -> None:
        """One component's handshake (``rtcp``: the RTCP port's, without rtcp-mux)."""
        stream = self.stream
        inbox = self.rtcp_inbox if rtcp else self.inbox

        async def send(data: bytes) -> None:
            destination = stream.remote_rtcp if rtcp else stream.remote
            if destination is not None:
                self._send(data, destination, rtcp=rtcp)

        async def receive() -> bytes:
            data, _source = await inbox.receive()
            return data

        with self.call.scope():
            try:
                keys = await endpoint.handshake(
                    send, receive, timeout_s=self.call.settings.handshake_timeout_s
                )
            except DtlsError as error:
                if rtcp and error.reason == HANDSHAKE_TIMEOUT and not stream.closed:
                    self._rtcp_fallback(error)
                    return
                where = " (the RTCP port's association: no a=rtcp-mux)" if rtcp else ""
                self.call.fail(error.reason, f"{error}{where}", outside=True)
                return
            if stream.closed:
                return
            try:
                session = keys.srtp_session()
            except Exception as error:  # SrtpError: pylibsrtp missing or the suite unusable
                self.call.fail("dtls_no_srtp_profile", str(error), outside=True)
                return
            if rtcp:
                self.rtcp_handshake_done = True
                stream.use_rtcp_component(session, self.rtcp_datagram)
            else:
                self.handshake_done = True
                stream.use_srtp(session)
            self.call.log_keys(self, keys, rtcp=rtcp)

    def _rtcp_fallback(self, error: DtlsError) -> None:
        """Nobody answered on the RTCP port: a peer that runs one association and keys
        SRTCP from it (as before RFC 5764's per-component rule was followed widely), or one
        whose RTCP cannot reach us (a TURN relay without rtcp-mux). SRTCP then uses the RTP
        association's keys; the call goes on (RTCP is not worth failing it for)."""
        self.rtcp_fallback = True
        self.stream.use_rtcp_component(None, self.rtcp_datagram)
        self.call.session.run.warn(
            f"call {self.call.session.call_id}: m={self.stream.media}: {error} on the RTCP "
            "port (no a=rtcp-mux): SRTCP uses the RTP association's keys"
        )

    # -- TURN --------------------------------------------------------------------------------

    async def allocate(self, turn: TurnSettings) -> None:
        random_bytes = self.call.rng.randbytes
        raw = self.raw

        async def send(data: bytes) -> None:
            raw.send_nowait(data, turn.server)

        client = TurnClient(
            send, self._turn_inbox.receive, username=turn.username, password=turn.password,
            realm=turn.realm, timeout_s=turn.timeout_s, random_bytes=random_bytes,
        )  # fmt: skip
        # Until the relay is in place, answers from the server arrive through the hook too.
        self.relay = RelayedTransport(raw, client, turn.server, random_bytes)
        self.relayed = await client.allocate(turn.lifetime_s)
        # Our RTCP leaves through the same allocation (permissions are per peer IP); the
        # relayed port carries the peer's RTCP only with a=rtcp-mux.
        self.relay_rtcp = RelayedTransport(
            self.raw_rtcp, client, turn.server, random_bytes, sender=raw
        )
        # The relay is the default path (our SDP names it) until ICE nominates another.
        self.on_relay = False
        self._use_path(via_relay=True)

    async def keep_relay(self) -> None:
        """Permission and channel for the peer once its address is known; refreshes."""
        relay = self.relay
        assert relay is not None
        client = relay.client
        turn = self.call.settings.turn
        assert turn is not None
        with self.call.scope():
            try:
                await self.peer_known.wait()
                peer = self.stream.remote
                bound: Address | None = None
                now = trio.current_time()
                allocation_due = now + max(client.lifetime_s - _REFRESH_MARGIN_S, 1.0)
                permission_due = channel_due = now
                while True:
                    peer = self.stream.remote
                    now = trio.current_time()
                    if peer is not None and (peer != bound or now >= permission_due):
                        await client.create_permission(peer)
                        permission_due = now + _PERMISSION_LIFETIME_S - _REFRESH_MARGIN_S
                    if peer is not None and (peer != bound or now >= channel_due):
                        await client.channel_bind(peer)
                        channel_due = now + _CHANNEL_LIFETIME_S - _REFRESH_MARGIN_S
                        bound = peer
                    if now >= allocation_due:
                        granted = await client.refresh(turn.lifetime_s)
                        allocation_due = now + max(granted - _REFRESH_MARGIN_S, 1.0)
                    # A retarget (symmetric RTP) needs a permission for the new address soon.
                    wake = min(allocation_due, permission_due, channel_due, now + 1.0)
                    await trio.sleep_until(wake)
            except TurnError as error:
                self.call.fail(error.reason, str(error), outside=True)
            except (TransportError, OSError) as error:
                self.call.fail(TURN_UNREACHABLE, f"{turn.server}: {error}", outside=True)

    def release_relay(self) -> None:
        """Free the allocation (a Refresh with lifetime 0, not waited for)."""
        relay = self.relay
        if relay is None or self.relayed is None:
            return
        client = relay.client
        request = client._message(stun.REFRESH).add(stun.LIFETIME, struct.pack("!I", 0))
        request.add(stun.USERNAME, client.username.encode())
        request.add(stun.REALM, (client.realm or "").encode())
        request.add(stun.NONCE, (client.nonce or "").encode())
        datagram = request.encode(integrity_key=client._key, fingerprint=True)
        try:
            self.raw.send_nowait(datagram, relay.server)
        except (TransportError, trio.ClosedResourceError):
            pass
        self.relayed = None

    def close(self) -> None:
        self.release_relay()
        self.inbox_send.close()
        self.rtcp_inbox_send.close()
        self._turn_inbox_send.close()
