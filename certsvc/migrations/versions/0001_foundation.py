"""Foundation: agencies, roster (sessions, persons, results, imports), publicity, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 02:48:03.801828
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "agency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency")),
        sa.UniqueConstraint("code", name=op.f("uq_agency_code")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_actor"), ["actor"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_event_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_audit_event_subject", ["subject_type", "subject_id"], unique=False
        )

    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "id_type",
            sa.Enum(
                "resident_id",
                "gat_residence_permit",
                "hkmo_travel_permit",
                "tw_travel_permit",
                "foreign_permanent_residence",
                "foreign_passport",
                name="idtype",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("id_country", sa.String(length=3), nullable=False),
        sa.Column("id_number", sa.String(length=32), nullable=False),
        sa.Column(
            "gender",
            sa.Enum("M", "F", name="gender", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("work_unit", sa.String(length=128), nullable=False),
        sa.Column("mobile", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("id_type", "id_country", "id_number", name="uq_person_identity"),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_id_number"), ["id_number"], unique=False)

    op.create_table(
        "roster_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("file_format", sa.String(length=8), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("sessions_created", sa.Integer(), nullable=False),
        sa.Column("persons_created", sa.Integer(), nullable=False),
        sa.Column("persons_updated", sa.Integer(), nullable=False),
        sa.Column("results_created", sa.Integer(), nullable=False),
        sa.Column("results_unchanged", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_roster_import_agency_id_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_import")),
    )
    with op.batch_alter_table("roster_import", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_roster_import_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_roster_import_file_sha256"), ["file_sha256"], unique=False
        )

    op.create_table(
        "review_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("committee_name", sa.String(length=128), nullable=False),
        sa.Column("series", sa.String(length=32), nullable=False),
        sa.Column("specialty", sa.String(length=64), nullable=False),
        sa.Column(
            "level",
            sa.Enum(
                "正高级",
                "副高级",
                "中级",
                "初级",
                name="level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("qualification_name", sa.String(length=64), nullable=False),
        sa.Column("committee_size", sa.Integer(), nullable=False),
        sa.Column("review_date", sa.Date(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "committee_size > 0", name=op.f("ck_review_session_committee_size_positive")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_review_session_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["roster_import.id"],
            name=op.f("fk_review_session_import_id_roster_import"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_session")),
        sa.UniqueConstraint(
            "agency_id",
            "year",
            "committee_name",
            "series",
            "specialty",
            "level",
            name="uq_review_session_identity",
        ),
    )
    with op.batch_alter_table("review_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_session_agency_id"), ["agency_id"], unique=False
        )

    op.create_table(
        "publicity_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("calendar_source", sa.String(length=255), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "closed",
                name="publicitystatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "end_date >= start_date", name=op.f("ck_publicity_period_end_not_before_start")
        ),
        sa.CheckConstraint(
            "working_days >= 1", name=op.f("ck_publicity_period_working_days_positive")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["review_session.id"],
            name=op.f("fk_publicity_period_session_id_review_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publicity_period")),
        sa.UniqueConstraint("session_id", name=op.f("uq_publicity_period_session_id")),
    )
    op.create_table(
        "review_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("members_attending", sa.Integer(), nullable=False),
        sa.Column("votes_for", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_reason", sa.String(length=500), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "votes_for >= 0 AND votes_for <= members_attending",
            name=op.f("ck_review_result_votes_within_attending"),
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["roster_import.id"],
            name=op.f("fk_review_result_import_id_roster_import"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_review_result_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["review_session.id"],
            name=op.f("fk_review_result_session_id_review_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_result")),
        sa.UniqueConstraint("session_id", "person_id", name="uq_review_result_session_person"),
    )
    with op.batch_alter_table("review_result", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_result_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_review_result_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "objection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "letter",
                "phone",
                "email",
                "online",
                "in_person",
                name="objectionchannel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("summary", sa.String(length=2000), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "upheld",
                "dismissed",
                name="objectionstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("resolution", sa.String(length=2000), nullable=True),
        sa.Column("lodged_at", sa.DateTime(), nullable=False),
        sa.Column("lodged_by", sa.String(length=64), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["publicity_period.id"],
            name=op.f("fk_objection_period_id_publicity_period"),
        ),
        sa.ForeignKeyConstraint(
            ["result_id"], ["review_result.id"], name=op.f("fk_objection_result_id_review_result")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objection")),
    )
    with op.batch_alter_table("objection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_objection_period_id"), ["period_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_objection_result_id"), ["result_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_objection_status"), ["status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("objection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objection_status"))
        batch_op.drop_index(batch_op.f("ix_objection_result_id"))
        batch_op.drop_index(batch_op.f("ix_objection_period_id"))

    op.drop_table("objection")
    with op.batch_alter_table("review_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_result_session_id"))
        batch_op.drop_index(batch_op.f("ix_review_result_person_id"))

    op.drop_table("review_result")
    op.drop_table("publicity_period")
    with op.batch_alter_table("review_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_session_agency_id"))

    op.drop_table("review_session")
    with op.batch_alter_table("roster_import", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roster_import_file_sha256"))
        batch_op.drop_index(batch_op.f("ix_roster_import_agency_id"))

    op.drop_table("roster_import")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_id_number"))

    op.drop_table("person")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_subject")
        batch_op.drop_index(batch_op.f("ix_audit_event_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_audit_event_actor"))
        batch_op.drop_index(batch_op.f("ix_audit_event_action"))

    op.drop_table("audit_event")
    op.drop_table("agency")
