# The C accelerator of the media scheduler (_rtpfast.c); absent from pure-Python installs.
from typing import Final

SRTP_FAILED: Final[int]
SRTP_TOO_LONG: Final[int]

def send_rtp(
    sock: object,
    host: str,
    port: int,
    b1: int,
    seq: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    /,
) -> int: ...
def send_srtp(
    sock: object,
    host: str,
    port: int,
    b1: int,
    seq: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    srtp_protect: int,
    srtp_t: int,
    /,
) -> int: ...
