"""``gossipper profile``: run definitions kept in a file, run by name as the real program."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from gossipper.cli.profiles import load_profiles
from gossipper.errors import ConfigError

GOOD = """\
version = 1

[profiles.smoke]
description = "a few calls against the built-in peer"
sn = "uac"
peer = "uas"
rate = 50
max_calls = 12
summary_json = "smoke.json"

[profiles.bigger]
extends = "smoke"
max_calls = 20
summary_json = "bigger.json"
"""


def _gossipper(tmp_path: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gossipper", "profile", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_list_show_and_run(tmp_path: pathlib.Path) -> None:
    (tmp_path / "gossipper-profiles.toml").write_text(GOOD)
    listed = _gossipper(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == ["smoke  a few calls against the built-in peer", "bigger"]
    shown = _gossipper(tmp_path, "show", "bigger")
    assert json.loads(shown.stdout) == {
        "scenario_name": "uac",
        "peer": "uas",
        "rate": 50,
        "max_calls": 20,
        "summary_json": "bigger.json",
    }
    ran = _gossipper(tmp_path, "run", "bigger", "--set", "rate=200")
    assert ran.returncode == 0, ran.stderr
    assert "Test Terminated" in ran.stdout
    summary = json.loads((tmp_path / "bigger.json").read_text())
    assert summary["calls"]["successful"] == 20
    assert summary["rate"]["target_cps"] == 200


def test_json_profile_file_and_relative_scenario(tmp_path: pathlib.Path) -> None:
    scenarios = tmp_path / "lab"
    scenarios.mkdir()
    uas = subprocess.run(
        [sys.executable, "-m", "gossipper", "-sd", "uas"], capture_output=True, text=True
    ).stdout
    (scenarios / "my_uas.xml").write_text(uas)
    (scenarios / "profiles.json").write_text(
        json.dumps(
            {
                "version": 1,
                "profiles": {
                    "against-mine": {
                        "sn": "uac",
                        "peer": "my_uas.xml",
                        "max_calls": 5,
                        "rate": 50,
                        "summary_json": "out.json",
                    }
                },
            }
        )
    )
    # peer is not a file key (it may be a built-in name): a relative peer file is the cwd's.
    ran = subprocess.run(
        [sys.executable, "-m", "gossipper", "profile", "-f", "profiles.json", "run",
         "against-mine"],
        cwd=scenarios, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert json.loads((scenarios / "out.json").read_text())["calls"]["successful"] == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace("rate = 50", "ratee = 50"),
            "profile smoke: unknown key ratee (did you mean rate?)",
        ),
        (GOOD.replace('sn = "uac"', 'sf = "nowhere.xml"'), "profile smoke: key sf: no such file"),
        (
            GOOD.replace('extends = "smoke"', 'extends = "smokey"'),
            "profile bigger: key extends: no profile 'smokey' (did you mean smoke?)",
        ),
        (
            GOOD + '\n[profiles.a]\nextends = "b"\n[profiles.b]\nextends = "a"\n',
            "extends makes a loop",
        ),
        (GOOD.replace("version = 1", "version = 2"), "version must be 1"),
        (GOOD.replace("rate = 50", 'rate = "fast"'), "profile smoke: "),
        (GOOD.replace("max_calls = 12", "max_calls = -1"), "profile smoke: -m must be"),
        ("version = 1\n", "no profiles"),
        ("version = 1\n[profiles.x\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_bad_profiles_are_one_line_errors(tmp_path: pathlib.Path, text: str, message: str) -> None:
    path = tmp_path / "gossipper-profiles.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_profiles(str(path))
    assert message in str(info.value)
    assert str(path) in str(info.value)
    done = _gossipper(tmp_path, "list")
    assert done.returncode == 255
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("gossipper: error: ")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "smok"), "no profile smok (did you mean smoke?)"),
        (("run", "smoke", "--set", "rate"), "expected --set KEY=VALUE"),
        (
            ("run", "smoke", "--set", "rat=5"),
            "unknown configuration keys: rat (did you mean rate?)",
        ),
        (("frobnicate",), "unknown action frobnicate"),
        (("-f", "missing.toml", "list"), "missing.toml: cannot read the profile file"),
    ],
)  # fmt: skip
def test_bad_command_lines(tmp_path: pathlib.Path, args: tuple[str, ...], message: str) -> None:
    (tmp_path / "gossipper-profiles.toml").write_text(GOOD)
    done = _gossipper(tmp_path, *args)
    assert done.returncode == 255
    assert message in done.stderr and done.stderr.count("\n") == 1
