"""``gossipper server -config FILE.json [-api_addr HOST:PORT]``: the long-running host of runs.

Foreground, one line on stderr per event (run started, finished, failed; reload applied), made
for systemd: SIGTERM and SIGINT drain (every run stops taking new calls, running calls end, up
to ``drain_timeout_s``; then the rest is forced) and the process exits 0; a second SIGTERM or
SIGINT forces at once. SIGHUP re-reads the file and applies what changed; a bad file on SIGHUP
is logged and the running configuration kept. The work is ``gossipper.server``'s; this module
owns what is process-global: the signals, stderr and the exit status.
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, TextIO

import trio

from gossipper.errors import ExitStatus
from gossipper.server.config import (
    ServerConfig,
    ServerConfigError,
    load_server_config,
    parse_api_addr,
)

if TYPE_CHECKING:
    from gossipper.server.service import Server

__all__ = ["USAGE", "run_server_command"]

USAGE = "usage: gossipper server -config FILE.json [-api_addr HOST:PORT]"

HELP = f"""{USAGE}

Hosts the runs of a JSON configuration (docs/server.md) until SIGTERM or SIGINT, which stop
every run letting calls end (drain_timeout_s) and exit 0. SIGHUP re-reads the file.

  -config FILE.json     the configuration (server settings and runs)
  -api_addr HOST:PORT   serve the HTTP API there (overrides the file's api_addr;
                        :PORT listens on 127.0.0.1 only)
"""


@dataclasses.dataclass(frozen=True, slots=True)
class _Arguments:
    config_path: str
    api_addr: tuple[str, int] | None


def _parse(args: Sequence[str]) -> _Arguments | None:
    config_path: str | None = None
    api_addr: tuple[str, int] | None = None
    index = 0
    while index < len(args):
        option = args[index]
        if option in ("-h", "-help", "--help"):
            return None
        if option in ("-config", "--config", "-api_addr", "--api_addr"):
            if index + 1 >= len(args):
                raise ServerConfigError(f"{option} needs a value; {USAGE}")
            value = args[index + 1]
            if option.lstrip("-") == "config":
                config_path = value
            else:
                api_addr = parse_api_addr(value, "-api_addr")
            index += 2
            continue
        raise ServerConfigError(f"unknown argument {option!r}; {USAGE}")
    if config_path is None:
        raise ServerConfigError(f"-config FILE.json is required; {USAGE}")
    return _Arguments(config_path, api_addr)


def run_server_command(args: Sequence[str], stdout: TextIO, stderr: TextIO) -> ExitStatus:
    """The ``server`` subcommand: 0 after a drain, 255 for a bad configuration."""
    parsed = _parse(args)
    if parsed is None:
        stdout.write(HELP)
        return ExitStatus.NO_CALLS
    config = _load(parsed)
    if config.api_addr is not None:
        from gossipper.server.service import api_entry_point

        api_entry_point()  # no API in this build: say so before anything starts

    def log(text: str) -> None:
        stderr.write(f"gossipper: {text}\n")
        stderr.flush()

    from gossipper.cli.run import tune_garbage_collector

    tune_garbage_collector()
    trio.run(_serve, parsed, config, log)
    return ExitStatus.SUCCESS


def _load(parsed: _Arguments) -> ServerConfig:
    config = load_server_config(parsed.config_path)
    if parsed.api_addr is not None:
        config = dataclasses.replace(config, api_addr=parsed.api_addr)
    return config


async def _serve(parsed: _Arguments, config: ServerConfig, log: Callable[[str], None]) -> None:
    from gossipper.server.service import Server

    # Listening before the first run starts: a SIGTERM during start-up still drains.
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        server = Server(config, log=log)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_signals, signals, server, parsed, log)
            await server.serve()
            nursery.cancel_scope.cancel()


async def _watch_signals(
    signals: AsyncIterator[int], server: Server, parsed: _Arguments, log: Callable[[str], None]
) -> None:
    async for signum in signals:
        if signum == signal.SIGHUP:
            try:
                new = _load(parsed)
            except ServerConfigError as exc:
                log(f"reload failed, the running configuration stays: {exc}")
                continue
            await server.reload(new)
        elif server.draining:
            log(f"{signal.Signals(signum).name} again: forcing every run to stop")
            server.force_stop()
        else:
            log(f"{signal.Signals(signum).name}: draining")
            server.request_drain()
