"""Sends that find the socket buffer full: the call's task waits for room, in order.

The usual send is non-blocking and handled wherever the call's event is handled; only a full
buffer makes the call's own task wait (``Call._flush_blocked``). These tests simulate a full
buffer on the client's socket and check SIPp's outcomes: the calls carry on once there is room,
``-send_timeout`` fails them with FailedTimeoutOnSend, a send error with FailedCannotSendMessage.
"""

from __future__ import annotations

import math
from typing import Any

import trio

from gossipper.errors import TransportError
from gossipper.interfaces import Address, Datagram
from gossipper.stats import FailureReason
from tests.engine._harness import builtin, run_pair


class _FullUntil:
    """A datagram transport whose buffer is full until ``clear_at_s`` (virtual time)."""

    def __init__(self, inner: Any, clear_at_s: float, *, fail: bool = False) -> None:
        self._inner = inner
        self._clear_at_s = clear_at_s
        self._fail = fail
        self.blocked = 0
        self.sent: list[bytes] = []
        self.transport_name: str = inner.transport_name

    @property
    def local_address(self) -> Address:
        address: Address = self._inner.local_address
        return address

    def send_nowait(self, data: bytes, address: Address) -> bool:
        if trio.current_time() < self._clear_at_s:
            self.blocked += 1
            return False
        self.sent.append(data)
        result: bool = self._inner.send_nowait(data, address)
        return result

    async def send(self, data: bytes, address: Address) -> None:
        if self._fail:
            await trio.lowlevel.checkpoint()
            raise TransportError("UDP send failed: simulated error")
        await trio.sleep_until(self._clear_at_s)
        self.sent.append(data)
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
    def __init__(self, inner: Any, clear_at_s: float, *, fail: bool = False) -> None:
        self._inner = inner
        self._clear_at_s = clear_at_s
        self._fail = fail
        self.transports: list[_FullUntil] = []

    async def open_datagram(self, host: str, port: int) -> _FullUntil:
        transport = _FullUntil(
            await self._inner.open_datagram(host, port), self._clear_at_s, fail=self._fail
        )
        self.transports.append(transport)
        return transport

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _run(clear_at_s: float, *, fail: bool = False, **client_options: Any) -> tuple[Any, _Factory]:
    factories: list[_Factory] = []

    def wrap(inner: Any) -> _Factory:
        factory = _Factory(inner, clear_at_s, fail=fail)
        factories.append(factory)
        return factory

    result = run_pair(
        builtin("uac"),
        builtin("uas"),
        client_options={"max_calls": 6, "rate": 10, **client_options},
        client_transports=wrap,
    )
    return result, factories[0]


def test_calls_wait_for_room_then_complete_in_order() -> None:
    # The first calls start at 0.1 s, 0.2 s, ...: their INVITEs wait until 0.35 s.
    result, factory = _run(0.35)
    transport = factory.transports[0]
    assert transport.blocked >= 3
    client = result.client.snapshot.cumulative
    assert (client.successful_calls, client.failed_calls) == (6, 0)
    assert result.server is not None
    assert result.server.snapshot.cumulative.successful_calls == 6
    # Each call's messages left in scenario order: INVITE, ACK, BYE.
    for number in range(1, 7):
        methods = [
            data.split(b" ", 1)[0]
            for data in transport.sent
            if f"Call-ID: {number}-100@".encode() in data
        ]
        assert methods == [b"INVITE", b"ACK", b"BYE"], (number, methods)


def test_send_timeout_fails_the_blocked_calls() -> None:
    result, _ = _run(math.inf, send_timeout_s=1.0)
    cumulative = result.client.snapshot.cumulative
    assert cumulative.failed_calls == 6
    assert cumulative.failure(FailureReason.TIMEOUT_ON_SEND) == 6


def test_send_error_while_blocked_fails_the_call() -> None:
    result, _ = _run(math.inf, fail=True)
    cumulative = result.client.snapshot.cumulative
    assert cumulative.failed_calls == 6
    assert cumulative.failure(FailureReason.CANNOT_SEND_MESSAGE) == 6
