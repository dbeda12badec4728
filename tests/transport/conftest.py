from __future__ import annotations

import pytest

from tests.transport._backends import DATAGRAM_BACKENDS, STREAM_BACKENDS, Backend


@pytest.fixture(params=DATAGRAM_BACKENDS)
def datagrams(request: pytest.FixtureRequest) -> Backend:
    """Each datagram implementation in turn (real UDP, the simulation)."""
    backend: Backend = request.param
    return backend


@pytest.fixture(params=STREAM_BACKENDS)
def streams(request: pytest.FixtureRequest) -> Backend:
    """Each stream implementation in turn (real TCP, the simulation)."""
    backend: Backend = request.param
    return backend
