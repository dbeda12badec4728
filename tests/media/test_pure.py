"""The media building blocks stay pure until the engine wiring: no trio, sockets or clocks.

(import-linter's contract covers gossipper.sdp; gossipper.media will import trio once its
scheduler exists, so today's pure modules are checked here one by one.)
"""

from __future__ import annotations

import ast
import pathlib

import pytest

import gossipper.media

PURE_MODULES = ["rtp.py", "quality.py", "audio.py"]
FORBIDDEN = {"trio", "socket", "time", "asyncio", "random", "os", "threading"}


@pytest.mark.parametrize("name", PURE_MODULES)
def test_media_building_block_imports_no_io(name: str) -> None:
    path = pathlib.Path(gossipper.media.__file__).parent / name
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module.split(".")[0])
    assert imported & FORBIDDEN == set()
