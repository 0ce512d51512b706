"""``certsvc demo``: a working example built from nothing on the configured database.

Today it initialises the database, imports a generated roster, runs publicity for every
session over the 2025 National Day holiday (opened on Friday 26 September, so the five working
days run to 9 October), lodges three objections — one upheld, one dismissed, one left open —
and closes publicity; then it makes the bureau root and the agency's document signer on this
machine, publishes the signed trust list and CRL, and issues every cleared candidate's
certificate and notice through a batch (created by one person, approved by another, run on every
CPU). Every step is skipped when already done, so the demo can be run again.
"""

from __future__ import annotations

import os
import secrets
from datetime import date
from pathlib import Path

from sqlmodel import col, select

from certsvc.bootstrap import initialise
from certsvc.cli.context import CliContext
from certsvc.keys import service as keys
from certsvc.keys.files import Passphrase
from certsvc.keys.models import PublicationKind, RootCertificate, SigningKey
from certsvc.publicity.models import Objection, ObjectionChannel, PublicityStatus
from certsvc.publicity.service import (
    close_publicity,
    find_period,
    lodge_objection,
    open_publicity,
    resolve_objection,
)
from certsvc.roster.fit import DocumentChecks
from certsvc.roster.generator import RosterSpec, write_roster
from certsvc.roster.importer import import_roster
from certsvc.roster.models import ReviewResult, ReviewSession

REVIEW_DATE = date(2025, 9, 12)
PUBLICITY_START = date(2025, 9, 26)  # the Friday before National Day 2025
OBJECTION_RECEIVED = date(2025, 9, 29)
DEMO_OPERATOR = "demo:operator"
DEMO_APPROVER = "demo:approver"


def run_demo(ctx: CliContext, *, rows: int, seed: int, issue: bool = True) -> None:
    """Build the example; with ``issue`` off, stop before issuance (tests run it themselves)."""
    out = ctx.console
    settings = ctx.settings
    db = ctx.db
    init = initialise(db, settings, actor=ctx.actor)
    out.print(
        f"1. database: {settings.display()['database_url']} at revision "
        f"{init.revision_after}; agency {settings.agency_code} ({settings.agency_name})"
    )

    roster_path = settings.data_dir / "demo" / f"roster-{seed}-{rows}.csv"
    roster_path.parent.mkdir(parents=True, exist_ok=True)
    manifest = write_roster(
        roster_path, RosterSpec(rows=rows, seed=seed, year=2025, review_date=REVIEW_DATE)
    )
    out.print(
        f"2. roster: {roster_path}: {manifest.rows} rows in {manifest.sessions} review sessions"
    )

    report = import_roster(
        db,
        roster_path,
        agency_code=settings.agency_code,
        actor=ctx.actor,
        today=ctx.today(),
        checks=DocumentChecks.for_settings(settings),
    )
    if not report.ok:
        raise RuntimeError(f"the demo roster did not import: {report.errors[:3]}")
    out.print(
        f"3. import: {report.results_created} results created, "
        f"{report.results_unchanged} already stored, {report.persons_created} persons"
    )

    today = ctx.today()
    with db.session() as session:
        sessions = session.exec(select(ReviewSession).order_by(col(ReviewSession.id))).all()
        session_ids = [review.id for review in sessions if review.id is not None]
    opened = 0
    for session_id in session_ids:
        with db.session() as session:
            if find_period(session, session_id) is None:
                open_publicity(
                    session,
                    ctx.calendar,
                    session_id=session_id,
                    start=PUBLICITY_START,
                    working_days=settings.publicity_working_days,
                    actor=ctx.actor,
                    today=today,
                    backdate_reason="demo: publicity of the 2025 review, recorded afterwards",
                )
                opened += 1
    end = ctx.calendar.working_day_end(PUBLICITY_START, settings.publicity_working_days)
    out.print(
        f"4. publicity: opened for {opened} session(s) from {PUBLICITY_START} "
        f"to {end}: {settings.publicity_working_days} working days across National Day "
        "(the make-up Sunday 28 September counts, 1–8 October do not)"
    )

    _demo_objections(ctx, session_ids[0], today)

    held_total = withdrawn_total = cleared_total = 0
    for session_id in session_ids:
        with db.session() as session:
            period = find_period(session, session_id)
            if period is None or period.status is PublicityStatus.CLOSED:
                continue
            standing = close_publicity(session, session_id=session_id, actor=ctx.actor, today=today)
            held_total += len(standing.held)
            withdrawn_total += len(standing.withdrawn)
            cleared_total += standing.cleared
            for held in standing.held:
                out.print(
                    f"   held: result {held.result_id} ({held.person_name}), open "
                    f"objection {', '.join(map(str, held.objection_ids))}"
                )
    out.print(
        f"6. close: publicity closed: {cleared_total} results cleared for "
        f"issuance, {held_total} held by an open objection, {withdrawn_total} withdrawn"
    )
    _demo_keys(ctx)
    if not issue:
        return
    _demo_issuance(ctx, session_ids)
    out.print(
        "next: `certsvc session list`, `certsvc publicity status 1`, `certsvc objection list`, "
        "`certsvc keys list`, `certsvc batch report 1`, `certsvc log verify`, "
        "`certsvc document inspect FILE.pdf`"
    )


