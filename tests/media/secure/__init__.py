"""Tests of gossipper.media.secure (issue 18)."""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from gossipper.media.secure.dtls import DtlsCertificate


def require(module: str) -> None:
    """Skip without the media-secure extra; in CI (CI set) its absence is a failure."""
    if importlib.util.find_spec(module) is None:
        message = f"{module} missing: install gossipper[media-secure] (part of the test extra)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message, allow_module_level=True)


def certificate_pem(certificate: DtlsCertificate) -> tuple[bytes, bytes]:
    """A DTLS certificate and its key as PEM (unencrypted PKCS#8), as -dtls_cert/-dtls_key
    read them."""
    from cryptography.hazmat.primitives import serialization

    return (
        certificate.certificate.public_bytes(serialization.Encoding.PEM),
        certificate.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
