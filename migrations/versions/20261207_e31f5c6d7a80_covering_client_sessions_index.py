"""the client-sessions index covers what the window rule's subqueries read

The worklist's unbooked page checks each of its recent doses (some 800 at the benchmark's 1M
sessions) for a booked integration, and each check reads the client's other sessions: their
kind, status, id and linked dose. With those columns in the index, PostgreSQL answers the checks
from the index alone instead of from heap pages spread over the whole table. SQLite has no
INCLUDE: its index is left as it is.

The new index is built under a name of its own before the old one is dropped, so reads keep an
index throughout and wait only for the drop, at the end. Writes to `sessions` wait while it is
built: about 1-2 s per million sessions on the benchmark's machine (docs/operations.md).

Revision ID: e31f5c6d7a80
Revises: d21e4a5b6c70
Create Date: 2026-12-07 17:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "e31f5c6d7a80"
down_revision: str | None = "d21e4a5b6c70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_sessions_clinic_client_starts"
BUILDING = f"{NAME}_building"
KEY = ["clinic_id", "client_id", "starts_at"]
INCLUDED = ["kind", "status", "id", "ketamine_session_id"]


def _replace_index(included: list[str]) -> None:
    op.create_index(BUILDING, "sessions", KEY, unique=False, postgresql_include=included)
    op.drop_index(NAME, table_name="sessions")
    op.execute(f"ALTER INDEX {BUILDING} RENAME TO {NAME}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace_index(INCLUDED)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace_index([])
