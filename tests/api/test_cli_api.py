"""A real gossipper process with -api_addr, driven by real clients: httpx for HTTP,
trio-websocket for the live feed."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time

import httpx
import trio
import trio_websocket
from prometheus_client.parser import text_string_to_metric_families

from tests.api.cli_process import ApiProcess, start_api_run


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _created(api: ApiProcess, token: str) -> int:
    response = httpx.get(f"{api.base}/api/v1/runs/main/stats", headers=_auth(token))
    assert response.status_code == 200, response.text
    total: int = response.json()["calls"]["total"]
    return total


def _calls_in(api: ApiProcess, token: str, seconds: float) -> int:
    first = _created(api, token)
    time.sleep(seconds)
    return _created(api, token) - first


def test_login_read_steer_and_stop(tmp_path: pathlib.Path) -> None:
    api = start_api_run(tmp_path, "-r", "50")
    try:
        operator, viewer = api.token("otto"), api.token("vera")
        status = httpx.get(f"{api.base}/api/v1/status", headers=_auth(viewer)).json()
        assert status["manages_runs"] is False
        assert status["runs"] == [{"name": "main", "state": "running"}]
        assert (status["user"], status["role"]) == ("vera", "viewer")
        assert _calls_in(api, viewer, 0.5) > 0  # statistics move

        # A viewer may read but not steer.
        refused = httpx.post(
            f"{api.base}/api/v1/runs/main/rate", json={"value": 5}, headers=_auth(viewer)
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        bad = httpx.post(
            f"{api.base}/api/v1/runs/main/rate",
            content=b"{rate: 5",
            headers={**_auth(operator), "Content-Type": "application/json"},
        )
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "bad_json")
        bad_value = httpx.post(
            f"{api.base}/api/v1/runs/main/rate", json={"value": -1}, headers=_auth(operator)
        )
        assert (bad_value.status_code, bad_value.json()["error"]["code"]) == (400, "bad_value")

        # The rate follows the command: 5 calls/s, then 200.
        slow = httpx.post(
            f"{api.base}/api/v1/runs/main/rate", json={"value": 5}, headers=_auth(operator)
        )
        assert slow.status_code == 200, slow.text
        assert slow.json()["control"]["rate"] == 5
        time.sleep(0.3)
        assert _calls_in(api, viewer, 2.0) <= 20
        httpx.post(
            f"{api.base}/api/v1/runs/main/rate", json={"value": 200}, headers=_auth(operator)
        )
        assert _calls_in(api, viewer, 1.0) >= 60  # 200 calls/s, with room for a busy machine

        paused = httpx.post(f"{api.base}/api/v1/runs/main/pause", headers=_auth(operator))
        assert paused.json()["control"]["paused"] is True
        time.sleep(0.3)
        assert _calls_in(api, viewer, 0.5) == 0
        assert _created(api, viewer) > 0
        reset = httpx.post(f"{api.base}/api/v1/runs/main/reset", headers=_auth(operator))
        assert reset.status_code == 200
        assert _created(api, viewer) == 0  # the cumulative counters restarted
        httpx.post(f"{api.base}/api/v1/runs/main/resume", headers=_auth(operator))
        assert _calls_in(api, viewer, 0.5) > 0

        limit = httpx.post(
            f"{api.base}/api/v1/runs/main/limit", json={"value": 7}, headers=_auth(operator)
        )
        assert limit.json()["control"]["open_call_limit"] == 7
        users = httpx.post(
            f"{api.base}/api/v1/runs/main/users", json={"value": 3}, headers=_auth(operator)
        )
        assert (users.status_code, users.json()["error"]["code"]) == (409, "not_users_mode")

        failures = httpx.get(f"{api.base}/api/v1/runs/main/failures", headers=_auth(viewer))
        assert failures.json()["failed"] == 0
        assert set(failures.json()["failures"].values()) == {0}

        # Server-mode commands are refused with a stable code.
        create = httpx.post(
            f"{api.base}/api/v1/runs",
            json={"name": "x", "spec": {}},
            headers=_auth(api.token("ada")),
        )
        assert (create.status_code, create.json()["error"]["code"]) == (409, "not_server_mode")

        stop = httpx.post(f"{api.base}/api/v1/runs/main/stop", headers=_auth(operator))
        assert stop.status_code == 200, stop.text
        # A soft stop: the run ends when its calls have ended, with SIPp's exit code.
        api.process.wait(timeout=20)
    finally:
        status_code, err = api.stop()
    assert status_code == 0, err
    audit = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    actions = [(line.get("user"), line.get("action"), line.get("outcome")) for line in audit]
    assert ("otto", "rate", "ok") in actions, actions
    assert ("vera", "rate", "refused") in actions, actions
    assert ("otto", "rate", "failed") in actions, actions  # the value -1
    assert ("otto", "stop", "ok") in actions, actions


def test_websocket_pushes_snapshots_and_takes_commands(tmp_path: pathlib.Path) -> None:
    api = start_api_run(tmp_path, "-r", "20")
    try:
        operator, viewer = api.token("otto"), api.token("vera")
        ws_base = api.base.replace("http://", "ws://")

        async def main() -> None:
            # The operator's token in the header; a viewer's in the query.
            async with trio_websocket.open_websocket_url(
                f"{ws_base}/api/v1/live?run=main",
                extra_headers=[(b"Authorization", f"Bearer {operator}".encode())],
            ) as ws:
                frames = []
                with trio.fail_after(10):
                    while len(frames) < 2:
                        frames.append(json.loads(await ws.get_message()))
                assert [frame["type"] for frame in frames] == ["snapshot", "snapshot"]
                run = frames[-1]["runs"][0]
                assert (run["name"], run["state"]) == ("main", "running")
                assert run["statistics"]["calls"]["total"] > 0
                assert "histogram" not in json.dumps(run["statistics"])

                async def reply() -> dict[str, object]:
                    with trio.fail_after(10):
                        while True:
                            message = json.loads(await ws.get_message())
                            if message["type"] != "snapshot":
                                return dict(message)

                await ws.send_message("not json")
                error = await reply()
                assert error["type"] == "error"
                assert error["error"]["code"] == "bad_json"  # type: ignore[index]
                await ws.send_message(json.dumps({"command": "fly", "run": "main"}))
                assert (await reply())["error"]["code"] == "unknown_command"  # type: ignore[index]
                await ws.send_message(json.dumps({"command": "rate", "run": "main", "value": 7}))
                done = await reply()
                assert done["type"] == "result", done
                assert done["control"]["rate"] == 7  # type: ignore[index]
                # The next snapshot shows it.
                with trio.fail_after(10):
                    while True:
                        frame = json.loads(await ws.get_message())
                        if frame["type"] == "snapshot":
                            assert frame["runs"][0]["control"]["rate"] == 7
                            break

            async with trio_websocket.open_websocket_url(
                f"{ws_base}/api/v1/live?token={viewer}"
            ) as ws:
                await ws.send_message(json.dumps({"command": "pause", "run": "main"}))
                with trio.fail_after(10):
                    while True:
                        message = json.loads(await ws.get_message())
                        if message["type"] == "error":
                            assert message["error"]["code"] == "forbidden"
                            break

        trio.run(main)
        control = httpx.get(f"{api.base}/api/v1/runs/main", headers=_auth(viewer)).json()
        assert control["control"]["paused"] is False
        killed = httpx.post(f"{api.base}/api/v1/runs/main/stop?force=true", headers=_auth(operator))
        assert killed.json()["control"]["quit_state"] == "forced"
        api.process.wait(timeout=20)  # a forced stop ends the process at once
    finally:
        status, err = api.stop()
    assert "Traceback" not in err, err


def test_metrics_equal_the_summary_at_the_end(tmp_path: pathlib.Path) -> None:
    summary = tmp_path / "summary.json"
    api = start_api_run(
        tmp_path, "-r", "100", "-m", "60", "-summary_json", str(summary), "-api_linger", "30s"
    )
    try:
        viewer = api.token("vera")
        deadline = time.monotonic() + 30
        while not summary.exists():
            assert time.monotonic() < deadline, "the run did not end"
            time.sleep(0.1)
        document = json.loads(summary.read_text())
        state = httpx.get(f"{api.base}/api/v1/runs/main", headers=_auth(viewer)).json()
        assert state["state"] == "finished"
        assert state["control"] is None
        stats = state["statistics"]
        assert stats["calls"] == document["calls"]
        assert stats["failures"] == document["failures"]
        assert stats["latency"] == document["latency"]
        text = httpx.get(f"{api.base}/metrics", headers=_auth(viewer)).text
        late = httpx.post(
            f"{api.base}/api/v1/runs/main/rate", json={"value": 5}, headers=_auth(api.token("otto"))
        )
        assert (late.status_code, late.json()["error"]["code"]) == (409, "run_not_running")
    finally:
        status, err = api.stop()  # SIGINT ends the linger
    assert status == 0, err
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted({"run": "main", **labels}.items())))]

    calls = document["calls"]
    assert calls["total"] == 60
    assert value("gossipper_calls_total", result="successful") == calls["successful"]
    assert value("gossipper_calls_total", result="failed") == calls["failed"]
    assert value("gossipper_calls_created_total") == calls["total"]
    assert value("gossipper_calls_active") == calls["current"]
    assert value("gossipper_retransmissions_total") == document["messages"]["retransmissions"]
    for reason, count in document["failures"].items():
        assert value("gossipper_call_failures_total", reason=reason) == count
    assert value("gossipper_sip_messages_total", direction="out", method="INVITE", code="") == 60
    for method in ("INVITE", "BYE"):
        assert (
            value("gossipper_sip_messages_total", direction="in", method=method, code="200") == 60
        )
    assert value("gossipper_sip_messages_total", direction="out", method="ACK", code="") == 60
    for rtd, latency in document["latency"]["rtd"].items():
        assert value("gossipper_response_time_seconds_count", rtd=rtd) == latency["count"]
        assert (
            value("gossipper_response_time_seconds_bucket", rtd=rtd, le="+Inf") == latency["count"]
        )
        sum_s = value("gossipper_response_time_seconds_sum", rtd=rtd)
        assert abs(sum_s - latency["mean_ms"] * latency["count"] / 1000) < 1e-6
    assert value("gossipper_run_up", state="finished") == 1


def test_a_plain_run_imports_no_api_library(tmp_path: pathlib.Path) -> None:
    code = (
        "import sys\n"
        "from gossipper.cli.main import raw_main\n"
        "status = raw_main(['-sn', 'uac', '-peer', 'uas', '-i', '127.0.0.1', '-nostdin',"
        " '-m', '3', '-r', '50'])\n"
        "heavy = ('quart', 'quart_trio', 'hypercorn', 'jwt', 'prometheus_client', 'argon2',"
        " 'werkzeug', 'gossipper.api.app', 'gossipper.api.auth')\n"
        "print(status, sorted(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.splitlines()[-1] == "0 []", done.stdout
    version = (
        "import sys\nfrom gossipper.cli.main import raw_main\nraw_main(['-v'])\n"
        "print(sorted(m for m in ('quart', 'hypercorn', 'jwt', 'prometheus_client') "
        "if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", version], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.splitlines()[-1] == "[]", done.stdout


def test_an_exposed_api_without_tls_is_warned_about(tmp_path: pathlib.Path) -> None:
    from tests.api.cli_process import free_tcp_port, make_users

    port = free_tcp_port()
    done = subprocess.run(
        [
            sys.executable, "-m", "gossipper", "-sn", "uac", "-peer", "uas", "-i", "127.0.0.1",
            "-nostdin", "-m", "2", "-r", "50", *make_users(tmp_path),
            "-api_addr", f"0.0.0.0:{port}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"API on http://0.0.0.0:{port}" in done.stderr
    assert "reachable from other hosts without TLS" in done.stderr
