"""What the registry says about a document, for the verifier.

The verifier asks one question — :meth:`Registry.lookup` by document number — and checks the
answer itself: the stored hash against the uploaded bytes, the stored token against the one
presented, the status, and the transparency-log evidence (the logged entry, its audit path and
the signed tree head), which it verifies with the trust anchors. A registry that lies about
the log is caught there: the tree head is signed by an agency key and the path must lead to it.

Offline there is no registry (``None``): those checks are skipped and say so.

Revocations and reissues are read from the transparency log, which is where they are recorded
with their time: a ``revoke`` entry for the document gives ``revoked_at`` (when it was
logged), ``revocation_reason`` (its ``reason`` detail) and ``revocation_effective_on`` (its
``effective_on``: a revocation approved ahead of its day is logged when it is approved); a
``reissue`` entry whose ``replaces`` detail names the document gives ``superseded_by`` (that
entry's document number). The status-list URL and index are the registry row's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlmodel import Session, col, select

from certsvc.issuance.models import Document
from certsvc.transparency.models import EntryKind, LogEntry, TreeHead


@dataclass(frozen=True)
class LogEvidence:
    """A document's place in the transparency log, unverified: the verifier checks it."""

    leaf_index: int
    entry: bytes  # the entry exactly as hashed into the tree
    tree_size: int | None = None  # the tree head the proof leads to (None: no proof yet)
    path: tuple[bytes, ...] = ()
    tree_head: bytes | None = None  # the signed tree head (COSE_Sign1) of ``tree_size`` entries


@dataclass(frozen=True)
class RegistryEntry:
    """One registry row, as far as a verifier may know it (no person data)."""

    document_number: str
    document_type: str  # "certificate" or "notice"
    status: str  # reserved, issued, void, revoked, superseded
    issued_on: date
    sha256: str | None = None  # of the signed PDF as stored
    signer_key_id: str | None = None
    token: str | None = None  # the QR token as issued (decimal digits)
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    superseded_by: str | None = None
    log: LogEvidence | None = None
    # where the status is published: the status list's URL and the document's entry there
    status_list_url: str | None = None
    status_list_index: int | None = None
    # from when a revocation takes effect (a day in the bureau's time zone); a later day than
    # today is a revocation decided and scheduled, not yet in effect
    revocation_effective_on: date | None = None


class Registry(Protocol):
    def lookup(self, document_number: str) -> RegistryEntry | None:
        """The registry's row for ``document_number``, or None if there is none."""
        ...


class MemoryRegistry:
    """A registry held in a dict: for tests, and for a verifier fed an export."""

    def __init__(self, entries: dict[str, RegistryEntry] | None = None) -> None:
        self.entries = dict(entries or {})

    def lookup(self, document_number: str) -> RegistryEntry | None:
        return self.entries.get(document_number)


class DatabaseRegistry:
    """The registry in the database (``document``, ``log_entry``, ``tree_head``), read in the
    caller's session: two to four small indexed queries per look-up."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lookup(self, document_number: str) -> RegistryEntry | None:
        session = self.session
        document = session.exec(
            select(Document).where(Document.document_number == document_number)
        ).first()
        if document is None:
            return None
        revoked_at: datetime | None = None
        reason: str | None = None
        effective_on: date | None = None
        superseded_by: str | None = None
        evidence: LogEvidence | None = None
        entries = session.exec(
            select(LogEntry)
            .where(LogEntry.document_number == document_number)
            .order_by(col(LogEntry.leaf_index))
        ).all()
        for entry in entries:
            if entry.leaf_index == document.log_index:
                evidence = self._evidence(document, bytes(entry.entry))
            elif entry.kind is EntryKind.REVOKE:
                revoked_at = entry.created_at
                reason = _detail(bytes(entry.entry), "reason")
                effective_on = _day(_detail(bytes(entry.entry), "effective_on"))
        if document.status.value == "superseded":
            superseded_by = self._successor(document_number)
        return RegistryEntry(
            document_number=document.document_number,
            document_type=document.document_type.value,
            status=document.status.value,
            issued_on=document.issued_on,
            sha256=document.sha256,
            signer_key_id=document.signer_key_id,
            token=document.token,
            revoked_at=revoked_at,
            revocation_reason=reason,
            superseded_by=superseded_by,
            log=evidence,
            status_list_url=document.status_list_url,
            status_list_index=document.status_list_index,
            revocation_effective_on=effective_on,
        )

    def _evidence(self, document: Document, entry: bytes) -> LogEvidence:
        assert document.log_index is not None
        if document.proof_tree_size is None or document.inclusion_proof is None:
            return LogEvidence(document.log_index, entry)
        head = self.session.exec(
            select(TreeHead)
            .where(TreeHead.tree_size == document.proof_tree_size)
            .order_by(col(TreeHead.id))
        ).first()
        try:
            path = tuple(bytes.fromhex(node) for node in document.inclusion_proof)
        except (TypeError, ValueError):
            path = ()
        return LogEvidence(
            document.log_index,
            entry,
            document.proof_tree_size,
            path,
            bytes(head.envelope) if head is not None else None,
        )

    def _successor(self, document_number: str) -> str | None:
        for entry in self.session.exec(
            select(LogEntry)
            .where(LogEntry.kind == EntryKind.REISSUE)
            .order_by(col(LogEntry.leaf_index).desc())
            .limit(1000)
        ):
            if _detail(bytes(entry.entry), "replaces") == document_number:
                return entry.document_number
        return None


def _detail(entry: bytes, name: str) -> str | None:
    try:
        details = json.loads(entry).get("details") or {}
    except (ValueError, AttributeError):
        return None
    value = details.get(name) if isinstance(details, dict) else None
    return value if isinstance(value, str) else None


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text is not None else None
    except ValueError:
        return None
