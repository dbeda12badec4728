"""``gossipper profile``: named run definitions in a file, run by name.

A profile file (TOML, or JSON when its name ends in ``.json``) holds a format ``version`` and a
table of profiles. A profile is a flat set of run settings by their JSON names, the same names
as ``-summary_json``'s configuration, ``RunConfig.from_mapping`` and ``gossipper server``'s runs
(``rate``, ``max_calls``, ``trace_stat``...), plus a few words of its own::

    version = 1

    [profiles.smoke]
    description = "1,000 calls against the built-in peer"
    sn = "uac"             # scenario_name; sf = scenario_file
    peer = "uas"
    rate = 200
    max_calls = 1000

    [profiles.soak]
    extends = "smoke"      # every setting of smoke, then these
    max_calls = 720000

``remote = "host:port"`` sets ``remote_host``/``remote_port``. Relative file names are
relative to the profile file. ``gossipper profile run NAME [--set key=value ...]`` runs one
exactly as the equivalent command line would (same checks, outputs and exit status); the shell
and the server use the same reader (``load_profiles``).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from gossipper.config import RunConfig
from gossipper.errors import ConfigError, ExitStatus, GossipperError

__all__ = [
    "DEFAULT_PROFILE_FILE",
    "PROFILE_FORMAT_VERSION",
    "Profile",
    "load_profiles",
    "run_profile_command",
]

DEFAULT_PROFILE_FILE = "gossipper-profiles.toml"
PROFILE_FORMAT_VERSION = 1

_OWN_KEYS = ("description", "extends")
_ALIASES = {"sn": "scenario_name", "sf": "scenario_file"}
_FILE_KEYS = ("scenario_file", "ooc_scenario_file", "rx_scenario_file", "slave_cfg")
"""Settings naming a file that must exist before the run (injection files are checked by the
run itself, with their line numbers)."""
_MAX_EXTENDS_DEPTH = 16


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    """One profile, its settings resolved (``extends`` applied, aliases and paths expanded)."""

    name: str
    description: str
    settings: Mapping[str, Any]
    source: str

    def config(self, overrides: Mapping[str, Any] | None = None) -> RunConfig:
        """The run configuration; errors name the profile and the key."""
        values = {**self.settings, **(overrides or {})}
        try:
            return RunConfig.from_mapping(values)
        except ConfigError as exc:
            raise ConfigError(f"{self.source}: profile {self.name}: {exc}") from None


def _error(source: str, message: str) -> ConfigError:
    return ConfigError(f"{source}: {message}")


def _read_document(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise _error(
            path,
            f"cannot read the profile file ({exc.strerror}); give one with -f FILE"
            f" (default {DEFAULT_PROFILE_FILE})",
        ) from None
    try:
        if path.endswith(".json"):
            document = json.loads(data)
        else:
            document = tomllib.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        kind = "JSON" if path.endswith(".json") else "TOML"
        raise _error(path, f"not valid {kind}: {exc}") from None
    if not isinstance(document, dict):
        raise _error(path, "the file must hold a table (an object) with version and profiles")
    return document


def load_profiles(path: str) -> dict[str, Profile]:
    """Every profile of the file at ``path``, checked (keys known, files present).

    Raises:
        ConfigError: one line naming the file, the profile and the key, and the fix.
    """
    document = _read_document(path)
    unknown_top = sorted(set(document) - {"version", "profiles"})
    if unknown_top:
        raise _error(path, f"unknown top-level key {unknown_top[0]} (only version and profiles)")
    version = document.get("version")
    if version != PROFILE_FORMAT_VERSION:
        raise _error(
            path,
            f"version must be {PROFILE_FORMAT_VERSION} (this gossipper reads profile format"
            f" {PROFILE_FORMAT_VERSION}), got {version!r}",
        )
    raw = document.get("profiles")
    if not isinstance(raw, dict) or not raw:
        raise _error(path, "no profiles: add a [profiles.NAME] table")
    base = os.path.dirname(os.path.abspath(path))
    profiles: dict[str, Profile] = {}
    for name in raw:
        profiles[name] = _resolve(path, base, raw, name, [])
    return profiles


def _resolve(path: str, base: str, raw: Mapping[str, Any], name: str, chain: list[str]) -> Profile:
    entry = raw[name]
    where = f"profile {name}"
    if not isinstance(entry, dict):
        raise _error(path, f"{where} must be a table of settings")
    if name in chain or len(chain) > _MAX_EXTENDS_DEPTH:
        raise _error(path, f"{where}: extends makes a loop ({' -> '.join([*chain, name])})")
    settings: dict[str, Any] = {}
    parent = entry.get("extends")
    if parent is not None:
        if not isinstance(parent, str) or parent not in raw:
            close = difflib.get_close_matches(str(parent), list(raw), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise _error(path, f"{where}: key extends: no profile {parent!r}{hint}")
        settings.update(_resolve(path, base, raw, parent, [*chain, name]).settings)
    fields = set(RunConfig.field_names())
    for key, value in entry.items():
        if key in _OWN_KEYS:
            continue
        key = str(key)
        field = _ALIASES.get(key, key)
        if key == "remote":
            host, port = _split_remote(path, where, value)
            settings["remote_host"] = host
            if port is not None:
                settings["remote_port"] = port
            continue
        if field not in fields:
            close = difflib.get_close_matches(field, sorted(fields | set(_ALIASES)), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise _error(path, f"{where}: unknown key {key}{hint}")
        if field in _FILE_KEYS and isinstance(value, str):
            value = os.path.join(base, value)
            if not os.path.isfile(value):
                raise _error(path, f"{where}: key {key}: no such file {value}")
        elif field == "injection_files" and isinstance(value, list):
            value = [os.path.join(base, item) if isinstance(item, str) else item for item in value]
        settings[field] = value
    description = entry.get("description", "")
    profile = Profile(name=name, description=str(description), settings=settings, source=path)
    # Values are checked now, not when the run starts: a typo fails the whole file early.
    profile.config()
    return profile


def _split_remote(path: str, where: str, value: object) -> tuple[str, int | None]:
    if not isinstance(value, str) or not value:
        raise _error(path, f"{where}: key remote must be host or host:port")
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and host and (":" not in host or host.startswith("[")):
        return host.strip("[]"), int(port)
    return value, None


# ---------------------------------------------------------------------- the command


_HELP = f"""Usage: gossipper profile [-f FILE] list
       gossipper profile [-f FILE] show NAME
       gossipper profile [-f FILE] run NAME [--set KEY=VALUE ...]

