"""The web UI in a real browser: Debian's Chromium driven by Selenium against a real
``gossipper -api_addr`` run on loopback. An operator logs in, watches the counters move,
changes the rate and the engine follows (read back through the API); a viewer sees no
controls and a command sent with the viewer's token is refused (403). A screenshot of the run
page is saved as an artefact and checked for non-blank content. The steps are shared with the
Firefox test (tests/interop/web_ui_shared.py)."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.cli_process import ApiProcess
from tests.interop import web_ui_shared
from tests.interop.web_ui_shared import api_run, artefact_path, media_api_run, need

pytestmark = pytest.mark.interop

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class SeleniumPage:
    """web_ui_shared.Page on a Selenium WebDriver."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def open(self, url: str) -> None:
        self.driver.get(url)

    def text(self, element_id: str) -> str:
        found = self.driver.find_elements("id", element_id)
        return str(found[0].text) if found else ""

    def count(self, selector: str) -> int:
        return len(self.driver.find_elements("css selector", selector))

    def displayed(self, element_id: str) -> bool:
        found = self.driver.find_elements("id", element_id)
        return bool(found and found[0].is_displayed())

    def click(self, selector: str) -> None:
        self.driver.find_element("css selector", selector).click()

    def type_text(self, selector: str, text: str, clear: bool = False) -> None:
        field = self.driver.find_element("css selector", selector)
        if clear:
            field.clear()
        field.send_keys(text)

    def await_script(self, expression: str) -> Any:
        return self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            f"Promise.resolve({expression}).then(done, e => done({{error: String(e)}}));"
        )

    def screenshot_png(self) -> bytes:
        png: bytes = self.driver.get_screenshot_as_png()
        return png

    def console_errors(self) -> list[str]:
        return [str(e) for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture
def browser() -> Iterator[SeleniumPage]:
    chromium = need(CHROMIUM, "chromium")
    chromedriver = need(CHROMEDRIVER, "chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("selenium is missing: it is in the test extra")
        pytest.skip("selenium not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--window-size=1400,1600",
    ):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_script_timeout(15)
    try:
        yield SeleniumPage(driver)
    finally:
        driver.quit()


@pytest.fixture
def run(tmp_path: pathlib.Path) -> Iterator[ApiProcess]:
    with api_run(tmp_path) as api:
        yield api


def test_operator_steers_and_viewer_is_refused(
    browser: SeleniumPage, run: ApiProcess, tmp_path: pathlib.Path
) -> None:
    web_ui_shared.operator_steers_and_viewer_is_refused(
        browser, run, artefact_path(tmp_path, "web-ui-run-page.png")
    )


def test_admin_creates_a_run_in_server_mode(browser: SeleniumPage, tmp_path: pathlib.Path) -> None:
    web_ui_shared.admin_creates_a_run_in_server_mode(browser, tmp_path)


@pytest.fixture
def media_run(tmp_path: pathlib.Path) -> Iterator[ApiProcess]:
    with media_api_run(tmp_path) as api:
        yield api


def test_media_chart_shows_the_api_figures(
    browser: SeleniumPage, media_run: ApiProcess, tmp_path: pathlib.Path
) -> None:
    web_ui_shared.media_chart_shows_the_api_figures(
        browser, media_run, artefact_path(tmp_path, "web-ui-media.png")
    )
