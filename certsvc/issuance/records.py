"""Reserving a candidate's documents, and the records they are made from."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from certsvc.agencies.models import Agency
from certsvc.db.types import utcnow
from certsvc.documents.record import DocumentRecord, DocumentType
from certsvc.issuance.models import BatchItem, Document, DocumentStatus, ItemState
from certsvc.issuance.numbering import DocumentNumber, allocate_sequences
from certsvc.publicity.models import Objection, ObjectionStatus
from certsvc.roster.catalog import parse_series
from certsvc.roster.models import Person, ReviewResult, ReviewSession


@dataclass(frozen=True)
class Candidate:
    item: BatchItem
    result: ReviewResult
    person: Person
    review: ReviewSession


def load_candidates(session: Session, items: Sequence[BatchItem]) -> list[Candidate]:
    ids = [item.result_id for item in items]
    rows = session.exec(
        select(ReviewResult, Person, ReviewSession)
        .join(Person, col(Person.id) == col(ReviewResult.person_id))
        .join(ReviewSession, col(ReviewSession.id) == col(ReviewResult.session_id))
        .where(col(ReviewResult.id).in_(ids))
    ).all()
    by_result = {result.id: (result, person, review) for result, person, review in rows}
    return [Candidate(item, *by_result[item.result_id]) for item in items]


def standing_refusal(session: Session, candidates: Sequence[Candidate]) -> dict[int, str]:
    """Candidates whose result no longer stands at run time, by item id, with why."""
    held = set(
        session.exec(
            select(Objection.result_id).where(
                col(Objection.result_id).in_([c.result.id for c in candidates]),
                Objection.status == ObjectionStatus.OPEN,
            )
        ).all()
    )
    refusals: dict[int, str] = {}
    for candidate in candidates:
        item_id = candidate.item.id or 0
        if candidate.result.withdrawn_at is not None:
            refusals[item_id] = (
                f"result withdrawn: {candidate.result.withdrawn_reason or 'no reason recorded'}"
            )
        elif candidate.result.id in held:
            refusals[item_id] = "held by an open objection"
    return refusals


def reserve(
    session: Session,
    candidates: Sequence[Candidate],
    *,
    agency: Agency,
    batch_id: int,
    issued_on: date,
) -> dict[int, list[Document]]:
    """Allocate each candidate a sequence number and reserve its certificate and notice in the
    registry (in the caller's transaction); the documents by item id."""
    now = utcnow()
    groups: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        series = parse_series(candidate.review.series)
        groups[(series.code, candidate.review.level.code)].append(candidate)
    rows: list[dict[str, object]] = []
    for (series_code, _), members in sorted(groups.items()):
        level = members[0].review.level
        sequences = allocate_sequences(
            session,
            year=issued_on.year,
            region_code=agency.region_code,
            series_code=series_code,
            level=level,
            count=len(members),
        )
        for candidate, sequence in zip(members, sequences, strict=True):
            number = DocumentNumber(
                issued_on.year,
                agency.region_code,
                series_code,
                level,
                DocumentType.CERTIFICATE,
                sequence,
            )
            rows.extend(
                {
                    "document_number": str(number.companion(kind)),
                    "document_type": kind,
                    "status": DocumentStatus.RESERVED,
                    "batch_id": batch_id,
                    "item_id": candidate.item.id,
                    "result_id": candidate.result.id,
                    "person_id": candidate.person.id,
                    "agency_id": agency.id,
                    "issued_on": issued_on,
                    "created_at": now,
                }
                for kind in DocumentType
            )
            candidate.item.state = ItemState.RESERVED
            candidate.item.sequence = sequence
            candidate.item.updated_at = now
            session.add(candidate.item)
    session.execute(sa.insert(Document), rows)
    session.flush()
    return reserved_documents(session, [candidate.item.id or 0 for candidate in candidates])


def record_for(document: Document, candidate: Candidate, agency: Agency) -> DocumentRecord:
    person, review = candidate.person, candidate.review
    return DocumentRecord(
        document_type=document.document_type,
        document_number=document.document_number,
        holder_name=person.name,
        id_type=person.id_type,
        id_number=person.id_number,
        gender=person.gender,
        birth_date=person.birth_date,
        work_unit=person.work_unit,
        series=review.series,
        specialty=review.specialty,
        level=review.level,
        qualification_name=review.qualification_name,
        committee_name=review.committee_name,
        qualified_on=review.review_date,
        agency_code=agency.code,
        agency_name=agency.name,
        issued_on=document.issued_on,
        signer_key_id="",  # the factory fills in its signer's key id
    )


def reserved_documents(session: Session, item_ids: Sequence[int]) -> dict[int, list[Document]]:
    documents: dict[int, list[Document]] = defaultdict(list)
    for document in session.exec(
        select(Document)
        .where(col(Document.item_id).in_(item_ids), Document.status == DocumentStatus.RESERVED)
        .order_by(col(Document.id))
    ).all():
        documents[document.item_id or 0].append(document)
    return documents
