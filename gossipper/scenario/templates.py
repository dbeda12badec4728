"""Message templates: ``<send>`` CDATA compiled once into literal strings and keyword objects
(docs/sipp-behaviour.md#message-text-and-keywords). Rendering walks the segments; it never
re-parses text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from gossipper.errors import ScenarioError
from gossipper.scenario import auth as digest
from gossipper.scenario.context import (
    CallContext,
    RenderError,
    RunEnv,
    SipMessageLike,
    bracket_ipv6,
)
from gossipper.scenario.keywords import (
    AUTH,
    LEN,
    PLAIN,
    SUPPRESS,
    AuthenticationKeyword,
    CompileEnv,
    FieldKeyword,
    Keyword,
    LenKeyword,
    aka_param,
    keyword_param,
    tokenize,
)

__all__ = [
    "Template",
    "clean_cdata",
    "compile_template",
    "compute_route_set",
]

_WHITESPACE: Final = " \t\r\n\v\f"
"""C ``isspace``: what SIPp's "supresscrlf" strips from the next literal."""


def clean_cdata(text: str, *, is_send: bool) -> str:
    """SIPp's CDATA cleaning (docs/sipp-behaviour.md#cdata-cleaning), applied to ``<send>``,
    ``<sendCmd>`` and ``<DefaultMessage>`` bodies before keyword parsing.

    Raises:
        ValueError: the CDATA is empty after trimming.
    """
    stripped = text.lstrip(" \t\n")
    end = len(stripped)
    removed_newlines = 0
    while end > 0 and stripped[end - 1] in " \t\n":
        if stripped[end - 1] == "\n":
            removed_newlines += 1
        end -= 1
    msg = stripped[:end]
    if len(msg) <= 1:
        # SIPp's check fires when at most one character is left.
        raise ValueError("empty CDATA")
    # The four passes of SIPp, each repeated until nothing changes, in this order.
    for old, new in (("\n ", "\n"), (" \n", "\n"), ("\n\t", "\n"), ("\t\n", "\n")):
        while old in msg:
            msg = msg.replace(old, new)
    if "\n\n" not in msg:
        msg += "\n\n"
    if is_send and not msg.endswith("\n") and removed_newlines:
        msg += "\n"
    return msg


