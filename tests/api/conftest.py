"""The API tests need the ``api`` extra (quart, hypercorn, pyjwt, prometheus-client)."""

from __future__ import annotations

import sys
import types

try:
    import gossipper.api.auth  # noqa: F401
except ImportError:  # until the auth branch is merged: its two exception types
    _shim = types.ModuleType("gossipper.api.auth")

    class LoginError(Exception):
        pass

    class TokenError(Exception):
        def __init__(self, reason: str) -> None:
            super().__init__(reason)
            self.reason = reason

    class LoginThrottled(LoginError):
        def __init__(self, retry_after_s: float) -> None:
            super().__init__("too many failed logins")
            self.retry_after_s = retry_after_s

    _shim.LoginError = LoginError  # type: ignore[attr-defined]
    _shim.LoginThrottled = LoginThrottled  # type: ignore[attr-defined]
    _shim.TokenError = TokenError  # type: ignore[attr-defined]
    sys.modules["gossipper.api.auth"] = _shim
