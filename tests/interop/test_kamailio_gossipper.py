"""gossipper on both sides of the real Kamailio proxy/registrar (tests/interop/kamailio/).

The same scenarios as test_kamailio_sipp.py, run by gossipper alone: REGISTER with digest
authentication over every transport gossipper has (UDP, TCP, TLS, WS, WSS), and calls from a
gossipper UAC through the record-routing proxy to a registered gossipper UAS, with the transport
kept or changed at the proxy.

Kamailio cannot open a WebSocket connection towards a UAS (the WebSocket client always
connects), so WS and WSS are on the UAC leg only; the UAS listens on UDP, TCP or TLS.
"""

from __future__ import annotations

import pathlib
import subprocess

import pytest

from tests.interop.harness import (
    LOOPBACK,
    Counts,
    finish,
    gossipper_command,
    gossipper_counts,
    start,
    wait_for_tcp_listener,
    wait_for_udp_listener,
)
from tests.interop.kamailio_proxy import KamailioProxy, free_port
from tests.interop.test_kamailio_sipp import _headers, _messages, _start_lines

pytestmark = pytest.mark.interop

SCENARIOS = pathlib.Path(__file__).parent / "kamailio"
CALLS = 20
RATE = "20"
CALLED_USER = "uas"
# One connection (or socket) for all calls, per transport.
MODE = {"udp": "u1", "tcp": "t1", "tls": "l1", "ws": "w1", "wss": "ws1"}
# How the Via names each transport (gossipper prints [transport] upper-case).
VIA = {"udp": "UDP", "tcp": "TCP", "tls": "TLS", "ws": "WS", "wss": "WSS"}
# The transport parameter of Kamailio's Record-Route entry for a side (none for UDP; RFC 7118
# has no "wss", the WSS side says ws with the WSS listener's port).
RR_TRANSPORT = {"udp": None, "tcp": "tcp", "tls": "tls", "ws": "ws", "wss": "ws"}


def _report(name: str, rc: int, out: str, err: str) -> str:
    return f"--- {name} exited {rc} ---\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}\n"


def _summary(path: pathlib.Path) -> Counts:
    assert path.exists(), f"no summary JSON {path}"
    return gossipper_counts(path)


def _register(
    proxy: KamailioProxy,
    tmp: pathlib.Path,
    transport: str,
    *,
    uas_port: int,
    uas_transport: str,
) -> tuple[int, str, pathlib.Path, pathlib.Path]:
    """register_auth.xml once over ``transport``; the Contact names the UAS's address.

    Returns the exit code, the outputs (for a failure message), the messages log and the summary.
    """
    messages = tmp / f"register_{transport}_messages.log"
    summary = tmp / f"register_{transport}.json"
    tls: tuple[str, ...] = ()
    if transport in ("tls", "wss"):
        # Verify the proxy's certificate (trustme, issued for 127.0.0.1) rather than accept any.
        tls = ("-tls_verify", "-tls_ca", str(proxy.ca_file))
    process = start(
        gossipper_command(
            "-sf", str(SCENARIOS / "register_auth.xml"), proxy.address(transport),
            "-i", LOOPBACK, "-p", str(free_port()), "-t", MODE[transport], *tls,
            "-s", CALLED_USER, "-au", proxy.username, "-ap", proxy.password,
            "-key", "domain", proxy.domain, "-key", "uas_host", LOOPBACK,
            "-key", "uas_port", str(uas_port), "-key", "uas_transport", uas_transport,
            "-m", "1", "-nostdin", "-timeout", "10", "-timeout_error",
            "-trace_msg", "-message_file", str(messages), "-summary_json", str(summary),
        ),
        tmp,
    )  # fmt: skip
    rc, out, err = finish(process, timeout_s=30)
    return rc, _report(f"register over {transport}", rc, out, err), messages, summary


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls", "ws", "wss"])
def test_gossipper_registers_with_digest_auth(
    kamailio: KamailioProxy, tmp_path: pathlib.Path, transport: str
) -> None:
    rc, output, messages, summary = _register(
        kamailio, tmp_path, transport, uas_port=5999, uas_transport="udp"
    )
    assert rc == 0, output
    counts = _summary(summary)
    assert (counts.created, counts.successful, counts.failed) == (1, 1, 0), output
    assert counts.failed_unexpected == 0, output
    lines = _start_lines(messages)
    assert lines == [
        f"REGISTER sip:{kamailio.domain} SIP/2.0",
        "SIP/2.0 401 Unauthorized",
        f"REGISTER sip:{kamailio.domain} SIP/2.0",
        "SIP/2.0 200 OK",
    ], lines
    first, challenge, answer, ok = _messages(messages)
    assert _headers(first, "Via")[0].startswith(f"SIP/2.0/{VIA[transport]} "), first
    assert f'realm="{kamailio.domain}"' in _headers(challenge, "WWW-Authenticate")[0]
    authorization = _headers(answer, "Authorization")[0]
    assert authorization.startswith("Digest "), authorization
    assert f'username="{kamailio.username}"' in authorization
    assert f'realm="{kamailio.domain}"' in authorization
    # Kamailio challenges with qop=auth: the answer must carry qop, nc and cnonce.
    assert "qop=auth" in authorization and "nc=" in authorization, authorization
    assert "cnonce=" in authorization, authorization
    # The registrar echoes the binding it saved.
    binding = f"<sip:{CALLED_USER}@{LOOPBACK}:5999;transport=udp>"
    assert binding in _headers(ok, "Contact")[0], ok


