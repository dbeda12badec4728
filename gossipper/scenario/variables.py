"""Scenario variables (docs/sipp-behaviour.md#variables).

A variable's *scope* is fixed at load time: names declared in ``<Global variables=...>`` live in
one process-wide store, names in ``<User variables=...>`` in a per-user store (``-users``), all
others in the call's own store. Values are dynamically typed by the last assignment:

* :class:`RegexpMatch` -- text captured by ``ereg`` ("set" even when empty),
* ``str`` -- from ``assignstr`` / ``-set`` (always "set"),
* ``float`` -- doubles ("set" when != 0),
* ``bool`` -- from ``test``/``verifyauth`` ("set" when true).

An absent key is the undefined value (not set, empty string, 0.0).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

# Re-exported: the class lives in its own module so that this one can be compiled.
from gossipper.scenario.regexp_match import RegexpMatch

__all__ = [
    "GlobalVariables",
    "RegexpMatch",
    "Scope",
    "VarValue",
    "VariableStore",
    "Variables",
    "double_value",
    "format_double",
    "insertion_text",
    "is_set",
    "string_value",
]

VarValue = RegexpMatch | str | float | bool
"""One variable value."""

VariableStore = dict[str, VarValue]
"""A scope's storage: variable name -> value (absent = undefined)."""


class Scope(enum.Enum):
    """Where a variable lives."""

    CALL = "call"
    USER = "user"
    GLOBAL = "global"


def is_set(value: VarValue | None) -> bool:
    """SIPp's ``isSet()``: regexp -> always (a match was assigned), string -> always,
    bool -> its value, double -> != 0, undefined -> false."""
    if value is None:
        return False
    if value.__class__ is bool:
        return bool(value)
    if isinstance(value, float):
        return value != 0.0
    return True


def string_value(value: VarValue | None) -> str:
    """String view: string and regexp text; empty for doubles, bools and undefined."""
    if isinstance(value, str):
        return str(value)
    return ""


def double_value(value: VarValue | None) -> float:
    """Double view: the double; 0 for everything else (use ``todouble`` to convert text)."""
    if isinstance(value, float):
        return value
    return 0.0


def format_double(value: float) -> str:
    """C ``printf("%lf")``: six decimals (``3.500000``)."""
    return f"{value:f}"


def insertion_text(value: VarValue | None) -> str:
    """Text inserted by ``[$name]`` (docs/sipp-behaviour.md#variables): regexp/string -> text,
    double -> ``%lf``, bool ->
    ``true``/``false``; a double equal to 0 and an undefined variable insert nothing."""
    if value is None:
        return ""
    if isinstance(value, str):
        return str(value)
    if value.__class__ is bool:
        return "true" if value else "false"
    if value == 0.0:
        return ""
    return format_double(float(value))


class Variables:
    """The variables one call sees: its own store chained to the user and global stores.

    ``scopes`` maps every user/global variable name to its scope (call variables are simply
    absent from it). One instance per call; the global store is shared by all calls and the
    user store by all calls of the same ``-users`` user.
    """

    __slots__ = ("_call", "_global", "_scopes", "_user")

    def __init__(
        self,
        scopes: Mapping[str, Scope],
        global_store: VariableStore,
        user_store: VariableStore | None = None,
        call_store: VariableStore | None = None,
    ) -> None:
        self._scopes = scopes
        self._global = global_store
        # Without -users the user variables behave like call variables of this call.
        self._user = user_store if user_store is not None else {}
        self._call = call_store if call_store is not None else {}

    def _store(self, name: str) -> VariableStore:
        scope = self._scopes.get(name)
        if scope is None:
            return self._call
        if scope is Scope.GLOBAL:
            return self._global
        return self._user

    def get(self, name: str) -> VarValue | None:
        """The value, or None when undefined."""
        return self._store(name).get(name)

    def set(self, name: str, value: VarValue) -> None:
        """Assign (the type follows the value)."""
        self._store(name)[name] = value

    def unset(self, name: str) -> None:
        """Make the variable undefined again."""
        self._store(name).pop(name, None)

    def is_set(self, name: str) -> bool:
        """The "is set" test used by ``test=``, ``condexec`` and friends."""
        return is_set(self._store(name).get(name))

    def string(self, name: str) -> str:
        """String view (docs/sipp-behaviour.md#variables)."""
        return string_value(self._store(name).get(name))

    def double(self, name: str) -> float:
        """Double view (docs/sipp-behaviour.md#variables)."""
        return double_value(self._store(name).get(name))

    def insertion(self, name: str) -> str:
        """Text for ``[$name]``."""
        return insertion_text(self._store(name).get(name))

    @property
    def call_store(self) -> VariableStore:
        """This call's own variables (for debugging and tests)."""
        return self._call


class GlobalVariables:
    """Process-wide variable state: the global store and the per-user stores (``-users``)."""

    __slots__ = ("_scopes", "store", "users")

    def __init__(self, scopes: Mapping[str, Scope], initial: Mapping[str, str] | None = None):
        self._scopes = scopes
        self.store: VariableStore = {}
        self.users: dict[int, VariableStore] = {}
        if initial:
            for name, value in initial.items():
                self.store[name] = value

    def for_call(self, user_id: int = 0) -> Variables:
        """A fresh call scope chained to this process's global store and the user's store
        (``user_id`` 0 = not in users mode: user variables are then per call)."""
        user_store = self.users.setdefault(user_id, {}) if user_id > 0 else None
        return Variables(self._scopes, self.store, user_store)
