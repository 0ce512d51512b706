"""What a killed run leaves behind, set up directly, and how the next run finishes from it;
and the checks that find what should never be left behind."""

from __future__ import annotations

import hashlib

import pytest
from sqlmodel import Session, col, select

from certsvc.agencies.models import Agency
from certsvc.issuance import runner
from certsvc.issuance.batches import get_batch
from certsvc.issuance.checks import check_batch, check_store
from certsvc.issuance.models import BatchItem, Document, DocumentStatus, ItemState
from certsvc.issuance.recording import RunState
from certsvc.issuance.records import load_candidates, reserve
from certsvc.issuance.store import FileDocumentStore
from certsvc.issuance.worker import staged_name
from certsvc.notifications.models import Notification
from certsvc.transparency.service import trust_from_database, verify_log
from tests.issuance.conftest import World

RESERVED_BY_THE_KILLED_RUN = 5


class Killed(BaseException):
    """The process dying at this point (not an error anything should handle)."""


def _all_clean(world: World, batch_id: int) -> None:
    with world.db.session() as session:
        assert check_batch(session, world.store, batch_id) == []
        assert check_store(session, world.store) == []
        log = verify_log(session, trust_from_database(session))
    assert log.ok, log.report()


def _reserve_some(world: World, batch_id: int) -> list[Document]:
    """What a run killed right after reserving its first candidates leaves: the run begun
    (counted, issue date fixed) and a few candidates RESERVED with numbered registry rows."""
    run, _ = runner._begin(world.db, world.settings, world.ctx.keystore, batch_id, world.options())
    with world.db.session() as session:
        items = session.exec(
            select(BatchItem)
            .where(BatchItem.batch_id == batch_id)
            .order_by(col(BatchItem.id))
            .limit(RESERVED_BY_THE_KILLED_RUN)
        ).all()
        reserved = reserve(
            session,
            load_candidates(session, items),
            agency=run.agency,
            batch_id=batch_id,
            issued_on=run.issued_on,
        )
    return [document for documents in reserved.values() for document in documents]


def _documents(session: Session, batch_id: int) -> list[Document]:
    return list(
        session.exec(
            select(Document).where(Document.batch_id == batch_id).order_by(col(Document.id))
        ).all()
    )


def test_reserved_candidates_are_issued_under_the_numbers_they_had(world: World) -> None:
    batch_id = world.approved_batch()
    reserved = _reserve_some(world, batch_id)
    assert len(reserved) == 2 * RESERVED_BY_THE_KILLED_RUN
    with world.db.session() as session:
        states = session.exec(select(BatchItem.state).where(BatchItem.batch_id == batch_id)).all()
        sequences = {
            item.id: item.sequence
            for item in session.exec(select(BatchItem).where(BatchItem.batch_id == batch_id))
        }
    assert states.count(ItemState.RESERVED) == RESERVED_BY_THE_KILLED_RUN

    report = runner.run_batch(
        world.db, world.settings, world.ctx.keystore, batch_id, world.options()
    )

    with world.db.session() as session:
        documents = {document.id: document for document in _documents(session, batch_id)}
        items = {
            item.id: item
            for item in session.exec(select(BatchItem).where(BatchItem.batch_id == batch_id))
        }
        batch = get_batch(session, batch_id)
    for before in reserved:
        after = documents[before.id]
        assert after.document_number == before.document_number
        assert after.status is DocumentStatus.ISSUED and after.sha256 is not None
        assert after.issued_on == before.issued_on
        assert items[before.item_id].sequence == sequences[before.item_id]
    assert len(documents) == 2 * batch.candidates  # no second reservation for anyone
    assert {d.status for d in documents.values()} == {DocumentStatus.ISSUED}
    assert batch.runs == 2 and report.issued == batch.candidates
    assert report.last_run is not None and report.last_run.candidates == batch.candidates
    _all_clean(world, batch_id)


def test_files_staged_for_recorded_documents_are_promoted_by_the_next_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the registry recorded a first group of candidates as issued and before
    their staged files were moved into the store."""
    batch_id = world.approved_batch()

    def die(self: FileDocumentStore, *args: object, **kwargs: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(FileDocumentStore, "promote", die)
        with pytest.raises(Killed):
            runner.run_batch(
                world.db, world.settings, world.ctx.keystore, batch_id, world.options()
            )
    with world.db.session() as session:
        recorded = [d for d in _documents(session, batch_id) if d.status is DocumentStatus.ISSUED]
    assert recorded, "the killed run recorded nothing"
    staged = world.store.staged()
    assert sorted(staged) == sorted(staged_name(d.id or 0, 1) for d in recorded)
    assert list(world.store.hashes()) == []

    report = runner.run_batch(
        world.db, world.settings, world.ctx.keystore, batch_id, world.options()
    )

    assert report.last_run is not None
    assert report.last_run.recovered_files == len(recorded)
    assert report.last_run.discarded_files == 0
    assert world.store.staged() == []
    with world.db.session() as session:
        after = {d.id: d for d in _documents(session, batch_id)}
    for document in recorded:  # promoted as they were, not signed again
        assert after[document.id].sha256 == document.sha256
        assert world.store.exists(document.sha256 or "")
    assert report.issued == len(after) // 2
    _all_clean(world, batch_id)


def test_a_staged_file_moved_back_after_completion_is_promoted_on_recovery(
    world: World,
) -> None:
    """The store lost an object while its staged copy survived (a crash between the registry
    commit and the rename): the next run's recovery puts it back."""
    batch_id = world.approved_batch()
    runner.run_batch(world.db, world.settings, world.ctx.keystore, batch_id, world.options())
    with world.db.session() as session:
        document = _documents(session, batch_id)[3]
    assert document.sha256 is not None
    name = staged_name(document.id or 0, 1)
    world.store.path_for(document.sha256).rename(world.store.root / "staging" / name)
    with world.db.session() as session:
        assert check_store(session, world.store) == [f"staged file left behind: {name}"]
        problems = check_batch(session, world.store, batch_id)
    assert problems == [f"{document.document_number}: issued, but its file is not in the store"]

    with world.db.session() as session:
        agency = session.get(Agency, get_batch(session, batch_id).agency_id)
    assert agency is not None
    # recovery alone (a whole run of a completed batch is refused before it gets there)
    run = RunState(batch_id, 2, agency, document.issued_on, spec=None, base_url="")  # type: ignore[arg-type]
    runner._recover(world.db, world.store, run)

    assert (run.recovered_files, run.discarded_files) == (1, 0)
    assert world.store.read(document.sha256)
    _all_clean(world, batch_id)


