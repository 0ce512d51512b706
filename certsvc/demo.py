"""``certsvc demo``: a working example built from nothing on the configured database.

Today it initialises the database, imports a generated roster, runs publicity for every
session over the 2025 National Day holiday (opened on Friday 26 September, so the five working
days run to 9 October), lodges three objections — one upheld, one dismissed, one left open —
and closes publicity; then it makes the bureau root and the agency's document signer on this
machine and publishes the signed trust list and CRL. Every step is skipped when already done,
so the demo can be run again.
"""

from __future__ import annotations

import os
import secrets
from datetime import date
from pathlib import Path

from sqlmodel import col, select

from certsvc.agencies.service import get_agency
from certsvc.bootstrap import initialise
from certsvc.cli.context import CliContext
from certsvc.documents.factory import DocumentFactory
from certsvc.documents.material import load_signing_material, renderer_for
from certsvc.documents.record import DocumentRecord, DocumentType
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
from certsvc.roster.models import Person, ReviewResult, ReviewSession
from certsvc.roster.queries import session_results

REVIEW_DATE = date(2025, 9, 12)
PUBLICITY_START = date(2025, 9, 26)  # the Friday before National Day 2025
OBJECTION_RECEIVED = date(2025, 9, 29)


def run_demo(ctx: CliContext, *, rows: int, seed: int) -> None:
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
    _demo_documents(ctx, session_ids[0])
    out.print(
        "next: `certsvc session list`, `certsvc publicity status 1`, `certsvc objection list`, "
        "`certsvc keys list`, `certsvc document inspect data/demo/documents/certificate.pdf`"
    )


def _demo_documents(ctx: CliContext, session_id: int) -> None:
    """A sample certificate and notice for the first cleared candidate, signed by the
    agency's signer. Samples only: numbering, the registry and batches come with issuance."""
    folder = ctx.settings.data_dir / "demo" / "documents"
    targets = {kind: folder / f"{kind.value}.pdf" for kind in DocumentType}
    if all(path.exists() for path in targets.values()):
        ctx.console.print(f"8. documents: samples already in {folder}")
        return
    now = ctx.now()
    with ctx.db.session() as session:
        material = load_signing_material(
            session,
            ctx.keystore,
            agency_code=ctx.settings.agency_code,
            at=now,
            passphrase=_demo_passphrase(ctx.settings.data_dir / "demo" / "signer.pass"),
        )
        cleared = session_results(session, session_id)
        result_id = next(line.result_id for line in cleared if line.standing == "cleared")
        result = session.get(ReviewResult, result_id)
        assert result is not None
        person = session.get(Person, result.person_id)
        review = session.get(ReviewSession, result.session_id)
        agency = get_agency(session, ctx.settings.agency_code)
        assert person is not None and review is not None
    factory = DocumentFactory(
        renderer_for(ctx.settings), material, base_url=ctx.settings.public_base_url
    )
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for kind, path in targets.items():
            record = DocumentRecord(
                document_type=kind,
                document_number=f"{review.year}-{agency.region_code}-DEMO-{result_id:06d}",
                holder_name=person.name,
                id_type=person.id_type,
                id_number=person.id_number,
                gender=person.gender,
                birth_date=person.birth_date,
                work_unit=person.work_unit,
                series=review.series,
                specialty=review.specialty,
                level=review.level,
                qualification_name=review.qualification_name,
                committee_name=review.committee_name,
                qualified_on=review.review_date,
                agency_code=agency.code,
                agency_name=agency.name,
                issued_on=ctx.today(),
                signer_key_id=material.key_id,
            )
            issued = factory.make(record)
            path.write_bytes(issued.pdf)
    finally:
        factory.close()
    ctx.console.print(
        f"8. documents: sample certificate and notice for {person.name} signed by "
        f"{material.key_id} in {folder} (samples: not registered, numbers marked DEMO)"
    )


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
