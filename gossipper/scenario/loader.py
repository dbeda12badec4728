"""SIPp scenario XML -> :class:`~gossipper.scenario.model.Scenario` (SIPp docs: scenarios;
docs/sipp-behaviour.md#scenario-files).

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
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, cast

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

    from gossipper.scenario.actions import Action

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
        # SIPp 3.6.1 forms of the messages sent by the automatic behaviours
        # (docs/sipp-behaviour.md#default-messages), except that the in-dialog ones (bye, and
        # ack2, the ACK of a 200) follow the dialog's remote target and route set as SIPp does
        # after 3.6.1 (RFC 3261 section 12.2.1.1; 3.6.1 sent them to the To URI without Route).
        # ack (of an error response) and cancel belong to the INVITE transaction: same
        # Request-URI as the INVITE, no dialog route set (RFC 3261 sections 9.1, 17.1.1.3).
        "3pcc_abort": "call-id: [call_id]\ninternal-cmd: abort_call\n\n",
        "ack": (
            "ACK [last_Request_URI] SIP/2.0\n[last_Via]\n[last_From]\n[last_To]\n"
            "Call-ID: [call_id]\nCSeq: [last_cseq_number] ACK\n" + _CONTACT + "Max-Forwards: 70\n"
            "Subject: Performance Test\nContent-Length: 0\n\n"
        ),
        "ack2": (
            "ACK [next_url] SIP/2.0\n"
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
            "[routes]\n[last_From]\n[last_To]\nCall-ID: [call_id]\nCSeq: [last_cseq_number] ACK\n"
            + _CONTACT
            + "Max-Forwards: 70\nSubject: Performance Test\nContent-Length: 0\n\n"
        ),
        "bye": (
            "BYE [next_url] SIP/2.0\n"
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
            "[routes]\n[last_From]\n[last_To]\nCall-ID: [call_id]\nCSeq: [last_cseq_number+1] BYE\n"
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
    checkout = pathlib.Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "scenarios" / "uac.xml").is_file():
        # A source checkout (also one run with PYTHONPATH while an editable install points at
        # another checkout): its own scenarios/ and their media files are the truth.
        return checkout / "scenarios"
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

_ALL_TOP = sorted(set(_ELEMENT_ATTRS) | set(_TOP_ATTRS))

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
    """A message element whose ``next``/``ontimeout`` labels are resolved once all are known."""

    __slots__ = ("element", "next_label", "ontimeout_label")

    def __init__(
        self, element: Element, next_label: str | None, ontimeout_label: str | None
    ) -> None:
        self.element = element
        self.next_label = next_label
        self.ontimeout_label = ontimeout_label


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
        self.media_dir = ""
        """Where media files named by the scenario are looked up first (its directory)."""
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


class _Node:
    """One XML element being read: its tag, line and attributes (checked against ``allowed``).

    The typed accessors below raise :class:`ScenarioError` at the element's line with the
    messages the tests pin down.
    """

    __slots__ = ("attrs", "line", "loader", "node", "tag")

    def __init__(self, loader: _Loader, node: etree._Element, allowed: frozenset[str]) -> None:
        self.loader = loader
        self.node = node
        self.tag = str(node.tag)
        self.line = _line(node)
        self.attrs = loader.check_attributes(node, allowed, self.tag)

    def error(self, reason: str) -> ScenarioError:
        return self.loader.error(self.line, reason)

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)

    def has(self, name: str) -> bool:
        return name in self.attrs

    def required(self, name: str) -> str:
        value = self.attrs.get(name)
        if value is None:
            raise self.error(f"<{self.tag}> is missing the required {name!r} attribute")
        return value

    def variable(self, name: str, what: str) -> str | None:
        """The variable named by attribute ``name`` (registered as a reference), if present."""
        value = self.attrs.get(name)
        if value is None:
            return None
        return self.loader.variable(value, self.line, what)

    def integer(self, name: str, what: str) -> int | None:
        """SIPp's ``get_long`` of an optional attribute."""
        raw = self.attrs.get(name)
        if raw is None:
            return None
        value = c_strtol(raw)
        if value is None:
            raise self.error(f"{what} {raw!r} is not a valid integer ({name}=)")
        return value

    def boolean(self, name: str) -> bool | None:
        """SIPp's ``get_bool`` of an optional attribute (None when absent)."""
        raw = self.attrs.get(name)
        if raw is None:
            return None
        value = c_bool(raw)
        if value is None:
            raise self.error(f"{name}={raw!r} is not a valid boolean (true/false)")
        return value

    def no_children(self) -> None:
        _no_children(self.loader, self.node, self.tag)


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
        path = builtin_path(builtin_name)
        data = path.read_bytes()
        base_name = builtin_name
        # The built-ins' media files ship next to them (uac_pcap's pcap/).
        media_dir = os.path.dirname(str(path))
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
        media_dir = os.path.dirname(os.path.abspath(label))
        if base_name.endswith(".xml"):
            base_name = base_name[: -len(".xml")]
    return load_scenario_text(
        data,
        source_label=label,
        base_name=base_name,
        keys=keys,
        global_vars=global_vars,
        injection_files=injection_files,
        media_dir=media_dir,
    )


