"""The web UI in a real browser: Debian's Chromium driven by Selenium against a real
``gossipper -api_addr`` run on loopback. An operator logs in, watches the counters move,
changes the rate and the engine follows (read back through the API); a viewer sees no
controls and a command sent with the viewer's token is refused (403). A screenshot of the run
page is saved as an artefact and checked for non-blank content."""

from __future__ import annotations

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
from typing import Any

import httpx
import pytest

from tests.api.cli_process import ApiProcess, free_tcp_port

pytestmark = pytest.mark.interop

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "web ui test password"


def _need(path: str, package: str) -> None:
    if not (os.path.exists(path) or shutil.which(os.path.basename(path))):
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: .ci/run must apt-get install {package}")
        pytest.skip(f"{path} not installed (apt-get install -y {package}); required in CI")


@pytest.fixture
def browser() -> Iterator[Any]:
    _need(CHROMIUM, "chromium")
    _need(CHROMEDRIVER, "chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("selenium is missing: it is in the test extra")
        pytest.skip("selenium not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--window-size=1400,1600",
    ):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = CHROMEDRIVER if os.path.exists(CHROMEDRIVER) else shutil.which("chromedriver")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_script_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()


def _add_user(directory: pathlib.Path, name: str, role: str) -> None:
    """``gossipper auth user-add`` (the real command, password on standard input)."""
    done = subprocess.run(
        [
            sys.executable, "-m", "gossipper", "auth", "user-add", name, "--role", role,
            "--password-stdin", "-db", str(directory / "users.sqlite"),
        ],
        input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.fixture
def run(tmp_path: pathlib.Path) -> Iterator[ApiProcess]:
    _add_user(tmp_path, "otto", "operator")
    _add_user(tmp_path, "vera", "viewer")
    port = free_tcp_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gossipper", "-sn", "uac", "-peer", "uas", "-i", "127.0.0.1",
            "-nostdin", "-r", "20", "-m", "100000", "-api_addr", f"127.0.0.1:{port}",
            "-api_users", str(tmp_path / "users.sqlite"),
            "-api_secret", str(tmp_path / "token-secret"),
            "-api_audit", str(tmp_path / "audit.log"),
        ],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    api = ApiProcess(process, f"http://127.0.0.1:{port}", tmp_path)
    try:
        _wait_for(lambda: _healthy(api), 20, "the API never answered")
        yield api
    finally:
        api.stop()


def _healthy(api: ApiProcess) -> bool:
    assert api.process.poll() is None, api.stop()[1]
    try:
        return httpx.get(f"{api.base}/api/v1/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _wait_for(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.2)


def _text(driver: Any, element_id: str) -> str:
    from selenium.common.exceptions import NoSuchElementException

    try:
        text: str = driver.find_element("id", element_id).text
    except NoSuchElementException:
        return ""
    return text


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _log_in(driver: Any, base: str, user: str) -> None:
    driver.get(base + "/")
    _wait_for(lambda: driver.find_elements("id", "login-user"), 10, "no login form")
    driver.find_element("id", "login-user").send_keys(user)
    driver.find_element("id", "login-password").send_keys(PASSWORD)
    driver.find_element("id", "login-submit").click()
    _wait_for(lambda: driver.find_elements("id", "runs-table"), 10, "no runs page after login")


def _png_pixel_spread(png: bytes) -> tuple[int, int]:
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


def test_operator_steers_and_viewer_is_refused(
    browser: Any, run: ApiProcess, tmp_path: pathlib.Path
) -> None:
    driver = browser
    _log_in(driver, run.base, "otto")
    # The runs page lists the run with its state.
    _wait_for(
        lambda: "running" in _text(driver, "runs-body") and "main" in _text(driver, "runs-body"),
        10,
        f"the run is not listed: {_text(driver, 'runs-body')!r}",
    )
    driver.find_element("link text", "main").click()
    _wait_for(lambda: _number(_text(driver, "count-total")), 10, "no counters on the run page")

    # The counters move with the engine.
    first = _number(_text(driver, "count-total")) or 0
    _wait_for(
        lambda: (_number(_text(driver, "count-total")) or 0) >= first + 20,
        10,
        "the calls counter did not move",
    )
    # The scenario table carries live per-element counts (the INVITE row counts sent ones).
    invite = driver.find_element(
        "css selector", '#scenario-table td[data-element="0"][data-column="messages"]'
    )
    assert (_number(invite.text) or 0) > 0
    assert driver.find_elements("css selector", "#chart-rate .uplot")

    # Change the rate; the engine follows (read back through the API, not the page).
    rate = driver.find_element("id", "rate-input")
    rate.clear()
    rate.send_keys("7")
    driver.find_element("id", "rate-set").click()
    _wait_for(lambda: "Rate set to 7" in _text(driver, "notice"), 10, "no answer to the rate")
    login = httpx.post(f"{run.base}/api/v1/login", json={"user": "otto", "password": PASSWORD})
    token = login.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    control = httpx.get(f"{run.base}/api/v1/runs/main", headers=headers).json()["control"]
    assert control["rate"] == 7
    stats = httpx.get(f"{run.base}/api/v1/runs/main/stats", headers=headers).json()
    assert stats["rate"]["target_cps"] == 7
    # The page shows the new target too (from the live feed).
    _wait_for(lambda: _text(driver, "count-target") == "7", 10, "the page kept the old rate")
    # And the calls created per second follow: over 3 s about 21 calls, not 60.
    before = httpx.get(f"{run.base}/api/v1/runs/main/stats", headers=headers).json()
    time.sleep(3)
    after = httpx.get(f"{run.base}/api/v1/runs/main/stats", headers=headers).json()
    created = after["calls"]["total"] - before["calls"]["total"]
    assert 10 <= created <= 35, created

    # A screenshot of the run page, kept as an artefact, is not blank.
    artefacts = pathlib.Path(os.environ.get("GOSSIPPER_ARTIFACTS") or tmp_path)
    artefacts.mkdir(parents=True, exist_ok=True)
    png = driver.get_screenshot_as_png()
    (artefacts / "web-ui-run-page.png").write_bytes(png)
    colours, width = _png_pixel_spread(png)
    assert width >= 800 and colours >= 20, (colours, width)
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe

    # The viewer: no controls, and a command forced from the page with its token is refused.
    driver.find_element("id", "logout").click()
    _log_in(driver, run.base, "vera")
    driver.get(run.base + "/#/run/main")
    _wait_for(lambda: _number(_text(driver, "count-total")), 10, "the viewer sees no counters")
    assert driver.find_elements("id", "controls") == []
    assert driver.find_elements("id", "rate-set") == []
    answer = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        fetch('/api/v1/runs/main/rate', {method: 'POST', headers: {
            'Authorization': 'Bearer ' + sessionStorage.getItem('gossipper.token'),
            'Content-Type': 'application/json'}, body: JSON.stringify({value: 50})})
          .then(r => r.json().then(body => done({status: r.status, body: body})));
        """
    )
    assert answer["status"] == 403, answer
    assert answer["body"]["error"]["code"] == "forbidden"
    control = httpx.get(f"{run.base}/api/v1/runs/main", headers=headers).json()["control"]
    assert control["rate"] == 7
    audit = (run.directory / "audit.log").read_text()
    assert '"user":"vera"' in audit and '"outcome":"refused"' in audit


def test_admin_creates_a_run_in_server_mode(browser: Any, tmp_path: pathlib.Path) -> None:
    _add_user(tmp_path, "ada", "admin")
    api_port, uas_port, uac_port = free_tcp_port(), free_tcp_port(), free_tcp_port()
    config = {
        "api_addr": f"127.0.0.1:{api_port}",
        "users_db": "users.sqlite",
        "token_secret_file": "token-secret",
        "audit_log": "audit.log",
        "output_dir": "out",
        "runs": {"uas": {"sn": "uas", "local_ip": "127.0.0.1", "local_port": uas_port}},
    }
    (tmp_path / "server.json").write_text(json.dumps(config))
    process = subprocess.Popen(
        [sys.executable, "-m", "gossipper", "server", "-config", str(tmp_path / "server.json")],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    server = ApiProcess(process, f"http://127.0.0.1:{api_port}", tmp_path)
    try:
        _wait_for(lambda: _healthy(server), 20, "the server's API never answered")
        driver = browser
        _log_in(driver, server.base, "ada")
        _wait_for(lambda: driver.find_elements("id", "new-run"), 10, "no new-run form")
        driver.find_element("id", "new-run-name").send_keys("uac1")
        spec = driver.find_element("id", "new-run-spec")
        spec.clear()
        spec.send_keys(
            json.dumps(
                {
                    "sn": "uac",
                    "remote": f"127.0.0.1:{uas_port}",
                    "local_ip": "127.0.0.1",
                    "local_port": uac_port,
                    "rate": 5,
                }
            )
        )
        driver.find_element("css selector", "#new-run button[type=submit]").click()
        _wait_for(
            lambda: "Run uac1 created" in _text(driver, "notice"),
            10,
            f"no creation: {_text(driver, 'error')!r}",
        )
        # The list shows it running; the API agrees and its calls succeed.
        _wait_for(
            lambda: "uac1 running" in _text(driver, "runs-body"),
            10,
            f"uac1 is not running: {_text(driver, 'runs-body')!r}",
        )
        login = httpx.post(
            f"{server.base}/api/v1/login", json={"user": "ada", "password": PASSWORD}
        )
        headers = {"Authorization": f"Bearer {login.json()['token']}"}

        def successful() -> int:
            answer = httpx.get(f"{server.base}/api/v1/runs/uac1/stats", headers=headers)
            count: int = answer.json()["calls"]["successful"]
            return count

        _wait_for(lambda: successful() >= 3, 15, "the created run makes no calls")
    finally:
        server.stop()
