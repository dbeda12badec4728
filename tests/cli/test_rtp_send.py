"""gossipper -rtp_send: the standalone RTP sender, its options, and real loopback sockets."""

from __future__ import annotations

import io
import math
import pathlib
import random
import socket
import struct
import wave

import pytest
import trio
import trio.testing

from gossipper.cli.main import raw_main
from gossipper.cli.options import RTP_SEND, format_help, parse_command_line
from gossipper.cli.rtp_send_command import (
    RtpSendConfig,
    parse_rtp_send,
    prepare_payloads,
    send_rtp,
)
from gossipper.errors import ConfigError
from gossipper.media.audio import ulaw_to_linear
from gossipper.media.rtp import RtpPacket, parse_rtp, seq_add, ts_add, ts_diff
from gossipper.transport.udp import UdpTransportFactory


def test_defaults_are_the_go_tools() -> None:
    config = parse_rtp_send(["-rtp_send", "-rtp_addr", "127.0.0.1:4000"])
    assert config == RtpSendConfig(
        destination=("127.0.0.1", 4000),
        codec="PCMU",
        payload_type=0,
        interval_ms=20,
        duration_ms=0,
    )
    assert (config.channels, config.streams, config.pattern, config.loops) == (1, 1, "tone", -1)


def test_every_flag_is_read() -> None:
    config = parse_rtp_send(
        [
            "-rtp_send",
            "-rtp_addr",
            "[::1]:4002",
            "-rtp_codec",
            "PCMA/8000",
            "-rtp_pt",
            "96",
            "-rtp_freq",
            "30",
            "-rtp_dur",
            "1500",
            "-rtp_ch",
            "2",
            "-rtp_streams",
            "4",
            "-rtp_pattern",
            "silence",
            "-rtp_local",
            "[::1]:30000",
        ]
    )
    assert config.destination == ("::1", 4002)
    assert (config.codec, config.payload_type, config.interval_ms) == ("PCMA", 96, 30)
    assert (config.duration_ms, config.channels, config.streams) == (1500, 2, 4)
    assert (config.pattern, config.local_host, config.local_port) == ("silence", "::1", 30000)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("", "-rtp_send needs -rtp_addr HOST:PORT"),
        ("-rtp_addr 127.0.0.1", "-rtp_addr: '127.0.0.1' has no port; write HOST:PORT"),
        ("-rtp_addr h:1 -rtp_codec OPUS/48000", "-rtp_codec: 'OPUS/48000' is not supported"),
        ("-rtp_addr h:1 -rtp_codec G729/8000", "-rtp_codec: G729/8000 needs -rtp_file"),
        ("-rtp_addr h:1 -rtp_pt 128", "-rtp_pt must be a payload type 0-127, got 128"),
        ("-rtp_addr h:1 -rtp_freq 0", "-rtp_freq must be a packet interval in ms > 0, got 0"),
        ("-rtp_addr h:1 -rtp_freq 15 -rtp_codec G729 -rtp_file x", "use a multiple of 10 ms"),
        ("-rtp_addr h:1 -rtp_dur -1", "-rtp_dur must be >= 0 ms"),
        ("-rtp_addr h:1 -rtp_ch 0", "-rtp_ch must be > 0, got 0"),
        ("-rtp_addr h:1 -rtp_streams 0", "-rtp_streams must be >= 1, got 0"),
        ("-rtp_addr h:1 -rtp_loops 2", "-rtp_loops counts plays of -rtp_file"),
        ("-rtp_addr h:1 -rtp_ch 2 -rtp_file x.wav", "-rtp_ch > 1 applies to the pattern only"),
        ("-rtp_addr h:1 -rtp_pattern noise", "-rtp_pattern must be one of tone, silence"),
        ("-rtp_addr h:1 -rtp_streams 10 -rtp_local 0.0.0.0:65530", "run past 65535"),
        ("-rtp_addr h:1 -sn uac", "-rtp_send: -sn has no meaning for the standalone RTP sender"),
        ("-rtp_addr h:1 -rtp_frq 20", "unknown option -rtp_frq; did you mean -rtp_freq?"),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_option(args: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rtp_send(["-rtp_send", *args.split()])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_sender_options_outside_rtp_send_say_to_add_it() -> None:
    with pytest.raises(ConfigError, match="-rtp_streams is an option of the standalone RTP"):
        parse_command_line(["-sn", "uac", "-rtp_streams", "2", "127.0.0.1"])


def test_help_lists_the_sender_options_and_the_run_help_does_not() -> None:
    text = format_help(scope=RTP_SEND)
    assert text.startswith("Usage: gossipper -rtp_send -rtp_addr HOST:PORT")
    for name in ("-rtp_addr", "-rtp_codec", "-rtp_pt", "-rtp_freq", "-rtp_dur", "-rtp_ch"):
        assert f"\n  {name} " in text
    assert "-rtp_streams" not in format_help()  # hidden from a run's help, as in the Go tool
    assert parse_command_line(["-rtp_send", "-rtp_addr", "h:1"], RTP_SEND).values == {
        "rtp_send": True,
        "rtp_addr": "h:1",
    }


def test_tone_pattern_loops_seamlessly_at_425_hz() -> None:
    config = parse_rtp_send(["-rtp_send", "-rtp_addr", "h:1"])
    frames, samples_per_frame = prepare_payloads(config)
    assert samples_per_frame == 160
    assert len(frames) == 2 and all(len(f) == 160 for f in frames)  # 320 samples = 17 periods
    linear = [ulaw_to_linear(b) for b in b"".join(frames * 2)]
    expected = [0.35 * 32767 * math.sin(2 * math.pi * 425 * n / 8000) for n in range(640)]
    # G.711 quantisation error stays within a step at that level (under 3 % of full scale).
    assert max(abs(a - b) for a, b in zip(linear, expected, strict=True)) < 1000
    # Two channels: each sample twice; 30 ms frames: 240 samples, 4 frames hold 960 samples.
    stereo, _ = prepare_payloads(parse_rtp_send(["-rtp_send", "-rtp_addr", "h:1", "-rtp_ch", "2"]))
    assert stereo[0][:4] == bytes((frames[0][0], frames[0][0], frames[0][1], frames[0][1]))
    longer, spf = prepare_payloads(
        parse_rtp_send(["-rtp_send", "-rtp_addr", "h:1", "-rtp_freq", "30"])
    )
    assert (len(longer), spf, len(longer[0])) == (4, 240, 240)


def test_silence_pattern_is_the_codecs_silence() -> None:
    frames, _ = prepare_payloads(
        parse_rtp_send(
            ["-rtp_send", "-rtp_addr", "h:1", "-rtp_codec", "PCMA", "-rtp_pattern", "silence"]
        )
    )
    assert frames == [b"\xd5" * 160]


def _write_wav(path: pathlib.Path, samples: list[int]) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))


