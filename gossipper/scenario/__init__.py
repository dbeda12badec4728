"""The scenario layer: SIPp XML -> immutable model, message templates, variables, actions and
injection files. Pure: no trio, no sockets, no clock, no global randomness (sipp-reference 1-5,
10, 13)."""

from __future__ import annotations

from gossipper.scenario.actions import NO_OUTCOME, Action, ActionOutcome, run_actions
from gossipper.scenario.context import (
    BasicCallContext,
    CallContext,
    RenderError,
    RunEnv,
    SipMessageLike,
    bracket_ipv6,
)
from gossipper.scenario.injection import (
    InjectionFile,
    InjectionSet,
    LineOrder,
    load_injection_file,
    parse_injection_text,
)
from gossipper.scenario.loader import (
    BUILTIN_NAMES,
    DEFAULT_MESSAGE_TEXTS,
    builtin_path,
    builtin_text,
    load_scenario,
    load_scenario_text,
)
from gossipper.scenario.model import (
    Element,
    ElementKind,
    Optional,
    PauseSpec,
    Scenario,
    TwinRole,
)
from gossipper.scenario.templates import Template, clean_cdata, compile_template, compute_route_set
from gossipper.scenario.variables import (
    GlobalVariables,
    RegexpMatch,
    Scope,
    Variables,
    VarValue,
)

__all__ = [
    "BUILTIN_NAMES",
    "DEFAULT_MESSAGE_TEXTS",
    "NO_OUTCOME",
    "Action",
    "BasicCallContext",
    "ActionOutcome",
    "CallContext",
    "Element",
    "ElementKind",
    "GlobalVariables",
    "InjectionFile",
    "InjectionSet",
    "LineOrder",
    "Optional",
    "PauseSpec",
    "RegexpMatch",
    "RenderError",
    "RunEnv",
    "Scenario",
    "Scope",
    "SipMessageLike",
    "Template",
    "TwinRole",
    "VarValue",
    "Variables",
    "bracket_ipv6",
    "builtin_path",
    "builtin_text",
    "clean_cdata",
    "compile_template",
    "compute_route_set",
    "load_injection_file",
    "load_scenario",
    "load_scenario_text",
    "parse_injection_text",
    "run_actions",
]
