"""Transparency log: entries, stored subtree hashes, the log state row, signed tree heads.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 04:57:59.181731
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_entry",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "issue",
                "revoke",
                "reissue",
                name="entrykind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("document_number", sa.String(length=64), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_log_entry")),
    )
    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_log_entry_document_number"), ["document_number"], unique=False
        )

    op.create_table(
        "log_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "node_index", name=op.f("pk_log_node")),
    )
    op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_log_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_state")),
    )
    op.create_table(
        "tree_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("batch_ref", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tree_head")),
    )
    with op.batch_alter_table("tree_head", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tree_head_batch_ref"), ["batch_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_tree_head_key_id"), ["key_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tree_head_tree_size"), ["tree_size"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tree_head", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tree_head_tree_size"))
        batch_op.drop_index(batch_op.f("ix_tree_head_key_id"))
        batch_op.drop_index(batch_op.f("ix_tree_head_batch_ref"))

    op.drop_table("tree_head")
    op.drop_table("log_state")
    op.drop_table("log_node")
    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_entry_document_number"))

    op.drop_table("log_entry")
