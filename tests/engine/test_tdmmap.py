"""-tdmmap in the engine: each call holds a circuit until it ends; a call created while all are
busy fails at once with FailedOutboundCongestion and sends nothing (SIPp's behaviour)."""

from __future__ import annotations

import io
import os
import pathlib
import re
from typing import Any

from gossipper.cli.main import raw_main
from gossipper.errors import ExitStatus
from gossipper.stats import FailureReason
from tests.engine._harness import builtin, run_pair, scenario_text

_UAC_WITH_CIRCUIT = (
    (pathlib.Path(__file__).parents[1] / "golden_csv/scenarios/uac_timestamp.xml")
    .read_text()
    .replace("X-Sent-At: [timestamp]", "X-Circuit: [tdmmap]")
)


def _run(tmp_path: pathlib.Path, **client_options: Any) -> Any:
    return run_pair(
        scenario_text(tmp_path, "uac_tdm.xml", _UAC_WITH_CIRCUIT),
        builtin("uas"),
        client_options={"max_calls": 6, "rate": 10, "trace_msg": True, **client_options},
    )


def test_calls_beyond_the_free_circuits_fail_as_outbound_congestion(
    tmp_path: pathlib.Path,
) -> None:
    # Two circuits, calls every 100 ms lasting 300 ms: calls 3 and 6 find both busy.
    result = _run(tmp_path, tdm_map="{0-0}{9}{1-1}{1-2}", pause_default_s=0.3)
    cumulative = result.client.snapshot.cumulative
    assert (cumulative.successful_calls, cumulative.failed_calls) == (4, 2)
    assert cumulative.failure(FailureReason.OUTBOUND_CONGESTION) == 2
    assert cumulative.warnings == 2
    # The failed calls sent nothing: the peer saw four calls.
    assert result.server is not None
    assert result.server.snapshot.cumulative.successful_calls == 4
    # Circuits came back when their calls ended.
    assert result.client_engine.env.tdm_map is not None
    assert result.client_engine.env.tdm_map.free == 2


def test_every_call_gets_a_circuit_when_enough_are_free(tmp_path: pathlib.Path) -> None:
    result = _run(tmp_path, tdm_map="{0-3}{99}{5-8}{1-31}")
    cumulative = result.client.snapshot.cumulative
    assert (cumulative.successful_calls, cumulative.failed_calls) == (6, 0)


def _sim_circuits(tmp_path: pathlib.Path, *args: str) -> list[str]:
    (tmp_path / "uac_tdm.xml").write_text(_UAC_WITH_CIRCUIT)
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        status = raw_main(
            ["sim", "-sf", "uac_tdm.xml", "-m", "5", "-trace_msg", *args], stdout=out, stderr=err
        )
    finally:
        os.chdir(previous)
    assert (status, err.getvalue()) == (ExitStatus.SUCCESS, "")
    (log,) = tmp_path.glob("uac_tdm_*_messages.log")
    circuits = [line for line in log.read_text().splitlines() if line.startswith("X-Circuit:")]
    log.unlink()
    return circuits


def test_circuits_are_the_same_in_every_simulation(tmp_path: pathlib.Path) -> None:
    args = ("-tdmmap", "{0-3}{99}{5-8}{1-31}")
    first = _sim_circuits(tmp_path, *args)
    assert len(first) == 5 and len(set(first)) == 5
    assert all(re.fullmatch(r"X-Circuit: [0-3]\.99\.[5-8]/([1-9]|[12]\d|3[01])", c) for c in first)
    assert _sim_circuits(tmp_path, *args) == first
    assert _sim_circuits(tmp_path, *args, "-seed", "2") != first


def test_a_server_call_without_a_free_circuit_fails_and_its_retransmissions_are_dead_calls(
    tmp_path: pathlib.Path,
) -> None:
    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={"max_calls": 3, "rate": 10, "pause_default_s": 0.5},
        server_options={"tdm_map": "{0-0}{1}{0-0}{0-0}"},
    )
    assert result.server is not None
    server = result.server.snapshot.cumulative
    assert server.successful_calls == 1
    assert server.failure(FailureReason.OUTBOUND_CONGESTION) == 2
    # The INVITEs of the refused calls were not answered: their retransmissions reach a
    # Call-ID that has ended.
    assert server.dead_call_msgs > 0
    client = result.client.snapshot.cumulative
    assert (client.successful_calls, client.failure(FailureReason.MAX_UDP_RETRANS)) == (1, 2)