def load_scenario_text(
    data: bytes | str,
    *,
    source_label: str = "<string>",
    base_name: str = "scenario",
    keys: Mapping[str, str] | None = None,
    global_vars: Mapping[str, str] | None = None,
    injection_files: Sequence[str] | None = None,
    media_dir: str = "",
) -> Scenario:
    """Like :func:`load_scenario` for XML already in memory (bytes as read, or text).

    ``media_dir`` is where media files are looked up before the working directory.
    """
    if isinstance(data, str):
        data = _strip_declared_encoding(data).encode("utf-8")
    loader = _Loader(source_label, keys or {}, injection_files)
    loader.media_dir = media_dir
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
# The scenario body: one reader per top-level element


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
        reader = _TOP_READERS.get(tag)
        if reader is None:
            raise loader.error(
                _line(child), f"unknown element <{tag}> (valid: {', '.join(_ALL_TOP)})"
            )
        reader(loader, child)
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


def _read_scenario_message(loader: _Loader, node: etree._Element) -> None:
    """``<send>``, ``<recv>``, ``<pause>``... at the top level: the call flow."""
    if loader.found_timewait:
        raise loader.error(_line(node), "<timewait> must be the last message element")
    _read_message(loader, node, loader.elements, in_init=False)


def _read_label(loader: _Loader, node: etree._Element) -> None:
    _define_label(loader, node, loader.labels, len(loader.elements), "")
    _no_children(loader, node, "label")


def _read_variables(loader: _Loader, node: etree._Element) -> None:
    """``<Global>``, ``<User>`` and ``<Reference>``: ``variables="a,b"``."""
    n = _Node(loader, node, _TOP_ATTRS[str(node.tag)])
    for var in n.required("variables").split(","):
        if n.tag == "Reference":
            ref = loader.variables.get(var)
            if ref is None:
                raise n.error(f"<Reference> of variable {var!r}, which does not exist (yet)")
            ref.count += 1
            continue
        loader.variable(var, n.line, f"<{n.tag}>")
        target = loader.global_vars if n.tag == "Global" else loader.user_vars
        if var not in target:
            target.append(var)
    n.no_children()


def _read_repartition(loader: _Loader, node: etree._Element) -> None:
    """``<ResponseTimeRepartition>`` and ``<CallLengthRepartition>``: ``value="10,20,30"``."""
    n = _Node(loader, node, _TOP_ATTRS[str(node.tag)])
    value = n.required("value")
    items = [v.strip() for v in value.split(",")]
    # isascii: str.isdigit() also accepts digits int() rejects, such as superscripts.
    if not items or any(not (v.isascii() and v.isdigit()) for v in items):
        raise n.error(f"repartition {value!r} must be a comma-separated list of integers (ms)")
    values = tuple(int(v) for v in items)
    if n.tag == "ResponseTimeRepartition":
        loader.response_repartition = values
    else:
        loader.length_repartition = values
    n.no_children()


