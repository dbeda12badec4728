"""Call-IDs of the calls a client starts: SIPp's ``-cid_str`` template and SIPp 3.7's
``-cid_type`` generators.

Every random draw comes from the call's own generator for this purpose,
``Random(f"{seed}:call_id:{n}")`` (design.md section 5), never from ``uuid4()`` or the
process's generator: ``gossipper sim`` gives the same Call-IDs for the same seed, whatever
order Trio runs the calls in. Real runs get a fresh seed per process, so their Call-IDs differ
from run to run as SIPp's do.

The types (docs/compatibility.md, ``-cid_type``):

- ``default``: the ``-cid_str`` template, ``%u`` call number, ``%p`` pid, ``%s`` local IP,
  ``%r`` a random number 0..2**31-1 (the range of C's ``rand()``, which SIPp 3.7 draws from),
  ``%%`` a percent sign;
- ``uuid``: a version-4 UUID, ``xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx``;
- ``uuid-compact``: the same 32 hex digits without dashes;
- ``random``: 32 random hex digits (128 random bits);
- ``timestamp``: the wall time in microseconds since the epoch, a dash and the call number
  (unique within the run even for calls started in the same microsecond).

The non-default types ignore ``-cid_str`` and add no ``@host`` part.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from gossipper.scenario import RunEnv

__all__ = ["CallIdFormat", "compile_call_id_template"]

RANDOM_CODE_MAX = 2**31 - 1
"""Largest ``%r`` value (glibc's RAND_MAX)."""

_NUMBER = 0
_RANDOM = 1


def compile_call_id_template(template: str, env: RunEnv) -> tuple[str | int, ...]:
    """Split ``-cid_str`` once: literal pieces, and markers where the call number (``_NUMBER``)
    or a random number (``_RANDOM``) goes."""
    pieces: list[str | int] = []
    literal: list[str] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "%" and i + 1 < len(template):
            code = template[i + 1]
            if code in ("u", "r"):
                pieces.append("".join(literal))
                literal = []
                pieces.append(_NUMBER if code == "u" else _RANDOM)
            elif code == "p":
                literal.append(str(env.pid))
            elif code == "s":
                literal.append(env.local_ip)
            elif code == "%":
                literal.append("%")
            else:
                literal.append("%" + code)
            i += 2
            continue
        literal.append(ch)
        i += 1
    pieces.append("".join(literal))
    return tuple(piece for piece in pieces if piece != "")


class CallIdFormat:
    """Makes the Call-ID of client call number ``n`` (see the module docstring)."""

    __slots__ = ("_type", "_pieces", "_seed", "_wall_time", "affixes")

    def __init__(
        self,
        call_id_type: str,
        template: str,
        env: RunEnv,
        *,
        seed: int,
        wall_time: Callable[[], float],
    ) -> None:
        self._type = call_id_type
        self._pieces = compile_call_id_template(template, env)
        self._seed = seed
        self._wall_time = wall_time
        self.affixes: tuple[str, str] | None = None
        """(prefix, suffix) when a Call-ID is prefix + call number + suffix: the usual
        template, which the engine formats inline."""
        pieces = self._pieces
        if call_id_type == "default" and pieces.count(_NUMBER) == 1 and _RANDOM not in pieces:
            cut = pieces.index(_NUMBER)
            self.affixes = (
                "".join(p for p in pieces[:cut] if isinstance(p, str)),
                "".join(p for p in pieces[cut + 1 :] if isinstance(p, str)),
            )

    def _rng(self, number: int) -> random.Random:
        return random.Random(f"{self._seed}:call_id:{number}")

    def format(self, number: int) -> str:
        kind = self._type
        if kind == "default":
            rng: random.Random | None = None
            parts: list[str] = []
            for piece in self._pieces:
                if isinstance(piece, str):
                    parts.append(piece)
                elif piece == _NUMBER:
                    parts.append(str(number))
                else:
                    if rng is None:
                        rng = self._rng(number)
                    parts.append(str(rng.randint(0, RANDOM_CODE_MAX)))
            return "".join(parts)
        if kind == "timestamp":
            return f"{round(self._wall_time() * 1_000_000)}-{number}"
        bits = self._rng(number).getrandbits(128)
        if kind == "random":
            return f"{bits:032x}"
        import uuid  # only for -cid_type uuid (start-up: docs/performance.md)

        value = uuid.UUID(int=bits, version=4)
        return value.hex if kind == "uuid-compact" else str(value)
