"""-oocsf/-oocsn and SIPp 3.7's -rxsf/-rxsn/-rxinf on the command line: loading and refusals."""

from __future__ import annotations

import io
import pathlib

import pytest

from gossipper.cli.main import raw_main
from gossipper.errors import ExitStatus


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = raw_main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_sd_dumps_ooc_default() -> None:
    status, out, _ = run_cli("-sd", "ooc_default")
    assert status == ExitStatus.NO_CALLS
    assert '<scenario name="Out-of-call UAS">' in out
    assert '<recv request=".*" regexp_match="true" />' in out
    assert "[last_CSeq:]" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("-sn", "uas", "-oocsn", "ooc_default"),
            "gossipper: error: -oocsn: out-of-call scenarios cannot be used when running in"
            " server mode",
        ),
        (("-sn", "uac", "-oocsn", "nope", "127.0.0.1"), "-oocsn: invalid default scenario name"),
        (("-sn", "uac", "-oocsf", "missing.xml", "127.0.0.1"), "-oocsf missing.xml: no such file"),
        (("-sn", "uac", "-oocsn", "uac", "127.0.0.1"), "-oocsn: <builtin:uac> must begin with"),
        (
            ("-sn", "uac", "-oocsn", "ooc_default", "-oocsf", "x.xml", "127.0.0.1"),
            "-oocsf and -oocsn cannot be combined",
        ),
        (("-sn", "uas", "-rxsn", "uas"), "-rxsn (mixed mode) runs a server scenario beside"),
        (("-sn", "uac", "-rxsn", "uac", "127.0.0.1"), "-rxsn: <builtin:uac> must begin with"),
        (("-sn", "uac", "-rxinf", "rows.csv", "127.0.0.1"), "-rxinf needs a mixed-mode server"),
        (
            ("-sn", "uac", "-rxsn", "uas", "-oocsn", "ooc_default", "127.0.0.1"),
            "-oocsn has no effect in mixed mode",
        ),
    ],
)
def test_bad_second_scenarios_are_one_line_errors(argv: tuple[str, ...], message: str) -> None:
    status, out, err = run_cli(*argv)
    # Start-up errors exit 1, as SIPp's do before traffic (reference section 15).
    assert status == ExitStatus.CALLS_FAILED
    assert out == ""
    assert err.count("\n") == 1, err
    assert message in err, err


def test_rxinf_must_exist(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nope.csv"
    status, _, err = run_cli(
        "-sn", "uac", "-rxsn", "uas", "-rxinf", str(missing), "-m", "1", "127.0.0.1:9"
    )
    # Start-up errors exit 1, as SIPp's do before traffic (reference section 15).
    assert status == ExitStatus.CALLS_FAILED
    assert err == f"gossipper: error: -rxinf {missing}: no such file; give a CSV injection file\n"
    assert err.count("\n") == 1, err
