"""The signing job table.

The web process never holds a private key, so an action that signs — running a batch,
approving a revocation or reissue (a new status list, new documents) — is recorded by the
console as a job and carried out by the signer process (``certsvc signer serve``), as the
member of staff who asked. ``subject`` names what the job works on (``batch:4``,
``change:2``) so that one thing has at most one job queued or running.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from certsvc.db.base import SQLModel
from certsvc.db.types import UTCDateTime, enum_column, utcnow


class JobKind(StrEnum):
    BATCH_RUN = "batch-run"  # arguments: {"batch_id": N, "retry_failed": bool}
    CHANGE_APPROVE = "change-approve"  # arguments: {"change_id": N}


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class SigningJob(SQLModel, table=True):
    __tablename__ = "signing_job"
    __table_args__ = (
        sa.Index("ix_signing_job_state", "state", "id"),
        sa.Index("ix_signing_job_subject", "subject", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: JobKind = Field(sa_column=enum_column(JobKind, nullable=False))
    subject: str = Field(max_length=64)
    arguments: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    requested_by: str = Field(max_length=64)
    requested_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    state: JobState = Field(sa_column=enum_column(JobState, nullable=False))
    progress: int = 0  # percent
    claimed_by: str | None = Field(default=None, max_length=64)  # the signer: host and pid
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, max_length=1000)
    result: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