def _demo_issuance(ctx: CliContext, session_ids: list[int]) -> None:
    """Issue every cleared candidate through a batch, as the bureau does: created by an
    operator, approved by another member of staff, run by the signer (one process per CPU)."""
    from certsvc.issuance.batches import approve_batch, create_batch
    from certsvc.issuance.models import BatchStatus, Document, DocumentStatus, IssuanceBatch
    from certsvc.issuance.runner import RunOptions, run_batch
    from certsvc.issuance.store import FileDocumentStore

    db = ctx.db
    with db.session() as session:
        batch = session.exec(
            select(IssuanceBatch).where(IssuanceBatch.status != BatchStatus.CANCELLED)
        ).first()
        if batch is None:
            batch = create_batch(
                session,
                agency_code=ctx.settings.agency_code,
                session_ids=session_ids,
                actor=DEMO_OPERATOR,
            )
            assert batch.id is not None
            approve_batch(session, batch.id, actor=DEMO_APPROVER)
        batch_id = batch.id
        status = batch.status
    assert batch_id is not None
    if status is not BatchStatus.COMPLETED:
        report = run_batch(
            db,
            ctx.settings,
            ctx.keystore,
            batch_id,
            RunOptions(
                actor=ctx.actor,
                passphrase=_demo_passphrase(ctx.settings.data_dir / "demo" / "signer.pass"),
                workers=ctx.settings.batch_workers or os.cpu_count() or 1,
            ),
        )
        run = report.last_run
        assert run is not None
        ctx.console.print(
            f"8. issuance: batch {batch_id} (created by {DEMO_OPERATOR}, approved by "
            f"{DEMO_APPROVER}): {report.issued} holders issued a certificate and a notice, "
            f"{len(report.held)} left out, {report.failed_count} failed, in "
            f"{run.seconds:.1f} s ({run.persons_per_second:.0f} persons/s)"
        )
    else:
        ctx.console.print(f"8. issuance: batch {batch_id} already complete")
    store = FileDocumentStore(ctx.settings.document_store_dir)
    with db.session() as session:
        examples = session.exec(
            select(Document)
            .where(Document.batch_id == batch_id, Document.status == DocumentStatus.ISSUED)
            .order_by(col(Document.id))
            .limit(2)
        ).all()
    ctx.console.print(
        f"   signed PDFs by content hash in {store.root}; holder messages in "
        f"{ctx.settings.data_dir / 'outbox' / 'sms.jsonl'}; report in "
        f"{ctx.settings.data_dir / 'reports' / f'batch-{batch_id}.txt'}"
    )
    for document in examples:
        assert document.sha256 is not None
        ctx.console.print(f"   e.g. {document.document_number}: {store.path_for(document.sha256)}")


