"""Byte-for-byte comparisons with messages written by SIPp 3.6.1 (sipp-samples)."""

from __future__ import annotations

import os
import pathlib
import re
import time

import pytest

from gossipper.scenario import compute_route_set, load_scenario, load_scenario_text, run_actions
from gossipper.scenario.injection import parse_injection_text
from gossipper.scenario.model import Scenario
from gossipper.sip import parse_message
from tests.scenario._support import context, env, messages_from_log

SAMPLES = pathlib.Path("/work/shared/reference/sipp-samples")
if not SAMPLES.is_dir():  # pragma: no cover - the repository copy
    SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "shared" / "reference" / "sipp-samples"


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _send(scenario: Scenario, ctx: object, index: int) -> str:
    element = scenario.elements[index]
    assert element.template is not None
    if not element.is_response and element.method not in ("ACK", "CANCEL"):
        ctx.cseq += 1  # type: ignore[attr-defined]
    return element.template.render(ctx, index, index)  # type: ignore[arg-type]


def test_uac_messages_match_sipp() -> None:
    log = messages_from_log((SAMPLES / "uac_messages.log").read_bytes())
    run_env = env(pid=7107, local_port=5071, remote_port=5070, media_port=6004)
    scenario = load_scenario("", builtin_name="uac").bind(run_env)
    ctx = context(scenario, run_env)
    assert _send(scenario, ctx, 0).encode("latin-1") == log[0][1]
    ok = parse_message(log[2][1])
    ctx.last_message = ok
    ctx.peer_tag = ok.to_tag
    assert _send(scenario, ctx, 5).encode("latin-1") == log[3][1]


def test_uas_responses_match_sipp() -> None:
    log = messages_from_log((SAMPLES / "uac_messages.log").read_bytes())
    run_env = env(pid=7057, local_port=5070, remote_port=5071, media_port=6000)
    scenario = load_scenario("", builtin_name="uas").bind(run_env)
    ctx = context(scenario, run_env)
    ctx.last_message = parse_message(log[0][1])
    assert _send(scenario, ctx, 1).encode("latin-1") == log[1][1]  # 180
    assert _send(scenario, ctx, 2).encode("latin-1") == log[2][1]  # 200 with SDP


def test_keyword_sample_matches_sipp(
    utc: None, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # [tdmmap] is not supported: the sample's value is put in literally.
    xml = (
        (SAMPLES / "keywords_uac_scenario.xml")
        .read_text("latin-1")
        .replace("[tdmmap]", "3.99.6/30")
    )
    injection = parse_injection_text(
        "users.csv", (SAMPLES / "keywords_users.csv").read_bytes().decode("latin-1")
    )
    scenario = load_scenario_text(
        xml.encode("latin-1"),
        source_label="kw.xml",
        keys={"mykey": "myvalue"},
        global_vars={"gvar": "hello"},
        injection_files=["users.csv"],
    )
    log = messages_from_log((SAMPLES / "keywords_uac_messages.log").read_bytes())
    (tmp_path / "inc.txt").write_bytes(b"FILE-CONTENT-LINE\r\n")
    monkeypatch.chdir(tmp_path)
    run_env = env(
        users=1,
        injection={"users.csv": injection},
        default_injection="users.csv",
        clock_ms=lambda: 4,
        wall_time=lambda: 1795672219.065256,
    )
    scenario = scenario.bind(run_env)
    ctx = context(scenario, run_env, user_id=1, injection_line=0, injection_lines={"users.csv": 0})
    assert _send(scenario, ctx, 0).encode("latin-1") == log[0][1]

    challenge = parse_message(log[1][1])
    ctx.last_message = challenge
    ctx.auth_challenge = challenge.header("WWW-Authenticate")
    register = _send(scenario, ctx, 2)
    expected = log[2][1].decode("latin-1")
    # cnonce is random: compare everything else, and the response is checked in test_auth.
    strip = re.compile(r'cnonce="[^"]*"|response="[^"]*"')
    assert strip.sub("", register) == strip.sub("", expected)
    assert ctx.auth_nonce_count == 2

    ok = parse_message(log[3][1])
    ctx.last_message = ok
    ctx.peer_tag = ok.to_tag
    ctx.route_set, ctx.next_url = compute_route_set(ok, from_response=True)
    outcome = run_actions(scenario.elements[4].actions, ctx, None)
    assert outcome.failure is None and outcome.fatal_error is None
    assert _send(scenario, ctx, 5) == log[4][1].decode("latin-1")


def test_keyword_sample_timestamp_format(utc: None) -> None:
    from gossipper.scenario.keywords import format_log_time

    assert format_log_time(1795672219.065256) == "2026-11-26\t05:50:19.065256\t1795672219.065256"


def test_samples_directory_is_there() -> None:
    assert (SAMPLES / "uac_messages.log").is_file(), os.fspath(SAMPLES)
