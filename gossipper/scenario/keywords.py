"""Message keywords (SIPp docs: scenarios/keywords;
docs/sipp-behaviour.md#message-text-and-keywords): parsing message text into
literal strings and keyword objects, once, at load time.

Each keyword object renders itself from a :class:`~gossipper.scenario.context.CallContext`;
run-static keywords also know how to fold themselves into literal text (``bind``) once the
sockets are known, so per-call rendering only evaluates per-call keywords.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, Final

from gossipper.errors import ScenarioError
from gossipper.scenario.context import CallContext, RenderError, RunEnv, bracket_ipv6
from gossipper.sip import SipMessage, canonical_header_name
from gossipper.timefmt import format_log_time, format_log_time_rfc3339

if TYPE_CHECKING:
    from gossipper.scenario.templates import Template

KEYWORD_MAX_LEN = 256
"""SIPp's KEYWORD_SIZE: longer keywords are a syntax error."""

# Segment kinds: how the template renderer treats a keyword's output.
PLAIN: Final = 0
# SIPp "supresscrlf": if the output so far ends in LF, the next literal is lstripped.
SUPPRESS: Final = 1
LEN: Final = 2  # [len]: filled in after the whole message is known
AUTH: Final = 3  # [authentication]: computed after the whole message is known


class Keyword:
    """One keyword occurrence in a message template."""

    __slots__ = ()

    kind: ClassVar[int] = PLAIN

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        """The expansion for this call. ``msg_index`` is SIPp's P_index (the send element's index,
        -1 for default messages, -2 inside actions); ``current_index`` the call's position."""
        raise NotImplementedError

    def bind(self, env: RunEnv) -> str | Keyword:
        """Literal text when the value is run-static, else a keyword (maybe specialised)."""
        return self

    def describe(self) -> str:
        """The keyword as written (for debugging)."""
        return f"[{type(self).__name__}]"


class CompileEnv:
    """What keyword compilation needs to know about the load: ``-key`` values, ``-inf`` names
    (None = not known, checks deferred to run time), a variable-reference callback and where we
    are for error messages."""

    __slots__ = ("injection_files", "keys", "on_variable", "secure_media", "source", "uses_crypto")

    def __init__(
        self,
        source: str,
        *,
        keys: Mapping[str, str] | None = None,
        injection_files: Sequence[str] | None = None,
        on_variable: Callable[[str, int], None] | None = None,
    ) -> None:
        self.source = source
        self.keys: Mapping[str, str] = keys or {}
        self.injection_files = (
            [os.path.basename(f) for f in injection_files] if injection_files is not None else None
        )
        self.on_variable = on_variable
        self.secure_media = False
        """A DTLS/ICE/TURN keyword (``SECURE_MEDIA_KEYWORDS``) was compiled: calls need media."""
        self.uses_crypto = False
        """A SIPp 3.7 crypto keyword was compiled: the calls need media to hold the keys."""

    def variable(self, name: str, line: int | None, what: str) -> None:
        """Validate a variable name and count one reference."""
        if name == "":
            raise ScenarioError(self.source, line, f"empty variable name in {what}")
        if "$" in name or "," in name:
            raise ScenarioError(
                self.source, line, f"variable name {name!r} in {what} may not contain '$' or ','"
            )
        if self.on_variable is not None:
            self.on_variable(name, line or 0)


# --- run-static keywords ------------------------------------------------------------------


def _env_value(name: str) -> Callable[[RunEnv, int], str]:
    table: dict[str, Callable[[RunEnv, int], str]] = {
        "service": lambda env, off: env.service,
        "remote_ip": lambda env, off: bracket_ipv6(env.remote_ip),
        "remote_host": lambda env, off: env.remote_host,
        "remote_port": lambda env, off: str(env.remote_port + off),
        "local_ip_type": lambda env, off: str(env.local_ip_type),
        "transport": lambda env, off: env.transport,
        "media_ip": lambda env, off: env.effective_media_ip,
        "media_ip_type": lambda env, off: str(env.media_ip_type),
        "pid": lambda env, off: str(env.pid),
        "sipp_version": lambda env, off: env.sipp_version,
        "users": lambda env, off: str(env.users),
    }
    return table[name]


