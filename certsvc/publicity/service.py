"""Publicity (公示) and objections (异议): open, lodge, resolve, close.

A session's passing results are shown publicly from a start date for N working days. While it
runs, objections may be lodged against a result; an open objection holds that result back from
issuance, an upheld one withdraws it, a dismissed one releases the hold. Publicity can be closed
only after its last day; closing lists what is still held and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, col, func, select

from certsvc.audit.events import Action, record
from certsvc.db.types import utcnow
from certsvc.errors import FieldError, NotFoundError, StateError
from certsvc.publicity.calendar import WorkingDayCalendar
from certsvc.publicity.models import (
    Objection,
    ObjectionChannel,
    ObjectionStatus,
    PublicityPeriod,
    PublicityStatus,
)
from certsvc.roster.models import Person, ReviewResult, ReviewSession

MAX_TEXT = 2000
# Results are publicised for at least five working days (the 2024 guide in the seeds; 人社部令
# 第40号): a bureau may choose longer, never shorter.
MIN_WORKING_DAYS = 5


@dataclass(frozen=True)
class HeldResult:
    result_id: int
    person_name: str
    objection_ids: list[int]


@dataclass(frozen=True)
class WithdrawnResult:
    result_id: int
    person_name: str
    reason: str


@dataclass
class PublicityStanding:
    """Where a session's passing results stand: cleared, held by objections, or withdrawn."""

    period: PublicityPeriod
    passed: int = 0
    cleared: int = 0
    held: list[HeldResult] = field(default_factory=list)
    withdrawn: list[WithdrawnResult] = field(default_factory=list)
    objections_open: int = 0
    objections_resolved: int = 0


def open_publicity(
    session: Session,
    calendar: WorkingDayCalendar,
    *,
    session_id: int,
    start: date,
    working_days: int,
    actor: str,
    today: date,
    backdate_reason: str | None = None,
) -> PublicityPeriod:
    """Open publicity from ``start`` (today, or an earlier day with ``backdate_reason`` saying
    why it is recorded late; the reason goes to the audit log)."""
    review = _review_session(session, session_id)
    existing = find_period(session, session_id)
    if existing is not None:
        raise StateError(
            f"publicity for session {session_id} was already opened on "
            f"{existing.start_date.isoformat()} (runs until {existing.end_date.isoformat()}, "
            f"{existing.status.value})"
        )
    if working_days < MIN_WORKING_DAYS:
        raise FieldError(
            f"publicity lasts at least {MIN_WORKING_DAYS} working days, not {working_days}"
        )
    if start > today:
        raise StateError(f"publicity cannot start in the future ({start.isoformat()})")
    reason = (backdate_reason or "").strip()
    if start < today and not reason:
        raise StateError(
            f"publicity starting before today ({start.isoformat()}) needs a reason for "
            "recording it late (--backdate-reason); it is kept in the audit log"
        )
    if start < review.review_date:
        raise StateError(
            f"publicity cannot start ({start.isoformat()}) before the review "
            f"({review.review_date.isoformat()})"
        )
    passing = session.exec(
        select(func.count())
        .select_from(ReviewResult)
        .where(ReviewResult.session_id == session_id, col(ReviewResult.passed).is_(True))
    ).one()
    if passing == 0:
        raise StateError(f"session {session_id} has no passing results to publish")
    end = calendar.working_day_end(start, working_days)
    sources = sorted(
        {calendar.schedule_for(year).source for year in range(start.year, end.year + 1)}
    )
    period = PublicityPeriod(
        session_id=session_id,
        start_date=start,
        working_days=working_days,
        end_date=end,
        calendar_source="; ".join(sources)[:255],
        status=PublicityStatus.OPEN,
        opened_by=actor,
    )
    session.add(period)
    session.flush()
    record(
        session,
        Action.PUBLICITY_OPEN,
        actor=actor,
        subject_type="publicity_period",
        subject_id=period.id,
        details={
            "session_id": session_id,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "working_days": working_days,
            "passing_results": passing,
            "calendar": period.calendar_source,
            "backdate_reason": reason or None,
        },
    )
    return period


def close_publicity(
    session: Session, *, session_id: int, actor: str, today: date
) -> PublicityStanding:
    period = _require_period(session, session_id)
    if period.status is PublicityStatus.CLOSED:
        raise StateError(
            f"publicity for session {session_id} was already closed on "
            f"{period.closed_at:%Y-%m-%d} by {period.closed_by}"
        )
    if today <= period.end_date:
        raise StateError(
            f"publicity for session {session_id} runs until {period.end_date.isoformat()} "
            f"({period.working_days} working days from {period.start_date.isoformat()}); "
            "it can be closed from the next day"
        )
    standing = publicity_standing(session, period)
    period.status = PublicityStatus.CLOSED
    period.closed_at = utcnow()
    period.closed_by = actor
    session.add(period)
    record(
        session,
        Action.PUBLICITY_CLOSE,
        actor=actor,
        subject_type="publicity_period",
        subject_id=period.id,
        details={
            "session_id": session_id,
            "cleared": standing.cleared,
            "held_result_ids": [held.result_id for held in standing.held],
            "withdrawn_result_ids": [w.result_id for w in standing.withdrawn],
        },
    )
    return standing


