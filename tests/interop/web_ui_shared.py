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
    # A run without media has no media section, and no media chart.
    assert not page.displayed("media-box") and page.count("#chart-media .uplot") == 0
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


MEDIA_CALLS = 4
"""Calls of the media run: each streams a 1 s tone that gossipper's uas echoes back."""


@contextlib.contextmanager
def media_api_run(directory: pathlib.Path) -> Iterator[ApiProcess]:
    """A loopback run with media and an operator (otto): gossipper's built-in uas with
    ``-rtp_echo``, and a uac on tests/interop/data/uac_rtp_stream.xml (``rtp_stream`` of a 1 s
    u-law tone) with ``-api_addr``, MEDIA_CALLS calls; its API stays up for a minute after the
    run (``-api_linger``) so the final figures can be compared. Both are stopped at the end."""
    from tests.interop.harness import free_udp_port, wait_for_udp_listener
    from tests.interop.media import free_udp_port_block, write_ulaw_tone

    add_user(directory, "otto", "operator")
    # The scenario's rtp_stream finds the file in the working directory.
    write_ulaw_tone(directory / "media_tone.ulaw", 1.0)
    scenario = pathlib.Path(__file__).parent / "data" / "uac_rtp_stream.xml"
    sip_port, api_port = free_udp_port(), free_tcp_port()
    block = free_udp_port_block(40)
    uas = subprocess.Popen(
        [
            sys.executable, "-m", "gossipper", "-sn", "uas", "-rtp_echo", "-i", "127.0.0.1",
            "-p", str(sip_port), "-nostdin", "-m", str(MEDIA_CALLS),
            "-min_rtp_port", str(block), "-max_rtp_port", str(block + 19),
        ],
        cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_udp_listener(sip_port, uas)
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gossipper", "-sf", str(scenario),
                f"127.0.0.1:{sip_port}", "-i", "127.0.0.1", "-nostdin",
                "-m", str(MEDIA_CALLS), "-r", "2", "-d", "1500",
                "-min_rtp_port", str(block + 20), "-max_rtp_port", str(block + 39),
                "-api_addr", f"127.0.0.1:{api_port}", "-api_linger", "60s",
                "-api_users", str(directory / "users.sqlite"),
                "-api_secret", str(directory / "token-secret"),
                "-api_audit", str(directory / "audit.log"),
            ],
            cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        api = ApiProcess(process, f"http://127.0.0.1:{api_port}", directory)
        try:
            wait_for(lambda: healthy(api), 20, "the API never answered")
            yield api
        finally:
            api.stop()
    finally:
        if uas.poll() is None:
            uas.terminate()
        uas.communicate(timeout=20)


def _close_to(shown: str, value: float | None, digits: int) -> bool:
    """The text shows ``value`` to ``digits`` decimals (a dash when there is no value)."""
    if value is None:
        return shown == "–"
    figure = number(shown)
    return figure is not None and abs(figure - value) <= 0.5 * 10**-digits + 1e-9


def media_chart_shows_the_api_figures(
    page: Page, run: ApiProcess, screenshot: pathlib.Path
) -> None:
    """On a run with media, the run page's media section appears, and once the run has ended
    its cards and the latest values of its chart (MOS mean, loss %, jitter mean) are the API's
    statistics, read separately with the operator's token; the page's screenshot (written to
    ``screenshot``) is not blank; no script error."""
    log_in(page, run.base, "otto")
    page.open(run.base + "/#/run/main")
    wait_for(lambda: number(page.text("count-total")) is not None, 10, "no counters")
    wait_for(lambda: page.displayed("media-box"), 30, "the media section never appeared")
    headers = api_headers(run.base, "otto")

    def finished() -> bool:
        answer = httpx.get(f"{run.base}/api/v1/runs/main", headers=headers)
        return bool(answer.json()["state"] == "finished")

    wait_for(finished, 30, "the media run did not finish")
    stats = httpx.get(f"{run.base}/api/v1/runs/main/stats", headers=headers).json()
    assert stats["calls"]["successful"] == MEDIA_CALLS, stats["calls"]
    media = stats["media"]
    # One audio stream per call, each with the tone sent and its echo received.
    assert media["streams"] == MEDIA_CALLS, media
    assert media["packets"]["sent"] > 0 and media["packets"]["received"] > 0, media
    assert media["mos"]["mean"] is not None, media
    packets = media["packets"]
    cards = {
        "media-streams": media["streams"],
        "media-sent": packets["sent"],
        "media-received": packets["received"],
        "media-lost": packets["lost"],
    }
    # As the page rounds them (gossipper/api/static/app.js, MEDIA_DIGITS).
    rounded = {
        "media-mos": (media["mos"]["mean"], 2),
        "media-loss": (media["loss_pct"], 2),
        "media-jitter": (media["jitter_ms"]["mean"], 3),
    }

    def cards_agree() -> bool:
        return all(number(page.text(i)) == v for i, v in cards.items()) and all(
            _close_to(page.text(i), v, d) for i, (v, d) in rounded.items()
        )

    wait_for(
        cards_agree,
        10,
        f"the media cards are not the API's {cards} {rounded}: "
        + repr({i: page.text(i) for i in [*cards, *rounded]}),
    )
    # The chart is drawn, and its legend shows the latest point: the same figures.
    assert page.count("#chart-media .uplot canvas") == 1
    legend_script = (
        "Promise.resolve(Array.from(document.querySelectorAll("
        "'#chart-media .u-legend .u-series')).map(r => [r.querySelector('.u-label')"
        ".textContent, r.querySelector('.u-value') ? r.querySelector('.u-value').textContent"
        " : '']))"
    )
    expected = {
        "MOS mean": rounded["media-mos"],
        "loss %": rounded["media-loss"],
        "jitter mean (ms)": rounded["media-jitter"],
    }

    def legend_agrees() -> bool:
        legend = dict(page.await_script(legend_script))
        return all(_close_to(legend.get(k, ""), v, d) for k, (v, d) in expected.items())

    wait_for(
        legend_agrees,
        10,
        f"the media chart's legend is not the API's {expected}: "
        + repr(page.await_script(legend_script)),
    )
    png = page.screenshot_png()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(png)
    colours, width = png_pixel_spread(png)
    assert width >= 800 and colours >= 20, (colours, width)
    errors = page.console_errors()
    assert errors == [], errors


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
