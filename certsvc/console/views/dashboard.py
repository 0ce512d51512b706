"""The dashboard: documents issued by series and month, batches and how long they took,
verifications per day by verdict (the counts the public app keeps)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, g, render_template
from sqlmodel import Session, col, func, select

from certsvc.console.access import READERS, allow
from certsvc.console.charts import StackedBars
from certsvc.console.views.common import read
from certsvc.issuance.models import BatchStatus, Document, DocumentStatus, IssuanceBatch
from certsvc.roster.models import ReviewResult, ReviewSession
from certsvc.web import i18n
from certsvc.web.models import VerificationCount

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
MONTHS = 12
BATCHES = 20
DAYS = 30
ISSUED = (DocumentStatus.ISSUED, DocumentStatus.REVOKED, DocumentStatus.SUPERSEDED)


def issued_by_series_and_month(session: Session) -> tuple[list[str], dict[str, list[float]]]:
    rows = session.exec(
        select(col(Document.issued_on), col(ReviewSession.series), func.count())
        .join(ReviewResult, col(ReviewResult.id) == col(Document.result_id))
        .join(ReviewSession, col(ReviewSession.id) == col(ReviewResult.session_id))
        .where(col(Document.status).in_(ISSUED))
        .group_by(col(Document.issued_on), col(ReviewSession.series))
    ).all()
    by_month: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for issued_on, series, count in rows:
        by_month[f"{issued_on:%Y-%m}"][series] += count
    months = sorted(by_month)[-MONTHS:]
    names = sorted({series for month in months for series in by_month[month]})
    return months, {name: [float(by_month[m].get(name, 0)) for m in months] for name in names}


def batch_durations(session: Session) -> list[dict[str, Any]]:
    batches = session.exec(
        select(IssuanceBatch)
        .where(IssuanceBatch.status == BatchStatus.COMPLETED)
        .order_by(col(IssuanceBatch.id).desc())
        .limit(BATCHES)
    ).all()
    out = []
    for batch in reversed(batches):
        last = (batch.report or {}).get("last_run") or {}
        seconds = last.get("seconds")
        if seconds is None and batch.first_started_at and batch.completed_at:
            seconds = (batch.completed_at - batch.first_started_at).total_seconds()
        out.append({"id": batch.id, "candidates": batch.candidates, "seconds": seconds or 0.0})
    return out


def verifications(session: Session, today: date) -> tuple[list[str], dict[str, list[float]]]:
    since = today - timedelta(days=DAYS - 1)
    rows = session.exec(
        select(
            col(VerificationCount.day),
            col(VerificationCount.verdict),
            func.sum(col(VerificationCount.count)),
        )
        .where(col(VerificationCount.day) >= since)
        .group_by(col(VerificationCount.day), col(VerificationCount.verdict))
    ).all()
    days = [since + timedelta(days=i) for i in range(DAYS)]
    verdicts = sorted({verdict for _, verdict, _ in rows})
    counts = {(day, verdict): float(total or 0) for day, verdict, total in rows}
    return [f"{day:%m-%d}" for day in days], {
        verdict: [counts.get((day, verdict), 0.0) for day in days] for verdict in verdicts
    }


@bp.get("")
@allow(*READERS)
def index() -> str:
    today = datetime.now(UTC).date()

    def load(session: Session) -> dict[str, Any]:
        return {
            "issued": issued_by_series_and_month(session),
            "batches": batch_durations(session),
            "verified": verifications(session, today),
        }

    data = read(load)
    lang = g.get("lang", i18n.DEFAULT_LANGUAGE)
    months, by_series = data["issued"]
    days, by_verdict = data["verified"]
    batches = data["batches"]
    charts = {
        "issued": StackedBars(i18n.translate(lang, "console.dash.issued"), months, by_series),
        "batches": StackedBars(
            i18n.translate(lang, "console.dash.batches"),
            [f"#{b['id']}" for b in batches],
            {i18n.translate(lang, "console.dash.seconds"): [b["seconds"] for b in batches]},
            unit=" s",
        ),
        "verified": StackedBars(i18n.translate(lang, "console.dash.verified"), days, by_verdict),
    }
    totals = {
        "documents": sum(sum(values) for values in by_series.values()),
        "batches": len(batches),
        "verifications": sum(sum(values) for values in by_verdict.values()),
    }
    return render_template(
        "dashboard.html",
        charts={name: chart.svg() for name, chart in charts.items()},
        batches=batches,
        totals=totals,
    )
