"""The 3PCC command channel: ``sendCmd``/``recvCmd`` between gossipper (or SIPp) instances.

SIPp's third-party call control (docs/sipp-behaviour.md, "3PCC") links two or more instances
by TCP connections that carry *commands*: the expanded text of a ``<sendCmd>`` with CRLF line
ends, terminated by one ESC byte (0x1B). A command is routed by its ``Call-ID:`` line to the
call of that Call-ID; the instance whose first command element is ``recvCmd`` creates a call
for a command whose Call-ID it does not know. ``call-id: X`` / ``internal-cmd: abort_call``
aborts call X (sent when a call aborts).

Two set-ups, both served by ``CommandChannel``:

- **Classic (``-3pcc host:port``)**: one connection between two twins. The side whose first
  command element is ``recvCmd`` (controller B) listens on the address; the other (controller
  A) connects to it at start-up and fails the run when it cannot. Both send and receive on it.
- **Extended (``-master NAME`` / ``-slave NAME`` with ``-slave_cfg FILE``)**: every instance
  listens on the address of its own name in the address book. Commands go out on connections
  this instance opens to the ``dest=`` peer (the master opens them at start-up, a slave when
  it first accepts a connection); commands come in on any connection. The sender is the first
  token after ``From:`` (checked against ``recvCmd src=``).

The channel only opens connections through the ``TransportFactory`` stream seam, so the same
code runs on real TCP and on the simulated network. It knows nothing of calls: the engine
gives it two callbacks (a command arrived; the channel to the twin is gone) and asks it to
send. Sends never block a call: they queue, and one writer task per connection drains them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import trio

from gossipper.errors import ConfigError, GossipperError, TransportError
from gossipper.interfaces import Address, StreamConnection, StreamListener, TransportFactory
from gossipper.scenario import ElementKind, Scenario, TwinRole

__all__ = [
    "COMMAND_END",
    "CONTROL_TRANSPORT",
    "DEFAULT_TWIN_PORT",
    "MAX_COMMAND_BYTES",
    "CommandChannel",
    "CommandFramer",
    "CommandFramingError",
    "TwinConnectError",
    "TwinSetup",
    "check_twin_setup",
    "command_call_id",
    "command_sender",
    "is_abort_command",
    "parse_slave_cfg",
]

COMMAND_END = b"\x1b"
"""A command ends with one ESC byte (SIPp's 3PCC framing)."""
MAX_COMMAND_BYTES = 65536
"""Longest command accepted (SIPp's SIPP_MAX_MSG_SIZE); longer input resets the connection."""
DEFAULT_TWIN_PORT = 6060
"""``-3pcc host`` without a port (SIPp's default)."""
CONTROL_TRANSPORT = "TCP control"
"""What messages.log prints for command traffic (``TCP control message sent ...``)."""
_READ_BYTES = 65536


_CLOSE_GAP_S = 0.1
"""Pause between closing two command connections at the end of a run (see aclose)."""


class TwinConnectError(GossipperError):
    """Controller A (or the master) cannot reach its twin at start-up: SIPp exits 255."""


class CommandFramingError(Exception):
    """The peer sent more than MAX_COMMAND_BYTES without an ESC."""


@dataclass(frozen=True, slots=True)
class TwinSetup:
    """How a run's command channel is set up (from ``-3pcc`` or the extended options).

    Classic mode sets ``twin``; extended mode sets ``name`` (this instance) and ``peers``
    (the ``-slave_cfg`` address book, own name included) and ``master``.
    """

    twin: Address | None = None
    name: str | None = None
    master: bool = False
    peers: Mapping[str, Address] = field(default_factory=dict)
    peers_file: str = ""
    """The ``-slave_cfg`` file, named in errors."""

    @property
    def extended(self) -> bool:
        return self.name is not None


def parse_slave_cfg(text: str, path: str) -> dict[str, Address]:
    """The ``-slave_cfg`` address book: one ``name;host:port`` per line.

    Blank lines and lines starting with ``#`` are skipped. Raises ConfigError naming
    ``path:line`` and the fix.
    """
    peers: dict[str, Address] = {}
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"-slave_cfg {path}:{number}"
        name, sep, address = line.partition(";")
        name = name.strip()
        address = address.strip()
        if not sep or not name or not address:
            raise ConfigError(
                f"{where}: expected 'name;host:port' (e.g. s1;127.0.0.1:8080), got {line!r}"
            )
        host, colon, port_text = address.rpartition(":")
        if not colon or not host:
            raise ConfigError(f"{where}: {address!r} has no port; write {name};host:port")
        host = host.strip("[]")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"{where}: port {port_text!r} is not a number 1-65535")
        if name in peers:
            raise ConfigError(f"{where}: peer {name!r} is defined twice; keep one line")
        peers[name] = (host, int(port_text))
    return peers


