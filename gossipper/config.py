"""Run configuration: one frozen record holding every supported command-line setting.

This is a pure layer: it imports only the standard library and ``gossipper.errors``. The
command line (``gossipper.cli.options``) converts strings into typed values and builds a
:class:`RunConfig`; later, JSON configuration files go through :meth:`RunConfig.from_mapping`.
Either way, :meth:`RunConfig.__post_init__` is the single place where values are checked, so
every ``RunConfig`` that exists is valid.

Units: every duration is a float number of seconds whose field name ends in ``_s``, whatever
SIPp's own default unit for the option is (``-d 500`` is milliseconds in SIPp and becomes
``pause_default_s=0.5`` here).
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from gossipper.errors import ConfigError
from gossipper.segment import ExecutionSegment, parse_segment

__all__ = [
    "ALL_DEFAULT_BEHAVIORS",
    "CALL_ID_TYPES",
    "IdentitySettings",
    "LoadSettings",
    "ProcessSettings",
    "TargetSettings",
    "TimerSettings",
    "TraceSettings",
    "TransportSettings",
    "KNOWN_TRANSPORT_MODES",
    "SUPPORTED_TRANSPORT_MODES",
    "TRACE_FORMATS",
    "RunConfig",
    "check_field",
    "rule_option",
    "rule_requirement",
    "parse_default_behaviors",
    "parse_tdm_map",
    "split_host_port",
    "HEP_TRANSPORTS",
]

# -t values: SIPp 3.6.1's (docs/sipp-behaviour.md, "Option families") and the WebSocket modes
# (w1/wn, ws1/wsn) gossipper adds.
KNOWN_TRANSPORT_MODES: tuple[str, ...] = (
    "u1",
    "un",
    "ui",
    "t1",
    "tn",
    "l1",
    "ln",
    "w1",
    "wn",
    "ws1",
    "wsn",
    "s1",
    "sn",
    "c1",
    "cn",
)
SUPPORTED_TRANSPORT_MODES: tuple[str, ...] = tuple(
    mode for mode in KNOWN_TRANSPORT_MODES if mode not in ("s1", "sn", "c1", "cn")
)
STREAM_TRANSPORTS: dict[str, str] = {
    "t": "TCP",
    "l": "TLS",
    "w": "WS",
    "ws": "WSS",
}
"""Stream -t families and the transport name each prints ("t1" -> "TCP")."""
TLS_VERSIONS: tuple[str, ...] = ("auto", "1.0", "1.1", "1.2", "1.3")
CALL_ID_TYPES: tuple[str, ...] = ("default", "uuid", "uuid-compact", "random", "timestamp")
"""SIPp 3.7's ``-cid_type`` generators (docs/compatibility.md, "-cid_type")."""
CALL_ID_TYPE_ALIASES: dict[str, str] = {
    "format": "default",
    "legacy": "default",
    "uuidcompact": "uuid-compact",
    "uuid32": "uuid-compact",
    "random-hex": "random",
    "time": "timestamp",
}
"""The other spellings SIPp 3.7 accepts for a ``-cid_type``, and the type each one means."""


def transport_name_for(mode: str) -> str:
    """What ``[transport]`` prints for a -t mode: "UDP", "TCP", "TLS", "WS" or "WSS"."""
    family = mode[:-1]
    return STREAM_TRANSPORTS.get(family, "UDP")


def is_stream_mode(mode: str) -> bool:
    """True for the connection-oriented -t modes (t1, tn, l1, ln, w1, wn, ws1, wsn)."""
    return mode[:-1] in STREAM_TRANSPORTS


def is_multi_socket_mode(mode: str) -> bool:
    """True for the one-socket-per-call modes (un, tn, ln, wn, wsn)."""
    return mode.endswith("n")


def is_per_ip_mode(mode: str) -> bool:
    """True for -t ui: one UDP socket per local IP of the first -inf file (-ip_field)."""
    return mode == "ui"


TRACE_FORMATS: tuple[str, ...] = ("sipp", "gossipper")

# Default behaviours (-default_behaviors; docs/sipp-behaviour.md, "Option families"). "cseq"
# exists only in SIPp HEAD; HEAD's "all" sets every bit, so it includes "cseq" too.
ALL_DEFAULT_BEHAVIORS: frozenset[str] = frozenset({"bye", "abortunexp", "pingreply", "cseq"})


