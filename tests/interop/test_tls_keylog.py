"""SSLKEYLOGFILE: a capture of a gossipper TLS run is readable in Wireshark with the key log.

tshark captures a `-t l1` run on loopback; with gossipper's key log it decodes every SIP
message of the calls, without it none. Capturing needs root (CI runs as root) or the
capture capability; the test says so when tshark cannot capture.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import time

import pytest
import trustme

from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_tcp_port,
    gossipper_command,
    start,
    wait_for_tcp_listener,
)

pytestmark = pytest.mark.interop

CALLS = 3


def _start_capture(tshark: str, port: int, capture: pathlib.Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [tshark, "-i", "lo", "-f", f"tcp port {port}", "-w", str(capture)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # tshark creates the file once it captures; before that packets would be missed.
    deadline = time.monotonic() + 30
    while not capture.exists() or capture.stat().st_size == 0:
        if process.poll() is not None:
            raise AssertionError(f"tshark cannot capture on lo: {process.communicate()[1]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("tshark did not start capturing within 30 s")
        time.sleep(0.05)
    return process


def _sip_fields(tshark: str, capture: pathlib.Path, port: int, *keylog: str) -> list[str]:
    done = subprocess.run(
        [
            tshark, "-r", str(capture), *keylog, "-d", f"tcp.port=={port},tls",
            "-d", f"tls.port=={port},sip", "-Y", "sip", "-T", "fields",
            "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.Call-ID",
        ],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return [line for line in done.stdout.splitlines() if line.strip()]


def test_a_tls_capture_decrypts_with_the_key_log(
    tshark_binary: str, tmp_path: pathlib.Path
) -> None:
    authority = trustme.CA()
    server = authority.issue_cert("127.0.0.1")
    server.cert_chain_pems[0].write_to_path(str(tmp_path / "cacert.pem"))
    server.private_key_pem.write_to_path(str(tmp_path / "cakey.pem"))
    port = free_tcp_port()
    capture = tmp_path / "tls.pcapng"
    keylog = tmp_path / "keys.log"
    uas = start(
        gossipper_command(
            "-sn", "uas", "-t", "l1", "-i", LOOPBACK, "-p", str(port), "-m", str(CALLS),
            "-nostdin",
        ),
        tmp_path,
    )  # fmt: skip
    wait_for_tcp_listener(port, uas)
    tshark = _start_capture(tshark_binary, port, capture)
    try:
        uac = subprocess.Popen(
            gossipper_command(
                "-sn", "uac", "-t", "l1", f"{LOOPBACK}:{port}", "-m", str(CALLS), "-r", "10",
                "-nostdin",
            ),
            cwd=tmp_path, env=dict(os.environ, SSLKEYLOGFILE=str(keylog)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        uac_rc, uac_out, uac_err = finish(uac)
        uas_rc, _, uas_err = finish(uas)
        assert uac_rc == 0, uac_out[-2000:] + uac_err[-2000:]
        assert uas_rc == 0, uas_err[-2000:]
        time.sleep(0.5)  # the last segments reach the capture file
    finally:
        tshark.send_signal(signal.SIGINT)
        tshark.communicate(timeout=30)
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in keylog.read_text()
    decoded = _sip_fields(tshark_binary, capture, port, "-o", f"tls.keylog_file:{keylog}")
    text = "\n".join(decoded)
    for number in range(1, CALLS + 1):
        assert f"{number}-" in text  # every call's Call-ID
    assert text.count("INVITE") == CALLS
    assert text.count("BYE") == CALLS
    # Without the key log the same capture shows no SIP at all: it really was encrypted.
    assert _sip_fields(tshark_binary, capture, port) == []
