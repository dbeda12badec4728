"""RTP/RTCP port pairs for calls: an even RTP port and RTCP on the next one (RFC 3550 11).

Pure bookkeeping (no sockets): which pairs of ``-min_rtp_port..-max_rtp_port`` are lent to
calls. A pair is taken when a call opens its media and given back when the call's media
closes; the search continues after the last pair taken (round robin), so a port just released
is not reused at once and late packets of an ended call do not land in the next one.
"""

from __future__ import annotations

from gossipper.errors import GossipperError


class PortRangeError(GossipperError):
    """No free pair is left in the range (or the range holds none at all)."""


class PortAllocator:
    """Blocks of ``block`` consecutive ports (an even base) inside ``low..high``.

    ``block`` is 2 for an audio pair, 4 when each call also needs a video pair at base + 2.
    """

    __slots__ = ("low", "high", "block", "_count", "_next", "_used")

    def __init__(self, low: int, high: int, *, block: int = 2) -> None:
        if block < 2 or block % 2:
            raise ValueError("a port block is an even number of ports, at least 2")
        self.low = low + (low % 2)  # RTP on an even port
        self.high = high
        self.block = block
        self._count = max(0, (high - self.low + 1) // block)
        self._next = 0
        self._used: set[int] = set()

    @property
    def capacity(self) -> int:
        """How many blocks the range holds."""
        return self._count

    @property
    def in_use(self) -> int:
        return len(self._used)

    def take(self) -> int:
        """The base port of a free block. A block the caller then fails to bind (another
        program holds it) is simply not given back: it stays out of use for the run.

        Raises:
            PortRangeError: every block of the range is lent.
        """
        count = self._count
        if len(self._used) >= count:
            raise PortRangeError(
                f"all {count} RTP port pairs of {self.low}-{self.high} are in use"
                " (raise -max_rtp_port or lower -min_rtp_port, or lower -l)"
            )
        index = self._next
        for _ in range(count):
            if index not in self._used:
                self._used.add(index)
                self._next = (index + 1) % count
                return self.low + index * self.block
            index = (index + 1) % count
        raise PortRangeError(f"no free RTP port pair left in {self.low}-{self.high}")

    def give_back(self, base: int) -> None:
        self._used.discard((base - self.low) // self.block)
