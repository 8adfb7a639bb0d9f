"""audit trail in monthly partitions (PostgreSQL)

Revision ID: c17b1e2a3d40
Revises: b17a0d1e2f30
Create Date: 2026-12-04 15:40:00.000000

Issue 17: on PostgreSQL `audit_events` and `audit_event_resources` become tables partitioned by
RANGE on `at`, one partition per UTC month, plus a DEFAULT partition so that a row outside every
prepared month is still stored. The existing rows are copied into a new partitioned table that
then takes the old one's name (the old table is dropped); the primary key of `audit_events`
becomes (id, at), since a partitioned table's keys must include its partition key. Months from
the oldest row to two months ahead are created here; the worker keeps creating them ahead
(app.audit.retention). The downgrade copies everything back into plain tables. SQLite keeps
plain tables: nothing changes there.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime

from alembic import op

revision: str = "c17b1e2a3d40"
down_revision: str | None = "b17a0d1e2f30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AHEAD = 2  # months prepared after the current one
# Per table: its primary key (if any), foreign keys and indexes, by name, as the models say.
TABLES: dict[str, dict[str, list[tuple[str, str]]]] = {
    "audit_events": {
        "pk": [("pk_audit_events", "(id)")],
        "fk": [
            (
                "fk_audit_events_clinic_id_clinics",
                "FOREIGN KEY (clinic_id) REFERENCES clinics (id)",
            )
        ],
        "ix": [
            ("ix_audit_events_clinic_actor", "(clinic_id, actor_id, at)"),
            ("ix_audit_events_clinic_at", "(clinic_id, at, id)"),
            ("ix_audit_events_clinic_resource", "(clinic_id, resource_type, resource_id)"),
        ],
    },
    "audit_event_resources": {
        "pk": [],
        "fk": [],
        "ix": [
            ("ix_audit_event_resources_clinic_at", "(clinic_id, at, event_id, position)"),
            (
                "ix_audit_event_resources_clinic_resource",
                "(clinic_id, resource_id)",
            ),
        ],
    },
}


def _month(at: datetime | date) -> date:
    return date(at.year, at.month, 1)


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bound(month: date) -> str:
    return f"{month.isoformat()} 00:00:00+00"


def _months() -> list[date]:
    """From the oldest stored row's month to AHEAD months after the current one."""
    oldest = (
        op.get_bind()
        .exec_driver_sql(
            "SELECT least((SELECT min(at) FROM audit_events),"
            " (SELECT min(at) FROM audit_event_resources))"
        )
        .scalar()
    )
    now = _month(datetime.now(UTC))
    first = min(_month(oldest.astimezone(UTC)), now) if oldest is not None else now
    last = now
    for _ in range(AHEAD):
        last = _next(last)
    months = [first]
    while months[-1] < last:
        months.append(_next(months[-1]))
    return months


def _shape(table: str, *, partitioned: bool) -> None:
    """Keys, indexes and the append-only trigger of a newly created `table`."""
    spec = TABLES[table]
    for name, columns in spec["pk"]:
        key = columns.replace(")", ", at)") if partitioned else columns
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY {key}")
    for name, definition in spec["fk"]:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for name, columns in spec["ix"]:
        op.execute(f"CREATE INDEX {name} ON {table} {columns}")
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
    )


def _set_aside(table: str) -> str:
    """Rename `table` and its constraints and indexes out of the way; returns its new name."""
    old = f"{table}_before_c17"
    op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    for kind in ("pk", "fk"):
        for name, _ in TABLES[table][kind]:
            op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {name} TO {name}_old")
    for name, _ in TABLES[table]["ix"]:
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_old")
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    return old


# Creates a month's partitions of both tables. SECURITY DEFINER: it runs with the rights of the
# owner who migrated, so the worker's application role (which must not own the tables, nor be
# able to drop them) can prepare months and do nothing else. A month whose rows already sit in
# the default partition is skipped with a warning (moving them is an operator's step).
CREATE_MONTH = """
CREATE FUNCTION audit_create_month(month date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    first timestamptz := make_timestamptz(
        extract(year FROM month)::int, extract(month FROM month)::int, 1, 0, 0, 0, 'UTC');
    next timestamptz := first + interval '1 month';
    parent text;
    part text;
    held boolean;
    made integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7737589189758510185);
    FOREACH parent IN ARRAY ARRAY['audit_events', 'audit_event_resources'] LOOP
        part := parent || '_y' || to_char(first AT TIME ZONE 'UTC', 'YYYY"m"MM');
        IF to_regclass(part) IS NOT NULL THEN
            CONTINUE;
        END IF;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE at >= $1 AND at < $2)',
                       parent || '_default') INTO held USING first, next;
        IF held THEN
            RAISE WARNING 'audit month % is in the default partition of %', part, parent;
            CONTINUE;
        END IF;
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                       part, parent, first, next);
        made := made + 1;
    END LOOP;
    RETURN made;
END;
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    months = _months()
    for table in TABLES:
        old = _set_aside(table)
        op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE (at)")
        for month in months:
            op.execute(
                f"CREATE TABLE {table}_y{month.year:04d}m{month.month:02d} PARTITION OF {table} "
                f"FOR VALUES FROM ('{_bound(month)}') TO ('{_bound(_next(month))}')"
            )
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        _shape(table, partitioned=True)
        op.execute(f"INSERT INTO {table} SELECT * FROM {old}")  # noqa: S608 (constants)
        op.execute(f"DROP TABLE {old}")
    op.execute(CREATE_MONTH)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION audit_create_month(date)")
    for table in TABLES:
        old = _set_aside(table)
        op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS)")
        _shape(table, partitioned=False)
        op.execute(f"INSERT INTO {table} SELECT * FROM {old}")  # noqa: S608 (constants)
        op.execute(f"DROP TABLE {old}")  # and with it every partition
