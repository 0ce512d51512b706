"""Revocations approved ahead of their effective day: logged and told at approval, current
(with a note) until the day begins, revoked from then by every path; the status list flips at
that moment because no list outlives it and ``status publish --if-due`` replaces it then. The
clock is injected everywhere: nothing sleeps."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from certsvc.audit.models import AuditEvent
from certsvc.errors import InputError
from certsvc.issuance.models import Document, DocumentStatus
from certsvc.notifications.models import Notification
from certsvc.revocation import service
from certsvc.revocation.models import StatusListPublication
from certsvc.revocation.status_list import (
    BLOCK_ENTRIES,
    EntryStatus,
    effective_from,
    verify_status_list,
)
from certsvc.transparency.models import EntryKind, LogEntry
from certsvc.transparency.service import trust_from_database
from certsvc.verification.registry import DatabaseRegistry
from certsvc.verification.status import StatusListInput
from certsvc.verification.trust import TrustAnchors
from certsvc.verification.verdict import Verdict, VerdictKind
from certsvc.verification.verifier import verify_pdf, verify_token
from certsvc.web.verifying import CoreVerifier
from tests.conftest import cli_invoker
from tests.revocation.conftest import Issued
from tests.web.conftest import make_app, web_settings

ZONE = ZoneInfo("Asia/Shanghai")


def _latest(session: Session) -> StatusListPublication:
    latest = service.latest_status_list(session)
    assert latest is not None
    return latest


def _publish_if_due(issued: Issued, at: datetime) -> tuple[StatusListPublication | None, str]:
    world = issued.world
    return service.publish_if_due(
        world.db,
        world.settings,
        world.ctx.keystore,
        actor="test:timer",
        passphrase=world.passphrase,
        now=at,
    )


def _online(issued: Issued, document: Document, at: datetime) -> tuple[Verdict, Verdict]:
    assert document.token is not None and document.sha256 is not None
    pdf = issued.world.store.read(document.sha256)
    with issued.db.session() as session:
        trust = TrustAnchors.from_database(session, now=at)
        registry = DatabaseRegistry(session)
        return (
            verify_token(document.token, trust, registry, at),
            verify_pdf(pdf, trust, registry, at),
        )


def test_a_revocation_may_be_scheduled_at_most_a_year_ahead(issued: Issued) -> None:
    target = issued.certificates()[0]
    today = issued.today()
    with pytest.raises(InputError, match="more than a year after today"):
        issued.ask_revocation(target.document_number, effective=str(today + timedelta(days=367)))
    change_id = issued.ask_revocation(
        target.document_number, effective=str(today + timedelta(days=366))
    )
    with issued.db.session() as session:
        change = service.get_change(session, change_id)
        assert change.effective_on == today + timedelta(days=366)


def test_scheduled_then_in_effect_by_every_path(issued: Issued) -> None:
    target, other = issued.certificates()[:2]
    tomorrow: date = issued.today() + timedelta(days=1)
    flip = effective_from(tomorrow, ZONE)  # tomorrow's first instant in Beijing
    change = issued.approve(issued.ask_revocation(target.document_number, effective=str(tomorrow)))
    approved_at = change.completed_at
    assert approved_at is not None and approved_at < flip

    with issued.db.session() as session:
        # decided now: the registry, the log, the holder's message and the audit say so
        rows = session.exec(select(Document).where(col(Document.id).in_(change.document_ids))).all()
        assert {(d.status, d.revocation_effective_on) for d in rows} == {
            (DocumentStatus.REVOKED, tomorrow)
        }
        logged = session.exec(select(LogEntry).where(LogEntry.kind == EntryKind.REVOKE)).all()
        assert len(logged) == 2 and all(tomorrow.isoformat() in e.entry.decode() for e in logged)
        (message,) = session.exec(
            select(Notification).where(Notification.kind == service.DOCUMENT_REVOKED)
        ).all()
        assert f"将自 {tomorrow.isoformat()} 起撤销" in message.body
        revokes = session.exec(
            select(AuditEvent).where(AuditEvent.action == "document:revoke")
        ).all()
        assert len(revokes) == 2 and all(e.details["scheduled"] is True for e in revokes)
        # the list published at approval still shows it valid, and ends at the flip
        first = _latest(session)
        assert first.next_update == flip
        listed = verify_status_list(
            bytes(first.content), trust_from_database(session), flip - timedelta(seconds=1)
        )
        assert listed.status_of(target.id or 0) is EntryStatus.VALID

    # until the day: genuine, with a note, online
    before = flip - timedelta(minutes=1)
    for verdict in _online(issued, target, before):
        assert verdict.kind is VerdictKind.GENUINE, verdict.failures
        assert verdict.registry is not None
        assert verdict.registry.status == "issued"
        assert verdict.registry.revocation_effective_on == tomorrow
        assert f"A revocation is scheduled: it takes effect on {tomorrow}" in verdict.summary
    # from the day: revoked
    for verdict in _online(issued, target, flip):
        assert verdict.kind is VerdictKind.REVOKED
        assert f"in effect from {tomorrow}" in verdict.failures[0].detail

    # the web, with its clock injected: the QR page, the API, the upload
    world = issued.world
    for at, kind in ((before, "genuine"), (flip, "revoked")):
        verifier = CoreVerifier(world.db, world.settings, clock=lambda at=at: at)
        client = make_app(web_settings(world.settings), world.db, VERIFIER=verifier).test_client()
        page = client.get(f"/v/{target.token}").get_data(as_text=True)
        assert f'data-verdict="{kind}"' in page
        answer = client.get(f"/api/v1/verify/token/{target.token}").get_json()
        assert answer["verdict"] == kind
        assert answer["registry"]["revocation_effective_on"] == tomorrow.isoformat()
        if kind == "genuine":
            assert "已决定撤销，生效日期" in page and answer["registry"]["status"] == "issued"
        upload = client.post(
            "/api/v1/verify/pdf",
            data=world.store.read(target.sha256 or ""),
            content_type="application/pdf",
        ).get_json()
        assert upload["verdict"] == kind

    # the status list: not republished before the flip (a new list would end there too) ...
    assert _publish_if_due(issued, approved_at + timedelta(minutes=5))[0] is None
    published, why = _publish_if_due(issued, flip - timedelta(minutes=30))
    assert published is None and "current until" in why
    # ... replaced as soon as the revocation takes effect
    published, why = _publish_if_due(issued, flip + timedelta(minutes=5))
    assert published is not None and "took effect" in why
    assert published.next_update > flip
    with issued.db.session() as session:
        trust = trust_from_database(session)
        now_listed = verify_status_list(bytes(published.content), trust, flip + timedelta(hours=1))
        assert now_listed.status_of(target.id or 0) is EntryStatus.REVOKED
        assert now_listed.status_of(other.id or 0) is EntryStatus.VALID
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "status:publish")).all()
        assert "took effect" in events[-1].details["why"]
    assert _publish_if_due(issued, flip + timedelta(minutes=10))[0] is None

    # offline: the old list has expired at the flip; the new one says revoked
    pdf = world.store.read(target.sha256 or "")
    with issued.db.session() as session:
        anchors = TrustAnchors.from_database(session, now=flip + timedelta(minutes=6))
    old = verify_pdf(pdf, anchors, None, flip, status_list=StatusListInput(bytes(first.content)))
    assert old.kind is VerdictKind.STATUS_UNAVAILABLE
    assert old.failures[0].detail.startswith("freshness: ")
    new = verify_pdf(
        pdf,
        anchors,
        None,
        flip + timedelta(minutes=6),
        status_list=StatusListInput(bytes(published.content)),
    )
    assert new.kind is VerdictKind.REVOKED


def test_the_web_takes_the_effective_day_in_the_bureaus_time_zone(issued: Issued) -> None:
    """CERTSVC_TIMEZONE decides when a revocation's day begins, for the verifier as for the
    service: one hour past Beijing's midnight it is still the day before in London."""
    target = issued.certificates()[0]
    tomorrow: date = issued.today() + timedelta(days=1)
    issued.approve(issued.ask_revocation(target.document_number, effective=str(tomorrow)))
    london = ZoneInfo("Europe/London")
    between = effective_from(tomorrow, ZONE) + timedelta(hours=1)
    assert between < effective_from(tomorrow, london)
    world = issued.world
    in_london = dataclasses.replace(world.settings, timezone="Europe/London")
    for settings, kind in (
        (world.settings, VerdictKind.REVOKED),
        (in_london, VerdictKind.GENUINE),
    ):
        verifier = CoreVerifier(world.db, settings, clock=lambda: between)
        assert verifier.token(target.token or "").kind is kind
        assert verifier.pdf(world.store.read(target.sha256 or "")).kind is kind


