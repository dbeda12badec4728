"""The documentation stays complete: every option of a run is in docs/compatibility.md."""

from __future__ import annotations

import pathlib

from gossipper.cli.options import OPTIONS, RUN

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_option_has_a_compatibility_row() -> None:
    text = (ROOT / "docs" / "compatibility.md").read_text()
    # SIPp's options and gossipper's extensions of them; gossipper sim's own are in docs/cli.md.
    missing = [
        spec.name for spec in OPTIONS if RUN in spec.scope and f"| `{spec.name}` |" not in text
    ]
    assert missing == []


def test_readme_quick_start_has_exactly_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```sh\n")[1:]
    commands = [block.split("```", 1)[0].strip() for block in blocks]
    assert len(commands) == 2
    assert commands[0].startswith("pip install . && gossipper ")
    assert "nox -s lint typecheck tests compiled" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "nox -s lint typecheck tests compiled" in ci
