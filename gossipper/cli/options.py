"""The command line: one option table, one parser, and the help generated from them.

Every option SIPp 3.6.1 knows (plus the SIPp 3.7 options of SIPp's option list and
gossipper's own extensions) and every option of a subcommand such as ``gossipper sim`` is
declared once in :data:`OPTIONS`, with the :class:`Scope` of the command lines that accept it.
The parser, ``-h`` (``gossipper sim -h``) and ``docs/cli.md`` are all derived from that table,
so they cannot drift apart. Options marked ``NOT_YET`` are recognised (so a SIPp command line
gets a precise answer) but refused. The subcommands themselves are routed by ``cli.main``
(see ``cli.commands``); their arguments come back here.

Regenerate the documentation with ``python -m gossipper.cli.options --markdown > docs/cli.md``.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from gossipper.config import (
    KNOWN_TRANSPORT_MODES,
    TRACE_FORMATS,
    RunConfig,
    check_field,
    parse_default_behaviors,
    rule_requirement,
)
from gossipper.errors import ConfigError

__all__ = [
    "DEFAULT_SEED",
    "OPTIONS",
    "RUN",
    "SIM",
    "Action",
    "Kind",
    "OptionSpec",
    "ParsedCommand",
    "Scope",
    "Status",
    "command_line_items",
    "format_help",
    "format_markdown",
    "option_by_name",
    "parse_command_line",
    "parse_host_port",
]


class Kind(enum.Enum):
    """How an option consumes arguments and converts them."""

    HELP = "help"  # no value, optionally followed by the word "stat"
    VERSION = "version"  # no value
    DUMP = "dump"  # one value: a built-in scenario name
    FLAG = "flag"  # no value; sets its field to True
    BOOL = "bool"  # one value: true/false/yes/no or an integer
    INT = "int"  # one value: decimal or 0x hex
    FLOAT = "float"  # one value: a decimal number
    TIME = "time"  # one value: number with optional ms/s/m/h suffix; stored as seconds
    STR = "str"  # one value, kept as typed
    PORT = "port"  # one value: integer 0-65535
    CHOICE = "choice"  # one value out of OptionSpec.choices
    RTCHECK = "rtcheck"  # one value: full or loose
    HOSTPORT = "hostport"  # one value: host[:port], IPv6 as [addr]:port
    BEHAVIORS = "behaviors"  # one value: comma list such as all,-bye
    NO_BEHAVIORS = "no_behaviors"  # no value; clears the default behaviours (-nd)
    APPEND = "append"  # one value, repeatable, collected in order
    KEY_VALUE = "key_value"  # two values: name and value, repeatable
    FILE_FIELD = "file_field"  # two values: file name and field number (-infindex)
    NONNEGATIVE = "nonnegative"  # one value: a finite number >= 0
    PERCENT = "percent"  # one value: a number in [0, 100]


_ARITY: dict[Kind, int] = {
    Kind.HELP: 0,
    Kind.VERSION: 0,
    Kind.FLAG: 0,
    Kind.NO_BEHAVIORS: 0,
    Kind.KEY_VALUE: 2,
    Kind.FILE_FIELD: 2,
}


class Status(enum.Enum):
    """Whether gossipper implements an option yet."""

    SUPPORTED = "supported"
    NOT_YET = "not yet"
    UNAVAILABLE = "unavailable"
    """Recognised and refused for good: what it needs cannot exist here (``refusal`` says
    why)."""


SUPPORTED = Status.SUPPORTED
NOT_YET = Status.NOT_YET
UNAVAILABLE = Status.UNAVAILABLE


class Scope(enum.Flag):
    """Which command lines accept an option.

    ``RUN`` is a SIPp-style run (``gossipper [options] [remote_host]``), ``SIM`` is
    ``gossipper sim``. A SIPp option is in both unless it has no meaning in a simulation
    (``-bg``, ``-cp``, ...); the simulation's own options (``-seed``, ``-net_loss``, ...) are
    ``SIM`` only. Out of scope, an option is recognised and refused with a precise message.
    """

    RUN = enum.auto()
    SIM = enum.auto()
    RTP_SEND = enum.auto()
    """``gossipper -rtp_send ...``: the standalone RTP sender (no SIP)."""


RUN = Scope.RUN
SIM = Scope.SIM
RTP_SEND = Scope.RTP_SEND
RUN_AND_SIM = Scope.RUN | Scope.SIM


@dataclasses.dataclass(frozen=True, slots=True)
class OptionSpec:
    """One command-line option.

    ``default`` is display text for help and docs (the authoritative default is the
    :class:`RunConfig` field); ``unit`` is the default unit of a TIME option (``ms`` or ``s``);
    ``value_help`` completes the "needs a value" message. ``scope`` says which command lines
    accept the option; the values of options outside ``RUN`` are not :class:`RunConfig` fields
    and land in :attr:`ParsedCommand.values` under ``dest``.
    """

    name: str
    kind: Kind
    dest: str | None
    default: str
    unit: str
    metavar: str
    help: str
    status: Status
    group: str = ""
    value_help: str = ""
    choices: tuple[str, ...] = ()
    scope: Scope = RUN_AND_SIM
    refusal: str = ""
    """Why an ``UNAVAILABLE`` option is refused (``SCTP``: the kernel's answer is added)."""

    @property
    def arity(self) -> int:
        """How many arguments follow the option (HELP may take one more optional word)."""
        return _ARITY.get(self.kind, 1)


def _o(
    name: str,
    kind: Kind,
    dest: str | None,
    help: str,
    *,
    default: str = "",
    unit: str = "",
    metavar: str = "",
    value_help: str = "",
    choices: tuple[str, ...] = (),
    status: Status = SUPPORTED,
    scope: Scope = RUN_AND_SIM,
) -> OptionSpec:
    return OptionSpec(
        name=name,
        kind=kind,
        dest=dest,
        default=default,
        unit=unit,
        metavar=metavar,
        help=help,
        status=status,
        value_help=value_help,
        choices=choices,
        scope=scope,
    )


def _ny(name: str, kind: Kind, help: str, *, default: str = "", metavar: str = "") -> OptionSpec:
    """A SIPp option gossipper recognises but does not implement yet."""
    unit = "ms" if kind is Kind.TIME else ""
    return _o(name, kind, None, help, default=default, unit=unit, metavar=metavar, status=NOT_YET)


def _refused(name: str, kind: Kind, help: str, refusal: str, *, metavar: str = "") -> OptionSpec:
    """A SIPp option that cannot work in gossipper whatever is implemented (``refusal``)."""
    spec = _o(name, kind, None, help, metavar=metavar, status=UNAVAILABLE)
    return dataclasses.replace(spec, refusal=refusal)


SCTP_REFUSAL = "SCTP"
"""``refusal`` of the SCTP options: the message names what the kernel answered."""


def _group(title: str, *specs: OptionSpec) -> tuple[OptionSpec, ...]:
    return tuple(dataclasses.replace(spec, group=title) for spec in specs)


_TRACE_FILE_OPTIONS: tuple[OptionSpec, ...] = tuple(
    spec
    for flag, file_opt, overwrite_opt, what, base in (
        ("trace_msg", "message_file", "message_overwrite", "every SIP message", "messages.log"),
        (
            "trace_shortmsg",
            "shortmessage_file",
            "shortmessage_overwrite",
            "one CSV line per SIP message",
            "shortmessages.log",
        ),
        ("trace_err", "error_file", "error_overwrite", "unexpected messages", "errors.log"),
        (
            "trace_calldebug",
            "calldebug_file",
            "calldebug_overwrite",
            "the messages of failed calls",
            "calldebug.log",
        ),
        (
            "trace_screen",
            "screen_file",
            "screen_overwrite",
            "the statistics screens at exit",
            "screen.log",
        ),
        ("trace_logs", "log_file", "log_overwrite", "the output of <log> actions", "logs.log"),
    )
    for spec in (
        _o(f"-{flag}", Kind.FLAG, flag, f"log {what} to <scenario>_<pid>_{base}"),
        _o(
            f"-{file_opt}",
            Kind.STR,
            file_opt,
            f"file name for -{flag}",
            default=f"<scenario>_<pid>_{base}",
            metavar="FILE",
            value_help="a file name",
        ),
        _o(
            f"-{overwrite_opt}",
            Kind.BOOL,
            overwrite_opt,
            f"true: truncate the -{flag} file at start; false: append to it",
            default="true",
            metavar="BOOL",
            value_help="true or false",
        ),
    )
)


def _sim_fault_options() -> tuple[OptionSpec, ...]:
    """``-net_FAULT`` for both directions, then ``_c2s`` and ``_s2c`` for one direction each.

    ``dest`` is the ``LinkFaults`` field, suffixed by the direction for one-way options.
    """
    faults = (
        ("loss", "loss_pct", "PCT", "0", "drop this percentage of datagrams"),
        ("dup", "duplicate_pct", "PCT", "0", "deliver this percentage of datagrams twice"),
        ("delay", "delay_ms", "MS", "0", "fixed one-way delay in milliseconds"),
        (
            "jitter",
            "jitter_ms",
            "MS",
            "0",
            "add a uniform random delay in [0, MS) to each datagram (a flow stays in order)",
        ),
        (
            "reorder",
            "reorder_pct",
            "PCT",
            "0",
            "hold back this percentage of datagrams by -net_reorder_delay so later ones overtake",
        ),
        ("reorder_delay", "reorder_delay_ms", "MS", "20", "extra delay of a reordered datagram"),
        (
            "reset",
            "reset_pct",
            "PCT",
            "0",
            "reset the stream (TCP) connection on this percentage of writes (both ends see RST)",
        ),
        (
            "refuse",
            "refuse_pct",
            "PCT",
            "0",
            "refuse this percentage of stream (TCP) connection attempts although a listener exists",
        ),
        (
            "split",
            "split_pct",
            "PCT",
            "0",
            "deliver this percentage of stream writes cut into 2 or 3 pieces at seeded offsets",
        ),
        (
            "coalesce",
            "coalesce_pct",
            "PCT",
            "0",
            "hold back this percentage of stream writes to deliver them with the next write",
        ),
        (
            "coalesce_hold",
            "coalesce_hold_ms",
            "MS",
            "1",
            "longest a held stream write waits for the next one (-net_coalesce)",
        ),
    )
    specs: list[OptionSpec] = []
    for fault, field, metavar, default, text in faults:
        kind = Kind.PERCENT if metavar == "PCT" else Kind.NONNEGATIVE
        both = f"-net_{fault}"
        for suffix, where, shown in (
            ("", "both directions", default),
            ("_c2s", "client to server only", f"as {both}"),
            ("_s2c", "server to client only", f"as {both}"),
        ):
            specs.append(
                _o(
                    f"{both}{suffix}",
                    kind,
                    f"{field}{suffix}",
                    f"{text}, {where}",
                    default=shown,
                    metavar=metavar,
                    scope=SIM,
                )
            )
    return tuple(specs)


DEFAULT_SEED = 1
"""Seed of a simulation without ``-seed`` (a fixed one: the same command gives the same bytes)."""


def _rtp_send_options() -> tuple[OptionSpec, ...]:
    """The Go gossipper's standalone sender flags (``-rtp_send`` and its ``-rtp_*`` family),
    then gossipper's own additions (a media file, a pattern, loops, the local address)."""

    def rtp(
        name: str,
        kind: Kind,
        dest: str,
        help: str,
        default: str,
        metavar: str,
        choices: tuple[str, ...] = (),
    ) -> OptionSpec:
        return _o(
            name,
            kind,
            dest,
            help,
            default=default,
            metavar=metavar,
            choices=choices,
            scope=RTP_SEND,
        )

    return _group(
        "Standalone RTP sender (gossipper -rtp_send)",
        rtp("-rtp_send", Kind.FLAG, "rtp_send", "stream RTP to -rtp_addr without SIP", "", ""),
        rtp(
            "-rtp_addr",
            Kind.STR,
            "rtp_addr",
            "where to send: host:port (required)",
            "",
            "HOST:PORT",
        ),
        rtp(
            "-rtp_codec",
            Kind.STR,
            "rtp_codec",
            "PCMU/8000 or PCMA/8000; G722/8000 and G729/8000 with -rtp_file",
            "PCMU/8000",
            "NAME/RATE",
        ),
        rtp("-rtp_pt", Kind.INT, "rtp_pt", "RTP payload type (0-127)", "the codec's", "PT"),
        rtp("-rtp_freq", Kind.INT, "rtp_freq", "packet interval in ms (> 0)", "20", "MS"),
        rtp(
            "-rtp_dur",
            Kind.INT,
            "rtp_dur",
            "how long to send, in ms; 0: until interrupted (or until a -rtp_file with"
            " -rtp_loops >= 0 ends)",
            "0",
            "MS",
        ),
        rtp("-rtp_ch", Kind.INT, "rtp_ch", "channels (> 0; multiplies the payload)", "1", "N"),
        rtp(
            "-rtp_streams",
            Kind.INT,
            "rtp_streams",
            "parallel streams, each from its own socket (local ports step by 2)",
            "1",
            "N",
        ),
        rtp(
            "-rtp_file",
            Kind.STR,
            "rtp_file",
            "gossipper: send this media file (WAV, or raw .ulaw/.alaw/.g722/.g729) instead of"
            " a pattern",
            "",
            "FILE",
        ),
        rtp(
            "-rtp_pattern",
            Kind.CHOICE,
            "rtp_pattern",
            "gossipper: without -rtp_file, send a 425 Hz tone or the codec's silence",
            "tone",
            "tone|silence",
            ("tone", "silence"),
        ),
        rtp(
            "-rtp_loops",
            Kind.INT,
            "rtp_loops",
            "gossipper: times to play -rtp_file (SIPp rtp_stream: -1 forever, 0 or 1 once)",
            "-1",
            "N",
        ),
        rtp(
            "-rtp_local",
            Kind.STR,
            "rtp_local",
            "gossipper: local address of the streams; with a port, stream i uses port + 2i;"
            " without, each stream gets any free port",
            "0.0.0.0 (:: for IPv6)",
            "HOST[:PORT]",
        ),
    )


OPTIONS: tuple[OptionSpec, ...] = (
    *_group(
        "Help and version",
        _o(
            "-h",
            Kind.HELP,
            None,
            "print this help and exit 99 (-h stat: describe the statistics file)",
            metavar="[stat]",
        ),
        _o("-help", Kind.HELP, None, "same as -h", metavar="[stat]"),
        _o("-v", Kind.VERSION, None, "print the version and exit 99", scope=RUN),
    ),
    *_group(
        "Scenario",
        _o(
            "-sd",
            Kind.DUMP,
            None,
            "print the built-in scenario NAME as XML and exit 99",
            metavar="NAME",
            value_help="a built-in scenario name such as uac",
            scope=RUN,
        ),
        _o(
            "-sf",
            Kind.STR,
            "scenario_file",
            "run the XML scenario in FILE",
            metavar="FILE",
            value_help="a scenario XML file",
        ),
        _o(
            "-sn",
            Kind.STR,
            "scenario_name",
            "run a built-in scenario (uac, uas, ...; see -sd)",
            default="uac",
            metavar="NAME",
            value_help="a built-in scenario name such as uac or uas",
        ),
        _o(
            "-oocsf",
            Kind.STR,
            "ooc_scenario_file",
            "client mode: requests with an unknown Call-ID start a call of the scenario in FILE",
            metavar="FILE",
            value_help="a scenario XML file",
        ),
        _o(
            "-oocsn",
            Kind.STR,
            "ooc_scenario_name",
            "client mode: the built-in out-of-call scenario NAME (ooc_default answers 200)",
            metavar="NAME",
            value_help="a built-in scenario name such as ooc_default",
        ),
        _o(
            "-rxsf",
            Kind.STR,
            "rx_scenario_file",
            "SIPp 3.7 mixed mode: beside the client scenario, run the server scenario in FILE"
            " for calls started by the peer",
            metavar="FILE",
            value_help="a server scenario XML file",
        ),
        _o(
            "-rxsn",
            Kind.STR,
            "rx_scenario_name",
            "SIPp 3.7 mixed mode: the built-in server scenario NAME (e.g. uas)",
            metavar="NAME",
            value_help="a built-in server scenario name such as uas",
        ),
    ),
    *_group(
        "IP, port and protocol",
        _o(
            "-t",
            Kind.CHOICE,
            "transport_mode",
            "transport: u1/un = UDP, one socket for all calls / one per call (client);"
            " ui = UDP, one socket per local IP of -ip_field; t1/tn = TCP, l1/ln = TLS,"
            " w1/wn = SIP over WebSocket, ws1/wsn = over secure WebSocket (1 = one"
            " connection shared by all calls, n = one per call); s1/sn (SCTP) are refused"
            " with the kernel's answer to an SCTP socket, c1/cn (SIPp's compression plugin)"
            " are refused",
            default="u1",
            metavar="MODE",
            value_help="a transport mode such as u1 or un",
            choices=KNOWN_TRANSPORT_MODES,
        ),
        _o(
            "-i",
            Kind.STR,
            "local_ip",
            "local IP address for [local_ip] (Via, Contact, From) and the SIP socket",
            default="primary host IP",
            metavar="IP",
            value_help="a local IP address",
        ),
        _o(
            "-p",
            Kind.PORT,
            "local_port",
            "local SIP port",
            default="first free of 5060-5119",
            metavar="PORT",
            value_help="a port number",
        ),
        _o(
            "-bind_local",
            Kind.FLAG,
            "bind_local",
            "bind sockets to the -i address (a server then listens only there)",
        ),
        _o(
            "-bind_to_device",
            Kind.STR,
            "bind_to_device",
            "bind every SIP socket (UDP, TCP, TLS, WebSocket) to the network interface IF"
            " (SO_BINDTODEVICE; Linux)",
            metavar="IF",
            value_help="a network interface name such as eth0",
        ),
        _o(
            "-ci",
            Kind.STR,
            "control_ip",
            "IP address of the UDP control socket",
            default="0.0.0.0",
            metavar="IP",
            value_help="an IP address",
        ),
        _o(
            "-cp",
            Kind.PORT,
            "control_port",
            "UDP control port; when given, failing to bind it is fatal (exit 254)",
            default="8888 (+1 up to 60 tries)",
            metavar="PORT",
            value_help="a port number",
            scope=RUN,
        ),
        _o(
            "-max_socket",
            Kind.INT,
            "max_socket",
            "most sockets open at once (-t un); beyond it sockets are shared",
            default="50000",
            metavar="N",
            value_help="a number of sockets",
        ),
        _o(
            "-max_reconnect",
            Kind.INT,
            "max_reconnect",
            "how many times a lost t1/l1/w1 connection is re-established (0 = the run fails)",
            default="0",
            metavar="N",
            value_help="a number of attempts",
        ),
        _o(
            "-reconnect_close",
            Kind.BOOL,
            "reconnect_close",
            "on reconnection, fail the calls that used the lost connection (false: they go on"
            " over the new one)",
            default="true",
            value_help="true or false",
        ),
        _o(
            "-reconnect_sleep",
            Kind.TIME,
            "reconnect_sleep_s",
            "wait before each reconnection attempt",
            default="1000",
            unit="ms",
            metavar="MS",
            value_help="a duration",
        ),
        _o(
            "-rsa",
            Kind.HOSTPORT,
            "rsa_host",
            "send every message to HOST:PORT instead of the remote host",
            metavar="HOST[:PORT]",
            value_help="an address host[:port]",
            scope=RUN,
        ),
        _o(
            "-tls_cert",
            Kind.STR,
            "tls_cert",
            "TLS certificate (PEM) a server presents, and a client when the file exists",
            default="cacert.pem",
            metavar="FILE",
            value_help="a file name",
        ),
        _o(
            "-tls_key",
            Kind.STR,
            "tls_key",
            "private key (PEM) of -tls_cert",
            default="cakey.pem",
            metavar="FILE",
            value_help="a file name",
        ),
        _o(
            "-tls_ca",
            Kind.STR,
            "tls_ca",
            "CA certificates (PEM) to verify the peer with (client certificates are then"
            " required by a server)",
            metavar="FILE",
            value_help="a file name",
        ),
        _o(
            "-tls_crl",
            Kind.STR,
            "tls_crl",
            "certificate revocation list (PEM) checked with -tls_ca",
            metavar="FILE",
            value_help="a file name",
        ),
        _o(
            "-tls_version",
            Kind.CHOICE,
            "tls_version",
            "TLS version to use: auto (the highest both support), 1.0, 1.1, 1.2 or 1.3",
            default="auto",
            metavar="VER",
            value_help="a TLS version",
            choices=("auto", "1.0", "1.1", "1.2", "1.3"),
        ),
        _o(
            "-tls_verify",
            Kind.FLAG,
            "tls_verify",
            "verify the server's certificate and host name (with -tls_ca, or the system's"
            " CAs); by default, like SIPp, any certificate is accepted",
        ),
        _o(
            "-ws_path",
            Kind.STR,
            "ws_path",
            "URL path of SIP over WebSocket (-t w1/wn/ws1/wsn): requested by a client,"
            " served by a server",
            default="/",
            metavar="PATH",
            value_help="a URL path such as /ws",
        ),
        _refused("-multihome", Kind.STR, "SCTP multihome address", SCTP_REFUSAL, metavar="IP"),
        _refused("-heartbeat", Kind.INT, "SCTP heartbeat interval (ms)", SCTP_REFUSAL),
        _refused("-assocmaxret", Kind.INT, "SCTP association max retransmits", SCTP_REFUSAL),
        _refused("-pathmaxret", Kind.INT, "SCTP path max retransmits", SCTP_REFUSAL),
        _refused("-pmtu", Kind.INT, "SCTP path MTU", SCTP_REFUSAL),
        _refused(
            "-gracefulclose", Kind.BOOL, "close SCTP associations with SHUTDOWN", SCTP_REFUSAL
        ),
    ),
    *_group(
        "Overall behaviour",
        _o(
            "-bg",
            Kind.FLAG,
            "background",
            "run in the background: the parent prints the PID and exits 99",
            scope=RUN,
        ),
        _o("-nostdin", Kind.FLAG, "nostdin", "do not read the keyboard"),
        _o(
            "-interactive",
            Kind.FLAG,
            "interactive",
            "show the terminal UI (charts, percentiles, failures, keys) instead of SIPp's"
            " live screen; needs a terminal (the same as gossipper tui ...)",
            scope=RUN,
        ),
        _refused(
            "-plugin",
            Kind.STR,
            "load a SIPp plugin (a C shared library)",
            "SIPp plugins are C shared libraries called through SIPp's C++ internals; they"
            " cannot be loaded into gossipper (Python). Use -key/-set or an <exec> action for"
            " what a plugin keyword computed",
            metavar="FILE",
        ),
        _o(
            "-sleep",
            Kind.TIME,
            "sleep_s",
            "wait this long before starting traffic",
            default="0",
            unit="s",
            metavar="TIME",
            value_help="a duration such as 5s",
        ),
        _o(
            "-skip_rlimit",
            Kind.FLAG,
            "skip_rlimit",
            "do not raise the open-file limit",
        ),
        _o(
            "-buff_size",
            Kind.INT,
            "buff_size",
            "socket send and receive buffer size (UDP: at least 4 MiB; TCP/TLS: the kernel's"
            " autotuning unless given)",
            metavar="BYTES",
            value_help="a size in bytes",
        ),
        _o(
            "-overload_queue",
            Kind.INT,
            "overload_queue",
            "a server behind its socket answers up to N new INVITEs 100 Trying and holds them"
            " until it has caught up, instead of shedding them for the peer to retransmit"
            " (a gossipper extension; 0: shed)",
            default="0",
            metavar="N",
            value_help="a number of INVITEs",
        ),
        _o(
            "-sendbuffer_warn",
            Kind.BOOL,
            "sendbuffer_warn",
            "a scenario message the kernel refuses for want of buffer space (ENOBUFS, ENOMEM) is"
            " a warning and the call goes on as if it had left (a UDP retransmission may"
            " recover it) instead of failing (FailedCannotSendMessage)",
            default="false",
            metavar="BOOL",
            value_help="true or false",
        ),
        _o(
            "-lost",
            Kind.FLOAT,
            "lost_pct",
            "simulate the loss of this percentage of messages (scenario lost= overrides)",
            default="0",
            metavar="PERCENT",
            value_help="a percentage",
        ),
        _o(
            "-key",
            Kind.KEY_VALUE,
            "keys",
            "define the keyword [NAME] as VALUE (repeatable; VALUE may be empty)",
            metavar="NAME VALUE",
            value_help="a keyword name and its value",
        ),
        _o(
            "-set",
            Kind.KEY_VALUE,
            "globals_set",
            "set the scenario's global variable NAME to VALUE (repeatable)",
            metavar="NAME VALUE",
            value_help="a variable name and its value",
        ),
        _o(
            "-tdmmap",
            Kind.STR,
            "tdm_map",
            "table of TDM circuits {a-b}{h}{c-d}{e-f}: each call takes a free circuit"
            " ([tdmmap] prints it as X.h.Y/Z) and frees it at its end; with none free the call"
            " fails at once (FailedOutboundCongestion)",
            metavar="MAP",
            value_help="a circuit map such as {0-3}{99}{5-8}{1-31}",
        ),
        _o(
            "-dynamicStart",
            Kind.INT,
            "dynamic_start",
            "first value of [dynamic_id]",
            default="10000",
            metavar="N",
            value_help="an integer",
        ),
        _o(
            "-dynamicMax",
            Kind.INT,
            "dynamic_max",
            "largest value of [dynamic_id] before it wraps",
            default="12000",
            metavar="N",
            value_help="an integer",
        ),
        _o(
            "-dynamicStep",
            Kind.INT,
            "dynamic_step",
            "increment of [dynamic_id]",
            default="4",
            metavar="N",
            value_help="an integer",
        ),
    ),
    *_group(
        "Call behaviour",
        _o(
            "-aa",
            Kind.FLAG,
            "auto_answer",
            "answer unexpected INFO, NOTIFY, OPTIONS and UPDATE with 200 OK",
        ),
        _o(
            "-base_cseq",
            Kind.INT,
            "base_cseq",
            "first [cseq] value of each call",
            default="1",
            metavar="N",
            value_help="an integer",
        ),
        _o(
            "-cid_str",
            Kind.STR,
            "call_id_template",
            "Call-ID template: %u call number, %p process id, %s local IP, %r a random number"
            " (0-2147483647, drawn per call), %% a percent sign",
            default="%u-%p@%s",
            metavar="TEMPLATE",
            value_help="a Call-ID template such as %u-%p@%s",
        ),
        _o(
            "-cid_type",
            Kind.STR,
            "call_id_type",
            "Call-ID generator: default (the -cid_str template), uuid (a version-4 UUID),"
            " uuid-compact (the same, 32 hex digits), random (32 random hex digits), timestamp"
            " (wall time in microseconds-call number); SIPp 3.7's other spellings format,"
            " legacy, uuidcompact, uuid32, random-hex and time are accepted",
            default="default",
            metavar="TYPE",
            value_help="default, uuid, uuid-compact, random or timestamp",
        ),
        _o(
            "-d",
            Kind.TIME,
            "pause_default_s",
            "length of a <pause/> without a duration",
            default="0",
            unit="ms",
            metavar="TIME",
            value_help="a duration such as 1000 (ms) or 5s",
        ),
        _o(
            "-deadcall_wait",
            Kind.TIME,
            "deadcall_wait_s",
            "keep the Call-IDs of ended calls this long to absorb late messages",
            default="33000",
            unit="ms",
            metavar="TIME",
            value_help="a duration such as 33000 (ms) or 33s",
        ),
        _o(
            "-auth_uri",
            Kind.STR,
            "auth_uri",
            "URI (without sip:) used in digest authentication",
            default="remote host:port",
            metavar="URI",
            value_help="a URI",
        ),
        _o(
            "-au",
            Kind.STR,
            "auth_username",
            "digest authentication username",
            default="value of -s",
            metavar="USER",
            value_help="a username",
        ),
        _o(
            "-ap",
            Kind.STR,
            "auth_password",
            "digest authentication password",
            default="password",
            metavar="PASSWORD",
            value_help="a password",
        ),
        *(
            _o(
                f"-aka_{name}",
                Kind.STR,
                f"aka_{name.lower()}",
                f"AKAv1-MD5 {text} when [authentication] has no aka_{name}=",
                default=default,
                metavar="HEX",
                value_help=f"0x and {digits} hex digits",
            )
            for name, text, default, digits in (
                ("K", "key", "the password's first 16 bytes", 32),
                ("OP", "operator variant OP", "16 zero bytes", 32),
                ("AMF", "AMF (checked; the MAC covers the AMF in AUTN)", "not checked", 4),
            )
        ),
        _o(
            "-s",
            Kind.STR,
            "service",
            "user part of the Request-URI ([service])",
            default="service",
            metavar="USER",
            value_help="a user name",
        ),
        _o(
            "-default_behaviors",
            Kind.BEHAVIORS,
            "default_behaviors",
            "comma list of all, none, bye, abortunexp, pingreply, cseq, applied left to right"
            " from none; -x removes x (e.g. all,-bye)",
            default="all",
            metavar="LIST",
            value_help="a comma list such as all,-bye",
        ),
        _o(
            "-nd",
            Kind.NO_BEHAVIORS,
            "default_behaviors",
            "no default behaviours (same as -default_behaviors none)",
        ),
        _o(
            "-pause_msg_ign",
            Kind.FLAG,
            "pause_msg_ign",
            "ignore messages received during a <pause>",
        ),
        _o(
            "-callid_slash_ign",
            Kind.FLAG,
            "callid_slash_ign",
            "do not treat /// in Call-IDs as a SIPp prefix",
        ),
    ),
    *_group(
        "Injection files",
        _o(
            "-inf",
            Kind.APPEND,
            "injection_files",
            "CSV injection file for [fieldN] (repeatable; the first one is the default)",
            metavar="FILE",
            value_help="a CSV injection file",
        ),
        _o(
            "-rxinf",
            Kind.STR,
            "rx_injection_file",
            "SIPp 3.7 mixed mode: CSV injection file of the -rxsf/-rxsn scenario",
            metavar="FILE",
            value_help="a CSV injection file",
        ),
        _o(
            "-infindex",
            Kind.FILE_FIELD,
            "injection_indexes",
            "index the -inf file named FILE (base name) on field N, for lookup actions",
            metavar="FILE N",
            value_help="an injection file name and a field number",
        ),
        _o(
            "-ip_field",
            Kind.INT,
            "ip_field",
            "field of the first -inf file holding each call's local IP (-t ui)",
            default="0",
            metavar="N",
            value_help="a field number",
        ),
    ),
    *_group(
        "Media (RTP)",
        _o(
            "-mi",
            Kind.STR,
            "media_ip",
            "media IP address ([media_ip])",
            default="local IP",
            metavar="IP",
            value_help="an IP address",
        ),
        _o(
            "-rtp_echo",
            Kind.FLAG,
            "rtp_echo",
            "echo the RTP each call receives back to where it came from",
        ),
        _o(
            "-mb",
            Kind.INT,
            "rtp_echo_buffer",
            "RTP echo buffer size: longer datagrams are echoed cut to it",
            default="2048",
            unit="bytes",
            metavar="BYTES",
            value_help="a number of bytes",
        ),
        _o(
            "-mp",
            Kind.PORT,
            "media_port",
            "lowest local media port (as -min_rtp_port); [media_port] without media actions",
            default="6000",
            metavar="PORT",
            value_help="a port number",
        ),
        _o(
            "-min_rtp_port",
            Kind.INT,
            "min_rtp_port",
            "lowest RTP port of the calls' port pairs (default: -mp, 6000)",
            metavar="PORT",
            value_help="a port number",
        ),
        _o(
            "-max_rtp_port",
            Kind.INT,
            "max_rtp_port",
            "highest RTP/RTCP port of the calls' port pairs",
            default="65535",
            metavar="PORT",
            value_help="a port number",
        ),
        _o(
            "-rtp_payload",
            Kind.INT,
            "rtp_payload",
            "payload type of rtp_stream when the action names none",
            default="8",
            metavar="PT",
            value_help="a payload type 0-127",
        ),
        _o(
            "-rtp_threadtasks",
            Kind.INT,
            "rtp_threadtasks",
            "accepted; one media scheduler task sends every stream",
            default="20",
            metavar="N",
            value_help="a number",
        ),
        _o(
            "-rtp_buffsize",
            Kind.INT,
            "rtp_buffsize",
            "SO_RCVBUF/SO_SNDBUF of each call's RTP and RTCP sockets",
            default="65536",
            unit="bytes",
            metavar="BYTES",
            value_help="a number of bytes",
        ),
        _o(
            "-rtpcheck_debug",
            Kind.FLAG,
            "rtpcheck_debug",
            "write each RTP check pattern's echo check (apattern/vpattern) to "
            "<scenario>_<pid>_rtpcheck.log; warn about every malformed RTP/RTCP datagram",
        ),
        _o(
            "-srtpcheck_debug",
            Kind.FLAG,
            "srtpcheck_debug",
            "write the echo check of SRTP pattern streams to <scenario>_<pid>_srtpcheck.log; "
            "warn about every SRTP/SRTCP packet dropped (authentication, replay, before keys)",
        ),
        _o(
            "-media_srtp",
            Kind.FLAG,
            "media_srtp",
            "SRTP required on every call (SDES or DTLS-SRTP): a plain SDP we send is made "
            "RTP/SAVP with a=crypto (offer: AES_CM_128_HMAC_SHA1_80 and _32; answer: the first "
            "offered suite we run), or UDP/TLS/RTP/SAVP with our a=fingerprint when answering "
            "a DTLS-SRTP offer; a plain-RTP peer fails the call (srtp_required)",
        ),
        _o(
            "-media_reject_srtp",
            Kind.FLAG,
            "media_reject_srtp",
            "never key SRTP: a=crypto lines are ignored and media is plain RTP",
        ),
        _o(
            "-audiotolerance",
            Kind.FLOAT,
            "audio_tolerance",
            "share of an apattern stream's packets that must come back identical from the "
            "peer's echo; below it the run exits with 253",
            default="1.0",
            value_help="a number from 0.0 to 1.0",
        ),
        _o(
            "-videotolerance",
            Kind.FLOAT,
            "video_tolerance",
            "the same as -audiotolerance for vpattern streams",
            default="1.0",
            value_help="a number from 0.0 to 1.0",
        ),
        _o(
            "-random_base_ssrc",
            Kind.FLAG,
            "random_base_ssrc",
            "random SSRCs per call (from -seed) instead of SIPp's 0xCA110000 + call number - 1",
        ),
        # DTLS-SRTP, ICE-lite and TURN (issue 18; the Go tool's names): docs/media.md.
        _o(
            "-turn_server",
            Kind.STR,
            "turn_server",
            "TURN server (UDP): each call's media is relayed through an allocation there",
            metavar="HOST:PORT",
            value_help="host:port",
        ),
        _o(
            "-turn_user",
            Kind.STR,
            "turn_user",
            "TURN long-term credentials: user name",
            metavar="USER",
        ),
        _o(
            "-turn_pass",
            Kind.STR,
            "turn_pass",
            "TURN long-term credentials: password",
            metavar="PASSWORD",
        ),
        _o(
            "-turn_realm",
            Kind.STR,
            "turn_realm",
            "TURN realm (default: the one the server's challenge names)",
            metavar="REALM",
        ),
        _o(
            "-dtls_cert",
            Kind.STR,
            "dtls_cert",
            "DTLS-SRTP certificate (PEM; with -dtls_key) instead of one generated per run",
            metavar="FILE",
        ),
        _o(
            "-dtls_key",
            Kind.STR,
            "dtls_key",
            "DTLS-SRTP private key (PEM, EC) of -dtls_cert",
            metavar="FILE",
        ),
        _o(
            "-dtls_timeout",
            Kind.TIME,
            "dtls_timeout_s",
            "a call whose DTLS handshake is not done by then fails (dtls_handshake_timeout)",
            default="10000",
            unit="ms",
            metavar="MS",
            value_help="a duration",
        ),
    ),
    *_group(
        "Call rate",
        _o(
            "-r",
            Kind.FLOAT,
            "rate",
            "calls started per rate period (keys + - * / change it)",
            default="10",
            metavar="CALLS",
            value_help="a number of calls per rate period",
        ),
        _o(
            "-rp",
            Kind.TIME,
            "rate_period_s",
            "rate period (-r 7 -rp 2000 = 3.5 calls per second)",
            default="1000",
            unit="ms",
            metavar="TIME",
            value_help="a duration such as 1000 (ms) or 1s",
        ),
        _o(
            "-rate_scale",
            Kind.FLOAT,
            "rate_scale",
            "step of the + - * / keys",
            default="1",
            metavar="NUMBER",
            value_help="a number",
        ),
        _o(
            "-rate_increase",
            Kind.FLOAT,
            "rate_increase",
            "add this to the rate every -rate_interval",
            default="0",
            metavar="CALLS",
            value_help="a number of calls",
        ),
        _o(
            "-rate_max",
            Kind.FLOAT,
            "rate_max",
            "stop increasing at this rate and quit, unless -no_rate_quit",
            metavar="CALLS",
            value_help="a number of calls per rate period",
        ),
        _o(
            "-rate_interval",
            Kind.TIME,
            "rate_interval_s",
            "period of -rate_increase",
            default="value of -fd",
            unit="s",
            metavar="TIME",
            value_help="a duration such as 10s",
        ),
        _o(
            "-no_rate_quit",
            Kind.FLAG,
            "no_rate_quit",
            "keep running at -rate_max instead of quitting",
        ),
        _o(
            "-l",
            Kind.INT,
            "max_open_calls",
            "most calls open at once (new calls wait); cannot be combined with -users",
            default="3 x rate x call length",
            metavar="N",
            value_help="a number of calls",
        ),
        _o(
            "-m",
            Kind.INT,
            "max_calls",
            "stop after N calls were started and have ended",
            default="unlimited",
            metavar="N",
            value_help="a number of calls",
        ),
        _o(
            "-users",
            Kind.INT,
            "users",
            "user mode: keep N calls running, each bound to a user id 1..N",
            metavar="N",
            value_help="a number of users",
        ),
        _o(
            "-segment",
            Kind.STR,
            "segment",
            "run one slice of the test: I/N (0-based) or a:b fractions as k6 (1/4:1/2);"
            " its share of -r, -m, -l, -users, Call-IDs and injection rows",
            metavar="SEG",
            value_help="I/N such as 0/4, or a:b such as 1/4:1/2",
        ),
        _o(
            "-segment_sequence",
            Kind.STR,
            "segment_sequence",
            "all segment boundaries of the test (0,1/4,1/2,1): needed when -segment a:b"
            " fractions of one test have different denominators",
            metavar="LIST",
            value_help="a comma list of fractions from 0 to 1, e.g. 0,1/4,1/2,1",
        ),
    ),
    *_group(
        "Retransmissions and timeouts",
        _o(
            "-recv_timeout",
            Kind.TIME,
            "recv_timeout_s",
            "default <recv> timeout; the call fails when it expires (0 = none)",
            default="0",
            unit="ms",
            metavar="TIME",
            value_help="a duration such as 5000 (ms) or 5s",
        ),
        _o(
            "-send_timeout",
            Kind.TIME,
            "send_timeout_s",
            "default send timeout under congestion (0 = none)",
            default="0",
            unit="ms",
            metavar="TIME",
            value_help="a duration such as 5000 (ms) or 5s",
        ),
        _o(
            "-timeout",
            Kind.TIME,
            "timeout_s",
            "stop the test after this long (0 = never)",
            default="0",
            unit="s",
            metavar="TIME",
            value_help="a duration such as 30s",
        ),
        _o(
            "-timeout_global",
            Kind.TIME,
            "timeout_s",
            "same as -timeout (gossipper spelling)",
            default="0",
            unit="s",
            metavar="TIME",
            value_help="a duration such as 30s",
        ),
        _o(
            "-timeout_error",
            Kind.FLAG,
            "timeout_error",
            "reaching -timeout is a fatal error (exit 255)",
        ),
        _o(
            "-max_retrans",
            Kind.INT,
            "max_retrans",
            "cap on UDP retransmissions of any message",
            default="9",
            metavar="N",
            value_help="a number of retransmissions",
        ),
        _o(
            "-max_invite_retrans",
            Kind.INT,
            "max_invite_retrans",
            "UDP retransmissions of an INVITE before the call fails",
            default="5",
            metavar="N",
            value_help="a number of retransmissions",
        ),
        _o(
            "-max_non_invite_retrans",
            Kind.INT,
            "max_non_invite_retrans",
            "UDP retransmissions of other requests before the call fails",
            default="9",
            metavar="N",
            value_help="a number of retransmissions",
        ),
        _o(
            "-nr",
            Kind.FLAG,
            "no_retrans",
            "no UDP retransmissions (and no retransmission detection)",
        ),
        _o(
            "-rtcheck",
            Kind.RTCHECK,
            "rtcheck_loose",
            "retransmission detection: full or loose",
            default="full",
            metavar="full|loose",
            value_help="full or loose",
            choices=("full", "loose"),
        ),
        _o(
            "-T2",
            Kind.TIME,
            "t2_s",
            "T2 timer: cap of non-INVITE retransmission intervals",
            default="4000",
            unit="ms",
            metavar="TIME",
            value_help="a duration such as 4000 (ms) or 4s",
        ),
    ),
    *_group(
        "Third-party call control (3PCC)",
        _o(
            "-3pcc",
            Kind.HOSTPORT,
            "twin_host",
            "3PCC twin mode: controller B (recvCmd first) listens on HOST:PORT, controller A"
            " (sendCmd first) connects to it",
            default="port 6060",
            metavar="HOST[:PORT]",
            value_help="an address host[:port]",
            scope=RUN,
        ),
        _o(
            "-master",
            Kind.STR,
            "master_name",
            "extended 3PCC: this instance is the master NAME of -slave_cfg",
            metavar="NAME",
            value_help="a name of the -slave_cfg file",
            scope=RUN,
        ),
        _o(
            "-slave",
            Kind.STR,
            "slave_name",
            "extended 3PCC: this instance is the slave NAME of -slave_cfg",
            metavar="NAME",
            value_help="a name of the -slave_cfg file",
            scope=RUN,
        ),
        _o(
            "-slave_cfg",
            Kind.STR,
            "slave_cfg",
            "extended 3PCC address book: one name;host:port line per instance",
            metavar="FILE",
            value_help="a file of name;host:port lines",
            scope=RUN,
        ),
    ),
    *_group(
        "Performance and watchdog",
        _o(
            "-timer_resol",
            Kind.TIME,
            "timer_resol_s",
            "step of the timer grid (timers, pacing, receiving under load)",
            default="1",
            unit="ms",
            metavar="TIME",
            value_help="a duration such as 1 (ms)",
        ),
        _o(
            "-max_recv_loops",
            Kind.INT,
            "max_recv_loops",
            "most messages read per receive loop",
            default="1000",
            metavar="N",
            value_help="a number of messages",
        ),
        _o(
            "-max_sched_loops",
            Kind.INT,
            "max_sched_loops",
            "most calls run per scheduling loop",
            default="1000",
            metavar="N",
            value_help="a number of calls",
        ),
        *(
            _o(
                f"-watchdog_{name}",
                kind,
                f"watchdog_{name}" + ("_s" if kind is Kind.TIME else ""),
                text,
                default=default,
                unit="ms" if kind is Kind.TIME else "",
                metavar="TIME" if kind is Kind.TIME else "N",
                value_help=(
                    f"a duration such as {default} (ms)"
                    if kind is Kind.TIME
                    else "a number of trips (-1: no limit)"
                ),
            )
            for name, kind, default, text in (
                (
                    "interval",
                    Kind.TIME,
                    "400",
                    "how often the watchdog checks the event-loop lag (0: no watchdog)",
                ),
                (
                    "reset",
                    Kind.TIME,
                    "600000",
                    "forget the trips after this long without one (0: never)",
                ),
                (
                    "minor_threshold",
                    Kind.TIME,
                    "500",
                    "a gap between two checks above this is a minor trip",
                ),
                (
                    "major_threshold",
                    Kind.TIME,
                    "3000",
                    "a gap between two checks above this is a major trip",
                ),
                ("minor_maxtriggers", Kind.INT, "120", "end the run (255) after more minor trips"),
                ("major_maxtriggers", Kind.INT, "10", "end the run (255) after more major trips"),
            )
        ),
    ),
    *_group(
        "Statistics, traces and logs",
        _o(
            "-f",
            Kind.TIME,
            "screen_refresh_s",
            "screen refresh period",
            default="1",
            unit="s",
            metavar="TIME",
            value_help="a duration such as 1s",
        ),
        _o(
            "-trace_stat",
            Kind.FLAG,
            "trace_stat",
            "write statistics CSV to <scenario>_<pid>_.csv every -fd",
        ),
        _o(
            "-stat_delimiter",
            Kind.STR,
            "stat_delimiter",
            "CSV field separator (stat, counts, error codes, rtt files)",
            default=";",
            metavar="TEXT",
            value_help="a delimiter such as ;",
        ),
        _o(
            "-stf",
            Kind.STR,
            "stat_file",
            "file name of the statistics CSV",
            default="<scenario>_<pid>_.csv",
            metavar="FILE",
            value_help="a file name",
        ),
        _o(
            "-fd",
            Kind.TIME,
            "dump_period_s",
            "period of the statistics and counts CSV rows",
            default="60",
            unit="s",
            metavar="TIME",
            value_help="a duration such as 60s",
        ),
        _o(
            "-rfc3339",
            Kind.FLAG,
            "rfc3339",
            "print dates as RFC 3339 (2026-11-26T05:43:03.487751+02:00) in the SIPp-format"
            " files (stat, counts, error codes, shortmessages, messages, errors, calldebug),"
            " the screens and [timestamp]",
        ),
        _o(
            "-periodic_rtd",
            Kind.FLAG,
            "periodic_rtd",
            "reset response-time repartitions at each -fd dump",
        ),
        *_TRACE_FILE_OPTIONS[:6],
        _o(
            "-trace_counts",
            Kind.FLAG,
            "trace_counts",
            "write per-message counts CSV to <scenario>_<pid>_counts.csv",
        ),
        *_TRACE_FILE_OPTIONS[6:9],
        _o(
            "-trace_error_codes",
            Kind.FLAG,
            "trace_error_codes",
            "write unexpected response codes to <scenario>_<pid>_error_codes.csv",
        ),
        *_TRACE_FILE_OPTIONS[9:15],
        _o(
            "-trace_rtt",
            Kind.FLAG,
            "trace_rtt",
            "write response times to <scenario>_<pid>_rtt.csv",
        ),
        _o(
            "-rtt_freq",
            Kind.INT,
            "rtt_freq",
            "write -trace_rtt rows every N calls",
            default="200",
            metavar="N",
            value_help="a number of calls",
        ),
        *_TRACE_FILE_OPTIONS[15:],
        _o(
            "-trace_media",
            Kind.FLAG,
            "trace_media",
            "write one row per RTP stream (packets, loss, jitter, MOS, RTT) at the end of its"
            " call to <scenario>_<pid>_media.csv (docs/media.md)",
        ),
        _o(
            "-ringbuffer_files",
            Kind.INT,
            "ringbuffer_files",
            "rotated log files to keep",
            default="0",
            metavar="N",
            value_help="a number of files",
        ),
        _o(
            "-ringbuffer_size",
            Kind.INT,
            "ringbuffer_size",
            "rotate a log file when it reaches this size",
            default="0",
            metavar="BYTES",
            value_help="a size in bytes",
        ),
        _o(
            "-max_log_size",
            Kind.INT,
            "max_log_size",
            "stop writing a log file at this size (0 = no limit)",
            default="0",
            metavar="BYTES",
            value_help="a size in bytes",
        ),
    ),
    *_group(
        "gossipper extensions",
        _o(
            "-workers",
            Kind.STR,
            "workers",
            "run the load in N worker processes (auto: one per CPU this process may use), each"
            " with its share of the rate, -m, -l and -users; one screen, one set of files"
            " (docs/architecture.md, workers)",
            metavar="N",
            value_help="a number of processes (1-1024) or auto",
            scope=RUN,
        ),
        _o(
            "-summary_json",
            Kind.STR,
            "summary_json",
            "write a JSON summary of the run to FILE at exit",
            metavar="FILE",
            value_help="a file name",
        ),
        _o(
            "-report_html",
            Kind.STR,
            "report_html",
            "write the HTML report of the run to FILE at exit (charts, tables; docs/reports.md)",
            metavar="FILE",
            value_help="a file name",
            scope=RUN,
        ),
        _o(
            "-gate",
            Kind.APPEND,
            "gates",
            "pass/fail condition METRIC OP NUMBER checked at exit, e.g. failed_calls_pct<1 or"
            " p99_ms<=200 (repeatable; a failed gate makes the exit status 1; docs/reports.md)",
            metavar="EXPR",
            value_help="a gate such as failed_calls_pct<1",
            scope=RUN,
        ),
        _o(
            "-gate_abort",
            Kind.FLAG,
            "gate_abort",
            "check the gates every second during the run and stop it (no new call) as soon as"
            " one can no longer pass, e.g. failed_calls<10 once 10 calls failed",
            scope=RUN,
        ),
        _o(
            "-junit",
            Kind.STR,
            "junit",
            "write JUnit XML to FILE at exit: a test case per gate and per failure reason",
            metavar="FILE",
            value_help="a file name",
            scope=RUN,
        ),
        _o(
            "-peer",
            Kind.STR,
            "peer",
            "also run the built-in (server) scenario NAME in-process on loopback as the remote"
            " peer; the remote host defaults to it",
            metavar="NAME",
            value_help="a built-in scenario name such as uas",
        ),
        _o(
            "-trace_format",
            Kind.CHOICE,
            "trace_format",
            "trace file format: sipp (SIPp's files) or gossipper (comma-separated schemas)",
            default="sipp",
            metavar="FORMAT",
            value_help="sipp or gossipper",
            choices=TRACE_FORMATS,
        ),
    ),
    *_group(
        "HTTP API and metrics (gossipper extensions)",
        _o(
            "-api_addr",
            Kind.STR,
            "api_addr",
            "serve the HTTP/WebSocket API and /metrics on HOST:PORT (a bare PORT or :PORT"
            " listens on 127.0.0.1 only); see docs/api.md",
            metavar="HOST:PORT",
            value_help="HOST:PORT, [IPv6]:PORT or PORT",
            scope=RUN,
        ),
        _o(
            "-api_tls_cert",
            Kind.STR,
            "api_tls_cert",
            "serve the API over HTTPS with this certificate (PEM, as -tls_cert)",
            metavar="FILE",
            value_help="a file name",
            scope=RUN,
        ),
        _o(
            "-api_tls_key",
            Kind.STR,
            "api_tls_key",
            "private key (PEM) of -api_tls_cert",
            metavar="FILE",
            value_help="a file name",
            scope=RUN,
        ),
        _o(
            "-api_users",
            Kind.STR,
            "api_users",
            "users database of the API (gossipper auth user-add)",
            default="<data dir>/users.sqlite",
            metavar="FILE",
            value_help="a file name",
            scope=RUN,
        ),
        _o(
            "-api_secret",
            Kind.STR,
            "api_secret",
            "file of the key that signs API tokens (created, mode 0600, when missing)",
            default="<data dir>/token-secret",
            metavar="FILE",
            value_help="a file name",
            scope=RUN,
        ),
        _o(
            "-api_audit",
            Kind.STR,
            "api_audit",
            "audit log of API logins and commands (JSON lines)",
            default="<data dir>/audit.log",
            metavar="FILE",
            value_help="a file name",
            scope=RUN,
        ),
        _o(
            "-api_metrics_public",
            Kind.FLAG,
            "api_metrics_public",
            "serve /metrics without a token (every other route still needs one)",
            scope=RUN,
        ),
        _o(
            "-api_linger",
            Kind.TIME,
            "api_linger_s",
            "keep serving the API this long after the run has ended (final statistics for a"
            " scraper); SIGINT/SIGTERM end it early",
            default="0",
            unit="ms",
            metavar="TIME",
            value_help="a duration such as 30s",
            scope=RUN,
        ),
    ),
    *_group(
        "HEP options",
        _o(
            "-hep_addr",
            Kind.STR,
            "hep_addr",
            "mirror every SIP message sent or received as HEP3 to this capture server"
            " (Homer, Kamailio sipcapture)",
            metavar="HOST:PORT",
            value_help="host:port (IPv6 as [address]:port)",
        ),
        _o(
            "-hep_capture_id",
            Kind.INT,
            "hep_capture_id",
            "HEP capture agent id",
            default="0",
            metavar="ID",
            value_help="an integer 0-4294967295",
        ),
        _o(
            "-hep_password",
            Kind.STR,
            "hep_password",
            "HEP authentication key sent with every packet",
            metavar="KEY",
            value_help="a password",
        ),
        _o(
            "-hep_node_name",
            Kind.STR,
            "hep_node_name",
            "HEP node name (chunk 0x0013)",
            metavar="NAME",
            value_help="a name",
        ),
        _o(
            "-hep_transport",
            Kind.CHOICE,
            "hep_transport",
            "transport to the capture server: udp, or tcp (reconnected when lost)",
            default="udp",
            metavar="PROTO",
            value_help="udp or tcp",
            choices=("udp", "tcp"),
        ),
        _o(
            "-hep_queue",
            Kind.INT,
            "hep_queue",
            "HEP packets waiting for the capture server at most; beyond, packets are dropped"
            " and counted (hep.dropped in the summary)",
            default="10000",
            metavar="N",
            value_help="a number of packets",
        ),
    ),
    *_group(
        "Sim options",
        _o(
            "-seed",
            Kind.INT,
            "seed",
            "simulation seed: network faults, Call-IDs and every random draw follow from it",
            default=str(DEFAULT_SEED),
            metavar="N",
            scope=SIM,
        ),
        _o(
            "-epoch",
            Kind.NONNEGATIVE,
            "epoch_s",
            "wall-clock time (Unix seconds, UTC) at virtual time 0; all timestamps are epoch +"
            " virtual time",
            default="1700000000",
            metavar="SECONDS",
            scope=SIM,
        ),
        _o(
            "-twin",
            Kind.STR,
            "twin",
            "3PCC: the main controller's twin, a built-in name or a scenario file (default: the"
            " other built-in controller, 3pcc-C-B for 3pcc-C-A and back)",
            metavar="NAME",
            scope=SIM,
        ),
        _o(
            "-twin_peer",
            Kind.STR,
            "twin_peer",
            "3PCC: the twin's SIP server, a built-in name or a scenario file (default: 3pcc-B"
            " for a controller B twin, 3pcc-A for a controller A twin)",
            metavar="NAME",
            scope=SIM,
        ),
        *_sim_fault_options(),
    ),
    *_rtp_send_options(),
)


_BY_NAME: dict[str, OptionSpec] = {spec.name: spec for spec in OPTIONS}


def option_by_name(name: str) -> OptionSpec | None:
    """The spec of an option given with one leading dash (``-r``), or None."""
    return _BY_NAME.get(name)


# --- parsing ----------------------------------------------------------------------------------


class Action(enum.Enum):
    """What the command line asks for."""

    RUN = "run"
    HELP = "help"
    VERSION = "version"
    DUMP_SCENARIO = "dump_scenario"


@dataclasses.dataclass(frozen=True, slots=True)
class ParsedCommand:
    """Result of :func:`parse_command_line`.

    ``config`` is the validated configuration for RUN and the defaults otherwise.
    ``dump_scenario`` is the name given to ``-sd``; ``help_topic`` is ``"stat"`` for
    ``-h stat``. ``given`` holds the names of the options present (``-timeout``, ``-p`` ...),
    for behaviour that depends on whether an option was given at all (e.g. ``-cp``).
    ``values`` holds the converted values of the options that are not :class:`RunConfig`
    fields (those outside :attr:`Scope.RUN`, such as ``gossipper sim``'s), by ``dest``.
    """

    action: Action
    config: RunConfig
    dump_scenario: str | None = None
    help_topic: str | None = None
    given: frozenset[str] = frozenset()
    values: Mapping[str, object] = dataclasses.field(default_factory=dict)


class _Occurrence:
    """One option found on the command line, with its values (a plain class: cheaper to
    define at start-up than a dataclass)."""

    __slots__ = ("spec", "values")

    def __init__(self, spec: OptionSpec, values: tuple[str, ...]) -> None:
        self.spec = spec
        self.values = values


_NEGATIVE_NUMBER = re.compile(r"-(\d|\.\d)")
_INT = re.compile(r"[+-]?(0[xX][0-9a-fA-F]+|\d+)")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_TIME = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(ms|s|m|h)?")
_TIME_FACTOR_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PASS0 = (Kind.HELP, Kind.VERSION, Kind.DUMP)


def parse_command_line(argv: Sequence[str], scope: Scope = RUN) -> ParsedCommand:
    """Parse a SIPp-style command line (without the program name) into a ParsedCommand.

    Follows SIPp 3.6.1's command line (docs/sipp-behaviour.md, "Command line"): options start
    with ``-`` or ``--`` and may appear in any order around the remote host ``host[:port]``;
    ``-h``/``-v``/``-sd`` win over everything else; no arguments at all means HELP. A leading
    ``sipp`` token is ignored, so ``gossipper sipp ...`` equals ``gossipper ...``. ``scope``
    is the command line being parsed (``SIM`` for ``gossipper sim``): options of the table
    outside it are refused. Raises ConfigError for any bad input.
    """
    args = list(argv)
    if args and args[0] == "sipp":
        args = args[1:]
    if not args:
        return ParsedCommand(Action.HELP, RunConfig())
    occurrences, hosts, scan_error = _scan(args, scope)
    # SIPp handles -h, -v and -sd in a first pass and exits there, so they win over any later
    # problem on the line (`sipp -v -foo` prints the version).
    for occurrence in occurrences:
        kind = occurrence.spec.kind
        if scope not in occurrence.spec.scope:
            continue
        if kind is Kind.HELP:
            topic = occurrence.values[0] if occurrence.values else None
            return ParsedCommand(Action.HELP, RunConfig(), help_topic=topic)
        if kind is Kind.VERSION:
            return ParsedCommand(Action.VERSION, RunConfig())
        if kind is Kind.DUMP:
            return ParsedCommand(
                Action.DUMP_SCENARIO, RunConfig(), dump_scenario=occurrence.values[0]
            )
    if scan_error is not None:
        raise scan_error
    for occurrence in occurrences:
        if scope not in occurrence.spec.scope:
            raise _out_of_scope(occurrence.spec, scope)
    for occurrence in occurrences:
        if occurrence.spec.status is NOT_YET:
            raise ConfigError(f"{occurrence.spec.name} is not supported yet")
        if occurrence.spec.status is UNAVAILABLE:
            raise ConfigError(_refusal_text(occurrence.spec))
    values, extra = _convert(occurrences)
    if len(hosts) > 1:
        raise ConfigError(f"remote_host given twice: {hosts[0]} and {hosts[1]}")
    if hosts:
        host, port = parse_host_port(hosts[0], "remote host")
        values["remote_host"] = host
        if port is not None:
            values["remote_port"] = port
    config = RunConfig(**values)
    given = frozenset(occurrence.spec.name for occurrence in occurrences)
    return ParsedCommand(Action.RUN, config, given=given, values=extra)


def command_line_items(argv: Sequence[str]) -> list[tuple[str | None, tuple[str, ...]]]:
    """A run's command line as ``(option name, values)`` items in order, a remote host as
    ``(None, (host,))``: the -workers parent rewrites its workers' command lines with it.

    Raises:
        ConfigError: the command line does not parse (``parse_command_line`` says why).
    """
    occurrences, hosts, error = _scan(list(argv), RUN)
    if error is not None:
        raise error
    items: list[tuple[str | None, tuple[str, ...]]] = [
        (occurrence.spec.name, occurrence.values) for occurrence in occurrences
    ]
    items.extend((None, (host,)) for host in hosts)
    return items


def _refusal_text(spec: OptionSpec) -> str:
    if spec.refusal == SCTP_REFUSAL:
        from gossipper.transport.sctp import sctp_refusal

        return sctp_refusal(spec.name)
    return f"{spec.name}: {spec.refusal}"


def _out_of_scope(spec: OptionSpec, scope: Scope) -> ConfigError:
    if scope is RTP_SEND:
        return ConfigError(
            f"-rtp_send: {spec.name} has no meaning for the standalone RTP sender; drop it"
            " (gossipper -rtp_send -h lists its options)"
        )
    if RTP_SEND in spec.scope:
        return ConfigError(
            f"{spec.name} is an option of the standalone RTP sender; add -rtp_send"
            " (gossipper -rtp_send -h)"
        )
    if scope is SIM:
        if spec.kind in _PASS0:
            return ConfigError(
                f"gossipper sim: {spec.name} is not a sim option; use gossipper {spec.name}"
            )
        return ConfigError(f"gossipper sim: {spec.name} has no meaning in a simulation; drop it")
    return ConfigError(
        f"{spec.name} is an option of gossipper sim (a simulated run); a real run has no use for it"
    )


def _scan(args: list[str], scope: Scope) -> tuple[list[_Occurrence], list[str], ConfigError | None]:
    """Split argv into option occurrences and positional hosts; stop at the first error."""
    occurrences: list[_Occurrence] = []
    hosts: list[str] = []
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if not token.startswith("-"):
            hosts.append(token)
            continue
        spec = _lookup(token)
        if spec is None:
            return occurrences, hosts, _unknown_option(token, scope)
        if spec.kind is Kind.HELP:
            # `-h stat` is the only optional argument SIPp has.
            if index < len(args) and args[index] == "stat":
                occurrences.append(_Occurrence(spec, ("stat",)))
                index += 1
            else:
                occurrences.append(_Occurrence(spec, ()))
            continue
        values: list[str] = []
        while len(values) < spec.arity:
            if index >= len(args) or _is_option_token(args[index], spec):
                break
            values.append(args[index])
            index += 1
        if len(values) < spec.arity and spec.status is SUPPORTED:
            need = "two values" if spec.arity == 2 else "a value"
            return occurrences, hosts, ConfigError(f"{spec.name} needs {need}: {_value_help(spec)}")
        occurrences.append(_Occurrence(spec, tuple(values)))
    return occurrences, hosts, None


def _lookup(token: str) -> OptionSpec | None:
    # Exact names only: a token such as -tls_cert must never be read as -t with value ls_cert,
    # and no prefix abbreviations are accepted.
    name = token[1:] if token.startswith("--") else token
    return _BY_NAME.get(name)


def _is_option_token(token: str, spec: OptionSpec) -> bool:
    """Whether a token in value position is really the next option (so the value is missing)."""
    if not token.startswith("-") or token == "-":
        return False
    if _NEGATIVE_NUMBER.match(token):
        return False
    # "-default_behaviors -bye" is a legitimate list, not a missing value.
    return not (spec.kind is Kind.BEHAVIORS and _lookup(token) is None)


def _unknown_option(token: str, scope: Scope) -> ConfigError:
    name = token[1:] if token.startswith("--") else token
    if "=" in name and name.split("=", 1)[0] in _BY_NAME:
        option, value = name.split("=", 1)
        return ConfigError(
            f"unknown option {token}: write the value as a separate argument: {option} {value}"
        )
    import difflib  # only for this error message

    # A case slip (-t2 for -T2) is the likeliest mistake; then the closest spelling.
    names = [known for known, spec in _BY_NAME.items() if scope in spec.scope]
    close = [known for known in names if known.lower() == name.lower()]
    close = close or difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return ConfigError(f"unknown option {token}; did you mean {close[0]}?")
    return ConfigError(f"unknown option {token}; see gossipper -h")


def _value_help(spec: OptionSpec) -> str:
    if spec.value_help:
        return spec.value_help
    return spec.metavar.lower() or spec.kind.value


def _convert(occurrences: list[_Occurrence]) -> tuple[dict[str, Any], dict[str, object]]:
    """RunConfig field values, and the values of options that are not RunConfig fields."""
    values: dict[str, Any] = {}
    extra: dict[str, object] = {}
    keys: dict[str, str] = {}
    globals_set: dict[str, str] = {}
    appended: dict[str, list[str]] = {}
    injection_indexes: list[tuple[str, int]] = []
    for occurrence in occurrences:
        spec = occurrence.spec
        dest = spec.dest
        assert dest is not None, spec.name  # every supported non-pass-0 option has a field
        kind = spec.kind
        raw = occurrence.values[0] if occurrence.values else ""
        if kind is Kind.KEY_VALUE:
            name, text = occurrence.values
            if not name:
                raise ConfigError(f"{spec.name} needs a non-empty name")
            # Repeated names: the last one wins.
            (keys if dest == "keys" else globals_set)[name] = text
        elif kind is Kind.FILE_FIELD:
            file_name, field_text = occurrence.values
            field = _parse_int(spec, field_text, "a field number >= 0")
            if field < 0:
                raise ConfigError(f"{spec.name} field must be >= 0, got {field_text!r}")
            injection_indexes.append((file_name, field))
        elif kind is Kind.APPEND:
            appended.setdefault(dest, []).append(raw)
        elif RUN not in spec.scope:
            extra[dest] = _convert_one(spec, raw)
        elif kind is Kind.HOSTPORT:
            # dest names the host field; its port sits next to it (rsa_host -> rsa_port).
            host, port = parse_host_port(raw, spec.name)
            values[dest] = host
            default_port = 6060 if dest == "twin_host" else 5060  # -3pcc: SIPp's 6060
            values[dest.removesuffix("_host") + "_port"] = (
                port if port is not None else default_port
            )
        else:
            value = _convert_one(spec, raw)
            if dest == "transport_mode" and value in ("s1", "sn"):
                # Ask the kernel, so the refusal says whether SCTP could exist here at all.
                from gossipper.transport.sctp import sctp_refusal

                raise ConfigError(sctp_refusal(f"-t {value}"))
            check_field(dest, value, shown=raw, option=spec.name)
            values[dest] = value
    if keys:
        values["keys"] = keys
    if globals_set:
        values["globals_set"] = globals_set
    for dest, items in appended.items():
        values[dest] = tuple(items)
    if injection_indexes:
        values["injection_indexes"] = tuple(injection_indexes)
    return values, extra


def _requirement(spec: OptionSpec, fallback: str) -> str:
    # Only RunConfig fields have rules; another scope's dest may share a field's name.
    has_rule = spec.dest is not None and RUN in spec.scope
    return (rule_requirement(spec.dest) if has_rule and spec.dest else None) or fallback


def _convert_one(spec: OptionSpec, raw: str) -> object:
    kind = spec.kind
    if kind is Kind.FLAG:
        return True
    if kind is Kind.NO_BEHAVIORS:
        return frozenset()
    if kind is Kind.BOOL:
        return _parse_bool(spec, raw)
    if kind is Kind.INT:
        return _parse_int(spec, raw, _requirement(spec, "an integer"))
    if kind is Kind.PORT:
        return _parse_int(spec, raw, _requirement(spec, "a port number 0-65535"))
    if kind is Kind.FLOAT:
        if not _FLOAT.fullmatch(raw):
            raise ConfigError(f"{spec.name} must be {_requirement(spec, 'a number')}, got {raw!r}")
        return float(raw)
    if kind is Kind.TIME:
        return _parse_time(spec, raw)
    if kind is Kind.STR:
        return raw
    if kind is Kind.CHOICE:
        if raw not in spec.choices:
            raise ConfigError(f"{spec.name} must be one of {', '.join(spec.choices)}, got {raw!r}")
        return raw
    if kind is Kind.RTCHECK:
        if raw not in ("full", "loose"):
            raise ConfigError(f"{spec.name} must be full or loose, got {raw!r}")
        return raw == "loose"
    if kind is Kind.BEHAVIORS:
        return parse_default_behaviors(raw)
    if kind is Kind.NONNEGATIVE or kind is Kind.PERCENT:
        return _parse_nonnegative(spec, raw)
    raise AssertionError(f"unhandled kind {kind} for {spec.name}")


def _parse_int(spec: OptionSpec, raw: str, requirement: str) -> int:
    # SIPp reads integer option values with strtol-like rules, 0x hex allowed
    # (docs/sipp-behaviour.md, "Command line").
    if not _INT.fullmatch(raw):
        raise ConfigError(f"{spec.name} must be {requirement}, got {raw!r}")
    text = raw.lstrip("+-")
    value = int(text, 16) if text[:2].lower() == "0x" else int(text, 10)
    return -value if raw.startswith("-") else value


def _parse_nonnegative(spec: OptionSpec, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{spec.name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{spec.name} must be a finite number >= 0, got {raw!r}")
    if spec.kind is Kind.PERCENT and value > 100:
        raise ConfigError(f"{spec.name} must be a percentage in [0, 100], got {raw!r}")
    return value


def _parse_bool(spec: OptionSpec, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    if _INT.fullmatch(raw):
        return _parse_int(spec, raw, "true or false") != 0
    raise ConfigError(f"{spec.name} must be true or false, got {raw!r}")


def _parse_time(spec: OptionSpec, raw: str) -> float:
    """A duration in seconds: number with optional ms/s/m/h suffix, else the option's unit."""
    match = _TIME.fullmatch(raw.strip().lower())
    if match is None:
        if ":" in raw:
            # SIPp refuses mm:ss as well ("mm:ss not implemented yet").
            raise ConfigError(
                f"{spec.name}: mm:ss times are not supported, got {raw!r}; write e.g. 90s or 1.5m"
            )
        raise ConfigError(
            f"{spec.name} must be a duration such as 500ms, 2s, 1.5m or 1h"
            f" (a plain number is in {spec.unit}), got {raw!r}"
        )
    number, suffix = match.groups()
    return float(number) * _TIME_FACTOR_S[suffix or spec.unit]


def parse_host_port(text: str, what: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` (IPv6 as ``[addr]:port``; a bare IPv6 address has no port).

    ``what`` names the argument in error messages (``remote host``, ``-rsa``).
    """
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ConfigError(f"{what}: missing ']' in {text!r}; write IPv6 as [addr]:port")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ConfigError(f"{what}: unexpected {rest!r} after ']' in {text!r}")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        # No colon: a name or IPv4 address. Several colons: a bare IPv6 address, no port.
        host, port_text = text, None
    if not host:
        raise ConfigError(f"{what}: empty host in {text!r}")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"{what}: port must be a number 1-65535, got {port_text!r} in {text!r}")
    return host, int(port_text)


# --- help and documentation -------------------------------------------------------------------

_USAGE = "Usage: gossipper [sipp] [remote_host[:remote_port]] [options]"

_RULES_TEXT = (
    "Options start with - or -- and may come before or after the remote host. Durations take"
    " a unit suffix ms, s, m or h (fractions allowed); a plain number uses the unit shown."
    " Booleans are true/false/yes/no or integers; integers may be written in 0x hex."
    " The remote host is host[:port], IPv6 as [addr]:port (a bare IPv6 address has no port);"
    " the default port is 5060."
)

_SIM_INTRO = (
    "gossipper sim runs the scenario of a normal command line and its peer (-peer NAME|FILE;"
    " default the natural partner: uas for uac, branchs for branchc, ...) in one process, on a"
    " simulated network under virtual time. Every option of a real run applies to the main"
    " scenario (the remote host is the peer: do not give one); the options below add the seed,"
    " the epoch and network faults. c2s is the direction from the side running the client"
    " scenario to the side running the server scenario. Same arguments and seed, same bytes"
    " in every output file."
)


_RTP_SEND_INTRO = (
    "gossipper -rtp_send streams RTP to one address without any SIP, to test a media path"
    " alone: a 425 Hz tone, the codec's silence or a media file, in -rtp_streams parallel"
    " streams, for -rtp_dur ms or until interrupted (Ctrl-C). The flags are the Go gossipper's"
    " -rtp_send family; those marked gossipper are additions. Every stream is sent by the"
    " media scheduler (one task for all of them)."
)
_RTP_SEND_NOTES = (
    "At the end one line sums up: streams, packets and payload octets sent, packets sent more"
    " than 10 ms late (with frames skipped after a stall) as a percentage, packets refused by"
    " a full socket buffer, send errors, and the CPU used. Exit status: 0 when packets were"
    " sent; 1 for a bad option or when every send failed; 254 when a socket cannot be bound;"
    " 255 for an unreadable media file."
)


@dataclasses.dataclass(frozen=True, slots=True)
class _CommandDoc:
    """How ``-h`` and docs/cli.md present the command line of one scope.

    ``listed`` picks the options shown: every option of the scope for a SIPp-style run; for a
    subcommand, only its own (the options it shares with a run are documented there).
    ``notes`` and ``notes_md`` follow the option list in the help and in the Markdown.
    """

    scope: Scope
    heading: str
    usage: str
    intro: tuple[str, ...]
    intro_md: tuple[str, ...]
    notes: tuple[str, ...]
    notes_md: tuple[str, ...]

    def listed(self, spec: OptionSpec) -> bool:
        if self.scope is RUN:
            return RUN in spec.scope
        return spec.scope == self.scope


def _refused_in(scope: Scope) -> str:
    return ", ".join(spec.name for spec in OPTIONS if scope not in spec.scope and RUN in spec.scope)


def _subcommands_line() -> str:
    from gossipper.cli.commands import SUBCOMMANDS

    names = ", ".join(f"gossipper {entry.name}" for entry in SUBCOMMANDS)
    return f"Subcommands: {names}; gossipper --help lists them."


_CONFIG_FIELDS = frozenset(RunConfig.field_names())


def _command_docs() -> tuple[_CommandDoc, ...]:
    exit_status = (
        "Exit status: 0 all calls succeeded, 1 some call failed or bad command line,"
        " 97 internal command or global timeout, 99 nothing run (help, version, -sd),"
        " 253 an RTP check pattern failed (apattern/vpattern), 254 cannot bind a socket,"
        " 255 fatal error."
    )
    sim_timeout = (
        "-timeout defaults in a sim to the expected duration (-m x -rp / -r; 0 without -m) plus"
        " one hour of virtual time, so that a run without -m, or a stuck one, ends."
    )
    sim_refused = f"Options of a real run that a simulation refuses: {_refused_in(SIM)}."
    return (
        _CommandDoc(
            scope=RUN,
            heading="",
            usage=_USAGE,
            intro=(
                _RULES_TEXT,
                "Options marked [not yet] are recognised but refused for now; those marked"
                " [unavailable] are refused for good (SCTP where the system has none, C"
                " plugins).",
            ),
            intro_md=(
                _RULES_TEXT,
                "The command line is SIPp 3.6.1's: every SIPp option is recognised. Options"
                " whose status is *not yet* are refused with `-OPTION is not supported yet`"
                " (exit status 1); those whose status is *unavailable* are refused for good,"
                " with the reason (SCTP where the kernel has none, C plugins). A leading"
                " `sipp` word is ignored (`gossipper sipp -sn uac 127.0.0.1`). With no"
                " arguments at all the help is printed (exit status 99).",
                _subcommands_line().replace("gossipper --help", "`gossipper --help`"),
            ),
            notes=(_subcommands_line(), exit_status),
            notes_md=(),
        ),
        _CommandDoc(
            scope=SIM,
            heading="gossipper sim",
            usage="Usage: gossipper sim [options of a real run] [-peer NAME|FILE] [sim options]",
            intro=(_SIM_INTRO,),
            intro_md=(_SIM_INTRO,),
            notes=(sim_timeout, sim_refused, "See docs/simulation.md."),
            notes_md=(
                "`-timeout` defaults in a sim to the expected duration (`-m` x `-rp` / `-r`; 0"
                " without `-m`) plus one hour of virtual time, so that a run without `-m`, or a"
                " stuck one, ends. " + sim_refused + " See [simulation.md](simulation.md) for"
                " examples.",
            ),
        ),
        _CommandDoc(
            scope=RTP_SEND,
            heading="gossipper -rtp_send",
            usage="Usage: gossipper -rtp_send -rtp_addr HOST:PORT [-rtp_* options]",
            intro=(_RTP_SEND_INTRO,),
            intro_md=(_RTP_SEND_INTRO,),
            notes=(_RTP_SEND_NOTES, "See docs/media.md."),
            notes_md=(_RTP_SEND_NOTES + " See [media.md](media.md).",),
        ),
    )


def _groups(doc: _CommandDoc) -> list[tuple[str, list[OptionSpec]]]:
    groups: dict[str, list[OptionSpec]] = {}
    for spec in OPTIONS:
        if doc.listed(spec):
            groups.setdefault(spec.group, []).append(spec)
    return list(groups.items())


def _argument(spec: OptionSpec) -> str:
    if spec.kind is Kind.TIME:
        return f"{spec.metavar or 'TIME'} ({spec.unit})"
    if spec.arity == 0 and spec.kind is not Kind.HELP:
        return ""
    return spec.metavar or {Kind.BOOL: "BOOL", Kind.INT: "N", Kind.FLOAT: "NUMBER"}.get(
        spec.kind, "VALUE"
    )


def format_help(width: int = 100, scope: Scope = RUN) -> str:
    """The ``-h`` text of a command line (``SIM``: ``gossipper sim -h``), from :data:`OPTIONS`."""
    import textwrap  # help only: not part of a run's start-up

    doc = next(doc for doc in _command_docs() if doc.scope is scope)
    lines = [doc.usage, ""]
    for paragraph in doc.intro:
        lines += [*textwrap.wrap(paragraph, width), ""]
    column = 30
    for title, specs in _groups(doc):
        lines.append(f"{title}:")
        for spec in specs:
            left = f"  {spec.name} {_argument(spec)}".rstrip()
            text = spec.help
            if spec.default:
                text += f" (default: {spec.default})"
            if spec.status is NOT_YET:
                text += " [not yet]"
            elif spec.status is UNAVAILABLE:
                text += " [unavailable]"
            wrapped = textwrap.wrap(text, width - column) or [""]
            if len(left) >= column - 1:
                lines.append(left)
                lines += [" " * column + part for part in wrapped]
            else:
                lines.append(left.ljust(column) + wrapped[0])
                lines += [" " * column + part for part in wrapped[1:]]
        lines.append("")
    lines += doc.notes
    return "\n".join(_wrap_long(lines, width)) + "\n"


def _wrap_long(lines: list[str], width: int) -> list[str]:
    import textwrap

    out: list[str] = []
    for line in lines:
        out += textwrap.wrap(line, width) if len(line) > width else [line]
    return out


def _cell(text: str) -> str:
    # Plain cells: escape the table separator and angle brackets (<pause/> would be HTML).
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _default_cell(text: str) -> str:
    # Literal values as code; descriptions ("first free of 5060-5119") as plain text.
    return _cell(text) if " " in text or text == "unlimited" else _code(text)


def format_markdown() -> str:
    """``docs/cli.md``, generated from :data:`OPTIONS`: a run's command line, then each
    subcommand's own options."""
    lines = [
        "# Command line",
        "",
        "<!-- Generated by `python -m gossipper.cli.options --markdown > docs/cli.md`;"
        " do not edit. -->",
        "",
    ]
    for doc in _command_docs():
        level = "##"
        if doc.heading:
            lines += [f"## {doc.heading}", ""]
            level = "###"
        lines += [f"`{doc.usage.removeprefix('Usage: ')}`", ""]
        for paragraph in doc.intro_md:
            lines += [paragraph, ""]
        for title, specs in _groups(doc):
            lines += [
                f"{level} {title}",
                "",
                "| Option | Argument | Default | Meaning | Status | JSON name |",
                "|---|---|---|---|---|---|",
            ]
            for spec in specs:
                argument = _argument(spec)
                # The setting's name in profiles, server runs and RunConfig.from_mapping.
                json_name = f"`{spec.dest}`" if spec.dest in _CONFIG_FIELDS else ""
                lines.append(
                    f"| `{spec.name}` | {_code(argument)} | {_default_cell(spec.default)}"
                    f" | {_cell(spec.help)} | {spec.status.value} | {json_name} |"
                )
            lines.append("")
        for paragraph in doc.notes_md:
            lines += [paragraph, ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gossipper.cli.options [--markdown]``: print the help or docs/cli.md."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--markdown"]:
        sys.stdout.write(format_markdown())
    elif not args:
        sys.stdout.write(format_help())
    else:
        sys.stderr.write("usage: python -m gossipper.cli.options [--markdown]\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
