"""Golden simulation outputs: every file of every case in tests/golden_csv/, byte for byte.

The cases are declared in tests/golden_tool.py. When a change is intended, regenerate with
``nox -s golden`` (``python -m tests.golden_tool --regenerate``) and review the diff as code
(tests/golden_csv/README.md says how).
"""

from __future__ import annotations

import pathlib

import pytest

from tests.golden_tool import CASES, ROOT, diff_outputs, expected_outputs, run_case


def test_there_are_at_least_eight_golden_cases_each_with_its_files() -> None:
    assert len(CASES) >= 8
    for case in CASES:
        stored = expected_outputs(case)
        assert {"stdout.txt", "stderr.txt", "exit_status.txt", "summary.json"} <= stored.keys()
        assert any(name.endswith("_messages.log") for name in stored), case.name
    kept = {path.name for path in ROOT.iterdir() if path.is_dir()} - {"scenarios"}
    assert kept == {case.name for case in CASES}, "stale golden directories"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_golden_case_output_is_byte_identical(case: object, tmp_path: pathlib.Path) -> None:
    from tests.golden_tool import GoldenCase

    assert isinstance(case, GoldenCase)
    problems = diff_outputs(expected_outputs(case), run_case(case, tmp_path))
    assert not problems, (
        f"golden case {case.name} changed; if intended, run `nox -s golden` and review the diff"
        " (tests/golden_csv/README.md)\n" + "\n".join(problems)
    )
