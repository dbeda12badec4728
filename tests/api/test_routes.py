"""Routes and errors of the application against an in-process server (real sockets, httpx):
server-mode commands and their RegistryError codes, JSON errors for unknown routes, methods and
oversized bodies, login, HTTPS, and the -api_addr forms."""

from __future__ import annotations

import pathlib
import ssl
from typing import Any

import httpx
import pytest
import trio
import trustme

from gossipper.api.app import MAX_BODY_BYTES
from gossipper.api.seams import RegistryError
from gossipper.api.serve import parse_api_addr, serve_api
from gossipper.errors import BindError, ConfigError
from tests.api.fake_auth import FakeAuthenticator, make_token
from tests.api.fake_registry import IdleRegistry
from tests.api.serving import serving

ADMIN = {"Authorization": "Bearer " + make_token("ada", "admin")}
OPERATOR = {"Authorization": "Bearer " + make_token("otto", "operator")}


def _run(registry: IdleRegistry, authenticator: FakeAuthenticator, body: Any) -> None:
    async def main() -> None:
        async with (
            serving(registry, authenticator) as base,
            httpx.AsyncClient(base_url=base) as client,
        ):
            await body(client, base)

    trio.run(main)


def test_server_mode_create_start_delete_and_their_errors() -> None:
    registry, authenticator = IdleRegistry(), FakeAuthenticator({})

    async def body(client: httpx.AsyncClient, base: str) -> None:
        created = await client.post(
            "/api/v1/runs", json={"name": "uas2", "spec": {"sn": "uas"}}, headers=ADMIN
        )
        assert created.status_code == 201, created.text
        assert created.json()["run_info"]["spec"] == {"sn": "uas"}
        again = await client.post("/api/v1/runs", json={"name": "uas2", "spec": {}}, headers=ADMIN)
        assert (again.status_code, again.json()["error"]["code"]) == (409, "conflict")
        bad = await client.post(
            "/api/v1/runs", json={"name": "x", "spec": {"rate": "fast"}}, headers=ADMIN
        )
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "bad_config")
        assert "rate" in bad.json()["error"]["message"]
        no_spec = await client.post("/api/v1/runs", json={"name": "y"}, headers=ADMIN)
        assert (no_spec.status_code, no_spec.json()["error"]["code"]) == (400, "bad_value")
        start = await client.post("/api/v1/runs/uas2/start", headers=OPERATOR)
        assert (start.status_code, start.json()["error"]["code"]) == (409, "conflict")
        registry.start_error = None
        assert (await client.post("/api/v1/runs/uas2/start", headers=OPERATOR)).status_code == 200
        # A command for a run that is not live.
        rate = await client.post("/api/v1/runs/uas2/rate", json={"value": 3}, headers=OPERATOR)
        assert (rate.status_code, rate.json()["error"]["code"]) == (409, "run_not_running")
        listed = (await client.get("/api/v1/runs", headers=OPERATOR)).json()["runs"]
        assert [run["name"] for run in listed] == ["idle", "uas2"]
        assert (await client.delete("/api/v1/runs/uas2", headers=ADMIN)).status_code == 200
        gone = await client.delete("/api/v1/runs/uas2", headers=ADMIN)
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "not_found")
        missing = await client.get("/api/v1/runs/nope", headers=OPERATOR)
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
        no_stats = await client.get("/api/v1/runs/idle/stats", headers=OPERATOR)
        assert no_stats.json()["error"]["code"] == "no_statistics"

    _run(registry, authenticator, body)
    assert ("ada", "admin", "create", "uas2", "", "ok") in authenticator.audit_lines
    assert ("ada", "admin", "create", "uas2", "conflict", "failed") in authenticator.audit_lines
    assert registry.calls.count(("start", "uas2")) == 2


