"""A signing job is done as the member of staff who asked for it, so the signer checks that
person again when it takes the job: an account disabled, or a role taken away, between asking
and signing (or before a stalled job is taken again) stops the job, and nothing is signed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlmodel import col, select

from certsvc.issuance.models import Document, DocumentStatus
from certsvc.issuance.runner import run_batch
from certsvc.jobs import service as jobs
from certsvc.jobs.models import JobKind, JobState, SigningJob
from certsvc.revocation import service as revocation
from certsvc.staff.service import disable_staff, set_roles
from tests.console.conftest import Member, post_form, sign_in
from tests.console.test_signer import audit, console_for, signer_once
from tests.issuance.conftest import World


def only_job(world: World) -> SigningJob:
    with world.db.session() as session:
        (job,) = session.exec(select(SigningJob)).all()
    return job


def test_a_batch_run_asked_for_by_a_since_disabled_operator_is_not_signed(
    world: World, tmp_path: Path, add_staff: Callable[..., Member]
) -> None:
    olga = add_staff("olga", "operator")
    client = sign_in(console_for(world).test_client(), world.db, olga)
    batch_id = world.approved_batch()
    page = f"/batches/{batch_id}"
    assert post_form(client, f"{page}/run", {}, page).status_code == 302
    with world.db.session() as session:
        disable_staff(session, "olga", actor="staff:root")

    signer_once(world, tmp_path)
    job = only_job(world)
    assert job.state is JobState.FAILED
    assert job.error is not None and "olga" in job.error and "disabled" in job.error
    with world.db.session() as session:
        assert session.exec(select(Document)).first() is None
    assert audit(world.db, "batch:run") == [] and audit(world.db, "document:issue") == []


def test_an_approval_asked_for_by_someone_no_longer_an_approver_is_not_signed(
    world: World, tmp_path: Path, add_staff: Callable[..., Member]
) -> None:
    app = console_for(world)
    petra = sign_in(app.test_client(), world.db, add_staff("petra", "approver"))
    today = app.extensions["certsvc-console"].today()
    run_batch(world.db, world.settings, world.ctx.keystore, world.approved_batch(), world.options())
    with world.db.session() as session:
        number = session.exec(select(Document.document_number).order_by(col(Document.id))).first()
        assert number is not None
        change = revocation.request_revocation(
            session,
            number,
            reason="issued_in_error",
            effective=today.isoformat(),
            note="wrong person",
            actor="staff:otto",
            today=today,
        )
        change_id = change.id
    post_form(petra, f"/changes/{change_id}/approve", {}, "/changes")
    assert [e.actor for e in audit(world.db, "job:request")] == ["staff:petra"]
    with world.db.session() as session:
        set_roles(session, "petra", ["auditor"], actor="staff:root")

    signer_once(world, tmp_path)
    job = only_job(world)
    assert job.state is JobState.FAILED
    assert job.error is not None and "petra" in job.error and "approver" in job.error
    with world.db.session() as session:
        document = session.exec(select(Document).where(Document.document_number == number)).one()
    assert document.status is DocumentStatus.ISSUED
    assert audit(world.db, "document:revoke") == []


def test_a_job_not_asked_for_by_a_member_of_staff_is_not_signed(
    world: World, tmp_path: Path
) -> None:
    batch_id = world.approved_batch()
    with world.db.session() as session:
        jobs.request_job(session, JobKind.BATCH_RUN, {"batch_id": batch_id}, actor="cli:mallory")
    signer_once(world, tmp_path)
    job = only_job(world)
    assert job.state is JobState.FAILED and job.error is not None and "cli:mallory" in job.error
    assert audit(world.db, "document:issue") == []
