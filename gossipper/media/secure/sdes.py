"""SDES keying for SRTP (RFC 4568): ``a=crypto`` attributes, suites, keys, SIPp 3.7's keywords.

Pure: strings and bytes in and out, no libsrtp. Randomness comes from an injected
``random_bytes(n)`` so the simulation's keys follow its seed.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from gossipper.errors import GossipperError

RandomBytes = Callable[[int], bytes]


class SdesError(GossipperError):
    """A bad ``a=crypto`` attribute or suite; the message names the attribute."""


@dataclass(frozen=True, slots=True)
class CryptoSuite:
    name: str
    key_len: int  # master key, bytes
    salt_len: int  # master salt, bytes
    # libsrtp's srtp_profile_t value, None where libsrtp (through pylibsrtp) cannot run it.
    libsrtp_profile: int | None
    rtp_tag_len: int  # authentication tag (or AEAD tag) appended to each SRTP packet, bytes
    encrypted: bool = True


# libsrtp's srtp_profile_t numbering (srtp.h); pylibsrtp exposes 1, 2, 7 and 8 by name and
# accepts 5. NULL_HMAC_SHA1_32 (6) is refused by libsrtp's srtp_crypto_policy_set_from_profile
# and pylibsrtp keeps the policy struct opaque, so it is parsed and rendered but cannot run.
SUITES: dict[str, CryptoSuite] = {
    s.name: s
    for s in (
        CryptoSuite("AES_CM_128_HMAC_SHA1_80", 16, 14, 1, 10),
        CryptoSuite("AES_CM_128_HMAC_SHA1_32", 16, 14, 2, 4),
        CryptoSuite("NULL_HMAC_SHA1_80", 16, 14, 5, 10, encrypted=False),
        CryptoSuite("NULL_HMAC_SHA1_32", 16, 14, None, 4, encrypted=False),
        CryptoSuite("AEAD_AES_128_GCM", 16, 12, 7, 16),
        CryptoSuite("AEAD_AES_256_GCM", 32, 12, 8, 16),
    )
}

_LIFETIME = re.compile(r"^(?:2\^(\d{1,2})|(\d{1,20}))$")
_MKI = re.compile(r"^(\d{1,10}):(\d{1,3})$")
_TAG = re.compile(r"^\d{1,9}$")


def suite(name: str, *, attribute: str = "a=crypto") -> CryptoSuite:
    """The suite called ``name`` (case-insensitive, as RFC 4568's grammar allows)."""
    found = SUITES.get(name.upper())
    if found is None:
        known = ", ".join(SUITES)
        raise SdesError(f"{attribute}: unknown crypto suite {name!r} (known: {known})")
    return found


@dataclass(frozen=True, slots=True)
class CryptoAttribute:
    """One ``a=crypto:<tag> <suite> inline:<key||salt>[|lifetime][|MKI:len] [session-params]``."""

    tag: int
    suite: CryptoSuite
    master_key: bytes
    master_salt: bytes
    lifetime: int | None = None  # packets; rendered as 2^n when a power of two
    mki: tuple[int, int] | None = None  # (value, length in bytes)
    session_params: tuple[str, ...] = ()

    @property
    def key_salt(self) -> bytes:
        return self.master_key + self.master_salt

    @property
    def key_params(self) -> str:
        """The base64 ``key||salt`` without ``inline:``: what [cryptokeyparams1audio] renders."""
        return base64.b64encode(self.key_salt).decode("ascii")

    @property
    def unencrypted_srtp(self) -> bool:
        return "UNENCRYPTED_SRTP" in self.session_params

    def render(self) -> str:
        """The attribute's value (after ``a=crypto:``)."""
        inline = "inline:" + self.key_params
        if self.lifetime is not None:
            exponent = self.lifetime.bit_length() - 1
            is_power = self.lifetime == 1 << exponent
            inline += f"|2^{exponent}" if is_power else f"|{self.lifetime}"
        if self.mki is not None:
            inline += f"|{self.mki[0]}:{self.mki[1]}"
        return " ".join((str(self.tag), self.suite.name, inline, *self.session_params))


def parse_crypto(value: str, *, attribute: str = "a=crypto") -> CryptoAttribute:
    """Parse an ``a=crypto`` value (with or without its ``a=crypto:`` prefix).

    ``attribute`` names the attribute in errors (e.g. ``"a=crypto (m=audio, line 9)"``). Only
    one ``inline:`` key is accepted (RFC 4568 allows several only with MKIs; no peer we test
    against sends them).
    """
    text = value.strip()
    if text.lower().startswith("a=crypto:"):
        text = text[len("a=crypto:") :]
    parts = text.split()
    if len(parts) < 3:
        raise SdesError(f"{attribute}: expected '<tag> <suite> inline:<key>', got {value!r}")
    tag_text, suite_name, key_text, *params = parts
    if not _TAG.match(tag_text):
        raise SdesError(f"{attribute}: tag {tag_text!r} is not a 1-9 digit number")
    found = suite(suite_name, attribute=attribute)
    if not key_text.lower().startswith("inline:"):
        raise SdesError(f"{attribute}: key method must be 'inline:', got {key_text!r}")
    if ";" in key_text:
        raise SdesError(f"{attribute}: several keys in one attribute are not supported")
    key_b64, *extras = key_text[len("inline:") :].split("|")
    try:
        key_salt = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError):
        raise SdesError(f"{attribute}: key {key_b64!r} is not valid base64") from None
    expected = found.key_len + found.salt_len
    if len(key_salt) != expected:
        raise SdesError(
            f"{attribute}: {found.name} needs a {expected}-byte key||salt, "
            f"got {len(key_salt)} bytes"
        )
    lifetime: int | None = None
    mki: tuple[int, int] | None = None
    for extra in extras:
        mki_match = _MKI.match(extra)
        life_match = _LIFETIME.match(extra)
        if mki_match and mki is None:
            mki = (int(mki_match.group(1)), int(mki_match.group(2)))
            if not 1 <= mki[1] <= 128:
                raise SdesError(f"{attribute}: MKI length {mki[1]} is not in 1..128")
        elif life_match and lifetime is None and mki is None:
            exponent = life_match.group(1)
            lifetime = 1 << int(exponent) if exponent is not None else int(life_match.group(2))
        else:
            raise SdesError(f"{attribute}: bad lifetime or MKI {extra!r} after the key")
    return CryptoAttribute(
        tag=int(tag_text),
        suite=found,
        master_key=key_salt[: found.key_len],
        master_salt=key_salt[found.key_len :],
        lifetime=lifetime,
        mki=mki,
        session_params=tuple(params),
    )


