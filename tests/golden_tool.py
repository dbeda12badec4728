"""The golden simulation cases: their command lines, and the tool that (re)generates them.

``python -m tests.golden_tool --regenerate [CASE ...]`` (the nox ``golden`` session) runs each
case and rewrites ``tests/golden_csv/<case>/``; ``python -m tests.golden_tool --check`` runs them
and lists the files that differ. ``tests/test_golden_csv.py`` compares every file byte for byte.
See tests/golden_csv/README.md for how to review a diff.

Each case runs ``gossipper sim`` in-process in an empty directory (the inputs it names are
copied there first, so command lines hold no machine-specific path). Everything the run leaves
in that directory is kept, plus ``stdout.txt``, ``stderr.txt`` and ``exit_status.txt``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import os
import pathlib
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from gossipper.cli.main import raw_main

ROOT = pathlib.Path(__file__).resolve().parent / "golden_csv"
"""Where the expected outputs live, one directory per case."""
INPUTS = ROOT / "scenarios"
"""Scenario files the cases use (copied into the run directory)."""

TRACES: tuple[str, ...] = (
    "-trace_stat",
    "-trace_counts",
    "-trace_rtt",
    "-trace_error_codes",
    "-trace_msg",
    "-trace_shortmsg",
    "-trace_err",
    "-trace_logs",
    "-trace_calldebug",
    "-trace_screen",
    "-fd",
    "1",
    "-summary_json",
    "summary.json",
)
"""Every output file a run can write (statistics dumped every virtual second)."""


@dataclass(frozen=True, slots=True)
class GoldenCase:
    """One named simulation whose every output file is pinned."""

    name: str
    description: str
    args: tuple[str, ...]
    inputs: tuple[str, ...] = ()

    @property
    def argv(self) -> list[str]:
        """The ``gossipper`` arguments (after ``gossipper``)."""
        return ["sim", *self.args, *TRACES]


_TN_RESETS = (
    "-sn", "uac", "-t", "tn", "-m", "40", "-r", "20", "-net_reset", "3",
    "-net_delay", "10", "-net_split", "20", "-net_coalesce", "20", "-seed", "5",
)  # fmt: skip

CASES: tuple[GoldenCase, ...] = (
    GoldenCase(
        "clean",
        "uac against uas on a perfect network",
        ("-sn", "uac", "-m", "20", "-r", "10"),
    ),
    GoldenCase(
        "loss_10pct",
        "10% loss both ways: SIPp's retransmissions recover the calls",
        ("-sn", "uac", "-m", "40", "-r", "20", "-net_loss", "10", "-net_delay", "5", "-seed", "7"),
    ),
    GoldenCase(
        "delay_jitter",
        "40 ms one-way delay with 30 ms jitter (and 2 ms / 10% reordering back)",
        (
            "-sn",
            "uac",
            "-m",
            "30",
            "-r",
            "20",
            "-net_delay",
            "40",
            "-net_jitter",
            "30",
            "-net_reorder_s2c",
            "10",
            "-net_reorder_delay",
            "2",
            "-seed",
            "3",
        ),
    ),
    GoldenCase(
        "reject_486",
        "a UAS that answers every INVITE with 486 Busy Here",
        ("-sn", "uac", "-m", "10", "-r", "10", "-peer", "uas_486.xml"),
        inputs=("uas_486.xml",),
    ),
    GoldenCase(
        "branch",
        "the branching pair branchc/branchs (REGISTER, INVITE, labels, regexp tests)",
        ("-sn", "branchc", "-m", "10", "-r", "10", "-net_delay", "3"),
    ),
    GoldenCase(
        "named_rtd",
        "named RTDs, counters, repartitions, random pauses and <log> lines",
        (
            "-sf",
            "uac_rtd.xml",
            "-m",
            "25",
            "-r",
            "10",
            "-net_delay",
            "10",
            "-net_jitter",
            "40",
            "-seed",
            "11",
        ),
        inputs=("uac_rtd.xml",),
    ),
    GoldenCase(
        "rate_ramp",
        # 1.3 s: ramp steps fall on pacing instants (2.6 s = 13 calls at 10 cps): steps first.
        "-rate_increase/-rate_max: 5 cps more every 1.3 s up to 25 cps, then quit",
        (
            "-sn",
            "uac",
            "-r",
            "5",
            "-rate_increase",
            "5",
            "-rate_interval",
            "1.3s",
            "-rate_max",
            "25",
            "-net_delay",
            "2",
        ),
    ),
    GoldenCase(
        "users",
        "-users 4: each user starts its next call when the previous one ends",
        ("-sn", "uac", "-users", "4", "-m", "24", "-d", "250", "-net_delay", "7"),
    ),
    GoldenCase(
        "timeout_limit",
        "-timeout 3s with -l 4 and 30% loss: the global timeout aborts the calls still open",
        ("-sn", "uac", "-r", "10", "-l", "4", "-timeout", "3s", "-net_loss", "30", "-seed", "4"),
    ),
    GoldenCase(
        "gossipper_format",
        "-trace_format gossipper: the Go tool's comma-separated schemas, 10% loss",
        ("-sn", "uac", "-m", "15", "-r", "10", "-net_loss", "10", "-trace_format", "gossipper"),
    ),
    GoldenCase(
        "server_main",
        "the main side is the uas (uac peer at 20 cps, 5% duplication)",
        ("-sn", "uas", "-m", "20", "-r", "20", "-net_dup", "5", "-net_delay", "4", "-seed", "5"),
    ),
    GoldenCase(
        "tcp_t1",
        "-t t1: every call over one TCP connection, clean network",
        ("-sn", "uac", "-t", "t1", "-m", "20", "-r", "10"),
    ),
    GoldenCase(
        "tcp_tn_resets",
        "-t tn: a connection per call; 3% resets, 10 ms delay, split and coalesced segments",
        _TN_RESETS,
    ),
    GoldenCase(
        "tls_ln",
        "-t ln: a TLS connection (real handshake) per call, 5 ms delay",
        ("-sn", "uac", "-t", "ln", "-m", "20", "-r", "10", "-net_delay", "5"),
    ),
    GoldenCase(
        "routing_rrs",
        "a dialog through record-routing proxies: the uac's ACK and BYE go to [next_url] with"
        " [routes] (rrs), checked by the uas",
        ("-sf", "uac_rrs.xml", "-peer", "uas_rrs.xml", "-m", "10", "-r", "10", "-net_delay", "3"),
        inputs=("uac_rrs.xml", "uas_rrs.xml"),
    ),
    GoldenCase(
        "ws_w1",
        "-t w1: SIP over one WebSocket connection, 5 ms delay",
        ("-sn", "uac", "-t", "w1", "-m", "20", "-r", "10", "-net_delay", "5"),
    ),
    GoldenCase(
        "mixed_mode",
        "SIPp 3.7 mixed mode: two engines each run uac and an rx server scenario (-rxinf rows)"
        " and call each other; 5 ms delay, 5% duplication",
        (
            "-sn",
            "uac",
            "-rxsf",
            "rx_uas_rows.xml",
            "-rxinf",
            "rx_rows.csv",
            "-m",
            "10",
            "-r",
            "5",
            "-d",
            "1500",
            "-net_delay",
            "5",
            "-net_dup",
            "5",
            "-seed",
            "11",
        ),
        inputs=("rx_uas_rows.xml", "rx_rows.csv"),
    ),
    GoldenCase(
        "rfc3339",
        "-rfc3339: RFC 3339 dates in every file, the screens and [timestamp] (486 peer)",
        ("-sf", "uac_timestamp.xml", "-m", "4", "-r", "10", "-peer", "uas_486.xml", "-rfc3339"),
        inputs=("uac_timestamp.xml", "uas_486.xml"),
    ),
    GoldenCase(
        "threepcc_twin",
        "3PCC: 3pcc-C-A (main) with its twin 3pcc-C-B and the 3pcc-A/3pcc-B servers, 3 ms"
        " delay, 5% loss on the SIP legs",
        (
            "-sn",
            "3pcc-C-A",
            "-m",
            "12",
            "-r",
            "5",
            "-net_delay",
            "3",
            "-net_loss",
            "5",
            "-seed",
            "9",
        ),
    ),
    GoldenCase(
        "hep_udp",
        "-hep_addr: every SIP message and a per-call JSON log mirrored as HEP3 over UDP to a"
        " collector on the simulated network (hep_capture.log), 486 peer",
        (
            "-sn",
            "uac",
            "-m",
            "6",
            "-r",
            "10",
            "-peer",
            "uas_486.xml",
            "-hep_addr",
            "10.0.0.9:9060",
            "-hep_capture_id",
            "2001",
            "-hep_password",
            "secret",
            "-hep_node_name",
            "lab",
        ),
        inputs=("uas_486.xml",),
    ),
    GoldenCase(
        "media_rtp",
        "media: rtp_stream of a G.711 file both ways and RFC 4733 DTMF, RTCP, under 5% loss,"
        " 20 ms delay and 15 ms jitter; -trace_media pins each stream's loss, jitter and MOS",
        (
            "-sf",
            "uac_rtp.xml",
            "-peer",
            "uas_rtp.xml",
            "-m",
            "6",
            "-r",
            "2",
            "-net_loss",
            "5",
            "-net_delay",
            "20",
            "-net_jitter",
            "15",
            "-seed",
            "7",
            "-trace_media",
        ),
        inputs=("uac_rtp.xml", "uas_rtp.xml", "tone.alaw"),
    ),
    GoldenCase(
        "media_rtpcheck",
        "SIPp 3.7's RTP check pattern (apattern, paused and resumed) echoed by a uas with exec"
        " rtp_echo under 3% loss, 10 ms delay and 5 ms jitter: -audiotolerance 0.97 passes"
        " some calls' checks and fails others (exit 253); the -rtpcheck_debug file and the"
        " media CSV pin each stream's counts",
        (
            "-sf",
            "uac_apattern.xml",
            "-peer",
            "uas_echo.xml",
            "-m",
            "4",
            "-r",
            "2",
            "-net_loss",
            "3",
            "-net_delay",
            "10",
            "-net_jitter",
            "5",
            "-seed",
            "5",
            "-audiotolerance",
            "0.97",
            "-trace_media",
            "-rtpcheck_debug",
        ),
        inputs=("uac_apattern.xml", "uas_echo.xml"),
    ),
    GoldenCase(
        "hep_t1_tcp",
        "-hep_transport tcp with -t t1: SIP over TCP (IP protocol 6 in the packets), HEP3 over a"
        " TCP connection to the collector, 5 ms delay",
        (
            "-sn",
            "uac",
            "-t",
            "t1",
            "-m",
            "6",
            "-r",
            "10",
            "-net_delay",
            "5",
            "-hep_addr",
            "10.0.0.9:9060",
            "-hep_transport",
            "tcp",
        ),
    ),
    GoldenCase(
        "hep_media",
        "-hep_addr with media: each call's RTCP reports (HEP type 5, Homer's JSON form) and each"
        " stream's quality log (type 100) under the Call-ID, next to the SIP messages; 3% loss,"
        " 20 ms delay, 15 ms jitter",
        (
            "-sf",
            "uac_rtp.xml",
            "-peer",
            "uas_rtp.xml",
            "-m",
            "2",
            "-r",
            "2",
            "-net_loss",
            "3",
            "-net_delay",
            "20",
            "-net_jitter",
            "15",
            "-seed",
            "3",
            "-trace_media",
            "-hep_addr",
            "10.0.0.9:9060",
            "-hep_capture_id",
            "2002",
            "-hep_node_name",
            "media-lab",
        ),
        inputs=("uac_rtp.xml", "uas_rtp.xml", "tone.alaw"),
    ),
)
"""The golden cases (at least 8, see issue 4 item 6)."""

_BY_NAME = {case.name: case for case in CASES}


@contextlib.contextmanager
def _working_directory(path: pathlib.Path) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def run_case(case: GoldenCase, directory: pathlib.Path) -> dict[str, bytes]:
    """Run ``case`` in the empty ``directory``; return every output file by name."""
    for name in case.inputs:
        shutil.copyfile(INPUTS / name, directory / name)
    stdout, stderr = io.StringIO(), io.StringIO()
    with _working_directory(directory):
        status = raw_main(case.argv, stdout=stdout, stderr=stderr)
    outputs = {
        path.name: path.read_bytes()
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name not in case.inputs
    }
    outputs["stdout.txt"] = stdout.getvalue().encode("utf-8")
    outputs["stderr.txt"] = stderr.getvalue().encode("utf-8")
    outputs["exit_status.txt"] = f"{status}\n".encode()
    return outputs


def expected_outputs(case: GoldenCase) -> dict[str, bytes]:
    """The stored outputs of ``case``."""
    directory = ROOT / case.name
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def diff_outputs(expected: dict[str, bytes], actual: dict[str, bytes]) -> list[str]:
    """Human-readable differences (empty when identical)."""
    problems: list[str] = []
    for name in sorted(expected.keys() | actual.keys()):
        if name not in actual:
            problems.append(f"missing output file {name}")
        elif name not in expected:
            problems.append(f"unexpected output file {name}")
        elif expected[name] != actual[name]:
            lines = difflib.unified_diff(
                expected[name].decode("latin-1").splitlines(),
                actual[name].decode("latin-1").splitlines(),
                f"expected/{name}",
                f"actual/{name}",
                lineterm="",
                n=1,
            )
            problems.append("\n".join(list(lines)[:40]))
    return problems


def _selected(names: Sequence[str]) -> list[GoldenCase]:
    unknown = [name for name in names if name not in _BY_NAME]
    if unknown:
        raise SystemExit(
            f"unknown golden case(s): {', '.join(unknown)}; known: {', '.join(_BY_NAME)}"
        )
    return [_BY_NAME[name] for name in names] if names else list(CASES)


def main(argv: Sequence[str] | None = None) -> int:
    """``--regenerate`` rewrites the expected files; ``--check`` reports differences."""
    parser = argparse.ArgumentParser(prog="python -m tests.golden_tool")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--regenerate", action="store_true", help="rewrite tests/golden_csv/")
    mode.add_argument("--check", action="store_true", help="compare, print differences")
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    options = parser.parse_args(argv)
    failed = 0
    for case in _selected(options.cases):
        with tempfile.TemporaryDirectory(prefix=f"golden-{case.name}-") as scratch:
            outputs = run_case(case, pathlib.Path(scratch))
        target = ROOT / case.name
        if options.regenerate:
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            for name, data in outputs.items():
                (target / name).write_bytes(data)
            print(f"{case.name}: {len(outputs)} files written to {target}")
            continue
        problems = (
            diff_outputs(expected_outputs(case), outputs)
            if target.exists()
            else [f"no expected files in {target}; run --regenerate"]
        )
        failed += bool(problems)
        print(f"{case.name}: {'DIFFERS' if problems else 'ok'}")
        for problem in problems:
            print(problem)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
