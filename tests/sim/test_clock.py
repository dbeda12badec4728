from __future__ import annotations

import pytest
import trio
import trio.testing

from gossipper.errors import ConfigError
from gossipper.interfaces import WallClock
from gossipper.sim import DEFAULT_EPOCH_S, SimWallClock, run_under_virtual_time


def test_wall_clock_is_epoch_plus_virtual_time() -> None:
    async def main() -> tuple[float, float]:
        clock: WallClock = SimWallClock(1_000.0)
        before = clock.wall_time()
        await trio.sleep(3600)
        return before, clock.wall_time()

    assert run_under_virtual_time(main) == (1_000.0, 4_600.0)


def test_runner_passes_a_wall_clock_when_given_an_epoch() -> None:
    async def main(label: str, *, wall_clock: SimWallClock) -> tuple[str, float]:
        await trio.sleep(2.5)
        return label, wall_clock.wall_time()

    assert run_under_virtual_time(main, "x", epoch=10.0) == ("x", 12.5)


def test_runner_uses_an_autojumping_mock_clock() -> None:
    async def main() -> float:
        clock = trio.lowlevel.current_clock()
        assert isinstance(clock, trio.testing.MockClock)
        assert clock.autojump_threshold == 0
        await trio.sleep(86_400)
        return trio.current_time()

    assert run_under_virtual_time(main) == 86_400


def test_bad_epoch_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        SimWallClock(float("inf"))
    assert SimWallClock().epoch == DEFAULT_EPOCH_S
