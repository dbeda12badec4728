"""Users, passwords, tokens, login throttling and the audit log of the control plane.

The pieces, each usable alone and all put together by :func:`open_authenticator`:

- :class:`UserStore`: a SQLite file of users (name, role, argon2id hash, created, updated).
  Its methods are synchronous and block (hashing takes tens of milliseconds on purpose); the
  API calls them through ``trio.to_thread.run_sync``. Every call opens its own connection and
  closes it: worker threads then share nothing (no lock, no ``check_same_thread=False``), the
  ``gossipper auth`` command of another process can change users while a server runs (SQLite's
  file locks and a busy timeout order the writers), and the cost (well under a millisecond)
  is nothing next to the hash.
- :func:`load_or_create_secret`: the HMAC key of the tokens, from a 0600 file.
- :class:`TokenIssuer`: short-lived HS256 JWTs, verified with a fixed algorithm, issuer and
  audience; failures raise :class:`TokenError` with a stable ``reason``.
- :class:`LoginThrottle`: failed logins make the next attempts for the same user name and from
  the same client address wait, exponentially up to a cap.
- :class:`AuditLog`: one JSON object per line, appended.
- :class:`Authenticator`: the ``gossipper.api.seams.Authenticator`` the API uses.

No web framework is imported here; trio only by :meth:`Authenticator.login`. Nothing here is
imported by a plain run (``gossipper.cli.auth_command``, ``-api_addr`` and ``gossipper server``
import it when used).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime
import json
import os
import re
import secrets
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import argon2
import jwt

from gossipper.api.seams import ROLES, Principal, Role
from gossipper.errors import GossipperError

if TYPE_CHECKING:
    import trio

    from gossipper.api import seams

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFAULT_ISSUER",
    "DEFAULT_TOKEN_LIFETIME_S",
    "MIN_SECRET_BYTES",
    "TOKEN_ERROR_REASONS",
    "AuditLog",
    "AuthError",
    "Authenticator",
    "LoginError",
    "LoginThrottle",
    "LoginThrottled",
    "TokenError",
    "TokenErrorReason",
    "TokenIssuer",
    "UserError",
    "UserRecord",
    "UserStore",
    "default_audit_path",
    "default_auth_dir",
    "default_db_path",
    "default_secret_path",
    "load_or_create_secret",
    "open_authenticator",
    "parse_role",
    "validate_password",
    "validate_user_name",
]

Clock = Callable[[], float]
"""Seconds since the Unix epoch (``time.time``); tests pass a fake one."""

DEFAULT_ISSUER: Final = "gossipper"
DEFAULT_AUDIENCE: Final = "gossipper-api"
DEFAULT_TOKEN_LIFETIME_S: Final = 15 * 60
MAX_TOKEN_LIFETIME_S: Final = 24 * 3600
MIN_SECRET_BYTES: Final = 32
"""HS256 wants a key at least as long as its 256-bit output (RFC 7518 section 3.2)."""

MIN_PASSWORD_CHARS: Final = 8
MAX_PASSWORD_CHARS: Final = 1024
"""A cap so that a login request cannot make the server hash megabytes."""
MAX_USER_NAME_CHARS: Final = 64
_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_USER_NAME_RULE = (
    f"use 1 to {MAX_USER_NAME_CHARS} letters, digits, '.', '_', '@' or '-',"
    " starting with a letter or digit"
)

_SCHEMA_VERSION: Final = 1
_BUSY_TIMEOUT_S: Final = 5.0
_AUDIT_FIELD_MAX_CHARS: Final = 1024
"""Longer user names, targets and details are cut in the audit log (a login request can
carry any user name)."""


class AuthError(GossipperError):
    """Bad auth input or files: a user that does not exist, a name that breaks the rules, a
    secret file others can read. One line naming the file or name and the fix; exit 255."""


class UserError(AuthError):
    """A user-management request that cannot be done (the message says why and what to do)."""


class LoginError(Exception):
    """Wrong user name or password; the message is the same for both, so that a caller
    cannot learn which user names exist."""

    MESSAGE: Final = "wrong user name or password"

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)


class LoginThrottled(LoginError):
    """Too many failed logins for this user name or from this client: the attempt was refused
    without checking the password. ``retry_after_s`` says when to try again (HTTP 429's
    Retry-After)."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many failed logins; try again in {max(1, round(retry_after_s))} s")
        self.retry_after_s = retry_after_s