def check_twin_setup(scenario: Scenario, setup: TwinSetup | None) -> tuple[bool, tuple[str, ...]]:
    """Check a scenario against the 3PCC options; returns (listens, dest peers).

    Raises ConfigError (before any traffic) when commands have no channel, a channel has no
    command, or extended mode lacks a ``dest``/``src`` or an address-book entry.
    """
    commands = [
        e for e in scenario.elements if e.kind in (ElementKind.SENDCMD, ElementKind.RECVCMD)
    ]
    label = scenario.source_label
    if setup is None:
        if commands:
            raise ConfigError(
                f"{label}:{commands[0].line}: <{commands[0].kind.value}> needs a 3PCC command"
                " channel: add -3pcc host:port (or -master/-slave with -slave_cfg)"
            )
        return False, ()
    option = "-master/-slave" if setup.extended else "-3pcc"
    if not commands:
        raise ConfigError(
            f"{option}: {label} has no sendCmd/recvCmd; drop {option} or run a 3PCC scenario"
            " (e.g. -sn 3pcc-C-A or -sn 3pcc-C-B)"
        )
    dests: list[str] = []
    if setup.extended:
        for element in commands:
            attribute = "dest" if element.kind is ElementKind.SENDCMD else "src"
            if element.peer is None:
                raise ConfigError(
                    f"{label}:{element.line}: <{element.kind.value}> needs {attribute}=NAME in"
                    " extended 3PCC mode (-master/-slave)"
                )
            if element.peer not in setup.peers:
                raise ConfigError(
                    f"{label}:{element.line}: {attribute}={element.peer!r} is not in"
                    f" -slave_cfg {setup.peers_file}; add a line {element.peer};host:port"
                )
            if element.kind is ElementKind.SENDCMD and element.peer not in dests:
                dests.append(element.peer)
        if setup.name not in setup.peers:
            raise ConfigError(
                f"-slave_cfg {setup.peers_file}: no line for this instance {setup.name!r}; add"
                f" {setup.name};host:port (where it listens)"
            )
    return scenario.twin_role is TwinRole.CONTROLLER_B, tuple(sorted(dests))


def _header_value(text: str, names: tuple[str, ...]) -> str | None:
    """The value of the first line whose header name (case-insensitive) is in ``names``."""
    for line in text.split("\n"):
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() in names:
            return value.strip()
    return None


def command_call_id(text: str) -> str | None:
    """The Call-ID a command is for (``Call-ID:`` or the compact ``i:``, any case)."""
    value = _header_value(text, ("call-id", "i"))
    return value or None


def command_sender(text: str) -> str | None:
    """Extended mode: the peer a command comes from, the first token after ``From:``."""
    value = _header_value(text, ("from",))
    if not value:
        return None
    return value.split()[0]


def is_abort_command(text: str) -> bool:
    """True for SIPp's ``internal-cmd: abort_call`` (the twin aborted the call)."""
    value = _header_value(text, ("internal-cmd",))
    return value is not None and value.lower() == "abort_call"


class CommandFramer:
    """Cuts a byte stream into commands at each ESC byte."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The whole commands completed by ``data`` (without their ESC), in order.

        Raises:
            CommandFramingError: more than MAX_COMMAND_BYTES arrived without an ESC.
        """
        buffer = self._buffer
        buffer += data
        commands: list[bytes] = []
        start = 0
        while True:
            end = buffer.find(COMMAND_END, start)
            if end < 0:
                break
            commands.append(bytes(buffer[start:end]))
            start = end + 1
        if start:
            del buffer[:start]
        if len(buffer) > MAX_COMMAND_BYTES:
            buffer.clear()
            raise CommandFramingError(f"over {MAX_COMMAND_BYTES} bytes without an ESC")
        return commands


class _State(enum.Enum):
    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"


class _Connection:
    """One command connection: its queue of commands to send and its state."""

    __slots__ = ("name", "remote", "connection", "queue", "wake", "state", "drained")

    def __init__(self, name: str | None, remote: Address) -> None:
        self.name = name
        self.remote = remote
        self.connection: StreamConnection | None = None
        self.queue: list[bytes] = []
        self.wake = trio.Event()
        self.state = _State.CONNECTING
        self.drained = trio.Event()
        """Set when the writer has stopped (everything queued before the end was sent)."""


