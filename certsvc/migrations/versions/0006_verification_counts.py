"""Web: verifications counted by day, channel and verdict (no personal data).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 05:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "verification_count",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_count")),
        sa.UniqueConstraint("day", "channel", "verdict", name="uq_verification_count_day"),
    )


def downgrade() -> None:
    op.drop_table("verification_count")
