"""The engine over stream connections (-t t1/tn), on the simulated network under virtual time.

What SIPp users rely on: one shared connection demultiplexed by Call-ID (t1), one connection
per call closed at its end (tn), answers on the connection a request came in on, no
retransmissions on a reliable transport, connection loss failing exactly the calls that used the
connection (FailedTcpClosed), refused connections (FailedTcpConnect), -max_socket and
-max_reconnect, framing of coalesced and split messages, and RFC 5626 keep-alives.
"""

from __future__ import annotations

import pathlib
from typing import Any

import trio
import trio.testing

from gossipper.engine.connections import StreamEndpoints
from gossipper.errors import ExitStatus, TransportError
from gossipper.scenario import builtin_path
from gossipper.sim import SimNetwork, SimTransportFactory
from gossipper.stats import FailureReason
from gossipper.transport.channels import PlainLayer
from tests.engine._harness import SERVER, SERVER_PORT, builtin, run_pair, scenario_text

INVITE = (
    "INVITE sip:service@10.0.0.2:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 10.0.0.9:7000;branch=z9hG4bK-{n}\r\n"
    "From: a <sip:a@10.0.0.9>;tag={n}\r\n"
    "To: b <sip:b@10.0.0.2>\r\n"
    "Call-ID: raw-{n}@10.0.0.9\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:a@10.0.0.9:7000;transport=tcp>\r\n"
    "Content-Length: 0\r\n\r\n"
)


def cumulative(result: Any) -> Any:
    return result.snapshot.cumulative


def test_t1_shares_one_connection_and_demultiplexes_by_call_id() -> None:
    seen_links: list[int] = []

    async def watch(network: SimNetwork, client: Any, server: Any) -> None:
        await trio.sleep(2.0)
        seen_links.append(client.statistics().open_call_sockets)
        seen_links.append(server.statistics().open_call_sockets)

    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={"max_calls": 100, "rate": 50, "transport_mode": "t1"},
        server_options={"transport_mode": "t1"},
        during=watch,
    )
    client = cumulative(result.client)
    assert result.client.exit_status is ExitStatus.SUCCESS
    assert (client.outgoing_calls, client.successful_calls, client.failed_calls) == (100, 100, 0)
    assert result.server is not None
    server = cumulative(result.server)
    assert (server.incoming_calls, server.successful_calls, server.failed_calls) == (100, 100, 0)
    # One connection on each side for all calls while they ran.
    assert seen_links == [1, 1]
    stats = result.client_engine.statistics()
    assert stats.transport_name == "TCP"
    assert result.client_engine.env.transport == "TCP"
    # The INVITE has retrans="500" in the uac scenario: never used on a reliable transport.
    assert client.retransmissions == 0


def test_tn_opens_one_connection_per_call_and_closes_it_at_the_end() -> None:
    peak: list[int] = []

    async def watch(network: SimNetwork, client: Any, server: Any) -> None:
        for _ in range(40):
            await trio.sleep(0.1)
            peak.append(client.statistics().open_call_sockets)

    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={
            "max_calls": 50,
            "rate": 100,
            "transport_mode": "tn",
            "pause_default_s": 1.0,
        },
        server_options={"transport_mode": "tn"},
        during=watch,
    )
    assert cumulative(result.client).successful_calls == 50
    assert result.server is not None
    # The uas ends its calls in <timewait>: the client's close does not fail them.
    assert cumulative(result.server).successful_calls == 50
    assert cumulative(result.server).failed_calls == 0
    assert max(peak) > 1
    assert result.client_engine.statistics().open_call_sockets == 0


def test_max_socket_caps_tn_connections_and_shares_them() -> None:
    peak: list[int] = []

    async def watch(network: SimNetwork, client: Any, server: Any) -> None:
        for _ in range(60):
            await trio.sleep(0.05)
            peak.append(client.statistics().open_call_sockets)

    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={
            "max_calls": 40,
            "rate": 200,
            "transport_mode": "tn",
            "max_socket": 3,
            "pause_default_s": 1.0,
        },
        server_options={"transport_mode": "tn"},
        during=watch,
    )
    assert cumulative(result.client).successful_calls == 40
    assert max(peak) == 3


def test_no_listener_fails_tn_calls_as_tcp_connect() -> None:
    result = run_pair(
        builtin("uac"),
        None,
        client_options={"max_calls": 3, "rate": 10, "transport_mode": "tn"},
    )
    client = cumulative(result.client)
    assert client.failed_calls == 3
    assert client.failure(FailureReason.TCP_CONNECT) == 3
    assert result.client.exit_status is ExitStatus.CALLS_FAILED


def test_no_listener_is_fatal_for_t1_unless_reconnects_are_allowed() -> None:
    result = run_pair(builtin("uac"), None, client_options={"max_calls": 3, "transport_mode": "t1"})
    assert result.client.exit_status is ExitStatus.FATAL
    assert "10.0.0.2:5060" in (result.client.fatal_message or "")
    assert cumulative(result.client).outgoing_calls == 0


