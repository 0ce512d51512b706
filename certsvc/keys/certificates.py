"""X.509 for the trust chain: the bureau root, document-signer certificates and the CRL.

Profiles:

* **Root** — self-signed, CA, path length 0, key usage keyCertSign + cRLSign. Verifiers pin the
  SHA-256 fingerprint of its DER encoding.
* **Document signer** — issued by the root; key usage digitalSignature + nonRepudiation
  (pyHanko's validator requires the latter by default); extended key usage documentSigning
  (RFC 9336) together with emailProtection, because poppler's ``pdfsig`` rejects a signer whose
  only extended usage is documentSigning; a CRL distribution point under the public base URL.
* **Key id** — the first 16 hex digits of SHA-256 over the signer's SubjectPublicKeyInfo, so
  anyone holding the certificate can recompute it; also the certificate's subject key id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning
CLOCK_SKEW = timedelta(minutes=5)


def key_id_for(public_key: CertificatePublicKeyTypes) -> str:
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()[:16]


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 over the DER certificate, lower-case hex: what a verifier pins."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def to_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_pem(pem: str | bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii") if isinstance(pem, str) else pem)


def _hash_for(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def fit(text: str, limit: int = 64) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (the bound X.509 libraries enforce on
    names; a Chinese character takes three)."""
    while len(text.encode("utf-8")) > limit:
        text = text[:-1]
    return text


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, fit(organization)),
            x509.NameAttribute(NameOID.COMMON_NAME, fit(common_name)),
        ]
    )


def build_root_certificate(
    key: CertificateIssuerPrivateKeyTypes, *, organization: str, now: datetime, days: int
) -> x509.Certificate:
    public = key.public_key()
    name = _name(f"{fit(organization, 48)} 根证书", organization)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, _hash_for(key))
    )


@dataclass(frozen=True)
class SignerProfile:
    agency_name: str
    agency_code: str
    key_id: str
    not_before: datetime
    not_after: datetime
    crl_url: str


def build_signer_certificate(
    public_key: CertificatePublicKeyTypes,
    profile: SignerProfile,
    *,
    root_certificate: x509.Certificate,
    root_key: CertificateIssuerPrivateKeyTypes,
) -> x509.Certificate:
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise ValueError(f"unsupported signer key type {type(public_key).__name__}")
    root_ski = root_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, fit(profile.agency_name)),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, profile.agency_code),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"文书签名 {profile.key_id}"),
                    x509.NameAttribute(NameOID.SERIAL_NUMBER, profile.key_id),
                ]
            )
        )
        .issuer_name(root_certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(profile.not_before)
        .not_valid_after(profile.not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier(bytes.fromhex(profile.key_id)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski.value),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(profile.crl_url)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        .sign(root_key, _hash_for(root_key))
    )


@dataclass(frozen=True)
class RevokedEntry:
    """One revoked certificate: ``revocation_date`` is when the bureau recorded the revocation
    (RFC 5280 §5.3.2: the CRL's revocationDate), ``invalidity_date`` when the key is known or
    suspected to have stopped being trustworthy (§5.3.2's invalidityDate; it may be earlier)."""

    serial_number: int
    revocation_date: datetime
    reason: x509.ReasonFlags
    invalidity_date: datetime | None = None


def build_crl(
    entries: Sequence[RevokedEntry],
    *,
    number: int,
    root_certificate: x509.Certificate,
    root_key: CertificateIssuerPrivateKeyTypes,
    now: datetime,
    next_update: datetime,
) -> x509.CertificateRevocationList:
    root_ski = root_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root_certificate.subject)
        .last_update(now)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski.value),
            critical=False,
        )
    )
    for entry in entries:
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial_number)
            .revocation_date(_naive_utc(entry.revocation_date))
            .add_extension(x509.CRLReason(entry.reason), critical=False)
        )
        if entry.invalidity_date is not None:
            revoked = revoked.add_extension(
                x509.InvalidityDate(_naive_utc(entry.invalidity_date)), critical=False
            )
        builder = builder.add_revoked_certificate(revoked.build())
    return builder.sign(root_key, _hash_for(root_key))


def _naive_utc(value: datetime) -> datetime:
    """``value`` converted to UTC, without its zone (how X.509 encoders take a time). A naive
    ``value`` is taken to be UTC already."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