def _uas_tls_files(directory: pathlib.Path) -> None:
    """cacert.pem/cakey.pem, gossipper's default server certificate files, in the UAS's cwd.

    Kamailio does not verify the UAS's certificate; any certificate for 127.0.0.1 will do.
    """
    import trustme  # the fixture already failed (CI) or skipped when trustme is missing

    cert = trustme.CA().issue_cert(LOOPBACK)
    cert.cert_chain_pems[0].write_to_path(str(directory / "cacert.pem"))
    cert.private_key_pem.write_to_path(str(directory / "cakey.pem"))


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.communicate()


def _record_route_entries(message: str) -> list[str]:
    return [entry.strip() for rr in _headers(message, "Record-Route") for entry in rr.split(",")]


def _side(entry: str, proxy: KamailioProxy, transport: str) -> bool:
    """Whether a Record-Route/Route entry names the proxy's side for ``transport``."""
    lowered = entry.lower()
    if f"sip:{LOOPBACK}:{proxy.port(transport)};" not in lowered or ";lr" not in lowered:
        return False
    expected = RR_TRANSPORT[transport]
    if expected is None:
        return "transport=" not in lowered
    return f";transport={expected}" in lowered


@pytest.mark.parametrize(
    ("uac_transport", "uas_transport", "uac_mode"),
    [
        ("udp", "udp", "u1"),
        ("tcp", "tcp", "t1"),
        ("tcp", "tcp", "tn"),
        ("tls", "tls", "l1"),
        ("ws", "udp", "w1"),
        ("wss", "tcp", "ws1"),
        ("tcp", "udp", "t1"),
    ],
    ids=["udp-udp", "tcp-tcp", "tcp-tcp-tn", "tls-tls", "ws-udp", "wss-tcp", "tcp-udp"],
)
def test_gossipper_calls_through_kamailio(
    kamailio: KamailioProxy,
    tmp_path: pathlib.Path,
    uac_transport: str,
    uas_transport: str,
    uac_mode: str,
) -> None:
    uas_dir = tmp_path / "uas"
    uas_dir.mkdir()
    if uas_transport == "tls":
        _uas_tls_files(uas_dir)
    uas_port = free_port()
    # The tn case runs tn on both sides, as test_sipp_tcp.py does. What it tests is the UAC: one
    # connection to the proxy per call, closed at the call's end. Kamailio opens the connections
    # to the UAS itself and keeps reusing one, whatever the UAS's mode.
    uas_mode = "tn" if uac_mode == "tn" else MODE[uas_transport]
    uas = start(
        gossipper_command(
            "-sf", str(SCENARIOS / "uas_behind_proxy.xml"), "-i", LOOPBACK,
            "-p", str(uas_port), "-t", uas_mode, "-m", str(CALLS),
            "-nostdin", "-timeout", "30", "-timeout_error",
            "-summary_json", str(tmp_path / "uas.json"),
            "-trace_msg", "-message_file", str(tmp_path / "uas_messages.log"),
        ),
        uas_dir,
    )  # fmt: skip
    try:
        if uas_transport == "udp":
            wait_for_udp_listener(uas_port, uas)
        else:
            wait_for_tcp_listener(uas_port, uas)
        # Registered over the UAC's transport: in the ws-udp case a REGISTER over WS names a UDP
        # contact, and the proxy must reach the UAS over UDP.
        rc, output, _, _ = _register(
            kamailio, tmp_path, uac_transport, uas_port=uas_port, uas_transport=uas_transport
        )
        assert rc == 0, output
        # Chosen only now: free_port would offer a port the UAS has not bound yet, or the one
        # the REGISTER run is about to use.
        uac_port = free_port()
        # t1/l1/w1/ws1 (and u1) bind the client's one connection (socket) to -p; tn cannot.
        uac_bind: tuple[str, ...] = ("-p", str(uac_port)) if uac_mode != "tn" else ()
        uac = start(
            gossipper_command(
                "-sf", str(SCENARIOS / "uac_via_proxy.xml"), kamailio.address(uac_transport),
                "-i", LOOPBACK, *uac_bind, "-t", uac_mode, "-s", CALLED_USER,
                "-key", "domain", kamailio.domain, "-m", str(CALLS), "-r", RATE, "-nostdin",
                "-timeout", "30", "-timeout_error",
                "-summary_json", str(tmp_path / "uac.json"),
                "-trace_msg", "-message_file", str(tmp_path / "uac_messages.log"),
            ),
            tmp_path,
        )  # fmt: skip
        try:
            uac_rc, uac_out, uac_err = finish(uac, timeout_s=45)
        finally:
            _stop(uac)
        uas_rc, uas_out, uas_err = finish(uas, timeout_s=30)
    finally:
        _stop(uas)
    outputs = _report("uac", uac_rc, uac_out, uac_err) + _report("uas", uas_rc, uas_out, uas_err)
    assert uac_rc == 0, outputs
    assert uas_rc == 0, outputs
    caller = _summary(tmp_path / "uac.json")
    callee = _summary(tmp_path / "uas.json")
    assert caller.created == caller.successful == CALLS, (caller, outputs)
    assert callee.created == callee.successful == CALLS, (callee, outputs)
    assert caller.failed == callee.failed == 0, outputs

    # What the UAS saw: every INVITE record-routed by the proxy (one entry per side when the
    # call changes transport: double record-routing), and the ACK and BYE relayed by the proxy
    # (its Via on top, on the UAS-facing socket).
    double = uac_transport != uas_transport
    received = _messages(tmp_path / "uas_messages.log")
    invites = [m for m in received if m.startswith("INVITE ")]
    acks = [m for m in received if m.startswith("ACK ")]
    byes = [m for m in received if m.startswith("BYE ")]
    assert len(invites) == len(acks) == len(byes) == CALLS, outputs
    for invite in invites:
        entries = _record_route_entries(invite)
        assert len(entries) == (2 if double else 1), entries
        # The UAS-facing side first, the UAC-facing side last.
        assert _side(entries[0], kamailio, uas_transport), entries
        assert _side(entries[-1], kamailio, uac_transport), entries
        assert invite.startswith(f"INVITE sip:{CALLED_USER}@{LOOPBACK}:{uas_port}"), invite
    proxy_via = f"SIP/2.0/{VIA[uas_transport]} {LOOPBACK}:{kamailio.port(uas_transport)};"
    for request in acks + byes:
        vias = _headers(request, "Via")
        assert vias[0].startswith(proxy_via), request
        assert request.split(" ", 2)[1].startswith(f"sip:{CALLED_USER}@{LOOPBACK}:{uas_port}")

    # What the UAC sent: ACK and BYE to the UAS's Contact ([next_url]) along the route set the
    # 200 recorded ([routes]: its Record-Route entries reversed), i.e. first to the proxy's side
    # facing the UAC.
    sent = _messages(tmp_path / "uac_messages.log")
    # Connections: tn opens one per call, each with its own local port in [local_port]; the other
    # modes bind their one connection (socket) to -p, which every Via then names.
    via_ports = {
        _headers(m, "Via")[0].split(";")[0].rsplit(":", 1)[1]
        for m in sent
        if m.startswith("INVITE ")
    }
    if uac_mode == "tn":
        assert len(via_ports) == CALLS, via_ports
    else:
        assert via_ports == {str(uac_port)}, via_ports
    in_dialog = [m for m in sent if m.startswith(("ACK ", "BYE "))]
    assert len(in_dialog) == 2 * CALLS, outputs
    for request in in_dialog:
        assert request.split(" ", 2)[1].startswith(
            f"sip:{CALLED_USER}@{LOOPBACK}:{uas_port};transport={VIA[uas_transport]}"
        ), request
        routes = [
            entry.strip() for route in _headers(request, "Route") for entry in route.split(",")
        ]
        assert len(routes) == (2 if double else 1), request
        assert _side(routes[0], kamailio, uac_transport), routes
        assert _side(routes[-1], kamailio, uas_transport), routes
        assert _headers(request, "Via")[0].startswith(f"SIP/2.0/{VIA[uac_transport]} "), request
