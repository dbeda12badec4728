"""gossipper pcap2scenario: captures of loopback runs (tests/data/captures, remade by
make_fixtures.sh) become scenario pairs that load, replay against each other in the simulation
with every call successful, and exchange the captured message sequence."""

from __future__ import annotations

import collections
import dataclasses
import io
import pathlib

import pytest

from gossipper.capture.convert import Selection, convert, select_dialogs
from gossipper.capture.dialogs import group_dialogs
from gossipper.capture.reader import read_capture
from gossipper.capture.scenarios import GenerateOptions
from gossipper.cli.main import raw_main
from gossipper.cli.sim_command import build_plan
from gossipper.scenario import load_scenario
from gossipper.sim import EventKind, run_simulation
from gossipper.sip.message import parse_message

CAPTURES = pathlib.Path(__file__).parent.parent / "data" / "captures"

# file, dialogs, transport, the first dialog's message sequence
FIXTURES = {
    "sipp_uac_uas_udp.pcap": (2, "UDP", "INVITE 180 200 ACK BYE 200"),
    "reinvite_tcp.pcapng": (1, "TCP", "INVITE 100 180 200 ACK INVITE 200 ACK BYE 200"),
    "busy_users_udp.pcap": (3, "UDP", "INVITE 180 486 ACK"),
    "auth_udp.pcapng": (1, "UDP", "INVITE 401 ACK INVITE 180 200 ACK BYE 200"),
    "cancel_udp.pcap": (1, "UDP", "INVITE 180 CANCEL 200 487 ACK"),
    "callee_bye_udp.pcapng": (1, "UDP", "INVITE 180 200 ACK BYE 200"),
}


def _sequence(messages: list[object]) -> str:
    words = []
    for message in messages:
        assert hasattr(message, "is_request")
        words.append(message.method if message.is_request else str(message.status_code))  # type: ignore[attr-defined]
    return " ".join(words)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_is_read_whole(name: str) -> None:
    count, transport, sequence = FIXTURES[name]
    read = read_capture(CAPTURES / name)
    assert read.skipped.total() == 0, read.skipped.summary()
    dialogs = group_dialogs(read.messages)
    assert len(dialogs) == count
    assert {dialog.transport for dialog in dialogs} == {transport}
    assert _sequence([c.message for c in dialogs[0].messages]) == sequence
    assert (CAPTURES / name).stat().st_size < 100_000


def _simulate(args: list[str], tmp_path: pathlib.Path) -> tuple[object, dict[str, list[str]]]:
    plan = dataclasses.replace(build_plan(args, directory=str(tmp_path)), record_payloads=True)
    result = run_simulation(plan, io.StringIO(), io.StringIO())
    # The message sequence per Call-ID, from the datagrams the network carried (first copies,
    # each distinct datagram once: a retransmission is not a new message).
    sequences: dict[str, list[str]] = collections.defaultdict(list)
    seen: set[str] = set()
    for event in result.events:
        if event.kind is not EventKind.SCHEDULED or event.copy or event.digest in seen:
            continue
        seen.add(event.digest)
        if event.digest not in result.payloads:
            continue  # a stream segment
        message = parse_message(result.payloads[event.digest])
        sequences[message.call_id].append(
            message.method if message.is_request else str(message.status_code)
        )
    return result, sequences


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_round_trip_in_the_simulation(name: str, tmp_path: pathlib.Path) -> None:
    count, transport, sequence = FIXTURES[name]
    out = tmp_path / "out"
    read, written = convert(
        str(CAPTURES / name), str(out), Selection(), GenerateOptions(password="secret")
    )
    assert len(written) == 1, "dialogs of one shape share one pair"
    pair = written[0]
    assert len(pair.dialogs) == count
    load_scenario(pair.uac_path)
    load_scenario(pair.uas_path)
    args = ["-sf", pair.uac_path, "-peer", pair.uas_path, "-m", str(count)]
    if pair.csv_path:
        args += ["-inf", pair.csv_path]
    # The same pair over UDP gives the datagrams to compare; a TCP capture also replays on TCP.
    result, sequences = _simulate(args + ["-t", "u1"], tmp_path)
    assert result.main.snapshot.cumulative.successful_calls == count  # type: ignore[attr-defined]
    assert result.main.snapshot.cumulative.failed_calls == 0  # type: ignore[attr-defined]
    assert result.peer.snapshot.cumulative.successful_calls == count  # type: ignore[attr-defined]
    assert len(sequences) == count
    for replayed in sequences.values():
        assert " ".join(replayed) == sequence
    if transport == "TCP":
        result, _ = _simulate(args + ["-t", "t1"], tmp_path)
        assert result.main.snapshot.cumulative.successful_calls == count  # type: ignore[attr-defined]
        assert result.peer.snapshot.cumulative.failed_calls == 0  # type: ignore[attr-defined]


