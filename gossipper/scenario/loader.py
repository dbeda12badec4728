"""SIPp scenario XML -> :class:`~gossipper.scenario.model.Scenario` (sipp-reference 1-5).

lxml is used here only, at load time. Every problem is reported as
``ScenarioError(file, line, reason)``: XML syntax, unknown elements and attributes (SIPp ignores
unknown attributes; we reject them and list the valid ones), missing or malformed values,
labels, variables, RTDs, transactions, keywords.
"""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from lxml import etree

from gossipper.errors import ScenarioError
from gossipper.scenario.distributions import (
    INT_MAX,
    Distribution,
    Exponential,
    Fixed,
    Gamma,
    GeneralizedPareto,
    LogNormal,
    NegativeBinomial,
    Normal,
    Pareto,
    Uniform,
    Weibull,
)
from gossipper.scenario.keywords import CompileEnv
from gossipper.scenario.model import (
    Element,
    ElementKind,
    Optional,
    PauseSpec,
    Scenario,
    TwinRole,
)
from gossipper.scenario.posix_regex import PosixRegexError, compile_posix
from gossipper.scenario.templates import Template, clean_cdata, compile_template
from gossipper.scenario.variables import Scope

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    # Imported where an <action> is parsed: most runs never need the action classes.
    from gossipper.scenario import actions as act

__all__ = [
    "BUILTIN_NAMES",
    "DEFAULT_MESSAGE_TEXTS",
    "builtin_path",
    "builtin_text",
    "load_scenario",
    "load_scenario_text",
]

BUILTIN_NAMES: tuple[str, ...] = (
    "uac",
    "uas",
    "regexp",
    "3pcc-C-A",
    "3pcc-C-B",
    "3pcc-A",
    "3pcc-B",
    "branchc",
    "branchs",
    "uac_pcap",
    "ooc_default",
    "ooc_dummy",
)
"""The 12 built-in scenario names of SIPp (``-sn``/``-sd``), in SIPp's order."""

_CONTACT = "Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>\n"

DEFAULT_MESSAGE_TEXTS: Mapping[str, str] = MappingProxyType(
    {
        # SIPp 3.6.1 forms of the messages sent by the automatic behaviours (sipp-reference 1.12).
        "3pcc_abort": "call-id: [call_id]\ninternal-cmd: abort_call\n\n",
        "ack": (
            "ACK [last_Request_URI] SIP/2.0\n[last_Via]\n[last_From]\n[last_To]\n"
            "Call-ID: [call_id]\nCSeq: [last_cseq_number] ACK\n" + _CONTACT + "Max-Forwards: 70\n"
            "Subject: Performance Test\nContent-Length: 0\n\n"
        ),
        "ack2": (
            "ACK [last_Request_URI] SIP/2.0\n"
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
            "[last_From]\n[last_To]\nCall-ID: [call_id]\nCSeq: [last_cseq_number] ACK\n"
            + _CONTACT
            + "Max-Forwards: 70\nSubject: Performance Test\nContent-Length: 0\n\n"
        ),
        "bye": (
            "BYE [last_Request_URI] SIP/2.0\n"
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
            "[last_From]\n[last_To]\nCall-ID: [call_id]\nCSeq: [last_cseq_number+1] BYE\n"
            "Max-Forwards: 70\n" + _CONTACT + "Content-Length: 0\n\n"
        ),
        "cancel": (
            "CANCEL [last_Request_URI] SIP/2.0\n[last_Via]\n[last_From]\n[last_To]\n"
            "Call-ID: [call_id]\nCSeq: [last_cseq_number] CANCEL\nMax-Forwards: 70\n"
            + _CONTACT
            + "Content-Length: 0\n\n"
        ),
        "200": (
            "SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n[last_CSeq:]\n"
            "Contact: <sip:[local_ip]:[local_port];transport=[transport]>\nContent-Length: 0\n\n"
        ),
    }
)
"""Built-in texts of the default messages, before keyword compilation."""


def builtin_path(name: str) -> Traversable:
    """The packaged XML file of a built-in scenario.

    Raises:
        ScenarioError: unknown name.
    """
    if name not in BUILTIN_NAMES:
        raise ScenarioError(
            f"<builtin:{name}>",
            None,
            f"invalid default scenario name {name!r}: use one of {', '.join(BUILTIN_NAMES)}",
        )
    return _builtin_directory().joinpath(f"{name}.xml")


def _builtin_directory() -> Traversable:
    try:
        package = __import__("gossipper.builtin_scenarios", fromlist=["__name__"])
    except ModuleNotFoundError:
        # Running from a source checkout that is not installed: the XML files sit in the
        # repository's scenarios/ directory, next to the gossipper package.
        return pathlib.Path(__file__).resolve().parents[2] / "scenarios"
    origin = getattr(package, "__file__", None)
    if isinstance(origin, str) and os.path.isfile(origin):
        # A package installed as plain files (the usual case): its directory is what
        # importlib.resources.files() would return, without importing importlib.resources
        # and zipfile (about 4 ms of start-up CPU).
        return pathlib.Path(origin).parent
    import importlib.resources  # zip imports and other loaders

    return importlib.resources.files(package)