TokenErrorReason = Literal[
    "missing", "malformed", "expired", "bad_signature", "bad_claims", "unknown_role"
]
TOKEN_ERROR_REASONS: tuple[TokenErrorReason, ...] = (
    "missing",
    "malformed",
    "expired",
    "bad_signature",
    "bad_claims",
    "unknown_role",
)


class TokenError(Exception):
    """A token that does not authenticate anyone. ``reason`` is stable (an API error code):

    - ``missing``: no token, or an empty one;
    - ``malformed``: not three base64url parts of a JSON header and a JSON object;
    - ``expired``: past its ``exp``;
    - ``bad_signature``: signed with another key, or with another algorithm than HS256
      (``none`` included);
    - ``bad_claims``: a required claim (``exp``, ``iat``, ``nbf``, ``iss``, ``aud``, ``sub``,
      ``role``) missing or of the wrong type, another issuer or audience, or not valid yet;
    - ``unknown_role``: a ``role`` that is not one of ``seams.ROLES``.
    """

    def __init__(self, reason: TokenErrorReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: TokenErrorReason = reason
        self.detail = detail


# --- validation ---------------------------------------------------------------------------------


def validate_user_name(name: str) -> str:
    """``name`` if it follows the rule, else UserError naming the rule."""
    if not _USER_NAME.fullmatch(name):
        raise UserError(f"user name {name!r} is not valid: {_USER_NAME_RULE}")
    return name


def validate_password(password: str) -> str:
    """``password`` if its length is acceptable, else UserError saying the bounds."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise UserError(
            f"a password needs {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
            f" (this one has {len(password)})"
        )
    if not _is_utf8(password):
        raise UserError("a password must be valid Unicode text (it has a lone surrogate)")
    return password


def _is_utf8(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8: a JSON body can carry lone surrogates (\\ud800),
    which neither SQLite nor argon2 take."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_role(text: str) -> Role:
    """The role called ``text``, else UserError listing the roles."""
    for role in ROLES:
        if text == role:
            return role
    raise UserError(f"unknown role {text!r}: use one of {', '.join(ROLES)}")


def _rfc3339(epoch_s: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch_s, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- files --------------------------------------------------------------------------------------


def default_auth_dir() -> Path:
    """Where users, the token secret and the audit log live unless told otherwise:
    ``$XDG_DATA_HOME/gossipper`` (``~/.local/share/gossipper``)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "gossipper"


def default_db_path() -> Path:
    return default_auth_dir() / "users.sqlite"


def default_secret_path() -> Path:
    return default_auth_dir() / "token-secret"


def default_audit_path() -> Path:
    return default_auth_dir() / "audit.log"


def _make_parent(path: Path) -> None:
    # Only the user's own: the directory holds the hashes and the token key.
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise AuthError(f"{path.parent}: cannot create the directory: {exc.strerror}") from None


def _refuse_shared(path: Path, what: str) -> None:
    """AuthError if ``path`` is open to the group or others."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise AuthError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise AuthError(f"{path}: the {what} is not a regular file")
    if mode & 0o077:
        raise AuthError(
            f"{path}: the {what} is open to other users (mode {stat.S_IMODE(mode):04o});"
            f" run chmod 600 {path}"
        )


def _create_private(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; True if this call created it."""
    _make_parent(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise AuthError(f"{path}: cannot create the file: {exc.strerror}") from None
    os.close(fd)
    return True


def load_or_create_secret(path: str | os.PathLike[str], given: str | bytes | None = None) -> bytes:
    """The HMAC key of the tokens.

    ``given`` (a secret from a configuration) wins and ``path`` is not touched. Otherwise the
    file is read, or created with mode 0600 holding 32 random bytes as hex text. A file open
    to the group or others is refused (AuthError naming it and ``chmod 600``), as is a secret
    shorter than 32 bytes.
    """
    if given is not None:
        key = given.encode() if isinstance(given, str) else bytes(given)
        return _check_secret(key.strip(), "the given token secret")
    file = Path(path)
    if not file.exists():
        _make_parent(file)
        try:
            _create_secret(file)
        except OSError as exc:
            raise AuthError(f"{file}: cannot create the token secret: {exc.strerror}") from None
    _refuse_shared(file, "token secret")
    try:
        key = file.read_bytes().strip()
    except OSError as exc:
        raise AuthError(f"{file}: cannot read the token secret: {exc.strerror}") from None
    return _check_secret(key, f"{file}: the token secret")


def _create_secret(file: Path) -> None:
    # Written aside and linked into place: a second process starting at the same moment sees
    # either no file or a complete one, and the first link wins.
    aside = file.with_name(f".{file.name}.{secrets.token_hex(8)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(MIN_SECRET_BYTES) + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(aside, file)
    finally:
        os.unlink(aside)


def _check_secret(key: bytes, what: str) -> bytes:
    if len(key) < MIN_SECRET_BYTES:
        raise AuthError(
            f"{what} has {len(key)} bytes; use at least {MIN_SECRET_BYTES}"
            " (e.g. the output of: openssl rand -hex 32)"
        )
    return key


# --- users --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class UserRecord:
    """One user as listed (never the hash)."""

    name: str
    role: Role
    created: str
    """RFC 3339 UTC."""
    updated: str
    """RFC 3339 UTC: the last change of password or role."""


_CREATE_USERS = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    password_hash TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
)
"""


class UserStore:
    """The users table of a SQLite file (created with mode 0600 if absent).

    User names are compared without regard to ASCII case ("Alice" is "alice"), so that two
    accounts cannot differ only by case; a user is shown as first written.

    Raises AuthError when the file is open to other users, is not a database, or was made by
    a newer schema.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        hasher: argon2.PasswordHasher | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.path = Path(path)
        # argon2id with RFC 9106's low-memory profile (3 passes over 64 MiB, 4 lanes).
        self._hasher = hasher if hasher is not None else argon2.PasswordHasher()
        self._clock = clock
        self._dummy_hash: str | None = None
        _create_private(self.path)
        _refuse_shared(self.path, "user database")
        with self._connect() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > _SCHEMA_VERSION:
                raise AuthError(
                    f"{self.path}: the user database has schema {version}, newer than this"
                    f" gossipper's {_SCHEMA_VERSION}; upgrade gossipper"
                )
            db.execute(_CREATE_USERS)
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection of its own, in one transaction (committed unless an error leaves)."""
        try:
            db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise AuthError(f"{self.path}: cannot open the user database: {exc}") from None
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise AuthError(f"{self.path}: the user database cannot be used: {exc}") from None
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def _now(self) -> str:
        return _rfc3339(self._clock())

    def add(self, name: str, password: str, role: Role) -> UserRecord:
        """A new user. UserError if the name or password breaks the rules or the name is taken."""
        validate_user_name(name)
        validate_password(password)
        role = parse_role(role)
        password_hash = self._hasher.hash(password)
        now = self._now()
        with self._connect() as db:
            taken = db.execute("SELECT name FROM users WHERE name = ?", (name,)).fetchone()
            if taken is not None:
                raise UserError(
                    f"user {taken[0]!r} exists; change its password with"
                    f" gossipper auth passwd {taken[0]}"
                )
            db.execute(
                "INSERT INTO users (name, role, password_hash, created, updated)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, role, password_hash, now, now),
            )
        return UserRecord(name, role, now, now)

    def delete(self, name: str) -> None:
        """Forget a user. UserError if there is none of that name."""
        if not _is_utf8(name):
            raise self.no_such_user(name)
        with self._connect() as db:
            if db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise self.no_such_user(name)

    def set_password(self, name: str, password: str) -> None:
        validate_password(password)
        if not _is_utf8(name):
            raise self.no_such_user(name)
        password_hash = self._hasher.hash(password)
        with self._connect() as db:
            changed = db.execute(
                "UPDATE users SET password_hash = ?, updated = ? WHERE name = ?",
                (password_hash, self._now(), name),
            ).rowcount
            if changed == 0:
                raise self.no_such_user(name)

    def set_role(self, name: str, role: Role) -> None:
        role = parse_role(role)
        if not _is_utf8(name):
            raise self.no_such_user(name)
        with self._connect() as db:
            changed = db.execute(
                "UPDATE users SET role = ?, updated = ? WHERE name = ?",
                (role, self._now(), name),
            ).rowcount
            if changed == 0:
                raise self.no_such_user(name)

    def get(self, name: str) -> UserRecord | None:
        if not _is_utf8(name):
            return None
        with self._connect() as db:
            row = db.execute(
                "SELECT name, role, created, updated FROM users WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else _record(row)

    def list(self) -> list[UserRecord]:
        """Every user, by name."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT name, role, created, updated FROM users ORDER BY name"
            ).fetchall()
        return [_record(row) for row in rows]

    def check_password(self, name: str, password: str) -> Principal | None:
        """The principal when ``password`` is ``name``'s, else None.

        An unknown name costs a hash too, so that the time taken does not tell which names
        exist. A hash made with weaker parameters than the store's is replaced on success.
        """
        if len(password) > MAX_PASSWORD_CHARS or not _is_utf8(password) or not _is_utf8(name):
            # Never accepted, but still hashed: the time taken tells nothing.
            password = password[:MAX_PASSWORD_CHARS].encode("utf-8", "replace").decode("utf-8")
            name = ""
        with self._connect() as db:
            row = db.execute(
                "SELECT name, role, password_hash FROM users WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            self._verify(self._dummy(), password)
            return None
        stored_name, role_text, password_hash = str(row[0]), str(row[1]), str(row[2])
        if not self._verify(password_hash, password):
            return None
        if self._hasher.check_needs_rehash(password_hash):
            with self._connect() as db:
                db.execute(
                    "UPDATE users SET password_hash = ? WHERE name = ? AND password_hash = ?",
                    (self._hasher.hash(password), stored_name, password_hash),
                )
        return Principal(stored_name, _stored_role(role_text))

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
        return self._dummy_hash

    def no_such_user(self, name: str) -> UserError:
        """The error for a name that is not in the store."""
        return UserError(f"no user {name!r} in {self.path}; gossipper auth list shows the users")


def _stored_role(text: str) -> Role:
    for role in ROLES:
        if text == role:
            return role
    # The table's CHECK constraint keeps other values out.
    raise AssertionError(f"role {text!r} in the user database")


def _record(row: tuple[Any, ...]) -> UserRecord:
    return UserRecord(str(row[0]), _stored_role(str(row[1])), str(row[2]), str(row[3]))


# --- tokens -------------------------------------------------------------------------------------


class TokenIssuer:
    """Signs and checks HS256 JWTs carrying ``sub`` (the user) and ``role``.

    ``exp``, ``iat``, ``nbf``, ``iss`` and ``aud`` are always set and always checked; the
    algorithm is fixed (a token claiming ``none``, HS512 or RS256 is refused before its
    signature is looked at). ``clock`` is the time both for issuing and for checking, so that
    tests can expire a token without sleeping; ``leeway_s`` tolerates clocks of several hosts
    that disagree.
    """

    ALGORITHM: Final = "HS256"

    def __init__(
        self,
        secret: bytes,
        *,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
        lifetime_s: int = DEFAULT_TOKEN_LIFETIME_S,
        leeway_s: int = 0,
        clock: Clock = time.time,
    ) -> None:
        _check_secret(secret, "the token secret")
        if not 1 <= lifetime_s <= MAX_TOKEN_LIFETIME_S:
            raise AuthError(
                f"a token lifetime of {lifetime_s} s is out of range: use 1 to"
                f" {MAX_TOKEN_LIFETIME_S} s"
            )
        if leeway_s < 0:
            raise AuthError(f"a token leeway of {leeway_s} s is negative: use 0 or more")
        try:
            jwt.encode({}, secret, algorithm=self.ALGORITHM)
        except jwt.InvalidKeyError:
            # PyJWT refuses HMAC keys that look like public keys (algorithm confusion).
            raise AuthError(
                "the token secret looks like a PEM, DER, SSH or JWK key; use random text"
                " instead (e.g. the output of: openssl rand -hex 32)"
            ) from None
        self._secret = secret
        self.issuer = issuer
        self.audience = audience
        self.lifetime_s = lifetime_s
        self.leeway_s = leeway_s
        self._clock = clock

    def issue(self, principal: Principal) -> str:
        now = int(self._clock())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": principal.user,
            "role": principal.role,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_s,
        }
        return jwt.encode(claims, self._secret, algorithm=self.ALGORITHM)

    def verify(self, token: str | None) -> Principal:
        """The principal of a valid token; TokenError with the reason otherwise."""
        if not token:
            raise TokenError("missing", "no token")
        if not isinstance(token, str) or not token.isascii():
            # Base64url and dots only; a lone surrogate would not even encode.
            raise TokenError("malformed", "a token is ASCII text")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self.ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                # The times are checked below against our clock (PyJWT reads the system's).
                options={
                    "require": ["exp", "iat", "nbf", "iss", "aud", "sub"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "strict_aud": True,
                },
            )
        except jwt.InvalidAlgorithmError as exc:
            raise TokenError("bad_signature", str(exc)) from None
        except jwt.InvalidSignatureError:
            raise TokenError("bad_signature", "signature verification failed") from None
        except jwt.DecodeError as exc:
            raise TokenError("malformed", str(exc)) from None
        except jwt.InvalidTokenError as exc:
            # Missing claim, wrong issuer or audience, a sub that is not text.
            raise TokenError("bad_claims", str(exc)) from None
        return self._check_claims(claims)

    def _check_claims(self, claims: dict[str, Any]) -> Principal:
        now = self._clock()
        times: dict[str, int] = {}
        for name in ("exp", "iat", "nbf"):
            value = claims[name]
            if not isinstance(value, int) or isinstance(value, bool):
                raise TokenError("bad_claims", f"{name} is not a whole number of seconds")
            times[name] = value
        if now >= times["exp"] + self.leeway_s:
            raise TokenError("expired", "the token has expired; log in again")
        if times["nbf"] > now + self.leeway_s or times["iat"] > now + self.leeway_s:
            raise TokenError("bad_claims", "the token is not valid yet")
        user = claims["sub"]
        if not isinstance(user, str) or not user:
            raise TokenError("bad_claims", "sub is not a user name")
        if "role" not in claims:
            raise TokenError("bad_claims", 'token is missing the "role" claim')
        role = claims["role"]
        for known in ROLES:
            if role == known:
                return Principal(user, known)
        raise TokenError("unknown_role", f"role {role!r} is not one of {', '.join(ROLES)}")


# --- login throttle -----------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class _Strikes:
    failures: int = 0
    free_at: float = 0.0
    """Monotonic time before which the next attempt waits."""
    last_s: float = 0.0
    """Monotonic time of the last attempt or failure, for forgetting."""


class LoginThrottle:
    """Slows down failed logins per user name and per client address.

    After ``n`` failures a key (a user name, or a client address) makes the next attempt
    wait ``base_delay_s * 2 ** (n - 1)``, at most ``max_delay_s``; an attempt waits for the
    later of its user's and its client's. Attempts that arrive while others are waiting queue
    behind them (each takes its turn one delay after the previous one), so parallel guesses
    go no faster than serial ones; an attempt that would wait longer than ``max_wait_s`` is
    refused at once instead. A success clears both keys; a key is forgotten ``forget_after_s``
    after its last attempt; at most ``max_keys`` keys are remembered (the least recently
    used go first), so memory stays bounded whatever names a client sprays.

    Times come from ``clock`` (monotonic seconds) so that tests need not sleep.
    """

    def __init__(
        self,
        *,
        base_delay_s: float = 0.5,
        max_delay_s: float = 30.0,
        max_wait_s: float = 60.0,
        forget_after_s: float = 15 * 60.0,
        max_keys: int = 10_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.max_wait_s = max_wait_s
        self.forget_after_s = forget_after_s
        self.max_keys = max_keys
        self._clock = clock
        self._keys: collections.OrderedDict[tuple[str, str], _Strikes] = collections.OrderedDict()

    def delay_after(self, failures: int) -> float:
        """The wait one key imposes after ``failures`` failures."""
        if failures <= 0:
            return 0.0
        # The exponent is capped: 2.0 ** 1100 raises OverflowError, and failures keep counting.
        return min(self.max_delay_s, self.base_delay_s * 2.0 ** min(failures - 1, 64))

    def __len__(self) -> int:
        return len(self._keys)

    @staticmethod
    def _pair(user: str, client: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("user", user.casefold()[: MAX_USER_NAME_CHARS * 2]), ("client", client)

    def admit(self, user: str, client: str) -> float:
        """Seconds this attempt must wait before its password is checked; takes its turn.

        Raises:
            LoginThrottled: the wait would exceed ``max_wait_s``; nothing is recorded.
        """
        now = self._clock()
        self._forget_idle(now)
        strikes = [self._keys.get(key) for key in self._pair(user, client)]
        start = max([now, *(s.free_at for s in strikes if s is not None)])
        if start - now > self.max_wait_s:
            raise LoginThrottled(start - now)
        for key, known in zip(self._pair(user, client), strikes, strict=True):
            if known is not None and known.failures:
                # The next attempt comes one delay after this one, as if this one fails.
                known.free_at = start + self.delay_after(known.failures)
                known.last_s = now
                self._keys.move_to_end(key)
        return start - now

    def failed(self, user: str, client: str) -> None:
        now = self._clock()
        for key in self._pair(user, client):
            known = self._keys.get(key)
            if known is None:
                known = self._keys[key] = _Strikes()
            known.failures += 1
            known.free_at = max(known.free_at, now + self.delay_after(known.failures))
            known.last_s = now
            self._keys.move_to_end(key)
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def succeeded(self, user: str, client: str) -> None:
        for key in self._pair(user, client):
            self._keys.pop(key, None)

    def _forget_idle(self, now: float) -> None:
        # Keys are kept in order of last use: the idle ones are at the front.
        while self._keys:
            key, oldest = next(iter(self._keys.items()))
            if now - oldest.last_s < self.forget_after_s or oldest.free_at > now:
                break
            del self._keys[key]


# --- audit log ----------------------------------------------------------------------------------


class AuditLog:
    """Appends one JSON object per line: ``time`` (RFC 3339, UTC), ``user``, ``role``,
    ``action``, ``target``, ``outcome``, ``detail``.

    The file is created with mode 0600 and opened for appending only: it is never truncated,
    and each line goes to the kernel in one ``write`` as soon as it is made (no buffer to lose
    in a crash of the process; not fsynced, which would cost a disk flush per command).
    Strings are JSON-escaped to ASCII, so a user name or run name with a line break cannot
    forge a line.
    """

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        _make_parent(self.path)
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuthError(f"{self.path}: cannot open the audit log: {exc.strerror}") from None

    def write(
        self,
        user: str,
        role: str | None,
        action: str,
        target: str,
        detail: str = "",
        outcome: str = "ok",
    ) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path}: the audit log is closed")
        record = {
            "time": _rfc3339(self._clock()),
            "user": _cut(user),
            "role": role,
            "action": _cut(action),
            "target": _cut(target),
            "outcome": _cut(outcome),
            "detail": _cut(detail),
        }
        # ASCII only: the escapes keep every line break (U+2028 too) inside its string.
        line = json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n"
        data = line.encode("ascii")
        while data:  # a regular file takes it all at once but for a full disk
            data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cut(text: str) -> str:
    return text if len(text) <= _AUDIT_FIELD_MAX_CHARS else text[:_AUDIT_FIELD_MAX_CHARS] + "…"


# --- the authenticator --------------------------------------------------------------------------


class Authenticator:
    """Users, tokens, throttle and audit log behind ``gossipper.api.seams.Authenticator``."""

    HASHING_THREADS: Final = 2
    """Logins hashed at once: each argon2 hash holds 64 MiB, so a burst of logins must not
    take all of Trio's 40 worker threads."""

    def __init__(
        self,
        store: UserStore,
        issuer: TokenIssuer,
        audit_log: AuditLog,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self.store = store
        self.issuer = issuer
        self.audit_log = audit_log
        self.throttle = throttle if throttle is not None else LoginThrottle()
        self._limiter: trio.CapacityLimiter | None = None

    async def login(self, user: str, password: str, client: str) -> str:
        import trio

        if not isinstance(user, str) or not isinstance(password, str):
            # A JSON body may carry anything; refuse it like a wrong password, unthrottled
            # because no password was tried.
            self.audit_log.write(repr(user), None, "login", client, "not text", "refused")
            raise LoginError()
        try:
            wait_s = self.throttle.admit(user, client)
        except LoginThrottled:
            self.audit_log.write(user, None, "login", client, "throttled", "refused")
            raise
        if wait_s > 0:
            await trio.sleep(wait_s)
        if self._limiter is None:
            self._limiter = trio.CapacityLimiter(self.HASHING_THREADS)
        principal = await trio.to_thread.run_sync(
            self.store.check_password, user, password, limiter=self._limiter
        )
        if principal is None:
            self.throttle.failed(user, client)
            self.audit_log.write(user, None, "login", client, "wrong user name or password",
                                 "failed")  # fmt: skip
            raise LoginError()
        self.throttle.succeeded(user, client)
        self.audit_log.write(principal.user, principal.role, "login", client)
        return self.issuer.issue(principal)

    def verify(self, token: str) -> Principal:
        return self.issuer.verify(token)

    def audit(
        self, principal: Principal, action: str, target: str, detail: str, outcome: str = "ok"
    ) -> None:
        self.audit_log.write(principal.user, principal.role, action, target, detail, outcome)

    def close(self) -> None:
        self.audit_log.close()


def open_authenticator(
    db_path: str | os.PathLike[str] | None = None,
    secret_path: str | os.PathLike[str] | None = None,
    audit_path: str | os.PathLike[str] | None = None,
    *,
    secret: str | bytes | None = None,
    token_lifetime_s: int = DEFAULT_TOKEN_LIFETIME_S,
    issuer: str = DEFAULT_ISSUER,
    audience: str = DEFAULT_AUDIENCE,
    leeway_s: int = 0,
    hasher: argon2.PasswordHasher | None = None,
    throttle: LoginThrottle | None = None,
    clock: Clock = time.time,
) -> Authenticator:
    """The authenticator of a server or a run with ``-api_addr``.

    A path left None is the default in :func:`default_auth_dir` (``users.sqlite``,
    ``token-secret``, ``audit.log``); files that do not exist are created with mode 0600.
    ``secret`` (from a configuration) replaces the secret file.

    Raises:
        AuthError: a file cannot be created or read, is open to other users, or the secret
            is too short.
    """
    store = UserStore(db_path if db_path is not None else default_db_path(), hasher=hasher,
                      clock=clock)  # fmt: skip
    key = load_or_create_secret(
        secret_path if secret_path is not None else default_secret_path(), given=secret
    )
    tokens = TokenIssuer(
        key,
        issuer=issuer,
        audience=audience,
        lifetime_s=token_lifetime_s,
        leeway_s=leeway_s,
        clock=clock,
    )
    log = AuditLog(audit_path if audit_path is not None else default_audit_path(), clock=clock)
    return Authenticator(store, tokens, log, throttle)


if TYPE_CHECKING:

    def _implements_the_seam(authenticator: Authenticator) -> seams.Authenticator:
        return authenticator
