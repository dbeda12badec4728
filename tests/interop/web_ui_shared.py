"""What the web UI's browser tests share: the gossipper processes they steer, and the two
scenarios themselves, written against ``Page`` (a few user-level actions) so that Chromium
(Selenium, tests/interop/test_web_ui.py) and Firefox (WebDriver BiDi,
tests/interop/test_web_ui_firefox.py) run exactly the same steps and checks."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import httpx
import pytest

from tests.api.cli_process import ApiProcess, free_tcp_port

PASSWORD = "web ui test password"


class Page(Protocol):
    """One browser tab, as the scenarios use it. Selectors are CSS."""

    def open(self, url: str) -> None: ...

    def text(self, element_id: str) -> str:
        """The element's rendered text; "" when there is no such element."""
        ...

    def count(self, selector: str) -> int: ...

    def displayed(self, element_id: str) -> bool: ...

    def click(self, selector: str) -> None: ...

    def type_text(self, selector: str, text: str, clear: bool = False) -> None: ...

    def await_script(self, expression: str) -> Any:
        """The value of a JavaScript expression that yields a promise, once it resolves."""
        ...

    def screenshot_png(self) -> bytes: ...

    def console_errors(self) -> list[str]: ...


def need(path: str, package: str) -> str:
    """The program's path; in CI (CI set) a missing one fails the test, else skips it."""
    found = path if os.path.exists(path) else shutil.which(os.path.basename(path))
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: .ci/run must apt-get install {package}")
        pytest.skip(f"{path} not installed (apt-get install -y {package}); required in CI")
    return found


def add_user(directory: pathlib.Path, name: str, role: str) -> None:
    """``gossipper auth user-add`` (the real command, password on standard input)."""
    done = subprocess.run(
        [
            sys.executable, "-m", "gossipper", "auth", "user-add", name, "--role", role,
            "--password-stdin", "-db", str(directory / "users.sqlite"),
        ],
        input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@contextlib.contextmanager
def api_run(directory: pathlib.Path) -> Iterator[ApiProcess]:
    """A loopback ``gossipper -sn uac -peer uas -r 20 -api_addr ...`` run with an operator
    (otto) and a viewer (vera); stopped at the end."""
    add_user(directory, "otto", "operator")
    add_user(directory, "vera", "viewer")
    port = free_tcp_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gossipper", "-sn", "uac", "-peer", "uas", "-i", "127.0.0.1",
            "-nostdin", "-r", "20", "-m", "100000", "-api_addr", f"127.0.0.1:{port}",
            "-api_users", str(directory / "users.sqlite"),
            "-api_secret", str(directory / "token-secret"),
            "-api_audit", str(directory / "audit.log"),
        ],
        cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    api = ApiProcess(process, f"http://127.0.0.1:{port}", directory)
    try:
        wait_for(lambda: healthy(api), 20, "the API never answered")
        yield api
    finally:
        api.stop()


