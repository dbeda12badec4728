"""-t ui on the simulated network: one UDP socket per local IP of the first -inf file.

A client call sends from the socket of its injection row's IP (and says so in [local_ip] and
[local_port]); a server binds every IP of its file on one port and answers each call from the
socket its first message reached ([server_ip]).
"""

from __future__ import annotations

import contextlib
import pathlib
from typing import Any

import pytest
import trio
import trio.testing

from gossipper.errors import BindError, ConfigError
from gossipper.interfaces import Address
from gossipper.scenario import builtin_path
from gossipper.session import open_run
from gossipper.sim import SimNetwork, SimTransportFactory
from gossipper.sim.network import EventKind
from gossipper.sim.transport import SimDatagramTransport
from tests.engine._harness import builtin, make_plan, scenario_text

CLIENT_IPS = ("10.0.1.1", "10.0.1.2", "10.0.1.3")
SERVER_IPS = ("10.0.2.1", "10.0.2.2", "10.0.2.3")
SERVER_PORT = 5060
CALLS_PER_CLIENT = 6


class MultiAddressFactory:
    """A simulated host with several addresses: binds go to the sim host of their address
    (SimTransportFactory binds only its own). Anything else is the first address's."""

    def __init__(self, network: SimNetwork, hosts: tuple[str, ...]) -> None:
        self._hosts = {host: SimTransportFactory(network, host) for host in hosts}
        self._first = self._hosts[hosts[0]]

    async def open_datagram(self, host: str, port: int) -> SimDatagramTransport:
        return await self._hosts.get(host, self._first).open_datagram(host, port)

    async def open_stream_listener(self, host: str, port: int) -> Any:
        return await self._first.open_stream_listener(host, port)

    async def connect_stream(
        self, remote: Address, *, local_host: str | None = None, local_port: int = 0
    ) -> Any:
        return await self._first.connect_stream(
            remote, local_host=local_host, local_port=local_port
        )


def injection_file(tmp_path: pathlib.Path, name: str, rows: list[str]) -> str:
    path = tmp_path / name
    path.write_text("SEQUENTIAL\n" + "".join(row + "\n" for row in rows))
    return str(path)


def server_scenario(tmp_path: pathlib.Path) -> Any:
    """The built-in uas, with the 200 OK naming the IP that answered ([server_ip])."""
    text = builtin_path("uas").read_text()
    text = text.replace(
        "Content-Type: application/sdp",
        "X-Server-IP: [server_ip]\n      Content-Type: application/sdp",
    )
    return scenario_text(tmp_path, "uas_server_ip.xml", text)


def run_ui(tmp_path: pathlib.Path) -> tuple[SimNetwork, list[Any], Any]:
    """A -t ui server on SERVER_IPS; one -t ui client per server IP, each spreading its calls
    over CLIENT_IPS. Returns the network and the results."""
    client_inf = injection_file(
        tmp_path, "clients.csv", [f"{ip};user{n}" for n, ip in enumerate(CLIENT_IPS)]
    )
    server_inf = injection_file(tmp_path, "servers.csv", [f"x;{ip}" for ip in SERVER_IPS])

    async def main() -> tuple[SimNetwork, list[Any], Any]:
        network = SimNetwork(1, record_payloads=True)
        async with trio.open_nursery() as nursery, contextlib.AsyncExitStack() as stack:
            await nursery.start(network.run)
            server_plan = make_plan(
                network,
                server_scenario(tmp_path),
                host=SERVER_IPS[0],
                role="server",
                remote=None,
                pid=200,
                transports=MultiAddressFactory(network, SERVER_IPS),
                transport_mode="ui",
                injection_files=(server_inf,),
                ip_field=1,
                local_port=SERVER_PORT,
            )
            server_run = await stack.enter_async_context(open_run(server_plan))
            server_result: list[Any] = []

            async def run_server() -> None:
                server_result.append(await server_run.run())

            nursery.start_soon(run_server)
            client_results = []
            for number, server_ip in enumerate(SERVER_IPS):
                client_plan = make_plan(
                    network,
                    builtin("uac"),
                    host=CLIENT_IPS[0],
                    role=f"client{number}",
                    remote=(server_ip, SERVER_PORT),
                    pid=100 + number,
                    transports=MultiAddressFactory(network, CLIENT_IPS),
                    transport_mode="ui",
                    injection_files=(client_inf,),
                    max_calls=CALLS_PER_CLIENT,
                    rate=10,
                )
                async with open_run(client_plan) as client_run:
                    client_results.append(await client_run.run())
            await trio.sleep(10)  # the server's timewaits
            server_run.engine.interrupt()
            while not server_result:  # noqa: ASYNC110 - virtual time
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
        return network, client_results, server_result[0]

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_ui_calls_use_the_socket_of_their_row_and_are_answered_from_the_receiving_ip(
    tmp_path: pathlib.Path,
) -> None:
    network, clients, server = run_ui(tmp_path)
    for client in clients:
        assert client.snapshot.cumulative.successful_calls == CALLS_PER_CLIENT
        assert client.snapshot.cumulative.failed_calls == 0
    assert server.snapshot.cumulative.successful_calls == CALLS_PER_CLIENT * len(SERVER_IPS)
    delivered = [e for e in network.events() if e.kind is EventKind.DELIVERED]
    payloads = network.payloads()
    requests = [e for e in delivered if e.src[0] in CLIENT_IPS]
    answers = [e for e in delivered if e.src[0] in SERVER_IPS]
    # Every (client IP, server IP) pair carried traffic: each client spread its calls over
    # its three IPs, each server IP was reached.
    assert {(e.src[0], e.dst[0]) for e in requests} == {
        (client, server) for client in CLIENT_IPS for server in SERVER_IPS
    }
    # Every answer left from the very address (IP and port) its request reached.
    assert {(e.dst, e.src) for e in answers} <= {(e.src, e.dst) for e in requests}
    assert {e.dst[1] for e in requests} == {SERVER_PORT}
    for event in requests:
        text = payloads[event.digest].decode("latin-1")
        if text.startswith("INVITE"):
            # [local_ip]:[local_port] of the call are its socket's.
            assert f"Via: SIP/2.0/UDP {event.src[0]}:{event.src[1]};" in text
    for event in answers:
        text = payloads[event.digest].decode("latin-1")
        if text.startswith("SIP/2.0 200") and "INVITE" in text.split("CSeq:")[1].split("\n")[0]:
            assert f"X-Server-IP: {event.src[0]}\r\n" in text
            assert f"Contact: <sip:{event.src[0]}:{SERVER_PORT};" in text


