"""The Alembic migrations build exactly the schema the models describe, on every back end."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from certsvc.db.database import Database
from certsvc.db.schema import metadata
from certsvc.errors import StateError


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_downgrade_to_nothing_and_back(db: Database) -> None:
    db.downgrade("base")
    assert db.current_revision() is None
    db.migrate()
    assert db.current_revision() == db.head_revision()


def test_unmigrated_database_is_refused_with_advice(db: Database) -> None:
    db.downgrade("base")
    try:
        with pytest.raises(StateError, match="run `certsvc init` first"):
            db.require_migrated()
    finally:
        db.migrate()  # leave the shared PostgreSQL test database as the next test expects