def _read_default_message(loader: _Loader, node: etree._Element) -> None:
    """``<DefaultMessage id="bye">``: replaces one of :data:`DEFAULT_MESSAGE_TEXTS`."""
    n = _Node(loader, node, _TOP_ATTRS["DefaultMessage"])
    ident = n.required("id")
    if ident not in DEFAULT_MESSAGE_TEXTS:
        raise n.error(
            f"unknown <DefaultMessage id={ident!r}>: use one of " + ", ".join(DEFAULT_MESSAGE_TEXTS)
        )
    text, text_line = loader.cdata_of(node, n.tag)
    cleaned, first_line = loader.clean(text, text_line, n.tag, is_send=False)
    loader.default_overrides[ident] = (cleaned, first_line)


def _read_init(loader: _Loader, node: etree._Element) -> None:
    """``<init>``: nops (and labels) run once before the first call."""
    loader.check_attributes(node, _TOP_ATTRS["init"], "init")
    for child in _children(node):
        tag = str(child.tag)
        if tag == "nop":
            _read_message(loader, child, loader.init_elements, in_init=True)
        elif tag == "label":
            _define_label(
                loader, child, loader.init_labels, len(loader.init_elements), " in <init>"
            )
        else:
            raise loader.error(
                _line(child), f"<init> can only contain <nop> and <label>, not <{tag}>"
            )


def _define_label(
    loader: _Loader, node: etree._Element, labels: dict[str, int], position: int, where: str
) -> None:
    """``<label id=...>``: the label names the next message element; duplicates are fatal."""
    n = _Node(loader, node, _TOP_ATTRS["label"])
    label = n.required("id")
    if label in labels:
        raise n.error(f"the label {label!r} is defined twice{where}")
    labels[label] = position


# --------------------------------------------------------------------------------------------
# Message elements: one reader per kind builds the kind's fields, then the attributes every
# element shares are added (in SIPp's order, so the first error reported stays the same).


_ElementReader = Callable[[_Loader, _Node, int], Element]
"""(loader, the element's node, its index) -> the element with its kind's fields."""


def _read_message(
    loader: _Loader, node: etree._Element, target: list[_Pending], *, in_init: bool
) -> None:
    n = _Node(loader, node, _ELEMENT_ATTRS[str(node.tag)])
    index = len(target)
    read, needs_mandatory_before = _ELEMENT_READERS[n.tag]
    if needs_mandatory_before:
        if loader.last_recv_optional and not in_init:
            raise n.error(
                f"<{n.tag}> directly after an optional <recv>: SIPp needs a mandatory message "
                'between them (remove one optional="true")',
            )
        loader.last_recv_optional = False
    element = read(loader, n, index)
    target.append(_with_shared_attributes(loader, n, element))


