"""What signing code needs of a private key, wherever the key lives (file or HSM)."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes


class KeyAlgorithm(StrEnum):
    ECDSA_P256 = "ecdsa-p256"
    ECDSA_P384 = "ecdsa-p384"
    RSA_3072 = "rsa-3072"


class PrivateKeyHandle(Protocol):
    """A private key that can sign. ``sign`` hashes ``data`` with SHA-256 (SHA-384 for P-384)
    and returns the signature as X.509 and CMS carry it: DER ECDSA-Sig-Value for EC keys,
    PKCS#1 v1.5 for RSA."""

    @property
    def algorithm(self) -> KeyAlgorithm: ...

    @property
    def public_key(self) -> CertificatePublicKeyTypes: ...

    def sign(self, data: bytes) -> bytes: ...
