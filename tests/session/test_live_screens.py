"""``Run.live_screen``: SIPp's nine screen keys, each giving its screen of the live run."""

from __future__ import annotations

import pathlib
import re

import trio
import trio.testing

from gossipper.session import open_run
from gossipper.sim import SimNetwork
from tests.engine._harness import builtin, make_plan


def _screens(tmp_path: pathlib.Path, **options: object) -> dict[int, str | None]:
    screens: dict[int, str | None] = {}

    async def main() -> None:
        network = SimNetwork(3)
        async with trio.open_nursery() as nursery:
            await nursery.start(network.run)
            server_plan = make_plan(
                network,
                builtin("branchs"),
                host="10.0.0.2",
                role="s",
                remote=None,
                pid=1,
                directory=tmp_path,
                local_port=5060,
            )
            client_plan = make_plan(
                network,
                builtin("branchc"),
                host="10.0.0.1",
                role="c",
                remote=("10.0.0.2", 5060),
                pid=2,
                directory=tmp_path,
                local_port=5061,
                rate=10,
                max_calls=30,
                **options,
            )
            async with open_run(server_plan) as server, open_run(client_plan) as client:
                nursery.start_soon(server.run)
                nursery.start_soon(client.run)
                await trio.sleep(2.5)
                for number in range(1, 10):
                    screens[number] = client.live_screen(number)
                client.engine.interrupt()
                server.engine.interrupt()
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return screens


def test_each_key_has_its_screen(tmp_path: pathlib.Path) -> None:
    screens = _screens(tmp_path)
    scenario, statistics, repartition, variables = (screens[n] for n in (1, 2, 3, 4))
    assert scenario is not None and scenario.startswith("-" * 30 + " Scenario Screen")
    # Live: the running state's bottom line, not "Test Terminated".
    assert scenario.rstrip("\n").endswith("[p]: Pause traffic -----")
    assert statistics is not None and "Statistics Screen" in statistics
    assert "Outgoing calls created" in statistics
    assert repartition is not None and "Repartition Screen" in repartition
    # branchc has actions (ereg, test, ...) and variables: the variables screen lists them.
    assert variables is not None and "Variables Screen" in variables
    assert "action(s) defined" in variables and "--> action[0] = " in variables
    assert "=> Variable[0] : " in variables
    # No -tdmmap: no TDM screen. 6-9 are repartitions of RTDs 2-5 (none defined here).
    assert screens[5] is None
    for number in range(6, 10):
        text = screens[number]
        assert text is not None and f"Repartition {number - 4} Screen" in text


def test_periodic_figures_cover_the_time_since_the_last_screen(tmp_path: pathlib.Path) -> None:
    # Two screens drawn at the same instant: the second one's period is empty.
    screens = _screens(tmp_path)
    first, second = screens[1], screens[2]
    assert first is not None and " new calls during 0.000 s period" not in first
    assert second is not None and "Elapsed Time           | 00:00:00:000000" in second


def test_tdm_screen_shows_busy_circuits(tmp_path: pathlib.Path) -> None:
    screens = _screens(tmp_path, tdm_map="{0-0}{9}{1-1}{1-8}")
    tdm = screens[5]
    assert tdm is not None and "TDM map Screen" in tdm
    # Calls open at that instant hold circuits, marked with a star.
    in_use = re.search(r"8 circuits, (\d) in use, (\d) free", tdm)
    assert in_use is not None and int(in_use.group(1)) >= 1
    assert int(in_use.group(1)) + int(in_use.group(2)) == 8
    circuit_lines = tdm.splitlines()[2:-1]
    assert "".join(circuit_lines).count("*") == int(in_use.group(1))
    assert "0.9.1/1" in tdm and "0.9.1/8" in tdm
