"""Keys: root certificates, document signers, published trust lists and CRLs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:55:55.656230
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "root_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("key_file", sa.String(length=255), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("not_after", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_root_certificate")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_root_certificate_fingerprint")),
    )
    op.create_table(
        "signing_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("root_id", sa.Integer(), nullable=False),
        sa.Column(
            "algorithm",
            sa.Enum(
                "ecdsa-p256",
                "ecdsa-p384",
                "rsa-3072",
                name="keyalgorithm",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "backend",
            sa.Enum(
                "file",
                "pkcs11",
                name="keybackend",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("key_ref", sa.String(length=512), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("serial_number", sa.String(length=40), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("not_after", sa.DateTime(), nullable=False),
        sa.Column("active_from", sa.DateTime(), nullable=False),
        sa.Column("retire_at", sa.DateTime(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "retired",
                "revoked",
                name="signerstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column(
            "revocation_reason",
            sa.Enum(
                "key_compromise",
                "affiliation_changed",
                "superseded",
                "cessation_of_operation",
                "unspecified",
                name="revocationreason",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_signing_key_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["root_id"],
            ["root_certificate.id"],
            name=op.f("fk_signing_key_root_id_root_certificate"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_key")),
        sa.UniqueConstraint("key_id", name=op.f("uq_signing_key_key_id")),
    )
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_key_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "trust_publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "trust_list",
                "crl",
                name="publicationkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("next_update", sa.DateTime(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("root_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["root_id"],
            ["root_certificate.id"],
            name=op.f("fk_trust_publication_root_id_root_certificate"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_publication")),
        sa.UniqueConstraint("kind", "number", name="uq_trust_publication_number"),
    )


def downgrade() -> None:

    op.drop_table("trust_publication")
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_key_agency_id"))

    op.drop_table("signing_key")
    op.drop_table("root_certificate")