def parse_default_behaviors(text: str) -> frozenset[str]:
    """Parse a ``-default_behaviors`` list such as ``all,-bye`` into a set of behaviour names.

    Items are comma separated and applied left to right starting from the empty set (as SIPp
    does): ``x`` or ``+x`` adds, ``-x`` removes; ``all`` stands for every behaviour and ``none``
    for no behaviour (``-all`` clears, ``-none`` changes nothing).
    """
    result: set[str] = set()
    for raw_item in text.split(","):
        item = raw_item.strip()
        if not item:
            continue
        remove = item.startswith("-")
        name = item[1:] if item[0] in "+-" else item
        name = name.lower()
        if name == "all":
            members: frozenset[str] = ALL_DEFAULT_BEHAVIORS
        elif name == "none":
            members = frozenset()
            if not remove:
                result.clear()
                continue
        elif name in ALL_DEFAULT_BEHAVIORS:
            members = frozenset({name})
        else:
            known = "all, none, " + ", ".join(sorted(ALL_DEFAULT_BEHAVIORS))
            raise ConfigError(
                f"-default_behaviors: unknown behaviour {item!r}; use a comma list of {known}"
                " (prefix - to remove, e.g. all,-bye)"
            )
        if remove:
            result -= members
        else:
            result |= members
    return frozenset(result)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TargetSettings:
    """The remote peer and the scenario to run."""

    # Remote peer and scenario.
    remote_host: str | None = None
    remote_port: int = 5060
    scenario_file: str | None = None
    scenario_name: str | None = None
    ooc_scenario_file: str | None = None
    """``-oocsf``: the scenario of requests with unknown Call-IDs (client mode)."""
    ooc_scenario_name: str | None = None
    """``-oocsn``: the same as a built-in name (``ooc_default``)."""
    rx_scenario_file: str | None = None
    """``-rxsf`` (SIPp 3.7 mixed mode): the server scenario run beside the client one."""
    rx_scenario_name: str | None = None
    """``-rxsn``: the same as a built-in name (``uas``)."""
    peer: str | None = None

    def __post_init__(self) -> None:
        _check_rules(self)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TransportSettings:
    """Transport and addressing: ``-t``, ``-i``, ``-p``, ``-rsa``, sockets, the control socket."""

    # Transport and addressing (docs/sipp-behaviour.md, "Option families").
    transport_mode: str = "u1"
    local_ip: str | None = None
    local_port: int | None = None
    bind_local: bool = False
    rsa_host: str | None = None
    rsa_port: int | None = None
    max_socket: int = 50000
    max_reconnect: int = 0
    reconnect_close: bool = True
    reconnect_sleep_s: float = 1.0
    tls_cert: str = "cacert.pem"
    tls_key: str = "cakey.pem"
    tls_ca: str | None = None
    tls_crl: str | None = None
    tls_version: str = "auto"
    tls_verify: bool = False
    ws_path: str = "/"
    ip_field: int = 0
    buff_size: int | None = None
    """``-buff_size``; None: not given (UDP sockets get 4 MiB, TCP/TLS keep the kernel's
    autotuned buffers). Given: SO_SNDBUF/SO_RCVBUF of every socket, as SIPp sets them (UDP
    never below 4 MiB)."""
    # SIPp 3.7: SO_BINDTODEVICE on every SIP socket; warn on send-buffer errors.
    bind_to_device: str | None = None
    sendbuffer_warn: bool = False
    control_ip: str = "0.0.0.0"
    control_port: int | None = None
    # 3PCC (docs/sipp-behaviour.md, "3PCC"): -3pcc host[:port], or -master/-slave NAME with
    # the -slave_cfg address book.
    twin_host: str | None = None
    twin_port: int = 6060
    master_name: str | None = None
    slave_name: str | None = None
    slave_cfg: str | None = None

    def __post_init__(self) -> None:
        _check_rules(self)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IdentitySettings:
    """Identity and call behaviour: ``-s``, ``-cid_str``, authentication, ``-aa``, injection."""

    # Identity and call behaviour.
    service: str = "service"
    call_id_template: str = "%u-%p@%s"
    call_id_type: str = "default"
    tdm_map: str | None = None
    base_cseq: int = 1
    auth_username: str | None = None
    auth_password: str = "password"
    auth_uri: str | None = None
    aka_k: str | None = None
    aka_op: str | None = None
    aka_amf: str | None = None
    media_ip: str | None = None
    media_port: int = 6000
    # Media (RTP): docs/media.md.
    min_rtp_port: int | None = None
    """``-min_rtp_port``; None: ``-mp`` (SIPp 3.7 makes -mp its alias)."""
    max_rtp_port: int = 65535
    rtp_echo: bool = False
    rtp_echo_buffer: int = 2048
    """``-mb``: the longest datagram echoed whole."""
    rtp_payload: int = 8
    rtp_buffsize: int = 65536
    rtp_threadtasks: int = 20
    """Accepted for SIPp command lines: one scheduler task sends every stream."""
    rtpcheck_debug: bool = False
    srtpcheck_debug: bool = False
    media_srtp: bool = False
    """``-media_srtp``: SRTP required on every call's media, even where the scenario's SDP is
    plain: SDES, or DTLS-SRTP answering a DTLS-SRTP offer (docs/media.md)."""
    media_reject_srtp: bool = False
    """``-media_reject_srtp``: never key SRTP; a=crypto is ignored, media is plain RTP."""
    # Secure media (issue 18): DTLS-SRTP, ICE-lite, TURN (docs/media.md).
    turn_server: str | None = None
    turn_user: str = ""
    turn_pass: str = ""
    turn_realm: str = ""
    dtls_cert: str | None = None
    dtls_key: str | None = None
    dtls_timeout_s: float = 10.0
    audio_tolerance: float = 1.0
    video_tolerance: float = 1.0
    random_base_ssrc: bool = False
    auto_answer: bool = False
    default_behaviors: frozenset[str] = ALL_DEFAULT_BEHAVIORS
    pause_msg_ign: bool = False
    callid_slash_ign: bool = False
    keys: Mapping[str, str] = dataclasses.field(default_factory=dict)
    globals_set: Mapping[str, str] = dataclasses.field(default_factory=dict)
    lost_pct: float = 0.0
    dynamic_start: int = 10000
    dynamic_max: int = 12000
    dynamic_step: int = 4
    injection_files: tuple[str, ...] = ()
    injection_indexes: tuple[tuple[str, int], ...] = ()
    rx_injection_file: str | None = None
    """``-rxinf``: the injection file of the ``-rxsf``/``-rxsn`` scenario."""

    def __post_init__(self) -> None:
        # Normalise containers so the record is immutable even when callers pass lists/dicts.
        _set(self, "keys", types.MappingProxyType(dict(self.keys)))
        _set(self, "globals_set", types.MappingProxyType(dict(self.globals_set)))
        _set(self, "injection_files", tuple(self.injection_files))
        _set(self, "injection_indexes", tuple((f, i) for f, i in self.injection_indexes))
        _set(self, "default_behaviors", frozenset(self.default_behaviors))
        _check_rules(self)
        _set(self, "call_id_type", CALL_ID_TYPE_ALIASES.get(self.call_id_type, self.call_id_type))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LoadSettings:
    """Call generation: rate, ramps, limits, users."""

    # Call generation (docs/sipp-behaviour.md, "Call generation").
    rate: float = 10.0
    rate_period_s: float = 1.0
    rate_scale: float = 1.0
    rate_increase: float = 0.0
    rate_interval_s: float | None = None
    rate_max: float | None = None
    no_rate_quit: bool = False
    max_calls: int | None = None
    max_open_calls: int | None = None
    users: int | None = None
    segment: str | None = None
    """``-segment I/N`` or ``a:b``: run one slice of the test (gossipper.segment)."""
    segment_sequence: str | None = None
    """``-segment_sequence 0,1/4,1/2,1``: the boundaries of all segments of the test."""

    def __post_init__(self) -> None:
        _check_rules(self)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TimerSettings:
    """Timers, timeouts and retransmissions."""

    # Timers, timeouts and retransmissions (docs/sipp-behaviour.md, "Retransmissions").
    timeout_s: float = 0.0
    timeout_error: bool = False
    sleep_s: float = 0.0
    pause_default_s: float = 0.0
    deadcall_wait_s: float = 33.0
    recv_timeout_s: float = 0.0
    send_timeout_s: float = 0.0
    max_retrans: int = 9
    max_invite_retrans: int = 5
    max_non_invite_retrans: int = 9
    no_retrans: bool = False
    rtcheck_loose: bool = False
    t2_s: float = 4.0

    def __post_init__(self) -> None:
        _check_rules(self)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ProcessSettings:
    """Process behaviour and performance knobs."""

    # Process behaviour and performance knobs.
    background: bool = False
    nostdin: bool = False
    interactive: bool = False
    """-interactive / ``gossipper tui``: the urwid interface instead of SIPp's live screen."""
    skip_rlimit: bool = False
    timer_resol_s: float = 0.001
    max_recv_loops: int = 1000
    max_sched_loops: int = 1000
    # The watchdog (gossipper.engine.watchdog): SIPp's defaults; -1 maxtriggers = no limit,
    # interval 0 = no watchdog.
    watchdog_interval_s: float = 0.4
    watchdog_reset_s: float = 600.0
    watchdog_minor_threshold_s: float = 0.5
    watchdog_major_threshold_s: float = 3.0
    watchdog_minor_maxtriggers: int = 120
    watchdog_major_maxtriggers: int = 10
    # -overload_queue N (a gossipper extension): a server behind its socket holds up to N
    # new INVITEs, each answered 100 Trying, instead of shedding them; 0 sheds (the default).
    overload_queue: int = 0
    # The HTTP API (gossipper.api; docs/api.md): off unless -api_addr is given.
    api_addr: str | None = None
    api_tls_cert: str | None = None
    api_tls_key: str | None = None
    api_users: str | None = None
    api_secret: str | None = None
    api_audit: str | None = None
    api_metrics_public: bool = False
    api_linger_s: float = 0.0
    # -workers N|auto (gossipper.workers): None runs in this process, as SIPp does.
    workers: str | None = None

    def __post_init__(self) -> None:
        _check_rules(self)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TraceSettings:
    """Statistics, traces and the summary document."""

    # Statistics and traces (docs/sipp-behaviour.md, "Outputs").
    screen_refresh_s: float = 1.0
    trace_stat: bool = False
    stat_file: str | None = None
    dump_period_s: float = 60.0
    stat_delimiter: str = ";"
    periodic_rtd: bool = False
    rfc3339: bool = False
    """SIPp 3.7 ``-rfc3339``: dates in the SIPp-format files, screens and ``[timestamp]``."""
    trace_msg: bool = False
    message_file: str | None = None
    message_overwrite: bool = True
    trace_shortmsg: bool = False
    shortmessage_file: str | None = None
    shortmessage_overwrite: bool = True
    trace_counts: bool = False
    trace_err: bool = False
    error_file: str | None = None
    error_overwrite: bool = True
    trace_error_codes: bool = False
    trace_calldebug: bool = False
    calldebug_file: str | None = None
    calldebug_overwrite: bool = True
    trace_screen: bool = False
    screen_file: str | None = None
    screen_overwrite: bool = True
    trace_rtt: bool = False
    rtt_freq: int = 200
    trace_logs: bool = False
    log_file: str | None = None
    trace_media: bool = False
    """``-trace_media``: one CSV row per RTP stream when its call's media closes."""
    log_overwrite: bool = True
    ringbuffer_files: int = 0
    ringbuffer_size: int = 0
    max_log_size: int = 0

    # gossipper extensions.
    summary_json: str | None = None
    trace_format: str = "sipp"
    # HEP3 mirroring (gossipper.hep; the Go tool's -hep_* options).
    hep_addr: str | None = None
    """``host:port`` of the capture server; None: no mirroring."""
    hep_capture_id: int = 0
    hep_password: str | None = None
    hep_node_name: str | None = None
    hep_transport: str = "udp"
    hep_queue: int = 10000
    """Packets waiting for the collector at most; beyond, new ones are dropped and counted."""
    report_html: str | None = None
    """``-report_html FILE``: the HTML report of the run, written at the end (docs/reports.md)."""
    junit: str | None = None
    """``-junit FILE``: JUnit XML of the gates and failure reasons, written at the end."""
    gates: tuple[str, ...] = ()
    """``-gate EXPR`` (repeatable): pass/fail conditions on the summary's figures."""
    gate_abort: bool = False
    """``-gate_abort``: stop the run as soon as a gate can no longer pass."""

    def __post_init__(self) -> None:
        _set(self, "gates", tuple(self.gates))  # immutable even when given a list
        _check_rules(self)


