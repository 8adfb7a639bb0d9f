"""indexes for a clinician's worklist

A worklist filtered by clinician found that clinician's recent doses and scheduled integrations
through (clinic_id, clinician_id, starts_at), reading every session the clinician ever had (five
years at 1M sessions, 6,000 rows for 100 it kept); these two narrow by kind first, and then by the
dose's anchor time or by status, as the clinic-wide indexes of 82bc60e75dd5 do. Alembic cannot
reflect the expression index on SQLite, so it is written here by hand.

Revision ID: d21e4a5b6c70
Revises: c17b1e2a3d40
Create Date: 2026-12-06 06:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d21e4a5b6c70"
down_revision: str | None = "c17b1e2a3d40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sessions_clinic_clinician_kind_status_starts",
            ["clinic_id", "clinician_id", "kind", "status", "starts_at"],
            unique=False,
        )
    op.create_index(
        "ix_sessions_clinic_clinician_kind_anchor",
        "sessions",
        ["clinic_id", "clinician_id", "kind", sa.text("coalesce(ended_at, ends_at)")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_clinic_clinician_kind_anchor", table_name="sessions")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_clinic_clinician_kind_status_starts")
