"""The Kamailio interop harness, proven with SIPp alone (no gossipper yet).

Kamailio (tests/interop/kamailio/) is a record-routing proxy and digest-authenticating
registrar. These tests show that the fixture starts it, that SIPp registers through it over UDP
and TCP, that SIPp calls pass through it between a UAC and a registered UAS (transport kept or
changed at the proxy), and that its TLS, WS and WSS listeners answer SIP. gossipper's own tests
will run the same scenarios against the same fixture once its transports exist.
"""

from __future__ import annotations

import base64
import hashlib
import pathlib
import re
import secrets
import socket
import ssl
import subprocess
import time

import pytest

from tests.interop.harness import (
    LOOPBACK,
    finish,
    sipp_counts,
    start,
    wait_for_tcp_listener,
    wait_for_udp_listener,
)
from tests.interop.kamailio_proxy import KamailioProxy, free_port, options_request

pytestmark = pytest.mark.interop

SCENARIOS = pathlib.Path(__file__).parent / "kamailio"
CALLS = 20
RATE = "20"
CALLED_USER = "uas"
SIPP_TRANSPORT = {"udp": "u1", "tcp": "t1"}


def _sipp_register(
    sipp: str,
    proxy: KamailioProxy,
    tmp: pathlib.Path,
    transport: str,
    *,
    uas_port: int,
    uas_transport: str,
    password: str | None = None,
    username: str | None = None,
) -> tuple[int, str, pathlib.Path]:
    """register_auth.xml once: Contact = the UAS at 127.0.0.1:uas_port;transport=uas_transport."""
    messages = tmp / f"register_{transport}_messages.log"
    process = start(
        [
            sipp, "-sf", str(SCENARIOS / "register_auth.xml"), proxy.address(transport),
            "-i", LOOPBACK, "-p", str(free_port()), "-t", SIPP_TRANSPORT[transport],
            "-s", CALLED_USER, "-au", username or proxy.username, "-ap", password or proxy.password,
            "-key", "domain", proxy.domain, "-key", "uas_host", LOOPBACK,
            "-key", "uas_port", str(uas_port), "-key", "uas_transport", uas_transport,
            "-m", "1", "-nostdin", "-timeout", "10", "-timeout_error",
            "-trace_msg", "-message_file", str(messages),
        ],
        tmp,
    )  # fmt: skip
    rc, out, err = finish(process, timeout_s=30)
    return rc, out[-2000:] + err[-2000:], messages


def _messages(log: pathlib.Path) -> list[str]:
    """The SIP messages of a SIPp -trace_msg log, each from its start line to its blank line."""
    text = log.read_text(errors="replace")
    start_line = r"^(?:[A-Z]+ \S+ SIP/2\.0|SIP/2\.0 \d{3} )"
    return re.findall(start_line + r".*?(?=\r?\n\r?\n)", text, re.M | re.S)


def _start_lines(log: pathlib.Path) -> list[str]:
    return [message.splitlines()[0] for message in _messages(log)]


def _headers(message: str, name: str) -> list[str]:
    return [
        line.split(":", 1)[1].strip()
        for line in message.splitlines()[1:]
        if line.split(":", 1)[0].strip().lower() == name.lower()
    ]


