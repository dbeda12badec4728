"""Suite-wide settings: Hypothesis profiles.

Hypothesis loads its built-in ``ci`` profile whenever the ``CI`` variable is set, and that
profile is derandomized: every CI run would try the same examples forever. Here ``ci`` draws
fresh ones each run from a session seed printed in the report header (rerun a failure with
``--hypothesis-seed=N``; a failing example is also printed with its ``@reproduce_failure``
blob). Locally the ``default`` profile is random too; ``--hypothesis-profile=repeatable`` (or
``HYPOTHESIS_PROFILE=repeatable``) gives the same examples on every run.
"""

from __future__ import annotations

import os
import secrets

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=False,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
elif os.environ.get("CI"):
    # Hypothesis already chose "ci" on import; load it again to get the definition above.
    settings.load_profile("ci")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """In CI, one random seed for the whole session (before Hypothesis's plugin reads it)."""
    if os.environ.get("CI") and config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = str(secrets.randbits(32))


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.getoption("hypothesis_seed", None)
    profile = settings.get_current_profile_name()
    derandomized = settings.default.derandomize
    text = f"hypothesis: profile {profile!r}, derandomize={derandomized}"
    if seed is not None:
        text += f", seed {seed} (reproduce with --hypothesis-seed={seed})"
    return text


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # The header is hidden under -q (nox's "tests" session): repeat the seed where CI logs show it.
    seed = terminalreporter.config.getoption("hypothesis_seed", None)
    if seed is not None:
        terminalreporter.write_line(f"hypothesis seed {seed} (rerun with --hypothesis-seed={seed})")
