"""Read-only views of sessions and results for the command line and, later, the web."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from certsvc.errors import NotFoundError
from certsvc.publicity.models import Objection, ObjectionStatus, PublicityPeriod
from certsvc.roster.models import Person, ReviewResult, ReviewSession


@dataclass(frozen=True)
class SessionSummary:
    id: int
    year: int
    series: str
    specialty: str
    level: str
    qualification_name: str
    committee_name: str
    passed: int
    total: int
    publicity: str


@dataclass(frozen=True)
class ResultLine:
    result_id: int
    name: str
    votes_for: int
    attending: int
    passed: bool
    standing: str  # "failed", "withdrawn", "held", "not in publicity", "in publicity", "cleared"


def list_sessions(session: Session) -> list[SessionSummary]:
    counts = {
        session_id: (int(passed or 0), total)
        for session_id, passed, total in session.exec(
            select(
                col(ReviewResult.session_id),
                func.sum(case((col(ReviewResult.passed), 1), else_=0)),
                func.count(),
            ).group_by(col(ReviewResult.session_id))
        ).all()
    }
    periods = {p.session_id: p for p in session.exec(select(PublicityPeriod)).all()}
    summaries = []
    for review in session.exec(select(ReviewSession).order_by(col(ReviewSession.id))).all():
        assert review.id is not None
        passed, total = counts.get(review.id, (0, 0))
        period = periods.get(review.id)
        publicity = (
            "not opened"
            if period is None
            else f"{period.status.value} {period.start_date}–{period.end_date}"
        )
        summaries.append(
            SessionSummary(
                review.id,
                review.year,
                review.series,
                review.specialty,
                review.level.value,
                review.qualification_name,
                review.committee_name,
                passed,
                total,
                publicity,
            )
        )
    return summaries


def session_results(session: Session, session_id: int) -> list[ResultLine]:
    if session.get(ReviewSession, session_id) is None:
        raise NotFoundError(f"no review session {session_id}; see `certsvc session list`")
    period = session.exec(
        select(PublicityPeriod).where(PublicityPeriod.session_id == session_id)
    ).first()
    held = set(
        session.exec(
            select(Objection.result_id)
            .join(ReviewResult, col(ReviewResult.id) == col(Objection.result_id))
            .where(ReviewResult.session_id == session_id, Objection.status == ObjectionStatus.OPEN)
        ).all()
    )
    lines = []
    for result, name in session.exec(
        select(ReviewResult, Person.name)
        .join(Person, col(Person.id) == col(ReviewResult.person_id))
        .where(ReviewResult.session_id == session_id)
        .order_by(col(ReviewResult.id))
    ).all():
        assert result.id is not None
        if not result.passed:
            standing = "failed"
        elif result.withdrawn_at is not None:
            standing = "withdrawn"
        elif result.id in held:
            standing = "held"
        elif period is None:
            standing = "not in publicity"
        else:
            standing = "cleared" if period.status.value == "closed" else "in publicity"
        lines.append(
            ResultLine(
                result.id, name, result.votes_for, result.members_attending, result.passed, standing
            )
        )
    return lines
