"""Value formats shared by SIPp's output files and screens (docs/sipp-behaviour.md, "Outputs":
log time, statistics arithmetic).

SIPp keeps times as ``struct timeval`` (whole microseconds) and durations as whole
milliseconds; rates are C ``float``; doubles go through the C++ default stream format
(6 significant digits, like ``%g``). These helpers reproduce those conversions exactly so that
the same inputs print the same bytes.
"""

from __future__ import annotations

import datetime
import math
import struct

from gossipper.timefmt import epoch_to_us as epoch_to_us
from gossipper.timefmt import format_log_time as format_log_time

_U64 = 1 << 64
_US_PER_S = 1_000_000


def format_rfc3339(epoch_s: float, tz: datetime.tzinfo | None = None) -> str:
    """``YYYY-MM-DDTHH:MM:SS.uuuuuu+HH:MM`` (``Z`` for UTC); microsecond precision."""
    us = epoch_to_us(epoch_s)
    seconds, micros = divmod(us, _US_PER_S)
    zone = tz if tz is not None else datetime.UTC
    moment = datetime.datetime.fromtimestamp(seconds, zone).replace(microsecond=micros)
    text = moment.isoformat(timespec="microseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def elapsed_ms(from_epoch_s: float, to_epoch_s: float) -> int:
    """Whole milliseconds between two wall times, truncated like SIPp's
    ``computeDiffTimeInMs`` on microsecond timevals; never negative."""
    return max(0, (epoch_to_us(to_epoch_s) - epoch_to_us(from_epoch_s)) // 1000)


def ms_to_hhmmss(ms: int) -> str:
    """``HH:MM:SS`` (elapsed columns of the stat CSV); hours grow past two digits."""
    ms %= _U64
    seconds = ms // 1000
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def ms_to_hhmmss_us(ms: int) -> str:
    """``HH:MM:SS:uuuuuu`` with millisecond resolution (the last 3 digits are always 0)."""
    ms %= _U64
    seconds = ms // 1000
    return (
        f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}:{ms % 1000 * 1000:06d}"
    )


def c_ulong(value: float) -> int:
    """C ``(unsigned long)`` of a double as compiled for x86-64: truncation toward zero; NaN
    gives 2**63. SIPp 3.6.1 prints the stddev of a single call length this way (0/0 = NaN),
    which is why ``2562047788015:12:55:808000`` appears in real stat files."""
    if math.isnan(value):
        return 1 << 63
    if math.isinf(value):
        return 1 << 63
    if value >= 1 << 63:
        truncated = int(value)
        return truncated if truncated < _U64 else 1 << 63
    return int(value) % _U64


def c_double(value: float) -> str:
    """A double as the default C++ ostream prints it (precision 6, ``%g``): ``10``,
    ``8.96414``, ``1e-05``."""
    return f"{value:g}"


def f32(value: float) -> float:
    """Round to the nearest IEEE single (SIPp computes call rates in ``float``)."""
    try:
        return float(struct.unpack("f", struct.pack("f", value))[0])
    except OverflowError:
        return math.copysign(math.inf, value)


def sipp_call_rate(calls: int, period_ms: int) -> float:
    """Calls per second as SIPp computes it: ``1000 * (float)n / (float)ms`` in single
    precision, 0 for an empty period."""
    if period_ms <= 0:
        return 0.0
    return f32(f32(1000.0 * f32(float(calls))) / f32(float(period_ms)))


def sipp_time_string(ms: float) -> str:
    """SIPp's short duration text used for pause descriptions on the scenario screen:
    ``0ms``, ``2.50ms``, ``1002.2ms``, ``12.3s``, ``1:01``, ``3:25:45`` (observed with 3.6.1)."""
    if ms < 10000:
        # Integral (or within 1e-4 of the next integer down) values print as whole ms.
        if int(ms + 0.9999) == int(ms):
            return f"{int(ms)}ms"
        if ms < 1000:
            return f"{ms:.2f}ms"
        return f"{ms:.1f}ms"
    if ms < 60000:
        return f"{ms / 1000:.1f}s"
    total_s = int(ms / 1000)
    if ms < 3600000:
        return f"{total_s // 60}:{total_s % 60:02d}"
    return f"{total_s // 3600}:{total_s // 60 % 60:02d}:{total_s % 60:02d}"
