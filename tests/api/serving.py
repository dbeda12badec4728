"""Serve the API in-process on a loopback port for a test (real sockets, real clients)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any

import trio

from gossipper.api.seams import Authenticator, RunRegistry
from gossipper.api.serve import serve_api


@contextlib.asynccontextmanager
async def serving(
    registry: RunRegistry, authenticator: Authenticator, **options: Any
) -> AsyncIterator[str]:
    """The base URL (``http://127.0.0.1:PORT``) of an API served until the block ends."""
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            functools.partial(
                serve_api,
                registry,
                authenticator,
                addr="127.0.0.1:0",
                tool_version="test",
                **options,
            )
        )
        yield binds[0]
        nursery.cancel_scope.cancel()
