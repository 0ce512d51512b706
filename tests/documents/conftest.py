"""Signing material for document tests: a throw-away root, signer and CRL, made in memory."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from certsvc.documents.factory import DocumentFactory
from certsvc.documents.render import Renderer
from certsvc.documents.sign import SigningMaterial
from certsvc.errors import ConfigError
from certsvc.keys import certificates as certs
from certsvc.keys.files import FilePrivateKey

AGENCY = "北京市人力资源和社会保障局"
BASE_URL = "https://zc.example.gov.cn"


@dataclass(frozen=True)
class Chain:
    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey
    signer: x509.Certificate
    signer_key: ec.EllipticCurvePrivateKey
    crl_der: bytes
    key_id: str

    def material(self) -> SigningMaterial:
        return SigningMaterial(
            FilePrivateKey(self.signer_key),
            self.key_id,
            self.signer,
            self.root,
            (self.crl_der,),
            signer_name=AGENCY,
            location="北京",
        )


def make_chain(now: datetime | None = None) -> Chain:
    now = now or datetime.now(UTC)
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = certs.build_root_certificate(root_key, organization=AGENCY, now=now, days=3650)
    signer_key = ec.generate_private_key(ec.SECP256R1())
    key_id = certs.key_id_for(signer_key.public_key())
    profile = certs.SignerProfile(
        AGENCY,
        "BJRS",
        key_id,
        now - timedelta(minutes=5),
        now + timedelta(days=365),
        BASE_URL + "/.well-known/crl.der",
    )
    signer = certs.build_signer_certificate(
        signer_key.public_key(), profile, root_certificate=root, root_key=root_key
    )
    crl = certs.build_crl(
        [],
        number=1,
        root_certificate=root,
        root_key=root_key,
        now=now,
        next_update=now + timedelta(days=30),
    )
    return Chain(
        root, root_key, signer, signer_key, crl.public_bytes(serialization.Encoding.DER), key_id
    )


def in_process_tsa(chain: Chain) -> DummyTimeStamper:
    """pyHanko's in-process timestamp authority, its certificate issued by ``chain``'s root
    (pyHanko's dummy TSA signs with RSA only)."""
    now = datetime.now(UTC)
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")]))
        .issuer_name(chain.root.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(chain.root_key, hashes.SHA384())
    )
    return DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(tsa_cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            tsa_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
    )


@pytest.fixture(scope="session")
def chain() -> Chain:
    return make_chain()


@pytest.fixture(scope="session")
def renderer() -> Renderer:
    try:
        return Renderer.create()
    except ConfigError as exc:
        pytest.skip(f"needs fonts-wqy-zenhei and fonts-hanazono: {exc}")


@pytest.fixture(scope="session")
def factory(renderer: Renderer, chain: Chain) -> Iterator[DocumentFactory]:
    made = DocumentFactory(renderer, chain.material(), base_url=BASE_URL)
    yield made
    made.close()


@pytest.fixture(scope="session")
def nss_db(tmp_path_factory: pytest.TempPathFactory, chain: Chain) -> str:
    """A throw-away NSS database trusting the test root, for poppler's pdfsig."""
    if shutil.which("certutil") is None:
        pytest.skip("needs certutil (Debian: libnss3-tools)")
    folder = tmp_path_factory.mktemp("nss")
    root_pem = folder / "root.pem"
    root_pem.write_bytes(chain.root.public_bytes(serialization.Encoding.PEM))
    subprocess.run(["certutil", "-N", "-d", f"sql:{folder}", "--empty-password"], check=True)
    subprocess.run(
        [
            "certutil",
            "-A",
            "-n",
            "certsvc-root",
            "-t",
            "CT,C,C",
            "-i",
            str(root_pem),
            "-d",
            f"sql:{folder}",
        ],
        check=True,
    )
    return f"sql:{folder}"


def tool(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    if shutil.which(str(args[0])) is None:
        pytest.skip(f"needs {args[0]}")
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=check)
