"""SCTP is refused with the kernel's answer (docs/compatibility.md, -t s1/sn)."""

from __future__ import annotations

import errno
import socket

from gossipper.transport.sctp import probe_sctp, sctp_refusal


def _kernel_answer() -> int | None:
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)
    except OSError as exc:
        return exc.errno
    sock.close()
    return None


def test_probe_reports_what_the_kernel_answers() -> None:
    error = probe_sctp()
    assert (None if error is None else error.errno) == _kernel_answer()


def test_refusal_without_sctp_quotes_the_errno() -> None:
    def missing() -> OSError:
        return OSError(errno.EPROTONOSUPPORT, "Protocol not supported")

    assert sctp_refusal("-t s1", missing) == (
        "-t s1: this system has no SCTP (socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP) failed:"
        " EPROTONOSUPPORT Protocol not supported), and gossipper has no SCTP transport;"
        " use -t t1/tn (TCP) or u1/un (UDP)"
    )


def test_refusal_with_sctp_says_it_is_not_implemented() -> None:
    message = sctp_refusal("-heartbeat", lambda: None)
    assert message.startswith("-heartbeat: SCTP is not implemented in gossipper")