def builtin_text(name: str) -> str:
    """The XML text of a built-in scenario (for ``-sd``)."""
    return builtin_path(name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Attribute tables

_COMMON = frozenset(
    [
        "rtd",
        "repeat_rtd",
        "start_rtd",
        "counter",
        "lost",
        "crlf",
        "ignoresdp",
        "hiderest",
        "hide",
        "display",
        "condexec",
        "condexec_inverse",
        "next",
        "test",
        "chance",
        "ontimeout",
    ]
)
_DIST_PARAMS = frozenset(
    [
        "distribution",
        "value",
        "min",
        "max",
        "mean",
        "stdev",
        "lambda",
        "k",
        "x_m",
        "shape",
        "scale",
        "location",
        "theta",
        "n",
        "p",
    ]
)
_OLD_STYLE_DISTS = ("normal", "exponential", "lognormal", "weibull", "pareto", "gamma")
_ELEMENT_ATTRS: dict[str, frozenset[str]] = {
    "send": _COMMON | {"retrans", "timeout", "start_txn", "ack_txn", "response_txn"},
    "recv": _COMMON
    | {
        "response",
        "request",
        "response_txn",
        "optional",
        "advance_state",
        "regexp_match",
        "timeout",
        "rrs",
        "auth",
    },
    "pause": _COMMON
    | _DIST_PARAMS
    | {"milliseconds", "variable", "sanity_check"}
    | set(_OLD_STYLE_DISTS),
    "nop": _COMMON,
    "sendCmd": _COMMON | {"dest"},
    "recvCmd": _COMMON | {"src", "optional"},
}
_ELEMENT_ATTRS["timewait"] = _ELEMENT_ATTRS["pause"]

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

_TOP_ATTRS: dict[str, frozenset[str]] = {
    "label": frozenset({"id"}),
    "Global": frozenset({"variables"}),
    "User": frozenset({"variables"}),
    "Reference": frozenset({"variables"}),
    "ResponseTimeRepartition": frozenset({"value"}),
    "CallLengthRepartition": frozenset({"value"}),
    "DefaultMessage": frozenset({"id"}),
    "init": frozenset(),
}

_MESSAGE_ELEMENTS = frozenset(_ELEMENT_ATTRS)
_ALL_TOP = sorted(set(_MESSAGE_ELEMENTS) | set(_TOP_ATTRS))

# Comments are matched first so that "<![CDATA[" written inside a comment is left alone.
_CDATA_RE = re.compile(rb"<!--.*?-->|<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
_CDATA_MARK = "@@gossipper-cdata-{}@@"
_CDATA_MARK_RE = re.compile(r"@@gossipper-cdata-(\d+)@@")


# --------------------------------------------------------------------------------------------
# Small parsers with C semantics


def c_strtol(text: str) -> int | None:
    """C ``strtol(text, &end, 0)`` requiring the whole string to be consumed (SIPp's
    ``get_long``): leading whitespace, sign, ``0x`` hex, leading-zero octal. None if invalid."""
    s = text.lstrip(" \t\n\r\f\v")
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if not s:
        return None
    try:
        if s[:2].lower() == "0x":
            digits = s[2:]
            if not digits or not all(c in "0123456789abcdefABCDEF" for c in digits):
                return None
            return sign * int(digits, 16)
        if not s.isdigit():
            return None
        if len(s) > 1 and s[0] == "0":
            return sign * int(s, 8)
        return sign * int(s)
    except ValueError:
        return None


def c_strtod(text: str) -> float | None:
    """C ``strtod`` requiring the whole string (SIPp's ``get_double``). None if invalid."""
    s = text.strip(" \t\n\r\f\v") if text[:1].isspace() else text
    if not s or s != s.rstrip():
        return None
    try:
        value = float(s)
    except ValueError:
        try:
            return float(int(s, 16)) if s.lower().startswith(("0x", "-0x", "+0x")) else None
        except ValueError:
            return None
    return value


def c_bool(text: str) -> bool | None:
    """SIPp's ``get_bool``: true/false (any case) or an integer; None if invalid."""
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    number = c_strtol(text)
    if number is None:
        return None
    return number != 0


def _to_wire_text(text: str) -> str:
    """Scenario XML text -> the latin-1 view of the bytes we send (project convention)."""
    return text.encode("utf-8").decode("latin-1")


# --------------------------------------------------------------------------------------------
# Loader state


# Plain slotted classes, not dataclasses: they are private, need no generated methods, and
# generating them cost about 2 ms of start-up CPU on every run.


class _Pending:
    """An element being built; resolved into :class:`Element` once labels are known."""

    __slots__ = ("fields", "line", "next_label", "ontimeout_label")

    def __init__(self, fields: dict[str, Any], line: int) -> None:
        self.fields = fields
        self.line = line
        self.next_label: str | None = None
        self.ontimeout_label: str | None = None


class _VarRef:
    """How often a variable is referenced, and where first."""

    __slots__ = ("count", "line")

    def __init__(self, count: int, line: int) -> None:
        self.count = count
        self.line = line


class _Txn:
    """What the scenario does with one named transaction."""

    __slots__ = ("started", "responses", "acks", "is_invite", "line")

    def __init__(self, *, line: int = 0, is_invite: bool = False) -> None:
        self.started = 0
        self.responses = 0
        self.acks = 0
        self.is_invite = is_invite
        self.line = line


class _Loader:
    """State of one scenario load."""

    def __init__(
        self, source: str, keys: Mapping[str, str], injection_files: Sequence[str] | None
    ) -> None:
        self.source = source
        self.keys = keys
        self.injection_files = injection_files
        self.cdata: list[tuple[bytes, int]] = []
        self.encoding = "utf-8"
        self.elements: list[_Pending] = []
        self.init_elements: list[_Pending] = []
        self.labels: dict[str, int] = {}
        self.init_labels: dict[str, int] = {}
        self.rtd_names: list[str] = []
        self.rtd_started: dict[str, int] = {}
        self.rtd_stopped: set[str] = set()
        self.counter_names: list[str] = []
        self.variables: dict[str, _VarRef] = {}
        self.global_vars: list[str] = []
        self.user_vars: list[str] = []
        self.transactions: dict[str, _Txn] = {}
        self.method_list: str | None = None
        self.methods_sent: list[str] = []
        self.last_recv_optional = False
        self.found_timewait = False
        self.hide_default = False
        self.default_overrides: dict[str, tuple[str, int]] = {}
        self.response_repartition: tuple[int, ...] | None = None
        self.length_repartition: tuple[int, ...] | None = None
        self.has_media = False
        self.uses_injection = False
        self.compile_env: CompileEnv | None = None

    # -- helpers ------------------------------------------------------------------------

    def error(self, line: int | None, reason: str) -> ScenarioError:
        return ScenarioError(self.source, line, reason)

    def env(self) -> CompileEnv:
        if self.compile_env is None:
            self.compile_env = CompileEnv(
                self.source,
                keys=self.keys,
                injection_files=self.injection_files,
                on_variable=self.reference,
            )
        return self.compile_env

    def reference(self, name: str, line: int) -> None:
        ref = self.variables.get(name)
        if ref is None:
            self.variables[name] = _VarRef(1, line)
        else:
            ref.count += 1

    def variable(self, name: str, line: int, what: str) -> str:
        self.env().variable(name, line, what)
        return name

    def check_attributes(
        self, node: etree._Element, allowed: frozenset[str], what: str
    ) -> dict[str, str]:
        attrs: dict[str, str] = {}
        for key, value in node.attrib.items():
            name = str(key)
            if name.startswith("{"):
                continue  # namespaced attributes are not SIPp's business
            if name not in allowed:
                valid = ", ".join(sorted(allowed)) if allowed else "none"
                hint = _suggest(name, allowed)
                raise self.error(
                    _line(node),
                    f"unknown attribute {name!r} on <{what}>{hint} (valid: {valid})",
                )
            attrs[name] = str(value)
        return attrs

    def cdata_of(self, node: etree._Element, what: str) -> tuple[str, int]:
        """The CDATA section of a message element (wire view) and the line it starts on."""
        text = node.text or ""
        match = _CDATA_MARK_RE.search(text)
        line = _line(node)
        if match is None:
            # Plain text instead of CDATA: accept it (SIPp requires CDATA).
            if not text.strip():
                raise self.error(line, f"<{what}> needs a <![CDATA[ ... ]]> message")
            return _to_wire_text(text), line
        raw, start_line = self.cdata[int(match.group(1))]
        decoded = raw.decode(self.encoding, errors="replace")
        return _to_wire_text(decoded), start_line

    def clean(self, text: str, line: int, what: str, *, is_send: bool) -> tuple[str, int]:
        """CDATA cleaning; returns the text and the line of its first character."""
        leading = text[: len(text) - len(text.lstrip(" \t\n"))]
        try:
            cleaned = clean_cdata(text, is_send=is_send)
        except ValueError:
            raise self.error(line, f"empty CDATA in <{what}>") from None
        return cleaned, line + leading.count("\n")

    def rtd(self, value: str, line: int, *, start: bool) -> int | None:
        if value == "false":
            return None
        name = "1" if value == "true" else value
        if name not in self.rtd_names:
            self.rtd_names.append(name)
        if start:
            self.rtd_started.setdefault(name, line)
        else:
            self.rtd_stopped.add(name)
        return self.rtd_names.index(name)

    def txn(self, name: str, line: int, *, start: bool, is_invite: bool, is_ack: bool) -> None:
        if name == "":
            raise self.error(line, "transaction names may not be empty")
        if "$" in name or "," in name:
            raise self.error(line, f"transaction name {name!r} may not contain '$' or ','")
        txn = self.transactions.get(name)
        if txn is None:
            txn = _Txn(line=line, is_invite=is_invite if start else False)
            self.transactions[name] = txn
        if start:
            txn.started += 1
            if txn.started == 1:
                txn.is_invite = is_invite
        elif is_ack:
            txn.acks += 1
        else:
            txn.responses += 1


def _suggest(name: str, allowed: frozenset[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(allowed), n=1)
    return f": did you mean {close[0]!r}?" if close else ""


# --------------------------------------------------------------------------------------------
# Entry points


def load_scenario(
    source: str | os.PathLike[str],
    *,
    builtin_name: str | None = None,
    keys: Mapping[str, str] | None = None,
    global_vars: Mapping[str, str] | None = None,
    injection_files: Sequence[str] | None = None,
) -> Scenario:
    """Load and validate a scenario.

    ``source`` is a file path (``-sf``); with ``builtin_name`` it is ignored and the packaged
    built-in is loaded (``-sn``). ``keys`` are the ``-key`` values, ``global_vars`` the ``-set``
    values. ``injection_files`` (the ``-inf`` paths in order; None = unknown) enables the
    load-time checks of ``[fieldN]``.

    Raises:
        ScenarioError: anything wrong in the scenario, with file and line.
    """
    if builtin_name is not None:
        label = f"<builtin:{builtin_name}>"
        data = builtin_path(builtin_name).read_bytes()
        base_name = builtin_name
    else:
        label = os.fspath(source)
        try:
            with open(label, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ScenarioError(
                label, None, f"can not read scenario file: {exc.strerror}"
            ) from None
        base_name = os.path.basename(label)
        if base_name.endswith(".xml"):
            base_name = base_name[: -len(".xml")]
    return load_scenario_text(
        data,
        source_label=label,
        base_name=base_name,
        keys=keys,
        global_vars=global_vars,
        injection_files=injection_files,
    )


def load_scenario_text(
    data: bytes | str,
    *,
    source_label: str = "<string>",
    base_name: str = "scenario",
    keys: Mapping[str, str] | None = None,
    global_vars: Mapping[str, str] | None = None,
    injection_files: Sequence[str] | None = None,
) -> Scenario:
    """Like :func:`load_scenario` for XML already in memory (bytes as read, or text)."""
    if isinstance(data, str):
        data = _strip_declared_encoding(data).encode("utf-8")
    loader = _Loader(source_label, keys or {}, injection_files)
    root = _parse_xml(loader, data)
    return _build(loader, root, base_name, global_vars or {})


def _strip_declared_encoding(text: str) -> str:
    """A str is already decoded: drop the declaration's encoding so lxml reads it as UTF-8."""
    return re.sub(r"^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*(['\"])[^'\"]*\2", r"\1", text, count=1)


def _parse_xml(loader: _Loader, data: bytes) -> etree._Element:
    def mark(match: re.Match[bytes]) -> bytes:
        if match.group(1) is None:
            return match.group(0)  # a comment
        index = len(loader.cdata)
        line = data.count(b"\n", 0, match.start(1)) + 1
        content = match.group(1)
        loader.cdata.append((content, line))
        # Keep the line count identical so lxml's line numbers stay right.
        return (
            b"<![CDATA["
            + _CDATA_MARK.format(index).encode("ascii")
            + b"\n" * content.count(b"\n")
            + b"]]>"
        )

    marked = _CDATA_RE.sub(mark, data)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_blank_text=False,
    )
    try:
        root = etree.fromstring(marked, parser)
    except etree.XMLSyntaxError as exc:
        line, col = exc.position if exc.position else (exc.lineno, None)
        msg = exc.msg or str(exc)
        raise ScenarioError(loader.source, line or None, f"invalid XML: {msg}", col) from None
    except (ValueError, LookupError) as exc:
        raise ScenarioError(loader.source, None, f"invalid XML: {exc}") from None
    encoding = root.getroottree().docinfo.encoding or "utf-8"
    try:
        "".encode(encoding)
        loader.encoding = encoding
    except LookupError:
        loader.encoding = "utf-8"
    return root


def _line(node: etree._Element) -> int:
    """The element's line (the stubs leave ``sourceline`` untyped)."""
    line = cast("int | None", node.sourceline)
    return line or 0


def _children(node: etree._Element) -> list[etree._Element]:
    return [c for c in node if isinstance(c.tag, str)]


# --------------------------------------------------------------------------------------------
# The scenario body


def _build(
    loader: _Loader, root: etree._Element, base_name: str, global_vars: Mapping[str, str]
) -> Scenario:
    if root.tag != "scenario":
        raise loader.error(_line(root), f"the root element must be <scenario>, not <{root.tag}>")
    attrs = loader.check_attributes(root, frozenset({"name"}), "scenario")
    name = _to_wire_text(attrs.get("name", ""))
    _check_stray_text(loader, root)
    for child in _children(root):
        tag = str(child.tag)
        line = _line(child)
        if tag in _MESSAGE_ELEMENTS:
            if loader.found_timewait:
                raise loader.error(line, "<timewait> must be the last message element")
            _message_element(loader, child, tag, len(loader.elements), loader.elements)
        elif tag == "label":
            _define_label(loader, child, loader.labels, len(loader.elements), "")
            _no_children(loader, child, tag)
        elif tag in ("Global", "User", "Reference"):
            decl_attrs = loader.check_attributes(child, _TOP_ATTRS[tag], tag)
            names = _required(loader, child, decl_attrs, "variables", tag).split(",")
            for var in names:
                if tag == "Reference":
                    if var not in loader.variables:
                        raise loader.error(
                            line, f"<Reference> of variable {var!r}, which does not exist (yet)"
                        )
                    loader.variables[var].count += 1
                    continue
                loader.variable(var, line, f"<{tag}>")
                target = loader.global_vars if tag == "Global" else loader.user_vars
                if var not in target:
                    target.append(var)
            _no_children(loader, child, tag)
        elif tag in ("ResponseTimeRepartition", "CallLengthRepartition"):
            rep_attrs = loader.check_attributes(child, _TOP_ATTRS[tag], tag)
            values = _repartition(loader, child, _required(loader, child, rep_attrs, "value", tag))
            if tag == "ResponseTimeRepartition":
                loader.response_repartition = values
            else:
                loader.length_repartition = values
            _no_children(loader, child, tag)
        elif tag == "DefaultMessage":
            dm_attrs = loader.check_attributes(child, _TOP_ATTRS[tag], tag)
            ident = _required(loader, child, dm_attrs, "id", tag)
            if ident not in DEFAULT_MESSAGE_TEXTS:
                raise loader.error(
                    line,
                    f"unknown <DefaultMessage id={ident!r}>: use one of "
                    + ", ".join(DEFAULT_MESSAGE_TEXTS),
                )
            text, text_line = loader.cdata_of(child, tag)
            cleaned, first_line = loader.clean(text, text_line, tag, is_send=False)
            loader.default_overrides[ident] = (cleaned, first_line)
        elif tag == "init":
            loader.check_attributes(child, _TOP_ATTRS["init"], tag)
            _init_block(loader, child)
        else:
            raise loader.error(line, f"unknown element <{tag}> (valid: {', '.join(_ALL_TOP)})")
    return _finish(loader, name, base_name, global_vars)


def _check_stray_text(loader: _Loader, root: etree._Element) -> None:
    for child in root:
        if child.tail and child.tail.strip():
            raise loader.error(
                _line(child), f"unexpected text {child.tail.strip()[:30]!r} in <scenario>"
            )
    if root.text and root.text.strip():
        raise loader.error(_line(root), f"unexpected text {root.text.strip()[:30]!r}")


def _no_children(loader: _Loader, node: etree._Element, what: str) -> None:
    kids = _children(node)
    if kids:
        raise loader.error(_line(kids[0]), f"<{what}> can not contain <{kids[0].tag}>")


def _required(
    loader: _Loader, node: etree._Element, attrs: Mapping[str, str], name: str, what: str
) -> str:
    value = attrs.get(name)
    if value is None:
        raise loader.error(_line(node), f"<{what}> is missing the required {name!r} attribute")
    return value


def _repartition(loader: _Loader, node: etree._Element, value: str) -> tuple[int, ...]:
    items = [v.strip() for v in value.split(",")]
    # isascii: str.isdigit() also accepts digits int() rejects, such as superscripts.
    if not items or any(not (v.isascii() and v.isdigit()) for v in items):
        raise loader.error(
            _line(node),
            f"repartition {value!r} must be a comma-separated list of integers (ms)",
        )
    return tuple(int(v) for v in items)


def _define_label(
    loader: _Loader, node: etree._Element, labels: dict[str, int], position: int, where: str
) -> None:
    """``<label id=...>``: the label names the next message element; duplicates are fatal."""
    attrs = loader.check_attributes(node, _TOP_ATTRS["label"], "label")
    label = _required(loader, node, attrs, "id", "label")
    if label in labels:
        raise loader.error(_line(node), f"the label {label!r} is defined twice{where}")
    labels[label] = position


def _init_block(loader: _Loader, node: etree._Element) -> None:
    for child in _children(node):
        tag = str(child.tag)
        line = _line(child)
        if tag == "nop":
            _message_element(loader, child, tag, len(loader.init_elements), loader.init_elements)
        elif tag == "label":
            _define_label(
                loader, child, loader.init_labels, len(loader.init_elements), " in <init>"
            )
        else:
            raise loader.error(line, f"<init> can only contain <nop> and <label>, not <{tag}>")


# --------------------------------------------------------------------------------------------
# Message elements


def _message_element(
    loader: _Loader,
    node: etree._Element,
    tag: str,
    index: int,
    target: list[_Pending],
) -> None:
    line = _line(node)
    attrs = loader.check_attributes(node, _ELEMENT_ATTRS[tag], tag)
    fields: dict[str, Any] = {"index": index, "line": line}
    in_init = target is loader.init_elements

    def attr_int(name: str, what: str) -> int | None:
        raw = attrs.get(name)
        if raw is None:
            return None
        value = c_strtol(raw)
        if value is None:
            raise loader.error(line, f"{what} {raw!r} is not a valid integer ({name}=)")
        return value

    def attr_bool(name: str) -> bool | None:
        raw = attrs.get(name)
        if raw is None:
            return None
        value = c_bool(raw)
        if value is None:
            raise loader.error(line, f"{name}={raw!r} is not a valid boolean (true/false)")
        return value

    if tag in ("send", "pause", "timewait", "nop", "sendCmd"):
        if loader.last_recv_optional and not in_init:
            raise loader.error(
                line,
                f"<{tag}> directly after an optional <recv>: SIPp needs a mandatory message "
                'between them (remove one optional="true")',
            )
        loader.last_recv_optional = False

    if tag == "send":
        kind = ElementKind.SEND
        text, text_line = loader.cdata_of(node, tag)
        cleaned, first_line = loader.clean(text, text_line, tag, is_send=True)
        template = compile_template(cleaned, loader.env(), first_line, check_first_line=True)
        fields["template"] = template
        fields["is_response"] = template.is_response
        fields["method"] = template.method
        fields["status_code"] = template.status_code
        if "response_txn" in attrs:
            raise loader.error(line, "response_txn can only be used on <recv> (of a response)")
        if not template.is_response:
            method = template.method
            if "start_txn" in attrs:
                if method == "ACK":
                    raise loader.error(line, "an ACK can not start a transaction (start_txn)")
                loader.txn(
                    attrs["start_txn"], line, start=True, is_invite=method == "INVITE", is_ack=False
                )
                fields["start_txn"] = attrs["start_txn"]
            elif "ack_txn" in attrs:
                if method != "ACK":
                    raise loader.error(line, "ack_txn is only valid on an ACK")
                loader.txn(attrs["ack_txn"], line, start=False, is_invite=False, is_ack=True)
                fields["ack_txn"] = attrs["ack_txn"]
            else:
                loader.method_list = (loader.method_list or "") + method
                if method not in loader.methods_sent:
                    loader.methods_sent.append(method)
        else:
            if "start_txn" in attrs:
                raise loader.error(line, "a response can not start a transaction (start_txn)")
            if "ack_txn" in attrs:
                raise loader.error(line, "a response can not ACK a transaction (ack_txn)")
        retrans = attr_int("retrans", "retransmission timer")
        fields["retrans_ms"] = retrans or 0
        timeout = attr_int("timeout", "send timeout")
        fields["send_timeout_ms"] = timeout or None
    elif tag == "recv":
        kind = ElementKind.RECV
        _recv_fields(loader, node, attrs, fields, index, attr_int, attr_bool)
    elif tag in ("pause", "timewait"):
        kind = ElementKind.PAUSE
        if tag == "timewait":
            fields["is_timewait"] = True
            loader.found_timewait = True
            for forbidden in ("next", "ontimeout"):
                if forbidden in attrs:
                    raise loader.error(line, f"{forbidden}= is not allowed on <timewait>")
        if "variable" in attrs:
            fields["pause"] = PauseSpec(variable=loader.variable(attrs["variable"], line, tag))
        else:
            distribution = _distribution(loader, node, attrs, old_style=True)
            sanity = attr_bool("sanity_check")
            if distribution is not None and sanity is not False:
                p99 = distribution.p99()
                if p99 > INT_MAX:
                    raise loader.error(
                        line,
                        f"the distribution {distribution.describe()} has a 99th percentile of "
                        f"{p99:g} ms, larger than INT_MAX: choose other parameters "
                        '(or sanity_check="false")',
                    )
            fields["pause"] = PauseSpec(distribution=distribution)
    elif tag == "nop":
        kind = ElementKind.NOP
    elif tag == "sendCmd":
        kind = ElementKind.SENDCMD
        fields["peer"] = attrs.get("dest")
        text, text_line = loader.cdata_of(node, tag)
        cleaned, first_line = loader.clean(text, text_line, tag, is_send=False)
        fields["template"] = compile_template(cleaned, loader.env(), first_line)
    else:
        kind = ElementKind.RECVCMD
        fields["peer"] = attrs.get("src")
        optional = _optional(loader, line, attrs.get("optional"))
        fields["optional"] = optional
        loader.last_recv_optional = optional is not Optional.NO
    fields["kind"] = kind

    # Bookkeeping (getBookKeeping order: rtd, repeat_rtd, start_rtd, counter).
    if "rtd" in attrs:
        fields["rtd"] = loader.rtd(attrs["rtd"], line, start=False)
    if "repeat_rtd" in attrs:
        if fields.get("rtd") is None:
            raise loader.error(line, "repeat_rtd needs an rtd attribute on the same element")
        fields["repeat_rtd"] = bool(attr_bool("repeat_rtd"))
    if "start_rtd" in attrs:
        fields["start_rtd"] = loader.rtd(attrs["start_rtd"], line, start=True)
    if "counter" in attrs:
        counter = attrs["counter"]
        if counter == "" or "$" in counter or "," in counter:
            raise loader.error(line, f"counter name {counter!r} may not be empty or contain $ or ,")
        if counter not in loader.counter_names:
            loader.counter_names.append(counter)
        fields["counter"] = loader.counter_names.index(counter)

    # Children: only one <action>.
    actions: list[act.Action] = []
    seen_action = False
    for child in _children(node):
        if child.tag != "action":
            raise loader.error(
                _line(child), f"<{tag}> can only contain <action>, not <{child.tag}>"
            )
        if seen_action:
            raise loader.error(_line(child), f"duplicate <action> in <{tag}>")
        seen_action = True
        loader.check_attributes(child, frozenset(), "action")
        actions.extend(_actions(loader, child, index, in_init))
    fields["actions"] = tuple(actions)

    if "lost" in attrs:
        lost = c_strtod(attrs["lost"])
        if lost is None:
            raise loader.error(line, f"lost={attrs['lost']!r} is not a number (percent)")
        fields["lost_pct"] = lost
    if "crlf" in attrs:
        fields["crlf"] = True  # the mere presence counts, like SIPp
    if "ignoresdp" in attrs:
        fields["ignoresdp"] = bool(attr_bool("ignoresdp"))
    if "hiderest" in attrs:
        loader.hide_default = bool(attr_bool("hiderest"))
    hide = attr_bool("hide")
    fields["hide"] = loader.hide_default if hide is None else hide
    if "display" in attrs:
        fields["display"] = attrs["display"]
    if "condexec" in attrs:
        fields["condexec"] = loader.variable(attrs["condexec"], line, "condexec")
    if "condexec_inverse" in attrs:
        fields["condexec_inverse"] = bool(attr_bool("condexec_inverse"))
    pending = _Pending(fields, line)
    if "next" in attrs:
        pending.next_label = attrs["next"]
        # test/chance only matter together with next (SIPp ignores them otherwise).
        if "test" in attrs:
            fields["test"] = loader.variable(attrs["test"], line, "test")
        if "chance" in attrs:
            chance = c_strtod(attrs["chance"])
            if chance is None or not 0.0 <= chance <= 1.0:
                raise loader.error(line, f"chance={attrs['chance']!r} is not in the range [0, 1]")
            fields["chance"] = chance
    if "ontimeout" in attrs:
        pending.ontimeout_label = attrs["ontimeout"]
    target.append(pending)


def _optional(loader: _Loader, line: int, value: str | None) -> Optional:
    if value is None or value == "false":
        return Optional.NO
    if value == "true":
        return Optional.YES
    if value == "global":
        return Optional.GLOBAL
    raise loader.error(line, f"optional={value!r}: use true, false or global")


def _recv_fields(
    loader: _Loader,
    node: etree._Element,
    attrs: Mapping[str, str],
    fields: dict[str, Any],
    index: int,
    attr_int: Callable[[str, str], int | None],
    attr_bool: Callable[[str], bool | None],
) -> None:
    line = _line(node)
    request = attrs.get("request")
    response = attrs.get("response")
    if request is None and response is None:
        raise loader.error(line, "<recv> needs response= or request=")
    if request is not None and response is not None:
        raise loader.error(line, "<recv> takes either response= or request=, not both")
    regexp_match = attrs.get("regexp_match") == "true"
    fields["regexp_match"] = regexp_match
    if response is not None:
        fields["response"] = response
        code = c_strtol(response)
        if code is None:
            if not regexp_match:
                raise loader.error(line, f"response code {response!r} is not a valid integer")
            fields["response_re"] = _posix(loader, line, response)
        else:
            if not regexp_match and not 100 <= code <= 699:
                raise loader.error(line, f"response code {code} is out of the range 100-699")
            fields["response_code"] = code
            if regexp_match:
                fields["response_re"] = _posix(loader, line, response)
        if "response_txn" in attrs:
            loader.txn(attrs["response_txn"], line, start=False, is_invite=False, is_ack=False)
            fields["response_txn"] = attrs["response_txn"]
            fields["allowed_cseq_methods"] = None
        elif index == 0:
            fields["allowed_cseq_methods"] = None
        else:
            fields["allowed_cseq_methods"] = frozenset(loader.methods_sent)
            fields["cseq_method_list"] = loader.method_list
    else:
        assert request is not None
        if "response_txn" in attrs:
            raise loader.error(line, "response_txn can only be used with response=")
        fields["request"] = request
        if regexp_match:
            fields["request_re"] = _posix(loader, line, request)
    optional = _optional(loader, line, attrs.get("optional"))
    fields["optional"] = optional
    loader.last_recv_optional = optional is not Optional.NO
    advance = attr_bool("advance_state")
    if advance is not None:
        if advance is False and optional is Optional.NO:
            raise loader.error(line, 'advance_state="false" is only allowed on an optional <recv>')
        fields["advance_state"] = advance
    timeout = attr_int("timeout", "receive timeout")
    fields["recv_timeout_ms"] = timeout or None
    fields["rrs"] = bool(attr_bool("rrs"))
    fields["auth"] = bool(attr_bool("auth"))


def _posix(loader: _Loader, line: int, pattern: str) -> re.Pattern[str]:
    try:
        return compile_posix(pattern)
    except PosixRegexError as exc:
        raise loader.error(line, f"invalid regular expression {pattern!r}: {exc}") from None


def _distribution(
    loader: _Loader, node: etree._Element, attrs: Mapping[str, str], *, old_style: bool
) -> Distribution | None:
    """SIPp's ``parse_distribution`` (sipp-reference 1.6). None means "use -d"."""
    line = _line(node)
    what = node.tag

    def number(name: str, label: str) -> float:
        raw = attrs.get(name)
        if raw is None:
            raise loader.error(
                line, f"{label} distribution is missing the required {name!r} attribute"
            )
        value = c_strtod(raw)
        if value is None:
            raise loader.error(line, f"{label} distribution {name}={raw!r} is not a number")
        return value

    name = attrs.get("distribution")
    if name is None:
        if not old_style:
            raise loader.error(line, f"<{what}> requires a distribution= attribute")
        for candidate in _OLD_STYLE_DISTS:
            if candidate in attrs:
                name = candidate
                break
        else:
            if "min" in attrs or "max" in attrs:
                name = "uniform"
            elif "milliseconds" in attrs:
                raw = attrs["milliseconds"]
                value = c_strtod(raw)
                if value is None:
                    raise loader.error(line, f"milliseconds={raw!r} is not a number")
                return Fixed(value)
            else:
                return None
    if name == "fixed":
        return Fixed(number("value", "Fixed"))
    if name == "uniform":
        return Uniform(number("min", "Uniform"), number("max", "Uniform"))
    if name == "normal":
        return Normal(number("mean", "Normal"), number("stdev", "Normal"))
    if name == "lognormal":
        return LogNormal(number("mean", "Lognormal"), number("stdev", "Lognormal"))
    if name == "exponential":
        return Exponential(number("mean", "Exponential"))
    if name == "weibull":
        return Weibull(number("lambda", "Weibull"), number("k", "Weibull"))
    if name == "pareto":
        return Pareto(number("k", "Pareto"), number("x_m", "Pareto"))
    if name == "gpareto":
        return GeneralizedPareto(
            number("shape", "Generalized Pareto"),
            number("scale", "Generalized Pareto"),
            number("location", "Generalized Pareto"),
        )
    if name == "gamma":
        return Gamma(number("k", "Gamma"), number("theta", "Gamma"))
    if name == "negbin":
        return NegativeBinomial(number("n", "Negative Binomial"), number("p", "Negative Binomial"))
    raise loader.error(
        line,
        f"unknown distribution {name!r}: use fixed, uniform, normal, lognormal, exponential, "
        "weibull, pareto, gpareto, gamma or negbin",
    )


# --------------------------------------------------------------------------------------------
# Actions


def _actions(
    loader: _Loader, node: etree._Element, element_index: int, in_init: bool
) -> list[act.Action]:
    out: list[act.Action] = []
    for child in _children(node):
        tag = str(child.tag)
        allowed = _ACTION_ATTRS.get(tag)
        line = _line(child)
        if allowed is None:
            raise loader.error(
                line, f"unknown action <{tag}> (valid: {', '.join(sorted(_ACTION_ATTRS))})"
            )
        attrs = loader.check_attributes(child, allowed, tag)
        _no_children(loader, child, tag)
        out.append(_action(loader, child, tag, attrs, element_index, line))
    return out


def _action(
    loader: _Loader,
    node: etree._Element,
    tag: str,
    attrs: Mapping[str, str],
    element_index: int,
    line: int,
) -> act.Action:
    from gossipper.scenario import actions as act

    env = loader.env()
    base = {"line": line, "element_index": element_index}

    def required(name: str) -> str:
        value = attrs.get(name)
        if value is None:
            raise loader.error(line, f"<{tag}> is missing the required {name!r} attribute")
        return value

    def var(name: str) -> str:
        return loader.variable(required(name), line, f"<{tag} {name}=>")

    def text(name: str) -> Template:
        return compile_template(_to_wire_text(required(name)), env, line, crlf=False)

    def flag(name: str) -> bool:
        raw = attrs.get(name)
        if raw is None:
            return False
        value = c_bool(raw)
        if value is None:
            raise loader.error(line, f"{name}={raw!r} is not a valid boolean (true/false)")
        return value

    def rhs() -> tuple[float | None, str | None]:
        if "value" in attrs and "variable" in attrs:
            raise loader.error(line, f"<{tag}>: value= and variable= are mutually exclusive")
        if "value" in attrs:
            value = c_strtod(attrs["value"])
            if value is None:
                raise loader.error(line, f"<{tag}> value={attrs['value']!r} is not a number")
            return value, None
        if "variable" in attrs:
            return None, var("variable")
        raise loader.error(line, f"<{tag}> needs value= or variable=")

    def checks() -> tuple[bool, bool]:
        if "check_it" in attrs and "check_it_inverse" in attrs:
            raise loader.error(line, f"<{tag}> can not have both check_it and check_it_inverse")
        return flag("check_it"), flag("check_it_inverse")

    if tag == "ereg":
        regexp = _to_wire_text(required("regexp"))
        search = attrs.get("search_in", "msg")
        try:
            search_in = act.SearchIn(search)
        except ValueError:
            raise loader.error(
                line, f"unknown search_in={search!r}: use msg, hdr, body or var"
            ) from None
        header = None
        variable = None
        occurrence = 1
        if search_in is act.SearchIn.HDR:
            header = attrs.get("header")
            if not header:
                raise loader.error(line, 'search_in="hdr" needs a header= attribute')
            header = _to_wire_text(header)
            raw_occ = attrs.get("occurrence", attrs.get("occurence"))
            if raw_occ is not None:
                occ = c_strtol(raw_occ)
                if occ is None:
                    raise loader.error(line, f"occurrence={raw_occ!r} is not an integer")
                occurrence = occ
        elif search_in is act.SearchIn.VAR:
            variable = var("variable")
        check_it, check_it_inverse = checks()
        assign = required("assign_to").split(",")
        if len(assign) > 10:
            raise loader.error(line, "<ereg> assign_to can hold at most 10 variables (match + 9)")
        for name in assign:
            loader.variable(name, line, "<ereg assign_to=>")
        return act.Ereg(
            **base,
            regexp=regexp,
            pattern=_posix(loader, line, regexp),
            search_in=search_in,
            header=header,
            variable=variable,
            case_indep=flag("case_indep"),
            occurrence=occurrence,
            start_line=flag("start_line"),
            check_it=check_it,
            check_it_inverse=check_it_inverse,
            assign_to=tuple(assign),
        )
    if tag == "log":
        return act.Log(**base, message=text("message"))
    if tag == "warning":
        return act.Warning(**base, message=text("message"))
    if tag == "error":
        return act.Error(**base, message=text("message"))
    if tag in ("assign", "add", "subtract", "multiply", "divide"):
        assign_to = var("assign_to")
        value, variable = rhs()
        if tag == "divide" and variable is None and value == 0:
            raise loader.error(line, "<divide> by the constant 0")
        return act.ArithmeticAction(
            **base, op=act.Arithmetic(tag), assign_to=assign_to, value=value, variable=variable
        )
    if tag == "assignstr":
        return act.AssignStr(**base, assign_to=var("assign_to"), value=text("value"))
    if tag == "gettimeofday":
        names = required("assign_to").split(",")
        if len(names) != 2:
            raise loader.error(line, '<gettimeofday> needs two variables: assign_to="sec,usec"')
        for name in names:
            loader.variable(name, line, "<gettimeofday assign_to=>")
        return act.GetTimeOfDay(**base, seconds_var=names[0], microseconds_var=names[1])
    if tag == "index":
        return act.IndexAction(**base, assign_to=var("assign_to"))
    if tag == "jump":
        value, variable = rhs()
        if value is not None and int(value) == element_index:
            raise loader.error(line, f"<jump> to index {int(value)} jumps to itself")
        return act.Jump(**base, value=value, variable=variable)
    if tag == "pauserestore":
        value, variable = rhs()
        return act.PauseRestore(**base, value=value, variable=variable)
    if tag == "sample":
        assign_to = var("assign_to")
        distribution = _distribution(loader, node, attrs, old_style=False)
        assert distribution is not None
        return act.Sample(**base, assign_to=assign_to, distribution=distribution)
    if tag == "todouble":
        return act.ToDouble(**base, assign_to=var("assign_to"), variable=var("variable"))
    if tag in ("test", "strcmp"):
        check_it, check_it_inverse = checks()
        optional_assign: str | None = None
        if "assign_to" in attrs or not (check_it or check_it_inverse):
            optional_assign = var("assign_to")
        variable = var("variable")
        if "value" in attrs and "variable2" in attrs:
            raise loader.error(line, f"<{tag}> can not have both value= and variable2=")
        if tag == "test":
            if "value" in attrs:
                number = c_strtod(attrs["value"])
                if number is None:
                    raise loader.error(line, f"<test> value={attrs['value']!r} is not a number")
                value2: float | None = number
                variable2 = None
            else:
                value2 = None
                variable2 = var("variable2")
            compare_text = required("compare")
            try:
                compare = act.Compare(compare_text)
            except ValueError:
                raise loader.error(
                    line,
                    f"invalid compare={compare_text!r}: use "
                    + ", ".join(c.value for c in act.Compare),
                ) from None
            return act.Test(
                **base,
                assign_to=optional_assign,
                variable=variable,
                value=value2,
                variable2=variable2,
                compare=compare,
                check_it=check_it,
                check_it_inverse=check_it_inverse,
            )
        if "value" in attrs:
            string_value: str | None = _to_wire_text(attrs["value"])
            variable2 = None
        else:
            string_value = None
            variable2 = var("variable2")
        return act.Strcmp(
            **base,
            assign_to=optional_assign,
            variable=variable,
            value=string_value,
            variable2=variable2,
            check_it=check_it,
            check_it_inverse=check_it_inverse,
        )
    if tag == "verifyauth":
        return act.VerifyAuth(
            **base, assign_to=var("assign_to"), username=text("username"), password=text("password")
        )
    if tag == "lookup":
        return act.Lookup(**base, assign_to=var("assign_to"), file=text("file"), key=text("key"))
    if tag == "insert":
        return act.Insert(**base, file=text("file"), value=text("value"))
    if tag == "replace":
        return act.Replace(**base, file=text("file"), line_number=text("line"), value=text("value"))
    if tag == "setdest":
        return act.SetDest(**base, host=text("host"), port=text("port"), protocol=text("protocol"))
    if tag == "closecon":
        return act.CloseCon(**base)
    if tag == "trim":
        return act.Trim(**base, assign_to=var("assign_to"))
    if tag in ("urlencode", "urldecode"):
        return act.UrlCode(**base, variable=var("variable"), decode=tag == "urldecode")
    if tag == "exec":
        if "command" in attrs:
            return act.ExecCommand(**base, command=text("command"))
        if "int_cmd" in attrs:
            value_text = attrs["int_cmd"]
            try:
                int_cmd = act.IntCmd(value_text)
            except ValueError:
                int_cmd = act.IntCmd.STOP_CALL  # SIPp's default for unknown values
            return act.ExecIntCmd(**base, int_cmd=int_cmd)
        for media in (
            "play_pcap_audio",
            "play_pcap_image",
            "play_pcap_video",
            "play_dtmf",
            "rtp_stream",
            "rtp_echo",
        ):
            if media in attrs:
                loader.has_media = True
                _media_keyword(loader, line, attrs[media], media)
                raise loader.error(line, f"<exec {media}=...> is not supported yet (no media)")
        raise loader.error(line, "illegal <exec>: give command=, int_cmd= (or a media attribute)")
    if tag == "rtp_echo":
        raise loader.error(line, "<rtp_echo> is not supported yet (no media)")
    raise AssertionError(tag)


def _media_keyword(loader: _Loader, line: int, value: str, what: str) -> None:
    """``play_pcap_audio="[name]"`` takes a ``-key`` value at load time (fatal if missing)."""
    if len(value) >= 2 and value.startswith("[") and value.endswith("]"):
        key = value[1:-1]
        if key not in loader.keys:
            raise loader.error(
                line,
                f"{what}={value!r} looks like a keyword value, but -key {key} was not given",
            )


# --------------------------------------------------------------------------------------------
# Post-processing


def _finish(loader: _Loader, name: str, base_name: str, global_vars: Mapping[str, str]) -> Scenario:
    if not loader.elements:
        raise loader.error(None, "no message elements in the scenario (send, recv, pause...)")
    count = len(loader.elements)
    elements = tuple(_resolve(loader, p, loader.labels, count) for p in loader.elements)
    init_count = len(loader.init_elements)
    init_elements = tuple(
        _resolve(loader, p, loader.init_labels, init_count) for p in loader.init_elements
    )
    # Jump actions know the scenario length for their range check.
    elements = tuple(_with_jump_bounds(e, count) for e in elements)

    for rtd_name, line in loader.rtd_started.items():
        if rtd_name not in loader.rtd_stopped:
            raise loader.error(
                line,
                f'start_rtd="{rtd_name}" is never stopped: add rtd="{rtd_name}" on a later element',
            )
    for var_name, ref in loader.variables.items():
        if ref.count < 2 and var_name != "_":
            raise loader.error(
                ref.line,
                f"variable ${var_name} is referenced only once: use it at least twice "
                f'(or add <Reference variables="{var_name}"/>)',
            )
    for txn_name, txn in loader.transactions.items():
        if txn.started == 0:
            raise loader.error(txn.line, f"transaction {txn_name!r} is never started (start_txn)")
        if txn.responses == 0:
            raise loader.error(
                txn.line, f"transaction {txn_name!r} has no responses (recv response_txn)"
            )
        if txn.is_invite and txn.acks == 0:
            raise loader.error(
                txn.line, f"INVITE transaction {txn_name!r} has no ACK (send ack_txn)"
            )
        if not txn.is_invite and txn.acks > 0:
            raise loader.error(
                txn.line, f"non-INVITE transaction {txn_name!r} has an ACK (ack_txn)"
            )
    for var_name in global_vars:
        if var_name not in loader.global_vars:
            raise loader.error(
                None,
                f"-set {var_name}: the scenario declares no such global variable "
                f'(add <Global variables="{var_name}"/>)',
            )

    is_server, twin_role = _mode(elements)
    env = loader.env()
    defaults: dict[str, Template] = {}
    for ident, default_text in DEFAULT_MESSAGE_TEXTS.items():
        override = loader.default_overrides.get(ident)
        if override is not None:
            defaults[ident] = compile_template(override[0], env, override[1])
        else:
            defaults[ident] = compile_template(default_text, env, None)

    scopes: dict[str, Scope] = {}
    for var_name in loader.user_vars:
        scopes[var_name] = Scope.USER
    for var_name in loader.global_vars:
        scopes[var_name] = Scope.GLOBAL
    call_vars = tuple(v for v in loader.variables if v not in scopes)
    uses_injection = any(_uses_fields(e.template) for e in elements) or any(
        _uses_fields(t) for t in defaults.values()
    )
    return Scenario(
        name=name,
        base_name=base_name,
        source_label=loader.source,
        elements=elements,
        init_elements=init_elements,
        rtd_names=tuple(loader.rtd_names),
        counter_names=tuple(loader.counter_names),
        response_time_repartition_ms=loader.response_repartition,
        call_length_repartition_ms=loader.length_repartition,
        is_server=is_server,
        unexp_main_index=loader.labels.get("_unexp.main"),
        default_messages=MappingProxyType(defaults),
        global_variables=tuple(loader.global_vars),
        user_variables=tuple(loader.user_vars),
        twin_role=twin_role,
        labels=MappingProxyType(dict(loader.labels)),
        variable_scopes=MappingProxyType(scopes),
        call_variables=call_vars,
        global_initial_values=MappingProxyType(
            {k: _to_wire_text(v) for k, v in global_vars.items()}
        ),
        has_media=loader.has_media,
        uses_injection=uses_injection,
        has_retaddr="_unexp.retaddr" in loader.variables,
        has_pausedaddr="_unexp.pausedaddr" in loader.variables,
        transactions=MappingProxyType({k: t.is_invite for k, t in loader.transactions.items()}),
    )


def _uses_fields(template: Template | None) -> bool:
    return template is not None and template.has_fields


def _with_jump_bounds(element: Element, count: int) -> Element:
    if not element.actions:
        return element
    from dataclasses import replace

    from gossipper.scenario import actions as act

    if not any(isinstance(a, act.Jump) for a in element.actions):
        return element

    new_actions = tuple(
        replace(a, element_count=count) if isinstance(a, act.Jump) else a for a in element.actions
    )
    return replace(element, actions=new_actions)


def _resolve(loader: _Loader, pending: _Pending, labels: Mapping[str, int], count: int) -> Element:
    fields = pending.fields
    if pending.next_label is not None:
        target = labels.get(pending.next_label)
        if target is None:
            raise loader.error(
                pending.line, f"next={pending.next_label!r}: no <label id=...> with that name"
            )
        fields["next_index"] = target
    if pending.ontimeout_label is not None:
        target = labels.get(pending.ontimeout_label)
        if target is None:
            raise loader.error(
                pending.line,
                f"ontimeout={pending.ontimeout_label!r}: no <label id=...> with that name",
            )
        fields["ontimeout_index"] = target
    return Element(**fields)


def _mode(elements: Sequence[Element]) -> tuple[bool, TwinRole]:
    """Client/server and 3PCC role (sipp-reference 1.11, SIPp's computeSippMode)."""
    creation_server: bool | None = None
    role = TwinRole.NONE
    seen_send_cmd = False
    seen_recv_cmd = False
    for element in elements:
        kind = element.kind
        if kind in (ElementKind.PAUSE, ElementKind.NOP):
            continue
        if kind is ElementKind.SEND:
            if creation_server is None:
                creation_server = False
        elif kind is ElementKind.RECV:
            if creation_server is None:
                creation_server = True
        elif kind is ElementKind.SENDCMD:
            seen_send_cmd = True
            if creation_server is None:
                creation_server = False
            if not seen_recv_cmd:
                role = TwinRole.A_PASSIVE if creation_server else TwinRole.CONTROLLER_A
        elif kind is ElementKind.RECVCMD:
            if creation_server is None:
                creation_server = True
            seen_recv_cmd = True
            if not seen_send_cmd:
                role = TwinRole.CONTROLLER_B
    return bool(creation_server), role
