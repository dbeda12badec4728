"""``-t ui``: one UDP socket per local IP listed in the first injection file.

SIPp takes the local IPs from field ``-ip_field`` of the first ``-inf`` file
(docs/sipp-behaviour.md, transports). A client call sends from the socket of its row's IP; a
server binds every IP on the same port and answers from the socket a call's first message
reached. Errors name the file, line and field the IP came from, since that is what the user
has to fix.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from gossipper.errors import BindError, ConfigError
from gossipper.interfaces import DatagramTransport, TransportFactory

if TYPE_CHECKING:
    from gossipper.scenario import InjectionFile


class PerIpSockets:
    """The bound sockets by IP, and which one a row of the injection file sends from."""

    __slots__ = ("_by_ip", "_field", "_injection")

    def __init__(
        self, injection: InjectionFile, field: int, by_ip: dict[str, DatagramTransport]
    ) -> None:
        self._injection = injection
        self._field = field
        self._by_ip = by_ip

    @property
    def transports(self) -> list[DatagramTransport]:
        """One socket per IP, in the order the IPs first appear in the file."""
        return list(self._by_ip.values())

    def for_line(self, line: int) -> DatagramTransport | None:
        """The socket of injection line ``line``; None when the row has no IP bound at start
        (a row added by an insert/replace action, or no row: a USER file without a user)."""
        ip = self._injection.field(line, self._field)
        return self._by_ip.get(ip) if ip is not None else None

    def close(self) -> None:
        for transport in self._by_ip.values():
            transport.close()


def local_ips(injection: InjectionFile, field: int) -> dict[str, int]:
    """The distinct values of ``field`` (the local IPs), each with the file line where it
    first appears, in file order.

    Raises:
        ConfigError: a row lacks the field (or leaves it empty).
    """
    first_lines: dict[str, int] = {}
    for line in range(injection.line_count):
        ip = injection.field(line, field)
        source_line = injection.source_line(line) or 0
        if not ip:
            raise ConfigError(
                f"{injection.path} line {source_line}: no field {field} (-ip_field {field});"
                " -t ui needs the local IP of every row there"
            )
        first_lines.setdefault(ip, source_line)
    return first_lines


async def open_per_ip_sockets(
    factory: TransportFactory,
    injection: InjectionFile,
    field: int,
    port: int | None,
    *,
    same_port: bool,
    first_port: int,
    last_port: int,
) -> PerIpSockets:
    """Bind one UDP socket per local IP of ``injection``.

    On ``port`` when given; otherwise on the first port of ``first_port..last_port`` free on
    every IP (``same_port``, a server: SIPp answers on one port for all its IPs) or free on
    each IP by itself (a client), else on an ephemeral port.

    Raises:
        ConfigError: a row lacks the IP field.
        BindError: an IP cannot be bound; names the IP, the port and where the IP comes from.
    """
    ips = local_ips(injection, field)
    where = {ip: f"{injection.path} line {line}, field {field}" for ip, line in ips.items()}
    by_ip: dict[str, DatagramTransport] = {}
    try:
        if port is not None:
            for ip in ips:
                by_ip[ip] = await _bind(factory, ip, port, where[ip])
        elif same_port:
            by_ip = await _bind_all_on_one_port(factory, list(ips), where, first_port, last_port)
        else:
            for ip in ips:
                by_ip[ip] = await _bind_first_free(factory, ip, where[ip], first_port, last_port)
    except BaseException:
        for transport in by_ip.values():
            transport.close()
        raise
    return PerIpSockets(injection, field, by_ip)


async def _bind(factory: TransportFactory, ip: str, port: int, where: str) -> DatagramTransport:
    try:
        return await factory.open_datagram(ip, port)
    except BindError as exc:
        raise BindError(f"cannot bind UDP {ip}:{port} ({where}): {_reason(exc, ip, port)}") from exc


async def _bind_first_free(
    factory: TransportFactory, ip: str, where: str, first_port: int, last_port: int
) -> DatagramTransport:
    for candidate in range(first_port, last_port + 1):
        try:
            return await factory.open_datagram(ip, candidate)
        except BindError as exc:
            if not _port_taken(exc):
                # The address itself is the problem: no other port will do better.
                raise BindError(
                    f"cannot bind UDP {ip}:{candidate} ({where}): {_reason(exc, ip, candidate)}"
                ) from exc
    return await _bind(factory, ip, 0, where)


async def _bind_all_on_one_port(
    factory: TransportFactory,
    ips: list[str],
    where: dict[str, str],
    first_port: int,
    last_port: int,
) -> dict[str, DatagramTransport]:
    for candidate in range(first_port, last_port + 1):
        bound: dict[str, DatagramTransport] = {}
        try:
            for ip in ips:
                bound[ip] = await factory.open_datagram(ip, candidate)
        except BindError as exc:
            for transport in bound.values():
                transport.close()
            failed = ips[len(bound)]
            if not _port_taken(exc):
                raise BindError(
                    f"cannot bind UDP {failed}:{candidate} ({where[failed]}):"
                    f" {_reason(exc, failed, candidate)}"
                ) from exc
            continue
        return bound
    # No port of the range is free on every IP: the first IP's ephemeral port, on all.
    first = await _bind(factory, ips[0], 0, where[ips[0]])
    bound = {ips[0]: first}
    try:
        for ip in ips[1:]:
            bound[ip] = await _bind(factory, ip, first.local_address[1], where[ip])
    except BaseException:
        for transport in bound.values():
            transport.close()
        raise
    return bound


def _port_taken(exc: BindError) -> bool:
    """True when another socket holds the port (worth trying the next one)."""
    cause = exc.__cause__
    if isinstance(cause, OSError):
        return cause.errno in (errno.EADDRINUSE, errno.EACCES)
    # The mypyc-compiled transport raises without __cause__: read the system's words.
    text = str(exc)
    return "in use" in text.lower() or text.endswith(errno_text(errno.EACCES))


def errno_text(number: int) -> str:
    """The system's words for an errno ("Address already in use")."""
    return os.strerror(number)


def _reason(exc: BindError, ip: str, port: int) -> str:
    """The system's words for a failed bind, without the address the caller names itself."""
    cause = exc.__cause__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(exc).removeprefix(f"cannot bind UDP {ip}:{port}: ")
