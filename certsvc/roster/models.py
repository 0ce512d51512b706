"""Review sessions, the people reviewed, their results, and the roster files they came from."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field

from certsvc.db.base import SQLModel
from certsvc.db.types import UTCDateTime, enum_column, utcnow
from certsvc.roster.catalog import Level
from certsvc.roster.identity import Gender, IdType


class RosterImport(SQLModel, table=True):
    """One roster file that was imported (files that changed nothing are not recorded)."""

    __tablename__ = "roster_import"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    file_sha256: str = Field(max_length=64, index=True)
    filename: str = Field(max_length=255)
    file_format: str = Field(max_length=8)
    encoding: str = Field(max_length=16)
    row_count: int
    sessions_created: int
    persons_created: int
    persons_updated: int
    results_created: int
    results_unchanged: int
    imported_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    imported_by: str = Field(max_length=64)


class ReviewSession(SQLModel, table=True):
    """One review (评审): a committee's sitting for one year, series, specialty and level."""

    __tablename__ = "review_session"
    __table_args__ = (
        sa.UniqueConstraint(
            "agency_id",
            "year",
            "committee_name",
            "series",
            "specialty",
            "level",
            name="uq_review_session_identity",
        ),
        sa.CheckConstraint("committee_size > 0", name="committee_size_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    year: int
    committee_name: str = Field(max_length=128)
    series: str = Field(max_length=32)
    specialty: str = Field(max_length=64)
    level: Level = Field(sa_column=enum_column(Level, nullable=False))
    qualification_name: str = Field(max_length=64)
    committee_size: int
    review_date: date
    import_id: int = Field(foreign_key="roster_import.id")
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)


class Person(SQLModel, table=True):
    """Someone reviewed, identified by an identity document (type, issuing country, number).

    The identity number is personal data: it is shown to the holder and printed on their own
    documents, and never on public pages, in the API or in logs.
    """

    __tablename__ = "person"
    __table_args__ = (
        sa.UniqueConstraint("id_type", "id_country", "id_number", name="uq_person_identity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    id_type: IdType = Field(sa_column=enum_column(IdType, nullable=False))
    id_country: str = Field(max_length=3)
    id_number: str = Field(max_length=32, index=True)
    gender: Gender = Field(sa_column=enum_column(Gender, nullable=False))
    birth_date: date
    work_unit: str = Field(max_length=128)
    mobile: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)


class ReviewResult(SQLModel, table=True):
    """A person's result in a session: the vote, and whether the result still stands."""

    __tablename__ = "review_result"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "person_id", name="uq_review_result_session_person"),
        sa.CheckConstraint(
            "votes_for >= 0 AND votes_for <= members_attending", name="votes_within_attending"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="review_session.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    members_attending: int
    votes_for: int
    passed: bool
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_reason: str | None = Field(default=None, max_length=500)
    import_id: int = Field(foreign_key="roster_import.id")
    source_row: int
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