def test_a_list_never_outlives_the_next_scheduled_revocation(issued: Issued) -> None:
    first, second = issued.certificates()[:2]
    today = issued.today()
    issued.approve(
        issued.ask_revocation(first.document_number, effective=str(today + timedelta(days=3)))
    )
    issued.approve(
        issued.ask_revocation(second.document_number, effective=str(today + timedelta(days=1)))
    )
    with issued.db.session() as session:
        latest = _latest(session)
    assert latest.next_update == effective_from(today + timedelta(days=1), ZONE)
    world = issued.world
    later = service.publish_now(
        world.db,
        world.settings,
        world.ctx.keystore,
        actor="test",
        passphrase=world.passphrase,
        now=effective_from(today + timedelta(days=2), ZONE),
        validity=timedelta(days=7),
    )
    assert later.next_update == effective_from(today + timedelta(days=3), ZONE)


def test_if_due_without_anything_scheduled(issued: Issued) -> None:
    start = issued.world.ctx.now() + timedelta(minutes=1)
    published, why = _publish_if_due(issued, start)
    assert published is not None and why == "no status list has been published yet"
    assert published.next_update == published.issued_at + service.DEFAULT_VALIDITY
    due_at = published.next_update
    assert _publish_if_due(issued, start + timedelta(hours=1))[0] is None
    assert _publish_if_due(issued, due_at - timedelta(minutes=61))[0] is None
    published, why = _publish_if_due(issued, due_at - timedelta(minutes=59))
    assert published is not None and "due to be replaced" in why
    assert published.sequence == 2


