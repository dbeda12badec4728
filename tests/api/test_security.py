"""Every route of the application's own route table refuses a missing, malformed, expired,
wrongly signed and wrong-role token (the health check and login excepted), over real HTTP and
WebSocket connections."""

from __future__ import annotations

import base64
import os
import pathlib
import re
import time

import httpx
import pytest
import trio
import trio_websocket

from gossipper.api.app import create_app
from gossipper.api.auth import open_authenticator
from gossipper.api.seams import ROLES
from tests.api.fake_auth import SECRET, FakeAuthenticator, make_token
from tests.api.fake_registry import IdleRegistry
from tests.api.serving import serving

# The browser UI's files are public too (they hold no data: the page asks the API for it).
UI_PATHS = {
    "/",
    "/ui",
    "/ui/app.js",
    "/ui/app.css",
    "/ui/vendor/uplot.iife.min.js",
    "/ui/vendor/uplot.min.css",
}
OPEN_PATHS = {"/api/v1/health", "/api/v1/login"} | UI_PATHS


def _rules() -> list[tuple[str, str, bool, str]]:
    """(method, path, websocket, role needed) for every rule of the app's url_map."""
    from gossipper.api.app import ROUTES
    from gossipper.api.commands import COMMANDS

    app = create_app(IdleRegistry(), FakeAuthenticator({}), tool_version="test")
    roles = {}
    for route in ROUTES:
        role = COMMANDS[route.command].role if route.command else route.role
        for method in route.methods:
            roles[(method, route.path)] = role
    rules = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            role = roles[(method, path)]  # every rule comes from the route table
            rules.append((method, re.sub(r"<[^>]+>", "idle", path), rule.websocket, role or ""))
    return rules


RULES = _rules()


def test_the_walk_sees_every_kind_of_route() -> None:
    paths = {path for _, path, _, _ in RULES}
    assert {"/metrics", "/api/v1/live", "/api/v1/runs/idle/rate", "/api/v1/runs"} <= paths
    assert {role for *_, role in RULES} == {"", "viewer", "operator", "admin"}
    assert all(path.startswith(("/api/v1/", "/metrics")) or path in UI_PATHS for path in paths)
    # Nothing else goes without a token: every route without a role is in OPEN_PATHS.
    assert {path for _, path, _, role in RULES if role == ""} == OPEN_PATHS


def test_the_ui_files_are_the_only_static_routes() -> None:
    from gossipper.api.app import ROUTES

    static = {route.path for route in ROUTES if route.static is not None}
    assert static == UI_PATHS
    assert all(route.role is None and route.methods == ("GET",) for route in ROUTES if route.static)


def _bad_headers() -> dict[str, dict[str, str]]:
    now = time.time()
    return {
        "missing": {},
        "malformed header": {"Authorization": "Basic dXNlcjpwYXNz"},
        "malformed token": {"Authorization": "Bearer not-a-jwt"},
        "expired": {
            "Authorization": "Bearer "
            + make_token("ann", "admin", issued_at=now - 3600, lifetime_s=60)
        },
        "wrong signature": {
            "Authorization": "Bearer " + make_token("ann", "admin", secret="another-secret" * 3)
        },
        "unknown role": {"Authorization": "Bearer " + make_token("ann", "root")},
    }


def _weaker_roles(needed: str) -> list[str]:
    return [role for role in ROLES if ROLES.index(role) < ROLES.index(needed)]


async def _ws_status(url: str, headers: dict[str, str]) -> int:
    """The HTTP status of a WebSocket handshake (101: accepted), by a raw RFC 6455 upgrade
    request (trio_websocket's client leaks its socket when a handshake is refused)."""
    host_port, _, resource = url.removeprefix("http://").partition("/")
    host, _, port = host_port.rpartition(":")
    lines = [
        f"GET /{resource} HTTP/1.1",
        f"Host: {host_port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n" not in data:
            chunk = await stream.receive_some(4096)
            assert chunk, "the server closed without answering"
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_every_route_refuses_bad_tokens(tmp_path: pathlib.Path) -> None:
    # The real authenticator, with the secret the crafted tokens are signed with.
    authenticator = open_authenticator(
        tmp_path / "users.sqlite", tmp_path / "secret", tmp_path / "audit.log", secret=SECRET
    )
    refusals: list[str] = []

    async def main() -> None:
        async with (
            serving(IdleRegistry(), authenticator) as base,
            httpx.AsyncClient(base_url=base) as client,
        ):
            for method, path, is_ws, needed in RULES:
                if path in OPEN_PATHS:
                    continue
                cases = {name: (h, 401) for name, h in _bad_headers().items()}
                for role in _weaker_roles(needed):
                    token = make_token("weak", role)
                    cases[f"role {role}"] = ({"Authorization": f"Bearer {token}"}, 403)
                for name, (headers, expected) in cases.items():
                    if is_ws:
                        status = await _ws_status(base + path, headers)
                    else:
                        response = await client.request(method, path, headers=headers)
                        status = response.status_code
                        error = response.json()["error"]
                        assert error["code"] == ("unauthorized" if expected == 401 else "forbidden")
                    if status != expected:
                        refusals.append(f"{method} {path} {name}: {status}, not {expected}")
                # The right role gets past the check (so the test above can fail).
                good = {"Authorization": "Bearer " + make_token("good", needed)}
                if is_ws:
                    status = await _ws_status(base + path, good)
                else:
                    status = (await client.request(method, path, headers=good)).status_code
                if status in (401, 403):
                    refusals.append(f"{method} {path} refuses a {needed} token: {status}")

    trio.run(main)
    authenticator.close()
    assert refusals == []


def test_token_in_the_query_is_for_the_websocket_only() -> None:
    token = make_token("ann", "viewer")

    async def main() -> None:
        async with serving(IdleRegistry(), FakeAuthenticator({})) as base:
            async with httpx.AsyncClient(base_url=base) as client:
                response = await client.get("/api/v1/runs", params={"token": token})
                assert response.status_code == 401
            headers = {"Authorization": f"Bearer {token}"}
            assert await _ws_status(base + "/api/v1/live?run=nope", headers) == 404
            ws = base.replace("http://", "ws://") + f"/api/v1/live?token={token}"
            async with trio_websocket.open_websocket_url(ws) as connection:
                frame = await connection.get_message()
                assert '"type": "snapshot"' in frame

    trio.run(main)


@pytest.mark.parametrize("public", [False, True])
def test_metrics_public_only_when_configured(public: bool) -> None:
    async def main() -> None:
        registry, authenticator = IdleRegistry(), FakeAuthenticator({})
        async with (
            serving(registry, authenticator, metrics_public=public) as base,
            httpx.AsyncClient(base_url=base) as client,
        ):
            response = await client.get("/metrics")
            assert response.status_code == (200 if public else 401)
            # The rest of the API keeps its tokens.
            assert (await client.get("/api/v1/runs")).status_code == 401

    trio.run(main)
