"""What the web service keeps: how many verifications ended with which verdict, per day.

Counts only: no address, no document number, no name, no time finer than the day. A process
counts in memory and adds its counts to these rows every few seconds
(:class:`certsvc.web.counting.VerificationCounter`).
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlmodel import Field

from certsvc.db.base import SQLModel


class VerificationCount(SQLModel, table=True):
    """``count`` verifications through ``channel`` (token, pdf, lookup) on ``day`` (UTC) ended
    with ``verdict`` (a :class:`~certsvc.verification.verdict.VerdictKind` value, or
    ``refused`` / ``no-match``)."""

    __tablename__ = "verification_count"
    __table_args__ = (
        sa.UniqueConstraint("day", "channel", "verdict", name="uq_verification_count_day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: date
    channel: str = Field(max_length=16)
    verdict: str = Field(max_length=32)
    count: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
