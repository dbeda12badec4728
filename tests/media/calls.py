"""A gossipper UAS and a gossipper UAC calling it on loopback (real sockets, two processes),
for the media tests that run real calls.

One place starts the pair, always reaps the UAS and reads the -trace_media rows, so that every
such test passes gossipper the same options the same way and none leaves a process or a pipe
behind (a leaked one is a ResourceWarning, an error under the suite's filterwarnings).
"""

from __future__ import annotations

import csv
import os
import pathlib
import subprocess
import sys
from collections.abc import Callable, Sequence

from tests.interop.harness import LOOPBACK, free_udp_port, wait_for_udp_listener
from tests.interop.media import free_udp_port_block

REPO = pathlib.Path(__file__).resolve().parents[2]

Completed = subprocess.CompletedProcess[str]


def gossipper(*args: str, cwd: pathlib.Path, extra: Sequence[str] = ()) -> subprocess.Popen[str]:
    """Start ``python -m gossipper ARGS -nostdin -trace_media EXTRA`` in ``cwd``.

    PYTHONPATH is this checkout, so the scenario's directory can be the working directory;
    -nostdin because pytest's stdin is no terminal; -trace_media for the rows tests read
    (``media_rows``); ``extra`` for what one test file wants of every run (-trace_err,
    -summary_json summary.json). Output is captured as text for the assertions' messages.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "gossipper", *args, "-nostdin", "-trace_media", *extra],
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_call_pair(
    uas_scenario: str,
    uac_scenario: str,
    *,
    uas_dir: pathlib.Path,
    uac_dir: pathlib.Path,
    uas_args: Sequence[str] = (),
    uac_args: Sequence[str] = (),
    extra: Sequence[str] = (),
    rtp_ports: int = 100,
    uac_timeout: float = 60,
    uas_timeout: float | None = 30,
    uac_status: int | None = None,
    wait_listening: bool = False,
    while_uac: Callable[[subprocess.Popen[str]], None] | None = None,
) -> tuple[Completed, Completed, int]:
    """One call (-m 1) from a UAC to a UAS on a free SIP port; returns (uac, uas, base).

    The RTP block of ``rtp_ports`` ports starting at ``base`` is split in two: the UAS binds
    in the lower half and the UAC in the upper one, so that the two never meet on a port. The
    UAC is waited for (``uac_timeout``), then the UAS (``uas_timeout``; None: not at all, for
    a test that judges the UAC alone); the UAS is killed and reaped whatever happens.
    With ``uac_status``, a UAC that exits with another status leaves the UAS unwaited too:
    it would only time out, and the caller's assertion on the UAC's output says more.
    ``wait_listening``: the UAC starts once the UAS's SIP port is bound (a first INVITE that
    finds nobody would be retransmitted). ``while_uac`` runs while the UAC runs (a collector).
    """
    sip_port = free_udp_port()
    base = free_udp_port_block(rtp_ports)
    half = rtp_ports // 2
    uas = gossipper(
        "-sf", uas_scenario, "-i", LOOPBACK, "-p", str(sip_port), "-m", "1",
        "-min_rtp_port", str(base), "-max_rtp_port", str(base + half - 1), *uas_args,
        cwd=uas_dir, extra=extra,
    )  # fmt: skip
    waited: tuple[str, str] | None = None
    try:
        if wait_listening:
            wait_for_udp_listener(sip_port, uas)
        uac = gossipper(
            "-sf", uac_scenario, "-i", LOOPBACK, f"{LOOPBACK}:{sip_port}", "-m", "1",
            "-min_rtp_port", str(base + half), "-max_rtp_port", str(base + rtp_ports - 1),
            *uac_args, cwd=uac_dir, extra=extra,
        )  # fmt: skip
        if while_uac is not None:
            while_uac(uac)
        uac_out, uac_err = uac.communicate(timeout=uac_timeout)
        if uas_timeout is not None and uac_status in (None, uac.returncode):
            waited = uas.communicate(timeout=uas_timeout)
    finally:
        uas.kill()
        killed = uas.communicate()  # reaps it and closes its pipes
    uas_out, uas_err = killed if waited is None else waited
    return (
        subprocess.CompletedProcess(uac.args, uac.returncode, uac_out, uac_err),
        subprocess.CompletedProcess(uas.args, uas.returncode, uas_out, uas_err),
        base,
    )


def media_rows(directory: pathlib.Path, pattern: str = "*_media.csv") -> list[dict[str, str]]:
    """Every row of the one -trace_media file matching ``pattern`` in ``directory`` (a UAS
    and a UAC sharing a directory each write one: name the scenario's)."""
    (path,) = directory.glob(pattern)
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))
