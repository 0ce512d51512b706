"""Recording audit events: the one place every state change reports to.

Callers pass the session of the transaction that makes the change, so the event commits or
rolls back with it: there is never a change without its event, nor an event without its change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from certsvc.audit.models import AuditEvent
from certsvc.db.types import utcnow

FORBIDDEN_DETAIL_KEYS = frozenset({"id_number", "identity_number", "证件号码"})


class Action(StrEnum):
    """Every audited action, namespaced by domain."""

    SYSTEM_INIT = "system:init"
    AGENCY_CREATE = "agency:create"
    ROSTER_IMPORT = "roster:import"
    PERSON_UPDATE = "person:update"
    PUBLICITY_OPEN = "publicity:open"
    PUBLICITY_CLOSE = "publicity:close"
    OBJECTION_LODGE = "objection:lodge"
    OBJECTION_RESOLVE = "objection:resolve"
    RESULT_WITHDRAW = "result:withdraw"
    KEY_ROOT_CREATE = "key:root-create"
    KEY_SIGNER_ISSUE = "key:signer-issue"
    KEY_SIGNER_RETIRE = "key:signer-retire"
    KEY_SIGNER_REVOKE = "key:signer-revoke"
    KEY_CRL_PUBLISH = "key:crl-publish"
    KEY_TRUST_LIST_PUBLISH = "key:trust-list-publish"
    LOG_APPEND = "log:append"
    LOG_TREE_HEAD = "log:tree-head"
    BATCH_CREATE = "batch:create"
    BATCH_APPROVE = "batch:approve"
    BATCH_CANCEL = "batch:cancel"
    BATCH_RUN = "batch:run"
    BATCH_COMPLETE = "batch:complete"
    BATCH_SKIP = "batch:skip"
    DOCUMENT_ISSUE = "document:issue"
    DOCUMENT_FAIL = "document:fail"
    NOTIFICATION_SEND = "notification:send"
    DOCUMENT_CHANGE_REQUEST = "document:change-request"
    DOCUMENT_CHANGE_APPROVE = "document:change-approve"
    DOCUMENT_CHANGE_REJECT = "document:change-reject"
    DOCUMENT_REVOKE = "document:revoke"
    DOCUMENT_REISSUE = "document:reissue"
    STATUS_LIST_PUBLISH = "status:publish"
    # the holder pages (certsvc.web.holder)
    HOLDER_CODE_SEND = "holder:code-send"
    HOLDER_SIGN_IN = "holder:sign-in"
    HOLDER_SIGN_OUT = "holder:sign-out"
    DOCUMENT_DOWNLOAD = "document:download"
    SHARE_CREATE = "share:create"
    SHARE_REVOKE = "share:revoke"
    # the staff console (certsvc.console) and its signer process (certsvc.jobs)
    STAFF_CREATE = "staff:create"
    STAFF_ROLE_CHANGE = "staff:role-change"
    STAFF_DISABLE = "staff:disable"
    STAFF_SIGN_IN = "staff:sign-in"
    STAFF_SIGN_IN_FAILED = "staff:sign-in-failed"
    STAFF_SIGN_OUT = "staff:sign-out"
    JOB_REQUEST = "job:request"
    JOB_START = "job:start"
    JOB_DONE = "job:done"
    JOB_FAIL = "job:fail"


def record(
    session: Session,
    action: Action,
    *,
    actor: str,
    subject_type: str,
    subject_id: object,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to ``session``'s transaction and return it."""
    payload = dict(details or {})
    _refuse_identity_numbers(payload)
    if not actor:
        raise ValueError("an audit event needs an actor")
    event = AuditEvent(
        actor=actor,
        action=action.value,
        subject_type=subject_type,
        subject_id=str(subject_id),
        details=payload,
    )
    session.add(event)
    return event


def record_many(
    session: Session,
    action: Action,
    *,
    actor: str,
    subject_type: str,
    events: Sequence[tuple[object, Mapping[str, Any]]],
) -> None:
    """Record one event per ``(subject_id, details)`` in a single insert: for the batch run,
    which audits every document it issues."""
    if not actor:
        raise ValueError("an audit event needs an actor")
    if not events:
        return
    now = utcnow()
    rows = []
    for subject_id, details in events:
        payload = dict(details)
        _refuse_identity_numbers(payload)
        rows.append(
            {
                "occurred_at": now,
                "actor": actor,
                "action": action.value,
                "subject_type": subject_type,
                "subject_id": str(subject_id),
                "details": payload,
            }
        )
    session.execute(sa.insert(AuditEvent), rows)


def _refuse_identity_numbers(payload: Mapping[str, Any], path: Iterable[str] = ()) -> None:
    for key, value in payload.items():
        if key in FORBIDDEN_DETAIL_KEYS:
            raise ValueError(
                f"audit details may not hold an identity number ({'.'.join([*path, key])})"
            )
        if isinstance(value, Mapping):
            _refuse_identity_numbers(value, [*path, key])
