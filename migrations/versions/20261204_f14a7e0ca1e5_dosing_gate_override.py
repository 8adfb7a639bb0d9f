"""dosing gate override

Revision ID: f14a7e0ca1e5
Revises: b14c1ea2a9c1
Create Date: 2026-12-04 05:00:00.000000

Issue 14, the dosing gate: a dose completed by a prescriber despite a failed gate check keeps
who overrode it, when, why and which checks failed. No existing dose was overridden (the gate
did not exist), so every existing row keeps NULLs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "f14a7e0ca1e5"
down_revision: str | None = "b14c1ea2a9c1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_sessions_gate_overridden_by_staff"


def upgrade() -> None:
    # Nullable columns are added in place on SQLite (no table rebuild, which would lose the
    # expression index on the anchor time).
    with op.batch_alter_table("sessions", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("gate_overridden_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("gate_override_reason", sa.String(500), nullable=True))
        batch_op.add_column(sa.Column("gate_override_checks", sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot add a constraint to a table, only a column carrying its own.
        op.execute(
            f"ALTER TABLE sessions ADD COLUMN gate_overridden_by CHAR(32) CONSTRAINT {FK} "
            "REFERENCES staff (id)"
        )
    else:
        op.add_column("sessions", sa.Column("gate_overridden_by", sa.Uuid(), nullable=True))
        op.create_foreign_key(FK, "sessions", "staff", ["gate_overridden_by"], ["id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(FK, "sessions", type_="foreignkey")
    # Dropped in place (SQLite 3.35+; a column whose constraint is its own can go).
    with op.batch_alter_table("sessions", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("gate_overridden_by")
        batch_op.drop_column("gate_override_checks")
        batch_op.drop_column("gate_override_reason")
        batch_op.drop_column("gate_overridden_at")
