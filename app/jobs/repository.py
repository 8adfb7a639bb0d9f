"""The statements of the job queue: claiming due jobs (or leasing a batch of them in one
statement) and finding one again."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs.models import PENDING, Job

J = TypeVar("J", bound=Job)


async def due_jobs(
    db: AsyncSession,
    model: type[J],
    now: datetime,
    limit: int,
    conditions: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
) -> Sequence[J]:
    """Up to `limit` pending jobs due at `now`, locked for this transaction.

    SKIP LOCKED: on PostgreSQL a job another worker holds is passed over, not waited for. SQLite
    has no row locks (SQLAlchemy leaves the clause out there); a claim runs in a write
    transaction, BEGIN IMMEDIATE, which serialises claimers instead.
    """
    stmt = (
        select(model)
        .where(model.status == PENDING, model.next_attempt_at <= now, *conditions)
        .order_by(*order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await db.execute(stmt)).scalars().all()


async def job_for_update(db: AsyncSession, model: type[J], job_id: uuid.UUID) -> J | None:
    """One job, locked for this transaction, read afresh."""
    return await db.get(model, job_id, with_for_update=True, populate_existing=True)


async def lease_due(
    db: AsyncSession,
    model: type[Job],
    now: datetime,
    limit: int,
    conditions: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    lease_expires_at: datetime,
) -> list[uuid.UUID]:
    """Lease up to `limit` pending jobs due at `now` until `lease_expires_at`, in one statement;
    their ids.

    The jobs are picked as `due_jobs` picks them (SKIP LOCKED on PostgreSQL, so concurrent
    workers lease disjoint batches; SQLite serialises write transactions instead), and no
    entity is loaded: the caller reads what it needs of them by id.
    """
    table = inspect(model).local_table
    key = inspect(model).primary_key[0]
    due = (
        select(key)
        .where(model.status == PENDING, model.next_attempt_at <= now, *conditions)
        .order_by(*order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(table)
        .where(key.in_(due.scalar_subquery()))
        .values(lease_expires_at=lease_expires_at)
        .returning(key)
    )
    return list((await db.execute(stmt)).scalars().all())
