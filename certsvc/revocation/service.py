"""Revoking and reissuing documents, two people at a time, and publishing the status list.

**Asking.** An operator asks for a change of a document *and its companion* (the certificate
and notice sharing a sequence number): :func:`request_revocation` (reason code, effective date)
or :func:`request_reissue` (corrected holder details, or none for a layout error). Nothing in
the registry changes yet; a document has at most one open change.

**Deciding.** Another member of staff approves (:func:`approve_change`) or rejects
(:func:`reject_change`); whoever asked may do neither.

**Revoking** is one transaction: the registry rows become *revoked* (when, why, from which
date); a ``revoke`` entry per document in the transparency log and a signed tree head; an audit
event per document; one message to the holder; a new signed status list.

**Scheduling.** An effective date after today (at most :data:`MAX_SCHEDULE` ahead) is a
revocation decided now and in effect from that day's first instant in the bureau's time zone:
the approval writes the registry rows (*revoked*, ``revocation_effective_on`` ahead), the log
entries, the audit events and the holder's message at once; verifiers treat the document as
current until that instant (with a note), and no status list is valid past it
(:func:`publish_status_list`), so :func:`publish_if_due` (``certsvc status publish --if-due``,
every few minutes) publishes the list that shows it revoked as soon as it takes effect.

**Reissuing** follows the batch's crash-safe order:

1. *reserve*: the new numbers (the next sequence number of the same year, region, series and
   level) are allocated and written on the approved change, and the new registry rows are
   inserted *reserved* (``replaces``), in one transaction, before anything is signed — a
   number is never reused, whatever happens next, and each new record can name its
   status-list entry (the row's id, :func:`~certsvc.revocation.status_list.status_entry`);
2. *sign*: the corrected records are rendered and signed in memory;
3. *record*, in one transaction: the old rows become *superseded* (``superseded_by``), the
   reserved rows *issued*, the signed PDFs are staged under the new rows' ids before the
   commit, ``reissue`` log entries (naming the replaced number) with a tree head
   and inclusion proofs, audit events, the holder's message, a new status list;
4. *promote* the staged files to the store.

Killed before 3 commits, approving the change again (anyone but its requester) resumes it at
step 2 under the same numbers; killed after, the staged files are promoted by that re-approval
or by any batch run's recovery (their hashes are in the registry).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from certsvc.agencies.models import Agency
from certsvc.audit.events import Action, record, record_many
from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.db.types import utcnow
from certsvc.documents.factory import DocumentFactory, IssuedDocument
from certsvc.documents.material import open_signing_material, read_signer_spec, renderer_for
from certsvc.documents.record import DocumentRecord, DocumentType
from certsvc.documents.sign import SigningMaterial
from certsvc.errors import FieldError, InputError, KeyStoreError, NotFoundError, StateError
from certsvc.issuance.models import Document, DocumentStatus
from certsvc.issuance.numbering import DocumentNumber, allocate_sequences, parse_document_number
from certsvc.issuance.store import DocumentStore, FileDocumentStore
from certsvc.issuance.worker import document_id_of
from certsvc.keys.files import Passphrase
from certsvc.keys.handles import KeyAlgorithm, PrivateKeyHandle
from certsvc.keys.service import KeyStore
from certsvc.notifications import service as notifications
from certsvc.revocation.models import (
    ChangeKind,
    ChangeStatus,
    DocumentChange,
    RevocationReason,
    StatusListPublication,
)
from certsvc.revocation.status_list import (
    DEFAULT_VALIDITY,
    MEDIA_TYPE,
    EntryStatus,
    content_sha256,
    effective_from,
    encode_bitstring,
    list_length,
    sign_status_list,
    status_entry,
    status_list_payload,
    status_list_url,
)
from certsvc.roster.models import Person, ReviewResult, ReviewSession
from certsvc.roster.person_fields import normalize_name
from certsvc.transparency import service as transparency
from certsvc.transparency.models import EntryKind
from certsvc.verification import verdict

STATUS_LIST_MEDIA_TYPE = f"application/{MEDIA_TYPE}"
DOCUMENT_REVOKED = "document-revoked"
DOCUMENT_REISSUED = "document-reissued"
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")  # CERTSVC_TIMEZONE's default: effective days' zone
MAX_SCHEDULE = timedelta(days=366)  # how far ahead a revocation may be scheduled
PUBLISH_MARGIN = timedelta(hours=1)  # `status publish --if-due`: publish this long before due
MAX_CACHE_SECONDS = 300  # how long a cache may keep the served status list (five minutes)
CORRECTABLE = {"name": 64, "work_unit": 128}  # holder details a reissue may correct, max length
REASON_LABELS = {
    RevocationReason.FRAUD_ON_RECHECK: "复核发现弄虚作假",
    RevocationReason.UPHELD_COMPLAINT: "投诉举报经查属实",
    RevocationReason.ISSUED_IN_ERROR: "误发",
    RevocationReason.HOLDER_REQUEST: "本人申请",
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_OPEN = (ChangeStatus.PENDING, ChangeStatus.APPROVED)


# -- reading the registry ------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryStatus:
    """What the registry says of one document number, for the verifiers."""

    document_number: str
    status: DocumentStatus
    revoked_at: datetime | None
    reason: str | None
    effective_on: date | None
    superseded_by: str | None
    replaces: str | None
    status_list_url: str | None
    status_list_index: int | None

    def for_verdict(self) -> verdict.RegistryStatus:
        """The part a verification verdict shows (:mod:`certsvc.verification.verdict`)."""
        return verdict.RegistryStatus(
            status=self.status.value,
            revoked_at=self.revoked_at,
            revocation_reason=self.reason,
            superseded_by=self.superseded_by,
        )


def registry_status(session: Session, document_number: str) -> RegistryStatus | None:
    """The registry's word on ``document_number`` (as printed; not re-parsed), or None if no
    document has that number."""
    document = session.exec(
        select(Document).where(Document.document_number == document_number)
    ).first()
    if document is None:
        return None
    return RegistryStatus(
        document_number=document.document_number,
        status=document.status,
        revoked_at=document.revoked_at,
        reason=document.revocation_reason,
        effective_on=document.revocation_effective_on,
        superseded_by=document.superseded_by,
        replaces=document.replaces,
        status_list_url=document.status_list_url,
        status_list_index=document.status_list_index,
    )


# -- asking ----------------------------------------------------------------------------------


def parse_reason(text: str) -> RevocationReason:
    try:
        return RevocationReason(text.strip().lower())
    except ValueError:
        raise InputError(
            f"{text!r} is not a revocation reason: use one of "
            f"{', '.join(reason.value for reason in RevocationReason)}"
        ) from None


def parse_effective_date(text: str) -> date:
    if not _DATE.fullmatch(text.strip()):
        raise InputError(f"effective date {text!r} is not a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"effective date {text!r} is not a real date") from None


def _documents_of(session: Session, number_text: str, *, lock: bool = False) -> list[Document]:
    """The document numbered ``number_text`` first, then its companion if it has one."""
    number = parse_document_number(number_text)
    wanted = [str(number)] + [
        str(number.companion(kind)) for kind in DocumentType if kind is not number.document_type
    ]
    query = select(Document).where(col(Document.document_number).in_(wanted))
    if lock:
        query = query.with_for_update()
    found = {document.document_number: document for document in session.exec(query)}
    if wanted[0] not in found:
        raise NotFoundError(f"no document is numbered {wanted[0]}")
    return [found[n] for n in wanted if n in found]


def _changeable(session: Session, number_text: str, what: str) -> list[Document]:
    documents = _documents_of(session, number_text)
    target = documents[0]
    if target.status is not DocumentStatus.ISSUED:
        extra = f" by {target.superseded_by}" if target.superseded_by else ""
        if target.status is DocumentStatus.REVOKED and target.revocation_effective_on:
            extra = f" (in effect from {target.revocation_effective_on})"
        raise StateError(
            f"document {target.document_number} is {target.status.value}{extra}: only an issued "
            f"document can be {what}"
        )
    chosen = [target] + [d for d in documents[1:] if d.status is DocumentStatus.ISSUED]
    ids = [document.id or 0 for document in chosen]
    for change in session.exec(
        select(DocumentChange).where(col(DocumentChange.status).in_(_OPEN))
    ).all():
        if set(change.document_ids) & set(ids):
            raise StateError(
                f"document {target.document_number} already has an open change "
                f"(request {change.id}, {change.kind.value}, {change.status.value}); approve or "
                "reject it first"
            )
    return chosen


def request_revocation(
    session: Session,
    document_number: str,
    *,
    reason: str,
    effective: str,
    note: str,
    actor: str,
    today: date,
) -> DocumentChange:
    """Ask for the revocation of a document and its companion; another person approves."""
    parsed_reason = parse_reason(reason)
    effective_on = parse_effective_date(effective)
    documents = _changeable(session, document_number, "revoked")
    target = documents[0]
    if effective_on < target.issued_on:
        raise InputError(
            f"effective date {effective_on} is before the document was issued ({target.issued_on})"
        )
    if effective_on > today + MAX_SCHEDULE:
        raise InputError(
            f"effective date {effective_on} is more than a year after today ({today}): a "
            f"revocation may be scheduled at most {MAX_SCHEDULE.days} days ahead"
        )
    return _new_change(
        session,
        ChangeKind.REVOKE,
        documents,
        note=note,
        actor=actor,
        reason=parsed_reason,
        effective_on=effective_on,
    )


def request_reissue(
    session: Session,
    document_number: str,
    *,
    corrections: Mapping[str, str],
    note: str,
    actor: str,
) -> DocumentChange:
    """Ask for a corrected document and companion (``corrections`` of the holder's ``name``
    and ``work_unit``; none for a layout error); another person approves."""
    cleaned: dict[str, str] = {}
    for field, value in corrections.items():
        if field not in CORRECTABLE:
            raise InputError(
                f"{field!r} cannot be corrected by a reissue: only {', '.join(CORRECTABLE)}"
            )
        text = " ".join(value.split())
        if field == "name":
            try:
                text = normalize_name(value)
            except FieldError as exc:
                raise InputError(f"the corrected name is not acceptable: {exc.reason}") from None
        if not text or len(text) > CORRECTABLE[field]:
            raise InputError(f"the corrected {field} must be 1-{CORRECTABLE[field]} characters")
        cleaned[field] = text
    documents = _changeable(session, document_number, "reissued")
    person = session.get(Person, documents[0].person_id)
    assert person is not None
    if cleaned and all(getattr(person, field) == value for field, value in cleaned.items()):
        raise InputError("the corrections change nothing: the holder's details already read so")
    return _new_change(
        session, ChangeKind.REISSUE, documents, note=note, actor=actor, corrections=cleaned
    )


def _new_change(
    session: Session,
    kind: ChangeKind,
    documents: Sequence[Document],
    *,
    note: str,
    actor: str,
    reason: RevocationReason | None = None,
    effective_on: date | None = None,
    corrections: Mapping[str, str] | None = None,
) -> DocumentChange:
    note = note.strip()
    if not 1 <= len(note) <= 500:
        raise InputError("say why in a note of 1-500 characters (--note)")
    change = DocumentChange(
        kind=kind,
        status=ChangeStatus.PENDING,
        document_number=documents[0].document_number,
        document_ids=[document.id or 0 for document in documents],
        person_id=documents[0].person_id,
        reason=reason,
        effective_on=effective_on,
        corrections=dict(corrections or {}),
        note=note,
        requested_by=actor,
    )
    session.add(change)
    session.flush()
    record(
        session,
        Action.DOCUMENT_CHANGE_REQUEST,
        actor=actor,
        subject_type="document_change",
        subject_id=change.id,
        details={
            "kind": kind.value,
            "documents": [document.document_number for document in documents],
            "reason": reason.value if reason else None,
            "effective_on": effective_on.isoformat() if effective_on else None,
            "corrected_fields": sorted(corrections or {}),
        },
    )
    return change


def get_change(session: Session, change_id: int, *, lock: bool = False) -> DocumentChange:
    query = select(DocumentChange).where(DocumentChange.id == change_id)
    if lock:
        query = query.with_for_update()
    change = session.exec(query).first()
    if change is None:
        raise NotFoundError(f"no revocation or reissue request {change_id}")
    return change


def list_changes(session: Session, *, status: ChangeStatus | None = None) -> list[DocumentChange]:
    query = select(DocumentChange).order_by(col(DocumentChange.id))
    if status is not None:
        query = query.where(DocumentChange.status == status)
    return list(session.exec(query))


def reject_change(session: Session, change_id: int, *, actor: str, reason: str) -> DocumentChange:
    change = get_change(session, change_id, lock=True)
    if change.status is not ChangeStatus.PENDING:
        raise StateError(f"request {change_id} is {change.status.value}; only a pending one")
    _check_second_person(change, actor, "reject")
    if not 1 <= len(reason.strip()) <= 500:
        raise InputError("give the rejection a reason of 1-500 characters")
    change.status = ChangeStatus.REJECTED
    change.decided_by = actor
    change.decided_at = utcnow()
    change.rejection = reason.strip()
    session.add(change)
    record(
        session,
        Action.DOCUMENT_CHANGE_REJECT,
        actor=actor,
        subject_type="document_change",
        subject_id=change.id,
        details={"kind": change.kind.value, "document_number": change.document_number},
    )
    return change


def _check_second_person(change: DocumentChange, actor: str, verb: str) -> None:
    if change.requested_by == actor:
        raise StateError(
            f"request {change.id} was asked for by {actor}; another member of staff must {verb} it"
        )


# -- approving -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApproveOptions:
    actor: str
    passphrase: Passphrase | None = None
    now: datetime | None = None
    status_list_validity: timedelta = DEFAULT_VALIDITY


def approve_change(
    db: Database,
    settings: Settings,
    keystore: KeyStore,
    change_id: int,
    options: ApproveOptions,
) -> DocumentChange:
    """Approve (or, for an approved reissue killed before it was recorded, resume) a change;
    the change as done. Every check is made before anything is written."""
    now = options.now or utcnow()
    store = FileDocumentStore(settings.document_store_dir).ensure()
    with db.session() as session:
        change = get_change(session, change_id)
        if change.kind is ChangeKind.REISSUE:
            _recover_files(session, store, change_id)
        if change.status is ChangeStatus.DONE:
            raise StateError(f"request {change_id} is already done")
        if change.status is ChangeStatus.REJECTED:
            raise StateError(f"request {change_id} was rejected by {change.decided_by}")
        _check_second_person(change, options.actor, "approve")
        documents = _load(session, change)
        agency = session.get(Agency, documents[0].agency_id)
        assert agency is not None
        spec = read_signer_spec(
            session,
            agency_code=agency.code,
            at=now,
            tsa_url=settings.tsa_url,
            tsa_trust_roots=settings.tsa_trust_roots,
        )
    if change.kind is ChangeKind.REISSUE and spec.signer.algorithm is not KeyAlgorithm.ECDSA_P256:
        raise KeyStoreError(
            f"signer {spec.signer.key_id} is {spec.signer.algorithm.value}: QR tokens need an "
            "ECDSA P-256 document signer; nothing was changed"
        )
    material = open_signing_material(spec, keystore, at=now, passphrase=options.passphrase)
    try:
        if change.kind is ChangeKind.REVOKE:
            return _revoke(db, settings, material, change_id, options, now)
        return _reissue(db, settings, material, store, change_id, options, now)
    finally:
        material.close()


def _load(session: Session, change: DocumentChange, *, lock: bool = False) -> list[Document]:
    query = select(Document).where(col(Document.id).in_(change.document_ids))
    if lock:
        query = query.with_for_update()
    by_id = {document.id: document for document in session.exec(query)}
    documents = [by_id[i] for i in change.document_ids if i in by_id]
    for document in documents:
        if document.status is not DocumentStatus.ISSUED:
            raise StateError(
                f"document {document.document_number} is now {document.status.value}; request "
                f"{change.id} cannot go ahead (reject it)"
            )
    return documents


def _open_for_approval(session: Session, change_id: int, actor: str) -> DocumentChange:
    change = get_change(session, change_id, lock=True)
    _check_second_person(change, actor, "approve")
    return change


def _revoke(
    db: Database,
    settings: Settings,
    material: SigningMaterial,
    change_id: int,
    options: ApproveOptions,
    now: datetime,
) -> DocumentChange:
    with db.session() as session:
        change = _open_for_approval(session, change_id, options.actor)
        if change.status is not ChangeStatus.PENDING:
            raise StateError(f"request {change_id} is {change.status.value}, not pending")
        documents = _load(session, change, lock=True)
        reason = change.reason
        assert reason is not None and change.effective_on is not None
        zone = ZoneInfo(settings.timezone)
        # decided now, in effect from its day: until then the document verifies as genuine
        # (with a note) and the status list shows it valid; the log entry and the holder's
        # message are written now, at approval
        scheduled = effective_from(change.effective_on, zone) > now
        for document in documents:
            document.status = DocumentStatus.REVOKED
            document.revoked_at = now
            document.revocation_reason = reason.value
            document.revocation_effective_on = change.effective_on
            session.add(document)
        session.flush()
        entries = transparency.append(
            session,
            [
                transparency.NewEntry(
                    kind=EntryKind.REVOKE,
                    document_number=document.document_number,
                    document_sha256=document.sha256 or "",
                    details={
                        "document_type": document.document_type.value,
                        "reason": reason.value,
                        "effective_on": change.effective_on.isoformat(),
                        "request_id": change_id,
                    },
                )
                for document in documents
            ],
            actor=options.actor,
            now=now,
        )
        head = _sign_head(session, material, settings, change_id, options.actor, now)
        record_many(
            session,
            Action.DOCUMENT_REVOKE,
            actor=options.actor,
            subject_type="document",
            events=[
                (
                    document.document_number,
                    {
                        "request_id": change_id,
                        "requested_by": change.requested_by,
                        "reason": reason.value,
                        "effective_on": change.effective_on.isoformat(),
                        "scheduled": scheduled,
                        "log_index": entry.leaf_index,
                        "tree_size": head,
                    },
                )
                for document, entry in zip(documents, entries, strict=True)
            ],
        )
        person, agency = _holder_and_agency(session, documents[0])
        notifications.enqueue(
            session,
            [
                notifications.NewMessage(
                    dedupe_key=f"change:{change_id}",
                    person_id=person.id or 0,
                    kind=DOCUMENT_REVOKED,
                    recipient=person.mobile,
                    body=revoked_body(
                        agency_name=agency.name,
                        holder_name=person.name,
                        numbers=[document.document_number for document in documents],
                        reason=reason,
                        effective_on=change.effective_on,
                        scheduled=scheduled,
                    ),
                )
            ],
        )
        _publish_and_finish(session, change, material, settings, options, now)
        return change


def _publish_and_finish(
    session: Session,
    change: DocumentChange,
    material: SigningMaterial,
    settings: Settings,
    options: ApproveOptions,
    now: datetime,
) -> None:
    """The new status list, then the change marked done: the last step of every approval."""
    publish_status_list(
        session,
        material.handle,
        material.key_id,
        base_url=settings.public_base_url,
        actor=options.actor,
        now=now,
        validity=options.status_list_validity,
        zone=ZoneInfo(settings.timezone),
        reason=f"request {change.id} ({change.kind.value}) approved",
    )
    _finish(change, options.actor, now, session)


def _finish(change: DocumentChange, actor: str, now: datetime, session: Session) -> None:
    change.status = ChangeStatus.DONE
    change.decided_by = change.decided_by or actor
    change.decided_at = change.decided_at or now
    change.completed_at = now
    session.add(change)


def _sign_head(
    session: Session,
    material: SigningMaterial,
    settings: Settings,
    change_id: int,
    actor: str,
    now: datetime,
) -> int:
    head = transparency.sign_tree_head(
        session,
        material.handle,
        material.key_id,
        actor=actor,
        origin=transparency.origin_for(settings.public_base_url),
        batch_ref=f"change:{change_id}",
        now=now,
    )
    return head.tree_size


def _holder_and_agency(session: Session, document: Document) -> tuple[Person, Agency]:
    person = session.get(Person, document.person_id)
    agency = session.get(Agency, document.agency_id)
    assert person is not None and agency is not None
    return person, agency


def revoked_body(
    *,
    agency_name: str,
    holder_name: str,
    numbers: Sequence[str],
    reason: RevocationReason,
    effective_on: date,
    scheduled: bool = False,
) -> str:
    when = (
        f"将自 {effective_on.isoformat()} 起撤销（此前仍然有效）"
        if scheduled
        else f"自 {effective_on.isoformat()} 起撤销"
    )
    return (
        f"【{agency_name}】{holder_name}您好，您的电子职称文书（编号 {'、'.join(numbers)}）"
        f"{when}，原因：{REASON_LABELS[reason]}。如有疑问请联系发证机关。"
    )


def reissued_body(
    *, agency_name: str, holder_name: str, replaced: Mapping[str, str], base_url: str
) -> str:
    pairs = "、".join(f"{old} 由 {new} 替代" for old, new in replaced.items())
    return (
        f"【{agency_name}】{holder_name}您好，您的电子职称文书已更正并重新签发（{pairs}），"
        f"原文书不再有效，请登录 {base_url.rstrip('/')}/my 下载。"
    )


# -- reissuing -------------------------------------------------------------------------------


def _reissue(
    db: Database,
    settings: Settings,
    material: SigningMaterial,
    store: DocumentStore,
    change_id: int,
    options: ApproveOptions,
    now: datetime,
) -> DocumentChange:
    issued_on = now.astimezone(ZoneInfo(settings.timezone)).date()
    # 1. reserve the new numbers on the change (once; a resumed change keeps them)
    with db.session() as session:
        change = _open_for_approval(session, change_id, options.actor)
        documents = _load(session, change, lock=True)
        if change.status is ChangeStatus.PENDING:
            _allocate(session, change, documents, issued_on, options.actor, now)
        elif change.status is not ChangeStatus.APPROVED:
            raise StateError(f"request {change_id} is {change.status.value}")
        reserved = _reserve_rows(session, change, documents, settings.public_base_url, now)
        records = _records(session, change, documents, reserved, settings.public_base_url)
    # 2. sign
    factory = DocumentFactory(renderer_for(settings), material, base_url=settings.public_base_url)
    try:
        made = [factory.make(new_record) for new_record in records]
    finally:
        factory.close()
    # 3. record
    staged: list[tuple[str, str]] = []
    try:
        with db.session() as session:
            change = get_change(session, change_id, lock=True)
            if change.status is not ChangeStatus.APPROVED:
                raise StateError(f"request {change_id} is {change.status.value}, not approved")
            documents = _load(session, change, lock=True)
            _record_reissue(
                session, settings, material, store, change, documents, made, options, now, staged
            )
    except BaseException:
        for name, _ in staged:
            store.discard(name)
        raise
    # 4. promote
    for name, sha256 in staged:
        store.promote(name, sha256, verified=True)
    store.sync()
    return change


def _allocate(
    session: Session,
    change: DocumentChange,
    documents: Sequence[Document],
    issued_on: date,
    actor: str,
    now: datetime,
) -> None:
    agency = session.get(Agency, documents[0].agency_id)
    assert agency is not None
    old = parse_document_number(documents[0].document_number)
    (sequence,) = allocate_sequences(
        session,
        year=issued_on.year,
        region_code=agency.region_code,
        series_code=old.series_code,
        level=old.level,
        count=1,
    )
    new = DocumentNumber(
        issued_on.year, agency.region_code, old.series_code, old.level, old.document_type, sequence
    )
    change.new_numbers = {
        document.document_number: str(new.companion(document.document_type))
        for document in documents
    }
    change.new_issued_on = issued_on
    change.status = ChangeStatus.APPROVED
    change.decided_by = actor
    change.decided_at = now
    session.add(change)
    record(
        session,
        Action.DOCUMENT_CHANGE_APPROVE,
        actor=actor,
        subject_type="document_change",
        subject_id=change.id,
        details={"kind": change.kind.value, "new_numbers": dict(change.new_numbers)},
    )


def _reserve_rows(
    session: Session,
    change: DocumentChange,
    documents: Sequence[Document],
    base_url: str,
    now: datetime,
) -> dict[str, Document]:
    """The new documents' registry rows, *reserved* (beside the issued ones they will
    supersede) in the transaction that allocated their numbers, so that each new record can
    name its status-list entry before it is signed; by old number. A resumed change finds
    them; one approved before rows were reserved gets them now."""
    numbers = [change.new_numbers[document.document_number] for document in documents]
    found = {
        row.document_number: row
        for row in session.exec(
            select(Document).where(col(Document.document_number).in_(numbers)).with_for_update()
        )
    }
    rows: dict[str, Document] = {}
    for old in documents:
        number = change.new_numbers[old.document_number]
        row = found.get(number)
        if row is None:
            row = Document(
                document_number=number,
                document_type=old.document_type,
                status=DocumentStatus.RESERVED,
                result_id=old.result_id,
                person_id=old.person_id,
                agency_id=old.agency_id,
                issued_on=change.new_issued_on or now.date(),
                replaces=old.document_number,
                created_at=now,
            )
            session.add(row)
        elif row.status is not DocumentStatus.RESERVED or row.replaces != old.document_number:
            raise StateError(
                f"document {number} is {row.status.value}, not reserved for request {change.id}"
            )
        rows[old.document_number] = row
    session.flush()
    for row in rows.values():
        entry = status_entry(base_url, row.id or 0)
        row.status_list_index, row.status_list_url = entry.index, entry.url
        session.add(row)
    return rows


def _corrected(person: Person, corrections: Mapping[str, Any]) -> dict[str, Any]:
    values = {"name": person.name, "work_unit": person.work_unit}
    values.update({k: v for k, v in corrections.items() if k in CORRECTABLE})
    return values


def _records(
    session: Session,
    change: DocumentChange,
    documents: Sequence[Document],
    reserved: Mapping[str, Document],
    base_url: str,
) -> list[DocumentRecord]:
    person, agency = _holder_and_agency(session, documents[0])
    result = session.get(ReviewResult, documents[0].result_id)
    assert result is not None
    review = session.get(ReviewSession, result.session_id)
    assert review is not None
    values = _corrected(person, change.corrections)
    issued_on = change.new_issued_on
    if issued_on is None:
        raise StateError(f"request {change.id} has no issue date for its new documents")
    return [
        DocumentRecord(
            document_type=document.document_type,
            document_number=change.new_numbers[document.document_number],
            holder_name=values["name"],
            id_type=person.id_type,
            id_number=person.id_number,
            gender=person.gender,
            birth_date=person.birth_date,
            work_unit=values["work_unit"],
            series=review.series,
            specialty=review.specialty,
            level=review.level,
            qualification_name=review.qualification_name,
            committee_name=review.committee_name,
            qualified_on=review.review_date,
            agency_code=agency.code,
            agency_name=agency.name,
            issued_on=issued_on,
            signer_key_id="",
            status=status_entry(base_url, reserved[document.document_number].id or 0),
        )
        for document in documents
    ]


def _record_reissue(
    session: Session,
    settings: Settings,
    material: SigningMaterial,
    store: DocumentStore,
    change: DocumentChange,
    documents: Sequence[Document],
    made: Sequence[IssuedDocument],
    options: ApproveOptions,
    now: datetime,
    staged: list[tuple[str, str]],
) -> None:
    change_id = change.id or 0
    person, agency = _holder_and_agency(session, documents[0])
    corrections = {k: v for k, v in change.corrections.items() if k in CORRECTABLE}
    if corrections:
        for field, value in corrections.items():
            setattr(person, field, value)
        person.updated_at = now
        session.add(person)
        record(
            session,
            Action.PERSON_UPDATE,
            actor=options.actor,
            subject_type="person",
            subject_id=person.id,
            details={"fields": sorted(corrections), "request_id": change_id},
        )
    for document in documents:  # superseded first: one current document per result and type
        document.status = DocumentStatus.SUPERSEDED
        document.superseded_by = change.new_numbers[document.document_number]
        session.add(document)
    session.flush()
    reserved = _reserve_rows(session, change, documents, settings.public_base_url, now)
    new_documents: list[Document] = []
    for old, issued in zip(documents, made, strict=True):
        new = reserved[old.document_number]
        if issued.record.status != status_entry(settings.public_base_url, new.id or 0):
            raise StateError(
                f"the signed record of {new.document_number} names another status entry than "
                "its registry row; approve the request again"
            )
        new.status = DocumentStatus.ISSUED
        new.issued_on = issued.record.issued_on
        new.sha256 = issued.sha256
        new.size = len(issued.pdf)
        new.signer_key_id = issued.record.signer_key_id
        new.token = issued.token_text
        new.issued_at = now
        session.add(new)
        new_documents.append(new)
    session.flush()
    for new, issued in zip(new_documents, made, strict=True):
        name = f"d{new.id}.x{change_id}.pdf"
        store.stage(name, issued.pdf)
        staged.append((name, issued.sha256))
    entries = transparency.append(
        session,
        [
            transparency.NewEntry(
                kind=EntryKind.REISSUE,
                document_number=new.document_number,
                document_sha256=new.sha256 or "",
                details={
                    "document_type": new.document_type.value,
                    "replaces": new.replaces,
                    "signer_key_id": new.signer_key_id or "",
                    "issued_on": new.issued_on.isoformat(),
                    "agency_code": agency.code,
                    "request_id": change_id,
                },
            )
            for new in new_documents
        ],
        actor=options.actor,
        now=now,
    )
    tree_size = _sign_head(session, material, settings, change_id, options.actor, now)
    proofs = transparency.inclusion_proofs(
        session, [entry.leaf_index for entry in entries], tree_size
    )
    for new, entry, proof in zip(new_documents, entries, proofs, strict=True):
        new.log_index = entry.leaf_index
        new.inclusion_proof = [node.hex() for node in proof.path]
        new.proof_tree_size = proof.tree_size
        session.add(new)
    record_many(
        session,
        Action.DOCUMENT_REISSUE,
        actor=options.actor,
        subject_type="document",
        events=[
            (
                new.document_number,
                {
                    "request_id": change_id,
                    "requested_by": change.requested_by,
                    "replaces": new.replaces,
                    "sha256": new.sha256,
                    "signer_key_id": new.signer_key_id,
                    "log_index": new.log_index,
                    "corrected_fields": sorted(corrections),
                },
            )
            for new in new_documents
        ],
    )
    notifications.enqueue(
        session,
        [
            notifications.NewMessage(
                dedupe_key=f"change:{change_id}",
                person_id=person.id or 0,
                kind=DOCUMENT_REISSUED,
                recipient=person.mobile,
                body=reissued_body(
                    agency_name=agency.name,
                    holder_name=person.name,
                    replaced=dict(change.new_numbers),
                    base_url=settings.public_base_url,
                ),
            )
        ],
    )
    _publish_and_finish(session, change, material, settings, options, now)


def _recover_files(session: Session, store: DocumentStore, change_id: int) -> None:
    """Promote this change's staged files the registry recorded; discard the others."""
    suffix = f".x{change_id}.pdf"
    for name in store.staged():
        if not name.endswith(suffix):
            continue
        document = session.get(Document, document_id_of(name) or 0)
        staged = store.staged_file(name)
        if (
            document is not None
            and staged is not None
            and document.sha256 == staged.sha256
            and document.status is not DocumentStatus.VOID
        ):
            store.promote(name, staged.sha256)
        else:
            store.discard(name)
    store.sync()


