"""The command line as separate processes on loopback: -bg, the exit status of a taken SIP
port, -t un over real sockets, and an -inf file's fields in the messages sent."""

from __future__ import annotations

import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import time

from gossipper.errors import ExitStatus
from tests.loopback_ports import free_udp_port


def _gossipper(
    cwd: pathlib.Path, *args: str, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gossipper", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_background_parent_exits_99_and_the_child_runs(tmp_path: pathlib.Path) -> None:
    done = _gossipper(
        tmp_path, "-sn", "uac", "-peer", "uas", "-i", "127.0.0.1", "-m", "5", "-r", "20",
        "-bg", "-summary_json", "summary.json", "-trace_stat",
    )  # fmt: skip
    assert done.returncode == ExitStatus.NO_CALLS, done.stderr
    match = re.fullmatch(r"Background mode - PID=\[(\d+)\]\n", done.stdout)
    assert match, done.stdout
    child = int(match[1])
    assert child != os.getpid()
    summary = tmp_path / "summary.json"
    deadline = time.monotonic() + 30
    while (_alive(child) or not summary.exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the background child did not end"
    document = json.loads(summary.read_text())
    assert document["calls"]["successful"] == 5
    assert document["exit_code"] == 0
    # Its files are named after the child's pid, not the parent's.
    assert (tmp_path / f"uac_{child}_.csv").exists(), sorted(p.name for p in tmp_path.iterdir())


def test_sip_port_already_taken_exits_254(tmp_path: pathlib.Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        done = _gossipper(tmp_path, "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-nostdin")
    assert done.returncode == ExitStatus.BIND_ERROR == 254, done.stderr
    assert "Traceback" not in done.stderr
    assert f"127.0.0.1:{port}" in done.stderr, done.stderr


def _via_ports(messages_log: pathlib.Path) -> list[int]:
    """The sent-by port of every INVITE's Via in a messages.log, in order."""
    text = messages_log.read_text(encoding="latin-1")
    return [
        int(port) for port in re.findall(r"\nINVITE [^\n]*\nVia: SIP/2.0/UDP [^:]+:(\d+)", text)
    ]


def test_transport_un_uses_one_socket_per_call(tmp_path: pathlib.Path) -> None:
    port = free_udp_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gossipper", "-sn", "uas", "-i", "127.0.0.1", "-p", str(port),
            "-m", "5", "-nostdin", "-summary_json", "uas.json", "-trace_msg",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        time.sleep(1.0)
        client = _gossipper(
            tmp_path, "-sn", "uac", f"127.0.0.1:{port}", "-i", "127.0.0.1", "-t", "un",
            "-m", "5", "-r", "10", "-nostdin", "-summary_json", "uac.json", "-trace_msg",
        )  # fmt: skip
        _, server_err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert client.returncode == 0, client.stderr
    assert server.returncode == 0, server_err
    for name in ("uac.json", "uas.json"):
        assert json.loads((tmp_path / name).read_text())["calls"]["successful"] == 5, name
    (uac_log,) = tmp_path.glob("uac_*_messages.log")
    ports = _via_ports(uac_log)
    assert len(ports) == 5 and len(set(ports)) == 5, ports  # a socket (port) of its own each
    # The UAS saw the calls come from those ports (its Via copies show the same sent-by).
    (uas_log,) = tmp_path.glob("uas_*_messages.log")
    assert set(_via_ports(uas_log)) == set(ports)


INF_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="inf uac">
  <send retrans="500"><![CDATA[
      INVITE sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[local_ip]>;tag=[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      X-Secret: [field1]
      X-Line: [field2]
      Content-Length: 0

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200"/>
  <send><![CDATA[
      ACK sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[local_ip]>;tag=[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[
      BYE sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[local_ip]>;tag=[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
</scenario>
"""


def test_injection_file_fields_reach_the_wire(tmp_path: pathlib.Path) -> None:
    (tmp_path / "inf_uac.xml").write_text(INF_SCENARIO)
    (tmp_path / "users.csv").write_text(
        "SEQUENTIAL\n# user;secret;line\n"
        "alice;s3cret-a;one\nbob;s3cret-b;two\ncarol;s3cret-c;three\n"
    )
    done = _gossipper(
        tmp_path, "-sf", "inf_uac.xml", "-inf", "users.csv", "-peer", "uas", "-i", "127.0.0.1",
        "-m", "4", "-r", "10", "-nostdin", "-trace_msg", "-summary_json", "s.json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (messages,) = tmp_path.glob("inf_uac_*_messages.log")
    text = messages.read_text(encoding="latin-1")
    invites = re.findall(
        r"\nINVITE sip:(\w+)@[^\n]*\n(?:[^\n]+\n)*?X-Secret: (\S+)\nX-Line: (\S+)", text
    )
    # SEQUENTIAL: line after line, wrapping around after the last.
    assert invites == [
        ("alice", "s3cret-a", "one"),
        ("bob", "s3cret-b", "two"),
        ("carol", "s3cret-c", "three"),
        ("alice", "s3cret-a", "one"),
    ]
    assert json.loads((tmp_path / "s.json").read_text())["calls"]["successful"] == 4
