"""gossipper.api.auth: users, secrets, tokens, the login throttle, the audit log and the
authenticator, checked against independent decoders and the bytes on disk."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import sqlite3
import stat
from pathlib import Path
from typing import Any

import argon2
import jwt
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gossipper.api import auth, seams
from gossipper.api.auth import (
    TOKEN_ERROR_REASONS,
    AuditLog,
    Authenticator,
    AuthError,
    LoginError,
    LoginThrottle,
    LoginThrottled,
    TokenError,
    TokenIssuer,
    UserError,
    UserStore,
    load_or_create_secret,
    open_authenticator,
)
from gossipper.api.seams import Principal

# Cheap parameters: the tests hash dozens of passwords; the product's default is RFC 9106's
# low-memory profile.
CHEAP = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
SECRET = b"0123456789abcdef0123456789abcdef"
T0 = 1_700_000_000


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _store(tmp_path: Path, **kwargs: Any) -> UserStore:
    return UserStore(tmp_path / "users.sqlite", hasher=CHEAP, **kwargs)


# --- users --------------------------------------------------------------------------------------


def test_users_add_list_change_delete(tmp_path: Path) -> None:
    clock = FakeClock()
    store = _store(tmp_path, clock=clock)
    store.add("alice", "correct horse", "operator")
    clock.now += 60
    store.add("bob", "battery staple", "viewer")
    assert [(u.name, u.role) for u in store.list()] == [("alice", "operator"), ("bob", "viewer")]
    assert store.list()[0].created == "2023-11-14T22:13:20.000Z"

    clock.now += 60
    store.set_role("bob", "admin")
    store.set_password("alice", "new password!")
    bob = store.get("bob")
    assert bob is not None and bob.role == "admin"
    assert bob.created == "2023-11-14T22:14:20.000Z" and bob.updated == "2023-11-14T22:15:20.000Z"
    assert store.check_password("alice", "correct horse") is None
    assert store.check_password("alice", "new password!") == Principal("alice", "operator")

    store.delete("bob")
    assert [u.name for u in store.list()] == ["alice"]
    assert store.get("bob") is None


def test_user_names_ignore_case_and_keep_their_first_spelling(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.add("Alice", "correct horse", "viewer")
    with pytest.raises(UserError, match="exists"):
        store.add("alice", "other password", "admin")
    assert store.check_password("ALICE", "correct horse") == Principal("Alice", "viewer")


@pytest.mark.parametrize(
    "name", ["", "-rf", ".hidden", "a b", "x' OR '1'='1", '"; DROP TABLE users; --', "é", "a" * 65]
)
def test_bad_user_names_are_refused_naming_the_rule(tmp_path: Path, name: str) -> None:
    store = _store(tmp_path)
    with pytest.raises(UserError, match="letters, digits") as caught:
        store.add(name, "correct horse", "viewer")
    assert "\n" not in str(caught.value)
    assert store.list() == []


def test_password_length_and_role_are_checked(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(UserError, match="8 to 1024 characters"):
        store.add("alice", "short", "viewer")
    with pytest.raises(UserError, match="8 to 1024 characters"):
        store.add("alice", "x" * 1025, "viewer")
    with pytest.raises(UserError, match="unknown role 'root': use one of viewer, operator, admin"):
        store.add("alice", "correct horse", "root")  # type: ignore[arg-type]
    store.add("alice", "correct horse", "viewer")
    with pytest.raises(UserError, match="no user 'carol'"):
        store.set_password("carol", "correct horse")
    with pytest.raises(UserError, match="no user 'carol'"):
        store.set_role("carol", "admin")
    with pytest.raises(UserError, match="no user 'carol'"):
        store.delete("carol")


INJECTIONS = [
    "x' OR '1'='1",
    "x' OR 1=1 --",
    '"; DROP TABLE users; --',
    "alice' --",
    "alice'; UPDATE users SET role='admin'; --",
    "%",
    "_____",
    "alice\ud800",
    "\udfff",
]


def test_sql_metacharacters_in_names_and_passwords_do_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.add("alice", "correct horse", "viewer")
    # A password made of SQL is just a password.
    store.add("bob", "x' OR '1'='1", "viewer")
    store.set_password("alice", "'); DROP TABLE users; --")
    for text in INJECTIONS:
        assert store.check_password(text, "correct horse") is None
        assert store.check_password(text, text) is None
        assert store.check_password("alice", text) is None
        assert store.get(text) is None
        with pytest.raises(UserError, match="no user"):
            store.delete(text)
        with pytest.raises(UserError, match="no user"):
            store.set_role(text, "admin")
        with pytest.raises(UserError, match="no user"):
            store.set_password(text, "correct horse")
    assert store.check_password("alice", "'); DROP TABLE users; --") == Principal("alice", "viewer")
    assert store.check_password("bob", "x' OR '1'='1") == Principal("bob", "viewer")
    assert [(u.name, u.role) for u in store.list()] == [("alice", "viewer"), ("bob", "viewer")]


def test_a_stored_name_made_of_sql_matches_only_itself(tmp_path: Path) -> None:
    # A row the validation would refuse (written by hand): the queries still take it as data.
    store = _store(tmp_path)
    store.add("alice", "correct horse", "admin")
    odd = "x' OR '1'='1"
    with sqlite3.connect(store.path) as db:
        db.execute(
            "INSERT INTO users VALUES (?, 'viewer', ?, 'now', 'now')", (odd, CHEAP.hash("pw-odd-1"))
        )
    assert store.check_password(odd, "pw-odd-1") == Principal(odd, "viewer")
    assert store.check_password(odd, "correct horse") is None
    assert store.check_password("alice", "pw-odd-1") is None
    store.delete(odd)
    assert [u.name for u in store.list()] == ["alice"]


def test_the_database_never_holds_a_clear_password(tmp_path: Path) -> None:
    store = _store(tmp_path)
    passwords = ["Tr0ub4dor&3-first", "second-Pa55word", "x' OR '1'='1 third"]
    store.add("alice", passwords[0], "admin")
    store.add("bob", passwords[2], "viewer")
    store.set_password("alice", passwords[1])
    store.check_password("alice", passwords[1])
    files = [p for p in tmp_path.iterdir() if p.name.startswith("users.sqlite")]
    data = b"".join(p.read_bytes() for p in files)
    for password in passwords:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert password.encode(encoding) not in data, (password, encoding)
    with sqlite3.connect(store.path) as db:
        hashes = [row[0] for row in db.execute("SELECT password_hash FROM users")]
    assert len(hashes) == 2 and all(h.startswith("$argon2id$") for h in hashes)


def test_the_default_hash_is_argon2id_with_rfc9106_low_memory_parameters(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.sqlite")
    store.add("alice", "correct horse", "viewer")
    with sqlite3.connect(store.path) as db:
        (password_hash,) = db.execute("SELECT password_hash FROM users").fetchone()
    assert re.match(r"\$argon2id\$v=19\$m=65536,t=3,p=4\$", password_hash)


def test_a_weaker_hash_is_upgraded_on_login(tmp_path: Path) -> None:
    _store(tmp_path).add("alice", "correct horse", "viewer")
    stronger = argon2.PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    store = UserStore(tmp_path / "users.sqlite", hasher=stronger)
    assert store.check_password("alice", "wrong password") is None
    with sqlite3.connect(store.path) as db:
        assert ",t=1," in db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert store.check_password("alice", "correct horse") == Principal("alice", "viewer")
    with sqlite3.connect(store.path) as db:
        assert "m=16,t=2,p=1" in db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert store.check_password("alice", "correct horse") == Principal("alice", "viewer")


def test_the_database_is_created_0600_in_a_0700_directory(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = UserStore(tmp_path / "new" / "users.sqlite", hasher=CHEAP)
        store.add("alice", "correct horse", "viewer")
    finally:
        os.umask(old)
    assert _mode(store.path) == 0o600
    assert _mode(store.path.parent) == 0o700


def test_a_database_open_to_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users.sqlite"
    _store(tmp_path)
    path.chmod(0o644)
    with pytest.raises(AuthError) as caught:
        UserStore(path, hasher=CHEAP)
    assert str(caught.value) == (
        f"{path}: the user database is open to other users (mode 0644); run chmod 600 {path}"
    )


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users.sqlite"
    path.write_bytes(b"this is not a database, just text " * 100)
    path.chmod(0o600)
    with pytest.raises(AuthError, match=f"{path}: the user database cannot be used"):
        UserStore(path, hasher=CHEAP)


def test_a_database_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users.sqlite"
    _store(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 7")
    with pytest.raises(AuthError, match="schema 7, newer than this gossipper's 1; upgrade"):
        UserStore(path, hasher=CHEAP)


def test_threads_each_use_their_own_connection(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.add("alice", "correct horse", "viewer")

    async def main() -> list[Principal | None]:
        results: list[Principal | None] = []

        async def one(password: str) -> None:
            results.append(await trio.to_thread.run_sync(store.check_password, "alice", password))

        async with trio.open_nursery() as nursery:
            for i in range(8):
                nursery.start_soon(one, "correct horse" if i % 2 else "wrong horse")
        return results

    results = trio.run(main)
    assert sorted(map(str, results)) == sorted(
        ["None"] * 4 + [str(Principal("alice", "viewer"))] * 4
    )


# --- secret -------------------------------------------------------------------------------------


def test_a_secret_is_created_0600_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "token-secret"
    old = os.umask(0)
    try:
        first = load_or_create_secret(path)
    finally:
        os.umask(old)
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert re.fullmatch(rb"[0-9a-f]{64}", first)
    assert load_or_create_secret(path) == first
    assert load_or_create_secret(tmp_path / "other") != first
    assert [p.name for p in path.parent.iterdir()] == ["token-secret"]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o606])
def test_a_secret_open_to_others_is_refused_naming_chmod(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "token-secret"
    path.write_text("k" * 40)
    path.chmod(mode)
    with pytest.raises(AuthError) as caught:
        load_or_create_secret(path)
    assert str(caught.value) == (
        f"{path}: the token secret is open to other users (mode {mode:04o}); run chmod 600 {path}"
    )


def test_a_short_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "token-secret"
    path.write_text("too short\n")
    path.chmod(0o600)
    with pytest.raises(AuthError, match="token secret has 9 bytes; use at least 32"):
        load_or_create_secret(path)
    with pytest.raises(AuthError, match="given token secret has 5 bytes"):
        load_or_create_secret(path, given="short")


def test_a_given_secret_wins_and_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "token-secret"
    assert load_or_create_secret(path, given="s" * 32) == b"s" * 32
    assert not path.exists()


# --- tokens -------------------------------------------------------------------------------------


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(
    header: dict[str, Any], claims: dict[str, Any], key: bytes = SECRET, digest: str = "sha256"
) -> str:
    """A JWT made by hand (no PyJWT), signed with HMAC-``digest`` whatever the header says."""
    head = _b64encode(json.dumps(header).encode())
    body = _b64encode(json.dumps(claims).encode())
    mac = hmac.new(key, f"{head}.{body}".encode(), digest).digest()
    return f"{head}.{body}.{_b64encode(mac)}"


def _claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": "gossipper",
        "aud": "gossipper-api",
        "sub": "alice",
        "role": "operator",
        "iat": T0,
        "nbf": T0,
        "exp": T0 + 900,
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    return claims


HS256 = {"alg": "HS256", "typ": "JWT"}


def test_a_token_decodes_independently_to_the_known_claims() -> None:
    clock = FakeClock(T0 + 0.75)
    token = TokenIssuer(SECRET, clock=clock).issue(Principal("alice", "operator"))
    head, body, signature = token.split(".")
    assert json.loads(_b64decode(head)) == HS256
    assert json.loads(_b64decode(body)) == _claims()
    expected = hmac.new(SECRET, f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert _b64decode(signature) == expected
    decoded = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience="gossipper-api",
        issuer="gossipper",
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert decoded == _claims()


def test_a_hand_made_token_verifies() -> None:
    issuer = TokenIssuer(SECRET, clock=FakeClock(T0 + 10))
    assert issuer.verify(_sign(HS256, _claims(role="admin"))) == Principal("alice", "admin")


def test_lifetime_issuer_and_audience_are_configurable() -> None:
    clock = FakeClock()
    issuer = TokenIssuer(SECRET, issuer="lab", audience="ci", lifetime_s=60, clock=clock)
    token = issuer.issue(Principal("bob", "viewer"))
    assert json.loads(_b64decode(token.split(".")[1])) == _claims(
        iss="lab", aud="ci", sub="bob", role="viewer", exp=T0 + 60
    )
    clock.now = T0 + 59
    assert issuer.verify(token) == Principal("bob", "viewer")
    clock.now = T0 + 60
    with pytest.raises(TokenError) as caught:
        issuer.verify(token)
    assert caught.value.reason == "expired"
    # The default issuer's audience does not take it.
    with pytest.raises(TokenError) as caught:
        TokenIssuer(SECRET, clock=FakeClock()).verify(token)
    assert caught.value.reason == "bad_claims"


def test_leeway_tolerates_a_clock_that_is_behind() -> None:
    clock = FakeClock(T0 + 905)
    token = _sign(HS256, _claims())
    assert TokenIssuer(SECRET, leeway_s=10, clock=clock).verify(token).user == "alice"
    with pytest.raises(TokenError):
        TokenIssuer(SECRET, clock=clock).verify(token)


def _none_token() -> str:
    head = _b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{head}.{_b64encode(json.dumps(_claims(role='admin')).encode())}."


def _tampered() -> str:
    head, _, signature = _sign(HS256, _claims(role="viewer")).split(".")
    return f"{head}.{_b64encode(json.dumps(_claims(role='admin')).encode())}.{signature}"


def _hs512() -> str:
    return _sign({"alg": "HS512", "typ": "JWT"}, _claims(), digest="sha512")


def _rs256_signed_with_the_hmac_key() -> str:
    # Algorithm confusion: the header claims RS256, the signature is HMAC with our key.
    return _sign({"alg": "RS256", "typ": "JWT"}, _claims(role="admin"))


CRAFTED: list[tuple[str, str | None, str]] = [
    ("no token", None, "missing"),
    ("empty token", "", "missing"),
    ("garbage", "garbage", "malformed"),
    ("two parts", "abc.def", "malformed"),
    ("bad base64", "!!!.???.***", "malformed"),
    ("not ASCII", "é.é.é", "malformed"),
    ("lone surrogate", "a\ud800.b.c", "malformed"),
    ("four parts", _sign(HS256, _claims()) + ".x", "malformed"),
    ("header not JSON", f"{_b64encode(b'nope')}.{_b64encode(b'{}')}.x", "malformed"),
    ("claims a list", _sign(HS256, ["alice"]), "malformed"),  # type: ignore[arg-type]
    ("expired", _sign(HS256, _claims(exp=T0 + 100)), "expired"),
    ("wrong key", _sign(HS256, _claims(), key=b"another-secret-" * 3), "bad_signature"),
    ("tampered claims", _tampered(), "bad_signature"),
    ("alg none", _none_token(), "bad_signature"),
    ("alg HS512", _hs512(), "bad_signature"),
    ("alg RS256 confusion", _rs256_signed_with_the_hmac_key(), "bad_signature"),
    ("wrong audience", _sign(HS256, _claims(aud="someone-else")), "bad_claims"),
    ("audience list", _sign(HS256, _claims(aud=["gossipper-api", "x"])), "bad_claims"),
    ("wrong issuer", _sign(HS256, _claims(iss="mallory")), "bad_claims"),
    ("no exp", _sign(HS256, _claims(exp=None)), "bad_claims"),
    ("exp as text", _sign(HS256, _claims(exp=str(T0 + 900))), "bad_claims"),
    ("no iat", _sign(HS256, _claims(iat=None)), "bad_claims"),
    ("no nbf", _sign(HS256, _claims(nbf=None)), "bad_claims"),
    ("not yet valid", _sign(HS256, _claims(nbf=T0 + 200)), "bad_claims"),
    ("issued in the future", _sign(HS256, _claims(iat=T0 + 200)), "bad_claims"),
    ("no sub", _sign(HS256, _claims(sub=None)), "bad_claims"),
    ("sub a number", _sign(HS256, _claims(sub=7)), "bad_claims"),
    ("no iss", _sign(HS256, _claims(iss=None)), "bad_claims"),
    ("no aud", _sign(HS256, _claims(aud=None)), "bad_claims"),
    ("missing role", _sign(HS256, _claims(role=None)), "bad_claims"),
    ("unknown role", _sign(HS256, _claims(role="root")), "unknown_role"),
    ("role of another type", _sign(HS256, _claims(role=["admin"])), "unknown_role"),
]


@pytest.mark.parametrize(("token", "reason"), [c[1:] for c in CRAFTED], ids=[c[0] for c in CRAFTED])
def test_a_crafted_token_is_refused_with_its_reason(token: str | None, reason: str) -> None:
    issuer = TokenIssuer(SECRET, clock=FakeClock(T0 + 150))
    with pytest.raises(TokenError) as caught:
        issuer.verify(token)
    assert caught.value.reason == reason, caught.value


def test_every_reason_is_produced_by_some_crafted_token() -> None:
    assert {reason for *_, reason in CRAFTED} == set(TOKEN_ERROR_REASONS)


def test_token_settings_out_of_range_are_refused() -> None:
    with pytest.raises(AuthError, match="token lifetime of 0 s is out of range"):
        TokenIssuer(SECRET, lifetime_s=0)
    with pytest.raises(AuthError, match="use 1 to 86400 s"):
        TokenIssuer(SECRET, lifetime_s=86401)
    with pytest.raises(AuthError, match="at least 32"):
        TokenIssuer(b"short")
    with pytest.raises(AuthError, match="looks like a PEM, DER, SSH or JWK key"):
        TokenIssuer(b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtKc2l0ZXN0a2V5 test@example")


# --- throttle -----------------------------------------------------------------------------------


def test_failed_logins_grow_the_delay_up_to_the_cap() -> None:
    clock = FakeClock(100.0)
    throttle = LoginThrottle(base_delay_s=0.5, max_delay_s=4.0, max_wait_s=10.0, clock=clock)
    waits = []
    for _ in range(7):
        wait = throttle.admit("alice", "10.0.0.1")
        waits.append(wait)
        clock.now += wait
        throttle.failed("alice", "10.0.0.1")
    assert waits == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    clock.now += 1.5
    assert throttle.admit("alice", "10.0.0.1") == 2.5  # the time left of the last delay


def test_a_success_resets_the_delay() -> None:
    clock = FakeClock(100.0)
    throttle = LoginThrottle(base_delay_s=1.0, clock=clock)
    for _ in range(3):
        clock.now += throttle.admit("alice", "10.0.0.1")
        throttle.failed("alice", "10.0.0.1")
    assert throttle.admit("alice", "10.0.0.1") == 4.0
    clock.now += 4.0
    throttle.succeeded("alice", "10.0.0.1")
    assert throttle.admit("alice", "10.0.0.1") == 0.0
    assert len(throttle) == 0


def test_the_delay_follows_the_user_name_and_the_client() -> None:
    clock = FakeClock(100.0)
    throttle = LoginThrottle(base_delay_s=1.0, clock=clock)
    throttle.failed("alice", "10.0.0.1")
    throttle.failed("alice", "10.0.0.1")
    # The same user from elsewhere, and another user from the same client, wait too.
    assert throttle.admit("ALICE", "10.0.0.2") == 2.0
    assert throttle.admit("bob", "10.0.0.1") > 0
    # Neither the user nor the client has failed: no wait.
    assert throttle.admit("bob", "10.0.0.3") == 0.0


def test_parallel_attempts_queue_behind_each_other_and_excess_is_refused() -> None:
    clock = FakeClock(100.0)
    throttle = LoginThrottle(base_delay_s=1.0, max_delay_s=8.0, max_wait_s=5.0, clock=clock)
    for _ in range(2):
        clock.now += throttle.admit("alice", "10.0.0.1")
        throttle.failed("alice", "10.0.0.1")
    # Guesses at once: each takes its turn one delay (2 s) after the previous one, and the one
    # that would wait past max_wait_s (5 s) is refused without being counted.
    assert [throttle.admit("alice", "10.0.0.9") for _ in range(2)] == [2.0, 4.0]
    with pytest.raises(LoginThrottled) as caught:
        throttle.admit("alice", "10.0.0.9")
    assert caught.value.retry_after_s == 6.0
    assert str(caught.value) == "too many failed logins; try again in 6 s"
    clock.now += 6.0
    assert throttle.admit("alice", "10.0.0.9") == 0.0
    assert isinstance(caught.value, LoginError)


def test_idle_keys_are_forgotten_and_memory_is_bounded() -> None:
    clock = FakeClock(100.0)
    throttle = LoginThrottle(base_delay_s=1.0, forget_after_s=60.0, max_keys=50, clock=clock)
    for i in range(1000):
        throttle.failed(f"user{i}", f"10.0.{i // 256}.{i % 256}")
    assert len(throttle) == 50
    # The most recent keys are the ones kept.
    assert throttle.admit("user999", "192.0.2.1") == 1.0
    assert throttle.admit("user0", "192.0.2.1") == 0.0
    clock.now += 61.0
    throttle.admit("someone", "192.0.2.2")
    assert len(throttle) == 0


# --- audit log ----------------------------------------------------------------------------------

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_audit_lines_are_json_appended_and_0600(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.log"
    clock = FakeClock(T0 + 0.25)
    old = os.umask(0)
    try:
        log = AuditLog(path, clock=clock)
    finally:
        os.umask(old)
    with log:
        log.write("alice", "operator", "rate", "uac1", "rate 10 -> 20")
        # Visible before close: nothing waits in a buffer.
        assert len(_lines(path)) == 1
        clock.now += 1
        log.write("bob", None, "login", "127.0.0.1", "wrong user name or password", "failed")
    assert _mode(path) == 0o600
    with AuditLog(path, clock=clock) as again:
        again.write("carol", "admin", "delete", "uac1", outcome="refused")
    records = _lines(path)
    assert records == [
        {
            "time": "2023-11-14T22:13:20.250Z",
            "user": "alice",
            "role": "operator",
            "action": "rate",
            "target": "uac1",
            "outcome": "ok",
            "detail": "rate 10 -> 20",
        },
        {
            "time": "2023-11-14T22:13:21.250Z",
            "user": "bob",
            "role": None,
            "action": "login",
            "target": "127.0.0.1",
            "outcome": "failed",
            "detail": "wrong user name or password",
        },
        {
            "time": "2023-11-14T22:13:21.250Z",
            "user": "carol",
            "role": "admin",
            "action": "delete",
            "target": "uac1",
            "outcome": "refused",
            "detail": "",
        },
    ]
    assert all(RFC3339_UTC.fullmatch(r["time"]) for r in records)


def test_audit_fields_cannot_forge_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    with AuditLog(path) as log:
        forged = 'x"}\n{"user":"admin","action":"delete"'
        log.write(forged, None, "login", "run\nname", "é \x00 \u2028", "failed")
        log.write("a" * 5000, None, "login", "t")
    text = path.read_text()
    assert text.isascii()  # no U+2028 either, which some readers take for a line break
    records = _lines(path)
    assert len(records) == 2
    assert records[0]["user"] == forged and records[0]["target"] == "run\nname"
    assert records[0]["detail"] == "é \x00 \u2028"
    assert len(records[1]["user"]) == 1025


def test_the_audit_log_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text('{"old": true}\n')
    path.chmod(0o600)
    with AuditLog(path) as log:
        log.write("alice", "admin", "stop", "uac1")
    assert _lines(path)[0] == {"old": True}
    assert len(_lines(path)) == 2


# --- authenticator ------------------------------------------------------------------------------


def _authenticator(tmp_path: Path, **kwargs: Any) -> Authenticator:
    authenticator = open_authenticator(
        tmp_path / "users.sqlite",
        tmp_path / "token-secret",
        tmp_path / "audit.log",
        hasher=CHEAP,
        **kwargs,
    )
    authenticator.store.add("alice", "correct horse", "operator")
    return authenticator


def test_login_gives_a_token_that_verifies_and_is_audited(tmp_path: Path) -> None:
    authenticator = _authenticator(tmp_path)
    seam: seams.Authenticator = authenticator
    token = trio.run(seam.login, "alice", "correct horse", "127.0.0.1")
    principal = seam.verify(token)
    assert principal == Principal("alice", "operator") and principal.may("viewer")
    seam.audit(principal, "rate", "uac1", "rate=20")
    authenticator.close()
    assert [(r["user"], r["role"], r["action"], r["target"], r["outcome"]) for r in
            _lines(tmp_path / "audit.log")] == [
        ("alice", "operator", "login", "127.0.0.1", "ok"),
        ("alice", "operator", "rate", "uac1", "ok"),
    ]  # fmt: skip
    for name in ("users.sqlite", "token-secret", "audit.log"):
        assert _mode(tmp_path / name) == 0o600


def test_wrong_password_and_unknown_user_look_the_same(tmp_path: Path) -> None:
    authenticator = _authenticator(tmp_path, throttle=LoginThrottle(base_delay_s=0.001))
    messages = []
    for user, password in [("alice", "wrong horse"), ("mallory", "correct horse")]:
        with pytest.raises(LoginError) as caught:
            trio.run(authenticator.login, user, password, "127.0.0.1")
        assert type(caught.value) is LoginError
        messages.append(str(caught.value))
    assert messages == ["wrong user name or password"] * 2
    authenticator.close()
    outcomes = [(r["user"], r["outcome"]) for r in _lines(tmp_path / "audit.log")]
    assert outcomes == [("alice", "failed"), ("mallory", "failed")]


def test_failed_logins_make_the_next_login_wait(tmp_path: Path) -> None:
    throttle = LoginThrottle(base_delay_s=0.2, max_delay_s=0.4, max_wait_s=0.3)
    authenticator = _authenticator(tmp_path, throttle=throttle)

    async def attempt(password: str) -> tuple[float, str]:
        start = trio.current_time()
        try:
            outcome = await authenticator.login("alice", password, "192.0.2.7")
        except LoginError as exc:
            outcome = type(exc).__name__
        return trio.current_time() - start, outcome

    async def main() -> list[tuple[float, str]]:
        return [
            await attempt("wrong horse"),  # no wait; the next waits 0.2 s
            await attempt("wrong horse"),  # waits 0.2 s; the next waits 0.4 s
            await attempt("correct horse"),  # refused: 0.4 s > max_wait_s
        ]

    (t1, o1), (t2, o2), (t3, o3) = trio.run(main)
    assert (o1, o2, o3) == ("LoginError", "LoginError", "LoginThrottled")
    assert t1 < 0.2 and t2 >= 0.2 and t3 < 0.1
    authenticator.close()
    assert [r["outcome"] for r in _lines(tmp_path / "audit.log")] == [
        "failed",
        "failed",
        "refused",
    ]


def test_a_success_clears_the_throttle(tmp_path: Path) -> None:
    throttle = LoginThrottle(base_delay_s=0.05)
    authenticator = _authenticator(tmp_path, throttle=throttle)
    with pytest.raises(LoginError):
        trio.run(authenticator.login, "alice", "wrong horse", "192.0.2.7")
    assert len(throttle) == 2
    token = trio.run(authenticator.login, "alice", "correct horse", "192.0.2.7")
    assert authenticator.verify(token).user == "alice"
    assert len(throttle) == 0
    authenticator.close()


def test_tokens_of_another_secret_fail(tmp_path: Path) -> None:
    authenticator = _authenticator(tmp_path)
    token = trio.run(authenticator.login, "alice", "correct horse", "::1")
    other = open_authenticator(
        tmp_path / "users.sqlite", tmp_path / "other-secret", tmp_path / "audit.log", hasher=CHEAP
    )
    with pytest.raises(TokenError) as caught:
        other.verify(token)
    assert caught.value.reason == "bad_signature"
    authenticator.close()
    other.close()


def test_default_paths_are_under_xdg_data_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    authenticator = open_authenticator(hasher=CHEAP)
    authenticator.close()
    folder = tmp_path / "data" / "gossipper"
    assert sorted(p.name for p in folder.iterdir()) == ["audit.log", "token-secret", "users.sqlite"]
    assert _mode(folder) == 0o700
    assert auth.default_db_path() == folder / "users.sqlite"


def test_unusable_paths_are_one_line_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(AuthError, match=f"^{blocker}: cannot create the directory: "):
        load_or_create_secret(blocker / "token-secret")
    with pytest.raises(AuthError, match=f"^{blocker}: cannot create the directory: "):
        UserStore(blocker / "users.sqlite", hasher=CHEAP)
    with pytest.raises(AuthError, match=f"^{blocker}: cannot create the directory: "):
        AuditLog(blocker / "audit.log")
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o700)
    with pytest.raises(AuthError, match=f"^{folder}: the token secret is not a regular file$"):
        load_or_create_secret(folder)
    with pytest.raises(AuthError, match=f"^{folder}: the user database is not a regular file$"):
        UserStore(folder, hasher=CHEAP)
    with pytest.raises(AuthError, match=f"^{folder}: cannot open the audit log: "):
        AuditLog(folder)


# Any str, lone surrogates included (a JSON login body can carry "\\ud800").
ANY_TEXT = st.characters(exclude_categories=())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.text(ANY_TEXT, max_size=80) | st.sampled_from(INJECTIONS),
    password=st.text(ANY_TEXT, max_size=40) | st.sampled_from(INJECTIONS),
)
def test_any_text_as_name_or_password_is_data(tmp_path: Path, name: str, password: str) -> None:
    store = UserStore(tmp_path / "fuzz.sqlite", hasher=CHEAP)
    if store.get("keeper") is None:
        store.add("keeper", "keeper-password", "admin")
    assert store.check_password(name, password) is None or name.casefold() == "keeper"
    assert store.get(name) is None or name.casefold() == "keeper"
    try:
        store.add(name, password, "viewer")
    except UserError:
        assert store.get(name) is None or name.casefold() == "keeper"
    else:
        assert store.check_password(name, password) == Principal(name, "viewer")
        store.delete(name)
    assert [(u.name, u.role) for u in store.list()] == [("keeper", "admin")]
    assert store.check_password("keeper", "keeper-password") == Principal("keeper", "admin")


@settings(max_examples=200, deadline=None)
@given(token=st.text(ANY_TEXT, max_size=300) | st.binary(max_size=300).map(_b64encode))
def test_any_text_as_a_token_is_refused_with_a_reason(token: str) -> None:
    with pytest.raises(TokenError) as caught:
        TokenIssuer(SECRET, clock=FakeClock()).verify(token)
    assert caught.value.reason in TOKEN_ERROR_REASONS


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from(["iss", "aud", "sub", "role", "iat", "nbf", "exp", "extra"]),
        JSON_VALUES,
        max_size=4,
    ),
    header=st.dictionaries(st.sampled_from(["typ", "kid", "crit", "cty"]), JSON_VALUES, max_size=2),
)
def test_well_signed_tokens_with_any_claim_values_are_judged_not_crashed(
    changes: dict[str, Any], header: dict[str, Any]
) -> None:
    token = _sign({**header, "alg": "HS256"}, {**_claims(), **changes})
    try:
        principal = TokenIssuer(SECRET, clock=FakeClock(T0 + 1)).verify(token)
    except TokenError as exc:
        assert exc.reason in TOKEN_ERROR_REASONS
    else:
        assert principal.role in seams.ROLES and isinstance(principal.user, str)


def test_login_hashes_off_the_event_loop(tmp_path: Path) -> None:
    # The product's hash (64 MiB, 3 passes) takes tens of milliseconds; a task ticking every
    # millisecond keeps ticking meanwhile only if the hash runs in a worker thread.
    authenticator = open_authenticator(
        tmp_path / "users.sqlite", tmp_path / "token-secret", tmp_path / "audit.log"
    )
    authenticator.store.add("alice", "correct horse", "viewer")

    async def main() -> tuple[int, float]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await trio.sleep(0.001)
                ticks += 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            start = trio.current_time()
            await authenticator.login("alice", "correct horse", "::1")
            elapsed = trio.current_time() - start
            nursery.cancel_scope.cancel()
        return ticks, elapsed

    ticks, elapsed_s = trio.run(main)
    authenticator.close()
    assert elapsed_s > 0.01  # the hash really was the product's
    assert ticks >= 3, (ticks, elapsed_s)


def test_login_refuses_values_that_are_not_text(tmp_path: Path) -> None:
    authenticator = _authenticator(tmp_path)
    for user, password in [(None, "correct horse"), ("alice", 12345678), (["alice"], None)]:
        with pytest.raises(LoginError, match="^wrong user name or password$"):
            trio.run(authenticator.login, user, password, "::1")
    authenticator.close()
    assert [r["outcome"] for r in _lines(tmp_path / "audit.log")] == ["refused"] * 3


def test_the_delay_stays_capped_after_thousands_of_failures() -> None:
    clock = FakeClock(100.0)
    throttle = LoginThrottle(base_delay_s=0.5, max_delay_s=30.0, max_wait_s=1e9, clock=clock)
    for _ in range(3000):
        throttle.failed("alice", "10.0.0.1")
    assert throttle.delay_after(3000) == 30.0
    assert throttle.admit("alice", "10.0.0.1") == pytest.approx(30.0)
