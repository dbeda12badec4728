"""SDES a=crypto attributes and SIPp 3.7's crypto keywords (issue 18 item 1)."""

from __future__ import annotations

import base64
import random

import pytest

from gossipper.media.secure.sdes import (
    SIPP_CRYPTO_KEYWORDS,
    SUITES,
    CallCryptoState,
    SdesError,
    generate,
    parse_crypto,
    select_answer,
    sipp_crypto_keyword,
)

# RFC 4568 section 9.1's example key.
RFC_KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"


def test_parse_rfc_example_with_lifetime_and_mki() -> None:
    attr = parse_crypto(f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY}|2^20|1:4")
    assert attr.tag == 1
    assert attr.suite.name == "AES_CM_128_HMAC_SHA1_80"
    assert attr.key_salt == base64.b64decode(RFC_KEY)
    assert len(attr.master_key) == 16 and len(attr.master_salt) == 14
    assert attr.lifetime == 1 << 20
    assert attr.mki == (1, 4)
    assert attr.render() == f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY}|2^20|1:4"


def test_suite_is_case_insensitive_and_session_params_kept() -> None:
    attr = parse_crypto(f"2 aes_cm_128_hmac_sha1_32 inline:{RFC_KEY} UNENCRYPTED_SRTP")
    assert attr.suite.name == "AES_CM_128_HMAC_SHA1_32"
    assert attr.unencrypted_srtp
    assert attr.render().endswith(" UNENCRYPTED_SRTP")


def test_gcm_suites_take_their_own_key_lengths() -> None:
    for name, length in (("AEAD_AES_128_GCM", 28), ("AEAD_AES_256_GCM", 44)):
        key = base64.b64encode(bytes(range(length))).decode()
        attr = parse_crypto(f"3 {name} inline:{key}")
        assert len(attr.key_salt) == length
        assert parse_crypto(attr.render()) == attr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (f"1 AES_CM_256_HMAC_SHA1_80 inline:{RFC_KEY}", "unknown crypto suite 'AES_CM_256"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:not*base64", "is not valid base64"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA", "needs a 30-byte key||salt, got 3 bytes"),
        (f"x AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY}", "tag 'x'"),
        (f"1 AES_CM_128_HMAC_SHA1_80 uri:{RFC_KEY}", "key method must be 'inline:'"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY}|junk", "bad lifetime or MKI 'junk'"),
        ("1 AES_CM_128_HMAC_SHA1_80", "expected '<tag> <suite> inline:<key>'"),
    ],
)
def test_bad_attributes_are_one_line_errors_naming_the_attribute(value: str, message: str) -> None:
    with pytest.raises(SdesError) as caught:
        parse_crypto(value, attribute="a=crypto (m=audio, offer line 12)")
    text = str(caught.value)
    assert text.startswith("a=crypto (m=audio, offer line 12): ")
    assert message in text
    assert "\n" not in text


def test_generated_keys_follow_the_injected_seed() -> None:
    first = generate(1, "AES_CM_128_HMAC_SHA1_80", random.Random(7).randbytes)
    again = generate(1, "AES_CM_128_HMAC_SHA1_80", random.Random(7).randbytes)
    other = generate(1, "AES_CM_128_HMAC_SHA1_80", random.Random(8).randbytes)
    assert first == again
    assert first.key_salt != other.key_salt
    assert parse_crypto(first.render()) == first
    assert len(generate(1, "AEAD_AES_256_GCM").key_salt) == 44


def test_answer_picks_first_supported_offer_with_a_fresh_key() -> None:
    rng = random.Random(1).randbytes
    offer = [
        parse_crypto(f"1 NULL_HMAC_SHA1_32 inline:{RFC_KEY}"),
        parse_crypto(f"2 AES_CM_128_HMAC_SHA1_32 inline:{RFC_KEY}"),
    ]
    picked = select_answer(offer, ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"), rng)
    assert picked is not None
    chosen, answer = picked
    assert chosen is offer[1]
    assert (answer.tag, answer.suite.name) == (2, "AES_CM_128_HMAC_SHA1_32")
    assert answer.key_salt != chosen.key_salt
    assert select_answer(offer[:1], ("AES_CM_128_HMAC_SHA1_80",), rng) is None


def test_sipp_keyword_list_is_sipp_37s() -> None:
    assert len(SIPP_CRYPTO_KEYWORDS) == 32
    for name in ("cryptotag1audio", "cryptotag2video", "cryptosuiteaescm128sha1801audio",
                 "cryptosuiteaescm128sha1322video", "cryptokeyparams1audio",
                 "cryptokeyparams2video", "cryptosuitenullsha1801audio",
                 "cryptosuitenullsha1322video", "ueaescm128sha1801audio",
                 "ueaescm128sha1322video"):  # fmt: skip
        assert name in SIPP_CRYPTO_KEYWORDS


def test_sipp_keywords_render_a_consistent_crypto_line() -> None:
    state = CallCryptoState(random_bytes=random.Random(3).randbytes)
    line = (
        f"{sipp_crypto_keyword('cryptotag1audio', state)} "
        f"{sipp_crypto_keyword('cryptosuiteaescm128sha1321audio', state)} "
        f"inline:{sipp_crypto_keyword('cryptokeyparams1audio', state)}"
    )
    parsed = parse_crypto(line)
    assert parsed.suite.name == "AES_CM_128_HMAC_SHA1_32"
    assert parsed.key_salt == state.line("audio", 1).key_salt
    # Same keyword later in the call (re-INVITE, key reuse): the same key.
    assert sipp_crypto_keyword("cryptokeyparams1audio", state) == parsed.key_params
    # Tag 2 and video have keys of their own.
    keys = {sipp_crypto_keyword(f"cryptokeyparams{n}{m}", state)
            for n in "12" for m in ("audio", "video")}  # fmt: skip
    assert len(keys) == 4
    assert sipp_crypto_keyword("cryptotag2video", state) == "2"
    assert sipp_crypto_keyword("cryptosuitenullsha1802video", state) == "NULL_HMAC_SHA1_80"
    assert sipp_crypto_keyword("ueaescm128sha1801audio", state) == "UNENCRYPTED_SRTP"
    assert state.line("audio", 1).unencrypted_srtp
    # Re-keying (renegotiation) changes the key.
    old = state.line("audio", 1).key_salt
    assert state.rekey("audio", 1).key_salt != old


def test_unknown_keyword_names_itself() -> None:
    with pytest.raises(SdesError, match=r"^\[cryptotag3audio\]: not a SIPp crypto keyword$"):
        sipp_crypto_keyword("cryptotag3audio", CallCryptoState())


def test_every_suite_has_consistent_lengths() -> None:
    for found in SUITES.values():
        assert found.key_len in (16, 32)
        assert found.salt_len in (12, 14)
