"""The suite's own rules, checked by running pytest on small generated test files: CI draws
fresh Hypothesis examples each run, and a leaked socket, an unknown marker or an xfail that
passes fails a test (pyproject.toml [tool.pytest.ini_options], tests/conftest.py)."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pytest(
    tmp_path: pathlib.Path, source: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run pytest on ``source`` with the project's ini file and tests/conftest.py as a plugin."""
    test_file = tmp_path / "test_generated.py"
    test_file.write_text(source)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HYPOTHESIS")}
    environment.pop("CI", None)
    environment.update(env or {})
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"),
            "--rootdir", str(tmp_path), "-p", "tests.conftest", "-p", "no:cacheprovider",
            "-q", *args, *([] if "." in args else [str(test_file)]),
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip


DRAWS = """
import pathlib
from hypothesis import given, settings, strategies as st

@settings(max_examples=20)
@given(st.integers(0, 2**60))
def test_draw(n):
    with open(pathlib.Path(__file__).with_name("draws.txt"), "a") as f:
        f.write(f"{n}\\n")
"""


def _draws(tmp_path: pathlib.Path, *args: str, env: dict[str, str]) -> tuple[str, str]:
    """The integers one run of DRAWS drew, and the pytest output."""
    (tmp_path / "draws.txt").unlink(missing_ok=True)
    done = _pytest(tmp_path, DRAWS, *args, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return (tmp_path / "draws.txt").read_text(), done.stdout


def test_ci_draws_fresh_hypothesis_examples_and_prints_the_seed(tmp_path: pathlib.Path) -> None:
    first, output = _draws(tmp_path, env={"CI": "true"})
    second, _ = _draws(tmp_path, env={"CI": "true"})
    assert set(first.split()) != set(second.split())
    seed = re.search(r"hypothesis seed (\d+) \(rerun with --hypothesis-seed=\1\)", output)
    assert seed, output
    # The printed seed reproduces the run exactly.
    again, _ = _draws(tmp_path, f"--hypothesis-seed={seed[1]}", env={"CI": "true"})
    assert again == first


def test_repeatable_profile_gives_the_same_examples(tmp_path: pathlib.Path) -> None:
    env = {"HYPOTHESIS_PROFILE": "repeatable"}
    assert _draws(tmp_path, env=env)[0] == _draws(tmp_path, env=env)[0]


STRICTNESS = """
import socket
import warnings

import pytest


def test_leaked_socket():
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def test_warning():
    warnings.warn(DeprecationWarning("old"))


@pytest.mark.xfail(reason="expected to fail")
def test_passing_xfail():
    pass


def test_clean():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM):
        pass
"""


def test_leaks_warnings_unknown_markers_and_passing_xfails_fail(tmp_path: pathlib.Path) -> None:
    (tmp_path / "test_marker.py").write_text(
        "import pytest\n\n@pytest.mark.slwo\ndef test_typo():\n    pass\n"
    )
    done = _pytest(tmp_path, STRICTNESS, "-rA", "--continue-on-collection-errors", ".")
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "FAILED test_generated.py::test_leaked_socket - " in out, out
    assert "unclosed <socket.socket" in out or "Exception ignored in: <socket" in out, out
    assert "FAILED test_generated.py::test_warning - DeprecationWarning" in out, out
    assert "FAILED test_generated.py::test_passing_xfail" in out and "XPASS(strict)" in out, out
    assert "PASSED test_generated.py::test_clean" in out, out
    assert "'slwo' not found in `markers`" in out, out
