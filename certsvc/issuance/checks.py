"""``certsvc batch verify``: the invariants a batch must hold, however its runs were stopped.

* every candidate ended issued, failed or skipped;
* an issued candidate has exactly one current certificate and one current notice, and no
  reservation left; a failed one has none;
* every issued document's file is in the store with the recorded hash and size, its number is
  well formed, its log entry names it, and its inclusion proof leads to its batch's tree head;
* nothing is left in staging, and the store holds no file the registry does not know;
* each issued holder has exactly one message in the outbox for the batch.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict

from sqlmodel import Session, col, select

from certsvc.errors import InputError
from certsvc.issuance.models import (
    BatchItem,
    BatchStatus,
    Document,
    DocumentStatus,
    IssuanceBatch,
    ItemState,
)
from certsvc.issuance.numbering import parse_document_number
from certsvc.issuance.store import DocumentStore
from certsvc.notifications.models import Notification
from certsvc.transparency import merkle
from certsvc.transparency.models import LogEntry, TreeHead

CHUNK = 500


def check_batch(session: Session, store: DocumentStore, batch_id: int) -> list[str]:
    problems: list[str] = []
    batch = session.get(IssuanceBatch, batch_id)
    if batch is None:
        return [f"no batch {batch_id}"]
    if batch.status is not BatchStatus.COMPLETED:
        problems.append(f"batch {batch_id} is {batch.status.value}, not completed")
    current: dict[int, Counter[str]] = defaultdict(Counter)
    roots = {
        head.tree_size: head.root_hash
        for head in session.exec(
            select(TreeHead).where(TreeHead.batch_ref == f"batch:{batch_id}")
        ).all()
    }
    after = 0
    while True:
        documents = session.exec(
            select(Document)
            .where(Document.batch_id == batch_id, col(Document.id) > after)
            .order_by(col(Document.id))
            .limit(CHUNK)
        ).all()
        if not documents:
            break
        after = documents[-1].id or after
        for document in documents:
            problems.extend(_check_document(store, document))
            problems.extend(_check_inclusion(session, document, roots))
            if document.status in (DocumentStatus.RESERVED, DocumentStatus.ISSUED):
                current[document.item_id or 0][f"{document.document_type}:{document.status}"] += 1
    issued_people = set()
    for item in session.exec(select(BatchItem).where(BatchItem.batch_id == batch_id)).all():
        seen = current.get(item.id or 0, Counter())
        if item.state is ItemState.ISSUED:
            issued_people.add(item.person_id)
            expected = Counter({"certificate:issued": 1, "notice:issued": 1})
            if seen != expected:
                problems.append(f"item {item.id} is issued but has {dict(seen)} current documents")
        elif item.state in (ItemState.FAILED, ItemState.SKIPPED):
            if seen:
                problems.append(f"item {item.id} is {item.state.value} but has {dict(seen)}")
        else:
            problems.append(f"item {item.id} is still {item.state.value}")
    messages = Counter(
        session.exec(
            select(Notification.person_id).where(
                col(Notification.dedupe_key).startswith(f"batch:{batch_id}:")
            )
        ).all()
    )
    for person_id in issued_people:
        if messages[person_id] != 1:
            problems.append(f"person {person_id} has {messages[person_id]} messages for the batch")
    for person_id in set(messages) - issued_people:
        problems.append(f"person {person_id} has a message but no issued documents")
    return problems


def _check_document(store: DocumentStore, document: Document) -> list[str]:
    number = document.document_number
    problems = []
    try:
        parsed = parse_document_number(number)
        if parsed.document_type is not document.document_type:
            problems.append(f"{number}: its type letter says {parsed.document_type}")
    except InputError as exc:
        problems.append(f"{number}: {exc}")
    if document.status is not DocumentStatus.ISSUED:
        return problems
    if document.sha256 is None or not store.exists(document.sha256):
        return [*problems, f"{number}: issued, but its file is not in the store"]
    data = store.read(document.sha256)
    if hashlib.sha256(data).hexdigest() != document.sha256 or len(data) != document.size:
        problems.append(f"{number}: the stored file does not match the recorded hash and size")
    if document.log_index is None:
        problems.append(f"{number}: issued, but not in the transparency log")
    return problems


def _check_inclusion(session: Session, document: Document, roots: dict[int, bytes]) -> list[str]:
    """The document's stored inclusion proof leads from its log entry to its batch's signed
    tree head, and that entry names this document and hash."""
    if document.status is not DocumentStatus.ISSUED or document.log_index is None:
        return []
    number = document.document_number
    entry = session.get(LogEntry, document.log_index)
    if entry is None or (entry.document_number, entry.document_sha256) != (
        number,
        document.sha256,
    ):
        return [f"{number}: log entry {document.log_index} is not this document"]
    root = roots.get(document.proof_tree_size or -1)
    if root is None or document.inclusion_proof is None:
        return [f"{number}: no inclusion proof against a tree head of its batch"]
    try:
        merkle.verify_inclusion(
            entry.leaf_hash,
            document.log_index,
            document.proof_tree_size or 0,
            [bytes.fromhex(node) for node in document.inclusion_proof],
            root,
        )
    except merkle.ProofError as exc:
        return [f"{number}: its inclusion proof does not verify: {exc}"]
    return []


def check_store(session: Session, store: DocumentStore) -> list[str]:
    """Files staged and never recorded, and stored files no registry row names."""
    problems = [f"staged file left behind: {name}" for name in store.staged()]
    hashes = list(store.hashes())
    known: set[str] = set()
    for start in range(0, len(hashes), CHUNK):
        chunk = hashes[start : start + CHUNK]
        known.update(
            value
            for value in session.exec(
                select(Document.sha256).where(col(Document.sha256).in_(chunk))
            ).all()
            if value is not None
        )
    problems.extend(f"orphan file in the store: {value}" for value in hashes if value not in known)
    return problems
