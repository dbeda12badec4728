"""The UDP transport's C accelerator (gossipper/transport/_udpfast.c) against the socket methods
it stands in for, on real loopback sockets.

The accelerator is built here from its source, so both test sessions check it; the reference is
what ``socket.recvfrom`` and ``socket.sendto`` do with the same datagrams and addresses.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import sys
import types
from collections.abc import Iterator

import pytest

import gossipper.engine.call
import gossipper.transport.udp as udp_module
from tests.c_extension import build_c_extension, c_source

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="recvmmsg(2) is Linux's"
)

SOURCE = c_source(udp_module.__file__, "_udpfast.c")
COMPILED_BUILD = gossipper.engine.call.__file__.endswith(".so")


@pytest.fixture(scope="module")
def udpfast(tmp_path_factory: pytest.TempPathFactory) -> types.ModuleType:
    """The accelerator built from its source now (a failure in CI, a skip without a compiler)."""
    return build_c_extension(SOURCE, tmp_path_factory)


@contextlib.contextmanager
def _sockets(count: int, host: str = "127.0.0.1") -> Iterator[list[socket.socket]]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    made = [socket.socket(family, socket.SOCK_DGRAM) for _ in range(count)]
    try:
        for sock in made:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            sock.bind((host, 0))
            sock.setblocking(False)
        yield made
    finally:
        for sock in made:
            sock.close()


def _python_drain(sock: socket.socket) -> list[tuple[bytes, tuple[str, int]]]:
    got = []
    with contextlib.suppress(BlockingIOError):
        while True:
            data, source = sock.recvfrom(65536)
            got.append((data, (source[0], source[1])))
    return got


def test_recv_batch_returns_what_recvfrom_returns_in_order_and_ends_quietly(
    udpfast: types.ModuleType,
) -> None:
    with _sockets(5) as (receiver, twin, first, second, third):
        sizes = [0, 1, 1500, 65507, 300] * 30  # 150 datagrams: several recvmmsg calls
        for index, size in enumerate(sizes):
            data = bytes([index % 251]) * size
            sender = (first, second, third)[index % 3]
            sender.sendto(data, receiver.getsockname())
            sender.sendto(data, twin.getsockname())
        taken = udpfast.recv_batch(receiver.fileno(), 40)
        taken += udpfast.recv_batch(receiver.fileno(), 256)
        assert taken == _python_drain(twin)
        assert len(taken) == len(sizes)
        # One tuple per source, shared between its datagrams.
        assert len({id(source) for _, source in taken}) == 3
        assert udpfast.recv_batch(receiver.fileno(), 256) == []


def test_recv_batch_keeps_every_source_apart_past_its_cache(udpfast: types.ModuleType) -> None:
    with _sockets(41) as (receiver, *senders):
        for round_number in range(3):
            for index, sender in enumerate(senders):
                sender.sendto(b"%d/%d" % (round_number, index), receiver.getsockname())
        taken = udpfast.recv_batch(receiver.fileno(), 256)
        addresses = [sender.getsockname() for sender in senders]
    assert len(taken) == 3 * 40
    for data, source in taken:
        index = int(data.split(b"/")[1])
        assert source == addresses[index]


def test_recv_batch_reads_ipv6_sources_as_recvfrom_does(udpfast: types.ModuleType) -> None:
    with _sockets(3, "::1") as (receiver, twin, sender):
        for data in (b"a", b"bb", b""):
            sender.sendto(data, receiver.getsockname())
            sender.sendto(data, twin.getsockname())
        assert udpfast.recv_batch(receiver.fileno(), 10) == _python_drain(twin)


def test_recv_batch_passes_over_a_refused_send_and_raises_other_errors(
    udpfast: types.ModuleType,
) -> None:
    with _sockets(2) as (sock, gone):
        closed_address = gone.getsockname()
        gone.close()
        # A connected UDP socket gets the ICMP port-unreachable of its send as ECONNREFUSED
        # on its next receive; recvfrom raises ConnectionRefusedError there.
        sock.connect(closed_address)
        sock.send(b"to nobody")
        assert udpfast.recv_batch(sock.fileno(), 10) == []
        descriptor = sock.fileno()
    with pytest.raises(OSError) as caught:
        udpfast.recv_batch(descriptor, 10)  # closed with the context above
    assert caught.value.errno == errno.EBADF


def test_send_to_delivers_to_numeric_addresses_and_declines_the_rest(
    udpfast: types.ModuleType,
) -> None:
    with _sockets(21) as (sender, *receivers):
        fd, family = sender.fileno(), int(sender.family)
        # More destinations than the C side keeps converted: each gets its own datagrams.
        for round_number in range(2):
            for index, receiver in enumerate(receivers):
                host, port = receiver.getsockname()
                # An equal tuple that is another object each time: compared by value too.
                address = (str(host), int(str(port)))
                assert udpfast.send_to(fd, family, b"%d/%d" % (round_number, index), address)
        for index, receiver in enumerate(receivers):
            assert [data for data, _ in _python_drain(receiver)] == [
                b"0/%d" % index,
                b"1/%d" % index,
            ]
        port = receivers[0].getsockname()[1]
        for address in (("localhost", port), ("", port), ("<broadcast>", port), ("::1", port)):
            assert udpfast.send_to(fd, family, b"x", address) is None
        assert udpfast.send_to(fd, family, bytearray(b"x"), ("127.0.0.1", port)) is None
        assert _python_drain(receivers[0]) == []
        # Errors are socket.sendto's own: the same type and errno.
        with pytest.raises(OSError) as ours:
            udpfast.send_to(fd, family, b"x", ("127.0.0.1", 0))
        with pytest.raises(OSError) as reference:
            sender.sendto(b"x", ("127.0.0.1", 0))
        assert type(ours.value) is type(reference.value)
        assert ours.value.errno == reference.value.errno


def test_send_to_reaches_ipv6_peers(udpfast: types.ModuleType) -> None:
    with _sockets(2, "::1") as (sender, receiver):
        host, port = receiver.getsockname()[:2]
        assert udpfast.send_to(sender.fileno(), int(sender.family), b"six", (host, port))
        assert _python_drain(receiver) == [(b"six", sender.getsockname()[:2])]


def test_the_installed_transport_uses_the_accelerator_exactly_when_compiled() -> None:
    assert (udp_module._C_RECV_BATCH is not None) is COMPILED_BUILD  # noqa: SLF001
    assert (udp_module._C_SEND_TO is not None) is COMPILED_BUILD  # noqa: SLF001
