"""What the holder pages do, without Flask: find a holder, issue and check sign-in codes, keep
signed-in sessions, list a holder's documents, make, revoke and open share links.

Every function takes the caller's database session (one transaction per request) and the time
``now``; nothing here holds an identity number longer than the query that compares it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from certsvc.audit.events import Action, record
from certsvc.db.database import Database
from certsvc.errors import StateError
from certsvc.issuance.models import Document, DocumentStatus
from certsvc.issuance.store import DocumentStore
from certsvc.notifications import service as notifications
from certsvc.notifications.models import Notification, NotificationStatus
from certsvc.notifications.senders import Sender
from certsvc.revocation.status_list import effective_from
from certsvc.roster.identity import IdType
from certsvc.roster.models import Person, ReviewResult, ReviewSession
from certsvc.roster.person_fields import fold_fullwidth
from certsvc.web.holder.models import HolderCode, HolderSession, ShareLink
from certsvc.web.lookup import normalise_name

log = logging.getLogger(__name__)

SHOWN_STATUSES = (DocumentStatus.ISSUED, DocumentStatus.REVOKED, DocumentStatus.SUPERSEDED)
SHARE_DAYS = (1, 7, 30)
MAX_ACTIVE_SHARES = 10  # open links per document
CODE_DIGITS = 6
MAX_ID_NUMBER_LENGTH = 32
PURGE_AFTER = timedelta(days=1)  # expired codes are deleted this long after they expire
_STAND_IN_NAME = hashlib.sha256(b"\x00certsvc: no such holder\x00").digest()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def holder_actor(person_id: int) -> str:
    """How the audit log names a signed-in holder."""
    return f"holder:{person_id}"


def normalise_id_number(text: str) -> str:
    """An identity number as stored: full-width folded, no spaces, upper case."""
    return "".join(fold_fullwidth(text).split()).upper()[:MAX_ID_NUMBER_LENGTH]


def identity_key(secret: str, id_type: IdType, id_number: str, name: str) -> str:
    """A stand-in for an identity number and name where they must be counted (the send
    limit): an HMAC keyed with the app's secret, so the limiter's storage never holds them.
    The name is part of it so that someone who knows only a holder's number cannot use up
    that holder's codes: asking with wrong names counts against other keys (and sends
    nothing), while the holder's own number and name stay limited, which is what bounds the
    messages a holder's phone can be sent."""
    message = f"{id_type.value}:{normalise_id_number(id_number)}:{normalise_name(name)}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()[:40]


# -- sign-in codes ---------------------------------------------------------------------------


def code_mac(secret: str, challenge_hash: str, code: str) -> str:
    message = f"holder-code:{challenge_hash}:{code}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _name_digest(name: str) -> bytes:
    return hashlib.sha256(normalise_name(name).encode("utf-8")).digest()


@dataclass(frozen=True)
class Recipient:
    person_id: int
    name: str
    mobile: str


def find_holder(session: Session, id_type: IdType, id_number: str, name: str) -> Recipient | None:
    """The person with this identity document and name who has a document to show, else None.

    One indexed query whatever was typed, and one constant-time comparison of name digests
    per row found (against a stand-in when none was): the work does not tell whether the
    identity number is on record."""
    number = normalise_id_number(id_number)
    has_documents = (
        sa.exists()
        .where(col(Document.person_id) == col(Person.id))
        .where(col(Document.status).in_(SHOWN_STATUSES))
    )
    rows = session.execute(
        sa.select(col(Person.id), col(Person.name), col(Person.mobile), has_documents).where(
            col(Person.id_type) == id_type, col(Person.id_number) == number
        )
    ).all()
    typed = _name_digest(name)
    if not rows:
        hmac.compare_digest(_STAND_IN_NAME, typed)  # the same work as for a row found
    found: list[Recipient] = []
    for person_id, person_name, mobile, documents in rows:
        if hmac.compare_digest(_name_digest(person_name), typed) and documents:
            found.append(Recipient(int(person_id), str(person_name), str(mobile)))
    if len(found) > 1:  # two passports with one number from two countries, and one name
        log.warning("sign-in details match %d holders; no code sent", len(found))
        return None
    return found[0] if found else None


@dataclass(frozen=True)
class CodeToSend:
    code_id: int
    recipient: Recipient
    code: str
    expires_at: datetime


