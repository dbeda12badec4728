"""Test-only: make Trio shuffle every scheduling batch with a chosen seed.

Trio already runs the tasks of one batch in a random order (it reverses the batch half of the
time). To *prove* that simulation output does not depend on that order, the determinism tests
run the same simulation under several much harsher, reproducible orders: with the private
``_ALLOW_DETERMINISTIC_SCHEDULING`` flag on, Trio sorts each batch and then shuffles it with
its private ``_r`` generator, which we seed.

These are private Trio internals, touched here only, in tests; ``gossipper.sim`` never uses
them. ``test_trio_still_has_the_scheduling_hooks_the_tests_use`` fails loudly if Trio changes
them.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import trio

_RUN = trio._core._run


def hooks_available() -> bool:
    """Whether this Trio still has the two private names used below."""
    return hasattr(_RUN, "_ALLOW_DETERMINISTIC_SCHEDULING") and isinstance(
        getattr(_RUN, "_r", None), random.Random
    )


@contextlib.contextmanager
def shuffled_scheduling(seed: int) -> Iterator[None]:
    """Within the block, every Trio scheduling batch is shuffled by ``random.Random(seed)``."""
    assert hooks_available(), (
        "trio changed its private scheduling hooks; see tests/sim/_scheduling.py"
    )
    saved_flag = _RUN._ALLOW_DETERMINISTIC_SCHEDULING
    saved_r = _RUN._r
    _RUN._ALLOW_DETERMINISTIC_SCHEDULING = True  # type: ignore[misc]
    _RUN._r = random.Random(seed)
    try:
        yield
    finally:
        _RUN._ALLOW_DETERMINISTIC_SCHEDULING = saved_flag  # type: ignore[misc]
        _RUN._r = saved_r
