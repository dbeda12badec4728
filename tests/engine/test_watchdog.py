"""The watchdog (gossipper.engine.watchdog): SIPp's trip, limit and reset rules driven by a
clock the test controls, the Trio task against a loop that is really blocked, and a real run
whose event loop is blocked by a scenario (a [file] keyword reading a FIFO) without any hook."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import threading
import time

import trio

from gossipper.config import ProcessSettings
from gossipper.engine.watchdog import Watchdog

ROOT = pathlib.Path(__file__).resolve().parents[2]


class Counters:
    def __init__(self) -> None:
        self.watchdog_major = 0
        self.watchdog_minor = 0


class Recorder:
    """A watchdog on a fake clock, with what it warned and why it ended the run."""

    def __init__(self, **settings: object) -> None:
        self.stats = Counters()
        self.warnings: list[str] = []
        self.fatal: list[str] = []
        self.now = 0.0
        self.dog = Watchdog(
            ProcessSettings(**settings),  # type: ignore[arg-type]
            stats=self.stats,  # type: ignore[arg-type]
            warning=self.warnings.append,
            fatal=self.fatal.append,
            now_s=0.0,
        )

    def after(self, gap_s: float) -> None:
        self.now += gap_s
        self.dog.check(self.now)


def test_on_time_checks_never_trip() -> None:
    r = Recorder()
    for _ in range(1000):
        r.after(0.4)
    assert (r.stats.watchdog_minor, r.stats.watchdog_major) == (0, 0)
    assert r.warnings == [] and r.fatal == [] and r.dog.lag_s == 0.0


def test_gaps_above_the_thresholds_are_minor_and_major_trips() -> None:
    r = Recorder()
    r.after(0.5)  # not above 500 ms
    r.after(0.501)
    assert r.dog.lag_s > 0.1
    r.after(3.0)  # above minor, not above major
    r.after(3.2)
    assert (r.stats.watchdog_minor, r.stats.watchdog_major) == (2, 1)
    assert r.warnings == [
        "Overload warning: the minor watchdog timer 500ms has been tripped (501),"
        " 119 trips remaining.",
        "Overload warning: the minor watchdog timer 500ms has been tripped (3000),"
        " 118 trips remaining.",
        "Overload warning: the major watchdog timer 3000ms has been tripped (3200),"
        " 9 trips remaining.",
    ]
    assert r.fatal == []


def test_more_minor_trips_than_allowed_end_the_run() -> None:
    r = Recorder(watchdog_minor_maxtriggers=3)
    for _ in range(3):
        r.after(0.6)
    assert r.fatal == []
    r.after(0.6)
    assert r.dog.stopped
    assert r.fatal == [
        "Overload error: the watchdog timer has tripped the minor threshold of 500ms too many"
        " times (4 out of 3 allowed) (0 out of 10 major 3000ms timeouts tripped)"
    ]


def test_major_limit_and_no_limit() -> None:
    r = Recorder(watchdog_major_maxtriggers=0)
    r.after(3.5)
    assert r.fatal == [
        "Overload error: the watchdog timer has tripped the major threshold of 3000ms too many"
        " times (1 out of 0 allowed) (0 out of 120 minor 500ms timeouts tripped)"
    ]
    unlimited = Recorder(watchdog_major_maxtriggers=-1, watchdog_minor_maxtriggers=-1)
    for _ in range(500):
        unlimited.after(4.0)
        unlimited.after(1.0)
    assert unlimited.fatal == [] and unlimited.stats.watchdog_major == 500


def test_trips_are_forgotten_after_the_reset_period_without_one() -> None:
    r = Recorder(watchdog_minor_maxtriggers=2, watchdog_reset_s=10.0)
    r.after(0.6)
    r.after(0.6)  # two trips at t=1.2: the limit
    for _ in range(25):  # 10 s on time
        r.after(0.4)
    assert r.warnings[-1] == (
        "Resetting watchdog timer trigger counts, as it has not been triggered in over 10000ms."
    )
    assert r.dog.minor_triggers == 0
    r.after(0.6)
    r.after(0.6)
    assert r.fatal == []  # counted from zero again: 2 of 2 allowed
    assert r.stats.watchdog_minor == 4  # the statistics keep every trip
    never = Recorder(watchdog_minor_maxtriggers=2, watchdog_reset_s=0.0)
    never.after(0.6)
    for _ in range(10000):
        never.after(0.4)
    never.after(0.6)
    never.after(0.6)
    assert never.fatal  # -watchdog_reset 0: no reset


def test_the_trio_task_counts_a_loop_that_is_really_blocked() -> None:
    stats = Counters()
    fatal: list[str] = []

    async def main() -> None:
        settings = ProcessSettings(
            watchdog_interval_s=0.02,
            watchdog_minor_threshold_s=0.1,
            watchdog_major_threshold_s=0.3,
            watchdog_major_maxtriggers=0,
        )
        dog = Watchdog(
            settings,
            stats=stats,  # type: ignore[arg-type]
            warning=lambda text: None,
            fatal=fatal.append,
            now_s=trio.current_time(),
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(dog.run)
            await trio.sleep(0.1)
            time.sleep(0.5)  # noqa: ASYNC251 (the whole event loop stops for 500 ms)
            await trio.sleep(0.1)
            assert dog.stopped  # the task ended itself
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert stats.watchdog_major == 1
    assert len(fatal) == 1 and "major threshold of 300ms too many times" in fatal[0]


def test_a_run_with_a_blocked_event_loop_trips_and_hits_the_limit(tmp_path: pathlib.Path) -> None:
    """A scenario whose first message reads a FIFO stalls the whole loop until this test
    writes to it: the watchdog wakes late, counts a major trip and, at the limit, exits 255.
    (The name holds [call_number] so it is read when the call sends, not when the scenario is
    bound before the traffic starts.)"""
    fifo = tmp_path / "body1.fifo"
    os.mkfifo(fifo)
    (tmp_path / "uac.xml").write_text(
        f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="blocker">
  <send><![CDATA[
OPTIONS sip:x@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:a@[local_ip]>;tag=[call_number]
To: <sip:x@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 OPTIONS
Content-Length: [len]

[file name="{tmp_path}/body[call_number].fifo"]
  ]]></send>
  <pause milliseconds="400"/>
</scenario>
"""
    )

    def feed_fifo_after(delay_s: float) -> None:
        # A non-blocking open for writing fails (ENXIO) until the reader, the event loop of
        # the run, has opened its end: from then on the loop is stuck for delay_s.
        deadline = time.monotonic() + 30
        while True:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.01)
        time.sleep(delay_s)
        os.write(fd, b"x")
        os.close(fd)

    def run(*options: str) -> tuple[int, str, dict[str, object]]:
        summary = tmp_path / "summary.json"
        summary.unlink(missing_ok=True)
        feeder = threading.Thread(target=feed_fifo_after, args=(1.0,))
        feeder.start()
        done = subprocess.run(
            [sys.executable, "-m", "gossipper", "127.0.0.1:9", "-sf", "uac.xml", "-m", "1"]
            + ["-nostdin", "-i", "127.0.0.1", "-summary_json", str(summary)]
            + ["-watchdog_interval", "50", "-watchdog_minor_threshold", "200"]
            + ["-watchdog_major_threshold", "600", *options],
            cwd=tmp_path,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
            timeout=60,
        )
        feeder.join()
        doc = json.loads(summary.read_text()) if summary.exists() else {}
        return done.returncode, done.stderr, doc

    status, stderr, doc = run()
    assert status == 0, stderr
    messages = doc["messages"]
    assert isinstance(messages, dict)
    assert messages["watchdog_major"] == 1
    assert messages["warnings"] >= 1

    status, stderr, _ = run("-watchdog_major_maxtriggers", "0")
    assert status == 255
    assert stderr.strip().splitlines()[-1] == (
        "gossipper: error: Overload error: the watchdog timer has tripped the major threshold"
        " of 600ms too many times (1 out of 0 allowed) (0 out of 120 minor 200ms timeouts"
        " tripped)"
    )