def _read_send(loader: _Loader, n: _Node, index: int) -> Element:
    text, text_line = loader.cdata_of(n.node, n.tag)
    cleaned, first_line = loader.clean(text, text_line, n.tag, is_send=True)
    template = compile_template(cleaned, loader.env(), first_line, check_first_line=True)
    if n.has("response_txn"):
        raise n.error("response_txn can only be used on <recv> (of a response)")
    start_txn = n.get("start_txn")
    ack_txn = n.get("ack_txn")
    method = template.method
    if template.is_response:
        if start_txn is not None:
            raise n.error("a response can not start a transaction (start_txn)")
        if ack_txn is not None:
            raise n.error("a response can not ACK a transaction (ack_txn)")
    elif start_txn is not None:
        if method == "ACK":
            raise n.error("an ACK can not start a transaction (start_txn)")
        loader.txn(start_txn, n.line, start=True, is_invite=method == "INVITE", is_ack=False)
        ack_txn = None  # start_txn wins when both are given
    elif ack_txn is not None:
        if method != "ACK":
            raise n.error("ack_txn is only valid on an ACK")
        loader.txn(ack_txn, n.line, start=False, is_invite=False, is_ack=True)
    else:
        # Requests outside transactions: what responses may answer (docs/sipp-behaviour.md
        # #response-matching).
        loader.method_list = (loader.method_list or "") + method
        if method not in loader.methods_sent:
            loader.methods_sent.append(method)
    retrans = n.integer("retrans", "retransmission timer")
    timeout = n.integer("timeout", "send timeout")
    return Element(
        kind=ElementKind.SEND,
        index=index,
        line=n.line,
        template=template,
        is_response=template.is_response,
        method=method,
        status_code=template.status_code,
        start_txn=start_txn,
        ack_txn=ack_txn,
        retrans_ms=retrans or 0,
        send_timeout_ms=timeout or None,
    )


def _read_recv(loader: _Loader, n: _Node, index: int) -> Element:
    request = n.get("request")
    response = n.get("response")
    if request is None and response is None:
        raise n.error("<recv> needs response= or request=")
    if request is not None and response is not None:
        raise n.error("<recv> takes either response= or request=, not both")
    regexp_match = n.get("regexp_match") == "true"
    response_code = 0
    response_re: re.Pattern[str] | None = None
    request_re: re.Pattern[str] | None = None
    response_txn: str | None = None
    allowed_cseq_methods: frozenset[str] | None = None
    cseq_method_list: str | None = None
    if response is not None:
        code = c_strtol(response)
        if code is None:
            if not regexp_match:
                raise n.error(f"response code {response!r} is not a valid integer")
            response_re = _posix(loader, n.line, response)
        else:
            if not regexp_match and not 100 <= code <= 699:
                raise n.error(f"response code {code} is out of the range 100-699")
            response_code = code
            if regexp_match:
                response_re = _posix(loader, n.line, response)
        response_txn = n.get("response_txn")
        if response_txn is not None:
            loader.txn(response_txn, n.line, start=False, is_invite=False, is_ack=False)
        elif index != 0:
            allowed_cseq_methods = frozenset(loader.methods_sent)
            cseq_method_list = loader.method_list
    else:
        if n.has("response_txn"):
            raise n.error("response_txn can only be used with response=")
        if regexp_match:
            assert request is not None
            request_re = _posix(loader, n.line, request)
    optional = _optional(n)
    loader.last_recv_optional = optional is not Optional.NO
    advance = n.boolean("advance_state")
    if advance is False and optional is Optional.NO:
        raise n.error('advance_state="false" is only allowed on an optional <recv>')
    timeout = n.integer("timeout", "receive timeout")
    return Element(
        kind=ElementKind.RECV,
        index=index,
        line=n.line,
        request=request,
        response=response,
        response_code=response_code,
        regexp_match=regexp_match,
        request_re=request_re,
        response_re=response_re,
        optional=optional,
        recv_timeout_ms=timeout or None,
        rrs=bool(n.boolean("rrs")),
        auth=bool(n.boolean("auth")),
        response_txn=response_txn,
        advance_state=True if advance is None else advance,
        allowed_cseq_methods=allowed_cseq_methods,
        cseq_method_list=cseq_method_list,
    )


def _read_pause(loader: _Loader, n: _Node, index: int) -> Element:
    return Element(kind=ElementKind.PAUSE, index=index, line=n.line, pause=_pause_spec(n))


def _read_timewait(loader: _Loader, n: _Node, index: int) -> Element:
    loader.found_timewait = True
    for forbidden in ("next", "ontimeout"):
        if n.has(forbidden):
            raise n.error(f"{forbidden}= is not allowed on <timewait>")
    return Element(
        kind=ElementKind.PAUSE, index=index, line=n.line, pause=_pause_spec(n), is_timewait=True
    )


