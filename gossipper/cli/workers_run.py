"""``-workers N|auto``: the command line's side of a run in N worker processes.

``gossipper.workers.supervisor`` starts and watches the workers; this module decides their
command lines (the user's, with ``-workers`` and the parent's own outputs taken out, output
file names moved to each worker's directory, and the worker's share of the load), gives the
parent the front ends of a normal run (keys, ``-cp``, signals, the live screen) driving the
whole group, and writes the one result at the end: exit screens, ``-summary_json``, the
exit status.

Worker files stay in ``<scenario>_<pid>_workers/w<i>/`` (each worker's SIPp files, its
summary, stdout and stderr).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

import trio

from gossipper import __version__
from gossipper.config import RunConfig
from gossipper.errors import ConfigError, ExitStatus

if TYPE_CHECKING:
    from gossipper.scenario import Scenario
    from gossipper.stats import StatsSnapshot
    from gossipper.workers.supervisor import GroupResult, WorkerGroup

__all__ = ["PARENT_ONLY_OPTIONS", "run_with_workers", "worker_arguments", "worker_count"]

PARENT_ONLY_OPTIONS = frozenset(
    {
        "-workers",
        "-summary_json",
        "-report_html",
        "-junit",
        "-gate",
        "-gate_abort",
        "-cp",
        "-ci",
        "-bg",
        "-nostdin",
        "-interactive",
        "-api_addr",
        "-api_tls_cert",
        "-api_tls_key",
        "-api_users",
        "-api_secret",
        "-api_audit",
        "-api_metrics_public",
        "-api_linger",
    }
)
"""Options the parent applies for the whole group; the workers never see them."""

OUTPUT_FILE_OPTIONS = frozenset(
    {
        "-stf",
        "-message_file",
        "-shortmessage_file",
        "-error_file",
        "-calldebug_file",
        "-screen_file",
        "-log_file",
    }
)
"""File names a worker writes in its own directory (by base name: no two workers share one)."""


def worker_count(value: str) -> int:
    """``-workers N`` or ``auto``: one per CPU this process may run on."""
    if value == "auto":
        return max(1, len(os.sched_getaffinity(0)))
    return int(value)


def worker_arguments(argv: Sequence[str], index: int, count: int, directory: str) -> list[str]:
    """Worker ``index``'s command line (after ``gossipper``): the user's options and
    ``-segment index/count``, which gives the worker its share of the rate, -m, -l, -users,
    the call numbers (Call-IDs) and the injection rows (``gossipper.segment``)."""
    from gossipper.cli.options import command_line_items

    arguments: list[str] = []
    for name, values in command_line_items(argv):
        if name is None:
            arguments.extend(values)
            continue
        if name in PARENT_ONLY_OPTIONS:
            continue
        if name in OUTPUT_FILE_OPTIONS:
            values = tuple(os.path.basename(value) for value in values)
        elif name == "-p" and int(values[0]) != 0:
            # Each worker's replies must come back to it: worker i binds -p + i.
            values = (str(int(values[0]) + index),)
        arguments.append(name)
        arguments.extend(values)
    arguments.extend(
        [
            "-segment",
            f"{index}/{count}",
            "-nostdin",
            "-summary_json",
            os.path.join(directory, "summary.json"),
        ]
    )
    return arguments


def _check_supported(config: RunConfig, scenario: Scenario, count: int) -> None:
    process = config.process
    refusals = [
        (process.interactive, "-interactive (the TUI drives one process)"),
        (process.api_linger_s > 0, "-api_linger (the API ends with the workers)"),
        (config.transport.twin_host is not None, "-3pcc"),
        (
            config.transport.master_name is not None or config.transport.slave_name is not None,
            "-master/-slave",
        ),
        (
            scenario.is_server and config.transport.transport_mode != "u1",
            f"a server scenario over -t {config.transport.transport_mode} (UDP -t u1 only)",
        ),
        (
            scenario.is_server and config.load.max_calls is not None,
            "-m on the server side (each worker would stop after -m calls)",
        ),
        (config.load.segment is not None, "-segment (run N segments instead)"),
    ]
    for refused, what in refusals:
        if refused:
            raise ConfigError(
                f"-workers: {what} is not supported with -workers yet; drop -workers"
                " to run it in one process"
            )
    limit = config.load.max_calls
    if limit is not None and 0 < limit < count:
        raise ConfigError(
            f"-workers {count} with -m {limit}: every worker needs at least one call;"
            f" use -workers {limit} or fewer"
        )
    users = config.load.users
    if users is not None and 0 < users < count:
        raise ConfigError(
            f"-workers {count} with -users {users}: every worker needs at least one user;"
            f" use -workers {users} or fewer"
        )


def run_with_workers(
    argv: Sequence[str], config: RunConfig, stdout: TextIO, stderr: TextIO
) -> ExitStatus:
    """The parent of a ``-workers`` run: its command line is checked and its scenario loaded
    here (errors before any process starts), then the workers run it."""
    from gossipper.cli.main import (
        daemonize,
        load_configured_scenario,
        load_extra_scenarios,
        raw_main,
    )
    from gossipper.server.realrun import SystemWallClock
    from gossipper.workers.supervisor import WorkerSpec, spawn_workers, supervise

    assert config.process.workers is not None
    count = worker_count(config.process.workers)
    scenario = load_configured_scenario(config)
    load_extra_scenarios(config, scenario)
    _check_supported(config, scenario, count)
    if config.traces.gates:
        from gossipper.cli.report_command import check_run_gates

        check_run_gates(config)  # a bad -gate is refused before any worker starts
    if config.process.api_addr is not None:
        from gossipper.cli.run import _check_api_options, _import_api

        _check_api_options(config)
        _import_api()
    if not scenario.is_server and config.target.remote_host is None and not config.target.peer:
        raise ConfigError(
            "no remote host: give remote_host[:port] after the options"
            " (or -peer uas to run against a built-in peer)"
        )
    if config.process.background:
        # As one process's -bg: the foreground prints the pid and exits 99 once the command
        # line and scenario are checked; the group (its directory and files named after that
        # pid) runs in the background process, which forks the workers.
        daemonize(stdout)
    base = os.path.abspath(f"{scenario.base_name}_{os.getpid()}_workers")
    directories = [os.path.join(base, f"w{index}") for index in range(count)]
    # The workers' command lines are built (and checked) before any of them starts.
    arguments = [worker_arguments(argv, index, count, directories[index]) for index in range(count)]
    tz = SystemWallClock().tz
    server = _ServerSocket.open(config, count) if scenario.is_server else None
    spec = WorkerSpec(
        count=count,
        arguments=lambda index: arguments[index],
        directories=directories,
        screen_period_s=config.traces.screen_refresh_s,
        scenario_name=scenario.base_name,
        tz=tz,
        inherited=server.inherited if server is not None else None,
    )
    view = _GroupView(config, tz, scenario.base_name)
    # What a worker's run imports, imported once here: the workers are forked from this
    # process and start with it (gossipper.workers.supervisor.spawn_workers).
    import gossipper.cli.run  # noqa: F401

    try:
        spawned = spawn_workers(spec, raw_main)
        result = trio.run(
            lambda: supervise(
                spec,
                spawned,
                screen=view.screen,
                front_ends=lambda nursery, group: _front_ends(
                    nursery, group, config, view, stdout, stderr, server
                ),
                started=lambda group: _started(group, base, stderr),
            )
        )
    finally:
        if server is not None:
            server.close()
    if server is not None and server.counts.dropped:
        stderr.write(
            f"gossipper: warning: {server.counts.dropped} received datagrams dropped: a"
            " worker's hand-off queue was full or the worker was gone\n"
        )
    return _report(config, scenario, result, view, base, stdout, stderr)


class _ServerSocket:
    """The server side's one SIP socket (the parent reads it, the workers send on it) and
    the hand-off pairs to the workers (``gossipper.transport.handoff``)."""

    def __init__(self, sock: Any, pairs: list[tuple[Any, Any]]) -> None:
        from gossipper.transport.handoff import HandoffCounts

        self.sock = sock
        self.pairs = pairs
        self.counts = HandoffCounts(len(pairs))

    @classmethod
    def open(cls, config: RunConfig, count: int) -> _ServerSocket:
        import socket

        from gossipper.errors import BindError
        from gossipper.server.realrun import MIN_BUFFER_BYTES
        from gossipper.transport.handoff import open_handoff_pairs

        host = config.transport.local_ip or "0.0.0.0"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        buffer_bytes = max(config.transport.buff_size or 0, MIN_BUFFER_BYTES)
        port = config.transport.local_port
        # Without -p, SIPp's search: 5060 upwards.
        candidates = [port] if port is not None else list(range(5060, 5160))
        sock = socket.socket(family, socket.SOCK_DGRAM)
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, buffer_bytes)
            except OSError:
                pass
        for candidate in candidates:
            try:
                sock.bind((host, candidate))
                break
            except OSError as exc:
                if candidate == candidates[-1]:
                    sock.close()
                    raise BindError(
                        f"cannot bind UDP {host}:{candidate}: {exc.strerror or exc}"
                    ) from exc
        sock.setblocking(False)
        return cls(sock, open_handoff_pairs(count, buffer_bytes))

    def inherited(self, index: int) -> tuple[tuple[int, ...], dict[str, str]]:
        from gossipper.workers.wire import UDP_ENV_VAR

        receive = self.pairs[index][1].fileno()
        return (self.sock.fileno(), receive), {UDP_ENV_VAR: f"{self.sock.fileno()}:{receive}"}

    async def dispatch(self) -> None:
        from gossipper.transport.handoff import dispatch

        for _, child in self.pairs:
            child.close()  # the workers have theirs (the parent keeps only its ends)
        await dispatch(self.sock, [parent for parent, _ in self.pairs], self.counts)

    def close(self) -> None:
        self.sock.close()
        for parent, child in self.pairs:
            parent.close()
            child.close()


def _started(group: WorkerGroup, base: str, stderr: TextIO) -> None:
    pids = ", ".join(str(pid) for pid in group.pids)
    stderr.write(f"gossipper: {len(group.pids)} workers started (pids {pids}; files in {base})\n")
    stderr.flush()


class _GroupView:
    """The parent's screens, rendered from merged snapshots."""

    def __init__(self, config: RunConfig, tz: Any, scenario_name: str) -> None:
        self.config = config
        self.tz = tz
        self.scenario_name = scenario_name

    def screen(self, number: int, snapshot: StatsSnapshot, state: dict[str, Any]) -> str | None:
        from gossipper.output.screens import live_screen
        from gossipper.workers.supervisor import group_screen_state

        return live_screen(
            number,
            snapshot,
            server=bool(state.get("is_server", False)),
            context=self.context(state),
            state=group_screen_state(state),
            periodic_rtd=self.config.traces.periodic_rtd,
            actions=[],
            variables=[],
            circuits=None,
            tz=self.tz,
            rfc3339=self.config.traces.rfc3339,
        )

    def context(self, state: dict[str, Any]) -> Any:
        from gossipper.workers.supervisor import screen_context

        return screen_context(state, duration_ms=int(self.config.timers.pause_default_s * 1000))

    def dump(self, group: WorkerGroup) -> str | None:
        from gossipper.output import screen_dump
        from gossipper.workers.supervisor import group_screen_state

        snapshot = group.merged()
        if snapshot is None:
            return None
        state = group.merged_state()
        return screen_dump(
            snapshot,
            server=bool(state.get("is_server", False)),
            context=self.context(state),
            state=group_screen_state(state),
            periodic_rtd=self.config.traces.periodic_rtd,
            tz=self.tz,
            rfc3339=self.config.traces.rfc3339,
        )


