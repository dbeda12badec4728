"""A stand-in for ``gossipper.api.serve`` in tests of the server's one call site."""

from __future__ import annotations

from typing import Any

import trio

calls: list[dict[str, Any]] = []


async def serve_api(
    registry: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED, **kwargs: Any
) -> None:
    calls.append({"registry": registry, **kwargs})
    task_status.started()
    try:
        await trio.sleep_forever()
    finally:
        calls[-1]["stopped"] = True