class Template:
    """A compiled message: a tuple of literal strings and :class:`Keyword` objects.

    ``render(ctx, msg_index, current_index)`` returns the final text (latin-1 view) including the
    ``[len]`` and ``[authentication]`` fix-ups. Treat instances as immutable.
    """

    __slots__ = (
        "_auth",
        "_len",
        "_simple",
        "_suppress_at",
        "has_fields",
        "is_ack",
        "is_cancel",
        "is_response",
        "method",
        "segments",
        "status_code",
    )

    def __init__(
        self,
        segments: Sequence[str | Keyword],
        *,
        method: str = "",
        status_code: int = 0,
    ) -> None:
        merged: list[str | Keyword] = []
        for seg in segments:
            if isinstance(seg, str):
                if not seg:
                    continue
                if merged and isinstance(merged[-1], str):
                    merged[-1] = merged[-1] + seg
                    continue
            merged.append(seg)
        self.segments: tuple[str | Keyword, ...] = tuple(merged)
        self.method = method
        """Request method of a ``<send>`` ("" for responses and non-message templates)."""
        self.status_code = status_code
        """Status code of a response ``<send>`` (0 otherwise)."""
        self.is_response = status_code != 0
        self.is_ack = method == "ACK"
        self.is_cancel = method == "CANCEL"
        self.has_fields = any(isinstance(s, FieldKeyword) for s in merged)
        kinds = [PLAIN if isinstance(s, str) else s.kind for s in merged]
        self._len = next((i for i, k in enumerate(kinds) if k == LEN), -1)
        self._auth = next((i for i, k in enumerate(kinds) if k == AUTH), -1)
        self._simple = all(k == PLAIN for k in kinds) and not self.has_fields
        self._suppress_at = tuple(
            i for i, seg in enumerate(merged) if not isinstance(seg, str) and seg.kind == SUPPRESS
        )

    def __repr__(self) -> str:
        return f"Template({list(self.segments)!r})"

    @property
    def is_static(self) -> bool:
        """True when the template is one literal (nothing to evaluate per call)."""
        return all(isinstance(s, str) for s in self.segments)

    def text_if_static(self) -> str | None:
        """The literal text when :attr:`is_static`, else None."""
        if not self.segments:
            return ""
        if len(self.segments) == 1 and isinstance(self.segments[0], str):
            return self.segments[0]
        return None

    def bind(self, env: RunEnv) -> Template:
        """Fold run-static keywords into literals (adjacent literals merge)."""
        bound = [s if isinstance(s, str) else s.bind(env) for s in self.segments]
        return Template(bound, method=self.method, status_code=self.status_code)

    def render(self, ctx: CallContext, msg_index: int = -1, current_index: int = -1) -> str:
        """Build the message text for ``ctx``.

        ``msg_index`` is the index of the ``<send>`` element (SIPp's P_index: -1 for default
        messages, -2 inside actions, where ``[branch]`` uses ``current_index - 1``).

        Raises:
            RenderError: a run-time keyword failure (no auth challenge, unreadable file...).
        """
        # Every keyword rendered in order first (some count: [next_dynamic_id]), each called
        # as a Keyword (compiled: through the class's method table, the indexes unboxed, not
        # as a bound method taking Python arguments); the lines of keywords that came out
        # empty are removed after, which is rarely needed.
        parts: list[str] = [
            seg if isinstance(seg, str) else seg.render(ctx, msg_index, current_index)
            for seg in self.segments
        ]
        if self._simple:
            # Hot path (bound uac INVITE): literals and plain per-call keywords only.
            return "".join(parts)
        suppress_at = self._suppress_at
        for i in suppress_at:
            out = parts[i]
            if not out or out[-1] == "\n":
                self._suppress_lines(parts)
                break
        field_parts: list[int] = []
        if self.has_fields:
            field_parts = [i for i in suppress_at if "[authentication" in parts[i]]
        auth_pos = self._auth
        auth_keyword: AuthenticationKeyword | None = None
        if auth_pos >= 0:
            seg = self.segments[auth_pos]
            assert isinstance(seg, AuthenticationKeyword)
            auth_keyword = seg
        elif field_parts:
            auth_pos, auth_keyword = _auth_from_field(parts, field_parts[0])
        if auth_keyword is not None:
            parts[auth_pos] = "\x00"  # placeholder so the body boundary is not affected
            text = "".join(parts)
            boundary = text.find("\r\n\r\n")
            if 0 <= boundary < text.find("\x00"):
                raise RenderError(
                    "the [authentication] keyword should appear in the message header, not the body"
                )
            body = text[boundary + 4 :] if boundary >= 0 else ""
            # The method of the message being built (verified against SIPp 3.6.1).
            method = text.lstrip().split(" ", 1)[0]
            parts[auth_pos] = _credentials(ctx, auth_keyword, method, body, current_index)
        if self._len < 0:
            return "".join(parts)
        len_seg = self.segments[self._len]
        assert isinstance(len_seg, LenKeyword)
        head = "".join(parts[: self._len])
        tail = "".join(parts[self._len + 1 :])
        body_len = _body_length(head, tail)
        if body_len is None:
            # SIPp writes "    0\r\n\r\n" over the marker and ends the message there (observed
            # with 3.6.1: what followed the marker, e.g. a body after a vanished blank line, is
            # not sent as part of the message).
            return f"{head}    0\r\n\r\n"
        # str(n) padded by hand, as "{:5d}" writes it: a format spec in an f-string costs a
        # str.format call (its spec parsed again for every message) in the compiled build.
        digits = str(body_len + len_seg.offset)
        if len(digits) < 5:
            digits = "     "[len(digits) :] + digits  # right-aligned in five columns
        return f"{head}{digits}{tail}"

    def _suppress_lines(self, parts: list[str]) -> None:
        """SIPp's rule for keywords that may vanish with their line: after such a keyword, if
        the character just written (or, when it wrote nothing, the last one before it) ends a
        line, the whitespace at the start of the next literal (the line end) goes too."""
        suppress = False
        for i, seg in enumerate(self.segments):
            if isinstance(seg, str):
                if suppress:
                    parts[i] = parts[i].lstrip(_WHITESPACE)
                    suppress = False
            elif seg.kind == SUPPRESS:
                out = parts[i]
                if (out[-1] if out else _last_char(parts, i)) == "\n":
                    suppress = True


