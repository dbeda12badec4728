"""SDP (RFC 8866, formerly RFC 4566): parse, serialize and offer/answer helpers.

Pure: no I/O. The media layer and the engine read SDP bodies through this package.
"""

from gossipper.sdp.model import (
    Attribute,
    Codec,
    Connection,
    MediaDescription,
    Origin,
    SdpError,
    SessionDescription,
    Timing,
    build_sdp,
    parse_sdp,
    remote_rtp_endpoint,
)

__all__ = [
    "Attribute",
    "Codec",
    "Connection",
    "MediaDescription",
    "Origin",
    "SdpError",
    "SessionDescription",
    "Timing",
    "build_sdp",
    "parse_sdp",
    "remote_rtp_endpoint",
]
