"""The registry look-up the web's verifier uses: one Core query for the usual case.

A QR scan of a current document is what the service does most, so the look-up of an issued
document with a single log entry is one indexed SQL statement over a pooled connection: the
registry row, its log entry and the signed tree head its proof leads to. Anything else — a
revoked or replaced document, a number with several log entries, no row — is handed to
:class:`certsvc.verification.registry.DatabaseRegistry`, which the answer above must equal
(the tests compare the two on every document of a batch).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from certsvc.verification.registry import DatabaseRegistry, LogEvidence, RegistryEntry

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
).columns(
    sa.column("document_number", sa.String),
    sa.column("document_type", sa.String),
    sa.column("status", sa.String),
    sa.column("issued_on", sa.Date),
    sa.column("sha256", sa.String),
    sa.column("signer_key_id", sa.String),
    sa.column("token", sa.Text),
    sa.column("log_index", sa.BigInteger),
    sa.column("inclusion_proof", sa.JSON),
    sa.column("proof_tree_size", sa.Integer),
    sa.column("status_list_url", sa.String),
    sa.column("status_list_index", sa.BigInteger),
    sa.column("entry", sa.LargeBinary),
    sa.column("envelope", sa.LargeBinary),
    sa.column("entries", sa.Integer),
)


class FastRegistry:
    """:class:`~certsvc.verification.registry.Registry` over one connection (see the module)."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    def lookup(self, document_number: str) -> RegistryEntry | None:
        row = self.connection.execute(_LOOKUP, {"number": document_number}).first()
        if row is None:
            return None
        if row.status != "issued" or row.entries != 1 or row.entry is None:
            return self._full(document_number)
        return RegistryEntry(
            document_number=row.document_number,
            document_type=row.document_type,
            status=row.status,
            issued_on=row.issued_on,
            sha256=row.sha256,
            signer_key_id=row.signer_key_id,
            token=row.token,
            log=self._evidence(row),
            status_list_url=row.status_list_url,
            status_list_index=row.status_list_index,
        )

    def _evidence(self, row: Any) -> LogEvidence:
        entry = bytes(row.entry)
        if row.proof_tree_size is None or row.inclusion_proof is None:
            return LogEvidence(row.log_index, entry)
        try:
            path = tuple(bytes.fromhex(node) for node in row.inclusion_proof)
        except (TypeError, ValueError):
            path = ()
        envelope = bytes(row.envelope) if row.envelope is not None else None
        return LogEvidence(row.log_index, entry, row.proof_tree_size, path, envelope)

    def _full(self, document_number: str) -> RegistryEntry | None:
        with Session(bind=self.connection) as session:
            return DatabaseRegistry(session).lookup(document_number)