def _pause_spec(n: _Node) -> PauseSpec:
    variable = n.variable("variable", n.tag)
    if variable is not None:
        return PauseSpec(variable=variable)
    distribution = read_distribution(n, old_style=True)
    sanity = n.boolean("sanity_check")
    if distribution is not None and sanity is not False:
        p99 = distribution.p99()
        if p99 > INT_MAX:
            raise n.error(
                f"the distribution {distribution.describe()} has a 99th percentile of "
                f"{p99:g} ms, larger than INT_MAX: choose other parameters "
                '(or sanity_check="false")',
            )
    return PauseSpec(distribution=distribution)


def _read_nop(loader: _Loader, n: _Node, index: int) -> Element:
    return Element(kind=ElementKind.NOP, index=index, line=n.line)


def _read_send_cmd(loader: _Loader, n: _Node, index: int) -> Element:
    peer = n.get("dest")
    text, text_line = loader.cdata_of(n.node, n.tag)
    cleaned, first_line = loader.clean(text, text_line, n.tag, is_send=False)
    template = compile_template(cleaned, loader.env(), first_line)
    return Element(kind=ElementKind.SENDCMD, index=index, line=n.line, peer=peer, template=template)


def _read_recv_cmd(loader: _Loader, n: _Node, index: int) -> Element:
    peer = n.get("src")
    optional = _optional(n)
    loader.last_recv_optional = optional is not Optional.NO
    return Element(kind=ElementKind.RECVCMD, index=index, line=n.line, peer=peer, optional=optional)


_ELEMENT_READERS: dict[str, tuple[_ElementReader, bool]] = {
    # tag: (reader, whether an optional <recv> may not come directly before it)
    "send": (_read_send, True),
    "recv": (_read_recv, False),
    "pause": (_read_pause, True),
    "timewait": (_read_timewait, True),
    "nop": (_read_nop, True),
    "sendCmd": (_read_send_cmd, True),
    "recvCmd": (_read_recv_cmd, False),
}


def _optional(n: _Node) -> Optional:
    value = n.get("optional")
    if value is None or value == "false":
        return Optional.NO
    if value == "true":
        return Optional.YES
    if value == "global":
        return Optional.GLOBAL
    raise n.error(f"optional={value!r}: use true, false or global")


def _with_shared_attributes(loader: _Loader, n: _Node, element: Element) -> _Pending:
    """The attributes and ``<action>`` every message element takes."""
    # Bookkeeping (SIPp's getBookKeeping order: rtd, repeat_rtd, start_rtd, counter).
    rtd_value = n.get("rtd")
    rtd = None if rtd_value is None else loader.rtd(rtd_value, n.line, start=False)
    repeat_rtd = False
    if n.has("repeat_rtd"):
        if rtd is None:
            raise n.error("repeat_rtd needs an rtd attribute on the same element")
        repeat_rtd = bool(n.boolean("repeat_rtd"))
    start_rtd_value = n.get("start_rtd")
    start_rtd = None if start_rtd_value is None else loader.rtd(start_rtd_value, n.line, start=True)
    counter: int | None = None
    counter_name = n.get("counter")
    if counter_name is not None:
        if counter_name == "" or "$" in counter_name or "," in counter_name:
            raise n.error(f"counter name {counter_name!r} may not be empty or contain $ or ,")
        if counter_name not in loader.counter_names:
            loader.counter_names.append(counter_name)
        counter = loader.counter_names.index(counter_name)

    actions = _element_actions(loader, n, element.index)

    lost_pct: float | None = None
    lost = n.get("lost")
    if lost is not None:
        lost_pct = c_strtod(lost)
        if lost_pct is None:
            raise n.error(f"lost={lost!r} is not a number (percent)")
    ignoresdp = bool(n.boolean("ignoresdp"))
    if n.has("hiderest"):
        loader.hide_default = bool(n.boolean("hiderest"))
    hide = n.boolean("hide")
    condexec = n.variable("condexec", "condexec")
    condexec_inverse = bool(n.boolean("condexec_inverse"))
    next_label = n.get("next")
    test: str | None = None
    chance: float | None = None
    if next_label is not None:
        # test/chance only matter together with next (SIPp ignores them otherwise).
        test = n.variable("test", "test")
        chance_text = n.get("chance")
        if chance_text is not None:
            chance = c_strtod(chance_text)
            if chance is None or not 0.0 <= chance <= 1.0:
                raise n.error(f"chance={chance_text!r} is not in the range [0, 1]")
    element = replace(
        element,
        rtd=rtd,
        repeat_rtd=repeat_rtd,
        start_rtd=start_rtd,
        counter=counter,
        actions=actions,
        lost_pct=lost_pct,
        crlf=n.has("crlf"),  # the mere presence counts, like SIPp
        ignoresdp=ignoresdp,
        hide=loader.hide_default if hide is None else hide,
        display=n.get("display"),
        condexec=condexec,
        condexec_inverse=condexec_inverse,
        test=test,
        chance=chance,
    )
    return _Pending(element, next_label, n.get("ontimeout"))


