"""The server side of -workers: every message of a Call-ID reaches one worker, replies leave
from the shared SIP port."""

from __future__ import annotations

import socket

import trio

from gossipper.transport.handoff import (
    HandoffCounts,
    HandoffUdpTransport,
    call_id_of,
    dispatch,
    open_handoff_pairs,
    pack,
    steer,
    unpack,
)


def _message(call_id_header: str, body: str = "") -> bytes:
    return (
        "INVITE sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061\r\n"
        f"{call_id_header}\r\nCSeq: 1 INVITE\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def test_call_id_long_compact_and_any_case() -> None:
    assert call_id_of(_message("Call-ID: abc@h")) == b"abc@h"
    assert call_id_of(_message("i:  abc@h ")) == b"abc@h"
    assert call_id_of(_message("call-id:abc@h")) == b"abc@h"
    # A Call-ID line in the body is not the header.
    assert call_id_of(_message("X-Other: 1", "\nCall-ID: body@h")) is None


def test_every_message_of_a_call_goes_to_the_same_worker() -> None:
    owners = {steer(_message(f"Call-ID: {n}@h"), 4) for n in range(200)}
    assert owners == {0, 1, 2, 3}
    for n in range(50):
        assert steer(_message(f"Call-ID: {n}@h"), 4) == steer(_message(f"i: {n}@h"), 4)
    assert steer(b"garbage", 4) == 0


def test_pack_round_trips_addresses() -> None:
    assert unpack(pack(b"data", ("127.0.0.1", 5060))) == (b"data", ("127.0.0.1", 5060))
    assert unpack(pack(b"", ("::1", 1))) == (b"", ("::1", 1))


def test_dispatch_hands_off_and_replies_leave_from_the_shared_port() -> None:
    trio.run(_dispatch_round_trip)


async def _dispatch_round_trip() -> None:
    shared = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    shared.bind(("127.0.0.1", 0))
    port = shared.getsockname()[1]
    pairs = open_handoff_pairs(2, 1 << 20)
    counts = HandoffCounts(2)
    workers = [
        HandoffUdpTransport(socket.socket(fileno=socket.dup(shared.fileno())), child)
        for _, child in pairs
    ]
    client = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await client.bind(("127.0.0.1", 0))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(dispatch, shared, [parent for parent, _ in pairs], counts)
        sent = {n: _message(f"Call-ID: call-{n}@h") for n in range(20)}
        for data in sent.values():
            await client.sendto(data, ("127.0.0.1", port))
        received: list[list[bytes]] = [[], []]
        with trio.fail_after(5):
            while sum(map(len, received)) < len(sent):
                for index, worker in enumerate(workers):
                    for data, source in worker.receive_nowait():
                        assert source == client.getsockname()
                        received[index].append(data)
                await trio.sleep(0.01)
        for index in (0, 1):
            assert received[index]
            assert all(steer(data, 2) == index for data in received[index])
        assert counts.handed_off == [len(received[0]), len(received[1])]
        await workers[1].send(b"reply", client.getsockname())
        with trio.fail_after(5):
            data, source = await client.recvfrom(100)
        assert (data, source) == (b"reply", ("127.0.0.1", port))
        nursery.cancel_scope.cancel()
    for worker in workers:
        worker.close()
    for parent, _ in pairs:
        parent.close()
    client.close()
    shared.close()
