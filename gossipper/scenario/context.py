"""What message rendering and actions need from the outside: run-static values (:class:`RunEnv`)
and the per-call state (:class:`CallContext`, implemented by the engine's call object).
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from gossipper.errors import GossipperError
from gossipper.scenario.variables import Variables

if TYPE_CHECKING:
    from gossipper.scenario.injection import InjectionFile  # loaded only with -inf
    from gossipper.scenario.tdm import TdmMap  # loaded only with -tdmmap


class RenderError(GossipperError):
    """A message can not be built at run time (SIPp treats these as fatal errors, exit 255):
    ``[authentication]`` without a stored challenge, an unreadable ``[file]``, an unknown injection
    file..."""


class SipMessageLike(Protocol):
    """The parts of ``gossipper.sip.SipMessage`` the scenario layer reads."""

    @property
    def is_request(self) -> bool: ...
    @property
    def method(self) -> str: ...
    @property
    def status_code(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def cseq_number(self) -> int: ...
    @property
    def cseq_method(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def to_tag(self) -> str | None: ...

    def header(self, name: str) -> str | None: ...
    def header_values(self, name: str) -> list[str]: ...
    def header_lines(self, name: str) -> list[tuple[str, str]]: ...


def _zero_wall_time() -> float:
    return 0.0


def _zero_clock_ms() -> int:
    return 0


@dataclass
class RunEnv:
    """Run-static values known once the sockets are open, filled in by the engine before
    :meth:`Scenario.bind`. Addresses are plain (no IPv6 brackets); keywords add the brackets
    where SIPp does (``[remote_ip]``, ``[local_ip]``)."""

    service: str = "service"
    """``-s``."""
    remote_host: str = ""
    """Remote host as given on the command line (``[remote_host]``)."""
    remote_ip: str = ""
    """Resolved numeric remote address."""
    remote_port: int = 5060
    local_ip: str = "127.0.0.1"
    """``-i`` or the detected local address."""
    local_port: int = 5060
    """The bound SIP port (per-call ports come from ``CallContext.local_port``)."""
    per_call_local_port: bool = False
    """True in multi-socket client modes (``-t un``...) and ``-t ui``: ``[local_port]`` is
    per call."""
    per_call_local_ip: bool = False
    """True in ``-t ui``: ``[local_ip]`` and ``[server_ip]`` are the call's socket address."""
    transport: str = "UDP"
    """``UDP``, ``TCP``, ``TLS`` or ``SCTP``."""
    media_ip: str = ""
    """``-mi`` or the local address; empty means "same as local_ip"."""
    media_port: int = 6000
    per_call_media: bool = False
    """True when the run opens media for its calls: ``[media_port]`` is then the call's own
    RTP port (``CallContext.media_port``), not ``-mp``."""
    pid: int = 0
    sipp_version: str = "3.6.1"
    """``[sipp_version]`` text (SIPp prints its version without the leading ``v``)."""
    users: int = 0
    """``-users`` (0 = not in users mode)."""
    keys: Mapping[str, str] = field(default_factory=dict)
    """``-key NAME VALUE`` pairs (also folded in at load time)."""
    auth_username: str | None = None
    """``-au`` (defaults to ``-s``)."""
    auth_password: str = "password"
    """``-ap``."""
    auth_uri: str | None = None
    """``-auth_uri`` (without ``sip:``)."""
    aka_k: str | None = None
    """``-aka_K``: AKAv1-MD5 key (text or ``0x`` hex); None: the password's first 16 bytes."""
    aka_op: str | None = None
    """``-aka_OP``: AKAv1-MD5 operator variant (text or ``0x`` hex); None: zeros."""
    aka_amf: str | None = None
    """``-aka_AMF`` (checked only: the MAC covers the AMF in AUTN)."""
    wall_time: Callable[[], float] = _zero_wall_time
    """Seconds since the epoch (``[timestamp]``, ``[date]``, ``gettimeofday``)."""
    tz: datetime.tzinfo | None = None
    """The zone local times are printed in (the wall clock's; None: the process's)."""
    rfc3339: bool = False
    """``-rfc3339``: ``[timestamp]`` is RFC 3339 (SIPp 3.7) instead of SIPp's log time."""
    tdm_map: TdmMap | None = None
    """``-tdmmap``: the run's circuits (``[tdmmap]`` names the call's ``tdm_circuit``)."""
    clock_ms: Callable[[], int] = _zero_clock_ms
    """Milliseconds since start (``[clock_tick]``)."""
    dynamic_id_start: int = 10000
    dynamic_id_step: int = 4
    dynamic_id_max: int = 12000
    dynamic_id_next: int = 10000
    """Process-wide ``[dynamic_id]`` counter (SIPp ``-dynamicStart/-dynamicStep/-dynamicMax``)."""
    injection: Mapping[str, InjectionFile] = field(default_factory=dict)
    """``-inf`` files by basename."""
    default_injection: str | None = None
    """Basename of the first ``-inf`` file (the one ``[fieldN]`` reads)."""
    file_cache: dict[str, str] = field(default_factory=dict)
    """``[file name=...]`` contents, read once per path (latin-1 view)."""

    def next_dynamic_id(self) -> int:
        """``[dynamic_id]``: current value, then advance by the step, wrapping after the max."""
        value = self.dynamic_id_next
        nxt = value + self.dynamic_id_step
        if nxt > self.dynamic_id_max:
            nxt = self.dynamic_id_start
        self.dynamic_id_next = nxt
        return value

    @property
    def local_ip_type(self) -> int:
        """4 or 6."""
        return 6 if ":" in self.local_ip else 4

    @property
    def effective_media_ip(self) -> str:
        """``-mi`` or the local IP."""
        return self.media_ip or self.local_ip

    @property
    def media_ip_type(self) -> int:
        """4 or 6."""
        return 6 if ":" in self.effective_media_ip else 4


