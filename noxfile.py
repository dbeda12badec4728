"""Developer sessions: ``nox -s lint typecheck tests compiled``; ``golden`` regenerates golden
files."""

from __future__ import annotations

import pathlib
import random
import shutil

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "compiled", "fuzz"]
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


FUZZ_TESTS = (
    "tests/sip/test_sip_fuzz.py",
    "tests/scenario/test_fuzz.py",
    "tests/engine/test_engine_fuzz.py",
)


@nox.session(python=False)
def fuzz(session: nox.Session) -> None:
    """The property tests with ten times the examples and a fresh random seed on every run
    (CI included: Hypothesis's CI profile would replay the same examples each time). A failure
    prints the falsifying example; ``nox -s fuzz -- SEED`` replays a run."""
    seed = session.posargs[0] if session.posargs else str(random.SystemRandom().randrange(2**32))
    session.log(f"hypothesis seed {seed} (replay: nox -s fuzz -- {seed})")
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--hypothesis-profile=default",
        f"--hypothesis-seed={seed}",
        "--timeout=600",
        *FUZZ_TESTS,
        env={"GOSSIPPER_FUZZ_EXAMPLES": "3000"},
    )


@nox.session(python=False)
def golden(session: nox.Session) -> None:
    """Regenerate tests/golden_csv/ on purpose; review the diff like code."""
    session.run("python", "-m", "tests.golden_tool", "--regenerate", *session.posargs)


@nox.session(python=False)
def compiled(session: nox.Session) -> None:
    """The whole suite again, against the mypyc-compiled hot path that ``pip install .`` builds.

    Works on a copy of the tree, so no compiled module can shadow the sources being edited.
    """
    root = pathlib.Path(__file__).resolve().parent
    copy = pathlib.Path(session.create_tmp()).resolve() / "compiled"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(
        root,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", ".nox", "build", "*.egg-info", "__pycache__", "*.so", ".*_cache"
        ),
    )
    session.chdir(copy)
    session.run("python", "setup.py", "--quiet", "build_ext", "--inplace")
    env = {"PYTHONPATH": str(copy)}
    # setup.py falls back to pure Python when compiling fails; here that must be an error.
    session.run(
        "python",
        "-c",
        "import gossipper.engine.call as m, sys; "
        "sys.exit(0 if m.__file__.endswith('.so') else f'not compiled: {m.__file__}')",
        env=env,
    )
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *session.posargs, env=env)