async def _front_ends(
    nursery: trio.Nursery,
    group: WorkerGroup,
    config: RunConfig,
    view: _GroupView,
    stdout: TextIO,
    stderr: TextIO,
    server: _ServerSocket | None,
) -> None:
    """Signals, -cp, the keyboard and the live screen of a normal run, driving the group;
    on the server side, the receiver that hands each call to its worker."""
    if server is not None:
        nursery.start_soon(server.dispatch)
    from gossipper.cli.keyboard import keyboard_available, read_keyboard, watch_signals
    from gossipper.cli.run import _is_terminal
    from gossipper.control import Controller, open_control_socket, serve_control_socket

    def warn(text: str) -> None:
        stderr.write(f"gossipper: warning: {text}\n")

    def dump_screens() -> None:
        text = view.dump(group)
        if text is not None:
            stdout.write(text)
            stdout.flush()

    live = None
    if _is_terminal(stdout) and not config.process.background:
        from gossipper.cli.live_screen import LiveScreen

        live = LiveScreen(group, stdout, config.traces.screen_refresh_s)
    controller = Controller(
        group,
        rate_scale=config.load.rate_scale,
        dump_screens=dump_screens,
        warn=warn,
        select_screen=live.select if live is not None else None,
        changed=live.redraw_soon if live is not None else None,
    )
    nursery.start_soon(watch_signals, controller)
    nursery.start_soon(_poll, group, config.traces.screen_refresh_s, live)
    if config.traces.gate_abort:
        from gossipper.cli.report_command import watch_gates_on

        # On the merged figures of the last poll (at most one -f period old).
        nursery.start_soon(
            watch_gates_on, config, group.merged, group.soft_quit, view.scenario_name, stderr
        )
    if live is not None:
        nursery.start_soon(live.run)
    control = await open_control_socket(
        config.transport.control_ip, config.transport.control_port, warn
    )
    if control is not None:
        nursery.start_soon(serve_control_socket, control, controller)
    if not config.process.nostdin and keyboard_available():
        nursery.start_soon(read_keyboard, controller)
    if config.process.api_addr is not None:
        await _start_api(nursery, config, group, controller, stderr)