def _element_actions(loader: _Loader, n: _Node, index: int) -> tuple[Action, ...]:
    """The element's children: at most one ``<action>``."""
    actions: tuple[Action, ...] = ()
    seen_action = False
    for child in _children(n.node):
        if child.tag != "action":
            raise loader.error(
                _line(child), f"<{n.tag}> can only contain <action>, not <{child.tag}>"
            )
        if seen_action:
            raise loader.error(_line(child), f"duplicate <action> in <{n.tag}>")
        seen_action = True
        loader.check_attributes(child, frozenset(), "action")
        # Imported here: most runs never need the action classes.
        from gossipper.scenario.loader_actions import read_actions

        actions += read_actions(loader, child, index)
    return actions


def _posix(loader: _Loader, line: int, pattern: str) -> re.Pattern[str]:
    try:
        return compile_posix(pattern)
    except PosixRegexError as exc:
        raise loader.error(line, f"invalid regular expression {pattern!r}: {exc}") from None


# --------------------------------------------------------------------------------------------
# Distributions (<pause> and <sample>): one reader per distribution name


_Parameter = Callable[[str], float]
"""Reads one numeric parameter of a distribution by attribute name."""

_DISTRIBUTION_READERS: dict[str, tuple[str, Callable[[_Parameter], Distribution]]] = {
    # name: (label in messages, reader); parameters are read (and reported missing) in order.
    "fixed": ("Fixed", lambda p: Fixed(p("value"))),
    "uniform": ("Uniform", lambda p: Uniform(p("min"), p("max"))),
    "normal": ("Normal", lambda p: Normal(p("mean"), p("stdev"))),
    "lognormal": ("Lognormal", lambda p: LogNormal(p("mean"), p("stdev"))),
    "exponential": ("Exponential", lambda p: Exponential(p("mean"))),
    "weibull": ("Weibull", lambda p: Weibull(p("lambda"), p("k"))),
    "pareto": ("Pareto", lambda p: Pareto(p("k"), p("x_m"))),
    "gpareto": (
        "Generalized Pareto",
        lambda p: GeneralizedPareto(p("shape"), p("scale"), p("location")),
    ),
    "gamma": ("Gamma", lambda p: Gamma(p("k"), p("theta"))),
    "negbin": ("Negative Binomial", lambda p: NegativeBinomial(p("n"), p("p"))),
}


