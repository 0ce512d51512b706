"""Issuance's side of the transparency log: each issued document an entry, each completed
batch a signed tree head, each document its inclusion proof against that head.

Entries carry what a verifier may see (number, type, the signed PDF's hash, signer key id, issue
date, batch) and never the holder's name or identity number: the log is public.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session

from certsvc.agencies.models import Agency
from certsvc.documents.record import DocumentType
from certsvc.issuance.models import Document, DocumentStatus
from certsvc.keys.handles import PrivateKeyHandle
from certsvc.transparency import service as transparency
from certsvc.transparency.models import EntryKind

PROOFS_AT_ONCE = 500


@dataclass(frozen=True)
class IssuedEntry:
    """What the log says of one issued document (public fields only)."""

    document_number: str
    document_type: DocumentType
    sha256: str
    signer_key_id: str
    issued_on: date


def log_issued(
    session: Session,
    documents: Sequence[IssuedEntry],
    agency: Agency,
    batch_id: int,
    *,
    actor: str,
) -> list[int]:
    """Append an ``issue`` entry per document (in the caller's transaction); their positions."""
    entries = [
        transparency.NewEntry(
            kind=EntryKind.ISSUE,
            document_number=document.document_number,
            document_sha256=document.sha256,
            details={
                "document_type": document.document_type.value,
                "signer_key_id": document.signer_key_id,
                "issued_on": document.issued_on.isoformat(),
                "agency_code": agency.code,
                "batch_id": batch_id,
            },
        )
        for document in documents
    ]
    return [entry.leaf_index for entry in transparency.append(session, entries, actor=actor)]


def close_batch(
    session: Session,
    *,
    handle: PrivateKeyHandle,
    key_id: str,
    batch_id: int,
    actor: str,
    public_base_url: str,
) -> int:
    """Sign a tree head over the log as it stands and give every document of the batch its
    inclusion proof against it; the tree head's size."""
    head = transparency.sign_tree_head(
        session,
        handle,
        key_id,
        actor=actor,
        origin=transparency.origin_for(public_base_url),
        batch_ref=f"batch:{batch_id}",
    )
    table = Document.__table__  # type: ignore[attr-defined]
    after = 0
    while True:
        rows = session.execute(
            sa.select(table.c.id, table.c.log_index)
            .where(
                table.c.batch_id == batch_id,
                table.c.status == DocumentStatus.ISSUED.value,
                table.c.id > after,
            )
            .order_by(table.c.id)
            .limit(PROOFS_AT_ONCE)
        ).all()
        if not rows:
            return head.tree_size
        after = rows[-1].id
        proofs = transparency.inclusion_proofs(
            session, [row.log_index for row in rows], head.tree_size
        )
        session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("document_id")),
            [
                {
                    "document_id": row.id,
                    "inclusion_proof": [node.hex() for node in proof.path],
                    "proof_tree_size": proof.tree_size,
                }
                for row, proof in zip(rows, proofs, strict=True)
            ],
        )
