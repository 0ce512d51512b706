"""Tables of the transparency log. Rows are only ever inserted (``log_state`` is the one row
that is updated: it counts the entries and is the lock appenders queue on).

* ``log_entry``: one row per leaf, at its position; ``entry`` holds the exact bytes that were
  hashed (RFC 8785 canonical JSON), ``leaf_hash`` their RFC 9162 leaf hash; the document
  columns repeat what the entry says, for look-ups.
* ``log_node``: perfect-subtree hashes at every :data:`~certsvc.transparency.service.STRIDE`-th
  level (8, 16, 24 …): about one row per 255 entries. Any other interior hash is computed from
  at most 128 stored hashes one stride below, so a proof costs a few small range reads
  whatever the size of the log.
* ``tree_head``: each signed tree head, its envelope as signed, and the batch it closed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from certsvc.db.base import SQLModel
from certsvc.db.types import UTCDateTime, enum_column, utcnow


class EntryKind(StrEnum):
    ISSUE = "issue"
    REVOKE = "revoke"
    REISSUE = "reissue"


class LogEntry(SQLModel, table=True):
    """A leaf of the log: what happened to which document, as hashed into the tree."""

    __tablename__ = "log_entry"

    leaf_index: int = Field(
        sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    )
    leaf_hash: bytes = Field(sa_type=sa.LargeBinary)
    kind: EntryKind = Field(sa_column=enum_column(EntryKind, nullable=False))
    document_number: str = Field(max_length=64, index=True)
    document_sha256: str = Field(max_length=64)
    entry: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)


class LogNode(SQLModel, table=True):
    """A perfect-subtree hash: the root of the ``2**level`` leaves from ``index * 2**level``."""

    __tablename__ = "log_node"

    level: int = Field(sa_column=sa.Column(sa.SmallInteger, primary_key=True, autoincrement=False))
    node_index: int = Field(
        sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    )
    hash: bytes = Field(sa_type=sa.LargeBinary)


class LogState(SQLModel, table=True):
    """The single row (id 1) holding the number of entries; appenders lock it."""

    __tablename__ = "log_state"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    size: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


class TreeHead(SQLModel, table=True):
    """A signed tree head: the root of the first ``tree_size`` entries, signed by ``key_id``.

    ``envelope`` is the COSE_Sign1 message exactly as signed (see
    :mod:`certsvc.transparency.checkpoint`); the other columns repeat what it says.
    ``batch_ref`` names the issuance batch the head closed, if any (no foreign key: batches
    live in another package)."""

    __tablename__ = "tree_head"

    id: int | None = Field(default=None, primary_key=True)
    tree_size: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))
    root_hash: bytes = Field(sa_type=sa.LargeBinary)
    signed_at: datetime = Field(sa_type=UTCDateTime)
    origin: str = Field(max_length=255)
    key_id: str = Field(max_length=16, index=True)
    envelope: bytes = Field(sa_type=sa.LargeBinary)
    batch_ref: str | None = Field(default=None, max_length=64, index=True)
    created_by: str = Field(max_length=64)
