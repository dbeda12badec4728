"""Seeded fault plans for the simulated network (sim only; the real path has no fault hooks).

A ``FaultPlan`` says, per direction of traffic, how often datagrams are lost, duplicated or
reordered and how long they take. Directions are chosen by ``LinkRule`` selectors on the source
and destination: a host string matches every port of that host, an ``(host, port)`` tuple matches
one endpoint, ``None`` matches anything. The first matching rule wins; otherwise ``default``
applies. So ``client->server`` and ``server->client`` are two rules with swapped selectors.

Every random draw is a pure function of the master seed, the purpose and the packet's identity
(see ``draw_unit``), so a decision never depends on which trio task happened to run first, and a
test can recompute any decision from the fields of a logged ``NetworkEvent``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from gossipper.errors import ConfigError
from gossipper.interfaces import Address

Selector = str | Address | None
"""Matches a host (str), one endpoint ((host, port)) or anything (None)."""

MAX_DELAY_MS = 3_600_000.0
"""Upper bound for any configured delay: one hour of virtual time."""

SPLIT_STEP_S = 1e-6
"""Least gap between the pieces of a split stream chunk (one virtual microsecond), so that each
piece lands in its own delivery round and an active reader gets it in its own receive call."""


def _check_pct(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 <= value <= 100.0):
        raise ConfigError(f"fault plan: {name} must be a percentage in [0, 100], got {value!r}")


def _check_ms(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value)):
        raise ConfigError(f"fault plan: {name} must be a finite number of ms, got {value!r}")
    if not 0.0 <= value <= MAX_DELAY_MS:
        raise ConfigError(
            f"fault plan: {name} must be in [0, {MAX_DELAY_MS:.0f}] ms, got {value!r}"
        )


@dataclass(frozen=True, slots=True)
class LinkFaults:
    """Faults and timing of one direction of traffic.

    A datagram is first lost with ``loss_pct``; a surviving one is duplicated with
    ``duplicate_pct`` (two copies). Each copy then takes ``delay_ms`` plus a uniform draw in
    ``[0, jitter_ms)``, but never arrives before the previous datagram of the same flow
    (source -> destination): like a real path, jitter alone does not reorder. With probability
    ``reorder_pct`` a copy instead gets ``reorder_delay_ms`` more and is exempt from that rule,
    so that later packets overtake it. Streams (TCP-like) keep byte order: they use the delays
    (never delivering earlier than the previous segment) and the stream faults below, and ignore
    loss, duplication and reordering, which TCP hides from its user.

    Stream faults, each drawn once per segment (``draw_unit`` with the purpose in quotes and the
    segment's ``packet_identity``, tiebreak ``seq:N``), only when its percentage is above 0:

    - ``reset_pct`` ("reset"): a written chunk resets the connection; both ends then fail.
    - ``refuse_pct`` ("refuse"): a connection attempt (SYN, drawn with the faults of the
      client -> server direction) is refused although a listener exists, exactly as if none did.
    - ``coalesce_pct`` ("coalesce"): a written chunk is held back and leaves in one segment with
      the next chunk written in its direction, or alone once ``coalesce_hold_ms`` has passed
      since the first held byte, whichever comes first. A FIN sends the held bytes first; an RST
      (abortive close, or a reset of the connection) discards them, as a real abortive close
      discards unsent data. Held bytes count in the send window.
    - ``split_pct`` ("split"): a chunk of 2 bytes or more that leaves is cut into 2 or 3 data
      segments at seeded byte boundaries (``split_cuts``); the pieces arrive in order,
      ``SPLIT_STEP_S`` apart at least, so a reader sees them in separate receive calls.

    A chunk meets the faults in that order: reset, then (merged with any held bytes) coalesce,
    then, when it leaves, split and the delay; a held chunk keeps the identity of the last chunk
    merged into it.
    """

    loss_pct: float = 0.0
    duplicate_pct: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    reorder_pct: float = 0.0
    reorder_delay_ms: float = 20.0
    reset_pct: float = 0.0
    refuse_pct: float = 0.0
    split_pct: float = 0.0
    coalesce_pct: float = 0.0
    coalesce_hold_ms: float = 1.0
    datagram_draws: bool = field(init=False, repr=False, compare=False)
    """Whether a datagram on this link draws any fault (loss, duplication, jitter, reorder):
    worked out once here, as the network asks it for every datagram."""

    def __post_init__(self) -> None:
        _check_pct("loss_pct", self.loss_pct)
        _check_pct("duplicate_pct", self.duplicate_pct)
        _check_pct("reorder_pct", self.reorder_pct)
        _check_pct("reset_pct", self.reset_pct)
        _check_pct("refuse_pct", self.refuse_pct)
        _check_pct("split_pct", self.split_pct)
        _check_pct("coalesce_pct", self.coalesce_pct)
        _check_ms("delay_ms", self.delay_ms)
        _check_ms("jitter_ms", self.jitter_ms)
        _check_ms("reorder_delay_ms", self.reorder_delay_ms)
        _check_ms("coalesce_hold_ms", self.coalesce_hold_ms)
        draws = (
            self.loss_pct > 0
            or self.duplicate_pct > 0
            or self.jitter_ms > 0
            or self.reorder_pct > 0
        )
        object.__setattr__(self, "datagram_draws", draws)


NO_FAULTS = LinkFaults()
"""A perfect link: no loss, no delay."""


def _matches(selector: Selector, address: Address) -> bool:
    if selector is None:
        return True
    if isinstance(selector, str):
        return selector == address[0]
    return selector == address


@dataclass(frozen=True, slots=True)
class LinkRule:
    """Faults for traffic from ``src`` to ``dst`` (one direction only)."""

    src: Selector
    dst: Selector
    faults: LinkFaults

    def matches(self, src: Address, dst: Address) -> bool:
        """Whether this rule applies to a packet from ``src`` to ``dst``."""
        return _matches(self.src, src) and _matches(self.dst, dst)


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Which faults apply to which direction; see the module docstring."""

    default: LinkFaults = NO_FAULTS
    rules: tuple[LinkRule, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.default, LinkFaults):
            raise ConfigError("fault plan: default must be a LinkFaults")
        for rule in self.rules:
            if not isinstance(rule, LinkRule):
                raise ConfigError(f"fault plan: rules must be LinkRule values, got {rule!r}")

    @classmethod
    def uniform(cls, **faults: float) -> FaultPlan:
        """The same ``LinkFaults(**faults)`` in every direction."""
        return cls(default=LinkFaults(**faults))

    def for_link(self, src: Address, dst: Address) -> LinkFaults:
        """The faults for a packet from ``src`` to ``dst``: first matching rule, else default."""
        for rule in self.rules:
            if rule.matches(src, dst):
                return rule.faults
        return self.default


def packet_identity(
    time_s: float, src: Address, dst: Address, tiebreak: str, occurrence: int, copy: int
) -> str:
    """The text that names one packet copy for seeding (part of the documented recipe).

    ``time_s`` is the virtual send time, printed with ``repr`` (shortest round-trip form, the
    same on every platform); ``tiebreak`` is the datagram digest (hex) or a stream sequence.
    """
    return f"{time_s!r}:{src[0]}:{src[1]}>{dst[0]}:{dst[1]}:{tiebreak}:{occurrence}:{copy}"


def draw_unit(seed: int, purpose: str, identity: str) -> float:
    """A uniform float in [0, 1) for one decision.

    Recipe: ``random.Random(f"{seed}:{purpose}:{identity}").random()``. Seeding ``Random`` with a
    str hashes it with SHA-512 (not ``hash()``), so the value does not depend on
    PYTHONHASHSEED, the platform or the order in which decisions are taken.
    """
    return random.Random(f"{seed}:{purpose}:{identity}").random()


def split_cuts(seed: int, identity: str, size: int) -> tuple[int, ...]:
    """Where the split fault cuts a stream chunk of ``size`` bytes (>= 2): 1 or 2 offsets.

    Recipe (part of the documented one): 3 pieces when ``size >= 3`` and the "split_pieces" draw
    is >= 0.5, else 2. The first cut is ``1 + int(u * (size - 1))`` with ``u`` the "split_cut1"
    draw, so every piece is non-empty; the second is ``1 + int(v * (size - 2))`` with ``v`` the
    "split_cut2" draw, plus 1 when that is >= the first cut (the offsets in [1, size) other than
    the first, equally likely). Returned sorted.
    """
    if size < 2:
        raise ValueError(f"split_cuts: cannot cut a chunk of {size} byte(s)")
    first = 1 + int(draw_unit(seed, "split_cut1", identity) * (size - 1))
    if size < 3 or draw_unit(seed, "split_pieces", identity) < 0.5:
        return (first,)
    second = 1 + int(draw_unit(seed, "split_cut2", identity) * (size - 2))
    if second >= first:
        second += 1
    return (min(first, second), max(first, second))
