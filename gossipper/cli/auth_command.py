"""``gossipper auth``: the users of the control plane's database (add, delete, password, role,
list).

Passwords are never taken from the command line (other users see it in ``ps`` and it stays
in shell histories): they are asked twice on the terminal, or read from standard input with
``--password-stdin`` for scripts. Errors are one line and exit 255; help exits 99, as
``gossipper -h`` does.
"""

from __future__ import annotations

import dataclasses
import functools
import getpass
import json
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from gossipper.api.auth import (
    AuthError,
    UserStore,
    default_db_path,
    parse_role,
    validate_password,
    validate_user_name,
)
from gossipper.api.seams import ROLES
from gossipper.errors import ExitStatus

__all__ = ["ACTIONS", "run_auth_command"]

ACTIONS = ("user-add", "user-del", "passwd", "user-role", "list")
_NEEDS_NAME = frozenset({"user-add", "user-del", "passwd", "user-role"})
_HELP_WORDS = frozenset({"-h", "--h", "-help", "--help", "help"})


def _help() -> str:
    return f"""Usage: gossipper auth ACTION [NAME] [options]

Users of the HTTP API (gossipper server, -api_addr), kept in a SQLite file.

Actions:
  user-add NAME     add a user (the password is asked twice, or read with --password-stdin)
  user-del NAME     delete a user
  passwd NAME       change a user's password
  user-role NAME    change a user's role (--role)
  list              list the users (name, role, created, updated)

Options:
  -db FILE, --db FILE   the user database (default {default_db_path()}),
                        created with mode 0600 if absent
  --role ROLE           {", ".join(ROLES)} (user-add: default viewer)
  --password-stdin      read the password from standard input (one line) instead of the
                        terminal, e.g. printf '%s\\n' "$PW" | gossipper auth passwd NAME
                        --password-stdin
  --json                list: one JSON array instead of a table

Roles: a viewer reads; an operator also steers runs; an admin also creates and deletes runs.
Exit status: 0 done, 255 bad input (one line on stderr says why), 99 this help.
"""


@dataclasses.dataclass(slots=True)
class _Request:
    action: str
    name: str | None = None
    db: str | None = None
    role: str | None = None
    password_stdin: bool = False
    as_json: bool = False


def _option_value(where: str, option: str, inline: str | None, words: list[str]) -> str:
    """The value of ``option``: after its ``=``, else the next word (taken from ``words``)."""
    if inline is not None:
        return inline
    if not words or words[0].startswith("-"):
        # An option's value never looks like an option (write --db=-odd-name for such a file).
        raise AuthError(f"{where}: {option} needs a value (gossipper auth -h)")
    return words.pop(0)


def _parse(argv: Sequence[str]) -> _Request:
    usage = f"use gossipper auth {'|'.join(ACTIONS)} (gossipper auth -h)"
    request = _Request("")
    words = list(argv)
    while words:
        word = words.pop(0)
        where = f"auth {request.action}" if request.action else "auth"
        option, equals, inline = word.partition("=")
        option_name = option.lstrip("-").replace("_", "-")
        value = functools.partial(_option_value, where, option, inline if equals else None, words)
        if not word.startswith("-") or word == "-":
            if not request.action:
                if word not in ACTIONS:
                    raise AuthError(
                        f"auth: unknown action {word!r}: use one of {', '.join(ACTIONS)}"
                        " (gossipper auth -h)"
                    )
                request.action = word
            elif request.name is not None:
                raise AuthError(f"{where}: one user name only ({request.name!r}, then {word!r})")
            else:
                request.name = word
        elif option_name == "db":
            request.db = value()
        elif option_name == "role":
            request.role = value()
        elif option_name in ("username", "user"):
            request.name = value()
        elif option_name == "password-stdin" and not equals:
            request.password_stdin = True
        elif option_name == "json" and not equals:
            request.as_json = True
        elif option_name == "password":
            raise AuthError(
                f"{where}: {option} would show the password to other users (ps, shell"
                " history); pipe it in with --password-stdin, or leave it out to be asked"
            )
        else:
            raise AuthError(f"{where}: unknown option {option!r} (gossipper auth -h)")
    if not request.action:
        raise AuthError(f"auth: missing action: {usage}")
    action = request.action
    if action in _NEEDS_NAME and request.name is None:
        raise AuthError(f"auth {action}: name the user: gossipper auth {action} NAME")
    if action not in _NEEDS_NAME and request.name is not None:
        raise AuthError(f"auth {action}: takes no user name ({request.name!r})")
    if request.role is not None and action not in ("user-add", "user-role"):
        raise AuthError(f"auth {action}: --role is for user-add and user-role")
    if action == "user-role" and request.role is None:
        raise AuthError(f"auth user-role: say the new role: --role {'|'.join(ROLES)}")
    if request.password_stdin and action not in ("user-add", "passwd"):
        raise AuthError(f"auth {action}: --password-stdin is for user-add and passwd")
    if request.as_json and action != "list":
        raise AuthError(f"auth {action}: --json is for list")
    return request


