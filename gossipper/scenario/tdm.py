"""``-tdmmap``: SIPp's table of TDM circuits, one taken by each call for its lifetime.

``-tdmmap {a-b}{h}{c-d}{e-f}`` describes (b-a+1) x (d-c+1) x (f-e+1) circuits named
``X.h.Y/Z`` (X in a..b, Y in c..d, Z in e..f; ``h`` is fixed). SIPp gives every call it creates
(client or server, not the automatic answers) a free circuit, starting its search at a random
circuit, and frees it when the call ends; a call created while every circuit is busy fails at
once as FailedOutboundCongestion, with the warning "all tdm_map circuits busy". ``[tdmmap]``
prints the call's circuit.

Pure state: the engine passes the random start (from the call's seeded generator, so a
simulation allocates the same circuits every time) and the circuit numbers back.
"""

from __future__ import annotations

__all__ = ["TdmMap"]


class TdmMap:
    """The circuits of one run and which are busy."""

    __slots__ = ("_x", "_x_count", "_h", "_y", "_y_count", "_z", "_z_count", "_busy", "_free")

    def __init__(self, a: int, b: int, h: int, c: int, d: int, e: int, f: int) -> None:
        """The ranges a-b, c-d, e-f (low to high) and the fixed ``h``
        (``gossipper.config.parse_tdm_map`` returns them in this order)."""
        if a > b or c > d or e > f:
            raise ValueError("-tdmmap ranges must run low to high")
        self._x, self._x_count = a, b - a + 1
        self._h = h
        self._y, self._y_count = c, d - c + 1
        self._z, self._z_count = e, f - e + 1
        self._busy = [False] * (self._x_count * self._y_count * self._z_count)
        self._free = len(self._busy)

    @property
    def size(self) -> int:
        """How many circuits the map has."""
        return len(self._busy)

    @property
    def free(self) -> int:
        """How many circuits are free now."""
        return self._free

    def take(self, start: int) -> int:
        """Mark the first free circuit at or after ``start`` (cyclically) busy and return its
        number (0-based), or -1 when every circuit is busy."""
        busy = self._busy
        size = len(busy)
        if not self._free:
            return -1
        for step in range(size):
            number = (start + step) % size
            if not busy[number]:
                busy[number] = True
                self._free -= 1
                return number
        return -1  # pragma: no cover - _free says one is free

    def busy(self, number: int) -> bool:
        """Whether circuit ``number`` is held by a call now."""
        return 0 <= number < len(self._busy) and self._busy[number]

    def release(self, number: int) -> None:
        """The call holding circuit ``number`` ended."""
        if 0 <= number < len(self._busy) and self._busy[number]:
            self._busy[number] = False
            self._free += 1

    def name(self, number: int) -> str:
        """``[tdmmap]`` of circuit ``number``: ``X.h.Y/Z``, circuit 0 being ``a.h.c/e``."""
        z = self._z + number % self._z_count
        y = self._y + (number // self._z_count) % self._y_count
        x = self._x + (number // (self._z_count * self._y_count)) % self._x_count
        return f"{x}.{self._h}.{y}/{z}"
