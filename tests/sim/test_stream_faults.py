"""Stream faults of the simulated network: refuse, split and coalesce (and their reset interplay).

The decisions are recomputed here from the documented recipe (``draw_unit`` of the purpose and
the segment identity ``{send time!r}:{src}>{dst}:seq:N:0:0``) rather than trusted: a client's SYN
is its segment 0, its data chunks 1, 2, ... in write order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gossipper.errors import ConfigError, TransportError
from gossipper.interfaces import Address
from gossipper.sim import (
    EventKind,
    FaultPlan,
    LinkFaults,
    SimNetwork,
    SimStream,
    SimTransportFactory,
    open_sim_network,
    run_under_virtual_time,
)
from gossipper.sim.faults import split_cuts
from tests.sim._scheduling import shuffled_scheduling

CLIENT = "10.0.0.1"
SERVER = "10.0.0.2"
CLIENT_ADDRESS = (CLIENT, 40000)
SERVER_ADDRESS = (SERVER, 5060)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _unit(seed: int, purpose: str, time_s: float, src: Address, dst: Address, seq: int) -> float:
    """The documented seeding recipe for a stream segment, independent of gossipper.sim."""
    identity = f"{time_s!r}:{src[0]}:{src[1]}>{dst[0]}:{dst[1]}:seq:{seq}:0:0"
    return random.Random(f"{seed}:{purpose}:{identity}").random()


def _expected_cuts(seed: int, time_s: float, seq: int, size: int) -> tuple[int, ...]:
    """``split_cuts`` recomputed from its docstring's recipe."""

    def unit(purpose: str) -> float:
        return _unit(seed, purpose, time_s, CLIENT_ADDRESS, SERVER_ADDRESS, seq)

    first = 1 + int(unit("split_cut1") * (size - 1))
    if size < 3 or unit("split_pieces") < 0.5:
        return (first,)
    second = 1 + int(unit("split_cut2") * (size - 2))
    if second >= first:
        second += 1
    return tuple(sorted((first, second)))


@dataclass
class Transfer:
    """What one client -> server transfer produced."""

    reads: list[tuple[float, bytes]] = field(default_factory=list)
    """Every non-empty ``receive_some`` result of the server, with its virtual time."""
    write_times_s: list[float] = field(default_factory=list)
    server_error: str = ""
    client_error: str = ""
    held_seqs: list[int] = field(default_factory=list)
    split_pieces: dict[int, int] = field(default_factory=dict)
    resets: int = 0
    client_in_flight_bytes: int = -1

    @property
    def received(self) -> bytes:
        return b"".join(data for _, data in self.reads)


def _transfer(
    seed: int,
    faults: LinkFaults,
    chunks: list[bytes],
    gaps_s: list[float] | None = None,
    *,
    abort: bool = False,
) -> Transfer:
    """Connect, write ``chunks`` (sleeping ``gaps_s[i]`` after chunk i), then close (or reset)."""
    result = Transfer()

    async def main() -> None:
        async with open_sim_network(seed, FaultPlan(default=faults)) as network:
            listener = await SimTransportFactory(network, SERVER).open_stream_listener("", 5060)
            async with trio.open_nursery() as nursery:

                async def server() -> None:
                    stream = await listener.accept()
                    try:
                        while data := await stream.receive_some():
                            result.reads.append((trio.current_time(), data))
                    except TransportError as exc:
                        result.server_error = str(exc)
                    await stream.aclose()

                nursery.start_soon(server)
                client = await SimTransportFactory(network, CLIENT).connect_stream(SERVER_ADDRESS)
                try:
                    for n, chunk in enumerate(chunks):
                        result.write_times_s.append(trio.current_time())
                        await client.send_all(chunk)
                        if gaps_s is not None and gaps_s[n] > 0:
                            await trio.sleep(gaps_s[n])
                except TransportError as exc:
                    result.client_error = str(exc)
                if abort:
                    client.reset()
                else:
                    await client.aclose()
            result.client_in_flight_bytes = client._in_flight_bytes
            _collect_events(network, result)

    run_under_virtual_time(main)
    return result


