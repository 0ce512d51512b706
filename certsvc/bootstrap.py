"""``certsvc init``: bring the database to the newest schema and create the default agency."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from certsvc.agencies.models import Agency
from certsvc.agencies.service import create_agency
from certsvc.audit.events import Action, record
from certsvc.config import Settings
from certsvc.db.database import Database


@dataclass(frozen=True)
class InitReport:
    revision_before: str | None
    revision_after: str | None
    agency_created: bool


def initialise(db: Database, settings: Settings, *, actor: str) -> InitReport:
    """Idempotent: migrate, then make sure the configured default agency exists."""
    before = db.current_revision()
    db.migrate()
    after = db.current_revision()
    with db.session() as session:
        exists = session.exec(select(Agency).where(Agency.code == settings.agency_code)).first()
        if exists is None:
            create_agency(
                session,
                code=settings.agency_code,
                name=settings.agency_name,
                region_code=settings.agency_region_code,
                actor=actor,
            )
        if before != after or exists is None:
            record(
                session,
                Action.SYSTEM_INIT,
                actor=actor,
                subject_type="database",
                subject_id=db.backend,
                details={"revision_before": before, "revision_after": after},
            )
    return InitReport(before, after, exists is None)
