"""Holder pages: sign-in codes (kept as HMACs), signed-in sessions, share links (kept as
token hashes, with an opening count and nothing about who opened them).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 08:02:42
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holder_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("code_mac", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_holder_code_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holder_code")),
        sa.UniqueConstraint("challenge_hash", name=op.f("uq_holder_code_challenge_hash")),
    )
    op.create_index(op.f("ix_holder_code_expires_at"), "holder_code", ["expires_at"])
    op.create_index(op.f("ix_holder_code_person_id"), "holder_code", ["person_id"])

    op.create_table(
        "holder_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_holder_session_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holder_session")),
        sa.UniqueConstraint("nonce", name=op.f("uq_holder_session_nonce")),
    )
    op.create_index(op.f("ix_holder_session_person_id"), "holder_session", ["person_id"])

    op.create_table(
        "share_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("opened", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_share_link_document_id_document")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_share_link_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_share_link_token_hash")),
    )
    op.create_index("ix_share_link_document", "share_link", ["document_id", "id"])
    op.create_index(op.f("ix_share_link_person_id"), "share_link", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_share_link_person_id"), table_name="share_link")
    op.drop_index("ix_share_link_document", table_name="share_link")
    op.drop_table("share_link")
    op.drop_index(op.f("ix_holder_session_person_id"), table_name="holder_session")
    op.drop_table("holder_session")
    op.drop_index(op.f("ix_holder_code_person_id"), table_name="holder_code")
    op.drop_index(op.f("ix_holder_code_expires_at"), table_name="holder_code")
    op.drop_table("holder_code")
