"""POSIX extended regular expressions (as SIPp compiles them with ``regcomp(REG_EXTENDED)``)
translated to Python ``re`` (docs/sipp-behaviour.md#actions).

Differences handled: bracket expressions (``[[:digit:]]``, a literal backslash inside brackets,
``]`` first is literal), ``.`` matches newlines (no REG_NEWLINE -> DOTALL), ``$`` anchors only at
the very end, GNU word-boundary escapes ``\\<``/``\\>``, and unknown escapes such as ``\\d`` mean
the letter itself. Not emulated: POSIX leftmost-longest alternation (Python takes the first
alternative that matches).
"""

from __future__ import annotations

import functools
import re

_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "\\x21-\\x7e",
    "lower": "a-z",
    "print": "\\x20-\\x7e",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
}

_ESCAPE_IN_CLASS = set("\\]^[&~|")
_KEEP_ESCAPES = set("wWsSbB123456789")


class PosixRegexError(ValueError):
    """The expression is not a valid POSIX ERE (or has no Python equivalent)."""


def translate(pattern: str) -> str:
    """Translate a POSIX ERE into an equivalent Python pattern string (use with DOTALL)."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise PosixRegexError("trailing backslash")
            nxt = pattern[i + 1]
            if nxt in "<>":
                out.append("\\b")
            elif nxt == "`":
                out.append("\\A")
            elif nxt == "'":
                out.append("\\Z")
            elif nxt in _KEEP_ESCAPES:
                out.append("\\" + nxt)
            else:
                out.append(re.escape(nxt))
            i += 2
        elif c == "[":
            text, i = _bracket(pattern, i)
            out.append(text)
        elif c == "$":
            out.append("\\Z")
            i += 1
        elif c == "(" and i + 1 < n and pattern[i + 1] == "?":
            raise PosixRegexError("'(?' is not valid in a POSIX extended regular expression")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _bracket(pattern: str, start: int) -> tuple[str, int]:
    """Translate the bracket expression starting at ``pattern[start] == '['``."""
    i = start + 1
    n = len(pattern)
    out = ["["]
    if i < n and pattern[i] == "^":
        out.append("^")
        i += 1
    first = True
    while True:
        if i >= n:
            raise PosixRegexError("unterminated bracket expression")
        c = pattern[i]
        if c == "]" and not first:
            out.append("]")
            return "".join(out), i + 1
        first = False
        if c == "[" and i + 1 < n and pattern[i + 1] in ":=.":
            kind = pattern[i + 1]
            close = pattern.find(kind + "]", i + 2)
            if close < 0:
                raise PosixRegexError("unterminated [: :], [= =] or [. .] in a bracket expression")
            name = pattern[i + 2 : close]
            if kind == ":":
                cls = _CLASSES.get(name)
                if cls is None:
                    raise PosixRegexError(f"unknown character class [:{name}:]")
                out.append(cls)
            else:
                out.append("".join("\\" + ch if ch in _ESCAPE_IN_CLASS else ch for ch in name))
            i = close + 2
            continue
        out.append("\\" + c if c in _ESCAPE_IN_CLASS else c)
        i += 1


@functools.lru_cache(maxsize=512)
def compile_posix(pattern: str) -> re.Pattern[str]:
    """Compile a POSIX ERE for ``search`` semantics (DOTALL, ``$`` = end of text).

    Raises:
        PosixRegexError: invalid expression.
    """
    try:
        return re.compile(translate(pattern), re.DOTALL)
    except re.error as exc:
        raise PosixRegexError(str(exc)) from None
    except (OverflowError, RecursionError) as exc:
        raise PosixRegexError(f"expression too complex: {exc}") from None
