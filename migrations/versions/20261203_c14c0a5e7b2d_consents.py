"""consents

Revision ID: c14c0a5e7b2d
Revises: a12c0de5ec12
Create Date: 2026-12-03 21:15:00.000000

Issue 14 item 3: the consents a client signed. A new table, so existing data needs nothing; a
trigger refuses DELETE on it, since a consent is withdrawn, never deleted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "c14c0a5e7b2d"
down_revision: str | None = "a12c0de5ec12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("kap_treatment", "esketamine_rems_enrollment", "telehealth", "recording", "data_sharing")


def _no_delete(dialect: str) -> list[str]:
    """DELETE on consents fails, on both databases (UPDATE stays: a withdrawal is one)."""
    if dialect == "postgresql":
        return [
            """CREATE FUNCTION consents_never_deleted() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'consents are withdrawn, never deleted';
            END;
            $$""",
            """CREATE TRIGGER consents_never_deleted
            BEFORE DELETE ON consents
            FOR EACH ROW EXECUTE FUNCTION consents_never_deleted()""",
        ]
    return [
        """CREATE TRIGGER consents_never_deleted
        BEFORE DELETE ON consents
        BEGIN SELECT RAISE(ABORT, 'consents are withdrawn, never deleted'); END;"""
    ]


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                *KINDS, name="consent_kind", native_enum=False, create_constraint=True, length=40
            ),
            nullable=False,
        ),
        sa.Column("document_version", sa.String(length=100), nullable=False),
        sa.Column("signed_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("withdrawn_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.Uuid(), nullable=True),
        sa.Column("withdrawal_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(withdrawn_at IS NULL AND withdrawal_reason IS NULL AND withdrawn_by IS NULL)"
            " OR (withdrawn_at IS NOT NULL AND withdrawal_reason IS NOT NULL"
            " AND withdrawn_by IS NOT NULL)",
            name=op.f("ck_consents_withdrawal_complete"),
        ),
        sa.CheckConstraint(
            "expires_at IS NULL OR expires_at > signed_at",
            name=op.f("ck_consents_expires_after_signed"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_consents_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_consents_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["staff.id"], name=op.f("fk_consents_recorded_by_staff")
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by"], ["staff.id"], name=op.f("fk_consents_withdrawn_by_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consents_clinic_client_signed",
            ["clinic_id", "client_id", "signed_at"],
            unique=False,
        )
    for statement in _no_delete(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    # Downgrading drops the consents recorded since: the table is new in this revision.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS consents_never_deleted ON consents")
        op.execute("DROP FUNCTION IF EXISTS consents_never_deleted()")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_clinic_client_signed")
    op.drop_table("consents")  # SQLite drops the table's trigger with it
