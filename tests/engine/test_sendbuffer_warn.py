"""-sendbuffer_warn: a send the kernel refuses for want of buffer space (ENOBUFS) fails the
call by default (FailedCannotSendMessage, as SIPp's "Unable to send" path) and is only a
warning with the option, the UDP retransmission then carrying the message."""

from __future__ import annotations

import errno
from typing import Any

from gossipper.errors import SendBufferError, TransportError
from gossipper.interfaces import Address, Datagram
from gossipper.stats import FailureReason
from gossipper.transport.udp import send_error
from tests.engine._harness import builtin, run_pair


class _NoBuffersForInvites:
    """A datagram transport whose first send of each INVITE finds no buffer space."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.refused = 0
        self._seen: set[bytes] = set()
        self.transport_name: str = inner.transport_name

    @property
    def local_address(self) -> Address:
        address: Address = self._inner.local_address
        return address

    def send_nowait(self, data: bytes, address: Address) -> bool:
        if data.startswith(b"INVITE") and data not in self._seen:
            self._seen.add(data)
            self.refused += 1
            raise SendBufferError("UDP send failed: [Errno 105] No buffer space available")
        result: bool = self._inner.send_nowait(data, address)
        return result

    async def send(self, data: bytes, address: Address) -> None:
        await self._inner.send(data, address)

    async def receive_batch(self) -> list[Datagram]:
        batch: list[Datagram] = await self._inner.receive_batch()
        return batch

    def receive_nowait(self) -> list[Datagram]:
        batch: list[Datagram] = self._inner.receive_nowait()
        return batch

    def close(self) -> None:
        self._inner.close()


class _Factory:
    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.transports: list[_NoBuffersForInvites] = []

    async def open_datagram(self, host: str, port: int) -> _NoBuffersForInvites:
        transport = _NoBuffersForInvites(await self._inner.open_datagram(host, port))
        self.transports.append(transport)
        return transport

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _run(**client_options: Any) -> tuple[Any, _Factory]:
    factories: list[_Factory] = []

    def wrap(inner: Any) -> _Factory:
        factories.append(_Factory(inner))
        return factories[-1]

    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={"max_calls": 5, "rate": 10, **client_options},
        client_transports=wrap,
    )
    return result, factories[0]


def test_no_buffer_space_fails_the_calls_by_default() -> None:
    result, factory = _run()
    cumulative = result.client.snapshot.cumulative
    assert factory.transports[0].refused == 5
    assert cumulative.failed_calls == 5
    assert cumulative.failure(FailureReason.CANNOT_SEND_MESSAGE) == 5


def test_sendbuffer_warn_warns_and_the_retransmission_carries_the_call() -> None:
    result, factory = _run(sendbuffer_warn=True)
    cumulative = result.client.snapshot.cumulative
    assert factory.transports[0].refused == 5
    assert (cumulative.successful_calls, cumulative.failed_calls) == (5, 0)
    assert cumulative.retransmissions == 5
    assert cumulative.warnings == 5


def test_sendbuffer_warn_keeps_other_send_errors_fatal() -> None:
    # Only buffer shortage is forgiven: a refused destination still fails the call.
    error = send_error(OSError(errno.ECONNREFUSED, "Connection refused"), ("10.0.0.2", 5060))
    assert type(error) is TransportError
    assert isinstance(send_error(OSError(errno.ENOBUFS, "x"), ("h", 1)), SendBufferError)
    assert isinstance(send_error(OSError(errno.ENOMEM, "x"), ("h", 1)), SendBufferError)
