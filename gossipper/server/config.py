"""The ``gossipper server -config FILE.json`` document: server settings and the runs it hosts.

One JSON object. Server keys (``api_addr``, ``api_tls_cert``/``api_tls_key``, ``users_db``,
``token_secret_file``, ``audit_log``, ``output_dir``, ``drain_timeout_s``) and the runs, as a list
(``"runs": [{"name": "uas", ...}]``) or an object keyed by name (``"runs": {"uas": {...}}``).
Each run is a flat object of ``RunConfig`` settings by their flat names (``rate``,
``max_calls``, ``local_port`` ...; ``gossipper.config``) plus ``sn``/``sf`` (the scenario),
``remote`` (``host[:port]``), ``role`` and ``autostart``. The Go tool's flat keys are accepted
where they mean the same (``scenario_name``, ``remote_addr``, ``total_calls``, ``transport``,
``max_concurrent``, ``injection_file``, ``id``, and its ``server``/``clients``/``client``
layout); docs/server.md lists them.

Checked twice: against the JSON Schema shipped beside this module (``config.schema.json``,
generated from the ``RunConfig`` fields by ``python -m gossipper.server.config --schema``) when
``jsonschema`` is installed, then by our own checks (``RunConfig``'s rules and combinations,
scenario files, duplicate names and ports). Every error is one line naming the key path
(``runs[1].rate: must be a number >= 0, got -3``) and the fix, exit status 255.

Pure: no trio, no sockets. Relative paths in the document are relative to its own directory.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import re
import sys
import types
import typing
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from gossipper.config import (
    KNOWN_TRANSPORT_MODES,
    IdentitySettings,
    LoadSettings,
    ProcessSettings,
    RunConfig,
    TargetSettings,
    TimerSettings,
    TraceSettings,
    TransportSettings,
    check_field,
    rule_option,
    rule_requirement,
)
from gossipper.errors import ConfigError, ExitStatus

__all__ = [
    "DEFAULT_DRAIN_TIMEOUT_S",
    "GO_RUN_KEYS",
    "RunSpec",
    "SCHEMA_PATH",
    "ServerConfig",
    "ServerConfigError",
    "build_schema",
    "load_server_config",
    "parse_run",
    "parse_server_config",
]

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "config.schema.json")
DEFAULT_DRAIN_TIMEOUT_S = 30.0
"""How long SIGTERM waits for calls to end before it aborts them (systemd's default
TimeoutStopSec is 90 s, so the drain ends first)."""
DEFAULT_API_HOST = "127.0.0.1"
"""``api_addr`` without a host (``":8080"``) listens on loopback only: the API controls load
generators, so listening on every interface must be asked for (``"0.0.0.0:8080"``)."""
MAX_RUNS = 64
"""Runs per server: a bound, like every other resource (design.md section 4)."""

RUN_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_RUN_NAME = re.compile(RUN_NAME_PATTERN)

SERVER_KEYS: tuple[str, ...] = (
    "api_addr",
    "api_tls_cert",
    "api_tls_key",
    "users_db",
    "token_secret_file",
    "audit_log",
    "output_dir",
    "drain_timeout_s",
    "metrics_public",
)
"""Server settings at the top of the document."""

RUN_EXTRA_KEYS: tuple[str, ...] = ("name", "sn", "sf", "remote", "role", "autostart", "comment")
"""Keys of a run that are not ``RunConfig`` settings."""

GO_RUN_KEYS: dict[str, str] = {
    "id": "name",
    "scenario_name": "sn",
    "scenario_file": "sf",
    "remote_addr": "remote",
    "transport": "transport_mode",
    "max_concurrent": "max_open_calls",
    "total_calls": "max_calls",
    "injection_file": "injection_files",
}
"""The Go tool's flat run keys and ours. ``total_calls`` 0 means unlimited there (no ``-m``);
``injection_file`` is one file (``injection_files`` takes a list)."""

GO_REFUSED_KEYS: dict[str, str] = {
    "listeners": "give one run per listener (local_ip, local_port, transport_mode)",
    "extra_args": "give the settings as keys of the run (docs/server.md lists them)",
    "api_token": "create users with gossipper auth user-add and log in (users_db)",
    "stat_period": "use dump_period_s (seconds) with trace_stat",
    "ui_data_dir": "gossipper has no web console; drop the key",
    "scenario_history_keep": "gossipper has no web console; drop the key",
    "legacy_api_v1": "the API is /api/v1 already; drop the key",
    "workloads": "use runs (or the Go tool's clients)",
    "aliases": "use runs (or the Go tool's clients)",
    "gateway": "gateways are not available; drop the key",
    "gateways": "gateways are not available; drop the key",
}
"""Go keys with no meaning here, and what to do instead."""

SERVER_REFUSED_SETTINGS: dict[str, str] = {
    "peer": "give the peer its own run (a server run, with the client's remote pointing at it)",
    "background": "run gossipper server in the foreground (systemd: Type=exec)",
    "control_ip": "steer hosted runs through the HTTP API (api_addr)",
    "control_port": "steer hosted runs through the HTTP API (api_addr)",
    "twin_host": "3PCC runs are not available in gossipper server yet; run them with the CLI",
    "master_name": "3PCC runs are not available in gossipper server yet; run them with the CLI",
    "slave_name": "3PCC runs are not available in gossipper server yet; run them with the CLI",
    "slave_cfg": "3PCC runs are not available in gossipper server yet; run them with the CLI",
    "ooc_scenario_file": "out-of-call scenarios are not available in gossipper server yet",
    "ooc_scenario_name": "out-of-call scenarios are not available in gossipper server yet",
    "rx_scenario_file": "mixed mode is not available in gossipper server yet",
    "rx_scenario_name": "mixed mode is not available in gossipper server yet",
    "rx_injection_file": "mixed mode is not available in gossipper server yet",
    "scenario_file": "use sf (or the Go tool's scenario_file)",
    "api_users": "the server's API users are users_db at the top of the document",
    "api_secret": "the server's token secret is token_secret_file at the top of the document",
    "api_audit": "the server's audit log is audit_log at the top of the document",
    "api_metrics_public": "use metrics_public at the top of the document",
    "api_linger_s": "the server's API stays up as long as the server",
    "interactive": "hosted runs have no terminal; use gossipper tui for a single run",
    "report_html": "not for hosted runs yet; run gossipper report on the run's summary.json",
    "junit": "not for hosted runs yet; run gossipper report -junit on the run's summary.json",
    "gates": "not for hosted runs yet; run gossipper report -gate on the run's summary.json",
    "gate_abort": "not for hosted runs yet; run gossipper report -gate on its summary.json",
    "workers": "a hosted run is one engine; run -workers from the command line",
}
"""``RunConfig`` settings a hosted run cannot have, and why. (``scenario_file`` and
``scenario_name`` are spelled ``sf``/``sn`` so a run names its scenario one way.)"""

ROLE_ALIASES: dict[str, str] = {
    "client": "client",
    "load": "client",
    "uac": "client",
    "server": "server",
    "management": "server",
    "uas": "server",
}
"""``role``: ours (client, server) and the Go tool's spellings."""

