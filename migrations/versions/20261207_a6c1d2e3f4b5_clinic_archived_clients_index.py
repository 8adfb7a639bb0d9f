"""the archived clients' index by clinic

The integration worklist asks of every row it keeps whether its client is archived. Asked as a
set, PostgreSQL reads the archived clients once a page: with the index of the previous
revision, every clinic's (3,261 at the benchmark's 1M sessions, read again for each worklist of
each clinic); by clinic, its own (some 160). The new index is a plain CREATE INDEX on
`clients`, which it reads once, holding off writes to it that long (docs/operations.md); the
old one is dropped after it is built.

Revision ID: a6c1d2e3f4b5
Revises: f42a6b7c8d90
Create Date: 2026-12-07 23:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a6c1d2e3f4b5"
down_revision: str | None = "f42a6b7c8d90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_clients_clinic_archived",
        "clients",
        ["clinic_id", "id"],
        unique=False,
        postgresql_where=sa.text("archived"),
        sqlite_where=sa.text("archived"),
    )
    op.drop_index("ix_clients_archived", table_name="clients")


def downgrade() -> None:
    op.create_index(
        "ix_clients_archived",
        "clients",
        ["id"],
        unique=False,
        postgresql_where=sa.text("archived"),
        sqlite_where=sa.text("archived"),
    )
    op.drop_index("ix_clients_clinic_archived", table_name="clients")
