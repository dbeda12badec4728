"""Header names and header-value helpers (compact forms, parameters, bracketed URIs).

Pure string functions over the latin-1 view of SIP text; no I/O, no regexes on the hot path.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "COMPACT_FORMS",
    "canonical_header_name",
    "header_param",
    "is_token",
    "uri_in_brackets",
]

# Compact header forms: RFC 3261 section 7.3.3 (i f t v m l c e k s), RFC 3265 (o, u),
# RFC 3515 (r), RFC 3892 (b), RFC 4028 (x). SIPp itself only knows i f t v m l c e; knowing a few
# more only makes lookups find headers that SIPp would miss, never the other way round.
COMPACT_FORMS: Final[dict[str, str]] = {
    "i": "call-id",
    "f": "from",
    "t": "to",
    "v": "via",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "e": "content-encoding",
    "k": "supported",
    "s": "subject",
    "o": "event",
    "u": "allow-events",
    "r": "refer-to",
    "b": "referred-by",
    "x": "session-expires",
}

# The module's constants are Final: compiled code then uses them without a module dict look-up.
# RFC 3261 section 25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" /
# "'" / "~"). Used with str.strip: a string made only of these characters strips to "".
TOKEN_CHARS: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"

# Spellings seen so far -> canonical key. Header names repeat endlessly under load, so one dict
# lookup replaces lower() + compact-form lookup. Bounded so hostile traffic cannot grow it.
_CANON_CACHE: Final[dict[str, str]] = {}
_CANON_CACHE_MAX: Final = 4096


def is_token(text: str) -> bool:
    """True if ``text`` is a non-empty RFC 3261 token (method names, header names)."""
    return bool(text) and not text.strip(TOKEN_CHARS)


def canonical_header_name(name: str) -> str:
    """Lookup key of a header name: lower-case long form ("v", "VIA", "via" -> "via")."""
    key = _CANON_CACHE.get(name)
    if key is None:
        lowered = name.lower()
        key = COMPACT_FORMS.get(lowered, lowered)
        if len(_CANON_CACHE) < _CANON_CACHE_MAX:
            _CANON_CACHE[name] = key
    return key


def _skip_display_name(value: str) -> int:
    """Index just after a leading quoted display-name (RFC 3261 25.1 quoted-string), else 0.

    A display-name may contain ``<``, ``>``, ``;`` or ``,`` which must not be taken for
    delimiters. Returns ``len(value)`` when the quote is never closed.
    """
    start = 0
    n = len(value)
    while start < n and value[start] in " \t":
        start += 1
    if start >= n or value[start] != '"':
        return 0
    i = start + 1
    while i < n:
        ch = value[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        i += 1
    return n


def uri_in_brackets(value: str) -> str:
    """The URI between ``<`` and ``>`` of a header value; "" if there are no brackets.

    ``'"Bob" <sip:bob@b>;tag=1'`` -> ``"sip:bob@b"``. This is SIPp's ``[last_Request_URI]`` rule.
    """
    start = _skip_display_name(value) if '"' in value else 0
    lt = value.find("<", start)
    if lt < 0:
        return ""
    gt = value.find(">", lt + 1)
    if gt < 0:
        return ""
    return value[lt + 1 : gt].strip()


def _params_section(value: str) -> str:
    """The ``;name=value...`` tail holding the header parameters of a name-addr/addr-spec value.

    RFC 3261 section 20.10: with angle brackets the parameters follow ``>``; without them the
    parameters after the URI belong to the header, not to the URI.
    """
    start = _skip_display_name(value) if '"' in value else 0
    lt = value.find("<", start)
    if lt >= 0:
        gt = value.find(">", lt + 1)
        if gt < 0:
            return ""
        start = gt + 1
    semi = value.find(";", start)
    if semi < 0:
        return ""
    # A comma before the first ";" ends the first item (e.g. "SIP/2.0/UDP a, SIP/2.0/UDP b;x=1").
    comma = value.find(",", start, semi)
    if comma >= 0:
        return ""
    return value[semi:]


def _split_params_quoted(section: str) -> list[str]:
    """Split on ``;`` outside double quotes, stopping at the first ``,`` outside quotes."""
    items: list[str] = []
    current: list[str] = []
    in_quotes = False
    i = 0
    n = len(section)
    while i < n:
        ch = section[i]
        if in_quotes:
            current.append(ch)
            if ch == "\\" and i + 1 < n:
                current.append(section[i + 1])
                i += 1
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
            current.append(ch)
        elif ch == ";":
            items.append("".join(current))
            current = []
        elif ch == ",":
            break
        else:
            current.append(ch)
        i += 1
    items.append("".join(current))
    return items


def header_param(value: str, param: str) -> str | None:
    """Value of the header parameter ``param`` (``;tag=abc``) of one header value.

    The parameter name compares case-insensitively (RFC 3261 section 7.3.1); parameters inside
    ``<...>`` belong to the URI and are ignored. A parameter without ``=`` gives ``""``; an absent
    one gives ``None``. Only the first comma-separated item of the value is examined.
    """
    section = _params_section(value)
    if not section:
        return None
    if '"' in section:
        items = _split_params_quoted(section)
    else:
        comma = section.find(",")
        if comma >= 0:
            section = section[:comma]
        items = section.split(";")
    wanted = param.lower()
    # items[0] is whatever precedes the first ";" (empty): skip it.
    for item in items[1:]:
        name, eq, val = item.partition("=")
        if name.strip(" \t").lower() == wanted:
            return val.strip(" \t") if eq else ""
    return None