PATH_SETTINGS: tuple[str, ...] = (
    "tls_cert",
    "tls_key",
    "tls_ca",
    "tls_crl",
)
"""Settings naming input files, relative to the config file's directory (injection files and
the scenario too). Output files (trace files, ``summary_json``) are relative to the run's
output directory instead."""

SECRET_SETTINGS: tuple[str, ...] = ("auth_password", "aka_k", "aka_op")
"""Left out of a run's ``spec`` as the API shows it."""


class ServerConfigError(ConfigError):
    """A bad server configuration: one line naming the key path and the fix; exit 255."""

    exit_status = ExitStatus.FATAL


@dataclasses.dataclass(frozen=True, slots=True)
class RunSpec:
    """One hosted run, checked: its settings, scenario, role and whether it starts at once."""

    name: str
    spec: Mapping[str, Any]
    """The run's JSON object as written (Go keys translated), without secrets."""
    config: RunConfig
    scenario_file: str | None
    """Absolute path of ``sf``; None for a built-in (``config.target.scenario_name``)."""
    role: str | None
    """``client`` or ``server`` when the run says; the scenario decides otherwise."""
    autostart: bool
    fingerprint: str
    """Changes when the run's settings or its scenario file's bytes change (SIGHUP)."""

    @property
    def scenario_label(self) -> str:
        return self.scenario_file or self.config.effective_scenario_name or "uac"


@dataclasses.dataclass(frozen=True, slots=True)
class ServerConfig:
    """The whole document, checked."""

    path: str
    base_dir: str
    api_addr: tuple[str, int] | None
    api_tls_cert: str | None
    api_tls_key: str | None
    users_db: str | None
    token_secret_file: str | None
    audit_log: str | None
    output_dir: str
    drain_timeout_s: float
    runs: tuple[RunSpec, ...]
    metrics_public: bool = False
    """``GET /metrics`` without a token (for a Prometheus scraper that sends none)."""


# --------------------------------------------------------------------------- loading


