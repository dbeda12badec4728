"""Injection files (-inf), sipp-reference 10."""

from __future__ import annotations

import pathlib
import random

import pytest

from gossipper.errors import ConfigError
from gossipper.scenario.injection import (
    LineOrder,
    load_injection_file,
    parse_injection_text,
)

SAMPLE = (
    pathlib.Path(__file__).resolve().parents[1] / "data" / "sipp-samples" / "keywords_users.csv"
)


def test_sample_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(SAMPLE.read_bytes())
    f = load_injection_file(str(path))
    assert f.name == "users.csv" and f.order is LineOrder.SEQUENTIAL
    assert f.line_count == 2
    assert f.field(0, 0) == "alice"
    assert f.field(0, 2) == "[authentication username=alice password=secret]"
    assert f.field(1, 1) == "pw2"
    assert f.field(1, 3) is None and f.field(5, 0) is None and f.field(-1, 0) is None


def test_order_keywords_and_precedence() -> None:
    assert parse_injection_text("a", "USER\nx\n").order is LineOrder.USER
    assert parse_injection_text("a", "RANDOM\nx\n").order is LineOrder.RANDOM
    # RANDOM is searched first, as SIPp does.
    assert parse_injection_text("a", "SEQUENTIAL,RANDOM\nx\n").order is LineOrder.RANDOM
    with pytest.raises(ConfigError, match="a:1: unknown injection file type"):
        parse_injection_text("a", "ORDERED\nx\n")


def test_comments_empty_line_and_crlf() -> None:
    f = parse_injection_text("a", "SEQUENTIAL\r\n#c\r\na;b\r\nc;d\r\n\r\nignored;x\r\n")
    assert f.lines == ["a;b", "c;d"]
    with pytest.raises(ConfigError, match="no data lines"):
        parse_injection_text("a", "SEQUENTIAL\n\nlate\n")


def test_line_choice() -> None:
    rng = random.Random(3)
    seq = parse_injection_text("s", "SEQUENTIAL\n0\n1\n2\n")
    assert [seq.next_line(0, rng) for _ in range(5)] == [0, 1, 2, 0, 1]
    rnd = parse_injection_text("r", "RANDOM\n0\n1\n2\n")
    picks = {rnd.next_line(0, rng) for _ in range(50)}
    assert picks == {0, 1, 2}
    user = parse_injection_text("u", "USER\n0\n1\n")
    assert (user.next_line(2, rng), user.next_line(0, rng)) == (1, -1)
    user.check_users(2)
    with pytest.raises(ConfigError, match="3 users but only 2 lines"):
        user.check_users(3)
    with pytest.raises(ConfigError, match="needs -users"):
        user.check_users(0)


def test_printf_files() -> None:
    f = parse_injection_text(
        "p", "USERS,PRINTF=4,PRINTFOFFSET=10,PRINTFMULTIPLE=2\nuser%03d;pw%d%%\n"
    )
    assert f.line_count == 4 and f.is_printf
    assert [f.field(k, 0) for k in range(4)] == ["user010", "user012", "user014", "user016"]
    assert f.field(1, 1) == "pw12%"
    with pytest.raises(ValueError):
        f.insert("x")
    with pytest.raises(ConfigError, match="p:2: only decimal conversions"):
        parse_injection_text("p", "SEQUENTIAL,PRINTF=2\nuser%s\n")


def test_index_insert_replace() -> None:
    f = parse_injection_text("i", "SEQUENTIAL\na;1\nb;2\na;3\n")
    with pytest.raises(ValueError):
        f.lookup("a")
    f.build_index(0)
    assert f.lookup("a") == 2 and f.lookup("zz") == -1  # later duplicates win
    f.insert("c;4")
    assert f.lookup("c") == 3
    f.replace(0, "d;5")
    assert f.lookup("d") == 0
    with pytest.raises(ValueError):
        f.replace(9, "x")


def test_missing_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="can not read injection file"):
        load_injection_file(str(tmp_path / "missing.csv"))
