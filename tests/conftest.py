"""Shared fixtures: a fresh, migrated database per test on every configured back end.

SQLite always; PostgreSQL too when ``CERTSVC_TEST_POSTGRES_URL`` names a server (``.ci/run`` sets
it when one answers on 127.0.0.1:5432). Each PostgreSQL run works in a database of its own,
created here and dropped at the end, so it never touches data it did not make.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from certsvc.bootstrap import initialise
from certsvc.cli import cli
from certsvc.config import Settings
from certsvc.db.database import Database, create_engine
from certsvc.db.schema import metadata
from certsvc.publicity.calendar import WorkingDayCalendar

POSTGRES_URL = os.environ.get("CERTSVC_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgresql"]
TEST_ACTOR = "test:operator"
# A fixed "today" for service-level tests: after every date the fixtures use.
TODAY = date(2025, 11, 3)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "certsvc.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip(
            "PostgreSQL not configured: set CERTSVC_TEST_POSTGRES_URL "
            "(e.g. postgresql://postgres@127.0.0.1:5432/test) to run these"
        )
    admin = create_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"certsvc_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(admin.url).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    db.migrate()
    db.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "certsvc.sqlite3"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as connection:
        names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
        connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings.from_env(
        {}, data_dir=tmp_path / "data", database_url=database_url, key_dir=tmp_path / "keys"
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.sqlalchemy_url)
    initialise(database, settings, actor=TEST_ACTOR)
    yield database
    database.dispose()


@pytest.fixture
def calendar() -> WorkingDayCalendar:
    return WorkingDayCalendar()


def cli_invoker(
    tmp_path: Path,
    database_url: str,
    *,
    actor: str,
    secrets: Mapping[str, str] = {},
    environment: Mapping[str, str] = {},
) -> Callable[..., Result]:
    """``invoke(*args, code=0)``: run ``certsvc`` on this test's database and key folder,
    check the exit code, and check that no value in ``secrets`` (passphrases handed over
    through environment variables of the same names) reaches the output."""
    env = {
        "CERTSVC_DATA_DIR": str(tmp_path / "data"),
        "CERTSVC_DATABASE_URL": database_url,
        "CERTSVC_KEY_DIR": str(tmp_path / "keys"),
        "CERTSVC_ACTOR": actor,
        **secrets,
        **environment,
    }

    def invoke(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        for value in secrets.values():
            assert value not in result.output
        return result

    return invoke