def test_no_retransmission_on_tcp_but_timeouts_apply() -> None:
    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={
            "max_calls": 2,
            "rate": 10,
            "transport_mode": "t1",
            "recv_timeout_s": 3.0,
        },
        server_options={"transport_mode": "t1", "lost_pct": 100.0},
    )
    client = cumulative(result.client)
    assert client.retransmissions == 0
    assert client.failure(FailureReason.TIMEOUT_ON_RECV) == 2


def _reset_server_links_at(seconds: float) -> Any:
    async def reset(network: SimNetwork, client: Any, server: Any) -> None:
        await trio.sleep(seconds)
        for link in list(server._streams.links):
            assert link.channel is not None
            link.channel.reset()

    return reset


def test_connection_reset_fails_exactly_the_calls_on_it() -> None:
    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={
            "max_calls": 30,
            "rate": 10,
            "transport_mode": "t1",
            "pause_default_s": 1.0,
        },
        server_options={"transport_mode": "t1"},
        during=_reset_server_links_at(1.55),
    )
    client = cumulative(result.client)
    # Calls were open on the connection when it broke; they fail as FailedTcpClosed, and with
    # -max_reconnect 0 the run ends (fatal), as SIPp does.
    assert client.failure(FailureReason.TCP_CLOSED) >= 1
    assert client.failed_calls == client.failure(FailureReason.TCP_CLOSED)
    assert result.client.exit_status is ExitStatus.FATAL
    assert "max_reconnect" in (result.client.fatal_message or "")


def test_reconnect_after_a_reset_keeps_the_run_going() -> None:
    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={
            "max_calls": 30,
            "rate": 10,
            "transport_mode": "t1",
            "pause_default_s": 1.0,
            "max_reconnect": 2,
            "reconnect_sleep_s": 0.2,
        },
        server_options={"transport_mode": "t1"},
        during=_reset_server_links_at(1.55),
    )
    client = cumulative(result.client)
    lost = client.failure(FailureReason.TCP_CLOSED)
    assert lost >= 1
    # Calls started while reconnecting fail to send; every other call succeeds.
    assert client.successful_calls + client.failed_calls == 30
    assert client.successful_calls >= 30 - lost - 3
    assert result.client.exit_status is ExitStatus.CALLS_FAILED


def _raw_client_against_uas(send: Any) -> tuple[Any, list[bytes]]:
    """Run a uas (t1) and a raw stream client that calls ``send(stream)``."""
    from tests.engine._harness import make_plan

    received: list[bytes] = []

    async def main() -> Any:
        from gossipper.session import open_run

        network = SimNetwork(1)
        async with trio.open_nursery() as nursery:
            await nursery.start(network.run)
            plan = make_plan(
                network,
                builtin("uas"),
                host=SERVER,
                role="server",
                remote=None,
                pid=200,
                local_port=SERVER_PORT,
                transport_mode="t1",
            )
            async with open_run(plan) as run:
                nursery.start_soon(run.run)
                factory = SimTransportFactory(network, "10.0.0.9")
                stream = await factory.connect_stream((SERVER, SERVER_PORT), local_port=7000)
                await send(stream)
                with trio.move_on_after(2.0):
                    while True:
                        try:
                            data = await stream.receive_some(65536)
                        except TransportError:
                            received.append(b"<reset>")
                            break
                        if not data:
                            received.append(b"<eof>")
                            break
                        received.append(data)
                stats = run.engine.statistics()
                run.engine.interrupt()
            nursery.cancel_scope.cancel()
        return stats

    stats = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return stats, received


def test_coalesced_and_split_messages_are_framed() -> None:
    async def send(stream: Any) -> None:
        # Two INVITEs in one segment, then a third one byte at a time.
        await stream.send_all((INVITE.format(n=1) + INVITE.format(n=2)).encode())
        for byte in INVITE.format(n=3).encode():
            await stream.send_all(bytes([byte]))

    stats, received = _raw_client_against_uas(send)
    assert stats.snapshot.cumulative.incoming_calls == 3
    joined = b"".join(received)
    # 180 and 200 for each, on the connection the requests came in on.
    assert joined.count(b"SIP/2.0 180 Ringing") == 3
    assert joined.count(b"SIP/2.0 200 OK") == 3
    assert stats.malformed_messages == 0


def test_double_crlf_ping_is_answered_with_crlf() -> None:
    async def send(stream: Any) -> None:
        await stream.send_all(b"\r\n\r\n")

    stats, received = _raw_client_against_uas(send)
    assert received[0] == b"\r\n"
    assert stats.malformed_messages == 0


def test_oversized_message_is_counted_and_closes_the_connection() -> None:
    async def send(stream: Any) -> None:
        head = INVITE.format(n=1).replace("Content-Length: 0", "Content-Length: 900000")
        await stream.send_all(head.encode())

    stats, received = _raw_client_against_uas(send)
    assert stats.malformed_messages == 1
    assert received and received[-1] in (b"<reset>", b"<eof>")
    assert stats.snapshot.cumulative.incoming_calls == 0