# -- the status list -------------------------------------------------------------------------


def highest_index(session: Session) -> int | None:
    """The highest status-list index given out (one step down the unique index)."""
    return session.exec(
        select(Document.status_list_index)
        .where(col(Document.status_list_index).is_not(None))
        .order_by(col(Document.status_list_index).desc())
        .limit(1)
    ).first()


def scheduled_effects(session: Session, zone: tzinfo, since: date) -> list[datetime]:
    """When the revocations effective on ``since`` or later take effect, sorted (a few rows:
    the effective day is looked up only for revoked rows that have one)."""
    days = session.exec(
        select(col(Document.revocation_effective_on))
        .where(
            Document.status == DocumentStatus.REVOKED,
            col(Document.revocation_effective_on).is_not(None),
            col(Document.revocation_effective_on) >= since,
        )
        .distinct()
    ).all()
    return sorted(effective_from(day, zone) for day in days if day is not None)


def flagged_entries(
    session: Session, as_of: datetime, zone: tzinfo
) -> tuple[int | None, list[tuple[int, EntryStatus]]]:
    """The highest status-list index given out, and every index that is not valid at
    ``as_of``: superseded, or revoked with its effective day begun (a row without an
    effective day is in effect, as it always was). One pass over the changed rows."""
    flagged: list[tuple[int, EntryStatus]] = []
    for index, status, day in session.exec(
        select(
            col(Document.status_list_index),
            col(Document.status),
            col(Document.revocation_effective_on),
        ).where(
            col(Document.status_list_index).is_not(None),
            col(Document.status).in_([DocumentStatus.REVOKED, DocumentStatus.SUPERSEDED]),
        )
    ):
        if index is None:
            continue
        if status is DocumentStatus.SUPERSEDED:
            flagged.append((index, EntryStatus.SUPERSEDED))
        elif day is None or effective_from(day, zone) <= as_of:
            flagged.append((index, EntryStatus.REVOKED))
    return highest_index(session), flagged