def _read_password(request: _Request, name: str) -> str:
    if request.password_stdin:
        text = sys.stdin.read()
        if text.endswith("\n"):
            text = text[:-1].removesuffix("\r")
        if "\n" in text:
            raise AuthError(
                f"auth {request.action}: --password-stdin reads one line; standard input"
                " had several"
            )
        return validate_password(text)
    with warnings.catch_warnings():
        # getpass falls back to an echoing read of stdin without a terminal: refuse instead.
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            first = getpass.getpass(f"Password for {name}: ")
            validate_password(first)
            again = getpass.getpass(f"Password for {name} (again): ")
        except getpass.GetPassWarning:
            raise AuthError(
                f"auth {request.action}: no terminal to ask the password on; pipe it in with"
                " --password-stdin"
            ) from None
        except EOFError:
            raise AuthError(f"auth {request.action}: no password given") from None
    if first != again:
        raise AuthError(f"auth {request.action}: the two passwords differ; nothing changed")
    return first


def run_auth_command(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> ExitStatus:
    """``gossipper auth ARGS``; returns the exit status (errors raise AuthError, exit 255)."""
    if any(word in _HELP_WORDS for word in argv[:1]) or "-h" in argv or "--help" in argv:
        stdout.write(_help())
        return ExitStatus.NO_CALLS
    request = _parse(argv)
    if request.action == "user-add" and request.name is not None:
        # Checked before the password is asked, so a typo costs no typing.
        validate_user_name(request.name)
    role = parse_role(request.role) if request.role is not None else None
    store = UserStore(request.db if request.db is not None else default_db_path())
    where = store.path
    name = request.name or ""
    if request.action == "list":
        users = store.list()
        if request.as_json:
            stdout.write(json.dumps([dataclasses.asdict(user) for user in users], indent=2))
            stdout.write("\n")
        elif not users:
            stdout.write(f"no users in {where}; add one with gossipper auth user-add NAME\n")
        else:
            width = max(4, *(len(user.name) for user in users))
            stdout.write(f"{'NAME':<{width}}  {'ROLE':<8}  {'CREATED':<24}  UPDATED\n")
            for user in users:
                stdout.write(
                    f"{user.name:<{width}}  {user.role:<8}  {user.created:<24}  {user.updated}\n"
                )
    elif request.action == "user-add":
        existing = store.get(name)
        if existing is not None:
            # Before asking the password: add() would refuse it anyway.
            raise AuthError(
                f"user {existing.name!r} exists in {where}; change its password with"
                f" gossipper auth passwd {existing.name}"
            )
        added = store.add(name, _read_password(request, name), role or "viewer")
        stdout.write(f"user {added.name!r} added as {added.role} to {where}\n")
    elif request.action == "user-del":
        store.delete(name)
        stdout.write(f"user {name!r} deleted from {where}\n")
    elif request.action == "passwd":
        if store.get(name) is None:
            raise store.no_such_user(name)  # before asking the password
        store.set_password(name, _read_password(request, name))
        stdout.write(f"password of {name!r} changed in {where}\n")
    else:
        assert role is not None  # _parse requires --role for user-role
        store.set_role(name, role)
        stdout.write(f"user {name!r} is now {role} in {where}\n")
    return ExitStatus.SUCCESS