def new_code(
    session: Session,
    *,
    secret: str,
    recipient: Recipient | None,
    now: datetime,
    minutes: int,
) -> tuple[str, CodeToSend | None]:
    """Store a sign-in code and return ``(challenge, code to send)``: the challenge goes into
    the visitor's session; the code only to the holder's phone. Without a ``recipient`` the
    row is a decoy whose code nobody is sent, and ``None`` is returned in its place."""
    session.execute(sa.delete(HolderCode).where(col(HolderCode.expires_at) < now - PURGE_AFTER))
    challenge = secrets.token_urlsafe(32)
    challenge_hash = sha256_hex(challenge)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    expires_at = now + timedelta(minutes=minutes)
    row = HolderCode(
        challenge_hash=challenge_hash,
        person_id=recipient.person_id if recipient else None,
        code_mac=code_mac(secret, challenge_hash, code),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    if recipient is None or row.id is None:
        return challenge, None
    return challenge, CodeToSend(row.id, recipient, code, expires_at)


@dataclass(frozen=True)
class CodeCheck:
    """``person_id`` when the code was right; else ``remaining`` attempts (0: the code is
    dead — used, expired or tried too often — and a new one is needed)."""

    person_id: int | None
    remaining: int
    code_id: int | None = None


def check_code(
    session: Session, *, secret: str, challenge: str, code: str, now: datetime, attempts: int
) -> CodeCheck:
    """Count an attempt at the code behind ``challenge`` and say how it went. The attempt is
    counted by one conditional UPDATE before the comparison, so parallel guesses cannot
    exceed ``attempts``; a right code is used by a second one, so it signs in once."""
    challenge_hash = sha256_hex(challenge)
    table = HolderCode.__table__  # type: ignore[attr-defined]
    counted = session.execute(
        sa.update(table)
        .where(
            table.c.challenge_hash == challenge_hash,
            table.c.used_at.is_(None),
            table.c.expires_at > now,
            table.c.attempts < attempts,
        )
        .values(attempts=table.c.attempts + 1)
        .returning(table.c.id, table.c.person_id, table.c.code_mac, table.c.attempts)
    ).first()
    if counted is None:
        return CodeCheck(None, 0)
    code_id, person_id, stored_mac, tried = counted
    right = hmac.compare_digest(stored_mac, code_mac(secret, challenge_hash, code))
    if right and person_id is not None:
        used = session.execute(
            sa.update(table)
            .where(table.c.id == code_id, table.c.used_at.is_(None))
            .values(used_at=now)
        )
        if used.rowcount == 1:  # type: ignore[attr-defined]
            return CodeCheck(int(person_id), 0, code_id)
    return CodeCheck(None, max(0, attempts - int(tried)))


def code_body(*, agency_name: str, code: str, minutes: int) -> str:
    return (
        f"【{agency_name}】您的电子职称证书登录验证码为 {code}，{minutes} 分钟内有效。"
        "请勿告诉他人；如非本人操作，请忽略本短信。"
    )


HANDOVER_SECONDS = 2.0  # how long delivery waits for the server to finish the answer


class CodeCourier:
    """Writes the outbox row and audit event of each sign-in code and hands it to the sender,
    in a thread of its own: the page answers in the same time whether or not a code is sent
    (a slow SMS gateway would otherwise tell). The outbox row keeps the text with the code
    masked; the sender gets it in full (:func:`certsvc.notifications.service.send_now`).

    A code is handed over while the answer is made, but delivered only once ``released`` is
    set — when the server has sent the answer and closes it — so that its database work does
    not slow a holder's answer against a stranger's (a timing oracle). A server that never
    closes an answer (werkzeug's skips it when the client resets the connection) delays a
    code by ``handover_seconds``, never loses it."""

    def __init__(
        self,
        db: Database,
        sender: Sender,
        *,
        agency_name: str,
        minutes: int,
        handover_seconds: float = HANDOVER_SECONDS,
    ) -> None:
        self._db = db
        self._sender = sender
        self._agency_name = agency_name
        self._minutes = minutes
        self._handover_seconds = handover_seconds
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="holder-code")
        self._pending: set[Future[None]] = set()

    @property
    def sender(self) -> Sender:
        return self._sender

    def dispatch(self, code: CodeToSend, released: threading.Event | None = None) -> None:
        future = self._executor.submit(self._deliver_when_released, code, released)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def wait(self, timeout: float = 30.0) -> None:
        """Until every code handed over so far has been sent (tests; shutdown)."""
        wait_futures(list(self._pending), timeout=timeout)

    def _deliver_when_released(self, code: CodeToSend, released: threading.Event | None) -> None:
        if released is not None:
            released.wait(self._handover_seconds)
        self._deliver(code)

    def _deliver(self, code: CodeToSend) -> None:
        person_id = code.recipient.person_id
        actor = holder_actor(person_id)
        try:
            with self._db.session() as session:
                message = Notification(
                    dedupe_key=f"{notifications.HOLDER_CODE}:{code.code_id}",
                    person_id=person_id,
                    kind=notifications.HOLDER_CODE,
                    recipient=code.recipient.mobile,
                    body=code_body(
                        agency_name=self._agency_name, code="******", minutes=self._minutes
                    ),
                    status=NotificationStatus.PENDING,
                )
                session.add(message)
                session.flush()
                record(
                    session,
                    Action.HOLDER_CODE_SEND,
                    actor=actor,
                    subject_type="person",
                    subject_id=person_id,
                    details={
                        "code": code.code_id,
                        "notification": message.id,
                        "expires_at": code.expires_at.isoformat(),
                        "sender": self._sender.name,
                    },
                )
                message_id = message.id
            assert message_id is not None
            body = code_body(agency_name=self._agency_name, code=code.code, minutes=self._minutes)
            if not notifications.send_now(self._db, self._sender, message_id, body, actor=actor):
                log.warning("sign-in code %s could not be sent", code.code_id)
        except Exception:
            log.exception("sign-in code %s: delivery failed", code.code_id)


