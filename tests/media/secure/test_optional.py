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


def test_missing_extra_is_a_one_line_error_naming_the_fix() -> None:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['pylibsrtp'] = None; "
            "from gossipper.media.secure.srtp import SrtpError, SrtpSession\n"
            "try:\n"
            "    SrtpSession('AES_CM_128_HMAC_SHA1_80', bytes(30), bytes(30))\n"
            "except SrtpError as error:\n"
            "    print(error)",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert probe.stdout.strip() == (
        "SRTP needs pylibsrtp: install gossipper's media-secure extra "
        "(pip install 'gossipper[media-secure]')"
    ), probe.stdout + probe.stderr
