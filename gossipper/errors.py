"""Error types and exit statuses shared by every layer.

This module is the leaf of the dependency graph: it imports nothing of ours.
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Process exit codes, identical to SIPp's (docs/sipp-behaviour.md, "Exit codes")."""

    SUCCESS = 0
    """Normal end and no failed call."""
    CALLS_FAILED = 1
    """Normal end with at least one failed call; also fatal errors before the scenario loads."""
    INTERNAL_COMMAND = 97
    """Exit on internal command (stop_now) or global timeout with no successful call."""
    NO_CALLS = 99
    """Nothing run: help, version, -sd, -bg parent."""
    RTPCHECK_FAILED = 253
    """SIPp 3.7's EXIT_RTPCHECK_FAILED (-3): an apattern/vpattern echo check failed."""
    FATAL = 255
    """Fatal error after start-up."""
    BIND_ERROR = 254
    """Fatal error while binding a socket."""


class GossipperError(Exception):
    """Root of every error gossipper raises on purpose."""

    exit_status: ExitStatus = ExitStatus.FATAL


class ConfigError(GossipperError):
    """Bad command line or configuration value; the message names the option and the fix."""

    exit_status = ExitStatus.CALLS_FAILED


class ScenarioError(GossipperError):
    """Bad scenario XML; reported as ``FILE:LINE[:COL]: reason`` before any traffic."""

    exit_status = ExitStatus.CALLS_FAILED

    def __init__(self, file: str, line: int | None, reason: str, col: int | None = None) -> None:
        self.file = file
        self.line = line
        self.col = col
        self.reason = reason
        where = file
        if line is not None:
            where += f":{line}"
            if col is not None:
                where += f":{col}"
        super().__init__(f"{where}: {reason}")


class SipParseError(GossipperError):
    """Malformed SIP bytes. Carries a short reason; never escapes a receive loop."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TransportError(GossipperError):
    """A socket could not be opened or used."""


class SendBufferError(TransportError):
    """The kernel refused a send for want of buffer space (ENOBUFS, ENOMEM): a failure of the
    moment, not of the peer. ``-sendbuffer_warn`` makes it a warning (SIPp 3.7)."""


class BindError(TransportError):
    """A socket could not be bound (SIPp exits 254)."""

    exit_status = ExitStatus.BIND_ERROR


def first_gossipper_error(
    group: BaseExceptionGroup[BaseException], *, alone: bool = False
) -> GossipperError | None:
    """The first ``GossipperError`` inside ``group`` (an error raised in a Trio nursery arrives
    wrapped), or None when it holds none, or, with ``alone``, when it also holds other errors."""
    matched, rest = group.split(GossipperError)
    if matched is None or (alone and rest is not None):
        return None
    leaf: BaseException = matched
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    assert isinstance(leaf, GossipperError)
    return leaf