ENV_KEYWORDS = frozenset(
    [
        "service",
        "remote_ip",
        "remote_host",
        "remote_port",
        "local_ip_type",
        "transport",
        "media_ip",
        "media_ip_type",
        "pid",
        "sipp_version",
        "users",
    ]
)


class EnvKeyword(Keyword):
    """A keyword whose value only depends on the run (folded into literals by ``bind``)."""

    __slots__ = ("_fn", "name", "offset")

    def __init__(self, name: str, offset: int) -> None:
        self.name = name
        self.offset = offset
        self._fn = _env_value(name)

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return self._fn(ctx.env, self.offset)

    def bind(self, env: RunEnv) -> str | Keyword:
        return self._fn(env, self.offset)

    def describe(self) -> str:
        return f"[{self.name}]"


class LocalPortKeyword(Keyword):
    """``[local_port]``: the call's socket port (static unless multi-socket mode)."""

    __slots__ = ("offset",)

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return str(ctx.local_port + self.offset)

    def bind(self, env: RunEnv) -> str | Keyword:
        if env.per_call_local_port:
            return self
        return str(env.local_port + self.offset)


class LocalIpKeyword(Keyword):
    """``[local_ip]`` (IPv6 in brackets) and ``[server_ip]`` (plain): the run's local address,
    or with ``-t ui`` the address of the call's socket (its injection row's IP)."""

    __slots__ = ("bracketed", "name")

    def __init__(self, name: str, *, bracketed: bool) -> None:
        self.name = name
        self.bracketed = bracketed

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        # A context without a socket (tools, tests) falls back to the run's address.
        address = ctx.local_ip or ctx.env.local_ip
        return bracket_ipv6(address) if self.bracketed else address

    def bind(self, env: RunEnv) -> str | Keyword:
        if env.per_call_local_ip:
            return self
        return bracket_ipv6(env.local_ip) if self.bracketed else env.local_ip

    def describe(self) -> str:
        return f"[{self.name}]"


# --- per-call keywords --------------------------------------------------------------------


class CallNumberKeyword(Keyword):
    """``[call_number]``."""

    __slots__ = ()

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return str(ctx.call_number)


class CallIdKeyword(Keyword):
    """``[call_id]``."""

    __slots__ = ()

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return ctx.call_id


class CSeqKeyword(Keyword):
    """``[cseq]`` (offset)."""

    __slots__ = ("offset",)

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return str(ctx.cseq + self.offset)


class BranchKeyword(Keyword):
    """``[branch]``: ``z9hG4bK-<pid>-<call_number>-<index+offset>``; inside actions (P_index -2)
    the index is the call's current index minus 1
    (docs/sipp-behaviour.md#message-text-and-keywords)."""

    __slots__ = ("offset", "prefix")

    def __init__(self, offset: int, prefix: str | None = None) -> None:
        self.offset = offset
        self.prefix = prefix

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        index = (current_index - 1 if msg_index == -2 else msg_index) + self.offset
        prefix = self.prefix if self.prefix is not None else f"z9hG4bK-{ctx.env.pid}-"
        return f"{prefix}{ctx.call_number}-{index}"

    def bind(self, env: RunEnv) -> str | Keyword:
        return BranchKeyword(self.offset, f"z9hG4bK-{env.pid}-")


class MsgIndexKeyword(Keyword):
    """``[msg_index]``: the P_index (-2 inside actions, as 3.6.1 prints)."""

    __slots__ = ()

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return str(msg_index)


class DynamicIdKeyword(Keyword):
    """``[dynamic_id]``: process-wide wrapping counter."""

    __slots__ = ()

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return str(ctx.env.next_dynamic_id())


class LenKeyword(Keyword):
    """``[len]``: placeholder; the template fills in the body length after composition."""

    __slots__ = ("offset",)
    kind = LEN

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return ""


class PeerTagParamKeyword(Keyword):
    """``[peer_tag_param]``: ``;tag=<to-tag of the last response>`` or nothing."""

    __slots__ = ()

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        tag = ctx.peer_tag
        return f";tag={tag}" if tag else ""


class RoutesKeyword(Keyword):
    """``[routes]``: ``Route: <set>``; when empty at a line start the line disappears."""

    __slots__ = ()
    kind = SUPPRESS

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        routes = ctx.route_set
        return f"Route: {routes}" if routes else ""


