"""Console pages: roster import with its report (nothing stored on error), publicity and
objections, staff accounts, the audit log's filters and CSV export (no formula survives), and
the dashboard's server-drawn charts — every change audited with who and when."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from sqlmodel import col, func, select

from certsvc.audit.events import Action, record
from certsvc.audit.models import AuditEvent
from certsvc.console.charts import StackedBars
from certsvc.console.state import EXTENSION
from certsvc.console.views.audit import safe_cell
from certsvc.db.database import Database
from certsvc.publicity.models import PublicityPeriod
from certsvc.roster.models import ReviewResult, ReviewSession
from certsvc.web.counting import VerificationCounter
from tests.console.conftest import Member, csrf_token, make_console, post_form, sign_in
from tests.factories import person_row, write_csv, write_xlsx
from tests.issuance.conftest import World


def events(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(
            session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
            ).all()
        )


def count(db: Database, model: type) -> int:
    with db.session() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def upload(client: object, path: Path) -> object:
    token = csrf_token(client, "/roster")  # type: ignore[arg-type]
    with path.open("rb") as handle:
        return client.post(  # type: ignore[attr-defined]
            "/roster",
            data={"file": (handle, path.name), "csrf_token": token},
            content_type="multipart/form-data",
        )


def test_roster_import_shows_every_bad_row_and_stores_nothing(
    console: Flask, db: Database, add_staff: Callable[..., Member], tmp_path: Path
) -> None:
    client = sign_in(console.test_client(), db, add_staff("olga", "operator"))
    rows = [person_row(n) for n in range(3)]
    rows[1]["出生日期"] = "1999-02-30"
    rows[2]["同意票数"] = "99"
    bad = write_csv(tmp_path / "bad.csv", rows)
    response = upload(client, bad)
    assert response.status_code == 422  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    table = page.split('id="import-errors"', 1)[1]
    assert re.search(r"<td>3</td><td>出生日期", table) and re.search(
        r"<td>4</td><td>同意票数", table
    )
    assert count(db, ReviewResult) == 0 and count(db, ReviewSession) == 0
    assert events(db, "roster:import") == []

    good = write_csv(tmp_path / "good.csv", [person_row(n) for n in range(3)])
    response = upload(client, good)
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert 'data-ok="yes"' in response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert count(db, ReviewResult) == 3
    (imported,) = events(db, "roster:import")
    assert (
        imported.actor == "staff:olga" and imported.occurred_at.date() == datetime.now(UTC).date()
    )
    not_a_roster = tmp_path / "notes.pdf"
    not_a_roster.write_bytes(b"%PDF-1.7")
    assert upload(client, not_a_roster).status_code == 400  # type: ignore[attr-defined]


def test_publicity_and_objections_from_the_console_are_audited(
    console: Flask, db: Database, add_staff: Callable[..., Member], tmp_path: Path
) -> None:
    client = sign_in(console.test_client(), db, add_staff("olga", "operator"))
    upload(client, write_csv(tmp_path / "r.csv", [person_row(n) for n in range(3)]))
    page = "/sessions/1"
    # back-dated without a reason: refused with the service's message, nothing written
    post_form(client, f"{page}/publicity/open", {"start": "2025-10-13", "days": "5"}, page)
    assert count(db, PublicityPeriod) == 0
    assert "needs a reason" in client.get(page).get_data(as_text=True)
    opened = post_form(
        client,
        f"{page}/publicity/open",
        {"start": "2025-10-13", "days": "5", "backdate_reason": "recorded late"},
        page,
    )
    assert opened.status_code == 302
    post_form(
        client,
        "/objections",
        {"result_id": "1", "received": "2025-10-14", "channel": "phone", "summary": "举报"},
        page,
    )
    post_form(
        client,
        "/objections/1/resolve",
        {"outcome": "dismissed", "note": "经核查不属实", "session_id": "1"},
        page,
    )
    post_form(client, f"{page}/publicity/close", {}, page)
    for action in ("publicity:open", "objection:lodge", "objection:resolve", "publicity:close"):
        (event,) = events(db, action)
        assert event.actor == "staff:olga", action
    assert 'data-status="closed"' in client.get(page).get_data(as_text=True)
    listing = client.get("/objections").get_data(as_text=True)
    assert "经核查不属实" in listing and 'data-status="dismissed"' in listing


def test_staff_accounts_from_the_users_page(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    admin = sign_in(console.test_client(), db, add_staff("ada", "admin"))
    created = post_form(
        admin,
        "/users",
        {"username": "olga", "password": "a long enough password", "roles": ["operator"]},
        "/users",
    )
    assert created.status_code == 201
    page = created.get_data(as_text=True)
    assert "otpauth://totp/" in page and "<svg" in page  # the secret, as text and QR, once
    assert "otpauth://" not in admin.get("/users").get_data(as_text=True)
    post_form(admin, "/users/olga/roles", {"roles": ["operator", "approver"]}, "/users")
    short = post_form(
        admin, "/users", {"username": "bob", "password": "short", "roles": ["auditor"]}, "/users"
    )
    assert short.status_code == 302
    assert "at least 12 characters" in admin.get("/users").get_data(as_text=True)
    made = events(db, "staff:create")[-1]  # the first made ada herself
    assert made.subject_id == "olga" and made.actor == "staff:ada"
    assert made.details == {"roles": ["operator"]}
    (changed,) = events(db, "staff:role-change")
    assert changed.details == {"before": ["operator"], "after": ["approver", "operator"]}
    # the admin cannot lock themselves out
    post_form(admin, "/users/ada/roles", {"roles": ["auditor"]}, "/users")
    assert len(events(db, "staff:role-change")) == 1


def test_audit_log_filters_and_exports_without_formulas(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    client = sign_in(console.test_client(), db, add_staff("una", "auditor"))
    with db.session() as session:
        record(
            session,
            Action.OBJECTION_LODGE,
            actor='=HYPERLINK("http://evil")',
            subject_type="objection",
            subject_id="@SUM(A1:A9)",
            details={"summary": "+cmd|' /C calc'!A0"},
        )
    page = client.get("/audit?action=objection:lodge").get_data(as_text=True)
    assert "objection:lodge" in page and "staff:sign-in" not in page.split('id="audit"')[1]
    assert "staff:una" in client.get("/audit?actor=staff:una").get_data(as_text=True)
    today = console.extensions[EXTENSION].today().isoformat()  # the bureau's day
    assert "1 " in client.get(f"/audit?action=objection:lodge&from={today}&to={today}").get_data(
        as_text=True
    )
    assert "共 0 条" in client.get("/audit?action=objection:lodge&to=2000-01-01").get_data(
        as_text=True
    )
    exported = client.get("/audit/export.csv?action=objection:lodge")
    assert exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["id", "occurred_at", "actor", "action"]
    (row,) = rows[1:]
    assert row[2] == '\'=HYPERLINK("http://evil")' and row[5] == "'@SUM(A1:A9)"
    for cell in row:
        assert not cell.startswith(("=", "+", "-", "@")), cell
    assert safe_cell("-1+2") == "'-1+2" and safe_cell("\tx") == "'\tx" and safe_cell("ok") == "ok"


def test_dashboard_draws_its_charts_as_inline_svg(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    counter = VerificationCounter(db, 0)
    counter.add("token", "genuine")
    counter.add("token", "genuine")
    counter.add("pdf", "forged")
    counter.close()
    client = sign_in(console.test_client(), db, add_staff("una", "auditor"))
    response = client.get("/dashboard")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and page.count("<svg") == 3
    verified = page.split('id="chart-verified"', 1)[1]
    assert "genuine: 2</title>" in verified and "forged: 1</title>" in verified
    assert "<script" not in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    english = client.get("/dashboard?lang=en").get_data(as_text=True)
    assert "Verifications per day by verdict" in english and "Sign out" in english
    assert "概览" in client.get("/dashboard?lang=zh").get_data(as_text=True)


def test_an_xlsx_roster_imports_and_a_strange_file_name_is_refused(
    console: Flask, db: Database, add_staff: Callable[..., Member], tmp_path: Path
) -> None:
    client = sign_in(console.test_client(), db, add_staff("olga", "operator"))
    book = write_xlsx(tmp_path / "名单.xlsx", [person_row(n) for n in range(2)], title="公示名单")
    response = upload(client, book)
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert count(db, ReviewResult) == 2
    assert "名单.xlsx" in client.get("/roster").get_data(as_text=True)
    token = csrf_token(client, "/roster")
    odd = client.post(
        "/roster",
        data={"file": (io.BytesIO(b"x"), "a\nb.csv"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert odd.status_code == 400 and count(db, ReviewResult) == 2


def test_a_draft_batch_is_cancelled_with_a_reason(
    world: World, add_staff: Callable[..., Member]
) -> None:
    app = make_console(world.settings, world.db)
    olga = sign_in(app.test_client(), world.db, add_staff("olga", "operator"))
    data = {"session_ids": [str(i) for i in world.session_ids]}
    created = post_form(olga, "/batches", data, "/batches")
    page = created.location
    post_form(olga, f"{page}/cancel", {"reason": ""}, page)
    status = re.compile(r'id="batch-status"[^>]*>([^<]+)<')
    assert status.findall(olga.get(page).get_data(as_text=True)) == ["待审批"]
    post_form(olga, f"{page}/cancel", {"reason": "wrong sessions"}, page)
    assert status.findall(olga.get(page).get_data(as_text=True)) == ["已取消"]
    (event,) = events(world.db, "batch:cancel")
    assert event.actor == "staff:olga" and event.details == {"reason": "wrong sessions"}
    # a cancelled batch cannot be run
    post_form(olga, f"{page}/run", {}, page)
    assert events(world.db, "job:request") == []


def test_chart_axis_values_are_written_exactly() -> None:
    """A value axis of 0..1 is drawn in quarters: 0.25 and 0.75, not 0.2 and 0.8."""
    chart = StackedBars("verifications", ["11-07"], {"genuine": [1]})
    labels = re.findall(r">([0-9.]+)</text>", str(chart.svg()))
    assert labels[:5] == ["0", "0.25", "0.5", "0.75", "1"]
