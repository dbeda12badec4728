"""docs/api.md stays true: its route table is the application's, and every curl example in it
runs against a real run."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess

import pytest

from gossipper.api.app import ROUTES, openapi_document, route_table_markdown
from tests.api.cli_process import PASSWORD, start_api_run

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_the_route_table_of_the_docs_is_the_applications() -> None:
    text = DOC.read_text()
    table = text.split("<!-- routes:begin -->\n", 1)[1].split("<!-- routes:end -->", 1)[0]
    assert table == route_table_markdown(), "regenerate: python -m gossipper.api.app"


def test_openapi_describes_every_route_with_its_role() -> None:
    document = openapi_document("test")
    assert document["openapi"].startswith("3.1")
    for route in ROUTES:
        path = route.path.replace("<name>", "{name}")
        for method in route.methods:
            operation = document["paths"][path][method.lower()]
            if route.role is None:
                assert operation["security"] == []
            else:
                assert operation["x-role"] == route.role


def _sh_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_curl_examples_run(tmp_path: pathlib.Path) -> None:
    if shutil.which("curl") is None:
        if os.environ.get("CI"):
            pytest.fail("curl is missing: the CI image must have it")
        pytest.skip("curl is not installed")
    blocks = _sh_blocks()
    assert len(blocks) >= 5 and all("curl" in block for block in blocks)
    api = start_api_run(tmp_path, "-r", "10")
    env = {
        **os.environ,
        "API": api.base,
        "GOSSIPPER_USER": "otto",
        "GOSSIPPER_PASSWORD": PASSWORD,
    }
    try:
        for block in blocks:
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert done.returncode == 0, f"{block}\n{done.stdout}\n{done.stderr}"
        api.process.wait(timeout=20)  # the last example stops the run
    finally:
        status, err = api.stop()
    assert status == 0, err
    audit = (tmp_path / "audit.log").read_text()
    assert '"action":"rate"' in audit and '"action":"stop"' in audit
