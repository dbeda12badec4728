# The C accelerator of the media scheduler (_rtpfast.c); absent from pure-Python installs.
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