def healthy(api: ApiProcess) -> bool:
    assert api.process.poll() is None, api.stop()[1]
    try:
        return httpx.get(f"{api.base}/api/v1/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.2)


def number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def api_headers(base: str, user: str) -> dict[str, str]:
    login = httpx.post(f"{base}/api/v1/login", json={"user": user, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


def log_in(page: Page, base: str, user: str) -> None:
    page.open(base + "/")
    wait_for(lambda: page.count("#login-user"), 10, "no login form")
    page.type_text("#login-user", user)
    page.type_text("#login-password", PASSWORD)
    page.click("#login-submit")
    wait_for(lambda: page.count("#runs-table"), 10, "no runs page after login")


def png_pixel_spread(png: bytes) -> tuple[int, int]:
    """(distinct colours in a sample of rows, width) of an 8-bit RGB/RGBA PNG, decoded with the
    standard library (zlib and the PNG filters)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", b""
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        chunk = png[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    colours: set[bytes] = set()
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            upper_left = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
                line[x] = (line[x] + predictor) & 0xFF
        if y % 8 == 0:
            colours.update(bytes(line[i : i + 3]) for i in range(0, stride, channels))
        previous = line
    return len(colours), width


def operator_steers_and_viewer_is_refused(
    page: Page, run: ApiProcess, screenshot: pathlib.Path
) -> None:
    """An operator logs in, watches the counters move, changes the rate and the engine follows
    (read back through the API); the run page's screenshot (written to ``screenshot``) is not
    blank; a viewer sees no controls and a command sent with the viewer's token is refused."""
    log_in(page, run.base, "otto")
    # The runs page lists the run with its state.
    wait_for(
        lambda: "running" in page.text("runs-body") and "main" in page.text("runs-body"),
        10,
        f"the run is not listed: {page.text('runs-body')!r}",
    )
    page.click('#runs-body a[href="#/run/main"]')
    wait_for(lambda: number(page.text("count-total")), 10, "no counters on the run page")

    # The counters move with the engine.
    first = number(page.text("count-total")) or 0
    wait_for(
        lambda: (number(page.text("count-total")) or 0) >= first + 20,
        10,
        "the calls counter did not move",
    )
    # The scenario table carries live per-element counts (the INVITE row counts sent ones).
    invite = page.await_script(
        "Promise.resolve(document.querySelector("
        '\'#scenario-table td[data-element="0"][data-column="messages"]\').textContent)'
    )
    assert (number(invite) or 0) > 0, invite
    assert page.count("#chart-rate .uplot")
    # -r runs have no user count: its control stays hidden.
    assert page.displayed("rate-set") and not page.displayed("users-control")

    # Change the rate; the engine follows (read back through the API, not the page).
    page.type_text("#rate-input", "7", clear=True)
    page.click("#rate-set")
    wait_for(lambda: "Rate set to 7" in page.text("notice"), 10, "no answer to the rate")
    headers = api_headers(run.base, "otto")
    control = httpx.get(f"{run.base}/api/v1/runs/main", headers=headers).json()["control"]
    assert control["rate"] == 7
    stats = httpx.get(f"{run.base}/api/v1/runs/main/stats", headers=headers).json()
    assert stats["rate"]["target_cps"] == 7
    # The page shows the new target too (from the live feed).
    wait_for(lambda: page.text("count-target") == "7", 10, "the page kept the old rate")
    # And the calls created per second follow: over 3 s about 21 calls, not 60.
    before = httpx.get(f"{run.base}/api/v1/runs/main/stats", headers=headers).json()
    time.sleep(3)
    after = httpx.get(f"{run.base}/api/v1/runs/main/stats", headers=headers).json()
    created = after["calls"]["total"] - before["calls"]["total"]
    assert 10 <= created <= 35, created

    # A screenshot of the run page, kept as an artefact, is not blank.
    png = page.screenshot_png()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(png)
    colours, width = png_pixel_spread(png)
    assert width >= 800 and colours >= 20, (colours, width)
    errors = page.console_errors()
    assert errors == [], errors

    # The viewer: no controls, and a command forced from the page with its token is refused.
    page.click("#logout")
    log_in(page, run.base, "vera")
    page.open(run.base + "/#/run/main")
    wait_for(lambda: number(page.text("count-total")), 10, "the viewer sees no counters")
    assert page.count("#controls") == 0
    assert page.count("#rate-set") == 0
    answer = page.await_script(
        """
        fetch('/api/v1/runs/main/rate', {method: 'POST', headers: {
            'Authorization': 'Bearer ' + sessionStorage.getItem('gossipper.token'),
            'Content-Type': 'application/json'}, body: JSON.stringify({value: 50})})
          .then(r => r.json().then(body => ({status: r.status, body: body})))
        """
    )
    assert answer["status"] == 403, answer
    assert answer["body"]["error"]["code"] == "forbidden"
    control = httpx.get(f"{run.base}/api/v1/runs/main", headers=headers).json()["control"]
    assert control["rate"] == 7
    audit = (run.directory / "audit.log").read_text()
    assert '"user":"vera"' in audit and '"outcome":"refused"' in audit


def admin_creates_a_run_in_server_mode(page: Page, directory: pathlib.Path) -> None:
    """An admin creates and starts a run from the new-run form of ``gossipper server``; the
    list shows it running and its calls succeed (read through the API)."""
    add_user(directory, "ada", "admin")
    api_port, uas_port, uac_port = free_tcp_port(), free_tcp_port(), free_tcp_port()
    config = {
        "api_addr": f"127.0.0.1:{api_port}",
        "users_db": "users.sqlite",
        "token_secret_file": "token-secret",
        "audit_log": "audit.log",
        "output_dir": "out",
        "runs": {"uas": {"sn": "uas", "local_ip": "127.0.0.1", "local_port": uas_port}},
    }
    (directory / "server.json").write_text(json.dumps(config))
    process = subprocess.Popen(
        [sys.executable, "-m", "gossipper", "server", "-config", str(directory / "server.json")],
        cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    server = ApiProcess(process, f"http://127.0.0.1:{api_port}", directory)
    try:
        wait_for(lambda: healthy(server), 20, "the server's API never answered")
        log_in(page, server.base, "ada")
        wait_for(lambda: page.count("#new-run"), 10, "no new-run form")
        page.type_text("#new-run-name", "uac1")
        spec = {
            "sn": "uac",
            "remote": f"127.0.0.1:{uas_port}",
            "local_ip": "127.0.0.1",
            "local_port": uac_port,
            "rate": 5,
        }
        page.type_text("#new-run-spec", json.dumps(spec), clear=True)
        page.click("#new-run button[type=submit]")
        wait_for(
            lambda: "Run uac1 created" in page.text("notice"),
            10,
            f"no creation: {page.text('error')!r}",
        )
        # The list shows it running; the API agrees and its calls succeed.
        wait_for(
            lambda: "uac1 running" in page.text("runs-body"),
            10,
            f"uac1 is not running: {page.text('runs-body')!r}",
        )
        headers = api_headers(server.base, "ada")

        def successful() -> int:
            answer = httpx.get(f"{server.base}/api/v1/runs/uac1/stats", headers=headers)
            count: int = answer.json()["calls"]["successful"]
            return count

        wait_for(lambda: successful() >= 3, 15, "the created run makes no calls")
    finally:
        server.stop()


def artefact_path(tmp_path: pathlib.Path, name: str) -> pathlib.Path:
    """Where a CI artefact goes: $GOSSIPPER_ARTIFACTS (set by .ci/run), else the test's
    temporary directory."""
    return pathlib.Path(os.environ.get("GOSSIPPER_ARTIFACTS") or tmp_path) / name
