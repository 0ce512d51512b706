"""The trust list: every root and document signer, signed by the root, as a compact JWS.

A verifier who pins only the root's SHA-256 fingerprint can check it offline:

1. decode the JWS header and take the root certificate from ``x5c``;
2. check that the certificate's fingerprint is the pinned one;
3. verify the JWS signature with that certificate's key (ES256/ES384);
4. read the payload: RFC 8785 canonical JSON listing each signer's key id, agency, validity,
   status and certificate, and check each signer certificate was issued by the root.

Any JOSE library and any X.509 tool can repeat these steps; :func:`verify_trust_list` does.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from certsvc.errors import KeyStoreError
from certsvc.keys.certificates import fingerprint, load_pem

MEDIA_TYPE = "certsvc-trust-list+json"
FORMAT_VERSION = 1


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


def verify_trust_list(token: bytes, *, pinned_fingerprint: str) -> TrustList:
    """Check a trust list against the pinned root fingerprint; ``KeyStoreError`` if it fails."""
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
    # 4. the payload and each signer's certificate
    payload: dict[str, Any] = json.loads(raw)
    if payload.get("type") != "certsvc-trust-list" or payload.get("version") != FORMAT_VERSION:
        raise KeyStoreError("the trust list payload has an unknown type or version")
    signers: dict[str, TrustedSigner] = {}
    for entry in payload["signers"]:
        certificate = load_pem(entry["certificate"])
        try:
            certificate.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature):
            raise KeyStoreError(
                f"signer {entry['key_id']} in the trust list is not issued by the root"
            ) from None
        signers[entry["key_id"]] = TrustedSigner(
            key_id=entry["key_id"],
            agency_code=entry["agency_code"],
            agency_name=entry["agency_name"],
            status=entry["status"],
            active_from=_time(entry["active_from"]),
            retire_at=_opt_time(entry["retire_at"]),
            revoked_at=_opt_time(entry["revoked_at"]),
            revocation_reason=entry["revocation_reason"],
            certificate=certificate,
        )
    return TrustList(
        payload["sequence"],
        _time(payload["issued_at"]),
        _time(payload["next_update"]),
        root,
        signers,
        payload,
    )


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _opt_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
