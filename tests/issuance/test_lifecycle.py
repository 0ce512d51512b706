"""The life of a batch: create, approve, cancel, run; what is refused, skipped or failed."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, func, select

from certsvc.agencies.models import Agency
from certsvc.audit.models import AuditEvent
from certsvc.db.types import utcnow
from certsvc.errors import InputError, NotFoundError, StateError
from certsvc.issuance.batches import approve_batch, cancel_batch, create_batch, get_batch
from certsvc.issuance.checks import check_batch, check_store
from certsvc.issuance.lock import batch_run_lock
from certsvc.issuance.models import (
    BatchItem,
    BatchStatus,
    Document,
    DocumentStatus,
    IssuanceBatch,
    ItemState,
)
from certsvc.issuance.numbering import parse_document_number
from certsvc.issuance.runner import run_batch
from certsvc.notifications.models import Notification
from certsvc.publicity.models import (
    Objection,
    ObjectionChannel,
    ObjectionStatus,
    PublicityPeriod,
    PublicityStatus,
)
from certsvc.roster.catalog import Level
from certsvc.roster.identity import Gender, IdType
from certsvc.roster.models import Person, ReviewResult, ReviewSession
from certsvc.transparency.service import trust_from_database, verify_log
from tests.factories import resident_id
from tests.issuance.conftest import APPROVER, OPERATOR, SIGNER, World

WITHDRAWN_RESULT = 1  # the demo upholds an objection against the first passing result
OBJECTION_RESULT = 3  # and leaves the one against the third open
TOO_LONG_WORK_UNIT = "很长很长的单位名称" * 14  # 126 characters: fits the column, not the page


# -- helpers ----------------------------------------------------------------------------------


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
        ).all()
    )


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _add_session(
    session: Session,
    *,
    agency_id: int,
    publicity: PublicityStatus | None,
    results: int = 2,
    first_person: int = 100,
) -> int:
    """A review session with ``results`` passing results of new persons, publicised (closed or
    open) or not at all."""
    import_id = session.exec(select(ReviewSession.import_id)).first()
    assert import_id is not None
    review = ReviewSession(
        agency_id=agency_id,
        year=2025,
        committee_name=f"测试评审委员会{first_person}",
        series="工程技术",
        specialty="计算机软件",
        level=Level.DEPUTY_SENIOR,
        qualification_name="高级工程师",
        committee_size=30,
        review_date=date(2025, 9, 12),
        import_id=import_id,
    )
    session.add(review)
    session.flush()
    assert review.id is not None
    for n in range(first_person, first_person + results):
        person = Person(
            name=f"测试{n}",
            id_type=IdType.RESIDENT_ID,
            id_country="CHN",
            id_number=resident_id(n),
            gender=Gender.MALE,
            birth_date=date(1980, 1, 1) + timedelta(days=n),
            work_unit="北京某科技有限公司",
            mobile=f"139{n:08d}",
        )
        session.add(person)
        session.flush()
        session.add(
            ReviewResult(
                session_id=review.id,
                person_id=person.id or 0,
                members_attending=25,
                votes_for=20,
                passed=True,
                import_id=import_id,
                source_row=n,
            )
        )
    if publicity is not None:
        session.add(
            PublicityPeriod(
                session_id=review.id,
                start_date=date(2025, 9, 26),
                working_days=5,
                end_date=date(2025, 10, 9),
                calendar_source="test",
                status=publicity,
                opened_by=OPERATOR,
            )
        )
    session.flush()
    return review.id


def _draft(world: World) -> int:
    with world.db.session() as session:
        batch = create_batch(
            session,
            agency_code=world.settings.agency_code,
            session_ids=world.session_ids,
            actor=OPERATOR,
        )
        assert batch.id is not None
        return batch.id


def _run(world: World, batch_id: int, **changes: object):  # type: ignore[no-untyped-def]
    return run_batch(
        world.db, world.settings, world.ctx.keystore, batch_id, world.options(**changes)
    )


def _store_files(world: World) -> list[str]:
    return [*world.store.hashes(), *world.store.staged()]


# -- create -----------------------------------------------------------------------------------


def test_create_lists_the_withdrawn_and_the_objection_held_result_with_reasons(
    world: World,
) -> None:
    batch_id = _draft(world)
    with world.db.session() as session:
        batch = get_batch(session, batch_id)
        items = session.exec(select(BatchItem).where(BatchItem.batch_id == batch_id)).all()
        passing = session.exec(
            select(ReviewResult.id).where(col(ReviewResult.passed).is_(True))
        ).all()
        created = _events(session, "batch:create")
    held = {row["result_id"]: row for row in batch.held}
    assert set(held) == {WITHDRAWN_RESULT, OBJECTION_RESULT}
    assert held[WITHDRAWN_RESULT]["reason"].startswith("withdrawn: objection 1 upheld")
    assert held[OBJECTION_RESULT]["reason"] == "held by an open objection"
    assert all(row["name"] for row in batch.held)
    assert batch.status is BatchStatus.DRAFT and batch.created_by == OPERATOR
    # every other passing result is a pending candidate; failed results are not candidates
    assert {item.result_id for item in items} == set(passing) - set(held)
    assert batch.candidates == len(items) == len(passing) - 2
    assert {item.state for item in items} == {ItemState.PENDING}
    assert len(created) == 1 and created[0].subject_id == str(batch_id)
    assert created[0].actor == OPERATOR
    assert sorted(created[0].details["held_result_ids"]) == [WITHDRAWN_RESULT, OBJECTION_RESULT]
    assert created[0].details["candidates"] == batch.candidates


def test_a_result_already_in_a_batch_is_left_out_of_the_next(world: World) -> None:
    first = _draft(world)
    with world.db.session() as session:
        extra = _add_session(session, agency_id=1, publicity=PublicityStatus.CLOSED, results=2)
    with world.db.session() as session:
        second = create_batch(
            session,
            agency_code=world.settings.agency_code,
            session_ids=[*world.session_ids, extra],
            actor=OPERATOR,
        )
        new_results = session.exec(
            select(ReviewResult.id).where(ReviewResult.session_id == extra)
        ).all()
        second_items = session.exec(
            select(BatchItem.result_id).where(BatchItem.batch_id == second.id)
        ).all()
        first_items = session.exec(
            select(BatchItem.result_id).where(BatchItem.batch_id == first)
        ).all()
    assert sorted(second_items) == sorted(new_results) and second.candidates == 2
    reasons = {row["result_id"]: row["reason"] for row in second.held}
    assert {r for r, why in reasons.items() if why == f"already in batch {first}"} == set(
        first_items
    )
    assert reasons[WITHDRAWN_RESULT].startswith("withdrawn:")
    assert reasons[OBJECTION_RESULT] == "held by an open objection"


def test_sessions_that_cannot_be_issued_are_each_named_and_nothing_is_created(
    world: World,
) -> None:
    with world.db.session() as session:
        other = Agency(code="SHRS", name="上海市人力资源和社会保障局", region_code="310000")
        session.add(other)
        session.flush()
        still_open = _add_session(session, agency_id=1, publicity=PublicityStatus.OPEN)
        never = _add_session(session, agency_id=1, publicity=None, first_person=110)
        foreign = _add_session(
            session, agency_id=other.id or 0, publicity=PublicityStatus.CLOSED, first_person=120
        )
    with world.db.session() as session:
        before = (_count(session, AuditEvent), _count(session, IssuanceBatch))
    with pytest.raises(StateError) as refused, world.db.session() as session:
        create_batch(
            session,
            agency_code=world.settings.agency_code,
            session_ids=[*world.session_ids, 999, still_open, never, foreign],
            actor=OPERATOR,
        )
    message = str(refused.value)
    assert message.startswith("cannot create the batch: ")
    assert "session 999 does not exist" in message
    assert f"session {still_open}'s publicity is still open (until 2025-10-09)" in message
    assert f"session {never} has not been publicised" in message
    assert f"session {foreign} belongs to another agency" in message
    assert f"session {world.session_ids[0]}" not in message  # the good one is not blamed
    with world.db.session() as session:
        after = (_count(session, AuditEvent), _count(session, IssuanceBatch))
        assert _count(session, BatchItem) == 0
    assert after == before


def test_each_bad_session_alone_is_refused(world: World) -> None:
    with world.db.session() as session:
        still_open = _add_session(session, agency_id=1, publicity=PublicityStatus.OPEN)
    for wanted, expected in (
        ([12345], "session 12345 does not exist"),
        ([still_open], f"session {still_open}'s publicity is still open"),
    ):
        with pytest.raises(StateError, match=expected), world.db.session() as session:
            create_batch(session, agency_code="BJRS", session_ids=wanted, actor=OPERATOR)
    with (
        pytest.raises(InputError, match="name at least one review session"),
        world.db.session() as session,
    ):
        create_batch(session, agency_code="BJRS", session_ids=[], actor=OPERATOR)
    with (
        pytest.raises(NotFoundError, match="no issuing agency with code 'NOPE'"),
        world.db.session() as session,
    ):
        create_batch(session, agency_code="NOPE", session_ids=[1], actor=OPERATOR)
    with world.db.session() as session:
        assert _count(session, IssuanceBatch) == 0
        assert _events(session, "batch:create") == []


def test_sessions_with_nothing_cleared_are_refused(world: World) -> None:
    first = _draft(world)
    with pytest.raises(StateError) as refused, world.db.session() as session:
        create_batch(session, agency_code="BJRS", session_ids=world.session_ids, actor=OPERATOR)
    assert str(refused.value) == (
        f"sessions {world.session_ids[0]} have no cleared result to issue "
        f"(26 held or already issued)"
    )
    with world.db.session() as session:
        assert session.exec(select(IssuanceBatch.id)).all() == [first]
        assert len(_events(session, "batch:create")) == 1


# -- approve and cancel -----------------------------------------------------------------------


def test_the_creator_cannot_approve_their_own_batch(world: World) -> None:
    batch_id = _draft(world)
    with pytest.raises(StateError) as refused, world.db.session() as session:
        approve_batch(session, batch_id, actor=OPERATOR)
    assert str(refused.value) == (
        f"batch {batch_id} was created by {OPERATOR}; another member of staff must approve it"
    )
    with world.db.session() as session:
        batch = get_batch(session, batch_id)
        assert batch.status is BatchStatus.DRAFT and batch.approved_by is None
        assert _events(session, "batch:approve") == []
    with world.db.session() as session:
        approve_batch(session, batch_id, actor=APPROVER)
    with world.db.session() as session:
        batch = get_batch(session, batch_id)
        approved = _events(session, "batch:approve")
    assert batch.status is BatchStatus.APPROVED
    assert batch.approved_by == APPROVER and batch.approved_at is not None
    assert [(e.actor, e.subject_id) for e in approved] == [(APPROVER, str(batch_id))]
    assert approved[0].details["created_by"] == OPERATOR


def test_only_a_draft_can_be_approved(world: World) -> None:
    approved = world.approved_batch()
    with (
        pytest.raises(StateError, match=f"batch {approved} is approved; only a draft"),
        world.db.session() as session,
    ):
        approve_batch(session, approved, actor="test:someone-else")
    with world.db.session() as session:
        assert get_batch(session, approved).approved_by == APPROVER
        assert len(_events(session, "batch:approve")) == 1
    with pytest.raises(NotFoundError, match="no issuance batch 999"), world.db.session() as session:
        approve_batch(session, 999, actor=APPROVER)


def test_cancel_needs_a_reason_and_a_draft_and_frees_the_results(world: World) -> None:
    batch_id = _draft(world)
    with world.db.session() as session:
        candidates = get_batch(session, batch_id).candidates
    with (
        pytest.raises(InputError, match=r"say why the batch is cancelled \(--reason\)"),
        world.db.session() as session,
    ):
        cancel_batch(session, batch_id, actor=OPERATOR, reason="   ")
    with world.db.session() as session:
        assert get_batch(session, batch_id).status is BatchStatus.DRAFT
        assert _count(session, BatchItem) == candidates
        assert _events(session, "batch:cancel") == []

    with world.db.session() as session:
        cancel_batch(session, batch_id, actor=OPERATOR, reason="  wrong sessions  ")
    with world.db.session() as session:
        assert get_batch(session, batch_id).status is BatchStatus.CANCELLED
        assert _count(session, BatchItem) == 0
        cancelled = _events(session, "batch:cancel")
    assert [(e.subject_id, e.details) for e in cancelled] == [
        (str(batch_id), {"reason": "wrong sessions"})
    ]
    with (
        pytest.raises(StateError, match=f"batch {batch_id} is cancelled; only a draft can be"),
        world.db.session() as session,
    ):
        cancel_batch(session, batch_id, actor=OPERATOR, reason="again")
    with (
        pytest.raises(StateError, match=f"batch {batch_id} is cancelled; only a draft can be"),
        world.db.session() as session,
    ):
        approve_batch(session, batch_id, actor=APPROVER)

    # the freed results go into a new batch, and none is "already in" the cancelled one
    again = _draft(world)
    with world.db.session() as session:
        batch = get_batch(session, again)
    assert batch.candidates == candidates
    assert not [row for row in batch.held if "already in batch" in row["reason"]]

    with world.db.session() as session:
        approve_batch(session, again, actor=APPROVER)
    with (
        pytest.raises(StateError, match=f"batch {again} is approved; only a draft can be"),
        world.db.session() as session,
    ):
        cancel_batch(session, again, actor=OPERATOR, reason="too late")
    with world.db.session() as session:
        assert get_batch(session, again).status is BatchStatus.APPROVED
        assert len(_events(session, "batch:cancel")) == 1


# -- run: refusals ----------------------------------------------------------------------------


def _nothing_ran(world: World, batch_id: int) -> None:
    with world.db.session() as session:
        batch = get_batch(session, batch_id)
        assert batch.runs == 0 and batch.issued_on is None
        assert _events(session, "batch:run") == []
        assert _count(session, Document) == 0
        states = session.exec(select(BatchItem.state).where(BatchItem.batch_id == batch_id)).all()
        assert set(states) <= {ItemState.PENDING}
    assert _store_files(world) == []


def test_a_draft_or_cancelled_batch_is_not_run(world: World) -> None:
    draft = _draft(world)
    with pytest.raises(StateError) as refused:
        _run(world, draft)
    assert str(refused.value) == (f"batch {draft} has not been approved (`certsvc batch approve`)")
    _nothing_ran(world, draft)
    with world.db.session() as session:
        cancel_batch(session, draft, actor=OPERATOR, reason="test")
    with pytest.raises(StateError, match=f"^batch {draft} was cancelled$"):
        _run(world, draft)
    _nothing_ran(world, draft)
    with pytest.raises(NotFoundError, match="no issuance batch 77"):
        _run(world, 77)


def test_a_second_concurrent_run_is_refused(world: World) -> None:
    batch_id = world.approved_batch()
    with batch_run_lock(world.db, batch_id):
        with pytest.raises(StateError) as refused:
            _run(world, batch_id)
        # another batch is not blocked by this one's lock
        with batch_run_lock(world.db, batch_id + 1):
            pass
    assert str(refused.value).startswith(
        f"batch {batch_id} is being run by another process; wait for it to finish"
    )
    _nothing_ran(world, batch_id)
    with batch_run_lock(world.db, batch_id):  # released: it can be taken again
        pass


# -- run: what happens to each candidate ------------------------------------------------------


def test_a_result_that_no_longer_stands_at_run_time_is_skipped(world: World) -> None:
    batch_id = world.approved_batch()
    with world.db.session() as session:
        items = session.exec(
            select(BatchItem).where(BatchItem.batch_id == batch_id).order_by(col(BatchItem.id))
        ).all()
        withdrawn, objected = items[2], items[5]
        result = session.get(ReviewResult, withdrawn.result_id)
        assert result is not None
        result.withdrawn_at = utcnow()
        result.withdrawn_reason = "复核发现学历造假"
        session.add(result)
        period = session.exec(
            select(PublicityPeriod).where(PublicityPeriod.session_id == world.session_ids[0])
        ).one()
        session.add(
            Objection(
                result_id=objected.result_id,
                period_id=period.id or 0,
                received_on=date(2025, 10, 20),
                channel=ObjectionChannel.EMAIL,
                summary="公示结束后收到的举报",
                status=ObjectionStatus.OPEN,
                lodged_by=OPERATOR,
            )
        )
    report = _run(world, batch_id)

    skipped_people = {withdrawn.person_id, objected.person_id}
    with world.db.session() as session:
        by_id = {
            item.id: item
            for item in session.exec(select(BatchItem).where(BatchItem.batch_id == batch_id))
        }
        skips = _events(session, "batch:skip")
        documents = session.exec(select(Document)).all()
        messages = session.exec(select(Notification.person_id)).all()
        assert check_batch(session, world.store, batch_id) == []
        assert check_store(session, world.store) == []
    assert by_id[withdrawn.id].state is ItemState.SKIPPED
    assert by_id[withdrawn.id].reason == "result withdrawn: 复核发现学历造假"
    assert by_id[objected.id].state is ItemState.SKIPPED
    assert by_id[objected.id].reason == "held by an open objection"
    others = [i for i in by_id.values() if i.id not in (withdrawn.id, objected.id)]
    assert {i.state for i in others} == {ItemState.ISSUED}
    assert {(e.subject_type, e.subject_id, e.actor) for e in skips} == {
        ("batch_item", str(withdrawn.id), SIGNER),
        ("batch_item", str(objected.id), SIGNER),
    }
    assert {e.details["result_id"] for e in skips} == {withdrawn.result_id, objected.result_id}
    assert all(e.details["batch_id"] == batch_id for e in skips)
    assert not [d for d in documents if d.person_id in skipped_people]
    assert len(documents) == 2 * len(others)
    assert not skipped_people & set(messages) and len(messages) == len(others)
    assert report.skipped_count == 2 and report.issued == len(others)
    assert {row["result_id"] for row in report.skipped} == {
        withdrawn.result_id,
        objected.result_id,
    }
    lines = report.lines()
    assert any(
        line.startswith(f"skipped: result {withdrawn.result_id} ")
        and line.endswith("result withdrawn: 复核发现学历造假")
        for line in lines
    )


def test_an_unrenderable_candidate_fails_alone_and_a_retry_issues_it(world: World) -> None:
    batch_id = world.approved_batch()
    with world.db.session() as session:
        victim = session.exec(
            select(BatchItem).where(BatchItem.batch_id == batch_id).order_by(col(BatchItem.id))
        ).all()[4]
        person = session.get(Person, victim.person_id)
        assert person is not None
        person.work_unit = TOO_LONG_WORK_UNIT
        session.add(person)
    report = _run(world, batch_id)

    with world.db.session() as session:
        batch = get_batch(session, batch_id)
        item = session.get(BatchItem, victim.id)
        assert item is not None
        voided = session.exec(
            select(Document).where(Document.item_id == victim.id).order_by(col(Document.id))
        ).all()
        issued = session.exec(
            select(Document).where(Document.status == DocumentStatus.ISSUED)
        ).all()
        fails = _events(session, "document:fail")
        messages = session.exec(select(Notification.person_id)).all()
        assert check_batch(session, world.store, batch_id) == []
        assert check_store(session, world.store) == []
    assert batch.status is BatchStatus.COMPLETED
    assert item.state is ItemState.FAILED
    assert item.reason is not None and "工作单位 is too long for the layout" in item.reason
    assert [d.status for d in voided] == [DocumentStatus.VOID, DocumentStatus.VOID]
    assert {d.document_type.value for d in voided} == {"certificate", "notice"}
    assert all(d.failure == item.reason and d.sha256 is None for d in voided)
    assert len(issued) == 2 * (batch.candidates - 1)
    assert victim.person_id not in messages
    assert [(e.subject_type, e.subject_id) for e in fails] == [("batch_item", str(victim.id))]
    assert sorted(fails[0].details["voided"]) == sorted(d.document_number for d in voided)
    assert report.failed_count == 1 and report.issued == batch.candidates - 1
    assert [(row["result_id"], row["reason"]) for row in report.failed] == [
        (victim.result_id, item.reason)
    ]
    text = (world.settings.data_dir / "reports" / f"batch-{batch_id}.txt").read_text()
    assert f"failed: result {victim.result_id} {person.name}: " in text
    saved = json.loads((world.settings.data_dir / "reports" / f"batch-{batch_id}.json").read_text())
    assert saved["failed_count"] == 1

    # a completed batch without --retry-failed is not run again
    with pytest.raises(StateError, match=f"batch {batch_id} is already complete"):
        _run(world, batch_id)
    with world.db.session() as session:
        assert get_batch(session, batch_id).runs == 1
        assert len(_events(session, "batch:run")) == 1

    with world.db.session() as session:
        fixed = session.get(Person, victim.person_id)
        assert fixed is not None
        fixed.work_unit = "北京某科技有限公司"
        session.add(fixed)
    retried = _run(world, batch_id, retry_failed=True)

    with world.db.session() as session:
        item = session.get(BatchItem, victim.id)
        assert item is not None
        documents = session.exec(
            select(Document).where(Document.item_id == victim.id).order_by(col(Document.id))
        ).all()
        all_numbers = session.exec(select(Document.document_number)).all()
        messages = session.exec(select(Notification.person_id)).all()
        assert check_batch(session, world.store, batch_id) == []
        assert check_store(session, world.store) == []
        log = verify_log(session, trust_from_database(session))
        batch = get_batch(session, batch_id)
    assert log.ok, log.report()
    assert log.tree_heads == 2
    assert item.state is ItemState.ISSUED and item.reason is None
    old = {d.document_number for d in voided}
    new = [d for d in documents if d.status is DocumentStatus.ISSUED]
    assert len(new) == 2 and not old & {d.document_number for d in new}
    assert {d.status for d in documents if d.document_number in old} == {DocumentStatus.VOID}
    assert {parse_document_number(d.document_number).sequence for d in new} == {item.sequence}
    assert len(all_numbers) == len(set(all_numbers))
    assert messages.count(victim.person_id) == 1
    assert retried.failed_count == 0 and retried.issued == batch.candidates
    assert batch.status is BatchStatus.COMPLETED and batch.runs == 2
    with pytest.raises(StateError, match=f"batch {batch_id} has no failed candidate to retry"):
        _run(world, batch_id, retry_failed=True)


def test_every_state_change_is_audited(world: World) -> None:
    batch_id = _draft(world)
    with world.db.session() as session:
        cancel_batch(session, batch_id, actor=OPERATOR, reason="made too early")
    batch_id = world.approved_batch()
    _run(world, batch_id)
    with world.db.session() as session:
        documents = session.exec(select(Document)).all()
        seen = {
            action: _events(session, action)
            for action in (
                "batch:create",
                "batch:approve",
                "batch:cancel",
                "batch:run",
                "batch:complete",
                "document:issue",
            )
        }
    assert [e.actor for e in seen["batch:create"]] == [OPERATOR, OPERATOR]
    assert [e.actor for e in seen["batch:cancel"]] == [OPERATOR]
    assert [(e.actor, e.subject_id) for e in seen["batch:approve"]] == [(APPROVER, str(batch_id))]
    (run,) = seen["batch:run"]
    assert (run.actor, run.subject_id, run.details["run"]) == (SIGNER, str(batch_id), 1)
    (complete,) = seen["batch:complete"]
    assert complete.details["issued"] == len(documents) // 2
    assert complete.details["tree_size"] == len(documents)
    issued = {e.subject_id: e.details for e in seen["document:issue"]}
    assert set(issued) == {d.document_number for d in documents}
    for document in documents:
        details = issued[document.document_number]
        assert details["sha256"] == document.sha256
        assert details["log_index"] == document.log_index
