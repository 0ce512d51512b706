"""Running a batch: reserve, sign in parallel, record, log; resumable after any crash.

The coordinator (this module, one process, holding the batch's run lock) is the only writer of
the database. It works through the batch in steps:

1. **Begin**: the batch must be approved; the signer must be able to sign now; the run is
   counted and audited, and the issue date fixed by the first run is kept.
2. **Recover** what a killed run left: staged files whose hash the registry recorded are
   promoted to the store; every other staged file is discarded.
3. **Reserve** candidates a few hundred at a time: numbers allocated and registry rows
   written *reserved*, in one transaction, before anything is signed.
4. **Sign**: worker processes make and stage each candidate's two PDFs: a process pool of
   this machine, or, with ``CERTSVC_BROKER_URL``, Celery workers anywhere, whose PDFs come
   back through the broker and are staged here (``certsvc.issuance.distributed``).
5. **Record** each finished candidate in one transaction: registry rows *issued* with hash,
   size and signer; the transparency-log entries; the audit events; the holder's message in the
   outbox. Only then are the staged files promoted.
6. **Close**: when no candidate is left, the batch's tree head is signed, every document gets
   its inclusion proof, and the report is written.

Killed anywhere, a re-run starts again at step 1 and finishes the same batch: reserved
candidates are re-signed under the numbers they already have, issued ones are left alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from certsvc.agencies.models import Agency
from certsvc.audit.events import Action, record
from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.db.types import utcnow
from certsvc.documents.material import open_signing_material, read_signer_spec
from certsvc.documents.sign import SigningMaterial
from certsvc.errors import KeyStoreError, StateError
from certsvc.issuance import logbook
from certsvc.issuance.batches import get_batch, item_counts
from certsvc.issuance.lock import batch_run_lock
from certsvc.issuance.metrics import batch_metrics
from certsvc.issuance.models import (
    BatchItem,
    BatchStatus,
    Document,
    DocumentStatus,
    IssuanceBatch,
    ItemState,
)
from certsvc.issuance.pool import SigningPool, executor_for
from certsvc.issuance.recording import RunState, record_outcomes, skip_candidates
from certsvc.issuance.records import (
    load_candidates,
    record_for,
    reserve,
    reserved_documents,
    standing_refusal,
)
from certsvc.issuance.report import BatchReport, RunFigures, build_report
from certsvc.issuance.store import DocumentStore, FileDocumentStore
from certsvc.issuance.worker import (
    CandidateJob,
    document_id_of,
    settle_heap,
)
from certsvc.keys.files import Passphrase
from certsvc.keys.handles import KeyAlgorithm, PrivateKeyHandle
from certsvc.keys.service import KeyStore, signing_refusal
from certsvc.notifications import service as notifications

if TYPE_CHECKING:
    from certsvc.issuance.distributed.coordinator import CeleryWorkers

RESERVE_AT_ONCE = 256  # candidates reserved per transaction
LOCAL_TASK = 8  # candidates per task for a local worker process
# per chunk for a Celery worker: a chunk costs the coordinator a task message and a reply
# besides its transaction, and 16 took ~10% less of its CPU per person than 8 (measured)
CELERY_TASK = 16
SIGNER_CHECK_SECONDS = 30.0
T = TypeVar("T")


class ProgressSink(Protocol):
    def start(self, total: int, done: int) -> None: ...
    def advance(self, candidates: int, failed: int) -> None: ...
    def finish(self) -> None: ...


@dataclass(frozen=True)
class RunOptions:
    actor: str
    passphrase: Passphrase | None = None
    workers: int = 0  # 0: sign in this process (tests, tiny batches)
    jobs_per_task: int = 0  # candidates handed to a worker at once; 0: 8 locally, 16 on Celery
    retry_failed: bool = False
    progress: ProgressSink | None = None
    now: Callable[[], datetime] = utcnow
    deliver_notifications: bool = True
    distributed: bool = False  # sign on Celery workers (CERTSVC_BROKER_URL), not a local pool


def run_batch(
    db: Database, settings: Settings, keystore: KeyStore, batch_id: int, options: RunOptions
) -> BatchReport:
    """Run (or resume) batch ``batch_id`` to completion; the report of the batch."""
    with batch_run_lock(db, batch_id), batch_metrics(settings, batch_id) as metrics:
        remote = _celery_workers(settings) if options.distributed else None
        if not options.jobs_per_task:
            options = replace(options, jobs_per_task=CELERY_TASK if remote else LOCAL_TASK)
        run, material = _begin(db, settings, keystore, batch_id, options)
        try:
            metrics.begin(run)  # a node_exporter textfile when CERTSVC_METRICS_TEXTFILE_DIR is set
            settle_heap()  # the coordinator's imports and signing material, out of the GC's way
            store = FileDocumentStore(settings.document_store_dir).ensure()
            _recover(db, store, run)
            pool: SigningPool = (
                remote.pool(run, store)
                if remote is not None
                else executor_for(
                    settings, keystore, run, options.passphrase, options.workers, options.now()
                )
            )
            with pool:
                try:
                    _sign_everything(db, store, run, options, pool)
                finally:
                    store.sync()
            report = _close(db, settings, run, options, material.handle)
            metrics.finished(report)
        finally:
            material.close()  # an HSM key's session and login, in a long-lived signer process
    if options.deliver_notifications:
        notifications.deliver(db, notifications.sender_for(settings), actor=options.actor)
    return report


def _celery_workers(settings: Settings) -> CeleryWorkers:
    """The broker and the Celery workers answering on it, or a clear error before the run is
    counted (imported here: only a distributed run loads Celery)."""
    from certsvc.issuance.distributed.coordinator import CeleryWorkers

    return CeleryWorkers.find(settings)


# -- 1. begin -----------------------------------------------------------------------------


def _begin(
    db: Database, settings: Settings, keystore: KeyStore, batch_id: int, options: RunOptions
) -> tuple[RunState, SigningMaterial]:
    now = options.now()
    with db.session() as session:
        batch = get_batch(session, batch_id, for_update=True)
        if batch.status is BatchStatus.DRAFT:
            raise StateError(f"batch {batch_id} has not been approved (`certsvc batch approve`)")
        if batch.status is BatchStatus.CANCELLED:
            raise StateError(f"batch {batch_id} was cancelled")
        if batch.status is BatchStatus.COMPLETED and not options.retry_failed:
            raise StateError(f"batch {batch_id} is already complete (`certsvc batch report`)")
        agency = session.get(Agency, batch.agency_id)
        assert agency is not None
        spec = read_signer_spec(
            session,
            agency_code=agency.code,
            at=now,
            tsa_url=settings.tsa_url,
            tsa_trust_roots=settings.tsa_trust_roots,
        )
        if spec.signer.algorithm is not KeyAlgorithm.ECDSA_P256:
            raise KeyStoreError(
                f"signer {spec.signer.key_id} is {spec.signer.algorithm.value}: QR tokens need "
                "an ECDSA P-256 document signer (`certsvc keys issue-signer --algorithm "
                "ecdsa-p256`); nothing was signed"
            )
        # the signer must be able to sign now (key, passphrase) before the run is counted
        material = open_signing_material(spec, keystore, at=now, passphrase=options.passphrase)
        if options.retry_failed:
            _reopen_failed(session, batch, options.actor)
        batch.runs += 1
        batch.first_started_at = batch.first_started_at or now
        if batch.issued_on is None:
            batch.issued_on = now.astimezone(ZoneInfo(settings.timezone)).date()
        session.add(batch)
        record(
            session,
            Action.BATCH_RUN,
            actor=options.actor,
            subject_type="issuance_batch",
            subject_id=batch_id,
            details={
                "run": batch.runs,
                "signer_key_id": spec.signer.key_id,
                "workers": "celery" if options.distributed else options.workers,
                "issued_on": batch.issued_on.isoformat(),
            },
        )
        run = RunState(
            batch_id, batch.runs, agency, batch.issued_on, spec, settings.public_base_url
        )
        return run, material


def _reopen_failed(session: Session, batch: IssuanceBatch, actor: str) -> None:
    failed = session.exec(
        select(BatchItem).where(BatchItem.batch_id == batch.id, BatchItem.state == ItemState.FAILED)
    ).all()
    if not failed:
        raise StateError(f"batch {batch.id} has no failed candidate to retry")
    for item in failed:
        item.state = ItemState.PENDING
        item.reason = None
        item.updated_at = utcnow()
        session.add(item)
    batch.status = BatchStatus.APPROVED
    batch.completed_at = None


# -- 2. recover ---------------------------------------------------------------------------


def _recover(db: Database, store: DocumentStore, run: RunState) -> None:
    """Promote staged files the registry recorded as issued; discard the rest."""
    store.discard_partials()
    names = store.staged()
    if not names:
        return
    ids = {name: document_id_of(name) for name in names}
    with db.session() as session:
        issued = {
            document.id: document.sha256
            for document in session.exec(
                select(Document).where(
                    col(Document.id).in_([i for i in ids.values() if i is not None]),
                    Document.status == DocumentStatus.ISSUED,
                )
            ).all()
        }
    for name, document_id in ids.items():
        expected = issued.get(document_id)
        staged = store.staged_file(name)
        if expected is not None and staged is not None and staged.sha256 == expected:
            store.promote(name, expected)
            run.recovered_files += 1
        else:
            store.discard(name)
            run.discarded_files += 1


# -- 3-5. reserve, sign, record -----------------------------------------------------------


def _sign_everything(
    db: Database,
    store: DocumentStore,
    run: RunState,
    options: RunOptions,
    pool: SigningPool,
) -> None:
    with db.session() as session:
        counts = item_counts(session, run.batch_id)
    total = sum(counts.values())
    finished = counts[ItemState.ISSUED] + counts[ItemState.FAILED] + counts[ItemState.SKIPPED]
    if options.progress:
        options.progress.start(total, finished)
    tasks = _tasks(db, run, options)
    exhausted = False
    last_check = time.monotonic()
    try:
        while True:
            while not exhausted and pool.in_flight() < pool.capacity:
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                else:
                    pool.submit(task)
            if not pool.in_flight():
                return
            outcomes = pool.next_outcomes()
            record_outcomes(db, store, run, options.actor, options.now(), outcomes)
            if options.progress:
                failed = sum(1 for outcome in outcomes if outcome.error)
                options.progress.advance(len(outcomes), failed)
            if time.monotonic() - last_check > SIGNER_CHECK_SECONDS:
                _check_signer(db, run, options.now())
                last_check = time.monotonic()
    finally:
        if options.progress:
            options.progress.finish()


def _tasks(db: Database, run: RunState, options: RunOptions) -> Iterator[list[CandidateJob]]:
    """Jobs in tasks of ``jobs_per_task``: first candidates a killed run had reserved, then
    pending ones, reserved ``RESERVE_AT_ONCE`` at a time as the workers need them."""
    for state in (ItemState.RESERVED, ItemState.PENDING):
        after = 0
        while True:
            with db.session() as session:
                items = session.exec(
                    select(BatchItem)
                    .where(
                        BatchItem.batch_id == run.batch_id,
                        BatchItem.state == state,
                        col(BatchItem.id) > after,
                    )
                    .order_by(col(BatchItem.id))
                    .limit(RESERVE_AT_ONCE)
                ).all()
                if not items:
                    break
                after = items[-1].id or after
                candidates = load_candidates(session, items)
                if state is ItemState.PENDING:
                    refusals = standing_refusal(session, candidates)
                    skip_candidates(session, run, options.actor, candidates, refusals)
                    candidates = [c for c in candidates if (c.item.id or 0) not in refusals]
                    if not candidates:
                        continue
                    documents = reserve(
                        session,
                        candidates,
                        agency=run.agency,
                        batch_id=run.batch_id,
                        issued_on=run.issued_on,
                    )
                else:
                    documents = reserved_documents(session, [c.item.id or 0 for c in candidates])
                jobs = [
                    CandidateJob(
                        item_id=candidate.item.id or 0,
                        documents=tuple(
                            (document.id or 0, record_for(document, candidate, run.agency))
                            for document in documents[candidate.item.id or 0]
                        ),
                    )
                    for candidate in candidates
                ]
            for start in range(0, len(jobs), options.jobs_per_task):
                yield jobs[start : start + options.jobs_per_task]


def _check_signer(db: Database, run: RunState, now: datetime) -> None:
    """Stop the run (a re-run continues) if the signer may no longer sign or the CRL the
    signatures carry has expired."""
    with db.session() as session:
        signer = session.get(type(run.spec.signer), run.spec.signer.id)
        refusal = None if signer is None else signing_refusal(signer, now)
    if signer is None or refusal is not None:
        raise KeyStoreError(f"the run stopped: {refusal or 'the signer is gone'}; re-run it")
    if run.spec.crl_next_update <= now:
        raise KeyStoreError(
            "the run stopped: the CRL carried by its signatures expired; publish a new one "
            "(`certsvc keys publish-crl`) and re-run the batch"
        )


# -- 6. close -----------------------------------------------------------------------------


def _close(
    db: Database, settings: Settings, run: RunState, options: RunOptions, handle: PrivateKeyHandle
) -> BatchReport:
    elapsed = time.perf_counter() - run.started
    with db.session() as session:
        batch = get_batch(session, run.batch_id, for_update=True)
        counts = item_counts(session, run.batch_id)
        left = counts[ItemState.PENDING] + counts[ItemState.RESERVED]
        if left:
            raise StateError(f"batch {run.batch_id} still has {left} candidates; re-run it")
        tree_size = logbook.close_batch(
            session,
            handle=handle,
            key_id=run.spec.signer.key_id,
            batch_id=run.batch_id,
            actor=options.actor,
            public_base_url=run.base_url,
        )
        figures = RunFigures(
            run=run.number,
            seconds=elapsed,
            candidates=run.candidates_done,
            failed=run.failed,
            skipped=run.skipped,
            recovered_files=run.recovered_files,
            discarded_files=run.discarded_files,
            timings_ms=dict(run.timings_ms),
            coordinator_cpu_seconds=time.process_time() - run.cpu_started,
        )
        batch.status = BatchStatus.COMPLETED
        batch.completed_at = options.now()
        batch.tree_size = tree_size
        report = build_report(session, batch, figures)
        batch.report = report.as_dict()
        session.add(batch)
        record(
            session,
            Action.BATCH_COMPLETE,
            actor=options.actor,
            subject_type="issuance_batch",
            subject_id=run.batch_id,
            details={
                "issued": report.issued,
                "failed": report.failed_count,
                "skipped": report.skipped_count,
                "tree_size": tree_size,
            },
        )
    report.write(settings.data_dir / "reports")
    return report