def _collect_events(network: SimNetwork, result: Transfer) -> None:
    for event in network.events():
        seq = int(event.digest.removeprefix("seq:"))
        if event.kind is EventKind.STREAM_HELD:
            result.held_seqs.append(seq)
        elif event.kind is EventKind.STREAM_SPLIT:
            result.split_pieces[seq] = event.copy
        elif event.kind is EventKind.STREAM_RESET:
            result.resets += 1


chunk_lists = st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=12)
seeds = st.integers(min_value=0, max_value=2**64)


# --- nothing lost, nothing invented ----------------------------------------------------------


@FAST
@given(
    seeds,
    chunk_lists,
    st.sampled_from([0.0, 30.0, 100.0]),
    st.sampled_from([0.0, 30.0, 100.0]),
    st.sampled_from([0.0, 3.0]),
    st.data(),
)
def test_every_byte_arrives_once_and_in_order(
    seed: int,
    chunks: list[bytes],
    split_pct: float,
    coalesce_pct: float,
    jitter_ms: float,
    data: st.DataObject,
) -> None:
    gaps_s = data.draw(
        st.lists(st.sampled_from([0.0, 0.0002, 0.002]), min_size=len(chunks), max_size=len(chunks))
    )
    faults = LinkFaults(
        delay_ms=1, jitter_ms=jitter_ms, split_pct=split_pct, coalesce_pct=coalesce_pct
    )
    result = _transfer(seed, faults, chunks, gaps_s)
    assert result.received == b"".join(chunks)
    assert (result.server_error, result.client_error) == ("", "")
    assert result.client_in_flight_bytes == 0
    times = [time_s for time_s, _ in result.reads]
    assert times == sorted(times)


@FAST
@given(seeds, st.lists(st.binary(min_size=2, max_size=300), min_size=1, max_size=12))
def test_split_at_100_pct_gives_more_reads_than_writes(seed: int, chunks: list[bytes]) -> None:
    result = _transfer(seed, LinkFaults(delay_ms=2, jitter_ms=5, split_pct=100), chunks)
    assert result.received == b"".join(chunks)
    # Each chunk's pieces land at distinct instants; only a chunk's first piece may share an
    # instant with the previous chunk's last one.
    assert len(result.reads) > len(chunks)
    assert sorted(result.split_pieces) == list(range(1, len(chunks) + 1))


@FAST
@given(seeds, st.lists(st.binary(min_size=1, max_size=300), min_size=2, max_size=12))
def test_coalesce_at_100_pct_gives_fewer_reads_than_writes(seed: int, chunks: list[bytes]) -> None:
    gaps_s = [0.0002] * len(chunks)  # shorter than the hold: each write meets a held one
    faults = LinkFaults(delay_ms=1, jitter_ms=2, coalesce_pct=100, coalesce_hold_ms=1)
    result = _transfer(seed, faults, chunks, gaps_s)
    assert result.received == b"".join(chunks)
    assert len(result.reads) < len(chunks)
    assert result.held_seqs == list(range(1, len(chunks) + 1))


# --- exact behaviour, recomputed from the recipe ---------------------------------------------


