"""The parent <-> worker channel of ``-workers``: length-prefixed messages over a socketpair.

A message is a tuple whose first item names it, pickled (builtins only: snapshots travel in
``gossipper.stats.merging``'s wire form). Both ends are processes of one gossipper run started
by the parent, so pickle carries no trust boundary here.

Parent -> worker: ``("go",)`` (the start barrier), ``("snap",)`` (reply with a snapshot of the
parent's statistics window, restarted), ``("rate", cps)``, ``("users", n)``, ``("limit", n)``,
``("pause", bool)``, ``("reset",)``, ``("soft_quit",)``, ``("force_quit", reason)``,
``("interrupt",)``.

Worker -> parent: ``("ready", pid, state)`` once its socket is bound, ``("snapshot", snapshot,
state)``, ``("final", snapshot, state, exit_code, fatal_message, files)`` after the run, just
before the worker exits.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any

import trio

__all__ = ["ENV_VAR", "MAX_MESSAGE_BYTES", "UDP_ENV_VAR", "MessageStream"]

ENV_VAR = "GOSSIPPER_WORKER"
"""Set by the parent in a worker's environment: ``FD:INDEX:COUNT:DIRECTORY``."""

UDP_ENV_VAR = "GOSSIPPER_WORKER_UDP"
"""Server workers: ``SENDFD:RECEIVEFD``, the shared SIP socket and the worker's end of its
hand-off pair (``gossipper.transport.handoff``)."""

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_HEADER = struct.Struct("!I")


class MessageStream:
    """Whole messages over a byte stream (a Unix socketpair end)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._send_lock = trio.Lock()

    async def send(self, message: tuple[Any, ...]) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        async with self._send_lock:
            await self._stream.send_all(_HEADER.pack(len(data)) + data)

    async def receive(self) -> tuple[Any, ...] | None:
        """The next message; None at the end of the stream (the other process is gone).

        Raises:
            ValueError: a message larger than :data:`MAX_MESSAGE_BYTES` (a broken stream).
        """
        buffer = self._buffer
        while True:
            if len(buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(buffer)
                if size > MAX_MESSAGE_BYTES:
                    raise ValueError(f"worker channel: message of {size} bytes")
                end = _HEADER.size + size
                if len(buffer) >= end:
                    message = pickle.loads(bytes(buffer[_HEADER.size : end]))  # noqa: S301
                    del buffer[:end]
                    assert isinstance(message, tuple)
                    return message
            try:
                chunk = await self._stream.receive_some(1 << 16)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return None
            if not chunk:
                return None
            buffer += chunk

    async def aclose(self) -> None:
        await self._stream.aclose()
