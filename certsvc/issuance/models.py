"""Issuance batches, the candidates in them, and the document registry.

A batch (签发批次) gathers the cleared results of sessions whose publicity has closed. One
member of staff creates it, another approves it, and the signer runs it. Each candidate is a
``BatchItem``; each document made for it is a ``Document`` row in the registry, created
*reserved* (its number allocated) before the PDF is signed and marked *issued* once the signed
file is in the store — so a run killed at any instant leaves only states a re-run finishes.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from certsvc.db.base import SQLModel
from certsvc.db.types import UTCDateTime, enum_column, utcnow
from certsvc.documents.record import DocumentType


class BatchStatus(StrEnum):
    DRAFT = "draft"  # created, waiting for a second member of staff to approve it
    APPROVED = "approved"  # may be run (and re-run until complete)
    COMPLETED = "completed"  # every candidate issued, failed or skipped; tree head signed
    CANCELLED = "cancelled"  # a draft withdrawn before approval


class ItemState(StrEnum):
    PENDING = "pending"  # nothing done yet
    RESERVED = "reserved"  # document numbers allocated, registry rows reserved
    ISSUED = "issued"  # both documents signed, stored and logged
    FAILED = "failed"  # a document could not be made; the reason says why
    SKIPPED = "skipped"  # the result no longer stands (withdrawn, or held) at run time


class DocumentStatus(StrEnum):
    RESERVED = "reserved"  # number allocated; the signed PDF is not recorded yet
    ISSUED = "issued"  # current: signed, stored, logged
    VOID = "void"  # the reservation failed; the number is never reused
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


# a candidate has at most one current (issued) document of each type, and at most one
# reserved: a reissue reserves the new rows, beside the issued ones it will supersede
CURRENT_STATUSES = (DocumentStatus.RESERVED, DocumentStatus.ISSUED)
_ISSUED_SQL = "status = 'issued'"
_RESERVED_SQL = "status = 'reserved'"


class IssuanceBatch(SQLModel, table=True):
    __tablename__ = "issuance_batch"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    status: BatchStatus = Field(sa_column=enum_column(BatchStatus, nullable=False, index=True))
    session_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    candidates: int
    # results left out at creation, with why: [{"result_id", "name", "reason"}]
    held: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    created_by: str = Field(max_length=64)
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    approved_by: str | None = Field(default=None, max_length=64)
    issued_on: date | None = None  # fixed by the first run, kept by every re-run
    runs: int = 0
    first_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    tree_size: int | None = None  # the transparency log's size when the batch completed
    report: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)


class BatchItem(SQLModel, table=True):
    """One candidate in a batch. A result is in at most one batch."""

    __tablename__ = "batch_item"
    __table_args__ = (sa.Index("ix_batch_item_batch_state", "batch_id", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="issuance_batch.id")
    result_id: int = Field(foreign_key="review_result.id", unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    state: ItemState = Field(sa_column=enum_column(ItemState, nullable=False))
    sequence: int | None = None  # shared by the candidate's certificate and notice
    reason: str | None = Field(default=None, max_length=500)
    updated_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)


class Document(SQLModel, table=True):
    """The registry: every document number ever allocated, and what became of it."""

    __tablename__ = "document"
    __table_args__ = (
        sa.Index(
            "uq_document_issued_per_result",
            "result_id",
            "document_type",
            unique=True,
            sqlite_where=sa.text(_ISSUED_SQL),
            postgresql_where=sa.text(_ISSUED_SQL),
        ),
        sa.Index(
            "uq_document_reserved_per_result",
            "result_id",
            "document_type",
            unique=True,
            sqlite_where=sa.text(_RESERVED_SQL),
            postgresql_where=sa.text(_RESERVED_SQL),
        ),
        sa.Index("ix_document_batch_status", "batch_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    document_number: str = Field(max_length=32, unique=True)
    document_type: DocumentType = Field(sa_column=enum_column(DocumentType, nullable=False))
    status: DocumentStatus = Field(sa_column=enum_column(DocumentStatus, nullable=False))
    batch_id: int | None = Field(default=None, foreign_key="issuance_batch.id")
    item_id: int | None = Field(default=None, foreign_key="batch_item.id", index=True)
    result_id: int = Field(foreign_key="review_result.id")
    person_id: int = Field(foreign_key="person.id", index=True)
    agency_id: int = Field(foreign_key="agency.id")
    issued_on: date
    sha256: str | None = Field(default=None, max_length=64, unique=True)
    size: int | None = None
    signer_key_id: str | None = Field(default=None, max_length=16, index=True)
    token: str | None = Field(default=None, sa_type=sa.Text)
    issued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    log_index: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True, unique=True)
    )
    # the audit path from the log entry to the tree head of ``proof_tree_size`` leaves
    inclusion_proof: list[str] | None = Field(default=None, sa_type=sa.JSON)
    proof_tree_size: int | None = None
    failure: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    # revocation and reissue (certsvc.revocation): filled when the status changes
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revocation_reason: str | None = Field(default=None, max_length=32)
    revocation_effective_on: date | None = None
    superseded_by: str | None = Field(default=None, max_length=32)  # the reissue's number
    replaces: str | None = Field(default=None, max_length=32)  # the number a reissue replaced
    # where the document's status is published: the status list and the entry in it
    status_list_url: str | None = Field(default=None, max_length=255)
    status_list_index: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True, unique=True)
    )


class NumberSequence(SQLModel, table=True):
    """The last sequence number allocated per year, region, series and level."""

    __tablename__ = "number_sequence"
    __table_args__ = (
        sa.UniqueConstraint("year", "region_code", "series_code", "level_code", name="uq_sequence"),
    )

    id: int | None = Field(default=None, primary_key=True)
    year: int
    region_code: str = Field(max_length=6)
    series_code: str = Field(max_length=2)
    level_code: str = Field(max_length=1)
    last: int = 0
