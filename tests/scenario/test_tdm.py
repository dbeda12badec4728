"""-tdmmap circuits and the [tdmmap] keyword."""

from __future__ import annotations

import pytest

from gossipper.config import parse_tdm_map
from gossipper.errors import ScenarioError
from gossipper.scenario import RunEnv
from gossipper.scenario.context import BasicCallContext, RenderError
from gossipper.scenario.keywords import CompileEnv
from gossipper.scenario.tdm import TdmMap
from gossipper.scenario.templates import compile_template
from gossipper.scenario.variables import Variables


def test_parse_reads_sipps_format() -> None:
    assert parse_tdm_map("{0-3}{99}{5-8}{1-31}") == (0, 3, 99, 5, 8, 1, 31)
    for bad in ("{0-3}{99}{5-8}", "{3-0}{99}{5-8}{1-31}", "0-3,99,5-8,1-31", "{0-3}{a}{5-8}{1-2}"):
        assert parse_tdm_map(bad) is None, bad


def test_names_run_through_every_circuit_once() -> None:
    tdm = TdmMap(*(0, 3, 99, 5, 8, 1, 31))
    names = [tdm.name(number) for number in range(tdm.size)]
    assert tdm.size == 4 * 4 * 31
    assert names[0] == "0.99.5/1"
    assert names[30] == "0.99.5/31"
    assert names[31] == "0.99.6/1"
    assert names[-1] == "3.99.8/31"
    assert len(set(names)) == tdm.size


def test_take_searches_from_the_start_and_wraps_then_runs_out() -> None:
    tdm = TdmMap(1, 1, 7, 1, 1, 1, 3)
    assert [tdm.take(2), tdm.take(2), tdm.take(2)] == [2, 0, 1]
    assert (tdm.free, tdm.take(0)) == (0, -1)
    tdm.release(0)
    assert (tdm.free, tdm.take(2)) == (1, 0)
    tdm.release(5)  # not a circuit: ignored
    assert tdm.free == 0


def _render(text: str, env: RunEnv, circuit: int) -> str:
    template = compile_template(text, CompileEnv("t.xml"), 4).bind(env)
    ctx = BasicCallContext(env=env, variables=Variables({}, {}), tdm_circuit=circuit)
    return template.render(ctx)


def test_keyword_prints_the_calls_circuit() -> None:
    env = RunEnv(tdm_map=TdmMap(0, 3, 99, 5, 8, 1, 31))
    assert _render("OPTIONS sip:x SIP/2.0\nX: [tdmmap]\n\n", env, 432).endswith(
        "X: 3.99.6/30\r\n\r\n"
    )


def test_keyword_without_the_option_is_refused_before_traffic() -> None:
    with pytest.raises(ScenarioError, match=r"t\.xml:5: \[tdmmap\] needs the circuit table"):
        _render("OPTIONS sip:x SIP/2.0\nX: [tdmmap]\n\n", RunEnv(), -1)


def test_keyword_in_an_unbound_template_without_the_option_is_a_render_error() -> None:
    template = compile_template("[tdmmap]", CompileEnv("t.xml"), 4)
    ctx = BasicCallContext(env=RunEnv(), variables=Variables({}, {}))
    with pytest.raises(RenderError, match="needs the circuit table"):
        template.render(ctx)
