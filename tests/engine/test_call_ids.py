"""Call-IDs: -cid_str (with SIPp 3.7's %r) and -cid_type, drawn from seeded generators."""

from __future__ import annotations

import io
import os
import pathlib
import re
import uuid

import pytest

from gossipper.cli.main import raw_main
from gossipper.engine.call_ids import RANDOM_CODE_MAX, CallIdFormat
from gossipper.errors import ExitStatus
from gossipper.scenario import RunEnv

_ENV = RunEnv(local_ip="10.0.0.1", pid=4242)
_HEX32 = re.compile(r"[0-9a-f]{32}")


def _ids(call_id_type: str, *, seed: int = 7, template: str = "%u-%p@%s") -> list[str]:
    make = CallIdFormat(call_id_type, template, _ENV, seed=seed, wall_time=lambda: 1700000000.25)
    return [make.format(number) for number in range(1, 6)]


def test_default_is_the_template_with_the_inline_affixes() -> None:
    make = CallIdFormat("default", "%u-%p@%s", _ENV, seed=1, wall_time=lambda: 0.0)
    assert make.affixes == ("", "-4242@10.0.0.1")
    assert make.format(3) == "3-4242@10.0.0.1"


def test_percent_r_is_a_seeded_random_number_in_rands_range() -> None:
    first = _ids("default", template="x%r-%u%%")
    assert first == _ids("default", template="x%r-%u%%")
    assert first != _ids("default", seed=8, template="x%r-%u%%")
    for number, call_id in enumerate(first, start=1):
        match = re.fullmatch(r"x(\d+)-(\d+)%", call_id)
        assert match is not None, call_id
        assert 0 <= int(match.group(1)) <= RANDOM_CODE_MAX
        assert int(match.group(2)) == number
    make = CallIdFormat("default", "%r@%s", _ENV, seed=1, wall_time=lambda: 0.0)
    assert make.affixes is None


def test_uuid_is_a_version_4_uuid_and_compact_drops_the_dashes() -> None:
    ids = _ids("uuid")
    for call_id in ids:
        parsed = uuid.UUID(call_id)
        assert (str(parsed), parsed.version, parsed.variant) == (call_id, 4, uuid.RFC_4122)
    assert _ids("uuid-compact") == [call_id.replace("-", "") for call_id in ids]
    assert len(set(ids)) == len(ids)


def test_random_is_32_hex_digits_and_ignores_the_template() -> None:
    ids = _ids("random", template="never-%u")
    assert all(_HEX32.fullmatch(call_id) for call_id in ids)
    assert len(set(ids)) == len(ids)


def test_timestamp_is_the_wall_time_in_microseconds_and_the_call_number() -> None:
    assert _ids("timestamp")[:2] == ["1700000000250000-1", "1700000000250000-2"]


@pytest.mark.parametrize("call_id_type", ["uuid", "uuid-compact", "random"])
def test_random_types_follow_the_seed_only(call_id_type: str) -> None:
    assert _ids(call_id_type) == _ids(call_id_type)
    assert _ids(call_id_type) != _ids(call_id_type, seed=8)


def _sim_call_ids(tmp_path: pathlib.Path, *args: str) -> list[str]:
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        status = raw_main(
            ["sim", "-sn", "uac", "-m", "3", "-trace_shortmsg", *args], stdout=out, stderr=err
        )
    finally:
        os.chdir(previous)
    assert (status, err.getvalue()) == (ExitStatus.SUCCESS, "")
    (log,) = tmp_path.glob("uac_*_shortmessages.log")
    ids = [line.split("\t")[4] for line in log.read_text().splitlines()]
    log.unlink()
    return sorted(set(ids))


def test_uuid_call_ids_are_the_same_in_two_simulations(tmp_path: pathlib.Path) -> None:
    first = _sim_call_ids(tmp_path, "-cid_type", "uuid")
    assert len(first) == 3 and all(uuid.UUID(call_id).version == 4 for call_id in first)
    assert _sim_call_ids(tmp_path, "-cid_type", "uuid") == first
    assert _sim_call_ids(tmp_path, "-cid_type", "uuid", "-seed", "2") != first


def test_unknown_cid_type_is_one_line_naming_the_accepted_types() -> None:
    out, err = io.StringIO(), io.StringIO()
    status = raw_main(["-cid_type", "guid", "127.0.0.1"], stdout=out, stderr=err)
    assert status == ExitStatus.CALLS_FAILED
    assert err.getvalue() == (
        "gossipper: error: -cid_type must be one of default, uuid, uuid-compact, random,"
        " timestamp, got 'guid'\n"
    )