def test_split_pieces_and_times_are_recomputable_from_draw_unit() -> None:
    seed, delay_s = 7, 0.003
    chunks = [
        b"INVITE sip:bob@example.com SIP/2.0\r\nContent-Length: %d\r\n\r\n" % n
        for n in range(100, 130)
    ]
    gaps_s = [0.001] * len(chunks)  # each chunk has landed before the next is written
    faults = LinkFaults(delay_ms=delay_s * 1000, split_pct=50)
    result = _transfer(seed, faults, chunks, gaps_s)
    expected: list[tuple[float, bytes]] = []
    expected_pieces: dict[int, int] = {}
    for n, (chunk, sent_s) in enumerate(zip(chunks, result.write_times_s, strict=True)):
        seq = n + 1
        arrival_s = sent_s + delay_s
        if _unit(seed, "split", sent_s, CLIENT_ADDRESS, SERVER_ADDRESS, seq) < 0.5:
            cuts = _expected_cuts(seed, sent_s, seq, len(chunk))
            assert cuts == split_cuts(
                seed, f"{sent_s!r}:{CLIENT}:40000>{SERVER}:5060:seq:{seq}:0:0", len(chunk)
            )
            bounds = (0, *cuts, len(chunk))
            expected_pieces[seq] = len(cuts) + 1
            for piece, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
                # Pieces 1 us apart (SPLIT_STEP_S), each after the previous one.
                expected.append((arrival_s + piece * 1e-6, chunk[start:end]))
        else:
            expected.append((arrival_s, chunk))
    assert [data for _, data in result.reads] == [data for _, data in expected]
    assert [t for t, _ in result.reads] == pytest.approx([t for t, _ in expected], abs=1e-9)
    assert result.split_pieces == expected_pieces
    assert 0 < len(expected_pieces) < len(chunks)
    assert any(pieces == 3 for pieces in expected_pieces.values())


def test_coalesce_decisions_are_recomputable_from_draw_unit() -> None:
    seed = 11
    chunks = [b"message %02d\r\n" % n for n in range(40)]
    gaps_s = [0.003] * len(chunks)  # longer than the hold: a held chunk leaves alone
    faults = LinkFaults(delay_ms=2, coalesce_pct=40, coalesce_hold_ms=1.5)
    result = _transfer(seed, faults, chunks, gaps_s)
    held = [
        n + 1
        for n, sent_s in enumerate(result.write_times_s)
        if _unit(seed, "coalesce", sent_s, CLIENT_ADDRESS, SERVER_ADDRESS, n + 1) < 0.4
    ]
    assert result.held_seqs == held
    assert 0 < len(held) < len(chunks)
    # Nothing follows within the hold: a held chunk arrives alone, 1.5 ms late.
    assert [data for _, data in result.reads] == chunks
    for n, ((arrival_s, _), sent_s) in enumerate(
        zip(result.reads, result.write_times_s, strict=True)
    ):
        late_s = 0.0015 if n + 1 in held else 0.0
        assert arrival_s == pytest.approx(sent_s + 0.002 + late_s, abs=1e-9)


def test_coalesced_writes_arrive_as_one_read_with_the_next_write() -> None:
    chunks = [b"SIP/2.0 180 Ringing\r\n\r\n", b"SIP/2.0 200 OK\r\n\r\n", b"tail"]
    faults = LinkFaults(delay_ms=2, coalesce_pct=100, coalesce_hold_ms=5)
    result = _transfer(1, faults, chunks, [0.001, 0.001, 0.01])  # close after the deadline
    # All three merge (each within 5 ms of the first held byte) and leave at its deadline,
    # not later: merging does not push the deadline back.
    [(arrival_s, data)] = result.reads
    assert data == b"".join(chunks)
    assert arrival_s == pytest.approx(result.write_times_s[0] + 0.005 + 0.002)


def test_held_bytes_leave_before_the_fin() -> None:
    faults = LinkFaults(delay_ms=2, coalesce_pct=100, coalesce_hold_ms=50)
    result = _transfer(3, faults, [b"last words"])
    # aclose right after the write: the FIN pushes the held chunk out, 48 ms before its deadline.
    [(arrival_s, data)] = result.reads
    assert data == b"last words"
    assert arrival_s == pytest.approx(result.write_times_s[0] + 0.002)
    assert result.server_error == ""


def test_zero_percentages_draw_nothing_more() -> None:
    chunks = [b"abc", b"defg"]
    plain = _transfer(5, LinkFaults(delay_ms=1, jitter_ms=2), chunks)
    zeros = _transfer(
        5,
        LinkFaults(delay_ms=1, jitter_ms=2, split_pct=0, coalesce_pct=0, refuse_pct=0),
        chunks,
    )
    assert plain == zeros
    assert (plain.held_seqs, plain.split_pieces) == ([], {})


