"""The audit event table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from certsvc.db.base import SQLModel
from certsvc.db.types import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """Who did what to which object, and when. Rows are only ever inserted.

    ``action`` is namespaced (``"publicity:open"``); every action certsvc records is listed in
    :class:`certsvc.audit.events.Action`. ``details`` never holds an identity number.
    """

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_subject", "subject_type", "subject_id"),)

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow, index=True)
    actor: str = Field(max_length=64, index=True)
    action: str = Field(max_length=64, index=True)
    subject_type: str = Field(max_length=32)
    subject_id: str = Field(max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