def generate(
    tag: int,
    suite_name: str,
    random_bytes: RandomBytes = os.urandom,
    *,
    session_params: tuple[str, ...] = (),
) -> CryptoAttribute:
    """A fresh key for ``suite_name``; ``random_bytes`` is seeded in the simulation."""
    found = suite(suite_name)
    key_salt = random_bytes(found.key_len + found.salt_len)
    return CryptoAttribute(
        tag=tag,
        suite=found,
        master_key=key_salt[: found.key_len],
        master_salt=key_salt[found.key_len :],
        session_params=session_params,
    )


def select_answer(
    offered: list[CryptoAttribute], supported: tuple[str, ...], random_bytes: RandomBytes
) -> tuple[CryptoAttribute, CryptoAttribute] | None:
    """RFC 4568 5.1.1: the first offered line with a suite we support, and our answer line
    (same tag and suite, our own fresh key). None when nothing offered is acceptable."""
    for line in offered:
        if line.suite.name in supported:
            return line, generate(line.tag, line.suite.name, random_bytes,
                                  session_params=line.session_params)  # fmt: skip
    return None


# SIPp 3.7's crypto keywords. Each names a tag (1 or 2), a medium and either the line's tag,
# its key parameters, a suite name to print, or (ue...) the UNENCRYPTED_SRTP session parameter.
_SUITE_WORDS = {
    "aescm128sha180": "AES_CM_128_HMAC_SHA1_80",
    "aescm128sha132": "AES_CM_128_HMAC_SHA1_32",
    "nullsha180": "NULL_HMAC_SHA1_80",
    "nullsha132": "NULL_HMAC_SHA1_32",
}
_KEYWORD = re.compile(
    r"^(?:(?P<tagkw>cryptotag)|(?P<params>cryptokeyparams)"
    r"|cryptosuite(?P<suite>aescm128sha1(?:80|32)|nullsha1(?:80|32))"
    r"|ue(?P<ue>aescm128sha1(?:80|32)))(?P<n>[12])(?P<media>audio|video)$"
)