Named run definitions kept in a file (default ./{DEFAULT_PROFILE_FILE}; TOML, or JSON for a
.json file): version = {PROFILE_FORMAT_VERSION} and a [profiles.NAME] table of settings by their
JSON names (rate, max_calls, trace_stat, ...), with sn/sf for the scenario, remote =
"host:port", peer, description and extends = "OTHER". See docs/profiles.md.

  list            the profiles, one line each
  show NAME       the resolved settings of a profile (extends applied), as JSON
  run NAME        run it (its exit status is the run's); --set KEY=VALUE overrides a setting
                  for this run (VALUE read as JSON when it parses, else as text)
"""


def run_profile_command(args: Sequence[str], stdout: TextIO, stderr: TextIO) -> ExitStatus:
    """``gossipper profile ...``"""
    words = list(args)
    path = DEFAULT_PROFILE_FILE
    if not words or words[0] in ("-h", "--help", "-help", "help"):
        stdout.write(_HELP)
        return ExitStatus.NO_CALLS
    if words[0] in ("-f", "--file"):
        if len(words) < 2:
            return _fail(stderr, "profile: -f needs a file name")
        path = words[1]
        words = words[2:]
    if not words:
        return _fail(stderr, "profile: give an action: list, show NAME or run NAME")
    action, rest = words[0], words[1:]
    try:
        if action == "list":
            if rest:
                return _fail(stderr, f"profile list: unexpected argument {rest[0]}")
            for profile in load_profiles(path).values():
                line = profile.name + (f"  {profile.description}" if profile.description else "")
                stdout.write(line + "\n")
            return ExitStatus.SUCCESS
        if action not in ("show", "run"):
            return _fail(stderr, f"profile: unknown action {action} (list, show or run)")
        if not rest:
            return _fail(stderr, f"profile {action}: give a profile name")
        profile = _pick(load_profiles(path), rest[0], path)
        overrides = _overrides(rest[1:], profile)
        if action == "show":
            stdout.write(json.dumps({**profile.settings, **overrides}, indent=2) + "\n")
            return ExitStatus.SUCCESS
        config = profile.config(overrides)
    except GossipperError as exc:
        return _fail(stderr, str(exc))
    from gossipper.cli.main import run_configured

    return ExitStatus(run_configured(config, stdout, stderr))


def _pick(profiles: Mapping[str, Profile], name: str, path: str) -> Profile:
    if name in profiles:
        return profiles[name]
    close = difflib.get_close_matches(name, list(profiles), n=1)
    hint = f" (did you mean {close[0]}?)" if close else f" (it has {', '.join(profiles)})"
    raise ConfigError(f"{path}: no profile {name}{hint}")


def _overrides(words: Sequence[str], profile: Profile) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    position = 0
    while position < len(words):
        word = words[position]
        if word != "--set" or position + 1 >= len(words) or "=" not in words[position + 1]:
            raise ConfigError(f"profile run {profile.name}: expected --set KEY=VALUE, got {word}")
        key, _, text = words[position + 1].partition("=")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        overrides[_ALIASES.get(key, key)] = value
        position += 2
    if overrides:
        profile.config(overrides)  # a bad override is named before anything runs
    return overrides


def _fail(stderr: TextIO, message: str) -> ExitStatus:
    stderr.write(f"gossipper: error: {message}\n")
    return ExitStatus.FATAL