def test_overloaded_after_a_trip_or_while_the_next_check_is_overdue() -> None:
    r = Recorder()
    assert not r.dog.overloaded(0.3)
    assert r.dog.overloaded(0.51)  # the check due at 0.4 has not run by 0.51: the loop lags
    r.after(0.6)  # a minor trip
    assert r.dog.overloaded(0.6)
    r.after(0.4)  # on time again
    assert not r.dog.overloaded(1.0)


def test_a_lagging_loop_skips_and_counts_new_calls_instead_of_a_burst(
    tmp_path: pathlib.Path,
) -> None:
    """Calls fall due while the loop is stuck; when it runs again, the pacing task skips them
    (summary calls.skipped_overload) rather than starting them all at once, and -m is still
    reached with calls started on schedule afterwards."""
    fifo = tmp_path / "body.fifo"
    os.mkfifo(fifo)
    # [field0] is read per call (not folded at bind); the file's text is cached after call 1.
    (tmp_path / "body.csv").write_text(f"SEQUENTIAL\n{fifo}\n")
    (tmp_path / "uac.xml").write_text(
        """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="blocker">
  <send><![CDATA[
OPTIONS sip:x@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:a@[local_ip]>;tag=[call_number]
To: <sip:x@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 OPTIONS
Content-Length: [len]

[file name="[field0]"]
  ]]></send>
  <pause milliseconds="100"/>
</scenario>
"""
    )
    summary = tmp_path / "summary.json"

    def feed() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.01)
                continue
            time.sleep(1.0)
            os.write(fd, b"x")
            os.close(fd)
            return

    feeder = threading.Thread(target=feed)
    feeder.start()
    done = subprocess.run(
        [sys.executable, "-m", "gossipper", "127.0.0.1:9", "-sf", "uac.xml", "-inf", "body.csv"]
        + ["-r", "100", "-m", "50", "-nostdin", "-i", "127.0.0.1"]
        + ["-summary_json", str(summary), "-watchdog_interval", "50"]
        + ["-watchdog_minor_threshold", "200", "-watchdog_major_threshold", "600"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    feeder.join()
    assert done.returncode == 0, done.stderr
    doc = json.loads(summary.read_text())
    # About 100 calls fell due during the 1 s stall (100 calls/s): skipped, not burst.
    assert doc["calls"]["skipped_overload"] >= 50
    assert doc["calls"]["total"] == 50 and doc["calls"]["successful"] == 50
    assert doc["calls"]["peak"] < 30  # no burst of the overdue calls
    assert doc["messages"]["watchdog_major"] >= 1