def test_stray_and_half_written_staged_files_are_discarded(world: World) -> None:
    batch_id = world.approved_batch()
    reserved = _reserve_some(world, batch_id)
    victim = reserved[0]
    name = staged_name(victim.id or 0, 1)
    junk = b"%PDF-1.7 signed by a run that was killed before it reported"
    world.store.ensure().stage(name, junk)
    partial = world.store.root / "staging" / f".{staged_name(reserved[1].id or 0, 1)}.partial"
    partial.write_bytes(b"%PDF-1.7 half")
    stranger = world.store.root / "staging" / "notes.pdf"
    stranger.write_bytes(b"not ours")

    report = runner.run_batch(
        world.db, world.settings, world.ctx.keystore, batch_id, world.options()
    )

    assert report.last_run is not None
    assert report.last_run.discarded_files == 2  # the stray and the stranger
    assert report.last_run.recovered_files == 0
    assert not partial.exists() and not stranger.exists()
    assert world.store.staged() == []
    with world.db.session() as session:
        signed = session.get(Document, victim.id)
    assert signed is not None and signed.status is DocumentStatus.ISSUED
    assert signed.document_number == victim.document_number
    assert signed.sha256 != hashlib.sha256(junk).hexdigest()
    assert not world.store.exists(hashlib.sha256(junk).hexdigest())
    _all_clean(world, batch_id)


# -- the checks -------------------------------------------------------------------------------


def test_the_checks_name_an_unfinished_batch(world: World) -> None:
    batch_id = world.approved_batch()
    with world.db.session() as session:
        problems = check_batch(session, world.store, batch_id)
        first = session.exec(
            select(BatchItem.id).where(BatchItem.batch_id == batch_id).order_by(col(BatchItem.id))
        ).first()
        assert check_batch(session, world.store, 404) == ["no batch 404"]
    assert problems[0] == f"batch {batch_id} is approved, not completed"
    assert f"item {first} is still pending" in problems
    assert len(problems) == 1 + get_candidates(world, batch_id)


def get_candidates(world: World, batch_id: int) -> int:
    with world.db.session() as session:
        return get_batch(session, batch_id).candidates


def test_the_checks_name_each_thing_that_is_wrong(world: World) -> None:
    batch_id = world.approved_batch()
    runner.run_batch(world.db, world.settings, world.ctx.keystore, batch_id, world.options())
    _all_clean(world, batch_id)
    store = world.store
    with world.db.session() as session:
        documents = _documents(session, batch_id)
        missing, changed, edited, halved = documents[0], documents[2], documents[4], documents[6]
        # an issued candidate that lost its notice; a holder whose message vanished
        halved_row = session.get(Document, halved.id)
        assert halved_row is not None
        halved_row.status = DocumentStatus.VOID
        session.add(halved_row)
        edited_row = session.get(Document, edited.id)
        assert edited_row is not None and edited_row.inclusion_proof
        node = edited_row.inclusion_proof[0]
        edited_row.inclusion_proof = [
            ("0" if node[0] != "0" else "1") + node[1:],
            *edited_row.inclusion_proof[1:],
        ]
        session.add(edited_row)
        silent = session.exec(
            select(Notification).where(Notification.person_id == documents[8].person_id)
        ).one()
        session.delete(silent)
        halved_item = halved.item_id
    assert missing.sha256 and changed.sha256
    store.path_for(missing.sha256).unlink()
    store.path_for(changed.sha256).write_bytes(b"%PDF-1.7 not what was signed")
    orphan = b"%PDF-1.7 a file nobody recorded"
    orphan_hash = hashlib.sha256(orphan).hexdigest()
    store.path_for(orphan_hash).parent.mkdir(parents=True, exist_ok=True)
    store.path_for(orphan_hash).write_bytes(orphan)
    store.stage("d999999.r9.pdf", b"%PDF-1.7 left in staging")

    with world.db.session() as session:
        batch_problems = check_batch(session, store, batch_id)
        store_problems = check_store(session, store)

    assert sorted(store_problems) == sorted(
        ["staged file left behind: d999999.r9.pdf", f"orphan file in the store: {orphan_hash}"]
    )
    expected = {
        f"{missing.document_number}: issued, but its file is not in the store",
        f"{changed.document_number}: the stored file does not match the recorded hash and size",
        f"person {documents[8].person_id} has 0 messages for the batch",
    }
    for problem in expected:
        assert problem in batch_problems, (problem, batch_problems)
    proof_problems = [p for p in batch_problems if "inclusion proof does not verify" in p]
    assert len(proof_problems) == 1
    assert proof_problems[0].startswith(f"{edited.document_number}: its inclusion proof")
    item_problems = [p for p in batch_problems if p.startswith(f"item {halved_item} ")]
    assert len(item_problems) == 1 and "is issued but has" in item_problems[0]
    assert f"{halved.document_type.value}:issued" not in item_problems[0]
    assert len(batch_problems) == len(expected) + 2
