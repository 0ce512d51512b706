"""Revocation and reissue seen by the verifier: a real batch, a two-person revocation and a
two-person reissue, then the QR tokens and PDFs checked online against the registry and log."""

from __future__ import annotations

from sqlmodel import col, select

from certsvc.issuance.models import Document, DocumentStatus
from certsvc.issuance.runner import run_batch
from certsvc.revocation.service import (
    ApproveOptions,
    approve_change,
    request_reissue,
    request_revocation,
)
from certsvc.verification.registry import DatabaseRegistry
from certsvc.verification.trust import TrustAnchors
from certsvc.verification.verdict import Verdict, VerdictKind
from certsvc.verification.verifier import verify_pdf, verify_token
from tests.issuance.conftest import APPROVER, OPERATOR, World


def _issued(world: World) -> list[Document]:
    batch_id = world.approved_batch()
    run_batch(world.db, world.settings, world.ctx.keystore, batch_id, world.options())
    with world.db.session() as session:
        return list(
            session.exec(
                select(Document)
                .where(Document.status == DocumentStatus.ISSUED)
                .order_by(col(Document.id))
            ).all()
        )


def _verify(world: World, document: Document) -> tuple[Verdict, Verdict]:
    now = world.ctx.now()
    assert document.token is not None and document.sha256 is not None
    pdf = world.store.read(document.sha256)
    with world.db.session() as session:
        trust = TrustAnchors.from_database(session, now=now)
        registry = DatabaseRegistry(session)
        return (
            verify_token(document.token, trust, registry, now),
            verify_pdf(pdf, trust, registry, now),
        )


def _approve(world: World, change_id: int) -> None:
    approve_change(
        world.db,
        world.settings,
        world.ctx.keystore,
        change_id,
        ApproveOptions(actor=APPROVER, passphrase=world.passphrase),
    )


def test_a_revoked_document_verifies_as_revoked_with_its_reason(world: World) -> None:
    target = _issued(world)[0]
    assert all(v.kind is VerdictKind.GENUINE for v in _verify(world, target))
    with world.db.session() as session:
        change = request_revocation(
            session,
            target.document_number,
            reason="fraud_on_recheck",
            effective=world.ctx.today().isoformat(),
            note="代表作抄袭，经复查撤销",
            actor=OPERATOR,
            today=world.ctx.today(),
        )
        change_id = change.id
    assert change_id is not None
    _approve(world, change_id)

    for verdict in _verify(world, target):
        assert verdict.kind is VerdictKind.REVOKED, verdict.failures
        assert verdict.registry is not None
        assert verdict.registry.revocation_reason == "fraud_on_recheck"
        assert verdict.registry.revoked_at is not None


def test_a_reissued_document_supersedes_the_old_one_and_verifies_itself(world: World) -> None:
    target = _issued(world)[0]
    with world.db.session() as session:
        change = request_reissue(
            session,
            target.document_number,
            corrections={"work_unit": "北京协和医院信息中心（更正）"},
            note="工作单位有误",
            actor=OPERATOR,
        )
        change_id = change.id
    assert change_id is not None
    _approve(world, change_id)

    old_token, old_pdf = _verify(world, target)
    with world.db.session() as session:
        new = session.exec(
            select(Document).where(
                Document.status == DocumentStatus.ISSUED,
                Document.document_type == target.document_type,
                Document.result_id == target.result_id,
            )
        ).one()
    for verdict in (old_token, old_pdf):
        assert verdict.kind is VerdictKind.SUPERSEDED, verdict.failures
        assert verdict.registry is not None
        assert verdict.registry.superseded_by == new.document_number
    assert new.document_number != target.document_number
    assert all(v.kind is VerdictKind.GENUINE for v in _verify(world, new))