_GROUPS: dict[str, type[Any]] = {
    "target": TargetSettings,
    "transport": TransportSettings,
    "identity": IdentitySettings,
    "load": LoadSettings,
    "timers": TimerSettings,
    "process": ProcessSettings,
    "traces": TraceSettings,
}
"""Group attribute of ``RunConfig`` -> its settings record, in declaration order."""

_FIELD_GROUP: dict[str, str] = {
    field.name: group
    for group, settings_type in _GROUPS.items()
    for field in dataclasses.fields(settings_type)
}
"""Flat setting name -> the group holding it."""


def _check_rules(settings: object) -> None:
    for field in dataclasses.fields(settings):  # type: ignore[arg-type]
        if field.name in _RULES:
            check_field(field.name, getattr(settings, field.name))


def _check_secure_media(identity: IdentitySettings) -> None:
    """-turn_server needs credentials and a HOST[:PORT]; -dtls_cert and -dtls_key go together."""
    if identity.turn_server is not None:
        if not identity.turn_user or not identity.turn_pass:
            raise ConfigError(
                "-turn_server needs -turn_user and -turn_pass (long-term credentials)"
            )
        text = identity.turn_server
        host, _, port = text.rpartition(":")
        bracketed = text.startswith("[") and "]:" in text  # [IPv6]:port
        colons = text.count(":")  # none: the default port 3478
        if not text or (
            not bracketed and (colons > 1 or colons == 1 and not (host and port.isdigit()))
        ):
            raise ConfigError(
                "-turn_server: expected HOST[:PORT] (e.g. 10.0.0.5:3478, [::1]:3478), "
                f"got {identity.turn_server!r}"
            )
    if (identity.dtls_cert is None) != (identity.dtls_key is None):
        raise ConfigError("-dtls_cert and -dtls_key go together: give both, or neither")


