"""Keys and control commands reach the engine through its public API only."""

from __future__ import annotations

from typing import Any

import trio

from gossipper.control import Controller
from gossipper.engine import Engine, QuitState
from tests.engine._harness import builtin, run_pair


def test_keys_and_commands_steer_a_running_engine() -> None:
    seen: dict[str, Any] = {}
    warnings: list[str] = []
    dumps: list[bool] = []

    async def steer(network: object, client: Engine, server: Engine | None) -> None:
        controller = Controller(
            client, rate_scale=2.0, dump_screens=lambda: dumps.append(True), warn=warnings.append
        )
        await trio.sleep(1.0)
        controller.datagram(b"cset rate 20")
        seen["rate"] = client.statistics().rate
        controller.key("+")
        seen["rate_plus"] = client.statistics().rate
        controller.key("*")
        seen["rate_times"] = client.statistics().rate
        controller.datagram(b"cset limit 3")
        seen["limit"] = client.statistics().open_call_limit
        controller.key("p")
        seen["paused"] = client.statistics().traffic_paused
        started = client.statistics().calls_started
        await trio.sleep(2.0)
        seen["started_while_paused"] = client.statistics().calls_started - started
        controller.key("p")
        controller.command("bogus words")
        controller.key("s")
        await trio.sleep(1.0)
        controller.key("q")
        seen["quit"] = client.statistics().quit_state

    result = run_pair(builtin("uac"), builtin("uas"), client_options={"rate": 5}, during=steer)
    assert seen["rate"] == 20.0
    assert seen["rate_plus"] == 22.0  # + adds -rate_scale
    assert seen["rate_times"] == 42.0  # * adds ten times -rate_scale
    assert seen["limit"] == 3
    assert seen["paused"] is True
    assert seen["started_while_paused"] == 0
    assert seen["quit"] is QuitState.SOFT
    assert dumps == [True]
    assert warnings == ["Unrecognized command 'bogus words'"]
    assert result.client.snapshot.cumulative.failed_calls == 0
