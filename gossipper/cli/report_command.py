"""``gossipper report`` and the end-of-run reports of a real run (``-report_html``, ``-gate``,
``-junit``); docs/reports.md.

The report is built by :mod:`gossipper.report` from summary documents; this module reads the
command line, writes the files and turns gate results into exit statuses (SIPp's convention:
a failed gate is a failure, exit status 1).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from gossipper import __version__
from gossipper.errors import ConfigError, ExitStatus, GossipperError

if TYPE_CHECKING:
    from gossipper.config import RunConfig
    from gossipper.engine import EngineResult
    from gossipper.report.html import Report
    from gossipper.session import Run
    from gossipper.stats import StatsSnapshot

__all__ = [
    "check_run_gates",
    "judge_run_gates",
    "run_report_command",
    "watch_gates",
    "write_run_reports",
]

USAGE = """\
usage: gossipper report [-o OUT.html] SUMMARY.json [SUMMARY.json ...] [options]

Write one self-contained HTML report (no network needed to open it) from the -summary_json
documents of one or several runs, with the stat/rtt/counts/media CSV files found next to each
summary (same base name, or SIPp's SCENARIO_PID_.csv names in its directory) or given explicitly.

options:
  -o, --output FILE   the HTML file to write (default: the first summary's name with .html)
  --compare           several summaries side by side (default: merged into one run)
  --stat FILE         a -trace_stat CSV (repeatable: the Nth goes with the Nth summary)
  --rtt FILE          a -trace_rtt CSV (repeatable, idem)
  --counts FILE       a -trace_counts CSV (repeatable, idem)
  --media FILE        a -trace_media CSV (repeatable, idem)
  --no-find           do not look for CSV files next to the summaries
  -gate EXPR          pass/fail condition such as failed_calls_pct<1 (repeatable);
                      a failed gate makes the exit status 1
  -junit FILE         also write JUnit XML: a test case per gate and per failure reason
  --no-html           write no HTML (gates and JUnit only)
  -h, --help          this help

Exit status: 0 report written and every gate passed, 1 a gate failed, 255 bad input.
Metrics, gate grammar and file rules: docs/reports.md.
"""


@dataclasses.dataclass(slots=True)
class _Args:
    summaries: list[str] = dataclasses.field(default_factory=list)
    output: str | None = None
    compare: bool = False
    stat: list[str] = dataclasses.field(default_factory=list)
    rtt: list[str] = dataclasses.field(default_factory=list)
    counts: list[str] = dataclasses.field(default_factory=list)
    media: list[str] = dataclasses.field(default_factory=list)
    gates: list[str] = dataclasses.field(default_factory=list)
    junit: str | None = None
    find: bool = True
    html: bool = True


class _UsageError(ConfigError):
    exit_status = ExitStatus.FATAL


_VALUED = {
    "-o": "output",
    "--output": "output",
    "--stat": "stat",
    "-stat": "stat",
    "--rtt": "rtt",
    "-rtt": "rtt",
    "--counts": "counts",
    "-counts": "counts",
    "--media": "media",
    "-media": "media",
    "-gate": "gates",
    "--gate": "gates",
    "-junit": "junit",
    "--junit": "junit",
}
_FLAGS = {"--compare": "compare", "-compare": "compare"}


def _parse(argv: Sequence[str]) -> _Args:
    args = _Args()
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        name, eq, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if name in _VALUED:
            if eq:
                value = inline
            elif i + 1 < len(tokens):
                i += 1
                value = tokens[i]
            else:
                raise _UsageError(
                    f"gossipper report: {name} needs a value; see gossipper report -h"
                )
            field = _VALUED[name]
            current = getattr(args, field)
            if isinstance(current, list):
                current.append(value)
            else:
                setattr(args, field, value)
        elif token in _FLAGS:
            args.compare = True
        elif token in ("--no-find", "-no-find"):
            args.find = False
        elif token in ("--no-html", "-no-html"):
            args.html = False
        elif token.startswith("-") and token != "-":
            raise _UsageError(f"gossipper report: unknown option {token}; see gossipper report -h")
        else:
            args.summaries.append(token)
        i += 1
    if not args.summaries:
        raise _UsageError(
            "gossipper report: give at least one summary file (written by -summary_json);"
            " see gossipper report -h"
        )
    for option, files in (
        ("--stat", args.stat),
        ("--rtt", args.rtt),
        ("--counts", args.counts),
        ("--media", args.media),
    ):
        if len(files) > len(args.summaries):
            raise _UsageError(
                f"gossipper report: {len(files)} {option} files for {len(args.summaries)}"
                f" summaries; give at most one {option} per summary, in the same order"
            )
    if not args.html and args.output:
        raise _UsageError("gossipper report: --no-html and -o contradict each other; drop one")
    return args


def _write_text(path: str, text: str, option: str) -> None:
    """Write atomically (a new file renamed over ``path``, with the umask's permissions): a
    reader never sees half a report."""
    directory, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(directory, f".{name}.{os.urandom(6).hex()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
                file.write(text)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
    except OSError as exc:
        raise GossipperError(
            f"{option} {path}: cannot write it ({exc.strerror}); check that the directory"
            " exists and is writable"
        ) from exc


def _default_output(summary: str) -> str:
    base, ext = os.path.splitext(summary)
    return (base if ext == ".json" else summary) + ".html"


def run_report_command(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> ExitStatus:
    """``gossipper report ARGS``: returns 0, 1 (a gate failed) or raises an input error."""
    if any(token in ("-h", "--h", "-help", "--help") for token in argv):
        stdout.write(USAGE)
        return ExitStatus.NO_CALLS
    from gossipper.report.gates import parse_gates
    from gossipper.report.html import build_report, render_html
    from gossipper.report.inputs import load_input

    args = _parse(argv)
    gates = parse_gates(args.gates)
    names = [os.path.basename(path) for path in args.summaries]
    # Runs are named by file name, or by the path as given when names repeat (run1/summary.json).
    labels = [
        path if names.count(name) > 1 else name
        for path, name in zip(args.summaries, names, strict=True)
    ]
    inputs = [
        load_input(
            path,
            stat=args.stat[i] if i < len(args.stat) else None,
            rtt=args.rtt[i] if i < len(args.rtt) else None,
            counts=args.counts[i] if i < len(args.counts) else None,
            media=args.media[i] if i < len(args.media) else None,
            find=args.find,
            label=labels[i],
        )
        for i, path in enumerate(args.summaries)
    ]
    report = build_report(inputs, compare=args.compare, gates=gates, tool_version=__version__)
    _print_gates(report, stderr)
    if args.html:
        output = args.output or _default_output(args.summaries[0])
        _write_text(output, render_html(report), "-o")
        stderr.write(f"gossipper: report written to {output}\n")
    if args.junit:
        _write_junit(report, args.junit)
    return ExitStatus.SUCCESS if report.passed else ExitStatus.CALLS_FAILED


def _print_gates(report: Report, stderr: TextIO) -> None:
    from gossipper.report.gates import format_gate_line

    for item in report.gate_results:
        prefix = f"[{item.label}] " if item.label else ""
        stderr.write(f"gossipper: {format_gate_line(item.result, prefix=prefix)}\n")


def _write_junit(report: Report, path: str) -> None:
    from gossipper.report.junit import format_junit

    if len(report.documents) == 1:
        label, doc = report.documents[0]
        text = format_junit(doc, [item.result for item in report.gate_results], label=label)
    else:
        text = _junit_of_several(report)
    _write_text(path, text, "-junit")


def _junit_of_several(report: Report) -> str:
    """Side by side runs: the suites of each run under one ``testsuites`` element."""
    import xml.etree.ElementTree as ET

    from gossipper.report.junit import format_junit

    root = ET.Element("testsuites", {"name": "gossipper"})
    tests = failures = 0
    for label, doc in report.documents:
        results = [item.result for item in report.gate_results if item.label == label]
        part = ET.fromstring(format_junit(doc, results, label=label).split("\n", 1)[1])
        tests += int(part.get("tests", "0"))
        failures += int(part.get("failures", "0"))
        root.extend(list(part))
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def check_run_gates(config: RunConfig) -> None:
    """Refuse bad ``-gate`` expressions before the run starts (exit status 255)."""
    if config.traces.gate_abort and not config.traces.gates:
        raise _UsageError("-gate_abort checks the gates during the run: add at least one -gate")
    if config.traces.gates:
        from gossipper.report.gates import parse_gates

        parse_gates(config.traces.gates)


GATE_CHECK_INTERVAL_S = 1.0
"""How often ``-gate_abort`` looks at the figures of a run."""


async def watch_gates(config: RunConfig, run: Run, stderr: TextIO) -> None:
    """``-gate_abort`` on one process's run: see :func:`watch_gates_on`."""
    engine = run.engine
    await watch_gates_on(
        config, engine.snapshot, engine.soft_quit, run.plan.scenario.base_name, stderr
    )


async def watch_gates_on(
    config: RunConfig,
    snapshot_now: Callable[[], StatsSnapshot | None],
    soft_quit: Callable[[str], object],
    scenario_name: str,
    stderr: TextIO,
) -> None:
    """``-gate_abort``: every second, stop the run (no new call; the open ones finish) as
    soon as a gate can no longer pass (:func:`gossipper.report.gates.cannot_pass`), judged
    on ``snapshot_now()`` (a ``-workers`` group's merged snapshot, at most one ``-f`` period
    old). The gates are still judged at the end, as without ``-gate_abort``."""
    import trio

    from gossipper.report.gates import cannot_pass, parse_gates, summary_metrics
    from gossipper.stats.summary import build_summary_json

    gates = parse_gates(config.traces.gates)
    max_calls = config.load.max_calls or 0
    while True:
        await trio.sleep(GATE_CHECK_INTERVAL_S)
        snapshot = snapshot_now()
        if snapshot is None:
            continue  # no figures yet (a group before its first poll)
        doc = build_summary_json(
            snapshot,
            tool_version=__version__,
            start_wall=snapshot.start_wall,
            finish_wall=snapshot.now_wall,
            target_rate=snapshot.target_rate,
            scenario_name=scenario_name,
            exit_code=0,
        )
        metrics = summary_metrics(doc)
        for gate in gates:
            why = cannot_pass(gate, metrics, max_calls=max_calls)
            if why is not None:
                stderr.write(
                    f"gossipper: gate {gate.text} can no longer pass ({why}):"
                    " stopping the run (-gate_abort)\n"
                )
                soft_quit(f"gate {gate.text} failed")
                return


def judge_run_gates(
    config: RunConfig, result: EngineResult, doc: dict[str, Any], stderr: TextIO
) -> EngineResult:
    """At the end of a real run: evaluate the gates, print each on stderr, add them to
    ``doc`` as ``gates``; returns the result with the exit status a failed gate makes (0
    becomes 1, also in ``doc``)."""
    status = judge_gates(config, result.exit_status, doc, stderr)
    if status != result.exit_status:
        result = dataclasses.replace(result, exit_status=status)
    return result


def judge_gates(
    config: RunConfig, status: ExitStatus, doc: dict[str, Any], stderr: TextIO
) -> ExitStatus:
    """:func:`judge_run_gates` on an exit status (a ``-workers`` group's too): the gates
    evaluated on ``doc``, each printed on stderr and added as ``gates``; a failed one turns
    0 into 1, also in ``doc``."""
    from gossipper.report.gates import (
        evaluate_gates,
        format_gate_line,
        gate_results_json,
        parse_gates,
    )

    results = evaluate_gates(parse_gates(config.traces.gates), doc)
    if results:
        doc["gates"] = gate_results_json(results)
    for gate_result in results:
        stderr.write(f"gossipper: {format_gate_line(gate_result)}\n")
    if not all(r.passed for r in results) and status == ExitStatus.SUCCESS:
        doc["exit_code"] = int(ExitStatus.CALLS_FAILED)
        return ExitStatus.CALLS_FAILED
    return status


def write_run_reports(config: RunConfig, run: Run, doc: dict[str, Any], stderr: TextIO) -> None:
    """At the end of a real run (after :func:`judge_run_gates`): ``-junit`` and
    ``-report_html``."""
    traces = config.traces
    write_junit(config, doc)
    if traces.report_html:
        write_report_html(config, run.traces.paths if run.traces is not None else {}, doc, stderr)


def write_junit(config: RunConfig, doc: dict[str, Any]) -> None:
    """``-junit`` at the end of a real run (a ``-workers`` group's too): from the summary
    document and the gates judged on it."""
    if config.traces.junit:
        from gossipper.report.gates import evaluate_gates, parse_gates
        from gossipper.report.junit import format_junit

        results = evaluate_gates(parse_gates(config.traces.gates), doc)
        _write_text(config.traces.junit, format_junit(doc, results), "-junit")


def write_report_html(
    config: RunConfig, paths: Mapping[str, str], doc: dict[str, Any], stderr: TextIO
) -> None:
    """``-report_html`` at the end of a real run (a ``-workers`` group's too): the page of
    the summary document and the SIPp trace files at ``paths`` (by kind: ``stat``, ``rtt``,
    ``counts``, ``media``) that exist."""
    from gossipper.report.csvdata import (
        read_counts_csv,
        read_media_csv,
        read_rtt_csv,
        read_stat_csv,
    )
    from gossipper.report.gates import parse_gates
    from gossipper.report.html import ReportInput, build_report, render_html

    if config.traces.trace_format != "sipp":
        paths = {}  # the report reads SIPp's CSV formats only
    readers = {
        "stat": read_stat_csv,
        "rtt": read_rtt_csv,
        "counts": read_counts_csv,
        "media": read_media_csv,
    }
    loaded: dict[str, Any] = {}
    for kind, reader in readers.items():
        path = paths.get(kind)
        if path and os.path.isfile(path):
            try:
                loaded[kind] = reader(path)
            except GossipperError as exc:
                stderr.write(f"gossipper: warning: -report_html: {exc}\n")
    item = ReportInput(
        label=str(doc["scenario_name"]),
        summary=doc,
        summary_path=config.traces.summary_json or "",
        stat=loaded.get("stat"),
        rtt=loaded.get("rtt"),
        counts=loaded.get("counts"),
        media=loaded.get("media"),
    )
    report = build_report([item], gates=parse_gates(config.traces.gates), tool_version=__version__)
    _write_text(config.traces.report_html or "", render_html(report), "-report_html")