def test_users_become_an_injection_file(tmp_path: pathlib.Path) -> None:
    _, written = convert(
        str(CAPTURES / "busy_users_udp.pcap"), str(tmp_path), Selection(), GenerateOptions()
    )
    (pair,) = written
    assert pair.csv_path is not None
    rows = pathlib.Path(pair.csv_path).read_text().splitlines()
    assert rows == ["SEQUENTIAL", "alice;1001;", "bob;1002;", "carol;1003;"]
    uac = pathlib.Path(pair.uac_path).read_text().split("-->", 1)[1]  # after the comment
    assert "INVITE sip:[field1]@[remote_ip]:[remote_port] SIP/2.0" in uac
    assert (
        '"[field0]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]GossipTag00[call_number]' in uac
    )
    for value in ("alice", "1001", "127.0.0.1", "5070", "5071"):
        assert value not in uac


def test_keywords_replace_the_per_call_values(tmp_path: pathlib.Path) -> None:
    read = read_capture(CAPTURES / "auth_udp.pcapng")
    call_id = read.messages[0].message.call_id
    _, (pair,) = convert(
        str(CAPTURES / "auth_udp.pcapng"), str(tmp_path), Selection(), GenerateOptions()
    )
    uac = pathlib.Path(pair.uac_path).read_text()
    uas = pathlib.Path(pair.uas_path).read_text()
    assert call_id not in uac.split("-->", 1)[1] and call_id not in uas.split("-->", 1)[1]
    assert "[authentication username=alice password=PASSWORD]" in uac
    assert '<recv response="401" auth="true"/>' in uac
    # The ACK of the 401 belongs to the INVITE's transaction: the INVITE's branch, two back.
    assert "branch=[branch-2]" in uac
    assert uac.count("CSeq: [cseq] INVITE") == 2
    assert "[last_Via:]" in uas and "[last_To:];tag=[pid]GossipTag01[call_number]" in uas
    assert "WWW-Authenticate: Digest" in uas
    assert "verifyauth" not in uas  # no password given: nothing to check against


def test_password_is_checked_by_the_uas_side(tmp_path: pathlib.Path) -> None:
    _, (pair,) = convert(
        str(CAPTURES / "auth_udp.pcapng"),
        str(tmp_path / "out"),
        Selection(),
        GenerateOptions(password="secret"),
    )
    # The UAS side as the main side, so that its log file is written.
    args = ["-sf", pair.uas_path, "-peer", pair.uac_path, "-m", "1", "-trace_logs"]
    plan = build_plan(args, directory=str(tmp_path))
    result = run_simulation(plan, io.StringIO(), io.StringIO())
    assert result.main.snapshot.cumulative.successful_calls == 1
    logs = [f for f in result.files if f.endswith("_logs.log")]
    assert logs and "authentication true" in pathlib.Path(logs[0]).read_text()


def test_pauses_follow_the_capture_scaled_or_not(tmp_path: pathlib.Path) -> None:
    capture = str(CAPTURES / "busy_users_udp.pcap")
    _, (plain,) = convert(capture, str(tmp_path / "a"), Selection(), GenerateOptions())
    _, (scaled,) = convert(
        capture, str(tmp_path / "b"), Selection(), GenerateOptions(time_scale=10)
    )
    _, (none,) = convert(capture, str(tmp_path / "c"), Selection(), GenerateOptions(pauses=False))
    import re

    def pause(path: str) -> list[int]:
        return [
            int(v)
            for v in re.findall(r'<pause milliseconds="(\d+)"/>', pathlib.Path(path).read_text())
        ]

    captured_ms = pause(plain.uas_path)
    assert any(45 <= value <= 150 for value in captured_ms)  # the 50 ms between 180 and 486
    scaled_ms = pause(scaled.uas_path)
    assert len(scaled_ms) >= len(captured_ms)
    for value in captured_ms:
        assert any(abs(other - 10 * value) <= 10 for other in scaled_ms)
    assert pause(none.uas_path) == []


def test_selection_by_call_id_method_and_time() -> None:
    read = read_capture(CAPTURES / "busy_users_udp.pcap")
    dialogs = select_dialogs(read, Selection())
    assert len(dialogs) == 3
    second = dialogs[1]
    assert [d.call_id for d in select_dialogs(read, Selection(call_ids=(second.call_id,)))] == [
        second.call_id
    ]
    assert select_dialogs(read, Selection(method="BYE")) == []
    assert len(select_dialogs(read, Selection(method="invite"))) == 3
    origin = read.first_time_s or 0.0
    offset = second.start_s - origin
    assert [
        d.call_id
        for d in select_dialogs(read, Selection(from_s=offset - 0.001, to_s=offset + 0.001))
    ] == [second.call_id]


