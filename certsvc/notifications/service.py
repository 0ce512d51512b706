"""Writing messages to the outbox, and delivering them through a sender.

``enqueue`` is called inside the transaction that causes the message (a holder's documents were
issued), so the message exists exactly when its cause does. ``deliver`` hands pending messages
to the sender: each is marked *sending* (committed) before it is handed over and *sent* after,
so a crash in between re-sends it with the same idempotency key, never under a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from certsvc.audit.events import Action, record
from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.db.types import utcnow
from certsvc.notifications.models import Notification, NotificationStatus
from certsvc.notifications.senders import (
    HttpGatewaySender,
    OutboxFileSender,
    OutgoingMessage,
    Sender,
    SendError,
)

MAX_ATTEMPTS = 5
DOCUMENTS_ISSUED = "documents-issued"
HOLDER_CODE = "holder-code"
# messages whose outbox row keeps only a redacted body (a sign-in code is never stored): sent
# at once by whoever wrote them (:func:`send_now`), never by :func:`deliver`
EPHEMERAL_KINDS = (HOLDER_CODE,)


def sender_for(settings: Settings) -> Sender:
    if settings.sms_gateway_url:
        return HttpGatewaySender(settings.sms_gateway_url, settings.sms_gateway_token)
    return OutboxFileSender(outbox_path(settings))


def outbox_path(settings: Settings) -> Path:
    return settings.data_dir / "outbox" / "sms.jsonl"


def documents_issued_body(*, agency_name: str, holder_name: str, base_url: str) -> str:
    return (
        f"【{agency_name}】{holder_name}您好，您的电子职称证书和电子职称评价结果通知书已签发，"
        f"请登录 {base_url.rstrip('/')}/my 下载。"
    )


@dataclass(frozen=True)
class NewMessage:
    dedupe_key: str
    person_id: int
    kind: str
    recipient: str
    body: str


def enqueue(session: Session, messages: Sequence[NewMessage]) -> int:
    """Write each message unless one with its dedupe key exists (in the caller's transaction);
    how many were written."""
    keys = [message.dedupe_key for message in messages]
    existing = set(
        session.exec(select(Notification.dedupe_key).where(col(Notification.dedupe_key).in_(keys)))
    )
    rows = []
    for message in messages:
        if message.dedupe_key in existing:
            continue
        existing.add(message.dedupe_key)
        rows.append(
            {
                "dedupe_key": message.dedupe_key,
                "person_id": message.person_id,
                "kind": message.kind,
                "recipient": message.recipient,
                "body": message.body,
                "status": NotificationStatus.PENDING,
                "attempts": 0,
                "created_at": utcnow(),
            }
        )
    if rows:
        session.execute(sa.insert(Notification), rows)
    return len(rows)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0


def deliver(db: Database, sender: Sender, *, actor: str, chunk: int = 200) -> DeliveryReport:
    """Hand every pending message (and any left *sending* by a crash) to ``sender``."""
    report = DeliveryReport()
    after = 0
    while True:
        with db.session() as session:
            claimed = session.exec(
                select(Notification)
                .where(
                    col(Notification.status).in_(
                        [NotificationStatus.PENDING, NotificationStatus.SENDING]
                    ),
                    col(Notification.id) > after,
                    col(Notification.kind).not_in(EPHEMERAL_KINDS),
                )
                .order_by(col(Notification.id))
                .limit(chunk)
                .with_for_update(skip_locked=True)
            ).all()
            if not claimed:
                return report
            after = claimed[-1].id or after
            messages = []
            for message in claimed:
                message.status = NotificationStatus.SENDING
                message.attempts += 1
                session.add(message)
                messages.append(
                    (
                        message.id,
                        OutgoingMessage(message.dedupe_key, message.recipient, message.body),
                    )
                )
            session.commit()
        for message_id, outgoing in messages:
            error = None
            try:
                sender.send(outgoing)
            except SendError as exc:
                error = str(exc)
            with db.session() as session:
                _record_delivery(session, message_id or 0, error, sender.name, actor, report)


def send_now(db: Database, sender: Sender, notification_id: int, body: str, *, actor: str) -> bool:
    """Hand one message of an :data:`EPHEMERAL_KINDS` kind to ``sender`` at once, with
    ``body`` — the text its outbox row does not keep. Recorded as :func:`deliver` records
    (*sending* committed first, then *sent* or *failed*, audited), but never retried: a
    sign-in code that could not be sent is asked for again. True when it was handed over."""
    with db.session() as session:
        message = session.get(Notification, notification_id)
        if message is None or message.status is not NotificationStatus.PENDING:
            return False
        message.status = NotificationStatus.SENDING
        message.attempts += 1
        session.add(message)
        outgoing = OutgoingMessage(message.dedupe_key, message.recipient, body)
    error = None
    try:
        sender.send(outgoing)
    except SendError as exc:
        error = str(exc)
    with db.session() as session:
        _record_delivery(
            session, notification_id, error, sender.name, actor, DeliveryReport(), retry=False
        )
    return error is None


def _record_delivery(
    session: Session,
    message_id: int,
    error: str | None,
    sender_name: str,
    actor: str,
    report: DeliveryReport,
    *,
    retry: bool = True,
) -> None:
    message = session.get(Notification, message_id)
    assert message is not None
    if error is None:
        message.status = NotificationStatus.SENT
        message.sent_at = utcnow()
        message.last_error = None
        report.sent += 1
    elif message.attempts >= MAX_ATTEMPTS or not retry:
        message.status = NotificationStatus.FAILED
        message.last_error = error[:500]
        report.failed += 1
    else:
        message.status = NotificationStatus.PENDING
        message.last_error = error[:500]
        report.retrying += 1
    session.add(message)
    record(
        session,
        Action.NOTIFICATION_SEND,
        actor=actor,
        subject_type="notification",
        subject_id=message_id,
        details={
            "kind": message.kind,
            "status": message.status.value,
            "sender": sender_name,
            "attempt": message.attempts,
            **({"error": error[:200]} if error else {}),
        },
    )


def counts(session: Session) -> dict[NotificationStatus, int]:
    totals = dict.fromkeys(NotificationStatus, 0)
    for status, count in session.exec(
        select(Notification.status, sa.func.count()).group_by(col(Notification.status))
    ).all():
        totals[NotificationStatus(status)] = count
    return totals