def test_wav_file_is_cut_into_frames_of_the_interval(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "a.wav"
    _write_wav(path, [1000] * 500)
    frames, _ = prepare_payloads(
        parse_rtp_send(["-rtp_send", "-rtp_addr", "h:1", "-rtp_file", str(path)])
    )
    assert [len(f) for f in frames] == [160, 160, 160, 160]
    assert frames[3][20:] == b"\xff" * 140  # 500 samples: the tail is padded with silence


async def _receive_all(
    sock: trio.socket.SocketType, into: list[tuple[bytes, tuple[str, int]]]
) -> None:
    while True:
        data, address = await sock.recvfrom(2048)
        into.append((data, (address[0], address[1])))


def test_loopback_streams_arrive_with_their_ssrc_seq_timestamps_and_payloads(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "tone.wav"
    _write_wav(path, [(i * 37) % 2000 - 1000 for i in range(8 * 160)])  # 8 distinct frames
    received: list[tuple[bytes, tuple[str, int]]] = []

    async def main() -> None:
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = parse_rtp_send(
            ["-rtp_send", "-rtp_addr", f"127.0.0.1:{port}", "-rtp_file", str(path)]
            + ["-rtp_streams", "3", "-rtp_loops", "2", "-rtp_local", "127.0.0.1"]
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_receive_all, sock, received)
            result = await send_rtp(config, UdpTransportFactory(), rng=random.Random(5))
            # Let the last datagrams land: wait until every one sent was read (a loaded host can
            # keep one in the kernel past a fixed sleep), then until the reader waits on an
            # empty socket, so that any datagram beyond those counted would be read too.
            with trio.move_on_after(10):
                while len(received) < result.packets_sent:  # noqa: ASYNC110 - no event to wait on
                    await trio.sleep(0.01)
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        sock.close()
        results.append(result)

    results: list[object] = []
    trio.run(main)
    result = results[0]
    frames, _ = prepare_payloads(
        parse_rtp_send(["-rtp_send", "-rtp_addr", "h:1", "-rtp_file", str(path)])
    )
    assert len(frames) == 8
    by_ssrc: dict[int, list[tuple[RtpPacket, tuple[str, int]]]] = {}
    for data, source in received:
        packet = parse_rtp(data)
        by_ssrc.setdefault(packet.ssrc, []).append((packet, source))
    assert sorted(by_ssrc) == sorted(result.ssrcs)  # type: ignore[attr-defined]
    # 8 frames, twice, three streams. A loaded machine may stall the sender: frames it skipped
    # instead of bursting are counted, and the timestamps jump over them (seq stays contiguous).
    assert result.packets_sent == len(received)  # type: ignore[attr-defined]
    assert result.packets_sent + result.skipped_packets == 48  # type: ignore[attr-defined]
    assert result.octets_sent == 160 * result.packets_sent  # type: ignore[attr-defined]
    streams = zip(result.ssrcs, result.local_addresses, result.first_timestamps, strict=True)  # type: ignore[attr-defined]
    for ssrc, local, first_timestamp in streams:
        stream = by_ssrc[ssrc]
        assert {source for _, source in stream} == {local}  # each stream its own socket
        base = stream[0][0].sequence
        packets = sorted((p for p, _ in stream), key=lambda p: seq_add(p.sequence, -base))
        first = packets[0]
        slots = []
        for index, packet in enumerate(packets):
            assert packet.sequence == seq_add(first.sequence, index)
            slot = ts_diff(packet.timestamp, first_timestamp) // 160
            assert packet.timestamp == ts_add(first_timestamp, 160 * slot)
            assert packet.payload_type == 0
            assert packet.payload == frames[slot % 8]  # the file position follows the clock
            assert packet.marker == (index == 0)
            slots.append(slot)
        assert slots == sorted(set(slots)) and slots[-1] == 15  # the last frame always goes


def test_the_command_prints_its_summary_and_exits_0(tmp_path: pathlib.Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        port = receiver.getsockname()[1]
        out, err = io.StringIO(), io.StringIO()
        status = raw_main(
            f"-rtp_send -rtp_addr 127.0.0.1:{port} -rtp_dur 300 -rtp_streams 2 -rtp_codec PCMA"
            " -rtp_pt 8".split(),
            stdout=out,
            stderr=err,
        )
        assert status == 0, err.getvalue()
        lines = out.getvalue().splitlines()
        assert lines[0].startswith(
            f"rtp_send: streaming to 127.0.0.1:{port} codec=PCMA/8000 pt=8 freq=20ms"
            " duration=300ms channels=1 streams=2 source=tone"
        )
        assert lines[1].startswith("rtp_send: done streams=2 sent=")
        sent = int(lines[1].split("sent=")[1].split()[0])
        skipped = int(lines[1].split("skipped=")[1].split()[0])
        # Every datagram counted sent, waited for (on a loaded host the kernel may deliver the
        # last one to the socket a moment after the sender is done), then whatever else came.
        receiver.settimeout(10)
        count = 0
        pts = set()
        try:
            while count < sent:
                pts.add(parse_rtp(receiver.recv(2048)).payload_type)
                count += 1
        except TimeoutError:
            pass  # fewer arrived than were counted: the assertion below says so
        receiver.setblocking(False)
        try:
            while True:
                pts.add(parse_rtp(receiver.recv(2048)).payload_type)
                count += 1
        except BlockingIOError:
            pass
    # 300 ms of two 20 ms streams: 30 frames at most (fewer sent if the machine stalled us).
    assert sent == count and count >= 1 and sent + skipped <= 30
    assert pts == {8}
    assert " (" in lines[1] and "%) skipped=" in lines[1]


def test_the_command_reports_an_unreadable_file_before_sending(tmp_path: pathlib.Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    missing = tmp_path / "none.wav"
    status = raw_main(
        ["-rtp_send", "-rtp_addr", "127.0.0.1:9", "-rtp_file", str(missing)],
        stdout=out,
        stderr=err,
    )
    assert status == 255
    assert err.getvalue() == (
        f"gossipper: error: {missing}: cannot read the media file: No such file or directory\n"
    )
    assert out.getvalue() == ""


def _free_port_run(count: int) -> int:
    """A base port such that base, base + 2, ... are free on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + 2 * count > 65535:
            continue
        socks = []
        try:
            for i in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + 2 * i))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return int(base)
    raise AssertionError("no free run of ports")


def test_local_ports_step_by_two_from_the_given_base() -> None:
    base = _free_port_run(3)

    async def main() -> tuple[tuple[str, int], ...]:
        config = parse_rtp_send(
            f"-rtp_send -rtp_addr 127.0.0.1:9 -rtp_dur 30 -rtp_streams 3"
            f" -rtp_local 127.0.0.1:{base}".split()
        )
        result = await send_rtp(config, UdpTransportFactory())
        return result.local_addresses

    assert trio.run(main) == tuple(("127.0.0.1", base + 2 * i) for i in range(3))