async def _start_api(
    nursery: trio.Nursery,
    config: RunConfig,
    group: WorkerGroup,
    controller: Any,
    stderr: TextIO,
) -> None:
    """-api_addr: the HTTP API over the group (merged statistics, commands fanned out), as
    ``cli.run`` serves one run's."""
    from gossipper.api.single import SingleRun
    from gossipper.cli.run import serve_single_run

    remote = group.statistics().remote_address
    hosted = SingleRun(
        group,
        controller,
        {
            "scenario": group.scenario_name,
            "remote": f"{remote[0]}:{remote[1]}" if remote else config.target.remote_host,
            "transport": config.transport.transport_mode,
            "rate": config.load.rate,
            "workers": len(group.pids),
        },
    )
    await serve_single_run(nursery, config, hosted, stderr)


async def _poll(group: WorkerGroup, period_s: float, live: Any) -> None:
    """The workers' snapshots at the screen period (the live screen draws the latest)."""
    while True:
        await group.poll()
        if live is not None:
            live.redraw_soon()
        await trio.sleep(period_s)


_EXPLICIT_NAMES = {
    "stat": "stat_file",
    "messages": "message_file",
    "shortmessages": "shortmessage_file",
    "errors": "error_file",
    "logs": "log_file",
    "calldebug": "calldebug_file",
    "screen": "screen_file",
}
"""Trace kind -> the RunConfig.traces field of its explicit file name option."""