class RunConfig:
    """Every supported SIPp/gossipper command-line setting, typed and validated, grouped by
    option family (docs/sipp-behaviour.md, "Option families"): ``config.load.rate``,
    ``config.transport.local_port``, ``config.traces.trace_stat`` ...

    It is built from flat keyword arguments, one per setting (``RunConfig(rate=5.0)``), as the
    option table and JSON configurations name them; each group validates its own fields and the
    record checks the combinations. Defaults are SIPp 3.6.1's. ``None`` means "not given; the
    engine decides" (for example ``local_port=None`` lets the transport try 5060 upwards as SIPp
    does, and ``max_open_calls=None`` means SIPp's computed ``-l`` default). When neither
    ``scenario_file`` nor ``scenario_name`` is given SIPp runs its built-in ``uac``; read
    :attr:`effective_scenario_name` rather than repeating that rule.
    """

    __slots__ = ("target", "transport", "identity", "load", "timers", "process", "traces")

    target: TargetSettings
    transport: TransportSettings
    identity: IdentitySettings
    load: LoadSettings
    timers: TimerSettings
    process: ProcessSettings
    traces: TraceSettings

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - _FIELD_GROUP.keys())
        if unknown:
            raise TypeError(f"RunConfig got unexpected setting(s): {', '.join(unknown)}")
        per_group: dict[str, dict[str, Any]] = {group: {} for group in _GROUPS}
        for name, value in values.items():
            per_group[_FIELD_GROUP[name]][name] = value
        for group, settings_type in _GROUPS.items():
            object.__setattr__(self, group, settings_type(**per_group[group]))
        self._check_combinations()

    @property
    def effective_scenario_name(self) -> str | None:
        """The built-in scenario to run: ``scenario_name``, or ``"uac"`` when no scenario was
        given at all (SIPp's default), or None when ``scenario_file`` is used."""
        target = self.target
        if target.scenario_file is not None:
            return None
        return target.scenario_name if target.scenario_name is not None else "uac"

    @property
    def execution_segment(self) -> ExecutionSegment | None:
        """``-segment``'s slice, or None for the whole test (also for ``0:1`` and ``0/1``)."""
        load = self.load
        if load.segment is None:
            return None
        segment = parse_segment(load.segment, load.segment_sequence)
        return None if segment.is_whole else segment

    @property
    def has_rx_scenario(self) -> bool:
        """``-rxsf``/``-rxsn`` given: SIPp 3.7's mixed mode (a client and a server scenario)."""
        return self.target.rx_scenario_file is not None or self.target.rx_scenario_name is not None

    @property
    def has_ooc_scenario(self) -> bool:
        """``-oocsf``/``-oocsn`` given: requests with unknown Call-IDs run that scenario."""
        return (
            self.target.ooc_scenario_file is not None or self.target.ooc_scenario_name is not None
        )

    def _check_combinations(self) -> None:
        target, identity, load, traces = self.target, self.identity, self.load, self.traces
        if target.scenario_file is not None and target.scenario_name is not None:
            raise ConfigError("-sf and -sn cannot be combined: keep only one of them")
        if target.ooc_scenario_file is not None and target.ooc_scenario_name is not None:
            raise ConfigError("-oocsf and -oocsn cannot be combined: keep only one of them")
        if target.rx_scenario_file is not None and target.rx_scenario_name is not None:
            raise ConfigError("-rxsf and -rxsn cannot be combined: keep only one of them")
        if identity.rx_injection_file is not None and not self.has_rx_scenario:
            raise ConfigError(
                "-rxinf needs a mixed-mode server scenario: add -rxsf FILE or -rxsn NAME"
            )
        if load.max_open_calls is not None and load.users is not None:
            raise ConfigError("-l and -users cannot be combined: drop -l")
        if identity.media_srtp and identity.media_reject_srtp:
            raise ConfigError(
                "-media_srtp and -media_reject_srtp cannot be combined: keep only one of them"
            )
        low_rtp = (
            identity.min_rtp_port if identity.min_rtp_port is not None else identity.media_port
        )
        if identity.max_rtp_port < low_rtp + 1:
            raise ConfigError(
                f"-max_rtp_port {identity.max_rtp_port} leaves no RTP/RTCP port pair above"
                f" {low_rtp} (-min_rtp_port, or -mp): raise -max_rtp_port"
            )
        _check_secure_media(identity)
        if load.segment is not None:
            try:
                parse_segment(load.segment, load.segment_sequence)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        elif load.segment_sequence is not None:
            raise ConfigError("-segment_sequence needs -segment a:b (which slice to run)")
        if traces.max_log_size and traces.ringbuffer_size:
            # SIPp either rotates (ring buffer) or stops writing at a size, not both.
            raise ConfigError(
                "-max_log_size and -ringbuffer_size cannot be combined: keep only one of them"
            )
        unknown = sorted(identity.default_behaviors - ALL_DEFAULT_BEHAVIORS)
        if unknown:
            raise ConfigError(
                f"-default_behaviors: unknown behaviour {unknown[0]!r};"
                f" known: {', '.join(sorted(ALL_DEFAULT_BEHAVIORS))}"
            )
        for table, option in ((identity.keys, "-key"), (identity.globals_set, "-set")):
            for key, value in table.items():
                if not isinstance(key, str) or not isinstance(value, str):
                    raise ConfigError(f"{option} names and values must be strings")
                if not key:
                    raise ConfigError(f"{option} needs a non-empty name")
        self._check_3pcc()
        if is_per_ip_mode(self.transport.transport_mode) and not identity.injection_files:
            raise ConfigError(
                "-t ui needs an injection file (-inf FILE) whose field -ip_field N holds the"
                " local IPs"
            )
        basenames = {_basename(path) for path in identity.injection_files}
        for file_name, field in identity.injection_indexes:
            if _basename(file_name) not in basenames:
                raise ConfigError(
                    f"-infindex {file_name} {field}: no -inf file is named"
                    f" {_basename(file_name)}; add -inf with that file"
                )
            if field < 0:
                raise ConfigError(f"-infindex {file_name}: field must be >= 0, got {field}")

    def _check_3pcc(self) -> None:
        transport = self.transport
        extended = transport.master_name is not None or transport.slave_name is not None
        if transport.master_name is not None and transport.slave_name is not None:
            raise ConfigError("-master and -slave cannot be combined: an instance is one of them")
        if extended and transport.twin_host is not None:
            raise ConfigError(
                "-3pcc cannot be combined with -master/-slave: use -3pcc for two twins,"
                " -master/-slave with -slave_cfg for named peers"
            )
        if extended and transport.slave_cfg is None:
            raise ConfigError(
                "-master/-slave need -slave_cfg FILE (lines name;host:port, one per instance)"
            )
        if transport.slave_cfg is not None and not extended:
            raise ConfigError("-slave_cfg needs -master NAME or -slave NAME")

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> RunConfig:
        """Build a config from a plain mapping (e.g. parsed JSON) of field name -> value.

        Unknown keys are refused with a ConfigError listing them. JSON shapes are accepted for
        the container fields (lists for tuples/sets, objects for mappings, lists of
        ``[file, field]`` pairs for ``injection_indexes``) and ints for float fields.
        """
        field_types = _field_types()
        unknown = sorted(key for key in data if key not in field_types)
        if unknown:
            import difflib  # only for this error's hint (start-up: docs/performance.md)

            hints = []
            for key in unknown:
                close = difflib.get_close_matches(str(key), list(field_types), n=1)
                hints.append(f"{key} (did you mean {close[0]}?)" if close else str(key))
            raise ConfigError(f"unknown configuration keys: {', '.join(hints)}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            values[key] = _coerce(key, field_types[key], value)
        return cls(**values)

    def replace(self, **changes: Any) -> RunConfig:
        """Return a copy with some settings changed (flat names; validated again)."""
        return RunConfig(**{**self.values(), **changes})

    def values(self) -> dict[str, Any]:
        """Every setting by its flat name (the keys of :meth:`from_mapping`)."""
        return {name: getattr(getattr(self, group), name) for name, group in _FIELD_GROUP.items()}

    @staticmethod
    def field_names() -> tuple[str, ...]:
        """The flat names of every setting, in declaration order."""
        return tuple(_FIELD_GROUP)

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunConfig):
            return NotImplemented
        return all(getattr(self, g) == getattr(other, g) for g in _GROUPS)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, g) for g in _GROUPS))

    def __repr__(self) -> str:
        groups = ", ".join(f"{g}={getattr(self, g)!r}" for g in _GROUPS)
        return f"RunConfig({groups})"


