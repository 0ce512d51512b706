"""The audit log: filter by action, actor and date range; export what is shown as CSV.

A cell that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, tab or carriage
return first) is written with a leading apostrophe, so that an exported actor, subject or detail
never runs as one (CSV formula injection).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, render_template, request
from sqlmodel import Session, col, select

from certsvc.audit.events import Action
from certsvc.audit.models import AuditEvent
from certsvc.console.access import allow
from certsvc.console.state import state
from certsvc.console.views.common import read
from certsvc.staff.models import Role

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE = 100
EXPORT_LIMIT = 100_000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
AUDIT_READERS = (Role.AUDITOR, Role.ADMIN)
# the query parameters the links carry over: never the rest, which url_for would take as its
# own keywords (endpoint, _external, _anchor ...)
FILTER_PARAMETERS = ("action", "actor", "from", "to")


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, "").strip())
    except ValueError:
        return None


def _filters() -> dict[str, Any]:
    return {
        "action": request.args.get("action", "").strip()[:64],
        "actor": request.args.get("actor", "").strip()[:64],
        "since": _day("from"),
        "until": _day("to"),
    }


def _query(filters: dict[str, Any]) -> Any:
    """The events the filters let through; the days are the bureau's (its time zone's)."""
    zone = state().zone
    query = select(AuditEvent)
    if filters["action"]:
        query = query.where(AuditEvent.action == filters["action"])
    if filters["actor"]:
        query = query.where(AuditEvent.actor == filters["actor"])
    if filters["since"] is not None:
        start = datetime.combine(filters["since"], time(), tzinfo=zone)
        query = query.where(col(AuditEvent.occurred_at) >= start)
    if filters["until"] is not None:
        end = datetime.combine(filters["until"] + timedelta(days=1), time(), tzinfo=zone)
        query = query.where(col(AuditEvent.occurred_at) < end)
    return query


@bp.get("")
@allow(*AUDIT_READERS)
def index() -> str:
    filters = _filters()
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))

    def load(session: Session) -> dict[str, Any]:
        query = _query(filters)
        total = session.execute(
            sa.select(sa.func.count()).select_from(query.subquery())
        ).scalar_one()
        events = session.exec(
            query.order_by(col(AuditEvent.id).desc()).offset((page - 1) * PAGE).limit(PAGE)
        ).all()
        return {
            "events": list(events),
            "total": int(total),
        }

    data = read(load)
    return render_template(
        "audit.html",
        **data,
        filters=filters,
        page=page,
        pages=max(1, -(-data["total"] // PAGE)),
        actions=[action.value for action in Action],
        args={k: v for k, v in request.args.items() if k in FILTER_PARAMETERS},
    )


@bp.get("/export.csv")
@allow(*AUDIT_READERS)
def export() -> Response:
    filters = _filters()

    def load(session: Session) -> list[AuditEvent]:
        return list(
            session.exec(_query(filters).order_by(col(AuditEvent.id)).limit(EXPORT_LIMIT)).all()
        )

    events = read(load)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["id", "occurred_at", "actor", "action", "subject_type", "subject_id", "details"]
    )
    for event in events:
        writer.writerow(
            [
                safe_cell(value)
                for value in (
                    event.id,
                    event.occurred_at.isoformat(),
                    event.actor,
                    event.action,
                    event.subject_type,
                    event.subject_id,
                    json.dumps(event.details, ensure_ascii=False, sort_keys=True),
                )
            ]
        )
    body = "\ufeff" + buffer.getvalue()  # a BOM, so that Excel reads UTF-8
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="certsvc-audit.csv"'},
    )


def safe_cell(value: object) -> str:
    """``value`` as text that a spreadsheet shows as text, never evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
