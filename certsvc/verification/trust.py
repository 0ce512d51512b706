"""Trust anchors: what a verifier trusts, taken from a verified trust list and nothing else.

The trust list (:mod:`certsvc.keys.trust_list`) is signed by the bureau root; a verifier pins
the root's SHA-256 fingerprint. :class:`TrustAnchors` is that list once checked: the root
certificate (the only trust root given to pyHanko's path validation) and, per key id, the
document signer's certificate, status, period and revocation time.

* Offline: :meth:`TrustAnchors.from_jws` with the published ``trust-list.jws`` and the pinned
  fingerprint (``certsvc verify --trust-list … --root-fingerprint …``).
* The web: :meth:`TrustAnchors.from_database` takes the newest published trust list and checks
  it against the root the database holds, exactly as an outside verifier would; a list that
  does not verify (or is past its ``next_update``) is an error, never a silent fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from sqlmodel import Session

from certsvc.documents.token import TokenKey
from certsvc.errors import KeyStoreError, NotFoundError
from certsvc.keys.certificates import fingerprint
from certsvc.keys.models import PublicationKind
from certsvc.keys.service import current_root, latest_publication
from certsvc.keys.trust_list import TrustedSigner, TrustList, verify_trust_list


@dataclass(frozen=True)
class TrustAnchors:
    """The root and the document signers of one verified trust list."""

    root: x509.Certificate
    signers: Mapping[str, TrustedSigner]
    sequence: int
    issued_at: datetime
    next_update: datetime
    _der: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)
    _keys: dict[str, CertificatePublicKeyTypes] = field(
        default_factory=dict, repr=False, compare=False
    )
    _token_keys: dict[str, TokenKey] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_trust_list(cls, trust_list: TrustList) -> TrustAnchors:
        """Anchors from a list :func:`~certsvc.keys.trust_list.verify_trust_list` accepted."""
        return cls(
            root=trust_list.root,
            signers=dict(trust_list.signers),
            sequence=trust_list.sequence,
            issued_at=trust_list.issued_at,
            next_update=trust_list.next_update,
        )

    @classmethod
    def from_jws(
        cls,
        token: bytes,
        *,
        root_fingerprint: str,
        now: datetime,
        minimum_sequence: int | None = None,
    ) -> TrustAnchors:
        """Check a trust-list JWS against the pinned root fingerprint (``KeyStoreError`` if it
        fails: wrong root, bad signature, out of date, older than ``minimum_sequence``)."""
        return cls.from_trust_list(
            verify_trust_list(
                token,
                pinned_fingerprint=root_fingerprint,
                now=now,
                minimum_sequence=minimum_sequence,
            )
        )

    @classmethod
    def from_database(cls, session: Session, *, now: datetime) -> TrustAnchors:
        """The newest published trust list, checked against the database's current root."""
        publication = latest_publication(session, PublicationKind.TRUST_LIST)
        if publication is None:
            raise NotFoundError(
                "no trust list is published yet; run `certsvc keys export-trust` (or the demo)"
            )
        root = current_root(session)
        return cls.from_jws(bytes(publication.content), root_fingerprint=root.fingerprint, now=now)

    @property
    def root_fingerprint(self) -> str:
        return fingerprint(self.root)

    def signer(self, key_id: str) -> TrustedSigner | None:
        return self.signers.get(key_id)

    def certificate_der(self, key_id: str) -> bytes | None:
        """The DER of signer ``key_id``'s certificate (computed once)."""
        signer = self.signers.get(key_id)
        if signer is None:
            return None
        der = self._der.get(key_id)
        if der is None:
            der = signer.certificate.public_bytes(serialization.Encoding.DER)
            self._der[key_id] = der
        return der

    def public_key(self, signer: TrustedSigner) -> CertificatePublicKeyTypes:
        """``signer``'s public key (loaded from its certificate once)."""
        key = self._keys.get(signer.key_id)
        if key is None:
            key = signer.certificate.public_key()
            self._keys[signer.key_id] = key
        return key

    def token_key(self, signer: TrustedSigner) -> TokenKey:
        """``signer``'s key readied for QR tokens (once); ``TokenError`` if it is not P-256."""
        key = self._token_keys.get(signer.key_id)
        if key is None:
            key = TokenKey.of(self.public_key(signer))
            self._token_keys[signer.key_id] = key
        return key

    @cached_property
    def asn1_root(self) -> asn1_x509.Certificate:
        """The root as pyHanko's validation context wants it."""
        return asn1_x509.Certificate.load(self.root.public_bytes(serialization.Encoding.DER))


def check_fingerprint_text(value: str) -> str:
    """A root fingerprint as typed (hex, colons allowed, any case), normalised; ``KeyStoreError``
    if it is not 64 hex digits."""
    text = value.strip().lower().replace(":", "")
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise KeyStoreError(
            "the root fingerprint must be the 64 hex digits of the root certificate's SHA-256 "
            "(as `certsvc keys init-root` prints it; colons allowed)"
        )
    return text
