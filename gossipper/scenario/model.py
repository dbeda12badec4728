"""The immutable scenario model produced by :func:`gossipper.scenario.loader.load_scenario`.

Everything here is frozen and slotted; collections are tuples (or read-only mappings). The
engine walks ``Scenario.elements`` by index, exactly like SIPp's message list
(docs/sipp-behaviour.md#call-flow).
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from gossipper.scenario.distributions import INT_MAX, clamp_pause_ms
from gossipper.scenario.variables import GlobalVariables, Scope, Variables

if TYPE_CHECKING:
    # Annotations only: the action classes are imported when a scenario has actions.
    from gossipper.scenario.actions import Action
    from gossipper.scenario.context import RunEnv
    from gossipper.scenario.distributions import Distribution
    from gossipper.scenario.templates import Template


class ElementKind(enum.Enum):
    """What a message element does (``<timewait>`` is a PAUSE with ``is_timewait``)."""

    SEND = "send"
    RECV = "recv"
    PAUSE = "pause"
    NOP = "nop"
    SENDCMD = "sendCmd"
    RECVCMD = "recvCmd"


class Optional(enum.Enum):
    """``optional`` attribute of ``<recv>``/``<recvCmd>``."""

    NO = "false"
    YES = "true"
    GLOBAL = "global"


class TwinRole(enum.Enum):
    """3PCC role derived from the order of ``sendCmd``/``recvCmd``
    (docs/sipp-behaviour.md#mode-and-3pcc-role)."""

    NONE = "none"
    CONTROLLER_A = "3pcc-controller-A"
    """sendCmd first, client mode (``3pcc-C-A``); master in extended mode."""
    A_PASSIVE = "3pcc-A-passive"
    """sendCmd first, server mode; master passive in extended mode."""
    CONTROLLER_B = "3pcc-controller-B"
    """recvCmd first (``3pcc-C-B``): calls are created by incoming commands; slave in extended
    mode."""


@dataclass(frozen=True, slots=True)
class PauseSpec:
    """How long a ``<pause>``/``<timewait>`` lasts: a distribution, a variable, or ``-d``."""

    distribution: Distribution | None = None
    """None together with ``variable`` None means "use -d"."""
    variable: str | None = None
    """``variable=``: the pause is the double value of this call variable (ms)."""

    @property
    def uses_default(self) -> bool:
        """True for ``<pause/>`` (the length comes from ``-d``)."""
        return self.distribution is None and self.variable is None

    def sample_ms(self, rng: random.Random, variables: Variables, default_pause_ms: int) -> int:
        """The pause for one call in ms (negative -> 0, capped at INT_MAX, like SIPp)."""
        if self.variable is not None:
            return clamp_pause_ms(variables.double(self.variable))
        if self.distribution is None:
            return clamp_pause_ms(default_pause_ms)
        return clamp_pause_ms(self.distribution.sample(rng))

    def p99_ms(self, default_pause_ms: int) -> int:
        """99th percentile in ms (variable pauses count 0, as in SIPp's duration estimate)."""
        if self.variable is not None:
            return 0
        if self.distribution is None:
            return max(0, default_pause_ms)
        value = self.distribution.p99()
        if value != value or value <= 0:
            return 0
        return INT_MAX if value >= INT_MAX else int(value)

    def fixed_ms(self, default_pause_ms: int) -> int | None:
        """The length when it is the same for every call (screens show it), else None."""
        if self.variable is not None:
            return None
        if self.distribution is None:
            return default_pause_ms
        if self.distribution.name == "fixed":
            return clamp_pause_ms(self.distribution.p99())
        return None

    def describe(self, default_pause_ms: int) -> str:
        """Text for screens: ``1000ms``, ``uniform(1,2)``, ``$var``."""
        if self.variable is not None:
            return f"${self.variable}"
        if self.distribution is None:
            return f"{default_pause_ms}ms"
        return self.distribution.describe()


@dataclass(frozen=True, slots=True, kw_only=True)
class Element:
    """One message element (send, recv, pause/timewait, nop, sendCmd, recvCmd)."""

    kind: ElementKind
    index: int
    """Position in ``Scenario.elements`` (SIPp's msg index)."""
    line: int
    """Line of the element in the XML (for messages)."""
    next_index: int | None = None
    """Resolved ``next`` label (``len(elements)`` for a label at the very end)."""
    test: str | None = None
    """``test``: branch only when this variable is set."""
    chance: float | None = None
    """``chance``: branch probability; None = always."""
    condexec: str | None = None
    condexec_inverse: bool = False
    start_rtd: int | None = None
    """Index into ``Scenario.rtd_names``."""
    rtd: int | None = None
    """Index into ``Scenario.rtd_names``."""
    repeat_rtd: bool = False
    counter: int | None = None
    """Index into ``Scenario.counter_names``."""
    crlf: bool = False
    hide: bool = False
    display: str | None = None
    lost_pct: float | None = None
    """Element ``lost`` (percent); None = use ``-lost``."""
    ontimeout_index: int | None = None
    actions: tuple[Action, ...] = ()
    # send
    template: Template | None = None
    """``<send>`` message, or ``<sendCmd>`` command."""
    retrans_ms: int = 0
    send_timeout_ms: int | None = None
    is_response: bool = False
    method: str = ""
    """Method of a request ``<send>``."""
    status_code: int = 0
    """Code of a response ``<send>``."""
    start_txn: str | None = None
    ack_txn: str | None = None
    # recv
    request: str | None = None
    response: str | None = None
    """Expected status code as written (``"200"``)."""
    response_code: int = 0
    """``response`` as an integer (0 when absent)."""
    regexp_match: bool = False
    request_re: re.Pattern[str] | None = None
    """Compiled ``request`` when ``regexp_match`` (search semantics)."""
    response_re: re.Pattern[str] | None = None
    """Compiled ``response`` when ``regexp_match`` (matched against the decimal code)."""
    optional: Optional = Optional.NO
    recv_timeout_ms: int | None = None
    rrs: bool = False
    auth: bool = False
    response_txn: str | None = None
    advance_state: bool = True
    ignoresdp: bool = False
    allowed_cseq_methods: frozenset[str] | None = None
    """Response matching rule (docs/sipp-behaviour.md#response-matching): CSeq methods of the
    requests sent (without transactions) before this element; None = any method (first element, or
    ``response_txn``)."""
    cseq_method_list: str | None = None
    """The same as SIPp keeps it: the methods concatenated (matched with substring semantics)."""
    # pause / timewait
    pause: PauseSpec | None = None
    is_timewait: bool = False
    # 3PCC
    peer: str | None = None
    """``dest`` of a sendCmd / ``src`` of a recvCmd (extended 3PCC)."""

    @property
    def is_optional(self) -> bool:
        """True for ``optional="true"`` or ``"global"``."""
        return self.optional is not Optional.NO

    @property
    def label(self) -> str:
        """Screen/counts label: method or code for messages, "" for pauses and nops."""
        if self.kind is ElementKind.SEND:
            return str(self.status_code) if self.is_response else self.method
        if self.kind is ElementKind.RECV:
            return self.request if self.request is not None else (self.response or "")
        return ""

    def matches_response(self, code: int, cseq_method: str) -> bool:
        """Response matching without ``response_txn`` (docs/sipp-behaviour.md#response-matching):
        right code, and the CSeq method appears in the list of methods sent before (substring
        search, as SIPp)."""
        if self.kind is not ElementKind.RECV:
            return False
        if self.response_re is not None:
            if self.response_re.search(str(code)) is None:
                return False
        elif self.response_code != code:
            return False
        if self.allowed_cseq_methods is None:
            return True
        if self.cseq_method_list is None:
            return False
        return cseq_method in self.cseq_method_list

    def matches_request(self, method: str) -> bool:
        """Request matching: exact method, or a POSIX ERE search with ``regexp_match``."""
        if self.kind is not ElementKind.RECV or self.request is None:
            return False
        if self.request_re is not None:
            return self.request_re.search(method) is not None
        return self.request == method


@dataclass(frozen=True, slots=True)
class Scenario:
    """A loaded scenario."""

    name: str
    """``<scenario name="...">``."""
    base_name: str
    """File naming base: ``uac`` for ``-sn uac``, ``foo`` for ``-sf dir/foo.xml`` (SIPp
    names its output files after it)."""
    source_label: str
    """The file as given, or ``<builtin:uac>``."""
    elements: tuple[Element, ...]
    init_elements: tuple[Element, ...]
    rtd_names: tuple[str, ...]
    """RTD names in order of first appearance (``true`` -> ``1``)."""
    counter_names: tuple[str, ...]
    response_time_repartition_ms: tuple[int, ...] | None
    call_length_repartition_ms: tuple[int, ...] | None
    is_server: bool
    """True when calls are created by incoming messages (first message element is a recv)."""
    unexp_main_index: int | None
    """Index of label ``_unexp.main`` if defined."""
    default_messages: Mapping[str, Template]
    """``ack``, ``ack2``, ``bye``, ``cancel``, ``200``, ``3pcc_abort`` (overridable with
    ``<DefaultMessage>``), docs/sipp-behaviour.md#default-messages."""
    global_variables: tuple[str, ...]
    user_variables: tuple[str, ...]
    twin_role: TwinRole = TwinRole.NONE
    labels: Mapping[str, int] = field(default_factory=dict)
    """Label name -> element index."""
    variable_scopes: Mapping[str, Scope] = field(default_factory=dict)
    """Scope of every user/global variable (call variables are absent)."""
    call_variables: tuple[str, ...] = ()
    """All variables referenced by the scenario that are neither global nor user variables."""
    global_initial_values: Mapping[str, str] = field(default_factory=dict)
    """``-set name value`` assignments (validated against ``<Global>``)."""
    has_media: bool = False
    """True if the scenario contains media actions (SDP must then be inspected)."""
    secure_media: bool = False
    """True if the scenario renders a DTLS/ICE/TURN keyword (``[dtls_fingerprint]`` ...): its
    calls' media get the run's certificate, ICE credentials and TURN relay."""
    uses_injection: bool = False
    """True if a ``[fieldN]`` keyword is used."""
    has_retaddr: bool = False
    """True if variable ``_unexp.retaddr`` exists (filled on unexpected messages)."""
    has_pausedaddr: bool = False
    """True if variable ``_unexp.pausedaddr`` exists."""
    transactions: Mapping[str, bool] = field(default_factory=dict)
    """Transaction name -> is an INVITE transaction."""
    bound: bool = False
    """True once :meth:`bind` folded the run-static keywords."""

    def duration_p99_ms(self, default_pause_ms: int) -> int:
        """Sum of the 99th percentiles of all pauses: SIPp's "scenario duration" for ``-l``."""
        total = 0
        for element in self.elements:
            if element.pause is not None:
                total += element.pause.p99_ms(default_pause_ms)
        return total

    def new_global_variables(self) -> GlobalVariables:
        """Process-wide variable state for a run (``-set`` values applied)."""
        return GlobalVariables(self.variable_scopes, self.global_initial_values)

    def bind(self, env: RunEnv) -> Scenario:
        """A copy with run-static keywords folded into literal text (call once the sockets are
        known). Per-call rendering then only evaluates per-call keywords."""
        elements = tuple(_bind_element(e, env) for e in self.elements)
        init_elements = tuple(_bind_element(e, env) for e in self.init_elements)
        defaults = MappingProxyType({k: t.bind(env) for k, t in self.default_messages.items()})
        return replace(
            self,
            elements=elements,
            init_elements=init_elements,
            default_messages=defaults,
            bound=True,
        )


def _bind_element(element: Element, env: RunEnv) -> Element:
    if element.template is None:
        return element
    return replace(element, template=element.template.bind(env))