# --- refuse -----------------------------------------------------------------------------------


async def _connect_many(seed: int, faults: LinkFaults, count: int) -> list[tuple[float, bool]]:
    """Connect ``count`` times in a row; (attempt time, refused) per attempt."""
    outcomes: list[tuple[float, bool]] = []
    async with open_sim_network(seed, FaultPlan(default=faults)) as network:
        listener = await SimTransportFactory(network, SERVER).open_stream_listener(SERVER, 5060)
        factory = SimTransportFactory(network, CLIENT)
        for _ in range(count):
            started_s = trio.current_time()
            try:
                stream = await factory.connect_stream(SERVER_ADDRESS)
            except TransportError as exc:
                assert str(exc) == f"cannot connect to {SERVER}:5060: connection refused"
                # Exactly like no listener: the refusal comes back after a round trip.
                assert trio.current_time() - started_s == pytest.approx(0.002)
                outcomes.append((started_s, True))
            else:
                outcomes.append((started_s, False))
                await (await listener.accept()).aclose()
                await stream.aclose()
        refused = [e for e in network.events() if e.kind is EventKind.STREAM_REFUSED]
        assert network.statistics().stream_refusals == len(refused)
        assert len(refused) == sum(r for _, r in outcomes)
    return outcomes


@pytest.mark.parametrize(("refuse_pct", "refused"), [(100, True), (0, False)])
def test_refuse_100_refuses_every_connect_and_0_none(refuse_pct: float, refused: bool) -> None:
    outcomes = run_under_virtual_time(
        _connect_many, 4, LinkFaults(delay_ms=1, refuse_pct=refuse_pct), 25
    )
    assert [r for _, r in outcomes] == [refused] * 25


def test_refusals_are_recomputable_from_draw_unit() -> None:
    seed = 21
    outcomes = run_under_virtual_time(
        _connect_many, seed, LinkFaults(delay_ms=1, refuse_pct=50), 40
    )
    # Attempt n uses ephemeral port 40000 + n (ports are not reused while counting up).
    expected = [
        _unit(seed, "refuse", t, (CLIENT, 40000 + n), SERVER_ADDRESS, 0) < 0.5
        for n, (t, _) in enumerate(outcomes)
    ]
    assert [r for _, r in outcomes] == expected
    assert 0 < sum(expected) < len(expected)


# --- reset interplay ----------------------------------------------------------------------------


def test_abortive_reset_discards_held_bytes() -> None:
    faults = LinkFaults(delay_ms=2, coalesce_pct=100, coalesce_hold_ms=50)
    result = _transfer(3, faults, [b"never sent", b"nor this"], abort=True)
    # The RST finds the bytes still held (unsent): a real abortive close discards them.
    assert result.reads == []
    assert "reset by peer" in result.server_error
    assert result.held_seqs == [1, 2]
    assert result.client_in_flight_bytes == 0


def test_reset_fault_discards_held_bytes_of_the_connection() -> None:
    chunks = [b"first;", b"second;", b"third;", b"fourth;", b"fifth;"]
    faults = LinkFaults(delay_ms=1, coalesce_pct=100, coalesce_hold_ms=5, reset_pct=25)
    outcomes = set()
    for seed in range(30):
        result = _transfer(seed, faults, chunks, [0.0001] * len(chunks))
        if result.resets:
            # Every write was held; the reset destroys them with the connection.
            assert result.reads == []
            assert "reset" in result.server_error
            # The client hears of it at its next write, if the reset one was not the last.
            reset_seq = len(result.held_seqs) + 1
            assert ("reset" in result.client_error) == (reset_seq < len(chunks))
            assert result.client_in_flight_bytes == 0
            assert len(result.held_seqs) < len(chunks)
        else:
            assert [data for _, data in result.reads] == [b"".join(chunks)]
            assert result.held_seqs == [1, 2, 3, 4, 5]
        outcomes.add(bool(result.resets))
    assert outcomes == {True, False}