def test_unknown_routes_methods_and_big_bodies_answer_json() -> None:
    async def body(client: httpx.AsyncClient, base: str) -> None:
        unknown = await client.get("/api/v1/nothing", headers=ADMIN)
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
        wrong = await client.put("/api/v1/runs", headers=ADMIN)
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")
        # Refused from its Content-Length, before the body is read.
        host, _, port = base.removeprefix("http://").rpartition(":")
        stream = await trio.open_tcp_stream(host, int(port))
        async with stream:
            head = (
                "POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Authorization: {ADMIN['Authorization']}\r\n"
                f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n{{"
            )
            await stream.send_all(head.encode())
            answer = b""
            with trio.fail_after(10):
                while b"\r\n\r\n" not in answer or not answer.endswith(b"}\n"):
                    answer += await stream.receive_some(4096)
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert b'"code": "too_large"' in answer
        array = await client.post("/api/v1/runs", json=[1, 2], headers=ADMIN)
        assert (array.status_code, array.json()["error"]["code"]) == (400, "bad_json")
        health = await client.get("/api/v1/health")
        assert health.json()["status"] == "ok"
        assert health.headers["content-type"].startswith("application/json")

    _run(IdleRegistry(), FakeAuthenticator({}), body)


def test_login_gives_a_token_that_works_and_refuses_a_wrong_password() -> None:
    authenticator = FakeAuthenticator({"vera": ("s3cret-pass", "viewer")})

    async def body(client: httpx.AsyncClient, base: str) -> None:
        wrong = await client.post("/api/v1/login", json={"user": "vera", "password": "nope"})
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "login_failed")
        unknown = await client.post("/api/v1/login", json={"user": "x", "password": "nope"})
        assert unknown.json() == wrong.json()
        missing = await client.post("/api/v1/login", json={"user": "vera"})
        assert (missing.status_code, missing.json()["error"]["code"]) == (400, "bad_request")
        good = await client.post("/api/v1/login", json={"user": "vera", "password": "s3cret-pass"})
        assert good.status_code == 200
        token = good.json()["token"]
        assert good.json()["role"] == "viewer"
        status = await client.get("/api/v1/status", headers={"Authorization": f"bearer {token}"})
        assert status.json()["user"] == "vera"

    _run(IdleRegistry(), authenticator, body)


def test_https_with_the_given_certificate(tmp_path: pathlib.Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))

    async def main() -> None:
        async with serving(
            IdleRegistry(),
            FakeAuthenticator({}),
            tls_cert=str(tmp_path / "cert.pem"),
            tls_key=str(tmp_path / "key.pem"),
        ) as base:
            assert base.startswith("https://")
            context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
            async with httpx.AsyncClient(base_url=base, verify=context) as client:
                assert (await client.get("/api/v1/health")).status_code == 200

    trio.run(main)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8080", ("127.0.0.1", 8080)),
        (":8080", ("127.0.0.1", 8080)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:9000", ("::1", 9000)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_api_addr_forms_default_to_loopback(text: str, expected: tuple[str, int]) -> None:
    assert parse_api_addr(text) == expected


@pytest.mark.parametrize("text", ["", "host:", "::1:80", "[::1]", "h:70000", "a:b"])
def test_bad_api_addr_names_the_option(text: str) -> None:
    with pytest.raises(ConfigError, match="-api_addr must be HOST:PORT"):
        parse_api_addr(text)


def test_an_address_in_use_is_a_bind_error() -> None:
    async def main() -> None:
        async with serving(IdleRegistry(), FakeAuthenticator({})) as base:
            taken = base.removeprefix("http://")
            with pytest.raises(BindError, match="-api_addr .*cannot bind"):
                await serve_api(
                    IdleRegistry(), FakeAuthenticator({}), addr=taken, tool_version="test"
                )

    trio.run(main)


def test_api_options_need_api_addr(tmp_path: pathlib.Path) -> None:
    import io

    from gossipper.cli.main import raw_main

    for argv, message in (
        (["-api_tls_cert", "c.pem"], "-api_tls_cert needs -api_addr"),
        (["-api_linger", "5s"], "-api_linger needs -api_addr"),
        (["-api_addr", "0", "-api_tls_key", "k.pem"], "go together"),
    ):
        err = io.StringIO()
        status = raw_main(
            ["-sn", "uac", "-peer", "uas", "-m", "1", "-nostdin", *argv],
            stdout=io.StringIO(),
            stderr=err,
        )
        assert status != 0
        lines = err.getvalue().splitlines()
        assert len(lines) == 1 and message in lines[0], lines


def test_registry_error_codes_have_statuses() -> None:
    from gossipper.api.commands import REGISTRY_STATUS

    assert set(REGISTRY_STATUS) == {"not_found", "conflict", "bad_config", "not_server_mode"}
    assert RegistryError("x", "y").code == "x"
