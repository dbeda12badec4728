"""SIP over WebSocket (RFC 7118): ``WebSocketLayer`` over plain TCP, over the simulation's
streams, and over a TLS-like inner layer (WSS)."""

from __future__ import annotations

import contextlib
import gc
import ssl
from collections.abc import AsyncIterator

import pytest
import trio
import trio_websocket

from gossipper.errors import TransportError
from gossipper.interfaces import (
    Address,
    ChannelLayer,
    MessageChannel,
    TransportFactory,
)
from gossipper.sim import FaultPlan, SimTransportFactory, open_sim_network, run_under_virtual_time
from gossipper.transport import PlainLayer, UdpTransportFactory
from gossipper.transport.tcp import connect_tcp, open_tcp_listener
from gossipper.transport.websocket import WebSocketChannel, WebSocketLayer
from tests.transport._backends import _NO_IPV6, REAL_DEADLINE_S, Backend, Hosts

INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK56sdasks\r\n"
    b"Content-Length: 0\r\n\r\n"
)
TRYING = b"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n"
PROMPT_S = 2.0
"""A broken or closed connection must show on the peer's receive within this."""


def _big_message(size_bytes: int, fill: bytes) -> bytes:
    head = b"MESSAGE sip:bob@example.com SIP/2.0\r\nContent-Length: %d\r\n\r\n"
    body_bytes = size_bytes - len(head % 0) - 8
    return head % body_bytes + fill * body_bytes


@contextlib.asynccontextmanager
async def _connected(
    hosts: Hosts,
    server_layer: ChannelLayer,
    client_layer: ChannelLayer | None = None,
    *,
    server_name: str | None = None,
) -> AsyncIterator[tuple[MessageChannel, MessageChannel]]:
    """A (client, server) channel pair over one fresh connection between the two hosts."""
    listener = await hosts.server.open_stream_listener(hosts.server_host, 0)
    servers: list[MessageChannel] = []
    ready = trio.Event()
    done = trio.Event()

    async def serve() -> None:
        connection = await listener.accept()
        async with server_layer.server(connection) as channel:
            servers.append(channel)
            ready.set()
            await done.wait()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        connection = await hosts.client.connect_stream(listener.local_address)
        async with (client_layer or server_layer).client(
            connection, server_name=server_name
        ) as client:
            await ready.wait()
            yield client, servers[0]
            done.set()
    await listener.aclose()


async def _receive_all(channel: MessageChannel, count: int) -> list[bytes]:
    return [await channel.receive() for _ in range(count)]


