"""Digest authentication for ``[authentication]`` and ``verifyauth``
(docs/sipp-behaviour.md#digest-authentication).

Pure functions over strings; randomness (the cnonce) comes in as an argument. AKAv1-MD5
(RFC 3310) computes its password, RES, with Milenage (``gossipper.scenario.milenage``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable

_ALGORITHMS: dict[str, tuple[str, bool]] = {
    "md5": ("md5", False),
    "md5-sess": ("md5", True),
    "sha-256": ("sha256", False),
    "sha-256-sess": ("sha256", True),
    "sha-512-256": ("sha512_256", False),
    "sha-512-256-sess": ("sha512_256", True),
}


class DigestError(ValueError):
    """The challenge can not be answered (not Digest, unknown algorithm, no realm/nonce...)."""


AKA_ALGORITHM = "akav1-md5"
AKA_LENGTHS: dict[str, int] = {"aka_K": 16, "aka_OP": 16, "aka_AMF": 2}
"""Bytes of each AKA parameter (3GPP TS 35.206: K and OP 128 bits, AMF 16 bits)."""


def aka_value_bytes(text: str, name: str) -> bytes:
    """The bytes of an AKA parameter (``aka_K``, ``aka_OP``, ``aka_AMF``, or the options of
    the same names): ``0x`` and exactly two hex digits per byte, or text whose bytes are used
    as they are, zero-filled to the length (SIPp's rule for text keys).

    Raises:
        DigestError: bad hex, or more bytes than the parameter has.
    """
    length = AKA_LENGTHS[name]
    if text.startswith("0x"):
        digits = text[2:]
        try:
            raw = bytes.fromhex(digits)
        except ValueError:
            raw = b""
        if len(digits) != 2 * length or len(raw) != length:
            raise DigestError(
                f"{name} must be 0x followed by {2 * length} hex digits ({length} bytes),"
                f" got {text!r}"
            )
        return raw
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        raise DigestError(f"{name} must be bytes (text in latin-1 or 0x hex)") from None
    if len(raw) > length:
        raise DigestError(
            f"{name} is {len(raw)} bytes long, at most {length}: give it as 0x and"
            f" {2 * length} hex digits"
        )
    return raw + bytes(length - len(raw))


def _aka_res(nonce: str, *, k: bytes, op: bytes) -> bytes:
    """RES for an AKAv1-MD5 nonce (base64 of RAND and AUTN = SQN^AK, AMF, MAC), after
    checking the network's MAC as a USIM does (3GPP TS 33.102 6.3.3)."""
    from gossipper.scenario import milenage

    try:
        decoded = base64.b64decode(nonce.strip(), validate=False)
    except (binascii.Error, ValueError):
        raise DigestError(f"the AKAv1-MD5 nonce {nonce!r} is not base64") from None
    if len(decoded) < 32:
        raise DigestError(
            f"the AKAv1-MD5 nonce is {len(decoded)} bytes, 32 expected (RAND and AUTN)"
        )
    rand = decoded[:16]
    sqn_xor_ak = decoded[16:22]
    # The MAC covers the AMF carried in AUTN (as SIPp 3.7 checks it), not aka_AMF.
    amf = decoded[22:24]
    mac = decoded[24:32]
    opc = milenage.compute_opc(k, op)
    vectors = milenage.f2345(k, opc, rand)
    sqn = bytes(a ^ b for a, b in zip(sqn_xor_ak, vectors.ak, strict=True))
    expected_mac, _ = milenage.f1(k, opc, rand, sqn, amf)
    if mac != expected_mac:
        raise DigestError(
            "AKAv1-MD5: the MAC in AUTN is not the one aka_K/aka_OP give (MAC != expectedMAC):"
            " check aka_K and aka_OP"
        )
    return vectors.res


def _hasher(name: str) -> Callable[[str], str]:
    try:
        hashlib.new(name)
    except ValueError:
        raise DigestError(f"the {name} hash is not available in this Python") from None

    def digest(text: str) -> str:
        return hashlib.new(name, text.encode("latin-1")).hexdigest()

    return digest


def auth_parameter(header: str, name: str) -> str | None:
    """The value of parameter ``name`` in a Digest header: it must start the header or follow
    ``,``/whitespace outside quotes and be followed by ``=``; quotes are removed."""
    n = len(name)
    lname = name.lower()
    quoted = False
    i = 0
    length = len(header)
    while i < length:
        ch = header[i]
        if quoted and ch == "\\" and i + 1 < length:
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif (
            not quoted
            and (i == 0 or header[i - 1] == "," or header[i - 1].isspace())
            and header[i : i + n].lower() == lname
        ):
            j = i + n
            while j < length and header[j] in " \t\r\n":
                j += 1
            if j < length and header[j] == "=":
                j += 1
                while j < length and header[j] in " \t\r\n":
                    j += 1
                if j < length and header[j] == '"':
                    end = header.find('"', j + 1)
                    return header[j + 1 :] if end < 0 else header[j + 1 : end]
                end = j
                while end < length and header[end] not in ' ,"\r\n':
                    end += 1
                return header[j:end]
        i += 1
    return None


def _response(
    hash_name: str,
    sess: bool,
    *,
    username: str,
    password: str,
    realm: str,
    nonce: str,
    cnonce: str,
    nc: str,
    qop: str,
    method: str,
    uri: str,
    body: str,
) -> str:
    h = _hasher(hash_name)
    ha1 = h(f"{username}:{realm}:{password}")
    if sess:
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    a2 = f"{method}:{uri}"
    if "auth-int" in qop.lower():
        a2 += ":" + h(body)
    ha2 = h(a2)
    if cnonce:
        return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return h(f"{ha1}:{nonce}:{ha2}")


def build_credentials(
    challenge: str,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    body: str,
    nonce_count: int,
    cnonce: str,
    aka_k: str | None = None,
    aka_op: str | None = None,
    aka_amf: str | None = None,
) -> str:
    """The credentials value SIPp writes after ``Authorization: ``
    (docs/sipp-behaviour.md#digest-authentication):
    ``Digest username="u",realm="r"[,cnonce="c",nc=00000001,qop=auth],uri="sip:...",
    nonce="n",response="...",algorithm=MD5[,opaque="o"]``. ``uri`` includes the ``sip:``.

    For ``algorithm=AKAv1-MD5`` the password is RES, computed from the nonce with ``aka_k``
    (default: the first 16 bytes of ``password``), ``aka_op`` (default: zeros); ``aka_amf`` is
    only checked (the MAC covers the AMF of AUTN). Each is text or ``0x`` hex
    (:func:`aka_value_bytes`).

    Raises:
        DigestError: the challenge can not be answered.
    """
    if "digest" not in challenge.lower():
        raise DigestError("authentication must be Digest")
    algorithm = auth_parameter(challenge, "algorithm") or "MD5"
    if algorithm.lower() == AKA_ALGORITHM:
        hash_name, sess = "md5", False
        nonce = auth_parameter(challenge, "nonce")
        if nonce is None:
            raise DigestError("couldn't parse nonce")
        if aka_amf is not None:
            aka_value_bytes(aka_amf, "aka_AMF")
        k = (
            aka_value_bytes(aka_k, "aka_K")
            if aka_k is not None
            else (password.encode("latin-1", "replace")[:16].ljust(16, b"\x00"))
        )
        op = aka_value_bytes(aka_op, "aka_OP") if aka_op is not None else bytes(16)
        # RES as raw bytes is the password of an MD5 digest (RFC 3310 3.1); latin-1 keeps
        # every byte as one character through the string-based hashing.
        password = _aka_res(nonce, k=k, op=op).decode("latin-1")
    else:
        spec = _ALGORITHMS.get(algorithm.lower())
        if spec is None:
            raise DigestError(
                "authentication must use MD5, MD5-sess, SHA-256, SHA-256-sess, SHA-512-256, "
                f"SHA-512-256-sess or AKAv1-MD5, not {algorithm!r}"
            )
        hash_name, sess = spec
    qop_offer = auth_parameter(challenge, "qop")
    qop = ""
    nc = ""
    if qop_offer is not None:
        # Sloppy recognition like SIPp: auth-int wins when offered.
        low = qop_offer.lower()
        qop = "auth-int" if "auth-int" in low else ("auth" if "auth" in low else qop_offer)
        nc = f"{nonce_count:08x}"
    else:
        cnonce = ""
    if sess and not cnonce:
        raise DigestError(f"{algorithm} needs a qop in the challenge, for a cnonce")
    realm = auth_parameter(challenge, "realm")
    if realm is None:
        raise DigestError(f"couldn't parse realm in {challenge!r}")
    nonce = auth_parameter(challenge, "nonce")
    if nonce is None:
        raise DigestError("couldn't parse nonce")
    opaque = auth_parameter(challenge, "opaque")
    response = _response(
        hash_name,
        sess,
        username=username,
        password=password,
        realm=realm,
        nonce=nonce,
        cnonce=cnonce,
        nc=nc,
        qop=qop,
        method=method,
        uri=uri,
        body=body,
    )
    out = f'Digest username="{username}",realm="{realm}"'
    if cnonce:
        out += f',cnonce="{cnonce}",nc={nc},qop={qop}'
    out += f',uri="{uri}",nonce="{nonce}",response="{response}",algorithm={algorithm}'
    if opaque is not None:
        out += f',opaque="{opaque}"'
    return out


def verify_credentials(
    authorization: str, *, username: str, password: str, method: str, body: str
) -> bool:
    """``verifyauth``: is the Digest ``Authorization`` value right for this user/password,
    using the uri/realm/nonce/cnonce/nc/qop found in the header itself?"""
    if "digest" not in authorization.lower():
        return False
    algorithm = auth_parameter(authorization, "algorithm") or "MD5"
    spec = _ALGORITHMS.get(algorithm.lower())
    if spec is None:
        return False
    hash_name, sess = spec
    cnonce = auth_parameter(authorization, "cnonce") or ""
    if sess and not cnonce:
        return False
    try:
        expected = _response(
            hash_name,
            sess,
            username=username,
            password=password,
            realm=auth_parameter(authorization, "realm") or "",
            nonce=auth_parameter(authorization, "nonce") or "",
            cnonce=cnonce,
            nc=auth_parameter(authorization, "nc") or "",
            qop=auth_parameter(authorization, "qop") or "",
            method=method,
            uri=auth_parameter(authorization, "uri") or "",
            body=body,
        )
    except DigestError:
        return False
    given = auth_parameter(authorization, "response")
    return bool(given) and given == expected