def read_distribution(n: _Node, *, old_style: bool) -> Distribution | None:
    """SIPp's ``parse_distribution`` (docs/sipp-behaviour.md#pause-distributions).
    None means "use -d" (only with ``old_style``: the attribute forms ``<pause>`` accepts)."""
    name = n.get("distribution")
    if name is None:
        if not old_style:
            raise n.error(f"<{n.tag}> requires a distribution= attribute")
        for candidate in _OLD_STYLE_DISTS:
            if n.has(candidate):
                name = candidate
                break
        else:
            if n.has("min") or n.has("max"):
                name = "uniform"
            else:
                raw = n.get("milliseconds")
                if raw is None:
                    return None
                value = c_strtod(raw)
                if value is None:
                    raise n.error(f"milliseconds={raw!r} is not a number")
                return Fixed(value)
    entry = _DISTRIBUTION_READERS.get(name)
    if entry is None:
        raise n.error(
            f"unknown distribution {name!r}: use fixed, uniform, normal, lognormal, exponential, "
            "weibull, pareto, gpareto, gamma or negbin",
        )
    label, read = entry

    def parameter(attribute: str) -> float:
        raw = n.get(attribute)
        if raw is None:
            raise n.error(f"{label} distribution is missing the required {attribute!r} attribute")
        value = c_strtod(raw)
        if value is None:
            raise n.error(f"{label} distribution {attribute}={raw!r} is not a number")
        return value

    return read(parameter)


# --------------------------------------------------------------------------------------------
# Post-processing


def _finish(loader: _Loader, name: str, base_name: str, global_vars: Mapping[str, str]) -> Scenario:
    if not loader.elements:
        raise loader.error(None, "no message elements in the scenario (send, recv, pause...)")
    count = len(loader.elements)
    elements = tuple(_resolve(loader, p, loader.labels) for p in loader.elements)
    init_elements = tuple(_resolve(loader, p, loader.init_labels) for p in loader.init_elements)
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
    # Keywords are compiled by now (message texts and default messages alike).
    secure_media = loader.compile_env is not None and loader.compile_env.secure_media
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
        has_media=loader.has_media
        or secure_media
        or (loader.compile_env is not None and loader.compile_env.uses_crypto),
        secure_media=secure_media,
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
    from gossipper.scenario.actions import Jump

    if not any(isinstance(a, Jump) for a in element.actions):
        return element
    new_actions = tuple(
        replace(a, element_count=count) if isinstance(a, Jump) else a for a in element.actions
    )
    return replace(element, actions=new_actions)


def _resolve(loader: _Loader, pending: _Pending, labels: Mapping[str, int]) -> Element:
    element = pending.element
    next_index: int | None = None
    ontimeout_index: int | None = None
    if pending.next_label is not None:
        next_index = labels.get(pending.next_label)
        if next_index is None:
            raise loader.error(
                element.line, f"next={pending.next_label!r}: no <label id=...> with that name"
            )
    if pending.ontimeout_label is not None:
        ontimeout_index = labels.get(pending.ontimeout_label)
        if ontimeout_index is None:
            raise loader.error(
                element.line,
                f"ontimeout={pending.ontimeout_label!r}: no <label id=...> with that name",
            )
    if next_index is None and ontimeout_index is None:
        return element
    return replace(element, next_index=next_index, ontimeout_index=ontimeout_index)


def _mode(elements: Sequence[Element]) -> tuple[bool, TwinRole]:
    """Client/server and 3PCC role (SIPp's computeSippMode;
    docs/sipp-behaviour.md#mode-and-3pcc-role)."""
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


_TopReader = Callable[[_Loader, etree._Element], None]

_TOP_READERS: dict[str, _TopReader] = {
    **dict.fromkeys(_ELEMENT_ATTRS, _read_scenario_message),
    "label": _read_label,
    "Global": _read_variables,
    "User": _read_variables,
    "Reference": _read_variables,
    "ResponseTimeRepartition": _read_repartition,
    "CallLengthRepartition": _read_repartition,
    "DefaultMessage": _read_default_message,
    "init": _read_init,
}
