"""Asking for signing jobs, claiming them, and recording how they end.

The console calls :func:`request_job` in the transaction that audits it (``job:request``).
Any number of signer processes may call :func:`claim_next`: a job moves from *queued* to
*running* by one conditional ``UPDATE`` (``… WHERE id = ? AND state = 'queued'``), so when two
signers race for a job, the database lets exactly one of them change the row. A running job
whose signer stopped beating (killed, machine lost) for :data:`STALE_AFTER` may be claimed
again: the batch run and the approval it does are resumable by design.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from certsvc.audit.events import Action, record
from certsvc.db.database import Database
from certsvc.db.types import utcnow
from certsvc.errors import NotFoundError, StateError
from certsvc.jobs.models import JobKind, JobState, SigningJob

STALE_AFTER = timedelta(minutes=10)
OPEN_STATES = (JobState.QUEUED, JobState.RUNNING)
_table = SigningJob.__table__  # type: ignore[attr-defined]


def subject_of(kind: JobKind, arguments: Mapping[str, Any]) -> str:
    if kind is JobKind.BATCH_RUN:
        return f"batch:{int(arguments['batch_id'])}"
    return f"change:{int(arguments['change_id'])}"


def request_job(
    session: Session, kind: JobKind, arguments: Mapping[str, Any], *, actor: str
) -> SigningJob:
    """Queue a job; refused while the same subject has a job queued or running."""
    subject = subject_of(kind, arguments)
    busy = open_job(session, subject)
    if busy is not None:
        raise StateError(
            f"{subject.replace(':', ' ')} already has signing job {busy.id} ({busy.state.value})"
        )
    job = SigningJob(
        kind=kind,
        subject=subject,
        arguments=dict(arguments),
        requested_by=actor,
        state=JobState.QUEUED,
    )
    session.add(job)
    session.flush()
    record(
        session,
        Action.JOB_REQUEST,
        actor=actor,
        subject_type="signing_job",
        subject_id=job.id,
        details={"kind": kind.value, "subject": subject, "arguments": dict(arguments)},
    )
    return job


def open_job(session: Session, subject: str) -> SigningJob | None:
    return session.exec(
        select(SigningJob)
        .where(SigningJob.subject == subject, col(SigningJob.state).in_(OPEN_STATES))
        .order_by(col(SigningJob.id).desc())
    ).first()


def latest_job(session: Session, subject: str) -> SigningJob | None:
    return session.exec(
        select(SigningJob).where(SigningJob.subject == subject).order_by(col(SigningJob.id).desc())
    ).first()


def get_job(session: Session, job_id: int) -> SigningJob:
    job = session.get(SigningJob, job_id)
    if job is None:
        raise NotFoundError(f"no signing job {job_id}")
    return job


def list_jobs(session: Session, *, limit: int = 100) -> list[SigningJob]:
    return list(
        session.exec(select(SigningJob).order_by(col(SigningJob.id).desc()).limit(limit)).all()
    )


def claim_next(db: Database, worker: str, *, now: datetime | None = None) -> SigningJob | None:
    """The oldest claimable job, now *running* for ``worker``; None when there is none."""
    while True:
        now = now or utcnow()
        stale = now - STALE_AFTER
        with db.session() as session:
            candidate = session.exec(
                select(SigningJob.id)
                .where(
                    sa.or_(
                        col(SigningJob.state) == JobState.QUEUED,
                        sa.and_(
                            col(SigningJob.state) == JobState.RUNNING,
                            col(SigningJob.heartbeat_at) < stale,
                        ),
                    )
                )
                .order_by(col(SigningJob.id))
                .limit(1)
            ).first()
        if candidate is None:
            return None
        with db.session() as session:
            won = session.connection().execute(
                sa.update(_table)
                .where(
                    _table.c.id == candidate,
                    sa.or_(
                        _table.c.state == JobState.QUEUED.value,
                        sa.and_(
                            _table.c.state == JobState.RUNNING.value,
                            _table.c.heartbeat_at < stale,
                        ),
                    ),
                )
                .values(
                    state=JobState.RUNNING.value,
                    claimed_by=worker[:64],
                    started_at=now,
                    heartbeat_at=now,
                    error=None,
                )
            )
            if won.rowcount != 1:  # another signer took it first: look again
                continue
            job = get_job(session, candidate)
            record(
                session,
                Action.JOB_START,
                actor=job.requested_by,
                subject_type="signing_job",
                subject_id=job.id,
                details={"kind": job.kind.value, "subject": job.subject, "signer": worker[:64]},
            )
            return job


def beat(db: Database, job_id: int, *, progress: int | None = None) -> None:
    """The signer is alive (and, if given, this far through the job, in percent)."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = max(0, min(100, progress))
    with db.session() as session:
        session.execute(sa.update(_table).where(_table.c.id == job_id).values(**values))


def finish(db: Database, job_id: int, result: Mapping[str, Any]) -> None:
    with db.session() as session:
        job = get_job(session, job_id)
        job.state = JobState.DONE
        job.progress = 100
        job.finished_at = utcnow()
        job.result = dict(result)
        session.add(job)
        record(
            session,
            Action.JOB_DONE,
            actor=job.requested_by,
            subject_type="signing_job",
            subject_id=job.id,
            details={"kind": job.kind.value, "subject": job.subject, "result": dict(result)},
        )


def fail(db: Database, job_id: int, error: str) -> None:
    with db.session() as session:
        job = get_job(session, job_id)
        job.state = JobState.FAILED
        job.finished_at = utcnow()
        job.error = error[:1000]
        session.add(job)
        record(
            session,
            Action.JOB_FAIL,
            actor=job.requested_by,
            subject_type="signing_job",
            subject_id=job.id,
            details={"kind": job.kind.value, "subject": job.subject, "error": error[:500]},
        )
