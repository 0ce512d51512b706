"""The audit writer: every event with its actor; never an identity number in the details."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from certsvc.audit.events import Action, record, record_many
from certsvc.audit.models import AuditEvent
from certsvc.db.database import Database


def test_one_and_many_events_are_written_with_actor_subject_and_details(db: Database) -> None:
    with db.session() as session:
        record(session, Action.BATCH_RUN, actor="a", subject_type="issuance_batch", subject_id=7)
        record_many(
            session,
            Action.DOCUMENT_ISSUE,
            actor="b",
            subject_type="document",
            events=[("N1", {"log_index": 0}), ("N2", {"log_index": 1})],
        )
    with db.session() as session:
        events = session.exec(
            select(AuditEvent).where(
                col(AuditEvent.action).in_([Action.BATCH_RUN.value, Action.DOCUMENT_ISSUE.value])
            )
        ).all()
    assert [(e.actor, e.action, e.subject_id, e.details) for e in events] == [
        ("a", "batch:run", "7", {}),
        ("b", "document:issue", "N1", {"log_index": 0}),
        ("b", "document:issue", "N2", {"log_index": 1}),
    ]
    assert events[1].occurred_at.tzinfo is not None


@pytest.mark.parametrize(
    "details",
    [{"id_number": "x"}, {"holder": {"identity_number": "x"}}, {"a": {"b": {"证件号码": "x"}}}],
)
def test_identity_numbers_are_refused_and_nothing_is_written(
    db: Database, details: dict[str, object]
) -> None:
    with pytest.raises(ValueError, match="identity number"), db.session() as session:
        record_many(
            session,
            Action.DOCUMENT_ISSUE,
            actor="b",
            subject_type="document",
            events=[("N1", {}), ("N2", details)],
        )
    with pytest.raises(ValueError, match="identity number"), db.session() as session:
        record(
            session, Action.BATCH_RUN, actor="a", subject_type="x", subject_id=1, details=details
        )
    with db.session() as session:
        actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert "document:issue" not in actions and "batch:run" not in actions


def test_an_event_needs_an_actor(db: Database) -> None:
    with pytest.raises(ValueError, match="actor"), db.session() as session:
        record_many(session, Action.DOCUMENT_ISSUE, actor="", subject_type="d", events=[("N", {})])
