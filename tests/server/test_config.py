"""The ``gossipper server`` document: schema, our own checks, the Go tool's keys, the docs'
examples."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import jsonschema
import pytest

from gossipper.config import RunConfig
from gossipper.errors import ExitStatus
from gossipper.server.config import (
    DEFAULT_DRAIN_TIMEOUT_S,
    SCHEMA_PATH,
    ServerConfigError,
    build_schema,
    load_server_config,
    parse_run,
    parse_server_config,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def _doc_examples() -> list[tuple[str, str]]:
    text = (ROOT / "docs" / "server.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    return [(f"docs/server.md#{index}", block) for index, block in enumerate(blocks)]


def _folder_examples() -> list[tuple[str, str]]:
    folder = ROOT / "examples" / "server"
    return [(f"examples/server/{p.name}", p.read_text()) for p in sorted(folder.glob("*.json"))]


EXAMPLES = _doc_examples() + _folder_examples()


def test_shipped_schema_is_the_generated_one() -> None:
    # Regenerate: python -m gossipper.server.config --schema > gossipper/server/config.schema.json
    assert _schema() == json.loads(json.dumps(build_schema()))


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(_schema())


def test_schema_names_every_run_setting() -> None:
    run = _schema()["$defs"]["runSettings"]["properties"]
    refused = {"peer", "background", "control_ip", "control_port", "scenario_file"}
    refused |= {"twin_host", "master_name", "slave_name", "slave_cfg"}
    refused |= {name for name in RunConfig.field_names() if name.startswith(("ooc_", "rx_"))}
    # The control plane's and the single run's own settings (the server has its own).
    refused |= {name for name in RunConfig.field_names() if name.startswith("api_")}
    refused |= {"interactive", "report_html", "junit", "gates", "gate_abort", "workers"}
    missing = [name for name in RunConfig.field_names() if name not in run]
    # scenario_file is accepted as the Go tool's spelling of sf.
    assert sorted(set(missing)) == sorted(refused - {"scenario_file"})


def test_there_are_examples_to_check() -> None:
    assert len(_doc_examples()) >= 3
    assert len(_folder_examples()) >= 2


@pytest.mark.parametrize(("where", "text"), EXAMPLES, ids=[where for where, _ in EXAMPLES])
def test_every_example_passes_the_schema_and_our_checks(
    where: str, text: str, tmp_path: pathlib.Path
) -> None:
    document = json.loads(text)
    jsonschema.Draft202012Validator(_schema()).validate(document)
    config = parse_server_config(document, str(tmp_path / "server.json"))
    assert config.runs, where


def _two_runs() -> dict[str, Any]:
    return {
        "output_dir": "out",
        "runs": [
            {"name": "uas", "sn": "uas", "local_ip": "127.0.0.1", "local_port": 5070},
            {"name": "uac", "sn": "uac", "remote": "127.0.0.1:5070", "rate": 10},
        ],
    }


def test_a_good_document_gives_checked_runs(tmp_path: pathlib.Path) -> None:
    config = parse_server_config(_two_runs(), str(tmp_path / "s.json"))
    assert config.output_dir == str(tmp_path / "out")
    assert config.drain_timeout_s == DEFAULT_DRAIN_TIMEOUT_S
    assert config.api_addr is None
    uas, uac = config.runs
    assert (uas.name, uas.config.effective_scenario_name, uas.config.transport.local_port) == (
        "uas",
        "uas",
        5070,
    )
    assert (uac.config.target.remote_host, uac.config.target.remote_port) == ("127.0.0.1", 5070)
    assert uac.config.load.rate == 10.0 and uac.autostart


def test_runs_may_be_an_object_keyed_by_name(tmp_path: pathlib.Path) -> None:
    document = {"runs": {"a": {"sn": "uas", "local_port": 5070}, "b": {"sn": "uas"}}}
    config = parse_server_config(document, str(tmp_path / "s.json"))
    assert [run.name for run in config.runs] == ["a", "b"]


def _error(document: object, tmp_path: pathlib.Path) -> str:
    with pytest.raises(ServerConfigError) as caught:
        parse_server_config(document, str(tmp_path / "server.json"))
    assert caught.value.exit_status == ExitStatus.FATAL
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("server.json: ")
    return message.removeprefix("server.json: ")


def _with_run(key: str, value: object) -> dict[str, Any]:
    document = _two_runs()
    document["runs"][1][key] = value
    return document


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (_with_run("rate", -3), "runs[1].rate: must be a number >= 0, got -3"),
        (_with_run("rate", "fast"), 'runs[1].rate: must be a number, got "fast"'),
        (_with_run("max_calls", 1.5), "runs[1].max_calls: must be an integer, got 1.5"),
        (_with_run("ratte", 3), "runs[1].ratte: unknown key; did you mean rate?"),
        (
            _with_run("local_port", 70000),
            "runs[1].local_port: must be an integer from 0 to 65535, got 70000",
        ),
        (
            _with_run("transport_mode", "s1"),
            "runs[1].transport_mode: must be one of u1, un, ui, t1, tn, l1, ln, w1, wn, ws1,"
            ' wsn, got "s1"',
        ),
        (_with_run("peer", "uas"), "runs[1].peer: not supported; give the peer its own run"),
        (_with_run("listeners", []), "runs[1].listeners: not supported; give one run per"),
        (_with_run("sn", "nope"), "runs[1].sn: 'nope' is not a built-in scenario; choose one"),
        (_with_run("sf", "missing.xml"), "runs[1].sf: give sn (a built-in) or sf (a file), not"),
        (_with_run("role", "boss"), "runs[1].role: must be one of client, load, management,"),
        (_with_run("api_addr", ":1"), "runs[1].api_addr: a server setting inside a run; move"),
        ({**_two_runs(), "rate": 3}, "rate: a run setting at the top of the document; move it"),
        ({**_two_runs(), "drain_timeout_s": -1}, "drain_timeout_s: must be a number >= 0, got"),
        ({**_two_runs(), "api_addr": "localhost"}, "api_addr: 'localhost' has no port; write"),
        ({"runs": "uas"}, 'runs: must be a list or an object, got "uas"'),
        ({"runs": {"a b": {"sn": "uas"}}}, 'runs: "a b" is not a run name; use letters'),
        ([], "the document must be a JSON object with runs"),
        (
            {"runs": [{"name": "x", "sn": "uac"}]},
            'runs[0].remote: a client run needs the address it calls: "remote"',
        ),
        (
            {"runs": [{"name": "x", "sn": "uas"}, {"name": "x", "sn": "uas"}]},
            "runs[1].name: 'x' is already the name of runs[0]; names must be unique",
        ),
        (
            {
                "runs": [
                    {"name": "x", "sn": "uas", "local_port": 5070},
                    {"name": "y", "sn": "uas", "local_port": 5070},
                ]
            },
            "runs[1].local_port: 5070 is also the port of runs[0]; give each run its own port",
        ),
        (
            {"runs": [{"name": "x", "sn": "uas", "transport_mode": "ui"}]},
            "runs[0]: -t ui needs an injection file (-inf FILE)",
        ),
        ({"runs": [{"name": "x"}]}, 'runs[0].sn: a run needs a scenario: "sn": "uas"'),
        (
            {"server": {"scenario_name": "uas"}, "clients": [], "runs": []},
            "runs: give runs or the Go tool's server/clients, not both",
        ),
        (
            {
                "server": {"scenario_name": "uas"},
                "auth": {"type": "internal", "jwt_secret": "0123456789abcdef"},
            },
            "auth.jwt_secret: a secret in the config file is not accepted; give token_secret_file",
        ),
    ],
)
def test_a_bad_document_is_one_line_naming_the_key_and_the_fix(
    document: object, expected: str, tmp_path: pathlib.Path
) -> None:
    assert _error(document, tmp_path).startswith(expected)


def test_our_own_checks_name_the_key_without_the_schema(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without jsonschema (the api extra) the same mistakes are still refused, key named.
    import gossipper.server.config as config_module

    monkeypatch.setattr(config_module, "validate_with_schema", lambda document: None)
    assert _error(_with_run("rate", -3), tmp_path).startswith(
        "runs[1].rate: -r must be a non-negative number, got '-3'"
    )
    assert _error(_with_run("rate", "x"), tmp_path).startswith("runs[1].rate: must be a number")
    assert _error(_with_run("ratte", 1), tmp_path) == (
        "runs[1].ratte: unknown run setting; did you mean rate?"
    )
    assert _error({**_two_runs(), "colour": 1}, tmp_path).startswith("colour: unknown key;")


def test_the_go_tools_flat_keys_map_to_ours(tmp_path: pathlib.Path) -> None:
    (tmp_path / "users.csv").write_text("SEQUENTIAL\nalice;\n")
    document = {
        "api_addr": ":8080",
        "auth": {"type": "internal", "sqlite_path": "users.sqlite"},
        "rate": 7,
        "server": {"role": "management", "scenario_name": "uas", "local_port": 5090},
        "clients": [
            {
                "id": "load",
                "role": "load",
                "scenario_name": "uac",
                "transport": "t1",
                "remote_addr": "127.0.0.1:5090",
                "total_calls": 0,
                "max_concurrent": 20,
                "injection_file": "users.csv",
            },
            {"scenario_name": "uac", "remote_addr": "127.0.0.1", "total_calls": 5, "rate": 2},
        ],
    }
    config = parse_server_config(document, str(tmp_path / "go.json"))
    # :8080 is loopback here: listening everywhere must be asked for.
    assert config.api_addr == ("127.0.0.1", 8080)
    assert config.users_db == str(tmp_path / "users.sqlite")
    server, load, second = config.runs
    assert (server.name, server.role, server.config.load.rate) == ("server", "server", 7.0)
    assert load.name == "load" and load.role == "client"
    assert load.config.transport.transport_mode == "t1"
    assert load.config.load.max_calls is None  # total_calls 0: no limit
    assert load.config.load.max_open_calls == 20
    assert load.config.identity.injection_files == (str(tmp_path / "users.csv"),)
    assert (second.name, second.config.load.max_calls, second.config.load.rate) == ("w2", 5, 2.0)
    assert second.config.target.remote_port == 5060


def test_a_single_go_profile_is_one_run(tmp_path: pathlib.Path) -> None:
    document = {"scenario_name": "uac", "remote_addr": "127.0.0.1:5060", "total_calls": 1}
    (run,) = parse_server_config(document, str(tmp_path / "c.json")).runs
    assert (run.name, run.config.load.max_calls) == ("main", 1)


def test_secrets_are_not_in_the_spec_shown(tmp_path: pathlib.Path) -> None:
    run = parse_run("x", {"sn": "uas", "auth_password": "hunter2", "rate": 1}, str(tmp_path))
    assert run.config.identity.auth_password == "hunter2"
    assert "auth_password" not in run.spec and run.spec["rate"] == 1


def test_fingerprint_follows_settings_and_scenario_bytes(tmp_path: pathlib.Path) -> None:
    scenario = tmp_path / "s.xml"
    scenario.write_text((ROOT / "scenarios" / "uas.xml").read_text())
    first = parse_run("x", {"sf": "s.xml"}, str(tmp_path))
    assert first.scenario_file == str(scenario)
    assert parse_run("x", {"sf": "s.xml"}, str(tmp_path)).fingerprint == first.fingerprint
    assert parse_run("x", {"sf": "s.xml", "rate": 2}, str(tmp_path)).fingerprint != (
        first.fingerprint
    )
    scenario.write_text(scenario.read_text() + "\n<!-- edited -->\n")
    assert parse_run("x", {"sf": "s.xml"}, str(tmp_path)).fingerprint != first.fingerprint


def test_load_reports_unreadable_files_and_bad_json(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ServerConfigError, match=r"^-config .*nope.json: cannot read it"):
        load_server_config(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"runs": [\n  {"name": "x",}\n]}')
    with pytest.raises(ServerConfigError, match=r"bad.json:2:.*not valid JSON"):
        load_server_config(str(bad))