def publish_status_list(
    session: Session,
    handle: PrivateKeyHandle,
    key_id: str,
    *,
    base_url: str,
    actor: str,
    now: datetime | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
    zone: tzinfo = DEFAULT_ZONE,
    reason: str = "published on request",
) -> StatusListPublication:
    """Build, sign and record the status list as the registry stands in this transaction, as
    of ``now``. Its ``next_update`` is ``validity`` later, or the moment the next scheduled
    revocation takes effect if that comes first: a list never outlives what it says."""
    if validity <= timedelta(0) or validity > timedelta(days=31):
        raise InputError("a status list is valid for more than nothing and at most 31 days")
    issued_at = (now or utcnow()).replace(microsecond=0)
    highest, flagged = flagged_entries(session, issued_at, zone)
    length = list_length(highest)
    next_update = issued_at + validity
    upcoming = [
        moment
        for moment in scheduled_effects(session, zone, issued_at.astimezone(zone).date())
        if moment > issued_at
    ]
    if upcoming and upcoming[0] < next_update:
        next_update = upcoming[0]
    last = session.exec(
        select(StatusListPublication.sequence)
        .order_by(col(StatusListPublication.sequence).desc())
        .limit(1)
        .with_for_update()
    ).first()
    sequence = (last or 0) + 1
    payload = status_list_payload(
        url=status_list_url(base_url),
        sequence=sequence,
        issued_at=issued_at,
        next_update=next_update,
        length=length,
        encoded_list=encode_bitstring(length, flagged),
    )
    content = sign_status_list(payload, handle, key_id)
    publication = StatusListPublication(
        sequence=sequence,
        issued_at=issued_at,
        next_update=next_update,
        length=length,
        flagged=len(flagged),
        key_id=key_id,
        content=content,
        sha256=content_sha256(content),
        created_by=actor,
    )
    session.add(publication)
    session.flush()
    record(
        session,
        Action.STATUS_LIST_PUBLISH,
        actor=actor,
        subject_type="status_list",
        subject_id=sequence,
        details={
            "length": length,
            "flagged": len(flagged),
            "key_id": key_id,
            "next_update": next_update.isoformat(),
            "why": reason,
        },
    )
    return publication


