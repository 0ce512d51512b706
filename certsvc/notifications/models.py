"""The outbox: every message to a holder, written in the transaction that causes it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field

from certsvc.db.base import SQLModel
from certsvc.db.types import UTCDateTime, enum_column, utcnow


class NotificationStatus(StrEnum):
    PENDING = "pending"  # written, not yet handed to a sender
    SENDING = "sending"  # handed over; if the process died here, re-sent with the same key
    SENT = "sent"
    FAILED = "failed"  # gave up after the maximum attempts; the error says why


class Notification(SQLModel, table=True):
    """One message. ``dedupe_key`` makes it unique per cause (a batch and a holder): a re-run
    that would write the same message again finds it there and writes nothing."""

    __tablename__ = "notification"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=100, unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    kind: str = Field(max_length=32)
    recipient: str = Field(max_length=20)  # the mobile number on record
    body: str = Field(max_length=500)
    status: NotificationStatus = Field(
        sa_column=enum_column(NotificationStatus, nullable=False, index=True)
    )
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
