"""Batch lifecycle: create from closed sessions, approve by a second person, cancel a draft.

Creating a batch takes every passing result of the named sessions that still stands; results
held by an open objection, withdrawn, or already in another batch are listed in the batch's
``held`` with the reason, never silently dropped. Running is in :mod:`certsvc.issuance.runner`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from certsvc.agencies.models import Agency
from certsvc.agencies.service import get_agency
from certsvc.audit.events import Action, record
from certsvc.db.types import utcnow
from certsvc.errors import InputError, NotFoundError, StateError
from certsvc.issuance.models import BatchItem, BatchStatus, IssuanceBatch, ItemState
from certsvc.publicity.models import (
    Objection,
    ObjectionStatus,
    PublicityPeriod,
    PublicityStatus,
)
from certsvc.roster.models import Person, ReviewResult, ReviewSession

MAX_SESSIONS = 1000


def create_batch(
    session: Session, *, agency_code: str, session_ids: Sequence[int], actor: str
) -> IssuanceBatch:
    """A draft batch of every cleared candidate in ``session_ids``."""
    agency = get_agency(session, agency_code)
    wanted = sorted(set(session_ids))
    if not wanted:
        raise InputError("name at least one review session (see `certsvc session list`)")
    if len(wanted) > MAX_SESSIONS:
        raise InputError(f"at most {MAX_SESSIONS} sessions in one batch, not {len(wanted)}")
    _check_sessions(session, agency, wanted)

    open_objections = set(
        session.exec(
            select(Objection.result_id).where(Objection.status == ObjectionStatus.OPEN)
        ).all()
    )
    in_batches = dict(
        session.exec(
            select(BatchItem.result_id, BatchItem.batch_id)
            .join(ReviewResult, col(ReviewResult.id) == col(BatchItem.result_id))
            .where(col(ReviewResult.session_id).in_(wanted))
        ).all()
    )
    rows = session.exec(
        select(ReviewResult, Person.name)
        .join(Person, col(Person.id) == col(ReviewResult.person_id))
        .where(col(ReviewResult.session_id).in_(wanted), col(ReviewResult.passed).is_(True))
        .order_by(col(ReviewResult.session_id), col(ReviewResult.id))
    ).all()
    held: list[dict[str, Any]] = []
    cleared: list[ReviewResult] = []
    for result, name in rows:
        assert result.id is not None
        reason = None
        if result.withdrawn_at is not None:
            reason = f"withdrawn: {result.withdrawn_reason or 'no reason recorded'}"
        elif result.id in open_objections:
            reason = "held by an open objection"
        elif result.id in in_batches:
            reason = f"already in batch {in_batches[result.id]}"
        if reason is None:
            cleared.append(result)
        else:
            held.append({"result_id": result.id, "name": name, "reason": reason})
    if not cleared:
        raise StateError(
            f"sessions {', '.join(map(str, wanted))} have no cleared result to issue"
            + (f" ({len(held)} held or already issued)" if held else "")
        )
    batch = IssuanceBatch(
        agency_id=agency.id or 0,
        status=BatchStatus.DRAFT,
        session_ids=wanted,
        candidates=len(cleared),
        held=held,
        created_by=actor,
    )
    session.add(batch)
    session.flush()
    assert batch.id is not None
    session.execute(
        sa.insert(BatchItem),
        [
            {
                "batch_id": batch.id,
                "result_id": result.id,
                "person_id": result.person_id,
                "state": ItemState.PENDING,
            }
            for result in cleared
        ],
    )
    record(
        session,
        Action.BATCH_CREATE,
        actor=actor,
        subject_type="issuance_batch",
        subject_id=batch.id,
        details={
            "session_ids": wanted,
            "candidates": len(cleared),
            "held_result_ids": [h["result_id"] for h in held],
        },
    )
    return batch


def _check_sessions(session: Session, agency: Agency, wanted: list[int]) -> None:
    reviews = {
        review.id: review
        for review in session.exec(
            select(ReviewSession).where(col(ReviewSession.id).in_(wanted))
        ).all()
    }
    periods = {
        period.session_id: period
        for period in session.exec(
            select(PublicityPeriod).where(col(PublicityPeriod.session_id).in_(wanted))
        ).all()
    }
    problems = []
    for session_id in wanted:
        review = reviews.get(session_id)
        period = periods.get(session_id)
        if review is None:
            problems.append(f"session {session_id} does not exist")
        elif review.agency_id != agency.id:
            problems.append(f"session {session_id} belongs to another agency")
        elif period is None:
            problems.append(f"session {session_id} has not been publicised")
        elif period.status is not PublicityStatus.CLOSED:
            problems.append(
                f"session {session_id}'s publicity is still open (until {period.end_date})"
            )
    if problems:
        raise StateError("cannot create the batch: " + "; ".join(problems))


def approve_batch(session: Session, batch_id: int, *, actor: str) -> IssuanceBatch:
    """Approval by a second member of staff: never the batch's creator."""
    batch = get_batch(session, batch_id, for_update=True)
    if batch.status is not BatchStatus.DRAFT:
        raise StateError(f"batch {batch_id} is {batch.status.value}; only a draft can be approved")
    if actor == batch.created_by:
        raise StateError(
            f"batch {batch_id} was created by {actor}; another member of staff must approve it"
        )
    batch.status = BatchStatus.APPROVED
    batch.approved_by = actor
    batch.approved_at = utcnow()
    session.add(batch)
    record(
        session,
        Action.BATCH_APPROVE,
        actor=actor,
        subject_type="issuance_batch",
        subject_id=batch_id,
        details={"candidates": batch.candidates, "created_by": batch.created_by},
    )
    return batch


def cancel_batch(session: Session, batch_id: int, *, actor: str, reason: str) -> IssuanceBatch:
    """Withdraw a draft; its candidates may go into another batch."""
    batch = get_batch(session, batch_id, for_update=True)
    if batch.status is not BatchStatus.DRAFT:
        raise StateError(f"batch {batch_id} is {batch.status.value}; only a draft can be cancelled")
    if not reason.strip():
        raise InputError("say why the batch is cancelled (--reason)")
    session.execute(sa.delete(BatchItem).where(col(BatchItem.batch_id) == batch_id))
    batch.status = BatchStatus.CANCELLED
    session.add(batch)
    record(
        session,
        Action.BATCH_CANCEL,
        actor=actor,
        subject_type="issuance_batch",
        subject_id=batch_id,
        details={"reason": reason.strip()[:500]},
    )
    return batch


def get_batch(session: Session, batch_id: int, *, for_update: bool = False) -> IssuanceBatch:
    query = select(IssuanceBatch).where(IssuanceBatch.id == batch_id)
    if for_update:
        query = query.with_for_update()
    batch = session.exec(query).first()
    if batch is None:
        raise NotFoundError(f"no issuance batch {batch_id}; see `certsvc batch status`")
    return batch


def list_batches(session: Session) -> list[IssuanceBatch]:
    return list(session.exec(select(IssuanceBatch).order_by(col(IssuanceBatch.id))).all())


def item_counts(session: Session, batch_id: int) -> dict[ItemState, int]:
    counts = dict.fromkeys(ItemState, 0)
    for state, count in session.exec(
        select(BatchItem.state, func.count())
        .where(BatchItem.batch_id == batch_id)
        .group_by(col(BatchItem.state))
    ).all():
        counts[ItemState(state)] = count
    return counts
