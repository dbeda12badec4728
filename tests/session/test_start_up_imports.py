"""A plain UDP run loads only what it uses: start-up is a large share of the CPU of a short
run at a low rate (docs/performance.md, "Start-up"). HEP mirroring (and the RTCP parser it
brings) is imported only when -hep_addr asks for it; standard-library modules that only an
option, a keyword or an error message needs are imported where they are used."""

from __future__ import annotations

import subprocess
import sys

import pytest

_NOT_FOR_A_PLAIN_RUN = ("gossipper.session.hep", "gossipper.hep", "gossipper.media.rtp")

_STDLIB_ON_DEMAND = (
    "email.utils",  # the [date] keyword
    "difflib",  # the hint of an unknown configuration key
    "uuid",  # -cid_type uuid
    "fractions",  # -segment
    "json",  # -summary_json
)


def _modules_loaded_by_a_plain_run(names: tuple[str, ...]) -> str:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import io, sys; from gossipper.cli.main import raw_main; "
            "status = raw_main(['-sn', 'uac', '-peer', 'uas', '-m', '1', '-nostdin', '-p', '0'],"
            " stdout=io.StringIO(), stderr=io.StringIO()); "
            f"print(status, sorted(m for m in sys.modules if m in {names!r}))",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return probe.stdout + probe.stderr


@pytest.mark.parametrize("names", [_NOT_FOR_A_PLAIN_RUN, _STDLIB_ON_DEMAND], ids=["hep", "stdlib"])
def test_a_plain_udp_run_imports_only_what_it_uses(names: tuple[str, ...]) -> None:
    output = _modules_loaded_by_a_plain_run(names)
    assert output.strip().endswith("0 []"), output
