"""Build one of gossipper's hand-written C accelerators from its source, for a test.

Both test sessions check the C code this way: the pure-Python one (where the installed package
has no extension) and the compiled one (whose package must also have found its own build).
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sysconfig
import types

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def c_source(module_file: str, name: str) -> pathlib.Path:
    """``name`` beside ``module_file`` (an installed module), else in this checkout."""
    source = pathlib.Path(module_file).with_name(name)
    if source.exists():
        return source
    # The compiled session runs from an install that may not keep the .c beside the module.
    package = pathlib.Path(module_file).parent
    return REPO / "gossipper" / package.name / name


def build_c_extension(
    source: pathlib.Path, tmp_path_factory: pytest.TempPathFactory
) -> types.ModuleType:
    """Compile ``source`` with the C compiler a compiled install uses, warnings as errors, and
    import it (a failure in CI, a skip without a compiler)."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        if os.environ.get("CI"):
            pytest.fail(f"no C compiler {compiler!r}: the compiled install needs one too")
        pytest.skip(f"no C compiler {compiler!r}")
    name = source.stem
    out = tmp_path_factory.mktemp(name) / f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"
    include = sysconfig.get_paths()["include"]
    command = [compiler, "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
               f"-I{include}", str(source), "-o", str(out)]  # fmt: skip
    built = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr
    spec = importlib.util.spec_from_file_location(name, out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
