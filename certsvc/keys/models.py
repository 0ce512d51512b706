"""Tables of the trust chain: root certificates, document signers, and what was published.

Private keys are not here: they stay in the key folder or the HSM. These rows hold public
material only, so the web process can publish and verify from the database alone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from certsvc.db.base import SQLModel
from certsvc.db.types import UTCDateTime, enum_column, utcnow
from certsvc.keys.handles import KeyAlgorithm


class RootCertificate(SQLModel, table=True):
    """A bureau root (trust anchor). Its key is kept offline; verifiers pin the fingerprint."""

    __tablename__ = "root_certificate"

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(max_length=64, unique=True)
    subject: str = Field(max_length=255)
    certificate_pem: str = Field(sa_type=sa.Text)
    key_file: str = Field(max_length=255)
    not_before: datetime = Field(sa_type=UTCDateTime)
    not_after: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    created_by: str = Field(max_length=64)


class KeyBackend(StrEnum):
    FILE = "file"
    PKCS11 = "pkcs11"


class SignerStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


class RevocationReason(StrEnum):
    """RFC 5280 reason codes a bureau uses for a document signer."""

    KEY_COMPROMISE = "key_compromise"
    AFFILIATION_CHANGED = "affiliation_changed"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation_of_operation"
    UNSPECIFIED = "unspecified"


class SigningKey(SQLModel, table=True):
    """An agency's document-signing key and its certificate, issued by a root.

    It signs from ``active_from`` until ``retire_at`` (a rotation sets it to the successor's
    start), never outside its certificate's validity, and never once revoked. Documents it
    signed while it could stay verifiable after it retires or expires.
    """

    __tablename__ = "signing_key"

    id: int | None = Field(default=None, primary_key=True)
    key_id: str = Field(max_length=16, unique=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    root_id: int = Field(foreign_key="root_certificate.id")
    algorithm: KeyAlgorithm = Field(sa_column=enum_column(KeyAlgorithm, nullable=False))
    backend: KeyBackend = Field(sa_column=enum_column(KeyBackend, nullable=False))
    key_ref: str = Field(max_length=512)  # file name in the key folder, or a PKCS#11 URI
    certificate_pem: str = Field(sa_type=sa.Text)
    serial_number: str = Field(max_length=40)  # hex
    not_before: datetime = Field(sa_type=UTCDateTime)
    not_after: datetime = Field(sa_type=UTCDateTime)
    active_from: datetime = Field(sa_type=UTCDateTime)
    retire_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: SignerStatus = Field(sa_column=enum_column(SignerStatus, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revocation_reason: RevocationReason | None = Field(
        default=None, sa_column=enum_column(RevocationReason, nullable=True)
    )
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    created_by: str = Field(max_length=64)


class PublicationKind(StrEnum):
    TRUST_LIST = "trust_list"
    CRL = "crl"


class TrustPublication(SQLModel, table=True):
    """A signed trust list or CRL as published; the newest of each kind is what the web serves."""

    __tablename__ = "trust_publication"
    __table_args__ = (sa.UniqueConstraint("kind", "number", name="uq_trust_publication_number"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: PublicationKind = Field(sa_column=enum_column(PublicationKind, nullable=False))
    number: int
    issued_at: datetime = Field(sa_type=UTCDateTime)
    next_update: datetime = Field(sa_type=UTCDateTime)
    content: bytes = Field(sa_type=sa.LargeBinary)
    sha256: str = Field(max_length=64)
    root_id: int = Field(foreign_key="root_certificate.id")
    created_by: str = Field(max_length=64)
