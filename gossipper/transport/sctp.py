"""Why SCTP is refused: ask the kernel for an SCTP socket and report its answer.

gossipper has no SCTP transport. SIPp's SCTP modes (``-t s1``/``sn``) and options
(``-multihome``, ``-heartbeat``, ...) are recognised and refused before any traffic, with a
message that says whether this system could carry SCTP at all: where the kernel has no SCTP
(no ``sctp`` module, as on the machines this project is developed on) the socket call fails
with EPROTONOSUPPORT and the message quotes it; where the socket opens, the message says that
gossipper does not implement SCTP, rather than running something else silently.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

__all__ = ["probe_sctp", "sctp_refusal"]


def probe_sctp() -> OSError | None:
    """Open and close ``socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP)``: the error, or None when
    this system has SCTP."""
    protocol = getattr(socket, "IPPROTO_SCTP", 132)  # 132: IANA's protocol number of SCTP
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM, protocol)
    except OSError as exc:
        return exc
    probe.close()
    return None


def sctp_refusal(what: str, probe: Callable[[], OSError | None] = probe_sctp) -> str:
    """The one-line refusal of an SCTP mode or option (``what``: ``-t s1``, ``-heartbeat``),
    saying what ``probe`` (the kernel, by default) answered."""
    error = probe()
    if error is None:
        return (
            f"{what}: SCTP is not implemented in gossipper (this system has SCTP, but gossipper"
            " has no SCTP transport); use -t t1/tn (TCP) or u1/un (UDP)"
        )
    code = errno.errorcode.get(error.errno or 0, str(error.errno))
    return (
        f"{what}: this system has no SCTP (socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP) failed:"
        f" {code} {error.strerror or error}), and gossipper has no SCTP transport;"
        " use -t t1/tn (TCP) or u1/un (UDP)"
    )
