"""RTCP reports due close together go out together in real runs (MediaSettings.report_window_s),
each at its own time in the simulation (window 0): the report task's wake-ups, not its cadence."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from gossipper.media.session import MediaLibrary, MediaRun, MediaSettings
from gossipper.transport import UdpTransportFactory


class _Stream:
    """What the report task touches of a stream: ``closed`` and ``send_report``."""

    def __init__(self, name: str, sent: list[tuple[float, str]]) -> None:
        self.name = name
        self.closed = False
        self._sent = sent

    def send_report(self) -> None:
        self._sent.append((round(trio.current_time(), 6), self.name))


def _report_times(window_s: float) -> list[tuple[float, str]]:
    sent: list[tuple[float, str]] = []

    async def main() -> None:
        settings = MediaSettings(
            media_ip="127.0.0.1", rtcp_interval_s=1.0, report_window_s=window_s
        )
        run = MediaRun(
            UdpTransportFactory(), settings, MediaLibrary(), wall_time=trio.current_time,
            on_quality=lambda _q: None, warn=lambda _t: None,
        )  # fmt: skip
        for name, due in (("a", 1.000), ("b", 1.004), ("c", 1.008), ("d", 1.013)):
            run.schedule_report(_Stream(name, sent), due)  # type: ignore[arg-type]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run._serve_reports)
            await trio.sleep(2.5)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return sent


@pytest.mark.parametrize(
    ("window_s", "expected"),
    [
        (0.0, [(1.0, "a"), (1.004, "b"), (1.008, "c"), (1.013, "d"),
               (2.0, "a"), (2.004, "b"), (2.008, "c"), (2.013, "d")]),
        (0.010, [(1.0, "a"), (1.0, "b"), (1.0, "c"), (1.013, "d"),
                 (2.0, "a"), (2.0, "b"), (2.0, "c"), (2.013, "d")]),
    ],
    ids=["simulation", "real-run"],
)  # fmt: skip
def test_reports_due_within_the_window_share_a_wake_up_and_keep_their_interval(
    window_s: float, expected: list[tuple[float, str]]
) -> None:
    assert _report_times(window_s) == expected
