"""``gossipper pcap2scenario CAPTURE -o DIR``: the dialogs of a capture as SIPp scenarios
(docs/pcap2scenario.md). A composition root like ``cli.sim_command``: it parses the command line
and hands the work to :mod:`gossipper.capture` (which imports dpkt)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TextIO

from gossipper.errors import ConfigError, ExitStatus

__all__ = ["run_pcap2scenario_command"]

_USAGE = "gossipper pcap2scenario CAPTURE -o DIR [options]"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"pcap2scenario: {message} (see gossipper pcap2scenario -h)")


def _parser() -> _Parser:
    parser = _Parser(
        prog="gossipper pcap2scenario",
        usage=_USAGE,
        description=(
            "Turn every SIP dialog of a pcap/pcapng capture into a UAC and a UAS scenario"
            " (SIPp XML) that replay it; dialogs of the same shape share one pair and an"
            " injection CSV of their users."
        ),
    )
    parser.add_argument("capture", metavar="CAPTURE", help="pcap or pcapng file")
    parser.add_argument(
        "-o",
        dest="directory",
        metavar="DIR",
        required=True,
        help="output directory (created if missing)",
    )
    parser.add_argument(
        "--call-id",
        dest="call_ids",
        metavar="ID",
        action="append",
        default=[],
        help="convert only this Call-ID (repeatable)",
    )
    parser.add_argument(
        "--method", metavar="M", help="convert only dialogs whose first request is M (INVITE, ...)"
    )
    parser.add_argument(
        "--from",
        dest="from_s",
        metavar="T",
        help="only dialogs starting T seconds or more after the first packet",
    )
    parser.add_argument(
        "--to",
        dest="to_s",
        metavar="T",
        help="only dialogs starting at most T seconds after the first packet",
    )
    parser.add_argument(
        "--time-scale",
        dest="time_scale",
        metavar="F",
        default="1",
        help="multiply the captured pauses by F (default 1)",
    )
    parser.add_argument(
        "--no-pauses",
        dest="no_pauses",
        action="store_true",
        help="write no <pause> from the capture's timing",
    )
    parser.add_argument(
        "--password",
        metavar="P",
        help="digest password of a 401/407 challenge: the UAC answers with it,"
        " the UAS checks it (<verifyauth>); default: the placeholder PASSWORD"
        " and no check",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    return parser


def run_pcap2scenario_command(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> ExitStatus:
    """Handler of ``gossipper pcap2scenario`` (``cli.commands``)."""
    parser = _parser()
    if any(arg in ("-h", "--help") for arg in argv):
        stdout.write(parser.format_help())
        return ExitStatus.NO_CALLS
    args = parser.parse_args(list(argv))
    from gossipper.capture import CaptureError
    from gossipper.capture.convert import (
        Selection,
        convert,
        describe,
        parse_instant,
        parse_time,
    )
    from gossipper.capture.scenarios import GenerateOptions

    time_scale = parse_time(args.time_scale, "--time-scale")
    if time_scale < 0:
        raise ConfigError(f"--time-scale {args.time_scale}: give a factor of 0 or more")
    from_s, from_absolute = (
        (None, False) if args.from_s is None else parse_instant(args.from_s, "--from")
    )
    to_s, to_absolute = (None, False) if args.to_s is None else parse_instant(args.to_s, "--to")
    selection = Selection(
        call_ids=tuple(args.call_ids),
        method=args.method,
        from_s=from_s,
        to_s=to_s,
        from_absolute=from_absolute,
        to_absolute=to_absolute,
    )
    options = GenerateOptions(
        time_scale=time_scale, pauses=not args.no_pauses, password=args.password
    )
    try:
        read, written = convert(args.capture, args.directory, selection, options, force=args.force)
    except CaptureError as exc:
        raise CaptureError(f"pcap2scenario: {exc}") from None
    skipped = read.skipped.summary()
    if skipped:
        stderr.write(f"gossipper pcap2scenario: skipped {skipped}\n")
    dialogs = [dialog for pair in written for dialog in pair.dialogs]
    legs = sum(dialog.other_legs for dialog in dialogs)
    retransmissions = sum(dialog.retransmissions for dialog in dialogs)
    if legs or retransmissions:
        stderr.write(
            f"gossipper pcap2scenario: left out {retransmissions} retransmission(s) and {legs}"
            " message(s) of other legs of the same Call-IDs (only the first request's two"
            " endpoints are kept)\n"
        )
    for line in describe(written):
        stdout.write(line + "\n")
    return ExitStatus.SUCCESS