def _merge_trace_files(
    config: RunConfig, scenario: Scenario, result: GroupResult, merged: dict[str, str]
) -> list[str]:
    """The workers' SIPp trace files merged into the files one process would have written
    (same names, with the parent's pid; ``gossipper.output.merge``), each put in ``merged``
    by kind. Returns problems."""
    from gossipper.output.merge import (
        MergeError,
        merge_counts_csv,
        merge_error_codes,
        merge_logs,
        merge_rtt_csv,
        merge_stat_csv,
    )

    kinds = sorted({kind for outcome in result.outcomes for kind in outcome.files})
    if not kinds:
        return []
    if config.traces.trace_format != "sipp":
        return [
            f"-trace_format {config.traces.trace_format}: the workers' trace files are not"
            " merged (only SIPp's format is); they are in the worker folders"
        ]
    delimiter = config.traces.stat_delimiter
    problems: list[str] = []
    for kind in kinds:
        paths = [outcome.files[kind] for outcome in result.outcomes if kind in outcome.files]
        explicit = getattr(config.traces, _EXPLICIT_NAMES.get(kind, ""), None)
        if isinstance(explicit, str):
            target = explicit
        else:
            # <scenario>_<worker pid>_<suffix> -> <scenario>_<parent pid>_<suffix>
            name = os.path.basename(paths[0])
            prefix = f"{scenario.base_name}_"
            rest = name[len(prefix) :].split("_", 1)[1] if name.startswith(prefix) else name
            target = f"{prefix}{os.getpid()}_{rest}"
        try:
            texts = []
            for path in paths:
                with open(path, encoding="latin-1", newline="") as handle:
                    texts.append(handle.read())
            if kind == "stat":
                text = merge_stat_csv(texts, paths, delimiter)
            elif kind == "counts":
                text = merge_counts_csv(texts, paths, delimiter)
            elif kind == "rtt":
                text = merge_rtt_csv(texts, paths, delimiter)
            elif kind == "error_codes":
                text = merge_error_codes(texts, paths, delimiter)
            else:
                text = merge_logs(texts, paths)
            with open(target, "w", encoding="latin-1", newline="") as handle:
                handle.write(text)
            merged[kind] = target
        except (MergeError, OSError) as exc:
            problems.append(f"{target}: the workers' {kind} files not merged: {exc}")
    return problems


