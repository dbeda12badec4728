"""``gossipper pcap2scenario``: from a capture file to scenario files in a directory.

Dialogs of the same shape (the same scenario text once the users are fields and the pauses are
blanked) share one scenario pair and an injection CSV with one line per dialog.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence

from gossipper.capture import CaptureError
from gossipper.capture.dialogs import Dialog, group_dialogs
from gossipper.capture.reader import CaptureRead, read_capture
from gossipper.capture.scenarios import (
    GenerateOptions,
    dialog_scenarios,
    mask_pauses,
    user_values,
)
from gossipper.errors import ConfigError

__all__ = ["Selection", "WrittenPair", "convert", "select_dialogs"]


@dataclasses.dataclass(frozen=True, slots=True)
class Selection:
    """Which dialogs to convert (all when empty)."""

    call_ids: tuple[str, ...] = ()
    method: str | None = None
    from_s: float | None = None
    """Seconds after the capture's first packet, or Unix seconds when ``absolute``."""
    to_s: float | None = None
    from_absolute: bool = False
    to_absolute: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class WrittenPair:
    uac_path: str
    uas_path: str
    csv_path: str | None
    dialogs: tuple[Dialog, ...]


def select_dialogs(read: CaptureRead, selection: Selection) -> list[Dialog]:
    dialogs = group_dialogs(read.messages)
    origin = read.first_time_s or 0.0
    chosen = []
    for dialog in dialogs:
        if selection.call_ids and dialog.call_id not in selection.call_ids:
            continue
        if selection.method and dialog.method.upper() != selection.method.upper():
            continue
        offset_s = dialog.start_s - origin
        if selection.from_s is not None:
            start_s = dialog.start_s if selection.from_absolute else offset_s
            if start_s < selection.from_s:
                continue
        if selection.to_s is not None:
            start_s = dialog.start_s if selection.to_absolute else offset_s
            if start_s > selection.to_s:
                continue
        chosen.append(dialog)
    return chosen


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)[:40] or "dialog"


def convert(
    capture: str,
    directory: str,
    selection: Selection,
    options: GenerateOptions,
    *,
    force: bool = False,
) -> tuple[CaptureRead, list[WrittenPair]]:
    """Write the scenarios of the selected dialogs of ``capture`` into ``directory``.

    Raises:
        CaptureError: unreadable capture, no SIP, nothing selected, or an output file that exists
            (without ``force``).
    """
    read = read_capture(capture)
    if not read.messages:
        raise CaptureError(
            f"{capture}: no SIP message in {read.packets} packet(s); capture SIP traffic (UDP or"
            " TCP) and try again"
        )
    dialogs = select_dialogs(read, selection)
    if not dialogs:
        raise CaptureError(
            f"{capture}: no dialog matches the selection (--call-id/--method/--from/--to)"
        )
    groups: dict[tuple[str, str], list[Dialog]] = {}
    for dialog in dialogs:
        shape = dialog_scenarios(dialog, options, use_fields=True)
        key = (mask_pauses(shape.uac_xml), mask_pauses(shape.uas_xml))
        groups.setdefault(key, []).append(dialog)
    plans: list[tuple[str, str, str | None, str, str, str | None, tuple[Dialog, ...]]] = []
    for number, members in enumerate(groups.values(), start=1):
        first = members[0]
        users = {user_values(dialog) for dialog in members}
        use_fields = len(members) > 1 and len(users) > 1
        pair = dialog_scenarios(first, options, use_fields=use_fields)
        stem = f"{number:03d}_{_safe(first.method)}"
        csv_text = None
        if use_fields:
            rows = "".join(";".join(user_values(dialog)) + ";\n" for dialog in members)
            csv_text = "SEQUENTIAL\n" + rows
        plans.append(
            (
                os.path.join(directory, f"{stem}_uac.xml"),
                os.path.join(directory, f"{stem}_uas.xml"),
                os.path.join(directory, f"{stem}_users.csv") if csv_text else None,
                pair.uac_xml,
                pair.uas_xml,
                csv_text,
                tuple(members),
            )
        )
    if not force:
        for plan in plans:
            for path in plan[:3]:
                if path is not None and os.path.exists(path):
                    raise CaptureError(
                        f"{path} exists; choose another -o directory or add --force to overwrite it"
                    )
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise CaptureError(
            f"-o {directory}: cannot create the directory ({exc.strerror})"
        ) from None
    written: list[WrittenPair] = []
    for uac_path, uas_path, csv_path, uac_xml, uas_xml, csv_text, group in plans:
        _write(uac_path, uac_xml)
        _write(uas_path, uas_xml)
        if csv_path is not None and csv_text is not None:
            _write(csv_path, csv_text)
        written.append(WrittenPair(uac_path, uas_path, csv_path, group))
    return read, written


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="latin-1", errors="replace") as handle:
            handle.write(text)
    except OSError as exc:
        raise CaptureError(f"cannot write {path}: {exc.strerror or exc}") from None


def parse_time(text: str, option: str) -> float:
    """A number of seconds (or a factor)."""
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{option} {text}: give a number (e.g. 12.5)") from None


def parse_instant(text: str, option: str) -> tuple[float, bool]:
    """``--from``/``--to``: (seconds after the first packet, False) for a number, or (Unix
    seconds, True) for an ISO 8601 date and time (UTC unless it names its offset)."""
    try:
        return float(text), False
    except ValueError:
        pass
    import datetime

    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{option} {text}: give seconds after the capture's first packet (12.5) or a UTC"
            " date and time (2026-12-03T07:15:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp(), True


def describe(written: Sequence[WrittenPair]) -> list[str]:
    """One line per pair: files and the commands that replay it."""
    lines = []
    for pair in written:
        first = pair.dialogs[0]
        count = len(pair.dialogs)
        server = f"gossipper -sf {pair.uas_path} -t {'t1' if first.transport == 'TCP' else 'u1'}"
        client = f"gossipper 127.0.0.1 -sf {pair.uac_path} -m {count}"
        if first.transport == "TCP":
            client += " -t t1"
        if pair.csv_path:
            client += f" -inf {pair.csv_path}"
            server += f" -inf {pair.csv_path}"
        else:
            called = user_values(first)[1]
            if called:
                client += f" -s {called}"
        lines.append(f"{first.method} {first.call_id} ({count} dialog(s)): {client} | {server}")
    return lines
