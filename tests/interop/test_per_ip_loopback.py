"""-t ui with real processes and real sockets on loopback (127.0.0.1-3 are all loopback on Linux).

A gossipper UAS binds three IPs on one port; three gossipper UACs, one per server IP, each
spread their calls over three source IPs from an injection file. The UAS's message trace shows
each request's source IP (the Via the UAC built from [local_ip]) and the IP it was sent to (the
Request-URI's [remote_ip]), and the 200 OK it sent back names the IP that answered.
"""

from __future__ import annotations

import pathlib
import re

from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_udp_port,
    gossipper_command,
    start,
    wait_for_udp_listener,
)

IPS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
CALLS_PER_CLIENT = 3


def write_injection(path: pathlib.Path, rows: list[str]) -> None:
    path.write_text("SEQUENTIAL\n" + "".join(row + "\n" for row in rows))


def message_records(log: pathlib.Path) -> list[tuple[str, str]]:
    """(direction, message text) of every record of a -trace_msg file."""
    text = log.read_bytes().decode("latin-1")
    records = re.split(r"^-{10,}.*$", text, flags=re.MULTILINE)
    found: list[tuple[str, str]] = []
    for record in records:
        head = re.search(r"UDP message (received|sent)[^\n]*\n\n", record)
        if head is not None:
            found.append((head.group(1), record[head.end() :]))
    return found


def header(message: str, name: str) -> str:
    match = re.search(rf"^{name}:\s*(.*?)\r?$", message, flags=re.MULTILINE | re.IGNORECASE)
    assert match is not None, f"no {name} in {message!r}"
    return match.group(1)


def test_ui_uas_and_uacs_on_three_loopback_ips(tmp_path: pathlib.Path) -> None:
    write_injection(tmp_path / "servers.csv", list(IPS))
    write_injection(tmp_path / "callers.csv", [f"{ip};caller{n}" for n, ip in enumerate(IPS)])
    port = free_udp_port()
    server_dir = tmp_path / "uas"
    server_dir.mkdir()
    uas = start(
        gossipper_command(
            "-sn", "uas", "-t", "ui", "-inf", str(tmp_path / "servers.csv"), "-p", str(port),
            "-m", str(CALLS_PER_CLIENT * len(IPS)), "-trace_msg", "-nostdin",
        ),
        server_dir,
    )  # fmt: skip
    wait_for_udp_listener(port, uas)
    uacs = [
        start(
            gossipper_command(
                "-sn",
                "uac",
                "-t",
                "ui",
                "-inf",
                str(tmp_path / "callers.csv"),
                f"{ip}:{port}",
                "-m",
                str(CALLS_PER_CLIENT),
                "-r",
                "10",
                "-nostdin",
            ),
            tmp_path,
        )  # fmt: skip
        for ip in IPS
    ]
    for uac in uacs:
        code, out, err = finish(uac)
        assert code == 0, f"{out[-3000:]}\n{err[-3000:]}"
        assert "Successful call" in out
    code, out, err = finish(uas)
    assert code == 0, f"{out[-3000:]}\n{err[-3000:]}"

    (log,) = server_dir.glob("*_messages.log")
    records = message_records(log)
    invites = [text for way, text in records if way == "received" and text.startswith("INVITE")]
    # (source IP from the Via, server IP from the Request-URI) of every INVITE the UAS took.
    pairs = set()
    reached: dict[str, str] = {}
    for text in invites:
        source = re.match(r"SIP/2\.0/UDP ([\d.]+):", header(text, "Via"))
        target = re.match(r"INVITE sip:[^@]*@([\d.]+):(\d+) ", text)
        assert source is not None and target is not None
        assert target.group(2) == str(port)
        pairs.add((source.group(1), target.group(1)))
        reached[header(text, "Call-ID")] = target.group(1)
    assert pairs == {(client, server) for client in IPS for server in IPS}
    assert len(reached) == CALLS_PER_CLIENT * len(IPS)
    # The UAS answered each INVITE from the IP it reached ([local_ip] of its socket).
    answered = 0
    for way, text in records:
        if way == "sent" and text.startswith("SIP/2.0 200") and "INVITE" in header(text, "CSeq"):
            contact = re.search(r"<sip:([\d.]+):(\d+);", header(text, "Contact"))
            assert contact is not None
            assert contact.group(1) == reached[header(text, "Call-ID")]
            assert contact.group(2) == str(port)
            answered += 1
    assert answered >= len(reached)


def test_ui_errors_are_one_line_with_sipp_exit_codes(tmp_path: pathlib.Path) -> None:
    code, _, err = finish(
        start(gossipper_command("-sn", "uac", "-t", "ui", f"{LOOPBACK}:5999"), tmp_path)
    )
    assert (code, err) == (
        1,
        "gossipper: error: -t ui needs an injection file (-inf FILE) whose field -ip_field N"
        " holds the local IPs\n",
    )

    write_injection(tmp_path / "short.csv", ["# callers", "alice;127.0.0.1", "bob"])
    code, _, err = finish(
        start(
            gossipper_command(
                "-sn",
                "uac",
                "-t",
                "ui",
                "-inf",
                "short.csv",
                "-ip_field",
                "1",
                f"{LOOPBACK}:5999",
            ),
            tmp_path,
        )  # fmt: skip
    )
    assert (code, err.splitlines()[-1]) == (
        1,
        "gossipper: error: short.csv line 4: no field 1 (-ip_field 1); -t ui needs the local IP"
        " of every row there",
    )

    write_injection(tmp_path / "users.csv", ["127.0.0.1", "10.9.9.9", "127.0.0.2"])
    port = free_udp_port()
    code, _, err = finish(
        start(
            gossipper_command(
                "-sn",
                "uac",
                "-t",
                "ui",
                "-inf",
                "users.csv",
                "-p",
                str(port),
                f"{LOOPBACK}:5999",
            ),
            tmp_path,
        )  # fmt: skip
    )
    assert (code, err.splitlines()[-1]) == (
        254,
        f"gossipper: error: cannot bind UDP 10.9.9.9:{port} (users.csv line 3, field 0):"
        " Cannot assign requested address",
    )
