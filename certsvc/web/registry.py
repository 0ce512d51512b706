"""The registry look-up the web's verifier uses: one Core query for the usual case.

A QR scan of a current document is what the service does most, so the look-up of an issued
document with a single log entry is one indexed SQL statement on a driver connection: the
registry row, its log entry and the signed tree head its proof leads to. Anything else — a
revoked or replaced document, a number with several log entries, no row — is handed to
:class:`certsvc.verification.registry.DatabaseRegistry`, which the answer above must equal
(the tests compare the two on every document of a batch).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import PoolProxiedConnection
from sqlmodel import Session

from certsvc.verification.registry import DatabaseRegistry, LogEvidence, RegistryEntry

log = logging.getLogger(__name__)

_LOOKUP = sa.text(
    """
    SELECT d.document_number, d.document_type, d.status, d.issued_on, d.sha256,
           d.signer_key_id, d.token, d.log_index, d.inclusion_proof, d.proof_tree_size,
           d.status_list_url, d.status_list_index,
           e.entry,
           (SELECT h.envelope FROM tree_head h WHERE h.tree_size = d.proof_tree_size
            ORDER BY h.id LIMIT 1) AS envelope,
           (SELECT count(*) FROM log_entry o WHERE o.document_number = d.document_number)
             AS entries
    FROM document d
    LEFT JOIN log_entry e
      ON e.leaf_index = d.log_index AND e.document_number = d.document_number
    WHERE d.document_number = :number
    """
)


_COLUMNS = (
    "document_number",
    "document_type",
    "status",
    "issued_on",
    "sha256",
    "signer_key_id",
    "token",
    "log_index",
    "inclusion_proof",
    "proof_tree_size",
    "status_list_url",
    "status_list_index",
    "entry",
    "envelope",
    "entries",
)


@dataclass(frozen=True)
class _DriverStatement:
    """:data:`_LOOKUP` compiled once for one database driver (its parameter style)."""

    sql: str
    positional: bool

    @classmethod
    @functools.cache
    def for_dialect(cls, dialect: sa.Dialect) -> _DriverStatement:
        compiled = _LOOKUP.compile(dialect=dialect)
        return cls(str(compiled), bool(dialect.positional))

    def parameters(self, number: str) -> tuple[str] | dict[str, str]:
        return (number,) if self.positional else {"number": number}


class FastRegistry:
    """:class:`~certsvc.verification.registry.Registry` over the engine (see the module).

    The usual case runs on the driver's own cursor: SQLAlchemy's statement machinery costs
    several times the query itself, and this look-up is on every QR scan. Each thread keeps one
    driver connection for it, taken from the pool once and detached from it (so it holds no
    pool slot), in autocommit where the driver has transactions, so that a scan pays neither a
    pool check-out, PostgreSQL's ping on check-out, nor a rollback on return. A connection
    that fails is dropped; when the database says it was a disconnection (a restarted server)
    the look-up is tried once more on a fresh one. Disposing of the engine closes every
    thread's connection. A pool that is not a queue of connections (one shared in-memory
    SQLite connection in a test) is used as before, per look-up."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._statement = _DriverStatement.for_dialect(engine.dialect)
        self._keep = isinstance(engine.pool, sa.pool.QueuePool)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[PoolProxiedConnection] = set()  # every thread's kept connection
        if self._keep:
            sa.event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def close(self) -> None:
        """Close every thread's kept connection (each opens a new one when next asked)."""
        with self._lock:
            kept, self._open = self._open, set()
        for connection in kept:
            self._close(connection)

    def lookup(self, document_number: str) -> RegistryEntry | None:
        found = self._fetch(document_number)
        if found is None:
            return None
        row = dict(zip(_COLUMNS, found, strict=True))
        if row["status"] != "issued" or row["entries"] != 1 or row["entry"] is None:
            return self._full(document_number)
        return RegistryEntry(
            document_number=row["document_number"],
            document_type=row["document_type"],
            status=row["status"],
            issued_on=_date(row["issued_on"]),
            sha256=row["sha256"],
            signer_key_id=row["signer_key_id"],
            token=row["token"],
            log=_evidence(row),
            status_list_url=row["status_list_url"],
            status_list_index=row["status_list_index"],
        )

    def _fetch(self, document_number: str) -> tuple[Any, ...] | None:
        if not self._keep:
            connection = self.engine.raw_connection()  # rolled back on return to the pool
            try:
                return self._run(connection, document_number)
            finally:
                connection.close()
        for attempt in (1, 2):
            connection = self._kept()
            try:
                return self._run(connection, document_number)
            except self.engine.dialect.loaded_dbapi.Error as exc:
                driver = connection.dbapi_connection
                disconnected = self.engine.dialect.is_disconnect(exc, driver, None)
                self._drop(connection)
                if attempt == 2 or not disconnected:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _run(self, connection: PoolProxiedConnection, number: str) -> tuple[Any, ...] | None:
        cursor = connection.cursor()
        try:
            cursor.execute(self._statement.sql, self._statement.parameters(number))
            found: tuple[Any, ...] | None = cursor.fetchone()
            return found
        finally:
            cursor.close()

    def _kept(self) -> PoolProxiedConnection:
        connection: PoolProxiedConnection | None = getattr(self._local, "connection", None)
        if connection is not None and connection in self._open:
            return connection
        connection = self.engine.raw_connection()
        if self.engine.dialect.name == "postgresql":
            connection.driver_connection.autocommit = True  # type: ignore[union-attr]
        connection.detach()  # this thread's own; closing it closes the driver connection
        with self._lock:
            self._open.add(connection)
        self._local.connection = connection
        return connection

    def _drop(self, connection: PoolProxiedConnection) -> None:
        self._local.connection = None
        with self._lock:
            self._open.discard(connection)
        self._close(connection)

    @staticmethod
    def _close(connection: PoolProxiedConnection) -> None:
        try:
            connection.close()
        except Exception:
            log.debug("closing a registry connection failed", exc_info=True)

    def _full(self, document_number: str) -> RegistryEntry | None:
        with Session(self.engine) as session:
            return DatabaseRegistry(session).lookup(document_number)


def _date(value: Any) -> date:
    """A date column as the driver gives it (SQLite: ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _evidence(row: dict[str, Any]) -> LogEvidence:
    entry = bytes(row["entry"])
    proof = row["inclusion_proof"]
    if isinstance(proof, str):  # SQLite keeps JSON as text
        try:
            proof = json.loads(proof)
        except ValueError:
            proof = None
    if row["proof_tree_size"] is None or proof is None:
        return LogEvidence(row["log_index"], entry)
    try:
        path = tuple(bytes.fromhex(node) for node in proof)
    except (TypeError, ValueError):
        path = ()
    envelope = bytes(row["envelope"]) if row["envelope"] is not None else None
    return LogEvidence(row["log_index"], entry, row["proof_tree_size"], path, envelope)
