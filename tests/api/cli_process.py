"""A gossipper run with -api_addr as a separate process, and the users it knows."""

from __future__ import annotations

import dataclasses
import pathlib
import signal
import socket
import subprocess
import sys
import time

import httpx

PASSWORD = "correct horse battery"
USERS = {"ada": "admin", "otto": "operator", "vera": "viewer"}


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_users(directory: pathlib.Path) -> list[str]:
    """A users database with one user of each role; the -api_* options that use it."""
    from gossipper.api.auth import UserStore

    store = UserStore(directory / "users.sqlite")
    for name, role in USERS.items():
        store.add(name, PASSWORD, role)  # type: ignore[arg-type]
    return [
        "-api_users", str(directory / "users.sqlite"),
        "-api_secret", str(directory / "token-secret"),
        "-api_audit", str(directory / "audit.log"),
    ]  # fmt: skip


@dataclasses.dataclass
class ApiProcess:
    process: subprocess.Popen[bytes]
    base: str
    directory: pathlib.Path

    def token(self, user: str) -> str:
        response = httpx.post(
            f"{self.base}/api/v1/login", json={"user": user, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    def stop(self) -> tuple[int, str]:
        """End the process (SIGINT if still running); its exit status and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return self.process.returncode, err.decode(errors="replace")


def start_api_run(directory: pathlib.Path, *args: str) -> ApiProcess:
    """``gossipper -sn uac -peer uas ARGS -api_addr 127.0.0.1:PORT`` in ``directory``; returns
    once the health check answers."""
    port = free_tcp_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gossipper", "-sn", "uac", "-peer", "uas", "-i", "127.0.0.1",
            "-nostdin", *args, *make_users(directory), "-api_addr", f"127.0.0.1:{port}",
        ],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    api = ApiProcess(process, f"http://127.0.0.1:{port}", directory)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            status, err = api.stop()
            raise AssertionError(f"gossipper exited with {status}: {err}")
        try:
            if httpx.get(f"{api.base}/api/v1/health", timeout=1).status_code == 200:
                return api
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    status, err = api.stop()
    raise AssertionError(f"the API never answered: {err}")
