"""Milenage (3GPP TS 35.205/35.206): the AKA functions f1, f1*, f2, f3, f4, f5 and f5* over
AES-128, for AKAv1-MD5 digest authentication (RFC 3310;
docs/sipp-behaviour.md#digest-authentication).

Pure functions over bytes. AES comes from the ``cryptography`` package, imported on first use so
a run that never answers an AKA challenge does not load it. Checked against the test sets of
3GPP TS 35.207/35.208 (tests/scenario/test_milenage.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "AkaVectors",
    "MilenageError",
    "compute_opc",
    "f1",
    "f2345",
    "f5_star",
]

KEY_LEN = 16
RAND_LEN = 16
SQN_LEN = 6
AMF_LEN = 2

# TS 35.206 section 4.1: the rotations (in bits) and constants c1..c5 (c_i has bit i-1 of the
# last byte set, c1 is zero).
_R1, _R2, _R3, _R4, _R5 = 64, 0, 32, 64, 96
_C1 = bytes(16)
_C2 = bytes(15) + b"\x01"
_C3 = bytes(15) + b"\x02"
_C4 = bytes(15) + b"\x04"
_C5 = bytes(15) + b"\x08"


class MilenageError(ValueError):
    """A key, OP, RAND, SQN or AMF of the wrong length."""


def _check(name: str, value: bytes, length: int) -> None:
    if len(value) != length:
        raise MilenageError(f"{name} must be {length} bytes, got {len(value)}")


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _rot(block: bytes, bits: int) -> bytes:
    """Cyclic rotation of a 128-bit block towards the most significant end by ``bits`` (a
    multiple of 8 for every Milenage constant)."""
    shift = bits // 8
    return block[shift:] + block[:shift]


def _cipher(k: bytes) -> Callable[[bytes], bytes]:
    """E_K: one AES-128 block encryption with key ``k``."""
    # Imported here: only AKA challenges need AES (design.md: optional libraries on use).
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    _check("K", k, KEY_LEN)
    encryptor = Cipher(algorithms.AES(k), modes.ECB()).encryptor()

    def encrypt(block: bytes) -> bytes:
        return encryptor.update(block)

    return encrypt


def compute_opc(k: bytes, op: bytes) -> bytes:
    """OPc = OP xor E_K(OP)."""
    _check("OP", op, 16)
    return _xor(_cipher(k)(op), op)


def _temp(encrypt: Callable[[bytes], bytes], rand: bytes, opc: bytes) -> bytes:
    _check("RAND", rand, RAND_LEN)
    _check("OPc", opc, 16)
    return encrypt(_xor(rand, opc))


def _out(
    encrypt: Callable[[bytes], bytes], temp: bytes, opc: bytes, rotation: int, constant: bytes
) -> bytes:
    return _xor(encrypt(_xor(_rot(_xor(temp, opc), rotation), constant)), opc)


def f1(k: bytes, opc: bytes, rand: bytes, sqn: bytes, amf: bytes) -> tuple[bytes, bytes]:
    """(MAC-A, MAC-S): f1 and f1*, 8 bytes each."""
    _check("SQN", sqn, SQN_LEN)
    _check("AMF", amf, AMF_LEN)
    encrypt = _cipher(k)
    temp = _temp(encrypt, rand, opc)
    in1 = sqn + amf + sqn + amf
    out1 = _xor(encrypt(_xor(temp, _xor(_rot(_xor(in1, opc), _R1), _C1))), opc)
    return out1[:8], out1[8:]


@dataclass(frozen=True, slots=True)
class AkaVectors:
    """What f2-f5 give for one RAND."""

    res: bytes
    """f2: RES, 8 bytes (the AKAv1-MD5 password)."""
    ck: bytes
    """f3: the cipher key, 16 bytes."""
    ik: bytes
    """f4: the integrity key, 16 bytes."""
    ak: bytes
    """f5: the anonymity key, 6 bytes (hides SQN in AUTN)."""


def f2345(k: bytes, opc: bytes, rand: bytes) -> AkaVectors:
    """RES, CK, IK and AK for ``rand``."""
    encrypt = _cipher(k)
    temp = _temp(encrypt, rand, opc)
    out2 = _out(encrypt, temp, opc, _R2, _C2)
    out3 = _out(encrypt, temp, opc, _R3, _C3)
    out4 = _out(encrypt, temp, opc, _R4, _C4)
    return AkaVectors(res=out2[8:], ck=out3, ik=out4, ak=out2[:6])


def f5_star(k: bytes, opc: bytes, rand: bytes) -> bytes:
    """AK for re-synchronisation (f5*), 6 bytes."""
    encrypt = _cipher(k)
    temp = _temp(encrypt, rand, opc)
    return _out(encrypt, temp, opc, _R5, _C5)[:6]
