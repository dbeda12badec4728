"""The web UI in Firefox: Debian's firefox-esr, headless, driven through WebDriver BiDi
(tests/interop/webdriver_bidi.py; no geckodriver) against a real ``gossipper -api_addr`` run
on loopback. The same steps and checks as the Chromium test (tests/interop/web_ui_shared.py):
log in, the counters move, a rate change the engine follows, a viewer refused a command, a
non-blank screenshot of the run page as a CI artefact, no script error in the console. The
browser runs on a profile in its own temporary directory; every process of it is ended and
checked gone at the end."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.cli_process import ApiProcess
from tests.interop import web_ui_shared
from tests.interop.web_ui_shared import api_run, artefact_path, media_api_run, need

if TYPE_CHECKING:
    from tests.interop.webdriver_bidi import Firefox

# The whole test, browser start and end included, stays well under a minute.
pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

FIREFOX = "/usr/bin/firefox-esr"


class FirefoxPage:
    """web_ui_shared.Page on Firefox through WebDriver BiDi."""

    def __init__(self, firefox: Firefox) -> None:
        self.firefox = firefox

    def open(self, url: str) -> None:
        self.firefox.navigate(url)

    def text(self, element_id: str) -> str:
        # As WebDriver's element text: "" for an element that is not rendered, cells of a
        # table row separated by a space.
        text: str = self.firefox.call(
            "(id) => { const e = document.getElementById(id);"
            " if (!e || !e.getClientRects().length) return '';"
            " return e.innerText.replace(/[ \\t]+/g, ' ').trim(); }",
            element_id,
        )
        return text

    def count(self, selector: str) -> int:
        found: int = self.firefox.call("(s) => document.querySelectorAll(s).length", selector)
        return found

    def displayed(self, element_id: str) -> bool:
        shown: bool = self.firefox.call(
            "(id) => { const e = document.getElementById(id);"
            " return !!e && e.getClientRects().length > 0"
            " && getComputedStyle(e).visibility === 'visible'; }",
            element_id,
        )
        return shown

    def click(self, selector: str) -> None:
        self.firefox.click(selector)

    def type_text(self, selector: str, text: str, clear: bool = False) -> None:
        self.firefox.type_text(selector, text, clear)

    def await_script(self, expression: str) -> Any:
        return self.firefox.call(f"() => ({expression})")

    def screenshot_png(self) -> bytes:
        return self.firefox.screenshot_png()

    def console_errors(self) -> list[str]:
        self.firefox.command("session.status", {})  # a round trip: pending events are read
        return list(self.firefox.console_errors)


@pytest.fixture
def browser() -> Iterator[FirefoxPage]:
    binary = need(FIREFOX, "firefox-esr")
    try:
        from tests.interop.webdriver_bidi import Firefox
    except ImportError:  # websocket-client, in the test extra
        if os.environ.get("CI"):
            pytest.fail("websocket-client is missing: it is in the test extra")
        pytest.skip("websocket-client not installed (pip install -e '.[test]')")
    firefox = Firefox.launch(binary, width=1400, height=1600, start_timeout_s=30)
    directory = firefox.directory
    try:
        yield FirefoxPage(firefox)
    finally:
        firefox.close()
    # No browser process and no profile left behind (close() fails if a process survives).
    assert not os.path.exists(directory), directory


@pytest.fixture
def run(tmp_path: pathlib.Path) -> Iterator[ApiProcess]:
    with api_run(tmp_path) as api:
        yield api


def test_operator_steers_and_viewer_is_refused(
    browser: FirefoxPage, run: ApiProcess, tmp_path: pathlib.Path
) -> None:
    web_ui_shared.operator_steers_and_viewer_is_refused(
        browser, run, artefact_path(tmp_path, "web-ui-run-page-firefox.png")
    )


def test_admin_creates_a_run_in_server_mode(browser: FirefoxPage, tmp_path: pathlib.Path) -> None:
    web_ui_shared.admin_creates_a_run_in_server_mode(browser, tmp_path)


@pytest.fixture
def media_run(tmp_path: pathlib.Path) -> Iterator[ApiProcess]:
    with media_api_run(tmp_path) as api:
        yield api


def test_media_chart_shows_the_api_figures(
    browser: FirefoxPage, media_run: ApiProcess, tmp_path: pathlib.Path
) -> None:
    web_ui_shared.media_chart_shows_the_api_figures(
        browser, media_run, artefact_path(tmp_path, "web-ui-media-firefox.png")
    )