class NextUrlKeyword(Keyword):
    """``[next_url]``: the remote target recorded by ``rrs``; without one, ``[last_Request_URI]``
    (SIPp after 3.6.1; 3.6.1 printed nothing, so an ``ACK [next_url]`` after a 404 went out
    as ``ACK  SIP/2.0``)."""

    __slots__ = ()

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return ctx.next_url or last_request_uri(ctx)


class ClockTickKeyword(Keyword):
    """``[clock_tick]``: ms since start."""

    __slots__ = ()

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return str(ctx.env.clock_ms())


class TimestampKeyword(Keyword):
    """``[timestamp]``."""

    __slots__ = ()

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        env = ctx.env
        if env.rfc3339:
            return format_log_time_rfc3339(env.wall_time(), env.tz)
        return format_log_time(env.wall_time(), env.tz)


class TdmMapKeyword(Keyword):
    """``[tdmmap]``: the call's ``-tdmmap`` circuit, ``X.h.Y/Z``."""

    __slots__ = ("_source", "_line")

    def __init__(self, source: str, line: int | None) -> None:
        self._source = source
        self._line = line

    def bind(self, env: RunEnv) -> str | Keyword:
        # Checked before any traffic for <send> messages (SIPp stops at the first render).
        if env.tdm_map is None:
            raise ScenarioError(self._source, self._line, _TDMMAP_NEEDS_OPTION)
        return self

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        tdm_map = ctx.env.tdm_map
        if tdm_map is None:
            raise RenderError(f"{self._source}: {_TDMMAP_NEEDS_OPTION}")
        return tdm_map.name(ctx.tdm_circuit)


_TDMMAP_NEEDS_OPTION = (
    "[tdmmap] needs the circuit table: give -tdmmap {a-b}{h}{c-d}{e-f}, e.g. {0-3}{99}{5-8}{1-31}"
)


class DateKeyword(Keyword):
    """``[date]``: RFC 1123 date in GMT."""

    __slots__ = ()

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        # Imported here: email.utils (with calendar, base64, ...) is 15 ms of every run's
        # start-up on a slow machine, for a keyword few scenarios use.
        import email.utils

        return email.utils.formatdate(int(ctx.env.wall_time()), usegmt=True)


class UserIdKeyword(Keyword):
    """``[userid]``."""

    __slots__ = ()

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return str(ctx.user_id)


class MediaPortKeyword(Keyword):
    """``[media_port]`` and its 3.6.1 alias ``[rtpstream_audio_port]`` (``video``: the
    ``[rtpstream_video_port]``): with media on, the call's own RTP port (the socket its
    streams leave from); without, ``-mp`` (run-static, folded at bind)."""

    __slots__ = ("offset", "video")

    def __init__(self, offset: int, *, video: bool = False) -> None:
        self.offset = offset
        self.video = video

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        port = ctx.video_port if self.video else ctx.media_port
        return str((port or ctx.env.media_port) + self.offset)

    def bind(self, env: RunEnv) -> str | Keyword:
        if env.per_call_media:
            return self
        return str(env.media_port + self.offset)


SECURE_MEDIA_KEYWORDS: tuple[str, ...] = (
    "dtls_fingerprint",
    "dtls_setup",
    "ice_ufrag",
    "ice_pwd",
    "ice_candidates",
    "turn_relay_ip",
    "turn_relay_port",
)
"""Keywords the call's secure media renders (gossipper.media.secure.wiring, docs/media.md)."""


class SecureMediaKeyword(Keyword):
    """``[dtls_fingerprint]``, ``[dtls_setup]``, ``[ice_ufrag]``, ... : asked of the call's
    media (empty when the call has none)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return ctx.media_keyword(self.name)


class AutoMediaPortKeyword(Keyword):
    """``[auto_media_port]``: with media on, the call's own RTP port (+ offset); without,
    SIPp's media_port + (4 * (call_number - 1)) mod 10000 + offset."""

    __slots__ = ("offset",)

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        if ctx.media_port:
            return str(ctx.media_port + self.offset)
        port = ctx.env.media_port + (4 * (ctx.call_number - 1)) % 10000 + self.offset
        return str(port)