def test_missing_content_length_is_taken_as_zero_and_warned() -> None:
    async def send(stream: Any) -> None:
        await stream.send_all(INVITE.format(n=1).replace("Content-Length: 0\r\n", "").encode())

    stats, received = _raw_client_against_uas(send)
    assert stats.snapshot.cumulative.incoming_calls == 1
    assert b"SIP/2.0 200 OK" in b"".join(received)
    assert stats.snapshot.cumulative.warnings >= 1
    assert stats.malformed_messages == 0


def test_too_short_content_length_is_counted_and_the_stream_goes_on() -> None:
    async def send(stream: Any) -> None:
        # A body longer than the Content-Length says: the rest is garbage before the next
        # message; it is counted as malformed and the next INVITE still makes a call.
        first = INVITE.format(n=1).replace("Content-Length: 0", "Content-Length: 4")
        await stream.send_all(first.encode() + b"v=0\r\no=garbage here\r\n\r\n")
        await stream.send_all(INVITE.format(n=2).encode())

    stats, received = _raw_client_against_uas(send)
    assert stats.malformed_messages == 1
    assert stats.snapshot.cumulative.incoming_calls == 2
    assert b"".join(received).count(b"SIP/2.0 200 OK") == 2


def test_reconnect_close_false_keeps_the_client_calls() -> None:
    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={
            "max_calls": 30,
            "rate": 10,
            "transport_mode": "t1",
            "pause_default_s": 1.0,
            "max_reconnect": 2,
            "reconnect_sleep_s": 0.2,
            "reconnect_close": False,
            "recv_timeout_s": 3.0,
        },
        server_options={"transport_mode": "t1"},
        during=_reset_server_links_at(1.55),
    )
    client = cumulative(result.client)
    # The client does not fail its calls for the lost connection; they go on over the new one
    # (the server, as SIPp's, failed its side of them: they end on the client by timeout).
    assert client.failure(FailureReason.TCP_CLOSED) == 0
    assert client.successful_calls + client.failed_calls == 30
    assert client.successful_calls >= 20


def test_last_message_queued_as_the_run_ends_is_still_sent(tmp_path: pathlib.Path) -> None:
    """A uas whose scenario ends with its 200 to the BYE (no <timewait>) reaches its call limit
    the moment it queues that 200: the run's end must send it, not drop it with the connection.

    Found behind Kamailio (tests/interop/test_kamailio_gossipper.py): the caller's last BYE
    stayed unanswered and its run timed out.
    """
    text = builtin_path("uas").read_text()
    no_timewait = scenario_text(
        tmp_path,
        "uas_no_timewait.xml",
        "".join(line for line in text.splitlines(True) if "<timewait" not in line),
    )
    calls = 5
    result = run_pair(
        builtin("uac"),
        no_timewait,
        client_options={
            "max_calls": calls,
            "rate": 10,
            "transport_mode": "t1",
            "timeout_s": 30.0,
        },
        server_options={"transport_mode": "t1", "max_calls": calls},
    )
    client = cumulative(result.client)
    assert (client.successful_calls, client.failed_calls) == (calls, 0)
    assert result.client.exit_status is ExitStatus.SUCCESS
    assert not result.client.timed_out
    assert result.server is not None
    assert cumulative(result.server).successful_calls == calls


def test_closing_the_endpoints_sends_what_the_links_have_queued() -> None:
    """StreamEndpoints.close (the run's end) first hands every queued message to its connection.

    Deterministic form of the test above: the message is queued and the endpoints are closed
    with no checkpoint in between, so the link's writer has not run yet.
    """

    async def main() -> bytes:
        network = SimNetwork(1)
        async with trio.open_nursery() as nursery:
            await nursery.start(network.run)
            listener = await SimTransportFactory(network, SERVER).open_stream_listener(
                SERVER, SERVER_PORT
            )
            endpoints = StreamEndpoints(
                transports=SimTransportFactory(network, "10.0.0.9"),
                layer=PlainLayer(),
                server_name=None,
                on_message=lambda data, flow: None,
                on_lost=lambda link, reason: None,
                warning=lambda message: None,
                malformed=lambda: None,
            )
            async with trio.open_nursery() as links:
                endpoints.start(links)
                link = await endpoints.connect((SERVER, SERVER_PORT), local_host=None, local_port=0)
                accepted = await listener.accept()
                assert link.queue(b"SIP/2.0 200 OK\r\n\r\n")
                await endpoints.close()
            received = b""
            with trio.move_on_after(2.0):
                while chunk := await accepted.receive_some(65536):
                    received += chunk
            nursery.cancel_scope.cancel()
        return received

    assert trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0)) == (
        b"SIP/2.0 200 OK\r\n\r\n"
    )