def _set(settings: object, name: str, value: object) -> None:
    # Frozen dataclass: normalisation in __post_init__ has to bypass __setattr__.
    object.__setattr__(settings, name, value)


def _basename(path: str) -> str:
    # SIPp refers to injection files by the part after the last '/'
    # (docs/sipp-behaviour.md, "Injection files").
    return path.rsplit("/", 1)[-1]


# --- per-field value rules -------------------------------------------------------------------

_Predicate = Callable[[Any], bool]


def _non_negative(value: Any) -> bool:
    return bool(value >= 0)


def _share(value: Any) -> bool:
    return bool(0 <= value <= 1)


def _positive(value: Any) -> bool:
    return bool(value > 0)


def _at_least_one(value: Any) -> bool:
    return bool(value >= 1)


def _port(value: Any) -> bool:
    return bool(0 <= value <= 65535)


_API_ADDR = re.compile(r"(?:(?:\[[0-9A-Fa-f:.]+\]|[^:\[\]]*):)?(\d{1,5})")


def _api_addr(value: Any) -> bool:
    """HOST:PORT, [V6]:PORT, :PORT or PORT (gossipper.api.serve.parse_api_addr)."""
    match = _API_ADDR.fullmatch(str(value).strip())
    return match is not None and int(match.group(1)) <= 65535


