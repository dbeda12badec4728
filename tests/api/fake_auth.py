"""A small Authenticator for the API tests (HS256 tokens with pyjwt, users in a dict, the
audit log in a list), standing in for ``gossipper.api.auth`` where a test needs tokens it
crafts itself: expired, wrongly signed, unknown role."""

from __future__ import annotations

import time
from typing import Any

import jwt

from gossipper.api.auth import LoginError, TokenError
from gossipper.api.seams import ROLES, Principal

SECRET = "test-secret-0123456789abcdef0123456789"
ISSUER = "gossipper"
AUDIENCE = "gossipper-api"


def make_token(
    user: str,
    role: str,
    *,
    secret: str = SECRET,
    lifetime_s: float = 600.0,
    issued_at: float | None = None,
    **extra: Any,
) -> str:
    now = time.time() if issued_at is None else issued_at
    claims: dict[str, Any] = {
        "sub": user,
        "role": role,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now + lifetime_s),
        **extra,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


class FakeAuthenticator:
    """Implements ``gossipper.api.seams.Authenticator``."""

    def __init__(self, users: dict[str, tuple[str, str]]) -> None:
        self.users = users  # name -> (password, role)
        self.audit_lines: list[tuple[str, str, str, str, str, str]] = []

    async def login(self, user: str, password: str, client: str) -> str:
        known = self.users.get(user)
        if known is None or known[0] != password:
            raise LoginError()
        return make_token(user, known[1])

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token, SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("expired") from None
        except jwt.InvalidSignatureError:
            raise TokenError("bad_signature") from None
        except jwt.InvalidTokenError:
            raise TokenError("malformed") from None
        role = claims.get("role")
        if role not in ROLES:
            raise TokenError("unknown_role")
        return Principal(user=str(claims["sub"]), role=role)

    def audit(
        self, principal: Principal, action: str, target: str, detail: str, outcome: str = "ok"
    ) -> None:
        self.audit_lines.append((principal.user, principal.role, action, target, detail, outcome))
