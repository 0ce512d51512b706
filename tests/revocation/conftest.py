"""A small bureau whose first batch is issued: documents to revoke and reissue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.documents.record import DocumentType
from certsvc.issuance.models import Document, DocumentStatus
from certsvc.issuance.runner import run_batch
from certsvc.revocation import service
from certsvc.revocation.models import DocumentChange
from tests.issuance.conftest import APPROVER, OPERATOR, World, build_world

__all__ = ["APPROVER", "OPERATOR", "Issued"]


@dataclass
class Issued:
    world: World
    batch_id: int

    @property
    def db(self) -> Database:
        return self.world.db

    def certificates(self) -> list[Document]:
        with self.db.session() as session:
            return list(
                session.exec(
                    select(Document)
                    .where(
                        Document.document_type == DocumentType.CERTIFICATE,
                        Document.status == DocumentStatus.ISSUED,
                    )
                    .order_by(col(Document.id))
                )
            )

    def today(self) -> date:
        """Today in the bureau's time zone, as the batch dated its documents."""
        return datetime.now(ZoneInfo(self.world.settings.timezone)).date()

    def options(self, actor: str = APPROVER) -> service.ApproveOptions:
        return service.ApproveOptions(actor=actor, passphrase=self.world.passphrase)

    def approve(self, change_id: int, actor: str = APPROVER) -> DocumentChange:
        return service.approve_change(
            self.db, self.world.settings, self.world.ctx.keystore, change_id, self.options(actor)
        )

    def ask_revocation(
        self, number: str, reason: str = "fraud_on_recheck", effective: str | None = None
    ) -> int:
        with self.db.session() as session:
            change = service.request_revocation(
                session,
                number,
                reason=reason,
                effective=effective or self.today().isoformat(),
                note="re-check found a forged diploma",
                actor=OPERATOR,
                today=self.today(),
            )
            assert change.id is not None
            return change.id

    def ask_reissue(self, number: str, **corrections: str) -> int:
        with self.db.session() as session:
            change = service.request_reissue(
                session, number, corrections=corrections, note="typo in the name", actor=OPERATOR
            )
            assert change.id is not None
            return change.id


@pytest.fixture
def issued(settings: Settings, db: Database) -> Issued:
    world = build_world(settings, db, rows=12)
    batch_id = world.approved_batch()
    run_batch(db, settings, world.ctx.keystore, batch_id, world.options())
    return Issued(world, batch_id)