def load_server_config(path: str) -> ServerConfig:
    """Read, parse and check ``path``.

    Raises:
        ServerConfigError: unreadable file, bad JSON, or a bad key (the message names it).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ServerConfigError(
            f"-config {path}: cannot read it ({exc.strerror}); give the path of a JSON file"
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ServerConfigError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); fix the syntax"
        ) from None
    return parse_server_config(document, path)


def parse_server_config(document: object, path: str) -> ServerConfig:
    """Check a parsed document; ``path`` names it in messages and anchors relative paths."""
    where = os.path.basename(path) or path
    try:
        return _parse(document, path)
    except ServerConfigError as exc:
        raise ServerConfigError(f"{where}: {exc}") from None


def _parse(document: object, path: str) -> ServerConfig:
    base_dir = os.path.dirname(os.path.abspath(path))
    if not isinstance(document, dict):
        raise ServerConfigError("the document must be a JSON object with runs (docs/server.md)")
    document = _translate_go_layout(document)
    validate_with_schema(document)
    known = set(SERVER_KEYS) | {"runs", "comment"}
    _refuse_unknown(document, known, "")
    api_addr = None
    if document.get("api_addr") not in (None, ""):
        api_addr = parse_api_addr(_string(document, "api_addr", ""), "api_addr")
    drain = document.get("drain_timeout_s", DEFAULT_DRAIN_TIMEOUT_S)
    if not _is_number(drain) or drain < 0:
        raise ServerConfigError(f"drain_timeout_s: must be a number >= 0, got {drain!r}")
    metrics_public = document.get("metrics_public", False)
    if not isinstance(metrics_public, bool):
        raise ServerConfigError(f"metrics_public: must be true or false, got {metrics_public!r}")
    runs_value = document.get("runs", [])
    entries: list[tuple[str, str, object]] = []  # (path, name, object)
    if isinstance(runs_value, list):
        for index, item in enumerate(runs_value):
            item_path = f"runs[{index}]"
            if not isinstance(item, dict):
                raise ServerConfigError(f"{item_path}: must be an object of run settings")
            name = item.get("name", item.get("id"))
            if not isinstance(name, str):
                raise ServerConfigError(f'{item_path}: needs "name" (a run name such as "uas")')
            entries.append((item_path, name, item))
    elif isinstance(runs_value, dict):
        for name, item in runs_value.items():
            entries.append((f"runs.{name}", name, item))
    else:
        raise ServerConfigError("runs: must be a list of run objects or an object keyed by name")
    if len(entries) > MAX_RUNS:
        raise ServerConfigError(f"runs: at most {MAX_RUNS} runs, got {len(entries)}")
    runs: list[RunSpec] = []
    seen: dict[str, str] = {}
    for item_path, name, item in entries:
        if name in seen:
            raise ServerConfigError(
                f"{item_path}.name: {name!r} is already the name of {seen[name]}; names must"
                " be unique"
            )
        seen[name] = item_path
        if not isinstance(item, dict):
            raise ServerConfigError(f"{item_path}: must be an object of run settings")
        runs.append(_parse_run(name, item, base_dir, item_path))
    _check_duplicate_binds(runs, [entry[0] for entry in entries])
    return ServerConfig(
        path=os.path.abspath(path),
        base_dir=base_dir,
        api_addr=api_addr,
        api_tls_cert=_path(document, "api_tls_cert", base_dir),
        api_tls_key=_path(document, "api_tls_key", base_dir),
        users_db=_path(document, "users_db", base_dir),
        token_secret_file=_path(document, "token_secret_file", base_dir),
        audit_log=_path(document, "audit_log", base_dir),
        output_dir=_path(document, "output_dir", base_dir) or os.getcwd(),
        drain_timeout_s=float(drain),
        runs=tuple(runs),
        metrics_public=metrics_public,
    )


def parse_run(name: str, spec: Mapping[str, Any], base_dir: str) -> RunSpec:
    """One run object (the API's ``POST /runs`` body, a run of the document), checked.

    Raises:
        ServerConfigError: the message names the key (``rate: must be ...``).
    """
    try:
        validate_with_schema({"runs": {name: dict(spec)}})
    except ServerConfigError as exc:
        # The key inside the run is what the caller wrote: drop the document's prefix.
        message = str(exc)
        for prefix in (f"runs.{name}.", f"runs.{name}: "):
            if message.startswith(prefix):
                message = message[len(prefix) :]
        raise ServerConfigError(message) from None
    return _parse_run(name, spec, base_dir, "")


def _parse_run(name: str, item: Mapping[str, Any], base_dir: str, where: str) -> RunSpec:
    prefix = f"{where}." if where else ""
    if not _RUN_NAME.match(name):
        raise ServerConfigError(
            f"{prefix or 'runs.'}name: {name!r} is not a run name; use letters, digits, '.',"
            " '_' and '-' (at most 64, starting with a letter or digit)"
        )
    spec: dict[str, Any] = {}
    for key, value in item.items():
        if key in GO_REFUSED_KEYS:
            raise ServerConfigError(f"{prefix}{key}: not supported; {GO_REFUSED_KEYS[key]}")
        ours = GO_RUN_KEYS.get(key, key)
        if ours in spec and ours != key:
            raise ServerConfigError(
                f"{prefix}{key}: means the same as {ours}, which is also given; keep one"
            )
        if key == "total_calls":
            # The Go tool's total_calls 0 is "no limit"; our max_calls 0 is "no call at all".
            value = None if value == 0 else value
        if key == "injection_file":
            value = [value] if isinstance(value, str) else value
        spec[ours] = value
    spec.pop("comment", None)
    spec.pop("name", None)
    settings: dict[str, Any] = {}
    for key, value in spec.items():
        if key in RUN_EXTRA_KEYS:
            continue
        if key in SERVER_KEYS:
            raise ServerConfigError(
                f"{prefix}{key}: a server setting inside a run; move it to the top of the document"
            )
        if key in SERVER_REFUSED_SETTINGS:
            raise ServerConfigError(f"{prefix}{key}: not supported; {SERVER_REFUSED_SETTINGS[key]}")
        if key not in _SETTING_TYPES:
            close = difflib.get_close_matches(
                key, [*_SETTING_TYPES, *RUN_EXTRA_KEYS, *GO_RUN_KEYS], n=1
            )
            hint = f"did you mean {close[0]}?" if close else "docs/server.md lists the keys"
            raise ServerConfigError(f"{prefix}{key}: unknown run setting; {hint}")
        if value is None:
            continue
        if key in PATH_SETTINGS and isinstance(value, str):
            value = os.path.join(base_dir, value)
        elif key == "injection_files" and isinstance(value, list):
            value = [os.path.join(base_dir, v) if isinstance(v, str) else v for v in value]
        settings[key] = value
        try:
            if key == "transport_mode":
                # -t ui alone fails for want of an injection file: judged with all settings.
                check_field(key, value)
            elif key != "injection_indexes":  # needs injection_files: judged with them
                RunConfig.from_mapping({key: value})
        except ConfigError as exc:
            raise ServerConfigError(f"{prefix}{key}: {_plain(str(exc))}") from None
    role = spec.get("role")
    if role is not None:
        if not isinstance(role, str) or role not in ROLE_ALIASES:
            raise ServerConfigError(
                f"{prefix}role: must be client or server (the Go tool's load/management too),"
                f" got {role!r}"
            )
        role = ROLE_ALIASES[role]
    autostart = spec.get("autostart", True)
    if not isinstance(autostart, bool):
        raise ServerConfigError(f"{prefix}autostart: must be true or false, got {autostart!r}")
    sn, sf = spec.get("sn"), spec.get("sf")
    if sn is not None and sf is not None:
        raise ServerConfigError(f"{prefix}sf: give sn (a built-in) or sf (a file), not both")
    scenario_file: str | None = None
    scenario_bytes = b""
    if sf is not None:
        if not isinstance(sf, str) or not sf:
            raise ServerConfigError(f"{prefix}sf: must be the path of a scenario file")
        scenario_file = os.path.join(base_dir, sf)
        try:
            with open(scenario_file, "rb") as handle:
                scenario_bytes = handle.read()
        except OSError as exc:
            raise ServerConfigError(
                f"{prefix}sf: cannot read {scenario_file} ({exc.strerror}); give the path of a"
                " SIPp XML scenario (relative to the config file)"
            ) from None
        settings["scenario_file"] = scenario_file
    elif sn is not None:
        if not isinstance(sn, str) or sn not in _builtin_names():
            raise ServerConfigError(
                f"{prefix}sn: {sn!r} is not a built-in scenario; choose one of"
                f" {', '.join(_builtin_names())} or give sf"
            )
        settings["scenario_name"] = sn
    else:
        raise ServerConfigError(
            f'{prefix}sn: a run needs a scenario: "sn": "uas" (a built-in) or "sf": "FILE.xml"'
        )
    remote = spec.get("remote")
    if remote is not None:
        if "remote_host" in settings:
            raise ServerConfigError(f"{prefix}remote: remote_host is also given; keep one")
        if not isinstance(remote, str):
            raise ServerConfigError(f"{prefix}remote: must be host[:port], got {remote!r}")
        host, port = split_host_port(remote, 5060, f"{prefix}remote")
        settings["remote_host"] = host
        settings["remote_port"] = port
    try:
        config = RunConfig.from_mapping(settings)
    except ConfigError as exc:
        raise ServerConfigError(f"{where or 'run ' + name}: {_plain(str(exc))}") from None
    is_server = _is_server_scenario(sn, role)
    if is_server is False and config.target.remote_host is None:
        raise ServerConfigError(
            f'{prefix}remote: a client run needs the address it calls: "remote":'
            ' "127.0.0.1:5060" (or role "server" for a scenario that waits for calls)'
        )
    shown = {key: value for key, value in spec.items() if key not in SECRET_SETTINGS}
    fingerprint = hashlib.sha256(
        json.dumps(spec, sort_keys=True, default=str).encode() + b"\0" + scenario_bytes
    ).hexdigest()
    return RunSpec(
        name=name,
        spec=types.MappingProxyType(shown),
        config=config,
        scenario_file=scenario_file,
        role=role,
        autostart=autostart,
        fingerprint=fingerprint,
    )


def _is_server_scenario(sn: object, role: str | None) -> bool | None:
    """Whether the run waits for calls, when that is known before loading the scenario."""
    if role is not None:
        return role == "server"
    if sn is None:
        return None  # a scenario file: the loaded scenario says
    return sn in ("uas", "3pcc-A", "3pcc-B", "branchs", "ooc_default", "ooc_dummy")


def _builtin_names() -> tuple[str, ...]:
    from gossipper.scenario import BUILTIN_NAMES

    return tuple(name for name in BUILTIN_NAMES if not name.startswith("3pcc"))


def _translate_go_layout(document: dict[str, Any]) -> dict[str, Any]:
    """The Go tool's layouts as ours: ``server`` + ``clients``/``client`` profiles (root run
    keys shared by each, profile keys win), or one flat profile at the top."""
    go_keys = ("server", "clients", "client")
    if not any(key in document for key in go_keys):
        if "runs" in document or not (set(document) - set(SERVER_KEYS) - {"comment"}):
            return document
        # One flat profile (the Go tool's single-object layout).
        top = {key: document[key] for key in document if key in SERVER_KEYS}
        if document.get("auth") is not None:
            top.update(_translate_go_auth(document["auth"]))
        run = {
            key: value
            for key, value in document.items()
            if key not in SERVER_KEYS and key != "auth"
        }
        run.setdefault("id", "main")
        return {**top, "runs": [run]}
    if "runs" in document:
        raise ServerConfigError("runs: give runs or the Go tool's server/clients, not both")
    if "clients" in document and "client" in document:
        raise ServerConfigError("client: give clients or client, not both")
    if "server" not in document:
        raise ServerConfigError(
            "server: the Go tool's clients/client need a server profile; or use runs"
        )
    top = {key: document[key] for key in document if key in SERVER_KEYS}
    if document.get("auth") is not None:
        top.update(_translate_go_auth(document["auth"]))
    shared = {
        key: value
        for key, value in document.items()
        if key not in SERVER_KEYS and key not in (*go_keys, "comment", "auth")
    }
    profiles: list[tuple[str, object, str]] = [("server", document["server"], "server")]
    clients = document.get("clients", document.get("client", []))
    if isinstance(clients, dict):
        clients = [clients]
    if not isinstance(clients, list):
        raise ServerConfigError("clients: must be a list of client profiles")
    profiles.extend((f"clients[{i}]", client, f"w{i + 1}") for i, client in enumerate(clients))
    runs = []
    for where, profile, default_id in profiles:
        if not isinstance(profile, dict):
            raise ServerConfigError(f"{where}: must be an object of run settings")
        merged = {**shared, **profile}
        merged.setdefault("id", default_id)
        runs.append(merged)
    return {**top, "runs": runs}


def _translate_go_auth(auth: object) -> dict[str, Any]:
    if not isinstance(auth, dict):
        raise ServerConfigError('auth: must be an object such as {"type": "internal", ...}')
    if auth.get("type", "none") == "none":
        return {}
    if "jwt_secret" in auth:
        raise ServerConfigError(
            "auth.jwt_secret: a secret in the config file is not accepted; give"
            " token_secret_file (a file with mode 0600, created when missing)"
        )
    path = auth.get("sqlite_path")
    return {"users_db": path} if path is not None else {}


# --------------------------------------------------------------------------- pieces


def parse_api_addr(text: str, where: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT``); an empty host is loopback (``DEFAULT_API_HOST``)."""
    if text.startswith(":"):
        text = DEFAULT_API_HOST + text
    host, port = split_host_port(text, None, where)
    return host, port