def _demo_keys(ctx: CliContext) -> None:
    """A root and a signer made on this machine, with generated passphrases kept (0600) in the
    demo folder: fine for a demo; a bureau keeps its root offline and its passphrases apart.
    The CRL and trust list are published when a key was made here, or if none is published yet,
    so running the demo again changes nothing."""
    folder = ctx.settings.data_dir / "demo"
    root_pass = _demo_passphrase(folder / "root.pass")
    signer_pass = _demo_passphrase(folder / "signer.pass")
    now = ctx.now()
    created = False
    with ctx.db.session() as session:
        if session.exec(select(RootCertificate)).first() is None:
            keys.create_root(
                session,
                ctx.keystore,
                organization=ctx.settings.agency_name,
                passphrase=root_pass,
                actor=ctx.actor,
                now=now,
            )
            created = True
    with ctx.db.session() as session:
        root = keys.load_root(session, ctx.keystore, root_pass)
        if session.exec(select(SigningKey)).first() is None:
            keys.issue_signer(
                session,
                ctx.keystore,
                root,
                agency_code=ctx.settings.agency_code,
                actor=ctx.actor,
                now=now,
                passphrase=signer_pass,
            )
            created = True
        signer = keys.signer_for(session, ctx.settings.agency_code, now)
        if created or keys.latest_publication(session, PublicationKind.CRL) is None:
            keys.publish_crl(session, root, actor=ctx.actor, now=now)
        trust = keys.latest_publication(session, PublicationKind.TRUST_LIST)
        if created or trust is None:
            trust = keys.publish_trust_list(session, root, actor=ctx.actor, now=now)
            state = "published"
        else:
            state = "already published"
    ctx.console.print(
        f"7. keys: root {root.row.fingerprint[:16]}… in {ctx.keystore.key_dir}, "
        f"signer {signer.key_id} for {ctx.settings.agency_code}; trust list "
        f"{trust.number} {state} (passphrases for this demo: {folder}/*.pass)"
    )


def _demo_passphrase(path: Path) -> Passphrase:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
    return Passphrase.from_sources(file=path)


def _demo_objections(ctx: CliContext, session_id: int, today: date) -> None:
    db = ctx.db
    with db.session() as session:
        existing = session.exec(
            select(Objection)
            .join(ReviewResult, col(ReviewResult.id) == col(Objection.result_id))
            .where(ReviewResult.session_id == session_id)
        ).first()
        if existing is not None:
            ctx.console.print("5. objections: already lodged")
            return
        passing = session.exec(
            select(ReviewResult.id)
            .where(ReviewResult.session_id == session_id, col(ReviewResult.passed).is_(True))
            .order_by(col(ReviewResult.id))
            .limit(3)
        ).all()
        cases = [
            ("举报论文存在抄袭", True, "经核查，代表作存在抄袭，取消评审结果"),
            ("反映工作年限不足", False, "经核查，工作年限符合申报条件"),
            ("反映业绩材料存疑", None, ""),
        ]
        for result_id, (summary, upheld, finding) in zip(passing, cases, strict=False):
            assert result_id is not None
            lodged = lodge_objection(
                session,
                result_id=result_id,
                received_on=OBJECTION_RECEIVED,
                channel=ObjectionChannel.LETTER,
                summary=summary,
                actor=ctx.actor,
                today=today,
            )
            assert lodged.id is not None
            if upheld is not None:
                resolve_objection(
                    session,
                    objection_id=lodged.id,
                    upheld=upheld,
                    resolution=finding,
                    actor=ctx.actor,
                )
    ctx.console.print(
        f"5. objections: three lodged in session {session_id}: one "
        "upheld (result withdrawn), one dismissed, one still open (held)"
    )
