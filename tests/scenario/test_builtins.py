"""The 12 built-in scenarios: they load, and they are SIPp's (compared with ``sipp -sd``)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess

import pytest
from lxml import etree

from gossipper.errors import ScenarioError
from gossipper.scenario import BUILTIN_NAMES, Template, builtin_path, builtin_text, load_scenario
from gossipper.scenario.loader import load_scenario_text
from gossipper.scenario.templates import clean_cdata

LOADABLE = list(BUILTIN_NAMES)


def test_twelve_names_in_sipp_order() -> None:
    assert BUILTIN_NAMES == (
        "uac",
        "uas",
        "regexp",
        "3pcc-C-A",
        "3pcc-C-B",
        "3pcc-A",
        "3pcc-B",
        "branchc",
        "branchs",
        "uac_pcap",
        "ooc_default",
        "ooc_dummy",
    )
    for name in BUILTIN_NAMES:
        assert builtin_path(name).is_file()
        assert builtin_text(name).startswith("<?xml")


@pytest.mark.parametrize("name", LOADABLE)
def test_builtin_loads(name: str) -> None:
    scenario = load_scenario("", builtin_name=name)
    assert scenario.base_name == name
    assert scenario.source_label == f"<builtin:{name}>"
    assert scenario.elements


def test_uac_pcap_plays_its_shipped_pcaps() -> None:
    """The pcap files uac_pcap names ship next to it (package data), found there first."""
    from gossipper.scenario.actions import MediaAction, MediaOp

    scenario = load_scenario("", builtin_name="uac_pcap")
    assert scenario.has_media
    files = [
        action.file
        for element in scenario.elements
        for action in element.actions
        if isinstance(action, MediaAction) and action.op is MediaOp.PLAY_PCAP
    ]
    assert [os.path.basename(f) for f in files] == ["g711a.pcap", "dtmf_2833_1.pcap"]
    for file in files:
        assert os.path.isfile(file)
        assert os.path.dirname(os.path.dirname(file)) == os.path.dirname(
            str(builtin_path("uac_pcap"))
        )


def test_unknown_builtin() -> None:
    with pytest.raises(ScenarioError, match="invalid default scenario name 'nope'"):
        builtin_path("nope")


# -- comparison with the real SIPp -------------------------------------------------------


def _sipp_dump(name: str) -> bytes:
    sipp = shutil.which("sipp")
    if sipp is None:
        if os.environ.get("CI"):
            pytest.fail("sipp is not installed: .ci/run must apt-get install sip-tester")
        pytest.skip("sipp not installed (apt-get install -y sip-tester); required in CI")
    result = subprocess.run([sipp, "-sd", name], capture_output=True, timeout=20, check=False)
    assert result.returncode == 99
    return result.stdout


def _normalise(obj: object) -> object:
    if isinstance(obj, Template):
        return tuple(
            s if isinstance(s, str) else (type(s).__name__, _slots(s)) for s in obj.segments
        ) + (obj.method, obj.status_code)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return tuple(
            (f.name, _normalise(getattr(obj, f.name)))
            for f in dataclasses.fields(obj)
            if f.name != "line"
        )
    if isinstance(obj, tuple):
        return tuple(_normalise(x) for x in obj)
    if hasattr(obj, "pattern") and hasattr(obj, "flags"):
        return ("re", obj.pattern)  # type: ignore[attr-defined]
    return obj


def _slots(obj: object) -> tuple[object, ...]:
    names = [n for cls in type(obj).__mro__ for n in getattr(cls, "__slots__", ())]
    return tuple((n, _normalise(getattr(obj, n))) for n in names if not n.startswith("_"))


@pytest.mark.interop
@pytest.mark.parametrize("name", LOADABLE)
def test_builtin_equals_sipp_dump(name: str) -> None:
    theirs = load_scenario_text(
        _sipp_dump(name),
        source_label=f"sipp -sd {name}",
        base_name=name,
        # uac_pcap's pcap files: ours, shipped next to our built-ins.
        media_dir=os.path.dirname(str(builtin_path(name))),
    )
    ours = load_scenario("", builtin_name=name)
    assert ours.name == theirs.name
    assert _normalise(ours.elements) == _normalise(theirs.elements)
    assert ours.labels == theirs.labels
    assert ours.rtd_names == theirs.rtd_names
    assert ours.response_time_repartition_ms == theirs.response_time_repartition_ms
    assert ours.call_length_repartition_ms == theirs.call_length_repartition_ms
    assert (ours.is_server, ours.twin_role) == (theirs.is_server, theirs.twin_role)


def _xml_shape(data: bytes) -> list[tuple[str, dict[str, str], str]]:
    """Elements (document order) with attributes and cleaned text; comments dropped."""
    root = etree.fromstring(data, etree.XMLParser(remove_comments=True, resolve_entities=False))
    out = []
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        text = (node.text or "").strip()
        out.append(
            (node.tag, dict(node.attrib), clean_cdata(node.text, is_send=True) if text else "")
        )
    return out


@pytest.mark.interop
@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_builtin_xml_matches_sipp_dump(name: str) -> None:
    assert _xml_shape(builtin_path(name).read_bytes()) == _xml_shape(_sipp_dump(name))
