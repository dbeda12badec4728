"""Optional mypyc compilation of gossipper's per-message hot path.

All metadata lives in pyproject.toml; this file only adds extension modules. ``pip install .``
compiles the modules in ``COMPILED_MODULES`` with mypyc (about 15-20 % less CPU per call, see
docs/performance.md) when a C compiler and the Python headers are present. Anything that goes
wrong (no compiler, no headers, a mypy error) installs the same package as pure Python instead,
with a warning in pip's verbose log. ``GOSSIPPER_NO_COMPILE=1`` forces pure Python. Editable
installs (``pip install -e .``) are never compiled: a built .so would shadow edits to the .py.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Per-message and per-call code (parse, match, render, send, timers, counters). Every module
# here must pass `mypy --strict` and avoid what mypyc rejects (subclassing builtins, `del` of a
# local, monkeypatching its classes from tests, module-level __getattr__ as in the lazy package
# __init__ files); `nox -s compiled` builds it and runs the whole suite against it.
COMPILED_MODULES = [
    "gossipper/sip/__init__.py",
    "gossipper/sip/framing.py",
    "gossipper/sip/headers.py",
    "gossipper/sip/message.py",
    "gossipper/sip/retransmit.py",
    "gossipper/sip/uri.py",
    "gossipper/scenario/actions.py",
    "gossipper/scenario/context.py",
    "gossipper/scenario/keywords.py",
    "gossipper/scenario/model.py",
    "gossipper/scenario/templates.py",
    "gossipper/scenario/variables.py",
    "gossipper/stats/counters.py",
    "gossipper/stats/histogram.py",
    "gossipper/engine/call.py",
    "gossipper/engine/engine.py",
    "gossipper/engine/host.py",
    "gossipper/engine/rate.py",
    "gossipper/engine/timers.py",
    "gossipper/transport/udp.py",
    "gossipper/media/scheduler.py",
]

# Hand-written C, built with the modules above (and, like them, optional: the import falls
# back to the Python path). gossipper/media/_rtpfast.c: an RTP packet built and sent in one
# call, the media scheduler's accelerator for plain streams (issue 17 item 6).
# gossipper/sip/_sipfast.c: the header-line loops of the parser and the stream framer.
# gossipper/transport/_udpfast.c: UDP datagrams received with recvmmsg, sent to an address
# converted once. gossipper/engine/_timerfd.c: the receive loop's sleep after a batch as a wait
# on a timerfd.
C_EXTENSIONS = [
    Extension("gossipper.media._rtpfast", ["gossipper/media/_rtpfast.c"]),
    Extension("gossipper.sip._sipfast", ["gossipper/sip/_sipfast.c"]),
    Extension("gossipper.transport._udpfast", ["gossipper/transport/_udpfast.c"]),
    Extension("gossipper.engine._timerfd", ["gossipper/engine/_timerfd.c"]),
]


def _warn(message: str) -> None:
    print(f"gossipper: {message}; installing pure Python", file=sys.stderr)


def _wants_compile() -> bool:
    if os.environ.get("GOSSIPPER_NO_COMPILE", "") not in ("", "0"):
        return False
    # setuptools' PEP 660 hook runs `setup.py editable_wheel`; the legacy path runs `develop`.
    return not any(cmd in sys.argv for cmd in ("editable_wheel", "develop"))


def _ext_modules() -> list[Any]:
    if not _wants_compile():
        return []
    try:
        from mypyc.build import mypycify

        compiled = list(mypycify(COMPILED_MODULES, opt_level="3"))
    except BaseException as exc:  # noqa: BLE001 - mypy reports type errors with SystemExit
        if isinstance(exc, KeyboardInterrupt):
            raise
        _warn(f"mypyc could not translate the hot modules ({exc!r})")
        return []
    return [*compiled, *C_EXTENSIONS]


class OptionalBuildExt(build_ext):  # type: ignore[misc]
    """build_ext that falls back to pure Python when any extension fails to compile.

    All compiled modules share one mypyc runtime library, so it is all or nothing: a partial
    set of .so files would fail at import time.
    """

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - compiler missing, headers missing, ...
            _warn(f"C build failed ({exc})")
            for path in self.get_outputs():
                if os.path.exists(path):
                    os.remove(path)
            self.extensions.clear()


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
