"""SIPp's "log time" text, shared by the scenario layer (``[timestamp]``) and the output
formats (CSV time columns, logs, screens). Stdlib only: it sits on the floor of the layering,
next to ``errors``, so that ``scenario`` and ``stats`` can both use it without importing each
other.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

_US_PER_S = 1_000_000


def epoch_to_us(epoch_s: float) -> int:
    """Wall time as whole microseconds (SIPp's ``timeval``); rounded, so 0.5 us float noise
    cannot turn ``.487751`` into ``.487750``."""
    return round(epoch_s * _US_PER_S)


def format_log_time(epoch_s: float, tz: datetime.tzinfo | None = None) -> str:
    """SIPp "log time": ``YYYY-MM-DD<TAB>HH:MM:SS.uuuuuu<TAB>EPOCH.uuuuuu``
    (docs/sipp-behaviour.md#log-time): the date and time in ``tz``, then the Unix epoch
    with the seconds zero-padded to 10 digits.

    ``tz`` None means the local time zone of the process (as SIPp's ``localtime``).
    """
    us = epoch_to_us(epoch_s)
    seconds, micros = divmod(us, _US_PER_S)
    if tz is None:
        moment = datetime.datetime.fromtimestamp(seconds)
    else:
        moment = datetime.datetime.fromtimestamp(seconds, tz)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}\t"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{micros:06d}\t"
        f"{seconds:010d}.{micros:06d}"
    )


def utc_offset_text(moment: datetime.datetime) -> str:
    """RFC 3339 ``time-offset`` of an aware datetime: ``Z`` for UTC, else ``+HH:MM``."""
    offset = moment.utcoffset() or datetime.timedelta(0)
    if not offset:
        return "Z"
    sign = "-" if offset < datetime.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_log_time_rfc3339(epoch_s: float, tz: datetime.tzinfo | None = None) -> str:
    """SIPp 3.7's log time under ``-rfc3339``: ``YYYY-MM-DDTHH:MM:SS.uuuuuu+HH:MM`` (``Z`` in
    UTC), in ``tz`` or, for None, the local time zone of the process (as SIPp's
    ``localtime``)."""
    us = epoch_to_us(epoch_s)
    seconds, micros = divmod(us, _US_PER_S)
    if tz is None:
        moment = datetime.datetime.fromtimestamp(seconds).astimezone()
    else:
        moment = datetime.datetime.fromtimestamp(seconds, tz)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{micros:06d}"
        f"{utc_offset_text(moment)}"
    )


def log_time_formatter(rfc3339: bool) -> Callable[[float, datetime.tzinfo | None], str]:
    """The run's date format: SIPp's log time, or RFC 3339 with ``-rfc3339``."""
    return format_log_time_rfc3339 if rfc3339 else format_log_time