def publication_due(
    session: Session, now: datetime, zone: tzinfo, margin: timedelta = PUBLISH_MARGIN
) -> str | None:
    """Why a new status list is due at ``now`` (``certsvc status publish --if-due``), or None:

    * none was ever published;
    * a scheduled revocation has taken effect since the latest list was issued (that list's
      ``next_update`` was that moment: it must be replaced now);
    * documents were given entries beyond the latest list's length (a batch since);
    * the latest list's ``next_update`` is within ``margin`` — unless it is the moment a
      scheduled revocation takes effect, still ahead: a list published now would end there
      too, so the flip itself is awaited."""
    latest = latest_status_list(session)
    if latest is None:
        return "no status list has been published yet"
    since = latest.issued_at.astimezone(zone).date() - timedelta(days=1)
    effects = scheduled_effects(session, zone, since)
    took_effect = [moment for moment in effects if latest.issued_at < moment <= now]
    if took_effect:
        return (
            f"a scheduled revocation took effect at {took_effect[0].isoformat()}, after status "
            f"list {latest.sequence} was issued"
        )
    highest = highest_index(session)
    if highest is not None and highest >= latest.length:
        return (
            f"documents have status-list entries up to {highest}, beyond status list "
            f"{latest.sequence}'s {latest.length} entries"
        )
    if now >= latest.next_update - margin and not (
        latest.next_update in effects and now < latest.next_update
    ):
        return (
            f"status list {latest.sequence} is due to be replaced at "
            f"{latest.next_update.isoformat()}"
        )
    return None