CommandHandler = Callable[[bytes], None]
"""Called with each received command (without its ESC)."""
LossHandler = Callable[[str], None]
"""Called once per lost connection with a one-line reason."""


class CommandChannel:
    """The command connections of one run (see the module docstring).

    ``listens``: this side waits for its twin (classic controller B; every extended
    instance). ``dests``: the peers this side sends to in extended mode (the ``dest=`` of
    its sendCmds). Use: ``await open()`` (bind, and connect where this side connects first:
    raises ``BindError`` / ``TwinConnectError``), ``start(nursery)``, ``send``, ``aclose``.
    """

    def __init__(
        self,
        transports: TransportFactory,
        setup: TwinSetup,
        *,
        listens: bool,
        dests: tuple[str, ...],
        bind_host: str | None,
        on_command: CommandHandler,
        on_lost: LossHandler,
    ) -> None:
        self._transports = transports
        self._setup = setup
        self._listens = listens
        self._dests = dests
        self._bind_host = bind_host
        self._on_command = on_command
        self._on_lost = on_lost
        self._listener: StreamListener | None = None
        self._twin: _Connection | None = None
        """Classic mode: the one connection to the twin."""
        self._outgoing: dict[str, _Connection] = {}
        """Extended mode: this side's connection to each dest peer."""
        self._accepted: list[_Connection] = []
        self._nursery: trio.Nursery | None = None
        self._closing = False
        self._slave_connected = False

    @property
    def listen_address(self) -> Address | None:
        """Where this side listens (after ``open``), else None."""
        return self._listener.local_address if self._listener is not None else None

    async def open(self) -> None:
        """Listen where this side listens; connect where it connects first (before traffic)."""
        setup = self._setup
        if self._listens or setup.extended:
            address = self._own_address()
            self._listener = await self._transports.open_stream_listener(*address)
        if setup.extended:
            if setup.master:
                for name in self._dests:
                    await self._connect_now(name)
        elif not self._listens:
            assert setup.twin is not None
            self._twin = await self._connect_now(None)

    def _own_address(self) -> Address:
        setup = self._setup
        if setup.extended:
            assert setup.name is not None
            host, port = setup.peers[setup.name]
        else:
            assert setup.twin is not None
            host, port = setup.twin
        return (self._bind_host or host, port)

    def _peer_address(self, name: str | None) -> Address:
        setup = self._setup
        if name is None:
            assert setup.twin is not None
            return setup.twin
        return setup.peers[name]

    async def _connect_now(self, name: str | None) -> _Connection:
        remote = self._peer_address(name)
        link = _Connection(name, remote)
        try:
            link.connection = await self._transports.connect_stream(remote)
        except TransportError as exc:
            raise TwinConnectError(_connect_hint(self._setup, name, remote, exc)) from exc
        link.state = _State.UP
        if name is not None:
            self._outgoing[name] = link
        return link

    def start(self, nursery: trio.Nursery) -> None:
        """Start the accept loop and the reader/writer of every connection opened so far."""
        self._nursery = nursery
        if self._listener is not None:
            nursery.start_soon(self._accept_loop, self._listener)
        if self._twin is not None:
            self._serve(self._twin)
        for link in self._outgoing.values():
            self._serve(link)

    def _serve(self, link: _Connection) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(self._reader, link)
        self._nursery.start_soon(self._writer, link)

    def send(self, data: bytes, dest: str | None) -> bool:
        """Queue one framed command for ``dest`` (extended) or the twin (classic).

        False when there is no connection to send it on (never made, or lost).
        """
        if self._setup.extended:
            if dest is None:
                return False
            link = self._outgoing.get(dest)
        else:
            link = self._twin
        if link is None or link.state is _State.DOWN:
            return False
        link.queue.append(data)
        link.wake.set()
        return True

    def broadcast(self, data: bytes) -> None:
        """Queue a command on every connection this side sends on (an aborted call's
        ``abort_call``: in extended mode it goes to every peer; unknown Call-IDs are
        ignored there)."""
        if self._setup.extended:
            for name in sorted(self._outgoing):
                self.send(data, name)
        else:
            self.send(data, None)

    @property
    def connected(self) -> bool:
        """Whether commands can still flow (classic: the twin's connection is up)."""
        if self._setup.extended:
            return not self._closing
        return self._twin is not None and self._twin.state is not _State.DOWN

    async def aclose(self) -> None:
        """End of the run: let the writers send what is queued (1 s at most), then close
        every connection gracefully (the twin reads EOF)."""
        self._closing = True
        if self._listener is not None:
            await self._listener.aclose()
        links = [self._twin] if self._twin is not None else []
        links += list(self._outgoing.values()) + self._accepted
        for number, link in enumerate(links):
            if number:
                # One connection at a time: SIPp 3.6.1 as an extended-mode slave aborts
                # (socket.cpp "Assertion `sock' failed") when both connections to its master
                # close in the same poll round.
                await trio.sleep(_CLOSE_GAP_S)
            if link.state is _State.UP:
                # The writer drains the queue, sees DOWN and stops.
                link.state = _State.DOWN
                link.wake.set()
                with trio.move_on_after(1.0):
                    await link.drained.wait()
            link.state = _State.DOWN
            link.wake.set()
            if link.connection is not None:
                with trio.move_on_after(1.0):
                    await link.connection.aclose()

    # ------------------------------------------------------------------ tasks

    async def _accept_loop(self, listener: StreamListener) -> None:
        while True:
            try:
                connection = await listener.accept()
            except (trio.ClosedResourceError, TransportError):
                return
            link = _Connection(None, connection.remote_address)
            link.connection = connection
            link.state = _State.UP
            setup = self._setup
            if not setup.extended:
                if self._twin is None or self._twin.state is _State.DOWN:
                    self._twin = link
                else:
                    # One twin at a time: a second controller A is refused.
                    connection.reset()
                    continue
            else:
                self._accepted.append(link)
            self._serve(link)
            if setup.extended and not setup.master and not self._slave_connected:
                # A slave connects to its peers when it first accepts a connection (SIPp).
                self._slave_connected = True
                for name in self._dests:
                    self._connect_later(name)

    def _connect_later(self, name: str) -> None:
        link = _Connection(name, self._peer_address(name))
        self._outgoing[name] = link
        self._serve(link)

    async def _reader(self, link: _Connection) -> None:
        framer = CommandFramer()
        while link.state is _State.CONNECTING:
            await link.wake.wait()
        connection = link.connection
        if connection is None:
            return
        while True:
            try:
                data = await connection.receive_some(_READ_BYTES)
            except trio.ClosedResourceError:
                return
            except TransportError as exc:
                self._lost(link, f"{exc}")
                return
            if not data:
                self._lost(link, "closed by the peer")
                return
            try:
                commands = framer.feed(data)
            except CommandFramingError as exc:
                connection.reset()
                self._lost(link, f"malformed command stream ({exc})")
                return
            for command in commands:
                self._on_command(command)

    async def _writer(self, link: _Connection) -> None:
        try:
            await self._write(link)
        finally:
            link.drained.set()

    async def _write(self, link: _Connection) -> None:
        if link.connection is None:
            try:
                link.connection = await self._transports.connect_stream(link.remote)
            except TransportError as exc:
                self._lost(link, f"cannot connect: {exc}")
                return
            if link.state is _State.DOWN:
                return  # the run ended while connecting (aclose closes the connection)
            link.state = _State.UP
            link.wake.set()
        connection = link.connection
        while True:
            link.wake = trio.Event()
            if link.queue:
                data = b"".join(link.queue)
                link.queue.clear()
                try:
                    await connection.send_all(data)
                except trio.ClosedResourceError:
                    return
                except TransportError as exc:
                    self._lost(link, f"{exc}")
                    return
                continue
            if link.state is _State.DOWN:
                return
            await link.wake.wait()

    def _lost(self, link: _Connection, why: str) -> None:
        if link.state is _State.DOWN:
            return
        link.state = _State.DOWN
        link.queue.clear()
        link.wake.set()
        if self._closing:
            return
        host, port = link.remote
        who = f"3PCC peer {link.name!r}" if link.name is not None else "3PCC twin"
        self._on_lost(f"{who} {host}:{port}: command connection {why}")


def _connect_hint(setup: TwinSetup, name: str | None, remote: Address, exc: Exception) -> str:
    host, port = remote
    if name is None:
        return (
            f"-3pcc {host}:{port}: cannot connect to the 3PCC twin ({exc}); start the"
            " controller B side (the scenario whose first command is recvCmd) first"
        )
    return (
        f"-slave_cfg {setup.peers_file}: cannot connect to 3PCC peer {name!r} at"
        f" {host}:{port} ({exc}); start the slaves before the master"
    )
