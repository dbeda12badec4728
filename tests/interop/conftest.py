from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
from collections.abc import Generator, Iterator

import pytest

from tests.interop import kamailio_proxy, media
from tests.interop.baresip import Baresip, start_baresip
from tests.interop.kamailio_proxy import KamailioProxy


@pytest.fixture(scope="session")
def sipp_binary() -> str:
    """The real SIPp. In CI (CI set) a missing binary is a failure, never a skip."""
    path = shutil.which("sipp")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("sipp is not installed: .ci/run must apt-get install sip-tester")
        pytest.skip("sipp not installed (apt-get install -y sip-tester); required in CI")
    return path


# Kamailio, the proxy between SIPp/gossipper UACs and UASes: tests/interop/kamailio/README.md.
_KAMAILIO = pytest.StashKey["KamailioProxy"]()
_BARESIP = pytest.StashKey["Baresip"]()


@pytest.fixture(scope="session")
def kamailio_binary() -> str:
    """The real Kamailio. In CI (CI set) a missing binary is a failure, never a skip."""
    return kamailio_proxy.kamailio_binary()


@pytest.fixture
def kamailio(
    kamailio_binary: str, tmp_path: pathlib.Path, request: pytest.FixtureRequest
) -> Iterator[KamailioProxy]:
    """A Kamailio of this test's own, ready on all listeners; stopped after the test."""
    proxy = kamailio_proxy.start_kamailio(tmp_path / "kamailio", kamailio_binary)
    request.node.stash[_KAMAILIO] = proxy
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test that used the ``kamailio`` (``baresip_agent``) fixture shows Kamailio's
    (baresip's) log in its report."""
    report = yield
    proxy = item.stash.get(_KAMAILIO, None)
    if proxy is not None and report.failed and proxy.log_file.exists():
        report.sections.append(("kamailio log", proxy.log()[-20000:]))
    agent = item.stash.get(_BARESIP, None)
    if agent is not None and report.failed and agent.log_path.exists():
        report.sections.append(("baresip log", agent.log()[-20000:]))
    return report


@pytest.fixture(scope="session")
def tshark_binary() -> str:
    """Wireshark's tshark, the independent decoder. In CI a missing one is a failure."""
    path = shutil.which("tshark")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("tshark is not installed: .ci/run must apt-get install tshark")
        pytest.skip("tshark not installed (apt-get install -y tshark); required in CI")
    return path


@pytest.fixture(scope="session")
def dumpcap_binary() -> str:
    """Wireshark's dumpcap, which captures the loopback media runs (tshark's package ships it)."""
    return media.program("dumpcap", "tshark")


@pytest.fixture
def baresip_agent(tmp_path: pathlib.Path, request: pytest.FixtureRequest) -> Iterator[Baresip]:
    """A baresip of this test's own, auto-answering on a loopback port; stopped after the test."""
    # A short directory under /tmp, not tmp_path: baresip's sndfile builds each recording's name
    # in a 128-byte buffer and silently cuts longer paths (CI's nox paths lost their ".wav").
    with tempfile.TemporaryDirectory(prefix="baresip-") as directory:
        agent = start_baresip(pathlib.Path(directory))
        request.node.stash[_BARESIP] = agent
        try:
            yield agent
        finally:
            agent.stop()