def split_host_port(text: str, default_port: int | None, where: str) -> tuple[str, int]:
    """``host[:port]`` with IPv6 as ``[addr]:port``."""
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ServerConfigError(f"{where}: {text!r} has no closing ']'; write [addr]:port")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ServerConfigError(f"{where}: {text!r}: write [addr]:port")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host:
        raise ServerConfigError(f"{where}: {text!r} has no host; write host:port")
    if not port_text:
        if default_port is None:
            raise ServerConfigError(f"{where}: {text!r} has no port; write host:port")
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ServerConfigError(f"{where}: port {port_text!r} must be a number 1-65535")
    return host, int(port_text)


def _refuse_unknown(document: Mapping[str, Any], known: set[str], prefix: str) -> None:
    for key in document:
        if key not in known:
            raise ServerConfigError(_unknown_key(f"{prefix}{key}", key, known, top=not prefix))


def _unknown_key(path: str, key: str, allowed: Collection[str], *, top: bool) -> str:
    """Why ``key`` is refused and what to write instead."""
    if key in GO_REFUSED_KEYS:
        return f"{path}: not supported; {GO_REFUSED_KEYS[key]}"
    if not top and key in SERVER_REFUSED_SETTINGS:
        return f"{path}: not supported; {SERVER_REFUSED_SETTINGS[key]}"
    if top and (key in _SETTING_TYPES or key in GO_RUN_KEYS or key in RUN_EXTRA_KEYS):
        return f'{path}: a run setting at the top of the document; move it into a run of "runs"'
    if not top and key in SERVER_KEYS:
        return f"{path}: a server setting inside a run; move it to the top of the document"
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    hint = f"did you mean {close[0]}?" if close else "docs/server.md lists the keys"
    return f"{path}: unknown key; {hint}"


