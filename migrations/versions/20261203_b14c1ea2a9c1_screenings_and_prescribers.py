"""screenings and prescribers

Revision ID: b14c1ea2a9c1
Revises: e14e5e7a4c0b
Create Date: 2026-12-03 18:00:00.000000

Issue 14, screening part: the staff's prescriber flag, the dosing gate's clinic settings and
the append-only screenings table. Existing staff are not prescribers (an admin marks them);
existing clinics get both gate settings on and a 365-day screening validity, the defaults of a
new clinic (docs/operations.md, upgrade notes).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "b14c1ea2a9c1"
down_revision: str | None = "e14e5e7a4c0b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _append_only_guards(dialect: str) -> list[str]:
    """UPDATE and DELETE on screenings fail, as on session_corrections and audit_events."""
    if dialect == "postgresql":
        return [
            """CREATE FUNCTION screenings_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'screenings is append-only';
            END;
            $$""",
            """CREATE TRIGGER screenings_append_only
            BEFORE UPDATE OR DELETE ON screenings
            FOR EACH ROW EXECUTE FUNCTION screenings_append_only()""",
        ]
    return [
        f"""CREATE TRIGGER screenings_no_{verb.lower()}
        BEFORE {verb} ON screenings
        BEGIN SELECT RAISE(ABORT, 'screenings is append-only'); END;"""
        for verb in ("UPDATE", "DELETE")
    ]


def upgrade() -> None:
    # Added in place, never by a batch rebuild (which fails on SQLite once other tables' rows
    # reference the table): the defaults are constants, '1' and '0' being true and false to
    # both databases, where true() would be an expression that makes Alembic rebuild.
    with op.batch_alter_table("staff", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("prescriber", sa.Boolean(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("clinics", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("require_medical_clearance", sa.Boolean(), server_default="1", nullable=False)
        )
        batch_op.add_column(
            sa.Column("require_consent", sa.Boolean(), server_default="1", nullable=False)
        )
        batch_op.add_column(
            sa.Column("screening_valid_days", sa.Integer(), server_default="365", nullable=False)
        )
    op.create_table(
        "screenings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("screened_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("screened_by", sa.Uuid(), nullable=False),
        sa.Column("contraindications", sa.JSON(), nullable=False),
        sa.Column("systolic", sa.Integer(), nullable=True),
        sa.Column("diastolic", sa.Integer(), nullable=True),
        sa.Column(
            "decision",
            sa.Enum(
                "pending",
                "cleared",
                "not_cleared",
                name="screening_decision",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("override_reason", sa.String(length=500), nullable=True),
        sa.Column("valid_until", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "valid_until > screened_at", name=op.f("ck_screenings_valid_after_screened")
        ),
        sa.CheckConstraint(
            "(decided_by IS NULL) = (decision = 'pending')",
            name=op.f("ck_screenings_decided_by_iff_decided"),
        ),
        sa.CheckConstraint(
            "(systolic IS NULL) = (diastolic IS NULL)",
            name=op.f("ck_screenings_blood_pressure_is_a_pair"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_screenings_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_screenings_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["staff.id"], name=op.f("fk_screenings_decided_by_staff")
        ),
        sa.ForeignKeyConstraint(
            ["screened_by"], ["staff.id"], name=op.f("fk_screenings_screened_by_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screenings")),
    )
    with op.batch_alter_table("screenings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_screenings_clinic_client_screened",
            ["clinic_id", "client_id", "screened_at"],
            unique=False,
        )
    for statement in _append_only_guards(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS screenings_append_only ON screenings")
        op.execute("DROP FUNCTION IF EXISTS screenings_append_only()")
    with op.batch_alter_table("screenings", schema=None) as batch_op:
        batch_op.drop_index("ix_screenings_clinic_client_screened")
    op.drop_table("screenings")  # SQLite drops the table's triggers with it
    # Dropped in place (SQLite 3.35+), never by a batch rebuild, as they were added.
    with op.batch_alter_table("clinics", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("screening_valid_days")
        batch_op.drop_column("require_consent")
        batch_op.drop_column("require_medical_clearance")
    with op.batch_alter_table("staff", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("prescriber")
