"""What the benchmark scripts share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from certsvc.db.database import create_engine


@contextmanager
def throwaway_postgres(server_url: str) -> Iterator[str]:
    """A fresh database on ``server_url`` for one benchmark, dropped afterwards."""
    admin = create_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    name = f"certsvc_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