def lodge_objection(
    session: Session,
    *,
    result_id: int,
    received_on: date,
    channel: ObjectionChannel,
    summary: str,
    actor: str,
    today: date,
) -> Objection:
    result = session.get(ReviewResult, result_id)
    if result is None:
        raise NotFoundError(f"no review result {result_id}")
    period = find_period(session, result.session_id)
    if period is None or period.status is not PublicityStatus.OPEN:
        state = "has not been opened" if period is None else "is closed"
        raise StateError(
            f"publicity for session {result.session_id} {state}; objections are lodged during "
            "publicity (later complaints go through re-check and revocation)"
        )
    if not result.passed:
        raise StateError(f"result {result_id} did not pass and is not in the publicity listing")
    if result.withdrawn_at is not None:
        raise StateError(f"result {result_id} has already been withdrawn")
    if received_on > today:
        raise FieldError(f"received date {received_on.isoformat()} is in the future")
    if not period.start_date <= received_on <= period.end_date:
        raise StateError(
            f"objection received {received_on.isoformat()} is outside the publicity period "
            f"{period.start_date.isoformat()} – {period.end_date.isoformat()}"
        )
    summary = _text("summary", summary)
    assert period.id is not None
    objection = Objection(
        result_id=result_id,
        period_id=period.id,
        received_on=received_on,
        channel=channel,
        summary=summary,
        status=ObjectionStatus.OPEN,
        lodged_by=actor,
    )
    session.add(objection)
    session.flush()
    record(
        session,
        Action.OBJECTION_LODGE,
        actor=actor,
        subject_type="objection",
        subject_id=objection.id,
        details={
            "result_id": result_id,
            "received_on": received_on.isoformat(),
            "channel": channel.value,
        },
    )
    return objection


def resolve_objection(
    session: Session,
    *,
    objection_id: int,
    upheld: bool,
    resolution: str,
    actor: str,
) -> Objection:
    objection = session.get(Objection, objection_id)
    if objection is None:
        raise NotFoundError(f"no objection {objection_id}")
    if objection.status is not ObjectionStatus.OPEN:
        raise StateError(
            f"objection {objection_id} was already {objection.status.value} by "
            f"{objection.resolved_by}"
        )
    resolution = _text("resolution", resolution)
    now = utcnow()
    objection.status = ObjectionStatus.UPHELD if upheld else ObjectionStatus.DISMISSED
    objection.resolution = resolution
    objection.resolved_at = now
    objection.resolved_by = actor
    session.add(objection)
    record(
        session,
        Action.OBJECTION_RESOLVE,
        actor=actor,
        subject_type="objection",
        subject_id=objection_id,
        details={"result_id": objection.result_id, "outcome": objection.status.value},
    )
    if upheld:
        result = session.get(ReviewResult, objection.result_id)
        assert result is not None
        if result.withdrawn_at is None:
            result.withdrawn_at = now
            result.withdrawn_reason = f"objection {objection_id} upheld: {resolution}"[:500]
            session.add(result)
            record(
                session,
                Action.RESULT_WITHDRAW,
                actor=actor,
                subject_type="review_result",
                subject_id=result.id,
                details={"objection_id": objection_id},
            )
    return objection


def publicity_standing(session: Session, period: PublicityPeriod) -> PublicityStanding:
    standing = PublicityStanding(period)
    rows = session.exec(
        select(ReviewResult, Person.name)
        .join(Person, col(Person.id) == col(ReviewResult.person_id))
        .where(ReviewResult.session_id == period.session_id, col(ReviewResult.passed).is_(True))
        .order_by(col(ReviewResult.id))
    ).all()
    open_by_result: dict[int, list[int]] = {}
    for objection in session.exec(select(Objection).where(Objection.period_id == period.id)):
        if objection.status is ObjectionStatus.OPEN:
            open_by_result.setdefault(objection.result_id, []).append(objection.id or 0)
            standing.objections_open += 1
        else:
            standing.objections_resolved += 1
    for result, name in rows:
        assert result.id is not None
        standing.passed += 1
        if result.withdrawn_at is not None:
            standing.withdrawn.append(
                WithdrawnResult(result.id, name, result.withdrawn_reason or "")
            )
        elif result.id in open_by_result:
            standing.held.append(HeldResult(result.id, name, sorted(open_by_result[result.id])))
        else:
            standing.cleared += 1
    return standing


def get_period(session: Session, session_id: int) -> PublicityPeriod:
    return _require_period(session, session_id)


def _review_session(session: Session, session_id: int) -> ReviewSession:
    review = session.get(ReviewSession, session_id)
    if review is None:
        raise NotFoundError(f"no review session {session_id}; see `certsvc session list`")
    return review


def find_period(session: Session, session_id: int) -> PublicityPeriod | None:
    return session.exec(
        select(PublicityPeriod).where(PublicityPeriod.session_id == session_id)
    ).first()


def _require_period(session: Session, session_id: int) -> PublicityPeriod:
    _review_session(session, session_id)
    period = find_period(session, session_id)
    if period is None:
        raise StateError(f"publicity for session {session_id} has not been opened")
    return period


def _text(what: str, text: str) -> str:
    value = text.strip()
    if not value:
        raise FieldError(f"the {what} is empty")
    if len(value) > MAX_TEXT:
        raise FieldError(f"the {what} is {len(value)} characters; at most {MAX_TEXT}")
    return value


def list_objections(session: Session, *, session_id: int | None = None) -> list[Objection]:
    query = select(Objection).order_by(col(Objection.id).desc())
    if session_id is not None:
        query = query.join(ReviewResult, col(ReviewResult.id) == col(Objection.result_id)).where(
            ReviewResult.session_id == session_id
        )
    return list(session.exec(query).all())
