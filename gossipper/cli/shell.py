"""``gossipper shell``: start, watch, change and stop named runs in one process, at a prompt or
from a script.

The runs are hosted by ``gossipper.server.host.ServerRegistry`` (the same registry as
``gossipper server``), so the verbs are the HTTP API's: create, start, stop, delete, rate,
pause, resume, users, limit, reset, stats. At a terminal the prompt is prompt_toolkit's (history
in ``~/.gossipper_shell_history``, completion of verbs, run names, profile names and settings)
read in a worker thread while the runs go on in the Trio loop; without one (or with ``-f
FILE``) commands are read line by line, echoed, and the first failing command ends the shell
with status 255, so a lab session can be replayed.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import trio

from gossipper.api.commands import ApiError, execute_command
from gossipper.api.seams import RegistryError
from gossipper.config import RunConfig
from gossipper.errors import ExitStatus, GossipperError
from gossipper.server.host import ServerRegistry, ServerRun

__all__ = ["VERBS", "Shell", "ShellError", "run_shell_command"]

HISTORY_FILE = "~/.gossipper_shell_history"
QUIT_DRAIN_S = 5.0

VERBS: dict[str, str] = {
    "help": "help                          this list",
    "runs": "runs                          every run: state, calls, rate",
    "profiles": "profiles                      the profiles of the profile file",
    "create": "create NAME [from PROFILE] [KEY=VALUE ...]   a run (settings by JSON name)",
    "start": "start NAME                    start a created or finished run",
    "stop": "stop NAME [force]             no new calls (force: abort the calls)",
    "delete": "delete NAME                   forget a run (stopping it first)",
    "stats": "stats NAME                    counts, rate, response time, failure reasons",
    "rate": "rate NAME CPS                 change the call rate",
    "pause": "pause NAME                    no new calls until resume",
    "resume": "resume NAME                   start calls again",
    "users": "users NAME N                  -users runs: the number of users",
    "limit": "limit NAME N                  -m: calls to start in all",
    "reset": "reset NAME                    reset the periodic statistics",
    "wait": "wait NAME [SECONDS]           until the run is no longer running",
    "watch": "watch NAME [SECONDS]          one statistics line a second",
    "sleep": "sleep SECONDS                 pause the script",
    "quit": "quit                          stop every run and leave (also exit, Ctrl-D)",
}


class ShellError(GossipperError):
    """A command that cannot be done; the shell prints it and (in a script) stops."""


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _settings(words: Sequence[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for word in words:
        key, sep, text = word.partition("=")
        if not sep or not key:
            raise ShellError(f"expected KEY=VALUE, got {word!r}")
        settings[key] = _value(text)
    return settings


class Shell:
    """The commands, over a registry; ``write`` prints one line."""

    def __init__(
        self,
        registry: ServerRegistry,
        write: Callable[[str], None],
        *,
        profile_file: str,
    ) -> None:
        self.registry = registry
        self.write = write
        self.profile_file = profile_file

    def run_names(self) -> list[str]:
        return [run.name for run in self.registry.runs()]

    def profile_names(self) -> list[str]:
        from gossipper.cli.profiles import load_profiles

        try:
            return list(load_profiles(self.profile_file))
        except GossipperError:
            return []

    async def execute(self, line: str) -> bool:
        """Do one command line; False when it asks to quit.

        Raises:
            ShellError: the command is wrong or cannot be done (the message says why).
        """
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise ShellError(f"cannot read the line: {exc}") from None
        if not words:
            return True
        verb, args = words[0].lower(), words[1:]
        if verb in ("quit", "exit"):
            return False
        handler = getattr(self, f"_do_{verb}", None)
        if verb not in VERBS or handler is None:
            raise ShellError(f"unknown command {verb!r}; help lists them")
        try:
            await handler(args)
        except (RegistryError, ApiError) as exc:
            raise ShellError(exc.message) from None
        except GossipperError as exc:
            raise ShellError(str(exc)) from None
        return True

    # ------------------------------------------------------------------ helpers

    def _run(self, args: Sequence[str], verb: str, count: int = 1) -> ServerRun:
        if len(args) != count:
            raise ShellError(f"usage: {VERBS[verb].split('  ')[0].strip()}")
        run = self.registry.get(args[0])
        if run is None:
            known = ", ".join(self.run_names()) or "none yet"
            raise ShellError(f"no run named {args[0]!r} (runs: {known})")
        return run

    async def _apply(self, verb: str, run: ServerRun, **params: Any) -> None:
        """The API's command ``verb`` (the same checks and effects as over HTTP, without the
        role check: the shell's user owns the process)."""
        await execute_command(self.registry, verb, run.name, params)

    @staticmethod
    def _amount(text: str, what: str) -> int | float:
        """A number typed at the prompt: an int when it is one (users and limits need it)."""
        try:
            return int(text)
        except ValueError:
            pass
        try:
            value = float(text)
        except ValueError:
            raise ShellError(f"{what} must be a number, got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ShellError(f"{what} must be a finite number, got {text!r}")
        return value

    def _seconds(self, text: str, what: str) -> float:
        value = float(self._amount(text, what))
        if value < 0:
            raise ShellError(f"{what} must be >= 0, got {text!r}")
        return value

    def _line(self, run: ServerRun) -> str:
        snapshot = None
        if run.session is not None:
            statistics = run.session.engine.statistics()
            snapshot = statistics.snapshot
            rate = f"{statistics.rate:g} cps"
        elif run.result is not None:
            snapshot = run.result.snapshot
            rate = "-"
        else:
            rate = "-"
        if snapshot is None:
            return f"{run.name:<16} {run.state:<9}"
        c = snapshot.cumulative
        return (
            f"{run.name:<16} {run.state:<9} calls {c.total_calls} ok {c.successful_calls}"
            f" failed {c.failed_calls} open {snapshot.current_calls} rate {rate}"
        )

    # ------------------------------------------------------------------ verbs

    async def _do_help(self, args: Sequence[str]) -> None:
        for text in VERBS.values():
            self.write(text)

    async def _do_runs(self, args: Sequence[str]) -> None:
        runs = self.registry.runs()
        if not runs:
            self.write("no runs (create NAME ...)")
        for run in runs:
            self.write(self._line(run) + (f"  error: {run.error}" if run.error else ""))

    async def _do_profiles(self, args: Sequence[str]) -> None:
        from gossipper.cli.profiles import load_profiles

        for profile in load_profiles(self.profile_file).values():
            self.write(profile.name + (f"  {profile.description}" if profile.description else ""))

    async def _do_create(self, args: Sequence[str]) -> None:
        if not args:
            raise ShellError(f"usage: {VERBS['create'].split('  ')[0].strip()}")
        name, rest = args[0], list(args[1:])
        spec: dict[str, Any] = {}
        if len(rest) >= 2 and rest[0] == "from":
            from gossipper.cli.profiles import load_profiles

            profiles = load_profiles(self.profile_file)
            if rest[1] not in profiles:
                raise ShellError(f"{self.profile_file}: no profile {rest[1]}")
            spec.update(profiles[rest[1]].settings)
            rest = rest[2:]
        spec.update(_settings(rest))
        await execute_command(self.registry, "create", name, {"spec": spec})
        self.write(f"run {name} created")

    async def _do_start(self, args: Sequence[str]) -> None:
        run = self._run(args, "start")
        await self._apply("start", run)
        if run.state == "failed":
            raise ShellError(f"run {run.name} failed to start: {run.error}")
        self.write(f"run {run.name} {run.state}")

    async def _do_stop(self, args: Sequence[str]) -> None:
        force = bool(args) and args[-1] == "force"
        run = self._run(args[:-1] if force else args, "stop")
        await self._apply("stop", run, force=force)
        self.write(f"run {run.name} {run.state}")

    async def _do_delete(self, args: Sequence[str]) -> None:
        run = self._run(args, "delete")
        await self._apply("delete", run)
        self.write(f"run {run.name} deleted")

    async def _do_stats(self, args: Sequence[str]) -> None:
        run = self._run(args, "stats")
        self.write(self._line(run))
        snapshot = (
            run.session.engine.statistics().snapshot
            if run.session is not None
            else run.result.snapshot
            if run.result is not None
            else None
        )
        if snapshot is None:
            return
        from gossipper.stats.counters import FAILURE_REASONS

        c = snapshot.cumulative
        self.write(f"  retransmissions {c.retransmissions}  malformed {c.malformed_msgs}")
        for reason in FAILURE_REASONS:
            count = c.failure(reason)
            if count:
                self.write(f"  {reason.value} {count}")

    async def _do_rate(self, args: Sequence[str]) -> None:
        run = self._run(args, "rate", 2)
        await self._apply("rate", run, value=self._amount(args[1], "the rate"))
        self.write(f"run {run.name} rate {args[1]} cps")

    async def _do_pause(self, args: Sequence[str]) -> None:
        run = self._run(args, "pause")
        await self._apply("pause", run)
        self.write(f"run {run.name} paused")

    async def _do_resume(self, args: Sequence[str]) -> None:
        run = self._run(args, "resume")
        await self._apply("resume", run)
        self.write(f"run {run.name} resumed")

    async def _do_users(self, args: Sequence[str]) -> None:
        run = self._run(args, "users", 2)
        await self._apply("users", run, value=self._amount(args[1], "users"))
        self.write(f"run {run.name} users {args[1]}")

    async def _do_limit(self, args: Sequence[str]) -> None:
        run = self._run(args, "limit", 2)
        await self._apply("limit", run, value=self._amount(args[1], "the limit"))
        self.write(f"run {run.name} limit {args[1]}")

    async def _do_reset(self, args: Sequence[str]) -> None:
        run = self._run(args, "reset")
        await self._apply("reset", run)
        self.write(f"run {run.name} statistics reset")

    async def _do_wait(self, args: Sequence[str]) -> None:
        run = self._run(args[:1], "wait")
        timeout_s = self._seconds(args[1], "the timeout") if len(args) > 1 else float("inf")
        with trio.move_on_after(timeout_s) as scope:
            await run.wait_ended()
        if scope.cancelled_caught:
            raise ShellError(f"run {run.name} still {run.state} after {args[1]} s")
        self.write(self._line(run))

    async def _do_watch(self, args: Sequence[str]) -> None:
        run = self._run(args[:1], "watch")
        seconds = int(self._seconds(args[1], "seconds")) if len(args) > 1 else 10
        for _ in range(seconds):
            self.write(self._line(run))
            if not run.is_live:
                return
            await trio.sleep(1)

    async def _do_sleep(self, args: Sequence[str]) -> None:
        if len(args) != 1:
            raise ShellError("usage: sleep SECONDS")
        await trio.sleep(self._seconds(args[0], "seconds"))


# ---------------------------------------------------------------------- the command

_HELP = """Usage: gossipper shell [-f SCRIPT] [-profiles FILE] [-o DIR]

Start, watch, change and stop named runs in one process. At a terminal: a prompt with
history and completion. With -f SCRIPT (or standard input not a terminal): one command per
line, echoed; '#' starts a comment; the first failing command ends the shell (status 255).
-profiles FILE: the profile file for 'create NAME from PROFILE' (default
./gossipper-profiles.toml). -o DIR: where each run writes its files (DIR/NAME/; default .).
Type help at the prompt for the commands; docs/tui.md describes them.
"""


def run_shell_command(args: Sequence[str], stdout: TextIO, stderr: TextIO) -> ExitStatus:
    """``gossipper shell ...``"""
    from gossipper.cli.profiles import DEFAULT_PROFILE_FILE

    script: str | None = None
    profile_file = DEFAULT_PROFILE_FILE
    output_dir = "."
    words = list(args)
    while words:
        word = words.pop(0)
        if word in ("-h", "--help", "-help"):
            stdout.write(_HELP)
            return ExitStatus.NO_CALLS
        if word in ("-f", "-profiles", "-o") and words:
            value = words.pop(0)
            if word == "-f":
                script = value
            elif word == "-profiles":
                profile_file = value
            else:
                output_dir = value
            continue
        stderr.write(
            f"gossipper: error: shell: unexpected argument {word!r} (gossipper shell -h)\n"
        )
        return ExitStatus.FATAL
    lines: list[str] | None = None
    if script is not None:
        try:
            with open(script, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError as exc:
            stderr.write(f"gossipper: error: shell: cannot read {script}: {exc.strerror}\n")
            return ExitStatus.FATAL
    elif not _interactive():
        lines = sys.stdin.read().splitlines()
    return trio.run(_main, lines, profile_file, output_dir, stdout, stderr)


def _interactive() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


async def _main(
    lines: list[str] | None, profile_file: str, output_dir: str, stdout: TextIO, stderr: TextIO
) -> ExitStatus:
    def write(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    status = ExitStatus.SUCCESS
    async with trio.open_nursery() as nursery:
        registry = ServerRegistry(
            nursery,
            base_dir=os.getcwd(),
            output_dir=output_dir,
            log=lambda text: write(f"# {text}"),
        )
        shell = Shell(registry, write, profile_file=profile_file)
        try:
            if lines is None:
                await _prompt_loop(shell, stderr)
            else:
                status = await _script(shell, lines, write, stderr)
        finally:
            with trio.CancelScope(shield=True):
                await registry.drain(QUIT_DRAIN_S)
                for run in list(registry.runs()):
                    await registry.delete(run.name)
            nursery.cancel_scope.cancel()
    return status


async def _script(
    shell: Shell, lines: list[str], write: Callable[[str], None], stderr: TextIO
) -> ExitStatus:
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        write(f"> {line.strip()}")
        try:
            if not await shell.execute(line):
                break
        except ShellError as exc:
            stderr.write(f"gossipper: error: shell line {number}: {exc}\n")
            return ExitStatus.FATAL
    return ExitStatus.SUCCESS


async def _prompt_loop(shell: Shell, stderr: TextIO) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.patch_stdout import patch_stdout

    settings = list(RunConfig.field_names())
    history = os.path.expanduser(HISTORY_FILE)  # noqa: ASYNC240 - once, before the prompt

    def words() -> list[str]:
        return [*VERBS, "exit", "from", *shell.run_names(), *shell.profile_names(),
                *(f"{name}=" for name in settings)]  # fmt: skip

    session: PromptSession[str] = PromptSession(
        history=FileHistory(history),
        completer=WordCompleter(words, sentence=True),
    )
    with patch_stdout(raw=True):
        while True:
            try:
                line = await trio.to_thread.run_sync(session.prompt, "gossipper> ")
            except EOFError:
                return
            except KeyboardInterrupt:
                continue
            try:
                if not await shell.execute(line):
                    return
            except ShellError as exc:
                print(f"error: {exc}")