def _report(
    config: RunConfig,
    scenario: Scenario,
    result: GroupResult,
    view: _GroupView,
    base: str,
    stdout: TextIO,
    stderr: TextIO,
) -> ExitStatus:
    from gossipper.cli.report_command import judge_gates, write_junit, write_report_html
    from gossipper.output import exit_screens, summary_document, write_json_atomic
    from gossipper.workers.supervisor import WORKER_DIED_REASON

    if result.start_failure is not None:
        stderr.write(f"gossipper: error: {result.start_failure}\n")
        return ExitStatus.FATAL
    snapshot = result.snapshot
    state = result.state
    if snapshot is not None:
        stdout.write(
            exit_screens(
                snapshot,
                server=bool(state.get("is_server", False)),
                context=view.context(state),
                tz=view.tz,
                rfc3339=config.traces.rfc3339,
            )
        )
        stdout.flush()
    for outcome in result.outcomes:
        if outcome.died:
            stderr.write(
                f"gossipper: error: {outcome.describe()}; its {outcome.open_calls_lost} open"
                f" calls are counted failed ({WORKER_DIED_REASON})\n"
            )
        elif outcome.fatal_message:
            stderr.write(f"gossipper: error: worker {outcome.index}: {outcome.fatal_message}\n")
    merged: dict[str, str] = {}
    for problem in _merge_trace_files(config, scenario, result, merged):
        stderr.write(f"gossipper: warning: {problem}\n")
    stderr.write(f"gossipper: worker files in {base}\n")
    traces = config.traces
    status = result.exit_status
    if (
        traces.summary_json or traces.gates or traces.junit or traces.report_html
    ) and snapshot is not None:
        doc = summary_document(
            snapshot,
            target_rate=snapshot.target_rate,
            scenario_name=scenario.base_name,
            exit_code=int(result.exit_status),
            tool_version=__version__,
            tz=view.tz,
        )
        if result.lost_calls:
            doc["failures"][WORKER_DIED_REASON] = result.lost_calls
        doc["workers"] = [
            {
                "index": outcome.index,
                "pid": outcome.pid,
                "returncode": outcome.returncode,
                "exit_code": outcome.exit_code,
                "died": outcome.died,
                "open_calls_lost": outcome.open_calls_lost,
            }
            for outcome in result.outcomes
        ]
        # -gate and -junit on the merged figures, as one process's (docs/reports.md); a
        # failed gate turns 0 into 1.
        status = judge_gates(config, status, doc, stderr)
        if traces.summary_json:
            write_json_atomic(traces.summary_json, doc)
        write_junit(config, doc)
        if traces.report_html:
            write_report_html(config, merged, doc, stderr)
    return status
