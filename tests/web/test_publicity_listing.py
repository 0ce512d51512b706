"""The public publicity listing (公示名单): names, work units, series and level of sessions in
publicity — never an identity number or a mobile number, nothing of a withdrawn result or of a
session whose publicity is closed or not opened; rate-limited per client."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.publicity.calendar import WorkingDayCalendar
from certsvc.publicity.models import ObjectionChannel
from certsvc.publicity.service import lodge_objection, open_publicity, resolve_objection
from certsvc.roster.importer import import_roster
from tests.factories import document_checks, person_row, write_csv
from tests.web.conftest import make_app, web_settings

TODAY = date(2025, 11, 3)


def test_listing_shows_who_is_in_publicity_and_nothing_private(
    settings: Settings, db: Database, tmp_path: Path, calendar: WorkingDayCalendar
) -> None:
    rows = [person_row(n, 工作单位=f"北京第{n}研究所") for n in range(3)]
    other = [person_row(10, 评审委员会="北京市经济系列高级评审委员会", 专业="金融")]
    path = write_csv(tmp_path / "r.csv", rows + other)
    report = import_roster(
        db, path, agency_code="BJRS", actor="t", today=TODAY, checks=document_checks()
    )
    assert report.ok, report.errors
    with db.session() as session:
        open_publicity(
            session,
            calendar,
            session_id=1,
            start=date(2025, 10, 13),
            working_days=5,
            backdate_reason="recorded late",
            actor="t",
            today=TODAY,
        )
        lodged = lodge_objection(
            session,
            result_id=3,
            received_on=date(2025, 10, 14),
            channel=ObjectionChannel.LETTER,
            summary="x",
            actor="t",
            today=TODAY,
        )
        assert lodged.id is not None
        resolve_objection(session, objection_id=lodged.id, upheld=True, resolution="y", actor="t")
    client = make_app(web_settings(settings), db).test_client()
    response = client.get("/publicity")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert rows[0]["姓名"] in page and rows[1]["姓名"] in page and "北京第0研究所" in page
    assert "工程技术" in page and "副高级" in page and "高级工程师" in page
    assert rows[2]["姓名"] not in page  # withdrawn by the upheld objection
    assert other[0]["姓名"] not in page  # its session is not in publicity
    for row in rows + other:
        assert row["证件号码"] not in page and row["手机号码"] not in page
    assert "Review results in publicity" in client.get("/publicity?lang=en").get_data(as_text=True)


def test_listing_is_rate_limited(settings: Settings, db: Database) -> None:
    app = make_app(web_settings(settings, web_rate_limit="2 per minute"), db)
    client = app.test_client()
    statuses = [client.get("/publicity").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
