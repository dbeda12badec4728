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
OUTPUT = "output"
"""Writers: files and clocks are theirs, but no trio, no sockets and no engine (design.md 2)."""

FORBIDDEN_CALLS = {
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "monotonic_ns"),
    ("time", "perf_counter"),
    ("time", "perf_counter_ns"),
    ("time", "sleep"),
    ("random", "random"),
    ("random", "randint"),
    ("random", "choice"),
    ("random", "uniform"),
    ("random", "seed"),
    ("os", "getpid"),
}
# datetime.datetime.now(), datetime.date.today(), date.today()...: the wall clock by another name.
WALL_CLOCK_METHODS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"),
                      ("date", "today")}  # fmt: skip
# Without an argument these read the current time.
CURRENT_TIME_FUNCTIONS = {"localtime", "gmtime", "ctime", "asctime", "strftime"}
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
            elif isinstance(node, ast.Attribute) and (_last_name(node.value), node.attr) in (
                WALL_CLOCK_METHODS
            ):
                problems.append(f"{path}:{node.lineno}: {_last_name(node.value)}.{node.attr}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and _last_name(node.func.value) == "time"
                and node.func.attr in CURRENT_TIME_FUNCTIONS
                and len(node.args) < (2 if node.func.attr == "strftime" else 1)
            ):
                problems.append(f"{path}:{node.lineno}: time.{node.func.attr}() reads the clock")
    assert problems == []


def _last_name(node: ast.expr) -> str | None:
    """``datetime`` for ``datetime`` and for ``datetime.datetime`` (the name before the dot)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _imported_modules(path: pathlib.Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def test_output_imports_no_trio_sockets_or_engine() -> None:
    problems: list[str] = []
    files = sorted((ROOT / "gossipper" / OUTPUT).rglob("*.py"))
    assert files
    for path in files:
        for lineno, module in _imported_modules(path):
            top = module.split(".")[0]
            if top in FORBIDDEN_IMPORTS or module.startswith("gossipper.engine"):
                problems.append(f"{path}:{lineno}: import {module}")
    assert problems == []


def test_import_linter_contracts_hold() -> None:
    executable = pathlib.Path(sys.executable).parent / "lint-imports"
    command = [str(executable)] if executable.exists() else ["lint-imports"]
    result = subprocess.run(
        [*command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout
