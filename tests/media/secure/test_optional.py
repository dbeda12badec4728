"""The media-secure extra stays optional: a plain run never loads pylibsrtp, OpenSSL or us."""

from __future__ import annotations

import subprocess
import sys


def test_version_and_plain_udp_run_import_no_secure_media() -> None:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import io, sys; from gossipper.cli.main import raw_main; "
            "raw_main(['-v'], stdout=io.StringIO()); "
            "raw_main(['-sn', 'uac', '-peer', 'uas', '-m', '1', '-nostdin', '-p', '0'],"
            " stdout=io.StringIO(), stderr=io.StringIO()); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pylibsrtp', 'OpenSSL')"
            " or m.startswith('gossipper.media.secure')))",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert probe.stdout.strip().endswith("[]"), probe.stdout + probe.stderr


def test_importing_the_building_blocks_loads_no_optional_package() -> None:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; import gossipper.media.secure.sdes, gossipper.media.secure.srtp, "
            "gossipper.media.secure.dtls, gossipper.media.secure.turn; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pylibsrtp', 'OpenSSL')))",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert probe.stdout.strip() == "[]", probe.stdout + probe.stderr
