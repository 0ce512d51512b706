"""Verification counts: buffered per process, added up in the table, no personal data."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from certsvc.db.database import Database
from certsvc.web.counting import VerificationCounter, counts
from certsvc.web.models import VerificationCount


def test_counts_are_buffered_then_added_up(db: Database) -> None:
    day = date(2026, 11, 22)
    counter = VerificationCounter(db, flush_seconds=3600)
    for _ in range(3):
        counter.add("token", "genuine", day=day)
    counter.add("pdf", "forged", day=day)
    assert counts(db) == {}  # not yet: within the flush period
    counter.flush()
    assert counts(db) == {(day, "token", "genuine"): 3, (day, "pdf", "forged"): 1}
    counter.add("token", "genuine", day=day)
    counter.close()  # a process that ends adds what it still holds
    assert counts(db)[(day, "token", "genuine")] == 4


def test_an_unknown_channel_is_a_programming_error(db: Database) -> None:
    with pytest.raises(ValueError, match="channel"):
        VerificationCounter(db, 0).add("ip-address", "genuine")


def test_the_table_has_no_column_for_anything_personal() -> None:
    table = VerificationCount.__table__  # type: ignore[attr-defined]
    assert isinstance(table, sa.Table)
    assert {column.name for column in table.columns} == {
        "id",
        "day",
        "channel",
        "verdict",
        "count",
    }


def test_a_verification_counts_on_the_bureau_s_day(db: Database) -> None:
    """Two zones 26 hours apart are never on the same day: each counter files the same
    moment under its own zone's date, as the dashboard (in the bureau's zone) shows it."""
    days = {}
    for name in ("Pacific/Kiritimati", "Etc/GMT+12"):  # UTC+14 and UTC-12
        zone = ZoneInfo(name)
        before = datetime.now(zone).date()
        counter = VerificationCounter(db, 0, zone)
        counter.add("token", "genuine")
        after = datetime.now(zone).date()
        (day,) = {key[0] for key in counts(db)} - set(days.values())
        assert day in (before, after)
        days[name] = day
    assert days["Pacific/Kiritimati"] > days["Etc/GMT+12"]
