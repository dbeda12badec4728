"""``gossipper merge``: the results of N segments or processes of one test as one result
(gossipper.output.merge; docs/compatibility.md, "gossipper merge")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from gossipper.errors import ExitStatus

__all__ = ["run_merge_command", "USAGE"]

USAGE = """\
usage: gossipper merge DIR_OR_FILE [DIR_OR_FILE ...] -o OUTDIR [-stat_delimiter D]

Merge what N segments (-segment I/N) or N processes of one test wrote into one result in
OUTDIR: the -summary_json documents (counts add, histograms merge, percentiles recomputed)
and SIPp's trace files (stat CSV row by row, counts CSV, rtt CSV, error codes, logs). Folders
are searched recursively; each output keeps the name of its first input.

options:
  -o, --output DIR      the folder to write (created if needed)
  -stat_delimiter D     the CSV delimiter the runs used (default ;)
  -h, --help            this help

Exit status: 0 merged, 255 bad input (the message names the file and the fix).
"""


def run_merge_command(args: Sequence[str], stdout: TextIO, stderr: TextIO) -> ExitStatus:
    from gossipper.output.merge import MergeError, merge_result_files

    inputs: list[str] = []
    output: str | None = None
    delimiter = ";"
    tokens = list(args)
    i = 0
    try:
        while i < len(tokens):
            token = tokens[i]
            if token in ("-h", "--help", "-help"):
                stdout.write(USAGE)
                return ExitStatus.NO_CALLS
            if token in ("-o", "--output", "-stat_delimiter", "--stat_delimiter"):
                if i + 1 >= len(tokens) or not tokens[i + 1]:
                    raise MergeError(f"gossipper merge: {token} needs a value; see -h")
                i += 1
                if token.endswith("delimiter"):
                    delimiter = tokens[i]
                else:
                    output = tokens[i]
            elif token.startswith("-") and token != "-":
                raise MergeError(f"gossipper merge: unknown option {token}; see gossipper merge -h")
            else:
                inputs.append(token)
            i += 1
        if not inputs or output is None:
            raise MergeError(
                "gossipper merge: give the result folders or files and -o OUTDIR, e.g."
                " gossipper merge results/ -o merged/"
            )
        written = merge_result_files(
            inputs,
            output,
            delimiter=delimiter,
            warn=lambda text: print(f"gossipper: warning: {text}", file=stderr),
        )
    except MergeError as exc:
        stderr.write(f"gossipper: error: {exc}\n")
        return ExitStatus.FATAL
    for merged in written:
        stdout.write(f"{merged.kind}: {merged.path} <- {len(merged.sources)} file(s)\n")
    return ExitStatus.SUCCESS
