"""assessment requests (client self-report links)

Revision ID: a15c2d3e4f50
Revises: f14a7e0ca1e5
Create Date: 2026-12-04 15:00:00.000000

Issue 15, client self-report links: a table of one-time links (the token stored as a prefix and
a SHA-256 hash, never in the clear), and on assessments the `source` of the item scores. Every
assessment stored before was entered by staff, so existing rows get `staff`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "a15c2d3e4f50"
down_revision: str | None = "f14a7e0ca1e5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assessment_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("instrument", sa.String(length=10), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("assessment_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_assessment_requests_assessment_id_assessments"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_assessment_requests_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_assessment_requests_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff.id"], name=op.f("fk_assessment_requests_created_by_staff")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["staff.id"], name=op.f("fk_assessment_requests_revoked_by_staff")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_assessment_requests_session_id_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_requests")),
    )
    with op.batch_alter_table("assessment_requests", schema=None) as batch_op:
        batch_op.create_index("ix_assessment_requests_prefix", ["prefix"], unique=True)
        batch_op.create_index(
            "ix_assessment_requests_clinic_client",
            ["clinic_id", "client_id", "created_at"],
            unique=False,
        )
    # A NOT NULL column with a default is added in place on SQLite (no table rebuild).
    with op.batch_alter_table("assessments", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=20), server_default="staff", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("assessments", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("source")
    with op.batch_alter_table("assessment_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_assessment_requests_clinic_client")
        batch_op.drop_index("ix_assessment_requests_prefix")
    op.drop_table("assessment_requests")
