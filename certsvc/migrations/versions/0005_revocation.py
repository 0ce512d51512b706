"""Revocation and reissue: document changes, status lists, the registry's revocation,
supersession and status-list columns (issued documents get their registry id as index).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 05:32:29.878946
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_list_publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("next_update", sa.DateTime(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_list_publication")),
        sa.UniqueConstraint("sequence", name=op.f("uq_status_list_publication_sequence")),
    )
    op.create_table(
        "document_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "revoke",
                "reissue",
                name="changekind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "done",
                "rejected",
                name="changestatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("document_number", sa.String(length=32), nullable=False),
        sa.Column("document_ids", sa.JSON(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "fraud_on_recheck",
                "upheld_complaint",
                "issued_in_error",
                "holder_request",
                name="revocationreason",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("effective_on", sa.Date(), nullable=True),
        sa.Column("corrections", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("rejection", sa.String(length=500), nullable=True),
        sa.Column("new_numbers", sa.JSON(), nullable=False),
        sa.Column("new_issued_on", sa.Date(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_document_change_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_change")),
    )
    with op.batch_alter_table("document_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_change_document_number"), ["document_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_document_change_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index("ix_document_change_status", ["status", "id"], unique=False)

    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("revocation_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("revocation_effective_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("superseded_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("replaces", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("status_list_url", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("status_list_index", sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_document_status_list_index"), ["status_list_index"]
        )

    # documents issued before this revision: their registry id is their status-list index
    # (their URL stays empty: it is status_list_url(CERTSVC_PUBLIC_BASE_URL))
    op.execute("UPDATE document SET status_list_index = id WHERE status = 'issued'")


def downgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_document_status_list_index"), type_="unique")
        batch_op.drop_column("status_list_index")
        batch_op.drop_column("status_list_url")
        batch_op.drop_column("replaces")
        batch_op.drop_column("superseded_by")
        batch_op.drop_column("revocation_effective_on")
        batch_op.drop_column("revocation_reason")
        batch_op.drop_column("revoked_at")

    with op.batch_alter_table("document_change", schema=None) as batch_op:
        batch_op.drop_index("ix_document_change_status")
        batch_op.drop_index(batch_op.f("ix_document_change_person_id"))
        batch_op.drop_index(batch_op.f("ix_document_change_document_number"))

    op.drop_table("document_change")
    op.drop_table("status_list_publication")
