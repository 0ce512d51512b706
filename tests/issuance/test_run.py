"""Running a batch in this process: what it records, stores, logs and sends."""

from __future__ import annotations

import json

from sqlmodel import select

from certsvc.audit.models import AuditEvent
from certsvc.documents.inspect import read_contents
from certsvc.issuance.checks import check_batch, check_store
from certsvc.issuance.models import BatchItem, Document, DocumentStatus, IssuanceBatch, ItemState
from certsvc.issuance.numbering import parse_document_number
from certsvc.issuance.runner import run_batch
from certsvc.notifications.service import outbox_path
from certsvc.transparency.service import trust_from_database, verify_log
from tests.issuance.conftest import World


def test_a_batch_issues_two_documents_per_candidate(world: World) -> None:
    batch_id = world.approved_batch()
    report = run_batch(world.db, world.settings, world.ctx.keystore, batch_id, world.options())

    with world.db.session() as session:
        batch = session.get(IssuanceBatch, batch_id)
        items = session.exec(select(BatchItem).where(BatchItem.batch_id == batch_id)).all()
        documents = session.exec(select(Document).where(Document.batch_id == batch_id)).all()
        actions = [e.action for e in session.exec(select(AuditEvent)).all()]
        assert check_batch(session, world.store, batch_id) == []
        assert check_store(session, world.store) == []
        log = verify_log(session, trust_from_database(session))
    assert batch is not None and batch.status.value == "completed"
    assert log.ok, log.report()
    assert log.entries == len(documents) and log.tree_heads == 1
    assert batch.tree_size == len(documents)
    assert report.issued == len(items) == batch.candidates
    assert all(item.state is ItemState.ISSUED for item in items)
    assert len(documents) == 2 * len(items)
    assert {d.status for d in documents} == {DocumentStatus.ISSUED}
    assert report.documents == {"certificate": len(items), "notice": len(items)}
    # a candidate's two documents share their sequence; numbers parse with their type
    for item in items:
        pair = [d for d in documents if d.item_id == item.id]
        parsed = [parse_document_number(d.document_number) for d in pair]
        assert {p.sequence for p in parsed} == {item.sequence}
        assert {p.document_type for p in parsed} == {d.document_type for d in pair}
    # the stored PDF carries its number and the token recorded in the registry
    sample = documents[0]
    assert sample.sha256 is not None
    contents = read_contents(world.store.read(sample.sha256))
    assert contents.record is not None
    assert contents.record.document_number == sample.document_number
    assert contents.token == sample.token
    # audit: one issue event per document, the run and the completion
    assert actions.count("document:issue") == len(documents)
    assert "batch:run" in actions and "batch:complete" in actions
    # one message per holder, delivered to the outbox file
    lines = [json.loads(line) for line in outbox_path(world.settings).read_text().splitlines()]
    assert len(lines) == len(items)
    assert all("/my" in line["body"] for line in lines)
    assert (world.settings.data_dir / "reports" / f"batch-{batch_id}.txt").exists()