# --- determinism ----------------------------------------------------------------------------------


async def _many_streams(seed: int) -> list[tuple[str, float, bytes]]:
    """Eight clients writing at the same instants; every read of the server, in order."""
    faults = LinkFaults(
        delay_ms=1, jitter_ms=4, split_pct=40, coalesce_pct=40, coalesce_hold_ms=2, refuse_pct=20
    )
    log: list[tuple[str, float, bytes]] = []
    async with open_sim_network(seed, FaultPlan(default=faults)) as network:
        listener = await SimTransportFactory(network, SERVER).open_stream_listener(SERVER, 5060)
        async with trio.open_nursery() as nursery:

            async def serve() -> None:
                while True:
                    stream = await listener.accept()
                    nursery.start_soon(read_all, stream)

            async def read_all(stream: SimStream) -> None:
                host, port = stream.remote_address
                peer = f"{host}:{port}"
                while data := await stream.receive_some():
                    log.append((peer, trio.current_time(), data))

            async def client(n: int) -> None:
                factory = SimTransportFactory(network, f"10.0.1.{n}")
                try:
                    stream = await factory.connect_stream(SERVER_ADDRESS)
                except TransportError:
                    log.append((f"10.0.1.{n}", trio.current_time(), b"refused"))
                    return
                for k in range(20):
                    await stream.send_all(b"client %d message %d\r\n" % (n, k))
                    await trio.sleep(0.0005 * (k % 3))
                await stream.aclose()

            nursery.start_soon(serve)
            async with trio.open_nursery() as clients:
                for n in range(8):
                    clients.start_soon(client, n)
            await trio.sleep(1)
            nursery.cancel_scope.cancel()
    return log


def test_same_seed_same_log_whatever_the_scheduling_and_another_seed_another_log() -> None:
    logs = []
    for order in range(3):
        with shuffled_scheduling(order):
            logs.append(run_under_virtual_time(_many_streams, 9))
    assert logs[0] == logs[1] == logs[2]
    assert any(data == b"refused" for _, _, data in logs[0])
    other = run_under_virtual_time(_many_streams, 10)
    assert other != logs[0]
    # Per connection, the bytes are the ones written, in order, whatever the seed.
    for log in (logs[0], other):
        by_peer: dict[str, bytes] = {}
        for peer, _, data in log:
            if data != b"refused":
                by_peer[peer] = by_peer.get(peer, b"") + data
        for received in by_peer.values():
            n = int(received.split(b" ")[1])
            assert received == b"".join(b"client %d message %d\r\n" % (n, k) for k in range(20))


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "value", "message"),
    [
        ("refuse_pct", 100.5, "refuse_pct must be a percentage in [0, 100]"),
        ("split_pct", -1, "split_pct must be a percentage in [0, 100]"),
        ("coalesce_pct", float("nan"), "coalesce_pct must be a percentage in [0, 100]"),
        ("coalesce_hold_ms", -0.5, "coalesce_hold_ms must be in [0, 3600000] ms"),
        ("coalesce_hold_ms", float("inf"), "coalesce_hold_ms must be a finite number of ms"),
    ],
)
def test_bad_stream_fault_values_raise_config_error(fault: str, value: float, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        LinkFaults(**{fault: value})


def test_split_cuts_cover_every_offset_and_refuse_a_one_byte_chunk() -> None:
    seen = set()
    for n in range(400):
        cuts = split_cuts(n, "identity", 4)
        assert list(cuts) == sorted(set(cuts))
        assert all(1 <= cut < 4 for cut in cuts)
        seen.add(cuts)
    assert seen == {(1,), (2,), (3,), (1, 2), (1, 3), (2, 3)}
    with pytest.raises(ValueError, match="1 byte"):
        split_cuts(1, "identity", 1)
