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
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from certsvc.verification.registry import DatabaseRegistry, LogEvidence, RegistryEntry
from certsvc.web.connections import ThreadConnections

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
    """:data:`_LOOKUP` compiled once for one database driver (its parameter style).

    On PostgreSQL (psycopg) the statement is prepared on the server, once per kept connection
    (which runs nothing else):
    the engine turns automatic preparation off (a generic plan chosen while a roster import
    grows its tables can go bad, see :mod:`certsvc.db.database`), but this is a look-up by
    a unique key, whose plan never changes, and planning it cost PostgreSQL more than running
    it. (A migration that changes these tables makes the prepared plan fail once on each
    kept connection, which is then replaced.) SQLite's driver keeps its own statement cache."""

    sql: str
    positional: bool
    prepare: bool

    @classmethod
    @functools.cache
    def for_dialect(cls, dialect: sa.Dialect) -> _DriverStatement:
        compiled = _LOOKUP.compile(dialect=dialect)
        return cls(str(compiled), bool(dialect.positional), dialect.driver == "psycopg")

    def parameters(self, number: str) -> tuple[str] | dict[str, str]:
        return (number,) if self.positional else {"number": number}

    def set_up(self, connection: Any) -> None:
        """Ready a kept connection: psycopg prepares what it runs (this statement only)."""
        if self.prepare:
            connection.prepare_threshold = 0


class FastRegistry:
    """:class:`~certsvc.verification.registry.Registry` over the engine (see the module).

    The usual case runs on the driver's own cursor: SQLAlchemy's statement machinery costs
    several times the query itself, and this look-up is on every QR scan. It runs on the
    thread's kept connection (:mod:`certsvc.web.connections`); an engine whose pool is not a
    queue of connections (one shared in-memory SQLite connection in a test) lends one per
    look-up, as before."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._statement = _DriverStatement.for_dialect(engine.dialect)
        self._connections = (
            ThreadConnections(engine, set_up=self._statement.set_up)
            if isinstance(engine.pool, sa.pool.QueuePool)
            else None
        )

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
        def read(connection: Any) -> tuple[Any, ...] | None:
            cursor = connection.cursor()
            try:
                cursor.execute(self._statement.sql, self._statement.parameters(document_number))
                found: tuple[Any, ...] | None = cursor.fetchone()
                return found
            finally:
                cursor.close()

        if self._connections is not None:
            return self._connections.run(read)
        connection = self.engine.raw_connection()  # rolled back on return to the pool
        try:
            return read(connection)
        finally:
            connection.close()

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
