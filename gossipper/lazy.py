"""Lazy package attributes (PEP 562): a name is imported from its submodule on first use.

The ``scenario`` and ``stats`` packages re-export many names; importing every submodule at
start-up would charge a run for formatters and actions it may never use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, namespace: dict[str, Any], submodule_of: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``submodule_of`` maps a name to the
    submodule defining it; a loaded value is cached in the package's ``namespace``."""

    def __getattr__(name: str) -> object:
        submodule = submodule_of.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # __import__ rather than importlib.import_module: the same work, and ``-X importtime``
        # (which only sees the import statement's path) still lists the module.
        value = getattr(__import__(f"{package}.{submodule}", fromlist=[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *submodule_of})

    return __getattr__, __dir__
