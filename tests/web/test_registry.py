"""The web's one-query registry look-up answers exactly as the verification core's."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import sqlalchemy as sa
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


def _driver(registry: FastRegistry) -> object:
    return registry._kept().dbapi_connection


def test_each_thread_keeps_one_connection_outside_the_pool(issued: Issued) -> None:
    engine = issued.world.db.engine
    registry = FastRegistry(engine)
    number = issued.first.number
    assert registry.lookup(number) is not None
    mine = _driver(registry)
    assert registry.lookup(number) is not None
    assert _driver(registry) is mine  # reused, not checked out again
    assert engine.pool.checkedout() == 0  # detached: it holds no pool slot

    theirs: list[object] = []
    thread = threading.Thread(target=lambda: theirs.append(_driver(registry)))
    thread.start()
    thread.join()
    assert theirs and theirs[0] is not mine

    engine.dispose()  # closes every thread's kept connection
    assert registry.lookup(number) == _both(issued, number)[1]
    assert _driver(registry) is not mine


def test_a_failed_query_drops_the_connection_and_says_why(
    issued: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = FastRegistry(issued.world.db.engine)
    assert registry.lookup(issued.first.number) is not None
    before = _driver(registry)
    broken = dataclasses.replace(registry._statement, sql="SELECT * FROM no_such_table")
    monkeypatch.setattr(registry, "_statement", broken)
    with pytest.raises(Exception, match="no_such_table"):
        registry.lookup(issued.first.number)
    monkeypatch.undo()
    assert registry.lookup(issued.first.number) is not None
    assert _driver(registry) is not before


def test_postgresql_connection_is_idle_and_survives_a_server_side_disconnect(
    issued: Issued,
) -> None:
    engine = issued.world.db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: a server that can end a session")
    registry = FastRegistry(engine)
    number = issued.first.number
    assert registry.lookup(number) is not None
    pid = registry._kept().dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    with engine.connect() as admin:
        state = admin.execute(
            sa.text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar_one()
        assert state == "idle"  # autocommit: never left "idle in transaction"
        admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert registry.lookup(number) == _both(issued, number)[1]  # retried on a new connection
    assert registry._kept().dbapi_connection.info.backend_pid != pid  # type: ignore[union-attr]
