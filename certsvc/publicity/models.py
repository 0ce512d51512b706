"""Publicity periods (公示) and the objections (异议) lodged during them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from certsvc.db.base import SQLModel
from certsvc.db.types import UTCDateTime, enum_column, utcnow


class PublicityStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class PublicityPeriod(SQLModel, table=True):
    """The public showing of one session's passing results, for N working days."""

    __tablename__ = "publicity_period"
    __table_args__ = (
        sa.CheckConstraint("working_days >= 1", name="working_days_positive"),
        sa.CheckConstraint("end_date >= start_date", name="end_not_before_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="review_session.id", unique=True)
    start_date: date
    working_days: int
    end_date: date
    calendar_source: str = Field(max_length=255)
    status: PublicityStatus = Field(sa_column=enum_column(PublicityStatus, nullable=False))
    opened_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    opened_by: str = Field(max_length=64)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=64)


class ObjectionChannel(StrEnum):
    """How an objection reached the bureau."""

    LETTER = "letter"
    PHONE = "phone"
    EMAIL = "email"
    ONLINE = "online"
    IN_PERSON = "in_person"


class ObjectionStatus(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


class Objection(SQLModel, table=True):
    """An objection (异议, 投诉举报) against one result, lodged during its publicity.

    While open it holds the result back from issuance; upheld withdraws the result; dismissed
    releases the hold.
    """

    __tablename__ = "objection"

    id: int | None = Field(default=None, primary_key=True)
    result_id: int = Field(foreign_key="review_result.id", index=True)
    period_id: int = Field(foreign_key="publicity_period.id", index=True)
    received_on: date
    channel: ObjectionChannel = Field(sa_column=enum_column(ObjectionChannel, nullable=False))
    summary: str = Field(max_length=2000)
    status: ObjectionStatus = Field(
        sa_column=enum_column(ObjectionStatus, nullable=False, index=True)
    )
    resolution: str | None = Field(default=None, max_length=2000)
    lodged_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    lodged_by: str = Field(max_length=64)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: str | None = Field(default=None, max_length=64)
