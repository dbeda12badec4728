"""The HTTP/WebSocket API: a Quart (quart-trio) application over a ``RunRegistry``.

Every route is declared once in :data:`ROUTES` with the role it needs; the application, its
token checks, the OpenAPI description (``/api/v1/openapi.json``) and the route table of
``docs/api.md`` all come from that table. Errors are ``{"error": {"code", "message"}}`` with
a stable code (docs/api.md lists them). Handlers run on the run's own Trio loop, so they call
the engine's public commands directly, between two of its steps.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from quart import Response, request, websocket
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from gossipper.api.auth import LoginError, LoginThrottled, TokenError
from gossipper.api.commands import COMMANDS, ApiError, apply_command
from gossipper.api.documents import (
    failures_document,
    run_document,
    statistics_document,
)
from gossipper.api.metrics import metrics_registry
from gossipper.api.seams import Authenticator, HostedRun, Principal, Role, RunRegistry

__all__ = [
    "API_PREFIX",
    "LIVE_INTERVAL_S",
    "MAX_BODY_BYTES",
    "ROUTES",
    "Route",
    "create_app",
    "openapi_document",
]

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 1024 * 1024
"""Request bodies (JSON commands, run configurations) larger than this are refused (413)."""
LIVE_INTERVAL_S = 1.0
"""How often the WebSocket pushes a snapshot."""
MAX_WS_MESSAGE_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """One route: path (Quart syntax), methods, the role it needs (None: no token), what it
    does, and whether it is a WebSocket."""

    path: str
    methods: tuple[str, ...]
    role: Role | None
    summary: str
    endpoint: str
    websocket: bool = False
    command: str | None = None
    """The command of a ``POST runs/<name>/<command>`` route (its role is the command's)."""
    static: str | None = None
    """A file of the browser UI: ``package:relative/path`` (served without a token; the
    page's data still comes through the token-checked routes)."""


_STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
_UI_CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
    # uPlot positions its legend and cursor through element styles.
    "style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
"""The UI's Content-Security-Policy: its own scripts only (no inline script, nothing from
another origin), so a value shown on the page cannot run as code."""


def _static_routes() -> tuple[Route, ...]:
    """The browser UI (docs/api.md, "Web UI"): a fixed list of files, no directory serving."""
    page = "gossipper.api:static/index.html"
    return (
        Route("/", ("GET",), None, "web UI: the page (no token)", "ui_root", static=page),
        Route("/ui", ("GET",), None, "web UI: the page (no token)", "ui_page", static=page),
        Route(
            "/ui/app.js",
            ("GET",),
            None,
            "web UI: its script (no token)",
            "ui_script",
            static="gossipper.api:static/app.js",
        ),
        Route(
            "/ui/app.css",
            ("GET",),
            None,
            "web UI: its style sheet (no token)",
            "ui_style",
            static="gossipper.api:static/app.css",
        ),
        Route(
            "/ui/vendor/uplot.iife.min.js",
            ("GET",),
            None,
            "web UI: uPlot, the report's vendored chart library (no token)",
            "ui_uplot_script",
            static="gossipper.report:vendor/uplot/uPlot.iife.min.js",
        ),
        Route(
            "/ui/vendor/uplot.min.css",
            ("GET",),
            None,
            "web UI: uPlot's style sheet (no token)",
            "ui_uplot_style",
            static="gossipper.report:vendor/uplot/uPlot.min.css",
        ),
    )


def _read_static(static: str) -> bytes:
    package, _, relative = static.partition(":")
    resource = importlib.resources.files(package)
    for part in relative.split("/"):
        resource = resource.joinpath(part)
    return resource.read_bytes()


def _command_routes() -> tuple[Route, ...]:
    routes: list[Route] = []
    for command in COMMANDS.values():
        if command.name in ("create", "delete"):
            continue  # POST /runs and DELETE /runs/<name>
        routes.append(
            Route(
                f"{API_PREFIX}/runs/<name>/{command.name}",
                ("POST",),
                command.role,
                command.summary,
                f"command_{command.name}",
                command=command.name,
            )
        )
    return tuple(routes)


ROUTES: tuple[Route, ...] = (
    Route(f"{API_PREFIX}/health", ("GET",), None, "liveness check (no token)", "health"),
    Route(
        f"{API_PREFIX}/login",
        ("POST",),
        None,
        "exchange a user name and password for a token",
        "login",
    ),
    Route(f"{API_PREFIX}/status", ("GET",), "viewer", "who you are; the runs and states", "status"),
    Route(
        f"{API_PREFIX}/openapi.json", ("GET",), "viewer", "this API's OpenAPI document", "openapi"
    ),
    Route(f"{API_PREFIX}/runs", ("GET",), "viewer", "every run: state and control", "runs"),
    Route(
        f"{API_PREFIX}/runs",
        ("POST",),
        "admin",
        "create a run from a JSON configuration (server mode)",
        "create_run",
        command="create",
    ),
    Route(
        f"{API_PREFIX}/runs/<name>",
        ("GET",),
        "viewer",
        "one run: state, control and statistics (the summary document)",
        "run",
    ),
    Route(
        f"{API_PREFIX}/runs/<name>",
        ("DELETE",),
        "admin",
        "forget a run, stopping it first (server mode)",
        "delete_run",
        command="delete",
    ),
    Route(
        f"{API_PREFIX}/runs/<name>/stats",
        ("GET",),
        "viewer",
        "statistics of one run (the -summary_json document so far)",
        "run_stats",
    ),
    Route(
        f"{API_PREFIX}/runs/<name>/failures",
        ("GET",),
        "viewer",
        "failed calls of one run by reason",
        "run_failures",
    ),
    *_command_routes(),
    Route(
        f"{API_PREFIX}/live",
        ("GET",),
        "viewer",
        "WebSocket: a snapshot about once a second; takes commands as JSON messages",
        "live",
        websocket=True,
    ),
    Route("/metrics", ("GET",), "viewer", "Prometheus metrics (text format)", "metrics"),
    *_static_routes(),
)


def _error(status: int, code: str, message: str) -> Response:
    return _json(ApiError(status, code, message).document(), status)


def _json(document: object, status: int = 200) -> Response:
    return Response(
        json.dumps(document) + "\n", status=status, content_type="application/json; charset=utf-8"
    )


def _bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; "" when the header is
    there but is not a bearer token; None when there is no header."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""
    return token.strip()


def _check_token(
    authenticator: Authenticator, token: str | None, needed: Role, what: str
) -> Principal:
    """The principal of a valid token that may do ``what``; else ApiError 401/403."""
    if token is None:
        raise ApiError(
            401,
            "unauthorized",
            "missing token: send 'Authorization: Bearer <token>' (POST "
            f"{API_PREFIX}/login gives one)",
        )
    if token == "":
        raise ApiError(401, "unauthorized", "malformed Authorization header: use 'Bearer <token>'")
    try:
        principal = authenticator.verify(token)
    except TokenError as exc:
        raise ApiError(401, "unauthorized", f"invalid token ({exc.reason}): log in again") from None
    if not principal.may(needed):
        raise ApiError(
            403,
            "forbidden",
            f"{what} needs the {needed} role; {principal.user} is {principal.role}",
        )
    return principal


def openapi_document(tool_version: str) -> dict[str, Any]:
    """An OpenAPI 3.1 description of :data:`ROUTES` (paths, methods, roles, errors)."""
    error_schema = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    }
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        path = route.path.replace("<name>", "{name}")
        for method in route.methods:
            operation: dict[str, Any] = {
                "operationId": route.endpoint,
                "summary": route.summary,
                "responses": {
                    "200": {"description": "OK"},
                    "default": {
                        "description": "an error",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                },
            }
            if route.role is None:
                operation["security"] = []
            else:
                operation["x-role"] = route.role
            if "{name}" in path:
                operation["parameters"] = [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ]
            if route.command is not None and route.command in COMMANDS:
                value = COMMANDS[route.command].value
                if value is not None:
                    operation["requestBody"] = {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["value"],
                                    "properties": {"value": {"type": value}},
                                }
                            }
                        },
                    }
            if route.websocket:
                operation["description"] = (
                    "WebSocket upgrade; the token as a Bearer header or ?token=; ?run=NAME "
                    "for one run only"
                )
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "gossipper control API", "version": tool_version},
        "paths": paths,
        "components": {
            "schemas": {"Error": error_schema},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


class _LiveFrames:
    """The WebSocket snapshot, built at most once per half interval and shared by every
    client (ten clients cost one build, not ten)."""

    def __init__(self, registry: RunRegistry, tool_version: str) -> None:
        self._registry = registry
        self._tool_version = tool_version
        self._cache: dict[str | None, tuple[float, str]] = {}

    def frame(self, run: str | None) -> str:
        now = trio.current_time()
        cached = self._cache.get(run)
        if cached is not None and now - cached[0] < LIVE_INTERVAL_S / 2:
            return cached[1]
        runs = [hosted for hosted in self._registry.runs() if run is None or hosted.name == run]
        document = {
            "type": "snapshot",
            "ts_ms": int(time.time() * 1000),
            "runs": [
                run_document(hosted, self._tool_version, statistics=True, compact=True)
                for hosted in runs
            ],
        }
        text = json.dumps(document)
        self._cache[run] = (now, text)
        return text


def create_app(
    registry: RunRegistry,
    authenticator: Authenticator,
    *,
    tool_version: str,
    metrics_public: bool = False,
) -> QuartTrio:
    """The API application over ``registry``; tokens checked by ``authenticator``.

    ``metrics_public``: serve ``/metrics`` without a token (a scraper on a trusted network);
    by default it needs a viewer token like every other route but the health check and login.
    """
    # No static folder: every route is in ROUTES (the security test walks them all).
    app = QuartTrio(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    # A JSON API: no HTML error pages, no redirects for a missing trailing slash.
    app.url_map.strict_slashes = False
    collector_registry = metrics_registry(registry)
    frames = _LiveFrames(registry, tool_version)

    def hosted_or_404(name: str) -> HostedRun:
        hosted = registry.get(name)
        if hosted is None:
            raise ApiError(404, "not_found", f"no run named {name!r} (GET {API_PREFIX}/runs)")
        return hosted

    async def body() -> dict[str, Any]:
        data = await request.get_data(as_text=False)
        if not data:
            return {}
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "bad_json", f"the body is not JSON: {exc}") from None
        if not isinstance(document, dict):
            raise ApiError(400, "bad_json", "the body must be a JSON object")
        return document

    # ------------------------------------------------------------------ handlers

    async def health(principal: Principal | None) -> Response:
        return _json({"status": "ok", "version": tool_version})

    async def login(principal: Principal | None) -> Response:
        document = await body()
        user, password = document.get("user"), document.get("password")
        if not isinstance(user, str) or not isinstance(password, str):
            raise ApiError(400, "bad_request", 'send {"user": ..., "password": ...}')
        client = request.remote_addr or ""
        try:
            token = await authenticator.login(user, password, client)
        except LoginThrottled as exc:
            error = ApiError(429, "login_throttled", str(exc))
            retry_after = str(max(1, round(exc.retry_after_s)))
            return Response(
                json.dumps(error.document()) + "\n",
                status=429,
                headers={"Retry-After": retry_after},
                content_type="application/json; charset=utf-8",
            )
        except LoginError as exc:
            raise ApiError(401, "login_failed", str(exc) or "wrong user or password") from None
        role = authenticator.verify(token).role
        return _json({"token": token, "token_type": "Bearer", "role": role})

    async def status(principal: Principal | None) -> Response:
        assert principal is not None
        return _json(
            {
                "version": tool_version,
                "user": principal.user,
                "role": principal.role,
                "manages_runs": registry.manages_runs,
                "runs": [{"name": run.name, "state": run.state} for run in registry.runs()],
            }
        )

    async def openapi(principal: Principal | None) -> Response:
        return _json(openapi_document(tool_version))

    async def runs(principal: Principal | None) -> Response:
        return _json(
            {
                "runs": [
                    run_document(hosted, tool_version, statistics=False)
                    for hosted in registry.runs()
                ]
            }
        )

    async def run(principal: Principal | None, name: str) -> Response:
        return _json(run_document(hosted_or_404(name), tool_version, statistics=True))

    async def run_stats(principal: Principal | None, name: str) -> Response:
        hosted = hosted_or_404(name)
        document = statistics_document(hosted, tool_version)
        if document is None:
            raise ApiError(409, "no_statistics", f"run {name!r} has not started yet")
        return _json(document)

    async def run_failures(principal: Principal | None, name: str) -> Response:
        return _json({"name": name, **failures_document(hosted_or_404(name))})

    async def command(principal: Principal | None, command_name: str, name: str) -> Response:
        assert principal is not None
        params: dict[str, Any] = dict(await body())
        for key, value in request.args.items():
            params.setdefault(key, value)
        answer = await apply_command(
            registry, authenticator, principal, command_name, name, params, tool_version
        )
        return _json(answer, 201 if command_name == "create" else 200)

    async def create_run(principal: Principal | None) -> Response:
        assert principal is not None
        document = await body()
        name = document.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "bad_value", "'name' must be a non-empty string")
        answer = await apply_command(
            registry, authenticator, principal, "create", name, document, tool_version
        )
        return _json(answer, 201)

    async def metrics(principal: Principal | None) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(collector_registry), content_type=CONTENT_TYPE_LATEST)

    # ------------------------------------------------------------------ wiring

    def http_view(route: Route) -> Callable[..., Awaitable[Response]]:
        handlers: dict[str, Callable[..., Awaitable[Response]]] = {
            "health": health,
            "login": login,
            "status": status,
            "openapi": openapi,
            "runs": runs,
            "run": run,
            "run_stats": run_stats,
            "run_failures": run_failures,
            "create_run": create_run,
            "metrics": metrics,
        }
        handler: Callable[..., Awaitable[Response]]
        if route.static is not None:
            content = _read_static(route.static)
            suffix = route.static[route.static.rfind(".") :]
            headers = {
                "X-Content-Type-Options": "nosniff",
                # Small files: revalidate each load so an upgraded server is seen at once.
                "Cache-Control": "no-cache",
            }
            if suffix == ".html":
                headers |= {"Content-Security-Policy": _UI_CSP, "X-Frame-Options": "DENY"}

            async def static_file(principal: Principal | None) -> Response:
                return Response(content, content_type=_STATIC_TYPES[suffix], headers=headers)

            handler = static_file
        elif route.command is not None and route.endpoint != "create_run":
            command_name = route.command

            async def run_command(principal: Principal | None, **kwargs: Any) -> Response:
                return await command(principal, command_name, **kwargs)

            handler = run_command
        else:
            handler = handlers[route.endpoint]
        role = route.role
        public = role is None or (route.endpoint == "metrics" and metrics_public)

        async def view(**kwargs: Any) -> Response:
            try:
                principal: Principal | None = None
                if not public:
                    assert role is not None
                    token = _bearer(request.headers.get("Authorization"))
                    # A command's role is checked first too (before its arguments), and a
                    # refusal of a valid user is audited.
                    principal = _check_token(authenticator, token, "viewer", route.endpoint)
                    if not principal.may(role):
                        if route.command is not None:
                            target = kwargs.get("name", "")
                            authenticator.audit(
                                principal,
                                route.command,
                                str(target),
                                f"needs {role}",
                                outcome="refused",
                            )
                        raise ApiError(
                            403,
                            "forbidden",
                            f"{route.endpoint} needs the {role} role; "
                            f"{principal.user} is {principal.role}",
                        )
                return await handler(principal, **kwargs)
            except ApiError as exc:
                return _json(exc.document(), exc.status)

        view.__name__ = route.endpoint
        return view

    async def live() -> Response | None:
        token = _bearer(websocket.headers.get("Authorization"))
        if token is None:
            token = websocket.args.get("token")
        try:
            principal = _check_token(authenticator, token, "viewer", "live")
        except ApiError as exc:
            return _json(exc.document(), exc.status)
        only = websocket.args.get("run")
        if only is not None and registry.get(only) is None:
            return _error(404, "not_found", f"no run named {only!r}")
        await websocket.accept()
        lock = trio.Lock()

        async def send(text: str) -> None:
            async with lock:
                await websocket.send(text)

        async def push() -> None:
            while True:
                await send(frames.frame(only))
                await trio.sleep(LIVE_INTERVAL_S)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(push)
            while True:
                message = await websocket.receive()
                reply = await _live_command(principal, message)
                await send(json.dumps(reply))
        return None  # pragma: no cover - the loop ends by cancellation (client gone)

    async def _live_command(principal: Principal, message: str | bytes) -> dict[str, Any]:
        try:
            if len(message) > MAX_WS_MESSAGE_BYTES:
                raise ApiError(
                    413, "too_large", f"messages are at most {MAX_WS_MESSAGE_BYTES} bytes"
                )
            try:
                document = json.loads(message)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ApiError(400, "bad_json", f"the message is not JSON: {exc}") from None
            if not isinstance(document, dict):
                raise ApiError(400, "bad_json", "a message must be a JSON object")
            name, run_name = document.get("command"), document.get("run")
            if not isinstance(name, str) or not isinstance(run_name, str):
                raise ApiError(
                    400,
                    "bad_request",
                    'send {"command": "rate", "run": "NAME", "value": 50}',
                )
            answer = await apply_command(
                registry, authenticator, principal, name, run_name, document, tool_version
            )
            return {"type": "result", **answer}
        except ApiError as exc:
            return {"type": "error", "status": exc.status, **exc.document()}

    for route in ROUTES:
        if route.websocket:
            app.add_websocket(route.path, route.endpoint, live)
        else:
            app.add_url_rule(
                route.path, route.endpoint, http_view(route), methods=list(route.methods)
            )

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        return _error(status, codes.get(status, "http_error"), error.description or error.name)

    return app


def route_table_markdown() -> str:
    """The route table of docs/api.md (generated; a test keeps them equal)."""
    lines = ["| Method | Path | Role | What |", "| --- | --- | --- | --- |"]
    for route in ROUTES:
        path = route.path.replace("<name>", "{name}")
        method = "GET (WebSocket)" if route.websocket else ", ".join(route.methods)
        role: str = route.role or "none"
        if route.endpoint == "metrics":
            role = "viewer (none with metrics_public)"
        lines.append(f"| {method} | `{path}` | {role} | {route.summary} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - python -m gossipper.api.app
    import sys

    sys.stdout.write(route_table_markdown())
