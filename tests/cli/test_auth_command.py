"""``gossipper auth`` run as a real process: add, list, passwd, user-role, del, and its errors."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import argon2
import pytest

from gossipper.api.auth import UserStore
from gossipper.api.seams import Principal
from gossipper.cli.main import raw_main
from gossipper.errors import ExitStatus

pytestmark = pytest.mark.timeout(120)


def _auth(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gossipper", "auth", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, **(env or {})},
        # No controlling terminal: getpass cannot open /dev/tty.
        start_new_session=True,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert (result.returncode, result.stderr) == (0, ""), result
    return result.stdout


def _error(result: subprocess.CompletedProcess[str]) -> str:
    """The one-line error of a refused command (exit 255, no traceback)."""
    assert result.returncode == ExitStatus.FATAL, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gossipper: error: "), result.stderr
    return lines[0].removeprefix("gossipper: error: ")


def _cheap_store(db: Path) -> UserStore:
    return UserStore(db, hasher=argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def test_add_list_passwd_role_and_delete(tmp_path: Path) -> None:
    db = tmp_path / "users.sqlite"
    out = _ok(_auth("user-add", "alice", "--role", "operator", "-db", str(db),
                    "--password-stdin", stdin="correct horse\n"))  # fmt: skip
    assert out == f"user 'alice' added as operator to {db}\n"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    # Single-dash and --opt=value spellings; the default role is the least powerful.
    _ok(_auth("user-add", "-username", "bob", f"--db={db}", "-password_stdin",
              stdin="battery staple"))  # fmt: skip

    table = _ok(_auth("list", "--db", str(db))).splitlines()
    assert table[0].split() == ["NAME", "ROLE", "CREATED", "UPDATED"]
    assert [line.split()[:2] for line in table[1:]] == [["alice", "operator"], ["bob", "viewer"]]
    listed = json.loads(_ok(_auth("list", "-db", str(db), "--json")))
    assert [(u["name"], u["role"]) for u in listed] == [("alice", "operator"), ("bob", "viewer")]
    assert set(listed[0]) == {"name", "role", "created", "updated"}

    out = _ok(_auth("passwd", "alice", "-db", str(db), "--password-stdin",
                    stdin="new password\r\n"))  # fmt: skip
    assert out == f"password of 'alice' changed in {db}\n"
    store = _cheap_store(db)
    assert store.check_password("alice", "correct horse") is None
    assert store.check_password("alice", "new password") == Principal("alice", "operator")
    assert store.check_password("bob", "battery staple") == Principal("bob", "viewer")

    assert _ok(_auth("user-role", "bob", "--role", "admin", "-db", str(db))) == (
        f"user 'bob' is now admin in {db}\n"
    )
    assert _ok(_auth("user-del", "alice", "-db", str(db))) == f"user 'alice' deleted from {db}\n"
    assert [(u.name, u.role) for u in store.list()] == [("bob", "admin")]
    _ok(_auth("user-del", "bob", "-db", str(db)))
    assert _ok(_auth("list", "-db", str(db))) == (
        f"no users in {db}; add one with gossipper auth user-add NAME\n"
    )


def test_the_default_database_is_under_xdg_data_home(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path)}
    _ok(_auth("user-add", "alice", "--password-stdin", stdin="correct horse\n", env=env))
    db = tmp_path / "gossipper" / "users.sqlite"
    assert [u.name for u in _cheap_store(db).list()] == ["alice"]
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        ((), None, "auth: missing action: use gossipper auth user-add|user-del|passwd|user-role"),
        (("adduser", "x"), None, "auth: unknown action 'adduser': use one of user-add, user-del"),
        (("user-add",), None, "auth user-add: name the user: gossipper auth user-add NAME"),
        (("user-add", "x' OR '1'='1", "--password-stdin"), "correct horse",
         "user name \"x' OR '1'='1\" is not valid: use 1 to 64 letters, digits"),
        (("user-add", "alice", "--role", "root", "--password-stdin"), "correct horse",
         "unknown role 'root': use one of viewer, operator, admin"),
        (("user-add", "alice", "--password-stdin"), "short", "a password needs 8 to 1024"),
        (("user-add", "alice", "--password-stdin"), "two\nlines\n",
         "auth user-add: --password-stdin reads one line; standard input had several"),
        (("user-add", "alice", "-password", "secret99"), None,
         "auth user-add: -password would show the password to other users"),
        (("user-add", "alice", "--colour"), None, "auth user-add: unknown option '--colour'"),
        (("user-add", "alice", "--role"), None, "auth user-add: --role needs a value"),
        (("user-add", "alice", "bob"), None, "auth user-add: one user name only ('alice', then"),
        (("passwd", "nobody", "--password-stdin"), "correct horse", "no user 'nobody' in "),
        (("user-del", "nobody"), None, "no user 'nobody' in "),
        (("user-role", "alice"), None, "auth user-role: say the new role: --role viewer|"),
        (("list", "alice"), None, "auth list: takes no user name ('alice')"),
        (("list", "--role", "admin"), None, "auth list: --role is for user-add and user-role"),
        (("user-del", "alice", "--json"), None, "auth user-del: --json is for list"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_255(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    stdin: str | None,
    message: str,
) -> None:
    # In this process, for speed (never a case that would ask on the terminal); the real
    # process is checked by the tests around.
    db = tmp_path / "users.sqlite"
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
    out, err = io.StringIO(), io.StringIO()
    status = raw_main(["auth", *args, "-db", str(db)], stdout=out, stderr=err)
    result = subprocess.CompletedProcess([], status, out.getvalue(), err.getvalue())
    assert message in _error(result)
    if db.exists():
        assert _cheap_store(db).list() == []


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        ((), None, "auth: missing action: use gossipper auth user-add|user-del|passwd|user-role"),
        (("user-add", "alice"), None,
         "auth user-add: no terminal to ask the password on; pipe it in with --password-stdin"),
        (("user-add", "x' OR '1'='1", "--password-stdin"), "correct horse",
         "user name \"x' OR '1'='1\" is not valid: use 1 to 64 letters, digits"),
        (("passwd", "nobody", "--password-stdin"), "correct horse", "no user 'nobody' in "),
    ],
)  # fmt: skip
def test_bad_input_in_a_real_process(
    tmp_path: Path, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    db = tmp_path / "users.sqlite"
    assert message in _error(_auth(*args, "-db", str(db), stdin=stdin))


def test_an_existing_user_is_not_replaced(tmp_path: Path) -> None:
    db = tmp_path / "users.sqlite"
    _ok(_auth("user-add", "alice", "-db", str(db), "--password-stdin", stdin="correct horse"))
    message = _error(_auth("user-add", "ALICE", "-db", str(db), "--password-stdin",
                           stdin="other password"))  # fmt: skip
    assert message == (
        f"user 'alice' exists in {db}; change its password with gossipper auth passwd alice"
    )
    assert _cheap_store(db).check_password("alice", "correct horse") is not None


def test_a_database_open_to_others_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "users.sqlite"
    _ok(_auth("list", "-db", str(db)))
    db.chmod(0o664)
    assert _error(_auth("list", "-db", str(db))) == (
        f"{db}: the user database is open to other users (mode 0664); run chmod 600 {db}"
    )


def test_help_exits_99(tmp_path: Path) -> None:
    result = _auth("-h")
    assert result.returncode == ExitStatus.NO_CALLS
    assert result.stdout.startswith("Usage: gossipper auth ACTION")
    assert "--password-stdin" in result.stdout
    assert _auth("user-add", "--help").returncode == ExitStatus.NO_CALLS


def test_the_password_is_asked_twice_on_the_terminal(tmp_path: Path) -> None:
    db = tmp_path / "users.sqlite"
    # getpass opens /dev/tty, the session's controlling terminal; Popen's start_new_session
    # alone gives none, so the child claims the pty as it starts (TIOCSCTTY through Python).
    claim = [
        "-c",
        "import fcntl, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0);"
        " from gossipper.cli.main import main; sys.argv[0] = 'gossipper'; main(sys.argv[1:])",
    ]
    status, shown = _run_on_a_terminal_with(claim, ["auth", "user-add", "alice", "-db", str(db)],
                                            ["correct horse", "correct horse"])  # fmt: skip
    assert status == 0, shown
    assert "Password for alice:" in shown and "Password for alice (again):" in shown
    assert "correct horse" not in shown  # not echoed
    assert _cheap_store(db).check_password("alice", "correct horse") is not None

    status, shown = _run_on_a_terminal_with(claim, ["auth", "passwd", "alice", "-db", str(db)],
                                            ["new password", "other password"])  # fmt: skip
    assert status == ExitStatus.FATAL, shown
    assert "auth passwd: the two passwords differ; nothing changed" in shown
    assert _cheap_store(db).check_password("alice", "correct horse") is not None


def _run_on_a_terminal_with(
    python_args: list[str], args: list[str], answers: list[str]
) -> tuple[int, str]:
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, *python_args, *args],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        start_new_session=True,
        close_fds=True,
    )
    os.close(secondary)
    return _converse(process, primary, answers)


def _converse(
    process: subprocess.Popen[bytes], primary: int, answers: list[str]
) -> tuple[int, str]:
    shown = b""
    pending = list(answers)
    prompts_answered = 0
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(primary, 4096)
                except OSError:  # EIO: the process has closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
                # Answer each prompt once it is complete: getpass turns echo off and flushes
                # typed-ahead input before it writes the prompt.
                if (
                    pending
                    and shown.count(b"Password") > prompts_answered
                    and shown.endswith(b": ")
                ):
                    os.write(primary, pending.pop(0).encode() + b"\n")
                    prompts_answered += 1
            elif process.poll() is not None:
                break
        status = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(primary)
    return status, shown.decode(errors="replace")


def test_plain_runs_import_no_auth_module_nor_its_libraries() -> None:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, io; from gossipper.cli.main import raw_main; "
            "raw_main(['-v'], stdout=io.StringIO()); "
            "raw_main(['-sn', 'uac', '-peer', 'uas', '-m', '1', '-nostdin', '-p', '0'],"
            " stdout=io.StringIO(), stderr=io.StringIO()); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jwt', 'argon2', 'sqlite3')"
            " or m.startswith('gossipper.api')))",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert probe.stdout.strip().endswith("[]"), probe.stdout + probe.stderr