def serving_headers(publication: StatusListPublication, now: datetime) -> dict[str, str]:
    """HTTP headers for serving ``publication`` at its URL: cacheable until a quarter of its
    remaining validity has passed and at most :data:`MAX_CACHE_SECONDS`, so that a new list
    reaches verifiers within one refresh and a cache never serves a list past its
    ``next_update``."""
    remaining = max(0, int((publication.next_update - now).total_seconds()))
    max_age = min(MAX_CACHE_SECONDS, remaining // 4)
    return {
        "Content-Type": STATUS_LIST_MEDIA_TYPE,
        "Cache-Control": f"public, max-age={max_age}, must-revalidate",
        "ETag": f'"{publication.sha256}"',
        "Last-Modified": format_datetime(publication.issued_at.astimezone(UTC), usegmt=True),
    }


def latest_status_list(session: Session) -> StatusListPublication | None:
    return session.exec(
        select(StatusListPublication).order_by(col(StatusListPublication.sequence).desc()).limit(1)
    ).first()


def publish_now(
    db: Database,
    settings: Settings,
    keystore: KeyStore,
    *,
    actor: str,
    passphrase: Passphrase | None,
    agency_code: str | None = None,
    now: datetime | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
    reason: str = "published on request",
) -> StatusListPublication:
    """Publish a fresh status list signed by the agency's current signer (``certsvc status
    publish``; scheduled, ``publish_if_due``)."""
    at = now or utcnow()
    with db.session() as session:
        spec = read_signer_spec(
            session,
            agency_code=agency_code or settings.agency_code,
            at=at,
            tsa_url=settings.tsa_url,
            tsa_trust_roots=settings.tsa_trust_roots,
        )
    material = open_signing_material(spec, keystore, at=at, passphrase=passphrase)
    try:
        with db.session() as session:
            return publish_status_list(
                session,
                material.handle,
                material.key_id,
                base_url=settings.public_base_url,
                actor=actor,
                now=at,
                validity=validity,
                zone=ZoneInfo(settings.timezone),
                reason=reason,
            )
    finally:
        material.close()


def publish_if_due(
    db: Database,
    settings: Settings,
    keystore: KeyStore,
    *,
    actor: str,
    passphrase: Passphrase | None,
    agency_code: str | None = None,
    now: datetime | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
    margin: timedelta = PUBLISH_MARGIN,
) -> tuple[StatusListPublication | None, str]:
    """``certsvc status publish --if-due`` (run every few minutes by cron or a timer): a new
    list when :func:`publication_due` says one is due, else nothing (no key is opened); the
    list published (or None) and why."""
    at = now or utcnow()
    with db.session() as session:
        why = publication_due(session, at, ZoneInfo(settings.timezone), margin)
        latest = latest_status_list(session)
    if why is None:
        assert latest is not None
        return None, (
            f"status list {latest.sequence} is current until {latest.next_update.isoformat()}"
        )
    published = publish_now(
        db,
        settings,
        keystore,
        actor=actor,
        passphrase=passphrase,
        agency_code=agency_code,
        now=at,
        validity=validity,
        reason=why,
    )
    return published, why
