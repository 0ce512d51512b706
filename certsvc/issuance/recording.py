"""Recording what the workers made: the coordinator's one transaction per finished task.

For each candidate: the registry rows become *issued* with hash, size and signer; the
transparency-log entries, the audit events and the holder's message are written; the staged
files are synced to disk first and promoted to their content address after the commit. A
candidate whose documents could not be made is *failed*, its numbers voided; one whose result
no longer stands is *skipped*.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from certsvc.agencies.models import Agency
from certsvc.audit.events import Action, record, record_many
from certsvc.db.database import Database
from certsvc.db.types import utcnow
from certsvc.documents.material import SignerSpec
from certsvc.issuance import logbook
from certsvc.issuance.models import BatchItem, Document, DocumentStatus, ItemState
from certsvc.issuance.records import reserved_documents
from certsvc.issuance.store import DocumentStore
from certsvc.issuance.worker import CandidateOutcome, MadeDocument
from certsvc.notifications import service as notifications
from certsvc.revocation.status_list import status_entry
from certsvc.roster.models import Person

_DOCUMENTS: sa.Table = Document.__table__  # type: ignore[attr-defined]
_ITEMS: sa.Table = BatchItem.__table__  # type: ignore[attr-defined]


@dataclass
class RunState:
    """One run of a batch: what it works on, and what it has counted so far."""

    batch_id: int
    number: int
    agency: Agency
    issued_on: date
    spec: SignerSpec
    base_url: str
    started: float = field(default_factory=time.perf_counter)
    cpu_started: float = field(default_factory=time.process_time)
    candidates_done: int = 0
    failed: int = 0
    skipped: int = 0
    recovered_files: int = 0
    discarded_files: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    # told of each task's outcomes once they are recorded (the run's metrics)
    observer: Callable[[list[CandidateOutcome]], None] | None = None


def skip_candidates(
    session: Session, run: RunState, actor: str, candidates: list[Any], refusals: dict[int, str]
) -> None:
    for candidate in candidates:
        reason = refusals.get(candidate.item.id or 0)
        if reason is None:
            continue
        candidate.item.state = ItemState.SKIPPED
        candidate.item.reason = reason
        candidate.item.updated_at = utcnow()
        session.add(candidate.item)
        run.skipped += 1
        record(
            session,
            Action.BATCH_SKIP,
            actor=actor,
            subject_type="batch_item",
            subject_id=candidate.item.id,
            details={"batch_id": run.batch_id, "result_id": candidate.result.id, "reason": reason},
        )


def record_outcomes(
    db: Database,
    store: DocumentStore,
    run: RunState,
    actor: str,
    now: datetime,
    outcomes: list[CandidateOutcome],
) -> None:
    """Record finished candidates in one transaction, then promote their staged files."""
    store.sync()  # the workers' staged files reach the disk before the registry names them
    to_promote: list[tuple[str, str]] = []
    to_discard: list[str] = []
    issued: list[tuple[int, logbook.IssuedEntry, MadeDocument]] = []
    issued_items: list[int] = []
    messages: list[notifications.NewMessage] = []
    with db.session() as session:
        items = {
            item.id or 0: item
            for item in session.exec(
                select(BatchItem).where(col(BatchItem.id).in_([o.item_id for o in outcomes]))
            ).all()
        }
        documents = reserved_documents(session, list(items))
        persons = _persons(session, [item.person_id for item in items.values()])
        for outcome in outcomes:
            item = items[outcome.item_id]
            error = outcome.error or _staging_mismatch(store, outcome)
            if item.state is not ItemState.RESERVED:
                to_discard.extend(made.staged_name for made in outcome.made)
                continue
            if error is not None:
                _fail(session, item, documents[item.id or 0], error, run, actor)
                to_discard.extend(made.staged_name for made in outcome.made)
                continue
            made_by_id = {made.document_id: made for made in outcome.made}
            for document in documents[item.id or 0]:
                made = made_by_id[document.id or 0]
                entry = logbook.IssuedEntry(
                    document.document_number,
                    document.document_type,
                    made.sha256,
                    made.signer_key_id,
                    document.issued_on,
                )
                issued.append((document.id or 0, entry, made))
                to_promote.append((made.staged_name, made.sha256))
            issued_items.append(item.id or 0)
            person = persons[item.person_id]
            messages.append(
                notifications.NewMessage(
                    dedupe_key=f"batch:{run.batch_id}:person:{item.person_id}",
                    person_id=item.person_id,
                    kind=notifications.DOCUMENTS_ISSUED,
                    recipient=person.mobile,
                    body=notifications.documents_issued_body(
                        agency_name=run.agency.name,
                        holder_name=person.name,
                        base_url=run.base_url,
                    ),
                )
            )
            run.candidates_done += 1
            for step, ms in outcome.timings_ms.items():
                run.timings_ms[step] = run.timings_ms.get(step, 0.0) + ms
        _mark_issued(session, run, actor, now, issued, issued_items, messages)
    for name, sha256 in to_promote:
        store.promote(name, sha256, verified=True)  # checked before the commit
    for name in to_discard:
        store.discard(name)
    if run.observer is not None:
        run.observer(outcomes)


def _mark_issued(
    session: Session,
    run: RunState,
    actor: str,
    now: datetime,
    issued: list[tuple[int, logbook.IssuedEntry, MadeDocument]],
    item_ids: list[int],
    messages: list[notifications.NewMessage],
) -> None:
    """The registry rows and items issued, the log entries, the messages and the audit events,
    written as a few statements each for the whole task (no per-row model objects)."""
    if not issued:
        return
    positions = logbook.log_issued(
        session, [entry for _, entry, _ in issued], run.agency, run.batch_id, actor=actor
    )
    session.execute(
        sa.update(_DOCUMENTS).where(_DOCUMENTS.c.id == sa.bindparam("document_id")),
        [
            {
                "document_id": document_id,
                "status": DocumentStatus.ISSUED,
                "sha256": made.sha256,
                "size": made.size,
                "signer_key_id": made.signer_key_id,
                "token": made.token,
                "issued_at": now,
                "log_index": position,
                # its entry in the status list, as its record names it (see the worker)
                "status_list_index": status_entry(run.base_url, document_id).index,
                "status_list_url": status_entry(run.base_url, document_id).url,
            }
            for (document_id, _, made), position in zip(issued, positions, strict=True)
        ],
    )
    session.execute(
        sa.update(_ITEMS).where(_ITEMS.c.id == sa.bindparam("item_id")),
        [
            {"item_id": item_id, "state": ItemState.ISSUED, "updated_at": now}
            for item_id in item_ids
        ],
    )
    notifications.enqueue(session, messages)
    record_many(
        session,
        Action.DOCUMENT_ISSUE,
        actor=actor,
        subject_type="document",
        events=[
            (
                entry.document_number,
                {
                    "batch_id": run.batch_id,
                    "sha256": entry.sha256,
                    "signer_key_id": entry.signer_key_id,
                    "log_index": position,
                },
            )
            for (_, entry, _), position in zip(issued, positions, strict=True)
        ],
    )


def _persons(session: Session, ids: list[int]) -> dict[int, Person]:
    return {
        person.id or 0: person
        for person in session.exec(select(Person).where(col(Person.id).in_(ids))).all()
    }


def _staging_mismatch(store: DocumentStore, outcome: CandidateOutcome) -> str | None:
    for made in outcome.made:
        staged = store.staged_file(made.staged_name)
        if staged is None or staged.sha256 != made.sha256 or staged.size != made.size:
            return f"staged file {made.staged_name} is missing or differs from what was signed"
    return None


def _fail(
    session: Session,
    item: BatchItem,
    documents: list[Document],
    error: str,
    run: RunState,
    actor: str,
) -> None:
    for document in documents:
        document.status = DocumentStatus.VOID
        document.failure = error[:500]
        session.add(document)
    item.state = ItemState.FAILED
    item.reason = error[:500]
    item.updated_at = utcnow()
    session.add(item)
    run.failed += 1
    record(
        session,
        Action.DOCUMENT_FAIL,
        actor=actor,
        subject_type="batch_item",
        subject_id=item.id,
        details={
            "batch_id": run.batch_id,
            "voided": [document.document_number for document in documents],
            "reason": error[:300],
        },
    )
