"""SIP/SIPS/TEL URI parsing (RFC 3261 section 19.1, RFC 3966), pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from gossipper.errors import SipParseError

__all__ = ["SipUri", "parse_uri"]

_HOST_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._"
_IPV6_CHARS = "0123456789abcdefABCDEF:."
_SCHEME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."


@dataclass(frozen=True, slots=True)
class SipUri:
    """A parsed URI.

    ``scheme`` is lower-cased; ``host`` is written without the brackets of an IPv6 reference
    (``"::1"``); ``params`` maps lower-cased URI parameter names to their values (``""`` for a
    flag such as ``lr``). For ``tel:`` URIs the number is in ``user`` and ``host`` is empty.
    """

    scheme: str
    user: str
    host: str
    port: int | None
    params: dict[str, str] = field(default_factory=dict)
    password: str | None = None
    headers: str = ""
    """The raw ``?name=value&...`` part after ``?`` (without the ``?``), unparsed."""


def _parse_params(text: str, uri: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in text.split(";"):
        if not item:
            continue
        name, _, value = item.partition("=")
        if not name:
            raise SipParseError(f"empty parameter name in URI {uri[:80]!r}")
        params[name.lower()] = value
    return params


def _parse_port(text: str, uri: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or int(text) > 65535:
        raise SipParseError(f"bad port {text[:20]!r} in URI {uri[:80]!r}")
    return int(text)


def parse_uri(uri: str) -> SipUri:
    """Parse ``sip:user@host:port;params?headers`` (also ``sips:`` and ``tel:``).

    IPv6 hosts are bracketed: ``sip:u@[::1]:5060``. Raises :class:`SipParseError` if malformed.
    """
    uri = uri.strip(" \t")
    colon = uri.find(":")
    if colon <= 0 or uri[:colon].strip(_SCHEME_CHARS) or not uri[0].isalpha():
        raise SipParseError(f"URI without a scheme: {uri[:80]!r}")
    scheme = uri[:colon].lower()
    rest = uri[colon + 1 :]
    if scheme == "tel":
        number, _, param_text = rest.partition(";")
        if not number:
            raise SipParseError(f"empty number in URI {uri[:80]!r}")
        return SipUri(scheme, number, "", None, _parse_params(param_text, uri))
    if scheme not in ("sip", "sips"):
        raise SipParseError(f"unsupported URI scheme {scheme[:20]!r}")

    # userinfo may itself contain ";" and "?" (RFC 3261 user-unreserved) but never a bare "@".
    user = ""
    password: str | None = None
    at = rest.find("@")
    if at >= 0:
        userinfo = rest[:at]
        rest = rest[at + 1 :]
        user, sep, pw = userinfo.partition(":")
        if sep:
            password = pw
        if not user:
            raise SipParseError(f"empty user in URI {uri[:80]!r}")

    headers = ""
    question = rest.find("?")
    if question >= 0:
        headers = rest[question + 1 :]
        rest = rest[:question]
    hostport, _, param_text = rest.partition(";")

    port: int | None = None
    if hostport[:1] == "[":
        close = hostport.find("]")
        if close < 0:
            raise SipParseError(f"unclosed IPv6 reference in URI {uri[:80]!r}")
        host = hostport[1:close]
        if not host or host.strip(_IPV6_CHARS) or ":" not in host:
            raise SipParseError(f"bad IPv6 address in URI {uri[:80]!r}")
        after = hostport[close + 1 :]
        if after:
            if after[0] != ":":
                raise SipParseError(f"junk after IPv6 reference in URI {uri[:80]!r}")
            port = _parse_port(after[1:], uri)
    else:
        host, sep, port_text = hostport.partition(":")
        if sep:
            port = _parse_port(port_text, uri)
        if not host or host.strip(_HOST_CHARS):
            raise SipParseError(f"bad host in URI {uri[:80]!r}")
    return SipUri(scheme, user, host, port, _parse_params(param_text, uri), password, headers)
