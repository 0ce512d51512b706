"""Batches: create (operator), approve (approver, not the creator), cancel, run as a signing
job, live progress (a small JSON document the page's script polls) and the report."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlmodel import Session, select
from werkzeug.wrappers import Response

from certsvc.console.access import READERS, actor, allow
from certsvc.console.state import state
from certsvc.console.views.common import attempt, form_text, read
from certsvc.errors import StateError
from certsvc.issuance.batches import (
    approve_batch,
    cancel_batch,
    create_batch,
    get_batch,
    item_counts,
    list_batches,
)
from certsvc.issuance.models import BatchStatus, ItemState
from certsvc.issuance.report import build_report
from certsvc.jobs import service as jobs
from certsvc.jobs.models import JobKind, JobState
from certsvc.publicity.models import PublicityPeriod, PublicityStatus
from certsvc.roster.queries import list_sessions
from certsvc.staff.models import Role
from certsvc.web import i18n

bp = Blueprint("batches", __name__, url_prefix="/batches")
FINISHED_ITEMS = (ItemState.ISSUED, ItemState.FAILED, ItemState.SKIPPED)


@bp.get("")
@allow(*READERS)
def index() -> str:
    def load(session: Session) -> dict[str, Any]:
        closed = set(
            session.exec(
                select(PublicityPeriod.session_id).where(
                    PublicityPeriod.status == PublicityStatus.CLOSED
                )
            ).all()
        )
        return {
            "batches": list(reversed(list_batches(session))),
            "sessions": [s for s in list_sessions(session) if s.id in closed],
        }

    return render_template("batches.html", **read(load))


@bp.post("")
@allow(Role.OPERATOR)
def create() -> Response:
    chosen = [int(v) for v in request.form.getlist("session_ids") if v.isdigit() and len(v) < 10]
    created = attempt(
        lambda session: create_batch(
            session,
            agency_code=state().settings.agency_code,
            session_ids=chosen,
            actor=actor(),
        )
    )
    if created is None:
        return redirect(url_for("batches.index"))
    flash(i18n.translate(g.lang, "console.batch.created", id=created.id), "info")
    return redirect(url_for("batches.show", batch_id=created.id))


@bp.get("/<int:batch_id>")
@allow(*READERS)
def show(batch_id: int) -> str:
    def load(session: Session) -> dict[str, Any]:
        batch = get_batch(session, batch_id)
        return {
            "batch": batch,
            "counts": item_counts(session, batch_id),
            "job": jobs.latest_job(session, f"batch:{batch_id}"),
        }

    return render_template("batch.html", **read(load), BatchStatus=BatchStatus, JobState=JobState)


@bp.post("/<int:batch_id>/approve")
@allow(Role.APPROVER)
def approve(batch_id: int) -> Response:
    if attempt(lambda session: approve_batch(session, batch_id, actor=actor())):
        flash(i18n.translate(g.lang, "console.batch.approved", id=batch_id), "info")
    return redirect(url_for("batches.show", batch_id=batch_id))


@bp.post("/<int:batch_id>/cancel")
@allow(Role.OPERATOR)
def cancel(batch_id: int) -> Response:
    reason = form_text("reason", 500)
    if attempt(lambda session: cancel_batch(session, batch_id, actor=actor(), reason=reason)):
        flash(i18n.translate(g.lang, "console.batch.cancelled", id=batch_id), "info")
    return redirect(url_for("batches.show", batch_id=batch_id))


@bp.post("/<int:batch_id>/run")
@allow(Role.OPERATOR, Role.APPROVER)
def run(batch_id: int) -> Response:
    retry = request.form.get("retry_failed") == "1"

    def act(session: Session) -> object:
        batch = get_batch(session, batch_id)
        if batch.status is BatchStatus.DRAFT or batch.status is BatchStatus.CANCELLED:
            raise StateError(
                f"batch {batch_id} is {batch.status.value}; only an approved batch can run"
            )
        return jobs.request_job(
            session, JobKind.BATCH_RUN, {"batch_id": batch_id, "retry_failed": retry}, actor=actor()
        )

    job = attempt(act)
    if job is not None:
        flash(i18n.translate(g.lang, "console.batch.queued", id=batch_id), "info")
    return redirect(url_for("batches.show", batch_id=batch_id))


@bp.get("/<int:batch_id>/progress.json")
@allow(*READERS)
def progress(batch_id: int) -> Response:
    return jsonify(read(lambda session: progress_of(session, batch_id)))


def progress_of(session: Session, batch_id: int) -> dict[str, Any]:
    """The batch's items by state, read from the database, and its latest signing job."""
    batch = get_batch(session, batch_id)
    counts = item_counts(session, batch_id)
    total = sum(counts.values())
    finished = sum(counts[state] for state in FINISHED_ITEMS)
    job = jobs.latest_job(session, f"batch:{batch_id}")
    job_state = job.state.value if job is not None else None
    return {
        "batch_id": batch_id,
        "status": batch.status.value,
        "total": total,
        "counts": {state.value: count for state, count in counts.items()},
        "finished": finished,
        "percent": 100 * finished // total if total else 0,
        "job": None
        if job is None
        else {"id": job.id, "state": job_state, "progress": job.progress, "error": job.error},
        # over when the signer has finished the job (or, with no job, the batch is complete)
        "done": job_state in (JobState.DONE.value, JobState.FAILED.value)
        if job is not None
        else batch.status is BatchStatus.COMPLETED,
    }


@bp.get("/<int:batch_id>/report")
@allow(*READERS)
def report(batch_id: int) -> str:
    def load(session: Session) -> dict[str, Any]:
        batch = get_batch(session, batch_id)
        built = build_report(session, batch, None)
        last = (batch.report or {}).get("last_run")
        return {"batch": batch, "report": built, "last_run": last}

    return render_template("report.html", **read(load))


@bp.get("/jobs")
@allow(*READERS)
def job_list() -> str:
    items = read(lambda session: jobs.list_jobs(session))
    return render_template("jobs.html", jobs=items)
