"""indexes for open windows and scheduled sessions

The worklist and the window filters look only at doses whose window may still be open (by their
anchor time, coalesce(ended_at, ends_at)) and at scheduled sessions; without these they read a
clinic's whole history. Alembic cannot reflect the expression index on SQLite, so it is written
here by hand.

Revision ID: 82bc60e75dd5
Revises: e46a27717f17
Create Date: 2026-11-27 03:47:39.114085
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "82bc60e75dd5"
down_revision: str | None = "e46a27717f17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sessions_clinic_kind_status_starts",
            ["clinic_id", "kind", "status", "starts_at"],
            unique=False,
        )
    op.create_index(
        "ix_sessions_clinic_kind_anchor",
        "sessions",
        ["clinic_id", "kind", sa.text("coalesce(ended_at, ends_at)")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_clinic_kind_anchor", table_name="sessions")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_clinic_kind_status_starts")