def _last_char(parts: list[str], end: int) -> str:
    """The last character of ``parts[:end]`` joined ("" if they are all empty)."""
    for i in range(end - 1, -1, -1):
        part = parts[i]
        if part:
            return part[-1]
    return ""


def _body_length(head: str, tail: str) -> int | None:
    """Body length for ``[len]``: characters after the first CRLFCRLF of ``head + marker + tail``
    (the marker is SIPp's 5-space placeholder, never part of a CRLFCRLF). None when there is no
    body or it is 100000 bytes or more (SIPp's limits)."""
    marker_len = 5
    boundary = head.find("\r\n\r\n")
    if boundary >= 0:
        length = len(head) - boundary - 4 + marker_len + len(tail)
    else:
        boundary = tail.find("\r\n\r\n")
        if boundary < 0:
            return None
        length = len(tail) - boundary - 4
    if length <= 0 or length >= 100000:
        return None
    return length


def _auth_from_field(parts: list[str], index: int) -> tuple[int, AuthenticationKeyword]:
    """An injected value holding ``[authentication ...]``
    (docs/sipp-behaviour.md#message-text-and-keywords): split that part around the keyword and
    return its position and a keyword with the literal parameters."""
    text = parts[index]
    start = text.find("[authentication")
    end = text.find("]", start)
    if end < 0:
        end = len(text) - 1
    keyword = text[start + 1 : end]
    values = [keyword_param(keyword, "username"), keyword_param(keyword, "password")]
    values += [aka_param(keyword, param) for param in ("aka_K", "aka_OP", "aka_AMF")]
    parts[index : index + 1] = [text[:start], "", text[end + 1 :]]
    templates = [Template([value]) if value else None for value in values]
    made = AuthenticationKeyword(*templates)
    return index + 1, made


def _credentials(
    ctx: CallContext, keyword: AuthenticationKeyword, method: str, body: str, current_index: int
) -> str:
    challenge = ctx.auth_challenge
    if not challenge:
        raise RenderError(
            "[authentication] used without a stored challenge: receive the 401/407 on a "
            '<recv ... auth="true"> first'
        )
    env = ctx.env
    username = (
        keyword.username.render(ctx, -2, current_index)
        if keyword.username is not None
        else (env.auth_username if env.auth_username is not None else env.service)
    )
    password = (
        keyword.password.render(ctx, -2, current_index)
        if keyword.password is not None
        else env.auth_password
    )
    if env.auth_uri is not None:
        uri = f"sip:{env.auth_uri}"
    else:
        uri = f"sip:{bracket_ipv6(env.remote_ip)}:{env.remote_port}"
    nonce_count = ctx.auth_nonce_count
    aka_k = keyword.aka_k.render(ctx, -2, current_index) if keyword.aka_k is not None else None
    aka_op = keyword.aka_op.render(ctx, -2, current_index) if keyword.aka_op is not None else None
    aka_amf = (
        keyword.aka_amf.render(ctx, -2, current_index) if keyword.aka_amf is not None else None
    )
    try:
        credentials = digest.build_credentials(
            challenge,
            username=username,
            password=password,
            method=method,
            uri=uri,
            body=body,
            nonce_count=nonce_count,
            cnonce=f"{ctx.rng.getrandbits(32):08x}",
            aka_k=aka_k if aka_k is not None else env.aka_k,
            aka_op=aka_op if aka_op is not None else env.aka_op,
            aka_amf=aka_amf if aka_amf is not None else env.aka_amf,
        )
    except digest.DigestError as exc:
        raise RenderError(f"[authentication]: {exc}") from None
    ctx.auth_nonce_count = nonce_count + 1
    header = "Proxy-Authorization: " if ctx.auth_challenge_is_proxy else "Authorization: "
    return header + credentials


