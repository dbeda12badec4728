"""Sans-IO SIP core: parsing, serialization, headers, URIs, stream framing, retransmission timers.

Pure and stdlib-only (imports nothing of ours but :mod:`gossipper.errors`). Every ``str`` holding
SIP text is the latin-1 view of the wire bytes. ``SipParseError`` is re-exported from
:mod:`gossipper.errors` for convenience.
"""

from __future__ import annotations

from gossipper.errors import SipParseError
from gossipper.sip.framing import StreamFramer
from gossipper.sip.headers import (
    COMPACT_FORMS,
    canonical_header_name,
    header_param,
    is_token,
    uri_in_brackets,
)
from gossipper.sip.message import (
    MAX_MESSAGE_SIZE,
    SipMessage,
    message_hash,
    parse_message,
    serialize_message,
    trying_response,
)
from gossipper.sip.retransmit import (
    max_retransmissions,
    next_retransmit_interval_s,
    retransmit_intervals_s,
)
from gossipper.sip.uri import SipUri, parse_uri

__all__ = [
    "COMPACT_FORMS",
    "MAX_MESSAGE_SIZE",
    "SipMessage",
    "SipParseError",
    "SipUri",
    "StreamFramer",
    "canonical_header_name",
    "header_param",
    "is_token",
    "max_retransmissions",
    "message_hash",
    "next_retransmit_interval_s",
    "parse_message",
    "parse_uri",
    "retransmit_intervals_s",
    "serialize_message",
    "trying_response",
    "uri_in_brackets",
]