def _remote_port(value: Any) -> bool:
    return bool(1 <= value <= 65535)


def _percent(value: Any) -> bool:
    return bool(0 <= value <= 100)


def _workers(value: Any) -> bool:
    return value == "auto" or (
        isinstance(value, str) and value.isdigit() and 1 <= int(value) <= MAX_WORKERS
    )


MAX_WORKERS = 1024
"""-workers: more processes than this is a typo, not a load test."""


def _non_empty(value: Any) -> bool:
    return bool(value)


def _known_transport(value: Any) -> bool:
    return value in KNOWN_TRANSPORT_MODES


def _trace_format(value: Any) -> bool:
    return value in TRACE_FORMATS


def _tls_version(value: Any) -> bool:
    return value in TLS_VERSIONS


_TDM_MAP = re.compile(r"\{(\d+)-(\d+)\}\{(\d+)\}\{(\d+)-(\d+)\}\{(\d+)-(\d+)\}")
_TDM_MAX_CIRCUITS = 1 << 20


def parse_tdm_map(text: str) -> tuple[int, int, int, int, int, int, int] | None:
    """``-tdmmap {a-b}{h}{c-d}{e-f}`` as (a, b, h, c, d, e, f), or None when malformed.

    SIPp reads the same seven integers (its help: ``{0-3}{99}{5-8}{1-31}``); each range must
    run low to high, and the map is capped at about a million circuits (one flag each).
    """
    match = _TDM_MAP.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    a, b, h, c, d, e, f = (int(group) for group in match.groups())
    if a > b or c > d or e > f:
        return None
    if (b - a + 1) * (d - c + 1) * (f - e + 1) > _TDM_MAX_CIRCUITS:
        return None
    return a, b, h, c, d, e, f


HEP_TRANSPORTS = ("udp", "tcp")


def _host_port(value: Any) -> bool:
    """``host:port`` (``[v6]:port`` for IPv6) with a port 1-65535."""
    return split_host_port(value) is not None


def split_host_port(text: Any) -> tuple[str, int] | None:
    """``host:port`` or ``[v6 address]:port`` as (host, port), or None when malformed."""
    if not isinstance(text, str):
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        return None
    if not host or any(c.isspace() for c in host):
        return None
    return host, int(port)


def _hep_transport(value: Any) -> bool:
    return value in HEP_TRANSPORTS


def _uint32(value: Any) -> bool:
    return bool(0 <= value <= 0xFFFFFFFF)


def _call_id_type(value: Any) -> bool:
    return value in CALL_ID_TYPES or value in CALL_ID_TYPE_ALIASES


def _url_path(value: Any) -> bool:
    return (
        isinstance(value, str)
        and value.startswith("/")
        and not any(c.isspace() or c == "#" for c in value)
    )


def _always(value: Any) -> bool:
    return True


def _at_least_minus_one(value: Any) -> bool:
    return bool(value >= -1)


