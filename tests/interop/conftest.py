from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture(scope="session")
def sipp_binary() -> str:
    """The real SIPp. In CI (CI set) a missing binary is a failure, never a skip."""
    path = shutil.which("sipp")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("sipp is not installed: .ci/run must apt-get install sip-tester")
        pytest.skip("sipp not installed (apt-get install -y sip-tester); required in CI")
    return path