def test_command_line_writes_files_and_refuses_to_overwrite(tmp_path: pathlib.Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    capture = str(CAPTURES / "sipp_uac_uas_udp.pcap")
    status = raw_main(["pcap2scenario", capture, "-o", str(tmp_path)], stdout=out, stderr=err)
    assert status == 0, err.getvalue()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "001_INVITE_uac.xml",
        "001_INVITE_uas.xml",
    ]
    assert "-m 2 -s service" in out.getvalue()
    err = io.StringIO()
    status = raw_main(
        ["pcap2scenario", capture, "-o", str(tmp_path)], stdout=io.StringIO(), stderr=err
    )
    assert status == 255
    (line,) = err.getvalue().splitlines()
    assert "001_INVITE_uac.xml exists" in line and "--force" in line
    status = raw_main(
        ["pcap2scenario", capture, "-o", str(tmp_path), "--force"],
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert status == 0


def test_time_window_as_utc_date_and_time(tmp_path: pathlib.Path) -> None:
    import datetime

    capture = str(CAPTURES / "busy_users_udp.pcap")
    read = read_capture(capture)
    third = select_dialogs(read, Selection())[2]
    moment = datetime.datetime.fromtimestamp(third.start_s - 0.001, datetime.UTC)
    text = moment.replace(tzinfo=None).isoformat()
    out = io.StringIO()
    status = raw_main(
        ["pcap2scenario", capture, "-o", str(tmp_path), "--from", text],
        stdout=out,
        stderr=io.StringIO(),
    )
    assert status == 0
    assert third.call_id in out.getvalue() and "(1 dialog(s))" in out.getvalue()
    err = io.StringIO()
    status = raw_main(
        ["pcap2scenario", capture, "-o", str(tmp_path), "--to", "yesterday"],
        stdout=io.StringIO(),
        stderr=err,
    )
    assert status == 1 and "--to yesterday" in err.getvalue()


def test_cancel_keeps_the_transaction(tmp_path: pathlib.Path) -> None:
    _, (pair,) = convert(
        str(CAPTURES / "cancel_udp.pcap"), str(tmp_path), Selection(), GenerateOptions()
    )
    uac = pathlib.Path(pair.uac_path).read_text()
    uas = pathlib.Path(pair.uas_path).read_text()
    # CANCEL and the ACK of the 487 carry the INVITE's branch; the 487 answers the INVITE.
    assert uac.count("branch=[branch]") == 1
    assert "CSeq: [cseq] CANCEL" in uac and "CSeq: [cseq] ACK" in uac
    assert "CSeq: [last_cseq_number] INVITE" in uas


def test_dialogs_of_different_shapes_get_their_own_pairs(tmp_path: pathlib.Path) -> None:
    import dpkt

    merged = io.BytesIO()
    writer = dpkt.pcap.Writer(merged, snaplen=65535)
    for name in ("cancel_udp.pcap", "busy_users_udp.pcap", "auth_udp.pcapng"):
        with open(CAPTURES / name, "rb") as handle:
            reader = dpkt.pcapng.Reader(handle) if name.endswith("ng") else dpkt.pcap.Reader(handle)
            for timestamp, frame in reader:
                writer.writepkt(frame, ts=timestamp)
    capture = tmp_path / "merged.pcap"
    capture.write_bytes(merged.getvalue())
    _, written = convert(str(capture), str(tmp_path / "out"), Selection(), GenerateOptions())
    # Numbered in the order of the dialogs' first requests (busy, then auth, then cancel).
    assert [len(pair.dialogs) for pair in written] == [3, 1, 1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "001_INVITE_uac.xml",
        "001_INVITE_uas.xml",
        "001_INVITE_users.csv",
        "002_INVITE_uac.xml",
        "002_INVITE_uas.xml",
        "003_INVITE_uac.xml",
        "003_INVITE_uas.xml",
    ]
    assert "IN IP[local_ip_type] [local_ip]" in pathlib.Path(written[0].uac_path).read_text()


def test_callee_bye_addresses_the_caller_with_its_own_headers(tmp_path: pathlib.Path) -> None:
    _, (pair,) = convert(
        str(CAPTURES / "callee_bye_udp.pcapng"), str(tmp_path), Selection(), GenerateOptions()
    )
    uas = pathlib.Path(pair.uas_path).read_text()
    assert 'header="From:" assign_to="peer_from"' in uas
    assert "From:[$peer_to];tag=[pid]GossipTag01[call_number]" in uas
    assert "To:[$peer_from]" in uas
