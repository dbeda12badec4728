"""SIP messages of a capture grouped into dialogs (one per Call-ID), each between two endpoints.

The endpoint that sent the first request of a Call-ID is the UAC side, its destination the UAS
side. Messages of the same Call-ID between other endpoints (the other leg of a proxy) and
retransmissions (the same bytes sent again by the same endpoint) are left out and counted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from gossipper.capture.reader import CapturedMessage, Endpoint

__all__ = ["Dialog", "group_dialogs"]


@dataclasses.dataclass(slots=True)
class Dialog:
    """The messages of one Call-ID between its UAC and UAS endpoints, in capture order."""

    call_id: str
    uac: Endpoint
    uas: Endpoint
    transport: str
    messages: list[CapturedMessage]
    retransmissions: int = 0
    other_legs: int = 0
    """Messages of this Call-ID between other endpoints (left out)."""

    @property
    def start_s(self) -> float:
        return self.messages[0].time_s

    @property
    def method(self) -> str:
        """The method of the dialog's first request."""
        return self.messages[0].message.method


def group_dialogs(messages: Iterable[CapturedMessage]) -> list[Dialog]:
    """The dialogs of ``messages``, ordered by their first request.

    A Call-ID whose first captured message is a response (the capture started mid-call) starts
    its dialog at its first request; the responses before it are counted as other legs.
    """
    dialogs: dict[str, Dialog] = {}
    orphans: dict[str, int] = {}
    seen: set[tuple[Endpoint, bytes]] = set()
    for captured in messages:
        message = captured.message
        dialog = dialogs.get(message.call_id)
        if dialog is None:
            if not message.is_request:
                orphans[message.call_id] = orphans.get(message.call_id, 0) + 1
                continue
            dialog = Dialog(
                call_id=message.call_id,
                uac=captured.src,
                uas=captured.dst,
                transport=captured.transport,
                messages=[],
                other_legs=orphans.pop(message.call_id, 0),
            )
            dialogs[message.call_id] = dialog
        ends = {captured.src, captured.dst}
        if ends != {dialog.uac, dialog.uas}:
            dialog.other_legs += 1
            continue
        key = (captured.src, message.raw)
        if key in seen:
            dialog.retransmissions += 1
            continue
        seen.add(key)
        dialog.messages.append(captured)
    return sorted(dialogs.values(), key=lambda dialog: dialog.start_s)
