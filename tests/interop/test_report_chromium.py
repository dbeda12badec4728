"""The HTML report in a real browser: Debian's Chromium, headless, opens the page from a file
with no network and draws every chart without a script error."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

from gossipper.report.html import build_report, render_html
from gossipper.report.inputs import load_input

pytestmark = pytest.mark.interop

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden_csv"


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    """Chromium. In CI (CI set) a missing binary is a failure, never a skip."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run must apt-get install chromium")
        pytest.skip("chromium not installed (apt-get install -y chromium); required in CI")
    return path


@pytest.mark.parametrize(
    ("case", "charts"),
    [
        # Rate, open calls, failures, mean response time, percentiles, and the distributions
        # of RTD 1 and of call lengths.
        ("tcp_tn_resets", 7),
        # The same, and the media section's streams by MOS and media quality over time.
        ("media_rtp", 9),
    ],
)
def test_chromium_draws_every_chart(
    chromium_binary: str, tmp_path: pathlib.Path, case: str, charts: int
) -> None:
    inputs = [load_input(str(GOLDEN / case / "summary.json"), label="run")]
    page = tmp_path / "report.html"
    page.write_text(render_html(build_report(inputs)), "utf-8")
    result = subprocess.run(
        [
            chromium_binary, "--headless", "--no-sandbox", "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
            # No network at all: the page must not need it.
            "--proxy-server=127.0.0.1:9", "--dump-dom", page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    dom = result.stdout
    assert "Uncaught" not in result.stderr, result.stderr[-3000:]
    # uPlot wraps each chart in <div class="uplot ...">.
    assert dom.count('class="uplot') == charts, dom[-2000:]
    assert '<p class="nodata">No data for this chart' not in dom
    assert "<canvas" in dom
