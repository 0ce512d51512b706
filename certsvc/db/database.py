"""The database: engine set-up, transactions and migrations.

``Database`` wraps one SQLAlchemy engine. SQLite (the embedded default) is put in WAL mode
with foreign keys enforced; PostgreSQL is used as is. The schema is owned by Alembic
(``certsvc/migrations``): ``Database.migrate()`` brings any database to the newest revision.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session

from certsvc.db.schema import metadata
from certsvc.errors import ConfigError, StateError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str, *, echo: bool = False) -> sa.Engine:
    """An engine for ``url``; SQLite files get their folder created and the pragmas above."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"CERTSVC_DATABASE_URL is not a database URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, echo=echo, hide_parameters=True)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(False))
    if sa.make_url(url).drivername == "postgresql+psycopg":
        # No server-side prepared statements: psycopg prepares a query on its fifth run, and
        # PostgreSQL may then keep a generic plan costed while the tables were small as one
        # transaction (a roster import) grows them, e.g. a sequential scan comparing every
        # person with each of 2,000 numbers. Each statement is planned for its own values.
        connect_args["prepare_threshold"] = None
    # hide_parameters: with CERTSVC_SQL_ECHO on, logged statements must not carry values
    # such as identity numbers.
    return sa.create_engine(
        url, echo=echo, pool_pre_ping=True, connect_args=connect_args, hide_parameters=True
    )


class Database:
    """One database: an engine, transactions over it, and its migrations."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["engine"] = self.engine
        return config

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` (the newest by default)."""
        command.upgrade(self.alembic_config(), revision)

    def downgrade(self, revision: str) -> None:
        """Downgrade the schema to ``revision`` (``"base"``: no certsvc tables at all)."""
        command.downgrade(self.alembic_config(), revision)

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self.alembic_config()).get_current_head()

    def require_migrated(self) -> None:
        """Refuse to work on a database that ``certsvc init`` has not brought up to date."""
        current, head = self.current_revision(), self.head_revision()
        if current is None:
            raise StateError("the database has no certsvc schema yet; run `certsvc init` first")
        if current != head:
            raise StateError(
                f"the database schema is at revision {current} but this certsvc needs {head}; "
                "run `certsvc init` to upgrade it"
            )

    def dispose(self) -> None:
        self.engine.dispose()


__all__ = ["Database", "create_engine", "metadata"]
