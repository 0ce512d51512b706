"""Roster import (CSV or XLSX, with the importer's report row by row), sessions and results."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, render_template, request
from sqlmodel import Session, col, select

from certsvc.console.access import READERS, actor, allow
from certsvc.console.state import state
from certsvc.console.views.common import read
from certsvc.errors import CertsvcError, NotFoundError
from certsvc.publicity.models import Objection, ObjectionChannel
from certsvc.publicity.service import find_period, publicity_standing
from certsvc.roster.importer import ImportReport, import_roster
from certsvc.roster.models import ReviewSession, RosterImport
from certsvc.roster.queries import list_sessions, session_results
from certsvc.staff.models import Role

bp = Blueprint("roster", __name__)
SUFFIXES = (".csv", ".xlsx", ".txt")


@bp.get("/roster")
@allow(*READERS)
def index() -> str:
    imports = read(_recent_imports)
    return render_template("roster.html", imports=imports, report=None, problem=None)


@bp.post("/roster")
@allow(Role.OPERATOR)
def upload() -> tuple[str, int]:
    web = state()
    upload = request.files.get("file")
    name = Path(upload.filename or "").name if upload is not None else ""
    problem = None
    report: ImportReport | None = None
    if upload is None or not name:
        problem = "console.roster.missing"
    elif not name.lower().endswith(SUFFIXES) or not name.isprintable() or len(name) > 200:
        problem = "console.roster.kind"
    if problem is not None:
        imports = read(_recent_imports)
        return render_template("roster.html", imports=imports, report=None, problem=problem), 400
    assert upload is not None
    status = 200
    error: str | None = None
    with tempfile.TemporaryDirectory(prefix="certsvc-roster-") as folder:
        path = Path(folder) / name
        upload.save(path)
        try:
            report = import_roster(
                web.db,
                path,
                agency_code=web.settings.agency_code,
                actor=actor(),
                today=web.today(),
                checks=web.document_checks,
            )
        except CertsvcError as exc:  # the file as a whole cannot be read
            error = str(exc).replace(str(path), name)  # named as uploaded, not where it was put
            status = 400
    if report is not None and not report.ok:
        status = 422
    imports = read(_recent_imports)
    return render_template(
        "roster.html", imports=imports, report=report, problem=None, error=error
    ), status


def _recent_imports(session: Session) -> list[RosterImport]:
    return list(
        session.exec(select(RosterImport).order_by(col(RosterImport.id).desc()).limit(20)).all()
    )


@bp.get("/sessions")
@allow(*READERS)
def sessions() -> str:
    rows = read(list_sessions)
    return render_template("sessions.html", sessions=rows)


@bp.get("/sessions/<int:session_id>")
@allow(*READERS)
def session_page(session_id: int) -> str:
    def load(session: Session) -> dict[str, object]:
        review = session.get(ReviewSession, session_id)
        if review is None:
            raise NotFoundError(f"no session {session_id}")
        period = find_period(session, session_id)
        standing = publicity_standing(session, period) if period is not None else None
        objections = list(
            session.exec(
                select(Objection)
                .where(Objection.period_id == (period.id if period else -1))
                .order_by(col(Objection.id))
            ).all()
        )
        return {
            "review": review,
            "results": session_results(session, session_id),
            "period": period,
            "standing": standing,
            "objections": objections,
        }

    data = read(load)
    web = state()
    return render_template(
        "session.html",
        **data,
        today=web.today(),
        default_days=web.settings.publicity_working_days,
        channels=list(ObjectionChannel),
    )
