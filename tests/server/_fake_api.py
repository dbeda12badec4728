"""A stand-in for ``gossipper.api.serve`` and ``gossipper.api.auth`` in tests of the server's
one call site of the API (same signatures as the real ones)."""

from __future__ import annotations

from typing import Any

import trio

calls: list[dict[str, Any]] = []


def open_authenticator(
    db_path: str | None = None, secret_path: str | None = None, audit_path: str | None = None
) -> dict[str, str | None]:
    return {"db": db_path, "secret": secret_path, "audit": audit_path}


async def serve_api(
    registry: Any,
    authenticator: Any,
    *,
    addr: str,
    tool_version: str,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    metrics_public: bool = False,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    calls.append(
        {
            "registry": registry,
            "authenticator": authenticator,
            "addr": addr,
            "tool_version": tool_version,
            "tls": (tls_cert, tls_key),
            "metrics_public": metrics_public,
        }
    )
    task_status.started([f"http://{addr}"])
    try:
        await trio.sleep_forever()
    finally:
        calls[-1]["stopped"] = True
