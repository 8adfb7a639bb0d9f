"""SQL for the audit trail's months (issue 17): PostgreSQL partitions made ahead of time and
dropped once archived; on SQLite, where the tables are plain, a month's rows deleted instead.

The append-only triggers stay in force for every other statement: a partition is dropped (no
row trigger fires), and on SQLite the delete runs with the triggers lifted inside the same
transaction, so no other session ever sees the tables unguarded.
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import TextClause, bindparam, func, insert, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent, AuditEventResource
from app.audit.months import (
    AUDIT_TABLES,
    month_of,
    month_of_partition,
    next_month,
    partition_name,
    start_of,
)
from app.db import UTCDateTime

log = logging.getLogger(__name__)

# Serialises partition DDL between workers and the archive command (any 64-bit constant).
PARTITION_LOCK = 0x6B61705F61756469


async def is_partitioned(db: AsyncSession) -> bool:
    if db.get_bind().dialect.name != "postgresql":
        return False
    kind = await db.scalar(
        text("SELECT relkind::text FROM pg_class WHERE oid = 'audit_events'::regclass")
    )
    return bool(kind == "p")


async def partition_months(db: AsyncSession, table: str) -> list[date]:
    """The months that have a partition of `table`, oldest first."""
    names = await db.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:table AS regclass)"
        ),
        {"table": table},
    )
    return sorted(m for name in names if (m := month_of_partition(table, name)) is not None)


async def create_months(db: AsyncSession, months: list[date]) -> int:
    """Create the partitions of `months` that do not exist yet; returns how many were made.

    Through `audit_create_month` (migration c17b1e2a3d40), which runs with the table owner's
    rights: the worker's role can prepare months without owning the tables. A month whose rows
    already went to the default partition (no worker ran for that long) is left there, with a
    warning: attaching it would need those rows moved, an operator's step
    (docs/operations.md), and nothing is lost meanwhile."""
    made = 0
    for month in months:
        made += await db.scalar(text("SELECT audit_create_month(:month)"), {"month": month}) or 0
    for table in AUDIT_TABLES:
        missing = set(months) - set(await partition_months(db, table))
        for month in sorted(missing):
            log.warning(
                "audit month is in the default partition",
                extra={"fields": {"table": table, "month": month.isoformat()}},
            )
    return made


async def drop_month(db: AsyncSession, month: date) -> None:
    """Drop a month's partitions (after they were archived); needs the tables' owner."""
    await db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PARTITION_LOCK})
    for table in AUDIT_TABLES:
        await db.execute(text(f"DROP TABLE IF EXISTS {partition_name(table, month)}"))


def _in_month(sql: str) -> TextClause:
    """`sql` with :start and :end bound as the audit tables' own timestamps."""
    return text(sql).bindparams(
        bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime())
    )


def _sqlite_delete_guard(table: str) -> str:
    """The DELETE trigger of migrations 438ac4ed6ce5 and b17a0d1e2f30, as they made it."""
    return (
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
    )


async def sqlite_delete_month(db: AsyncSession, month: date) -> None:
    """Delete a month's rows on SQLite: the DELETE trigger is lifted and restored within this
    transaction (SQLite's DDL is transactional), so no other connection sees it missing."""
    window = {"start": start_of(month), "end": start_of(next_month(month))}
    for table in AUDIT_TABLES:
        await db.execute(text(f"DROP TRIGGER {table}_no_delete"))
        delete = f"DELETE FROM {table} WHERE at >= :start AND at < :end"  # noqa: S608 (a constant)
        await db.execute(_in_month(delete), window)
        await db.execute(text(_sqlite_delete_guard(table)))


# --- Reading a month, for the archive --------------------------------------------------------


async def events_of_month(
    db: AsyncSession, month: date, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> Sequence[AuditEvent]:
    """A batch of the month's events in (at, id) order, after the position `after`."""
    e = AuditEvent
    stmt = select(e).where(e.at >= start_of(month), e.at < start_of(next_month(month)))
    if after is not None:
        stmt = stmt.where(tuple_(e.at, e.id) > tuple_(*after))
    return (await db.scalars(stmt.order_by(e.at, e.id).limit(limit))).all()


async def resources_of(
    db: AsyncSession, events: Sequence[AuditEvent]
) -> Sequence[AuditEventResource]:
    """The further resources of `events`, in (event, position) order."""
    if not events:
        return []
    r = AuditEventResource
    stmt = (
        select(r)
        .where(r.event_id.in_([e.id for e in events]))
        .where(r.at >= events[0].at, r.at <= events[-1].at)
        .order_by(r.event_id, r.position)
    )
    return (await db.scalars(stmt)).all()


async def count_month(db: AsyncSession, month: date) -> tuple[int, int]:
    """How many events and further resources the month holds."""
    counts = []
    for model in (AuditEvent, AuditEventResource):
        stmt = select(func.count()).select_from(model)
        stmt = stmt.where(model.at >= start_of(month), model.at < start_of(next_month(month)))
        counts.append(await db.scalar(stmt) or 0)
    return counts[0], counts[1]


async def lock_month(db: AsyncSession, month: date) -> None:
    """Hold the month's partitions against any insert until the transaction ends."""
    await db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PARTITION_LOCK})
    for table in AUDIT_TABLES:
        await db.execute(
            text(f"LOCK TABLE {partition_name(table, month)} IN ACCESS EXCLUSIVE MODE")
        )


async def oldest_before(db: AsyncSession, before: date) -> date | None:
    """The month of the oldest event stored before `before` (SQLite's months)."""
    oldest = await db.scalar(
        select(func.min(AuditEvent.at)).where(AuditEvent.at < start_of(before))
    )
    return month_of(oldest) if oldest is not None else None


async def insert_month(
    db: AsyncSession, events: list[dict[str, Any]], resources: list[dict[str, Any]]
) -> None:
    """Insert archived rows back (audit-restore)."""
    if events:
        await db.execute(insert(AuditEvent), events)
    if resources:
        await db.execute(insert(AuditEventResource), resources)