def test_status_publish_if_due_from_the_command_line(
    issued: Issued, tmp_path: Path, database_url: str
) -> None:
    timer = cli_invoker(tmp_path, database_url, actor="timer")
    passphrase = str(issued.world.settings.data_dir / "demo" / "signer.pass")
    first = timer("status", "publish", "--if-due", "--passphrase-file", passphrase)
    assert "due: no status list has been published yet" in first.output
    assert "status list 1:" in first.output
    again = timer("status", "publish", "--if-due", "--passphrase-file", passphrase)
    assert "not due: status list 1 is current until" in again.output
    margin = timer(
        "status", "publish", "--if-due", "--margin-minutes", str(25 * 60),
        "--passphrase-file", passphrase, code=2,
    )  # fmt: skip
    assert "--margin-minutes" in margin.output


def test_if_due_when_documents_lie_beyond_the_latest_list(issued: Issued) -> None:
    """After a batch gives entries past the list's length, the list is replaced at once."""
    start = issued.world.ctx.now() + timedelta(minutes=1)
    published, _ = _publish_if_due(issued, start)
    assert published is not None and published.length == BLOCK_ENTRIES
    newest = issued.certificates()[-1]
    with issued.db.session() as session:  # as if a batch had reached the next block
        row = session.get(Document, newest.id)
        assert row is not None
        row.status_list_index = BLOCK_ENTRIES
        session.add(row)
    published, why = _publish_if_due(issued, start + timedelta(minutes=5))
    assert published is not None and f"beyond status list 1's {BLOCK_ENTRIES}" in why
    assert published.length == 2 * BLOCK_ENTRIES
