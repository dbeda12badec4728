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

class FastGroup:
    def __init__(self, late_after_s: float = 0.010, /) -> None: ...
    def join(
        self,
        sock: object,
        host: str,
        port: int,
        b1: int,
        marker: bool,
        seq: int,
        ssrc: int,
        payloads: tuple[bytes, ...],
        anchor_s: float,
        interval_s: float,
        slot: int,
        total_slots: int,
        ts0: int,
        spf: int,
        ts_extra: int,
        srtp_protect: int,
        srtp_t: int,
        burst: int,
        /,
    ) -> int: ...
    def serve(self, horizon_s: float, now_s: float, /) -> tuple[float, list[int] | None]: ...
    def take(
        self, member: int, leave: bool, /
    ) -> tuple[
        int, int, bool, int, int, int, float, float | None, float | None, int, int, int, int
    ]: ...
    def retarget(self, member: int, host: str, port: int, /) -> None: ...
    def __len__(self) -> int: ...
