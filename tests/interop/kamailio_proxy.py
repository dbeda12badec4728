"""A Kamailio proxy/registrar on loopback for interop tests (see kamailio/README.md).

``start_kamailio`` renders kamailio/kamailio.cfg.in and tls.cfg.in into a test's tmp_path with free
ports and trustme certificates, checks the configuration (``kamailio -c``), starts Kamailio in the
foreground and waits until every listener answers. ``KamailioProxy.stop`` ends it. The pytest
fixture ``kamailio`` (tests/interop/conftest.py) wraps both, and a failing test gets Kamailio's
log in its report.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass

import pytest

LOOPBACK = "127.0.0.1"
TEMPLATES = pathlib.Path(__file__).parent / "kamailio"
DOMAIN = "gossipper.test"
USERNAME = "gossipper"
# Small on purpose: a handful of processes, tens of calls.
SHARED_MEMORY_MB = 64
PRIVATE_MEMORY_MB = 8
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
START_ATTEMPTS = 3


@dataclass(frozen=True)
class KamailioProxy:
    """A running Kamailio and what a client needs to reach it."""

    host: str
    sip_port: int  # UDP and TCP
    tls_port: int
    ws_port: int  # WebSocket: HTTP upgrade on TCP, any path
    wss_port: int  # secure WebSocket: the same on TLS
    domain: str  # the SIP domain (an alias of the proxy) and the digest realm
    username: str  # the only user REGISTER accepts
    password: str
    ca_file: pathlib.Path  # trustme CA (PEM) that signed the proxy's certificate
    config_file: pathlib.Path
    log_file: pathlib.Path  # Kamailio's stderr
    process: subprocess.Popen[bytes]

    def port(self, transport: str) -> int:
        """The listener for a transport: udp, tcp, tls, ws or wss."""
        ports = {
            "udp": self.sip_port,
            "tcp": self.sip_port,
            "tls": self.tls_port,
            "ws": self.ws_port,
            "wss": self.wss_port,
        }
        return ports[transport.lower()]

    def address(self, transport: str = "udp") -> str:
        """``host:port`` of a transport's listener, as SIPp and gossipper take the remote host."""
        return f"{self.host}:{self.port(transport)}"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to the whole process group after a few seconds.

        Kamailio forks its workers into the group we created for it (start_new_session), so a
        main process killed hard cannot leave workers behind holding the ports.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def kamailio_binary() -> str:
    """The kamailio program. In CI (CI set) a missing one is a failure, never a skip."""
    path = shutil.which("kamailio") or shutil.which("kamailio", path="/usr/sbin:/sbin")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(
                "kamailio is not installed: .ci/run must apt-get install kamailio "
                "kamailio-tls-modules kamailio-websocket-modules"
            )
        pytest.skip("kamailio not installed (apt-get install -y kamailio ...); required in CI")
    return path


def free_port() -> int:
    """A port free on loopback for UDP and TCP at once (SIP uses both on one port)."""
    for _ in range(100):
        with (
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        ):
            tcp.bind((LOOPBACK, 0))
            port = int(tcp.getsockname()[1])
            try:
                udp.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise AssertionError("no port free for both UDP and TCP on loopback")


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def render(template: pathlib.Path, target: pathlib.Path, values: dict[str, object]) -> None:
    """Replace every ``@NAME@``; a name left over is a mistake in the template or here."""
    text = template.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    left = sorted(set(re.findall(r"@[A-Z_]+@", text)))
    if left:
        raise AssertionError(f"{template.name}: no value for {', '.join(left)}")
    target.write_text(text)


def _write_certificates(directory: pathlib.Path) -> dict[str, pathlib.Path]:
    # A test dependency (pyproject's test extra), imported only here; like a missing kamailio,
    # its absence fails in CI and skips elsewhere.
    try:
        import trustme
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("trustme is not installed: pip install -e '.[test]'")
        pytest.skip("trustme not installed (pip install trustme==1.2.1); required in CI")

    ca = trustme.CA()
    # The names a client may check: the loopback address and the SIP domain.
    cert = ca.issue_cert(LOOPBACK, "localhost", DOMAIN)
    files = {
        "CA_FILE": directory / "ca.pem",
        "CERT_FILE": directory / "kamailio-cert.pem",
        "KEY_FILE": directory / "kamailio-key.pem",
    }
    ca.cert_pem.write_to_path(str(files["CA_FILE"]))
    cert.cert_chain_pems[0].write_to_path(str(files["CERT_FILE"]))
    cert.private_key_pem.write_to_path(str(files["KEY_FILE"]))
    return files


def options_request(transport: str, local: tuple[str, int], port: int) -> bytes:
    """An OPTIONS to the proxy itself, which the configuration answers with 200."""
    call_id = secrets.token_hex(8)
    return (
        f"OPTIONS sip:{LOOPBACK}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport.upper()} {local[0]}:{local[1]};branch=z9hG4bK{call_id};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@{DOMAIN}>;tag={call_id}\r\n"
        f"To: <sip:{LOOPBACK}:{port}>\r\n"
        f"Call-ID: {call_id}@{LOOPBACK}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _udp_options_answered(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(0.2)
        sock.sendto(options_request("udp", sock.getsockname(), port), (LOOPBACK, port))
        try:
            data = sock.recv(65535)
        except OSError:
            return False
        return data.startswith(b"SIP/2.0 200")


def _tcp_accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.2):
            return True
    except OSError:
        return False


def _tls_handshakes(port: int, ca_file: pathlib.Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with (
            socket.create_connection((LOOPBACK, port), timeout=1.0) as raw,
            context.wrap_socket(raw, server_hostname=LOOPBACK),
        ):
            return True
    except OSError:
        return False


def _fail_with_log(
    message: str, log_file: pathlib.Path, error: type[AssertionError] = AssertionError
) -> None:
    log = log_file.read_text(errors="replace") if log_file.exists() else ""
    raise error(f"{message}\n--- kamailio log (last 6000 characters) ---\n{log[-6000:]}")


class _PortTaken(AssertionError):
    """Kamailio could not bind a port free_ports chose: something took it in between."""


def start_kamailio(directory: pathlib.Path, binary: str | None = None) -> KamailioProxy:
    """Render the configuration into ``directory``, check it, start Kamailio, wait for it.

    free_ports only finds ports free at that moment: an outgoing connection of another process
    (the ephemeral range is the same) can take one before Kamailio binds it. Kamailio then exits
    at start, and it is started again on other ports.
    """
    binary = binary or kamailio_binary()
    for _ in range(START_ATTEMPTS - 1):
        try:
            return _start_once(directory, binary)
        except _PortTaken:
            continue
    return _start_once(directory, binary)


def _start_once(directory: pathlib.Path, binary: str) -> KamailioProxy:
    directory.mkdir(parents=True, exist_ok=True)
    run_dir = directory / "run"
    run_dir.mkdir(exist_ok=True)
    sip_port, tls_port, ws_port, wss_port = free_ports(4)
    password = secrets.token_hex(8)
    certificates = _write_certificates(directory)
    tls_cfg = directory / "tls.cfg"
    render(TEMPLATES / "tls.cfg.in", tls_cfg, dict(certificates))
    config = directory / "kamailio.cfg"
    render(
        TEMPLATES / "kamailio.cfg.in",
        config,
        {
            "SIP_PORT": sip_port,
            "TLS_PORT": tls_port,
            "WS_PORT": ws_port,
            "WSS_PORT": wss_port,
            "DOMAIN": DOMAIN,
            "USERNAME": USERNAME,
            "PASSWORD": password,
            "TLS_CFG": tls_cfg,
        },
    )
    # -Y: runtime directory (FIFO/ctl files of modules that make them), -P: pid file; both in
    # the test's directory so nothing touches /var/run. No -u/-g: Kamailio runs as whoever runs
    # the tests, root included.
    common = ["-f", str(config), "-Y", str(run_dir), "-m", str(SHARED_MEMORY_MB)]
    common += ["-M", str(PRIVATE_MEMORY_MB)]
    check = subprocess.run(
        [binary, "-c", *common], capture_output=True, text=True, timeout=30, check=False
    )
    if check.returncode != 0:
        raise AssertionError(
            f"kamailio -c rejected {config}:\n{check.stdout[-3000:]}\n{check.stderr[-6000:]}"
        )
    log_file = directory / "kamailio.log"
    with log_file.open("wb") as log:
        # -DD: stay in the foreground (still forking workers), -E: log to stderr (the file).
        process = subprocess.Popen(
            [binary, "-DD", "-E", "-P", str(run_dir / "kamailio.pid"), *common],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proxy = KamailioProxy(
        host=LOOPBACK,
        sip_port=sip_port,
        tls_port=tls_port,
        ws_port=ws_port,
        wss_port=wss_port,
        domain=DOMAIN,
        username=USERNAME,
        password=password,
        ca_file=certificates["CA_FILE"],
        config_file=config,
        log_file=log_file,
        process=process,
    )
    try:
        _wait_ready(proxy)
    except BaseException:
        proxy.stop()
        raise
    return proxy


def _wait_ready(proxy: KamailioProxy) -> None:
    """Until UDP answers an OPTIONS, TCP and WS accept, and TLS and WSS complete a handshake."""
    probes = {
        "udp": lambda: _udp_options_answered(proxy.sip_port),
        "tcp": lambda: _tcp_accepts(proxy.sip_port),
        "ws": lambda: _tcp_accepts(proxy.ws_port),
        "tls": lambda: _tls_handshakes(proxy.tls_port, proxy.ca_file),
        "wss": lambda: _tls_handshakes(proxy.wss_port, proxy.ca_file),
    }
    deadline = time.monotonic() + START_TIMEOUT_S
    while probes:
        if proxy.process.poll() is not None:
            proxy.stop()
            taken = "Address already in use" in proxy.log()
            _fail_with_log(
                f"kamailio exited ({proxy.process.returncode}) at start",
                proxy.log_file,
                _PortTaken if taken else AssertionError,
            )
        for name in list(probes):
            if probes[name]():
                del probes[name]
        if not probes:
            return
        if time.monotonic() > deadline:
            proxy.stop()
            _fail_with_log(
                f"kamailio not ready after {START_TIMEOUT_S} s: {', '.join(probes)} silent",
                proxy.log_file,
            )
        time.sleep(0.05)
