"""Revoking and reissuing: two people, the registry, the log, the status list, the holder."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from certsvc.audit.models import AuditEvent
from certsvc.documents.factory import DocumentFactory
from certsvc.documents.inspect import read_contents
from certsvc.errors import CertsvcError, InputError, NotFoundError, StateError
from certsvc.issuance.checks import check_store
from certsvc.issuance.models import Document, DocumentStatus
from certsvc.issuance.numbering import parse_document_number
from certsvc.issuance.store import FileDocumentStore
from certsvc.notifications.models import Notification
from certsvc.revocation import service
from certsvc.revocation.models import ChangeStatus, DocumentChange
from certsvc.revocation.status_list import EntryStatus, StatusList, verify_status_list
from certsvc.roster.models import Person
from certsvc.transparency.models import EntryKind, LogEntry
from certsvc.transparency.service import trust_from_database, verify_log
from tests.revocation.conftest import APPROVER, OPERATOR, Issued


def _pair(session: Session, number: str) -> list[Document]:
    parsed = parse_document_number(number)
    numbers = [str(parsed.companion(kind)) for kind in type(parsed.document_type)]
    return list(
        session.exec(
            select(Document)
            .where(col(Document.document_number).in_(numbers))
            .order_by(col(Document.id))
        )
    )


def _status_list(session: Session) -> StatusList:
    latest = service.latest_status_list(session)
    assert latest is not None
    return verify_status_list(
        bytes(latest.content), trust_from_database(session), latest.issued_at + timedelta(hours=1)
    )


def _snapshot(session: Session) -> tuple[object, ...]:
    """Everything a refused request or approval must leave untouched."""
    return (
        sorted((d.document_number, d.status.value) for d in session.exec(select(Document))),
        len(session.exec(select(DocumentChange)).all()),
        len(session.exec(select(LogEntry)).all()),
        len(session.exec(select(Notification)).all()),
        service.latest_status_list(session),
    )


def test_a_revocation_shows_in_the_registry_the_log_the_status_list_and_the_outbox(
    issued: Issued,
) -> None:
    target, other = issued.certificates()[:2]
    change_id = issued.ask_revocation(target.document_number, effective=str(target.issued_on))
    with issued.db.session() as session:
        # asked for, nothing changed yet
        assert {d.status for d in _pair(session, target.document_number)} == {DocumentStatus.ISSUED}
    change = issued.approve(change_id)
    assert change.status is ChangeStatus.DONE and change.decided_by == APPROVER

    with issued.db.session() as session:
        pair = _pair(session, target.document_number)
        assert len(pair) == 2
        for document in pair:
            assert document.status is DocumentStatus.REVOKED
            assert document.revocation_reason == "fraud_on_recheck"
            assert document.revocation_effective_on == target.issued_on
            assert document.revoked_at is not None
        found = service.registry_status(session, target.document_number)
        assert found is not None and found.status is DocumentStatus.REVOKED
        assert found.reason == "fraud_on_recheck" and found.superseded_by is None
        assert found.status_list_index == target.id
        shown = found.for_verdict()
        assert (shown.status, shown.revocation_reason) == ("revoked", "fraud_on_recheck")
        # the log: one revoke entry per document, and the whole log verifies
        revokes = session.exec(select(LogEntry).where(LogEntry.kind == EntryKind.REVOKE)).all()
        assert sorted(e.document_number for e in revokes) == sorted(d.document_number for d in pair)
        assert all(e.document_sha256 == d.sha256 for e, d in zip(revokes, pair, strict=True))
        log = verify_log(session, trust_from_database(session))
        assert log.ok, log.report()
        assert log.tree_heads == 2  # the batch's and the revocation's
        # the status list: both revoked, the others valid
        listed = _status_list(session)
        for document in pair:
            assert document.status_list_index is not None
            assert listed.status_of(document.status_list_index) is EntryStatus.REVOKED
        assert other.status_list_index is not None
        assert listed.status_of(other.status_list_index) is EntryStatus.VALID
        assert set(listed.flagged()) == {d.status_list_index for d in pair}
        # audit: the request, and a revocation per document
        actions = [e.action for e in session.exec(select(AuditEvent))]
        assert actions.count("document:change-request") == 1
        assert actions.count("document:revoke") == 2
        # one message to the holder
        messages = session.exec(
            select(Notification).where(Notification.kind == service.DOCUMENT_REVOKED)
        ).all()
        assert [m.person_id for m in messages] == [target.person_id]
        assert target.document_number in messages[0].body


def test_the_requester_cannot_approve_or_reject(issued: Issued) -> None:
    target = issued.certificates()[0]
    change_id = issued.ask_revocation(target.document_number)
    with issued.db.session() as session:
        before = _snapshot(session)
    with pytest.raises(StateError, match="another member of staff must approve"):
        issued.approve(change_id, actor=OPERATOR)
    with (
        issued.db.session() as session,
        pytest.raises(StateError, match="another member of staff must reject"),
    ):
        service.reject_change(session, change_id, actor=OPERATOR, reason="no")
    with issued.db.session() as session:
        assert _snapshot(session) == before
        assert service.get_change(session, change_id).status is ChangeStatus.PENDING


def test_a_rejected_request_changes_nothing_and_cannot_be_approved(issued: Issued) -> None:
    target = issued.certificates()[0]
    change_id = issued.ask_revocation(target.document_number)
    with issued.db.session() as session:
        service.reject_change(session, change_id, actor=APPROVER, reason="complaint unfounded")
    with pytest.raises(StateError, match="rejected"):
        issued.approve(change_id)
    with issued.db.session() as session:
        assert {d.status for d in _pair(session, target.document_number)} == {DocumentStatus.ISSUED}
    # a new request may be made once the old one is closed
    issued.ask_revocation(target.document_number)


def test_a_reissue_supersedes_the_pair_with_new_numbers_and_signed_documents(
    issued: Issued,
) -> None:
    target = issued.certificates()[0]
    with issued.db.session() as session:
        highest = max(
            parse_document_number(d.document_number).sequence
            for d in session.exec(select(Document))
        )
    change_id = issued.ask_reissue(target.document_number, name="王小明")
    change = issued.approve(change_id)
    assert change.status is ChangeStatus.DONE
    assert set(change.new_numbers) == {d.document_number for d in _pair_of(issued, target)}

    with issued.db.session() as session:
        olds = _pair(session, target.document_number)
        for old in olds:
            assert old.status is DocumentStatus.SUPERSEDED
            new_number = change.new_numbers[old.document_number]
            assert old.superseded_by == new_number
            new = session.exec(select(Document).where(Document.document_number == new_number)).one()
            assert new.status is DocumentStatus.ISSUED and new.replaces == old.document_number
            assert new.document_type is old.document_type
            assert new.result_id == old.result_id and new.person_id == old.person_id
            # the same numbering scheme, the next sequence number, a valid check character
            parsed_old, parsed_new = (
                parse_document_number(old.document_number),
                parse_document_number(new_number),
            )
            assert (parsed_new.series_code, parsed_new.level, parsed_new.region_code) == (
                parsed_old.series_code,
                parsed_old.level,
                parsed_old.region_code,
            )
            assert parsed_new.sequence > highest
            # signed, stored, with the corrected name, and logged with its inclusion proof
            assert new.sha256 is not None and new.log_index is not None
            contents = read_contents(issued.world.store.read(new.sha256))
            assert contents.record is not None
            assert contents.record.holder_name == "王小明"
            assert contents.record.document_number == new_number
            assert contents.token == new.token
            assert new.inclusion_proof and new.proof_tree_size
            found = service.registry_status(session, old.document_number)
            assert found is not None and found.superseded_by == new_number
        # one pair of new numbers share their sequence
        assert len({parse_document_number(n).sequence for n in change.new_numbers.values()}) == 1
        assert check_store(session, issued.world.store) == []
        reissues = session.exec(select(LogEntry).where(LogEntry.kind == EntryKind.REISSUE)).all()
        assert sorted(e.document_number for e in reissues) == sorted(change.new_numbers.values())
        assert all(
            b'"replaces":"' + old.document_number.encode() + b'"' in bytes(e.entry)
            for e in reissues
            for old in olds
            if change.new_numbers[old.document_number] == e.document_number
        )
        log = verify_log(session, trust_from_database(session))
        assert log.ok, log.report()
        listed = _status_list(session)
        for old in olds:
            assert old.status_list_index is not None
            assert listed.status_of(old.status_list_index) is EntryStatus.SUPERSEDED
            new = session.exec(
                select(Document).where(Document.replaces == old.document_number)
            ).one()
            assert new.status_list_index is not None
            assert listed.status_of(new.status_list_index) is EntryStatus.VALID
        messages = session.exec(
            select(Notification).where(Notification.kind == service.DOCUMENT_REISSUED)
        ).all()
        assert [m.person_id for m in messages] == [target.person_id]
        actions = [e.action for e in session.exec(select(AuditEvent))]
        assert actions.count("document:reissue") == 2


def _pair_of(issued: Issued, document: Document) -> list[Document]:
    with issued.db.session() as session:
        return _pair(session, document.document_number)


def test_a_reissue_killed_while_signing_resumes_under_the_same_numbers(
    issued: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = issued.certificates()[0]
    change_id = issued.ask_reissue(target.document_number)  # a layout correction
    real_make = DocumentFactory.make

    def crash(self: DocumentFactory, record: object) -> object:
        raise RuntimeError("killed while signing")

    monkeypatch.setattr(DocumentFactory, "make", crash)
    with pytest.raises(RuntimeError):
        issued.approve(change_id)
    with issued.db.session() as session:
        change = service.get_change(session, change_id)
        assert change.status is ChangeStatus.APPROVED and len(change.new_numbers) == 2
        reserved = dict(change.new_numbers)
        # nothing recorded: the old pair is current; the new numbers' rows are only reserved
        # (so that the records could name their status-list entries before signing)
        assert {d.status for d in _pair(session, target.document_number)} == {DocumentStatus.ISSUED}
        rows = session.exec(
            select(Document).where(col(Document.document_number).in_(list(reserved.values())))
        ).all()
        assert {row.status for row in rows} == {DocumentStatus.RESERVED}
        assert all(row.status_list_index == row.id for row in rows)
        reserved_ids = {row.document_number: row.id for row in rows}
    assert issued.world.store.staged() == []
    monkeypatch.setattr(DocumentFactory, "make", real_make)
    with pytest.raises(StateError, match="another member of staff"):
        issued.approve(change_id, actor=OPERATOR)
    done = issued.approve(change_id, actor="test:second-approver")
    assert done.status is ChangeStatus.DONE and done.new_numbers == reserved
    with issued.db.session() as session:
        assert check_store(session, issued.world.store) == []
        for number, row_id in reserved_ids.items():  # the same rows, now issued
            row = session.exec(select(Document).where(Document.document_number == number)).one()
            assert (row.id, row.status) == (row_id, DocumentStatus.ISSUED)
            record = read_contents(issued.world.store.read(row.sha256 or "")).record
            assert record is not None and record.status is not None
            assert (record.status.index, record.status.url) == (
                row.status_list_index,
                row.status_list_url,
            )
        assert {d.status for d in _pair(session, target.document_number)} == {
            DocumentStatus.SUPERSEDED
        }
    with pytest.raises(StateError, match="already done"):
        issued.approve(change_id)


@pytest.mark.parametrize(
    ("number", "reason", "effective", "error", "message"),
    [
        ("2025-110000-GC2Z-999999", "fraud_on_recheck", None, InputError, "not a document number"),
        (None, "forgery", None, InputError, "not a revocation reason"),
        (None, "fraud_on_recheck", "2025/01/02", InputError, "YYYY-MM-DD"),
        (None, "fraud_on_recheck", "2025-02-30", InputError, "not a real date"),
        (None, "fraud_on_recheck", "1999-01-01", InputError, "before the document was issued"),
        (None, "fraud_on_recheck", "2999-01-01", InputError, "more than a year after today"),
    ],
)
def test_bad_revocation_requests_are_refused_with_nothing_written(
    issued: Issued,
    number: str | None,
    reason: str,
    effective: str | None,
    error: type[CertsvcError],
    message: str,
) -> None:
    target = issued.certificates()[0]
    with issued.db.session() as session:
        before = _snapshot(session)
    with pytest.raises(error, match=message):
        issued.ask_revocation(number or target.document_number, reason, effective)
    with issued.db.session() as session:
        assert _snapshot(session) == before


def test_an_unknown_number_is_not_found(issued: Issued) -> None:
    parsed = parse_document_number(issued.certificates()[0].document_number)
    unknown = str(type(parsed)(**{**parsed.__dict__, "sequence": 999_999}))
    with pytest.raises(NotFoundError, match="no document is numbered"):
        issued.ask_revocation(unknown)
    with pytest.raises(NotFoundError):
        issued.ask_reissue(unknown)


def test_revoked_and_superseded_documents_cannot_be_changed_again(issued: Issued) -> None:
    revoked, superseded = issued.certificates()[:2]
    issued.approve(issued.ask_revocation(revoked.document_number))
    issued.approve(issued.ask_reissue(superseded.document_number, work_unit="北京市第一医院"))
    with issued.db.session() as session:
        before = _snapshot(session)
    with pytest.raises(
        StateError,
        match=r"is revoked \(in effect from \d{4}-\d\d-\d\d\): only an issued document can be",
    ):
        issued.ask_revocation(revoked.document_number)
    with pytest.raises(
        StateError,
        match=r"is revoked \(in effect from [^)]*\): only an issued document can be reissued",
    ):
        issued.ask_reissue(revoked.document_number)
    with pytest.raises(StateError, match=r"is superseded by \d{4}-"):
        issued.ask_revocation(superseded.document_number)
    # the companion of a revoked certificate is revoked too
    companion = _pair_of(issued, revoked)[1]
    with pytest.raises(StateError, match="is revoked"):
        issued.ask_reissue(companion.document_number)
    with issued.db.session() as session:
        assert _snapshot(session) == before


def test_one_open_request_per_document(issued: Issued) -> None:
    target = issued.certificates()[0]
    issued.ask_revocation(target.document_number)
    companion = _pair_of(issued, target)[1]
    with pytest.raises(StateError, match="already has an open change"):
        issued.ask_reissue(companion.document_number)


def test_a_document_revoked_after_a_reissue_was_asked_stops_the_reissue(issued: Issued) -> None:
    target = issued.certificates()[0]
    reissue_id = issued.ask_reissue(target.document_number)
    with issued.db.session() as session:  # force the race: revoke behind the request's back
        for document in _pair(session, target.document_number):
            document.status = DocumentStatus.REVOKED
            session.add(document)
    with issued.db.session() as session:
        before = _snapshot(session)
    with pytest.raises(StateError, match="cannot go ahead"):
        issued.approve(reissue_id)
    with issued.db.session() as session:
        assert _snapshot(session) == before


@pytest.mark.parametrize(
    ("corrections", "message"),
    [
        ({"id_number": "110101199003077777"}, "cannot be corrected"),
        ({"name": "李 Lee"}, "not acceptable"),
        ({"work_unit": "x" * 129}, "1-128 characters"),
    ],
)
def test_bad_corrections_are_refused(
    issued: Issued, corrections: dict[str, str], message: str
) -> None:
    target = issued.certificates()[0]
    with pytest.raises(InputError, match=message):
        issued.ask_reissue(target.document_number, **corrections)
    with issued.db.session() as session:
        assert session.exec(select(DocumentChange)).all() == []


def test_a_reissue_killed_before_its_files_were_promoted_is_finished_by_approving_again(
    issued: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = issued.certificates()[0]
    change_id = issued.ask_reissue(target.document_number, work_unit="北京市第二医院")

    def killed(self: FileDocumentStore, name: str, sha256: str, *, verified: bool = False) -> None:
        raise RuntimeError("killed before promoting")

    monkeypatch.setattr(FileDocumentStore, "promote", killed)
    with pytest.raises(RuntimeError):
        issued.approve(change_id)
    monkeypatch.undo()
    store = issued.world.store
    with issued.db.session() as session:
        # recorded: the registry has the new pair, their files wait in staging
        assert service.get_change(session, change_id).status is ChangeStatus.DONE
        assert len(store.staged()) == 2
        assert check_store(session, store) != []
    with pytest.raises(StateError, match="already done"):
        issued.approve(change_id)
    with issued.db.session() as session:
        assert store.staged() == []
        assert check_store(session, store) == []


def test_a_reissued_document_can_be_reissued_and_revoked_in_turn(issued: Issued) -> None:
    target = issued.certificates()[0]
    first = issued.approve(issued.ask_reissue(target.document_number, name="王小明"))
    second_number = first.new_numbers[target.document_number]
    second = issued.approve(issued.ask_reissue(second_number, name="王晓明"))
    third_number = second.new_numbers[second_number]
    issued.approve(issued.ask_revocation(third_number, reason="holder_request"))
    with issued.db.session() as session:
        chain = [service.registry_status(session, n) for n in (second_number, third_number)]
        assert chain[0] is not None and chain[0].superseded_by == third_number
        assert chain[0].replaces == target.document_number
        assert chain[1] is not None and chain[1].status is DocumentStatus.REVOKED
        assert chain[1].reason == "holder_request" and chain[1].status_list_index is not None
        listed = _status_list(session)
        assert listed.status_of(chain[1].status_list_index) is EntryStatus.REVOKED
        assert listed.sequence == 3
        log = verify_log(session, trust_from_database(session))
        assert log.ok, log.report()
        kinds = [e.kind for e in session.exec(select(LogEntry).order_by(col(LogEntry.leaf_index)))]
        assert kinds[-6:] == [EntryKind.REISSUE] * 4 + [EntryKind.REVOKE] * 2
        person = session.get(Person, target.person_id)
        assert person is not None and person.name == "王晓明"
        messages = session.exec(
            select(Notification).where(Notification.person_id == target.person_id)
        ).all()
        assert sorted(m.kind for m in messages) == sorted(
            ["documents-issued", "document-reissued", "document-reissued", "document-revoked"]
        )