def test_messages_flow_both_ways_one_per_websocket_message(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        async with _connected(hosts, WebSocketLayer(PlainLayer())) as (client, server):
            assert client.message_oriented and server.message_oriented
            await client.send(INVITE)
            await client.send(INVITE + b"x")
            assert await _receive_all(server, 2) == [INVITE, INVITE + b"x"]
            await server.send(TRYING)
            await server.send(TRYING)
            assert await _receive_all(client, 2) == [TRYING, TRYING]

    streams.run(body)


def test_hundred_kilobyte_messages_are_neither_split_nor_coalesced(streams: Backend) -> None:
    text = _big_message(100_000, b"a")
    binary = _big_message(100_000, b"\xff")  # not UTF-8: goes as a binary frame

    async def body(hosts: Hosts) -> None:
        async with _connected(hosts, WebSocketLayer(PlainLayer())) as (client, server):
            received: list[bytes] = []
            async with trio.open_nursery() as nursery:

                async def reader() -> None:
                    received.extend(await _receive_all(server, 3))

                nursery.start_soon(reader)
                for message in (text, binary, text):
                    await client.send(message)
            assert received == [text, binary, text]

    streams.run(body)


def test_subprotocol_is_sip_on_both_ends_and_addresses_are_the_connections(
    streams: Backend,
) -> None:
    async def body(hosts: Hosts) -> None:
        layer = WebSocketLayer(PlainLayer())
        assert layer.transport_name == "WS"
        async with _connected(hosts, layer) as (client, server):
            assert isinstance(client, WebSocketChannel)
            assert isinstance(server, WebSocketChannel)
            assert client.subprotocol == server.subprotocol == "sip"
            assert client.path == server.path == "/"
            assert client.transport_name == server.transport_name == "WS"
            assert client.remote_address == server.local_address
            assert server.remote_address == client.local_address

    streams.run(body)


def test_closing_gracefully_gives_the_peer_the_messages_then_eof(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        async with _connected(hosts, WebSocketLayer(PlainLayer())) as (client, server):
            await server.send(TRYING)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(server.aclose)
                with trio.fail_after(PROMPT_S):
                    assert await client.receive() == TRYING
                    assert await client.receive() == b""
                    assert await client.receive() == b""  # for good
            await server.aclose()  # idempotent
            with pytest.raises(trio.ClosedResourceError):
                await server.receive()
            with pytest.raises(trio.ClosedResourceError):
                await server.send(INVITE)
            with pytest.raises(TransportError):
                await client.send(INVITE)

    streams.run(body)


def test_a_peer_resetting_the_connection_ends_the_receive_promptly(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        async with _connected(hosts, WebSocketLayer(PlainLayer())) as (client, server):
            await client.send(INVITE)
            assert await server.receive() == INVITE
            outcome: list[bytes | TransportError] = []
            async with trio.open_nursery() as nursery:

                async def waiting_receive() -> None:
                    with trio.fail_after(PROMPT_S):
                        try:
                            outcome.append(await client.receive())
                        except TransportError as exc:
                            outcome.append(exc)

                nursery.start_soon(waiting_receive)
                await trio.sleep(0.05)  # the receive is pending when the reset arrives
                server.reset()
            assert outcome == [b""] or isinstance(outcome[0], TransportError)
            with pytest.raises(trio.ClosedResourceError):
                await server.receive()

    streams.run(body)


def test_the_request_path_is_honoured(streams: Backend) -> None:
    async def body(hosts: Hosts) -> None:
        served = WebSocketLayer(PlainLayer(), path="/sip")
        async with _connected(hosts, served) as (client, server):
            assert isinstance(server, WebSocketChannel)
            assert server.path == "/sip"
            await client.send(INVITE)
            assert await server.receive() == INVITE

        listener = await hosts.server.open_stream_listener(hosts.server_host, 0)
        server_errors: list[TransportError] = []

        async def serve() -> None:
            connection = await listener.accept()
            with pytest.raises(TransportError, match="404") as caught:
                async with served.server(connection):
                    pytest.fail("a wrong path was accepted")
            server_errors.append(caught.value)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            connection = await hosts.client.connect_stream(listener.local_address)
            with pytest.raises(TransportError, match="404") as caught:
                async with WebSocketLayer(PlainLayer()).client(connection, server_name=None):
                    pytest.fail("the client got through a rejected handshake")
            assert "'/'" in str(caught.value)
            with pytest.raises(trio.ClosedResourceError):
                await connection.send_all(b"late")  # the connection was released
        assert len(server_errors) == 1
        await listener.aclose()

    streams.run(body)


# trio_websocket's client does not close its TCP stream when the server rejects the handshake
# (ConnectionRejected); the socket is freed by the collector. Collected below, inside this test,
# and only that socket's warning ignored, so it cannot fail a later test or hide another leak.
@pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <socket.socket fd=\d+, family=\d+, type=1"
    r":pytest.PytestUnraisableExceptionWarning"
)
def test_a_client_that_does_not_propose_sip_is_refused_with_400() -> None:
    async def main() -> None:
        listener = await open_tcp_listener("127.0.0.1", 0)
        host, port = listener.local_address
        server_errors: list[TransportError] = []

        async def serve() -> None:
            connection = await listener.accept()
            try:
                async with WebSocketLayer(PlainLayer()).server(connection):
                    pytest.fail("a client without subprotocol 'sip' was accepted")
            except TransportError as exc:
                server_errors.append(exc)

        with trio.fail_after(REAL_DEADLINE_S):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(serve)
                with pytest.raises(trio_websocket.ConnectionRejected) as caught:
                    async with trio_websocket.open_websocket(host, port, "/", use_ssl=False):
                        pytest.fail("the raw client got through")
                assert caught.value.status_code == 400
        assert len(server_errors) == 1
        assert "'sip'" in str(server_errors[0])
        await listener.aclose()

    trio.run(main)
    gc.collect()


def test_a_server_that_does_not_select_sip_is_refused() -> None:
    async def main() -> None:
        async def handler(request: trio_websocket.WebSocketRequest) -> None:
            websocket = await request.accept()  # no subprotocol
            with contextlib.suppress(trio_websocket.ConnectionClosed):
                await websocket.get_message()

        with trio.fail_after(REAL_DEADLINE_S):
            async with trio.open_nursery() as nursery:
                server = await nursery.start(
                    trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None
                )
                address: Address = ("127.0.0.1", server.port)
                connection = await connect_tcp(address)
                with pytest.raises(TransportError, match=r"did not accept subprotocol 'sip'"):
                    async with WebSocketLayer(PlainLayer()).client(connection, server_name=None):
                        pytest.fail("a server without 'sip' was accepted")
                nursery.cancel_scope.cancel()

    trio.run(main)


@pytest.mark.parametrize(
    ("host", "host_header"),
    [
        pytest.param("127.0.0.1", b"127.0.0.1", id="ipv4"),
        pytest.param("::1", b"[::1]", id="ipv6", marks=_NO_IPV6),
    ],
)
def test_the_host_header_is_the_server_name_or_the_remote_address(
    host: str, host_header: bytes
) -> None:
    async def main() -> None:
        listener = await open_tcp_listener(host, 0)
        port = listener.local_address[1]
        hosts_seen: list[bytes] = []

        async def serve_twice() -> None:
            # A bare HTTP server: it notes the request's Host header and refuses the upgrade.
            for _ in range(2):
                connection = await listener.accept()
                request = b""
                while b"\r\n\r\n" not in request:
                    request += await connection.receive_some(4096)
                for line in request.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"host":
                        hosts_seen.append(value.strip())
                await connection.send_all(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno\n"
                )
                await connection.aclose()

        with trio.fail_after(REAL_DEADLINE_S):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(serve_twice)
                for server_name in ("sip.example.com", None):
                    connection = await connect_tcp((host, port))
                    with pytest.raises(TransportError, match="403"):
                        async with WebSocketLayer(PlainLayer()).client(
                            connection, server_name=server_name
                        ):
                            pass
        assert hosts_seen == [b"sip.example.com:%d" % port, b"%s:%d" % (host_header, port)]
        await listener.aclose()

    trio.run(main)


def test_a_silent_peer_fails_the_handshake_instead_of_hanging() -> None:
    async def main() -> None:
        async with open_sim_network(3, FaultPlan.uniform(delay_ms=1)) as network:
            listener = await SimTransportFactory(network, "10.0.0.2").open_stream_listener(
                "10.0.0.2", 0
            )
            connection = await SimTransportFactory(network, "10.0.0.1").connect_stream(
                listener.local_address
            )
            accepted = await listener.accept()
            with pytest.raises(TransportError, match="no answer"):
                async with WebSocketLayer(PlainLayer()).server(accepted):
                    pytest.fail("a silent client completed the handshake")
            assert trio.current_time() < 30.0
            await connection.aclose()

    run_under_virtual_time(main)


def test_a_peer_closing_during_the_handshake_fails_it_promptly() -> None:
    async def main() -> None:
        listener = await open_tcp_listener("127.0.0.1", 0)
        connection = await connect_tcp(listener.local_address)
        accepted = await listener.accept()
        await connection.aclose()
        with trio.fail_after(PROMPT_S), pytest.raises(TransportError, match="closed"):
            async with WebSocketLayer(PlainLayer()).server(accepted):
                pytest.fail("a closed connection completed the handshake")
        await listener.aclose()

    trio.run(main)


def test_the_inner_layer_must_be_a_byte_stream() -> None:
    class UdpLike:
        transport_name = "UDP"

    with pytest.raises(ValueError, match="UDP"):
        WebSocketLayer(UdpLike())  # type: ignore[arg-type]


def test_an_exception_in_the_block_comes_out_unwrapped() -> None:
    async def main() -> None:
        listener = await open_tcp_listener("127.0.0.1", 0)
        layer = WebSocketLayer(PlainLayer())

        async def serve() -> None:
            connection = await listener.accept()
            async with layer.server(connection) as channel:
                assert await channel.receive() == INVITE
                assert await channel.receive() == b""

        with trio.fail_after(REAL_DEADLINE_S):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(serve)
                connection = await connect_tcp(listener.local_address)
                # Not an exception group: the layer's reader nursery does not wrap it.
                with pytest.raises(KeyError, match="from the block"):
                    async with layer.client(connection, server_name=None) as client:
                        await client.send(INVITE)
                        raise KeyError("from the block")
        await listener.aclose()

    trio.run(main)


# --- Simulation: virtual time, deterministic ------------------------------------------------


def _sim_exchange(seed: int) -> list[tuple[float, str, bytes]]:
    """Both directions over the simulated network; every receive with its virtual time."""

    async def main() -> list[tuple[float, str, bytes]]:
        plan = FaultPlan.uniform(delay_ms=3, jitter_ms=10)
        log: list[tuple[float, str, bytes]] = []
        async with open_sim_network(seed, plan) as network:
            hosts = Hosts(
                SimTransportFactory(network, "10.0.0.2"),
                "10.0.0.2",
                SimTransportFactory(network, "10.0.0.1"),
                "10.0.0.1",
            )
            layer = WebSocketLayer(PlainLayer(), path="/ws")
            async with _connected(hosts, layer) as (client, server):
                log.append((trio.current_time(), "connected", b""))
                for n in range(5):
                    await client.send(INVITE + b"%d" % n)
                    message = await server.receive()
                    log.append((trio.current_time(), "server", message))
                    await server.send(TRYING + b"%d" % n)
                    response = await client.receive()
                    log.append((trio.current_time(), "client", response))
                    await trio.sleep(0.001)
                await client.aclose()
                end = await server.receive()
                log.append((trio.current_time(), "eof", end))
        return log

    return run_under_virtual_time(main)


def test_over_the_simulation_messages_flow_with_identical_times_in_two_runs() -> None:
    first = _sim_exchange(11)
    second = _sim_exchange(11)
    assert first == second
    assert [entry[2] for entry in first if entry[1] == "server"] == [
        INVITE + b"%d" % n for n in range(5)
    ]
    assert first[-1][1:] == ("eof", b"")
    # The TCP and WebSocket handshakes crossed the network: time passed.
    assert first[0][0] > 0.0
    times = [entry[0] for entry in first]
    assert all(earlier < later for earlier, later in zip(times, times[1:], strict=False))


# --- WSS: WebSocket over a TLS inner layer --------------------------------------------------


def _loopback_hosts() -> Hosts:
    factory: TransportFactory = UdpTransportFactory()
    return Hosts(factory, "127.0.0.1", factory, "127.0.0.1")


def test_wss_runs_websocket_over_a_tls_inner_layer() -> None:
    import trustme

    from gossipper.transport.tls import TlsLayer

    authority = trustme.CA()
    certificate = authority.issue_cert("sip.example.com")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)

    server_layer = WebSocketLayer(TlsLayer(client_context, server_context))
    client_layer = WebSocketLayer(TlsLayer(client_context, None))
    assert server_layer.transport_name == client_layer.transport_name == "WSS"

    async def main() -> None:
        with trio.fail_after(REAL_DEADLINE_S):
            async with _connected(
                _loopback_hosts(), server_layer, client_layer, server_name="sip.example.com"
            ) as (client, server):
                assert client.transport_name == server.transport_name == "WSS"
                assert isinstance(client, WebSocketChannel)
                assert client.subprotocol == "sip"
                await client.send(INVITE)
                assert await server.receive() == INVITE
                await server.send(TRYING)
                assert await client.receive() == TRYING
                await client.aclose()
                with trio.fail_after(PROMPT_S):
                    assert await server.receive() == b""

    trio.run(main)


def test_importing_the_transport_package_does_not_load_trio_websocket() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, gossipper.transport, gossipper.session; "
        "print('trio_websocket' in sys.modules, 'gossipper.transport.websocket' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
