"""-workers with -api_addr: the API reads the merged statistics and its commands reach every
worker."""

from __future__ import annotations

import pathlib
import time

import httpx

from gossipper.errors import ExitStatus
from tests.api.cli_process import start_api_run


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_steers_and_reads_every_worker(tmp_path: pathlib.Path) -> None:
    api = start_api_run(tmp_path, "-r", "20", "-workers", "2", "-cp", "0")
    try:
        operator = api.token("otto")
        status = httpx.get(f"{api.base}/api/v1/status", headers=_auth(operator)).json()
        assert status["runs"] == [{"name": "main", "state": "running"}]
        rate = httpx.post(
            f"{api.base}/api/v1/runs/main/rate", json={"value": 60}, headers=_auth(operator)
        )
        assert rate.status_code == 200, rate.text
        assert rate.json()["control"]["rate"] == 60
        limit = httpx.post(
            f"{api.base}/api/v1/runs/main/limit", json={"value": 9}, headers=_auth(operator)
        )
        assert limit.json()["control"]["open_call_limit"] == 9  # 5 + 4
        time.sleep(2.5)  # the parent polls the workers every second
        stats = httpx.get(f"{api.base}/api/v1/runs/main/stats", headers=_auth(operator)).json()
        assert stats["rate"]["target_cps"] == 60  # 30 + 30, merged
        assert stats["calls"]["total"] > 0
        stop = httpx.post(f"{api.base}/api/v1/runs/main/stop", headers=_auth(operator))
        assert stop.status_code == 200, stop.text
        deadline = time.monotonic() + 20
        while api.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        status_code, err = api.stop()
    assert status_code == ExitStatus.SUCCESS, err