def _aka_value(length: int) -> _Predicate:
    """An AKA parameter: 0x and two hex digits per byte, or text of at most ``length``
    latin-1 bytes (zero-filled, as SIPp does)."""

    def check(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if value.startswith("0x"):
            digits = value[2:]
            return len(digits) == 2 * length and all(c in "0123456789abcdefABCDEF" for c in digits)
        return len(value) <= length and all(ord(c) < 256 for c in value)

    return check


_NON_NEGATIVE_NUMBER = "a non-negative number"
_SHARE = "a number from 0.0 to 1.0"
_NON_NEGATIVE_INTEGER = "a non-negative integer"
_NON_NEGATIVE_DURATION = "a non-negative duration"
_POSITIVE_DURATION = "a positive duration"
_INTEGER_AT_LEAST_1 = "an integer >= 1"

# field -> (option shown in messages, requirement phrase, predicate). Applied to set values
# only (None always passes: it means "not given"). The option names must match the option
# table in gossipper.cli.options (a test checks this).
_RULES: dict[str, tuple[str, str, _Predicate]] = {
    "remote_host": ("remote host", "a non-empty host name or address", _non_empty),
    "remote_port": ("remote port", "a port number 1-65535", _remote_port),
    "scenario_file": ("-sf", "a non-empty file name", _non_empty),
    "scenario_name": ("-sn", "a non-empty scenario name", _non_empty),
    "ooc_scenario_file": ("-oocsf", "a non-empty file name", _non_empty),
    "ooc_scenario_name": ("-oocsn", "a non-empty scenario name", _non_empty),
    "rx_scenario_file": ("-rxsf", "a non-empty file name", _non_empty),
    "rx_scenario_name": ("-rxsn", "a non-empty scenario name", _non_empty),
    "rx_injection_file": ("-rxinf", "a non-empty file name", _non_empty),
    "peer": ("-peer", "a non-empty scenario name", _non_empty),
    "transport_mode": (
        "-t",
        "one of " + ", ".join(KNOWN_TRANSPORT_MODES),
        _known_transport,
    ),
    "local_port": ("-p", "a port number 0-65535", _port),
    "rsa_host": ("-rsa", "a non-empty host name or address", _non_empty),
    "rsa_port": ("-rsa", "a port number 1-65535", _remote_port),
    "max_socket": ("-max_socket", _INTEGER_AT_LEAST_1, _at_least_one),
    "max_reconnect": ("-max_reconnect", _NON_NEGATIVE_INTEGER, _non_negative),
    "reconnect_sleep_s": ("-reconnect_sleep", _NON_NEGATIVE_DURATION, _non_negative),
    "tls_cert": ("-tls_cert", "a non-empty file name", _non_empty),
    "tls_key": ("-tls_key", "a non-empty file name", _non_empty),
    "tls_ca": ("-tls_ca", "a non-empty file name", _non_empty),
    "tls_crl": ("-tls_crl", "a non-empty file name", _non_empty),
    "tls_version": ("-tls_version", "one of " + ", ".join(TLS_VERSIONS), _tls_version),
    "ws_path": ("-ws_path", "a URL path starting with /", _url_path),
    "ip_field": ("-ip_field", _NON_NEGATIVE_INTEGER, _non_negative),
    "buff_size": ("-buff_size", _INTEGER_AT_LEAST_1, _at_least_one),
    "control_port": ("-cp", "a port number 0-65535", _port),
    "api_addr": ("-api_addr", "HOST:PORT, [IPv6]:PORT or PORT (e.g. 127.0.0.1:8080)", _api_addr),
    "api_linger_s": ("-api_linger", _NON_NEGATIVE_DURATION, _non_negative),
    "workers": ("-workers", "a number of processes 1-1024 or auto", _workers),
    "bind_to_device": ("-bind_to_device", "a non-empty network interface name", _non_empty),
    "call_id_type": ("-cid_type", "one of " + ", ".join(CALL_ID_TYPES), _call_id_type),
    "tdm_map": (
        "-tdmmap",
        "a circuit map {a-b}{h}{c-d}{e-f} such as {0-3}{99}{5-8}{1-31} (each range low-high)",
        lambda value: parse_tdm_map(value) is not None,
    ),
    "base_cseq": ("-base_cseq", _NON_NEGATIVE_INTEGER, _non_negative),
    "media_port": ("-mp", "a port number 0-65535", _port),
    "min_rtp_port": ("-min_rtp_port", "a port number 1-65535", lambda value: 1 <= value <= 65535),
    "max_rtp_port": ("-max_rtp_port", "a port number 1-65535", lambda value: 1 <= value <= 65535),
    "rtp_echo_buffer": ("-mb", _INTEGER_AT_LEAST_1, _at_least_one),
    "rtp_payload": ("-rtp_payload", "a payload type 0-127", lambda value: 0 <= value <= 127),
    "rtp_buffsize": ("-rtp_buffsize", _INTEGER_AT_LEAST_1, _at_least_one),
    "rtp_threadtasks": ("-rtp_threadtasks", _INTEGER_AT_LEAST_1, _at_least_one),
    "audio_tolerance": ("-audiotolerance", _SHARE, _share),
    "video_tolerance": ("-videotolerance", _SHARE, _share),
    "lost_pct": ("-lost", "a percentage between 0 and 100", _percent),
    "rate": ("-r", _NON_NEGATIVE_NUMBER, _non_negative),
    "rate_period_s": ("-rp", _POSITIVE_DURATION, _positive),
    "rate_scale": ("-rate_scale", "a positive number", _positive),
    "rate_increase": ("-rate_increase", "a number", _always),
    "rate_interval_s": ("-rate_interval", _POSITIVE_DURATION, _positive),
    "rate_max": ("-rate_max", _NON_NEGATIVE_NUMBER, _non_negative),
    "max_calls": ("-m", _NON_NEGATIVE_INTEGER, _non_negative),
    "max_open_calls": ("-l", _INTEGER_AT_LEAST_1, _at_least_one),
    "users": ("-users", _INTEGER_AT_LEAST_1, _at_least_one),
    "timeout_s": ("-timeout", _NON_NEGATIVE_DURATION, _non_negative),
    "sleep_s": ("-sleep", _NON_NEGATIVE_DURATION, _non_negative),
    "pause_default_s": ("-d", _NON_NEGATIVE_DURATION, _non_negative),
    "deadcall_wait_s": ("-deadcall_wait", _NON_NEGATIVE_DURATION, _non_negative),
    "recv_timeout_s": ("-recv_timeout", _NON_NEGATIVE_DURATION, _non_negative),
    "dtls_timeout_s": ("-dtls_timeout", _POSITIVE_DURATION, _positive),
    "send_timeout_s": ("-send_timeout", _NON_NEGATIVE_DURATION, _non_negative),
    "max_retrans": ("-max_retrans", _NON_NEGATIVE_INTEGER, _non_negative),
    "max_invite_retrans": ("-max_invite_retrans", _NON_NEGATIVE_INTEGER, _non_negative),
    "max_non_invite_retrans": ("-max_non_invite_retrans", _NON_NEGATIVE_INTEGER, _non_negative),
    "t2_s": ("-T2", _POSITIVE_DURATION, _positive),
    "timer_resol_s": ("-timer_resol", _POSITIVE_DURATION, _positive),
    "max_recv_loops": ("-max_recv_loops", _INTEGER_AT_LEAST_1, _at_least_one),
    "max_sched_loops": ("-max_sched_loops", _INTEGER_AT_LEAST_1, _at_least_one),
    "watchdog_interval_s": ("-watchdog_interval", _NON_NEGATIVE_DURATION, _non_negative),
    "overload_queue": ("-overload_queue", _NON_NEGATIVE_INTEGER, _non_negative),
    "watchdog_reset_s": ("-watchdog_reset", _NON_NEGATIVE_DURATION, _non_negative),
    "watchdog_minor_threshold_s": ("-watchdog_minor_threshold", _POSITIVE_DURATION, _positive),
    "watchdog_major_threshold_s": ("-watchdog_major_threshold", _POSITIVE_DURATION, _positive),
    "watchdog_minor_maxtriggers": (
        "-watchdog_minor_maxtriggers",
        "an integer >= 0, or -1 for no limit",
        _at_least_minus_one,
    ),
    "watchdog_major_maxtriggers": (
        "-watchdog_major_maxtriggers",
        "an integer >= 0, or -1 for no limit",
        _at_least_minus_one,
    ),
    "aka_k": ("-aka_K", "0x and 32 hex digits, or text of at most 16 bytes", _aka_value(16)),
    "aka_op": ("-aka_OP", "0x and 32 hex digits, or text of at most 16 bytes", _aka_value(16)),
    "aka_amf": ("-aka_AMF", "0x and 4 hex digits, or text of at most 2 bytes", _aka_value(2)),
    "screen_refresh_s": ("-f", _POSITIVE_DURATION, _positive),
    "dump_period_s": ("-fd", _POSITIVE_DURATION, _positive),
    "stat_delimiter": ("-stat_delimiter", "a non-empty string", _non_empty),
    "rtt_freq": ("-rtt_freq", _INTEGER_AT_LEAST_1, _at_least_one),
    "ringbuffer_files": ("-ringbuffer_files", _NON_NEGATIVE_INTEGER, _non_negative),
    "ringbuffer_size": ("-ringbuffer_size", _NON_NEGATIVE_INTEGER, _non_negative),
    "max_log_size": ("-max_log_size", _NON_NEGATIVE_INTEGER, _non_negative),
    "trace_format": ("-trace_format", "one of " + ", ".join(TRACE_FORMATS), _trace_format),
    "hep_addr": ("-hep_addr", "host:port (IPv6 as [address]:port)", _host_port),
    "hep_capture_id": ("-hep_capture_id", "an integer 0-4294967295", _uint32),
    "hep_password": ("-hep_password", "a non-empty password", _non_empty),
    "hep_node_name": ("-hep_node_name", "a non-empty name", _non_empty),
    "hep_transport": ("-hep_transport", "udp or tcp", _hep_transport),
    "hep_queue": ("-hep_queue", _INTEGER_AT_LEAST_1, _at_least_one),
}


def rule_option(field: str) -> str | None:
    """The option name a field's validation messages use, or None if the field has no rule."""
    rule = _RULES.get(field)
    return rule[0] if rule else None


def rule_requirement(field: str) -> str | None:
    """The requirement phrase of a field's rule (``"a non-negative number"``), or None."""
    rule = _RULES.get(field)
    return rule[1] if rule else None


def check_field(
    field: str, value: object, shown: str | None = None, option: str | None = None
) -> None:
    """Check one field value against its rule; raise ConfigError naming the option.

    ``shown`` is the text the user typed and ``option`` the option name they used (the CLI
    passes both so the message quotes the original token, e.g.
    ``-r must be a non-negative number, got '-3'``).
    """
    rule = _RULES.get(field)
    if rule is None or value is None:
        return
    rule_option_name, requirement, predicate = rule
    option = option or rule_option_name
    if field == "transport_mode" and value in KNOWN_TRANSPORT_MODES:
        if value not in SUPPORTED_TRANSPORT_MODES:
            raise ConfigError(_UNSUPPORTED_MODES.get(value, f"-t {value} is not supported yet"))
        return
    if isinstance(value, float) and not math.isfinite(value):
        ok = False
    else:
        ok = predicate(value)
    if not ok:
        text = shown if shown is not None else _show(value)
        raise ConfigError(f"{option} must be {requirement}, got {text!r}")


_UNSUPPORTED_MODES = {
    **{
        mode: f"-t {mode}: gossipper has no SCTP transport; use t{mode[1]} (TCP) or"
        f" u{mode[1]} (UDP)"
        for mode in ("s1", "sn")
    },
    **{
        mode: f"-t {mode}: SIPp's compression-plugin modes are not supported (SIPp ships no"
        f" plugin); use u{mode[1]}"
        for mode in ("c1", "cn")
    },
}


def _show(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- from_mapping type coercion ---------------------------------------------------------------

_FIELD_TYPES: dict[str, Any] = {}


def _field_types() -> dict[str, Any]:
    """Every field's type, resolved at first use: evaluating the annotations costs every
    run's start-up ~5 ms, and only configurations given as mappings (files, the API) need
    them."""
    if not _FIELD_TYPES:
        for settings_type in _GROUPS.values():
            _FIELD_TYPES.update(typing.get_type_hints(settings_type))
    return _FIELD_TYPES


def _type_error(key: str, expected: str, value: object) -> ConfigError:
    return ConfigError(f"configuration key {key!r} must be {expected}, got {value!r}")


def _coerce(key: str, hint: Any, value: object) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _coerce(key, inner, value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _type_error(key, "true or false", value)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _type_error(key, "an integer", value)
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _type_error(key, "a number", value)
    if hint is str:
        if isinstance(value, str):
            return value
        raise _type_error(key, "a string", value)
    if origin is frozenset:
        if isinstance(value, list | tuple | set | frozenset) and all(
            isinstance(item, str) for item in value
        ):
            return frozenset(value)
        if isinstance(value, str):
            return parse_default_behaviors(value)
        raise _type_error(key, "a list of strings", value)
    if origin is Mapping:
        if isinstance(value, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            return dict(value)
        raise _type_error(key, "an object of string values", value)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _type_error(key, "a list", value)
        if args == (str, ...):
            if all(isinstance(item, str) for item in value):
                return tuple(value)
            raise _type_error(key, "a list of strings", value)
        # tuple[tuple[str, int], ...]: injection indexes as [file, field] pairs.
        pairs = []
        for item in value:
            if (
                isinstance(item, list | tuple)
                and len(item) == 2
                and isinstance(item[0], str)
                and isinstance(item[1], int)
                and not isinstance(item[1], bool)
            ):
                pairs.append((item[0], item[1]))
            else:
                raise _type_error(key, "a list of [file, field] pairs", value)
        return tuple(pairs)
    raise AssertionError(f"no coercion for {key}: {hint!r}")  # a new field type was added
