"""The one place ``gossipper server`` starts the HTTP API, and its refusal when this build has
no API module."""

from __future__ import annotations

import io
import json
import pathlib

import pytest

import gossipper.server.service as service
from gossipper.cli.main import raw_main
from gossipper.server.config import ServerConfigError


def test_without_the_api_module_api_addr_is_a_one_line_config_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "API_MODULE", "gossipper.api.no_such_module")
    with pytest.raises(ServerConfigError, match="^api_addr: the API is not available"):
        service.api_entry_point()
    config = tmp_path / "server.json"
    config.write_text(json.dumps({"api_addr": ":18080", "runs": [{"name": "a", "sn": "uas"}]}))
    err = io.StringIO()
    status = raw_main(["server", "-config", str(config)], stdout=io.StringIO(), stderr=err)
    assert status == 255
    assert err.getvalue().startswith("gossipper: error: api_addr: the API is not available")
    assert err.getvalue().count("\n") == 1
    # -api_addr on the command line asks for the API just the same.
    config.write_text(json.dumps({"runs": [{"name": "a", "sn": "uas"}]}))
    err = io.StringIO()
    args = ["server", "-config", str(config), "-api_addr", "127.0.0.1:18080"]
    assert raw_main(args, stdout=io.StringIO(), stderr=err) == 255
    assert "the API is not available" in err.getvalue()


def test_a_module_without_serve_api_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "API_MODULE", "gossipper.api.seams")
    with pytest.raises(ServerConfigError, match="has no serve_api"):
        service.api_entry_point()
    monkeypatch.setattr(service, "API_MODULE", "tests.server._fake_api")
    monkeypatch.setattr(service, "AUTH_MODULE", "gossipper.api.no_such_module")
    with pytest.raises(ServerConfigError, match="^api_addr: the API is not available"):
        service.api_entry_point()


def test_the_server_starts_the_api_with_its_registry_and_stops_it_after_the_drain(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trio

    from gossipper.server.config import parse_server_config
    from tests.server import _fake_api

    monkeypatch.setattr(service, "API_MODULE", "tests.server._fake_api")
    monkeypatch.setattr(service, "AUTH_MODULE", "tests.server._fake_api")
    _fake_api.calls.clear()
    document = {
        "api_addr": ":18081",
        "users_db": "users.sqlite",
        "token_secret_file": "secret",
        "audit_log": "audit.jsonl",
        "metrics_public": True,
        "output_dir": "out",
        "runs": [{"name": "uas", "sn": "uas", "local_ip": "127.0.0.1", "local_port": 0}],
    }
    config = parse_server_config(document, str(tmp_path / "server.json"))
    lines: list[str] = []

    async def main() -> None:
        server = service.Server(config, log=lines.append)
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                await nursery.start(server.serve)
                (call,) = _fake_api.calls
                assert call["registry"] is server.registry
                assert call["addr"] == "127.0.0.1:18081"  # ":PORT" is loopback
                assert call["authenticator"] == {
                    "db": str(tmp_path / "users.sqlite"),
                    "secret": str(tmp_path / "secret"),
                    "audit": str(tmp_path / "audit.jsonl"),
                }
                assert call["metrics_public"] is True and call["tls"] == (None, None)
                assert "stopped" not in call
                server.request_drain()

    trio.run(main)
    assert _fake_api.calls[0]["stopped"] is True
    assert lines[-1] == "server: stopped"
    assert "server: API on http://127.0.0.1:18081" in lines
