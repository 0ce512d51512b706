"""A small bureau ready for issuance: the demo's roster, publicity, objections and keys."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import col, select

from certsvc.cli.context import CliContext
from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.demo import run_demo
from certsvc.issuance.batches import approve_batch, create_batch
from certsvc.issuance.runner import RunOptions
from certsvc.issuance.store import FileDocumentStore
from certsvc.keys.files import Passphrase
from certsvc.roster.models import ReviewSession

OPERATOR = "test:operator"
APPROVER = "test:approver"
SIGNER = "test:signer"


@dataclass
class World:
    ctx: CliContext
    db: Database
    settings: Settings
    session_ids: list[int]

    @property
    def passphrase(self) -> Passphrase:
        return Passphrase.from_sources(file=self.settings.data_dir / "demo" / "signer.pass")

    @property
    def store(self) -> FileDocumentStore:
        return FileDocumentStore(self.settings.document_store_dir)

    def options(self, **changes: object) -> RunOptions:
        values: dict[str, object] = {"actor": SIGNER, "passphrase": self.passphrase}
        values.update(changes)
        return RunOptions(**values)  # type: ignore[arg-type]

    def approved_batch(self, session_ids: list[int] | None = None) -> int:
        with self.db.session() as session:
            batch = create_batch(
                session,
                agency_code=self.settings.agency_code,
                session_ids=session_ids or self.session_ids,
                actor=OPERATOR,
            )
            assert batch.id is not None
            approve_batch(session, batch.id, actor=APPROVER)
            return batch.id


def build_world(settings: Settings, db: Database, *, rows: int, seed: int = 7) -> World:
    ctx = CliContext(settings=settings, actor_override="test")
    ctx.__dict__["db"] = db  # the fixture's database (a cached_property)
    run_demo(ctx, rows=rows, seed=seed, issue=False)
    with db.session() as session:
        ids = list(session.exec(select(ReviewSession.id).order_by(col(ReviewSession.id))))
    return World(ctx, db, settings, [i for i in ids if i is not None])


@pytest.fixture
def world(settings: Settings, db: Database) -> World:
    return build_world(settings, db, rows=30)
