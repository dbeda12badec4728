"""POSIX ERE -> Python translation."""

from __future__ import annotations

import pytest

from gossipper.scenario.posix_regex import PosixRegexError, compile_posix, translate


@pytest.mark.parametrize(
    ("pattern", "text", "match"),
    [
        ("[[:digit:]]+", "ab123c", "123"),
        ("[[:alnum:]_]+", "--a_1--", "a_1"),
        ("[[:space:]]x", "a\tx", "\tx"),
        ("[[:upper:]][[:lower:]]*", "hello World", "World"),
        ("[[:xdigit:]]+", "zzBEEFzz", "BEEF"),
        ("[[:punct:]]+", "ab;,!cd", ";,!"),
        ("a.c", "a\nc", "a\nc"),  # no REG_NEWLINE: dot matches newline
        ("b$", "ab\n", None),  # $ only at the very end
        ("b$", "ab", "b"),
        ("^a", "ba", None),
        ("[\\.]", "a\\b", "\\"),  # backslash is literal inside brackets
        ("[]a]+", "x]a]y", "]a]"),
        ("[^]a]+", "]]bc", "bc"),
        ("\\<word\\>", "a word!", "word"),
        ("\\d", "1d", "d"),  # unknown escape: the letter itself
        ("a{2,3}", "aaaa", "aaa"),
        ("(ab|cd)+", "xabcdx", "abcd"),
        ("[a&&b]", "&", "&"),
    ],
)
def test_translation(pattern: str, text: str, match: str | None) -> None:
    found = compile_posix(pattern).search(text)
    assert (found.group(0) if found else None) == match, translate(pattern)


@pytest.mark.parametrize("pattern", ["(a", "[abc", "[[:nope:]]", "a\\", "(?i)a", "*a"])
def test_invalid(pattern: str) -> None:
    with pytest.raises(PosixRegexError):
        compile_posix(pattern)
