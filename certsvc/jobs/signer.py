"""The signer process: claims signing jobs and does them with the existing services.

``certsvc signer serve`` runs :func:`serve` on a machine that holds the agency's keys. Each job
runs *as the member of staff who asked for it* (its ``requested_by`` is the actor the service
sees), so the services' own rules still hold — a batch must be approved, nobody approves their
own revocation request — and the audit log names that person, whose account must still be
active and hold a role that may ask for the job when the signer takes it (:func:`check_asker`).
What went wrong is recorded on the job (``failed`` with the service's message) and the signer
carries on with the next job.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import select

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.errors import CertsvcError, StateError
from certsvc.issuance.runner import RunOptions, run_batch
from certsvc.jobs import service
from certsvc.jobs.models import JobKind, SigningJob
from certsvc.keys.files import Passphrase
from certsvc.keys.service import KeyStore
from certsvc.notifications import service as notifications
from certsvc.revocation.service import ApproveOptions, approve_change
from certsvc.staff.models import Role, StaffUser

log = logging.getLogger(__name__)
BEAT_SECONDS = 2.0
STAFF_PREFIX = "staff:"
# who may ask for each kind of job: the roles of the console route that queues it
ASKERS: dict[JobKind, frozenset[Role]] = {
    JobKind.BATCH_RUN: frozenset({Role.OPERATOR, Role.APPROVER}),
    JobKind.CHANGE_APPROVE: frozenset({Role.APPROVER}),
}


@dataclass(frozen=True)
class SignerOptions:
    passphrase: Passphrase | None = None
    workers: int = 0  # batch signing processes; 0: in the signer process itself
    poll_seconds: float = 2.0
    deliver_notifications: bool = True


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


class JobProgress:
    """The batch runner's progress sink: the job's percentage and heartbeat, written at most
    every :data:`BEAT_SECONDS` (the page reads the batch's items for the live counts)."""

    def __init__(self, db: Database, job_id: int) -> None:
        self._db = db
        self._job_id = job_id
        self._total = 0
        self._done = 0
        self._last = 0.0

    def start(self, total: int, done: int) -> None:
        self._total, self._done = total, done
        self._write(force=True)

    def advance(self, candidates: int, failed: int) -> None:
        self._done += candidates
        self._write()

    def finish(self) -> None:
        self._write(force=True)

    def _write(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._last < BEAT_SECONDS:
            return
        self._last = time.monotonic()
        percent = 100 * self._done // self._total if self._total else 100
        service.beat(self._db, self._job_id, progress=percent)


def execute(
    db: Database, settings: Settings, keystore: KeyStore, job: SigningJob, options: SignerOptions
) -> dict[str, Any]:
    """Do one claimed job; its result for the record. Raises what the service raised."""
    assert job.id is not None
    check_asker(db, job)
    if job.kind is JobKind.BATCH_RUN:
        report = run_batch(
            db,
            settings,
            keystore,
            int(job.arguments["batch_id"]),
            RunOptions(
                actor=job.requested_by,
                passphrase=options.passphrase,
                workers=options.workers,
                retry_failed=bool(job.arguments.get("retry_failed", False)),
                progress=JobProgress(db, job.id),
                deliver_notifications=options.deliver_notifications,
            ),
        )
        return {  # the run wrote the full report to the reports folder
            "batch_id": report.batch_id,
            "status": report.status,
            "issued": report.issued,
            "failed": report.failed_count,
            "skipped": report.skipped_count,
        }
    if job.kind is JobKind.CHANGE_APPROVE:
        change = approve_change(
            db,
            settings,
            keystore,
            int(job.arguments["change_id"]),
            ApproveOptions(actor=job.requested_by, passphrase=options.passphrase),
        )
        if options.deliver_notifications:
            notifications.deliver(db, notifications.sender_for(settings), actor=job.requested_by)
        return {
            "change_id": change.id,
            "kind": change.kind.value,
            "new_numbers": change.new_numbers,
        }
    raise CertsvcError(f"signing job {job.id} is of an unknown kind {job.kind!r}")


def check_asker(db: Database, job: SigningJob) -> None:
    """The member of staff who asked may still ask: an active account holding a role allowed
    for this kind of job. Checked when the job is taken, not only when it was asked for, so
    that an account disabled or a role taken away in between (or before a stalled job is taken
    again) stops the job before anything is signed in that person's name."""
    asker = job.requested_by
    if not asker.startswith(STAFF_PREFIX):
        raise StateError(f"signing job {job.id} was asked for by {asker}, not a member of staff")
    username = asker.removeprefix(STAFF_PREFIX)
    with db.session() as session:
        user = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
        if user is None:
            raise StateError(f"signing job {job.id}: no member of staff is called {username}")
        if not user.active:
            raise StateError(f"signing job {job.id}: {username}, who asked for it, is disabled")
        allowed = ASKERS.get(job.kind, frozenset())
        if not user.has_any(allowed):
            raise StateError(
                f"signing job {job.id}: {username}, who asked for it, no longer holds the role "
                f"of {' or '.join(sorted(role.value for role in allowed)) or 'anyone'}"
            )


def run_one(
    db: Database,
    settings: Settings,
    keystore: KeyStore,
    options: SignerOptions,
    *,
    worker: str | None = None,
) -> SigningJob | None:
    """Claim and do the next job, recording done or failed; the job, or None if none waits."""
    job = service.claim_next(db, worker or worker_name())
    if job is None:
        return None
    assert job.id is not None
    log.info(
        "signing job %s (%s, %s) for %s", job.id, job.kind.value, job.subject, job.requested_by
    )
    try:
        result = execute(db, settings, keystore, job, options)
    except CertsvcError as exc:
        service.fail(db, job.id, str(exc))
    except Exception as exc:  # a bug: recorded on the job, logged, and the signer goes on
        log.exception("signing job %s failed unexpectedly", job.id)
        service.fail(db, job.id, f"internal error: {type(exc).__name__}")
    else:
        service.finish(db, job.id, result)
    with db.session() as session:
        return service.get_job(session, job.id)


def serve(
    db: Database,
    settings: Settings,
    keystore: KeyStore,
    options: SignerOptions,
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    on_job: Callable[[SigningJob], None] | None = None,
) -> int:
    """Do jobs until ``stop`` is set (or, with ``once``, until none is waiting); how many."""
    stop = stop or threading.Event()
    done = 0
    while not stop.is_set():
        job = run_one(db, settings, keystore, options)
        if job is None:
            if once:
                break
            stop.wait(options.poll_seconds)
            continue
        done += 1
        if on_job is not None:
            on_job(job)
    return done
