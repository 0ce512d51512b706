"""The console reckons days and shows times in the bureau's time zone (``CERTSVC_TIMEZONE``,
Asia/Shanghai by default), as its "today" does — not in UTC, in which the database keeps them:
an event at 07:30 in Beijing is on that Beijing day in the audit log's filter and shows 07:30."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient

from certsvc.audit.models import AuditEvent
from certsvc.config import Settings
from certsvc.console.state import local_time
from certsvc.db.database import Database
from tests.console.conftest import Member, make_console, sign_in

# 23:30 UTC on 1 March is 07:30 on 2 March in Beijing (UTC+8)
LATE_IN_UTC = datetime(2026, 3, 1, 23, 30, 5, tzinfo=UTC)


def _event(db: Database) -> None:
    with db.session() as session:
        session.add(
            AuditEvent(
                occurred_at=LATE_IN_UTC,
                actor="staff:early-bird",
                action="objection:lodge",
                subject_type="objection",
                subject_id="1",
            )
        )


def _listed(client: FlaskClient, query: str) -> str:
    """The audit table's rows for the test's actor, filtered by ``query``."""
    page = client.get(f"/audit?actor=staff:early-bird&{query}").get_data(as_text=True)
    return page.split('id="audit"', 1)[1]


def test_audit_days_and_times_are_the_bureaus(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    _event(db)
    client = sign_in(console.test_client(), db, add_staff("una", "auditor"))
    on_the_day = _listed(client, "from=2026-03-02&to=2026-03-02")
    assert "staff:early-bird" in on_the_day
    assert "2026-03-02 07:30:05" in on_the_day
    assert "staff:early-bird" not in _listed(client, "from=2026-03-01&to=2026-03-01")
    assert "staff:early-bird" not in _listed(client, "from=2026-03-03")
    assert "staff:early-bird" in _listed(client, "to=2026-03-02")
    assert "staff:early-bird" not in _listed(client, "to=2026-03-01")


def test_the_time_zone_is_the_setting(
    settings: Settings, db: Database, add_staff: Callable[..., Member]
) -> None:
    utc = make_console(dataclasses.replace(settings, timezone="UTC"), db)
    _event(db)
    client = sign_in(utc.test_client(), db, add_staff("una", "auditor"))
    assert "2026-03-01 23:30:05" in _listed(client, "from=2026-03-01&to=2026-03-01")
    with utc.app_context():
        assert local_time(LATE_IN_UTC) == "2026-03-01 23:30"
        assert local_time(LATE_IN_UTC.replace(tzinfo=None), "%H:%M") == "23:30"  # read as UTC


def test_local_time_in_beijing(console: Flask) -> None:
    with console.app_context():
        assert local_time(LATE_IN_UTC) == "2026-03-02 07:30"
        assert local_time(LATE_IN_UTC, "%Y-%m-%d") == "2026-03-02"
        assert local_time(LATE_IN_UTC.replace(tzinfo=None), "%H:%M") == "07:30"