def bracket_ipv6(address: str) -> str:
    """``::1`` -> ``[::1]`` (SIPp's ``*_escaped`` forms); IPv4 and names unchanged."""
    if ":" in address and not address.startswith("["):
        return f"[{address}]"
    return address


class CallContext(Protocol):
    """Per-call state read (and in places written) by rendering and actions; the engine's call
    object implements it."""

    env: RunEnv
    call_number: int
    call_id: str
    cseq: int
    user_id: int
    local_port: int
    local_ip: str
    """The call's socket address (read only with ``RunEnv.per_call_local_ip``)."""
    last_message: SipMessageLike | None
    """Last accepted received message (source of ``[last_*]``)."""
    peer_tag: str | None
    """To-tag of the last received response."""
    route_set: str | None
    """Route set recorded by ``rrs`` (``<sip:a;lr>, <sip:b;lr>``), or None."""
    next_url: str | None
    """Remote target recorded by ``rrs`` (the Contact URI, or a strict router), or None."""
    request_uri: str | None
    """Request-URI of the last request the call sent other than ACK and CANCEL, or None."""
    variables: Variables
    rng: random.Random
    injection_line: int
    """This call's line in the default ``-inf`` file (-1 none)."""
    injection_lines: Mapping[str, int]
    """This call's line in every ``-inf`` file, by basename."""
    auth_challenge: str | None
    auth_challenge_is_proxy: bool
    auth_nonce_count: int
    tdm_circuit: int
    """The call's ``-tdmmap`` circuit (-1: none)."""
    media_port: int
    """The call's own RTP port (audio), 0 when the call has no media of its own."""
    video_port: int
    """The call's own video RTP port, 0 when none."""

    def media_keyword(self, name: str) -> str:
        """A value of the call's secure media (``[dtls_fingerprint]``, ``[ice_ufrag]`` ...);
        empty when the call has no media."""
        ...

    def crypto_keyword(self, name: str) -> str:
        """A SIPp 3.7 crypto keyword's value (``cryptokeyparams1audio``...): the call's own
        SDES keys. Raises RenderError when the call has no media to key."""
        ...


@dataclass
class BasicCallContext:
    """A plain implementation of :class:`CallContext` (tests, tools, the ``<init>`` pseudo-call)."""

    env: RunEnv
    variables: Variables
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    call_number: int = 1
    call_id: str = ""
    cseq: int = 0
    user_id: int = 0
    local_port: int = 0
    local_ip: str = ""
    last_message: SipMessageLike | None = None
    peer_tag: str | None = None
    route_set: str | None = None
    next_url: str | None = None
    request_uri: str | None = None
    injection_line: int = -1
    injection_lines: Mapping[str, int] = field(default_factory=dict)
    auth_challenge: str | None = None
    auth_challenge_is_proxy: bool = False
    tdm_circuit: int = -1
    auth_nonce_count: int = 1
    media_port: int = 0
    video_port: int = 0

    def media_keyword(self, name: str) -> str:
        return ""

    def crypto_keyword(self, name: str) -> str:
        raise RenderError(f"[{name}]: SRTP keys belong to a call's media; this context has none")
