"""The browser UI's files (served without a token, with a strict Content-Security-Policy, uPlot
from the report's vendored copy) and the per-element counts the UI's scenario table reads
from the run document (docs/api.md, "Web UI")."""

from __future__ import annotations

import pathlib
import re
import time

import httpx
import trio

from gossipper.api.app import ROUTES
from tests.api.cli_process import start_api_run
from tests.api.fake_auth import FakeAuthenticator
from tests.api.fake_registry import IdleRegistry
from tests.api.serving import serving

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "gossipper"


def _get_all(paths: list[str]) -> dict[str, httpx.Response]:
    answers: dict[str, httpx.Response] = {}

    async def main() -> None:
        async with (
            serving(IdleRegistry(), FakeAuthenticator({})) as base,
            httpx.AsyncClient(base_url=base) as client,
        ):
            for path in paths:
                answers[path] = await client.get(path)

    trio.run(main)
    return answers


def test_the_ui_files_are_served_without_a_token() -> None:
    ui = [route.path for route in ROUTES if route.static is not None]
    answers = _get_all([*ui, "/ui/", "/ui/nope.js", "/ui/../api/v1/runs"])
    for path in ui:
        response = answers[path]
        assert response.status_code == 200, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.content
    page = answers["/"]
    assert page.headers["content-type"].startswith("text/html")
    assert answers["/ui"].content == answers["/ui/"].content == page.content
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert answers["/ui/app.js"].headers["content-type"].startswith("text/javascript")
    assert answers["/ui/app.css"].headers["content-type"].startswith("text/css")
    # uPlot is the report's vendored copy, byte for byte (one chart library in the package).
    vendor = PACKAGE / "report" / "vendor" / "uplot"
    assert (
        answers["/ui/vendor/uplot.iife.min.js"].content
        == (vendor / "uPlot.iife.min.js").read_bytes()
    )
    assert answers["/ui/vendor/uplot.min.css"].content == (vendor / "uPlot.min.css").read_bytes()
    # Nothing but the listed files: no directory serving, no way out of it.
    assert answers["/ui/nope.js"].status_code == 404
    assert answers["/ui/../api/v1/runs"].status_code in (401, 404)


def test_the_page_references_only_served_files_and_has_no_inline_script() -> None:
    html = (PACKAGE / "api" / "static" / "index.html").read_text()
    served = {route.path for route in ROUTES if route.static is not None}
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert references, html
    for reference in references:
        if reference.startswith(("#", "data:")):
            continue
        assert reference in served, reference
    # The CSP allows no inline script: every <script> has a src and no body.
    assert re.findall(r"<script[^>]*>([^<]*)</script>", html) == ["", ""]
    script = (PACKAGE / "api" / "static" / "app.js").read_text()
    # Values reach the page as text, never as markup.
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script


def test_the_run_document_has_the_scenario_tables_counts(tmp_path: pathlib.Path) -> None:
    api = start_api_run(tmp_path, "-r", "50")
    try:
        headers = {"Authorization": f"Bearer {api.token('vera')}"}
        deadline = time.monotonic() + 20
        while True:
            document = httpx.get(f"{api.base}/api/v1/runs/main", headers=headers).json()
            elements = document["elements"]
            if elements and elements[-1]["messages"] >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        api.stop()
    # The built-in uac: INVITE, 100, 180, 183, 200 (E-RTD1), ACK, pause, BYE, 200.
    summary = [(e["kind"], e["label"], e["rtd"]) for e in elements]
    assert summary == [
        ("send", "INVITE", None),
        ("recv", "100", None),
        ("recv", "180", None),
        ("recv", "183", None),
        ("recv", "200", "E-RTD1"),
        ("send", "ACK", None),
        ("pause", "", None),
        ("send", "BYE", None),
        ("recv", "200", None),
    ]
    invite, ring, ack, bye_ok = elements[0], elements[2], elements[5], elements[8]
    assert invite["messages"] >= bye_ok["messages"] >= 5
    assert ring["messages"] >= 5 and elements[1]["messages"] == 0
    assert elements[1]["optional"] is True and invite["optional"] is False
    # As on the screen: a send without retransmissions leaves the Timeout column blank.
    assert ack["timeouts"] is None and invite["timeouts"] == 0
    assert elements[6]["text"] == "0ms"
    # Every element's counts are the statistics' numbers: no call failed, none retransmitted.
    assert all(e["unexpected"] == 0 and e["retrans"] == 0 for e in elements)
