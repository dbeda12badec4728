"""HEP3 mirroring of a real run: what a collector on loopback receives over UDP and TCP, a TCP
collector that drops the connection, and one that is down (calls unaffected, drops counted)."""

from __future__ import annotations

import json
import pathlib
import socket
import subprocess
import sys
import threading

from gossipper.hep import IPPROTO_UDP, PROTO_JSON_LOG, PROTO_SIP, decode, split_stream

CALLS = 8


def _run(tmp_path: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "gossipper", "-sn", "uac", "-peer", "uas",
            "-m", str(CALLS), "-r", "40", "-summary_json", "summary.json", *args,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _successful(tmp_path: pathlib.Path) -> int:
    document = json.loads((tmp_path / "summary.json").read_text())
    return int(document["calls"]["successful"])


def test_udp_collector_gets_every_message_and_a_log_per_call(tmp_path: pathlib.Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as collector:
        collector.bind(("127.0.0.1", 0))
        collector.settimeout(2.0)
        port = collector.getsockname()[1]
        done = _run(tmp_path, "-hep_addr", f"127.0.0.1:{port}", "-hep_capture_id", "42")
        assert done.returncode == 0, done.stderr
        packets = []
        try:
            while True:
                packets.append(decode(collector.recv(65535)))
        except TimeoutError:
            pass
    sip = [p for p in packets if p.proto_type == PROTO_SIP]
    logs = [p for p in packets if p.proto_type == PROTO_JSON_LOG]
    assert len(sip) == 6 * CALLS and len(logs) == CALLS
    assert {p.capture_id for p in packets} == {42}
    assert {p.ip_protocol for p in sip} == {IPPROTO_UDP}
    # Sent INVITEs go from the uac's port to the peer's; every answer comes back the other way.
    invites = [p for p in sip if p.payload.startswith(b"INVITE ")]
    assert len(invites) == CALLS
    uac, peer = invites[0].src, invites[0].dst
    assert {(p.src, p.dst) for p in sip} == {(uac, peer), (peer, uac)}
    assert {p.correlation_id for p in logs} == {
        line.split(b":", 1)[1].strip().decode()
        for p in invites
        for line in p.payload.split(b"\r\n")
        if line.startswith(b"Call-ID:")
    }
    assert _successful(tmp_path) == CALLS


def _serve_tcp(listener: socket.socket, received: list[bytes], connections: list[int]) -> None:
    """Accept twice: read the first connection's first packets then close it, read the second
    to its end."""
    for number in range(2):
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        connections.append(number)
        with connection:
            buffer = bytearray()
            while data := connection.recv(65536):
                buffer += data
                received.extend(split_stream(buffer))
                if number == 0 and len(received) >= 3:
                    break


def test_tcp_collector_reconnected_after_it_closes(tmp_path: pathlib.Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        received: list[bytes] = []
        connections: list[int] = []
        server = threading.Thread(target=_serve_tcp, args=(listener, received, connections))
        server.start()
        # 2 calls/s for 8 calls: the run outlasts the mirror's one-second reconnect pause.
        done = _run(tmp_path, "-hep_addr", f"127.0.0.1:{port}", "-hep_transport", "tcp", "-r", "2")
        listener.shutdown(socket.SHUT_RDWR)
        server.join(timeout=10)
    assert done.returncode == 0, done.stderr
    assert connections == [0, 1]
    packets = [decode(data) for data in received]
    assert len(packets) >= 3 + CALLS  # the first connection's, then at least the late calls
    assert _successful(tmp_path) == CALLS


def test_collector_down_costs_no_call(tmp_path: pathlib.Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens on it
    done = _run(
        tmp_path, "-hep_addr", f"127.0.0.1:{port}", "-hep_transport", "tcp", "-hep_queue", "5"
    )
    assert done.returncode == 0, done.stderr
    assert _successful(tmp_path) == CALLS
    assert "HEP: " in done.stderr and "packets dropped" in done.stderr
    assert f"127.0.0.1:{port} slow or down" in done.stderr
