"""``<action>`` children of a message element -> the frozen action objects of
:mod:`gossipper.scenario.actions` (SIPp docs: "Actions").

One reader per action tag, registered in :data:`_ACTION_READERS`; the attributes each tag
accepts are in :data:`_ACTION_ATTRS`. Imported by the loader at the first ``<action>``: most
scenarios have none, and the action classes cost start-up CPU.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from lxml import etree

from gossipper.scenario import actions as act
from gossipper.scenario.loader import (
    _DIST_PARAMS,
    _children,
    _line,
    _Loader,
    _Node,
    _posix,
    _to_wire_text,
    c_strtod,
    c_strtol,
    read_distribution,
)
from gossipper.scenario.templates import Template, compile_template

__all__ = ["read_actions"]

_ACTION_ATTRS: dict[str, frozenset[str]] = {
    "ereg": frozenset(
        [
            "regexp",
            "search_in",
            "header",
            "variable",
            "case_indep",
            "occurrence",
            "occurence",
            "start_line",
            "check_it",
            "check_it_inverse",
            "assign_to",
        ]
    ),
    "log": frozenset({"message"}),
    "warning": frozenset({"message"}),
    "error": frozenset({"message"}),
    "assign": frozenset({"assign_to", "value", "variable"}),
    "add": frozenset({"assign_to", "value", "variable"}),
    "subtract": frozenset({"assign_to", "value", "variable"}),
    "multiply": frozenset({"assign_to", "value", "variable"}),
    "divide": frozenset({"assign_to", "value", "variable"}),
    "assignstr": frozenset({"assign_to", "value"}),
    "gettimeofday": frozenset({"assign_to"}),
    "index": frozenset({"assign_to"}),
    "jump": frozenset({"value", "variable"}),
    "pauserestore": frozenset({"value", "variable"}),
    "sample": frozenset({"assign_to"}) | _DIST_PARAMS,
    "todouble": frozenset({"assign_to", "variable"}),
    "test": frozenset(
        ["assign_to", "variable", "value", "variable2", "compare", "check_it", "check_it_inverse"]
    ),
    "strcmp": frozenset(
        ["assign_to", "variable", "value", "variable2", "check_it", "check_it_inverse"]
    ),
    "verifyauth": frozenset({"assign_to", "username", "password"}),
    "lookup": frozenset({"assign_to", "file", "key"}),
    "insert": frozenset({"file", "value"}),
    "replace": frozenset({"file", "line", "value"}),
    "setdest": frozenset({"host", "port", "protocol"}),
    "closecon": frozenset(),
    "trim": frozenset({"assign_to"}),
    "urlencode": frozenset({"variable"}),
    "urldecode": frozenset({"variable"}),
    "exec": frozenset(
        [
            "command",
            "int_cmd",
            "play_pcap_audio",
            "play_pcap_image",
            "play_pcap_video",
            "play_dtmf",
            "rtp_stream",
            "rtp_echo",
        ]
    ),
    "rtp_echo": frozenset({"value", "variable"}),
}


class _ActionNode(_Node):
    """One action element being read, with the accessors the action readers share."""

    __slots__ = ("element_index",)

    def __init__(
        self, loader: _Loader, node: etree._Element, allowed: frozenset[str], element_index: int
    ) -> None:
        super().__init__(loader, node, allowed)
        self.element_index = element_index

    def var(self, name: str) -> str:
        """A required attribute naming a variable (registered as a reference)."""
        return self.loader.variable(self.required(name), self.line, f"<{self.tag} {name}=>")

    def text(self, name: str) -> Template:
        """A required attribute holding keywords (``[call_id]``, ``[$var]``...)."""
        return compile_template(
            _to_wire_text(self.required(name)), self.loader.env(), self.line, crlf=False
        )

    def flag(self, name: str) -> bool:
        """An optional boolean attribute (absent = false)."""
        return bool(self.boolean(name))

    def rhs(self) -> tuple[float | None, str | None]:
        """The operand of arithmetic, ``jump`` and ``pauserestore``: ``value=`` or
        ``variable=`` (exactly one)."""
        value_text = self.get("value")
        if value_text is not None and self.has("variable"):
            raise self.error(f"<{self.tag}>: value= and variable= are mutually exclusive")
        if value_text is not None:
            value = c_strtod(value_text)
            if value is None:
                raise self.error(f"<{self.tag}> value={value_text!r} is not a number")
            return value, None
        if self.has("variable"):
            return None, self.var("variable")
        raise self.error(f"<{self.tag}> needs value= or variable=")

    def checks(self) -> tuple[bool, bool]:
        """``check_it`` and ``check_it_inverse`` (at most one of them)."""
        if self.has("check_it") and self.has("check_it_inverse"):
            raise self.error(f"<{self.tag}> can not have both check_it and check_it_inverse")
        return self.flag("check_it"), self.flag("check_it_inverse")


def read_actions(
    loader: _Loader, node: etree._Element, element_index: int
) -> tuple[act.Action, ...]:
    """The actions of one ``<action>`` element, in document order."""
    out: list[act.Action] = []
    for child in _children(node):
        tag = str(child.tag)
        allowed = _ACTION_ATTRS.get(tag)
        if allowed is None:
            raise loader.error(
                _line(child),
                f"unknown action <{tag}> (valid: {', '.join(sorted(_ACTION_ATTRS))})",
            )
        a = _ActionNode(loader, child, allowed, element_index)
        a.no_children()
        out.append(_ACTION_READERS[tag](a))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# The readers


def _read_ereg(a: _ActionNode) -> act.Action:
    regexp = _to_wire_text(a.required("regexp"))
    search = a.get("search_in")
    if search is None:
        search = "msg"
    try:
        search_in = act.SearchIn(search)
    except ValueError:
        raise a.error(f"unknown search_in={search!r}: use msg, hdr, body or var") from None
    header: str | None = None
    variable: str | None = None
    occurrence = 1
    if search_in is act.SearchIn.HDR:
        header = a.get("header")
        if not header:
            raise a.error('search_in="hdr" needs a header= attribute')
        header = _to_wire_text(header)
        raw_occ = a.get("occurrence")
        if raw_occ is None:
            raw_occ = a.get("occurence")  # SIPp's original spelling
        if raw_occ is not None:
            occ = c_strtol(raw_occ)
            if occ is None:
                raise a.error(f"occurrence={raw_occ!r} is not an integer")
            occurrence = occ
    elif search_in is act.SearchIn.VAR:
        variable = a.var("variable")
    check_it, check_it_inverse = a.checks()
    assign = a.required("assign_to").split(",")
    if len(assign) > 10:
        raise a.error("<ereg> assign_to can hold at most 10 variables (match + 9)")
    for name in assign:
        a.loader.variable(name, a.line, "<ereg assign_to=>")
    return act.Ereg(
        line=a.line,
        element_index=a.element_index,
        regexp=regexp,
        pattern=_posix(a.loader, a.line, regexp),
        search_in=search_in,
        header=header,
        variable=variable,
        case_indep=a.flag("case_indep"),
        occurrence=occurrence,
        start_line=a.flag("start_line"),
        check_it=check_it,
        check_it_inverse=check_it_inverse,
        assign_to=tuple(assign),
    )


def _read_log(a: _ActionNode) -> act.Action:
    return act.Log(line=a.line, element_index=a.element_index, message=a.text("message"))


def _read_warning(a: _ActionNode) -> act.Action:
    return act.Warning(line=a.line, element_index=a.element_index, message=a.text("message"))


def _read_error(a: _ActionNode) -> act.Action:
    return act.Error(line=a.line, element_index=a.element_index, message=a.text("message"))


def _read_arithmetic(a: _ActionNode) -> act.Action:
    """``assign``, ``add``, ``subtract``, ``multiply``, ``divide``."""
    assign_to = a.var("assign_to")
    value, variable = a.rhs()
    if a.tag == "divide" and variable is None and value == 0:
        raise a.error("<divide> by the constant 0")
    return act.ArithmeticAction(
        line=a.line,
        element_index=a.element_index,
        op=act.Arithmetic(a.tag),
        assign_to=assign_to,
        value=value,
        variable=variable,
    )


def _read_assignstr(a: _ActionNode) -> act.Action:
    return act.AssignStr(
        line=a.line,
        element_index=a.element_index,
        assign_to=a.var("assign_to"),
        value=a.text("value"),
    )


def _read_gettimeofday(a: _ActionNode) -> act.Action:
    names = a.required("assign_to").split(",")
    if len(names) != 2:
        raise a.error('<gettimeofday> needs two variables: assign_to="sec,usec"')
    for name in names:
        a.loader.variable(name, a.line, "<gettimeofday assign_to=>")
    return act.GetTimeOfDay(
        line=a.line, element_index=a.element_index, seconds_var=names[0], microseconds_var=names[1]
    )


def _read_index(a: _ActionNode) -> act.Action:
    return act.IndexAction(line=a.line, element_index=a.element_index, assign_to=a.var("assign_to"))


def _read_jump(a: _ActionNode) -> act.Action:
    value, variable = a.rhs()
    if value is not None and int(value) == a.element_index:
        raise a.error(f"<jump> to index {int(value)} jumps to itself")
    return act.Jump(line=a.line, element_index=a.element_index, value=value, variable=variable)


def _read_pauserestore(a: _ActionNode) -> act.Action:
    value, variable = a.rhs()
    return act.PauseRestore(
        line=a.line, element_index=a.element_index, value=value, variable=variable
    )


def _read_sample(a: _ActionNode) -> act.Action:
    assign_to = a.var("assign_to")
    distribution = read_distribution(a, old_style=False)
    assert distribution is not None  # not old_style: a missing distribution= raises
    return act.Sample(
        line=a.line, element_index=a.element_index, assign_to=assign_to, distribution=distribution
    )


def _read_todouble(a: _ActionNode) -> act.Action:
    return act.ToDouble(
        line=a.line,
        element_index=a.element_index,
        assign_to=a.var("assign_to"),
        variable=a.var("variable"),
    )


def _comparison_operands(a: _ActionNode) -> tuple[bool, bool, str | None, str]:
    """What ``<test>`` and ``<strcmp>`` share: the checks, ``assign_to`` (optional when a check
    is given) and ``variable``; then one of ``value=``/``variable2=`` (read by the caller)."""
    check_it, check_it_inverse = a.checks()
    assign_to: str | None = None
    if a.has("assign_to") or not (check_it or check_it_inverse):
        assign_to = a.var("assign_to")
    variable = a.var("variable")
    if a.has("value") and a.has("variable2"):
        raise a.error(f"<{a.tag}> can not have both value= and variable2=")
    return check_it, check_it_inverse, assign_to, variable


def _read_test(a: _ActionNode) -> act.Action:
    check_it, check_it_inverse, assign_to, variable = _comparison_operands(a)
    value: float | None = None
    variable2: str | None = None
    value_text = a.get("value")
    if value_text is not None:
        value = c_strtod(value_text)
        if value is None:
            raise a.error(f"<test> value={value_text!r} is not a number")
    else:
        variable2 = a.var("variable2")
    compare_text = a.required("compare")
    try:
        compare = act.Compare(compare_text)
    except ValueError:
        raise a.error(
            f"invalid compare={compare_text!r}: use " + ", ".join(c.value for c in act.Compare)
        ) from None
    return act.Test(
        line=a.line,
        element_index=a.element_index,
        assign_to=assign_to,
        variable=variable,
        value=value,
        variable2=variable2,
        compare=compare,
        check_it=check_it,
        check_it_inverse=check_it_inverse,
    )


def _read_strcmp(a: _ActionNode) -> act.Action:
    check_it, check_it_inverse, assign_to, variable = _comparison_operands(a)
    value: str | None = None
    variable2: str | None = None
    value_text = a.get("value")
    if value_text is not None:
        value = _to_wire_text(value_text)
    else:
        variable2 = a.var("variable2")
    return act.Strcmp(
        line=a.line,
        element_index=a.element_index,
        assign_to=assign_to,
        variable=variable,
        value=value,
        variable2=variable2,
        check_it=check_it,
        check_it_inverse=check_it_inverse,
    )


def _read_verifyauth(a: _ActionNode) -> act.Action:
    return act.VerifyAuth(
        line=a.line,
        element_index=a.element_index,
        assign_to=a.var("assign_to"),
        username=a.text("username"),
        password=a.text("password"),
    )


def _read_lookup(a: _ActionNode) -> act.Action:
    return act.Lookup(
        line=a.line,
        element_index=a.element_index,
        assign_to=a.var("assign_to"),
        file=a.text("file"),
        key=a.text("key"),
    )


def _read_insert(a: _ActionNode) -> act.Action:
    return act.Insert(
        line=a.line, element_index=a.element_index, file=a.text("file"), value=a.text("value")
    )


def _read_replace(a: _ActionNode) -> act.Action:
    return act.Replace(
        line=a.line,
        element_index=a.element_index,
        file=a.text("file"),
        line_number=a.text("line"),
        value=a.text("value"),
    )


def _read_setdest(a: _ActionNode) -> act.Action:
    return act.SetDest(
        line=a.line,
        element_index=a.element_index,
        host=a.text("host"),
        port=a.text("port"),
        protocol=a.text("protocol"),
    )


def _read_closecon(a: _ActionNode) -> act.Action:
    return act.CloseCon(line=a.line, element_index=a.element_index)


def _read_trim(a: _ActionNode) -> act.Action:
    return act.Trim(line=a.line, element_index=a.element_index, assign_to=a.var("assign_to"))


def _read_urlcode(a: _ActionNode) -> act.Action:
    """``urlencode`` and ``urldecode``."""
    return act.UrlCode(
        line=a.line,
        element_index=a.element_index,
        variable=a.var("variable"),
        decode=a.tag == "urldecode",
    )


_MEDIA_ATTRIBUTES = (
    "play_pcap_audio",
    "play_pcap_image",
    "play_pcap_video",
    "play_dtmf",
    "rtp_stream",
    "rtp_echo",
)


def _read_exec(a: _ActionNode) -> act.Action:
    if a.has("command"):
        return act.ExecCommand(
            line=a.line, element_index=a.element_index, command=a.text("command")
        )
    int_cmd_text = a.get("int_cmd")
    if int_cmd_text is not None:
        try:
            int_cmd = act.IntCmd(int_cmd_text)
        except ValueError:
            int_cmd = act.IntCmd.STOP_CALL  # SIPp's default for unknown values
        return act.ExecIntCmd(line=a.line, element_index=a.element_index, int_cmd=int_cmd)
    for media in _MEDIA_ATTRIBUTES:
        value = a.get(media)
        if value is not None:
            a.loader.has_media = True
            return _MEDIA_READERS[media](a, _media_keyword(a, value, media), media)
    raise a.error("illegal <exec>: give command=, int_cmd= (or a media attribute)")


def _read_rtp_echo(a: _ActionNode) -> act.Action:
    """``<rtp_echo value="0|1"/>``: the run-wide ``-rtp_echo`` echo off or on."""
    a.loader.has_media = True
    value = a.get("value")
    if value is None or a.has("variable"):
        raise a.error('<rtp_echo> needs value="0" or value="1"')
    number = c_strtol(value)
    if number is None:
        raise a.error(f'<rtp_echo value={value!r}>: use value="0" or value="1"')
    return act.MediaAction(
        line=a.line,
        element_index=a.element_index,
        op=act.MediaOp.ECHO_SWITCH,
        on=bool(number),
    )


def _media_keyword(a: _ActionNode, value: str, what: str) -> str:
    """``play_pcap_audio="[name]"`` takes a ``-key`` value at load time (fatal if missing)."""
    if len(value) >= 2 and value.startswith("[") and value.endswith("]"):
        key = value[1:-1]
        if key not in a.loader.keys:
            raise a.error(
                f"{what}={value!r} looks like a keyword value, but -key {key} was not given"
            )
        return a.loader.keys[key]
    return value


def _media_file(a: _ActionNode, name: str, what: str) -> str:
    """The media file ``name``: next to the scenario first, then in the working directory
    (SIPp's order); missing or unreadable is a load error."""
    name = name.strip()
    if not name:
        raise a.error(f"{what}: no media file named")
    candidates = [name] if os.path.isabs(name) else [os.path.join(a.loader.media_dir, name), name]
    for candidate in candidates:
        if os.path.isfile(candidate):
            if not os.access(candidate, os.R_OK):
                raise a.error(f"{what}: media file {candidate!r} is not readable")
            return os.path.abspath(candidate)
    where = "next to the scenario and in the working directory"
    raise a.error(f"{what}: media file {name!r} not found ({where})")


_STATIC_FILE_PAYLOAD_TYPES = frozenset({0, 8, 9, 18})


def _read_rtp_stream(a: _ActionNode, value: str, what: str) -> act.Action:
    text = value.strip()
    if text in ("pause", "resume"):
        op = act.MediaOp.PAUSE_STREAM if text == "pause" else act.MediaOp.RESUME_STREAM
        return act.MediaAction(line=a.line, element_index=a.element_index, op=op)
    first = text.split(",", 1)[0].strip()
    if first in _PATTERN_SWITCHES:
        op, media = _PATTERN_SWITCHES[first]
        return act.MediaAction(line=a.line, element_index=a.element_index, op=op, media=media)
    if first in ("apattern", "vpattern"):
        return _read_rtp_pattern(a, value, first)
    if "pattern" in first:
        raise a.error(
            f"rtp_stream={value!r}: unknown pattern {first!r}: SIPp 3.7's check patterns are"
            f" apattern and vpattern (and {', '.join(_PATTERN_SWITCHES)})"
        )
    fields = [field.strip() for field in text.split(",")]
    if len(fields) > 4:
        raise a.error(f'rtp_stream={value!r}: expected "file[,loops[,payload_type[,codec]]]"')
    loops = 1
    payload_type = -1
    codec = ""
    if len(fields) > 1 and fields[1]:
        parsed = c_strtol(fields[1])
        if parsed is None:
            raise a.error(f"rtp_stream={value!r}: loops {fields[1]!r} is not a number")
        loops = parsed
    if len(fields) > 2 and fields[2]:
        parsed = c_strtol(fields[2])
        if parsed is None or not 0 <= parsed <= 127:
            raise a.error(f"rtp_stream={value!r}: payload type {fields[2]!r} is not 0-127")
        payload_type = parsed
    if len(fields) > 3:
        codec = fields[3]
    if payload_type >= 0 and payload_type not in _STATIC_FILE_PAYLOAD_TYPES and not codec:
        raise a.error(
            f"rtp_stream={value!r}: payload type {payload_type} needs a codec name"
            " (e.g. 96,PCMA/8000)"
        )
    return act.MediaAction(
        line=a.line,
        element_index=a.element_index,
        op=act.MediaOp.RTP_STREAM,
        file=_media_file(a, fields[0], what),
        loops=loops,
        payload_type=payload_type,
        codec=codec,
    )


_PATTERN_SWITCHES = {
    "pauseapattern": (act.MediaOp.PAUSE_STREAM, "audio"),
    "resumeapattern": (act.MediaOp.RESUME_STREAM, "audio"),
    "pausevpattern": (act.MediaOp.PAUSE_STREAM, "video"),
    "resumevpattern": (act.MediaOp.RESUME_STREAM, "video"),
}


def _read_rtp_pattern(a: _ActionNode, value: str, first: str) -> act.Action:
    """SIPp 3.7's ``apattern|vpattern,LOOPS,PT[,CODEC]``: the built-in check pattern (no
    file); the codec name only sets the RTP clock rate (``PCMU/8000``)."""
    media = "audio" if first == "apattern" else "video"
    usage = f'expected "{first},loops,payload_type[,codec]"'
    fields = [field.strip() for field in value.strip().split(",")]
    if len(fields) > 4:
        raise a.error(f"rtp_stream={value!r}: {usage}")
    loops = 1
    if len(fields) > 1 and fields[1]:
        parsed = c_strtol(fields[1])
        if parsed is None:
            raise a.error(f"rtp_stream={value!r}: loops {fields[1]!r} is not a number")
        loops = parsed
    payload_type = -1
    if len(fields) > 2 and fields[2]:
        parsed = c_strtol(fields[2])
        if parsed is None or not 0 <= parsed <= 127:
            raise a.error(f"rtp_stream={value!r}: payload type {fields[2]!r} is not 0-127")
        payload_type = parsed
    elif media == "video":
        raise a.error(f"rtp_stream={value!r}: vpattern needs a payload type ({usage})")
    codec = fields[3] if len(fields) > 3 else ""
    return act.MediaAction(
        line=a.line,
        element_index=a.element_index,
        op=act.MediaOp.RTP_PATTERN,
        media=media,
        loops=loops,
        payload_type=payload_type,
        codec=codec,
    )


def _read_play_pcap(a: _ActionNode, value: str, what: str) -> act.Action:
    return act.MediaAction(
        line=a.line,
        element_index=a.element_index,
        op=act.MediaOp.PLAY_PCAP,
        media=what.rsplit("_", 1)[1],
        file=_media_file(a, value, what),
    )


_DTMF_DIGITS = frozenset("0123456789*#ABCDabcd")


def _read_play_dtmf(a: _ActionNode, value: str, what: str) -> act.Action:
    digits, _, duration_text = value.partition(",")
    digits = digits.strip()
    if not digits or not set(digits) <= _DTMF_DIGITS:
        raise a.error(f"play_dtmf={value!r}: digits are 0-9, *, # and A-D")
    duration_ms = 200
    if duration_text.strip():
        parsed = c_strtol(duration_text.strip())
        if parsed is None or parsed <= 0:
            raise a.error(f"play_dtmf={value!r}: the duration is a positive number of ms")
        duration_ms = parsed
    return act.MediaAction(
        line=a.line,
        element_index=a.element_index,
        op=act.MediaOp.PLAY_DTMF,
        digits=digits.upper(),
        duration_ms=duration_ms,
    )


_ECHO_OPS = {
    "startaudio": ("audio", True),
    "updateaudio": ("audio", True),
    "stopaudio": ("audio", False),
    "startvideo": ("video", True),
    "updatevideo": ("video", True),
    "stopvideo": ("video", False),
}


def _read_exec_rtp_echo(a: _ActionNode, value: str, what: str) -> act.Action:
    op = value.split(",", 1)[0].strip().lower()
    if op not in _ECHO_OPS:
        raise a.error(f"rtp_echo={value!r}: use one of {', '.join(_ECHO_OPS)}")
    media, on = _ECHO_OPS[op]
    return act.MediaAction(
        line=a.line, element_index=a.element_index, op=act.MediaOp.ECHO, media=media, on=on
    )


_MEDIA_READERS: dict[str, Callable[[_ActionNode, str, str], act.Action]] = {
    "play_pcap_audio": _read_play_pcap,
    "play_pcap_image": _read_play_pcap,
    "play_pcap_video": _read_play_pcap,
    "play_dtmf": _read_play_dtmf,
    "rtp_stream": _read_rtp_stream,
    "rtp_echo": _read_exec_rtp_echo,
}


_ActionReader = Callable[[_ActionNode], act.Action]

_ACTION_READERS: dict[str, _ActionReader] = {
    "ereg": _read_ereg,
    "log": _read_log,
    "warning": _read_warning,
    "error": _read_error,
    "assign": _read_arithmetic,
    "add": _read_arithmetic,
    "subtract": _read_arithmetic,
    "multiply": _read_arithmetic,
    "divide": _read_arithmetic,
    "assignstr": _read_assignstr,
    "gettimeofday": _read_gettimeofday,
    "index": _read_index,
    "jump": _read_jump,
    "pauserestore": _read_pauserestore,
    "sample": _read_sample,
    "todouble": _read_todouble,
    "test": _read_test,
    "strcmp": _read_strcmp,
    "verifyauth": _read_verifyauth,
    "lookup": _read_lookup,
    "insert": _read_insert,
    "replace": _read_replace,
    "setdest": _read_setdest,
    "closecon": _read_closecon,
    "trim": _read_trim,
    "urlencode": _read_urlcode,
    "urldecode": _read_urlcode,
    "exec": _read_exec,
    "rtp_echo": _read_rtp_echo,
}
assert _ACTION_READERS.keys() == _ACTION_ATTRS.keys()