def _suite_word(word: str) -> str:
    return _SUITE_WORDS[word]


SIPP_CRYPTO_KEYWORDS: tuple[str, ...] = tuple(
    f"{stem}{n}{media}"
    for media in ("audio", "video")
    for stem, ns in (
        ("cryptotag", "12"),
        ("cryptosuiteaescm128sha180", "12"),
        ("cryptosuiteaescm128sha132", "12"),
        ("cryptokeyparams", "12"),
        ("cryptosuitenullsha180", "12"),
        ("cryptosuitenullsha132", "12"),
        ("ueaescm128sha180", "12"),
        ("ueaescm128sha132", "12"),
    )
    for n in ns
)


@dataclass(slots=True)
class CallCryptoState:
    """A call's local SDES lines: (medium, 1 or 2) -> the line the call offers or answers.

    Created on first use of a crypto keyword; kept for the call so a keyword repeated in a
    later message (re-INVITE with key reuse) renders the same key. ``rekey`` replaces one.
    """

    random_bytes: RandomBytes = os.urandom
    default_suite: str = "AES_CM_128_HMAC_SHA1_80"
    lines: dict[tuple[str, int], CryptoAttribute] = field(default_factory=dict)

    def line(self, media: str, index: int) -> CryptoAttribute:
        found = self.lines.get((media, index))
        if found is None:
            found = generate(index, self.default_suite, self.random_bytes)
            self.lines[(media, index)] = found
        return found

    def rekey(self, media: str, index: int, suite_name: str | None = None) -> CryptoAttribute:
        current = self.lines.get((media, index))
        name = suite_name or (current.suite.name if current else self.default_suite)
        fresh = generate(index, name, self.random_bytes)
        self.lines[(media, index)] = fresh
        return fresh


def sipp_crypto_keyword(name: str, state: CallCryptoState) -> str:
    """The value of SIPp 3.7 crypto keyword ``name`` (without brackets) for this call.

    ``[cryptotag1audio]`` -> ``1``; ``[cryptosuiteaescm128sha1801audio]`` ->
    ``AES_CM_128_HMAC_SHA1_80`` (and fixes that line's suite); ``[cryptokeyparams1audio]`` ->
    the base64 key||salt (the scenario writes ``inline:`` itself);
    ``[ueaescm128sha1801audio]`` -> ``UNENCRYPTED_SRTP`` (and marks that line unencrypted).
    Raises SdesError naming the keyword when it is not one of SIPp's.
    """
    match = _KEYWORD.match(name)
    if match is None:
        raise SdesError(f"[{name}]: not a SIPp crypto keyword")
    media = match.group("media")
    index = int(match.group("n"))
    if match.group("tagkw"):
        return str(index)
    if match.group("params"):
        return state.line(media, index).key_params
    suite_word = match.group("suite") or match.group("ue")
    suite_name = _suite_word(suite_word)
    current = state.lines.get((media, index))
    if current is None:
        current = state.rekey(media, index, suite_name)
    elif current.suite.name != suite_name:
        # The line's suite is the one the scenario names; a key already rendered stays valid
        # (every SIPp suite takes a 16-byte key and a 14-byte salt).
        named = SUITES[suite_name]
        current = CryptoAttribute(
            current.tag, named, current.master_key, current.master_salt,
            session_params=current.session_params,
        )  # fmt: skip
        state.lines[(media, index)] = current
    if match.group("ue"):
        if not current.unencrypted_srtp:
            current = CryptoAttribute(
                current.tag, current.suite, current.master_key, current.master_salt,
                session_params=(*current.session_params, "UNENCRYPTED_SRTP"),
            )  # fmt: skip
            state.lines[(media, index)] = current
        return "UNENCRYPTED_SRTP"
    return suite_name
