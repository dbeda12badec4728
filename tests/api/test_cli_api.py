"""A real gossipper process with -api_addr, driven by real clients: httpx for HTTP,
trio-websocket for the live feed."""

from __future__ import annotations

import json
import pathlib
import time

import httpx

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
        assert _calls_in(api, viewer, 1.0) >= 80

        paused = httpx.post(f"{api.base}/api/v1/runs/main/pause", headers=_auth(operator))
        assert paused.json()["control"]["paused"] is True
        time.sleep(0.3)
        assert _calls_in(api, viewer, 0.5) == 0
        httpx.post(f"{api.base}/api/v1/runs/main/resume", headers=_auth(operator))
        assert _calls_in(api, viewer, 0.5) > 0

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
