"""audit event resources: one audit row per read request

Revision ID: b17a0d1e2f30
Revises: a15c2d3e4f50
Create Date: 2026-12-04 15:20:00.000000

Issue 17: a request that reads several resources (a journey: the client and each session shown)
is one `audit_events` row naming the first, plus one narrow `audit_event_resources` row for each
further one. Existing rows already name one resource each and stay as they are. The new table is
append-only like `audit_events`.
"""

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "b17a0d1e2f30"
down_revision: str | None = "a15c2d3e4f50"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "audit_event_resources"


def _add_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The function audit_events' own trigger calls; its message names audit_events.
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END;"
        )


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=True),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=True),
    )
    op.create_index(
        "ix_audit_event_resources_clinic_at", TABLE, ["clinic_id", "at", "event_id", "position"]
    )
    op.create_index(
        "ix_audit_event_resources_clinic_resource",
        TABLE,
        ["clinic_id", "resource_id"],
    )
    _add_guards()


def downgrade() -> None:
    _expand_rows()
    op.drop_table(TABLE)


_EVENT_COLUMNS: list[sa.ColumnClause[Any]] = [
    sa.column("id", sa.Uuid()),
    sa.column("clinic_id", sa.Uuid()),
    sa.column("at", app.db.UTCDateTime()),
    sa.column("actor_id", sa.Uuid()),
    sa.column("actor_role", sa.String()),
    sa.column("action", sa.String()),
    sa.column("resource_type", sa.String()),
    sa.column("resource_id", sa.String()),
    sa.column("request_id", sa.String()),
    sa.column("client_request_id", sa.String()),
    sa.column("ip", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("status_code", sa.Integer()),
    sa.column("changed_fields", sa.JSON()),
]


def _expand_rows() -> None:
    """Each further resource becomes an audit_events row of its own again, as before issue 17,
    with the id the API showed for it (uuid5 of the event's id and the position)."""
    bind = op.get_bind()
    events = sa.table("audit_events", *_EVENT_COLUMNS)
    further = sa.table(
        TABLE,
        sa.column("event_id", sa.Uuid()),
        sa.column("position", sa.SmallInteger()),
        sa.column("at", app.db.UTCDateTime()),
        sa.column("resource_type", sa.String()),
        sa.column("resource_id", sa.String()),
    )
    query = sa.select(
        events,
        further.c.position.label("r_position"),
        further.c.resource_type.label("r_type"),
        further.c.resource_id.label("r_id"),
    ).join(further, sa.and_(events.c.id == further.c.event_id, events.c.at == further.c.at))
    batch: list[dict[str, object]] = []
    for pair in bind.execute(query).mappings().all():
        row = {c.name: pair[c.name] for c in events.columns}
        row.update(
            id=uuid.uuid5(pair["id"], str(pair["r_position"])),
            resource_type=pair["r_type"],
            resource_id=pair["r_id"],
            changed_fields=None,
        )
        batch.append(row)
        if len(batch) == 1000:
            bind.execute(events.insert(), batch)
            batch = []
    if batch:
        bind.execute(events.insert(), batch)
