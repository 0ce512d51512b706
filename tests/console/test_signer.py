"""Signing jobs: asked for in the console, done by ``certsvc signer serve`` (in process here)
as the member of staff who asked; the batch's progress document moves to 100%; a revocation
is approved the same way; two signers never take the same job."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select

from certsvc.audit.models import AuditEvent
from certsvc.db.database import Database
from certsvc.issuance.models import Document, DocumentStatus
from certsvc.issuance.runner import run_batch
from certsvc.jobs import service as jobs
from certsvc.jobs.models import JobKind, JobState, SigningJob
from tests.conftest import cli_invoker
from tests.console.conftest import Member, make_console, post_form, sign_in
from tests.issuance.conftest import World


def signer_once(world: World, tmp_path: Path) -> str:
    invoke = cli_invoker(tmp_path, world.settings.sqlalchemy_url, actor="signer-host")
    passphrase = world.settings.data_dir / "demo" / "signer.pass"
    result = invoke(
        "signer", "serve", "--once", "--workers", "0", "--passphrase-file", str(passphrase)
    )
    return result.output


def audit(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(
            session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
            ).all()
        )


def console_for(world: World) -> Flask:
    return make_console(world.settings, world.db)


def create_and_approve(world: World, operator: FlaskClient, approver: FlaskClient) -> int:
    data = {"session_ids": [str(i) for i in world.session_ids]}
    created = post_form(operator, "/batches", data, "/batches")
    assert created.status_code == 302 and "/batches/" in created.location, created.data
    batch_id = int(created.location.rstrip("/").rsplit("/", 1)[-1])
    page = f"/batches/{batch_id}"
    assert post_form(approver, f"{page}/approve", {}, page).status_code == 302
    return batch_id


def test_a_batch_run_asked_for_in_the_console_is_done_by_the_signer(
    world: World, tmp_path: Path, add_staff: Callable[..., Member]
) -> None:
    app = console_for(world)
    olga = sign_in(app.test_client(), world.db, add_staff("olga", "operator"))
    petra = sign_in(app.test_client(), world.db, add_staff("petra", "approver"))
    batch_id = create_and_approve(world, olga, petra)
    page = f"/batches/{batch_id}"
    before = petra.get(f"{page}/progress.json").get_json()
    assert before["percent"] == 0 and before["job"] is None and not before["done"]
    assert post_form(petra, f"{page}/run", {}, page).status_code == 302
    queued = petra.get(f"{page}/progress.json").get_json()
    assert queued["job"]["state"] == "queued" and queued["total"] > 0
    # a second request while the first waits is refused, and records nothing
    post_form(olga, f"{page}/run", {}, page)
    assert len(audit(world.db, "job:request")) == 1

    output = signer_once(world, tmp_path)
    assert "done" in output and "1 job(s) done" in output

    after = petra.get(f"{page}/progress.json").get_json()
    assert after["done"] and after["percent"] == 100 and after["status"] == "completed"
    assert after["counts"]["issued"] == after["total"] == queued["total"]
    assert after["job"]["state"] == "done" and after["job"]["progress"] == 100
    # the signer acted as petra, who asked: the batch's own audit events name her
    (request,) = audit(world.db, "job:request")
    assert request.actor == "staff:petra" and request.details["subject"] == f"batch:{batch_id}"
    assert [e.actor for e in audit(world.db, "job:start")] == ["staff:petra"]
    assert [e.actor for e in audit(world.db, "job:done")] == ["staff:petra"]
    assert [e.actor for e in audit(world.db, "batch:run")] == ["staff:petra"]
    issued = audit(world.db, "document:issue")
    assert issued and {e.actor for e in issued} == {"staff:petra"}
    assert [e.actor for e in audit(world.db, "batch:create")] == ["staff:olga"]
    report = petra.get(f"{page}/report")
    assert report.status_code == 200 and f"batch {batch_id}: completed" in report.get_data(
        as_text=True
    )


def test_a_revocation_is_approved_through_a_job_and_never_by_its_asker(
    world: World, tmp_path: Path, add_staff: Callable[..., Member]
) -> None:
    app = console_for(world)
    both = sign_in(app.test_client(), world.db, add_staff("bo", "operator", "approver"))
    petra = sign_in(app.test_client(), world.db, add_staff("petra", "approver"))
    batch_id = world.approved_batch()
    run_batch(world.db, world.settings, world.ctx.keystore, batch_id, world.options())
    with world.db.session() as session:
        number = session.exec(
            select(Document.document_number)
            .where(Document.status == DocumentStatus.ISSUED)
            .order_by(col(Document.id))
        ).first()
    assert number is not None
    page = f"/documents/{number}"
    found = petra.get(f"/documents?q={number[:12].lower()}").get_data(as_text=True)
    assert f'href="/documents/{number}"' in found  # by the number's start, in any case
    assert "没有找到" in petra.get("/documents?q=nobody-at-all").get_data(as_text=True)
    assert petra.get("/documents/2025-110000-GC2Z-999999X").status_code == 404
    asked = post_form(
        both,
        f"{page}/revoke",
        {"reason": "issued_in_error", "effective": "", "note": "wrong person"},
        page,
    )
    assert asked.status_code == 302
    # no effective date: refused by the service, nothing recorded
    assert audit(world.db, "document:change-request") == []
    today = app.extensions["certsvc-console"].today().isoformat()
    post_form(
        both,
        f"{page}/revoke",
        {"reason": "issued_in_error", "effective": today, "note": "wrong person"},
        page,
    )
    (requested,) = audit(world.db, "document:change-request")
    change_id = int(requested.subject_id)
    # the asker may not approve, even holding the approver role: no job is queued
    refused = post_form(both, f"/changes/{change_id}/approve", {}, "/changes")
    assert refused.status_code == 302
    assert "another member of staff" in both.get("/changes").get_data(as_text=True)
    assert audit(world.db, "job:request") == []
    post_form(petra, f"/changes/{change_id}/approve", {}, "/changes")
    assert [e.actor for e in audit(world.db, "job:request")] == ["staff:petra"]

    signer_once(world, tmp_path)
    with world.db.session() as session:
        document = session.exec(select(Document).where(Document.document_number == number)).one()
    assert document.status is DocumentStatus.REVOKED
    revoked = audit(world.db, "document:revoke")
    assert len(revoked) == 2 and {e.actor for e in revoked} == {"staff:petra"}  # and companion
    assert 'id="document-status">已撤销' in petra.get(page).get_data(as_text=True)


def test_a_failing_job_is_recorded_and_the_signer_goes_on(
    world: World, tmp_path: Path, add_staff: Callable[..., Member]
) -> None:
    add_staff("olga", "operator")
    with world.db.session() as session:
        jobs.request_job(session, JobKind.BATCH_RUN, {"batch_id": 999}, actor="staff:olga")
    output = signer_once(world, tmp_path)
    assert "failed: no issuance batch 999" in output
    with world.db.session() as session:
        (job,) = session.exec(select(SigningJob)).all()
    assert job.state is JobState.FAILED and job.error and "999" in job.error
    (failed,) = audit(world.db, "job:fail")
    assert failed.actor == "staff:olga"


def test_two_signers_never_take_the_same_job(db: Database) -> None:
    with db.session() as session:
        jobs.request_job(session, JobKind.BATCH_RUN, {"batch_id": 1}, actor="staff:olga")
    start = threading.Barrier(4)
    claimed: list[object] = []

    def claim(name: str) -> None:
        start.wait()
        claimed.append(jobs.claim_next(db, name))

    threads = [threading.Thread(target=claim, args=(f"signer-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [job for job in claimed if job is not None]
    assert len(winners) == 1 and len(claimed) == 4
    assert len(audit(db, "job:start")) == 1
    assert jobs.claim_next(db, "late") is None


def test_a_reissue_is_asked_for_approved_through_a_job_or_rejected(
    world: World, tmp_path: Path, add_staff: Callable[..., Member]
) -> None:
    app = console_for(world)
    olga = sign_in(app.test_client(), world.db, add_staff("olga", "operator"))
    petra = sign_in(app.test_client(), world.db, add_staff("petra", "approver"))
    run_batch(world.db, world.settings, world.ctx.keystore, world.approved_batch(), world.options())
    with world.db.session() as session:
        first, second = session.exec(
            select(Document.document_number)
            .where(
                Document.status == DocumentStatus.ISSUED, Document.document_type == "certificate"
            )
            .order_by(col(Document.id))
            .limit(2)
        ).all()
    post_form(
        olga,
        f"/documents/{first}/reissue",
        {"name": "王晓明", "work_unit": "", "note": "name misspelt"},
        f"/documents/{first}",
    )
    post_form(
        olga,
        f"/documents/{second}/revoke",
        {
            "reason": "holder_request",
            "effective": app.extensions["certsvc-console"].today().isoformat(),
            "note": "asked",
        },
        f"/documents/{second}",
    )
    requested = audit(world.db, "document:change-request")
    assert [e.actor for e in requested] == ["staff:olga", "staff:olga"]
    reissue_id, revoke_id = (int(e.subject_id) for e in requested)
    post_form(
        petra, f"/changes/{revoke_id}/reject", {"reason": "not signed by the holder"}, "/changes"
    )
    post_form(petra, f"/changes/{reissue_id}/approve", {}, "/changes")
    signer_once(world, tmp_path)
    with world.db.session() as session:
        old = session.exec(select(Document).where(Document.document_number == first)).one()
        kept = session.exec(select(Document).where(Document.document_number == second)).one()
    assert old.status is DocumentStatus.SUPERSEDED and old.superseded_by
    assert kept.status is DocumentStatus.ISSUED
    (rejected,) = audit(world.db, "document:change-reject")
    assert rejected.actor == "staff:petra" and rejected.subject_id == str(revoke_id)
    assert [e.actor for e in audit(world.db, "document:change-approve")] == ["staff:petra"]
    reissued = petra.get(f"/documents/{old.superseded_by}")
    assert reissued.status_code == 200 and "王晓明" in reissued.get_data(as_text=True)


def test_a_job_whose_signer_stopped_beating_is_taken_again(db: Database) -> None:
    with db.session() as session:
        job = jobs.request_job(session, JobKind.BATCH_RUN, {"batch_id": 1}, actor="staff:olga")
    first = jobs.claim_next(db, "signer-that-dies")
    assert first is not None and first.id == job.id
    assert jobs.claim_next(db, "another") is None  # running and beating: left alone
    with db.session() as session:
        found = session.get(SigningJob, job.id)
        assert found is not None and found.heartbeat_at is not None
        found.heartbeat_at = found.heartbeat_at - jobs.STALE_AFTER - timedelta(seconds=1)
        session.add(found)
    again = jobs.claim_next(db, "another")
    assert again is not None and again.id == job.id and again.claimed_by == "another"
