"""A plain UDP run loads only what it uses: start-up is a large share of the CPU of a short
run at a low rate (docs/performance.md, "Start-up"). HEP mirroring (and the RTCP parser it
brings) is imported only when -hep_addr asks for it."""

from __future__ import annotations

import subprocess
import sys

_NOT_FOR_A_PLAIN_RUN = ("gossipper.session.hep", "gossipper.hep", "gossipper.media.rtp")


def test_a_plain_udp_run_imports_no_hep_module() -> None:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import io, sys; from gossipper.cli.main import raw_main; "
            "status = raw_main(['-sn', 'uac', '-peer', 'uas', '-m', '1', '-nostdin', '-p', '0'],"
            " stdout=io.StringIO(), stderr=io.StringIO()); "
            f"print(status, sorted(m for m in sys.modules if m in {_NOT_FOR_A_PLAIN_RUN!r}))",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert probe.stdout.strip().endswith("0 []"), probe.stdout + probe.stderr
