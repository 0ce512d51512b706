"""Tables of revocation and reissue: the two-person change requests, and each status list as
published.

A ``DocumentChange`` is asked for by one member of staff and approved (or rejected) by another;
the registry (:class:`certsvc.issuance.models.Document`) changes only when it is approved. A
``StatusListPublication`` is a signed status list exactly as published: the newest is what the
web serves and what verifiers fetch.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from certsvc.db.base import SQLModel
from certsvc.db.types import UTCDateTime, enum_column, utcnow


class ChangeKind(StrEnum):
    REVOKE = "revoke"
    REISSUE = "reissue"


class ChangeStatus(StrEnum):
    PENDING = "pending"  # asked for, waiting for a second member of staff
    APPROVED = "approved"  # approved; a reissue's numbers are allocated, signing not recorded
    DONE = "done"  # the registry, log, status list and outbox show it
    REJECTED = "rejected"


class RevocationReason(StrEnum):
    """Why a document is withdrawn."""

    FRAUD_ON_RECHECK = "fraud_on_recheck"  # fraud found when the result was re-checked
    UPHELD_COMPLAINT = "upheld_complaint"  # a complaint against the result was upheld
    ISSUED_IN_ERROR = "issued_in_error"
    HOLDER_REQUEST = "holder_request"


class DocumentChange(SQLModel, table=True):
    """A revocation or reissue of a document and its companion, asked for and decided."""

    __tablename__ = "document_change"
    __table_args__ = (sa.Index("ix_document_change_status", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: ChangeKind = Field(sa_column=enum_column(ChangeKind, nullable=False))
    status: ChangeStatus = Field(sa_column=enum_column(ChangeStatus, nullable=False))
    document_number: str = Field(max_length=32, index=True)  # as asked (either of the pair)
    # every registry row the change applies to (the document and its companion)
    document_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    person_id: int = Field(foreign_key="person.id", index=True)
    reason: RevocationReason | None = Field(
        default=None, sa_column=enum_column(RevocationReason, nullable=True)
    )
    effective_on: date | None = None
    # a reissue's corrections of the holder's details: {"name": …, "work_unit": …}; empty for
    # a layout correction (the same details, made again)
    corrections: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    note: str = Field(max_length=500)
    requested_by: str = Field(max_length=64)
    requested_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rejection: str | None = Field(default=None, max_length=500)
    # a reissue's new numbers by old number, allocated when it is approved
    new_numbers: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)
    new_issued_on: date | None = None  # so that a resumed reissue signs the same records
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StatusListPublication(SQLModel, table=True):
    """A signed status list (compact JWS) as published, numbered from 1."""

    __tablename__ = "status_list_publication"

    id: int | None = Field(default=None, primary_key=True)
    sequence: int = Field(unique=True)
    issued_at: datetime = Field(sa_type=UTCDateTime)
    next_update: datetime = Field(sa_type=UTCDateTime)
    length: int  # entries in the list
    flagged: int  # entries that are not "valid"
    key_id: str = Field(max_length=16)
    content: bytes = Field(sa_type=sa.LargeBinary)
    sha256: str = Field(max_length=64)
    created_by: str = Field(max_length=64)
