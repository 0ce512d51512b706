"""One run of a batch at a time, released by the operating system if the run dies.

PostgreSQL: a session-level advisory lock held on a connection of its own (the server drops it
when the connection closes, however the process ended). SQLite: an exclusive ``flock`` on a
file beside the database (the kernel drops it when the process ends). A second run of the same
batch, from any process on the same database, is refused at once.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from certsvc.db.database import Database
from certsvc.errors import StateError

ADVISORY_NAMESPACE = 0x63657274  # "cert": keeps our advisory locks apart from others'


def _refusal(batch_id: int) -> StateError:
    return StateError(
        f"batch {batch_id} is being run by another process; wait for it to finish "
        "(`certsvc batch status` shows its progress)"
    )


@contextmanager
def batch_run_lock(db: Database, batch_id: int) -> Iterator[None]:
    if db.backend == "postgresql":
        with _advisory_lock(db, batch_id):
            yield
        return
    database = db.engine.url.database
    if db.backend != "sqlite" or not database or database == ":memory:":
        raise StateError(f"batch runs need PostgreSQL or an SQLite file, not {db.engine.url}")
    with _file_lock(Path(f"{database}.batch-{batch_id}.lock"), batch_id):
        yield


@contextmanager
def _advisory_lock(db: Database, batch_id: int) -> Iterator[None]:
    with db.engine.connect() as connection:
        locked = connection.execute(
            sa.text("SELECT pg_try_advisory_lock(:ns, :id)"),
            {"ns": ADVISORY_NAMESPACE, "id": batch_id},
        ).scalar_one()
        connection.commit()
        if not locked:
            raise _refusal(batch_id)
        try:
            yield
        finally:
            connection.execute(
                sa.text("SELECT pg_advisory_unlock(:ns, :id)"),
                {"ns": ADVISORY_NAMESPACE, "id": batch_id},
            )
            connection.commit()


@contextmanager
def _file_lock(path: Path, batch_id: int) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _refusal(batch_id) from None
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