# -- signed-in sessions ----------------------------------------------------------------------


def start_session(session: Session, person_id: int, now: datetime) -> HolderSession:
    row = HolderSession(nonce=secrets.token_urlsafe(24), person_id=person_id, created_at=now)
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class SignedIn:
    person_id: int
    name: str
    nonce: str
    session_id: int
    started_at: datetime


def signed_in(
    session: Session, *, nonce: str, person_id: int, now: datetime, lifetime: timedelta
) -> SignedIn | None:
    """The holder of a live session (not ended, younger than ``lifetime``), else None; a
    session past its lifetime is ended here."""
    row = session.execute(
        sa.select(HolderSession, col(Person.name))
        .join(Person, col(Person.id) == col(HolderSession.person_id))
        .where(col(HolderSession.nonce) == nonce)
    ).first()
    if row is None:
        return None
    holder_session, name = row
    if holder_session.person_id != person_id or holder_session.ended_at is not None:
        return None
    if holder_session.created_at + lifetime <= now:
        holder_session.ended_at = now
        session.add(holder_session)
        return None
    assert holder_session.id is not None
    return SignedIn(person_id, name, nonce, holder_session.id, holder_session.created_at)


def end_session(session: Session, nonce: str, now: datetime) -> HolderSession | None:
    row = session.exec(select(HolderSession).where(HolderSession.nonce == nonce)).first()
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.add(row)
    return row


# -- documents -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HolderDocument:
    """A document as its holder sees it: the registry row and what it certifies."""

    document: Document
    qualification_name: str
    series: str
    specialty: str
    level: str

    @property
    def number(self) -> str:
        return self.document.document_number

    @property
    def current(self) -> bool:
        return self.document.status is DocumentStatus.ISSUED

    def revocation_pending(self, now: datetime, zone: tzinfo) -> date | None:
        """The day a decided revocation takes effect, while it is still ahead (the document
        is current until then, as every verifier says), else None."""
        day = self.document.revocation_effective_on
        if self.document.status is DocumentStatus.REVOKED and day is not None:
            return day if now < effective_from(day, zone) else None
        return None


def _documents_query(person_id: int) -> Any:
    return (
        sa.select(
            Document,
            col(ReviewSession.qualification_name),
            col(ReviewSession.series),
            col(ReviewSession.specialty),
            col(ReviewSession.level),
        )
        .join(ReviewResult, col(ReviewResult.id) == col(Document.result_id))
        .join(ReviewSession, col(ReviewSession.id) == col(ReviewResult.session_id))
        .where(col(Document.person_id) == person_id)
        .where(col(Document.status).in_(SHOWN_STATUSES))
        .where(col(Document.sha256).is_not(None))
    )


def _holder_document(row: Any) -> HolderDocument:
    document, qualification, series, specialty, level = row
    level_text = level.value if hasattr(level, "value") else str(level)
    return HolderDocument(document, qualification, series, specialty, level_text)


