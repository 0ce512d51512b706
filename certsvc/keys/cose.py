"""The COSE_Sign1 building blocks (RFC 9052) shared by the QR token and the log's tree heads:
deterministic CBOR (RFC 8949 §4.2.1), the ``Sig_structure`` that is signed, the message, and
the ECDSA algorithms with their COSE identifiers."""

from __future__ import annotations

from dataclasses import dataclass

import cbor2
from cryptography.hazmat.primitives import hashes

COSE_SIGN1_TAG = 18
HEADER_ALG, HEADER_CRIT, HEADER_CONTENT_TYPE, HEADER_KID = 1, 2, 3, 4


@dataclass(frozen=True)
class CoseAlgorithm:
    name: str
    cose_id: int
    curve: str
    hash: hashes.HashAlgorithm
    size: int  # bytes of r and of s


ES256 = CoseAlgorithm("ES256", -7, "secp256r1", hashes.SHA256(), 32)
ES384 = CoseAlgorithm("ES384", -35, "secp384r1", hashes.SHA384(), 48)


def dumps(value: object) -> bytes:
    """Deterministic CBOR: shortest forms, sorted map keys."""
    return cbor2.dumps(value, canonical=True)


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 §4.4: what COSE_Sign1 signs (no external additional data)."""
    return dumps(["Signature1", protected, b"", payload])


def sign1_message(protected: bytes, payload: bytes, signature: bytes) -> bytes:
    """The tagged COSE_Sign1 array with an empty unprotected header."""
    return dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
