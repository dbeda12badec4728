"""Route set and remote target recorded by rrs (sipp-reference 4.2)."""

from __future__ import annotations

from gossipper.scenario import compute_route_set
from tests.scenario._support import sip

HEAD = "Via: SIP/2.0/UDP h\nCall-ID: c\nCSeq: 1 INVITE\n"


def test_response_reverses_record_routes() -> None:
    msg = sip(
        "SIP/2.0 200 OK\n" + HEAD + "Record-Route: <sip:10.0.0.1:5060;lr>\n"
        "Record-Route: <sip:10.0.0.1:3;lr>, <sip:10.0.0.1:2;lr>\n"
        "Contact: <sip:bob@10.0.0.9:5070;transport=udp>\nContent-Length: 0\n\n"
    )
    routes, target = compute_route_set(msg, from_response=True)  # type: ignore[arg-type]
    assert routes == "<sip:10.0.0.1:2;lr>, <sip:10.0.0.1:3;lr>, <sip:10.0.0.1:5060;lr>"
    assert target == "sip:bob@10.0.0.9:5070;transport=udp"


def test_request_keeps_order() -> None:
    msg = sip(
        "INVITE sip:b SIP/2.0\n"
        + HEAD
        + "Record-Route: <sip:p1;lr>, <sip:p2;lr>\nContact: sip:alice@h\nContent-Length: 0\n\n"
    )
    routes, target = compute_route_set(msg, from_response=False)  # type: ignore[arg-type]
    assert routes == "<sip:p1;lr>, <sip:p2;lr>"
    assert target == "sip:alice@h"  # no brackets: the whole Contact value


def test_strict_router_becomes_target() -> None:
    msg = sip(
        "INVITE sip:b SIP/2.0\n" + HEAD + "Record-Route: <sip:strict@p1>, <sip:p2;lr>\n"
        "Contact: <sip:alice@h>\nContent-Length: 0\n\n"
    )
    routes, target = compute_route_set(msg, from_response=False)  # type: ignore[arg-type]
    assert target == "sip:strict@p1"
    assert routes == "<sip:p2;lr>, <sip:alice@h>"


def test_no_record_route() -> None:
    msg = sip("SIP/2.0 200 OK\n" + HEAD + 'Contact: "Bob" <sip:bob@h>\nContent-Length: 0\n\n')
    # [3.6.1] a display name before the < hides the URI: the whole value is the target.
    assert compute_route_set(msg, from_response=True) == (None, '"Bob" <sip:bob@h>')  # type: ignore[arg-type]
    bare = sip("SIP/2.0 200 OK\n" + HEAD + "Content-Length: 0\n\n")
    assert compute_route_set(bare, from_response=True) == (None, None)  # type: ignore[arg-type]
