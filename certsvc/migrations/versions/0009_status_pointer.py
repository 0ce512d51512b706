"""Revocation: a reissue reserves its registry rows before signing (so that each new record
can name its status-list entry), beside the issued rows it will supersede.

"At most one reserved or issued document per result and type" becomes two rules: at most one
*issued* (current) document, and at most one *reserved* one, per result and type.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 08:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "status IN ('reserved', 'issued')"
_ISSUED = "status = 'issued'"
_RESERVED = "status = 'reserved'"


def upgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_document_current_per_result",
            sqlite_where=sa.text(_OLD),
            postgresql_where=sa.text(_OLD),
        )
        for name, where in (
            ("uq_document_issued_per_result", _ISSUED),
            ("uq_document_reserved_per_result", _RESERVED),
        ):
            batch_op.create_index(
                name,
                ["result_id", "document_type"],
                unique=True,
                sqlite_where=sa.text(where),
                postgresql_where=sa.text(where),
            )


def downgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        for name, where in (
            ("uq_document_reserved_per_result", _RESERVED),
            ("uq_document_issued_per_result", _ISSUED),
        ):
            batch_op.drop_index(name, sqlite_where=sa.text(where), postgresql_where=sa.text(where))
        batch_op.create_index(
            "uq_document_current_per_result",
            ["result_id", "document_type"],
            unique=True,
            sqlite_where=sa.text(_OLD),
            postgresql_where=sa.text(_OLD),
        )