def _check_first_line(template: Template, env: CompileEnv, line: int | None) -> Template:
    """``<send>`` sanity (docs/sipp-behaviour.md#message-text-and-keywords): the message must start
    with literal text holding the method or ``SIP/2.0 <code>`` and a space."""
    segments = template.segments
    if not segments or not isinstance(segments[0], str):
        raise ScenarioError(
            env.source,
            line,
            "a <send> must start with literal text: a keyword can not produce the method or "
            '"SIP/2.0" (it would break [cseq] handling)',
        )
    first = segments[0].lstrip()
    first_line_end = first.find("\n")
    space = first.find(" ", 0, first_line_end if first_line_end >= 0 else len(first))
    if space <= 0:
        raise ScenarioError(
            env.source,
            line,
            "a <send> must start with the method or SIP/2.0 followed by a space "
            f"(got {first.splitlines()[0] if first else ''!r})",
        )
    token = first[:space]
    if token == "SIP/2.0":
        rest = first[space:].lstrip()
        digits = ""
        for ch in rest:
            if ch.isdigit():
                digits += ch
            else:
                if not ch.isspace():
                    raise ScenarioError(
                        env.source, line, f"invalid reply code {rest.splitlines()[0]!r}"
                    )
                break
        code = int(digits) if digits else 0
        if not 100 <= code < 700:
            raise ScenarioError(
                env.source, line, f"response codes must be in the range 100-699, got {code}"
            )
        return Template(segments, status_code=code)
    return Template(segments, method=token)


def compile_template(
    text: str,
    env: CompileEnv,
    line: int | None = None,
    *,
    crlf: bool = True,
    check_first_line: bool = False,
) -> Template:
    """Compile message text (already CDATA-cleaned for bodies) into a :class:`Template`.

    ``crlf`` turns every LF into CRLF (``<send>``/``<sendCmd>``/``<DefaultMessage>``; not for
    action attributes). ``check_first_line`` applies the ``<send>`` sanity check and records
    the method or status code.
    """
    segments = tokenize(text, env, line, crlf=crlf, sub_template=_sub_template)
    template = Template(segments)
    if check_first_line:
        return _check_first_line(template, env, line)
    return template


def _sub_template(text: str, env: CompileEnv, line: int | None) -> Template:
    return Template(tokenize(text, env, line, crlf=False, sub_template=_sub_template))


def compute_route_set(msg: SipMessageLike, *, from_response: bool) -> tuple[str | None, str | None]:
    """Route set and remote target recorded by ``rrs``
    (docs/sipp-behaviour.md#message-text-and-keywords).

    Record-Route entries (all headers, split on commas outside ``<>``/quotes) are used in
    received order for a request and reversed for a response. If the first entry lacks ``;lr``
    (strict router) it becomes the remote target and the Contact is appended as the last route.
    Returns ``(route_set or None, next_url or None)``; the route set is joined with ``", "``.
    """
    entries: list[str] = []
    for value in msg.header_values("Record-Route"):
        entries.extend(e for e in _split_commas(value) if e)
    if from_response:
        entries.reverse()
    contact = (msg.header("Contact") or "").strip()
    if not entries:
        return None, _target_from_contact(contact)
    first = entries[0]
    if ";lr" in first:
        return ", ".join(entries), _target_from_contact(contact)
    routes = entries[1:]
    if contact:
        routes.append(contact)
    target = _uri_between_brackets(first)
    return (", ".join(routes) or None), (target or None)


def _target_from_contact(contact: str) -> str | None:
    """[3.6.1] the Contact URI between ``<`` and ``>`` only when the value starts with ``<``,
    otherwise the whole value."""
    if not contact:
        return None
    if contact.startswith("<"):
        end = contact.find(">")
        return contact[1:end] if end > 0 else contact[1:]
    return contact


def _uri_between_brackets(value: str) -> str:
    start = value.find("<")
    if start < 0:
        return value
    end = value.rfind(">")
    return value[start + 1 : end] if end > start else value[start + 1 :]


def _split_commas(value: str) -> list[str]:
    out: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and not quoted and depth == 0:
            out.append(value[start:i].strip())
            start = i + 1
    out.append(value[start:].strip())
    return out
