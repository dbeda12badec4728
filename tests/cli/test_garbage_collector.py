"""The collector settings of a load run (gossipper.cli.run.tune_garbage_collector): young
collections small enough that their pause does not skip RTP frames, and the middle generation
collected as rarely as before (docs/performance.md, "Collector pauses")."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from gossipper.cli.run import tune_garbage_collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    if enabled:
        gc.enable()


@pytest.mark.usefixtures("restored_collector")
def test_a_load_run_collects_young_objects_in_small_batches_and_older_ones_rarely() -> None:
    tune_garbage_collector()
    young, middle, old = gc.get_threshold()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # start-up objects are out of the scans
    # A young collection stops every RTP stream while it scans: at most 10,000 objects.
    assert 0 < young <= 10_000
    # The middle generation once per 5,000,000 net allocations, as with 100,000 x 50.
    assert young * middle >= 5_000_000
    assert old >= 1000
