"""Column types shared by every model."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC (what every timestamp column holds)."""
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An instant stored as naive UTC and always read back as an aware UTC ``datetime``.

    SQLite has no time zones and PostgreSQL's ``timestamptz`` converts on the way out; storing
    naive UTC in a plain ``timestamp`` behaves the same on both.
    """

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column; use an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def enum_column(enum_class: type[enum.Enum], **column_kwargs: Any) -> sa.Column[Any]:
    """A ``VARCHAR`` column holding an enum's *values* (not names), with a CHECK constraint."""
    return sa.Column(
        sa.Enum(
            enum_class,
            native_enum=False,
            create_constraint=True,
            length=32,
            values_callable=lambda members: [member.value for member in members],
            validate_strings=True,
            name=enum_class.__name__.lower(),
        ),
        **column_kwargs,
    )
