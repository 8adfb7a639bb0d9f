"""partial indexes the outside-window page judges from

The page reads scheduled integrations in start order and the dose anchoring each one, and keeps
about one in eight. With these, both are read from the indexes alone (the clients' archived
set already was), and the heap only for the page's rows: before, each page read some 440
scheduled sessions and their anchors from heap pages spread over the whole table. All three are
partial: scheduled integrations (3 % of sessions at the benchmark's 1M) in start order, clinic
wide and by clinician; doses by id, with what the window rule reads of them. Plain CREATE
INDEX on `sessions`, which holds off writes to it while each is built (docs/operations.md).

Revision ID: b7d2e3f4a5c6
Revises: a6c1d2e3f4b5
Create Date: 2026-12-08 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d2e3f4a5c6"
down_revision: str | None = "a6c1d2e3f4b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEDULED_INTEGRATION = "kind = 'integration' AND status = 'scheduled'"
A_DOSE = "kind = 'ketamine'"
READ = ("client_id", "clinician_id", "ketamine_session_id")
SCHEDULED_INTEGRATIONS = {
    "ix_sessions_scheduled_integrations": ["clinic_id", "starts_at", "id"],
    "ix_sessions_clinician_scheduled_integrations": [
        "clinic_id",
        "clinician_id",
        "starts_at",
        "id",
    ],
}


def upgrade() -> None:
    for name, columns in SCHEDULED_INTEGRATIONS.items():
        op.create_index(
            name,
            "sessions",
            columns,
            unique=False,
            postgresql_include=[c for c in READ if c not in columns],
            postgresql_where=sa.text(SCHEDULED_INTEGRATION),
            sqlite_where=sa.text(SCHEDULED_INTEGRATION),
        )
    op.create_index(
        "ix_sessions_doses",
        "sessions",
        ["id"],
        unique=False,
        postgresql_include=["status", "route", "ended_at", "ends_at"],
        postgresql_where=sa.text(A_DOSE),
        sqlite_where=sa.text(A_DOSE),
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_doses", table_name="sessions")
    for name in SCHEDULED_INTEGRATIONS:
        op.drop_index(name, table_name="sessions")
