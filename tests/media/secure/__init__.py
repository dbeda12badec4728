"""Tests of gossipper.media.secure (issue 18)."""

from __future__ import annotations

import importlib.util
import os

import pytest


def require(module: str) -> None:
    """Skip without the media-secure extra; in CI (CI set) its absence is a failure."""
    if importlib.util.find_spec(module) is None:
        message = f"{module} missing: install gossipper[media-secure] (part of the test extra)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message, allow_module_level=True)
