"""The web's one-query registry look-up answers exactly as the verification core's."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from certsvc.issuance.models import Document, DocumentStatus
from certsvc.transparency.models import EntryKind
from certsvc.transparency.service import NewEntry, append
from certsvc.verification.registry import DatabaseRegistry
from certsvc.web.registry import FastRegistry
from tests.web.conftest import Issued


def _both(issued: Issued, number: str) -> tuple[object, object]:
    db = issued.world.db
    fast = FastRegistry(db.engine).lookup(number)
    with Session(db.engine) as session:
        full = DatabaseRegistry(session).lookup(number)
    return fast, full


def test_fast_lookup_equals_the_core_lookup_for_every_document(issued: Issued) -> None:
    for document in issued.documents:
        fast, full = _both(issued, document.number)
        assert fast is not None
        assert fast == full
    assert _both(issued, "2025-110000-GC2Z-000999U") == (None, None)


def test_a_revoked_document_is_handed_to_the_core_lookup(issued: Issued) -> None:
    document = issued.first
    with issued.world.db.session() as session:
        row = session.exec(
            select(Document).where(Document.document_number == document.number)
        ).one()
        row.status = DocumentStatus.REVOKED
        session.add(row)
        append(
            session,
            [
                NewEntry(
                    EntryKind.REVOKE,
                    document.number,
                    row.sha256 or "",
                    {"reason": "issued in error"},
                )
            ],
            actor="test",
        )
    fast, full = _both(issued, document.number)
    assert fast == full
    assert fast is not None and getattr(fast, "revocation_reason", None) == "issued in error"
    page = issued.client.get(f"/v/{document.token}")
    body = page.get_data(as_text=True)
    assert 'data-verdict="revoked"' in body and "issued in error" in body


def test_on_postgresql_the_lookup_is_prepared_once_per_connection(issued: Issued) -> None:
    engine = issued.world.db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's driver caches its statements itself")
    registry = FastRegistry(engine)
    for document in issued.documents:
        assert registry.lookup(document.number) == _both(issued, document.number)[1]
    assert registry._connections is not None

    def prepared(driver: Any) -> list[tuple[Any, ...]]:
        return driver.execute("SELECT statement FROM pg_prepared_statements").fetchall()

    lookups = [row for row in registry._connections.run(prepared) if "FROM document d" in row[0]]
    assert len(lookups) == 1  # one plan, reused by every look-up
