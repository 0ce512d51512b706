"""Documents: search by number or holder name, view one, ask for its revocation or reissue
(operator), approve — a signing job, since it signs — or reject (approver, never the asker)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlmodel import Session, col, or_, select
from werkzeug.wrappers import Response

from certsvc.console.access import READERS, actor, allow
from certsvc.console.state import state
from certsvc.console.views.common import attempt, form_text, read
from certsvc.errors import NotFoundError, StateError
from certsvc.issuance.models import Document
from certsvc.jobs import service as jobs
from certsvc.jobs.models import JobKind
from certsvc.revocation import service as revocation
from certsvc.revocation.models import ChangeStatus, RevocationReason
from certsvc.roster.models import Person, ReviewResult, ReviewSession
from certsvc.staff.models import Role
from certsvc.web import i18n

bp = Blueprint("documents", __name__)
SHOWN = 100


@bp.get("/documents")
@allow(*READERS)
def search() -> str:
    query = request.args.get("q", "").strip()[:64]

    def load(session: Session) -> list[tuple[Document, str]]:
        if not query:
            return []
        pattern = query.upper() + "%"
        rows = session.exec(
            select(Document, Person.name)
            .join(Person, col(Person.id) == col(Document.person_id))
            .where(or_(col(Document.document_number).like(pattern), Person.name == query))
            .order_by(col(Document.id))
            .limit(SHOWN)
        ).all()
        return [(document, name) for document, name in rows]

    return render_template("documents.html", query=query, rows=read(load))


@bp.get("/documents/<number>")
@allow(*READERS)
def show(number: str) -> str:
    def load(session: Session) -> dict[str, Any]:
        document = session.exec(
            select(Document).where(Document.document_number == number.strip().upper())
        ).first()
        if document is None:
            raise NotFoundError(number)
        person = session.get(Person, document.person_id)
        result = session.get(ReviewResult, document.result_id)
        review = session.get(ReviewSession, result.session_id) if result else None
        changes = [
            change
            for change in revocation.list_changes(session)
            if document.id in change.document_ids
        ]
        return {
            "document": document,
            "person": person,
            "review": review,
            "changes": changes,
        }

    return render_template(
        "document.html", **read(load), reasons=list(RevocationReason), today=state().today()
    )


@bp.post("/documents/<number>/revoke")
@allow(Role.OPERATOR)
def revoke(number: str) -> Response:
    change = attempt(
        lambda session: revocation.request_revocation(
            session,
            number,
            reason=form_text("reason", 32),
            effective=form_text("effective", 10),
            note=form_text("note", 500),
            actor=actor(),
            today=state().today(),
        )
    )
    if change is not None:
        flash(i18n.translate(g.lang, "console.change.requested", id=change.id), "info")
    return redirect(url_for("documents.show", number=number))


@bp.post("/documents/<number>/reissue")
@allow(Role.OPERATOR)
def reissue(number: str) -> Response:
    corrections = {
        field: form_text(field, 128) for field in ("name", "work_unit") if form_text(field, 128)
    }
    change = attempt(
        lambda session: revocation.request_reissue(
            session, number, corrections=corrections, note=form_text("note", 500), actor=actor()
        )
    )
    if change is not None:
        flash(i18n.translate(g.lang, "console.change.requested", id=change.id), "info")
    return redirect(url_for("documents.show", number=number))


@bp.get("/changes")
@allow(*READERS)
def changes() -> str:
    def load(session: Session) -> list[tuple[Any, Any]]:
        return [
            (change, jobs.latest_job(session, f"change:{change.id}"))
            for change in reversed(revocation.list_changes(session))
        ]

    return render_template("changes.html", rows=read(load))


@bp.post("/changes/<int:change_id>/approve")
@allow(Role.APPROVER)
def approve(change_id: int) -> Response:
    me = actor()

    def act(session: Session) -> object:
        change = revocation.get_change(session, change_id)
        if change.status in (ChangeStatus.DONE, ChangeStatus.REJECTED):
            raise StateError(f"request {change_id} is {change.status.value}")
        if change.requested_by == me:  # the signer would refuse it too: say so now
            raise StateError(
                f"request {change_id} was asked for by {me}; another member of staff must "
                "approve it"
            )
        return jobs.request_job(session, JobKind.CHANGE_APPROVE, {"change_id": change_id}, actor=me)

    if attempt(act) is not None:
        flash(i18n.translate(g.lang, "console.change.queued", id=change_id), "info")
    return redirect(url_for("documents.changes"))


@bp.post("/changes/<int:change_id>/reject")
@allow(Role.APPROVER)
def reject(change_id: int) -> Response:
    reason = form_text("reason", 500)
    if attempt(
        lambda session: revocation.reject_change(session, change_id, actor=actor(), reason=reason)
    ):
        flash(i18n.translate(g.lang, "console.change.rejected", id=change_id), "info")
    return redirect(url_for("documents.changes"))
