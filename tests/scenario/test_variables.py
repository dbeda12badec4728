"""Variables: scopes, typed values, "is set", views and [$x] insertion (sipp-reference 3)."""

from __future__ import annotations

import pytest

from gossipper.scenario.variables import (
    GlobalVariables,
    RegexpMatch,
    Scope,
    double_value,
    insertion_text,
    is_set,
    string_value,
)


@pytest.mark.parametrize(
    ("value", "set_", "text", "double", "inserted"),
    [
        (None, False, "", 0.0, ""),
        (RegexpMatch(""), True, "", 0.0, ""),
        (RegexpMatch("abc"), True, "abc", 0.0, "abc"),
        ("", True, "", 0.0, ""),
        ("x", True, "x", 0.0, "x"),
        (0.0, False, "", 0.0, ""),
        (3.5, True, "", 3.5, "3.500000"),
        (-2.0, True, "", -2.0, "-2.000000"),
        (True, True, "", 0.0, "true"),
        (False, False, "", 0.0, "false"),
    ],
)
def test_value_semantics(
    value: object, set_: bool, text: str, double: float, inserted: str
) -> None:
    assert is_set(value) is set_  # type: ignore[arg-type]
    assert string_value(value) == text  # type: ignore[arg-type]
    assert double_value(value) == double  # type: ignore[arg-type]
    assert insertion_text(value) == inserted  # type: ignore[arg-type]


def test_scopes_chain_call_user_global() -> None:
    scopes = {"g": Scope.GLOBAL, "u": Scope.USER}
    process = GlobalVariables(scopes, {"g": "initial"})
    first = process.for_call(user_id=1)
    second = process.for_call(user_id=1)
    other_user = process.for_call(user_id=2)
    first.set("c", 1.0)
    first.set("u", "mine")
    first.set("g", 2.0)
    assert second.get("c") is None  # call scope is private
    assert second.string("u") == "mine"  # same user
    assert other_user.get("u") is None
    assert other_user.double("g") == 2.0  # global is shared
    assert process.store == {"g": 2.0}
    no_user = process.for_call(0)
    no_user.set("u", "x")
    assert process.for_call(0).get("u") is None  # without -users, per call
    first.unset("c")
    assert not first.is_set("c") and first.call_store == {}
    assert first.insertion("g") == "2.000000"
