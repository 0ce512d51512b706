"""The trust list: every root and document signer, signed by the root, as a compact JWS.

A verifier who pins only the root's SHA-256 fingerprint can check it offline:

1. decode the JWS header and take the root certificate from ``x5c``;
2. check that the certificate's fingerprint is the pinned one;
3. verify the JWS signature with that certificate's key (ES256/ES384);
4. read the payload: RFC 8785 canonical JSON listing each signer's key id, agency, validity,
   status and certificate;
5. refuse a list whose ``next_update`` has passed, and one older (lower ``sequence``) than the
   newest the verifier has already accepted — an old list may still show a since-revoked
   signer as active;
6. check the ``root`` entry describes the signing root, and each signer certificate was issued
   by the root, is not a CA, allows documentSigning, and matches its entry: key id (the first
   16 hex digits of SHA-256 over its SubjectPublicKeyInfo, also its subject key identifier),
   agency code (its subject's OU), serial number and validity.

Each signer's ``status`` is what it was when the list was issued: ``active``, ``pending`` (its
``active_from`` has not come), ``retired`` (it stopped signing at ``retire_at``; what it signed
before stays valid), ``expired`` or ``revoked`` (from ``revoked_at``).

Any JOSE library and any X.509 tool can repeat these steps; :func:`verify_trust_list` does.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import jwt
import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID

from certsvc.errors import KeyStoreError
from certsvc.keys.certificates import (
    CLOCK_SKEW,
    DOCUMENT_SIGNING,
    fingerprint,
    key_id_for,
    load_pem,
)

_T = TypeVar("_T")
MEDIA_TYPE = "certsvc-trust-list+json"
FORMAT_VERSION = 1


class TrustStatus(StrEnum):
    """A signer's status in a trust list, as of the list's ``issued_at``."""

    ACTIVE = "active"
    PENDING = "pending"
    RETIRED = "retired"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class TrustedSigner:
    key_id: str
    agency_code: str
    agency_name: str
    status: str
    active_from: datetime
    retire_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    certificate: x509.Certificate


@dataclass(frozen=True)
class TrustList:
    sequence: int
    issued_at: datetime
    next_update: datetime
    root: x509.Certificate
    signers: dict[str, TrustedSigner]
    payload: dict[str, Any]


def jws_algorithm(key: PrivateKeyTypes | x509.Certificate) -> str:
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        return {256: "ES256", 384: "ES384", 521: "ES512"}[public.curve.key_size]
    return "RS256"


def sign_trust_list(
    payload: dict[str, Any], *, root_key: PrivateKeyTypes, root_certificate: x509.Certificate
) -> bytes:
    """The compact JWS of ``payload`` (canonicalised with RFC 8785), signed by the root."""
    der = root_certificate.public_bytes(serialization.Encoding.DER)
    token = jwt.api_jws.encode(
        rfc8785.dumps(payload),
        root_key,  # type: ignore[arg-type]
        algorithm=jws_algorithm(root_key),
        headers={"typ": MEDIA_TYPE, "x5c": [base64.b64encode(der).decode("ascii")]},
    )
    return token.encode("ascii")


def verify_trust_list(
    token: bytes,
    *,
    pinned_fingerprint: str,
    now: datetime,
    minimum_sequence: int | None = None,
) -> TrustList:
    """Check a trust list against the pinned root fingerprint, as of ``now``; ``KeyStoreError``
    if it fails.

    ``minimum_sequence`` is the sequence number of the newest list the caller has accepted
    before: an older one is refused, so a signed list from before a revocation cannot be
    replayed."""
    if now.tzinfo is None:
        raise ValueError("verify_trust_list needs an aware `now`")
    # 1. the header and the root certificate it carries
    try:
        header = jwt.get_unverified_header(token)
        root = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    except (jwt.PyJWTError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise KeyStoreError(f"the trust list is not a certsvc JWS: {exc}") from None
    if header.get("typ") != MEDIA_TYPE:
        raise KeyStoreError(f"the JWS is a {header.get('typ')!r}, not a trust list")
    # 2. the pinned root
    if fingerprint(root) != pinned_fingerprint.lower().replace(":", ""):
        raise KeyStoreError(
            f"the trust list is signed by root {fingerprint(root)}, not by the pinned root "
            f"{pinned_fingerprint}"
        )
    # 3. the signature
    try:
        raw = jwt.api_jws.decode(
            token,
            root.public_key(),  # type: ignore[arg-type]
            algorithms=[jws_algorithm(root)],
        )
    except jwt.PyJWTError as exc:
        raise KeyStoreError(f"the trust list's signature does not verify: {exc}") from None
    # 4. the payload
    try:
        payload = json.loads(raw)
    except ValueError:
        raise KeyStoreError("the trust list payload is not JSON") from None
    if not isinstance(payload, dict):
        raise KeyStoreError("the trust list payload is not a JSON object")
    if payload.get("type") != "certsvc-trust-list" or payload.get("version") != FORMAT_VERSION:
        raise KeyStoreError("the trust list payload has an unknown type or version")
    sequence = _field(payload, "sequence", int, "the trust list")
    issued_at = _time(payload, "issued_at", "the trust list")
    next_update = _time(payload, "next_update", "the trust list")
    # 5. fresh, and not older than what the caller has seen
    if now >= next_update:
        raise KeyStoreError(
            f"the trust list is out of date: it was due to be replaced by "
            f"{next_update.isoformat()} and it is now {now.isoformat()}; fetch the current one"
        )
    if issued_at > now + CLOCK_SKEW:
        raise KeyStoreError(
            f"the trust list was issued at {issued_at.isoformat()}, after now "
            f"({now.isoformat()}); check this machine's clock"
        )
    if minimum_sequence is not None and sequence < minimum_sequence:
        raise KeyStoreError(
            f"the trust list has sequence {sequence}, older than number {minimum_sequence} "
            "already seen; an old list may show a since-revoked signer as active"
        )
    # 6. the root entry and each signer against its certificate
    _check_root_entry(_field(payload, "root", dict, "the trust list"), root)
    signers: dict[str, TrustedSigner] = {}
    for entry in _field(payload, "signers", list, "the trust list"):
        signer = _signer(entry, root)
        if signer.key_id in signers:
            raise KeyStoreError(f"signer {signer.key_id} is listed twice in the trust list")
        signers[signer.key_id] = signer
    return TrustList(sequence, issued_at, next_update, root, signers, payload)


def _check_root_entry(entry: dict[str, Any], root: x509.Certificate) -> None:
    what = "the trust list's root entry"
    if _field(entry, "fingerprint_sha256", str, what) != fingerprint(root):
        raise KeyStoreError(f"{what} names another root than the one that signed the list")
    if _certificate(entry, what) != root:
        raise KeyStoreError(f"{what} holds another certificate than the one that signed the list")
    if _field(entry, "subject", str, what) != root.subject.rfc4514_string()[:255]:
        raise KeyStoreError(f"{what} gives another subject than the root certificate's")
    if (
        _time(entry, "not_before", what) != root.not_valid_before_utc
        or _time(entry, "not_after", what) != root.not_valid_after_utc
    ):
        raise KeyStoreError(f"{what} gives another validity than the root certificate's")


def _signer(entry: object, root: x509.Certificate) -> TrustedSigner:
    if not isinstance(entry, dict):
        raise KeyStoreError("a signer entry in the trust list is not a JSON object")
    key_id = _field(entry, "key_id", str, "a signer entry in the trust list")
    what = f"signer {key_id} in the trust list"
    certificate = _certificate(entry, what)
    try:
        certificate.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        raise KeyStoreError(f"{what} is not issued by the root") from None
    _check_signer_certificate(entry, key_id, certificate, what)
    status = _field(entry, "status", str, what)
    if status not in set(TrustStatus):
        raise KeyStoreError(f"{what} has an unknown status {status!r}")
    reason = entry.get("revocation_reason")
    if reason is not None and not isinstance(reason, str):
        raise KeyStoreError(f"{what} has a malformed revocation_reason")
    return TrustedSigner(
        key_id=key_id,
        agency_code=_field(entry, "agency_code", str, what),
        agency_name=_field(entry, "agency_name", str, what),
        status=status,
        active_from=_time(entry, "active_from", what),
        retire_at=_optional_time(entry, "retire_at", what),
        revoked_at=_optional_time(entry, "revoked_at", what),
        revocation_reason=reason,
        certificate=certificate,
    )


def _check_signer_certificate(
    entry: dict[str, Any], key_id: str, certificate: x509.Certificate, what: str
) -> None:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if is_ca:
        raise KeyStoreError(f"{what} has a CA certificate; a document signer must not be a CA")
    try:
        usages = list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = []
    if DOCUMENT_SIGNING not in usages:
        raise KeyStoreError(f"{what} has a certificate that does not allow documentSigning")
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise KeyStoreError(f"{what} has a certificate with an unsupported key type")
    try:
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        ski_hex = ski.digest.hex()
    except x509.ExtensionNotFound:
        ski_hex = None
    if key_id != key_id_for(public_key) or ski_hex != key_id:
        raise KeyStoreError(
            f"{what}: the key id does not match its certificate's key "
            f"({key_id_for(public_key)}) and subject key identifier ({ski_hex})"
        )
    units = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    agency_code = _field(entry, "agency_code", str, what)
    if [unit.value for unit in units] != [agency_code]:
        raise KeyStoreError(
            f"{what} is listed for agency {agency_code}, but its certificate is for "
            f"{', '.join(str(unit.value) for unit in units) or 'no agency'}"
        )
    if _field(entry, "serial_number", str, what) != format(certificate.serial_number, "x"):
        raise KeyStoreError(f"{what} gives another serial number than its certificate's")
    if (
        _time(entry, "not_before", what) != certificate.not_valid_before_utc
        or _time(entry, "not_after", what) != certificate.not_valid_after_utc
    ):
        raise KeyStoreError(f"{what} gives another validity than its certificate's")


def _field(entry: dict[str, Any], name: str, kind: type[_T], what: str) -> _T:
    value = entry.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise KeyStoreError(f"{what} has no valid {name!r} (expected {kind.__name__})")
    return value


def _time(entry: dict[str, Any], name: str, what: str) -> datetime:
    text = _field(entry, name, str, what)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise KeyStoreError(f"{what} has a malformed {name!r}: {text!r}") from None
    if value.tzinfo is None:
        raise KeyStoreError(f"{what} has {name!r} without a time zone: {text!r}")
    return value


def _optional_time(entry: dict[str, Any], name: str, what: str) -> datetime | None:
    if name not in entry:
        raise KeyStoreError(f"{what} has no {name!r}")
    return None if entry[name] is None else _time(entry, name, what)


def _certificate(entry: dict[str, Any], what: str) -> x509.Certificate:
    try:
        return load_pem(_field(entry, "certificate", str, what))
    except ValueError:
        raise KeyStoreError(f"{what} has a certificate that cannot be read") from None