def holder_documents(session: Session, person_id: int) -> list[HolderDocument]:
    """Every certificate and notice of the holder that has a signed PDF, newest first."""
    rows = session.execute(
        _documents_query(person_id).order_by(
            col(Document.issued_on).desc(), col(Document.id).desc()
        )
    ).all()
    return [_holder_document(row) for row in rows]


def holder_document(session: Session, person_id: int, number: str) -> HolderDocument | None:
    """The holder's document with this number, else None — whether the number is unknown or
    another holder's."""
    row = session.execute(
        _documents_query(person_id).where(col(Document.document_number) == number[:64])
    ).first()
    return None if row is None else _holder_document(row)


def read_pdf(store: DocumentStore, document: Document) -> bytes:
    """The signed PDF from the store, checked against the registry's hash."""
    sha256 = document.sha256 or ""
    data = store.read(sha256)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StateError(f"the stored file of {document.document_number} does not match its hash")
    return data


# -- share links -----------------------------------------------------------------------------


class ShareRefusedError(Exception):
    """A share link cannot be made; ``key`` names the message."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def share_state(link: ShareLink, now: datetime) -> str:
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= now:
        return "expired"
    return "active"


def shares_of(session: Session, document_id: int) -> list[ShareLink]:
    return list(
        session.exec(
            select(ShareLink)
            .where(ShareLink.document_id == document_id)
            .order_by(col(ShareLink.id).desc())
        ).all()
    )


def create_share(
    session: Session, document: Document, *, person_id: int, days: int, now: datetime
) -> tuple[ShareLink, str]:
    """A new link for ``document`` open for ``days``; returns it and its token (shown once,
    never stored)."""
    if days not in SHARE_DAYS:
        raise ShareRefusedError("holder.share.bad_days")
    if document.status is not DocumentStatus.ISSUED or document.id is None:
        raise ShareRefusedError("holder.share.not_current")
    active = session.execute(
        sa.select(sa.func.count())
        .select_from(ShareLink)
        .where(
            col(ShareLink.document_id) == document.id,
            col(ShareLink.revoked_at).is_(None),
            col(ShareLink.expires_at) > now,
        )
    ).scalar_one()
    if active >= MAX_ACTIVE_SHARES:
        raise ShareRefusedError("holder.share.too_many")
    token = secrets.token_urlsafe(32)
    link = ShareLink(
        token_hash=sha256_hex(token),
        document_id=document.id,
        person_id=person_id,
        days=days,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(link)
    session.flush()
    record(
        session,
        Action.SHARE_CREATE,
        actor=holder_actor(person_id),
        subject_type="share",
        subject_id=link.id,
        details={
            "document_number": document.document_number,
            "days": days,
            "expires_at": link.expires_at.isoformat(),
        },
    )
    return link, token


def share_of_document(session: Session, document_id: int, share_id: int) -> ShareLink | None:
    link = session.get(ShareLink, share_id)
    return link if link is not None and link.document_id == document_id else None


def revoke_share(
    session: Session, link: ShareLink, document: Document, *, person_id: int, now: datetime
) -> bool:
    """End the link now; False when it had already ended (revoked or expired)."""
    if share_state(link, now) != "active":
        return False
    link.revoked_at = now
    session.add(link)
    record(
        session,
        Action.SHARE_REVOKE,
        actor=holder_actor(person_id),
        subject_type="share",
        subject_id=link.id,
        details={"document_number": document.document_number},
    )
    return True


def open_share(
    session: Session, token: str, now: datetime, *, count: bool
) -> tuple[ShareLink, Document] | None:
    """The link behind ``token`` and its document while the link is open, else None —
    unknown, expired and revoked alike. ``count``: add one to its openings (nothing else about
    the opening is kept)."""
    if not token or len(token) > 64:
        return None
    row = session.execute(
        sa.select(ShareLink, Document)
        .join(Document, col(Document.id) == col(ShareLink.document_id))
        .where(col(ShareLink.token_hash) == sha256_hex(token))
    ).first()
    if row is None:
        return None
    link, document = row
    if share_state(link, now) != "active" or document.status not in SHOWN_STATUSES:
        return None
    if count:
        table = ShareLink.__table__  # type: ignore[attr-defined]
        session.execute(
            sa.update(table).where(table.c.id == link.id).values(opened=table.c.opened + 1)
        )
    return link, document


def record_download(session: Session, document: Document, *, actor: str, via: str) -> None:
    record(
        session,
        Action.DOCUMENT_DOWNLOAD,
        actor=actor,
        subject_type="document",
        subject_id=document.document_number,
        details={"via": via, "sha256": document.sha256},
    )
