"""The scenario layer: SIPp XML -> immutable model, message templates, variables, actions and
injection files. Pure: no trio, no sockets, no clock, no global randomness (SIPp docs: scenarios;
docs/sipp-behaviour.md, section "Scenario and SIP").

The names below are loaded on first use (PEP 562): a plain run never needs the action
classes, distributions or injection files, and importing them costs start-up CPU that counts
against every call of a short run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from gossipper.lazy import lazy_attributes

if TYPE_CHECKING:
    from gossipper.scenario.actions import NO_OUTCOME, Action, ActionOutcome
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
    from gossipper.scenario.templates import (
        Template,
        clean_cdata,
        compile_template,
        compute_route_set,
    )
    from gossipper.scenario.variables import (
        GlobalVariables,
        RegexpMatch,
        Scope,
        Variables,
        VarValue,
    )

_SUBMODULE_OF = {
    "NO_OUTCOME": "actions",
    "Action": "actions",
    "ActionOutcome": "actions",
    "BasicCallContext": "context",
    "CallContext": "context",
    "RenderError": "context",
    "RunEnv": "context",
    "SipMessageLike": "context",
    "bracket_ipv6": "context",
    "InjectionFile": "injection",
    "LineOrder": "injection",
    "load_injection_file": "injection",
    "parse_injection_text": "injection",
    "BUILTIN_NAMES": "loader",
    "DEFAULT_MESSAGE_TEXTS": "loader",
    "builtin_path": "loader",
    "builtin_text": "loader",
    "load_scenario": "loader",
    "load_scenario_text": "loader",
    "Element": "model",
    "ElementKind": "model",
    "Optional": "model",
    "PauseSpec": "model",
    "Scenario": "model",
    "TwinRole": "model",
    "Template": "templates",
    "clean_cdata": "templates",
    "compile_template": "templates",
    "compute_route_set": "templates",
    "GlobalVariables": "variables",
    "RegexpMatch": "variables",
    "Scope": "variables",
    "Variables": "variables",
    "VarValue": "variables",
}


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _SUBMODULE_OF)


_RunActions = Callable[..., "ActionOutcome"]
_run_actions_impl: _RunActions | None = None


def run_actions(
    actions: Sequence[Action],
    ctx: CallContext,
    message_text: str | None,
    *,
    current_index: int | None = None,
) -> ActionOutcome:
    """Run an element's actions for one call: :func:`gossipper.scenario.actions.run_actions`.

    A trampoline, so that importing this name does not import the action classes: a scenario
    without actions never calls it, and one with actions has loaded them already.
    """
    impl = _run_actions_impl
    if impl is None:
        impl = _load_run_actions()
    result: ActionOutcome = impl(actions, ctx, message_text, current_index=current_index)
    return result


def _load_run_actions() -> _RunActions:
    global _run_actions_impl
    from gossipper.scenario.actions import run_actions as impl

    _run_actions_impl = impl
    return impl


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