def _string(document: Mapping[str, Any], key: str, default: str) -> str:
    value = document.get(key, default)
    if not isinstance(value, str):
        raise ServerConfigError(f"{key}: must be a string, got {value!r}")
    return value


def _path(document: Mapping[str, Any], key: str, base_dir: str) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ServerConfigError(f"{key}: must be a file or directory path, got {value!r}")
    return os.path.join(base_dir, value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _plain(message: str) -> str:
    """A RunConfig message without the CLI's framing (``configuration key 'x' must`` ...)."""
    return re.sub(r"^configuration key '[^']*' ", "", message)


def _check_duplicate_binds(runs: Sequence[RunSpec], paths: Sequence[str]) -> None:
    """Two runs on one fixed SIP port of one address would fight for it."""
    taken: dict[tuple[str, str, int], str] = {}
    for run, where in zip(runs, paths, strict=True):
        transport = run.config.transport
        port = transport.local_port
        if not port:
            continue
        family = "udp" if transport.transport_mode.startswith("u") else "tcp"
        key = (family, transport.local_ip or "*", port)
        if key in taken:
            raise ServerConfigError(
                f"{where}.local_port: {port} is also the port of {taken[key]}; give each run"
                " its own port"
            )
        taken[key] = where


# --------------------------------------------------------------------------- the schema


def validate_with_schema(document: Mapping[str, Any]) -> None:
    """Check ``document`` against ``config.schema.json`` (skipped without ``jsonschema``:
    our own checks still refuse every bad value, with the option's name instead)."""
    try:
        import jsonschema  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - the api extra installs it
        return
    # The document is in our layout by now (the Go layouts were translated): check it
    # against that branch of the schema, whose errors name one key.
    shipped = _shipped_schema()
    ours = {key: value for key, value in shipped.items() if key != "anyOf"}
    validator = jsonschema.Draft202012Validator({**ours, "$ref": "#/$defs/document"})
    errors = sorted(validator.iter_errors(document), key=_error_rank)
    if errors:
        raise ServerConfigError(_describe(errors[0]))


_SCHEMA_CACHE: list[dict[str, Any]] = []


def _shipped_schema() -> dict[str, Any]:
    if not _SCHEMA_CACHE:
        with open(SCHEMA_PATH, encoding="utf-8") as handle:
            _SCHEMA_CACHE.append(json.load(handle))
    return _SCHEMA_CACHE[0]


def _error_rank(error: Any) -> tuple[int, str]:
    # The deepest error names the most precise key; ties in document order.
    return (-len(error.absolute_path), str(list(error.absolute_path)))


def _key_path(parts: Sequence[object]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(error: Any) -> str:
    """One line for a jsonschema error: key path, what it must be, the value found."""
    where = _key_path(list(error.absolute_path)) or "the document"
    validator = error.validator
    value = error.instance
    schema = error.schema
    got = json.dumps(value) if not isinstance(value, dict | list) else type(value).__name__
    if validator in ("additionalProperties", "unevaluatedProperties"):
        defs = _shipped_schema()["$defs"]
        top = not error.absolute_path
        allowed = sorted(
            [*defs["serverSettings"]["properties"], "runs"]
            if top
            else defs["runSettings"]["properties"]
        )
        extra = sorted(set(value) - set(allowed))
        key = extra[0] if extra else "?"
        path = f"{where}.{key}" if error.absolute_path else key
        return _unknown_key(path, key, allowed, top=top)
    if validator == "required":
        return f"{where}: {error.message}; add it"
    if validator == "type":
        wanted = error.validator_value
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        names = [_TYPE_WORDS.get(name, name) for name in names if name != "null"]
        return f"{where}: must be {' or '.join(names)}, got {got}"
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        kind = (
            "an integer" if schema.get("type") in ("integer", ["integer", "null"]) else "a number"
        )
        if low is not None and high is not None:
            return f"{where}: must be {kind} from {low} to {high}, got {got}"
        if "exclusiveMinimum" in schema:
            return f"{where}: must be {kind} > {schema['exclusiveMinimum']}, got {got}"
        return f"{where}: must be {kind} >= {low}, got {got}"
    if validator == "enum":
        choices = ", ".join(str(choice) for choice in error.validator_value)
        return f"{where}: must be one of {choices}, got {got}"
    if validator == "minLength":
        return f"{where}: must not be empty"
    if validator == "pattern" and error.validator_value == RUN_NAME_PATTERN:
        return (
            f"{where}: {got} is not a run name; use letters, digits, '.', '_' and '-' (at most"
            " 64, starting with a letter or digit)"
        )
    if validator == "pattern":
        return f"{where}: {got} does not match {schema.get('description', error.validator_value)}"
    return f"{where}: {error.message}"


_TYPE_WORDS = {
    "number": "a number",
    "integer": "an integer",
    "string": "a string",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
}


def _setting_types() -> dict[str, Any]:
    groups = (
        TargetSettings,
        TransportSettings,
        IdentitySettings,
        LoadSettings,
        TimerSettings,
        ProcessSettings,
        TraceSettings,
    )
    return {name: hint for group in groups for name, hint in typing.get_type_hints(group).items()}


_SETTING_TYPES: dict[str, Any] = _setting_types()


def _json_type(hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        (inner,) = [arg for arg in args if arg is not type(None)]
        schema = _json_type(inner)
        if "type" in schema:
            base = schema["type"]
            schema["type"] = [*base, "null"] if isinstance(base, list) else [base, "null"]
        return schema
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is str:
        return {"type": "string"}
    if origin is frozenset:
        return {"type": ["array", "string"], "items": {"type": "string"}}
    if origin is Mapping:
        return {"type": "object", "additionalProperties": {"type": "string"}}
    if origin is tuple and args == (str, ...):
        return {"type": "array", "items": {"type": "string"}}
    if origin is tuple:
        return {
            "type": "array",
            "items": {
                "type": "array",
                "prefixItems": [{"type": "string"}, {"type": "integer"}],
                "minItems": 2,
                "maxItems": 2,
            },
        }
    raise AssertionError(f"no JSON type for {hint!r}")  # a new kind of setting was added


_RANGES: dict[str, dict[str, Any]] = {
    "a non-negative number": {"minimum": 0},
    "a non-negative integer": {"minimum": 0},
    "a non-negative duration": {"minimum": 0},
    "a positive duration": {"exclusiveMinimum": 0},
    "a positive number": {"exclusiveMinimum": 0},
    "an integer >= 1": {"minimum": 1},
    "a port number 0-65535": {"minimum": 0, "maximum": 65535},
    "a port number 1-65535": {"minimum": 1, "maximum": 65535},
    "a percentage between 0 and 100": {"minimum": 0, "maximum": 100},
    "a number from 0.0 to 1.0": {"minimum": 0, "maximum": 1},
    "an integer >= 0, or -1 for no limit": {"minimum": -1},
}


def _setting_schema(name: str, hint: Any) -> dict[str, Any]:
    schema = _json_type(hint)
    requirement = rule_requirement(name)
    option = rule_option(name)
    described = f"SIPp {option}" if option and option.startswith("-") else name
    if requirement is not None:
        described += f": {requirement}"
        schema.update(_RANGES.get(requirement, {}))
        if requirement.startswith("a non-empty"):
            schema["minLength"] = 1
    if name.endswith("_s"):
        described += " (seconds)"
    schema["description"] = described
    return schema


def build_schema() -> dict[str, Any]:
    """The JSON Schema of the document (``config.schema.json`` is this, written out)."""
    settings = {
        name: _setting_schema(name, hint)
        for name, hint in _SETTING_TYPES.items()
        if name not in SERVER_REFUSED_SETTINGS and name not in SERVER_KEYS
    }
    settings["transport_mode"]["enum"] = [
        mode for mode in KNOWN_TRANSPORT_MODES if mode[0] not in "sc"
    ]
    settings["remote_port"]["description"] = "the remote port (remote's :port does the same)"
    run_properties: dict[str, Any] = {
        "name": {
            "type": "string",
            "pattern": RUN_NAME_PATTERN,
            "description": "a run name: letters, digits, '.', '_', '-' (list form of runs)",
        },
        "sn": {"type": "string", "minLength": 1, "description": "a built-in scenario (SIPp -sn)"},
        "sf": {
            "type": "string",
            "minLength": 1,
            "description": "a SIPp XML scenario file, relative to the config file (SIPp -sf)",
        },
        "remote": {
            "type": "string",
            "minLength": 1,
            "description": "host[:port] a client calls (SIPp's remote_host[:port] argument)",
        },
        "role": {
            "enum": sorted(ROLE_ALIASES),
            "description": "client or server (load/uac, management/uas: the Go tool's words)",
        },
        "autostart": {
            "type": "boolean",
            "description": "start when the server starts or the run is added (default true)",
        },
        "comment": {"description": "ignored"},
        **settings,
    }
    for go_key, ours in GO_RUN_KEYS.items():
        alias = dict(run_properties[ours])
        alias["description"] = f"the Go tool's name for {ours}"
        if go_key == "total_calls":
            alias = {"type": "integer", "minimum": 0, "description": "Go: max_calls, 0 = no limit"}
        elif go_key == "injection_file":
            alias = {"type": "string", "minLength": 1, "description": "Go: one injection file"}
        run_properties[go_key] = alias
    server_properties: dict[str, Any] = {
        "api_addr": {
            "type": "string",
            "description": "HOST:PORT of the HTTP API; :PORT listens on 127.0.0.1 only",
        },
        "api_tls_cert": {"type": "string", "minLength": 1, "description": "PEM certificate"},
        "api_tls_key": {"type": "string", "minLength": 1, "description": "PEM private key"},
        "users_db": {"type": "string", "minLength": 1, "description": "SQLite users file"},
        "token_secret_file": {
            "type": "string",
            "minLength": 1,
            "description": "token signing secret (mode 0600; created when missing)",
        },
        "audit_log": {"type": "string", "minLength": 1, "description": "JSON lines file"},
        "output_dir": {
            "type": "string",
            "minLength": 1,
            "description": "each run writes into OUTPUT_DIR/NAME/ (default: the working directory)",
        },
        "drain_timeout_s": {
            "type": "number",
            "minimum": 0,
            "description": "SIGTERM waits this long for calls to end (default 30)",
        },
        "metrics_public": {
            "type": "boolean",
            "description": "GET /metrics without a token (default false: a viewer token)",
        },
        "comment": {"description": "ignored"},
    }
    run_ref = {"$ref": "#/$defs/run"}
    go_auth = {
        "type": "object",
        "properties": {
            "type": {"enum": ["none", "internal"]},
            "sqlite_path": {"type": "string", "minLength": 1},
            "jwt_secret": {"type": "string", "description": "refused: use token_secret_file"},
        },
        "additionalProperties": False,
        "description": "the Go tool's auth: sqlite_path is users_db",
    }
    go_base = {"allOf": [{"$ref": "#/$defs/serverSettings"}, {"$ref": "#/$defs/runSettings"}]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://gossipper.invalid/schemas/server-config.json",
        "title": "gossipper server -config document",
        "description": "Server settings and the runs it hosts (docs/server.md); the Go tool's"
        " composite (server + clients) and single-profile layouts are accepted too.",
        "anyOf": [
            {"$ref": "#/$defs/document"},
            {"$ref": "#/$defs/goComposite"},
            {"$ref": "#/$defs/goSingle"},
        ],
        "$defs": {
            "serverSettings": {"type": "object", "properties": server_properties},
            "runSettings": {"type": "object", "properties": run_properties},
            "run": {"$ref": "#/$defs/runSettings", "unevaluatedProperties": False},
            "document": {
                "$ref": "#/$defs/serverSettings",
                "properties": {
                    "runs": {
                        "type": ["array", "object"],
                        "if": {"type": "array"},
                        "then": {"items": run_ref},
                        "else": {
                            "propertyNames": {"pattern": RUN_NAME_PATTERN},
                            "additionalProperties": run_ref,
                        },
                        "description": "a list of runs with names, or an object keyed by name",
                    },
                },
                "unevaluatedProperties": False,
            },
            "goComposite": {
                **go_base,
                "required": ["server"],
                "properties": {
                    "server": run_ref,
                    "clients": {"type": "array", "items": run_ref},
                    "client": {"anyOf": [run_ref, {"type": "array", "items": run_ref}]},
                    "auth": go_auth,
                },
                "unevaluatedProperties": False,
            },
            "goSingle": {
                **go_base,
                "properties": {"auth": go_auth},
                "unevaluatedProperties": False,
            },
        },
    }


def _main(argv: Sequence[str]) -> int:
    if list(argv) != ["--schema"]:
        sys.stderr.write("usage: python -m gossipper.server.config --schema\n")
        return 2
    sys.stdout.write(json.dumps(build_schema(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