CRYPTO_KEYWORD = re.compile(
    r"^(?:cryptotag|cryptokeyparams|cryptosuite(?:aescm128sha1|nullsha1)(?:80|32)"
    r"|ueaescm128sha1(?:80|32))[12](?:audio|video)$"
)
"""SIPp 3.7's SDES keywords (``[cryptotag1audio]``, ``[cryptosuiteaescm128sha1801audio]``,
``[cryptokeyparams2video]``, ``[ueaescm128sha1321audio]``...)."""


class CryptoKeyword(Keyword):
    """A SIPp 3.7 crypto keyword: rendered by the call's media, which keeps the keys
    (``gossipper.media.secure.sdes.sipp_crypto_keyword``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return ctx.crypto_keyword(self.name)

    def describe(self) -> str:
        return f"[{self.name}]"


class LastHeaderKeyword(Keyword):
    """``[last_Name]`` / ``[last_Name:]``: the header line(s) of the last received message,
    several occurrences joined with ``, `` on one line
    (docs/sipp-behaviour.md#message-text-and-keywords)."""

    __slots__ = ("header", "key")
    kind = SUPPRESS

    def __init__(self, header: str) -> None:
        self.header = header
        self.key = canonical_header_name(header)  # once, not for every message rendered

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        msg = ctx.last_message
        if msg is None:
            return ""
        if isinstance(msg, SipMessage):
            return msg.joined_line_of(self.key)
        lines = msg.header_lines(self.header)
        if not lines:
            return ""
        if len(lines) == 1:
            name, value = lines[0]
            return f"{name}: {value}"
        return f"{lines[0][0]}: " + ", ".join(value for _, value in lines)

    def describe(self) -> str:
        return f"[last_{self.header}]"


class LastRequestUriKeyword(Keyword):
    """``[last_Request_URI]``: the URI inside ``<...>`` of the last message's To header."""

    __slots__ = ()

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return last_request_uri(ctx)


def last_request_uri(ctx: CallContext) -> str:
    """The URI inside ``<...>`` of the last received message's To header; when there is none
    (no message yet, or a To without brackets), the Request-URI of the last request the call
    sent, so a request built from it never goes out with an empty Request-URI."""
    msg = ctx.last_message
    if msg is not None:
        to = msg.header("To")
        if to:
            start = to.find("<")
            end = to.find(">")
            if 0 <= start < end:
                return to[start + 1 : end]
    return ctx.request_uri or ""


class LastCSeqNumberKeyword(Keyword):
    """``[last_cseq_number]`` (offset; 0 without a last message)."""

    __slots__ = ("offset",)

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        msg = ctx.last_message
        number = msg.cseq_number if msg is not None and msg.cseq_number >= 0 else 0
        return str(number + self.offset)


class LastMessageKeyword(Keyword):
    """``[last_message]``: the whole last received message."""

    __slots__ = ()

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        msg = ctx.last_message
        return msg.text if msg is not None else ""


class VariableKeyword(Keyword):
    """``[$name]`` (insertion rules: docs/sipp-behaviour.md#variables)."""

    __slots__ = ("name",)
    kind = SUPPRESS

    def __init__(self, name: str) -> None:
        self.name = name

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return ctx.variables.insertion(self.name)

    def describe(self) -> str:
        return f"[${self.name}]"


class FillKeyword(Keyword):
    """``[fill variable=v text=t]``: ``t`` repeated to length double(v)."""

    __slots__ = ("text", "variable")

    def __init__(self, variable: str, text: str) -> None:
        self.variable = variable
        self.text = text

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        length = int(ctx.variables.double(self.variable))
        if length <= 0:
            return ""
        reps, rest = divmod(length, len(self.text))
        return self.text * reps + self.text[:rest]


class FileKeyword(Keyword):
    """``[file name="path"]``: the raw file contents (name may contain keywords)."""

    __slots__ = ("name",)

    def __init__(self, name: Template) -> None:
        self.name = name

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        path = self.name.render(ctx, -2, current_index)
        cache = ctx.env.file_cache
        text = cache.get(path)
        if text is None:
            try:
                with open(path, "rb") as handle:
                    text = handle.read().decode("latin-1")
            except OSError as exc:
                raise RenderError(f"[file]: could not open {path!r}: {exc.strerror}") from None
            cache[path] = text
        return text


class FieldKeyword(Keyword):
    """``[fieldN]``, ``[fieldN file=F]``, ``[fieldN line=L]`` from ``-inf`` files."""

    __slots__ = ("field", "file", "line")
    kind = SUPPRESS

    def __init__(self, field: int, file: str | None, line: Template | None) -> None:
        self.field = field
        self.file = file
        self.line = line

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        env = ctx.env
        name = self.file if self.file is not None else env.default_injection
        if name is None:
            raise RenderError(f"[field{self.field}]: no injection file was given (-inf)")
        injection = env.injection.get(name)
        if injection is None:
            raise RenderError(f"[field{self.field}]: unknown injection file {name!r}")
        if self.line is not None:
            text = self.line.render(ctx, -2, current_index).strip()
            line = _atoi(text)
        elif self.file is None:
            line = ctx.injection_line
        else:
            line = ctx.injection_lines.get(name, -1)
        value = injection.field(line, self.field)
        return value if value is not None else ""


class AuthenticationKeyword(Keyword):
    """``[authentication username=U password=P]``: placeholder; the template computes the
    credentials once the message (method, body) is complete
    (docs/sipp-behaviour.md#digest-authentication)."""

    __slots__ = ("aka_amf", "aka_k", "aka_op", "password", "username")
    kind = AUTH

    def __init__(
        self,
        username: Template | None,
        password: Template | None,
        aka_k: Template | None = None,
        aka_op: Template | None = None,
        aka_amf: Template | None = None,
    ) -> None:
        self.username = username
        self.password = password
        # AKAv1-MD5 (RFC 3310): None means the -aka_K/-aka_OP/-aka_AMF option or the default.
        self.aka_k = aka_k
        self.aka_op = aka_op
        self.aka_amf = aka_amf

    def render(self, ctx: CallContext, msg_index: int, current_index: int) -> str:
        return ""


def _atoi(text: str) -> int:
    """C ``atoi``: leading whitespace, optional sign, digits; 0 if none."""
    text = text.lstrip()
    end = 0
    if end < len(text) and text[end] in "+-":
        end += 1
    start_digits = end
    while end < len(text) and text[end].isdigit():
        end += 1
    if end == start_digits:
        return 0
    return int(text[:end])


# --- parsing ------------------------------------------------------------------------------


def quoted_find(text: str, char: str, start: int) -> int:
    """Index of ``char`` at or after ``start``, skipping double-quoted runs; -1 if none."""
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == char:
            return i
        if c == '"':
            close = text.find('"', i + 1)
            if close < 0:
                return -1
            i = close + 1
            continue
        i += 1
    return -1


def keyword_param(keyword: str, param: str) -> str | None:
    """SIPp's keyword parameter syntax: ``param=`` then a ``0x`` hex string, a double-quoted string
    (backslash escapes one character) or a bare token up to ``]``/space/non-printable."""
    pos = keyword.find(param + "=")
    if pos < 0:
        return None
    i = pos + len(param) + 1
    if keyword.startswith("0x", i):
        i += 2
        out = []
        while i < len(keyword) and keyword[i] in "0123456789abcdefABCDEF":
            digits = keyword[i : i + 2]
            if len(digits) == 2 and digits[1] in "0123456789abcdefABCDEF":
                out.append(chr(int(digits, 16)))
                i += 2
            else:
                out.append(chr(int(keyword[i], 16)))
                i += 1
        return "".join(out)
    if keyword.startswith('"', i):
        i += 1
        out = []
        while i < len(keyword):
            c = keyword[i]
            if c == '"':
                break
            if c == "\\":
                i += 1
                if i >= len(keyword):
                    break
                c = keyword[i]
            out.append(c)
            i += 1
        return "".join(out)
    end = i
    while end < len(keyword) and keyword[end] != "]" and 33 <= ord(keyword[end]) <= 126:
        end += 1
    return keyword[i:end]


def split_offset(keyword: str) -> tuple[str, int]:
    """Strip a ``+N``/``-N`` offset (N starting with a digit) from a keyword name
    (docs/sipp-behaviour.md#message-text-and-keywords). Not applied to ``authentication``/``tdmmap``
    (as SIPp) nor to keywords with parameters (SIPp would cut ``[field0 file="a-1.csv"]`` apart; we
    keep it whole)."""
    if keyword.startswith(("authentication", "tdmmap")) or " " in keyword or "=" in keyword:
        return keyword, 0
    pos = keyword.find("+")
    if pos < 0:
        pos = keyword.find("-")
    if pos < 0 or pos + 1 >= len(keyword) or not keyword[pos + 1].isdigit():
        return keyword, 0
    return keyword[:pos], _atoi(keyword[pos:])


_SIMPLE: dict[str, Callable[[int], Keyword]] = {
    "call_number": lambda off: CallNumberKeyword(),
    "call_id": lambda off: CallIdKeyword(),
    "cseq": CSeqKeyword,
    "branch": BranchKeyword,
    "msg_index": lambda off: MsgIndexKeyword(),
    "dynamic_id": lambda off: DynamicIdKeyword(),
    "len": LenKeyword,
    "peer_tag_param": lambda off: PeerTagParamKeyword(),
    "routes": lambda off: RoutesKeyword(),
    "next_url": lambda off: NextUrlKeyword(),
    "clock_tick": lambda off: ClockTickKeyword(),
    "timestamp": lambda off: TimestampKeyword(),
    "date": lambda off: DateKeyword(),
    "userid": lambda off: UserIdKeyword(),
    "auto_media_port": AutoMediaPortKeyword,
    "media_port": MediaPortKeyword,
    # [3.6.1] deprecated aliases of [media_port]
    # (docs/sipp-behaviour.md#message-text-and-keywords).
    "rtpstream_audio_port": MediaPortKeyword,
    "rtpstream_video_port": lambda off: MediaPortKeyword(off, video=True),
    "local_port": LocalPortKeyword,
    "local_ip": lambda off: LocalIpKeyword("local_ip", bracketed=True),
    "server_ip": lambda off: LocalIpKeyword("server_ip", bracketed=False),
    "last_Request_URI": lambda off: LastRequestUriKeyword(),
    "last_cseq_number": LastCSeqNumberKeyword,
    "last_message": lambda off: LastMessageKeyword(),
}

TemplateFactory = Callable[[str, CompileEnv, int | None], "Template"]
"""Compiles a keyword parameter (``line=``, ``name=``, ``username=``) as a sub-template."""


def make_keyword(
    keyword: str,
    env: CompileEnv,
    line: int | None,
    sub_template: TemplateFactory,
) -> Keyword | str:
    """Turn the text between ``[`` and ``]`` into a keyword object (or literal text for ``-key``
    values). Recognition order follows SIPp."""
    name, offset = split_offset(keyword)
    if name in ENV_KEYWORDS:
        return EnvKeyword(name, offset)
    factory = _SIMPLE.get(name)
    if factory is not None:
        return factory(offset)
    if name in SECURE_MEDIA_KEYWORDS:
        env.secure_media = True
        return SecureMediaKeyword(name)
    if name == "tdmmap":
        return TdmMapKeyword(env.source, line)
    if name.startswith(("crypto", "ue")) and CRYPTO_KEYWORD.match(name):
        env.uses_crypto = True
        return CryptoKeyword(name)
    if name.startswith("field"):
        return _make_field(name, env, line, sub_template)
    if name.startswith("file"):
        filename = keyword_param(name, "name")
        if not filename:
            raise ScenarioError(env.source, line, f"[{keyword}]: no name= given for [file]")
        return FileKeyword(sub_template(filename, env, line))
    if name.startswith("$"):
        env.variable(name[1:], line, f"[{keyword}]")
        return VariableKeyword(name[1:])
    if name.startswith("fill"):
        text = keyword_param(name, "text") or "X"
        variable = keyword_param(name, "variable") or ""
        env.variable(variable, line, f"[{keyword}]")
        return FillKeyword(variable, text)
    if name.startswith("last_"):
        header = name[len("last_") :]
        if header.endswith(":"):
            header = header[:-1]
        if not header:
            raise ScenarioError(env.source, line, f"[{keyword}]: no header name after last_")
        return LastHeaderKeyword(header)
    if name.startswith("authentication"):
        user = keyword_param(name, "username")
        password = keyword_param(name, "password")
        aka: list[Template | None] = []
        for param, length in (("aka_K", 16), ("aka_OP", 16), ("aka_AMF", 2)):
            value = aka_param(name, param)
            if value is not None and value.startswith("0x") and len(value) != 2 + 2 * length:
                raise ScenarioError(
                    env.source,
                    line,
                    f"[authentication {param}=0x...]: {param} must be {2 * length} hex digits"
                    f" ({length} bytes), got {len(value) - 2}",
                )
            aka.append(sub_template(value, env, line) if value else None)
        return AuthenticationKeyword(
            sub_template(user, env, line) if user else None,
            sub_template(password, env, line) if password else None,
            aka[0],
            aka[1],
            aka[2],
        )
    if keyword in env.keys:
        return env.keys[keyword]
    raise ScenarioError(
        env.source, line, f"unknown keyword [{keyword}]: define it with -key {keyword} VALUE"
    )


def aka_param(keyword: str, param: str) -> str | None:
    """An AKA parameter of ``[authentication]``: like :func:`keyword_param`, except that a
    ``0x`` value stays hex text (``0x`` and its digits), decoded when the credentials are
    computed: decoded key bytes could hold ``[`` and read as a keyword."""
    pos = keyword.find(param + "=0x")
    if pos < 0:
        return keyword_param(keyword, param)
    start = pos + len(param) + 3
    end = start
    while end < len(keyword) and keyword[end] in HEX_DIGITS:
        end += 1
    return "0x" + keyword[start:end]


def _make_field(
    name: str, env: CompileEnv, line: int | None, sub_template: TemplateFactory
) -> FieldKeyword:
    number = _atoi(name[len("field") :].split(" ", 1)[0])
    filename = keyword_param(name, "file")
    if filename:
        filename = os.path.basename(filename)
    if env.injection_files is not None:
        if filename is None:
            if not env.injection_files:
                raise ScenarioError(
                    env.source,
                    line,
                    f"[{name}] needs an injection file: give one with -inf FILE",
                )
        elif filename not in env.injection_files:
            raise ScenarioError(
                env.source,
                line,
                f"[{name}]: unknown injection file {filename!r}: give it with -inf {filename}",
            )
    line_param = keyword_param(name, "line")
    line_template = sub_template(line_param, env, line) if line_param else None
    return FieldKeyword(number, filename or None, line_template)


HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def tokenize(
    text: str, env: CompileEnv, line: int | None, *, crlf: bool, sub_template: TemplateFactory
) -> list[str | Keyword]:
    """Split message text into literal strings and keyword objects.

    ``\\xHH`` inserts a byte; with ``crlf`` every LF becomes CRLF (``<send>`` bodies); ``[`` starts
    a keyword ending at the next ``]`` outside quotes.
    """
    out: list[str | Keyword] = []
    literal: list[str] = []
    i = 0
    n = len(text)
    line_no = line

    def flush() -> None:
        if literal:
            out.append("".join(literal))
            literal.clear()

    while i < n:
        c = text[i]
        if (
            c == "\\"
            and i + 1 < n
            and text[i + 1] == "x"
            and i + 2 < n
            and text[i + 2] in HEX_DIGITS
        ):
            j = i + 3 if i + 3 < n and text[i + 3] in HEX_DIGITS else i + 2
            literal.append(chr(int(text[i + 2 : j + 1], 16)))
            i = j + 1
        elif c == "\n":
            literal.append("\r\n" if crlf else "\n")
            if line_no is not None:
                line_no += 1
            i += 1
        elif c != "[":
            # Copy a run of ordinary characters at once.
            j = i + 1
            while j < n and text[j] not in "[\\\n":
                j += 1
            literal.append(text[i:j])
            i = j
        else:
            close = quoted_find(text, "]", i + 1)
            reopen = quoted_find(text, "[", i + 1)
            if reopen >= 0 and (close < 0 or reopen < close):
                # "[abc [kw]": the first bracket is literal text (use \x5b to be explicit).
                literal.append(text[i:reopen])
                i = reopen
                continue
            current_line = text[text.rfind("\n", 0, i) + 1 : _line_end(text, i)]
            if close < 0 or close == i + 1 or close - (i + 1) > KEYWORD_MAX_LEN:
                raise ScenarioError(
                    env.source,
                    line_no,
                    f"syntax error or invalid [keyword] while parsing {current_line!r}",
                )
            keyword = text[i + 1 : close]
            made = make_keyword(keyword, env, line_no, sub_template)
            if isinstance(made, str):
                literal.append(made)
            else:
                flush()
                out.append(made)
            i = close + 1
    flush()
    return out


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end