def test_kamailio_starts_and_config_checks(
    kamailio: KamailioProxy, kamailio_binary: str, tmp_path: pathlib.Path
) -> None:
    check = subprocess.run(
        [kamailio_binary, "-c", "-f", str(kamailio.config_file), "-Y", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, check.stderr[-3000:]
    assert "config file ok" in check.stdout + check.stderr
    assert kamailio.process.poll() is None
    assert len({kamailio.sip_port, kamailio.tls_port, kamailio.ws_port, kamailio.wss_port}) == 4
    assert kamailio.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_registers_with_digest_auth(
    sipp_binary: str, kamailio: KamailioProxy, tmp_path: pathlib.Path, transport: str
) -> None:
    rc, output, messages = _sipp_register(
        sipp_binary, kamailio, tmp_path, transport, uas_port=5999, uas_transport=transport
    )
    assert rc == 0, output
    lines = _start_lines(messages)
    assert lines == [
        f"REGISTER sip:{kamailio.domain} SIP/2.0",
        "SIP/2.0 401 Unauthorized",
        f"REGISTER sip:{kamailio.domain} SIP/2.0",
        "SIP/2.0 200 OK",
    ], lines
    _, challenge, answer, ok = _messages(messages)
    assert f'realm="{kamailio.domain}"' in _headers(challenge, "WWW-Authenticate")[0]
    assert f'username="{kamailio.username}"' in _headers(answer, "Authorization")[0]
    # The registrar echoes the binding it saved.
    binding = f"<sip:{CALLED_USER}@{LOOPBACK}:5999;transport={transport}>"
    assert binding in _headers(ok, "Contact")[0]


@pytest.mark.parametrize(
    ("username", "password", "refusal"),
    [(None, "not-the-password", "401 Unauthorized"), ("mallory", None, "403 Forbidden")],
    ids=["wrong-password", "other-user"],
)
def test_wrong_credentials_are_refused(
    sipp_binary: str,
    kamailio: KamailioProxy,
    tmp_path: pathlib.Path,
    username: str | None,
    password: str | None,
    refusal: str,
) -> None:
    rc, output, messages = _sipp_register(
        sipp_binary, kamailio, tmp_path, "udp", uas_port=5999, uas_transport="udp",
        password=password, username=username,
    )  # fmt: skip
    assert rc != 0, output
    lines = _start_lines(messages)
    assert lines[:4] == [
        f"REGISTER sip:{kamailio.domain} SIP/2.0",
        "SIP/2.0 401 Unauthorized",
        f"REGISTER sip:{kamailio.domain} SIP/2.0",
        f"SIP/2.0 {refusal}",
    ], lines


@pytest.mark.parametrize(
    ("uac_transport", "uas_transport"),
    [("udp", "udp"), ("tcp", "tcp"), ("udp", "tcp")],
    ids=["udp-udp", "tcp-tcp", "udp-tcp"],
)
def test_sipp_calls_through_kamailio(
    sipp_binary: str,
    kamailio: KamailioProxy,
    tmp_path: pathlib.Path,
    uac_transport: str,
    uas_transport: str,
) -> None:
    uas_port = free_port()
    uas = start(
        [
            sipp_binary, "-sf", str(SCENARIOS / "uas_behind_proxy.xml"), "-i", LOOPBACK,
            "-p", str(uas_port), "-t", SIPP_TRANSPORT[uas_transport], "-m", str(CALLS),
            "-nostdin", "-timeout", "60", "-timeout_error",
            "-trace_stat", "-stf", str(tmp_path / "uas.csv"), "-fd", "1",
            "-trace_msg", "-message_file", str(tmp_path / "uas_messages.log"),
        ],
        tmp_path,
    )  # fmt: skip
    try:
        if uas_transport == "udp":
            wait_for_udp_listener(uas_port, uas)
        else:
            wait_for_tcp_listener(uas_port, uas)
        # Registered over the UAC's transport: in the udp-tcp case a REGISTER over UDP names a
        # TCP contact, and the proxy must still reach the UAS over TCP.
        rc, output, _ = _sipp_register(
            sipp_binary, kamailio, tmp_path, uac_transport,
            uas_port=uas_port, uas_transport=uas_transport,
        )  # fmt: skip
        assert rc == 0, output
        uac = start(
            [
                sipp_binary, "-sf", str(SCENARIOS / "uac_via_proxy.xml"),
                kamailio.address(uac_transport), "-i", LOOPBACK, "-p", str(free_port()),
                "-t", SIPP_TRANSPORT[uac_transport], "-s", CALLED_USER,
                "-key", "domain", kamailio.domain, "-m", str(CALLS), "-r", RATE, "-nostdin",
                "-timeout", "60", "-timeout_error",
                "-trace_stat", "-stf", str(tmp_path / "uac.csv"), "-fd", "1",
                "-trace_msg", "-message_file", str(tmp_path / "uac_messages.log"),
            ],
            tmp_path,
        )  # fmt: skip
        uac_rc, uac_out, uac_err = finish(uac, timeout_s=90)
        uas_rc, uas_out, uas_err = finish(uas, timeout_s=30)
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.communicate()
    assert uac_rc == 0, uac_out[-2000:] + uac_err[-2000:]
    assert uas_rc == 0, uas_out[-2000:] + uas_err[-2000:]
    caller = sipp_counts(tmp_path / "uac.csv")
    callee = sipp_counts(tmp_path / "uas.csv")
    assert caller.created == caller.successful == CALLS
    assert callee.created == callee.successful == CALLS
    assert caller.failed == callee.failed == 0

    # What the UAS saw: every INVITE record-routed by the proxy, and one Record-Route per
    # transport side when the call changes transport (double record-routing).
    proxy_uri = f"sip:{LOOPBACK}:{kamailio.sip_port}"
    received = _messages(tmp_path / "uas_messages.log")
    invites = [m for m in received if m.startswith("INVITE ")]
    byes = [m for m in received if m.startswith("BYE ")]
    assert len(invites) == len(byes) == CALLS
    for invite in invites:
        record_routes = _headers(invite, "Record-Route")
        assert record_routes, invite
        assert all(proxy_uri in rr and ";lr" in rr for rr in record_routes), record_routes
        expected = 1 if uac_transport == uas_transport else 2
        assert len(record_routes) == expected, record_routes
        assert invite.startswith(f"INVITE sip:{CALLED_USER}@{LOOPBACK}:{uas_port}"), invite
    # The proxy relayed the BYE (its Via on top) over the UAS's transport.
    for bye in byes:
        top_via = _headers(bye, "Via")[0]
        proxy_via = f"SIP/2.0/{uas_transport.upper()} {LOOPBACK}:{kamailio.sip_port};"
        assert top_via.startswith(proxy_via), top_via

    # What the UAC sent: the BYE to the UAS's Contact along the recorded route set, i.e. first to
    # the proxy (SIPp's [routes] from the 200's Record-Route headers, reversed).
    sent_byes = [m for m in _messages(tmp_path / "uac_messages.log") if m.startswith("BYE ")]
    assert len(sent_byes) == CALLS
    for bye in sent_byes:
        routes = _headers(bye, "Route")
        assert routes and proxy_uri in routes[0], bye
        # The first hop is the proxy's side facing the UAC (UDP Record-Routes name no transport).
        first_hop = routes[0].split(",")[0].lower()
        assert ("transport=tcp" in first_hop) == (uac_transport == "tcp"), routes
        assert bye.startswith(f"BYE sip:{CALLED_USER}@{LOOPBACK}:{uas_port}"), bye


def _read_sip_response(sock: socket.socket | ssl.SSLSocket) -> str:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65535)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def test_tls_listener_answers_options(kamailio: KamailioProxy) -> None:
    context = ssl.create_default_context(cafile=str(kamailio.ca_file))
    with (
        socket.create_connection((LOOPBACK, kamailio.tls_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=LOOPBACK) as tls,
    ):
        tls.sendall(options_request("tls", tls.getsockname(), kamailio.tls_port))
        response = _read_sip_response(tls)
    assert response.startswith("SIP/2.0 200 "), response
    assert "CSeq: 1 OPTIONS" in response


# RFC 6455 4.2.2: the server proves it read the key by hashing it with this GUID.
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _recv_exact(sock: socket.socket | ssl.SSLSocket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise AssertionError(f"connection closed after {len(data)} of {count} bytes")
        data += chunk
    return data


def _ws_send_text(sock: socket.socket | ssl.SSLSocket, payload: bytes) -> None:
    """One final text frame; a client masks every frame (RFC 6455 5.3)."""
    mask = secrets.token_bytes(4)
    length = len(payload)
    header = bytes([0x81])
    if length < 126:
        header += bytes([0x80 | length])
    else:
        header += bytes([0x80 | 126]) + length.to_bytes(2, "big")
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def _ws_receive_message(sock: socket.socket | ssl.SSLSocket) -> bytes:
    """The payload of the next text or binary frame (the server's frames are not masked)."""
    while True:
        first, second = _recv_exact(sock, 2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(_recv_exact(sock, 2), "big")
        elif length == 127:
            length = int.from_bytes(_recv_exact(sock, 8), "big")
        payload = _recv_exact(sock, length)
        if first & 0x0F in (0x1, 0x2):
            return payload


def _ws_options(sock: socket.socket | ssl.SSLSocket, transport: str, port: int) -> str:
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    sock.sendall(
        (
            "GET / HTTP/1.1\r\n"
            f"Host: {LOOPBACK}:{port}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: sip\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += _recv_exact(sock, 1)
    handshake = head.decode(errors="replace")
    assert handshake.startswith("HTTP/1.1 101 "), handshake
    accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in handshake.splitlines()[1:])
        if name
    }
    assert headers.get("sec-websocket-accept") == accept, handshake
    assert headers.get("sec-websocket-protocol") == "sip", handshake
    _ws_send_text(sock, options_request(transport, sock.getsockname(), port))
    return _ws_receive_message(sock).decode(errors="replace")


def test_ws_listener_answers_options(kamailio: KamailioProxy) -> None:
    with socket.create_connection((LOOPBACK, kamailio.ws_port), timeout=5) as sock:
        response = _ws_options(sock, "ws", kamailio.ws_port)
    assert response.startswith("SIP/2.0 200 "), response


def test_wss_listener_answers_options(kamailio: KamailioProxy) -> None:
    context = ssl.create_default_context(cafile=str(kamailio.ca_file))
    with (
        socket.create_connection((LOOPBACK, kamailio.wss_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=LOOPBACK) as tls,
    ):
        response = _ws_options(tls, "wss", kamailio.wss_port)
    assert response.startswith("SIP/2.0 200 "), response


def test_http_on_the_sip_port_is_refused(kamailio: KamailioProxy) -> None:
    """Only the WS/WSS ports upgrade: HTTP on the SIP TCP port gets 403 (the xhttp route)."""
    with socket.create_connection((LOOPBACK, kamailio.sip_port), timeout=5) as sock:
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {LOOPBACK}\r\n\r\n".encode())
        response = _read_sip_response(sock)
    assert response.startswith("HTTP/1.1 403 "), response


def _ws_request(
    method: str, uri: str, local: tuple[str, int], transport: str, **fields: str
) -> bytes:
    """A request from a WebSocket UAC; ``fields`` fill From-tag, To-tag, Call-ID, CSeq, Route."""
    routes = f"Route: {fields['route']}\r\n" if fields.get("route") else ""
    to_tag = f";tag={fields['to_tag']}" if fields.get("to_tag") else ""
    body = ""
    content_type = ""
    if method == "INVITE":
        body = (
            f"v=0\r\no=- 1 1 IN IP4 {LOOPBACK}\r\ns=-\r\nc=IN IP4 {LOOPBACK}\r\nt=0 0\r\n"
            "m=audio 6000 RTP/AVP 0\r\n"
        )
        content_type = "Content-Type: application/sdp\r\n"
    return (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport.upper()} {local[0]}:{local[1]}"
        f";branch=z9hG4bK{secrets.token_hex(6)};rport\r\n"
        f"{routes}"
        "Max-Forwards: 70\r\n"
        f"From: <sip:gossipper@{fields['domain']}>;tag={fields['from_tag']}\r\n"
        f"To: <sip:{CALLED_USER}@{fields['domain']}>{to_tag}\r\n"
        f"Call-ID: {fields['call_id']}\r\n"
        f"CSeq: {fields['cseq']} {method}\r\n"
        f"Contact: <sip:gossipper@{local[0]}:{local[1]};transport={transport}>\r\n"
        f"{content_type}"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def _ws_final_response(sock: socket.socket | ssl.SSLSocket, cseq: str) -> str:
    """The first final response for ``cseq`` (provisional ones skipped)."""
    while True:
        response = _ws_receive_message(sock).decode(errors="replace")
        if _headers(response, "CSeq") == [cseq] and not response.startswith("SIP/2.0 1"):
            return response


@pytest.mark.parametrize("transport", ["ws", "wss"])
def test_websocket_uac_calls_udp_uas_through_kamailio(
    sipp_binary: str, kamailio: KamailioProxy, tmp_path: pathlib.Path, transport: str
) -> None:
    """A UAC on WebSocket (here a few lines of Python; later gossipper) calls a SIPp UAS on UDP.

    Kamailio cannot open WebSocket connections to a UAS, so WS/WSS are tested on the UAC leg:
    the call changes transport at the proxy, which record-routes twice (WS side, UDP side).
    """
    uas_port = free_port()
    uas = start(
        [
            sipp_binary, "-sf", str(SCENARIOS / "uas_behind_proxy.xml"), "-i", LOOPBACK,
            "-p", str(uas_port), "-t", "u1", "-m", "1", "-nostdin", "-timeout", "30",
            "-timeout_error", "-trace_msg", "-message_file", str(tmp_path / "uas_messages.log"),
        ],
        tmp_path,
    )  # fmt: skip
    try:
        wait_for_udp_listener(uas_port, uas)
        rc, output, _ = _sipp_register(
            sipp_binary, kamailio, tmp_path, "udp", uas_port=uas_port, uas_transport="udp"
        )
        assert rc == 0, output
        port = kamailio.port(transport)
        with socket.create_connection((LOOPBACK, port), timeout=10) as raw:
            sock: socket.socket | ssl.SSLSocket = raw
            if transport == "wss":
                context = ssl.create_default_context(cafile=str(kamailio.ca_file))
                sock = context.wrap_socket(raw, server_hostname=LOOPBACK)
            assert _ws_options(sock, transport, port).startswith("SIP/2.0 200 ")
            local = sock.getsockname()
            dialog = {
                "domain": kamailio.domain,
                "from_tag": secrets.token_hex(4),
                "call_id": f"{secrets.token_hex(8)}@{LOOPBACK}",
            }
            invite_uri = f"sip:{CALLED_USER}@{kamailio.domain}"
            _ws_send_text(
                sock, _ws_request("INVITE", invite_uri, local, transport, cseq="1", **dialog)
            )
            ok = _ws_final_response(sock, "1 INVITE")
            assert ok.startswith("SIP/2.0 200 "), ok
            # Double record-routing: one entry per side; the UAC's route set is their reverse.
            record_routes = [
                entry.strip() for rr in _headers(ok, "Record-Route") for entry in rr.split(",")
            ]
            assert len(record_routes) == 2, record_routes
            # The WS-side entry names the WS or WSS listener with transport=ws in both cases
            # (RFC 7118 has no "wss" transport parameter).
            assert f"{LOOPBACK}:{port};transport=ws;" in record_routes[-1].lower(), record_routes
            assert f"{LOOPBACK}:{kamailio.sip_port};" in record_routes[0], record_routes
            route = ", ".join(reversed(record_routes))
            target = _headers(ok, "Contact")[0].split("<", 1)[1].split(">", 1)[0]
            to_tag = _headers(ok, "To")[0].split(";tag=", 1)[1]
            in_dialog = {**dialog, "to_tag": to_tag, "route": route}
            _ws_send_text(sock, _ws_request("ACK", target, local, transport, cseq="1", **in_dialog))
            time.sleep(0.1)
            _ws_send_text(sock, _ws_request("BYE", target, local, transport, cseq="2", **in_dialog))
            bye_ok = _ws_final_response(sock, "2 BYE")
            assert bye_ok.startswith("SIP/2.0 200 "), bye_ok
            sock.close()
        uas_rc, uas_out, uas_err = finish(uas, timeout_s=30)
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.communicate()
    assert uas_rc == 0, uas_out[-2000:] + uas_err[-2000:]
    received = _start_lines(tmp_path / "uas_messages.log")
    assert [line.split()[0] for line in received if not line.startswith("SIP/")] == [
        "INVITE",
        "ACK",
        "BYE",
    ], received
