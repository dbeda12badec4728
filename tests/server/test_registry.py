"""``ServerRegistry`` in-process, on real loopback sockets: create, start, stop, replace, delete,
failure states, and a UAS and a UAC of one server calling each other."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

from gossipper.api.seams import RegistryError, RunRegistry
from gossipper.server.host import SUMMARY_FILE, ServerRegistry, ServerRun

TIMEOUT_S = 30


def _host(
    tmp_path: pathlib.Path, body: Callable[[ServerRegistry, list[str]], Awaitable[None]]
) -> list[str]:
    """Run ``body`` against a registry under a nursery; every run is deleted at the end."""
    lines: list[str] = []

    async def main() -> None:
        with trio.fail_after(TIMEOUT_S):
            async with trio.open_nursery() as nursery:
                registry = ServerRegistry(
                    nursery, base_dir=str(tmp_path), output_dir=str(tmp_path), log=lines.append
                )
                try:
                    await body(registry, lines)
                finally:
                    for run in registry.runs():
                        await registry.delete(run.name)

    trio.run(main)
    return lines


async def _until(predicate: Callable[[], bool], what: str, timeout_s: float = 15) -> None:
    with trio.move_on_after(timeout_s):
        while not predicate():  # noqa: ASYNC110 - polling run state from outside the runs
            await trio.sleep(0.02)
        return
    raise AssertionError(f"timed out waiting for {what}")


def _uas_spec(port: int = 0) -> dict[str, Any]:
    return {"sn": "uas", "local_ip": "127.0.0.1", "local_port": port}


def _uac_spec(port: int, **settings: Any) -> dict[str, Any]:
    return {"sn": "uac", "local_ip": "127.0.0.1", "remote": f"127.0.0.1:{port}", **settings}


def _port(run: ServerRun | None) -> int:
    assert run is not None and run.session is not None
    return run.session.engine.local_address[1]


def _successful(run: ServerRun) -> int:
    if run.session is not None:
        return run.session.engine.statistics().snapshot.cumulative.successful_calls
    assert run.result is not None
    return run.result.snapshot.cumulative.successful_calls


def test_it_is_a_run_registry(tmp_path: pathlib.Path) -> None:
    async def body(registry: ServerRegistry, lines: list[str]) -> None:
        seam: RunRegistry = registry  # the API codes against the protocol
        assert seam.manages_runs
        assert seam.runs() == [] and seam.get("x") is None

    _host(tmp_path, body)


def test_a_uas_and_a_uac_in_one_server_count_the_same_calls(tmp_path: pathlib.Path) -> None:
    async def body(registry: ServerRegistry, lines: list[str]) -> None:
        uas = await registry.create("uas", _uas_spec(), start=True)
        assert uas.state == "running" and uas.controller is not None
        uac = await registry.create("uac", _uac_spec(_port(uas), rate=50, max_calls=30), start=True)
        await _until(lambda: uac.state == "finished", "the UAC to finish")
        assert uac.result is not None and int(uac.result.exit_status) == 0
        assert uac.session is None and uac.controller is None
        counts = uac.result.snapshot.cumulative
        assert (counts.outgoing_calls, counts.successful_calls, counts.failed_calls) == (30, 30, 0)
        # The UAS counts a call once its BYE is answered: the same 30 calls.
        await _until(lambda: _successful(uas) == 30, "the UAS to count 30 calls")
        incoming = uas.session.engine.statistics().snapshot.cumulative  # type: ignore[union-attr]
        assert (incoming.incoming_calls, incoming.failed_calls) == (30, 0)
        summary = json.loads((tmp_path / "uac" / SUMMARY_FILE).read_text())
        assert summary["calls"]["successful"] == 30 and summary["exit_code"] == 0
        assert uac.summary == summary
        await registry.stop("uas", force=False)
        await _until(lambda: uas.state == "finished", "the UAS to finish")
        assert _successful(uas) == 30  # a finished run's statistics stay readable

    lines = _host(tmp_path, body)
    finished = "run uac: finished: exit 0, 30 successful, 0 failed"
    assert any(line.startswith(finished) for line in lines)


def test_stop_soft_lets_calls_end_and_forced_aborts_them(tmp_path: pathlib.Path) -> None:
    async def body(registry: ServerRegistry, lines: list[str]) -> None:
        uas = await registry.create("uas", _uas_spec(), start=True)
        # Calls of 1 s each: some are always running.
        soft = await registry.create(
            "soft", _uac_spec(_port(uas), rate=20, pause_default_s=1.0), start=True
        )
        forced = await registry.create(
            "forced", _uac_spec(_port(uas), rate=20, pause_default_s=1.0), start=True
        )
        await _until(
            lambda: all(
                run.session is not None and run.session.engine.statistics().open_calls > 3
                for run in (soft, forced)
            ),
            "calls in progress",
        )
        await registry.stop("soft", force=False)
        await registry.stop("forced", force=True)
        await _until(lambda: forced.state == "finished", f"forced ends {forced.state}")
        await _until(lambda: soft.state == "finished", f"soft ends {soft.state}")
        assert soft.result is not None and forced.result is not None
        soft_counts = soft.result.snapshot.cumulative
        assert soft_counts.failed_calls == 0 and soft_counts.successful_calls > 3
        assert int(soft.result.exit_status) == 0
        forced_counts = forced.result.snapshot.cumulative
        assert (
            forced_counts.successful_calls + forced_counts.failed_calls
            < (forced_counts.outgoing_calls)
            or forced_counts.failed_calls > 0
        )
        with pytest.raises(RegistryError) as caught:
            await registry.stop("soft", force=False)
        assert caught.value.code == "conflict"

    _host(tmp_path, body)


def test_start_again_replace_and_delete(tmp_path: pathlib.Path) -> None:
    async def body(registry: ServerRegistry, lines: list[str]) -> None:
        uas = await registry.create("uas", _uas_spec(), start=True)
        port = _port(uas)
        uac = await registry.create("uac", _uac_spec(port, rate=50, max_calls=5), start=False)
        assert uac.state == "created" and uac.session is None
        await registry.start("uac")
        await _until(lambda: uac.state == "finished", "the first run")
        await registry.start("uac")  # a finished run starts again, fresh
        await _until(lambda: uac.state == "finished", "the second run")
        assert uac.result is not None and uac.result.snapshot.cumulative.successful_calls == 5
        await _until(lambda: _successful(uas) == 10, "10 calls at the UAS")

        from gossipper.server.config import parse_run

        replaced = await registry.replace(
            parse_run("uac", _uac_spec(port, rate=50, max_calls=3), str(tmp_path)), start=True
        )
        assert replaced is not uac and registry.get("uac") is replaced
        await _until(lambda: replaced.state == "finished", "the replaced run")
        assert replaced.result is not None
        assert replaced.result.snapshot.cumulative.successful_calls == 3

        await registry.delete("uas")  # live: stopped (forced) first
        assert registry.get("uas") is None and uas.state == "finished"
        assert [run.name for run in registry.runs()] == ["uac"]
        for call in (registry.start("uas"), registry.delete("uas")):
            with pytest.raises(RegistryError) as caught:
                await call
            assert caught.value.code == "not_found"

    lines = _host(tmp_path, body)
    assert "run uac: replaced" in lines and "run uas: deleted" in lines


def test_registry_errors_have_stable_codes(tmp_path: pathlib.Path) -> None:
    async def body(registry: ServerRegistry, lines: list[str]) -> None:
        await registry.create("uas", _uas_spec(), start=True)
        with pytest.raises(RegistryError) as caught:
            await registry.create("uas", _uas_spec(), start=False)
        assert caught.value.code == "conflict"
        with pytest.raises(RegistryError) as caught:
            await registry.start("uas")
        assert caught.value.code == "conflict"
        with pytest.raises(RegistryError) as caught:
            await registry.create("bad", {"sn": "uas", "rate": -1}, start=False)
        assert caught.value.code == "bad_config"
        assert caught.value.message == "rate: must be a number >= 0, got -1"
        with pytest.raises(RegistryError) as caught:
            await registry.create("bad", {"sn": "uas", "rtae": 1}, start=False)
        assert caught.value.message == "rtae: unknown key; did you mean rate?"
        with pytest.raises(RegistryError) as caught:
            await registry.create("bad", {"sn": "uac"}, start=False)
        assert caught.value.message.startswith("remote: a client run needs the address")
        assert registry.get("bad") is None
        with pytest.raises(RegistryError) as caught:
            await registry.stop("nope", force=True)
        assert caught.value.code == "not_found"

    _host(tmp_path, body)


def test_a_failing_run_is_failed_and_the_others_go_on(tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text('<scenario name="broken">\n  <send>\n</scenario>\n')

    async def body(registry: ServerRegistry, lines: list[str]) -> None:
        uas = await registry.create("uas", _uas_spec(), start=True)
        port = _port(uas)
        taken = await registry.create("taken", _uas_spec(port), start=True)
        assert taken.state == "failed" and taken.session is None
        assert taken.error is not None and str(port) in taken.error
        bad_xml = await registry.create("xml", {"sf": "broken.xml"}, start=True)
        assert bad_xml.state == "failed"
        assert bad_xml.error is not None and "broken.xml" in bad_xml.error
        nowhere = await registry.create(
            "dns", {"sn": "uac", "remote": "no-such-host.invalid"}, start=True
        )
        assert nowhere.state == "failed"
        assert nowhere.error is not None and "cannot resolve" in nowhere.error
        wrong_role = await registry.create(
            "role", {"sn": "uas", "role": "client", "remote": "127.0.0.1:9"}, start=True
        )
        assert wrong_role.state == "failed"
        assert wrong_role.error is not None and "role is client" in wrong_role.error
        # The server and its healthy run are untouched: it still answers calls.
        assert uas.state == "running"
        uac = await registry.create("uac", _uac_spec(port, rate=50, max_calls=5), start=True)
        await _until(lambda: uac.state == "finished", "the UAC")
        assert uac.result is not None
        assert uac.result.snapshot.cumulative.successful_calls == 5
        # A failed run can be fixed by replacing it, or started again.
        await registry.delete("taken")
        assert registry.get("taken") is None

    lines = _host(tmp_path, body)
    assert sum(": failed: " in line for line in lines) == 4
    assert not any("Traceback" in line for line in lines)


def test_drain_stops_clients_first_and_no_call_fails(tmp_path: pathlib.Path) -> None:
    async def body(registry: ServerRegistry, lines: list[str]) -> None:
        uas = await registry.create("uas", _uas_spec(), start=True)
        uac = await registry.create(
            "uac", _uac_spec(_port(uas), rate=30, pause_default_s=0.5), start=True
        )
        await _until(
            lambda: uac.session is not None and uac.session.engine.statistics().open_calls > 3,
            "calls in progress",
        )
        await registry.drain(10.0)
        assert uac.state == "finished" and uas.state == "finished"
        assert uac.result is not None and uas.result is not None
        sent = uac.result.snapshot.cumulative
        answered = uas.result.snapshot.cumulative
        assert sent.failed_calls == 0 and answered.failed_calls == 0
        assert sent.successful_calls == sent.outgoing_calls == answered.successful_calls > 0

    lines = _host(tmp_path, body)
    order = [line for line in lines if ": finished:" in line]
    assert order[0].startswith("run uac:") and order[1].startswith("run uas:")


def test_drain_forces_what_outlives_the_timeout(tmp_path: pathlib.Path) -> None:
    async def body(registry: ServerRegistry, lines: list[str]) -> None:
        uas = await registry.create("uas", _uas_spec(), start=True)
        uac = await registry.create(
            "uac", _uac_spec(_port(uas), rate=20, pause_default_s=30.0), start=True
        )
        await _until(
            lambda: uac.session is not None and uac.session.engine.statistics().open_calls > 0,
            "a call in progress",
        )
        started = trio.current_time()
        await registry.drain(0.5)
        assert trio.current_time() - started < 10
        assert uac.state == "finished" and uas.state == "finished"

    lines = _host(tmp_path, body)
    assert any(line.startswith("drain: ") and "forcing" in line for line in lines)
