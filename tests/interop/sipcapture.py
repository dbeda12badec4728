"""Kamailio's sipcapture module as the HEP3 collector of the interop tests (see
kamailio/sipcapture.cfg.in): a gate instance that checks the authentication key and a store
instance that writes SQLite rows, both on loopback."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

from tests.interop.harness import udp_port_bound
from tests.interop.kamailio_proxy import free_ports, render

TEMPLATES = pathlib.Path(__file__).parent / "kamailio"
CAPTURE_NODE = "gossipper-test"
START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Collector:
    hep_port: int
    database: pathlib.Path
    gate_log: pathlib.Path
    store_log: pathlib.Path

    def rows(self, table: str) -> list[dict[str, object]]:
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(f"SELECT * FROM {table} ORDER BY id")]

    def wait_rows(self, table: str, count: int, timeout_s: float = 15.0) -> list[dict[str, object]]:
        """The table's rows once it holds at least ``count`` (or at the deadline): the store
        instance writes a moment after the sender has exited, so an immediate read can miss the
        last packets."""
        deadline = time.monotonic() + timeout_s
        rows = self.rows(table)
        while len(rows) < count and time.monotonic() < deadline:
            time.sleep(0.1)
            rows = self.rows(table)
        return rows

    def refused(self) -> int:
        return self.gate_log.read_text(errors="replace").count("HEP REFUSED")


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def sipcapture(binary: str, directory: pathlib.Path, password: str) -> Iterator[Collector]:
    """Start the store, then the gate; yield; stop both."""
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "capture.db"
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.executescript((TEMPLATES / "sipcapture.sql").read_text())
        # WAL (kept in the file): the test's polling reads never lock Kamailio's inserts out.
        # In rollback mode a read at the wrong moment made db_sqlite drop a row (SQLITE_BUSY).
        db.execute("PRAGMA journal_mode=WAL")
    hep_port, store_port = free_ports(2)
    processes: list[subprocess.Popen[bytes]] = []
    logs: dict[str, pathlib.Path] = {}
    try:
        for role in ("store", "gate"):
            config = directory / f"{role}.cfg"
            render(
                TEMPLATES / "sipcapture.cfg.in",
                config,
                {
                    "ROLE": role,
                    "HEP_PORT": hep_port,
                    "STORE_PORT": store_port,
                    "DB_FILE": database,
                    "HEP_PASSWORD": password,
                },
            )
            checked = subprocess.run(
                [binary, "-c", "-f", str(config)], capture_output=True, text=True, timeout=30
            )
            assert checked.returncode == 0, checked.stderr[-3000:]
            run_dir = directory / f"run-{role}"
            run_dir.mkdir(exist_ok=True)
            logs[role] = directory / f"{role}.log"
            with logs[role].open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            binary,
                            "-DD",
                            "-E",
                            "-f",
                            str(config),
                            "-m",
                            "32",
                            "-M",
                            "8",
                            "-Y",
                            str(run_dir),
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            _wait_started(processes[-1], logs[role], store_port if role == "store" else hep_port)
        yield Collector(hep_port, database, logs["gate"], logs["store"])
    finally:
        for process in reversed(processes):
            _stop(process)


def _wait_started(process: subprocess.Popen[bytes], log: pathlib.Path, port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kamailio exited at start:\n{log.read_text()[-4000:]}")
        if udp_port_bound(port):
            # Bound by the main process; its worker that reads the socket comes a moment later.
            time.sleep(0.5)
            return
        time.sleep(0.1)
    raise AssertionError(f"kamailio did not start:\n{log.read_text()[-4000:]}")
