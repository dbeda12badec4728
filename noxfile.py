"""Developer sessions: ``nox -s lint typecheck tests``; ``golden`` regenerates golden files."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.default_venv_backend = "venv"


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    session.run("ruff", "check", "gossipper", "tests", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "gossipper", "tests", "bench", "noxfile.py")


@nox.session(python=False)
def typecheck(session: nox.Session) -> None:
    session.run("mypy", "--strict", "gossipper")
    session.run("lint-imports")


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session(python=False)
def golden(session: nox.Session) -> None:
    """Regenerate tests/golden_csv/ on purpose; review the diff like code."""
    session.run("python", "-m", "tests.golden_tool", "--regenerate", *session.posargs)
