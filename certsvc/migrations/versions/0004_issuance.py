"""Issuance: batches, their candidates, the document registry, number sequences, the outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 04:58:36.875289
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "number_sequence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("series_code", sa.String(length=2), nullable=False),
        sa.Column("level_code", sa.String(length=1), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_number_sequence")),
        sa.UniqueConstraint("year", "region_code", "series_code", "level_code", name="uq_sequence"),
    )
    op.create_table(
        "issuance_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "approved",
                "completed",
                "cancelled",
                name="batchstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("session_ids", sa.JSON(), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("held", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("first_started_at", sa.DateTime(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("tree_size", sa.Integer(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_issuance_batch_agency_id_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuance_batch")),
    )
    with op.batch_alter_table("issuance_batch", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_issuance_batch_agency_id"), ["agency_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_issuance_batch_status"), ["status"], unique=False)

    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=100), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=20), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sending",
                "sent",
                "failed",
                name="notificationstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_notification_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notification_dedupe_key")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notification_status"), ["status"], unique=False)

    op.create_table(
        "batch_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "reserved",
                "issued",
                "failed",
                "skipped",
                name="itemstate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["issuance_batch.id"], name=op.f("fk_batch_item_batch_id_issuance_batch")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_batch_item_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["result_id"], ["review_result.id"], name=op.f("fk_batch_item_result_id_review_result")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_item")),
        sa.UniqueConstraint("result_id", name=op.f("uq_batch_item_result_id")),
    )
    with op.batch_alter_table("batch_item", schema=None) as batch_op:
        batch_op.create_index(
            "ix_batch_item_batch_state", ["batch_id", "state", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_batch_item_person_id"), ["person_id"], unique=False)

    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_number", sa.String(length=32), nullable=False),
        sa.Column(
            "document_type",
            sa.Enum(
                "certificate",
                "notice",
                name="documenttype",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "reserved",
                "issued",
                "void",
                "revoked",
                "superseded",
                name="documentstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("signer_key_id", sa.String(length=16), nullable=True),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("issued_at", sa.DateTime(), nullable=True),
        sa.Column("log_index", sa.BigInteger(), nullable=True),
        sa.Column("inclusion_proof", sa.JSON(), nullable=True),
        sa.Column("proof_tree_size", sa.Integer(), nullable=True),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_document_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["issuance_batch.id"], name=op.f("fk_document_batch_id_issuance_batch")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["batch_item.id"], name=op.f("fk_document_item_id_batch_item")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_document_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["result_id"], ["review_result.id"], name=op.f("fk_document_result_id_review_result")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
        sa.UniqueConstraint("document_number", name=op.f("uq_document_document_number")),
        sa.UniqueConstraint("log_index", name=op.f("uq_document_log_index")),
        sa.UniqueConstraint("sha256", name=op.f("uq_document_sha256")),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index("ix_document_batch_status", ["batch_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_document_signer_key_id"), ["signer_key_id"], unique=False
        )
        batch_op.create_index(
            "uq_document_current_per_result",
            ["result_id", "document_type"],
            unique=True,
            sqlite_where=sa.text("status IN ('reserved', 'issued')"),
            postgresql_where=sa.text("status IN ('reserved', 'issued')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_document_current_per_result",
            sqlite_where=sa.text("status IN ('reserved', 'issued')"),
            postgresql_where=sa.text("status IN ('reserved', 'issued')"),
        )
        batch_op.drop_index(batch_op.f("ix_document_signer_key_id"))
        batch_op.drop_index(batch_op.f("ix_document_person_id"))
        batch_op.drop_index(batch_op.f("ix_document_item_id"))
        batch_op.drop_index("ix_document_batch_status")

    op.drop_table("document")
    with op.batch_alter_table("batch_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batch_item_person_id"))
        batch_op.drop_index("ix_batch_item_batch_state")

    op.drop_table("batch_item")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_status"))
        batch_op.drop_index(batch_op.f("ix_notification_person_id"))

    op.drop_table("notification")
    with op.batch_alter_table("issuance_batch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issuance_batch_status"))
        batch_op.drop_index(batch_op.f("ix_issuance_batch_agency_id"))

    op.drop_table("issuance_batch")
    op.drop_table("number_sequence")