def test_ui_client_binds_each_ip_on_its_first_free_port(tmp_path: pathlib.Path) -> None:
    inf = injection_file(tmp_path, "users.csv", list(CLIENT_IPS) + [CLIENT_IPS[0]])

    async def main() -> list[Address]:
        network = SimNetwork(1)
        factory = MultiAddressFactory(network, CLIENT_IPS)
        # 5060 is taken on the second IP: that IP alone moves on to 5061.
        taken = await factory.open_datagram(CLIENT_IPS[1], 5060)
        plan = make_plan(
            network,
            builtin("uac"),
            host=CLIENT_IPS[0],
            role="client",
            remote=("10.0.2.1", 5060),
            pid=1,
            transports=factory,
            transport_mode="ui",
            injection_files=(inf,),
        )
        async with open_run(plan) as run:
            per_ip = run.engine._per_ip
            assert per_ip is not None
            bound = [transport.local_address for transport in per_ip.transports]
            per_ip.close()
        taken.close()
        return bound

    bound = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert bound == [(CLIENT_IPS[0], 5060), (CLIENT_IPS[1], 5061), (CLIENT_IPS[2], 5060)]


def test_ui_server_binds_every_ip_on_one_port(tmp_path: pathlib.Path) -> None:
    inf = injection_file(tmp_path, "users.csv", list(SERVER_IPS))

    async def main() -> list[Address]:
        network = SimNetwork(1)
        factory = MultiAddressFactory(network, SERVER_IPS)
        # 5060 is taken on the last IP: every IP moves on to 5061 together.
        taken = await factory.open_datagram(SERVER_IPS[2], 5060)
        plan = make_plan(
            network,
            builtin("uas"),
            host=SERVER_IPS[0],
            role="server",
            remote=None,
            pid=1,
            transports=factory,
            transport_mode="ui",
            injection_files=(inf,),
        )
        async with open_run(plan) as run:
            per_ip = run.engine._per_ip
            assert per_ip is not None
            bound = [transport.local_address for transport in per_ip.transports]
            per_ip.close()
        taken.close()
        return bound

    bound = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert bound == [(ip, 5061) for ip in SERVER_IPS]


def open_error(tmp_path: pathlib.Path, rows: list[str], **options: Any) -> str:
    inf = injection_file(tmp_path, "users.csv", rows)

    async def main() -> None:
        network = SimNetwork(1)
        plan = make_plan(
            network,
            builtin("uac"),
            host=CLIENT_IPS[0],
            role="client",
            remote=("10.0.2.1", 5060),
            pid=1,
            transports=MultiAddressFactory(network, CLIENT_IPS),
            transport_mode="ui",
            injection_files=(inf,),
            **options,
        )
        async with open_run(plan):
            raise AssertionError("the run opened")

    with pytest.raises((ConfigError, BindError)) as info:
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return str(info.value)


def test_ui_needs_an_injection_file() -> None:
    with pytest.raises(ConfigError) as info:
        make_plan(
            SimNetwork(1), builtin("uac"), host="10.0.1.1", role="c", remote=None, pid=1,
            transport_mode="ui",
        )  # fmt: skip
    assert str(info.value) == (
        "-t ui needs an injection file (-inf FILE) whose field -ip_field N holds the local IPs"
    )


def test_ui_row_without_the_ip_field_names_file_line_and_field(tmp_path: pathlib.Path) -> None:
    message = open_error(tmp_path, ["# callers", "alice;10.0.1.1", "bob"], ip_field=1)
    assert message == (
        f"{tmp_path / 'users.csv'} line 4: no field 1 (-ip_field 1); -t ui needs the local IP"
        " of every row there"
    )


def test_ui_bind_failure_names_ip_port_and_row(tmp_path: pathlib.Path) -> None:
    message = open_error(
        tmp_path, ["10.0.1.1", "10.0.1.2", "10.9.9.9", "10.9.9.9"], local_port=5070
    )
    assert message == (
        f"cannot bind UDP 10.9.9.9:5070 ({tmp_path / 'users.csv'} line 4, field 0):"
        " address not available on sim host 10.0.1.1"
    )
