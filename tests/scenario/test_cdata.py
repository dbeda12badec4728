"""CDATA cleaning (sipp-reference 1.1) and what ends up on the wire."""

from __future__ import annotations

import pytest

from gossipper.scenario import clean_cdata, compile_template
from gossipper.scenario.keywords import CompileEnv
from tests.scenario._support import context, load


@pytest.mark.parametrize(
    ("raw", "is_send", "cleaned"),
    [
        # leading/trailing blanks and newlines go; lines are trimmed
        ("\n\n   A b\n   C: d\n\n  ", True, "A b\nC: d\n\n"),
        # header-only message followed by many blank lines: exactly one blank line
        (
            "\nOPTIONS x SIP/2.0\nContent-Length: 0\n\n\n\n\n",
            True,
            "OPTIONS x SIP/2.0\nContent-Length: 0\n\n",
        ),
        # body then a line break: exactly one newline after the body
        ("\nA b\nL: 3\n\nX\n   ", True, "A b\nL: 3\n\nX\n"),
        # body directly followed by ]]>: no newline after it
        ("\nA b\nL: 4\n\n\x01\x02\x03\x04", True, "A b\nL: 4\n\n\x01\x02\x03\x04"),
        # the newline rule of step 4 is for <send> only
        ("\nA b\n\nX\n", False, "A b\n\nX"),
        # a line holding only a TAB becomes empty
        ("A b\n\t\nX", True, "A b\n\nX"),
        # trailing spaces and tabs of each line are removed
        ("A b  \nC: d\t\n", True, "A b\nC: d\n\n"),
        # SIPp's passes run in a fixed order: "\n \t" keeps the space (quirk reproduced)
        ("A b\n \t x\n", True, "A b\n x\n\n"),
    ],
)
def test_clean_cdata(raw: str, is_send: bool, cleaned: str) -> None:
    assert clean_cdata(raw, is_send=is_send) == cleaned


@pytest.mark.parametrize("raw", ["", "   \n\t ", "X", "\n X \n"])
def test_clean_cdata_empty(raw: str) -> None:
    with pytest.raises(ValueError):
        clean_cdata(raw, is_send=True)


def _wire(cdata: str) -> str:
    scenario = load(f"<send><![CDATA[{cdata}]]></send>")
    template = scenario.elements[0].template
    assert template is not None
    return template.render(context(scenario), 0, 0)


def test_header_only_message_ends_with_one_blank_line() -> None:
    assert _wire("\n  OPTIONS sip:x SIP/2.0\n  Content-Length: 0\n\n\n\n  ").endswith(
        "Content-Length: 0\r\n\r\n"
    )


def test_body_followed_by_line_break() -> None:
    text = _wire("\n  OPTIONS sip:x SIP/2.0\n  Content-Length: [len]\n\n  X\n  ")
    assert text.endswith("Content-Length:     3\r\n\r\nX\r\n")


def test_binary_body_without_trailing_crlf() -> None:
    text = _wire("\n  OPTIONS sip:x SIP/2.0\n  Content-Length: [len]\n\n  \\x01\\x02\\x03\\x04")
    assert text.endswith("Content-Length:     4\r\n\r\n\x01\x02\x03\x04")


def test_lf_becomes_crlf_only_for_messages() -> None:
    env = CompileEnv("x")
    assert compile_template("a\nb", env).text_if_static() == "a\r\nb"
    assert compile_template("a\nb", env, crlf=False).text_if_static() == "a\nb"
