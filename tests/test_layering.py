"""The layering of design.md section 3, enforced.

import-linter (run by ``nox -s typecheck`` as ``lint-imports``) checks the package arrows; this
test also runs it, and checks what import-linter cannot see: stdlib clocks, global randomness
and sockets in the pure layers.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PURE = ["sip", "scenario", "stats"]
PURE_MODULES = ["interfaces.py", "config.py", "errors.py", "timefmt.py"]

FORBIDDEN_CALLS = {
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("time", "sleep"),
    ("random", "random"),
    ("random", "randint"),
    ("random", "choice"),
    ("random", "uniform"),
    ("random", "seed"),
    ("os", "getpid"),
}
FORBIDDEN_IMPORTS = {"trio", "socket", "urwid", "quart", "quart_trio", "hypercorn", "selectors"}


def _pure_files() -> list[pathlib.Path]:
    files: list[pathlib.Path] = []
    for package in PURE:
        files.extend(sorted((ROOT / "gossipper" / package).rglob("*.py")))
    files.extend(ROOT / "gossipper" / name for name in PURE_MODULES)
    return [f for f in files if f.exists()]


def test_pure_layers_use_no_clock_randomness_or_sockets() -> None:
    problems: list[str] = []
    for path in _pure_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in FORBIDDEN_IMPORTS:
                        problems.append(f"{path}:{node.lineno}: import {alias.name}")
            elif isinstance(node, ast.ImportFrom) and node.module:
                if node.module.split(".")[0] in FORBIDDEN_IMPORTS:
                    problems.append(f"{path}:{node.lineno}: from {node.module} import")
                if node.module in ("time", "random"):
                    for alias in node.names:
                        if (node.module, alias.name) in FORBIDDEN_CALLS:
                            problems.append(f"{path}:{node.lineno}: {node.module}.{alias.name}")
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and (node.value.id, node.attr) in FORBIDDEN_CALLS
            ):
                problems.append(f"{path}:{node.lineno}: {node.value.id}.{node.attr}")
    assert problems == []


def test_import_linter_contracts_hold() -> None:
    executable = pathlib.Path(sys.executable).parent / "lint-imports"
    command = [str(executable)] if executable.exists() else ["lint-imports"]
    result = subprocess.run(
        [*command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout
