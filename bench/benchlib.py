"""Shared plumbing for the benchmarks: child processes, ports, counters, machine facts.

Stdlib only, and independent of tests/ (bench/ must run without the test tree). Every child is
tracked by pid; on normal exit, on SIGINT/SIGTERM and on timeouts the benchmark kills only the
processes it started, by pid.
"""

from __future__ import annotations

import argparse
import atexit
import compileall
import io
import json
import os
import pathlib
import platform
import resource
import shutil
import signal
import site
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

LOOPBACK = "127.0.0.1"
REPO = pathlib.Path(__file__).resolve().parent.parent

_LIVE: dict[int, subprocess.Popen[bytes]] = {}
_HANDED_OUT_PORTS: set[int] = set()
# Where children import gossipper from (see snapshot_source); the checkout by default.
_SOURCE: list[pathlib.Path] = [REPO]


def snapshot_source(
    target: pathlib.Path, rev: str | None = None, *, compiled: bool = True
) -> pathlib.Path:
    """Copy gossipper (and its built-in scenarios) to target and run every child from there.

    The checkout may change while a benchmark runs (others keep committing); a snapshot taken
    at start makes every step of one run measure the same code. With `rev`, the files come from
    that git revision (`git archive`, read-only) instead of the working tree. The version is
    recorded in target/VERSION. With `compiled` (the default, as `pip install .` does), the hot
    modules are built with mypyc (setup.py); a build that falls back to pure Python is an error.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")
    build_files = ("setup.py", "pyproject.toml", "README.md")
    if rev is None:
        version = source_version()
        shutil.copytree(REPO / "gossipper", target / "gossipper", ignore=ignore)
        scenarios = REPO / "scenarios"
        for name in build_files:
            shutil.copy2(REPO / name, target / name)
    else:
        version = _git("rev-parse", "--short", rev)
        archive = subprocess.run(
            ["git", "archive", "--format=tar", rev, "gossipper", "scenarios", *build_files],
            cwd=REPO,
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout
        unpacked = target / "archive"
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(unpacked, filter="data")
        shutil.copytree(unpacked / "gossipper", target / "gossipper", ignore=ignore)
        scenarios = unpacked / "scenarios"
        for name in build_files:
            if (unpacked / name).exists():
                shutil.copy2(unpacked / name, target / name)
    # gossipper.builtin_scenarios maps to scenarios/ in an installed tree: mirror that.
    shutil.copytree(scenarios, target / "gossipper" / "builtin_scenarios", ignore=ignore)
    if compiled and (target / "setup.py").exists():
        # setup.py reads pyproject.toml, whose package-dir needs scenarios/ beside it.
        shutil.copytree(scenarios, target / "scenarios", ignore=ignore, dirs_exist_ok=True)
        build = subprocess.run(
            [sys.executable, "setup.py", "--quiet", "build_ext", "--inplace"],
            cwd=target,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if build.returncode != 0 or not list((target / "gossipper" / "engine").glob("call.*.so")):
            # setup.py falls back to pure Python with a warning; say why, not only that it did.
            # (mypy's own errors go to stdout, the fallback's warning to stderr)
            why = f"{build.stdout.strip()[-1500:]}\n{build.stderr.strip()[-800:]}"
            raise SystemExit(f"{target}: the mypyc build fell back to pure Python:\n{why}")
        version += " (mypyc)"
    if rev is not None:
        shutil.rmtree(target / "archive")
    # Byte-compile it as an installation would: children run with PYTHONDONTWRITEBYTECODE in
    # some environments, and compiling ~100 modules at every start would inflate CPU per call.
    compileall.compile_dir(str(target), quiet=1)
    (target / "VERSION").write_text(version + "\n")
    _SOURCE[0] = target
    return target


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """--live / --source: which gossipper code the children run."""
    parser.add_argument(
        "--live", action="store_true", help="run the checkout itself, not a snapshot taken at start"
    )
    parser.add_argument(
        "--source",
        type=pathlib.Path,
        help="snapshot directory to run (created from the checkout if missing), so several"
        " benchmarks measure the same code",
    )
    parser.add_argument(
        "--rev",
        help="snapshot this git revision (git archive) instead of the working tree",
    )
    parser.add_argument(
        "--pure",
        action="store_true",
        help="snapshot without the mypyc build (pure Python, as an editable install)",
    )


def snapshot_arguments(
    parser: argparse.ArgumentParser, items: list[str], option: str = "--ab"
) -> list[tuple[str, pathlib.Path]]:
    """(name, directory) of each NAME=DIR argument naming a snapshot (see snapshot_source);
    anything else is a usage error."""
    sources: list[tuple[str, pathlib.Path]] = []
    for item in items:
        name, _, directory = item.partition("=")
        path = pathlib.Path(directory).resolve()
        if not name or not (path / "gossipper").is_dir():
            parser.error(f"{option} {item}: expected NAME=DIR with DIR/gossipper (a snapshot)")
        sources.append((name, path))
    return sources


def prepare_source(args: argparse.Namespace, root: pathlib.Path) -> str:
    """Set up the code the children run (per --live/--source); returns its version text."""
    if args.live:
        return f"{source_version()} (live checkout)"
    target = args.source.resolve() if args.source else root / "src"
    if not (target / "gossipper").is_dir():
        snapshot_source(target, args.rev, compiled=not args.pure)
    _SOURCE[0] = target
    try:
        version = (target / "VERSION").read_text().strip()
    except OSError:
        version = "unknown"
    return f"{version} (snapshot {target})"


def _git(*args: str) -> str:
    """Output of a git command in the checkout (stripped); raises on failure."""
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
    ).stdout.strip()


def source_version() -> str:
    """git HEAD of the checkout, plus "+dirty" when gossipper/ or scenarios/ have local edits."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "gossipper", "scenarios")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def sipp_binary() -> str:
    """Path of the reference SIPp; the benchmarks cannot run without it."""
    path = shutil.which("sipp")
    if path is None:
        sys.exit("bench: sipp not found (apt-get install -y sip-tester)")
    return path


# Runs gossipper under cProfile with a CPU-time clock, so time spent idle in epoll (waiting for
# the next call to be due) is not charged to the poll call as the default wall clock does. Each
# process_time() read costs ~1 us (a real syscall) against ~0.1 us for perf_counter, which
# slows a busy run down a lot: use it at moderate rates only.
_CPU_PROFILE_SNIPPET = """
import cProfile, runpy, sys, time
out = sys.argv[1]
sys.argv = ["gossipper", *sys.argv[2:]]
profile = cProfile.Profile(time.process_time)
try:
    profile.runcall(runpy.run_module, "gossipper", run_name="__main__", alter_sys=True)
finally:
    profile.dump_stats(out)
"""


def plain_site_python(code: str = "") -> list[str]:
    """The interpreter with its site-packages on sys.path but without the .pth hooks there;
    it runs ``code``, by default gossipper's command line (the arguments that follow).

    Start-up is part of every CPU-per-call figure. On the bench machines, site's processing of
    .pth files imports what a pip-installed gossipper would not: the editable install of this
    checkout (its import finder) and a sandbox's CA-bundle hook (certifi, importlib.resources,
    tempfile, zipfile). Measured for ``-m 1``: 168 against 161 ms of CPU (medians of 8), some
    3 µs per call at 250 calls/s; Trio imports much of the same standard library anyway.
    ``python -S`` skips site; the same directories are then appended to sys.path, as site
    would, so gossipper imports exactly the packages it would otherwise.
    """
    site_dirs = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        site_dirs.append(site.getusersitepackages())
    run = code or "import runpy; runpy.run_module('gossipper', run_name='__main__', alter_sys=True)"
    return [sys.executable, "-S", "-c", f"import sys; sys.path.extend({site_dirs!r})\n{run}"]


def gossipper_command(
    *args: str, profile_to: pathlib.Path | None = None, profile_clock: str = "wall"
) -> list[str]:
    """Command line running gossipper from this checkout, optionally under cProfile.

    Without a profile it starts as ``plain_site_python`` says. profile_clock "wall" is plain
    `python -m cProfile -o FILE`; "cpu" uses process time.
    """
    if profile_to is None:
        return [*plain_site_python(), *args]
    if profile_clock == "wall":
        return [sys.executable, "-m", "cProfile", "-o", str(profile_to), "-m", "gossipper", *args]
    return [sys.executable, "-c", _CPU_PROFILE_SNIPPET, str(profile_to), *args]


def new_step_dir(root: pathlib.Path, stem: str) -> pathlib.Path:
    """A fresh folder root/STEM_N for one step (N counts the retries of the same step)."""
    attempt = 1
    while (root / f"{stem}_{attempt}").exists():
        attempt += 1
    workdir = root / f"{stem}_{attempt}"
    workdir.mkdir(parents=True)
    return workdir


def free_udp_port() -> int:
    """A UDP port that is free on loopback now and was not handed out before by this process.

    Another benchmark or test may run SIPp on loopback at the same time, so every process gets
    a port the kernel just picked, never a fixed one.
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT_PORTS:
            _HANDED_OUT_PORTS.add(port)
            return port
    raise RuntimeError("no fresh UDP port found")


def free_port() -> int:
    """A port free on loopback for both UDP and TCP now, not handed out before by this process.

    Stream benchmarks listen on TCP; SIPp may also bind UDP on its -p, so both must be free.
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
        if port in _HANDED_OUT_PORTS or udp_port_bound(port):
            continue
        _HANDED_OUT_PORTS.add(port)
        return port
    raise RuntimeError("no fresh TCP+UDP port found")


def tcp_port_listening(port: int) -> bool:
    """True when a socket listens on TCP `port` (from /proc/net/tcp and tcp6; no connection
    is made, so the listener never sees a stray client)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = pathlib.Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # fields[1] is local address:port (hex), fields[3] the state (0A = LISTEN).
            listening = len(fields) > 3 and fields[3] == "0A"
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def is_stream_mode(transport: str) -> bool:
    """True for -t modes over connections (t1/tn, l1/ln, w1/wn, ws1/wsn); False for UDP."""
    return not transport.startswith("u")


def wait_for_listener(
    port: int, child: Child, transport: str = "u1", timeout_s: float = 10.0
) -> bool:
    """wait_for_udp_listener, or for a stream -t mode until the TCP port listens."""
    if not is_stream_mode(transport):
        return wait_for_udp_listener(port, child, timeout_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if tcp_port_listening(port):
            return True
        if child.poll() is not None:
            return False
        time.sleep(0.01)
    return False


def lab_tls_certificate(directory: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """A server certificate for 127.0.0.1 from a throwaway CA: (cert.pem, key.pem) in directory.

    trustme makes it (ECDSA P-256); without trustme, openssl (also EC P-256).
    """
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cacert.pem", directory / "cakey.pem"
    try:
        import trustme
    except ImportError:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(key_path), "-out", str(cert_path)],
            capture_output=True, timeout=60, check=True,
        )  # fmt: skip
        return cert_path, key_path
    server = trustme.CA().issue_cert("127.0.0.1", "localhost")
    server.private_key_pem.write_to_path(str(key_path))
    cert_path.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    return cert_path, key_path


def count_socket_fds(pid: int | str = "self") -> int:
    """How many of a process's open file descriptors are sockets (/proc/PID/fd)."""
    count = 0
    fd_dir = pathlib.Path(f"/proc/{pid}/fd")
    for entry in fd_dir.iterdir():
        try:
            if os.readlink(entry).startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count


def udp_port_bound(port: int) -> bool:
    """True when something holds the UDP port on loopback (our bind attempt fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def wait_for_udp_listener(port: int, child: Child, timeout_s: float = 10.0) -> bool:
    """Wait until the child binds the port; False if it died or the time ran out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if udp_port_bound(port):
            return True
        if child.poll() is not None:
            return False
        time.sleep(0.01)
    return False


@dataclass
class ChildResult:
    """How a child ended and what it cost (from os.wait4's resource usage)."""

    returncode: int
    user_s: float
    system_s: float
    wall_s: float
    killed: bool
    max_rss_kb: int

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.system_s


class Child:
    """One benchmark process; reaped with os.wait4 so its CPU time is exact."""

    def __init__(self, name: str, command: list[str], cwd: pathlib.Path) -> None:
        self.name = name
        self.command = command
        self.cwd = cwd
        self.stdout_path = cwd / f"{name}.stdout"
        self.stderr_path = cwd / f"{name}.stderr"
        self.result: ChildResult | None = None
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.started_at = time.monotonic()
            self._popen = subprocess.Popen(
                command,
                cwd=cwd,
                env=_child_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        self.pid = self._popen.pid
        _LIVE[self.pid] = self._popen

    def _reaped(self, status: int, usage: resource.struct_rusage, killed: bool) -> ChildResult:
        self.result = ChildResult(
            returncode=os.waitstatus_to_exitcode(status),
            user_s=usage.ru_utime,
            system_s=usage.ru_stime,
            wall_s=time.monotonic() - self.started_at,
            killed=killed,
            max_rss_kb=usage.ru_maxrss,
        )
        # Tell Popen we reaped the child ourselves, so it never waits on a recycled pid.
        self._popen.returncode = self.result.returncode
        _LIVE.pop(self.pid, None)
        return self.result

    def poll(self) -> ChildResult | None:
        """Reap the child if it has exited (non-blocking)."""
        if self.result is not None:
            return self.result
        pid, status, usage = os.wait4(self.pid, os.WNOHANG)
        if pid == 0:
            return None
        return self._reaped(status, usage, killed=False)

    def wait(self, timeout_s: float, every_poll: Callable[[], None] | None = None) -> ChildResult:
        """Wait up to timeout_s; then SIGTERM, and SIGKILL two seconds later.

        every_poll, if given, runs about every 100 ms while waiting (to sample counters).
        """
        deadline = time.monotonic() + timeout_s
        period_s = 0.1 if every_poll is not None else 0.02
        while time.monotonic() < deadline:
            result = self.poll()
            if result is not None:
                return result
            if every_poll is not None:
                every_poll()
            time.sleep(period_s)
        return self.kill()

    def kill(self) -> ChildResult:
        """Stop the child (SIGTERM first so SIPp writes its final statistics row)."""
        if self.result is not None:
            return self.result
        _signal_pid(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            result = self.poll()
            if result is not None:
                result.killed = True
                return result
            time.sleep(0.02)
        _signal_pid(self.pid, signal.SIGKILL)
        _, status, usage = os.wait4(self.pid, 0)
        return self._reaped(status, usage, killed=True)

    def vm_rss_kb(self) -> int | None:
        """Current resident set size from /proc/PID/status (None once the process is gone)."""
        return _proc_status_kb(self.pid, "VmRSS")

    def vm_hwm_kb(self) -> int | None:
        """Peak resident set size so far from /proc/PID/status."""
        return _proc_status_kb(self.pid, "VmHWM")

    def tail(self, chars: int = 1500) -> str:
        """The end of the child's stderr and stdout, for error reports."""
        parts = []
        for path in (self.stderr_path, self.stdout_path):
            try:
                text = path.read_bytes().decode("utf-8", "replace")
            except OSError:
                continue
            if text.strip():
                parts.append(f"[{path.name}] {text[-chars:]}")
        return "\n".join(parts)


def _child_env() -> dict[str, str]:
    # Run the gossipper of this checkout even when another one is installed.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(_SOURCE[0]), env.get("PYTHONPATH", "")) if part
    )
    return env


def _proc_status_kb(pid: int, field: str) -> int | None:
    try:
        text = pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def _signal_pid(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def kill_all_children() -> None:
    """Kill every child this process started and has not reaped yet (by pid)."""
    for pid, popen in list(_LIVE.items()):
        _signal_pid(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        popen.returncode = -9
        _LIVE.pop(pid, None)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    kill_all_children()
    sys.exit(128 + signum)


def install_cleanup() -> None:
    """Kill our children at exit and on SIGINT/SIGTERM."""
    atexit.register(kill_all_children)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


@dataclass
class Counts:
    """What one side counted, read from SIPp's stat CSV or gossipper's summary JSON."""

    created: int
    successful: int
    failed: int
    retransmissions: int
    current: int
    rate_cps: float


def sipp_counts(stat_file: pathlib.Path) -> Counts | None:
    """Last cumulative row of a SIPp statistics CSV (-trace_stat -stf FILE); None if absent."""
    try:
        lines = [line for line in stat_file.read_text().splitlines() if line.strip()]
    except OSError:
        return None
    if len(lines) < 2:
        return None
    row = dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))
    try:
        return Counts(
            created=int(row["TotalCallCreated"]),
            successful=int(row["SuccessfulCall(C)"]),
            failed=int(row["FailedCall(C)"]),
            retransmissions=int(row["Retransmissions(C)"]),
            current=int(row["CurrentCall"]),
            rate_cps=float(row["CallRate(C)"]),
        )
    except (KeyError, ValueError):
        return None


def gossipper_counts(summary_file: pathlib.Path) -> Counts | None:
    """Counters from gossipper's -summary_json document; None if absent or unreadable."""
    try:
        doc = json.loads(summary_file.read_text())
        calls = doc["calls"]
        return Counts(
            created=int(calls["total"]),
            successful=int(calls["successful"]),
            failed=int(calls["failed"]),
            retransmissions=int(doc["messages"]["retransmissions"]),
            current=int(calls["current"]),
            rate_cps=float(doc["rate"]["achieved_cps"]),
        )
    except (OSError, KeyError, ValueError, TypeError):
        return None


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores, from /proc/stat).

    Comparing its growth over a step with our children's CPU time shows how much other
    processes (another benchmark, a test run) took from the machine meanwhile.
    """
    try:
        first = pathlib.Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return 0.0
    # cpu user nice system idle iowait irq softirq steal ...: everything but idle and iowait.
    values = [int(value) for value in first[1:9]]
    busy = sum(values) - values[3] - values[4]
    return busy / os.sysconf("SC_CLK_TCK")


def udp_receive_buffer_drops() -> int:
    """Datagrams the kernel dropped because a UDP socket's receive buffer was full (system-wide).

    RcvbufErrors from /proc/net/snmp: when a process falls behind, the loopback peer's messages
    are lost here, and the calls then live or die by retransmissions.
    """
    try:
        lines = [
            line.split()
            for line in pathlib.Path("/proc/net/snmp").read_text().splitlines()
            if line.startswith("Udp:")
        ]
        row = dict(zip(lines[0][1:], lines[1][1:], strict=False))
        return int(row["RcvbufErrors"])
    except (OSError, IndexError, KeyError, ValueError):
        return 0


def udp_socket_drops(ports: set[int]) -> dict[int, int]:
    """Per-socket receive-buffer drops of the loopback UDP sockets bound to `ports`.

    From the last column of /proc/net/udp; the counter lives as long as the socket, so sample
    it while the process runs.
    """
    found: dict[int, int] = {}
    for port, fields in _udp_sockets(ports):
        found[port] = max(found.get(port, 0), int(fields[-1]))
    return found


def _udp_sockets(ports: set[int]) -> list[tuple[int, list[str]]]:
    """(port, fields) of each row of /proc/net/udp for a socket bound to one of `ports`."""
    try:
        lines = pathlib.Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return []
    rows = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 13:
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if port in ports:
                rows.append((port, fields))
    return rows


def udp_socket_queues(ports: set[int]) -> dict[int, int]:
    """Bytes waiting in the receive queue of the loopback UDP sockets bound to `ports`.

    The rx_queue of /proc/net/udp: the memory the kernel charges the socket for unread
    datagrams (each with its buffer overhead), the figure it compares with SO_RCVBUF before it
    drops one. Sample it while the process runs; the peak is what a buffer size must absorb.
    """
    found: dict[int, int] = {}
    for port, fields in _udp_sockets(ports):
        found[port] = max(found.get(port, 0), int(fields[4].split(":")[1], 16))
    return found


class CpuShare:
    """A CFS bandwidth cgroup that lets its processes use `share` of one core.

    On a 2-core machine gossipper's clean ceilings are above what SIPp's uas can absorb or its
    uac can offer, so driving gossipper at 1.5 x and 2 x its own ceiling is only possible with
    gossipper given less CPU: the ceiling is then measured under the same share. The quota is
    handed out every `period_us` (10 ms: a throttled process waits at most that long), so the
    process sees a slower core with short stalls, not a long pause. Needs root and the cpu
    controller (cgroup v2's cpu.max or v1's cpu.cfs_quota_us); raises SystemExit otherwise.
    """

    def __init__(self, share: float, period_us: int = 10_000) -> None:
        if not 0.01 <= share <= 1.0:
            raise SystemExit(f"--cpu-share {share}: give a share of one core from 0.01 to 1")
        name = f"gossipper-bench-{os.getpid()}"
        quota_us = max(1000, round(share * period_us))
        v2 = pathlib.Path("/sys/fs/cgroup")
        v1 = pathlib.Path("/sys/fs/cgroup/cpu")
        try:
            controllers = v2 / "cgroup.controllers"
            if controllers.exists() and "cpu" in controllers.read_text().split():
                (v2 / "cgroup.subtree_control").write_text("+cpu")
                self.path = v2 / name
                self.path.mkdir()
                (self.path / "cpu.max").write_text(f"{quota_us} {period_us}")
            elif (v1 / "cpu.cfs_quota_us").exists():
                self.path = v1 / name
                self.path.mkdir()
                (self.path / "cpu.cfs_period_us").write_text(str(period_us))
                (self.path / "cpu.cfs_quota_us").write_text(str(quota_us))
            else:
                raise SystemExit("--cpu-share: no cgroup cpu controller on this machine")
        except OSError as exc:
            raise SystemExit(f"--cpu-share: cannot make a cgroup ({exc}); run as root") from exc
        self.share = quota_us / period_us

    def wrap(self, command: list[str]) -> list[str]:
        """`command` started inside the cgroup (the shell moves itself in, then execs it, so
        the child's pid and its resource usage are the command's own)."""
        procs = str(self.path / "cgroup.procs")
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', procs, *command]

    def close(self) -> None:
        try:
            self.path.rmdir()
        except OSError:
            pass


def wait_for_quiet(max_wait_s: float, max_busy_cores: float = 0.3) -> float:
    """Wait (at most max_wait_s) until other processes use under max_busy_cores for 1 s.

    Call it while none of our children runs, so all the busy time seen is someone else's.
    Returns the seconds waited.
    """
    started = time.monotonic()
    while True:
        before = machine_busy_s()
        time.sleep(1.0)
        busy_cores = machine_busy_s() - before
        waited_s = time.monotonic() - started
        if busy_cores < max_busy_cores or waited_s >= max_wait_s:
            return waited_s


def machine_info() -> dict[str, str]:
    """The facts docs/performance.md records about the machine."""
    cpu_model = "unknown"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) // 1024} MiB"
                break
    except OSError:
        pass
    sipp_version = "unknown"
    sipp = shutil.which("sipp")
    if sipp is not None:
        try:
            out = subprocess.run(
                [sipp, "-v"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
            for line in out.splitlines():
                if "SIPp" in line:
                    sipp_version = line.strip()
                    break
        except (OSError, subprocess.TimeoutExpired):
            pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu_model": cpu_model,
        "memory": mem,
        "python": platform.python_version(),
        "sipp": sipp_version,
        "kernel": platform.release(),
        "loadavg_1m_at_start": f"{os.getloadavg()[0]:.2f}",
    }


def niced_command(command: list[str], nice: int, cpu: int | None) -> list[str]:
    """``command`` under ``taskset -c CPU`` (when given and available) and ``nice -n NICE``."""
    prefix: list[str] = []
    if cpu is not None and shutil.which("taskset"):
        prefix += ["taskset", "-c", str(cpu)]
    if nice:
        prefix += ["nice", "-n", str(nice)]
    return prefix + command


def start_sipp_uas(
    port: int,
    calls: int,
    stat_file: pathlib.Path,
    buff_size: int,
    workdir: pathlib.Path,
    *,
    nice: int = 0,
    cpu: int | None = None,
) -> Child:
    """SIPp's built-in uas on loopback for ``calls`` calls, its stat CSV every second in
    ``stat_file``, with ``-buff_size`` as the other side gets; exits the bench when it does
    not start listening."""
    uas = Child(
        "uas",
        niced_command(
            [
                sipp_binary(),
                "-sn",
                "uas",
                "-i",
                LOOPBACK,
                "-p",
                str(port),
                "-nostdin",
                "-m",
                str(calls),
                "-trace_stat",
                "-stf",
                str(stat_file),
                "-fd",
                "1",
                "-buff_size",
                str(buff_size),
            ],  # fmt: skip
            nice,
            cpu,
        ),
        workdir,
    )
    if not wait_for_listener(port, uas):
        raise SystemExit(f"SIPp's uas did not start: {uas.tail(300)}")
    return uas
