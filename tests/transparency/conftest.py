"""Helpers of the transparency-log tests: a signer key made in memory, and entries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certsvc.keys import certificates as certs
from certsvc.keys.files import FilePrivateKey
from certsvc.transparency.models import EntryKind
from certsvc.transparency.service import NewEntry

AGENCY = "北京市人力资源和社会保障局"
ORIGIN = "zc.example.gov.cn/log"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Signer:
    handle: FilePrivateKey
    key_id: str
    certificate: x509.Certificate


def make_signer(algorithm: str = "p256") -> Signer:
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = certs.build_root_certificate(root_key, organization=AGENCY, now=T0, days=3650)
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if algorithm == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        key = ec.generate_private_key(ec.SECP384R1() if algorithm == "p384" else ec.SECP256R1())
    key_id = certs.key_id_for(key.public_key())
    profile = certs.SignerProfile(
        AGENCY, "BJRS", key_id, T0, T0 + timedelta(days=365), "https://zc.example.gov.cn/crl"
    )
    certificate = certs.build_signer_certificate(
        key.public_key(), profile, root_certificate=root, root_key=root_key
    )
    return Signer(FilePrivateKey(key), key_id, certificate)


@pytest.fixture(scope="session")
def signer() -> Signer:
    return make_signer()


def new_entries(count: int, start: int = 0, kind: EntryKind = EntryKind.ISSUE) -> list[NewEntry]:
    return [
        NewEntry(
            kind=kind,
            document_number=f"2026BJRS{start + i:08d}",
            document_sha256=hashlib.sha256(f"pdf {start + i}".encode()).hexdigest(),
            details={"document_type": "certificate"},
        )
        for i in range(count)
    ]
